#pragma once
// Thinning of a 2-D mask to one-pixel-wide lines by Zhang and Suen's parallel algorithm ("A fast
// parallel algorithm for thinning digital patterns", CACM 27(3), 1984), the paper scikit-image's
// morphology.skeletonize cites. Written from the paper's conditions: scikit-image's lookup
// table differs from them in 25 of the 256 neighbourhoods (it keeps, for example, a 2×2 core of
// an even square where the paper's rule keeps one pixel), so the two can differ by a few pixels.
#include <camkit/refine/grid.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace camkit {

/// `mask` [H, W] thinned to its Zhang–Suen skeleton (pixels outside the mask count as 0).
inline mask_t thin(const mask_t& mask) {
    detail::require(mask.rank() == 2, "thin: mask must be 2-D [H, W], got shape " + to_string(mask.shape) +
                                          " (thinning a volume is not supported)");
    detail::check_grid(mask.shape, "thin: mask");
    const std::size_t h = mask.shape[0], w = mask.shape[1];
    mask_t cur(mask.shape, std::uint8_t{0});
    for (std::size_t i = 0; i < mask.size(); ++i) cur[i] = mask[i] ? 1 : 0;
    auto at = [&](std::ptrdiff_t y, std::ptrdiff_t x) -> int {
        if (y < 0 || x < 0 || y >= static_cast<std::ptrdiff_t>(h) || x >= static_cast<std::ptrdiff_t>(w)) return 0;
        return cur[static_cast<std::size_t>(y) * w + static_cast<std::size_t>(x)];
    };
    std::vector<std::size_t> removed;
    for (bool changed = true; changed;) {
        changed = false;
        for (int pass = 0; pass < 2; ++pass) {
            removed.clear();
            for (std::size_t y = 0; y < h; ++y)
                for (std::size_t x = 0; x < w; ++x) {
                    if (!cur[y * w + x]) continue;
                    const auto yy = static_cast<std::ptrdiff_t>(y), xx = static_cast<std::ptrdiff_t>(x);
                    // P2 … P9: north, then clockwise.
                    const std::array<int, 8> p{at(yy - 1, xx), at(yy - 1, xx + 1), at(yy, xx + 1), at(yy + 1, xx + 1),
                                               at(yy + 1, xx), at(yy + 1, xx - 1), at(yy, xx - 1), at(yy - 1, xx - 1)};
                    int neighbours = 0, transitions = 0;
                    for (std::size_t k = 0; k < 8; ++k) {
                        neighbours += p[k];
                        transitions += (p[k] == 0 && p[(k + 1) % 8] == 1);
                    }
                    if (neighbours < 2 || neighbours > 6 || transitions != 1) continue;
                    const int n = p[0], e = p[2], s = p[4], wst = p[6];
                    // First subiteration removes south-east boundary and north-west corner points,
                    // the second the north-west boundary and south-east corner points.
                    const bool removable =
                        pass == 0 ? (n * e * s == 0 && e * s * wst == 0) : (n * e * wst == 0 && n * s * wst == 0);
                    if (removable) removed.push_back(y * w + x);
                }
            for (std::size_t q : removed) cur[q] = 0;
            changed = changed || !removed.empty();
        }
    }
    return cur;
}

}  // namespace camkit
