// `camkit-torch explain`: maps of a TorchScript model's named layer for an input (.npy or image).
#include "../../common/app.hpp"
#include "../../common/picture.hpp"
#include "../../common/pipeline_options.hpp"
#include "../analyze/progress.hpp"
#include "../command_support.hpp"
#include "../torch_support.hpp"

#include <camkit/camkit.hpp>  // the method registry, targets and mask builders, post-processing
#include <camkit/io/npy.hpp>
#include <camkit/regions/components.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/torch.hpp>

#include <torch/cuda.h>
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
#include <camkit/torch/exported.hpp>  // --model M.pt2 (LibTorch 2.6+)
#endif

#include <algorithm>
#include <exception>
#include <new>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using camkit_cli::fail;
using camkit_torch_tool::check_declared_size;
using camkit_torch_tool::is_image_path;
using camkit_torch_tool::known_method;
using camkit_torch_tool::read_floats;
using camkit_torch_tool::to_host;

constexpr const char* help =
    "usage: camkit-torch explain --model M.pt --layer NAME --input X.npy|IMG.png --out MAP.npy\n"
    "           [--method NAME] [--target class|mask-sum|mask-mean|predicted|whole-image] [--class C]\n"
    "           [--target largest-component|smallest-component|component-at|point --class C [--at Y,X[,Z]]]\n"
    "           [--target softmax --class C [--mask M]] [--method cam --head PARAM [--class C]]\n"
    "           [--mask MASK.npy|MASK.png] [--size HxW|DxHxW] [--no-relu|--relu] [--normalize min_max|max|none]\n"
    "           [--eps E] [--renormalize] [--device cpu|cuda]\n"
    "           [--batch-size B] [--png OUT.png] [--model-output KEY|INDEX]\n"
    "           [--resize HxW] [--mean a,b,c --std a,b,c] [--gray]   (image inputs)\n"
    "\n"
    "  --model M.pt      a TorchScript file; it is put in eval mode; or M.pt2, a package of\n"
    "                    tools/export_cam.py (AOTInductor, LibTorch 2.6+: docs/exported.md), which\n"
    "                    records its layers and takes inputs of its export shape, any batch size\n"
    "  --layer NAME      dotted path of the layer to explain ('camkit-torch layers' lists them);\n"
    "                    optional for a .pt2 of one layer (else it names one the package records);\n"
    "                    auto: the last layer in forward order whose output keeps the input's rank\n"
    "                    with a spatial extent above 1 and reaches the model output (a classifier's\n"
    "                    last convolutional stage; 'camkit-torch layers --input-shape' names it);\n"
    "                    features: with a model scripted with methods features(x) and head(f)\n"
    "                    (@torch.jit.export; forward = head(features(x))), the output of features:\n"
    "                    the features/head fallback for a layer that cannot be recorded (called\n"
    "                    twice, in a loop, through an interface); or export a package (.pt2)\n"
    "  --input X         .npy [N, C, *S] (1 to 3 spatial axes), used as is: float32/float64, or\n"
    "                    integers (int16/uint16 volumes, uint8, int32, int64) as their values, unscaled;\n"
    "                    or a PNG/JPEG, read as [1, 3, H, W] RGB in [0, 1], then as --gray, --resize,\n"
    "                    --mean/--std say; cast to the model's floating-point type (float64, half)\n"
    "  --resize HxW      an image is resized (bilinear) to HxW for the model; the maps stay at the image's\n"
    "                    size (unless --size)\n"
    "  --mean, --std     per-channel normalization of an image in [0, 1]: (x - mean) / std, e.g. ImageNet's\n"
    "                    --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\n"
    "  --gray            an image as one luminance channel [1, 1, H, W] instead of RGB\n"
    "  --out MAP.npy     the finished maps, float32 [N, *size]\n"
    "  --method NAME     one of 'camkit-torch methods' (default gradcam); scorecam is gradient-free;\n"
    "                    cam is CAM (Zhou et al.) from a global-average-pooling + linear head: the maps\n"
    "                    are Σ_k W[C, k]·A[k] of the layer's activations A, no gradients (needs --head);\n"
    "                    eigencam is one forward pass and explains no target (--target, --class unused)\n"
    "  --head PARAM      with --method cam: the head's weight [classes, K] by its parameter path\n"
    "                    (e.g. fc.weight); --class C, or each sample's predicted class without it\n"
    "  --target T        what the gradients are of (score per sample):\n"
    "                      class        output[n, C] of a classifier, or Σ_p output[n, C, p] of a\n"
    "                                   segmentation (needs --class)\n"
    "                      mask-sum     Σ_p M[p]·output[n, C, p] (Seg-Grad-CAM; needs --class, --mask)\n"
    "                      mask-mean    the same divided by the mask's nonzero count\n"
    "                      predicted    classifier: the predicted class of each sample; segmentation:\n"
    "                                   mask-sum over the pixels predicted as --class C\n"
    "                      whole-image  Σ_p output[n, C, p] of a segmentation (needs --class)\n"
    "                      largest-component, smallest-component\n"
    "                                   mask-sum over one connected component (8-connected in 2-D,\n"
    "                                   26 in 3-D) of each sample's region predicted as --class C, the\n"
    "                                   largest or smallest (the first in row-major order on ties)\n"
    "                      component-at mask-sum over the component of that region holding --at\n"
    "                                   (a sample whose region misses --at gets score 0 and a zero map)\n"
    "                      point        output[n, C] at the output position --at (a one-pixel mask)\n"
    "                      softmax      the probability of --class C: softmax over the classes (sigmoid\n"
    "                                   of a one-channel output); for a segmentation its mean over\n"
    "                                   --mask, or over the whole image without one\n"
    "                    default: mask-sum with --mask, class with --class, predicted otherwise\n"
    "  --class C         the class index, or one per sample: C1,C2,...,CN\n"
    "  --at Y,X[,Z]      an output position: row,column of a 2-D output [H, W]; for a 3-D output\n"
    "                    [D, H, W] row,column,depth (Z indexes D); for a 1-D output [L] one coordinate\n"
    "  --mask M          [*P] or [N, *P] .npy (real-valued weights), or a PNG/JPEG (pixels brighter than\n"
    "                    half are 1, the rest 0) of the output's spatial size\n"
    "  --size HxW        size of the maps (bilinear, half-pixel centres; L for 1-D, DxHxW trilinear for\n"
    "                    volumes); default: the input's size\n"
    CAMKIT_PIPELINE_HELP("")
    "  --device D        cpu (default) or cuda\n"
    "  --batch-size B    masked inputs per forward pass for scorecam (default 16)\n"
    "  --png OUT.png     heatmaps of the maps side by side, a volume as a grid of its slices along D (row\n"
    "                    by row, each numbered from 0 in its corner where the slices have room for twice\n"
    "                    the number's size); overlaid on the input when it is an image, and on a .npy\n"
    "                    input's first channel in gray (min-max scaled per sample) when the maps are\n"
    "                    2-D or 3-D at the input's size (no --size, or the input's own)\n"
    "  --model-output K  when the model's forward returns several outputs: the one to explain, a dict's\n"
    "                    key (out for torchvision's segmentation models) or a tuple's index (0, 1, ...);\n"
    "                    eigencam, which reads the layer alone, needs none\n"
    "\n"
    "Inputs must be regular files; an input or mask array may hold at most 2^28 values, and the maps\n"
    "(N times --size) at most 2^28 values. Outputs are checked before any work (none may be an input or\n"
    "the other output) and appear together at the end, or none does. A map that is not finite is an error.\n"
    "On success it prints what it wrote, then per sample the class its map explains and the target's\n"
    "score on the input (the logit, masked sum or probability --target gives; the class alone for cam,\n"
    "nothing for eigencam, which explains no target): '  sample 0: class 243, score 15.2'.\n"
    "Exit status: 0 success, 2 bad input (one line on stderr), 1 internal error.\n";

