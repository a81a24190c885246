// `camkit-torch analyze`: a data set through a TorchScript model at several layers with several
// methods: per image a comparison panel (and the maps), per data set metrics.csv, summary.json and
// report.html. Every layer is recorded in the same forward pass (scripted_layers) and each target
// costs one backward for all layers and all gradient methods, which share A and G. An exported
// package (.pt2) is analyzed at the layers it records (all, or those --layer names), its targets
// sharing the calls of its gradient function (every layer in each). A run resumes from its
// per-image records; every file is written atomically.
#include "../../common/app.hpp"
#include "../analyze/panel.hpp"
#include "../analyze/progress.hpp"
#include "../analyze/records.hpp"
#include "../analyze/report.hpp"
#include "../command_support.hpp"
#include "../torch_support.hpp"

#include <camkit/camkit.hpp>  // the method registry, targets and mask builders, metrics
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/refine/refine.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/scripted.hpp>
#include <camkit/torch/torch.hpp>
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
#include <camkit/torch/exported.hpp>  // --model M.pt2 (LibTorch 2.6+)
#endif

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using camkit_cli::fail;
using camkit_torch_tool::to_host;

constexpr const char* help =
    "usage: camkit-torch analyze --model M.pt|M.pt2 (--images DIR|IMG [--masks DIR|MASK] | --inputs X.npy [--gt Y.npy])\n"
    "           --out DIR --layer NAME [--layer NAME ...] --method NAME [--method NAME ...] | --method all\n"
    "           [--target predicted|gt|all-classes|class:C|largest-component[:C]|smallest-component[:C]|\n"
    "                     component-at[:C] --at Y,X[,Z]|point[:C] --at Y,X[,Z] [--target ...]]\n"
    "           [--top-k K] [--resize HxW] [--mean a,b,c --std a,b,c] [--gray|--rgb] [--limit N]\n"
    "           [--batch-size B] [--save-maps] [--refine] [--device cpu|cuda] [--model-output KEY|INDEX]\n"
    "           [--skip-class C[,C...]] [--class-names NAME,NAME,...] [--renormalize]\n"
    "\n"
    "  --model M.pt      a TorchScript segmentation [N, C, *P] or classification [N, C] model; or M.pt2,\n"
    "                    a package of tools/export_cam.py (LibTorch 2.6+: docs/exported.md), analyzed at\n"
    "                    the layers it records (--layer optional: all of them; else some of them)\n"
    "  --images DIR      PNG/JPEG images, taken in name order; --masks DIR: ground-truth PNGs of the same\n"
    "                    stems (pixel value = class index, the image's size); or one image file, with its\n"
    "                    mask file as --masks\n"
    "  --inputs X.npy    instead of images: a batch [N, C, *S] (1 to 3 spatial axes, volumes too), used as\n"
    "                    is; --gt Y.npy: its class indices [N, *S]\n"
    "  --out DIR         results (created); running again with the same DIR resumes\n"
    "  --layer NAME      a dotted layer path ('camkit-torch layers'); repeat for several: all are recorded\n"
    "                    in the same forward pass; auto: the layer explain --layer auto takes, chosen\n"
    "                    on the first input\n"
    "  --method NAME     one of 'camkit-torch methods' (but cam), or scorecam; repeat for several; all =\n"
    "                    every gradient method (add --method scorecam for Score-CAM: it runs many forward\n"
    "                    passes)\n"
    "  --target T        the targets of each image (one row of the panel each); repeat for several kinds\n"
    "                    (--target predicted --target gt): the rows of each in order, a target that two\n"
    "                    give (class:3 and all-classes) once:\n"
    "                      predicted    each class present in the prediction, over its predicted region\n"
    "                                   (default); a classifier: its top --top-k classes (default 1)\n"
    "                      gt           each class present in the ground truth, over its true region\n"
    "                      all-classes  every class, over the whole output\n"
    "                      class:C      class C, over the whole output\n"
    "                      largest-component[:C], smallest-component[:C]\n"
    "                                   the largest (smallest) connected part of the predicted region of\n"
    "                                   class C, or of each predicted class without :C\n"
    "                      component-at[:C]\n"
    "                                   the connected part of class C's predicted region that holds\n"
    "                                   --at (without :C, the class predicted there); an image whose\n"
    "                                   region misses --at gets score 0 and zero maps\n"
    "                      point[:C]    output[C] at the one output position --at (without :C, the class\n"
    "                                   predicted there); its metrics use the part at --at, as above\n"
    "  --skip-class C    no target of class C (comma-separated for several; e.g. a background class 0)\n"
    "                    with --target predicted, gt, all-classes, largest-component, smallest-component\n"
    "  --class-names N   the classes' names in order, comma-separated (one per class of the output): the\n"
    "                    report and summary.json show them beside the indices\n"
    "  --at Y,X[,Z]      the output position of component-at and point: row,column of a 2-D output;\n"
    "                    row,column,depth of a 3-D output [D, H, W] (Z indexes D); one coordinate of a\n"
    "                    1-D output; the same for every image\n"
    "  --resize HxW      images are resized (bilinear) to HxW for the model; maps and metrics stay at the\n"
    "                    image's own size\n"
    "  --mean, --std     per-channel normalization of images in [0, 1]: (x - mean) / std\n"
    "  --gray, --rgb     feed images as one luminance channel or as RGB (default)\n"
    "  --limit N         only the first N images\n"
    "  --batch-size B    masked inputs per forward pass for scorecam (default 16)\n"
    "  --save-maps       also maps/<stem>/<target>__<method>__<layer>.npy (float32, the input's size)\n"
    "  --refine          also the maps of every layer but the first refined by the first layer's\n"
    "                    (camkit::refine), as ..__<layer>__refined.npy; needs 2-D inputs, two layers or more\n"
    "  --renormalize     ReLU and min-max again after resizing the maps to the image (as pytorch-grad-cam\n"
    "                    does: each map then reaches 1)\n"
    "  --device D        cpu (default) or cuda\n"
    "  --model-output K  when the model's forward returns several outputs: the one to explain, a dict's\n"
    "                    key (out for torchvision's segmentation models) or a tuple's index (0, 1, ...)\n"
    "\n"
    "Writes panels/<stem>.png, records/<stem>.csv (the image's rows; written last, so a finished image\n"
    "is never redone), metrics.csv, summary.json and report.html. Bad input found before the work starts\n"
    "is one line and exit 2; a bad file met later is named, the rest is finished, and the run ends with\n"
    "exit 2 after writing the report. Ctrl-C stops after the current image (exit 130); no partial file.\n";

/// The parsed command line.
struct analyze_args {
    std::string model, images, masks, inputs, gt, out, device = "cpu", model_output;
    std::vector<std::string> layers, methods, class_names;
    std::vector<std::string> targets;  ///< --target, each kind in the order given (default: predicted)
    std::string target;                ///< the targets as the report and the resume check name them: "predicted, gt"
    std::vector<double> mean, std;
    std::vector<std::size_t> skip_classes;
    camkit::shape_t resize, at;
    bool gray = false, rgb = false, save_maps = false, refine = false, renormalize = false;
    std::size_t limit = 0, top_k = 0;
    std::int64_t batch_size = 16;
};

/// The target kind of --target without its ":C" part, and C when given.
std::pair<std::string, std::optional<std::size_t>> split_target(const std::string& t) {
    const auto colon = t.find(':');
    if (colon == std::string::npos) return {t, std::nullopt};
    return {t.substr(0, colon),
            static_cast<std::size_t>(camkit_cli::parse_count(t.substr(colon + 1), "the class of --target " + t, 0))};
}

