// camkit: class-activation maps from saved activations and gradients (.npy) on the command line.
//
//   camkit cam --method NAME --activations A.npy --gradients G.npy --out MAP.npy [options]
//   camkit methods
//
// Exit status 0 on success, 2 on bad input (one line on stderr starting with "camkit: "), 1 on an
// internal error. Outputs are written only after everything has been computed and encoded: each
// goes to a staging file first, and the staging files are renamed into place at the very end, so a
// failure never leaves a partial or half-updated set of output files.
#include <camkit/camkit.hpp>
#include <camkit/colormap.hpp>
#include <camkit/overlay.hpp>
#include <camkit/xtensor/image.hpp>
#include <camkit/xtensor/npy.hpp>
#include <camkit/xtensor/xtensor.hpp>

#include "../common/cli_support.hpp"

#include <xtensor/xarray.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <random>
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
    "usage: camkit cam --method NAME --activations A.npy [--gradients G.npy] --out MAP.npy [options]\n"
    "       camkit methods\n"
    "       camkit --help | --version\n"
    "\n"
    "Computes class-activation maps from a layer's activations and the gradients of a target score\n"
    "with respect to them, both saved as .npy (float32 or float64, C order). Run 'camkit cam --help'\n"
    "for the options and 'camkit methods' for the method names.\n";

constexpr const char* cam_usage_text =
    "usage: camkit cam --method NAME --activations A.npy --gradients G.npy --out MAP.npy\n"
    "                  [--no-relu] [--normalize min_max|max|none] [--eps E]\n"
    "                  [--size L | --size HxW | --size DxHxW] [--renormalize]\n"
    "                  [--weights-out W.npy] [--png OUT.png [--image IMG.png] [--colormap jet|turbo|viridis]]\n"
    "\n"
    "  --method NAME         one of the names 'camkit methods' lists\n"
    "  --activations A.npy   activations [N, K, L], [N, K, H, W] or [N, K, D, H, W], float32 or float64\n"
    "  --gradients G.npy     gradients of the target score, same shape (not needed by eigencam)\n"
    "  --out MAP.npy         the finished maps, float32 [N, *size]\n"
    "  --no-relu             keep negative evidence (default: ReLU on the raw map)\n"
    "  --normalize MODE      per-sample normalization: min_max (default), max or none\n"
    "  --eps E               epsilon of min_max normalization (default 1e-7)\n"
    "  --size S              resize the maps (linear/bilinear/trilinear, half-pixel centres);\n"
    "                        one extent per spatial axis, e.g. 224x224 (default: the layer's size)\n"
    "  --renormalize         ReLU and min_max again after resizing (as pytorch-grad-cam does)\n"
    "  --weights-out W.npy   the channel weights, float32 [N, K] (methods that have them)\n"
    "  --png OUT.png         a picture of the maps: all N samples side by side in one PNG (left to\n"
    "                        right, 2 black pixels apart); 3-D maps as a grid of slices, 1-D maps as strips\n"
    "  --image IMG.png       overlay each 2-D map on this PNG/JPEG (the map is resized to the image\n"
    "                        bilinearly; heat and image blended half and half)\n"
    "  --colormap NAME       jet (default), turbo or viridis\n"
    "\n"
    "The arithmetic runs in float64 whatever the input type. Exit status: 0 success, 2 bad input.\n";


/// The parsed `camkit cam` command line.
struct cam_args {
    std::string method, activations, gradients, out, weights_out, png, image;
    camkit::options opt;
    camkit::colormap colormap = camkit::colormap::jet;
    bool colormap_given = false;
};

double parse_eps(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v < 0)
        fail("--eps must be a finite number >= 0, got '" + std::string(s) + "'");
    return v;
}