/// The parsed `camkit-torch explain` command line.
struct explain_args {
    std::string model, layer, input, out, png, mask, method = "gradcam", target, device = "cpu", head, model_output;
    std::optional<std::int64_t> cls;     ///< --class's first value (whether one was given)
    std::vector<std::size_t> classes;    ///< --class C, or C1,...,CN: one class per sample
    camkit::shape_t at;  ///< --at as given: Y, X[, Z]
    camkit_torch_tool::image_prep prep;  ///< --gray, --resize, --mean, --std (image inputs)
    std::int64_t batch_size = 16;
    camkit::options opt;
};

using camkit_torch_tool::is_package_path;  // M.pt2: explained by compute_exported_map

explain_args parse_explain_args(const std::vector<std::string>& args) {
    explain_args a;
    camkit_cli::pipeline_flags pipeline;
    camkit_cli::option_parser parser("camkit-torch explain");
    camkit_cli::pipeline_options(parser, a.opt, pipeline)
        .value("--model", a.model)
        .value("--layer", a.layer)
        .value("--input", a.input)
        .value("--out", a.out)
        .value("--png", a.png)
        .value("--mask", a.mask)
        .value("--method", a.method)
        .value("--target", a.target)
        .value("--head", a.head)
        .value("--device", a.device)
        .value("--model-output", a.model_output)
        .value("--class",
               [&](const std::string& v) {
                   a.classes.clear();
                   for (const std::string_view part : camkit_cli::split(v, ','))
                       a.classes.push_back(static_cast<std::size_t>(camkit_cli::parse_count(std::string(part), "--class", 0)));
                   a.cls = static_cast<std::int64_t>(a.classes.front());
               })
        .value("--at", [&](const std::string& v) { a.at = camkit_torch_tool::parse_at(v); })
        .value("--batch-size", [&](const std::string& v) { a.batch_size = camkit_cli::parse_count(v, "--batch-size", 1); })
        .value("--size", [&](const std::string& v) { a.opt.size = camkit_cli::parse_size(v); })
        .value("--resize", [&](const std::string& v) { a.prep.resize = camkit_cli::parse_size(v); })
        .value("--mean", [&](const std::string& v) { a.prep.mean = camkit_torch_tool::parse_numbers(v, "--mean"); })
        .value("--std", [&](const std::string& v) { a.prep.std = camkit_torch_tool::parse_numbers(v, "--std"); })
        .flag("--gray", a.prep.gray)
        .parse(args);
    camkit_cli::finish_pipeline(a.method, a.opt, pipeline);
    if (a.model.empty()) fail("--model is required");
    if (a.layer.empty() && !is_package_path(a.model))
        fail("--layer is required (see 'camkit-torch layers --model " + a.model + "'), or --layer auto");
    if (!a.model_output.empty() && is_package_path(a.model))
        fail("--model-output goes with a TorchScript model; a .pt2 package has the one output it was exported at "
             "(export_cam.py --model-output)");
    if (a.input.empty()) fail("--input is required");
    if (a.out.empty()) fail("--out is required");
    camkit_cli::check_output_name("--out", a.out, false);
    camkit_cli::check_output_name("--png", a.png, true);
    if (!is_image_path(a.input) && (a.prep.gray || !a.prep.resize.empty() || !a.prep.mean.empty() || !a.prep.std.empty()))
        fail("--gray, --resize, --mean and --std apply to an image --input; a .npy input is used as it is");
    a.prep.check();
    if (!known_method(a.method))
        fail("unknown method '" + a.method + "' (choose one of: " + camkit::method_names_joined() + " scorecam cam)");
    if (a.method == "cam") {
        if (a.head.empty()) fail("--method cam needs --head PARAM, the head's weight by its parameter path (e.g. fc.weight)");
        if (!a.target.empty() || !a.mask.empty() || !a.at.empty())
            fail("--method cam takes no --target, --mask or --at: it explains --class C, or each sample's predicted class");
        if (a.device != "cpu" && a.device != "cuda") fail("--device must be cpu or cuda, got '" + a.device + "'");
        return a;
    }
    if (!a.head.empty()) fail("--head goes with --method cam, not " + a.method);
    if (a.target.empty()) a.target = !a.mask.empty() ? "mask-sum" : a.cls ? "class" : "predicted";
    const std::vector<std::string> targets{"class",       "mask-sum",          "mask-mean",          "predicted",
                                           "whole-image", "largest-component", "smallest-component", "component-at",
                                           "point",       "softmax"};
    if (std::find(targets.begin(), targets.end(), a.target) == targets.end())
        fail("--target must be class, mask-sum, mask-mean, predicted, whole-image, largest-component, "
             "smallest-component, component-at, point or softmax, got '" + a.target + "'");
    const bool region = camkit_torch_tool::is_region_target(a.target);
    const bool positioned = a.target == "component-at" || a.target == "point";
    if (positioned && a.at.empty()) fail("--target " + a.target + " needs --at Y,X[,Z]");
    if (!positioned && !a.at.empty()) fail("--at goes with --target component-at or point, not " + a.target);
    if (region && !a.cls) fail("--target " + a.target + " needs --class");
    const bool masked = a.target == "mask-sum" || a.target == "mask-mean";
    if (masked && a.mask.empty()) fail("--target " + a.target + " needs --mask");
    if (!masked && a.target != "softmax" && !a.mask.empty())
        fail("--mask goes with --target mask-sum, mask-mean or softmax, not " + a.target);
    if ((masked || a.target == "class" || a.target == "whole-image" || a.target == "softmax") && !a.cls)
        fail("--target " + a.target + " needs --class");
    if (a.device != "cpu" && a.device != "cuda") fail("--device must be cpu or cuda, got '" + a.device + "'");
    return a;
}

