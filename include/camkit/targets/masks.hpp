#pragma once
// Mask builders for the targets: regions read from a model output (predicted_region, threshold)
// and geometric ones (pixel, box). Every mask is a tensor<float> of 0s and 1s: [N, *P] when built
// from an output Y [N, C, *P] (sample n uses slice n in a target), [*P] when built from a shape
// (the same for every sample). For a classifier output [N, C] the "region" is [N]: 1 where the
// sample as a whole is predicted (or thresholded) as class c.
#include <camkit/optimize.hpp>
#include <camkit/reductions.hpp>
#include <camkit/strided.hpp>
#include <camkit/targets/target.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace camkit {

namespace detail {

/// The channel planes [C, *P] of sample n of an output view Y [N, C, *P] into `planes` (dense,
/// whatever Y's strides). Non-finite values are an error (an argmax or a softmax of NaN has no
/// meaning): one vectorized check, and a search for the message only when it fails.
template <class View, class Acc>
void sample_planes(const View& y, std::size_t n, const output_dims& d, Acc* planes, const std::string& who) {
    gather_strided(y.data + static_cast<std::ptrdiff_t>(n) * y.strides[0], std::span<const std::size_t>(y.shape).subspan(1),
                   std::span<const std::ptrdiff_t>(y.strides).subspan(1), planes);
    if (plane_ops<Acc>::all_finite(plane<Acc>{planes, d.channels * d.positions})) return;
    for (std::size_t i = 0; i < d.channels * d.positions; ++i)
        require(std::isfinite(planes[i]), [&] {
            return who + ": output holds a non-finite value (" + std::to_string(planes[i]) + ") at sample " +
                   std::to_string(n) + ", channel " + std::to_string(i / d.positions) + ", flat position " +
                   std::to_string(i % d.positions);
        });
}

/// Calls `decide(logits)` for every sample n and position p of an output Y [N, C, *P], with the
/// C channel values at (n, p) in `logits`, and stores its answer (as float) in an [N, *P] tensor.
/// Non-finite values are an error (sample_planes).
template <host_tensor T, class Decide>
tensor<float> region_from_output(const T& output, const std::string& who, Decide&& decide) {
    return with_host_view(output, [&](const auto& y) {
        using Acc = accumulator_t<typename std::remove_cvref_t<decltype(y)>::element_type>;
        const output_dims d = check_output_shape(y.shape, who);
        tensor<float> mask(d.batched_spatial);
        std::vector<Acc> planes(d.channels * d.positions);
        std::vector<Acc> logits(d.channels);
        for (std::size_t n = 0; n < d.batch; ++n) {
            sample_planes(y, n, d, planes.data(), who);
            for (std::size_t p = 0; p < d.positions; ++p) {
                for (std::size_t c = 0; c < d.channels; ++c) logits[c] = planes[c * d.positions + p];
                mask[n * d.positions + p] = static_cast<float>(decide(logits));
            }
        }
        return mask;
    });
}

/// The first argmax over the C planes of P values at every position (as an Acc class index) into
/// `label`, in packs of W positions: each pack's C values compared in registers (a strict > keeps
/// the first maximum of a tie, as torch.argmax), so the planes are read once and `label` written once.
template <std::size_t W, class Acc>
CAMKIT_KERNEL_INLINE void argmax_in(const Acc* planes, std::size_t C, std::size_t P, Acc* label) {
    std::size_t p = 0;
    if constexpr (W > 1) {
        using B = pack_t<Acc, W>;
        for (; p + W <= P; p += W) {
            B best = load<Acc, W>(planes + p), which = broadcast<Acc, W>(Acc(0));
            for (std::size_t c = 1; c < C; ++c) {
                const B v = load<Acc, W>(planes + c * P + p);
                const auto higher = v > best;
                best = pack_select(higher, v, best);
                which = pack_select(higher, broadcast<Acc, W>(static_cast<Acc>(c)), which);
            }
            store(label + p, which);
        }
    }
    for (; p < P; ++p) {
        Acc best = planes[p], which = 0;
        for (std::size_t c = 1; c < C; ++c)
            if (planes[c * P + p] > best) best = planes[c * P + p], which = static_cast<Acc>(c);
        label[p] = which;
    }
}

/// The predicted class at each of the P positions of C planes, as a float class index, into
/// `labels`: the first argmax over the planes (argmax_in, `scratch`: P values where Acc is not
/// float), or for one plane 1 where it is > 0 and 0 elsewhere.
template <class Acc>
CAMKIT_OPTIMIZE void argmax_labels(const Acc* planes, std::size_t C, std::size_t P, Acc* scratch, float* labels) {
    if (C == 1) {
        for (std::size_t p = 0; p < P; ++p) labels[p] = planes[p] > Acc(0) ? 1.0f : 0.0f;
        return;
    }
    Acc* label = scratch;
    if constexpr (std::is_same_v<Acc, float>) label = labels;
    dispatch([&](auto bytes) { argmax_in<lanes_in<Acc, bytes()>>(planes, C, P, label); });
    if constexpr (!std::is_same_v<Acc, float>)
        for (std::size_t p = 0; p < P; ++p) labels[p] = static_cast<float>(label[p]);
}

/// The shape of any host tensor.
template <host_tensor T>
shape_t host_shape(const T& t) {
    return with_host_view(t, [](const auto& v) { return v.shape; });
}

/// Validates a spatial shape for pixel/box: 1 to 3 axes, none empty.
inline void check_spatial_shape(const shape_t& shape, const std::string& who) {
    require(!shape.empty() && shape.size() <= 3,
            who + ": shape must have 1 to 3 spatial axes, got " + to_string(shape));
    for (std::size_t e : shape) require(e > 0, who + ": shape has an empty axis: " + to_string(shape));
}

/// The row-major flat index of `position` in `shape`; throws naming `who` when it has the wrong
/// number of coordinates or lies outside the shape.
inline std::size_t flat_position(const shape_t& shape, const shape_t& position, const std::string& who) {
    require(position.size() == shape.size(), who + ": position " + to_string(position) + " must have " +
                                                 std::to_string(shape.size()) + " coordinates for shape " +
                                                 to_string(shape));
    std::size_t flat = 0;
    for (std::size_t a = 0; a < shape.size(); ++a) {
        require(position[a] < shape[a], who + ": position " + to_string(position) + " lies outside shape " + to_string(shape));
        flat = flat * shape[a] + position[a];
    }
    return flat;
}

/// The predicted class at every position of Y [N, C, *P], as an [N, *P] tensor of class indices:
/// the first argmax over channels, or for one channel 1 where Y > 0 (sigmoid > 0.5) and 0 elsewhere.
template <host_tensor T>
tensor<float> predicted_labels(const T& output, const std::string& who) {
    return with_host_view(output, [&](const auto& y) {
        using Acc = accumulator_t<typename std::remove_cvref_t<decltype(y)>::element_type>;
        const output_dims d = check_output_shape(y.shape, who);
        tensor<float> labels(d.batched_spatial);
        std::vector<Acc> planes(d.channels * d.positions), scratch(std::is_same_v<Acc, float> ? 0 : d.positions);
        for (std::size_t n = 0; n < d.batch; ++n) {
            sample_planes(y, n, d, planes.data(), who);
            argmax_labels(planes.data(), d.channels, d.positions, scratch.data(), labels.data() + n * d.positions);
        }
        return labels;
    });
}

}  // namespace detail