analyze_args parse_analyze_args(const std::vector<std::string>& all) {
    analyze_args a;
    // --layer, --method and --target may be repeated; the option parser takes each other option once.
    const std::vector<std::string> rest =
        camkit_cli::take_repeated(all, {{"--layer", &a.layers}, {"--method", &a.methods}, {"--target", &a.targets}});
    camkit_cli::option_parser("camkit-torch analyze")
        .value("--model", a.model)
        .value("--images", a.images)
        .value("--masks", a.masks)
        .value("--inputs", a.inputs)
        .value("--gt", a.gt)
        .value("--out", a.out)
        .value("--device", a.device)
        .value("--model-output", a.model_output)
        .value("--at", [&](const std::string& v) { a.at = camkit_torch_tool::parse_at(v); })
        .value("--resize", [&](const std::string& v) { a.resize = camkit_cli::parse_size(v); })
        .value("--mean", [&](const std::string& v) { a.mean = camkit_torch_tool::parse_numbers(v, "--mean"); })
        .value("--std", [&](const std::string& v) { a.std = camkit_torch_tool::parse_numbers(v, "--std"); })
        .value("--limit", [&](const std::string& v) { a.limit = static_cast<std::size_t>(camkit_cli::parse_count(v, "--limit", 1)); })
        .value("--top-k", [&](const std::string& v) { a.top_k = static_cast<std::size_t>(camkit_cli::parse_count(v, "--top-k", 1)); })
        .value("--batch-size", [&](const std::string& v) { a.batch_size = camkit_cli::parse_count(v, "--batch-size", 1); })
        .value("--skip-class",
               [&](const std::string& v) {
                   for (const auto part : camkit_cli::split(v, ','))
                       a.skip_classes.push_back(static_cast<std::size_t>(camkit_cli::parse_count(std::string(part), "--skip-class", 0)));
                   std::sort(a.skip_classes.begin(), a.skip_classes.end());
                   if (std::adjacent_find(a.skip_classes.begin(), a.skip_classes.end()) != a.skip_classes.end())
                       fail("--skip-class " + v + " names a class twice");
               })
        .value("--class-names",
               [&](const std::string& v) {
                   for (const auto part : camkit_cli::split(v, ',')) {
                       if (part.empty()) fail("--class-names " + v + " has an empty name");
                       a.class_names.emplace_back(part);
                   }
               })
        .flag("--gray", a.gray)
        .flag("--rgb", a.rgb)
        .flag("--save-maps", a.save_maps)
        .flag("--refine", a.refine)
        .flag("--renormalize", a.renormalize)
        .parse(rest);
    if (a.model.empty()) fail("--model is required");
    if (a.images.empty() == a.inputs.empty()) fail("give either --images DIR or --inputs X.npy");
    if (!a.masks.empty() && a.images.empty()) fail("--masks goes with --images (use --gt with --inputs)");
    if (!a.gt.empty() && a.inputs.empty()) fail("--gt goes with --inputs (use --masks with --images)");
    if (a.out.empty()) fail("--out is required");
    const bool package = camkit_torch_tool::is_package_path(a.model);
    if (a.layers.empty() && !package)
        fail("--layer is required (see 'camkit-torch layers --model " + a.model + "'), or --layer auto");
    if (package && !a.model_output.empty())
        fail("--model-output goes with a TorchScript model; a .pt2 package has the one output it was exported at");
    if (a.methods.empty()) fail("--method is required (a name of 'camkit-torch methods', scorecam, or all)");
    if (const auto all_at = std::find(a.methods.begin(), a.methods.end(), "all"); all_at != a.methods.end()) {
        // all: every gradient method of the registry, in its order, where "all" stands; scorecam only when named.
        std::vector<std::string> expanded(a.methods.begin(), all_at);
        for (auto n : camkit::method_names()) expanded.emplace_back(n);
        expanded.insert(expanded.end(), all_at + 1, a.methods.end());
        a.methods = expanded;
    }
    for (const auto& m : a.methods) {
        if (!camkit_torch_tool::known_method(m) || m == "cam")
            fail("unknown method '" + m + "' (choose from: " + camkit::method_names_joined() + " scorecam all)");
        if (std::count(a.methods.begin(), a.methods.end(), m) > 1)
            fail("--method " + m + " is given twice (or also by --method all)");
    }
    for (const auto& l : a.layers)
        if (std::count(a.layers.begin(), a.layers.end(), l) > 1) fail("--layer " + l + " is given twice");
    if (a.targets.empty()) a.targets = {"predicted"};
    a.target.clear();
    for (const auto& t : a.targets) a.target += (a.target.empty() ? "" : ", ") + t;
    bool any_positioned = false, any_predicted = false;
    for (const std::string& target : a.targets) {
        if (std::count(a.targets.begin(), a.targets.end(), target) > 1) fail("--target " + target + " is given twice");
        const auto [kind, cls] = split_target(target);
        const std::set<std::string> kinds{"predicted",         "gt",           "all-classes", "class", "largest-component",
                                          "smallest-component", "component-at", "point"};
        const bool takes_class = kind == "class" || camkit_torch_tool::is_region_target(kind);
        if (!kinds.count(kind) || (kind == "class" && !cls) || (cls && !takes_class))
            fail("--target must be predicted, gt, all-classes, class:C, largest-component[:C], smallest-component[:C], "
                 "component-at[:C] or point[:C], got '" + target + "'");
        const bool positioned = kind == "component-at" || kind == "point";
        any_positioned = any_positioned || positioned;
        any_predicted = any_predicted || kind == "predicted";
        if (positioned && a.at.empty()) fail("--target " + target + " needs --at Y,X[,Z] (an output position)");
        if (kind == "gt" && a.masks.empty() && a.gt.empty()) fail("--target gt needs ground truth (--masks or --gt)");
        if (!a.skip_classes.empty() && (cls || kind == "class" || kind == "component-at" || kind == "point"))
            fail("--skip-class goes with --target predicted, gt, all-classes, largest-component or smallest-component "
                 "(without :C), not " + target);
    }
    if (!any_positioned && !a.at.empty()) fail("--at goes with --target component-at[:C] or point[:C], not " + a.target);
    if (a.top_k && !any_predicted) fail("--top-k goes with --target predicted");
    if (a.gray && a.rgb) fail("--gray and --rgb exclude each other");
    if (!a.inputs.empty() && (a.gray || a.rgb || !a.resize.empty()))
        fail("--gray, --rgb and --resize apply to --images; --inputs is used as it is");
    camkit_torch_tool::image_prep::check_resize(a.resize);
    camkit_torch_tool::check_mean_std(a.mean, a.std);
    // A package without --layer takes the layers it records: checked once they are known.
    const bool layers_from_package = a.layers.empty() && camkit_torch_tool::is_package_path(a.model);
    if (a.refine && a.layers.size() < 2 && !layers_from_package)
        fail("--refine needs two layers or more (the first is the high-resolution one)");
    if (a.device != "cpu" && a.device != "cuda") fail("--device must be cpu or cuda, got '" + a.device + "'");
    return a;
}

/// One image (or sample of --inputs) ready for the model.
struct sample {
    at::Tensor input;                        ///< [1, C, *S'] float on the CPU, normalized (and resized)
    camkit::shape_t size;                    ///< the input's own spatial size S: maps and metrics are at it
    camkit::rgb_image picture;               ///< the input as RGB [H, W] (a volume's slices stacked: [D·H, W])
    std::optional<camkit::tensor<float>> gt; ///< class indices [*S]
};

/// The rows of the strip that shows a 1-D input of `length` positions in the panel: a quarter of
/// its length, at least 8, so the cell is wide and readable.
std::size_t strip_rows(std::size_t length) { return std::max<std::size_t>(8, length / 4); }