/// The model input [N, C, *S]: a .npy as is, or an image as [1, C, H, W] as `prep` makes it.
at::Tensor load_input(const std::string& path, const camkit_torch_tool::image_prep& prep, std::optional<camkit::rgb_image>& image) {
    if (is_image_path(path)) {
        image = camkit::io::read_image(path);
        const camkit::tensor<float> x = prep(*image);
        at::Tensor t = at::empty(camkit::torch::sizes_of(camkit::shape_t{1, x.shape[0], x.shape[1], x.shape[2]}), at::kFloat);
        std::copy(x.values.begin(), x.values.end(), t.data_ptr<float>());
        return t;
    }
    const camkit::tensor<float> x = read_floats(path, "input");
    if (x.rank() < 3 || x.rank() > 5)
        fail(path + ": input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape " + camkit::to_string(x.shape));
    if (x.size() == 0) fail(path + ": input has an empty axis: shape " + camkit::to_string(x.shape));
    at::Tensor t = at::empty(camkit::torch::sizes_of(x.shape), at::kFloat);
    std::copy(x.values.begin(), x.values.end(), t.data_ptr<float>());
    return t;
}

/// The mask [*P] or [N, *P]: a .npy as is, or an image binarized at half brightness. An image
/// with dark but not black pixels and none above half (a class-index mask, values 0, 1, 2 ...,
/// as analyze --masks takes) is refused: binarized, it would be empty.
camkit::tensor<float> load_mask(const std::string& path) {
    if (!is_image_path(path)) return read_floats(path, "mask");
    const camkit::rgb_image m = camkit::io::read_image(path);
    camkit::tensor<float> out({m.height, m.width});
    int brightest = 0;
    for (std::size_t i = 0; i < m.height * m.width; ++i) {
        const int sum = m.pixels[3 * i] + m.pixels[3 * i + 1] + m.pixels[3 * i + 2];
        out[i] = sum >= 3 * 128 ? 1.0f : 0.0f;
        brightest = std::max(brightest, sum);
    }
    if (brightest > 0 && brightest < 3 * 128)
        fail("--mask " + path + " has no pixel brighter than half (the brightest is " + std::to_string(brightest / 3) +
             " of 255): an image mask is white (the region) on black; for a mask of class indices give a .npy "
             "that is 1 where the mask holds the class, or use --target predicted");
    return out;
}

