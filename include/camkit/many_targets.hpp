#pragma once
// Many targets on one set of activations (every class of a segmentation, several masks): one
// call explains T targets of ONE sample. For channel-weight methods the weights W[T, K] come
// from each target's gradients, then raw = W · A adds each group of activation planes into every
// target's map while it is in cache, so the activations are read from memory once for all
// targets instead of once per target. Element-wise methods run the fused kernel per target.
//
// With CAMKIT_WITH_CBLAS defined (the camkit::blas CMake target defines it and links a CBLAS such
// as OpenBLAS), W · A is a CBLAS matrix product (sgemm/dgemm) wherever the activations are dense
// float or double, and camkit's own loop otherwise. Define it alike in every translation unit of
// a program.
#include <camkit/explain.hpp>

#if defined(CAMKIT_WITH_CBLAS)
#include <cblas.h>
#endif

#include <algorithm>
#include <atomic>
#include <climits>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace camkit {

namespace detail {

/// Runs body(i) for i in [0, count) on `threads` threads (dynamic chunks); rethrows the first error.
template <class Body>
void parallel_for(std::size_t count, unsigned threads, Body&& body) {
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    if (workers <= 1) {
        for (std::size_t i = 0; i < count; ++i) body(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto work = [&] {
        try {
            for (std::size_t i; (i = next.fetch_add(1)) < count;) body(i);
        } catch (...) {
            std::lock_guard lock(failure_mutex);
            if (!failure) failure = std::current_exception();
            next = count;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < workers; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

/// Throws for a non-finite activation plane k, else for a non-finite gradient plane (t, k); returns
/// when both are finite (a finite sum overflowed).
template <class Acc>
void locate_non_finite_target(plane<Acc> a, plane<Acc> g, std::size_t t, std::size_t k) {
    if (!plane_ops<Acc>::all_finite(a)) throw_non_finite("activations", 0, k);
    if (!plane_ops<Acc>::all_finite(g)) throw_non_finite("gradients", t, k);
}

/// raw[T, S] = W[T, K] · A[0, K, S]: a group of activation planes is read from memory once and,
/// while in cache, added into every target's map; targets split over `threads` threads.
template <class Acc, class E>
void weighted_sum_many(const Acc* W, std::size_t Tn, std::size_t K, const host_view<const E>& A, std::size_t S,
                       Acc* raw, unsigned threads) {
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

/// weighted_sum_many by CBLAS, in column blocks over `threads` threads; false (nothing written)
/// where CBLAS is not compiled in or cannot read A as it is laid out (an element type other than
/// float or double, strided spatial axes, extents past int).
template <class Acc, class E>
bool blas_weighted_sum([[maybe_unused]] const Acc* W, [[maybe_unused]] std::size_t Tn, [[maybe_unused]] std::size_t K,
                       [[maybe_unused]] const host_view<const E>& A, [[maybe_unused]] std::size_t S,
                       [[maybe_unused]] Acc* raw, [[maybe_unused]] unsigned threads) {
#if defined(CAMKIT_WITH_CBLAS)
    if constexpr (std::is_same_v<E, Acc> && (std::is_same_v<Acc, float> || std::is_same_v<Acc, double>)) {
        const std::ptrdiff_t ldb = K > 1 ? A.strides[1] : static_cast<std::ptrdiff_t>(S);
        const auto fits = [](auto v) { return static_cast<std::size_t>(v) <= static_cast<std::size_t>(INT_MAX); };
        if (!A.contiguous_from(2) || ldb < static_cast<std::ptrdiff_t>(S) || !fits(ldb) || !fits(Tn) || !fits(K))
            return false;
        // Column blocks of whole cache lines, one per thread (a BLAS that threads on its own is
        // best set to one thread then, e.g. OPENBLAS_NUM_THREADS=1).
        constexpr std::size_t line = 64 / sizeof(Acc);
        const std::size_t parts = std::clamp<std::size_t>(S / line, 1, threads);
        parallel_for(parts, parts, [&](std::size_t p) {
            const std::size_t s0 = p == 0 ? 0 : S * p / parts / line * line;
            const std::size_t s1 = p + 1 == parts ? S : S * (p + 1) / parts / line * line;
            const int m = static_cast<int>(Tn), n = static_cast<int>(s1 - s0), k = static_cast<int>(K);
            const int lda = k, ldb_i = static_cast<int>(ldb), ldc = static_cast<int>(S);
            if constexpr (std::is_same_v<Acc, float>)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, W, lda, A.data + s0, ldb_i, 0.0f,
                            raw + s0, ldc);
            else
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, W, lda, A.data + s0, ldb_i, 0.0,
                            raw + s0, ldc);
        });
        return true;
    }
#endif
    return false;
}

}  // namespace detail

/// Explains T targets of one sample: `activations` [1, K, *S] and `gradients` [T, K, *S] (row t
/// holds the gradients of target t). Returns raw [T, *S], weights [T, K] (channel-weight methods)
/// and map [T, *size], equal to T separate explain calls up to float rounding. Channel-weight
/// methods compute W [T, K], then W · A reading A once; element-wise and projection methods
/// (Eigen-CAM) run their kernel per target.
template <method_policy Method, host_tensor T>
auto explain_many(const T& activations, const T& gradients, const options& opt = {}) {
    using traits = tensor_traits<std::remove_cvref_t<T>>;
    using E = value_type_t<T>;
    using Acc = accumulator_t<E>;
    const host_view<const E> A = traits::view(activations);
    const host_view<const E> G = traits::view(gradients);
    detail::check_cam_shape(A.shape, "activations");
    detail::require(A.shape[0] == 1, "explain_many: activations must hold one sample [1, K, *S], got shape " +
                                         to_string(A.shape));
    detail::check_cam_shape(G.shape, "gradients");
    detail::require(G.rank() == A.rank() && std::equal(G.shape.begin() + 1, G.shape.end(), A.shape.begin() + 1),
                    "explain_many: gradients must be [T, K, *S] = [T, " +
                        to_string(shape_t(A.shape.begin() + 1, A.shape.end())) + "] to match activations " +
                        to_string(A.shape) + ", got shape " + to_string(G.shape));
    if (!opt.size.empty())
        detail::require(opt.size.size() + 2 == A.rank(),
                        "options.size " + to_string(opt.size) + " must give one extent per spatial axis of activations " +
                            to_string(A.shape));
    const std::size_t Tn = G.shape[0], K = A.shape[1];
    const std::size_t S = element_count(shape_t(A.shape.begin() + 2, A.shape.end()));
    shape_t raw_shape{Tn};
    raw_shape.insert(raw_shape.end(), A.shape.begin() + 2, A.shape.end());
    tensor<Acc> raw(raw_shape);
    std::optional<tensor<Acc>> weights;
    const unsigned threads = detail::resolve_threads(opt.threads, (Tn + 1) * A.size());
    const plane_ops<Acc> ops;

    if constexpr (Method::form == method_form::channel_weights) {
        // Pass 1: W[t, k], each target's gradients streamed in order (split over channel blocks
        // when there are fewer targets than threads).
        weights.emplace(shape_t{Tn, K});
        Acc* W = weights->data();
        const std::size_t blocks = std::min<std::size_t>(K, threads > Tn ? (threads + Tn - 1) / Tn : 1);
        // Σ A of a channel is the same for every target: a method that asks for it in a pass of its
        // own (Grad-CAM++; asked once, on the first channel) gets it computed once per channel here
        // instead of once per target. The same additions in the same order, so the same value.
        std::vector<Acc> sum_a;
        {
            detail::plane_reader<Acc, E> ra(A), rg(G);
            const plane<Acc> a = ra.get(0, 0), g = rg.get(0, 0);
            detail::checking_ops<Acc> probe;
            probe.a_data = a.data;
            probe.g_data = g.data;
            static_cast<void>(Method::channel_weight(probe, a, g));
            if (probe.asked_sum_a && !probe.sum_a) {
                sum_a.resize(K);
                for (std::size_t k = 0; k < K; ++k) sum_a[k] = ops.sum(ra.get(0, k));
            }
        }
        detail::parallel_for(Tn * blocks, threads, [&](std::size_t item) {
            const std::size_t t = item / blocks, b = item % blocks;
            detail::plane_reader<Acc, E> ra(A), rg(G);
            for (std::size_t k = K * b / blocks; k < K * (b + 1) / blocks; ++k) {
                const plane<Acc> a = ra.get(0, k), g = rg.get(t, k);
                // The finite check rides on the method's own reductions (as in the fused kernels).
                detail::checking_ops<Acc> cops;
                cops.a_data = a.data;
                cops.g_data = g.data;
                if (!sum_a.empty()) {
                    cops.sum_a = sum_a[k];
                    if (!std::isfinite(sum_a[k])) cops.suspect = true;
                }
                W[t * K + k] = static_cast<Acc>(Method::channel_weight(cops, a, g));
                if (opt.check_finite &&
                    (cops.suspect || !std::isfinite(W[t * K + k]) || (!cops.saw_g && !ops.all_finite(g))))
                    detail::locate_non_finite_target<Acc>(a, g, t, k);
            }
        });
        // Pass 2: raw = W · A, by CBLAS where it is compiled in and can read A, else camkit's loop.
        if (!detail::blas_weighted_sum<Acc>(W, Tn, K, A, S, raw.data(), threads))
            detail::weighted_sum_many<Acc>(W, Tn, K, A, S, raw.data(), threads);
        // Activations the weights did not read are checked through the map: with finite weights a
        // NaN or Inf activation makes it non-finite. (A finite overflow finds nothing and passes.)
        if (opt.check_finite && !detail::finite_map(raw.data(), raw.size())) {
            detail::plane_reader<Acc, E> ra(A);
            for (std::size_t k = 0; k < K; ++k)
                if (!ops.all_finite(ra.get(0, k))) detail::throw_non_finite("activations", 0, k);
        }
    } else if constexpr (Method::form == method_form::elementwise) {
        // The fused kernel per target: the gradients dominate the traffic (T planes per activation
        // plane), and each target's pass streams them in order.
        for (std::size_t t = 0; t < Tn; ++t) {
            host_view<const E> g = G;
            g.data += static_cast<std::ptrdiff_t>(t) * G.strides[0];
            g.shape[0] = 1;
            detail::fused_elementwise<Method, Acc>(A, g, raw.data() + t * S, opt.threads, opt.check_finite, t);
        }
    } else {
        // A decomposition per target: nothing to share but the validation.
        for (std::size_t t = 0; t < Tn; ++t) {
            host_view<const E> g = G;
            g.data += static_cast<std::ptrdiff_t>(t) * G.strides[0];
            g.shape[0] = 1;
            detail::projection_map<Method, Acc>(A, g, raw.data() + t * S, opt.threads, opt.check_finite);
        }
    }
    tensor<Acc> map = detail::finish_map(raw, opt);
    using R = decltype(traits::template make_result<Acc>(std::move(raw), activations));
    std::optional<R> w;
    if (weights) w.emplace(traits::template make_result<Acc>(std::move(*weights), activations));
    return explanation<R>{traits::template make_result<Acc>(std::move(raw), activations), std::move(w),
                          traits::template make_result<Acc>(std::move(map), activations)};
}

}  // namespace camkit
