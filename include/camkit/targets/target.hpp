#pragma once
// The targets layer (docs/math.md "Targets"). Every target is one linear form of the model output
// Y [N, C, *P] (segmentation, 1 to 3 output axes) or [N, C] (classifier):
//     score[n] = Σ_{c,p} seed[n, c, p] · Y[n, c, p]
// so the seed ∂score/∂Y does not depend on Y's values and one struct describes all four targets
// (class_score, mask_sum, mask_mean, whole_image). A device backend can build the seed on the
// host with target_seed() and compute the score with its own ops.
#include <camkit/concepts.hpp>
#include <camkit/error.hpp>
#include <camkit/optimize.hpp>
#include <camkit/strided.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit {

/// How a target reduces the masked class output: a plain sum, or a mean over the mask's nonzero positions.
enum class reduction {
    sum,   ///< score = Σ_p M[p] Y[c, p]
    mean,  ///< score = Σ_p M[p] Y[c, p] / nnz(M); an empty mask scores 0, never a division by zero
};

/// One target: a class, the weights of the output positions it covers, and how it reduces them.
///
/// score = sign · Σ_p M[p] · Y[ch, p] · (1 for reduction::sum, 1 / nnz(M) for reduction::mean), with
///  - ch = class_index and sign = +1 for an output with C ≥ 2 channels;
///  - for a one-channel (sigmoid) output, ch = 0 and sign = +1 for class 1, −1 for class 0;
///  - M = `mask`, all ones when absent; real-valued and possibly signed; shaped [*P] (the same
///    for every sample) or [N, *P] (sample n uses slice n). For a classifier [N, C], *P is empty,
///    so a mask is [] or [N];
///  - nnz(M) = the number of nonzero entries of the sample's mask; when it is 0 the score is 0 and
///    the seed all zeros.
/// The seed ∂score/∂Y is the weight sign · M[p] (/ nnz(M)) at channel ch and zero elsewhere.
/// Positions where M is 0 are never read, so a NaN there does not reach the score; a NaN inside
/// the mask propagates to that sample's score (the seed stays finite).
struct target {
    std::size_t class_index = 0;        ///< class c; 0 or 1 for a one-channel (sigmoid) output
    std::optional<tensor<float>> mask;  ///< weights of the output positions; absent = all ones
    reduction mode = reduction::sum;    ///< sum or mean over the mask
};

/// Scores and seeds of a set of targets, as tensors of the caller's kind.
template <class R>
struct target_result {
    R scores;  ///< [N], one score per sample (or [T], one per target of one sample)
    R seed;    ///< [N, C, *P] = ∂score/∂Y to back-propagate (or [T, C, *P])
};

