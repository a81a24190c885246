#pragma once
// Models exported ahead of time with AOTInductor (LibTorch 2.6 or newer): tools/export_cam.py
// writes one .pt2 package holding two compiled functions of a model explained at one layer,
//   gradient  f(x, seed) -> (output, A, ∂⟨output, seed⟩/∂A)
//   forward   f(x) -> (output, A)
// or at several layers recorded in one forward, (output, A_1, ..., A_L, G_1, ..., G_L) and
// (output, A_1, ..., A_L), and records the layers and the shapes in the package's metadata
// (docs/exported.md). An `exported_model` loads it, at one of its layers (the only one, or the one
// named); capture_gradients, explain, score_cam and the faithfulness metrics take it as they take
// a tap or a TorchScript layer, and capture_activations_layers / capture_gradients_many_layers give
// every layer of one call (camkit-torch analyze). The seed is built in C++ from the targets:
// a linear target's seed depends only on the output shape, which the package records, so one
// call of the gradient function explains it; a target that depends on the output values (the
// predicted class, a probability) first runs the forward function (or, in a package without one,
// the gradient function with a zero seed).
//
// Every shape of a package is static: its functions take exactly the input shape it was exported
// with (batch size included), which run_forward and run_gradient check before a call (the compiled
// code does not check it). Everything else (capture_*, explain, score_cam, cam, the faithfulness
// metrics) takes a batch of any size with the other axes as exported: it runs in chunks of the
// package's batch size, the last one padded with zeros, and the padding's rows are dropped (each
// sample's output, activations and gradients are its own: the seed is zero on the padding).
//
// Opt-in: this header needs LibTorch's AOTInductor loader, which LibTorch before 2.6 does not have,
// so the umbrella header camkit/torch/torch.hpp does not include it. With such a LibTorch it
// declares nothing and defines CAMKIT_TORCH_HAS_EXPORTED as 0 (1 otherwise), so that code (and
// the header checks of every build) can test for it.
#if !__has_include(<torch/csrc/inductor/aoti_package/model_package_loader.h>)
#define CAMKIT_TORCH_HAS_EXPORTED 0
#else
#define CAMKIT_TORCH_HAS_EXPORTED 1

#include <camkit/error.hpp>
#include <camkit/explain.hpp>
#include <camkit/shape.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/forward.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/tensor.hpp>
#include <camkit/torch/text.hpp>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <span>
#include <tuple>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace camkit::torch {

namespace detail {

/// A shape recorded in the package's metadata as "2,3,24,24".
inline shape_t parse_shape(const std::string& text, const std::string& key) {
    shape_t shape;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string part = text.substr(start, comma - start);
        camkit::detail::require(!part.empty() && part.find_first_not_of("0123456789") == std::string::npos,
                                "exported model: metadata " + key + " = '" + text + "' is not a shape");
        shape.push_back(static_cast<std::size_t>(std::stoull(part)));
        start = comma + 1;
    }
    return shape;
}

/// The one-line reason of a LibTorch error (its first line, without the C++ backtrace).
inline std::string first_line(const std::string& what) { return what.substr(0, what.find('\n')); }

/// Throws camkit::error unless `seed` is defined with the output's shape `want`.
inline void require_seed_shape(const at::Tensor& seed, const shape_t& want) {
    camkit::detail::require(seed.defined() && shape_of(seed) == want,
                            "exported model: the seed must have the output's shape " + to_string(want) + ", got " +
                                (seed.defined() ? to_string(shape_of(seed)) : std::string("undefined")));
}

}  // namespace detail

/// One call of a package's function at every layer it records: the output, each layer's
/// activations and (from the gradient function) gradients, in the package's layer order; an entry
/// left undefined where it was not asked for. `scores`: the targets' scores where computed.
struct layered_pass {
    at::Tensor output, scores;
    std::vector<at::Tensor> activations, gradients;
};

