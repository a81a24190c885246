// `camkit cam`: maps from saved activations and gradients (.npy) to .npy and PNG.
#include "../../common/app.hpp"
#include "../../common/picture.hpp"
#include "../../common/pipeline_options.hpp"

#include <camkit/camkit.hpp>
#include <camkit/methods/saliency_tubes.hpp>
#include <camkit/colormap.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/overlay.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using camkit_cli::fail;

constexpr const char* help =
    "usage: camkit cam --method NAME --activations A.npy --gradients G.npy --out MAP.npy [--channels-last]\n"
    "       camkit cam --method cam --activations A.npy --fc-weights W.npy [--class C ...] --out MAP.npy\n"
    "                  [--relu | --no-relu] [--normalize min_max|max|none] [--eps E]\n"
    "                  [--size L | --size HxW | --size DxHxW] [--renormalize]\n"
    "                  [--weights-out W.npy] [--png OUT.png [--image IMG.png] [--colormap jet|turbo|viridis]]\n"
    "\n"
    "  --method NAME         one of the names 'camkit methods' lists, or cam (needs --fc-weights)\n"
    "  --activations A.npy   activations [N, K, L], [N, K, H, W] or [N, K, D, H, W], float32 or float64\n"
    "                        (integer arrays are read as their values)\n"
    "  --gradients G.npy     gradients of the target score, same shape (not needed by eigencam)\n"
    "  --channels-last       the arrays are [N, L, K], [N, H, W, K] or [N, D, H, W, K] (Keras and\n"
    "                        TensorFlow's layout): channels last, moved to the front on reading\n"
    "  --out MAP.npy         the finished maps, float32 [N, *size]\n"
    "  --fc-weights W.npy    cam only: the weight [classes, K] of the linear layer after global average\n"
    "                        pooling; raw = sum_k W[c, k] A[k] (CAM; on [N, K, D, H, W]: Saliency Tubes)\n"
    "  --class C             cam only: the class of a sample, repeated once per sample in order (one\n"
    "                        --class for a batch of one); without it each sample's top class, the\n"
    "                        largest GAP(A)·Wᵀ (the head's bias is not known: give --class if it matters)\n"
    "  --size S              resize the maps (linear/bilinear/trilinear, half-pixel centres);\n"
    "                        one extent per spatial axis, e.g. 224x224 (default: the layer's size)\n"
    CAMKIT_PIPELINE_HELP("    ")
    "  --weights-out W.npy   the channel weights, float32 [N, K] (methods that have them)\n"
    "  --png OUT.png         a picture of the maps: all N samples side by side in one PNG (left to\n"
    "                        right, 2 black pixels apart); 3-D maps as a grid of their slices along D\n"
    "                        (row by row, each numbered from 0 in its corner where the slices have\n"
    "                        room for twice the number's size: --size enlarges them), 1-D maps as strips;\n"
    "                        maps beyond [0, 1] (--no-relu, --normalize none) min-max scaled for it\n"
    "  --image IMG.png       overlay each 2-D map on this PNG/JPEG (the map is resized to the image\n"
    "                        bilinearly; heat and image blended half and half)\n"
    "  --colormap NAME       jet (default), turbo or viridis\n"
    "\n"
    "Inputs must be regular files; each array may hold at most 2^28 values, and the maps (N times\n"
    "--size, or times the --image size) at most 2^28 values. Outputs are checked before any work\n"
    "(none may be an input or another output) and appear together at the end, or none does. A map\n"
    "that is not finite is an error. The arithmetic runs in float64 whatever the input type.\n"
    "Exit status: 0 success, 2 bad input, 1 internal error.\n";

/// The parsed `camkit cam` command line.
struct cam_args {
    std::string method, activations, gradients, out, weights_out, png, image, fc_weights;
    std::vector<std::size_t> classes;  ///< --class, once per sample (cam only)
    camkit::options opt;
    camkit::colormap colormap = camkit::colormap::jet;
    bool colormap_given = false;
    bool channels_last = false;  ///< --channels-last: A and G are [N, *S, K]
};

