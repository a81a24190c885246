// `camkit refine`: refines a low-res CAM by a high-res CAM (High-Resolution Class Activation
// Mapping, Tagaris et al., ICIP 2019) and writes every step (include/camkit/refine/).
#include "../../common/app.hpp"

#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/refine/panel.hpp>
#include <camkit/refine/refine.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using camkit_cli::fail;

constexpr const char* help =
    "usage: camkit refine --low LOW.npy --high HIGH.npy --out-dir DIR [--image IMG.png]\n"
    "                     [--roi-percentile P] [--focal global|local] [--focal-points N]\n"
    "                     [--maxima-areas small|large] [--merge blend|multiply] [--alpha A]\n"
    "                     [--keep-percentage P | --keep-threshold T]\n"
    "\n"
    "Refines a low-res CAM by a high-res CAM as High-Resolution Class Activation Mapping does\n"
    "(Tagaris et al., ICIP 2019): the high-res map is blurred and its edges found, the low-res map\n"
    "resized and its top pixels taken as the region of interest, a region grown from focal points\n"
    "through edges between the roi's 25th and 75th percentile, completed by the strong edges, holes\n"
    "filled, and merged with the low-res map. Defaults are the original's.\n"
    "\n"
    "  --low LOW.npy          the low-res CAM, [h, w] or [1, h, w], float32 or float64\n"
    "  --high HIGH.npy        the high-res CAM, [H, W] or [1, H, W] (H >= h, W >= w)\n"
    "  --out-dir DIR          where the steps go (created if missing):\n"
    "                           blurred.npy edges.npy low_resized.npy merged.npy   float32 [H, W]\n"
    "                           roi.npy segmented.npy full_segment.npy keep.npy     uint8 masks [H, W]\n"
    "                           focal_points.npy   int64 [n, 2], row then column\n"
    "                           bounds.json        the region growing's lower and upper edge value\n"
    "                           pipeline.png       every step side by side: [image,] high-res CAM,\n"
    "                             low-res CAM, blurred, edges, roi, focal points, segmented,\n"
    "                             full segment, merged, result (or the keep mask)\n"
    "                           result.png         with --image: the image where the refined CAM keeps it\n"
    "  --image IMG.png        the picture the maps explain (PNG/JPEG of size H x W)\n"
    "  --roi-percentile P     the roi is the resized low-res map above its P-th percentile, 0 < P < 100\n"
    "                         (default 85)\n"
    "  --focal global|local   seeds: the N highest pixels of the resized low-res map (global, default)\n"
    "                         or its strong local maxima (local)\n"
    "  --focal-points N       global seeds (default round(sqrt(max(H, W))), 15 for 224 x 224)\n"
    "  --maxima-areas A       local maxima scaled up as whole blocks (large) or thinned (small, default)\n"
    "  --merge blend|multiply how the segment and the low-res map combine (default blend)\n"
    "  --alpha A              the segment's weight in the blend, 0 <= A <= 1 (default 0.5)\n"
    "  --keep-percentage P    result keeps about the top P % of the refined CAM, 0 < P <= 100 (default 15)\n"
    "  --keep-threshold T     result keeps the pixels whose normalized refined value exceeds T, 0 <= T <= 1\n"
    "\n"
    "Inputs must be regular files of at most 2^28 values. Outputs appear together at the end, or none\n"
    "does. Exit status: 0 success, 2 bad input, 1 internal error.\n";

/// The parsed `camkit refine` command line.
struct refine_args {
    std::string low, high, image, out_dir;
    camkit::refine_options opt;
    bool focal_points_given = false, areas_given = false, alpha_given = false, percentage_given = false,
         threshold_given = false;
};

double parse_number(std::string_view s, const std::string& name) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
        fail(name + " must be a finite number, got '" + std::string(s) + "'");
    return v;
}

/// An option whose value must be one of the two names of `choices`, stored in `out` as the
/// matching enumerator.
template <class E>
std::function<void(const std::string&)> one_of(const std::string& name, std::vector<std::pair<std::string, E>> choices,
                                               E& out, bool* given = nullptr) {
    return [name, choices, &out, given](const std::string& v) {
        for (const auto& [text, value] : choices)
            if (v == text) {
                out = value;
                if (given) *given = true;
                return;
            }
        fail(name + " must be " + choices[0].first + " or " + choices[1].first + ", got '" + v + "'");
    };
}