namespace detail {

/// Shape facts of a model output [N, C, *P].
struct output_dims {
    std::size_t batch = 0;
    std::size_t channels = 0;
    std::size_t positions = 1;  ///< |P|; 1 for a classifier
    shape_t spatial;            ///< *P; empty for a classifier
    shape_t batched_spatial;    ///< [N, *P]
    shape_t output;             ///< [N, C, *P]
};

/// Validates an output shape; `who` names the function in messages.
inline output_dims check_output_shape(const shape_t& y, const std::string& who) {
    require(y.size() >= 2 && y.size() <= 5,
            who + ": output must be [N, C] (classifier) or [N, C, *P] with 1 to 3 spatial axes, got rank " +
                std::to_string(y.size()) + " shape " + to_string(y));
    for (std::size_t e : y) require(e > 0, who + ": output has an empty axis: shape " + to_string(y));
    output_dims d;
    d.output = y;
    d.batch = y[0];
    d.channels = y[1];
    d.spatial.assign(y.begin() + 2, y.end());
    d.positions = element_count(d.spatial);
    d.batched_spatial = {d.batch};
    d.batched_spatial.insert(d.batched_spatial.end(), d.spatial.begin(), d.spatial.end());
    return d;
}

/// Classes an output with `channels` channels distinguishes: a one-channel (sigmoid) output has two.
inline std::size_t class_count(std::size_t channels) { return channels == 1 ? 2 : channels; }

/// Validates a class index against C channels; `who` names it in messages.
inline void check_class(std::size_t c, std::size_t channels, const std::string& who) {
    if (channels == 1)
        require(c <= 1, who + " = " + std::to_string(c) +
                            " is out of range for a one-channel (sigmoid) output (C = 1): classes are 0 and 1");
    else
        require(c < channels, who + " = " + std::to_string(c) + " is out of range for C = " +
                                  std::to_string(channels) + " classes (0 to " + std::to_string(channels - 1) + ")");
}

/// Validates target `t` against the output; `who` names it in messages ("targets[2]").
inline void check_target(const target& t, const output_dims& d, const std::string& who) {
    check_class(t.class_index, d.channels, who + ".class_index");
    if (!t.mask) return;
    const shape_t& m = t.mask->shape;
    require(m == d.spatial || m == d.batched_spatial,
            who + ".mask has shape " + to_string(m) + " but must be [*P] = " + to_string(d.spatial) +
                " or [N, *P] = " + to_string(d.batched_spatial) + " for an output of shape " + to_string(d.output));
    // A tensor's members are public, so check the invariant the reads below rely on.
    require(t.mask->values.size() == element_count(m),
            who + ".mask holds " + std::to_string(t.mask->values.size()) + " values for shape " + to_string(m));
    for (std::size_t i = 0; i < t.mask->values.size(); ++i)
        require(std::isfinite(t.mask->values[i]),
                [&] { return who + ".mask holds a non-finite value at flat index " + std::to_string(i); });
}

/// Writes the seed of target `t` for sample `n` into `out` ([C, *P], zeroed beforehand).
template <class Acc>
CAMKIT_OPTIMIZE void write_seed(const target& t, const output_dims& d, std::size_t n, Acc* out) {
    const bool one_channel = d.channels == 1;
    const std::size_t ch = one_channel ? 0 : t.class_index;
    const Acc sign = one_channel && t.class_index == 0 ? Acc(-1) : Acc(1);
    Acc* plane = out + ch * d.positions;
    if (!t.mask) {
        const Acc v = t.mode == reduction::mean ? sign / static_cast<Acc>(d.positions) : sign;
        std::fill(plane, plane + d.positions, v);
        return;
    }
    const float* m = t.mask->data() + (t.mask->shape == d.spatial ? 0 : n * d.positions);
    const auto nnz = static_cast<std::size_t>(std::count_if(m, m + d.positions, [](float v) { return v != 0.0f; }));
    if (nnz == 0) return;  // an empty mask: score 0 and an all-zero seed, also for the mean
    for (std::size_t p = 0; p < d.positions; ++p) {
        if (m[p] == 0.0f) continue;  // keeps zeros +0 (sign · 0 would give −0 for class 0)
        const Acc w = sign * static_cast<Acc>(m[p]);
        plane[p] = t.mode == reduction::mean ? w / static_cast<Acc>(nnz) : w;
    }
}

/// Σ_p w[p] · Y[n, ch, p] over the positions where w is nonzero; Y read through its strides.
template <class Acc, class E>
CAMKIT_OPTIMIZE Acc weighted_plane_sum(const host_view<const E>& y, std::size_t n, std::size_t ch, const Acc* w) {
    const E* base = y.data + static_cast<std::ptrdiff_t>(n) * y.strides[0] + static_cast<std::ptrdiff_t>(ch) * y.strides[1];
    Acc sum = 0;
    std::size_t p = 0;
    for_each_strided(base, std::span<const std::size_t>(y.shape).subspan(2),
                     std::span<const std::ptrdiff_t>(y.strides).subspan(2), [&](const E* v) {
                         if (w[p] != Acc(0)) sum += w[p] * static_cast<Acc>(*v);
                         ++p;
                     });
    return sum;
}

/// Seeds of one target per sample, [N, C, *P], after validating everything.
template <class Acc>
tensor<Acc> batch_seed(const output_dims& d, const shape_t& y_shape, std::span<const target> targets,
                       const std::string& who) {
    require(targets.size() == d.batch, who + ": " + std::to_string(targets.size()) + " given for a batch of " +
                                           std::to_string(d.batch));
    for (std::size_t n = 0; n < targets.size(); ++n) check_target(targets[n], d, who + "[" + std::to_string(n) + "]");
    tensor<Acc> seed(y_shape);
    const std::size_t per = d.channels * d.positions;
    for (std::size_t n = 0; n < d.batch; ++n) write_seed(targets[n], d, n, seed.data() + n * per);
    return seed;
}

/// Seeds of T targets for one sample, [T, C, *P], after validating everything.
template <class Acc>
tensor<Acc> sample_seeds(const output_dims& d, std::span<const target> targets, std::size_t sample,
                         const std::string& who) {
    require(sample < d.batch, who + ": sample " + std::to_string(sample) + " is out of range for a batch of " +
                                  std::to_string(d.batch));
    for (std::size_t t = 0; t < targets.size(); ++t) check_target(targets[t], d, who + "[" + std::to_string(t) + "]");
    shape_t shape{targets.size(), d.channels};
    shape.insert(shape.end(), d.spatial.begin(), d.spatial.end());
    tensor<Acc> seeds(std::move(shape));
    const std::size_t per = d.channels * d.positions;
    for (std::size_t t = 0; t < targets.size(); ++t) write_seed(targets[t], d, sample, seeds.data() + t * per);
    return seeds;
}

/// The channel a target's seed lives on.
inline std::size_t seed_channel(const target& t, const output_dims& d) { return d.channels == 1 ? 0 : t.class_index; }

}  // namespace detail