cam_args parse_cam_args(const std::vector<std::string>& all_args) {
    cam_args a;
    std::vector<std::string> classes;  // --class is the one option that repeats
    const std::vector<std::string> args = camkit_cli::take_repeated(all_args, {{"--class", &classes}});
    for (const std::string& c : classes)
        a.classes.push_back(static_cast<std::size_t>(camkit_cli::parse_count(c, "--class", 0)));
    camkit_cli::pipeline_flags pipeline;
    camkit_cli::option_parser parser("camkit cam");
    camkit_cli::pipeline_options(parser, a.opt, pipeline)
        .value("--method", a.method)
        .value("--activations", a.activations)
        .value("--gradients", a.gradients)
        .value("--out", a.out)
        .value("--weights-out", a.weights_out)
        .value("--png", a.png)
        .value("--image", a.image)
        .value("--fc-weights", a.fc_weights)
        .flag("--channels-last", a.channels_last)
        .value("--size", [&](const std::string& v) { a.opt.size = camkit_cli::parse_size(v); })
        .value("--colormap",
               [&](const std::string& v) {
                   try {
                       a.colormap = camkit::parse_colormap(v);
                   } catch (const camkit::error&) {
                       fail("--colormap must be jet, turbo or viridis, got '" + v + "'");
                   }
                   a.colormap_given = true;
               })
        .parse(args);
    camkit_cli::finish_pipeline(a.method, a.opt, pipeline);
    if (a.method.empty()) fail("--method is required (one of: " + camkit::method_names_joined() + " cam)");
    bool known = a.method == "cam";
    for (auto name : camkit::method_names()) known = known || name == a.method;
    if (!known) fail("unknown method '" + a.method + "' (choose one of: " + camkit::method_names_joined() + " cam)");
    if (a.method == "cam") {
        if (a.fc_weights.empty()) fail("--method cam needs --fc-weights (the linear head's weight [classes, K])");
        if (!a.gradients.empty()) fail("--method cam uses no --gradients (it weights by --fc-weights)");
    } else {
        if (!a.fc_weights.empty()) fail("--fc-weights is for --method cam only");
        if (!a.classes.empty()) fail("--class is for --method cam only (gradients already carry the target)");
    }
    if (a.activations.empty()) fail("--activations is required");
    if (a.out.empty()) fail("--out is required");
    camkit_cli::check_output_name("--out", a.out, false);
    camkit_cli::check_output_name("--weights-out", a.weights_out, false);
    camkit_cli::check_output_name("--png", a.png, true);
    if (!a.image.empty() && a.png.empty()) fail("--image needs --png");
    if (a.colormap_given && a.png.empty()) fail("--colormap needs --png");
    if (!a.weights_out.empty() && a.method != "cam")
        camkit::with_method(a.method, [&](auto type) {
            using M = typename decltype(type)::type;
            if constexpr (M::form != camkit::method_form::channel_weights)
                fail("--weights-out: method " + a.method + " has no channel weights (its map is no weighted sum of channels)");
        });
    return a;
}

/// [N, *S, K] -> [N, K, *S] (a shape with fewer than 3 axes is left as it is: the checks name it).
camkit::shape_t channels_first(camkit::shape_t s) {
    if (s.size() >= 3) std::rotate(s.begin() + 1, s.end() - 1, s.end());
    return s;
}

/// True when [N, K, H, W] looks like Keras' [N, H, W, K]: "K" equals the first spatial extent
/// and the last one differs (a square feature map with its channels last); likewise a cubic
/// volume [N, D, H, W, K] read as [N, K, D, H, W]: "K" and the first two spatial extents equal,
/// the last differs.
bool looks_channels_last(const camkit::shape_t& s) {
    if (s.size() == 4) return s[1] >= 2 && s[1] == s[2] && s[3] != s[2];
    return s.size() == 5 && s[1] >= 2 && s[1] == s[2] && s[2] == s[3] && s[4] != s[3];
}