/// What the panel shows of a map, region or labels [*S] as a picture [H, W]: a volume's slice
/// `depth` (panel_depth), a 2-D map as it is, a 1-D one as a strip of strip_rows equal rows.
camkit::tensor<float> panel_slice(const camkit::tensor<float>& m, std::size_t depth) {
    if (m.rank() == 1) {
        const std::size_t L = m.shape[0], rows = strip_rows(L);
        camkit::tensor<float> out({rows, L});
        for (std::size_t r = 0; r < rows; ++r) std::copy_n(m.values.begin(), L, out.values.begin() + static_cast<std::ptrdiff_t>(r * L));
        return out;
    }
    if (m.rank() != 3) return m;
    const std::size_t plane = m.shape[1] * m.shape[2];
    camkit::tensor<float> out({m.shape[1], m.shape[2]});
    std::copy_n(m.values.begin() + static_cast<std::ptrdiff_t>(depth * plane), plane, out.values.begin());
    return out;
}

/// Slice `depth` of a sample's picture (a volume's slices stacked: [D·H, W]); other pictures as they are.
camkit::rgb_image picture_slice(const camkit::rgb_image& stacked, const camkit::shape_t& size, std::size_t depth) {
    if (size.size() != 3) return stacked;
    const std::size_t h = size[1], w = size[2];
    camkit::rgb_image out(h, w);
    std::copy_n(stacked.pixels.begin() + static_cast<std::ptrdiff_t>(3 * depth * h * w), 3 * h * w, out.pixels.begin());
    return out;
}

/// `x` [*P] resized to `size` by nearest neighbour (labels and regions: no new values).
camkit::tensor<float> nearest(const camkit::tensor<float>& x, const camkit::shape_t& size) {
    if (x.shape == size) return x;
    camkit::tensor<float> out(size);
    const std::size_t rank = size.size();
    std::vector<std::size_t> idx(rank, 0);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::size_t rem = i, src = 0;
        for (std::size_t a = rank; a-- > 0;) idx[a] = rem % size[a], rem /= size[a];
        for (std::size_t a = 0; a < rank; ++a) src = src * x.shape[a] + idx[a] * x.shape[a] / size[a];
        out[i] = x[src];
    }
    return out;
}

/// The data set: image files or the samples of an .npy batch, each with an optional ground truth.
class data_set {
public:
    explicit data_set(const analyze_args& a) : a_(a), prep_{a.gray, a.resize, a.mean, a.std} {
        if (!a.images.empty()) {
            // A folder of images, or one image file (then --masks may name its mask file).
            const bool one = fs::is_regular_file(a.images);
            if (one && !camkit_torch_tool::is_image_path(a.images))
                fail("--images " + a.images + " is neither a folder nor a PNG or JPEG image");
            if (!one && !fs::is_directory(a.images)) fail("--images " + a.images + " is not a folder or an image file");
            if (!a.masks.empty() && !fs::is_directory(a.masks) && !(one && fs::is_regular_file(a.masks)))
                fail("--masks " + a.masks + (one ? " is not a folder or a mask file" : " is not a folder"));
            if (one) files_.push_back(a.images);
            else
                for (const auto& e : fs::directory_iterator(a.images))
                    if (e.is_regular_file() && camkit_torch_tool::is_image_path(e.path().string())) files_.push_back(e.path());
            std::sort(files_.begin(), files_.end());
            if (files_.empty()) fail("--images " + a.images + " holds no PNG or JPEG image");
            if (a.limit && files_.size() > a.limit) files_.resize(a.limit);
            std::set<std::string> stems;
            for (const auto& f : files_) {
                if (!stems.insert(f.stem().string()).second)
                    fail("--images " + a.images + ": two images have the stem '" + f.stem().string() +
                         "' (their results would share a name)");
                if (!a.masks.empty() && !fs::is_regular_file(mask_path(f)))
                    fail("--masks " + a.masks + " has no mask " + mask_path(f).filename().string() + " for image " +
                         f.filename().string());
            }
            return;
        }
        const camkit::shape_t shape = camkit_torch_tool::check_declared_size(a.inputs, "--inputs", 3);
        if (shape.size() < 3 || shape.size() > 5 || camkit::element_count(shape) == 0)
            fail("--inputs " + a.inputs + " must be [N, C, *S] with 1 to 3 spatial axes, got " + camkit::to_string(shape));
        batch_ = camkit_torch_tool::read_floats(a.inputs, "--inputs");
        if (!a.gt.empty()) {
            camkit::shape_t want{shape[0]};
            want.insert(want.end(), shape.begin() + 2, shape.end());
            const camkit::shape_t g = camkit_torch_tool::check_declared_size(a.gt, "--gt", 1);
            if (g != want) fail("--gt " + a.gt + " has shape " + camkit::to_string(g) + " but --inputs needs " + camkit::to_string(want));
            truth_ = camkit_torch_tool::read_floats(a.gt, "--gt");
            for (float v : truth_.values)
                if (v < 0 || v != std::floor(v)) fail("--gt " + a.gt + " must hold class indices (whole numbers ≥ 0), found " + std::to_string(v));
        }
        count_ = a.limit ? std::min<std::size_t>(a.limit, shape[0]) : shape[0];
    }

    /// Samples in the set.
    std::size_t size() const { return files_.empty() ? count_ : files_.size(); }
    /// Input channels the model gets.
    std::size_t channels() const { return files_.empty() ? batch_.shape[1] : a_.gray ? 1 : 3; }
    /// Spatial axes of the inputs.
    std::size_t spatial_rank() const { return files_.empty() ? batch_.rank() - 2 : 2; }
    /// The name results of sample i are filed under.
    std::string stem(std::size_t i) const {
        if (!files_.empty()) return files_[i].stem().string();
        char buf[32];
        std::snprintf(buf, sizeof buf, "sample%05zu", i);
        return buf;
    }
    /// The file named in messages about sample i.
    std::string file(std::size_t i) const { return files_.empty() ? a_.inputs + "[" + std::to_string(i) + "]" : files_[i].string(); }

    /// Sample i; camkit::error or usage_error naming the file when it cannot be read.
    sample load(std::size_t i) const { return files_.empty() ? load_npy(i) : load_image(i); }

private:
    fs::path mask_path(const fs::path& image) const {
        if (fs::is_regular_file(a_.masks)) return a_.masks;  // one image with its mask file
        return fs::path(a_.masks) / (image.stem().string() + ".png");
    }

    static at::Tensor batch_of(const camkit::tensor<float>& x) {  // [C, *S] -> [1, C, *S]
        std::vector<std::int64_t> sizes{1};
        for (std::size_t e : x.shape) sizes.push_back(static_cast<std::int64_t>(e));
        at::Tensor t = at::empty(sizes, at::kFloat);
        std::copy(x.values.begin(), x.values.end(), t.data_ptr<float>());
        return t;
    }

    sample load_image(std::size_t i) const {
        const std::string path = files_[i].string();
        camkit_torch_tool::check_declared_size(path, "image", 3);
        sample s;
        s.picture = camkit::io::read_image(path);
        const std::size_t h = s.picture.height, w = s.picture.width;
        s.size = {h, w};
        s.input = batch_of(prep_(s.picture));
        if (!a_.masks.empty()) {
            const std::string mpath = mask_path(files_[i]).string();
            const camkit::io::image_info info = camkit::io::read_image_info(mpath);
            if (info.height != h || info.width != w)
                fail(mpath + ": mask of size " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                     " for image " + files_[i].filename().string() + " of size " + std::to_string(h) + "x" + std::to_string(w));
            const camkit::rgb_image m = camkit::io::read_image(mpath);
            camkit::tensor<float> labels({h, w});
            for (std::size_t p = 0; p < h * w; ++p) labels[p] = m.pixels[3 * p];
            s.gt = std::move(labels);
        }
        return s;
    }

