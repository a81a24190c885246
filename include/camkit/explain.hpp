#pragma once
// The pipeline: method policy + reductions → raw map → relu → normalize → resize → renormalize.
#include <camkit/concepts.hpp>
#include <camkit/kernels.hpp>
#include <camkit/method.hpp>
#include <camkit/normalize.hpp>
#include <camkit/resize.hpp>

#include <optional>
#include <span>
#include <string>

namespace camkit {

/// Settings of the pipeline after the raw map (SPEC.md; defaults follow it) and of the kernels.
struct options {
    bool relu = true;                                    ///< step 1: clip negative evidence
    normalization normalize = normalization::min_max;    ///< step 2
    double eps = 1e-7;                                   ///< ε of min-max normalization
    shape_t size = {};                                   ///< step 3: spatial size; empty keeps the map's
    bool renormalize = false;                            ///< step 4: ReLU and min-max again after resizing
    int threads = 0;                                     ///< host kernels: 0 = as many cores as the work fills
    bool check_finite = true;                            ///< host kernels: NaN or Inf input is an error
};

/// What an explanation returns, as tensors of the caller's kind: the raw map [N, *S], the
/// channel weights [N, K] of methods that have them, and the finished map [N, *size].
template <class R>
struct explanation {
    R raw;
    std::optional<R> weights;
    R map;
};

namespace detail {

/// Validates an [N, K, *S] activation tensor's shape; names the argument in errors.
inline void check_cam_shape(const shape_t& shape, const char* what) {
    require(shape.size() >= 3 && shape.size() <= 5,
            std::string(what) + " must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got rank " +
                std::to_string(shape.size()) + " shape " + to_string(shape));
    for (std::size_t e : shape)
        require(e > 0, std::string(what) + " has an empty axis: shape " + to_string(shape));
}

inline void check_same_shape(const shape_t& a, const shape_t& g) {
    require(a == g, "gradients shape " + to_string(g) + " must equal activations shape " + to_string(a));
}

/// Applies pipeline steps 1–4 to a copy of `raw`, written to `map` (its storage reused when it
/// has room and no resize is asked for).
template <class T>
void finish_map_into(const tensor<T>& raw, const options& opt, tensor<T>& map) {
    if (opt.size.empty()) {
        relu_normalize_copy(raw, map, opt.relu, opt.normalize, opt.eps);
        return;
    }
    tensor<T> m = raw;
    if (opt.relu) relu_inplace(m);
    normalize_inplace(m, opt.normalize, opt.eps);
    map = resize(m, opt.size);
    if (opt.renormalize) {
        relu_inplace(map);
        normalize_inplace(map, normalization::min_max, opt.eps);
    }
}

/// Applies pipeline steps 1–4 to a copy of `raw`.
template <class T>
tensor<T> finish_map(const tensor<T>& raw, const options& opt) {
    tensor<T> map;
    finish_map_into(raw, opt, map);
    return map;
}

/// Gives `t` the shape `shape`, keeping its storage when it has room (values unspecified).
template <class T>
void reshape_for_reuse(tensor<T>& t, const shape_t& shape) {
    t.shape = shape;
    t.values.resize(element_count(shape));
}

template <class T>
shape_t map_shape(const shape_t& cam_shape) {
    shape_t s{cam_shape[0]};
    s.insert(s.end(), cam_shape.begin() + 2, cam_shape.end());
    return s;
}

/// The host pipeline into caller-owned tensors: validates, runs the fused kernel into `raw` (and
/// `weights` for channel-weight methods, reset otherwise), then finishes `map`.
template <method_policy Method, class E, class Acc>
void explain_host_into(const host_view<const E>& A, const host_view<const E>& G, const options& opt, tensor<Acc>& raw,
                       std::optional<tensor<Acc>>& weights, tensor<Acc>& map) {
    check_cam_shape(A.shape, "activations");
    check_same_shape(A.shape, G.shape);
    if (!opt.size.empty())
        require(opt.size.size() + 2 == A.rank(),
                "options.size " + to_string(opt.size) + " must give one extent per spatial axis of activations " +
                    to_string(A.shape));

    reshape_for_reuse(raw, map_shape<Acc>(A.shape));
    if constexpr (Method::form == method_form::channel_weights) {
        if (!weights) weights.emplace();
        reshape_for_reuse(*weights, shape_t{A.shape[0], A.shape[1]});
        fused_channel_weights<Method, Acc>(A, &G, raw.data(), weights->data(), opt.threads, opt.check_finite);
    } else {
        weights.reset();
        if constexpr (Method::form == method_form::elementwise)
            fused_elementwise<Method, Acc>(A, G, raw.data(), opt.threads, opt.check_finite);
        else
            projection_map<Method, Acc>(A, G, raw.data(), opt.threads, opt.check_finite);
    }
    finish_map_into(raw, opt, map);
}

template <method_policy Method, host_tensor T>
auto explain_host(const T& activations, const T& gradients, const options& opt) {
    using traits = tensor_traits<std::remove_cvref_t<T>>;
    using Acc = accumulator_t<value_type_t<T>>;
    tensor<Acc> raw, map;
    std::optional<tensor<Acc>> weights;
    explain_host_into<Method>(traits::view(activations), traits::view(gradients), opt, raw, weights, map);
    using R = decltype(traits::template make_result<Acc>(std::move(raw), activations));
    std::optional<R> w;
    if (weights) w.emplace(traits::template make_result<Acc>(std::move(*weights), activations));
    return explanation<R>{traits::template make_result<Acc>(std::move(raw), activations), std::move(w),
                          traits::template make_result<Acc>(std::move(map), activations)};
}

}  // namespace detail

/// Explains with `Method` given a layer's activations and the target's gradients, both [N, K, *S].
/// Returns the raw map, the channel weights (if the method has them) and the finished map.
template <method_policy Method, explainable_tensor T>
auto explain(const T& activations, const T& gradients, const options& opt = {}) {
    if constexpr (host_tensor<T>) {
        return detail::explain_host<Method>(activations, gradients, opt);
    } else {
        // A device backend runs the same policy on whole tensors with its own ops.
        using ops = typename tensor_traits<std::remove_cvref_t<T>>::ops;
        return ops::template explain<Method>(activations, gradients, opt);
    }
}

/// Explains as `explain` does, into `out`, whose tensors' storage is reused: repeated calls at one
/// shape allocate nothing (a resize to options.size still does), so a loop over batches pays no
/// allocation or page faults. Results are camkit::tensor of the accumulation type. If it throws,
/// `out` holds unspecified values.
template <method_policy Method, host_tensor T>
void explain_into(explanation<tensor<accumulator_t<value_type_t<T>>>>& out, const T& activations, const T& gradients,
                  const options& opt = {}) {
    using traits = tensor_traits<std::remove_cvref_t<T>>;
    detail::explain_host_into<Method>(traits::view(activations), traits::view(gradients), opt, out.raw, out.weights,
                                      out.map);
}

/// Explains with a method that needs no gradients (Eigen-CAM): the activations stand in for both.
template <method_policy Method, explainable_tensor T>
auto explain(const T& activations, const options& opt = {}) {
    static_assert(!needs_gradients_v<Method>, "this method needs gradients: call explain<Method>(activations, gradients)");
    return explain<Method>(activations, activations, opt);
}

/// CAM (Zhou et al.) for a global-average-pooling + linear head: raw[n] = Σ_k W[c_n, k] A[n, k].
/// `head_weights` is [C, K] (the linear layer's weight); `classes` holds one class per sample.
template <host_tensor T, host_tensor W>
auto cam(const T& activations, const W& head_weights, std::span<const std::size_t> classes, const options& opt = {}) {
    using traits = tensor_traits<std::remove_cvref_t<T>>;
    using E = value_type_t<T>;
    using Acc = accumulator_t<E>;
    const host_view<const E> A = traits::view(activations);
    const auto Wv = tensor_traits<std::remove_cvref_t<W>>::view(head_weights);
    detail::check_cam_shape(A.shape, "activations");
    const std::size_t N = A.shape[0], K = A.shape[1];
    detail::require(Wv.rank() == 2 && Wv.shape[1] == K,
                    "head_weights must be [C, K] with K = " + std::to_string(K) + " channels, got shape " +
                        to_string(Wv.shape));
    detail::require(classes.size() == N, "classes holds " + std::to_string(classes.size()) +
                                             " entries but the batch has " + std::to_string(N) + " samples");
    tensor<Acc> weights(shape_t{N, K});
    for (std::size_t n = 0; n < N; ++n) {
        detail::require(classes[n] < Wv.shape[0], "classes[" + std::to_string(n) + "] = " + std::to_string(classes[n]) +
                                                      " is out of range for " + std::to_string(Wv.shape[0]) + " classes");
        for (std::size_t k = 0; k < K; ++k)
            weights[n * K + k] = static_cast<Acc>(
                Wv.data[static_cast<std::ptrdiff_t>(classes[n]) * Wv.strides[0] + static_cast<std::ptrdiff_t>(k) * Wv.strides[1]]);
    }
    tensor<Acc> raw(detail::map_shape<Acc>(A.shape));
    detail::fused_channel_weights<void, Acc, E>(A, nullptr, raw.data(), weights.data(), opt.threads, opt.check_finite);
    tensor<Acc> map = detail::finish_map(raw, opt);
    using R = decltype(traits::template make_result<Acc>(std::move(raw), activations));
    return explanation<R>{traits::template make_result<Acc>(std::move(raw), activations),
                          traits::template make_result<Acc>(std::move(weights), activations),
                          traits::template make_result<Acc>(std::move(map), activations)};
}

}  // namespace camkit