/// Warns on stderr about samples whose target region (a mask or a predicted region) holds no
/// position: their score is 0 and their map all zero, which is rarely what was meant. A mask of
/// rank spatial_rank + 1 is [N, *P] (sample n's region at n), else one region for every sample.
void warn_empty_regions(const std::vector<camkit::target>& targets, std::size_t spatial_rank) {
    std::string empty;
    std::size_t count = 0;
    for (std::size_t n = 0; n < targets.size(); ++n) {
        const auto& m = targets[n].mask;
        if (!m || m->size() == 0) continue;
        const bool batched = m->rank() == spatial_rank + 1;
        const std::size_t per = batched ? m->size() / m->shape[0] : m->size(), at = batched ? n * per : 0;
        const auto first = m->values.begin() + static_cast<std::ptrdiff_t>(at);
        if (std::all_of(first, first + static_cast<std::ptrdiff_t>(per), [](float v) { return v == 0; }) && count++ < 8)
            empty += (empty.empty() ? "" : ", ") + std::to_string(n);
    }
    if (count)
        std::cerr << "camkit-torch: warning: the target region is empty for " << (count == 1 ? "sample " : "samples ")
                  << empty << (count > 8 ? ", ..." : "") << " (score 0: an all-zero map)\n";
}

/// Fails unless --class gives one class, or one per sample of `samples`.
void check_class_count(const explain_args& a, std::size_t samples) {
    if (a.classes.size() > 1 && a.classes.size() != samples)
        fail("--class gives " + std::to_string(a.classes.size()) + " classes but the input holds " + std::to_string(samples) +
             (samples == 1 ? " sample" : " samples") + " (one class for all, or one per sample)");
}

/// Fails unless --class, if given, names classes of the model output [N, C, *P] of shape `y`: one
/// for every sample, or one per sample.
void check_class(const explain_args& a, const camkit::shape_t& y) {
    const std::size_t classes = y[1] == 1 ? 2 : y[1];  // a one-channel (sigmoid) output has classes 0 and 1
    check_class_count(a, y[0]);
    for (std::size_t c : a.classes)
        if (c >= classes)
            fail("--class " + std::to_string(c) + " is out of range: the model output " + camkit::to_string(y) + " has " +
                 std::to_string(classes) + " classes (0 to " + std::to_string(classes - 1) + ")");
}

/// The class --class gives sample `n` (0 without --class).
std::size_t class_of(const explain_args& a, std::size_t n) {
    return a.classes.empty() ? 0 : a.classes.size() == 1 ? a.classes[0] : a.classes[n];
}

