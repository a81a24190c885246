#pragma once
// Merging the refined segment with the low-res CAM, as the original's merge.merge_images: both
// min-max normalized, then blended α·segment + (1 − α)·low or multiplied. A blank input (no value
// above 0) gives the other one alone, both blank is an error. The original quantizes both maps
// to 8 bits and resizes the low-res map with PIL's 8-bit bilinear filter inside this step; camkit
// merges the float low-res map resized by the refinement's bilinear step (differences below 1/255).
#include <camkit/refine/grid.hpp>

#include <algorithm>
#include <cstddef>
#include <string>

namespace camkit {

/// How merge_maps combines the segment with the low-res map.
enum class merge_mode {
    blend,     ///< α·segment + (1 − α)·low
    multiply,  ///< segment · low: high where both are high
};

namespace detail {

inline void check_alpha_unit(double alpha, const std::string& what) {
    require(alpha >= 0 && alpha <= 1, what + " must be in [0, 1], got " + std::to_string(alpha));
}

template <class T>
bool blank(const tensor<T>& map) {
    return std::none_of(map.values.begin(), map.values.end(), [](T v) { return v > T(0); });
}

}  // namespace detail

/// The refined CAM: `segment` (a mask or map) and `low` (the low-res map at the same size), each
/// min-max normalized, blended with weight `alpha` on the segment or multiplied.
template <class T, class S>
tensor<T> merge_maps(const tensor<S>& segment, const tensor<T>& low, merge_mode mode = merge_mode::blend,
                     double alpha = 0.5) {
    detail::check_grid(low.shape, "merge_maps: low");
    detail::check_same_grid(segment.shape, low.shape, "merge_maps: segment", "low");
    detail::check_alpha_unit(alpha, "merge_maps: alpha");
    tensor<T> seg(segment.shape);
    for (std::size_t i = 0; i < seg.size(); ++i) seg[i] = static_cast<T>(segment[i]);
    const bool seg_blank = detail::blank(seg), low_blank = detail::blank(low);
    detail::require(!(seg_blank && low_blank), "merge_maps: segment and low are both blank (no value above 0)");
    if (seg_blank) return min_max_normalized(low, "merge_maps: low");
    const auto extremes = detail::min_max(seg.data(), seg.size());
    const T smin = extremes.first, smax = extremes.second;  // named, not bound: the lambda below captures them
    detail::require(smin < smax, [&] {
        return "merge_maps: segment is constant (" + std::to_string(static_cast<double>(smax)) +
               " everywhere: a segment covering the whole map leaves nothing to normalize)";
    });
    seg = min_max_normalized(seg, "merge_maps: segment");
    if (low_blank) return seg;
    const tensor<T> l = min_max_normalized(low, "merge_maps: low");
    const T a = static_cast<T>(alpha), b = static_cast<T>(1 - alpha);
    for (std::size_t i = 0; i < seg.size(); ++i)
        seg[i] = mode == merge_mode::blend ? a * seg[i] + b * l[i] : seg[i] * l[i];
    return seg;
}

}  // namespace camkit