/// An AOTInductor package written by tools/export_cam.py: the model's compiled gradient and
/// forward functions at the layers it records, for inputs of one shape on the device it was
/// compiled for. The functions of one layer (layer(), run_forward, capture_gradients, explain, ...)
/// take the selected layer: the package's only one, or the one named when loading it.
class exported_model {
public:
    /// Loads the package at `path` at `layer` (empty: the package's only layer; a package of
    /// several then has none selected, and the functions of one layer say so); throws
    /// camkit::error when it is missing, not an AOTInductor package, one without camkit's
    /// metadata, or `layer` is not one it records.
    explicit exported_model(const std::string& path, const std::string& layer = "") : path_(path) {
        std::error_code ec;
        camkit::detail::require(std::filesystem::is_regular_file(path, ec),
                                "exported model: " + path + " is not a regular file");
        // Either function's metadata describes the package (export_cam.py gives both the same).
        std::string why = "it holds neither a forward nor a gradient function";
        forward_ = try_load("forward", why);
        if (!forward_) gradient_ = try_load("gradient", why);
        camkit::detail::require(forward_ || gradient_, "exported model: cannot load " + path +
                                                           " (is it a package written by tools/export_cam.py?): " + why);
        metadata_ = (forward_ ? forward_ : gradient_)->get_metadata();
        const auto functions = metadata_.find("camkit.functions");
        camkit::detail::require((metadata_.count("camkit.layer") || metadata_.count("camkit.layers")) &&
                                    functions != metadata_.end(),
                                "exported model: " + path + " has no camkit metadata (camkit.layer): export it with "
                                                            "tools/export_cam.py");
        const std::string format = metadata_.count("camkit.format") ? metadata_.at("camkit.format") : "";
        camkit::detail::require(format == "1" || format == "2", "exported model: " + path + " has camkit.format '" +
                                                                    format + "'; this camkit reads formats 1 and 2");
        if (format == "1") {
            layers_ = {meta("camkit.layer")};
            activation_shapes_ = {detail::parse_shape(meta("camkit.activation_shape"), "camkit.activation_shape")};
        } else {
            layers_ = detail::split(meta("camkit.layers"), ',');
            for (const std::string& text : detail::split(meta("camkit.activation_shapes"), ';'))
                activation_shapes_.push_back(detail::parse_shape(text, "camkit.activation_shapes"));
            camkit::detail::require(std::none_of(layers_.begin(), layers_.end(), [](const std::string& l) { return l.empty(); }),
                                    "exported model: " + path + " has camkit.layers '" + meta("camkit.layers") +
                                        "' with an empty name");
            camkit::detail::require(activation_shapes_.size() == layers_.size(),
                                    "exported model: " + path + " records " + std::to_string(layers_.size()) +
                                        " layers but " + std::to_string(activation_shapes_.size()) +
                                        " activation shapes");
        }
        input_shape_ = detail::parse_shape(meta("camkit.input_shape"), "camkit.input_shape");
        output_shape_ = detail::parse_shape(meta("camkit.output_shape"), "camkit.output_shape");
        if (!layer.empty())
            select_layer(layer);
        else if (layers_.size() == 1)
            selected_ = 0;
        if (!gradient_ && functions->second.find("gradient") != std::string::npos) {
            gradient_ = try_load("gradient", why);
            camkit::detail::require(gradient_ != nullptr, "exported model: cannot load the gradient function of " +
                                                              path + ": " + why);
        }
    }

