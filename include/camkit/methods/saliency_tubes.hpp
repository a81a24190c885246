#pragma once
// Saliency Tubes (Stergiou et al., ICIP 2019): the class-activation map of a 3-D (spatio-temporal)
// convolutional network whose last convolution feeds global average pooling and one linear layer:
//   raw[n, d, h, w] = Σ_k W[c_n, k] A[n, k, d, h, w]
// — camkit::cam on activations [N, K, D, H, W]. The original code then min-max normalizes the
// volume without a ReLU and upsamples it to the clip (scipy's cubic-spline zoom; camkit resizes
// trilinearly); saliency_tubes_options() is that pipeline. With no class given, each sample's
// class is the head's top class, argmax_c Σ_k W[c, k] mean_s A[n, k, s] (the head's bias, which
// camkit does not see, could change the winner: pass the class then).
#include <camkit/explain.hpp>
#include <camkit/kernels.hpp>
#include <camkit/targets/masks.hpp>

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace camkit {

/// Each sample's top class of a GAP + linear head: argmax_c Σ_k W[c, k] · mean_s A[n, k, s]
/// (the first on ties) for activations [N, K, *S] and head weights [C, K]; bias not included.
template <host_tensor T, host_tensor W>
std::vector<std::size_t> top_classes(const T& activations, const W& head_weights) {
    return detail::with_host_view(activations, [&](const auto& A) {
        return detail::with_host_view(head_weights, [&](const auto& Wv) {
            using E = typename std::remove_cvref_t<decltype(A)>::element_type;
            detail::check_cam_shape(A.shape, "activations");
            const std::size_t N = A.shape[0], K = A.shape[1];
            detail::check_head_shape(Wv.shape, K);
            // The channel means, each plane read once through the kernels' dense plane reader.
            using Acc = accumulator_t<E>;
            detail::plane_reader<Acc, E> reader(A);
            std::vector<double> gap(N * K, 0.0);
            for (std::size_t n = 0; n < N; ++n)
                for (std::size_t k = 0; k < K; ++k) {
                    const plane<Acc> p = reader.get(n, k);
                    double sum = 0;
                    for (std::size_t s = 0; s < p.size; ++s) sum += static_cast<double>(p.data[s]);
                    detail::require(std::isfinite(sum), [&] {
                        return "activations contain NaN or Inf (sample " + std::to_string(n) + ", channel " + std::to_string(k) + ")";
                    });
                    gap[n * K + k] = sum / static_cast<double>(p.size);
                }
            std::vector<std::size_t> classes(N, 0);
            for (std::size_t n = 0; n < N; ++n) {
                double best = 0;
                for (std::size_t c = 0; c < Wv.shape[0]; ++c) {
                    double score = 0;
                    for (std::size_t k = 0; k < K; ++k)
                        score += static_cast<double>(Wv.data[static_cast<std::ptrdiff_t>(c) * Wv.strides[0] +
                                                             static_cast<std::ptrdiff_t>(k) * Wv.strides[1]]) *
                                 gap[n * K + k];
                    detail::require(std::isfinite(score), [&] {
                        return "head_weights contain NaN or Inf (class " + std::to_string(c) + ")";
                    });
                    if (c == 0 || score > best) {
                        best = score;
                        classes[n] = c;
                    }
                }
            }
            return classes;
        });
    });
}

/// The Saliency Tubes pipeline: no ReLU, min-max normalization (then resize with options.size).
inline options saliency_tubes_options() { return options{.relu = false}; }

/// Saliency Tubes: camkit::cam on 3-D activations [N, K, D, H, W] with head weights [C, K], one class per sample.
template <host_tensor T, host_tensor W>
auto saliency_tubes(const T& activations, const W& head_weights, std::span<const std::size_t> classes,
                    const options& opt = saliency_tubes_options()) {
    const auto shape = detail::host_shape(activations);
    detail::require(shape.size() == 5, "saliency_tubes: activations must be [N, K, D, H, W] (a 3-D layer), got shape " +
                                           to_string(shape));
    return cam(activations, head_weights, classes, opt);
}

/// Saliency Tubes of each sample's top class (top_classes).
template <host_tensor T, host_tensor W>
auto saliency_tubes(const T& activations, const W& head_weights, const options& opt = saliency_tubes_options()) {
    const std::vector<std::size_t> classes = top_classes(activations, head_weights);
    return saliency_tubes(activations, head_weights, std::span<const std::size_t>(classes), opt);
}

}  // namespace camkit