cam_args parse_cam_args(const std::vector<std::string>& args) {
    cam_args a;
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
        const bool is_flag = name == "--no-relu" || name == "--renormalize";
        if (is_flag && inline_value) fail(name + " takes no value");
        if (name == "--method") a.method = value_of(i, name, inline_value);
        else if (name == "--activations") a.activations = value_of(i, name, inline_value);
        else if (name == "--gradients") a.gradients = value_of(i, name, inline_value);
        else if (name == "--out") a.out = value_of(i, name, inline_value);
        else if (name == "--weights-out") a.weights_out = value_of(i, name, inline_value);
        else if (name == "--png") a.png = value_of(i, name, inline_value);
        else if (name == "--image") a.image = value_of(i, name, inline_value);
        else if (name == "--no-relu") a.opt.relu = false;
        else if (name == "--renormalize") a.opt.renormalize = true;
        else if (name == "--eps") a.opt.eps = parse_eps(value_of(i, name, inline_value));
        else if (name == "--size") a.opt.size = parse_size(value_of(i, name, inline_value));
        else if (name == "--normalize") {
            const std::string v = value_of(i, name, inline_value);
            if (v == "min_max") a.opt.normalize = camkit::normalization::min_max;
            else if (v == "max") a.opt.normalize = camkit::normalization::max;
            else if (v == "none") a.opt.normalize = camkit::normalization::none;
            else fail("--normalize must be min_max, max or none, got '" + v + "'");
        } else if (name == "--colormap") {
            const std::string v = value_of(i, name, inline_value);
            try {
                a.colormap = camkit::parse_colormap(v);
            } catch (const camkit::error&) {
                fail("--colormap must be jet, turbo or viridis, got '" + v + "'");
            }
            a.colormap_given = true;
        } else if (name.starts_with("-")) {
            fail("unknown option '" + name + "' (see 'camkit cam --help')");
        } else {
            fail("unexpected argument '" + name + "' (see 'camkit cam --help')");
        }
    }
    if (a.method.empty()) fail("--method is required (one of: " + camkit::method_names_joined() + ")");
    if (a.activations.empty()) fail("--activations is required");
    if (a.out.empty()) fail("--out is required");
    if (!a.image.empty() && a.png.empty()) fail("--image needs --png");
    if (a.colormap_given && a.png.empty()) fail("--colormap needs --png");
    // Distinct outputs: otherwise one output would silently replace another.
    const std::vector<std::string> outs = {a.out, a.weights_out, a.png};
    for (std::size_t i = 0; i < outs.size(); ++i)
        for (std::size_t j = i + 1; j < outs.size(); ++j)
            if (!outs[i].empty() && outs[i] == outs[j]) fail("two outputs are the same file '" + outs[i] + "'");
    return a;
}


/// Copies an xt::xarray into a camkit::tensor (the overlay functions take camkit tensors).
template <class T, class X>
camkit::tensor<T> to_tensor(const X& x) {
    camkit::tensor<T> t(camkit::shape_t(x.shape().begin(), x.shape().end()));
    std::copy(x.begin(), x.end(), t.values.begin());
    return t;
}


/// The PNG picture of maps [N, *S]: heatmaps, or overlays on `image` for 2-D maps.
camkit::rgb_image picture(const camkit::tensor<float>& maps, const cam_args& a) {
    if (a.image.empty()) return side_by_side(camkit::heatmaps(maps, a.colormap), 2);
    if (maps.rank() != 3)
        fail("--image needs 2-D maps, but the maps have shape " + camkit::to_string(maps.shape));
    const camkit::rgb_image image = camkit::xtensor::read_image(a.image);
    const camkit::tensor<float> resized = camkit::resize(maps, {image.height, image.width});
    std::vector<camkit::rgb_image> panels;
    const std::size_t per = image.height * image.width;
    for (std::size_t n = 0; n < maps.shape[0]; ++n) {
        camkit::tensor<float> one({image.height, image.width});
        std::copy_n(resized.values.begin() + static_cast<std::ptrdiff_t>(n * per), per, one.values.begin());
        panels.push_back(camkit::overlay(one, image, a.colormap));
    }
    return side_by_side(panels, 2);
}

