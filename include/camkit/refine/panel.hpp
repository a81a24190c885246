#pragma once
// One picture of every step of a 2-D refinement, in pipeline order, like the paper's figure:
// [image,] high-res CAM, low-res CAM (resized), blurred, edges, roi, focal points (white squares
// on the low-res CAM), segmented, full segment, merged (the refined CAM), [result | keep mask].
// Maps are drawn with a colormap, masks white on black; panels sit in rows of up to
// `columns`, separated by `gap` white pixels.
#include <camkit/overlay.hpp>
#include <camkit/refine/refine.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace camkit {

namespace detail {

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
                img.set(static_cast<std::size_t>(y), static_cast<std::size_t>(x), edge ? rgb{0, 0, 0} : rgb{255, 255, 255});
            }
    }
    return img;
}

}  // namespace detail

/// The refinement's steps side by side (2-D only); `image` is the picture refine kept pixels of,
/// or null. All panels have high's size.
template <class T>
rgb_image refine_panel(const refine_result<T>& r, const tensor<T>& high, const rgb_image* image = nullptr,
                       colormap cm = colormap::jet, std::size_t columns = 6, std::size_t gap = 4) {
    detail::require(high.rank() == 2, "refine_panel: high must be 2-D [H, W], got shape " + to_string(high.shape));
    detail::require(r.blurred.shape == high.shape && r.merged.shape == high.shape,
                    "refine_panel: the refinement's shape " + to_string(r.blurred.shape) + " must equal high shape " +
                        to_string(high.shape));
    detail::require(columns >= 1, "refine_panel: columns must be at least 1");
    const std::size_t h = high.shape[0], w = high.shape[1];
    const tensor<T> low = min_max_normalized(r.low_resized, "refine_panel: low_resized");
    std::vector<rgb_image> panels;
    if (image) panels.push_back(*image);
    panels.push_back(heatmap(min_max_normalized(high, "refine_panel: high"), cm));
    panels.push_back(heatmap(low, cm));
    panels.push_back(heatmap(r.blurred, cm));
    panels.push_back(heatmap(r.edges, cm));
    panels.push_back(detail::mask_image(r.roi));
    panels.push_back(detail::mark_points(heatmap(low, cm), r.focal_points, std::max<std::size_t>(1, std::min(h, w) / 100)));
    panels.push_back(detail::mask_image(r.segmented));
    panels.push_back(detail::mask_image(r.full_segment));
    panels.push_back(heatmap(r.merged, cm));
    panels.push_back(image && !r.result.pixels.empty() ? r.result : detail::mask_image(r.keep));
    for (const rgb_image& p : panels)
        detail::require(p.height == h && p.width == w, "refine_panel: image size [" + std::to_string(p.height) + ", " +
                                                           std::to_string(p.width) + "] must equal high shape " +
                                                           to_string(high.shape));
    const std::size_t cols = std::min(columns, panels.size()), rows = (panels.size() + cols - 1) / cols;
    rgb_image out(rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap);
    std::fill(out.pixels.begin(), out.pixels.end(), std::uint8_t{255});
    for (std::size_t k = 0; k < panels.size(); ++k) {
        const std::size_t y0 = (k / cols) * (h + gap), x0 = (k % cols) * (w + gap);
        for (std::size_t y = 0; y < h; ++y)
            for (std::size_t x = 0; x < w; ++x) out.set(y0 + y, x0 + x, panels[k].at(y, x));
    }
    return out;
}

}  // namespace camkit