    /// The dotted names of the layers the package records, in the order of its functions' outputs.
    const std::vector<std::string>& layers() const { return layers_; }
    /// Each recorded layer's output shape [N, K, *s], in that order.
    const std::vector<shape_t>& activation_shapes() const { return activation_shapes_; }
    /// Whether a layer is selected (the package's only one, or the one named when loading it).
    bool has_selected_layer() const { return selected_ < layers_.size(); }
    /// The selected layer's index in layers(); a camkit::error listing them when none is selected.
    std::size_t layer_index() const {
        camkit::detail::require(has_selected_layer(), "exported model: " + path_ + " records " + recorded() +
                                                          ": choose one (exported_model(path, layer); camkit-torch "
                                                          "--layer)");
        return selected_;
    }
    /// Selects the recorded layer `name` for the functions of one layer; a camkit::error listing
    /// the recorded layers when the package has none of that name.
    void select_layer(const std::string& name) {
        const auto it = std::find(layers_.begin(), layers_.end(), name);
        camkit::detail::require(it != layers_.end(), "exported model: " + path_ + " records " + recorded() + ", not '" +
                                                         name + "' (export the package at that layer)");
        selected_ = static_cast<std::size_t>(it - layers_.begin());
    }
    /// The dotted name of the selected layer (its `A`).
    const std::string& layer() const { return layers_[layer_index()]; }
    /// The package's file.
    const std::string& path() const { return path_; }
    /// True when the package has the gradient function (the gradient-based methods need it).
    bool has_gradient() const { return gradient_ != nullptr; }
    /// True when the package has the forward function.
    bool has_forward() const { return forward_ != nullptr; }
    /// The one input shape the package takes [N, C, *S].
    const shape_t& input_shape() const { return input_shape_; }
    /// The output shape [N, C] or [N, C, *P] of that input.
    const shape_t& output_shape() const { return output_shape_; }
    /// The selected layer's output shape A [N, K, *s].
    const shape_t& activation_shape() const { return activation_shapes_[layer_index()]; }
    /// Every metadata entry of the package (camkit.* from export_cam.py, AOTI_* from AOTInductor).
    const std::unordered_map<std::string, std::string>& metadata() const { return metadata_; }
    /// Names the layer (or, with none selected, the layers) in error messages.
    std::string describe() const {
        return (has_selected_layer() ? "layer '" + layers_[selected_] + "'" : recorded()) + " of the exported model " +
               path_;
    }

    /// Throws camkit::error unless the package has the gradient function.
    void require_gradient() const {
        camkit::detail::require(gradient_ != nullptr, "exported model: " + path_ +
                                                          " is a forward-only package; the gradient-based methods need "
                                                          "the gradient function (export without --forward-only)");
    }

    /// f(x) -> {output, A} of the selected layer: the forward function, or the gradient function
    /// with a zero seed in a package without one.
    recorded_pass run_forward(const at::Tensor& input) {
        const std::size_t l = layer_index();
        layered_pass p = run_forward_layers(input);
        return {std::move(p.output), std::move(p.activations[l])};
    }

    /// f(x) -> {output, A_1, ..., A_L} of every recorded layer, as run_forward.
    layered_pass run_forward_layers(const at::Tensor& input) {
        check_input(input);
        const std::size_t L = layers_.size();
        std::vector<at::Tensor> out;
        if (forward_) {
            ++forward_calls_;
            out = call(*forward_, {input.contiguous()}, 1 + L);
        } else {
            ++gradient_calls_;
            out = call(*gradient_, {input.contiguous(), at::zeros(camkit::torch::sizes_of(output_shape_), input.options())},
                       1 + 2 * L);
        }
        return unpack(std::move(out), false);
    }

    /// f(x, seed) -> {output, A, G = ∂⟨output, seed⟩/∂A} of the selected layer, scores left
    /// undefined; the seed has the output's shape.
    captured run_gradient(const at::Tensor& input, const at::Tensor& seed) {
        const std::size_t l = layer_index();
        layered_pass p = run_gradient_layers(input, seed);
        return {std::move(p.output), at::Tensor(), std::move(p.activations[l]), std::move(p.gradients[l])};
    }

    /// f(x, seed) -> {output, A_1, ..., A_L, G_1, ..., G_L} of every recorded layer, as run_gradient.
    layered_pass run_gradient_layers(const at::Tensor& input, const at::Tensor& seed) {
        require_gradient();
        check_input(input);
        detail::require_seed_shape(seed, output_shape_);
        ++gradient_calls_;
        return unpack(call(*gradient_, {input.contiguous(), seed.to(input.options()).contiguous()}, 1 + 2 * layers_.size()),
                      true);
    }

