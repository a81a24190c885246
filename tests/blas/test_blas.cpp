// explain_many's W·A by BLAS gemm through xtensor-blas (camkit::blas): equal to camkit's own loop,
// and the layouts it leaves to that loop. The rest of explain_many's tests run in this executable
// too, through camkit::blas::explain_many.
#include <camkit/blas/explain_many.hpp>
#include <camkit/methods/registry.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/channels_last.hpp"
#include "common/random_tensor.hpp"

namespace {

using camkit::host_view;
using camkit::shape_t;

/// n pseudo-random values in [-1, 1).
template <class T>
std::vector<T> values(std::size_t n, unsigned seed) {
    return camkit_test::random_tensor<T>({n}, seed).values;
}

/// A view of [1, K, *spatial] over `data` with channel stride `channel_stride` (≥ the plane size).
template <class T>
host_view<const T> view_of(const std::vector<T>& data, std::size_t K, const shape_t& spatial,
                           std::ptrdiff_t channel_stride) {
    shape_t shape{1, K};
    shape.insert(shape.end(), spatial.begin(), spatial.end());
    std::vector<std::ptrdiff_t> strides = camkit::row_major_strides(shape);
    strides[1] = channel_stride;
    strides[0] = channel_stride * static_cast<std::ptrdiff_t>(K);
    return {data.data(), shape, strides};
}

template <class T>
void expect_blas_equals_loop(std::size_t Tn, std::size_t K, const shape_t& spatial, std::size_t channel_pad,
                             unsigned threads) {
    const std::size_t S = camkit::element_count(spatial);
    const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(S + channel_pad);
    const std::vector<T> a = values<T>(K * static_cast<std::size_t>(ld), 1), w = values<T>(Tn * K, 2);
    const auto A = view_of(a, K, spatial, ld);
    std::vector<T> by_blas(Tn * S, T(-7)), by_loop(Tn * S);
    ASSERT_TRUE(camkit::blas::detail::gemm_can_read<T>(Tn, K, A, S));
    camkit::blas::gemm_product{}(w.data(), Tn, K, A, S, by_blas.data(), threads);
    camkit::detail::loop_product{}(w.data(), Tn, K, A, S, by_loop.data(), 1);
    const std::string what = "T=" + std::to_string(Tn) + " K=" + std::to_string(K) + " S=" + std::to_string(S) +
                             " pad=" + std::to_string(channel_pad) + " threads=" + std::to_string(threads);
    const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    for (std::size_t i = 0; i < by_loop.size(); ++i) {
        // Hand check of one entry besides the loop: raw[t, s] = Σ_k w[t, k] a[k, s].
        ASSERT_NEAR(by_blas[i], by_loop[i], tol * (1 + std::abs(by_loop[i]))) << what << " at " << i;
    }
    double want = 0;
    const std::size_t t = Tn - 1, s = S - 1;
    for (std::size_t k = 0; k < K; ++k) want += double(w[t * K + k]) * double(a[k * static_cast<std::size_t>(ld) + s]);
    EXPECT_NEAR(double(by_blas[t * S + s]), want, tol * (1 + std::abs(want))) << what;
}

}  // namespace

TEST(BlasWeightedSum, EqualsTheLoopForFloatAndDouble) {
    for (unsigned threads : {1u, 2u, 3u}) {
        expect_blas_equals_loop<float>(21, 64, {16, 16}, 0, threads);
        expect_blas_equals_loop<float>(3, 5, {37}, 0, threads);          // odd plane: column blocks end mid-line
        expect_blas_equals_loop<float>(2, 6, {3, 4, 5}, 0, threads);     // 3-D
        expect_blas_equals_loop<float>(4, 1, {9, 7}, 0, threads);        // one channel
        expect_blas_equals_loop<float>(5, 7, {8, 8}, 13, threads);       // channels further apart than a plane
        expect_blas_equals_loop<double>(8, 9, {11, 13}, 0, threads);
        expect_blas_equals_loop<float>(2, 3, {5}, 0, threads);           // fewer columns than a cache line
    }
}

