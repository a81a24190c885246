// camkit-torch: class-activation maps of a TorchScript model's named layer, on the command line.
//
//   camkit-torch explain --model M.pt --layer NAME --input X.npy|IMG.png [options] --out MAP.npy
//   camkit-torch layers --model M.pt
//   camkit-torch methods
//
// Exit status 0 on success, 2 on bad input (one line on stderr starting with "camkit-torch: "),
// 1 on an internal error. Outputs are computed and encoded completely before the first file is
// written; each goes to a staging file beside its destination and all are renamed into place at
// the very end, so a failure never leaves a partial output file.
#include <camkit/colormap.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/overlay.hpp>
#include <camkit/resize.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/torch.hpp>
#include <camkit/version.hpp>
#include <camkit/xtensor/image.hpp>
#include <camkit/xtensor/npy.hpp>

#include <torch/cuda.h>
#include <torch/csrc/jit/runtime/jit_exception.h>
#include <torch/script.h>

#include <xtensor/xarray.hpp>

#include "../common/cli_support.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using camkit_cli::fail;
using camkit_cli::one_line;
using camkit_cli::parse_size;
using camkit_cli::side_by_side;
using camkit_cli::staged_outputs;
using camkit_cli::usage_error;

constexpr const char* usage_text =
    "usage: camkit-torch explain --model M.pt --layer NAME --input X.npy|IMG.png --out MAP.npy [options]\n"
    "       camkit-torch layers --model M.pt\n"
    "       camkit-torch methods\n"
    "       camkit-torch --help | --version\n"
    "\n"
    "Explains a TorchScript model (torch.jit.script or torch.jit.trace, saved with .save()) at a layer\n"
    "named by its dotted path (e.g. layer4.1), with no change to the model file. Run\n"
    "'camkit-torch explain --help' for the options and 'camkit-torch layers --model M.pt' for the names.\n";

constexpr const char* explain_usage_text =
    "usage: camkit-torch explain --model M.pt --layer NAME --input X.npy|IMG.png --out MAP.npy\n"
    "           [--method NAME] [--target class|mask-sum|mask-mean|predicted|whole-image] [--class C]\n"
    "           [--mask MASK.npy|MASK.png] [--size HxW] [--renormalize] [--device cpu|cuda]\n"
    "           [--batch-size B] [--png OUT.png]\n"
    "\n"
    "  --model M.pt      a TorchScript file; it is put in eval mode\n"
    "  --layer NAME      dotted path of the layer to explain ('camkit-torch layers' lists them)\n"
    "  --input X         .npy float32/float64 [N, C, *S] (1 to 3 spatial axes), used as is; or a PNG/JPEG,\n"
    "                    read as [1, 3, H, W] RGB in [0, 1] (no mean/std normalization: use .npy for that)\n"
    "  --out MAP.npy     the finished maps, float32 [N, *size]\n"
    "  --method NAME     one of 'camkit-torch methods' (default gradcam); scorecam is gradient-free\n"
    "  --target T        what the gradients are of (score per sample):\n"
    "                      class        output[n, C] of a classifier, or Σ_p output[n, C, p] of a\n"
    "                                   segmentation (needs --class)\n"
    "                      mask-sum     Σ_p M[p]·output[n, C, p] (Seg-Grad-CAM; needs --class, --mask)\n"
    "                      mask-mean    the same divided by the mask's nonzero count\n"
    "                      predicted    classifier: the predicted class of each sample; segmentation:\n"
    "                                   mask-sum over the pixels predicted as --class C\n"
    "                      whole-image  Σ_p output[n, C, p] of a segmentation (needs --class)\n"
    "                    default: mask-sum with --mask, class with --class, predicted otherwise\n"
    "  --class C         the class index\n"
    "  --mask M          [*P] or [N, *P] .npy (real-valued weights), or a PNG/JPEG (pixels brighter than\n"
    "                    half are 1, the rest 0) of the output's spatial size\n"
    "  --size HxW        size of the maps (bilinear, half-pixel centres); default: the input's size\n"
    "  --renormalize     ReLU and min-max again after resizing (as pytorch-grad-cam does)\n"
    "  --device D        cpu (default) or cuda\n"
    "  --batch-size B    forward passes per batch for scorecam (default 16)\n"
    "  --png OUT.png     heatmaps of the maps side by side (overlaid on the input when it is an image)\n"
    "\n"
    "Exit status: 0 success, 2 bad input (one line on stderr), 1 internal error.\n";



