#pragma once
// One picture of every step of a 2-D refinement, in pipeline order, like the paper's figure:
// [image,] high-res CAM, low-res CAM (resized), blurred, edges, roi, focal points (white squares
// on the low-res CAM), segmented, full segment, merged (the refined CAM), [result | keep mask].
// Maps are drawn with a colormap, masks white on black; each panel is enlarged `scale` times
// (nearest neighbour, so small maps stay readable), captioned below in a small bitmap font, and
// panels sit in rows of up to `columns`, separated by `gap` white pixels.
#include <camkit/overlay.hpp>
#include <camkit/refine/refine.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace camkit {

namespace detail {

/// A 5×9 bitmap glyph: 7 rows above the baseline and 2 for descenders, bit 4 the leftmost pixel.
using glyph = std::array<std::uint8_t, 9>;

/// The glyph of `c` for the panel captions (lower-case letters, '-' and space; others blank).
inline glyph caption_glyph(char c) {
    static const std::array<std::pair<char, glyph>, 21> font{{
        {'-', {0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00}},
        {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}},
        {'b', {0x10, 0x10, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x00, 0x00}},
        {'c', {0x00, 0x00, 0x0f, 0x10, 0x10, 0x10, 0x0f, 0x00, 0x00}},
        {'d', {0x01, 0x01, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x00, 0x00}},
        {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}},
        {'f', {0x06, 0x08, 0x1e, 0x08, 0x08, 0x08, 0x08, 0x00, 0x00}},
        {'g', {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
        {'h', {0x10, 0x10, 0x1e, 0x11, 0x11, 0x11, 0x11, 0x00, 0x00}},
        {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
        {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}},
        {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
        {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00}},
        {'n', {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x11, 0x00, 0x00}},
        {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
        {'p', {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10}},
        {'r', {0x00, 0x00, 0x16, 0x18, 0x10, 0x10, 0x10, 0x00, 0x00}},
        {'s', {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}},
        {'t', {0x08, 0x08, 0x1e, 0x08, 0x08, 0x08, 0x06, 0x00, 0x00}},
        {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x00, 0x00}},
        {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}},
    }};
    for (const auto& [ch, g] : font)
        if (ch == c) return g;
    return glyph{};
}

/// Writes `text` centred in the strip of `img` from row y0 of height 11·s, in black, each font
/// pixel an s×s block, clipped to columns [x0, x0 + width).
inline void draw_caption(rgb_image& img, const std::string& text, std::size_t y0, std::size_t x0, std::size_t width,
                         std::size_t s) {
    const std::size_t text_width = text.size() * 6 * s;
    const std::size_t left = x0 + (text_width < width ? (width - text_width) / 2 : 0);
    for (std::size_t k = 0; k < text.size(); ++k) {
        const glyph g = caption_glyph(text[k]);
        for (std::size_t row = 0; row < 9; ++row)
            for (std::size_t col = 0; col < 5; ++col) {
                if (!((g[row] >> (4 - col)) & 1)) continue;
                for (std::size_t dy = 0; dy < s; ++dy)
                    for (std::size_t dx = 0; dx < s; ++dx) {
                        const std::size_t x = left + (6 * k + col) * s + dx;
                        if (x < x0 + width) img.set(y0 + s + row * s + dy, x, rgb{0, 0, 0});
                    }
            }
    }
}

inline rgb_image mask_image(const mask_t& m) {
    rgb_image img(m.shape[0], m.shape[1]);
    for (std::size_t p = 0; p < m.size(); ++p)
        if (m[p]) img.set(p / m.shape[1], p % m.shape[1], rgb{255, 255, 255});
    return img;
}

