#pragma once
// Sobel gradient magnitude as scikit-image's filters.sobel computes it (0.19, n-D):
// along each axis the central difference [1, 0, −1] with the smoothing [1, 2, 1] / 4 along every
// other axis, 'reflect' border; magnitude = √(Σ_axes g²) / √rank. (older scikit-image releases were
// 2-D only and set the one-pixel border of the result to 0; the interior is the same.)
#include <camkit/refine/grid.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace camkit {

/// The Sobel gradient magnitude of a 2-D or 3-D map, as skimage.filters.sobel(map).
template <class T>
CAMKIT_OPTIMIZE tensor<T> sobel_magnitude(const tensor<T>& map) {
    detail::check_grid(map.shape, "sobel_magnitude: map");
    const std::vector<double> x(map.values.begin(), map.values.end());
    // central difference x[k+1] − x[k−1] along the edge axis, (x[k−1] + 2x[k] + x[k+1]) / 4 along the others
    const std::vector<double> difference{-1, 0, 1}, smoothing{1, 2, 1};
    std::vector<double> sum(x.size(), 0.0), a(x.size()), b(x.size());
    for (std::size_t edge = 0; edge < map.rank(); ++edge) {
        a = x;
        for (std::size_t axis = 0; axis < map.rank(); ++axis) {
            if (axis == edge)
                detail::filter_axis(a, b, map.shape, axis, difference, 1, 1.0);
            else
                detail::filter_axis(a, b, map.shape, axis, smoothing, 1, 4.0);
            a.swap(b);
        }
        for (std::size_t i = 0; i < x.size(); ++i) sum[i] += a[i] * a[i];
    }
    const double root_rank = std::sqrt(static_cast<double>(map.rank()));
    tensor<T> out(map.shape);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(std::sqrt(sum[i]) / root_rank);
    return out;
}

}  // namespace camkit