    /// How many times each compiled function has run since the package was loaded (a forward in a
    /// package without the forward function is a call of the gradient function): what a run cost,
    /// e.g. for `camkit-torch analyze`'s summary.
    std::size_t forward_calls() const { return forward_calls_; }
    std::size_t gradient_calls() const { return gradient_calls_; }

    /// The model's parameter or buffer at `name` (its dotted path in the model, e.g. "fc.weight": a
    /// CAM head), as the forward function holds it; a camkit::error listing the names when absent.
    at::Tensor parameter(const std::string& name) {
        camkit::detail::require(forward_ != nullptr, "exported model: " + path_ + " has no forward function");
        // Keyed by the path in export_cam.py's forward wrapper, whose one submodule is `model`.
        std::vector<std::string> names;
        for (const auto& [fqn, value] : forward_->get_runner()->extract_constants_map(false)) {
            const std::string own = fqn.starts_with("model.") ? fqn.substr(6) : fqn;
            if (own == name) return value;
            names.push_back(own);
        }
        std::sort(names.begin(), names.end());
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : " ") + n;
        throw camkit::error("camkit: exported model: '" + name + "' is not a parameter the package holds (it holds: " +
                            list + "; AOTInductor folds some, e.g. batch-norm and bias terms, into the code)");
    }

    /// Throws camkit::error unless `input` is what the package's functions take: its one shape
    /// (batch size included) and dtype, on the device it was compiled for.
    void check_input(const at::Tensor& input) const {
        camkit::detail::require(input.defined(), "exported model: the input is an undefined tensor");
        camkit::detail::require(shape_of(input) == input_shape_,
                                "exported model: " + path_ + " takes input of shape " + to_string(input_shape_) +
                                    " (a package's shapes, batch size included, are fixed at export), got " +
                                    to_string(shape_of(input)));
        check_dtype_and_device(input);
    }

    /// Throws camkit::error unless `input` is a batch the package runs in chunks of its batch size:
    /// at least one sample, the other axes, the dtype and the device as exported.
    void check_batch(const at::Tensor& input) const {
        camkit::detail::require(input.defined(), "exported model: the input is an undefined tensor");
        shape_t rest = shape_of(input);
        const bool samples = !rest.empty() && rest[0] >= 1;
        if (samples) rest[0] = input_shape_[0];
        camkit::detail::require(samples && rest == input_shape_,
                                "exported model: " + path_ + " takes input of shape " + to_string(input_shape_) +
                                    " (any batch size, run in chunks of " + std::to_string(input_shape_[0]) +
                                    "; the other axes are fixed at export), got " + to_string(shape_of(input)));
        check_dtype_and_device(input);
    }

    /// The output shape for a batch of `n` samples: output_shape() with its batch size replaced.
    shape_t output_shape_for(std::size_t n) const {
        shape_t s = output_shape_;
        s[0] = n;
        return s;
    }