    sample load_npy(std::size_t i) const {
        const std::size_t C = batch_.shape[1], per = batch_.size() / batch_.shape[0];
        sample s;
        s.size.assign(batch_.shape.begin() + 2, batch_.shape.end());
        camkit::shape_t cs{C};
        cs.insert(cs.end(), s.size.begin(), s.size.end());
        camkit::tensor<float> x(cs);
        std::copy_n(batch_.values.begin() + static_cast<std::ptrdiff_t>(i * per), per, x.values.begin());
        // The picture: RGB for three channels, else the channel mean; min-max to [0, 255]; 1-D as a
        // strip of equal rows (panel_slice).
        const std::size_t positions = per / C;
        std::vector<float> show(3 * positions);
        for (std::size_t p = 0; p < positions; ++p)
            for (std::size_t k = 0; k < 3; ++k) {
                float v = 0;
                if (C == 3) v = x[k * positions + p];
                else {
                    for (std::size_t c = 0; c < C; ++c) v += x[c * positions + p];
                    v /= static_cast<float>(C);
                }
                show[3 * p + k] = v;
            }
        const auto [lo, hi] = std::minmax_element(show.begin(), show.end());
        const float a = *lo, span = *hi - *lo > 0 ? *hi - *lo : 1.0f;
        const bool line = s.size.size() == 1;
        const std::size_t ww = s.size.back(), hh = line ? strip_rows(ww) : s.size[s.size.size() - 2];
        const std::size_t slices = s.size.size() == 3 ? s.size[0] : 1;  // a volume's slices, stacked
        s.picture = camkit::rgb_image(slices * hh, ww);
        for (std::size_t p = 0; p < slices * hh * ww; ++p)
            for (std::size_t k = 0; k < 3; ++k)
                s.picture.pixels[3 * p + k] =
                    static_cast<std::uint8_t>(255.0f * (show[3 * (line ? p % ww : p) + k] - a) / span + 0.5f);
        camkit_torch_tool::normalize_channels(x, a_.mean, a_.std);
        s.input = batch_of(x);
        if (!truth_.values.empty()) {
            camkit::tensor<float> g(s.size);
            std::copy_n(truth_.values.begin() + static_cast<std::ptrdiff_t>(i * positions), positions, g.values.begin());
            s.gt = std::move(g);
        }
        return s;
    }

    const analyze_args& a_;
    camkit_torch_tool::image_prep prep_;  ///< how --images become model inputs
    std::vector<fs::path> files_;
    camkit::tensor<float> batch_, truth_;
    std::size_t count_ = 0;
};

/// One target of an image: its name (class3, predicted3, gt3, largest3), class, the camkit target
/// on the model output, and its region at the input's size (empty for a classifier).
struct target_spec {
    std::string name;
    std::size_t cls = 0;
    camkit::target t;
    camkit::tensor<float> region;
};

/// `labels == c` as a 0/1 mask.
camkit::tensor<float> class_mask(const camkit::tensor<float>& labels, std::size_t c) {
    camkit::tensor<float> m(labels.shape);
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = labels[i] == static_cast<float>(c) ? 1.0f : 0.0f;
    return m;
}

/// Drops the leading batch axis of one sample's [1, *P] tensor.
camkit::tensor<float> drop_batch(camkit::tensor<float> x) {
    x.shape.erase(x.shape.begin());
    return x;
}

/// The model output's facts for one image: predicted labels at the input's size (segmentation).
struct output_facts {
    camkit::tensor<float> y;  ///< [1, C, *P] (or [1, C]) on the host
    std::size_t classes = 0;
    bool segmentation = false;
    camkit::tensor<float> labels;         ///< predicted class per position, at the input's size
    camkit::tensor<float> output_labels;  ///< the same at the output's size [*P]
};

output_facts facts_of(const at::Tensor& output, const camkit::shape_t& size) {
    output_facts f;
    f.y = to_host(output);
    if (f.y.rank() < 2 || f.y.shape[0] != 1)
        fail("the model output has shape " + camkit::to_string(f.y.shape) + "; analyze needs [1, C] or [1, C, *P] per image");
    f.classes = f.y.shape[1] == 1 ? 2 : f.y.shape[1];  // a one-channel (sigmoid) output has classes 0 and 1
    f.segmentation = f.y.rank() > 2;
    if (f.segmentation) {
        if (f.y.rank() != size.size() + 2)
            fail("the model output " + camkit::to_string(f.y.shape) + " has not the input's " + std::to_string(size.size()) +
                 " spatial axes");
        camkit::tensor<float> labels(camkit::shape_t(f.y.shape.begin() + 2, f.y.shape.end()));
        for (std::size_t c = 1; c < f.classes; ++c) {
            const camkit::tensor<float> r = camkit::predicted_region(f.y, c);
            for (std::size_t i = 0; i < labels.size(); ++i) labels[i] += static_cast<float>(c) * r[i];
        }
        f.labels = nearest(labels, size);
        f.output_labels = std::move(labels);
    }
    return f;
}

/// Checks the target's class against the output before any work (probe) or per image.
void check_class(std::size_t c, const output_facts& f, const std::string& what) {
    if (c >= f.classes)
        fail(what + ": class " + std::to_string(c) + " is out of range: the model output " + camkit::to_string(f.y.shape) +
             " has " + std::to_string(f.classes) + " classes (0 to " + std::to_string(f.classes - 1) + ")");
}