/// One target per sample, built with the library's target and mask builders from the command
/// line and the model output on the input.
std::vector<camkit::target> make_targets(const explain_args& a, const at::Tensor& output) {
    const camkit::tensor<float> y = to_host(output);
    check_class(a, y.shape);
    const std::size_t N = y.shape[0];
    const bool segmentation = y.rank() > 2;
    if (!segmentation && a.target != "class" && a.target != "predicted" && a.target != "softmax")
        fail("--target " + a.target + " needs a segmentation output [N, C, *P], the model gives " +
             camkit::to_string(y.shape));
    // One target per sample from its class; a class's region (of every sample) is made once.
    const auto per_sample = [&](auto&& target_of_class) {
        std::vector<camkit::target> targets;
        for (std::size_t n = 0; n < N; ++n) targets.push_back(target_of_class(class_of(a, n)));
        return targets;
    };
    std::map<std::size_t, camkit::tensor<float>> regions;
    const auto region_of = [&](std::size_t c, auto&& make) -> const camkit::tensor<float>& {
        auto it = regions.find(c);
        if (it == regions.end()) it = regions.emplace(c, make(c)).first;
        return it->second;
    };
    if (a.target == "class") return per_sample([](std::size_t c) { return camkit::class_score(c); });
    if (a.target == "whole-image") return per_sample([](std::size_t c) { return camkit::whole_image(c); });
    if (camkit_torch_tool::is_region_target(a.target))
        return per_sample([&](std::size_t c) {
            return camkit::mask_sum(
                c, region_of(c, [&](std::size_t k) { return camkit_torch_tool::region_mask(a.target, y, k, a.at); }));
        });
    if (a.target == "predicted" && segmentation) {
        if (!a.cls) fail("--target predicted on a segmentation output needs --class");
        return per_sample([&](std::size_t c) {
            return camkit::mask_sum(c, region_of(c, [&](std::size_t k) { return camkit::predicted_region(y, k); }));
        });
    }
    if (a.target == "predicted") {
        if (a.cls)
            fail("--class does not go with --target predicted for a classifier (it explains each sample's "
                 "predicted class)");
        const camkit::tensor<float> labels = camkit::detail::predicted_labels(y, "--target predicted");
        std::vector<camkit::target> targets;
        for (float label : labels.values) targets.push_back(camkit::class_score(static_cast<std::size_t>(label)));
        return targets;
    }
    if (a.target == "softmax" && a.mask.empty())  // the class probability, or its mean over the image
        return per_sample([](std::size_t c) { return camkit::target{c, std::nullopt, camkit::reduction::mean}; });
    // mask-sum, mask-mean, softmax over a mask
    const camkit::tensor<float> mask = load_mask(a.mask);
    const camkit::shape_t spatial(y.shape.begin() + 2, y.shape.end());
    camkit::shape_t batched{N};
    batched.insert(batched.end(), spatial.begin(), spatial.end());
    if (mask.shape != spatial && mask.shape != batched)
        fail("--mask " + a.mask + " has shape " + camkit::to_string(mask.shape) + " but the model output " +
             camkit::to_string(y.shape) + " needs " + camkit::to_string(spatial) + " or " + camkit::to_string(batched));
    if (a.target == "mask-sum") return per_sample([&](std::size_t c) { return camkit::mask_sum(c, mask); });
    return per_sample([&](std::size_t c) { return camkit::mask_mean(c, mask); });  // mask-mean; softmax: of the probabilities
}

/// Fails unless the model gave one output batch [N, C] or [N, C, *P] for the N inputs.
void check_output_shape(const at::Tensor& output, const at::Tensor& input) {
    if (output.dim() < 2 || output.dim() > 5 || output.size(0) != input.size(0))
        fail("the model output has shape " + camkit::to_string(camkit::torch::shape_of(output)) +
             "; camkit-torch needs [N, C] or [N, C, *P] with N = " + std::to_string(input.size(0)));
}

/// The layer's recorder for the explanation: checks the model output's shape right after the
/// forward, before the library checks the activation against it, so a wrong output is named as such.
struct checked_layer {
    camkit::torch::scripted_layer& layer;
    bool warned = false;

    /// One forward through the layer; fails unless the output is a batch [N, C] or [N, C, *P]. A
    /// layer of one position (after a global pooling) gets a warning: its maps are constant.
    camkit::torch::recorded_pass forward(const at::Tensor& input) { return checked(layer.forward(input), input); }
    /// The forward of a method that reads the layer alone (eigencam): a model of several outputs
    /// needs no --model-output, and the output's shape is checked where there is one.
    camkit::torch::recorded_pass forward_activations(const at::Tensor& input) {
        return checked(layer.forward_activations(input), input);
    }
    /// Names the layer in the library's errors.
    std::string describe() const { return layer.describe(); }

private:
    camkit::torch::recorded_pass checked(camkit::torch::recorded_pass p, const at::Tensor& input) {
        if (p.output.defined()) check_output_shape(p.output, input);
        const std::string warning = camkit_torch_tool::check_layer_output(layer.layer(), p.activations);
        if (!warned && !warning.empty()) {
            std::cerr << "camkit-torch: warning: " << warning << "\n";
            warned = true;
        }
        return p;
    }
};

/// What explain computes: the maps and, per sample, the class explained and (for the gradient
/// methods) the target's score, which the command prints.
struct maps_and_targets {
    at::Tensor map;                    ///< the finished maps [N, *size]
    std::vector<std::size_t> classes;  ///< the class of each sample's target
    at::Tensor scores;                 ///< [N] the target scores; undefined for cam
};

/// The class of each of `n` samples for CAM: --class, or the argmax of the classifier output [N, C].
std::vector<std::size_t> head_classes(const explain_args& a, const at::Tensor& output, std::int64_t n) {
    check_class_count(a, static_cast<std::size_t>(n));
    std::vector<std::size_t> classes;
    for (std::int64_t i = 0; i < n; ++i)
        classes.push_back(a.cls ? class_of(a, static_cast<std::size_t>(i))
                                : static_cast<std::size_t>(output.select(0, i).argmax().item<std::int64_t>()));
    return classes;
}

