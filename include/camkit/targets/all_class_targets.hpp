#pragma once
// One target per class of a segmentation (or classifier) output, over the whole image or over
// each class's predicted region: what explain_many takes to explain every class at once.
#include <camkit/concepts.hpp>
#include <camkit/targets/masks.hpp>
#include <camkit/targets/target.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
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
    const auto d = detail::check_output_shape(detail::host_shape(output), "all_class_targets");
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