TEST(BlasWeightedSum, LeavesOtherLayoutsToTheLoop) {
    const std::vector<float> a = values<float>(2 * 2 * 12, 3), w{1, 2, 3, 4};
    // Strided spatial axis: every other value of a row.
    host_view<const float> strided{a.data(), {1, 2, 6}, {24, 12, 2}};
    EXPECT_FALSE(camkit::blas::detail::gemm_can_read<float>(2, 2, strided, 6));
    // Channels overlapping (stride below the plane size).
    host_view<const float> overlapping{a.data(), {1, 2, 6}, {6, 3, 1}};
    EXPECT_FALSE(camkit::blas::detail::gemm_can_read<float>(2, 2, overlapping, 6));
    // An element type that is not the accumulation type (here: ints accumulated in float).
    const std::vector<int> ints(12, 1);
    host_view<const int> other_type{ints.data(), {1, 2, 6}, {12, 6, 1}};
    EXPECT_FALSE(camkit::blas::detail::gemm_can_read<float>(2, 2, other_type, 6));
    // Those layouts still give camkit's loop's numbers through the BLAS product.
    for (const auto& v : {strided, overlapping}) {
        std::vector<float> by_blas(2 * 6, 5.f), by_loop(2 * 6, -5.f);
        camkit::blas::gemm_product{}(w.data(), 2, 2, v, 6, by_blas.data(), 1);
        camkit::detail::loop_product{}(w.data(), 2, 2, v, 6, by_loop.data(), 1);
        EXPECT_EQ(by_blas, by_loop);
        // Hand check: raw[1, 5] = w[1,0]·a[0,5] + w[1,1]·a[1,5].
        const auto at = [&](std::size_t k, std::size_t s) { return v.data[k * v.strides[1] + s * v.strides[2]]; };
        EXPECT_FLOAT_EQ(by_blas[6 + 5], 3 * at(0, 5) + 4 * at(1, 5));
    }
    std::vector<float> raw(2 * 6, 5.f);
    camkit::blas::gemm_product{}(w.data(), 2, 2, other_type, 6, raw.data(), 1);
    // Σ_k w[t,k]·1 by the loop: 1 + 2 for target 0, 3 + 4 for target 1.
    for (std::size_t s = 0; s < 6; ++s) EXPECT_EQ(raw[s], 3.f) << s;
    for (std::size_t s = 6; s < 12; ++s) EXPECT_EQ(raw[s], 7.f) << s;
}

TEST(BlasWeightedSum, ExplainManyThroughBlasEqualsSeparateCallsOnAChannelSubset) {
    // Activations as a view of every other channel of a larger tensor (channel stride 2·S): the
    // product runs by gemm with ldb = 2·S.
    const std::size_t K = 6, S = 20;
    const std::vector<float> a = values<float>(2 * K * S, 4);
    std::vector<float> abs_a = a;
    for (float& v : abs_a) v = std::abs(v);
    const auto A = view_of(abs_a, K, {4, 5}, 2 * static_cast<std::ptrdiff_t>(S));
    camkit::tensor<float> G({3, K, 4, 5}, values<float>(3 * K * S, 5));
    const camkit::host_view<const float> Gv = camkit::tensor_traits<camkit::tensor<float>>::view(G);
    const auto many = camkit::blas::explain_many<camkit::grad_cam>(A, Gv, {.threads = 2});
    for (std::size_t t = 0; t < 3; ++t) {
        host_view<const float> g = Gv;
        g.data += static_cast<std::ptrdiff_t>(t * K * S);
        g.shape[0] = 1;
        const auto one = camkit::explain<camkit::grad_cam>(A, g, {.threads = 1});
        for (std::size_t s = 0; s < S; ++s)
            EXPECT_NEAR(many.raw[t * S + s], one.raw[s], 1e-5f * (1 + std::abs(one.raw[s]))) << t << ", " << s;
    }
}