/// The informative line of a LibTorch or TorchScript interpreter error: the last "...Error: ..."
/// line of an interpreter traceback (without that prefix), else the first line.
std::string model_error(const std::string& what) {
    std::istringstream lines(what);
    std::string line, found;
    while (std::getline(lines, line)) {
        const auto colon = line.find("Error: ");
        if (colon != std::string::npos && line.find_first_of(" \t") > colon) found = line.substr(colon + 7);
    }
    return found.empty() ? one_line(what) : one_line(found);
}


/// The parsed `camkit-torch explain` command line.
struct explain_args {
    std::string model, layer, input, out, png, mask, method = "gradcam", target, device = "cpu";
    std::optional<std::int64_t> cls;
    std::int64_t batch_size = 16;
    camkit::options opt;
};

std::int64_t parse_count(std::string_view s, const std::string& name, std::int64_t lo) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < lo)
        fail(name + " must be an integer >= " + std::to_string(lo) + ", got '" + std::string(s) + "'");
    return v;
}


bool is_image_path(const std::string& p) {
    std::string ext = std::filesystem::path(p).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool known_method(const std::string& name) {
    if (name == "scorecam") return true;
    for (auto n : camkit::method_names())
        if (n == name) return true;
    return false;
}

std::string method_list() { return camkit::method_names_joined() + " scorecam"; }

explain_args parse_explain_args(const std::vector<std::string>& args) {
    explain_args a;
    std::map<std::string, bool> seen;
    const auto value_of = [&](std::size_t& i, const std::string& name, std::optional<std::string>& inline_value) {
        if (inline_value) return *inline_value;
        if (i + 1 >= args.size()) fail(name + " needs a value");
        return args[++i];
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::optional<std::string> inline_value;
        if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (seen[name]) fail("option " + name + " is given twice");
        seen[name] = true;
        if (name == "--renormalize" && inline_value) fail(name + " takes no value");
        if (name == "--model") a.model = value_of(i, name, inline_value);
        else if (name == "--layer") a.layer = value_of(i, name, inline_value);
        else if (name == "--input") a.input = value_of(i, name, inline_value);
        else if (name == "--out") a.out = value_of(i, name, inline_value);
        else if (name == "--png") a.png = value_of(i, name, inline_value);
        else if (name == "--mask") a.mask = value_of(i, name, inline_value);
        else if (name == "--method") a.method = value_of(i, name, inline_value);
        else if (name == "--target") a.target = value_of(i, name, inline_value);
        else if (name == "--device") a.device = value_of(i, name, inline_value);
        else if (name == "--class") a.cls = parse_count(value_of(i, name, inline_value), name, 0);
        else if (name == "--batch-size") a.batch_size = parse_count(value_of(i, name, inline_value), name, 1);
        else if (name == "--size") a.opt.size = parse_size(value_of(i, name, inline_value));
        else if (name == "--renormalize") a.opt.renormalize = true;
        else if (name.starts_with("-")) fail("unknown option '" + name + "' (see 'camkit-torch explain --help')");
        else fail("unexpected argument '" + name + "' (see 'camkit-torch explain --help')");
    }
    if (a.model.empty()) fail("--model is required");
    if (a.layer.empty()) fail("--layer is required (see 'camkit-torch layers --model " + a.model + "')");
    if (a.input.empty()) fail("--input is required");
    if (a.out.empty()) fail("--out is required");
    if (!known_method(a.method)) fail("unknown method '" + a.method + "' (choose one of: " + method_list() + ")");
    if (a.target.empty()) a.target = !a.mask.empty() ? "mask-sum" : a.cls ? "class" : "predicted";
    const std::vector<std::string> targets{"class", "mask-sum", "mask-mean", "predicted", "whole-image"};
    if (std::find(targets.begin(), targets.end(), a.target) == targets.end())
        fail("--target must be class, mask-sum, mask-mean, predicted or whole-image, got '" + a.target + "'");
    const bool masked = a.target == "mask-sum" || a.target == "mask-mean";
    if (masked && a.mask.empty()) fail("--target " + a.target + " needs --mask");
    if (!masked && !a.mask.empty()) fail("--mask goes with --target mask-sum or mask-mean, not " + a.target);
    if ((masked || a.target == "class" || a.target == "whole-image") && !a.cls)
        fail("--target " + a.target + " needs --class");
    if (a.device != "cpu" && a.device != "cuda") fail("--device must be cpu or cuda, got '" + a.device + "'");
    if (a.out == a.png) fail("--out and --png are the same file '" + a.out + "'");
    return a;
}


/// A float32 CPU tensor holding a copy of an xt::xarray.
template <class T>
at::Tensor from_xarray(const xt::xarray<T>& x) {
    std::vector<std::int64_t> sizes(x.shape().begin(), x.shape().end());
    at::Tensor t = at::empty(sizes, at::kFloat);
    std::copy(x.begin(), x.end(), t.data_ptr<float>());
    return t;
}

/// A camkit::tensor<float> copy of a tensor (moved to the CPU, as float).
camkit::tensor<float> to_host(const at::Tensor& t) {
    const at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
    camkit::tensor<float> out(camkit::torch::shape_of(c));
    std::copy_n(c.data_ptr<float>(), c.numel(), out.values.begin());
    return out;
}

/// The model input [N, C, *S]: a .npy as is, or an image as [1, 3, H, W] in [0, 1].
at::Tensor load_input(const std::string& path, std::optional<camkit::rgb_image>& image) {
    if (is_image_path(path)) {
        image = camkit::xtensor::read_image(path);
        const auto h = static_cast<std::int64_t>(image->height), w = static_cast<std::int64_t>(image->width);
        at::Tensor bytes = at::empty({h, w, 3}, at::kByte);
        std::copy(image->pixels.begin(), image->pixels.end(), bytes.data_ptr<std::uint8_t>());
        return bytes.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div(255.0).contiguous();
    }
    const at::Tensor x = from_xarray(camkit::xtensor::load_npy<float>(path));
    if (x.dim() < 3 || x.dim() > 5)
        fail(path + ": input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape " +
             camkit::to_string(camkit::torch::shape_of(x)));
    if (x.numel() == 0) fail(path + ": input has an empty axis: shape " + camkit::to_string(camkit::torch::shape_of(x)));
    if (!at::isfinite(x).all().item<bool>()) fail(path + ": input holds NaN or Inf");
    return x;
}

/// The mask [*P] or [N, *P]: a .npy as is, or an image binarized at half brightness.
camkit::tensor<float> load_mask(const std::string& path) {
    if (is_image_path(path)) {
        const camkit::rgb_image m = camkit::xtensor::read_image(path);
        camkit::tensor<float> out({m.height, m.width});
        for (std::size_t i = 0; i < m.height * m.width; ++i) {
            const int sum = m.pixels[3 * i] + m.pixels[3 * i + 1] + m.pixels[3 * i + 2];
            out[i] = sum >= 3 * 128 ? 1.0f : 0.0f;
        }
        return out;
    }
    const xt::xarray<float> m = camkit::xtensor::load_npy<float>(path);
    camkit::tensor<float> out(camkit::shape_t(m.shape().begin(), m.shape().end()));
    std::copy(m.begin(), m.end(), out.values.begin());
    for (float v : out.values)
        if (!std::isfinite(v)) fail(path + ": mask holds NaN or Inf");
    return out;
}

/// The TorchScript model at `path`, in eval mode; a clear error when it is missing or not TorchScript.
torch::jit::Module load_model(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(path + ": no such model file");
    try {
        torch::jit::Module m = torch::jit::load(path);
        m.eval();
        return m;
    } catch (const std::exception&) {
        fail(path + ": not a TorchScript model (save it with torch.jit.script(model).save(path) or "
                    "torch.jit.trace(model, x).save(path))");
    }
}

/// One camkit target per sample from the command line and the model output on the input.
std::vector<camkit::target> make_targets(const explain_args& a, const at::Tensor& output) {
    const camkit::shape_t y = camkit::torch::shape_of(output);
    const std::int64_t N = output.size(0), C = output.size(1);
    const bool segmentation = output.dim() > 2;
    const std::int64_t classes = C == 1 ? 2 : C;  // a one-channel (sigmoid) output has classes 0 and 1
    if (a.cls && *a.cls >= classes)
        fail("--class " + std::to_string(*a.cls) + " is out of range: the model output " + camkit::to_string(y) +
             " has " + std::to_string(classes) + " classes (0 to " + std::to_string(classes - 1) + ")");
    std::vector<camkit::target> targets(static_cast<std::size_t>(N));
    if (a.target == "class") {
        for (auto& t : targets) t = camkit::target{static_cast<std::size_t>(*a.cls), std::nullopt, camkit::reduction::sum};
    } else if (a.target == "whole-image") {
        if (!segmentation)
            fail("--target whole-image needs a segmentation output [N, C, *P], the model gives " + camkit::to_string(y));
        for (auto& t : targets) t = camkit::target{static_cast<std::size_t>(*a.cls), std::nullopt, camkit::reduction::sum};
    } else if (a.target == "predicted") {
        if (!segmentation) {
            if (a.cls) fail("--class does not go with --target predicted for a classifier (it explains each "
                            "sample's predicted class)");
            const at::Tensor pred = (C == 1 ? output.select(1, 0).gt(0).to(at::kLong) : output.argmax(1)).to(at::kCPU);
            for (std::int64_t n = 0; n < N; ++n)
                targets[static_cast<std::size_t>(n)] =
                    camkit::target{static_cast<std::size_t>(pred[n].item<std::int64_t>()), std::nullopt, camkit::reduction::sum};
        } else {
            if (!a.cls) fail("--target predicted on a segmentation output needs --class");
            const at::Tensor pred = C == 1 ? output.select(1, 0).gt(0).to(at::kLong) : output.argmax(1);
            const camkit::tensor<float> mask = to_host(pred.eq(*a.cls));
            for (auto& t : targets) t = camkit::target{static_cast<std::size_t>(*a.cls), mask, camkit::reduction::sum};
        }
    } else {  // mask-sum, mask-mean
        if (!segmentation)
            fail("--target " + a.target + " needs a segmentation output [N, C, *P], the model gives " + camkit::to_string(y));
        const camkit::tensor<float> mask = load_mask(a.mask);
        const camkit::shape_t spatial(y.begin() + 2, y.end());
        camkit::shape_t batched{y[0]};
        batched.insert(batched.end(), spatial.begin(), spatial.end());
        if (mask.shape != spatial && mask.shape != batched)
            fail("--mask " + a.mask + " has shape " + camkit::to_string(mask.shape) + " but the model output " +
                 camkit::to_string(y) + " needs " + camkit::to_string(spatial) + " or " + camkit::to_string(batched));
        const auto mode = a.target == "mask-mean" ? camkit::reduction::mean : camkit::reduction::sum;
        for (auto& t : targets) t = camkit::target{static_cast<std::size_t>(*a.cls), mask, mode};
    }
    return targets;
}


/// The PNG picture: heatmaps side by side, or the 2-D map overlaid on the input image.
camkit::rgb_image picture(const camkit::tensor<float>& maps, const std::optional<camkit::rgb_image>& image) {
    if (!image || maps.rank() != 3) return side_by_side(camkit::heatmaps(maps), 2);
    const camkit::tensor<float> resized = camkit::resize(maps, {image->height, image->width});
    camkit::tensor<float> one({image->height, image->width});
    std::copy_n(resized.values.begin(), one.size(), one.values.begin());
    return camkit::overlay(one, *image);
}

/// Runs the model and the method on `input`: the finished maps [N, *size] on `device`.
at::Tensor compute_map(const explain_args& a, torch::jit::Module& model, at::Tensor input, const camkit::shape_t& size,
                       const at::Device& device) {
    model.to(device);
    input = input.to(device);
    camkit::torch::scripted_layer layer(model, a.layer);  // unknown layer: lists the valid ones

    // A first forward, without gradients, gives the output shape to check --class and --mask against.
    at::Tensor output;
    {
        at::NoGradGuard no_grad;
        output = layer.forward(input).output;
    }
    if (output.dim() < 2 || output.dim() > 5 || output.size(0) != input.size(0))
        fail("the model output has shape " + camkit::to_string(camkit::torch::shape_of(output)) +
             "; camkit-torch needs [N, C] or [N, C, *P] with N = " + std::to_string(input.size(0)));
    const std::vector<camkit::target> targets = make_targets(a, output);

    camkit::options opt = a.opt;
    opt.size = size;
    at::Tensor map;
    if (a.method == "scorecam") {
        camkit::torch::score_cam_options sopt;
        sopt.batch_size = a.batch_size;
        map = camkit::torch::score_cam(model, a.layer, input, targets, opt, sopt).map;
    } else {
        // Gradients reach the layer even when the model's weights are frozen.
        const at::Tensor x = input.detach().requires_grad_(true);
        camkit::with_method(a.method, [&](auto type) {
            using M = typename decltype(type)::type;
            map = camkit::torch::explain<M>(layer, x, targets, opt).cam.map;
        });
    }

    return map;
}

int run_explain(const explain_args& a) {
    if (a.device == "cuda" && !torch::cuda::is_available())
        fail("--device cuda: this LibTorch build or machine has no CUDA device");
    const at::Device device(a.device == "cuda" ? at::kCUDA : at::kCPU);
    torch::jit::Module model = load_model(a.model);
    std::optional<camkit::rgb_image> image;
    at::Tensor input = load_input(a.input, image);

    // The tool's own checks, phrased in terms of its options; the library checks the rest.
    camkit::shape_t size(input.sizes().begin() + 2, input.sizes().end());
    if (!a.opt.size.empty()) {
        if (a.opt.size.size() != size.size())
            fail("--size has " + std::to_string(a.opt.size.size()) + " extents but the input " +
                 camkit::to_string(camkit::torch::shape_of(input)) + " has " + std::to_string(size.size()) +
                 " spatial axes");
        size = a.opt.size;
    }
    if (static_cast<std::size_t>(input.size(0)) * camkit::element_count(size) > (std::size_t{1} << 28))
        fail("--size " + camkit::to_string(size) + " is too large (at most 2^28 map values)");

    at::Tensor map;
    try {
        map = compute_map(a, model, input, size, device);
    } catch (const usage_error&) {
        throw;
    } catch (const camkit::error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const c10::Error& e) {
        // The model rejected the input (wrong channel count, size, dtype): bad input, not a crash.
        fail("the model failed on this input: " + model_error(e.what_without_backtrace()));
    } catch (const std::exception& e) {
        // The TorchScript interpreter rethrows the model's errors as std::runtime_error.
        fail("the model failed on this input: " + model_error(e.what()));
    }

    // Everything is computed and encoded before the first file is written.
    const camkit::tensor<float> host = to_host(map);
    xt::xarray<float> out = xt::xarray<float>::from_shape(host.shape);
    std::copy(host.values.begin(), host.values.end(), out.begin());
    std::optional<camkit::rgb_image> png;
    if (!a.png.empty()) png = picture(host, image);

    staged_outputs outputs;
    outputs.stage(a.out, [&](const std::string& p) { camkit::xtensor::save_npy(p, out); });
    if (png) outputs.stage(a.png, [&](const std::string& p) { camkit::xtensor::write_png(p, *png); });
    outputs.commit();

    std::cout << "camkit-torch: " << a.method << " of layer " << a.layer << ", map " << camkit::to_string(host.shape)
              << " -> " << a.out;
    if (png) std::cout << ", picture " << png->height << "x" << png->width << " -> " << a.png;
    std::cout << "\n";
    return 0;
}

int run_layers(const std::vector<std::string>& args) {
    std::string model;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--model" && i + 1 < args.size() && model.empty()) model = args[++i];
        else if (args[i].starts_with("--model=") && model.empty()) model = args[i].substr(8);
        else fail("usage: camkit-torch layers --model M.pt (unexpected '" + args[i] + "')");
    }
    if (model.empty()) fail("--model is required");
    const torch::jit::Module m = load_model(model);
    for (const std::string& name : camkit::torch::layer_names(m)) std::cout << name << "\n";
    return 0;
}