/// True when [N, K, H, W] has N ≥ 2 and K = H = W ≥ 8: as likely one cubic volume's [K, D, H, W]
/// without its batch axis (a 3-D network's layer of K channels, saved per sample) as a batch of N
/// 2-D layers.
bool looks_unbatched_volume(const camkit::shape_t& s) {
    return s.size() == 4 && s[0] >= 2 && s[1] >= 8 && s[1] == s[2] && s[2] == s[3];
}

/// The PNG picture of maps [N, *S]: heatmaps, or overlays on `image` for 2-D maps.
camkit::rgb_image picture(const camkit::tensor<float>& maps, const cam_args& a) {
    if (a.image.empty()) return camkit_cli::maps_picture(maps, a.colormap);
    const camkit::rgb_image image = camkit::io::read_image(a.image);
    const camkit::tensor<float> resized = camkit::resize(maps, {image.height, image.width});
    std::vector<camkit::rgb_image> panels;
    const std::size_t per = image.height * image.width;
    for (std::size_t n = 0; n < maps.shape[0]; ++n) {
        camkit::tensor<float> one({image.height, image.width});
        std::copy_n(resized.values.begin() + static_cast<std::ptrdiff_t>(n * per), per, one.values.begin());
        panels.push_back(camkit::overlay(one, image, a.colormap));
    }
    return camkit_cli::side_by_side(panels, 2);
}

/// Fails, naming the cause, when the raw map, the weights or the finished map is not finite
/// although the inputs are (checked as they are read): a float64 overflow of the products, or a
/// normalization that divides by zero.
void check_finite(const camkit::explanation<camkit::tensor<double>>& e, const cam_args& a) {
    using camkit_cli::first_non_finite;
    const auto where = [](const camkit::tensor<double>& t, std::size_t i) {
        return "sample " + std::to_string(i / (t.size() / t.shape[0]));
    };
    if (e.weights)
        if (auto i = first_non_finite<double>(e.weights->values))
            fail("the channel weights of " + where(*e.weights, *i) +
                 " are not finite: the activations and gradients are finite but their products overflow float64; "
                 "rescale the inputs");
    if (auto i = first_non_finite<double>(e.raw.values))
        fail("the raw map of " + where(e.raw, *i) +
             " is not finite: the activations and gradients are finite but their products overflow float64; "
             "rescale the inputs");
    if (auto i = first_non_finite<double>(e.map.values)) {
        if (a.opt.eps == 0 && a.opt.normalize == camkit::normalization::min_max)
            fail("the map of " + where(e.map, *i) +
                 " is not finite: min_max normalization of a constant map divides by zero with --eps 0 "
                 "(use --eps > 0)");
        fail("the map of " + where(e.map, *i) +
             " is not finite after min_max normalization: its range (max - min) overflows float64");
    }
    for (double v : e.map.values)
        if (std::abs(v) > std::numeric_limits<float>::max())
            fail("the map holds values beyond float32's range (" + std::to_string(v) +
                 "); use --normalize min_max or max");
}

