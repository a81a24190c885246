// `camkit stats`: the U-Net++ analysis tool's attention statistics of saved maps against a region.
#include "../../common/app.hpp"

#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/metrics.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using camkit_cli::fail;

constexpr const char* help =
    "usage: camkit stats --map MAP.npy --mask MASK.npy|MASK.png [--threshold T] [--single]\n"
    "\n"
    "Prints, for every sample of the maps, one JSON object on a line of its own with the keys\n"
    "attention_mean attention_std attention_ratio energy_inside pointing_hit iou:\n"
    "  attention_mean    mean of the map over every position\n"
    "  attention_std     standard deviation of the map over every position (population, as np.std)\n"
    "  attention_ratio   mean inside the region / mean outside it\n"
    "  energy_inside     sum inside the region / sum of the map\n"
    "  pointing_hit      whether the map's maximum (its first position) lies in the region; null for a\n"
    "                    constant map, which has no peak\n"
    "  iou               intersection over union of {map > T} with the region\n"
    "\n"
    "  --map MAP.npy       finished maps [N, L], [N, H, W] or [N, D, H, W] (as 'camkit cam --out' writes\n"
    "                      them), float32 or float64, finite and >= 0\n"
    "  --mask MASK         the region: a .npy of the maps' shape (one region per sample) or of one\n"
    "                      sample's shape (shared), float32, float64, uint8, bool (refine's masks), int32 or int64;\n"
    "                      or a PNG/JPEG of the 2-D maps'\n"
    "                      size, shared. Nonzero values (pixels with any nonzero channel) are inside.\n"
    "  --threshold T       the IoU threshold (default 0.5)\n"
    "  --single            MAP holds one sample without the batch axis ([L], [H, W] or [D, H, W]: the\n"
    "                      maps 'camkit-torch analyze --save-maps' writes); a 2-D MAP with a PNG/JPEG mask\n"
    "                      of its size is read so without it\n"
    "\n"
    "A statistic that does not exist is null: attention_ratio for an empty region or one covering\n"
    "every position, energy_inside for an all-zero map, iou when the region and {map > T} are both\n"
    "empty; an outside mean of 0 under a positive inside mean (an infinite ratio) is null too.\n"
    "Exit status: 0 success, 2 bad input, 1 internal error.\n";

double parse_threshold(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
        fail("--threshold must be a finite number, got '" + std::string(s) + "'");
    return v;
}

/// A number as JSON: the shortest text that reads back to the same double; null when not finite.
std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

/// The region of a PNG/JPEG mask: 1 where any channel is nonzero; [H, W].
camkit::tensor<float> image_region(const std::string& path) {
    const camkit::rgb_image im = camkit::io::read_image(path);
    camkit::tensor<float> region({im.height, im.width});
    for (std::size_t p = 0; p < region.size(); ++p)
        region[p] = im.pixels[3 * p] != 0 || im.pixels[3 * p + 1] != 0 || im.pixels[3 * p + 2] != 0 ? 1.0f : 0.0f;
    return region;
}

/// True for a .npy path (the extension in any case: x.NPY too).
bool is_npy(const std::string& path) { return camkit_cli::extension_lower(path) == ".npy"; }

