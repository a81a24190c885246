#pragma once
// Hole filling as scikit-image's morphology.remove_small_holes(mask, area_threshold) (0.19, its
// default connectivity 1): every face-connected component of the background smaller than
// area_threshold pixels becomes foreground, whether or not it touches the border.
#include <camkit/refine/grid.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace camkit {

/// `mask` (2-D or 3-D) with its background components of fewer than `area_threshold` pixels
/// filled (the original fills holes below 256 pixels).
inline mask_t fill_small_holes(const mask_t& mask, std::size_t area_threshold = 256) {
    detail::check_grid(mask.shape, "fill_small_holes: mask");
    const detail::grid g(mask.shape);
    mask_t out(mask.shape, std::uint8_t{0});
    for (std::size_t i = 0; i < mask.size(); ++i) out[i] = mask[i] ? 1 : 0;
    std::vector<std::uint8_t> seen(g.size, 0);
    std::vector<std::size_t> component;
    for (std::size_t start = 0; start < g.size; ++start) {
        if (out[start] || seen[start]) continue;
        component.assign(1, start);
        seen[start] = 1;
        for (std::size_t k = 0; k < component.size(); ++k)
            g.for_each_neighbour(component[k], connectivity::face, [&](std::size_t q) {
                if (!out[q] && !seen[q]) {
                    seen[q] = 1;
                    component.push_back(q);
                }
            });
        if (component.size() < area_threshold)
            for (std::size_t p : component) out[p] = 1;
    }
    return out;
}

}  // namespace camkit