/// CAM from the head weight named --head: each sample's class is --class or its predicted class.
maps_and_targets head_cam(const explain_args& a, torch::jit::Module& model, const at::Tensor& input,
                          const camkit::options& opt) {
    camkit::torch::scripted_layer layer(model, a.layer, a.model_output);
    at::NoGradGuard no_grad;
    const auto recorded = layer.forward(input);
    const at::Tensor output = recorded.output;
    check_output_shape(output, input);
    if (!a.cls && output.dim() != 2)
        fail("--method cam without --class takes each sample's predicted class, which needs a classifier output "
             "[N, C]; the model gives " + camkit::to_string(camkit::torch::shape_of(output)));
    at::Tensor weight;
    for (const auto& p : model.named_parameters(true))
        if (p.name == a.head) weight = p.value;
    if (!weight.defined()) {
        std::string names;
        for (const auto& p : model.named_parameters(true)) names += (names.empty() ? "" : " ") + p.name;
        fail("--head " + a.head + " is not a parameter of the model (its parameters: " + names + ")");
    }
    if (weight.dim() != 2)
        fail("--head " + a.head + " has shape " + camkit::to_string(camkit::torch::shape_of(weight)) +
             "; CAM needs a linear head's weight [classes, K]");
    const std::int64_t K = recorded.activations.dim() > 1 ? recorded.activations.size(1) : 0;
    if (weight.size(1) != K)
        fail("--head " + a.head + " has shape " + camkit::to_string(camkit::torch::shape_of(weight)) + " but layer " +
             a.layer + " has " + std::to_string(K) + " channels: CAM needs the weight [classes, K] of the linear head "
             "that reads that layer's pooled output");
    std::vector<std::size_t> classes = head_classes(a, output, input.size(0));
    at::Tensor map = camkit::torch::cam(recorded.activations, weight.detach(), classes, opt).map;
    return {map, std::move(classes), {}};
}

/// One line per sample: the class its map explains and, but for CAM, the target's score on the input
/// (the class logit, the masked sum, the probability: what --target says).
void print_targets(const maps_and_targets& r) {
    const at::Tensor scores = r.scores.defined() ? r.scores.detach().to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
    for (std::size_t n = 0; n < r.classes.size(); ++n) {
        std::cout << "  sample " << n << ": class " << r.classes[n];
        if (scores.defined() && static_cast<std::int64_t>(n) < scores.numel()) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", scores.data_ptr<double>()[n]);
            std::cout << ", score " << buf;
        }
        std::cout << "\n";
    }
}

/// The PNG picture: the 2-D map overlaid on the input image; the maps of a .npy input with 2 or 3
/// spatial axes over its first channel in gray (min-max scaled per sample) where they have its
/// size; else heatmaps side by side.
camkit::rgb_image picture(const camkit::tensor<float>& maps, const std::optional<camkit::rgb_image>& image,
                          const at::Tensor& input) {
    if (!image) {
        const camkit::shape_t spatial(input.sizes().begin() + 2, input.sizes().end());
        if ((maps.rank() == 3 || maps.rank() == 4) && camkit::shape_t(maps.shape.begin() + 1, maps.shape.end()) == spatial &&
            static_cast<std::size_t>(input.size(0)) == maps.shape[0])
            return camkit_cli::maps_over_gray(maps, camkit_cli::gray_per_sample(to_host(input.select(1, 0))),
                                              camkit::colormap::jet);
    }
    if (!image || maps.rank() != 3) return camkit_cli::maps_picture(maps, camkit::colormap::jet);
    const camkit::tensor<float> resized = camkit::resize(maps, {image->height, image->width});
    camkit::tensor<float> one({image->height, image->width});
    std::copy_n(resized.values.begin(), one.size(), one.values.begin());
    return camkit::overlay(one, *image);
}

/// True for the targets that read the output's values (the predicted class, predicted and region
/// masks). An exported package builds them from its explanation's forward function; the others
/// (linear targets of the output's shape) let it run its gradient function alone. Only the
/// exported-model path uses it (LibTorch 2.6+).
[[maybe_unused]] bool targets_need_output_values(const explain_args& a) {
    return a.target == "predicted" || camkit_torch_tool::is_region_target(a.target);
}

