#pragma once
// Sobel gradient magnitude as scikit-image's filters.sobel computes it (0.19 and later, n-D):
// along each axis the central difference [1, 0, −1] with the smoothing [1, 2, 1] / 4 along every
// other axis, 'reflect' border; magnitude = √(Σ_axes g²) / √rank. (scikit-image before 0.19 was
// 2-D only and set the one-pixel border of the result to 0; the interior is the same.)
#include <camkit/refine/grid.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace camkit {

namespace detail {

/// One 3-tap pass along an axis: derivative (x[k+1] − x[k−1]) or smoothing
/// (x[k−1] + 2x[k] + x[k+1]) / 4, with the reflect border (x[−1] = x[0]).
inline void sobel_pass(const std::vector<double>& in, std::vector<double>& out, const shape_t& shape, std::size_t axis,
                       bool derivative) {
    for_each_line(shape, axis, [&](std::size_t start, std::size_t n, std::size_t stride) {
        for (std::size_t k = 0; k < n; ++k) {
            const double before = in[start + reflect_index(static_cast<std::ptrdiff_t>(k) - 1, n) * stride];
            const double here = in[start + k * stride];
            const double after = in[start + reflect_index(static_cast<std::ptrdiff_t>(k) + 1, n) * stride];
            out[start + k * stride] = derivative ? after - before : (before + 2 * here + after) / 4;
        }
    });
}

}  // namespace detail

/// The Sobel gradient magnitude of a 2-D or 3-D map, as skimage.filters.sobel(map).
template <class T>
tensor<T> sobel_magnitude(const tensor<T>& map) {
    detail::check_grid(map.shape, "sobel_magnitude: map");
    const std::vector<double> x(map.values.begin(), map.values.end());
    std::vector<double> sum(x.size(), 0.0), a(x.size()), b(x.size());
    for (std::size_t edge = 0; edge < map.rank(); ++edge) {
        a = x;
        for (std::size_t axis = 0; axis < map.rank(); ++axis) {
            detail::sobel_pass(a, b, map.shape, axis, axis == edge);
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
