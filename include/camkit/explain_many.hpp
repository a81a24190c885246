#pragma once
// Many targets on one set of activations (every class of a segmentation, several masks): one
// call explains T targets of ONE sample. For channel-weight methods the weights W[T, K] come
// from each target's gradients, then raw = W · A adds each group of activation planes into every
// target's map while it is in cache, so the activations are read from memory once for all
// targets instead of once per target. Element-wise methods run the fused kernel per target.
//
// The product W · A is a parameter: camkit's own loop here; the BLAS adapter
// (<camkit/blas/explain_many.hpp>) passes a BLAS matrix product instead.
#include <camkit/explain.hpp>
#include <camkit/parallel.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace camkit {

namespace detail {

/// camkit's product raw[T, S] = W[T, K] · A[0, K, S]: blocked_product where A's planes are the memory
/// itself (blocked_product_in_place: up to 64 planes, or more within 4 MiB) or its rows are channels-last
/// (reads_position_major); otherwise (gathered planes: other strides, half precision, more
/// channels) a group of activation planes is read once and, while in cache, added into every
/// target's map, targets split over `threads`. The same additions either way: the same maps.
struct loop_product {
    template <class Acc, class E>
    void operator()(const Acc* W, std::size_t Tn, std::size_t K, const host_view<const E>& A, std::size_t S, Acc* raw,
                    unsigned threads) const {
        if constexpr (std::is_same_v<E, Acc>) {
            if (blocked_product_in_place<Acc>(A) || reads_position_major<Acc, E>(A, nullptr))
                return blocked_product(W, Tn, K, A, S, raw, threads);
        }
        std::fill(raw, raw + Tn * S, Acc(0));
        const unsigned parts = static_cast<unsigned>(std::min<std::size_t>(threads, Tn));
        parallel_for(parts, parts, [&](std::size_t part) {
            const std::size_t t0 = Tn * part / parts, t1 = Tn * (part + 1) / parts;
            group_reader<Acc, E> ra(&A);
            for (std::size_t k = 0; k < K; k += channel_group) {
                const std::size_t m = std::min(channel_group, K - k);
                for (std::size_t j = 0; j < m; ++j) ra.get(j, 0, k + j);
                with_group_size(m, [&](auto M) {
                    for (std::size_t t = t0; t < t1; ++t) add_scaled<M()>(raw + t * S, W + t * K + k, ra.data, S);
                });
            }
        });
    }
};

/// explain_many on host views of a validated request, with `product` computing W · A and `eigen`
/// the projection methods' eigenproblem.
template <method_policy Method, class Acc, class E, class Product, class Eigen>
explanation<tensor<Acc>> explain_many_host(const cam_request& req, const host_view<const E>& A,
                                           const host_view<const E>& G, const options& opt, const Product& product,
                                           const Eigen& eigen) {
    const std::size_t Tn = req.maps, K = req.K, S = req.S;
    explanation<tensor<Acc>> out;
    out.raw = tensor<Acc>(req.raw_shape);
    const unsigned threads = resolve_threads(opt.threads, (Tn + 1) * A.size());

    if constexpr (Method::form == method_form::channel_weights) {
        // Pass 1: W[t, k].
        out.weights.emplace(shape_t{Tn, K});
        Acc* W = out.weights->data();
        // Planes: each target's gradients streamed in order (split over channel blocks when there
        // are fewer targets than threads).
        const auto plane_weights = [&] {
            const std::size_t blocks = std::min<std::size_t>(K, threads > Tn ? (threads + Tn - 1) / Tn : 1);
            // Σ A of a channel is the same for every target: computed once per channel here instead
            // of once per target, by the same additions in the same order, so the same value.
            std::vector<Acc> sum_a;
            if constexpr (shares_sum_a<Method>) {
                plane_reader<Acc, E> ra(A);
                sum_a.resize(K);
                for (std::size_t k = 0; k < K; ++k) sum_a[k] = plane_ops<Acc>::sum(ra.get(0, k));
            }
            // Each target's weights by explain's group passes (channel groups swept together), so
            // explain's weights to the bit.
            parallel_for(Tn * blocks, threads, [&](std::size_t item) {
                const std::size_t t = item / blocks, b = item % blocks;
                sample_weights<Method, Acc>(A, target_slice(G, t), K * b / blocks, K * (b + 1) / blocks,
                                            sum_a.empty() ? nullptr : sum_a.data(), W + t * K, opt.check_finite, t);
            });
        };
        // Channels-last memory: the rows of A and of each target's gradients walked in place, as
        // explain walks them (position_major.hpp).
        if constexpr (std::is_same_v<E, Acc>) {
            if (reads_position_major<Acc>(A, &G))
                position_major_many_weights<Method, Acc>(A, G, S, W, threads, opt.check_finite);
            else
                plane_weights();
        } else {
            plane_weights();
        }
        // Pass 2: raw = W · A.
        product(static_cast<const Acc*>(W), Tn, K, A, S, out.raw.data(), threads);
        // Activations the weights did not read are checked through the map: with finite weights a
        // NaN or Inf activation makes it non-finite. With finite activations, the first target whose
        // map is not finite had a weight or a sum beyond the range.
        if (opt.check_finite && !finite_map(out.raw.data(), out.raw.size())) {
            plane_reader<Acc, E> ra(A);
            for (std::size_t k = 0; k < K; ++k)
                if (!plane_ops<Acc>::all_finite(ra.get(0, k))) throw_non_finite("activations", 0, k);
            for (std::size_t t = 0; t < Tn; ++t)
                if (!finite_map(out.raw.data() + t * S, S)) throw_non_finite_map(t);
        }
    } else if constexpr (Method::form == method_form::elementwise) {
        // The fused kernel per target: the gradients dominate the traffic (T planes per activation
        // plane), and each target's pass streams them in order.
        for (std::size_t t = 0; t < Tn; ++t)
            fused_elementwise<Method, Acc>(A, target_slice(G, t), out.raw.data() + t * S, opt.threads,
                                           opt.check_finite, t);
    } else if constexpr (needs_gradients_v<Method>) {
        // A decomposition per target (Eigen-Grad-CAM decomposes each target's A·G).
        for (std::size_t t = 0; t < Tn; ++t)
            projection_map<Method, Acc>(A, target_slice(G, t), out.raw.data() + t * S, opt.threads, opt.check_finite,
                                        eigen, t);
    } else {
        // Eigen-CAM decomposes the activations alone: target 0's map (the same computation for every
        // target) is every target's, and the gradients it ignores are checked target by target, as
        // a call per target checks them.
        projection_map<Method, Acc>(A, target_slice(G, 0), out.raw.data(), opt.threads, opt.check_finite, eigen, 0);
        for (std::size_t t = 1; t < Tn; ++t) {
            const host_view<const E> g = target_slice(G, t);
            if (opt.check_finite && (g.data != A.data || g.strides != A.strides)) locate_non_finite_gradients<Acc>(g, 0, t);
            std::copy_n(out.raw.data(), S, out.raw.data() + t * S);
        }
    }
    finish_map_into(out.raw, opt, out.map);
    return out;
}

/// explain_many for any host tensors, with `product` computing W · A and `eigen` the eigenproblem.
template <method_policy Method, host_tensor T, class Product, class Eigen = host_eigen>
auto explain_many_with(const T& activations, const T& gradients, const options& opt, const Product& product,
                       const Eigen& eigen = {}) {
    return with_host_view(activations, [&](const auto& A) {
        using E = typename std::remove_cvref_t<decltype(A)>::element_type;
        using Acc = accumulator_t<E>;
        const host_view<const E> G = host_view_as<E>(gradients, "gradients");
        const cam_request req = check_request(A.shape, &G.shape, opt, request_kind::many_targets);
        auto out = explain_many_host<Method, Acc>(req, A, G, opt, product, eigen);
        return make_explanation<Acc>(activations, std::move(out.raw), std::move(out.weights), std::move(out.map));
    });
}

}  // namespace detail

/// Explains T targets of one sample: `activations` [1, K, *S] and `gradients` [T, K, *S] (row t
/// holds the gradients of target t). Returns raw [T, *S], weights [T, K] (channel-weight methods)
/// and map [T, *size], equal to T separate explain calls up to float rounding. Channel-weight
/// methods compute W [T, K], then W · A reading A once; element-wise methods and Eigen-Grad-CAM run
/// their kernel per target; Eigen-CAM, which reads the activations alone, decomposes them once and
/// gives every target that map (each target's gradients still checked finite).
template <method_policy Method, host_tensor T>
auto explain_many(const T& activations, const T& gradients, const options& opt = {}) {
    return detail::explain_many_with<Method>(activations, gradients, opt, detail::loop_product{});
}

}  // namespace camkit