/// The maps of --method and --target for `input`: Score-CAM through `score_cam(what, options)` (its
/// score_cam_result), every other method M through `explain(type<M>, what)` (its
/// camkit::torch::explained). The targets are built from the output of the explanation's own
/// forward, or with a `known` output (an exported package's output shape) from it.
template <class ScoreCam, class Explain>
maps_and_targets method_maps(const explain_args& a, const at::Tensor& input, const at::Tensor& known,
                             ScoreCam&& score_cam, Explain&& explain) {
    std::vector<std::size_t> classes;  // of the targets last made
    // Score-CAM and the gradient methods explain the targets (Eigen-CAM none): an empty region is
    // worth a warning, once.
    bool warn = a.method == "scorecam";
    camkit::with_method(a.method, [&](auto type) { warn = camkit::needs_gradients_v<typename decltype(type)::type>; });
    const auto make = [&](const at::Tensor& output) {
        check_output_shape(output, input);
        std::vector<camkit::target> made = make_targets(a, output);
        if (warn) warn_empty_regions(made, static_cast<std::size_t>(output.dim() - 2));
        warn = false;
        classes.clear();
        for (const camkit::target& t : made) classes.push_back(t.class_index);
        return made;
    };
    std::vector<camkit::target> targets;
    if (known.defined()) targets = make(known);
    // --target softmax explains the probabilities: the targets' reductions applied to them.
    camkit::torch::objective what = a.target == "softmax"
                                        ? camkit::torch::objective(camkit::torch::probability_score{targets, make})
                                    : known.defined() ? camkit::torch::objective(targets)
                                                      : camkit::torch::objective(camkit::torch::targets_from_output{make});
    if (a.method == "scorecam") {
        camkit::torch::score_cam_options sopt;
        sopt.batch_size = a.batch_size;
        // One forward per batch of masked inputs (K / batch size of them per sample): a bar on a
        // terminal, else a line every 10 s.
        std::optional<camkit_analyze::progress> bar;
        sopt.progress = [&](std::int64_t, std::int64_t total) {
            if (!bar) bar.emplace(static_cast<std::size_t>(total), "scorecam", 10.0);
            bar->step("forward passes", true);
        };
        const camkit::torch::score_cam_result r = score_cam(what, sopt);
        return {r.map, classes, r.target_scores};
    }
    maps_and_targets out;
    camkit::with_method(a.method, [&](auto type) {
        const camkit::torch::explained e = explain(type, what);
        out.map = e.cam.map;
        out.scores = e.scores;
        // A method without gradients (Eigen-CAM) explains no target: nothing to print per sample,
        // but a --class the output does not have is still an error (checked here when no targets
        // were made from a known output).
        if (camkit::needs_gradients_v<typename decltype(type)::type>)
            out.classes = classes;
        else if (targets.empty() && e.output.defined())
            check_class(a, camkit::torch::shape_of(e.output));
    });
    return out;
}

/// Runs the model and the method on `input`: the finished maps [N, *size] on `device`, and what
/// they explain.
maps_and_targets compute_map(const explain_args& a, torch::jit::Module& model, at::Tensor input,
                             const camkit::shape_t& size, const at::Device& device) {
    model.to(device);
    input = input.to(device, camkit_torch_tool::model_dtype(model));
    camkit::torch::scripted_layer layer(model, a.layer, a.model_output);  // unknown layer: lists the valid ones

    camkit::options opt = a.opt;
    opt.size = size;
    if (a.method == "cam") return head_cam(a, model, input, opt);
    // The targets are built from the explanation's own forward pass (one forward per batch), the
    // predicted and region targets from its values, the others (softmax's too) from its shape.
    // Gradients reach the layer even when the model's weights are frozen.
    const at::Tensor x = input.detach().requires_grad_(true);
    return method_maps(
        a, input, at::Tensor(),
        [&](const camkit::torch::objective& what, const camkit::torch::score_cam_options& sopt) {
            return camkit::torch::score_cam(layer, camkit::torch::forward_of(model, a.model_output), input, what, opt, sopt);
        },
        [&](auto type, const camkit::torch::objective& what) {
            checked_layer checked{layer, false};
            return camkit::torch::explain<typename decltype(type)::type>(checked, x, what, opt);
        });
}

/// --model M.pt2: the maps of the layer the package records (--layer, if given, must name it; a
/// package of several layers needs it). A target that needs the output (predicted, regions,
/// softmax) takes it from the forward function.
maps_and_targets compute_exported_map(explain_args& a, const at::Tensor& input, const camkit::shape_t& size,
                                      const at::Device& device) {
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
    camkit::torch::exported_model m(a.model);
    const std::vector<std::string>& recorded = m.layers();
    const std::string names = camkit_torch_tool::recorded_layers(recorded);
    a.layer = camkit_torch_tool::resolve_package_layer(a.model, a.layer, recorded);
    if (!a.layer.empty()) {
        if (std::find(recorded.begin(), recorded.end(), a.layer) == recorded.end())
            fail(a.model + " records " + names + ", not --layer " + a.layer + " (export it at that layer)");
        m.select_layer(a.layer);
    } else if (!m.has_selected_layer()) {
        fail(a.model + " records " + names + ": choose one with --layer");
    }
    a.layer = m.layer();
    const at::Tensor x = input.to(device);
    camkit::options opt = a.opt;
    opt.size = size;
    // The targets that read the output's values are built from the explanation's own forward; the
    // others from the output shape the package records (no forward of their own), and Grad-CAM's
    // predicted class (--method cam without --class) from a forward.
    at::Tensor output;
    if (a.method == "cam" && !a.cls) {
        output = camkit::torch::capture_activations(m, x).first;
        check_output_shape(output, x);
    } else if (a.method != "cam" && !targets_need_output_values(a)) {
        m.check_batch(x);  // the package's own message for an input it does not take
        const camkit::shape_t y = m.output_shape_for(static_cast<std::size_t>(x.size(0)));
        output = at::zeros(std::vector<std::int64_t>(y.begin(), y.end()), x.options());
    }
    if (a.method == "cam") {
        std::vector<std::size_t> classes = head_classes(a, output, x.size(0));
        at::Tensor map = camkit::torch::cam(m, x, a.head, classes, opt).map;
        return {map, std::move(classes), {}};
    }
    return method_maps(
        a, x, output,
        [&](const camkit::torch::objective& what, const camkit::torch::score_cam_options& sopt) {
            return camkit::torch::score_cam(m, x, what, opt, sopt);
        },
        [&](auto type, const camkit::torch::objective& what) {
            return camkit::torch::explain<typename decltype(type)::type>(m, x, what, opt);
        });
#else
    (void)input, (void)size, (void)device;
    fail("--model " + a.model + ": this camkit-torch was built with a LibTorch without AOTInductor (before 2.6), "
         "which cannot load .pt2 packages; use a TorchScript model");
#endif
}

