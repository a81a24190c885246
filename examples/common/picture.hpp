#pragma once
// The tools' PNG pictures: panels side by side, and the optional --png output written with the
// others (PNG encoding by camkit::io's private stb copy: include this before any other stb header).
#include "cli_support.hpp"

#include <camkit/io/image.hpp>
#include <camkit/overlay.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace camkit_cli {

/// Places images side by side, left to right, `gap` black pixels apart.
inline camkit::rgb_image side_by_side(const std::vector<camkit::rgb_image>& images, std::size_t gap) {
    std::size_t h = 0, w = 0;
    for (const auto& im : images) {
        h = std::max(h, im.height);
        w += im.width;
    }
    w += gap * (images.size() - 1);
    camkit::rgb_image out(h, w);
    std::size_t x0 = 0;
    for (const auto& im : images) {
        for (std::size_t y = 0; y < im.height; ++y)
            std::copy_n(im.pixels.data() + 3 * y * im.width, 3 * im.width, out.pixels.data() + 3 * (y * w + x0));
        x0 += im.width + gap;
    }
    return out;
}

/// `maps` as a picture shows them: as they are within [0, 1] (finished maps); else (a map without
/// ReLU or normalization) min-max scaled over the whole batch (all zero when constant), since the
/// colormap clamps to [0, 1] and would saturate every value above 1 and blacken every one below 0.
/// `note` says so for the summary line, or is left empty.
inline camkit::tensor<float> picture_values(const camkit::tensor<float>& maps, std::string& note) {
    note.clear();
    if (maps.size() == 0) return maps;
    const auto [lo, hi] = std::minmax_element(maps.values.begin(), maps.values.end());
    const float min = *lo, max = *hi;
    if (min >= 0 && max <= 1) return maps;
    camkit::tensor<float> out = maps;
    for (float& v : out.values) v = max > min ? (v - min) / (max - min) : 0.0f;
    char span[96];
    std::snprintf(span, sizeof span, "%.4g, %.4g", static_cast<double>(min), static_cast<double>(max));
    note = " (the maps span [" + std::string(span) + "]: the picture shows them min-max scaled)";
    return out;
}

/// Draws the picture with `draw()` and writes it to the optional output `index` (the option's
/// `path`); returns the summary line's part for it (", picture HxW -> path"), or "" without the output.
template <class Draw>
std::string write_picture(file_set& files, std::optional<std::size_t> index, const std::string& path, Draw&& draw) {
    if (!index) return "";
    const camkit::rgb_image png = draw();
    files.write(*index, camkit::io::encode_png(png));
    return ", picture " + std::to_string(png.height) + "x" + std::to_string(png.width) + " -> " + path;
}

}  // namespace camkit_cli