refine_args parse_refine_args(const std::vector<std::string>& args) {
    refine_args a;
    auto number = [&](const char* name, double& out, bool* given = nullptr) {
        return [&out, given, name](const std::string& v) {
            out = parse_number(v, name);
            if (given) *given = true;
        };
    };
    camkit_cli::option_parser("camkit refine")
        .value("--low", a.low)
        .value("--high", a.high)
        .value("--image", a.image)
        .value("--out-dir", a.out_dir)
        .value("--roi-percentile", number("--roi-percentile", a.opt.roi_percentile))
        .value("--alpha", number("--alpha", a.opt.alpha, &a.alpha_given))
        .value("--keep-percentage", number("--keep-percentage", a.opt.keep_percentage, &a.percentage_given))
        .value("--keep-threshold", number("--keep-threshold", a.opt.keep_threshold, &a.threshold_given))
        .value("--focal-points",
               [&](const std::string& v) {
                   a.opt.focal_points = static_cast<std::size_t>(camkit_cli::parse_count(v, "--focal-points", 1));
                   a.focal_points_given = true;
               })
        .value("--focal",
               one_of("--focal", {{"global", camkit::focal_scope::global}, {"local", camkit::focal_scope::local}},
                      a.opt.focal))
        .value(
            "--maxima-areas",
            one_of("--maxima-areas", {{"small", camkit::maxima_areas::small}, {"large", camkit::maxima_areas::large}},
                   a.opt.areas, &a.areas_given))
        .value("--merge",
               one_of("--merge", {{"blend", camkit::merge_mode::blend}, {"multiply", camkit::merge_mode::multiply}},
                      a.opt.merge))
        .parse(args);
    if (a.low.empty()) fail("--low is required");
    if (a.high.empty()) fail("--high is required");
    if (a.out_dir.empty()) fail("--out-dir is required");
    if (a.percentage_given && a.threshold_given) fail("--keep-percentage and --keep-threshold exclude each other");
    if (a.threshold_given) a.opt.keep = camkit::keep_mode::threshold;
    if (a.focal_points_given && a.opt.focal != camkit::focal_scope::global)
        fail("--focal-points applies to --focal global only");
    if (a.areas_given && a.opt.focal != camkit::focal_scope::local)
        fail("--maxima-areas applies to --focal local only");
    if (a.alpha_given && a.opt.merge != camkit::merge_mode::blend) fail("--alpha applies to --merge blend only");
    // The library's checks, here so that a bad value fails before any file is read.
    if (!(a.opt.roi_percentile > 0 && a.opt.roi_percentile < 100))
        fail("--roi-percentile must be in (0, 100), got " + std::to_string(a.opt.roi_percentile));
    if (!(a.opt.alpha >= 0 && a.opt.alpha <= 1)) fail("--alpha must be in [0, 1], got " + std::to_string(a.opt.alpha));
    if (!(a.opt.keep_percentage > 0 && a.opt.keep_percentage <= 100))
        fail("--keep-percentage must be in (0, 100], got " + std::to_string(a.opt.keep_percentage));
    if (!(a.opt.keep_threshold >= 0 && a.opt.keep_threshold <= 1))
        fail("--keep-threshold must be in [0, 1], got " + std::to_string(a.opt.keep_threshold));
    return a;
}

/// A 2-D map from a .npy file of [H, W] or [1, H, W], its header checked before the data is read.
camkit::tensor<double> read_map(const std::string& path, const std::string& option) {
    camkit::shape_t shape = camkit::io::read_npy_header(path).shape;
    camkit_cli::check_values(camkit::element_count(shape), path + ": " + option + " " + camkit::to_string(shape));
    if (shape.size() == 3 && shape[0] == 1) shape.erase(shape.begin());
    if (shape.size() != 2 || shape[0] == 0 || shape[1] == 0)
        fail(option + " " + path + " must be a 2-D map [H, W] or [1, H, W], got shape " +
             camkit::to_string(camkit::io::read_npy_header(path).shape));
    camkit::tensor<double> map = camkit::io::read_npy<double>(path);
    map.shape = shape;
    return map;
}

