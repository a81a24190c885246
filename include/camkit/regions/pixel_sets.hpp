#pragma once
// Seg-HiRes-Grad CAM's pixel sets (Rheude et al.; after Vinogradova et al.'s Seg-Grad-CAM): the
// set M of output positions whose class-c outputs the explained score sums, by name:
//   image  every position                  (the whole-image target)
//   class  the positions predicted as c    (argmax over channels; for one channel sigmoid > 0.5, i.e. Y > 0)
//   point  one position                    (a one-pixel target)
//   zero   no position                     (a sanity check: the score is 0 and the map all zeros)
// Every builder returns an [N, *P] mask of 0s and 1s for a model output Y [N, C, *P] (logits),
// the form mask_sum / mask_mean accept, so one call serves a batch.
#include <camkit/targets/masks.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace camkit {

/// Seg-HiRes-Grad CAM's named pixel sets.
enum class pixel_set {
    image,         ///< "image": every output position
    class_region,  ///< "class": the positions predicted as the class
    point,         ///< "point": one position
    zero,          ///< "zero": no position
};

/// The pixel set named `name` ("image", "class", "point" or "zero"); throws camkit::error otherwise.
inline pixel_set parse_pixel_set(std::string_view name) {
    if (name == "image") return pixel_set::image;
    if (name == "class") return pixel_set::class_region;
    if (name == "point") return pixel_set::point;
    if (name == "zero") return pixel_set::zero;
    throw error("camkit: pixel_set: unknown pixel set '" + std::string(name) + "' (image, class, point or zero)");
}

/// The mask [N, *P] of pixel set `kind` for class c of a model output Y [N, C, *P]; `position`
/// ([*P] coordinates) is used by pixel_set::point only and must be empty for the others.
template <host_tensor T>
tensor<float> pixel_set_mask(const T& output, pixel_set kind, std::size_t c, const shape_t& position = {}) {
    const std::string who = "pixel_set_mask";
    const auto shape = detail::host_shape(output);
    const detail::output_dims d = detail::check_output_shape(shape, who);
    detail::require(!d.spatial.empty(), who + ": output must be [N, C, *P] with 1 to 3 spatial axes, got shape " +
                                            to_string(shape));
    detail::check_class(c, d.channels, who + ": class");
    detail::require(kind == pixel_set::point || position.empty(),
                    who + ": a position " + to_string(position) + " is given, but only the point set uses one");
    switch (kind) {
    case pixel_set::image: return tensor<float>(d.batched_spatial, 1.0f);
    case pixel_set::zero: return tensor<float>(d.batched_spatial, 0.0f);
    case pixel_set::class_region: return predicted_region(output, c);
    case pixel_set::point: break;
    }
    const std::size_t flat = detail::flat_position(d.spatial, position, who);
    tensor<float> mask(d.batched_spatial, 0.0f);
    for (std::size_t n = 0; n < d.batch; ++n) mask[n * d.positions + flat] = 1.0f;
    return mask;
}

/// pixel_set_mask with the set given by name ("image", "class", "point" or "zero").
template <host_tensor T>
tensor<float> pixel_set_mask(const T& output, std::string_view name, std::size_t c, const shape_t& position = {}) {
    return pixel_set_mask(output, parse_pixel_set(name), c, position);
}

}  // namespace camkit