private:
    void check_dtype_and_device(const at::Tensor& input) const {
        const std::string dtype = metadata_.count("camkit.input_dtype") ? metadata_.at("camkit.input_dtype") : "float32";
        const bool f32 = input.scalar_type() == at::kFloat, f64 = input.scalar_type() == at::kDouble;
        camkit::detail::require((dtype == "float32" && f32) || (dtype == "float64" && f64),
                                "exported model: " + path_ + " takes " + dtype + " input, got " +
                                    std::string(c10::toString(input.scalar_type())));
        const std::string device = metadata_.count("AOTI_DEVICE_KEY") ? metadata_.at("AOTI_DEVICE_KEY") : "cpu";
        camkit::detail::require(input.device().str().starts_with(device),
                                "exported model: " + path_ + " was compiled for device " + device + ", the input is on " +
                                    input.device().str());
    }

    using loader = ::torch::inductor::AOTIModelPackageLoader;

    /// A call's outputs (output, A_1, ..., A_L[, G_1, ..., G_L]) as a layered_pass; the gradients
    /// taken only with `gradients`.
    layered_pass unpack(std::vector<at::Tensor> out, bool gradients) const {
        const auto L = static_cast<std::ptrdiff_t>(layers_.size());
        layered_pass p;
        p.output = std::move(out[0]);
        p.activations.assign(std::make_move_iterator(out.begin() + 1), std::make_move_iterator(out.begin() + 1 + L));
        if (gradients)
            p.gradients.assign(std::make_move_iterator(out.begin() + 1 + L), std::make_move_iterator(out.begin() + 1 + 2 * L));
        return p;
    }

    /// "layer 'a'" or "layers 'a', 'b', 'c'".
    std::string recorded() const { return detail::layers_phrase(layers_); }

    std::string meta(const std::string& key) const {
        const auto it = metadata_.find(key);
        camkit::detail::require(it != metadata_.end(), "exported model: " + path_ + " has no metadata " + key);
        return it->second;
    }

    /// Whether the package's archive holds the compiled function `name` (data/aotinductor/<name>/);
    /// false, with the reason in `why`, for a file that is no such archive. Asked first because
    /// LibTorch's loader, asked for a function a package lacks (or given another file), fails
    /// after making a temporary folder that it leaves behind.
    bool holds_function(const char* name, std::string& why) const {
        try {
            caffe2::serialize::PyTorchStreamReader archive(path_);
            const std::string prefix = std::string("data/aotinductor/") + name + "/";
            const std::vector<std::string> records = archive.getAllRecords();
            return std::any_of(records.begin(), records.end(), [&](const std::string& r) { return r.starts_with(prefix); });
        } catch (const c10::Error& e) {
            why = "not a PyTorch archive: " + detail::first_line(e.what_without_backtrace());
        } catch (const std::exception& e) {
            why = "not a PyTorch archive: " + detail::first_line(e.what());
        }
        return false;
    }

    /// The function `name` of the package, or nullptr: with the loader's reason in `why`, or
    /// without loading when the package does not hold it.
    std::unique_ptr<loader> try_load(const char* name, std::string& why) const {
        if (!holds_function(name, why)) return nullptr;
        try {
            return std::make_unique<loader>(path_, name);
        } catch (const std::exception& e) {
            why = detail::first_line(e.what());
            return nullptr;
        }
    }

    std::vector<at::Tensor> call(loader& l, std::vector<at::Tensor> inputs, std::size_t outputs) const {
        std::vector<at::Tensor> out;
        try {
            out = l.run(inputs);
        } catch (const c10::Error& e) {
            throw camkit::error("camkit: exported model: " + path_ + " failed: " + detail::first_line(e.what_without_backtrace()));
        }
        camkit::detail::require(out.size() == outputs, "exported model: " + path_ + " returned " +
                                                           std::to_string(out.size()) + " tensors, expected " +
                                                           std::to_string(outputs));
        return out;
    }

    std::string path_;
    std::vector<std::string> layers_;
    std::vector<shape_t> activation_shapes_;
    std::size_t selected_ = static_cast<std::size_t>(-1);  // none
    std::unique_ptr<loader> forward_, gradient_;
    std::unordered_map<std::string, std::string> metadata_;
    shape_t input_shape_, output_shape_;
    std::size_t forward_calls_ = 0, gradient_calls_ = 0;
};