// Eigen-CAM and Eigen-Grad-CAM through the BLAS adapter (the Gram matrix by syrk) equal camkit's
// own Gram product and solver, on both sides of the Gram choice (|S| ≤ K: X Xᵀ; |S| > K: Xᵀ X),
// in float and double; channels-last copies too (with more positions than channels, blocks of rows
// whose Gram products syrk adds: Yᵀ Y).
TEST(BlasEigen, ProjectionMethodsEqualCamkitsSolver) {
    // The last two: Gram products of several blocks (positions past 256 at K = 64; channels past
    // 576 at S = 49), which syrk must add up, not overwrite.
    for (const shape_t& shape : {shape_t{2, 16, 3, 3}, shape_t{2, 4, 5, 7}, shape_t{1, 9, 4, 4, 2}, shape_t{2, 64, 10, 10},
                                 shape_t{2, 100, 7, 7}, shape_t{1, 64, 30, 41}, shape_t{1, 1200, 7, 7}}) {
        const std::size_t n = camkit::element_count(shape);
        camkit::tensor<double> A(shape, values<double>(n, 7)), G(shape, values<double>(n, 8));
        for (double& v : A.values) v = std::abs(v);
        const auto check = [&](const auto& ours, const auto& lapack, double tol, const char* what) {
            double peak = 0;
            for (std::size_t i = 0; i < ours.raw.size(); ++i) peak = std::max(peak, std::abs(double(ours.raw[i])));
            ASSERT_GT(peak, 0.0);
            for (std::size_t i = 0; i < ours.raw.size(); ++i)
                ASSERT_NEAR(double(lapack.raw[i]), double(ours.raw[i]), tol * peak) << what << " " << camkit::to_string(shape) << " at " << i;
            for (std::size_t i = 0; i < ours.map.size(); ++i) ASSERT_NEAR(double(lapack.map[i]), double(ours.map[i]), tol) << what;
        };
        check(camkit::explain<camkit::eigen_cam>(A), camkit::blas::explain<camkit::eigen_cam>(A), 1e-9, "eigencam");
        check(camkit::explain<camkit::eigen_grad_cam>(A, G), camkit::blas::explain<camkit::eigen_grad_cam>(A, G), 1e-9,
              "eigengradcam");
        camkit::tensor<float> Af(shape), Gf(shape);
        for (std::size_t i = 0; i < n; ++i) Af[i] = static_cast<float>(A[i]), Gf[i] = static_cast<float>(G[i]);
        check(camkit::explain<camkit::eigen_cam>(Af), camkit::blas::explain<camkit::eigen_cam>(Af), 1e-5, "eigencam float");
        const auto Acl = camkit_test::channels_last_copy<double>(A), Gcl = camkit_test::channels_last_copy<double>(G);
        check(camkit::explain<camkit::eigen_cam>(A), camkit::blas::explain<camkit::eigen_cam>(Acl.view, Acl.view), 1e-9,
              "eigencam channels-last");
        check(camkit::explain<camkit::eigen_grad_cam>(A, G), camkit::blas::explain<camkit::eigen_grad_cam>(Acl.view, Gcl.view),
              1e-9, "eigengradcam channels-last");
        // Channel-weight methods are camkit's own kernels there.
        const auto a = camkit::explain<camkit::grad_cam>(A, G), b = camkit::blas::explain<camkit::grad_cam>(A, G);
        EXPECT_EQ(a.raw.values, b.raw.values);
    }
}

