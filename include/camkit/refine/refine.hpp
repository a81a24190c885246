#pragma once
// Refinement of a low-res CAM by a high-res CAM: the post-processing pipeline of High-Resolution
// Class Activation Mapping (Tagaris, Sdraka and Stafylopatis, ICIP 2019; the original is
// postprocessing.pipeline of github.com/djib2011/high-res-mapping). Each step is a function of
// its own; refine() runs them in order and returns every intermediate result:
//   blurred      = box_filter(min_max_normalized(high), 5)
//   edges        = min_max_normalized(sobel_magnitude(blurred))
//   low_resized  = bilinear resize of low to high's size (half-pixel centres: PIL's upscaling)
//   roi          = low_resized > percentile(low_resized, 85)
//   bounds       = percentiles 25 and 75 of edges inside the roi
//   focal_points = top_points(low_resized, round(√side))  or  local_focal_points(low, …)
//   segmented    = grow_region(edges, focal_points, lower, upper)
//   full_segment = fill_small_holes(segmented ∪ (roi ∩ edges ≥ upper), 256)
//   merged       = merge_maps(full_segment, low_resized, blend, 0.5)
//   keep         = keep_top_percentage(merged, 15)  or  keep_above(merged, 0.6);  result = kept image
// 2-D maps [H, W] and volumes [D, H, W] (a volume has no image, and thins no maxima).
#include <camkit/overlay.hpp>
#include <camkit/refine/box_filter.hpp>
#include <camkit/refine/focal_points.hpp>
#include <camkit/refine/grid.hpp>
#include <camkit/refine/holes.hpp>
#include <camkit/refine/keep.hpp>
#include <camkit/refine/merge.hpp>
#include <camkit/refine/percentile.hpp>
#include <camkit/refine/region_growing.hpp>
#include <camkit/refine/sobel.hpp>
#include <camkit/resize.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace camkit {

/// How refine chooses the image pixels to keep.
enum class keep_mode {
    percentage,  ///< the top keep_percentage % of the refined CAM
    threshold,   ///< the pixels whose normalized refined value exceeds keep_threshold
};

/// refine's parameters, each with the original's default.
struct refine_options {
    double roi_percentile = 85;                ///< the roi is low_resized above this percentile, in (0, 100)
    focal_scope focal = focal_scope::global;   ///< global (top pixels) or local (strong maxima)
    std::size_t focal_points = 0;              ///< global points; 0 = round(√side) (15 for 224²)
    maxima_areas areas = maxima_areas::small;  ///< local maxima thinned (small) or whole (large)
    merge_mode merge = merge_mode::blend;      ///< blend or multiply the segment with the low-res map
    double alpha = 0.5;                        ///< the segment's weight in the blend, in [0, 1]
    keep_mode keep = keep_mode::percentage;    ///< how the result keeps image pixels
    double keep_percentage = 15;               ///< in (0, 100]
    double keep_threshold = 0.6;               ///< in [0, 1]
    std::size_t blur_size = 5;                 ///< the box filter's width
    std::size_t hole_area = 256;               ///< background components below this many pixels are filled
};

/// The lower and upper edge values the region growing accepts.
struct refine_bounds {
    double lower = 0;
    double upper = 0;
};

/// Every step's result of refine, in pipeline order.
template <class T>
struct refine_result {
    tensor<T> blurred;      ///< box-filtered normalized high-res map
    tensor<T> edges;        ///< normalized Sobel magnitude of blurred
    tensor<T> low_resized;  ///< low-res map resized to the high-res size
    mask_t roi;             ///< low_resized above its roi_percentile-th percentile
    refine_bounds bounds;   ///< 25th and 75th percentile of edges inside the roi
    points_t focal_points;  ///< [n, rank] seeds, row then column
    mask_t segmented;       ///< region grown from the seeds through edges in [lower, upper]
    mask_t full_segment;    ///< segmented plus strong roi edges, small holes filled
    tensor<T> merged;       ///< the refined CAM
    mask_t keep;            ///< the image pixels the refined CAM keeps
    rgb_image result;       ///< the image with the other pixels black (empty without an image)
};

namespace detail {

inline void check_refine_options(const refine_options& o) {
    require(o.roi_percentile > 0 && o.roi_percentile < 100,
            "refine: roi_percentile must be in (0, 100), got " + std::to_string(o.roi_percentile));
    check_alpha_unit(o.alpha, "refine: alpha");
    require(o.keep_percentage > 0 && o.keep_percentage <= 100,
            "refine: keep_percentage must be in (0, 100], got " + std::to_string(o.keep_percentage));
    require(o.keep_threshold >= 0 && o.keep_threshold <= 1,
            "refine: keep_threshold must be in [0, 1], got " + std::to_string(o.keep_threshold));
    require(o.blur_size >= 1, "refine: blur_size must be at least 1, got 0");
}

}  // namespace detail