namespace detail {

/// Rows [b0, b0 + b) of `t`, padded with zero rows to `n` (a view of `t` when b = n).
inline at::Tensor padded_rows(const at::Tensor& t, std::int64_t b0, std::int64_t b, std::int64_t n) {
    at::Tensor rows = t.narrow(0, b0, b);
    if (b == n) return rows;
    std::vector<std::int64_t> pad = rows.sizes().vec();
    pad[0] = n - b;
    return at::cat({rows, at::zeros(pad, rows.options())});
}

/// For each chunk [b0, b0 + b) of a batch of N samples in the package's batch size n, calls
/// run(b0, b, n), which runs a function on those rows padded to n; returns, for each tensor that
/// pick(run's result) lists (a std::vector<at::Tensor>), the chunks' first b rows concatenated
/// (an undefined entry stays undefined). A batch of exactly n is one chunk: views, no copy.
template <class Run, class Pick>
std::vector<at::Tensor> over_chunks(const exported_model& m, std::int64_t N, Run&& run, Pick&& pick) {
    const auto n = static_cast<std::int64_t>(m.input_shape().at(0));
    std::vector<std::vector<at::Tensor>> parts;
    for (std::int64_t b0 = 0; b0 < N; b0 += n) {
        const std::int64_t b = std::min(n, N - b0);
        const std::vector<at::Tensor> got = pick(run(b0, b, n));
        if (parts.empty()) parts.resize(got.size());
        for (std::size_t i = 0; i < got.size(); ++i)
            if (got[i].defined()) parts[i].push_back(got[i].narrow(0, 0, b));
    }
    std::vector<at::Tensor> out;
    for (const auto& p : parts) out.push_back(p.empty() ? at::Tensor() : p.size() == 1 ? p.front() : at::cat(p));
    return out;
}

/// Every recorded layer's index: 0, 1, ..., L − 1.
inline std::vector<std::size_t> all_layers(const exported_model& m) {
    std::vector<std::size_t> which(m.layers().size());
    for (std::size_t l = 0; l < which.size(); ++l) which[l] = l;
    return which;
}

/// run(b0, b, n) (a call of the package on the rows [b0, b0 + b) padded to n, a layered_pass)
/// over the chunks of a batch of N samples: the output and the activations (and, with
/// `gradients`, the gradients) of the layers `which`, the chunks' rows concatenated; the other
/// layers' entries undefined.
template <class Run>
layered_pass layers_over_chunks(const exported_model& m, std::int64_t N, const std::vector<std::size_t>& which,
                                bool gradients, Run&& run) {
    auto out = over_chunks(m, N, run, [&](const layered_pass& p) {
        std::vector<at::Tensor> kept{p.output};
        for (std::size_t l : which) kept.push_back(p.activations[l]);
        if (gradients)
            for (std::size_t l : which) kept.push_back(p.gradients[l]);
        return kept;
    });
    layered_pass p;
    p.output = std::move(out[0]);
    p.activations.resize(m.layers().size());
    if (gradients) p.gradients.resize(m.layers().size());
    for (std::size_t i = 0; i < which.size(); ++i) {
        p.activations[which[i]] = std::move(out[1 + i]);
        if (gradients) p.gradients[which[i]] = std::move(out[1 + which.size() + i]);
    }
    return p;
}

/// The forward function on a batch of any size (checked): the output and the activations of the
/// layers `which` (indices in m.layers(); the others undefined).
inline layered_pass forward_layers_any_batch(exported_model& m, const at::Tensor& batch,
                                             const std::vector<std::size_t>& which) {
    m.check_batch(batch);
    return layers_over_chunks(m, batch.size(0), which, false, [&](std::int64_t b0, std::int64_t b, std::int64_t n) {
        return m.run_forward_layers(padded_rows(batch, b0, b, n));
    });
}

/// The forward function on a batch of any size (checked): {output, A} of the selected layer, or
/// the output alone (activations undefined, no layer needed) with `activations` false, as Score-CAM
/// and the faithfulness metrics need.
inline recorded_pass forward_any_batch(exported_model& m, const at::Tensor& batch, bool activations = true) {
    const std::size_t l = activations ? m.layer_index() : 0;
    layered_pass p = forward_layers_any_batch(m, batch, activations ? std::vector<std::size_t>{l} : std::vector<std::size_t>{});
    return {std::move(p.output), activations ? std::move(p.activations[l]) : at::Tensor()};
}

/// The gradient function on a batch of any size (checked) with a seed of the batch's output shape:
/// the output and the activations and gradients of the layers `which` (the others undefined).
inline layered_pass gradient_layers_any_batch(exported_model& m, const at::Tensor& batch, const at::Tensor& seed,
                                              const std::vector<std::size_t>& which) {
    m.check_batch(batch);
    require_seed_shape(seed, m.output_shape_for(static_cast<std::size_t>(batch.size(0))));
    return layers_over_chunks(m, batch.size(0), which, true, [&](std::int64_t b0, std::int64_t b, std::int64_t n) {
        return m.run_gradient_layers(padded_rows(batch, b0, b, n), padded_rows(seed, b0, b, n));
    });
}

/// gradient_layers_any_batch of the selected layer: {output, A, G}, scores undefined.
inline captured gradient_any_batch(exported_model& m, const at::Tensor& batch, const at::Tensor& seed) {
    const std::size_t l = m.layer_index();
    layered_pass p = gradient_layers_any_batch(m, batch, seed, {l});
    return {std::move(p.output), at::Tensor(), std::move(p.activations[l]), std::move(p.gradients[l])};
}

}  // namespace detail