/// The targets of one image from one --target, the output and the ground truth.
std::vector<target_spec> targets_of(const analyze_args& a, const std::string& target, const output_facts& f, const sample& s,
                                    std::size_t top_k) {
    const auto [kind, cls] = split_target(target);
    if (cls) check_class(*cls, f, "--target " + target);
    std::vector<target_spec> out;
    const camkit::shape_t P(f.y.shape.begin() + (f.segmentation ? 2 : 1), f.y.shape.end());
    const auto skipped = [&](std::size_t c) {
        return std::binary_search(a.skip_classes.begin(), a.skip_classes.end(), c);
    };
    const auto present = [&](const camkit::tensor<float>& labels) {
        std::set<std::size_t> cs;
        for (float v : labels.values)
            if (!skipped(static_cast<std::size_t>(v))) cs.insert(static_cast<std::size_t>(v));
        return cs;
    };
    if (!f.segmentation) {
        if (kind != "predicted" && kind != "all-classes" && kind != "class")
            fail("--target " + target + " needs a segmentation output [N, C, *P], the model gives " + camkit::to_string(f.y.shape));
        std::vector<std::size_t> cs;
        if (kind == "class") cs = {*cls};
        else
            for (std::size_t c = 0; c < f.classes; ++c) cs.push_back(c);
        if (kind == "predicted") {
            // Classes by score, highest first (a one-channel output: class 1 when its logit is positive).
            const auto score = [&](std::size_t c) { return f.y.shape[1] == 1 ? (c == 1 ? f.y[0] : -f.y[0]) : f.y[c]; };
            std::stable_sort(cs.begin(), cs.end(), [&](std::size_t x, std::size_t y) { return score(x) > score(y); });
            cs.resize(std::min(cs.size(), top_k ? top_k : 1));
        }
        // Skipped classes leave their targets out (a top class skipped: no target, not the next one).
        std::erase_if(cs, skipped);
        for (std::size_t c : cs)
            out.push_back({(kind == "predicted" ? "predicted" : "class") + std::to_string(c), c, camkit::class_score(c), {}});
        return out;
    }
    if (a.top_k) fail("--top-k goes with a classifier; a segmentation's predicted targets are the classes it predicts");
    if (kind == "component-at" || kind == "point") {
        // One target: class C, or the class predicted at --at; the region of its metrics is the
        // connected part of that class's predicted region holding --at (empty where it misses).
        const camkit::shape_t pos = camkit_torch_tool::output_position(f.y, a.at);
        const std::size_t c = cls ? *cls : static_cast<std::size_t>(f.output_labels[camkit::detail::flat_position(P, pos, "--at")]);
        const camkit::tensor<float> part = camkit::component_at(f.y, c, pos);
        const camkit::tensor<float> m = kind == "point" ? camkit::pixel(P, pos) : part;
        out.push_back({(kind == "point" ? "point" : "component") + std::to_string(c), c, camkit::mask_sum(c, m),
                       nearest(drop_batch(part), s.size)});
    } else if (kind == "predicted" || kind == "largest-component" || kind == "smallest-component") {
        std::set<std::size_t> cs = cls ? std::set<std::size_t>{*cls} : present(f.labels);
        for (std::size_t c : cs) {
            if (kind == "predicted") {
                out.push_back({"predicted" + std::to_string(c), c, camkit::mask_sum(c, camkit::predicted_region(f.y, c)),
                               class_mask(f.labels, c)});
            } else {
                camkit::tensor<float> m = camkit_torch_tool::region_mask(kind, f.y, c, {});
                const std::string name = (kind == "largest-component" ? "largest" : "smallest") + std::to_string(c);
                out.push_back({name, c, camkit::mask_sum(c, m), nearest(drop_batch(m), s.size)});
            }
        }
    } else if (kind == "gt") {
        if (!s.gt) fail("--target gt: no ground truth for this image");
        for (std::size_t c : present(*s.gt)) {
            check_class(c, f, "ground truth");
            const camkit::tensor<float> region = class_mask(*s.gt, c);
            out.push_back({"gt" + std::to_string(c), c, camkit::mask_sum(c, nearest(region, P)), region});
        }
    } else {
        std::vector<std::size_t> cs;
        if (kind == "class") cs = {*cls};
        else
            for (std::size_t c = 0; c < f.classes; ++c)
                if (!skipped(c)) cs.push_back(c);
        for (std::size_t c : cs) out.push_back({"class" + std::to_string(c), c, camkit::whole_image(c), class_mask(f.labels, c)});
    }
    return out;
}

/// The targets of one image: those of each --target in order; a target that two of them give
/// (class:3 and all-classes both give class3) is one row, where it first appears.
std::vector<target_spec> make_targets(const analyze_args& a, const output_facts& f, const sample& s, std::size_t top_k) {
    std::vector<target_spec> out;
    for (const std::string& target : a.targets)
        for (target_spec& t : targets_of(a, target, f, s, top_k))
            if (std::none_of(out.begin(), out.end(), [&](const target_spec& o) { return o.name == t.name; }))
                out.push_back(std::move(t));
    return out;
}

/// The maps of one image, [target][method][layer], each [*S] at the input's size.
using map_grid = std::vector<std::vector<std::vector<camkit::tensor<float>>>>;

/// After `--layer auto` is resolved: the layer it chose is not also named by another --layer.
void check_chosen_layer(const std::vector<std::string>& layers) {
    for (const auto& l : layers)
        if (std::count(layers.begin(), layers.end(), l) > 1) fail("--layer auto chose " + l + ", which another --layer names");
}

/// The model of a run: a TorchScript module whose layers one forward records, or an exported
/// package (.pt2) whose functions record its layers.
struct model_source {
    std::optional<torch::jit::Module> script;
    at::ScalarType dtype = at::kFloat;  ///< what the inputs are cast to: the model's floating-point type
    std::optional<camkit::torch::scripted_layers> layers;
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
    std::optional<camkit::torch::exported_model> package;
    std::vector<std::size_t> package_layers;  // --layer's indices in package->layers()
#endif

    /// Loads --model: a package's layers fill --layer when it is not given; `--layer auto` becomes
    /// the layer candidate_layer chooses on `first_input()` (a package's one layer).
    model_source(analyze_args& a, const at::Device& device, const std::function<at::Tensor()>& first_input) {
        if (!camkit_torch_tool::is_package_path(a.model)) {
            script = camkit_torch_tool::load_model(a.model);
            script->to(device);
            dtype = camkit_torch_tool::model_dtype(*script);
            for (std::string& l : a.layers)
                if (l == "auto") l = camkit_torch_tool::resolve_layer(*script, l, first_input().to(device, dtype), a.model_output);
            check_chosen_layer(a.layers);
            layers.emplace(*script, a.layers, a.model_output);
            return;
        }
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
        package.emplace(a.model);
        const std::vector<std::string>& recorded = package->layers();
        if (a.layers.empty()) {
            a.layers = recorded;
            if (a.refine && a.layers.size() < 2)
                fail("--refine needs two layers or more (the first is the high-resolution one); " + a.model +
                     " records " + camkit_torch_tool::recorded_layers(recorded));
        }
        for (std::string& l : a.layers) l = camkit_torch_tool::resolve_package_layer(a.model, l, recorded);
        check_chosen_layer(a.layers);
        for (const std::string& l : a.layers) {  // --layer names no layer twice
            const auto it = std::find(recorded.begin(), recorded.end(), l);
            if (it == recorded.end())
                fail(a.model + " records " + camkit_torch_tool::recorded_layers(recorded) + " only, not --layer " + l +
                     " (export_cam.py records several with --layer given more than once)");
            package_layers.push_back(static_cast<std::size_t>(it - recorded.begin()));
        }
        const bool gradient_methods =
            std::any_of(a.methods.begin(), a.methods.end(), [](const std::string& m) { return m != "scorecam"; });
        if (!package->has_gradient() && gradient_methods)
            fail(a.model + " is a forward-only package; the gradient methods need the gradient function (export it "
                 "without --forward-only), or use --method scorecam alone");
#else
        fail("--model " + a.model + ": this camkit-torch was built with a LibTorch without AOTInductor (before 2.6), "
             "which cannot load .pt2 packages; use a TorchScript model");
#endif
    }

    /// One forward: the output and each layer's activations (with the autograd graph for a
    /// TorchScript model, which then needs `x` to require gradients).
    camkit::torch::scripted_layers::pass forward(const at::Tensor& x) {
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
        if (package) {
            camkit::torch::layered_pass p = camkit::torch::capture_activations_layers(*package, x.detach());
            camkit::torch::scripted_layers::pass out{std::move(p.output), {}};
            for (std::size_t l : package_layers) out.activations.push_back(p.activations[l]);
            return out;
        }
#endif
        return layers->forward(x);
    }

    /// Each layer's gradients [T, K, *s] of the targets' scores (undefined where the output does
    /// not depend on the layer), with the passes they took: TorchScript by one backward per target
    /// through `pass`'s graph; a package by its gradient function (a forward and a backward each
    /// call) on `x` repeated once per target, ⌈T / batch⌉ calls.
    struct target_gradients {
        std::vector<at::Tensor> per_layer;
        std::size_t forward = 0, backward = 0;
    };
    target_gradients gradients([[maybe_unused]] const at::Tensor& x, const camkit::torch::scripted_layers::pass& pass,
                               std::span<const camkit::target> targets) {
        target_gradients out;
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
        if (package) {
            const std::size_t calls = package->gradient_calls();
            camkit::torch::layered_pass p = camkit::torch::capture_gradients_many_layers(*package, x.detach(), targets);
            for (std::size_t l : package_layers) out.per_layer.push_back(std::move(p.gradients[l]));
            out.forward = out.backward = package->gradient_calls() - calls;
            return out;
        }
#endif
        std::vector<std::vector<at::Tensor>> grads(pass.activations.size());
        for (std::size_t t = 0; t < targets.size(); ++t) {
            const at::Tensor seed = camkit::torch::seed_and_score(pass.output, targets.subspan(t, 1)).seed;
            const std::vector<at::Tensor> g =
                torch::autograd::grad({pass.output}, pass.activations, {seed.to(pass.output.scalar_type())},
                                      /*retain_graph=*/t + 1 < targets.size(), false, /*allow_unused=*/true);
            ++out.backward;
            for (std::size_t l = 0; l < g.size(); ++l) grads[l].push_back(g[l]);
        }
        for (const auto& g : grads)
            out.per_layer.push_back(std::all_of(g.begin(), g.end(), [](const at::Tensor& t) { return t.defined(); })
                                        ? at::cat(g)
                                        : at::Tensor());
        return out;
    }