int run_stats(const std::vector<std::string>& args) {
    std::string map_path, mask_path;
    double threshold = 0.5;
    bool single = false;
    camkit_cli::option_parser("camkit stats")
        .value("--map", map_path)
        .value("--mask", mask_path)
        .value("--threshold", [&](const std::string& v) { threshold = parse_threshold(v); })
        .flag("--single", single)
        .parse(args);
    if (map_path.empty()) fail("--map is required");
    if (mask_path.empty()) fail("--mask is required");

    const camkit_cli::file_set files({{"--map", map_path}, {"--mask", mask_path}});

    // The headers bound the memory and give the shapes before any data is read.
    camkit::shape_t shape = camkit::io::read_npy_header(map_path).shape;
    camkit_cli::check_values(camkit::element_count(shape), map_path + ": maps " + camkit::to_string(shape));
    std::optional<camkit::io::image_info> image_mask;
    if (!is_npy(mask_path)) image_mask = camkit::io::read_image_info(mask_path);
    // One 2-D map with an image mask of its size is one sample (analyze's saved maps), not H signals.
    if (!single && image_mask && shape == camkit::shape_t{image_mask->height, image_mask->width}) single = true;
    if (single) {
        if (shape.empty() || shape.size() > 3)
            fail(map_path + ": with --single the map must be [L], [H, W] or [D, H, W], got shape " + camkit::to_string(shape));
        shape.insert(shape.begin(), 1);
    }
    if (shape.size() < 2 || shape.size() > 4)
        fail(map_path + ": maps must be [N, L], [N, H, W] or [N, D, H, W] (one map without the batch axis: --single), got shape " +
             camkit::to_string(shape));
    const camkit::shape_t spatial(shape.begin() + 1, shape.end());
    camkit::shape_t mask_shape;
    if (!image_mask) {
        mask_shape = camkit::io::read_npy_header(mask_path).shape;
        // One map of analyze's --save-maps ([H, W] or [D, H, W]) with a mask of its shape reads as
        // a batch one rank lower unless --single says otherwise: said, since both are valid.
        if (!single && (shape.size() == 2 || shape.size() == 3) && mask_shape == shape)
            std::cerr << "camkit stats: note: " << map_path << " " << camkit::to_string(shape) << " is read as " << shape[0]
                      << (shape.size() == 2 ? " signals of length " + std::to_string(shape[1])
                                            : " 2-D maps of " + std::to_string(shape[1]) + "x" + std::to_string(shape[2]))
                      << "; a single " << shape.size() << "-D map (as 'camkit-torch analyze --save-maps' writes) takes --single\n";
    } else {
        mask_shape = {image_mask->height, image_mask->width};
        if (spatial.size() != 2) {
            if (shape.size() == 2 && shape[0] > 1)  // one 2-D map of another size than the image, or 1-D maps
                fail("--mask " + mask_path + " is a " + std::to_string(image_mask->height) + "x" +
                     std::to_string(image_mask->width) + " image, but the map " + camkit::to_string(shape) +
                     " is neither a 2-D map of its size nor a batch of 2-D maps [N, H, W] (make the maps with "
                     "'camkit cam --size HxW' to match)");
            fail("--mask " + mask_path + " is an image, but the maps " + camkit::to_string(shape) + " are not 2-D");
        }
    }
    if (mask_shape != shape && mask_shape != spatial)
        fail("--mask " + mask_path + " has shape " + camkit::to_string(mask_shape) + " but must be " +
             camkit::to_string(shape) + " (one region per sample) or " + camkit::to_string(spatial) +
             " (shared) for the maps " + map_path + " (make the maps with 'camkit cam --size' to match)");

    camkit::tensor<double> maps = camkit::io::read_npy<double>(map_path);
    maps.shape = shape;  // with --single: the batch axis of one
    for (std::size_t i = 0; i < maps.size(); ++i)
        if (!(std::isfinite(maps[i]) && maps[i] >= 0))
            fail("--map " + map_path + " holds " + std::to_string(maps[i]) + " at flat index " + std::to_string(i) +
                 ": maps must be finite and >= 0 (finished maps, as 'camkit cam' writes them with its default ReLU)");
    const camkit::tensor<float> mask =
        is_npy(mask_path) ? camkit::io::read_npy<float>(mask_path) : image_region(mask_path);
    for (std::size_t i = 0; i < mask.size(); ++i)
        if (!std::isfinite(mask[i])) fail("--mask " + mask_path + " holds a non-finite value at flat index " + std::to_string(i));

    const auto stats = camkit::attention_statistics(maps, mask, threshold);
    // A constant map has no peak: its pointing hit is null, as camkit-torch analyze leaves it empty.
    const std::size_t per = stats.empty() ? 0 : maps.size() / stats.size();
    for (std::size_t n = 0; n < stats.size(); ++n) {
        const auto& s = stats[n];
        const bool peak = camkit::has_peak(maps.data() + n * per, per);
        std::cout << "{\"attention_mean\": " << json_number(s.attention_mean)
                  << ", \"attention_std\": " << json_number(s.attention_std)
                  << ", \"attention_ratio\": " << json_number(s.attention_ratio)
                  << ", \"energy_inside\": " << json_number(s.energy_inside)
                  << ", \"pointing_hit\": " << (!peak ? "null" : s.pointing_hit ? "true" : "false")
                  << ", \"iou\": " << json_number(s.iou)
                  << "}\n";
    }
    return 0;
}

const camkit_cli::registration stats{
    {"stats", "attention statistics of saved maps against a region (JSON lines)", help, run_stats}};

}  // namespace
