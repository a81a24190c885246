#pragma once
// The BLAS adapter: the core's explain and explain_many with the two steps where BLAS and LAPACK
// beat camkit's own loops, through xtensor-blas: explain_many's matrix product W · A by gemm (its
// cxxblas layer, which passes a leading dimension, so column blocks of A are multiplied in place,
// without the copy xt::blas::gemm makes of a strided block), and the projection methods'
// (Eigen-CAM's) Gram matrix by syrk and, for large ones, its eigenproblem by LAPACK's syevd. Link camkit::blas
// (xtensor-blas with a BLAS and LAPACK, e.g. OpenBLAS). Everything else is the core's: the same
// validation, weights, checks and pipeline.
#include <camkit/explain_many.hpp>

#include <xtensor-blas/xblas.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xadapt.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

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

/// The largest eigenpair of a symmetric row-major n×n matrix by LAPACK's syevd (xt::linalg::eigh),
/// the vector signed as camkit's solver signs it (camkit::detail::set_eigenvector_sign).
inline std::pair<double, std::vector<double>> syevd_top_eigenpair(const std::vector<double>& m, std::size_t n) {
    const auto M = xt::adapt(m, std::vector<std::size_t>{n, n});
    const auto [w, v] = xt::linalg::eigh(M);  // eigenvalues ascending, eigenvectors in columns
    std::vector<double> top(n);
    for (std::size_t i = 0; i < n; ++i) top[i] = v(i, n - 1);
    camkit::detail::set_eigenvector_sign(top);
    return {w(n - 1), std::move(top)};
}

/// The projection methods' Gram matrix by BLAS syrk and its largest eigenpair by LAPACK's syevd
/// from order syevd_from on, in place of camkit's own (camkit::detail::host_eigen, the same
/// contract). Below it camkit's tridiagonal solver is faster than syevd, which computes every
/// eigenpair (AMD EPYC VM, OpenBLAS, 2026-12-07, one thread: 0.019 against 0.18 ms at n = 49, 8.4
/// against 34 ms at 512, 61 against 199 ms at 1024, 0.40 against 0.61 s at 1536; at 2048 1.5
/// against 1.4 s, and with two threads 1.45 against 0.86 s).
struct lapack_eigen {
    std::size_t syevd_from = 2048;

    /// The largest eigenpair of a symmetric row-major n×n matrix.
    std::pair<double, std::vector<double>> operator()(std::vector<double> m, std::size_t n) const {
        return n >= syevd_from ? syevd_top_eigenpair(m, n) : camkit::detail::top_eigenpair(m, n);
    }

    /// G += Yᵀ Y on and above the diagonal (see host_eigen::gram) by one syrk.
    void gram(const double* Y, std::size_t rows, std::size_t d, double* G) const {
        using index = xt::blas_index_t;
        const std::size_t ld = camkit::detail::gram_stride(d);
        if (std::max(rows, ld) > static_cast<std::size_t>(INT_MAX))
            return camkit::detail::host_eigen{}.gram(Y, rows, d, G);  // beyond BLAS's int
        cxxblas::syrk<index>(cxxblas::StorageOrder::RowMajor, cxxblas::StorageUpLo::Upper, cxxblas::Transpose::Trans,
                             static_cast<index>(d), static_cast<index>(rows), 1.0, Y, static_cast<index>(ld), 1.0, G,
                             static_cast<index>(ld));
    }

    /// G += C Cᵀ on and above the diagonal (see host_eigen::row_gram) by one syrk.
    void row_gram(const double* C, std::size_t d, std::size_t cols, std::size_t ldc, double* G) const {
        using index = xt::blas_index_t;
        const std::size_t ld = camkit::detail::gram_stride(d);
        if (std::max({cols, ldc, ld}) > static_cast<std::size_t>(INT_MAX))
            return camkit::detail::host_eigen{}.row_gram(C, d, cols, ldc, G);  // beyond BLAS's int
        cxxblas::syrk<index>(cxxblas::StorageOrder::RowMajor, cxxblas::StorageUpLo::Upper, cxxblas::Transpose::NoTrans,
                             static_cast<index>(d), static_cast<index>(cols), 1.0, C, static_cast<index>(ldc), 1.0, G,
                             static_cast<index>(ld));
    }
};

/// camkit::explain_many with W · A by BLAS gemm and the eigenproblem by LAPACK (same arguments,
/// results and errors).
template <method_policy Method, host_tensor T>
auto explain_many(const T& activations, const T& gradients, const options& opt = {}) {
    return camkit::detail::explain_many_with<Method>(activations, gradients, opt, gemm_product{}, lapack_eigen{});
}

/// camkit::explain of host tensors with the projection methods' eigenproblem by LAPACK (the
/// other methods run exactly as camkit::explain).
template <method_policy Method, host_tensor T>
auto explain(const T& activations, const T& gradients, const options& opt = {}) {
    return camkit::detail::explain_host<Method>(activations, gradients, opt, lapack_eigen{});
}

/// explain for a method that needs no gradients (Eigen-CAM): the activations stand in for both.
template <method_policy Method, host_tensor T>
auto explain(const T& activations, const options& opt = {}) {
    static_assert(!needs_gradients_v<Method>, "this method needs gradients: call explain<Method>(activations, gradients)");
    return explain<Method>(activations, activations, opt);
}

}  // namespace camkit::blas