/// The region predicted as class c: 1 where argmax over channels of Y[n, :, p] is c (the first
/// maximum wins ties, like torch.argmax), else 0; [N, *P]. For a one-channel (sigmoid) output,
/// class 1 is Y > 0 (sigmoid > 0.5) and class 0 is Y ≤ 0. NaN or ±Inf in Y throws camkit::error.
template <host_tensor T>
CAMKIT_OPTIMIZE tensor<float> predicted_region(const T& output, std::size_t c) {
    const auto d = detail::check_output_shape(detail::host_shape(output), "predicted_region");
    detail::check_class(c, d.channels, "predicted_region: class");
    tensor<float> mask = detail::predicted_labels(output, "predicted_region");
    for (float& v : mask.values) v = v == static_cast<float>(c) ? 1.0f : 0.0f;
    return mask;
}

/// The region where class c's probability exceeds t: softmax over channels > t, or for a
/// one-channel output sigmoid(Y) > t (class 1) and 1 − sigmoid(Y) > t (class 0); [N, *P].
/// t must lie in [0, 1]; NaN or ±Inf in Y throws camkit::error.
template <host_tensor T>
tensor<float> threshold(const T& output, std::size_t c, double t) {
    const auto d = detail::check_output_shape(detail::host_shape(output), "threshold");
    detail::check_class(c, d.channels, "threshold: class");
    detail::require(t >= 0.0 && t <= 1.0, "threshold: t must be a probability in [0, 1], got " + std::to_string(t));
    return detail::region_from_output(output, "threshold", [&](const auto& logits) {
        if (logits.size() == 1) {
            const double z = static_cast<double>(logits[0]);
            // σ(z) for class 1 and 1 − σ(z) = σ(−z) for class 0, in the form that does not overflow.
            const double x = c == 1 ? z : -z;
            const double prob = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
            return prob > t;
        }
        double mx = static_cast<double>(logits[0]);
        for (const auto v : logits) mx = std::max(mx, static_cast<double>(v));
        double total = 0;
        for (const auto v : logits) total += std::exp(static_cast<double>(v) - mx);
        return std::exp(static_cast<double>(logits[c]) - mx) / total > t;
    });
}