/// `low` [*s] bilinearly resized to `size` (half-pixel centres, as PIL's BILINEAR when enlarging;
/// shrinking is refused because PIL would also low-pass filter).
template <class T>
tensor<T> resize_low(const tensor<T>& low, const shape_t& size) {
    detail::check_grid(low.shape, "resize_low: low");
    detail::require(size.size() == low.rank(), "resize_low: size " + to_string(size) +
                                                   " must have one extent per axis of low " + to_string(low.shape));
    for (std::size_t a = 0; a < size.size(); ++a)
        detail::require(low.shape[a] <= size[a], "resize_low: low shape " + to_string(low.shape) +
                                                     " must not exceed the high-res shape " + to_string(size) +
                                                     " on any axis");
    shape_t batched{1};
    batched.insert(batched.end(), low.shape.begin(), low.shape.end());
    tensor<T> r = resize(tensor<T>(batched, low.values), size);
    r.shape = size;
    return r;
}

/// Runs the refinement pipeline on a low-res CAM `low` and a high-res CAM `high` (2-D or 3-D, low
/// no larger than high on any axis); `image` (when given, [H, W] like high) gives `result`.
template <class T>
refine_result<T> refine(const tensor<T>& low, const tensor<T>& high, const rgb_image* image,
                        const refine_options& options = {}) {
    detail::check_refine_options(options);
    detail::check_grid(high.shape, "refine: high");
    detail::check_grid(low.shape, "refine: low");
    detail::require(low.rank() == high.rank(), "refine: low shape " + to_string(low.shape) + " and high shape " +
                                                   to_string(high.shape) + " must have the same number of axes");
    detail::check_finite(low, "refine: low");
    detail::check_finite(high, "refine: high");
    if (image)
        detail::require(high.rank() == 2 && image->height == high.shape[0] && image->width == high.shape[1],
                        "refine: image size [" + std::to_string(image->height) + ", " + std::to_string(image->width) +
                            "] must equal the high-res shape " + to_string(high.shape));
    refine_result<T> r;
    r.blurred = box_filter(min_max_normalized(high, "refine: high"), options.blur_size);
    r.edges = min_max_normalized(sobel_magnitude(r.blurred), "refine: edges of the blurred high-res map");
    r.low_resized = resize_low(low, high.shape);

    const double roi_level = percentile(r.low_resized, options.roi_percentile);
    r.roi = mask_t(high.shape, std::uint8_t{0});
    for (std::size_t i = 0; i < r.roi.size(); ++i) r.roi[i] = static_cast<double>(r.low_resized[i]) > roi_level;
    detail::require(!detail::blank(r.roi), [&] {
        return "refine: the roi is empty: no value of the resized low-res map exceeds its " +
               std::to_string(options.roi_percentile) + "th percentile " + std::to_string(roi_level) +
               " (is the low-res map blank?)";
    });
    r.bounds = {percentile(r.edges, r.roi, 25), percentile(r.edges, r.roi, 75)};

    if (options.focal == focal_scope::global)
        r.focal_points = top_points(
            r.low_resized, options.focal_points ? options.focal_points : default_focal_point_count(high.shape));
    else
        r.focal_points = local_focal_points(low, high.shape, options.areas);

    r.segmented = grow_region(r.edges, r.focal_points, r.bounds.lower, r.bounds.upper);
    mask_t with_edges = r.segmented;
    for (std::size_t i = 0; i < with_edges.size(); ++i)
        with_edges[i] = with_edges[i] || (r.roi[i] && static_cast<double>(r.edges[i]) >= r.bounds.upper);
    r.full_segment = fill_small_holes(with_edges, options.hole_area);
    r.merged = merge_maps(r.full_segment, r.low_resized, options.merge, options.alpha);
    r.keep = options.keep == keep_mode::percentage ? keep_top_percentage(r.merged, options.keep_percentage)
                                                   : keep_above(r.merged, options.keep_threshold);
    if (image) r.result = keep_pixels(*image, r.keep);
    return r;
}

/// As above, without an image (`result` stays empty).
template <class T>
refine_result<T> refine(const tensor<T>& low, const tensor<T>& high, const refine_options& options = {}) {
    return refine(low, high, static_cast<const rgb_image*>(nullptr), options);
}

}  // namespace camkit