    /// Calls f(model) with what Score-CAM's masked inputs run through: the TorchScript forward (of
    /// the chosen output) or the package.
    template <class F>
    void with_model(const std::string& model_output, F&& f) {
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
        if (package) return f(*package);
#endif
        f(camkit::torch::forward_of(*script, model_output));
    }
};

/// Model, recorder and run-wide settings.
struct analyzer {
    const analyze_args& a;
    model_source model;
    at::Device device;
    std::vector<std::string> gradient_methods;
    bool scorecam = false;

    /// Forward with every layer recorded, one backward per target for all layers, every gradient
    /// method on the shared A and G; Score-CAM per layer for all targets when asked.
    map_grid compute(const sample& s, const std::vector<target_spec>& targets, const at::Tensor& x,
                     const camkit::torch::scripted_layers::pass& pass, camkit_analyze::record& rec) {
        const std::size_t T = targets.size(), L = a.layers.size();
        map_grid maps(T, std::vector<std::vector<camkit::tensor<float>>>(a.methods.size(), std::vector<camkit::tensor<float>>(L)));
        camkit::options opt;
        opt.size = s.size;
        opt.renormalize = a.renormalize;
        if (T == 0) return maps;
        if (!gradient_methods.empty()) {
            std::vector<camkit::target> what;
            for (const target_spec& t : targets) what.push_back(t.t);
            const auto got = model.gradients(x, pass, what);
            rec.forward += got.forward;
            rec.backward += got.backward;
            for (std::size_t l = 0; l < L; ++l) {
                const at::Tensor& G = got.per_layer[l];
                if (!G.defined()) fail("the model output does not depend on layer '" + a.layers[l] + "'");
                const at::Tensor A = pass.activations[l].detach().expand_as(G);
                for (std::size_t mi = 0; mi < a.methods.size(); ++mi) {
                    if (a.methods[mi] == "scorecam") continue;
                    at::Tensor m;
                    camkit::with_method(a.methods[mi], [&](auto type) {
                        using M = typename decltype(type)::type;
                        m = camkit::explain<M>(A, G, opt).map;
                    });
                    const camkit::tensor<float> host = to_host(m);
                    const std::size_t per = host.size() / T;
                    for (std::size_t t = 0; t < T; ++t) {
                        camkit::tensor<float> one(s.size);
                        std::copy_n(host.values.begin() + static_cast<std::ptrdiff_t>(t * per), per, one.values.begin());
                        maps[t][mi][l] = std::move(one);
                    }
                }
            }
        }
        rec.separate_forward = rec.separate_backward = T * L * gradient_methods.size();
        if (scorecam) {
            // Score-CAM from the activations of the pass above (no forward of its own to record
            // them), every target scored on the same masked forwards of a layer (the masks depend on
            // the layer only): they are counted; separate explain calls would run a forward that
            // records the layer and the masked ones per target.
            const std::size_t mi = static_cast<std::size_t>(std::find(a.methods.begin(), a.methods.end(), "scorecam") - a.methods.begin());
            std::int64_t masked = 0;
            camkit::torch::score_cam_options sopt;
            sopt.batch_size = a.batch_size;
            sopt.progress = [&](std::int64_t, std::int64_t) { ++masked; };  // once per masked forward
            const at::Tensor plain = x.detach(), output = pass.output.detach();
            std::vector<camkit::torch::seed_score> scores;
            for (std::size_t t = 0; t < T; ++t) {
                const std::vector<camkit::target> what{targets[t].t};
                scores.push_back(camkit::torch::objective(what).sample_score_for(output));
            }
            model.with_model(a.model_output, [&](auto&& forward) {
                for (std::size_t l = 0; l < L; ++l) {
                    const auto results = camkit::torch::score_cam_many(forward, plain, pass.activations[l].detach(),
                                                                       std::span<const camkit::torch::seed_score>(scores), opt, sopt);
                    for (std::size_t t = 0; t < T; ++t) maps[t][mi][l] = drop_batch(to_host(results[t].map));
                }
            });
            rec.forward += static_cast<std::size_t>(masked);
            rec.separate_forward += T * L + T * static_cast<std::size_t>(masked);
        }
        return maps;
    }
};

/// The model's segmentation against the ground truth in one image: the pixel counts of each class
/// predicted or true there (labels and truth at the image's size).
std::vector<camkit_analyze::class_overlap> class_overlaps(const camkit::tensor<float>& labels, const camkit::tensor<float>& truth,
                                                          std::size_t classes) {
    std::vector<camkit_analyze::class_overlap> o(classes);
    for (std::size_t c = 0; c < classes; ++c) o[c].cls = c;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto p = static_cast<std::size_t>(labels[i]), t = static_cast<std::size_t>(truth[i]);
        if (p < classes) o[p].predicted += 1;
        if (t < classes) o[t].truth += 1;
        if (p == t && p < classes) o[p].both += 1;
    }
    std::erase_if(o, [](const camkit_analyze::class_overlap& x) { return x.predicted == 0 && x.truth == 0; });
    return o;
}

/// The metric row of one map.
camkit_analyze::row metric_row(const std::string& stem, const target_spec& t, const std::string& method,
                               const std::string& layer, const camkit::tensor<float>& map, const output_facts& f,
                               const sample& s) {
    using camkit_analyze::number;
    camkit_analyze::row r;
    auto& c = r.cells;
    c[0] = stem, c[1] = t.name, c[2] = std::to_string(t.cls), c[3] = method, c[4] = layer;
    c[5] = number(camkit::attention_mean(map));
    c[6] = number(camkit::attention_std(map));
    if (t.region.size()) {
        c[7] = number(camkit::attention_ratio(map, t.region));
        c[8] = number(camkit::energy_inside(map, t.region));
        // A constant map (a blank one: a class the layer shows nothing of) has no peak to point
        // with: no value, as energy inside has none for an all-zero map (the library's
        // pointing_hit would take its first position).
        if (camkit::has_peak(map)) c[9] = camkit::pointing_hit(map, t.region) ? "1" : "0";
    }
    if (f.segmentation) {
        const camkit::tensor<float> pred = class_mask(f.labels, t.cls);
        c[10] = number(camkit::iou_at(map, pred, 0.5));
        if (s.gt) {
            const camkit::tensor<float> truth = class_mask(*s.gt, t.cls);
            c[11] = number(camkit::iou_at(map, truth, 0.5));
            double inter = 0, p = 0, g = 0;
            for (std::size_t i = 0; i < pred.size(); ++i) inter += pred[i] * truth[i], p += pred[i], g += truth[i];
            c[12] = number(p + g - inter > 0 ? inter / (p + g - inter) : std::nan(""));
            c[13] = number(p + g > 0 ? 2 * inter / (p + g) : std::nan(""));
        }
    }
    return r;
}

