#pragma once
// The mean over a size^rank box around each pixel (a uniform blur), with the border handled as
// scipy.ndimage.convolve does by default ('reflect': d c b a | a b c d | d c b a). The original
// blurs the normalized high-res CAM with convolve(map, ones((5, 5)) / 25); the box is separable,
// so it runs one axis at a time (sums in double).
#include <camkit/refine/grid.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace camkit {

/// Each value replaced by the mean of the `size`-wide box around it along every axis (2-D or
/// 3-D). An even size reaches one pixel further forward than back, as scipy's convolve.
template <class T>
CAMKIT_OPTIMIZE tensor<T> box_filter(const tensor<T>& map, std::size_t size = 5) {
    detail::check_grid(map.shape, "box_filter: map");
    detail::require(size >= 1, "box_filter: size must be at least 1, got 0");
    // scipy's convolve flips the kernel and, for an even length, shifts its origin by one, so
    // the window of pixel i is [i − (size − 1)/2, i + size/2].
    const std::vector<double> ones(size, 1.0);
    std::vector<double> cur(map.values.begin(), map.values.end()), next(cur.size());
    for (std::size_t axis = 0; axis < map.rank(); ++axis) {
        detail::filter_axis(cur, next, map.shape, axis, ones, (size - 1) / 2, static_cast<double>(size));
        cur.swap(next);
    }
    tensor<T> out(map.shape);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(cur[i]);
    return out;
}

}  // namespace camkit
