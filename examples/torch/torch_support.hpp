#pragma once
// What the camkit-torch commands share: loading a TorchScript model (with a check of its weight
// storage), reading LibTorch's error messages, and host copies of tensors.
#include "../common/cli_support.hpp"

#include <camkit/error.hpp>
#include <camkit/tensor.hpp>
#include <camkit/torch/scripted.hpp>
#include <camkit/torch/tensor.hpp>
#include <camkit/torch/text.hpp>

#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>
#include <torch/version.h>  // TORCH_VERSION

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace camkit_torch_tool {

/// The informative line of a LibTorch or TorchScript interpreter error: the last "...Error: ..."
/// line of an interpreter traceback (without that prefix), else the first line.
inline std::string model_error(const std::string& what) {
    std::istringstream lines(what);
    std::string line, found;
    while (std::getline(lines, line)) {
        const auto colon = line.find("Error: ");
        if (colon != std::string::npos && line.find_first_of(" \t") > colon) found = line.substr(colon + 7);
    }
    return found.empty() ? camkit_cli::one_line(what) : camkit_cli::one_line(found);
}

/// What a newcomer can do about two common model errors on an input, or "": a channel count the first
/// layer does not take (an RGB image for a one-channel model) and a size its skip connections cannot
/// join (sizes that its poolings do not divide).
inline std::string model_error_hint(const std::string& message) {
    if (message.find("channels, but got") != std::string::npos)
        return " (an image is read as RGB [1, 3, H, W]: --gray gives [1, 1, H, W]; an .npy input is [N, C, *S])";
    if (message.find("Sizes of tensors must match") != std::string::npos)
        return " (an input size the model cannot take: sizes its poolings divide, e.g. multiples of 32, "
               "with --resize HxW for an image)";
    return "";
}

/// Runs `step`, a step that runs the model, and returns what it returns. An error the model raises
/// (LibTorch's c10::Error, or the std::runtime_error the TorchScript interpreter wraps it in: LibTorch
/// 1.13 does) becomes the usage error "the model failed on WHERE: <LibTorch's line>"; camkit's own
/// errors, usage errors and bad_alloc pass through.
template <class Step>
decltype(auto) model_step(const std::string& where, Step&& step) {
    try {
        return step();
    } catch (const camkit_cli::usage_error&) {
        throw;
    } catch (const camkit::error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const c10::Error& e) {  // wrong channel count, size, dtype: bad input, not a crash
        const std::string m = model_error(e.what_without_backtrace());
        camkit_cli::fail("the model failed on " + where + ": " + m + model_error_hint(m));
    } catch (const std::exception& e) {
        const std::string m = model_error(e.what());
        camkit_cli::fail("the model failed on " + where + ": " + m + model_error_hint(m));
    }
}

/// The input as model errors name it: its shape and how camkit-torch reads it ("the input
/// [2, 48, 40, 32] (read as [N, C, H, W]: 2 samples of 48 channels)"), so that an array of another
/// rank than the model takes (a volume without its channel axis) shows in the model's message.
inline std::string input_words(const at::Tensor& x, const std::string& what = "the input") {
    static constexpr const char* layouts[] = {"[N, C, L]", "[N, C, H, W]", "[N, C, D, H, W]"};
    std::string shape = "[";
    for (std::int64_t i = 0; i < x.dim(); ++i) shape += (i ? ", " : "") + std::to_string(x.size(i));
    shape += "]";
    if (x.dim() < 3 || x.dim() > 5) return what + " " + shape;
    return what + " " + shape + " (read as " + layouts[x.dim() - 3] + ": " + std::to_string(x.size(0)) +
           (x.size(0) == 1 ? " sample of " : " samples of ") + std::to_string(x.size(1)) + (x.size(1) == 1 ? " channel)" : " channels)");
}

/// Fails when the weight records of the model file (data/N, one per storage) do not hold the bytes
/// the model's parameters and buffers need: a truncated or corrupt file. LibTorch 1.13 loads such a
/// file with storages larger than the bytes read, and the first forward pass would then fail (or
/// read past the end) as if the input were wrong. The records are read one at a time.
inline void check_weight_storage(const torch::jit::Module& m, const std::string& path) {
    std::multiset<std::size_t> records;
    {
        caffe2::serialize::PyTorchStreamReader reader(path);
        for (const std::string& name : reader.getAllRecords())
            if (name.starts_with("data/")) records.insert(std::get<1>(reader.getRecord(name)));
    }
    if (records.empty()) return;  // an archive without separate weight records: nothing to compare
    std::set<const void*> seen;
    const auto check = [&](const std::string& name, const at::Tensor& t) {
        if (!t.defined() || !t.has_storage() || !seen.insert(t.storage().unsafeGetStorageImpl()).second) return;
        const std::size_t need = t.storage().nbytes();
        const auto it = records.find(need);
        if (it == records.end())
            camkit_cli::fail(path + ": damaged model file: the weights of '" + name + "' need " + std::to_string(need) +
                             " bytes but no weight record of the file has that size (truncated or corrupt)");
        records.erase(it);
    };
    for (const auto& p : m.named_parameters(true)) check(p.name, p.value);
    for (const auto& b : m.named_buffers(true)) check(b.name, b.value);
}

/// True for an AOTInductor package (M.pt2 of tools/export_cam.py; the extension in any case)
/// rather than a TorchScript file.
inline bool is_package_path(const std::string& path) { return camkit_cli::extension_lower(path) == ".pt2"; }

/// What a zip archive that torch::jit::load refused holds, for its message: a torch.save() file
/// (data.pkl without TorchScript's code and constants.pkl), an exported package under another
/// extension, or (empty) neither.
inline std::string refused_archive_kind(const std::string& path) {
    std::vector<std::string> records;
    try {
        records = caffe2::serialize::PyTorchStreamReader(path).getAllRecords();
    } catch (const std::exception&) {
        return "";  // not even the archive opens: damaged
    }
    const auto has = [&](auto&& pred) { return std::any_of(records.begin(), records.end(), pred); };
    if (has([](const std::string& r) { return r.find("aotinductor/") != std::string::npos; }))
        return "an exported package (AOTInductor): give it the extension .pt2";
    if (has([](const std::string& r) { return r == "data.pkl"; }) && !has([](const std::string& r) { return r == "constants.pkl"; }) &&
        !has([](const std::string& r) { return r.starts_with("code/"); }))
        return "a torch.save() file (a state_dict or a pickled module), not a TorchScript model: save the model with "
               "torch.jit.script(model).save(path) or torch.jit.trace(model, x).save(path)";
    return "";
}

/// The layers a package records, for messages: "layer 'a'" or "layers 'a', 'b', 'c'".
inline std::string recorded_layers(const std::vector<std::string>& layers) {
    return camkit::torch::detail::layers_phrase(layers);
}

/// The name `--layer auto` stands for (unless the model has a layer called "auto"): the layer
/// camkit::torch::candidate_layer chooses in a forward of `input`'s first sample. Other names are
/// returned as they are.
inline std::string resolve_layer(const torch::jit::Module& m, const std::string& layer, const at::Tensor& input,
                                 const std::string& model_output) {
    if (layer != "auto") return layer;
    for (const auto& sub : m.named_modules())
        if (sub.name == "auto") return layer;
    return model_step(input_words(input), [&] { return camkit::torch::candidate_layer(m, input.narrow(0, 0, 1), model_output); });
}

/// resolve_layer for a package (M.pt2) that records `recorded`: `--layer auto` (unless the package
/// records a layer called "auto") is its one layer; a package of several is refused (it was
/// exported at those layers: the user names one). Other names are returned as they are.
inline std::string resolve_package_layer(const std::string& model, const std::string& layer,
                                         const std::vector<std::string>& recorded) {
    if (layer != "auto" || std::find(recorded.begin(), recorded.end(), layer) != recorded.end()) return layer;
    if (recorded.size() != 1)
        camkit_cli::fail(model + " records " + recorded_layers(recorded) +
                         ": --layer auto chooses among a TorchScript model's layers; name one of these");
    return recorded.front();
}

/// What in LibTorch's load error `what` says the model needs a newer LibTorch ("it calls
/// aten::X, an operator this version does not know"; "its file format is newer than this version
/// reads (LibTorch's line)"), or "" when it says nothing of the kind.
inline std::string newer_pytorch_reason(const std::string& what) {
    const std::string op_prefix = "Unknown builtin op: ";
    if (const auto at = what.find(op_prefix); at != std::string::npos) {
        const auto begin = at + op_prefix.size();
        std::string op = what.substr(begin, what.find_first_of(" \n", begin) - begin);
        if (!op.empty() && op.back() == '.') op.pop_back();
        return "it calls " + op + ", an operator this version does not know";
    }
    // "Attempted to read a PyTorch file with version N, but the maximum supported version for reading is M."
    if (what.find("Attempted to read a PyTorch file with version") != std::string::npos)
        return "its file format is newer than this version reads (" + model_error(what) + ")";
    return "";
}

/// The TorchScript model at `path`, in eval mode; a clear error when it is missing, not a
/// TorchScript file, or a damaged one.
inline torch::jit::Module load_model(const std::string& path) {
    camkit::io::regular_file_size(path, UINT64_MAX);  // a FIFO or device is refused before it is opened
    torch::jit::Module m;
    try {
        m = torch::jit::load(path, torch::Device(torch::kCPU));  // a model saved on a GPU loads without one
    } catch (const std::exception& e) {
        // A TorchScript file is a zip archive: one that starts like a zip but does not load is damaged.
        char magic[4] = {};
        if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
            const std::size_t got = std::fread(magic, 1, 4, f);
            std::fclose(f);
            if (got == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) {
                const std::string kind = refused_archive_kind(path);
                if (!kind.empty()) camkit_cli::fail(path + ": " + kind);
                const std::string newer = newer_pytorch_reason(e.what());
                if (!newer.empty())
                    camkit_cli::fail(path + ": LibTorch " + TORCH_VERSION + " cannot load this model: " + newer +
                                     "; it was likely saved by a newer PyTorch: build camkit-torch against that "
                                     "PyTorch's LibTorch (docs/packaging.md, the torch2 preset), or script the model "
                                     "with PyTorch " + TORCH_VERSION);
                camkit_cli::fail(path + ": damaged model file: " + model_error(e.what()));
            }
        }
        camkit_cli::fail(path + ": not a TorchScript model (save it with torch.jit.script(model).save(path) or "
                                "torch.jit.trace(model, x).save(path))");
    }
    check_weight_storage(m, path);
    m.eval();
    return m;
}

