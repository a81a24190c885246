#pragma once
// Named combinations for segmentation models.
//
// Seg-Grad-CAM (Vinogradova et al.) is grad_cam explaining a mask_sum target: the score is
// Σ_p M[p] Y[c, p], the class-c output summed over a region M of interest (the predicted region,
// a box, one pixel or the whole image), and its seed ∂score/∂Y = M on channel c is what the
// framework back-propagates to the explained layer to get the gradients G.
//
// Seg-HiRes-Grad-CAM is hires_cam (raw = Σ_k A ⊙ G) with the same mask_sum target: it keeps the
// gradient's spatial layout instead of averaging it per channel, so the map follows the region.
//
// The steps, for any backend:
//   1. targets  = all_class_targets(Y, mask_kind::predicted_region)        (or mask_sum(c, M))
//   2. seeds    = seed_and_score_many(Y, targets).seed                       [T, C, *P]
//   3. G        = backward of each seed to the layer's activations A         (framework autograd)
//   4. maps     = explain<seg_grad_cam>(A, G) or explain<seg_hires_grad_cam>(A, G)
// mask_mean gives the same normalized maps as mask_sum (its seed is smaller by the factor nnz(M)).
#include <camkit/concepts.hpp>
#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/targets.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <optional>
#include <type_traits>
#include <vector>

namespace camkit {

/// Which region each target of all_class_targets covers.
enum class mask_kind {
    whole_image,       ///< every output position (whole_image(c))
    predicted_region,  ///< the positions predicted as the class (predicted_region(Y, c))
};

/// One target per class of an output with `channels` channels, each over the whole image
/// (a one-channel sigmoid output gives two: class 0 and class 1).
inline std::vector<target> all_class_targets(std::size_t channels, reduction mode = reduction::sum) {
    detail::require(channels > 0, "all_class_targets: channels must be at least 1");
    std::vector<target> targets;
    for (std::size_t c = 0; c < detail::class_count(channels); ++c) targets.push_back(target{c, std::nullopt, mode});
    return targets;
}

/// One target per class of an output with `channels` channels, all over the same mask [*P].
inline std::vector<target> all_class_targets(std::size_t channels, const tensor<float>& mask,
                                             reduction mode = reduction::sum) {
    auto targets = all_class_targets(channels, mode);
    for (auto& t : targets) t.mask = mask;
    return targets;
}

/// One target per class for sample `sample` of a model output Y [N, C, *P], over the whole image
/// or over each class's predicted region (an empty region gives that class score 0 and a zero seed).
/// Use the result with seed_and_score_many(Y, targets, sample).
template <host_tensor T>
std::vector<target> all_class_targets(const T& output, mask_kind kind, reduction mode = reduction::sum,
                                      std::size_t sample = 0) {
    const auto shape = tensor_traits<std::remove_cvref_t<T>>::view(output).shape;
    const auto d = detail::check_output_shape(shape, "all_class_targets");
    detail::require(sample < d.batch, "all_class_targets: sample " + std::to_string(sample) +
                                          " is out of range for a batch of " + std::to_string(d.batch));
    auto targets = all_class_targets(d.channels, mode);
    if (kind == mask_kind::whole_image) return targets;
    // One argmax pass serves every class.
    const tensor<float> labels = detail::predicted_labels(output, "all_class_targets");
    const float* own = labels.data() + sample * d.positions;
    for (auto& t : targets) {
        tensor<float> region(d.spatial);
        for (std::size_t p = 0; p < d.positions; ++p) region[p] = own[p] == static_cast<float>(t.class_index) ? 1.0f : 0.0f;
        t.mask = std::move(region);
    }
    return targets;
}

}  // namespace camkit
