#pragma once
// The BLAS adapter: explain_many with its matrix product W · A computed by BLAS gemm through
// xtensor-blas (its cxxblas layer, which passes a leading dimension, so column blocks of A are
// multiplied in place, without the copy xt::blas::gemm makes of a strided block). Link
// camkit::blas (xtensor-blas with a BLAS and LAPACK, e.g. OpenBLAS). Everything else is the core's
// explain_many: the same validation, weights, checks and pipeline.
#include <camkit/explain_many.hpp>

#include <xtensor-blas/xblas.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <type_traits>

namespace camkit::blas {

namespace detail {

/// True when gemm can read A [1, K, *S] as it is laid out: float or double planes that are each
/// dense, one channel stride apart (≥ S), extents within BLAS's int.
template <class Acc, class E>
bool gemm_can_read(std::size_t Tn, std::size_t K, const host_view<const E>& A, std::size_t S) {
    if constexpr (std::is_same_v<E, Acc> && (std::is_same_v<Acc, float> || std::is_same_v<Acc, double>)) {
        const std::ptrdiff_t ld = K > 1 ? A.strides[1] : static_cast<std::ptrdiff_t>(S);
        const auto fits = [](auto v) { return static_cast<std::size_t>(v) <= static_cast<std::size_t>(INT_MAX); };
        return A.contiguous_from(2) && ld >= static_cast<std::ptrdiff_t>(S) && fits(ld) && fits(Tn) && fits(K) &&
               fits(S);
    } else {
        return false;
    }
}

}  // namespace detail

/// W · A by BLAS gemm in column blocks of whole cache lines, one per thread (set a BLAS that
/// threads on its own to one thread then, e.g. OPENBLAS_NUM_THREADS=1); camkit's loop where gemm
/// cannot read A as it is laid out (see gemm_can_read).
struct gemm_product {
    template <class Acc, class E>
    void operator()(const Acc* W, std::size_t Tn, std::size_t K, const host_view<const E>& A, std::size_t S, Acc* raw,
                    unsigned threads) const {
        if constexpr (std::is_same_v<E, Acc> && (std::is_same_v<Acc, float> || std::is_same_v<Acc, double>)) {
            if (detail::gemm_can_read<Acc>(Tn, K, A, S)) {
                using index = xt::blas_index_t;
                const auto ld = static_cast<index>(K > 1 ? A.strides[1] : static_cast<std::ptrdiff_t>(S));
                constexpr std::size_t line = 64 / sizeof(Acc);
                const std::size_t parts = std::clamp<std::size_t>(S / line, 1, threads);
                camkit::detail::parallel_for(parts, parts, [&](std::size_t p) {
                    const std::size_t s0 = p == 0 ? 0 : S * p / parts / line * line;
                    const std::size_t s1 = p + 1 == parts ? S : S * (p + 1) / parts / line * line;
                    cxxblas::gemm<index>(cxxblas::StorageOrder::RowMajor, cxxblas::Transpose::NoTrans,
                                         cxxblas::Transpose::NoTrans, static_cast<index>(Tn),
                                         static_cast<index>(s1 - s0), static_cast<index>(K), Acc(1), W,
                                         static_cast<index>(K), A.data + s0, ld, Acc(0), raw + s0,
                                         static_cast<index>(S));
                });
                return;
            }
        }
        camkit::detail::loop_product{}(W, Tn, K, A, S, raw, threads);
    }
};

/// camkit::explain_many with W · A by BLAS gemm (same arguments, results and errors).
template <method_policy Method, host_tensor T>
auto explain_many(const T& activations, const T& gradients, const options& opt = {}) {
    return camkit::detail::explain_many_with<Method>(activations, gradients, opt, gemm_product{});
}

}  // namespace camkit::blas