int run_cam(const std::vector<std::string>& args) {
    const cam_args a = parse_cam_args(args);

    // Every file is checked before any work: inputs are regular files, outputs are neither inputs
    // nor each other and can be written.
    camkit_cli::file_set files({{"--activations", a.activations},
                                {"--gradients", a.gradients},
                                {"--fc-weights", a.fc_weights},
                                {"--image", a.image}});
    const std::size_t out_file = files.output("--out", a.out);
    const auto weights_file = files.optional_output("--weights-out", a.weights_out);
    const auto png_file = files.optional_output("--png", a.png);

    // The headers bound the memory before any data is read. With --channels-last every check
    // below speaks of the arrays as camkit reads them, [N, K, *S].
    const camkit::shape_t file_shape = camkit::io::read_npy_header(a.activations).shape;
    const camkit::shape_t shape = a.channels_last ? channels_first(file_shape) : file_shape;
    // The activations' shape in messages: as in the file, and as read where --channels-last moves it.
    const std::string shape_text = camkit::to_string(file_shape) + (a.channels_last ? " (read as " + camkit::to_string(shape) + ")" : "");
    camkit_cli::check_values(camkit::element_count(shape), a.activations + ": activations " + camkit::to_string(shape));
    if (shape.size() < 3 || shape.size() > 5)
        fail(a.activations + (a.channels_last ? ": activations (--channels-last) must be [N, L, K], [N, H, W, K] or [N, D, H, W, K], got shape "
                                              : ": activations must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got shape ") +
             camkit::to_string(file_shape));
    if (std::find(shape.begin(), shape.end(), 0) != shape.end())
        fail(a.activations + ": activations have an empty axis: shape " + shape_text);
    if (!a.gradients.empty()) {
        const camkit::shape_t g = camkit::io::read_npy_header(a.gradients).shape;
        if (g != file_shape)
            fail("gradients " + a.gradients + " have shape " + camkit::to_string(g) + " but activations " +
                 a.activations + " have shape " + camkit::to_string(file_shape));
    }
    if (!a.opt.size.empty() && a.opt.size.size() != shape.size() - 2)
        fail("--size has " + std::to_string(a.opt.size.size()) + " extents but the activations " +
             shape_text + " have " + std::to_string(shape.size() - 2) + " spatial axes");
    if (!a.opt.size.empty())
        camkit_cli::check_values(camkit_cli::value_count(shape[0], a.opt.size),
                                 "--size " + camkit::to_string(a.opt.size) + " for " + std::to_string(shape[0]) + " samples");
    if (!a.image.empty()) {
        if (shape.size() != 4)
            fail("--image needs 2-D maps, but the activations " + shape_text + " give " +
                 std::to_string(shape.size() - 2) + "-D maps");
        const camkit::io::image_info info = camkit::io::read_image_info(a.image);
        camkit_cli::check_values(camkit_cli::value_count(shape[0], {info.height, info.width}),
                                 "--image " + a.image + " of " + std::to_string(info.height) + "x" +
                                     std::to_string(info.width) + " for " + std::to_string(shape[0]) + " samples");
        // (overlays of at most 2^28 values always fit a PNG)
    } else if (!a.png.empty()) {
        // 1-D strips 16 pixels high, or tiny maps with their 2-pixel gaps, may not
        camkit::shape_t maps = a.opt.size.empty() ? camkit::shape_t(shape.begin() + 2, shape.end()) : a.opt.size;
        maps.insert(maps.begin(), shape[0]);
        camkit_cli::check_picture_size(camkit_cli::maps_picture_size(maps), "the maps " + camkit::to_string(maps),
                                       "pass fewer samples, a smaller --size, or no --png");
    }
    if (a.method == "cam") {
        const camkit::shape_t w = camkit::io::read_npy_header(a.fc_weights).shape;
        if (w.size() != 2 || w[1] != shape[1] || w[0] == 0)
            fail("--fc-weights " + a.fc_weights + " must be [classes, K] with K = " + std::to_string(shape[1]) +
                 " (the channels of the activations " + shape_text + "), got shape " + camkit::to_string(w));
        if (!a.classes.empty() && a.classes.size() != shape[0])
            fail("got " + std::to_string(a.classes.size()) + " --class values but the activations hold " +
                 std::to_string(shape[0]) + " samples (one --class per sample, or none for the top classes)");
        for (std::size_t c : a.classes)
            if (c >= w[0])
                fail("--class " + std::to_string(c) + " is out of range for " + std::to_string(w[0]) +
                     " classes in --fc-weights " + a.fc_weights);
    }
    camkit::with_method(a.method, [&](auto type) {
        if (camkit::needs_gradients_v<typename decltype(type)::type> && a.gradients.empty())
            fail("--gradients is required for method " + a.method + " (only eigencam works without)");
    });

    if (!a.channels_last && looks_channels_last(shape)) {
        const bool volume = shape.size() == 5;
        std::cerr << "camkit cam: note: " << a.activations << " " << camkit::to_string(shape) << " is read as "
                  << (volume ? "[N, K, D, H, W]" : "[N, K, H, W]") << " with K = " << shape[1]
                  << " channels; Keras and TensorFlow arrays are " << (volume ? "[N, D, H, W, K]" : "[N, H, W, K]")
                  << ": if so, pass --channels-last\n";
    }

    if (!a.channels_last && looks_unbatched_volume(shape))
        std::cerr << "camkit cam: note: " << a.activations << " " << camkit::to_string(shape) << " is read as [N, K, H, W]: "
                  << shape[0] << " samples of " << shape[1] << " channels of " << shape[2] << "x" << shape[3]
                  << " maps; if it is one volume [K, D, H, W], save it with a batch axis, [1, K, D, H, W] "
                  << "(np.expand_dims(a, 0))\n";

    // Non-finite inputs are named by their file here (the library names the sample and channel).
    const auto read_finite = [](const std::string& path, const char* what) { return camkit_cli::read_finite_npy(path, what, "hold"); };
    const camkit::tensor<double> A_values = read_finite(a.activations, "activations");
    std::optional<camkit::tensor<double>> G_values;
    if (!a.gradients.empty()) G_values = read_finite(a.gradients, "gradients");
    // The arrays as [N, K, *S] views of their own memory: with --channels-last, [N, *S, K] memory
    // read in place (camkit::channels_last_strides), not copied into channels-first order.
    const auto layer_of = [&](const camkit::tensor<double>& t) {
        const camkit::shape_t s = a.channels_last ? channels_first(t.shape) : t.shape;
        return camkit::host_view<const double>{
            t.values.data(), s, a.channels_last ? camkit::channels_last_strides(s) : camkit::row_major_strides(s)};
    };
    const camkit::host_view<const double> A = layer_of(A_values);
    std::optional<camkit::host_view<const double>> G;
    if (G_values) G = layer_of(*G_values);

    // The inputs were checked finite as they were read (naming their files), and check_finite
    // below names the cause of a non-finite result more closely than the library's check can.
    camkit::options opt = a.opt;
    opt.check_finite = false;
    std::optional<camkit::explanation<camkit::tensor<double>>> result;
    std::vector<std::size_t> classes = a.classes;
    if (a.method == "cam") {
        const camkit::tensor<double> W = read_finite(a.fc_weights, "head weights");
        if (classes.empty()) classes = camkit::top_classes(A, W);
        result.emplace(camkit::cam(A, W, classes, opt));
    }
    camkit::with_method(a.method, [&](auto type) {
        using M = typename decltype(type)::type;
        if constexpr (!camkit::needs_gradients_v<M>)
            result.emplace(G ? camkit::explain<M>(A, *G, opt) : camkit::explain<M>(A, opt));
        else
            result.emplace(camkit::explain<M>(A, *G, opt));
    });
    if (weights_file && !result->weights) fail("--weights-out: method " + a.method + " has no channel weights");
    check_finite(*result, a);

    // Everything is computed and encoded before the outputs are committed together.
    const auto to_float = [](const camkit::tensor<double>& t) {
        return camkit::tensor<float>(t.shape, std::vector<float>(t.values.begin(), t.values.end()));
    };
    const camkit::tensor<float> map = to_float(result->map);
    files.write_npy(out_file, map);
    if (weights_file) files.write_npy(*weights_file, to_float(*result->weights));
    std::string scaled;  // a note when the picture shows the maps min-max scaled
    std::string picture_note = camkit_cli::write_picture(files, png_file, a.png, [&] {
        return picture(camkit_cli::picture_values(map, scaled), a);
    });
    picture_note += scaled;
    files.commit();

    std::cout << "camkit: " << a.method << (classes.empty() ? "" : " (classes " + camkit::to_string(classes) + ")")
              << " map " << camkit::to_string(map.shape) << " -> " << a.out
              << (weights_file ? ", weights -> " + a.weights_out : "") << picture_note << "\n";
    return 0;
}

const camkit_cli::registration cam{
    {"cam", "class-activation maps from saved activations and gradients (.npy)", help, run_cam}};

}  // namespace
