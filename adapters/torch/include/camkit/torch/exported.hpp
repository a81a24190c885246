#pragma once
// Models exported ahead of time with AOTInductor (LibTorch 2.6 or newer): tools/export_cam.py
// writes one .pt2 package holding two compiled functions of a model explained at one layer,
//   gradient  f(x, seed) -> (output, A, ∂⟨output, seed⟩/∂A)
//   forward   f(x) -> (output, A)
// and records the layer and the shapes in the package's metadata (docs/exported.md). An
// `exported_model` loads it; capture_gradients, explain, score_cam and the faithfulness metrics
// take it as they take a tap or a TorchScript layer. The seed is built in C++ from the targets:
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

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
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

}  // namespace detail

/// An AOTInductor package written by tools/export_cam.py: the model's compiled gradient and
/// forward functions at one recorded layer, for inputs of one shape on the device it was compiled for.
class exported_model {
public:
    /// Loads the package at `path`; throws camkit::error when it is missing, not an AOTInductor
    /// package, or one without camkit's metadata.
    explicit exported_model(const std::string& path) : path_(path) {
        std::error_code ec;
        camkit::detail::require(std::filesystem::is_regular_file(path, ec),
                                "exported model: " + path + " is not a regular file");
        // Either function's metadata describes the package (export_cam.py gives both the same).
        std::string why;
        forward_ = try_load("forward", why);
        if (!forward_) gradient_ = try_load("gradient", why);
        camkit::detail::require(forward_ || gradient_, "exported model: cannot load " + path +
                                                           " (is it a package written by tools/export_cam.py?): " + why);
        metadata_ = (forward_ ? forward_ : gradient_)->get_metadata();
        const auto functions = metadata_.find("camkit.functions");
        camkit::detail::require(metadata_.count("camkit.layer") && functions != metadata_.end(),
                                "exported model: " + path + " has no camkit metadata (camkit.layer): export it with "
                                                            "tools/export_cam.py");
        const std::string format = metadata_.count("camkit.format") ? metadata_.at("camkit.format") : "";
        camkit::detail::require(format == "1", "exported model: " + path + " has camkit.format '" + format +
                                                   "'; this camkit reads format 1");
        layer_ = metadata_.at("camkit.layer");
        input_shape_ = detail::parse_shape(meta("camkit.input_shape"), "camkit.input_shape");
        output_shape_ = detail::parse_shape(meta("camkit.output_shape"), "camkit.output_shape");
        activation_shape_ = detail::parse_shape(meta("camkit.activation_shape"), "camkit.activation_shape");
        if (!gradient_ && functions->second.find("gradient") != std::string::npos) {
            gradient_ = try_load("gradient", why);
            camkit::detail::require(gradient_ != nullptr, "exported model: cannot load the gradient function of " +
                                                              path + ": " + why);
        }
    }

    /// The dotted name of the layer the package records (its `A`).
    const std::string& layer() const { return layer_; }
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
    /// The layer's output shape A [N, K, *s].
    const shape_t& activation_shape() const { return activation_shape_; }
    /// Every metadata entry of the package (camkit.* from export_cam.py, AOTI_* from AOTInductor).
    const std::unordered_map<std::string, std::string>& metadata() const { return metadata_; }
    /// Names the layer in error messages.
    std::string describe() const { return "layer '" + layer_ + "' of the exported model " + path_; }

    /// Throws camkit::error unless the package has the gradient function.
    void require_gradient() const {
        camkit::detail::require(gradient_ != nullptr, "exported model: " + path_ +
                                                          " is a forward-only package; the gradient-based methods need "
                                                          "the gradient function (export without --forward-only)");
    }

    /// f(x) -> {output, A}: the forward function, or the gradient function with a zero seed in a
    /// package without one.
    recorded_pass run_forward(const at::Tensor& input) {
        check_input(input);
        if (forward_) {
            ++forward_calls_;
            auto out = call(*forward_, {input.contiguous()}, 2);
            return {std::move(out[0]), std::move(out[1])};
        }
        ++gradient_calls_;
        auto out = call(*gradient_, {input.contiguous(), at::zeros(camkit::torch::sizes_of(output_shape_), input.options())}, 3);
        return {std::move(out[0]), std::move(out[1])};
    }