int run_methods() {
    camkit::for_each_method([](auto type) {
        using M = typename decltype(type)::type;
        std::string name(M::name);
        name.resize(std::max<std::size_t>(name.size() + 2, 22), ' ');
        std::cout << name << M::title << "\n";
    });
    std::string name = "scorecam";
    name.resize(22, ' ');
    std::cout << name << "Score-CAM (gradient-free: one forward pass per activation channel)\n";
    return 0;
}

int run(const std::vector<std::string>& args) {
    if (args.empty()) fail("no command given (see 'camkit-torch --help')");
    const std::string& command = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage_text;
        return 0;
    }
    if (command == "--version") {
        std::cout << "camkit-torch " << CAMKIT_VERSION_STRING << "\n";
        return 0;
    }
    if (command == "methods") {
        if (!rest.empty()) fail("'camkit-torch methods' takes no arguments");
        return run_methods();
    }
    if (command == "layers") return run_layers(rest);
    if (command == "explain") {
        for (const auto& r : rest)
            if (r == "--help" || r == "-h") {
                std::cout << explain_usage_text;
                return 0;
            }
        return run_explain(parse_explain_args(rest));
    }
    if (command.starts_with("-")) fail("unknown option '" + command + "' (see 'camkit-torch --help')");
    fail("unknown command '" + command + "' (commands: explain, layers, methods; see 'camkit-torch --help')");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const usage_error& e) {
        std::cerr << "camkit-torch: " << one_line(e.what()) << "\n";
    } catch (const camkit::error& e) {
        std::string what = e.what();
        if (what.starts_with("camkit: ")) what = what.substr(8);
        std::cerr << "camkit-torch: " << one_line(what) << "\n";
    } catch (const c10::Error& e) {
        // The model rejected the input (wrong channel count, size, dtype): bad input, not a crash.
        std::cerr << "camkit-torch: the model failed on this input: " << model_error(e.what_without_backtrace()) << "\n";
    } catch (const torch::jit::JITException& e) {
        std::cerr << "camkit-torch: the model failed on this input: " << model_error(e.what()) << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "camkit-torch: out of memory (the input or --size is too large for this machine)\n";
    } catch (const std::exception& e) {
        std::cerr << "camkit-torch: internal error: " << one_line(e.what()) << "\n";
        return 1;
    }
    return 2;
}