/// An exported model as a model of the gradient-free algorithms (Score-CAM, faithfulness): its
/// forward function on batches of any size.
template <>
struct model_traits<exported_model> {
    static auto forward(exported_model& m) {
        return [&m](const at::Tensor& batch) { return detail::forward_any_batch(m, batch, false).output; };
    }
};

/// Forward only: {output, activations} of the selected layer, for a batch of any size.
inline std::pair<at::Tensor, at::Tensor> capture_activations(exported_model& m, const at::Tensor& input) {
    recorded_pass p = detail::forward_any_batch(m, input);
    return {std::move(p.output), std::move(p.activations)};
}

/// Forward only: the output and every recorded layer's activations (m.layers() order) from one
/// run of the forward function per chunk of the package's batch size, for a batch of any size.
inline layered_pass capture_activations_layers(exported_model& m, const at::Tensor& input) {
    return detail::forward_layers_any_batch(m, input, detail::all_layers(m));
}

/// A, G = ∂score/∂A and the scores of `what` for `input`: one call of the gradient function for
/// linear targets (their seed follows from the recorded output shape); the forward function
/// first for targets that depend on the output (the predicted class, a probability, a score).
inline captured capture_gradients(exported_model& m, const at::Tensor& input, const objective& what = {}) {
    m.require_gradient();
    m.check_batch(input);
    if (what.depends_on_output_values()) {
        auto [scores, seed] = what.seed_and_score(detail::forward_any_batch(m, input, false).output);
        captured c = detail::gradient_any_batch(m, input, seed);
        c.scores = std::move(scores);
        return c;
    }
    // The seed depends on the output's shape only: zeros of that shape stand in for the output.
    const shape_t y = m.output_shape_for(static_cast<std::size_t>(input.size(0)));
    const at::Tensor seed = what.seed_and_score(at::zeros(sizes_of(y), input.options())).seed;
    captured c = detail::gradient_any_batch(m, input, seed);
    c.scores = detail::weighted_scores(c.output, seed);
    return c;
}