    /// f(x, seed) -> {output, A, G = ∂⟨output, seed⟩/∂A}, scores left undefined; the seed has the
    /// output's shape.
    captured run_gradient(const at::Tensor& input, const at::Tensor& seed) {
        require_gradient();
        check_input(input);
        camkit::detail::require(seed.defined() && shape_of(seed) == output_shape_,
                                "exported model: the seed must have the output's shape " + to_string(output_shape_) +
                                    ", got " + (seed.defined() ? to_string(shape_of(seed)) : std::string("undefined")));
        ++gradient_calls_;
        auto out = call(*gradient_, {input.contiguous(), seed.to(input.options()).contiguous()}, 3);
        return {std::move(out[0]), at::Tensor(), std::move(out[1]), std::move(out[2])};
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

    std::string meta(const std::string& key) const {
        const auto it = metadata_.find(key);
        camkit::detail::require(it != metadata_.end(), "exported model: " + path_ + " has no metadata " + key);
        return it->second;
    }

    /// The function `name` of the package, or nullptr with the loader's reason in `why`.
    std::unique_ptr<loader> try_load(const char* name, std::string& why) const {
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

    std::string path_, layer_;
    std::unique_ptr<loader> forward_, gradient_;
    std::unordered_map<std::string, std::string> metadata_;
    shape_t input_shape_, output_shape_, activation_shape_;
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

/// The forward function on a batch of any size (checked): {output, A}, or the output alone
/// (activations undefined) with `activations` false, as Score-CAM and the faithfulness metrics need.
inline recorded_pass forward_any_batch(exported_model& m, const at::Tensor& batch, bool activations = true) {
    m.check_batch(batch);
    auto out = over_chunks(
        m, batch.size(0),
        [&](std::int64_t b0, std::int64_t b, std::int64_t n) { return m.run_forward(padded_rows(batch, b0, b, n)); },
        [&](const recorded_pass& p) {
            return std::vector<at::Tensor>{p.output, activations ? p.activations : at::Tensor()};
        });
    return {std::move(out[0]), std::move(out[1])};
}

/// The gradient function on a batch of any size (checked) with a seed of the batch's output shape:
/// {output, A, G}, scores undefined.
inline captured gradient_any_batch(exported_model& m, const at::Tensor& batch, const at::Tensor& seed) {
    m.check_batch(batch);
    const shape_t want = m.output_shape_for(static_cast<std::size_t>(batch.size(0)));
    camkit::detail::require(seed.defined() && shape_of(seed) == want,
                            "exported model: the seed must have the output's shape " + to_string(want) + ", got " +
                                (seed.defined() ? to_string(shape_of(seed)) : std::string("undefined")));
    auto out = over_chunks(
        m, batch.size(0),
        [&](std::int64_t b0, std::int64_t b, std::int64_t n) {
            return m.run_gradient(padded_rows(batch, b0, b, n), padded_rows(seed, b0, b, n));
        },
        [](const captured& c) { return std::vector<at::Tensor>{c.output, c.activations, c.gradients}; });
    return {std::move(out[0]), at::Tensor(), std::move(out[1]), std::move(out[2])};
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

/// Forward only: {output, activations} of the layer the package records, for a batch of any size.
inline std::pair<at::Tensor, at::Tensor> capture_activations(exported_model& m, const at::Tensor& input) {
    recorded_pass p = detail::forward_any_batch(m, input);
    return {std::move(p.output), std::move(p.activations)};
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

/// Many linear targets for sample `sample` of `input` (a batch of any size): the gradient
/// function on the sample repeated once per target, each row with its target's seed, in chunks of
/// the package's batch size (a package exported for batch n explains T targets in ⌈T / n⌉ calls).
/// A and G come back as [T, K, *S]; the output is the whole batch's (one forward more when the
/// batch holds other samples).
inline captured capture_gradients_many(exported_model& m, const at::Tensor& input, std::span<const target> targets,
                                       std::size_t sample = 0) {
    m.require_gradient();
    m.check_batch(input);
    const std::int64_t N = input.size(0), T = static_cast<std::int64_t>(targets.size());
    auto [scores, seeds] = seed_and_score_many(at::zeros(sizes_of(m.output_shape_for(static_cast<std::size_t>(N))),
                                                         input.options()),
                                               targets, sample);
    const auto s = static_cast<std::int64_t>(sample);
    at::Tensor output, A, G;
    if (T > 0) {  // the sample once per target: its output (the batch's when N = 1), A and G
        const at::Tensor row = input.narrow(0, s, 1);
        std::vector<std::int64_t> repeated = row.sizes().vec();
        repeated[0] = T;
        captured rows = detail::gradient_any_batch(m, row.expand(repeated), seeds.to(input.options()));
        A = rows.activations.select(0, 0);
        G = std::move(rows.gradients);
        if (N == 1) output = rows.output.narrow(0, 0, 1);
    } else {  // no gradient call: the batch's forward gives the output and the sample's A
        recorded_pass p = detail::forward_any_batch(m, input);
        output = std::move(p.output);
        A = p.activations.select(0, s);
    }
    if (!output.defined()) output = detail::forward_any_batch(m, input, false).output;
    std::vector<std::int64_t> sizes{T};
    for (std::int64_t e : A.sizes()) sizes.push_back(e);
    const at::Tensor ys = output.select(0, s).unsqueeze(0).expand(seeds.sizes());
    return {output, detail::weighted_scores(ys, seeds), A.unsqueeze(0).expand(sizes),
            T > 0 ? G : at::zeros(sizes, A.options())};
}

/// Explains the layer the package records with `Method`: the gradient function for the
/// gradient-based methods, the forward function alone for the others (Eigen-CAM; gradients and
/// scores are then left undefined).
template <method_policy Method>
explained explain(exported_model& m, const at::Tensor& input, const objective& what = {}, const options& opt = {}) {
    return detail::explain_source<Method>(m, input, what, opt);
}

/// Score-CAM at the layer the package records, scored by `what` (one target per sample, a
/// probability_score, or nothing: each sample's predicted class); the input and the masked inputs
/// run through the forward function in chunks of the package's batch size.
inline score_cam_result score_cam(exported_model& m, const at::Tensor& input, const objective& what = {},
                                  const options& opt = {}, const score_cam_options& sopt = {}) {
    auto [output, activations] = capture_activations(m, input);
    return detail::score_cam_of_recorded(m, input, output, activations, what, opt, sopt);
}

/// CAM (Zhou et al.) of the recorded layer with the head weight [C, K] the package holds at
/// `head` (its parameter path, e.g. "fc.weight"), one class per sample.
inline explanation<at::Tensor> cam(exported_model& m, const at::Tensor& input, const std::string& head,
                                   std::span<const std::size_t> classes, const options& opt = {}) {
    const at::Tensor weight = m.parameter(head);
    return cam(capture_activations(m, input).second, weight, classes, opt);
}

}  // namespace camkit::torch

#endif  // CAMKIT_TORCH_HAS_EXPORTED