/// The options that decide an image's results, so a resumed run can tell whether --out holds the same analysis.
std::string run_signature(const analyze_args& a) {
    std::ostringstream o;
    o << "camkit-torch analyze run 1\nmodel " << fs::weakly_canonical(a.model).string() << "\nsource "
      << (a.images.empty() ? "inputs " + fs::weakly_canonical(a.inputs).string() : "images " + fs::weakly_canonical(a.images).string())
      << "\ntruth " << (a.masks.empty() && a.gt.empty() ? "none" : fs::weakly_canonical(a.masks.empty() ? a.gt : a.masks).string())
      << "\nlayers";
    for (const auto& l : a.layers) o << " " << l;
    o << "\nmethods";
    for (const auto& m : a.methods) o << " " << m;
    o << "\ntarget " << a.target << " top-k " << a.top_k;
    if (!a.at.empty()) o << " at " << camkit::to_string(a.at);  // absent before --at existed: earlier runs resume
    if (!a.model_output.empty()) o << " model-output " << a.model_output;  // likewise
    if (!a.skip_classes.empty()) {
        o << " skip-class";  // likewise
        for (std::size_t c : a.skip_classes) o << " " << c;
    }
    o << "\nresize " << camkit::to_string(a.resize) << "\nmean";
    for (double v : a.mean) o << " " << v;
    o << "\nstd";
    for (double v : a.std) o << " " << v;
    o << "\nchannels " << (a.gray ? "gray" : "rgb") << "\nsave-maps " << a.save_maps << " refine " << a.refine;
    if (a.renormalize) o << " renormalize";  // absent before --renormalize existed: earlier runs resume
    o << "\n";
    return o.str();
}

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

/// SIGINT sets a flag for the duration of the run (the loop stops after the current image).
struct interrupt_scope {
    using handler = void (*)(int);
    handler previous;
    interrupt_scope() : previous(std::signal(SIGINT, on_interrupt)) { interrupted = 0; }
    ~interrupt_scope() { std::signal(SIGINT, previous); }
};