namespace detail {

/// capture_gradients_many at the layers `which` (see there and capture_gradients_many_layers).
inline layered_pass gradients_many_of_layers(exported_model& m, const at::Tensor& input, std::span<const target> targets,
                                             std::size_t sample, const std::vector<std::size_t>& which) {
    m.require_gradient();
    m.check_batch(input);
    const std::int64_t N = input.size(0), T = static_cast<std::int64_t>(targets.size());
    auto [scores, seeds] = seed_and_score_many(at::zeros(sizes_of(m.output_shape_for(static_cast<std::size_t>(N))),
                                                         input.options()),
                                               targets, sample);
    const auto s = static_cast<std::int64_t>(sample);
    layered_pass out;
    out.activations.resize(m.layers().size());
    out.gradients.resize(m.layers().size());
    if (T > 0) {  // the sample once per target: its output (the batch's when N = 1), A and G
        const at::Tensor row = input.narrow(0, s, 1);
        std::vector<std::int64_t> repeated = row.sizes().vec();
        repeated[0] = T;
        layered_pass rows = gradient_layers_any_batch(m, row.expand(repeated), seeds.to(input.options()), which);
        for (std::size_t l : which) {
            const at::Tensor a = rows.activations[l].select(0, 0);
            out.activations[l] = a.unsqueeze(0).expand(rows.gradients[l].sizes());
            out.gradients[l] = std::move(rows.gradients[l]);
        }
        if (N == 1) out.output = rows.output.narrow(0, 0, 1);
    } else {  // no gradient call: the batch's forward gives the output and the sample's A
        layered_pass p = forward_layers_any_batch(m, input, which);
        out.output = std::move(p.output);
        for (std::size_t l : which) {
            const at::Tensor a = p.activations[l].select(0, s);
            std::vector<std::int64_t> sizes{0};
            for (std::int64_t e : a.sizes()) sizes.push_back(e);
            out.activations[l] = a.unsqueeze(0).expand(sizes);
            out.gradients[l] = at::zeros(sizes, a.options());
        }
    }
    if (!out.output.defined()) out.output = forward_any_batch(m, input, false).output;
    const at::Tensor ys = out.output.select(0, s).unsqueeze(0).expand(seeds.sizes());
    out.scores = weighted_scores(ys, seeds);
    return out;
}

}  // namespace detail

/// Many linear targets for sample `sample` of `input` (a batch of any size) at the selected layer:
/// the gradient function on the sample repeated once per target, each row with its target's seed,
/// in chunks of the package's batch size (a package exported for batch n explains T targets in
/// ⌈T / n⌉ calls). A and G come back as [T, K, *S]; the output is the whole batch's (one forward
/// more when the batch holds other samples).
inline captured capture_gradients_many(exported_model& m, const at::Tensor& input, std::span<const target> targets,
                                       std::size_t sample = 0) {
    const std::size_t l = m.layer_index();
    layered_pass p = detail::gradients_many_of_layers(m, input, targets, sample, {l});
    return {std::move(p.output), std::move(p.scores), std::move(p.activations[l]), std::move(p.gradients[l])};
}

/// capture_gradients_many at every layer the package records (m.layers() order), from the same
/// calls: each layer's A and G as [T, K_l, *S_l].
inline layered_pass capture_gradients_many_layers(exported_model& m, const at::Tensor& input,
                                                  std::span<const target> targets, std::size_t sample = 0) {
    return detail::gradients_many_of_layers(m, input, targets, sample, detail::all_layers(m));
}

/// Explains the selected layer with `Method`: the gradient function for the
/// gradient-based methods, the forward function alone for the others (Eigen-CAM; gradients and
/// scores are then left undefined).
template <method_policy Method>
explained explain(exported_model& m, const at::Tensor& input, const objective& what = {}, const options& opt = {}) {
    return detail::explain_source<Method>(m, input, what, opt);
}

/// Score-CAM at the selected layer, scored by `what` (one target per sample, a
/// probability_score, or nothing: each sample's predicted class); the input and the masked inputs
/// run through the forward function in chunks of the package's batch size.
inline score_cam_result score_cam(exported_model& m, const at::Tensor& input, const objective& what = {},
                                  const options& opt = {}, const score_cam_options& sopt = {}) {
    auto [output, activations] = capture_activations(m, input);
    return detail::score_cam_of_recorded(m, input, output, activations, what, opt, sopt);
}

/// CAM (Zhou et al.) of the selected layer with the head weight [C, K] the package holds at
/// `head` (its parameter path, e.g. "fc.weight"), one class per sample.
inline explanation<at::Tensor> cam(exported_model& m, const at::Tensor& input, const std::string& head,
                                   std::span<const std::size_t> classes, const options& opt = {}) {
    const at::Tensor weight = m.parameter(head);
    return cam(capture_activations(m, input).second, weight, classes, opt);
}

}  // namespace camkit::torch

#endif  // CAMKIT_TORCH_HAS_EXPORTED