/// A .npy file of `shape` with element type `descr` ('|u1' or '<i8', three characters like
/// encode_npy's '<f4') and the given raw little-endian data: encode_npy's header, retyped.
std::vector<std::byte> encode_typed(const camkit::shape_t& shape, std::string_view descr,
                                    const std::vector<std::byte>& data) {
    const std::vector<float> zeros(camkit::element_count(shape), 0.0f);
    std::vector<std::byte> bytes = camkit::io::encode_npy<float>(shape, zeros.data());
    bytes.resize(bytes.size() - 4 * zeros.size());
    const std::string_view header(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::size_t at = header.find("'<f4'");
    for (std::size_t i = 0; i < descr.size(); ++i) bytes[at + 1 + i] = static_cast<std::byte>(descr[i]);
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

std::vector<std::byte> encode_mask(const camkit::mask_t& m) {
    std::vector<std::byte> data(m.size());
    for (std::size_t i = 0; i < m.size(); ++i) data[i] = static_cast<std::byte>(m[i]);
    return encode_typed(m.shape, "|u1", data);
}

std::vector<std::byte> encode_points(const camkit::points_t& p) {
    std::vector<std::byte> data;
    for (std::int64_t v : p.values) {
        auto u = static_cast<std::uint64_t>(v);
        for (int b = 0; b < 8; ++b, u >>= 8) data.push_back(static_cast<std::byte>(u & 0xff));
    }
    return encode_typed(p.shape, "<i8", data);
}

std::vector<std::byte> text_bytes(const std::string& s) {
    std::vector<std::byte> out(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
    return out;
}

std::string json_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

int run_refine(const std::vector<std::string>& args) {
    const refine_args a = parse_refine_args(args);

    camkit_cli::file_set files({{"--low", a.low}, {"--high", a.high}, {"--image", a.image}});
    // A folder, or one to create in a folder that exists (only once the results are computed, so a
    // failed run leaves nothing behind); either writable.
    camkit_cli::check_output_folder("--out-dir", a.out_dir, true);

    const camkit::tensor<double> low = read_map(a.low, "--low");
    const camkit::tensor<double> high = read_map(a.high, "--high");
    if (a.focal_points_given && a.opt.focal_points > high.size())
        fail("--focal-points " + std::to_string(a.opt.focal_points) + " exceeds the " + std::to_string(high.size()) +
             " pixels of the high-res map " + a.high);
    std::optional<camkit::rgb_image> image;
    if (!a.image.empty()) {
        const camkit::io::image_info info = camkit::io::read_image_info(a.image);
        if (info.height != high.shape[0] || info.width != high.shape[1])
            fail("--image " + a.image + " is " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                 " but the high-res map is " + std::to_string(high.shape[0]) + "x" + std::to_string(high.shape[1]));
        image = camkit::io::read_image(a.image);
    }

    const camkit::refine_result<double> r = camkit::refine(low, high, image ? &*image : nullptr, a.opt);
    // Small maps are enlarged in the picture so that each panel is at least 128 pixels high.
    const std::size_t scale = std::min<std::size_t>(16, (128 + high.shape[0] - 1) / high.shape[0]);
    const camkit::rgb_image panel =
        camkit::refine_panel(r, high, image ? &*image : nullptr, camkit::colormap::jet, 6, 4, scale);

    camkit_cli::create_folder("--out-dir", a.out_dir);
    const auto out = [&](const std::string& name) {
        return files.output("--out-dir", (std::filesystem::path(a.out_dir) / name).string());
    };
    const auto to_float = [](const camkit::tensor<double>& t) {
        return camkit::tensor<float>(t.shape, std::vector<float>(t.values.begin(), t.values.end()));
    };
    files.write_npy(out("blurred.npy"), to_float(r.blurred));
    files.write_npy(out("edges.npy"), to_float(r.edges));
    files.write_npy(out("low_resized.npy"), to_float(r.low_resized));
    files.write(out("roi.npy"), encode_mask(r.roi));
    files.write(out("focal_points.npy"), encode_points(r.focal_points));
    files.write(out("segmented.npy"), encode_mask(r.segmented));
    files.write(out("full_segment.npy"), encode_mask(r.full_segment));
    files.write_npy(out("merged.npy"), to_float(r.merged));
    files.write(out("keep.npy"), encode_mask(r.keep));
    files.write(out("bounds.json"), text_bytes("{\"lower\": " + json_number(r.bounds.lower) +
                                               ", \"upper\": " + json_number(r.bounds.upper) + "}\n"));
    files.write(out("pipeline.png"), camkit::io::encode_png(panel));
    if (image) files.write(out("result.png"), camkit::io::encode_png(r.result));
    files.commit();

    std::size_t segmented = 0, kept = 0;
    for (auto v : r.full_segment.values) segmented += v;
    for (auto v : r.keep.values) kept += v;
    std::cout << "camkit: refined " << camkit::to_string(low.shape) << " by " << camkit::to_string(high.shape) << ": "
              << r.focal_points.shape[0] << " focal points, edges in [" << r.bounds.lower << ", " << r.bounds.upper
              << "], full segment " << segmented << " pixels, keeps " << kept << " -> " << a.out_dir << "\n";
    return 0;
}

const camkit_cli::registration refine{
    {"refine", "refine a low-res CAM by a high-res CAM (High-Resolution CAM), every step saved", help, run_refine}};

}  // namespace