int run_analyze(const std::vector<std::string>& args) {
    analyze_args a = parse_analyze_args(args);

    // Everything that can be checked before the work starts: the data, the model, the layers, the
    // normalization, the output folder.
    camkit::io::regular_file_size(a.model, UINT64_MAX);
    const data_set data(a);
    camkit_torch_tool::check_mean_std_count(a.mean, a.std, data.channels());
    if (a.refine && data.spatial_rank() != 2) fail("--refine needs 2-D inputs");
    if (a.device == "cuda" && !torch::cuda::is_available()) fail("--device cuda: this LibTorch build or machine has no CUDA device");
    const at::Device device(a.device == "cuda" ? at::kCUDA : at::kCPU);
    // --layer auto is chosen on the first input that loads (its first sample); the probe below
    // takes that sample again from `loaded` when it is the same image.
    std::optional<std::pair<std::size_t, sample>> loaded;
    const auto load_once = [&](std::size_t i) -> const sample& {
        if (!loaded || loaded->first != i) loaded.emplace(i, data.load(i));
        return loaded->second;
    };
    const auto first_input = [&]() -> at::Tensor {
        for (std::size_t i = 0; i < data.size(); ++i) {
            try {
                return load_once(i).input;
            } catch (const std::exception&) {
                // a bad file is reported in the loop, with the others
            }
        }
        fail("--layer auto: no input of the data set loads, to choose the layer on");
    };
    analyzer an{a, model_source(a, device, first_input), device, {}, false};
    for (const auto& m : a.methods) {
        if (m == "scorecam") an.scorecam = true;
        else an.gradient_methods.push_back(m);
    }

    const fs::path out(a.out);
    camkit_cli::check_output_folder("--out", a.out);  // created once the first checks pass
    const std::string signature = run_signature(a);
    if (fs::exists(out / "run.txt")) {
        const auto bytes = camkit::io::read_file((out / "run.txt").string(), 1 << 20);
        if (std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) != signature)
            fail("--out " + a.out + " holds a run with other options (see its run.txt); use another folder to start anew");
    }

    // Finished images (their record is complete) are not redone.
    std::vector<std::optional<camkit_analyze::record>> done(data.size());
    std::size_t todo = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        done[i] = camkit_analyze::read_record((out / "records" / (data.stem(i) + ".csv")).string(), data.stem(i));
        todo += !done[i];
    }

    // A first image through the model, before anything is written: the model runs on this input
    // and the classes of --target exist. The first one that loads, done or not (a resumed run's
    // new options are checked too); a bad file is reported in the loop with the others, unless
    // it is the only input.
    std::size_t probe = 0;
    const sample* s = nullptr;
    for (; probe < data.size() && !s; ++probe) {
        try {
            s = &load_once(probe);
        } catch (const std::exception& e) {
            if (data.size() == 1) {
                std::string what = e.what();
                if (what.starts_with("camkit: ")) what = what.substr(8);
                fail(camkit_cli::one_line(what));
            }
        }
    }
    if (s) {
        --probe;
        {
            at::NoGradGuard no_grad;
            const camkit::torch::scripted_layers::pass probe_pass =
                camkit_torch_tool::model_step(camkit_torch_tool::input_words(s->input, data.file(probe)),
                                              [&] { return an.model.forward(s->input.to(device, an.model.dtype)); });
            const at::Tensor& output = probe_pass.output;
            const output_facts f = facts_of(output, s->size);
            // --refine takes the first layer's map as the high-resolution one: a layer of more
            // positions after it would be refined by a coarser map.
            const auto positions = [&](std::size_t l) {
                const at::Tensor& act = probe_pass.activations[l];
                return act.defined() && act.dim() > 2 ? act.numel() / (act.size(0) * act.size(1)) : std::int64_t{0};
            };
            // a layer without spatial axes fails here; the warnings wait for the other checks
            std::vector<std::string> warnings;
            for (std::size_t l = 0; l < a.layers.size(); ++l)
                if (std::string w = camkit_torch_tool::check_layer_output(a.layers[l], probe_pass.activations[l]); !w.empty())
                    warnings.push_back(std::move(w));
            for (std::size_t l = 1; a.refine && l < a.layers.size(); ++l)
                if (positions(l) > positions(0))
                    fail("--refine takes the first --layer as the high-resolution one, but " + a.layers[0] + "'s maps have " +
                         std::to_string(positions(0)) + " position(s) and " + a.layers[l] + "'s " + std::to_string(positions(l)) +
                         ": give the finest layer first");
            if (s->gt)
                for (float v : s->gt->values)
                    if (v >= static_cast<float>(f.classes))
                        fail("the ground truth of " + data.file(probe) + " holds class " + std::to_string(static_cast<std::size_t>(v)) +
                             " but the model has " + std::to_string(f.classes) + " classes (0 to " + std::to_string(f.classes - 1) +
                             ")" + (v == 255.0f ? "; a binary mask saved as 0/255? masks hold class indices: 0 and 1" : ""));
            for (const std::string& target : a.targets) {
                const auto [kind, cls] = split_target(target);
                if (cls) check_class(*cls, f, "--target " + target);
                if (!f.segmentation && kind != "predicted" && kind != "all-classes" && kind != "class")
                    fail("--target " + target + " needs a segmentation output [N, C, *P], the model gives " +
                         camkit::to_string(f.y.shape));
            }
            if (f.segmentation && !a.at.empty()) camkit_torch_tool::output_position(f.y, a.at);
            if (f.segmentation && a.top_k) fail("--top-k goes with a classifier output [N, C], the model gives " + camkit::to_string(f.y.shape));
            for (std::size_t c : a.skip_classes) check_class(c, f, "--skip-class");
            if (!a.class_names.empty() && a.class_names.size() != f.classes)
                fail("--class-names gives " + std::to_string(a.class_names.size()) + " names but the model output " +
                     camkit::to_string(f.y.shape) + " has " + std::to_string(f.classes) + " classes");
            for (const std::string& w : warnings) std::cerr << "camkit-torch: warning: " << w << "\n";
        }
    }
    for (const char* sub : {"records", "panels"}) camkit_cli::create_folder("--out", out / sub);
    camkit_analyze::write_text((out / "run.txt").string(), signature);

    const interrupt_scope sigint;
    camkit_analyze::progress bar(todo);
    std::vector<camkit_analyze::failure> failed;
    bool stopped = false;
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (done[i]) continue;
        if (interrupted) {
            stopped = true;
            break;
        }
        const std::string stem = data.stem(i);
        try {
            const sample s = data.load(i);
            camkit_analyze::record rec;
            rec.stem = stem;
            const at::Tensor x = s.input.to(device, an.model.dtype).detach().requires_grad_(true);
            const camkit::torch::scripted_layers::pass pass = an.model.forward(x);
            ++rec.forward;
            for (std::size_t l = 0; l < a.layers.size(); ++l)
                if (!pass.activations[l].defined() || (an.model.script && !pass.activations[l].requires_grad()))
                    fail("layer '" + a.layers[l] + "' was not reached during forward, or does not depend on the input");
            const output_facts f = facts_of(pass.output, s.size);
            if (s.gt)
                for (float v : s.gt->values)
                    if (v >= static_cast<float>(f.classes))
                        fail("the ground truth holds class " + std::to_string(static_cast<std::size_t>(v)) + " but the model has " +
                             std::to_string(f.classes) + " classes");
            const std::vector<target_spec> targets = make_targets(a, f, s, a.top_k);
            if (s.gt && f.segmentation) rec.overlaps = class_overlaps(f.labels, *s.gt, f.classes);
            const map_grid maps = an.compute(s, targets, x, pass, rec);

            camkit_analyze::panel_content panel;
            std::vector<const camkit::tensor<float>*> regions, all_maps;
            for (const target_spec& t : targets) regions.push_back(&t.region);
            for (const auto& per_target : maps)
                for (const auto& per_method : per_target)
                    for (const camkit::tensor<float>& m : per_method) all_maps.push_back(&m);
            const std::size_t depth = camkit_analyze::panel_depth(s.size, regions, all_maps);
            panel.image = picture_slice(s.picture, s.size, depth);
            if (s.size.size() == 3)
                panel.image_caption = "slice " + std::to_string(depth) + " of " + std::to_string(s.size[0]);
            if (s.gt) panel.truth = panel_slice(*s.gt, depth);
            if (f.segmentation) panel.prediction = panel_slice(f.labels, depth);
            for (const auto& m : a.methods)
                for (const auto& l : a.layers) panel.columns.push_back({m, l});
            for (std::size_t t = 0; t < targets.size(); ++t) {
                rec.targets.push_back(targets[t].name);
                camkit_analyze::panel_content::target_row prow;
                prow.name = targets[t].name;
                if (targets[t].cls < a.class_names.size()) prow.caption = a.class_names[targets[t].cls];
                if (targets[t].region.size()) prow.region = panel_slice(targets[t].region, depth);
                for (std::size_t m = 0; m < a.methods.size(); ++m)
                    for (std::size_t l = 0; l < a.layers.size(); ++l) {
                        const camkit::tensor<float>& map = maps[t][m][l];
                        if (auto bad = camkit_cli::first_non_finite<float>(map.values))
                            fail("the " + a.methods[m] + " map of layer " + a.layers[l] + " is not finite");
                        rec.rows.push_back(metric_row(stem, targets[t], a.methods[m], a.layers[l], map, f, s));
                        prow.maps.push_back(panel_slice(map, depth));
                    }
                panel.rows.push_back(std::move(prow));
            }
            if (a.save_maps || a.refine) {
                const fs::path dir = out / "maps" / stem;
                fs::create_directories(dir);
                for (std::size_t t = 0; t < targets.size(); ++t)
                    for (std::size_t m = 0; m < a.methods.size(); ++m)
                        for (std::size_t l = 0; l < a.layers.size(); ++l) {
                            const std::string base = targets[t].name + "__" + a.methods[m] + "__" + a.layers[l];
                            if (a.save_maps) camkit::io::write_npy((dir / (base + ".npy")).string(), maps[t][m][l]);
                            if (a.refine && l > 0) {
                                // A degenerate pair (a constant map: e.g. a class the layer shows nothing
                                // of) has no refinement; the other maps of the image are still good.
                                try {
                                    const auto r = camkit::refine(maps[t][m][l], maps[t][m][0]);
                                    camkit::io::write_npy((dir / (base + "__refined.npy")).string(), r.merged);
                                } catch (const camkit::error& e) {
                                    bar.finish_line();
                                    std::cerr << "camkit-torch analyze: " << data.file(i) << ": no refined map " << base
                                              << ": " << camkit_cli::one_line(e.what()) << "\n";
                                }
                            }
                        }
            }
            camkit::io::write_png((out / "panels" / (stem + ".png")).string(), camkit_analyze::draw_panel(panel));
            camkit_analyze::write_text((out / "records" / (stem + ".csv")).string(), camkit_analyze::record_text(rec));
            done[i] = std::move(rec);
            bar.step(stem, true);
        } catch (const std::bad_alloc&) {
            throw;
        } catch (const std::exception& e) {
            std::string what = e.what();
            if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) what = camkit_torch_tool::model_error(c10->what_without_backtrace());
            if (what.starts_with("camkit: ")) what = what.substr(8);
            what = camkit_cli::one_line(what);
            failed.push_back({data.file(i), what});
            bar.finish_line();
            std::cerr << "camkit-torch analyze: " << data.file(i) << ": " << what << "\n";
            bar.step(stem, false);
        }
    }

    // The data set's files, from every finished record (this run's and earlier runs').
    std::vector<camkit_analyze::record> records;
    for (auto& d : done)
        if (d) records.push_back(*d);
    camkit_analyze::run_info info{fs::path(a.model).filename().string(), a.target, a.methods, a.layers, data.size(), stopped,
                                  a.class_names, a.skip_classes};
    camkit_analyze::write_text((out / "metrics.csv").string(), camkit_analyze::metrics_csv(records));
    const camkit_analyze::tables tables = camkit_analyze::tables_of(records);
    camkit_analyze::write_text((out / "summary.json").string(),
                               camkit_analyze::summary_json(records, tables, failed, a.class_names));
    camkit_analyze::write_text((out / "report.html").string(), camkit_analyze::report_html(info, records, tables, failed));
    if (stopped) {
        bar.finish_line();
        std::cerr << "camkit-torch analyze: interrupted; " << records.size() << " of " << data.size()
                  << " images are done (run again with the same --out to resume)\n";
        return 130;
    }
    if (!failed.empty())
        fail(std::to_string(failed.size()) + " of " + std::to_string(data.size()) + " inputs failed (first: " + failed[0].file +
             ": " + failed[0].message + "); the report covers the " + std::to_string(records.size()) + " done, in " + a.out);
    const auto count = [](std::size_t n, const std::string& what) {
        return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    std::cout << "camkit-torch analyze: " << count(records.size(), "image") << ", " << count(a.methods.size(), "method")
              << " x " << count(a.layers.size(), "layer") << " -> " << (out / "report.html").string() << "\n";
    return 0;
}

const camkit_cli::registration analyze{
    {"analyze", "a data set through several layers and methods: panels, metrics.csv, summary.json, report.html",
     help, run_analyze}};

}  // namespace
