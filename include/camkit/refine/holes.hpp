#pragma once
// Hole filling as scikit-image's morphology.remove_small_holes(mask, area_threshold) (0.19, its
// default connectivity 1): every face-connected component of the background smaller than
// area_threshold pixels becomes foreground, whether or not it touches the border.
#include <camkit/refine/grid.hpp>
#include <camkit/regions/labels.hpp>

#include <cstddef>
#include <cstdint>

namespace camkit {

/// `mask` (2-D or 3-D) with its background components of fewer than `area_threshold` pixels
/// filled (the original fills holes below 256 pixels).
CAMKIT_OPTIMIZE inline mask_t fill_small_holes(const mask_t& mask, std::size_t area_threshold = 256) {
    detail::check_grid(mask.shape, "fill_small_holes: mask");
    mask_t background(mask.shape);
    for (std::size_t i = 0; i < mask.size(); ++i) background[i] = mask[i] ? 0 : 1;
    // Face connectivity: 4 neighbours in 2-D, 6 in 3-D.
    const components holes = label_components(background, static_cast<unsigned>(2 * mask.rank()));
    mask_t out(mask.shape);
    for (std::size_t i = 0; i < mask.size(); ++i)
        out[i] = mask[i] || holes.sizes[holes.labels[i] - 1] < area_threshold ? 1 : 0;
    return out;
}

}  // namespace camkit