/// A mask of spatial shape [*P] that is 1 at `position` only (a one-pixel target).
inline tensor<float> pixel(const shape_t& shape, const shape_t& position) {
    detail::check_spatial_shape(shape, "pixel");
    tensor<float> mask(shape, 0.0f);
    mask[detail::flat_position(shape, position, "pixel")] = 1.0f;
    return mask;
}

/// A mask of spatial shape [*P] that is 1 inside the box lo ≤ x < hi (lo inclusive, hi exclusive,
/// per axis) and 0 elsewhere. lo == hi on an axis gives an empty mask (score 0).
inline tensor<float> box(const shape_t& shape, const shape_t& lo, const shape_t& hi) {
    detail::check_spatial_shape(shape, "box");
    detail::require(lo.size() == shape.size() && hi.size() == shape.size(),
                    "box: lo " + to_string(lo) + " and hi " + to_string(hi) + " must each have " +
                        std::to_string(shape.size()) + " coordinates for shape " + to_string(shape));
    for (std::size_t a = 0; a < shape.size(); ++a)
        detail::require(lo[a] <= hi[a] && hi[a] <= shape[a],
                        "box: need lo ≤ hi ≤ shape on every axis, got lo " + to_string(lo) + ", hi " + to_string(hi) +
                            " for shape " + to_string(shape));
    tensor<float> mask(shape, 0.0f);
    // Pad to three axes so one loop nest serves 1-D, 2-D and 3-D.
    std::size_t ext[3] = {1, 1, 1}, l[3] = {0, 0, 0}, h[3] = {1, 1, 1};
    const std::size_t off = 3 - shape.size();
    for (std::size_t a = 0; a < shape.size(); ++a) {
        ext[off + a] = shape[a];
        l[off + a] = lo[a];
        h[off + a] = hi[a];
    }
    for (std::size_t i = l[0]; i < h[0]; ++i)
        for (std::size_t j = l[1]; j < h[1]; ++j)
            for (std::size_t k = l[2]; k < h[2]; ++k) mask[(i * ext[1] + j) * ext[2] + k] = 1.0f;
    return mask;
}

}  // namespace camkit
