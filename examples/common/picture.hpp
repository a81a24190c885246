#pragma once
// The tools' PNG pictures: panels side by side, and the optional --png output written with the
// others (PNG encoding by camkit::io's private stb copy: include this before any other stb header).
#include "cli_support.hpp"
#include "font.hpp"

#include <camkit/io/image.hpp>
#include <camkit/colormap.hpp>
#include <camkit/overlay.hpp>

#include <algorithm>
#include <array>
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

/// Writes each slice's index along D (from 0) in its top-left corner of the slice grids of maps
/// [N, D, H, W], where the slices are large enough for it (at least twice the label's height and
/// width; else none does); other ranks are left as they are.
inline void label_slices(std::vector<camkit::rgb_image>& grids, const camkit::shape_t& maps) {
    if (maps.size() != 4) return;
    const std::size_t d = maps[1], h = maps[2], w = maps[3];
    const std::size_t cols = camkit::slice_grid_columns(d), widest = label_width(std::to_string(d - 1).size());
    if (h >= 2 * label_height && w >= 2 * widest)
        for (camkit::rgb_image& grid : grids)
            for (std::size_t s = 0; s < d; ++s)
                draw_text(grid, (s / cols) * (h + 1), (s % cols) * (w + 1), std::to_string(s), widest);
}

/// The height in pixels of a 1-D map's strip in maps_picture.
inline constexpr std::size_t strip_height = 16;

/// The heatmaps of maps [N, *S] side by side, 2 black pixels apart (camkit::heatmaps); a 3-D map's
/// grid of slices labelled (label_slices).
inline camkit::rgb_image maps_picture(const camkit::tensor<float>& maps, camkit::colormap cm) {
    std::vector<camkit::rgb_image> images = camkit::heatmaps(maps, cm, strip_height);
    label_slices(images, maps.shape);
    return side_by_side(images, 2);
}

/// Each sample of `x` [N, *S] min-max scaled to [0, 1] on its own (a constant sample: all 0.5),
/// for drawing an input array in gray under its maps.
inline camkit::tensor<float> gray_per_sample(const camkit::tensor<float>& x) {
    camkit::tensor<float> out(x.shape);
    const std::size_t per = x.shape.empty() || x.shape[0] == 0 ? 0 : x.size() / x.shape[0];
    for (std::size_t n = 0; per && n < x.shape[0]; ++n) {
        const auto first = x.values.begin() + static_cast<std::ptrdiff_t>(n * per);
        const auto [lo, hi] = std::minmax_element(first, first + static_cast<std::ptrdiff_t>(per));
        const float min = *lo, range = *hi - *lo;
        for (std::size_t i = 0; i < per; ++i)
            out.values[n * per + i] = range > 0 ? (x.values[n * per + i] - min) / range : 0.5f;
    }
    return out;
}

/// Maps [N, H, W] or [N, D, H, W] with values in [0, 1] drawn over `under` of the same shape (gray
/// values in [0, 1]: gray_per_sample of an input's channel), side by side 2 black pixels apart: 2-D
/// maps as camkit::overlay, volumes as camkit::overlay_slices' grids, labelled as maps_picture's.
inline camkit::rgb_image maps_over_gray(const camkit::tensor<float>& maps, const camkit::tensor<float>& under,
                                        camkit::colormap cm) {
    const std::size_t N = maps.shape[0], per = maps.size() / N;
    const camkit::shape_t one(maps.shape.begin() + 1, maps.shape.end());
    std::vector<camkit::rgb_image> images;
    for (std::size_t n = 0; n < N; ++n) {
        const auto at = [&](const camkit::tensor<float>& t) {
            const auto first = t.values.begin() + static_cast<std::ptrdiff_t>(n * per);
            return camkit::tensor<float>(one, std::vector<float>(first, first + static_cast<std::ptrdiff_t>(per)));
        };
        images.push_back(one.size() == 3 ? camkit::overlay_slices(at(maps), at(under), cm) : camkit::overlay(at(maps), at(under), cm));
    }
    label_slices(images, maps.shape);
    return side_by_side(images, 2);
}

/// The height and width of maps_picture's picture of maps [N, *S] (1-D strips strip_height pixels
/// high, 2-D heatmaps, 3-D slice grids, 2 pixels apart), known before the maps are computed.
inline std::array<std::size_t, 2> maps_picture_size(const camkit::shape_t& shape) {
    const std::size_t n = shape[0];
    std::size_t h = strip_height, w = shape[1];
    if (shape.size() == 3) {
        h = shape[1];
        w = shape[2];
    } else if (shape.size() == 4) {
        const std::size_t cols = camkit::slice_grid_columns(shape[1]), rows = (shape[1] + cols - 1) / cols;
        h = rows * (shape[2] + 1) - 1;
        w = cols * (shape[3] + 1) - 1;
    }
    return {h, n * w + 2 * (n - 1)};
}

/// Fails (exit status 2) before any work when a picture of height × width is too large for a PNG,
/// naming `what` it would show and `remedy`.
inline void check_picture_size(std::array<std::size_t, 2> size, const std::string& what, const std::string& remedy) {
    if (!camkit::io::png_fits(size[0], size[1]))
        fail("--png: the picture of " + what + " would be " + std::to_string(size[0]) + "x" + std::to_string(size[1]) +
             " pixels, too large for a PNG (at most " + std::to_string(camkit::io::max_png_row_bytes) +
             " bytes of pixel rows); " + remedy);
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
