#pragma once
// Focal points: the seeds of the refinement's region growing, taken from the low-res CAM as the
// original's maxima.find_focal_points does.
// - global: the n highest pixels of the low-res map resized to high resolution (n defaults to
//   round(√side), 15 for 224²; the original's argpartition leaves ties in no particular order,
//   camkit takes the lower flat index first).
// - local: the local maxima (plateaus) of the low-res map whose value lies strictly above the
//   mid-point of the weakest and the strongest maximum, scaled to high resolution by nearest-
//   neighbour resizing (PIL's NEAREST: source ⌊(d + ½)·in/out⌋); with `small` areas each scaled
//   block is thinned (2-D only). The original thresholds candidates·map, which would also take
//   non-maxima when the mid-point is negative; camkit takes maxima only.
// Points are [n, rank] int64 coordinates, outermost axis first (row, then column), the reverse of
// the original's (x, y) tuples for SimpleITK.
#include <camkit/refine/grid.hpp>
#include <camkit/refine/local_maxima.hpp>
#include <camkit/refine/thinning.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace camkit {

/// Where focal points come from.
enum class focal_scope {
    global,  ///< the n highest pixels of the resized low-res map
    local,   ///< the strong local maxima of the low-res map
};

/// How large the local maxima's scaled-up areas stay.
enum class maxima_areas {
    small,  ///< thinned to one-pixel-wide lines (2-D)
    large,  ///< the whole scaled-up block of each maximum
};

/// Focal points: [n, rank] coordinates, outermost axis first (row, column; depth, row, column).
using points_t = tensor<std::int64_t>;

namespace detail {

/// The points of flat indices `flat` of a grid of `shape` as [n, rank] coordinates.
inline points_t unravel(const std::vector<std::size_t>& flat, const shape_t& shape) {
    const std::size_t rank = shape.size();
    points_t out({flat.size(), rank});
    for (std::size_t k = 0; k < flat.size(); ++k) {
        std::size_t rest = flat[k];
        for (std::size_t a = rank; a-- > 0;) {
            out[k * rank + a] = static_cast<std::int64_t>(rest % shape[a]);
            rest /= shape[a];
        }
    }
    return out;
}

/// The [n, rank] points of the set pixels of `mask`, in raster order (as numpy.where).
inline points_t mask_points(const mask_t& mask) {
    std::vector<std::size_t> flat;
    for (std::size_t p = 0; p < mask.size(); ++p)
        if (mask[p]) flat.push_back(p);
    return unravel(flat, mask.shape);
}

}  // namespace detail

/// The original's default number of global focal points for a map of `shape`: round(√side) with
/// side the largest extent (the original's maps are square: 224 gives 15).
inline std::size_t default_focal_point_count(const shape_t& shape) {
    detail::check_grid(shape, "default_focal_point_count: shape");
    const std::size_t side = *std::max_element(shape.begin(), shape.end());
    return static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(side))));
}

/// The `n` highest pixels of a 2-D or 3-D map, highest first (ties: lower flat index first).
template <class T>
points_t top_points(const tensor<T>& map, std::size_t n) {
    detail::check_grid(map.shape, "top_points: map");
    detail::require(n >= 1 && n <= map.size(), "top_points: n must be in [1, " + std::to_string(map.size()) +
                                                   "] for a map of shape " + to_string(map.shape) + ", got " +
                                                   std::to_string(n));
    std::vector<std::size_t> order(map.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto higher = [&](std::size_t a, std::size_t b) { return map[a] > map[b] || (map[a] == map[b] && a < b); };
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), higher);
    order.resize(n);
    return detail::unravel(order, map.shape);
}

/// `mask` (2-D or 3-D) resized to `size` by nearest neighbour as PIL's NEAREST resize:
/// output index d reads input index ⌊(d + ½)·in/out⌋ on each axis (with PIL's rounding).
inline mask_t resize_nearest(const mask_t& mask, const shape_t& size) {
    detail::check_grid(mask.shape, "resize_nearest: mask");
    detail::require(size.size() == mask.rank(), "resize_nearest: size " + to_string(size) +
                                                    " must give one extent per axis of mask shape " +
                                                    to_string(mask.shape));
    detail::check_grid(size, "resize_nearest: size");
    // PIL steps the source coordinate by adding in/out per pixel (ImagingScaleAffine), so its
    // rounding decides exact halves such as 7.5·0.4: the same sum here picks the same pixels.
    std::vector<std::vector<std::size_t>> source(size.size());
    for (std::size_t a = 0; a < size.size(); ++a) {
        const double step = static_cast<double>(mask.shape[a]) / static_cast<double>(size[a]);
        double at = step * 0.5;
        for (std::size_t d = 0; d < size[a]; ++d, at += step)
            source[a].push_back(std::min(mask.shape[a] - 1, static_cast<std::size_t>(at)));
    }
    mask_t out(size, std::uint8_t{0});
    for (std::size_t p = 0; p < out.size(); ++p) {
        std::size_t rest = p, src = 0, scale = 1;
        for (std::size_t a = size.size(); a-- > 0;) {
            src += source[a][rest % size[a]] * scale;
            rest /= size[a];
            scale *= mask.shape[a];
        }
        out[p] = mask[src];
    }
    return out;
}

/// The strong local maxima of `low` as a mask: maxima whose value lies strictly above the
/// mid-point of the weakest and strongest maximum (empty when all maxima are equal).
template <class T>
mask_t strong_local_maxima(const tensor<T>& low) {
    const mask_t maxima = local_maxima(low);
    double lo = 0, hi = 0;
    bool any = false;
    for (std::size_t p = 0; p < low.size(); ++p)
        if (maxima[p]) {
            const double v = static_cast<double>(low[p]);
            lo = any ? std::min(lo, v) : v;
            hi = any ? std::max(hi, v) : v;
            any = true;
        }
    const double threshold = (hi + lo) / 2;
    mask_t strong(low.shape, std::uint8_t{0});
    for (std::size_t p = 0; p < low.size(); ++p) strong[p] = maxima[p] && static_cast<double>(low[p]) > threshold;
    return strong;
}

/// Local focal points: the strong local maxima of `low` scaled to `high_shape` (nearest), thinned
/// when `areas` is small (2-D only), as [n, rank] points in raster order.
template <class T>
points_t local_focal_points(const tensor<T>& low, const shape_t& high_shape, maxima_areas areas = maxima_areas::small) {
    detail::check_grid(low.shape, "local_focal_points: low");
    detail::require(areas == maxima_areas::large || low.rank() == 2,
                    "local_focal_points: maxima_areas small thins 2-D maps only; use large for a map of shape " +
                        to_string(low.shape));
    mask_t scaled = resize_nearest(strong_local_maxima(low), high_shape);
    if (areas == maxima_areas::small) scaled = thin(scaled);
    return detail::mask_points(scaled);
}

}  // namespace camkit