/// The seed ∂score/∂Y [N, C, *P] of one target per sample for an output of shape `output_shape`.
/// It does not depend on Y's values, so a device backend can build it here and upload it once.
template <class Acc = float>
tensor<Acc> target_seed(const shape_t& output_shape, std::span<const target> targets) {
    const auto d = detail::check_output_shape(output_shape, "targets");
    return detail::batch_seed<Acc>(d, output_shape, targets, "targets");
}

/// The seeds [T, C, *P] of T targets for sample `sample` of an output of shape `output_shape`.
template <class Acc = float>
tensor<Acc> target_seeds_for_sample(const shape_t& output_shape, std::span<const target> targets,
                                    std::size_t sample = 0) {
    const auto d = detail::check_output_shape(output_shape, "targets");
    return detail::sample_seeds<Acc>(d, targets, sample, "targets");
}

/// Scores [N] and seed [N, C, *P] of one target per sample of a model output Y [N, C, *P] or [N, C].
/// Throws camkit::error when the target count differs from N, a class is out of range, a mask's
/// shape matches neither [*P] nor [N, *P], or Y's shape is not an output shape.
template <host_tensor T>
auto seed_and_score(const T& output, std::span<const target> targets) {
    return detail::with_host_view(output, [&](const auto& y) {
        using Acc = accumulator_t<typename std::remove_cvref_t<decltype(y)>::element_type>;
        const auto d = detail::check_output_shape(y.shape, "targets");
        tensor<Acc> seed = detail::batch_seed<Acc>(d, y.shape, targets, "targets");
        tensor<Acc> scores(shape_t{d.batch});
        const std::size_t per = d.channels * d.positions;
        for (std::size_t n = 0; n < d.batch; ++n) {
            const std::size_t ch = detail::seed_channel(targets[n], d);
            scores[n] = detail::weighted_plane_sum<Acc>(y, n, ch, seed.data() + n * per + ch * d.positions);
        }
        using R = decltype(detail::make_result<Acc>(std::move(scores), output));
        return target_result<R>{detail::make_result<Acc>(std::move(scores), output),
                                detail::make_result<Acc>(std::move(seed), output)};
    });
}

/// seed_and_score for a braced list of targets: `seed_and_score(Y, {class_score(1), class_score(0)})`.
template <host_tensor T>
auto seed_and_score(const T& output, std::initializer_list<target> targets) {
    return seed_and_score(output, std::span<const target>(targets.begin(), targets.size()));
}

/// Many targets for ONE sample (e.g. every class of a segmentation) in one call: scores [T] and
/// seeds [T, C, *P] of the targets on sample `sample` of Y [N, C, *P] (a mask [N, *P] gives slice `sample`).
template <host_tensor T>
auto seed_and_score_many(const T& output, std::span<const target> targets, std::size_t sample = 0) {
    return detail::with_host_view(output, [&](const auto& y) {
        using Acc = accumulator_t<typename std::remove_cvref_t<decltype(y)>::element_type>;
        const auto d = detail::check_output_shape(y.shape, "targets");
        tensor<Acc> seeds = detail::sample_seeds<Acc>(d, targets, sample, "targets");
        tensor<Acc> scores(shape_t{targets.size()});
        const std::size_t per = d.channels * d.positions;
        for (std::size_t t = 0; t < targets.size(); ++t) {
            const std::size_t ch = detail::seed_channel(targets[t], d);
            scores[t] = detail::weighted_plane_sum<Acc>(y, sample, ch, seeds.data() + t * per + ch * d.positions);
        }
        using R = decltype(detail::make_result<Acc>(std::move(scores), output));
        return target_result<R>{detail::make_result<Acc>(std::move(scores), output),
                                detail::make_result<Acc>(std::move(seeds), output)};
    });
}

/// seed_and_score_many for a braced list of targets.
template <host_tensor T>
auto seed_and_score_many(const T& output, std::initializer_list<target> targets, std::size_t sample = 0) {
    return seed_and_score_many(output, std::span<const target>(targets.begin(), targets.size()), sample);
}

namespace detail {

/// Copies any host tensor into a dense float mask (targets store their masks as tensor<float>).
template <host_tensor M>
tensor<float> to_mask(const M& m, const char* who) {
    return with_host_view(m, [&](const auto& v) {
        require(v.rank() <= 4, std::string(who) + ": mask must be [*P] or [N, *P] with at most 3 spatial axes, got shape " +
                                   to_string(v.shape));
        tensor<float> out(v.shape);
        gather_strided(v.data, v.shape, v.strides, out.data());
        return out;
    });
}

}  // namespace detail

}  // namespace camkit