int run_cam(const cam_args& a) {
    bool known = false;
    for (auto name : camkit::method_names()) known = known || name == a.method;
    if (!known) fail("unknown method '" + a.method + "' (choose one of: " + camkit::method_names_joined() + ")");

    const xt::xarray<double> A = camkit::xtensor::load_npy<double>(a.activations);
    std::optional<xt::xarray<double>> G;
    if (!a.gradients.empty()) G = camkit::xtensor::load_npy<double>(a.gradients);

    // The tool's own checks, phrased in terms of its options; the library checks the rest.
    const camkit::shape_t shape(A.shape().begin(), A.shape().end());
    if (shape.size() < 3 || shape.size() > 5)
        fail(a.activations + ": activations must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got shape " +
             camkit::to_string(shape));
    if (G && camkit::shape_t(G->shape().begin(), G->shape().end()) != shape)
        fail("gradients " + a.gradients + " have shape " +
             camkit::to_string(camkit::shape_t(G->shape().begin(), G->shape().end())) + " but activations " +
             a.activations + " have shape " + camkit::to_string(shape));
    if (!a.opt.size.empty() && a.opt.size.size() != shape.size() - 2)
        fail("--size has " + std::to_string(a.opt.size.size()) + " extents but the activations " +
             camkit::to_string(shape) + " have " + std::to_string(shape.size() - 2) + " spatial axes");
    if (!a.opt.size.empty() && shape[0] * camkit::element_count(a.opt.size) > (std::size_t{1} << 28))
        fail("--size " + camkit::to_string(a.opt.size) + " for " + std::to_string(shape[0]) +
             " samples is too large (at most 2^28 map values)");

    std::optional<camkit::explanation<camkit::xtensor::result_array<double>>> result;
    camkit::with_method(a.method, [&](auto type) {
        using M = typename decltype(type)::type;
        if constexpr (!camkit::needs_gradients_v<M>) {
            result.emplace(G ? camkit::explain<M>(A, *G, a.opt) : camkit::explain<M>(A, a.opt));
        } else {
            if (!G) fail("--gradients is required for method " + a.method + " (only eigencam works without)");
            result.emplace(camkit::explain<M>(A, *G, a.opt));
        }
    });
    if (!a.weights_out.empty() && !result->weights)
        fail("--weights-out: method " + a.method + " has no channel weights");

    // Everything is computed and encoded before the first file is written.
    const xt::xarray<float> map = xt::cast<float>(result->map);
    std::optional<xt::xarray<float>> weights;
    if (!a.weights_out.empty()) weights = xt::cast<float>(*result->weights);
    std::optional<camkit::rgb_image> png;
    if (!a.png.empty()) png = picture(to_tensor<float>(map), a);

    staged_outputs outputs;
    outputs.stage(a.out, [&](const std::string& p) { camkit::xtensor::save_npy(p, map); });
    if (weights) outputs.stage(a.weights_out, [&](const std::string& p) { camkit::xtensor::save_npy(p, *weights); });
    if (png) outputs.stage(a.png, [&](const std::string& p) { camkit::xtensor::write_png(p, *png); });
    outputs.commit();

    const camkit::shape_t out_shape(map.shape().begin(), map.shape().end());
    std::cout << "camkit: " << a.method << " map " << camkit::to_string(out_shape) << " -> " << a.out;
    if (weights) std::cout << ", weights -> " << a.weights_out;
    if (png) std::cout << ", picture " << png->height << "x" << png->width << " -> " << a.png;
    std::cout << "\n";
    return 0;
}

int run_methods() {
    camkit::for_each_method([](auto type) {
        using M = typename decltype(type)::type;
        std::string name(M::name);
        name.resize(std::max<std::size_t>(name.size() + 2, 22), ' ');
        std::cout << name << M::title;
        if constexpr (!camkit::needs_gradients_v<M>) std::cout << " (no gradients needed)";
        std::cout << "\n";
    });
    return 0;
}

int run(const std::vector<std::string>& args) {
    if (args.empty()) fail("no command given (see 'camkit --help')");
    const std::string& command = args[0];
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage_text;
        return 0;
    }
    if (command == "--version") {
        std::cout << "camkit " << CAMKIT_VERSION_STRING << "\n";
        return 0;
    }
    if (command == "methods") {
        if (args.size() > 1) fail("'camkit methods' takes no arguments");
        return run_methods();
    }
    if (command == "cam") {
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        for (const auto& r : rest)
            if (r == "--help" || r == "-h") {
                std::cout << cam_usage_text;
                return 0;
            }
        return run_cam(parse_cam_args(rest));
    }
    if (command.starts_with("-")) fail("unknown option '" + command + "' (see 'camkit --help')");
    fail("unknown command '" + command + "' (commands: cam, methods; see 'camkit --help')");
}


}  // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const usage_error& e) {
        std::cerr << "camkit: " << one_line(e.what()) << "\n";
    } catch (const camkit::error& e) {
        std::string what = e.what();
        if (!what.starts_with("camkit: ")) what = "camkit: " + what;
        std::cerr << one_line(what) << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "camkit: out of memory (the input or --size is too large for this machine)\n";
    } catch (const std::exception& e) {
        std::cerr << "camkit: internal error: " << one_line(e.what()) << "\n";
        return 1;
    }
    return 2;
}