int run_explain(const std::vector<std::string>& args) {
    explain_args a = parse_explain_args(args);

    // Every file is checked before any work: inputs are regular files, outputs are neither inputs
    // nor each other and can be written; the headers bound the memory before any data is read.
    camkit_cli::file_set files({{"--model", a.model}, {"--input", a.input}, {"--mask", a.mask}});
    const std::size_t out_file = files.output("--out", a.out);
    const auto png_file = files.optional_output("--png", a.png);
    const camkit::shape_t declared = check_declared_size(a.input, "--input", 3);
    if (!a.mask.empty()) check_declared_size(a.mask, "--mask", 1);
    if (!a.prep.resize.empty())
        camkit_cli::check_values(camkit_cli::value_count(a.prep.channels(), a.prep.resize),
                                 "the input resized to " + camkit::to_string(a.prep.resize));
    if (declared.size() >= 3) {
        const camkit::shape_t spatial(declared.begin() + 2, declared.end());
        if (!a.opt.size.empty() && a.opt.size.size() != spatial.size())
            fail("--size has " + std::to_string(a.opt.size.size()) + " extents but the input " +
                 camkit::to_string(declared) + " has " + std::to_string(spatial.size()) + " spatial axes");
        camkit_cli::check_values(camkit_cli::value_count(declared[0], a.opt.size.empty() ? spatial : a.opt.size),
                                 "the maps " + camkit::to_string(a.opt.size.empty() ? spatial : a.opt.size) + " of " +
                                     std::to_string(declared[0]) + " samples");
        // The picture's size too (1-D strips are 16 pixels high); an image input's overlay has its size.
        if (!a.png.empty() && !is_image_path(a.input)) {
            camkit::shape_t maps = a.opt.size.empty() ? spatial : a.opt.size;
            maps.insert(maps.begin(), declared[0]);
            camkit_cli::check_picture_size(camkit_cli::maps_picture_size(maps), "the maps " + camkit::to_string(maps),
                                           "pass fewer samples, a smaller --size, or no --png");
        }
    }
    if (a.device == "cuda" && !torch::cuda::is_available())
        fail("--device cuda: this LibTorch build or machine has no CUDA device");

    const at::Device device(a.device == "cuda" ? at::kCUDA : at::kCPU);
    std::optional<torch::jit::Module> model;
    if (!is_package_path(a.model)) model = camkit_torch_tool::load_model(a.model);
    std::optional<camkit::rgb_image> image;
    const at::Tensor input = load_input(a.input, a.prep, image);
    // The maps are at the input's size: an image's own size, also when --resize feeds the model another.
    camkit::shape_t size = image ? camkit::shape_t{image->height, image->width}
                                 : camkit::shape_t(input.sizes().begin() + 2, input.sizes().end());
    if (!a.opt.size.empty()) size = a.opt.size;

    const std::string asked = a.layer;
    if (model) a.layer = camkit_torch_tool::resolve_layer(*model, a.layer, input, a.model_output);
    const maps_and_targets result = camkit_torch_tool::model_step(camkit_torch_tool::input_words(input), [&] {
        return model ? compute_map(a, *model, input, size, device) : compute_exported_map(a, input, size, device);
    });
    const camkit::tensor<float> map = to_host(result.map);
    // The library's finite checks cover CPU tensors; on a device NaN and Inf reach the map.
    if (auto i = camkit_cli::first_non_finite<float>(map.values))
        fail("the map of sample " + std::to_string(*i / (map.size() / map.shape[0])) +
             " is not finite: the activations or gradients at layer " + a.layer + " overflow float32");

    // Everything is computed and encoded before the outputs are committed together.
    files.write_npy(out_file, map);
    std::string scaled;  // a note when the picture shows the maps min-max scaled (--no-relu, --normalize none)
    std::string picture_note = camkit_cli::write_picture(files, png_file, a.png, [&] {
        return picture(camkit_cli::picture_values(map, scaled), image, input);
    });
    picture_note += scaled;
    files.commit();

    const char* chosen = asked == "auto" && a.layer != asked ? " (--layer auto)" : "";
    std::cout << "camkit-torch: " << a.method << " of layer " << a.layer << chosen << ", map "
              << camkit::to_string(map.shape) << " -> " << a.out << picture_note << "\n";
    print_targets(result);
    return 0;
}

const camkit_cli::registration explain{
    {"explain", "class-activation maps of a model's named layer for an input", help, run_explain}};

}  // namespace