// syrk's Gram matrix of rows equals camkit's blocked one on and above the diagonal (pack tails,
// tile tails, panel tails).
TEST(BlasEigen, SyrkGramEqualsCamkits) {
    for (std::size_t d : {1u, 5u, 13u, 49u, 64u})
        for (std::size_t rows : {1u, 7u, 65u, 300u}) {
            const std::size_t ld = camkit::detail::gram_stride(d);
            const auto r = values<double>(rows * d, static_cast<unsigned>(d * 1000 + rows));
            std::vector<double> Y(rows * ld, 0.0), ours(ld * ld, 0.5), theirs(ld * ld, 0.5);  // both add to G
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < d; ++j) Y[i * ld + j] = r[i * d + j];
            camkit::detail::host_eigen{}.gram(Y.data(), rows, d, ours.data());
            camkit::blas::lapack_eigen{}.gram(Y.data(), rows, d, theirs.data());
            for (std::size_t i = 0; i < d; ++i)
                for (std::size_t j = i; j < d; ++j)
                    ASSERT_NEAR(theirs[i * ld + j], ours[i * ld + j], 1e-12 * static_cast<double>(rows)) << d << "x" << rows;
        }
}

// syrk's Gram matrix of rows' dot products (row_gram, the one-pass path) equals camkit's tiles on
// and above the diagonal, and both add to what G holds.
TEST(BlasEigen, SyrkRowGramEqualsCamkits) {
    for (std::size_t d : {1u, 5u, 13u, 64u})
        for (std::size_t cols : {8u, 64u, 520u}) {
            const std::size_t ld = camkit::detail::gram_stride(d), ldc = cols + 8, rows = (d + 3) / 4 * 4;
            const auto r = values<double>(d * cols, static_cast<unsigned>(d * 1000 + cols));
            std::vector<double> C(rows * ldc, 0.0), ours(ld * ld, 1.0), theirs(ld * ld, 1.0);
            for (std::size_t i = 0; i < d; ++i)
                for (std::size_t s = 0; s < cols; ++s) C[i * ldc + s] = r[i * cols + s];
            camkit::detail::host_eigen{}.row_gram(C.data(), d, cols, ldc, ours.data());
            camkit::blas::lapack_eigen{}.row_gram(C.data(), d, cols, ldc, theirs.data());
            for (std::size_t i = 0; i < d; ++i)
                for (std::size_t j = i; j < d; ++j) {
                    double want = 1;
                    for (std::size_t s = 0; s < cols; ++s) want += r[i * cols + s] * r[j * cols + s];
                    ASSERT_NEAR(ours[i * ld + j], want, 1e-12 * static_cast<double>(cols)) << d << "x" << cols;
                    ASSERT_NEAR(theirs[i * ld + j], want, 1e-12 * static_cast<double>(cols)) << d << "x" << cols;
                }
        }
}

// LAPACK's syevd and camkit's tridiagonal solver give the same largest eigenpair (the vector with
// the same sign); lapack_eigen takes syevd's from syevd_from on (here set to 64; by default 2048, an order
// whose solve would take minutes under the sanitizers); n = 512: the reduction's rows one pack more
// than 4 KiB apart.
TEST(BlasEigen, SyevdEqualsCamkitsSolver) {
    const camkit::blas::lapack_eigen from64{.syevd_from = 64};
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{49}, std::size_t{63}, std::size_t{64},
                          std::size_t{200}, std::size_t{512}}) {
        const auto r = values<double>(n * n, static_cast<unsigned>(n));
        std::vector<double> m(n * n);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) m[i * n + j] = r[i * n + j] + r[j * n + i];
        const auto [l, v] = camkit::detail::top_eigenpair(m, n);
        const auto [ls, vs] = camkit::blas::syevd_top_eigenpair(m, n);
        const auto [lp, vp] = from64(m, n);
        EXPECT_NEAR(ls, l, 1e-12 * std::max(1.0, std::abs(l))) << n;
        EXPECT_EQ(lp, n >= 64 ? ls : l) << n;
        EXPECT_EQ(camkit::blas::lapack_eigen{}(m, n).first, l) << n;  // the default: camkit's below 2048
        double align = 0;
        for (std::size_t i = 0; i < n; ++i) align += v[i] * vs[i];
        EXPECT_NEAR(align, 1, 1e-10) << n;  // the same vector, signed alike (set_eigenvector_sign)
    }
}
