#pragma once
// Which pixels of the image the refined CAM keeps, as the original's merge.filter_image and
// merge.keep_percentage: the pixels whose min-max normalized refined value lies strictly above a
// threshold, where keeping a percentage p takes as threshold the value at sorted position
// ⌊(1 − p/100)·n⌋ of the (un-normalized) map, as the original does. The rest become black.
#include <camkit/overlay.hpp>
#include <camkit/refine/grid.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace camkit {

namespace detail {

template <class T>
mask_t keep_above_unchecked(const tensor<T>& merged, double threshold) {
    const tensor<T> m = min_max_normalized(merged, "keep: merged");
    mask_t keep(merged.shape, std::uint8_t{0});
    for (std::size_t i = 0; i < m.size(); ++i) keep[i] = static_cast<double>(m[i]) > threshold;
    return keep;
}

}  // namespace detail

/// The pixels where the min-max normalized `merged` lies strictly above `threshold` (in [0, 1]).
template <class T>
mask_t keep_above(const tensor<T>& merged, double threshold = 0.6) {
    detail::require(threshold >= 0 && threshold <= 1,
                    "keep_above: threshold must be in [0, 1], got " + std::to_string(threshold));
    return detail::keep_above_unchecked(merged, threshold);
}

/// About the top `percentage` % (in (0, 100]) of the pixels of `merged`: those above the value at
/// sorted position ⌊(1 − percentage/100)·n⌋ (so ties and the strict comparison keep slightly fewer).
template <class T>
mask_t keep_top_percentage(const tensor<T>& merged, double percentage = 15) {
    detail::require(percentage > 0 && percentage <= 100,
                    "keep_top_percentage: percentage must be in (0, 100], got " + std::to_string(percentage));
    detail::require(merged.size() > 0, "keep_top_percentage: merged is empty");
    detail::check_finite(merged, "keep_top_percentage: merged");
    // At most n − 1: 1 − percentage/100 rounds to 1 for percentages below about 1e-14.
    const auto position = std::min(merged.size() - 1,
                                   static_cast<std::size_t>((1 - percentage / 100) * static_cast<double>(merged.size())));
    std::vector<T> sorted = merged.values;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(position), sorted.end());
    return detail::keep_above_unchecked(merged, static_cast<double>(sorted[position]));
}

/// `image` with the pixels outside `keep` [H, W] set to black.
inline rgb_image keep_pixels(const rgb_image& image, const mask_t& keep) {
    detail::require(keep.rank() == 2 && keep.shape[0] == image.height && keep.shape[1] == image.width,
                    "keep_pixels: keep shape " + to_string(keep.shape) + " must equal the image size [" +
                        std::to_string(image.height) + ", " + std::to_string(image.width) + "]");
    rgb_image out = image;
    for (std::size_t p = 0; p < keep.size(); ++p)
        if (!keep[p]) out.set(p / image.width, p % image.width, rgb{0, 0, 0});
    return out;
}

}  // namespace camkit