/// `img` with a white square of half-width `radius`, outlined in black, at each point.
inline rgb_image mark_points(rgb_image img, const points_t& points, std::size_t radius) {
    const auto r = static_cast<std::ptrdiff_t>(radius) + 1;
    for (std::size_t k = 0; k < points.shape[0]; ++k) {
        const std::ptrdiff_t y0 = points[2 * k], x0 = points[2 * k + 1];
        for (std::ptrdiff_t dy = -r; dy <= r; ++dy)
            for (std::ptrdiff_t dx = -r; dx <= r; ++dx) {
                const std::ptrdiff_t y = y0 + dy, x = x0 + dx;
                if (y < 0 || x < 0 || y >= static_cast<std::ptrdiff_t>(img.height) ||
                    x >= static_cast<std::ptrdiff_t>(img.width))
                    continue;
                const bool edge = dy == -r || dy == r || dx == -r || dx == r;
                img.set(static_cast<std::size_t>(y), static_cast<std::size_t>(x),
                        edge ? rgb{0, 0, 0} : rgb{255, 255, 255});
            }
    }
    return img;
}

}  // namespace detail

/// The refinement's steps side by side (2-D only); `image` is the picture refine kept pixels of,
/// or null. All panels have high's size.
template <class T>
rgb_image refine_panel(const refine_result<T>& r, const tensor<T>& high, const rgb_image* image = nullptr,
                       colormap cm = colormap::jet, std::size_t columns = 6, std::size_t gap = 4,
                       std::size_t scale = 1) {
    detail::require(high.rank() == 2, "refine_panel: high must be 2-D [H, W], got shape " + to_string(high.shape));
    detail::require(r.blurred.shape == high.shape && r.merged.shape == high.shape,
                    "refine_panel: the refinement's shape " + to_string(r.blurred.shape) + " must equal high shape " +
                        to_string(high.shape));
    detail::require(columns >= 1, "refine_panel: columns must be at least 1");
    detail::require(scale >= 1 && scale <= 64, "refine_panel: scale must be in [1, 64], got " + std::to_string(scale));
    const std::size_t h = high.shape[0], w = high.shape[1];
    const tensor<T> low = min_max_normalized(r.low_resized, "refine_panel: low_resized");
    std::vector<rgb_image> panels;
    std::vector<std::string> captions;
    auto add = [&](rgb_image p, const char* caption) {
        panels.push_back(std::move(p));
        captions.emplace_back(caption);
    };
    if (image) add(*image, "image");
    add(heatmap(min_max_normalized(high, "refine_panel: high"), cm), "high-res cam");
    add(heatmap(low, cm), "low-res cam");
    add(heatmap(r.blurred, cm), "blurred");
    add(heatmap(r.edges, cm), "edges");
    add(detail::mask_image(r.roi), "roi");
    add(detail::mark_points(heatmap(low, cm), r.focal_points, std::max<std::size_t>(1, std::min(h, w) / 100)),
        "focal points");
    add(detail::mask_image(r.segmented), "segmented");
    add(detail::mask_image(r.full_segment), "full segment");
    add(heatmap(r.merged, cm), "merged");
    if (image && !r.result.pixels.empty())
        add(r.result, "result");
    else
        add(detail::mask_image(r.keep), "keep");
    for (const rgb_image& p : panels)
        detail::require(p.height == h && p.width == w, "refine_panel: image size [" + std::to_string(p.height) + ", " +
                                                           std::to_string(p.width) + "] must equal high shape " +
                                                           to_string(high.shape));
    const std::size_t cols = std::min(columns, panels.size()), rows = (panels.size() + cols - 1) / cols;
    const std::size_t ph = h * scale, pw = w * scale;
    // Captions below each panel: the largest font scale (up to 3) at which "full segment" fits.
    std::size_t fs = 3;
    while (fs > 1 && 12 * 6 * fs > pw) --fs;
    const std::size_t caption = 11 * fs, cell_h = ph + caption;
    rgb_image out(rows * cell_h + (rows - 1) * gap, cols * pw + (cols - 1) * gap);
    std::fill(out.pixels.begin(), out.pixels.end(), std::uint8_t{255});
    for (std::size_t k = 0; k < panels.size(); ++k) {
        const std::size_t y0 = (k / cols) * (cell_h + gap), x0 = (k % cols) * (pw + gap);
        for (std::size_t y = 0; y < ph; ++y)
            for (std::size_t x = 0; x < pw; ++x) out.set(y0 + y, x0 + x, panels[k].at(y / scale, x / scale));
        detail::draw_caption(out, captions[k], y0 + ph, x0, pw, fs);
    }
    return out;
}

}  // namespace camkit