/// Fails when the activations `act` of `layer` have no spatial axes (a layer after the pooling);
/// returns a warning (without the tool's name) for a layer of one position per channel, whose maps
/// are constant, else "".
inline std::string check_layer_output(const std::string& layer, const at::Tensor& act) {
    if (!act.defined()) return "";
    const std::string shape = camkit::to_string(camkit::torch::shape_of(act));
    const std::string listing = "('camkit-torch layers --model M --input-shape N,C,H,W' lists each layer's output shape, "
                                "or --layer auto)";
    if (act.dim() < 3)
        camkit_cli::fail("layer " + layer + "'s output " + shape + " has no spatial axes: a class-activation map needs a " +
                         "layer of shape [N, K, *S], a convolutional one before the pooling " + listing);
    if (act.numel() == act.size(0) * act.size(1))
        return "layer " + layer + " has one position per channel (output " + shape + "): every map is constant (zero " +
               "after min-max); explain a layer before the pooling " + listing;
    return "";
}

/// The floating-point type the model computes in: its first floating-point parameter's (else
/// buffer's), float for a model with neither. Inputs are cast to it (a float64 or half model takes
/// the float32 arrays and images the tools read).
inline at::ScalarType model_dtype(const torch::jit::Module& m) {
    for (const at::Tensor& p : m.parameters())
        if (at::isFloatingType(p.scalar_type())) return p.scalar_type();
    for (const at::Tensor& b : m.buffers())
        if (at::isFloatingType(b.scalar_type())) return b.scalar_type();
    return at::kFloat;
}

/// A camkit::tensor<float> copy of a tensor (moved to the CPU, as float).
inline camkit::tensor<float> to_host(const at::Tensor& t) {
    const at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
    camkit::tensor<float> out(camkit::torch::shape_of(c));
    std::copy_n(c.data_ptr<float>(), c.numel(), out.values.begin());
    return out;
}

}  // namespace camkit_torch_tool
