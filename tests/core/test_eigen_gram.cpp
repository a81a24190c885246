// Eigen-CAM's decomposition (projection.hpp, linalg.hpp): the blocked Gram product, the
// tridiagonal eigen-solver on hand-computed matrices, and the maps of both Gram sides against the
// path camkit took before them (a plain Gram sum and a cyclic-Jacobi solver, kept here as the
// reference), hand-computed layers with exact eigenvectors, the sign rule and degenerate layers.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/channels_last.hpp"
#include "common/closeness.hpp"
#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/random_tensor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace {

using camkit::shape_t;
using camkit_test::cast;
using camkit_test::random_tensor;

/// Largest eigenpair of a symmetric n×n row-major matrix by cyclic Jacobi rotations: the
/// solver camkit used before the tridiagonal one, as an independent reference.
std::pair<double, std::vector<double>> jacobi_top_eigenpair(std::vector<double> m, std::size_t n) {
    std::vector<double> v(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
    auto at = [&](std::size_t i, std::size_t j) -> double& { return m[i * n + j]; };
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0, diag = 0;
        for (std::size_t i = 0; i < n; ++i) {
            diag += at(i, i) * at(i, i);
            for (std::size_t j = i + 1; j < n; ++j) off += at(i, j) * at(i, j);
        }
        if (off <= 1e-30 * diag || off == 0) break;
        for (std::size_t p = 0; p < n; ++p)
            for (std::size_t q = p + 1; q < n; ++q) {
                const double apq = at(p, q);
                if (std::abs(apq) < 1e-300) continue;
                const double theta = (at(q, q) - at(p, p)) / (2 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (std::size_t r = 0; r < n; ++r) {
                    const double arp = at(r, p), arq = at(r, q);
                    at(r, p) = c * arp - s * arq;
                    at(r, q) = s * arp + c * arq;
                }
                for (std::size_t r = 0; r < n; ++r) {
                    const double apr = at(p, r), aqr = at(q, r);
                    at(p, r) = c * apr - s * aqr;
                    at(q, r) = s * apr + c * aqr;
                }
                for (std::size_t r = 0; r < n; ++r) {
                    const double vrp = v[r * n + p], vrq = v[r * n + q];
                    v[r * n + p] = c * vrp - s * vrq;
                    v[r * n + q] = s * vrp + c * vrq;
                }
            }
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (at(i, i) > at(best, best)) best = i;
    std::vector<double> vec(n);
    for (std::size_t r = 0; r < n; ++r) vec[r] = v[r * n + best];
    return {at(best, best), vec};
}

/// The raw maps [N, S] by the former path: X centred per channel, the Gram matrix on the smaller
/// side by plain sums, Jacobi, X v₁ signed so that max ≥ |min|.
template <class T>
std::vector<double> former_raw(const camkit::tensor<T>& A, const camkit::tensor<T>* G) {
    const std::size_t N = A.shape[0], K = A.shape[1], S = A.size() / (N * K);
    std::vector<double> raw(N * S);
    for (std::size_t n = 0; n < N; ++n) {
        std::vector<double> X(K * S);
        for (std::size_t k = 0; k < K; ++k) {
            double mean = 0;
            for (std::size_t s = 0; s < S; ++s) {
                const std::size_t i = (n * K + k) * S + s;
                mean += X[k * S + s] = static_cast<double>(G ? A.values[i] * G->values[i] : A.values[i]);
            }
            for (std::size_t s = 0; s < S; ++s) X[k * S + s] -= mean / static_cast<double>(S);
        }
        std::vector<double> proj(S, 0.0);
        const std::size_t d = std::min(S, K);
        std::vector<double> gram(d * d, 0.0);
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = 0; j < d; ++j)
                for (std::size_t r = 0; r < (S <= K ? K : S); ++r)
                    gram[i * d + j] += S <= K ? X[r * S + i] * X[r * S + j] : X[i * S + r] * X[j * S + r];
        const auto [lambda, vec] = jacobi_top_eigenpair(gram, d);
        for (std::size_t s = 0; s < S; ++s)
            if (S <= K)
                proj[s] = std::sqrt(std::max(lambda, 0.0)) * vec[s];
            else
                for (std::size_t k = 0; k < K; ++k) proj[s] += X[k * S + s] * vec[k];
        const auto [lo, hi] = std::minmax_element(proj.begin(), proj.end());
        const double sign = *hi >= -*lo ? 1.0 : -1.0;
        for (std::size_t s = 0; s < S; ++s) raw[n * S + s] = sign * proj[s];
    }
    return raw;
}

constexpr camkit::options raw_only{.relu = false, .normalize = camkit::normalization::none};

/// |⟨a, b⟩| for unit vectors: 1 when they span the same line.
double alignment(const std::vector<double>& a, const std::vector<double>& b) {
    return std::abs(std::inner_product(a.begin(), a.end(), b.begin(), 0.0));
}

/// A random symmetric n×n matrix.
std::vector<double> random_symmetric(std::size_t n, unsigned seed) {
    const auto r = random_tensor({n, n}, seed).values;
    std::vector<double> m(n * n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) m[i * n + j] = r[i * n + j] + r[j * n + i];
    return m;
}

/// Asserts that G's entries on and above the diagonal (d × d, row stride ld) are the sums of
/// `terms` products term(i, j, t), to 1e-12 a term.
template <class Term>
void expect_upper_sums(const std::vector<double>& G, std::size_t ld, std::size_t d, std::size_t terms, Term term, const std::string& what) {
    for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = i; j < d; ++j) {
            double want = 0;
            for (std::size_t t = 0; t < terms; ++t) want += term(i, j, t);
            ASSERT_NEAR(G[i * ld + j], want, 1e-12 * static_cast<double>(terms)) << what << " at " << i << "," << j;
        }
}

/// A one-sample layer [1, K, S] from its channels.
camkit::tensor<double> layer(const std::vector<std::vector<double>>& channels) {
    camkit::tensor<double> A({1, channels.size(), channels[0].size()});
    for (std::size_t k = 0; k < channels.size(); ++k)
        for (std::size_t s = 0; s < channels[k].size(); ++s) A(0, k, s) = channels[k][s];
    return A;
}

}  // namespace

// ---- the Gram product ----------------------------------------------------------------------

// Y ᵀ Y by tiles, panels and pack tails against the plain triple loop, on and above the diagonal,
// in every instruction set this CPU runs (the tiles are W-wide packs: 1, 2, 4 or 8 doubles).
TEST(EigenGram, GramOfRowsMatchesPlainSums) {
    const camkit::isa before = camkit::active_isa();
    for (camkit::isa isa : {camkit::isa::scalar, camkit::isa::sse2, camkit::isa::avx2, camkit::isa::avx512}) {
        if (!camkit::isa_supported(isa)) continue;
        camkit::set_isa(isa);
        for (std::size_t d : {1u, 2u, 3u, 4u, 5u, 7u, 9u, 12u, 13u, 17u, 25u, 49u})
            for (std::size_t rows : {1u, 3u, 64u, 65u, 150u}) {
                const std::size_t ld = camkit::detail::gram_stride(d);
                ASSERT_EQ(ld % 8, 0u);  // whole packs of every width
                ASSERT_GE(ld, d);
                const auto r = random_tensor({rows, d}, static_cast<unsigned>(d * 1000 + rows)).values;
                std::vector<double> Y(rows * ld, 0.0), G(ld * ld, 0.0);
                for (std::size_t i = 0; i < rows; ++i)
                    for (std::size_t j = 0; j < d; ++j) Y[i * ld + j] = r[i * d + j];
                camkit::detail::add_gram_of_rows(Y.data(), rows, d, G.data());
                expect_upper_sums(G, ld, d, rows, [&](std::size_t i, std::size_t j, std::size_t k) { return r[k * d + i] * r[k * d + j]; },
                                  std::string(camkit::isa_name(isa)) + " " + std::to_string(d) + "x" + std::to_string(rows));
            }
    }
    camkit::set_isa(before);
}

// ---- the eigen-solver ----------------------------------------------------------------------
// (in every instruction set this CPU runs: the reduction and the multisection run in W-wide packs,
// W = 1, 2, 4 or 8 doubles, with whole packs over rows padded to 8 and scalar paths for W = 1)

TEST(EigenSolver, HandComputedMatrices) {
    const double r = 1 / std::sqrt(2.0);
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        const std::string at(camkit::isa_name(isa));
        {  // [[2, 1], [1, 2]]: 3 on (1, 1)/√2
            const auto [l, v] = camkit::detail::top_eigenpair({2, 1, 1, 2}, 2);
            EXPECT_NEAR(l, 3, 1e-14) << at;
            EXPECT_NEAR(alignment(v, {r, r}), 1, 1e-14) << at;
        }
        {  // a diagonal matrix: its largest entry, the axis
            const auto [l, v] = camkit::detail::top_eigenpair({1, 0, 0, 0, 5, 0, 0, 0, 3}, 3);
            EXPECT_NEAR(l, 5, 1e-14) << at;
            EXPECT_NEAR(alignment(v, {0, 1, 0}), 1, 1e-14) << at;
        }
        {  // split tridiagonal: block (4) beats block [[1, 2], [2, 1]] (3 and −1)
            const auto [l, v] = camkit::detail::top_eigenpair({4, 0, 0, 0, 1, 2, 0, 2, 1}, 3);
            EXPECT_NEAR(l, 4, 1e-14) << at;
            EXPECT_NEAR(alignment(v, {1, 0, 0}), 1, 1e-14) << at;
        }
        {  // the largest, not the largest in magnitude: diag(−10, 1)
            const auto [l, v] = camkit::detail::top_eigenpair({-10, 0, 0, 1}, 2);
            EXPECT_NEAR(l, 1, 1e-14) << at;
            EXPECT_NEAR(alignment(v, {0, 1}), 1, 1e-14) << at;
        }
        {  // 1 × 1
            const auto [l, v] = camkit::detail::top_eigenpair({-2.5}, 1);
            EXPECT_EQ(l, -2.5) << at;
            EXPECT_EQ(v, std::vector<double>{1}) << at;
        }
    }
}

// Q diag(λ) Qᵀ with Q = I − 2 q qᵀ (a reflection, so Q's columns are known exactly), n = 6 and
// n = 11 (a row of more than one pack, ending inside one): the largest eigenvalue and its column
// of Q, also when it is close to the second.
TEST(EigenSolver, KnownSpectrum) {
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        for (std::size_t n : {6u, 11u}) {
            std::vector<double> q{1, -2, 3, 0.5, -1, 2, 0.25, -3, 1.5, 2.5, -0.75};
            q.resize(n);
            const double len = std::sqrt(std::inner_product(q.begin(), q.end(), q.begin(), 0.0));
            for (double& x : q) x /= len;
            for (double second : {4.0, 4.9, 4.999}) {
                std::vector<double> lambda{1, 5, -3, second, 0, 2, -1, 0.5, 3, -2, 1.5};
                lambda.resize(n);
                std::vector<double> m(n * n, 0.0);
                for (std::size_t i = 0; i < n; ++i)
                    for (std::size_t j = 0; j < n; ++j)
                        for (std::size_t k = 0; k < n; ++k) {
                            const double Qik = (i == k) - 2 * q[i] * q[k], Qjk = (j == k) - 2 * q[j] * q[k];
                            m[i * n + j] += Qik * lambda[k] * Qjk;
                        }
                const auto [l, v] = camkit::detail::top_eigenpair(m, n);
                std::vector<double> want(n);
                for (std::size_t i = 0; i < n; ++i) want[i] = (i == 1) - 2 * q[i] * q[1];
                const std::string at = std::string(camkit::isa_name(isa)) + " n " + std::to_string(n) + " second " + std::to_string(second);
                EXPECT_NEAR(l, 5, 1e-13) << at;
                EXPECT_NEAR(alignment(v, want), 1, 1e-12) << at;
            }
        }
    }
}

// The tridiagonal solver agrees with Jacobi on random symmetric matrices of Eigen-CAM's sizes (and
// sizes around whole packs of 8).
TEST(EigenSolver, MatchesJacobiOnRandomMatrices) {
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        for (std::size_t n : {2u, 3u, 7u, 8u, 9u, 16u, 17u, 49u, 64u, 100u}) {
            const auto m = random_symmetric(n, static_cast<unsigned>(n));
            const auto [l, v] = camkit::detail::top_eigenpair(m, n);
            const auto [lj, vj] = jacobi_top_eigenpair(m, n);
            const std::string at = std::string(camkit::isa_name(isa)) + " n " + std::to_string(n);
            EXPECT_NEAR(l, lj, 1e-12 * std::abs(lj)) << at;
            EXPECT_NEAR(alignment(v, vj), 1, 1e-10) << at;
            EXPECT_NEAR(std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0)), 1, 1e-14) << at;
        }
    }
}

// Degenerate matrices: zero (eigenvalue 0, a unit vector) and a repeated largest eigenvalue (a
// unit vector of its eigenspace).
TEST(EigenSolver, DegenerateMatrices) {
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        const std::string at(camkit::isa_name(isa));
        {
            const auto [l, v] = camkit::detail::top_eigenpair(std::vector<double>(16, 0.0), 4);
            EXPECT_EQ(l, 0) << at;
            EXPECT_NEAR(std::inner_product(v.begin(), v.end(), v.begin(), 0.0), 1, 1e-15) << at;
        }
        {  // diag(2, 2, 1) and its rotation by the reflection about (1, 1, 1)/√3
            const auto [l, v] = camkit::detail::top_eigenpair({2, 0, 0, 0, 2, 0, 0, 0, 1}, 3);
            EXPECT_NEAR(l, 2, 1e-14) << at;
            EXPECT_NEAR(v[0] * v[0] + v[1] * v[1], 1, 1e-14) << at;
            EXPECT_NEAR(v[2], 0, 1e-14) << at;
        }
    }
}

// The eigenvector's sign is its own, the same in every instruction set: its first entry of at least
// half the largest magnitude is positive. [[1, −1], [−1, 1]] has (1, −1)/√2 for its eigenvalue 2;
// on random matrices every instruction set's vector equals the scalar path's to 1e-12, sign and all.
TEST(EigenSolver, SignOfItsOwnInEveryInstructionSet) {
    const double r = 1 / std::sqrt(2.0);
    std::vector<std::vector<double>> scalar;
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        const std::string at(camkit::isa_name(isa));
        {
            const auto [l, v] = camkit::detail::top_eigenpair({1, -1, -1, 1}, 2);
            EXPECT_NEAR(l, 2, 1e-14) << at;
            EXPECT_NEAR(v[0], r, 1e-15) << at;
            EXPECT_NEAR(v[1], -r, 1e-15) << at;
        }
        {  // 4 q qᵀ + I, q = (−2, −6, 9)/11: the largest entry (9/11) is not the first of at least half
           // of it (−6/11), which the sign makes positive: (2, 6, −9)/11
            const std::vector<double> q{-2.0 / 11, -6.0 / 11, 9.0 / 11};
            std::vector<double> m(9);
            for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t j = 0; j < 3; ++j) m[i * 3 + j] = 4 * q[i] * q[j] + (i == j ? 1.0 : 0.0);
            const auto [l, v] = camkit::detail::top_eigenpair(m, 3);
            EXPECT_NEAR(l, 5, 1e-14) << at;
            EXPECT_NEAR(v[0], 2.0 / 11, 1e-14) << at;
            EXPECT_NEAR(v[1], 6.0 / 11, 1e-14) << at;
            EXPECT_NEAR(v[2], -9.0 / 11, 1e-14) << at;
        }
        std::size_t i = 0;
        for (std::size_t n : {5u, 17u, 49u, 130u}) {
            const auto [l, v] = camkit::detail::top_eigenpair(random_symmetric(n, static_cast<unsigned>(7 * n)), n);
            if (isa == camkit::isa::scalar) scalar.push_back(v);
            ASSERT_LT(i, scalar.size());
            for (std::size_t j = 0; j < n; ++j) EXPECT_NEAR(v[j], scalar[i][j], 1e-12) << at << " n " << n << " entry " << j;
            ++i;
        }
    }
}

// The multisection's Sturm counts, eight points at a time, in each pack width: on T = diag(d)
// (off-diagonal zero) the count below x is #{d_i < x}, and a point on an eigenvalue counts it (a
// zero pivot counts as negative); on T = tridiag(−1, 2, −1) of order 5, whose eigenvalues are
// 2 − 2 cos(kπ/6), the counts at points between them.
template <std::size_t W>
void expect_sturm_counts() {
    const double tiny = 1e-300;
    {
        const camkit::detail::tridiagonal t{{3, -1, 2, 2, 7, 0.5}, {0, 0, 0, 0, 0}};
        const double x[8] = {-2, -1, 0, 0.5, 2, 2.5, 7, 8};
        const double want[8] = {0, 1, 1, 2, 4, 4, 6, 6};
        double count[8];
        camkit::detail::eigenvalues_below<W>(t, x, tiny, count);
        for (std::size_t p = 0; p < 8; ++p) EXPECT_EQ(count[p], want[p]) << "W " << W << " diag, x " << x[p];
    }
    {
        const camkit::detail::tridiagonal t{{2, 2, 2, 2, 2}, {-1, -1, -1, -1}};
        double x[8], want[8], count[8];
        const double pi = std::acos(-1.0);
        for (std::size_t p = 0; p < 8; ++p) {
            x[p] = -0.5 + 0.6 * static_cast<double>(p);  // −0.5 … 3.7
            want[p] = 0;
            for (int k = 1; k <= 5; ++k) want[p] += 2 - 2 * std::cos(k * pi / 6) < x[p] ? 1 : 0;
        }
        camkit::detail::eigenvalues_below<W>(t, x, tiny, count);
        for (std::size_t p = 0; p < 8; ++p) EXPECT_EQ(count[p], want[p]) << "W " << W << " tridiag, x " << x[p];
    }
}

TEST(EigenSolver, SturmCountsInEveryPackWidth) {
    expect_sturm_counts<1>();
    expect_sturm_counts<2>();
    expect_sturm_counts<4>();
    expect_sturm_counts<8>();
}

// ---- the maps ------------------------------------------------------------------------------

// Both sides of the Gram choice (S < K, S = K, S > K), batches, float and double, Eigen-CAM and
// Eigen-Grad-CAM: the maps equal the former path's to 1e-12 of each map's peak (double) and
// 1e-6 (float: the same X in double either way, the maps rounded to float), on 1 and 3 threads (with
// one sample, 3 threads split the Gram product).
TEST(EigenGram, MapsEqualTheFormerPath) {
    for (const shape_t& shape : {shape_t{3, 40, 3, 3}, shape_t{2, 49, 7, 7}, shape_t{2, 130, 7, 7}, shape_t{4, 5, 6, 7},
                                 shape_t{2, 16, 9, 11}, shape_t{1, 70, 5, 13}, shape_t{2, 3, 64},
                                 // one sample, rows enough for a Gram product split over threads
                                 shape_t{1, 8, 40, 40}, shape_t{1, 600, 3, 3}}) {
        const auto A = random_tensor(shape, 21, 0, 2), G = random_tensor(shape, 22);
        const auto Af = cast<float>(A), Gf = cast<float>(G);
        const std::size_t N = shape[0];
        const auto check = [&](const std::vector<double>& want, const auto& got, double tol, const char* what) {
            const std::vector<double> g(got.values.begin(), got.values.end());
            EXPECT_LT(camkit_test::max_relative_error_per_map(std::span<const double>(g), std::span<const double>(want), N), tol)
                << what << " " << camkit::to_string(shape);
        };
        for (int threads : {1, 3}) {
            const camkit::options opt{.relu = false, .normalize = camkit::normalization::none, .threads = threads};
            check(former_raw(A, static_cast<const camkit::tensor<double>*>(nullptr)), camkit::explain<camkit::eigen_cam>(A, opt).raw, 1e-12, "eigencam");
            check(former_raw(A, &G), camkit::explain<camkit::eigen_grad_cam>(A, G, opt).raw, 1e-12, "eigengradcam");
            check(former_raw(Af, static_cast<const camkit::tensor<float>*>(nullptr)), camkit::explain<camkit::eigen_cam>(Af, opt).raw, 1e-6, "eigencam float");
            check(former_raw(Af, &Gf), camkit::explain<camkit::eigen_grad_cam>(Af, Gf, opt).raw, 1e-6, "eigengradcam float");
        }
        // The thread count changes the order of the Gram product's sums at most.
        EXPECT_LT(camkit_test::max_relative_error(camkit::explain<camkit::eigen_cam>(A, {.threads = 1}).raw,
                                                  camkit::explain<camkit::eigen_cam>(A, {.threads = 3}).raw),
                  1e-13)
            << camkit::to_string(shape);
    }
}

// Exact eigenvectors on both sides. Centred channels x + y and x − y with x = (1, 0, −1),
// y = (1, −2, 1) (orthogonal, |x|² = 2, |y|² = 6): XᵀX = [[8, −4], [−4, 8]], v₁ = (1, −1)/√2,
// λ₁ = 12, so X v₁ = √2·y = √2·(1, −2, 1), which the sign rule flips to √2·(−1, 2, −1). Channel
// offsets vanish in the centring; zero channels add nothing, and with three or more channels the
// 3 × 3 X Xᵀ over positions is decomposed instead, to the same map.
TEST(EigenGram, HandComputedLayersOnBothSides) {
    const double r2 = std::sqrt(2.0);
    const std::vector<double> c0{2 + 5, -2 + 5, 0 + 5}, c1{0 - 1, 2 - 1, -2 - 1}, zero{4, 4, 4};
    for (const auto& channels : {std::vector<std::vector<double>>{c0, c1}, {c0, c1, zero}, {zero, c0, zero, c1}}) {
        const auto raw = camkit::explain<camkit::eigen_cam>(layer(channels), raw_only).raw;
        ASSERT_EQ(raw.size(), 3u);
        EXPECT_NEAR(raw[0], -r2, 1e-13) << channels.size();
        EXPECT_NEAR(raw[1], 2 * r2, 1e-13) << channels.size();
        EXPECT_NEAR(raw[2], -r2, 1e-13) << channels.size();
    }
}

// The sign rule: a negated layer has the same map; the map that needs no flip keeps its sign.
TEST(EigenGram, SignRuleOnBothSides) {
    for (const shape_t& shape : {shape_t{2, 30, 4, 4}, shape_t{2, 4, 5, 5}}) {
        auto A = random_tensor(shape, 23);
        auto B = A;
        for (double& v : B.values) v = -v;
        const auto a = camkit::explain<camkit::eigen_cam>(A, raw_only).raw, b = camkit::explain<camkit::eigen_cam>(B, raw_only).raw;
        EXPECT_LT(camkit_test::max_relative_error(a, b), 1e-12) << camkit::to_string(shape);
        const std::size_t S = a.size() / shape[0];
        for (std::size_t n = 0; n < shape[0]; ++n) {
            const auto [lo, hi] = std::minmax_element(a.values.begin() + static_cast<std::ptrdiff_t>(n * S),
                                                      a.values.begin() + static_cast<std::ptrdiff_t>((n + 1) * S));
            EXPECT_GE(*hi, -*lo);
        }
    }
}

// Degenerate layers. Two positions: every centred channel is (c, −c), so the map is ±(|c|, −|c|)
// with |c| = ‖(c_k)‖: max = |min| and the rule cannot choose the sign; the eigenvector's own sign
// stays (over positions: (1, −1)/√2), so the map is (|c|, −|c|) whichever position is larger, in
// every instruction set. Constant layers on either side give zeros. Equal-norm orthogonal channels x
// and √(1/3)·y make λ₁ repeated: the map is some unit-σ vector of their span, still signed by the rule.
TEST(EigenGram, DegenerateLayers) {
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        // c = (1, −2, 0), and the same positions swapped
        for (const auto& channels : {std::vector<std::vector<double>>{{3, 1}, {0, 4}, {2, 2}}, {{1, 3}, {4, 0}, {2, 2}}}) {
            const auto raw = camkit::explain<camkit::eigen_cam>(layer(channels), raw_only).raw;
            EXPECT_NEAR(raw[0], std::sqrt(5.0), 1e-13) << camkit::isa_name(isa);
            EXPECT_NEAR(raw[1], -std::sqrt(5.0), 1e-13) << camkit::isa_name(isa);
        }
    }
    for (const shape_t& shape : {shape_t{1, 3, 2, 2}, shape_t{2, 6, 2, 2}}) {
        const camkit::tensor<float> A(shape, 7.f);
        for (float v : camkit::explain<camkit::eigen_cam>(A).raw.values) EXPECT_EQ(v, 0.f) << camkit::to_string(shape);
    }
    const double t = 1 / std::sqrt(3.0);
    for (const auto& channels : {std::vector<std::vector<double>>{{1, 0, -1}, {t, -2 * t, t}},
                                 {{1, 0, -1}, {t, -2 * t, t}, {0, 0, 0}, {0, 0, 0}}}) {
        const auto raw = camkit::explain<camkit::eigen_cam>(layer(channels), raw_only).raw.values;
        EXPECT_NEAR(raw[0] * raw[0] + raw[1] * raw[1] + raw[2] * raw[2], 2, 1e-13);  // ‖X v₁‖² = λ₁ = 2
        EXPECT_NEAR(raw[0] + raw[1] + raw[2], 0, 1e-13);                              // in the span of x and y
        EXPECT_GE(*std::max_element(raw.begin(), raw.end()), -*std::min_element(raw.begin(), raw.end()));
    }
}

// ---- the one-pass Gram of channels (S > K) ------------------------------------------------

// C Cᵀ by row-dot tiles against the plain double loop, on and above the diagonal, in every
// instruction set this CPU runs: rows not a multiple of the tiles (zero-padded to 4), columns of
// one pack up to many, a row stride wider than the columns; `between` runs once before each tile.
TEST(EigenGram, RowDotsMatchPlainSums) {
    const camkit::isa before = camkit::active_isa();
    for (camkit::isa isa : {camkit::isa::scalar, camkit::isa::sse2, camkit::isa::avx2, camkit::isa::avx512}) {
        if (!camkit::isa_supported(isa)) continue;
        camkit::set_isa(isa);
        for (std::size_t d : {1u, 2u, 3u, 4u, 5u, 7u, 9u, 13u, 33u, 64u, 65u})
            for (std::size_t cols : {8u, 16u, 40u, 136u}) {
                const std::size_t ld = camkit::detail::gram_stride(d), ldc = cols + 16, rows = (d + 3) / 4 * 4;
                const auto r = random_tensor({d, cols}, static_cast<unsigned>(d * 100 + cols), -1, 3).values;
                std::vector<double> C(rows * ldc, 0.0), G(ld * ld, 0.0);
                for (std::size_t i = 0; i < d; ++i)
                    for (std::size_t s = 0; s < ldc; ++s) C[i * ldc + s] = s < cols ? r[i * cols + s] : 1e300;  // beyond cols: never read
                std::size_t calls = 0, total = 0;
                camkit::detail::dispatch([&](auto bytes) {
                    camkit::detail::add_row_dots_in<camkit::detail::lanes_in<double, bytes()>>(
                        C.data(), d, cols, ldc, G.data(), [&](std::size_t t, std::size_t T) {
                            EXPECT_EQ(t, calls++);
                            total = T;
                        });
                });
                EXPECT_EQ(calls, total) << camkit::isa_name(isa) << " " << d;
                EXPECT_GE(calls, (rows / 4) * (rows / 4 + 1) / 2);  // every tile on and above the diagonal
                expect_upper_sums(G, ld, d, cols, [&](std::size_t i, std::size_t j, std::size_t s) { return r[i * cols + s] * r[j * cols + s]; },
                                  std::string(camkit::isa_name(isa)) + " " + std::to_string(d) + "x" + std::to_string(cols));
                // host_eigen's row_gram is the same product, added to what G holds.
                std::vector<double> twice = G;
                camkit::detail::host_eigen{}.row_gram(C.data(), d, cols, ldc, twice.data());
                for (std::size_t i = 0; i < d; ++i)
                    for (std::size_t j = i; j < d; ++j) ASSERT_NEAR(twice[i * ld + j], 2 * G[i * ld + j], 1e-12 * static_cast<double>(cols));
            }
    }
    camkit::set_isa(before);
}

namespace {

/// Checks Eigen-CAM and Eigen-Grad-CAM of A (and G) in double and float against former_raw, on 1
/// and 3 threads, in every instruction set this CPU runs: to `tol` of each map's peak in double,
/// 1e-6 in float; the same for channels-last copies of A and G (read in place, a block of rows at a
/// time, from 16 channels with more positions than channels; else the planes gathered).
void expect_former_maps(const camkit::tensor<double>& A, const camkit::tensor<double>& G, double tol, const char* what) {
    const std::size_t N = A.shape[0];
    const auto Af = cast<float>(A), Gf = cast<float>(G);
    const auto Acl = camkit_test::channels_last_copy<double>(A), Gcl = camkit_test::channels_last_copy<double>(G);
    const auto Afcl = camkit_test::channels_last_copy<float>(Af), Gfcl = camkit_test::channels_last_copy<float>(Gf);
    const auto want = former_raw(A, static_cast<const camkit::tensor<double>*>(nullptr)), want_g = former_raw(A, &G);
    const auto want_f = former_raw(Af, static_cast<const camkit::tensor<float>*>(nullptr)), want_gf = former_raw(Af, &Gf);
    const auto error = [&](const std::vector<double>& ref, const auto& got) {
        const std::vector<double> g(got.values.begin(), got.values.end());
        return camkit_test::max_relative_error_per_map(std::span<const double>(g), std::span<const double>(ref), N);
    };
    const camkit::isa before = camkit::active_isa();
    for (camkit::isa isa : {camkit::isa::scalar, camkit::isa::sse2, camkit::isa::avx2, camkit::isa::avx512}) {
        if (!camkit::isa_supported(isa)) continue;
        camkit::set_isa(isa);
        for (int threads : {1, 3}) {
            const camkit::options opt{.relu = false, .normalize = camkit::normalization::none, .threads = threads};
            const std::string where = std::string(what) + " " + camkit::to_string(A.shape) + " " +
                                      std::string(camkit::isa_name(isa)) + " threads " + std::to_string(threads);
            EXPECT_LT(error(want, camkit::explain<camkit::eigen_cam>(A, opt).raw), tol) << "eigencam " << where;
            EXPECT_LT(error(want_g, camkit::explain<camkit::eigen_grad_cam>(A, G, opt).raw), tol) << "eigengradcam " << where;
            EXPECT_LT(error(want_f, camkit::explain<camkit::eigen_cam>(Af, opt).raw), 1e-6) << "eigencam float " << where;
            EXPECT_LT(error(want_gf, camkit::explain<camkit::eigen_grad_cam>(Af, Gf, opt).raw), 1e-6) << "eigengradcam float " << where;
            EXPECT_LT(error(want, camkit::explain<camkit::eigen_cam>(Acl.view, Gcl.view, opt).raw), tol) << "eigencam cl " << where;
            EXPECT_LT(error(want_g, camkit::explain<camkit::eigen_grad_cam>(Acl.view, Gcl.view, opt).raw), tol)
                << "eigengradcam cl " << where;
            EXPECT_LT(error(want_f, camkit::explain<camkit::eigen_cam>(Afcl.view, Gfcl.view, opt).raw), 1e-6)
                << "eigencam float cl " << where;
            EXPECT_LT(error(want_gf, camkit::explain<camkit::eigen_grad_cam>(Afcl.view, Gfcl.view, opt).raw), 1e-6)
                << "eigengradcam float cl " << where;
        }
    }
    camkit::set_isa(before);
}

}  // namespace

// Samples of several blocks of positions (the one-pass Gram's blocks are 256 positions at K = 64,
// 2048 at K ≤ 8), the last one partial and not a whole pack, K not a multiple of the tiles; and
// S < K beside them. Maps equal the former path's, also from channels-last copies (rows of 64, 66,
// 19 — two packs of 8 doubles and 3 more — and 16 channels read in place).
TEST(EigenGram, MapsOfManyBlocksEqualTheFormerPath) {
    for (const shape_t& shape : {shape_t{2, 64, 1300}, shape_t{1, 3, 5001}, shape_t{2, 13, 37, 31}, shape_t{1, 66, 521},
                                 shape_t{1, 7, 2, 2049}, shape_t{2, 300, 11}, shape_t{1, 19, 30, 50}, shape_t{2, 16, 3000}})
        expect_former_maps(random_tensor(shape, 31, 0, 2), random_tensor(shape, 32), 1e-12, "random");
}

// Means far from zero (1e6 against values spread by 1): the one-pass Gram subtracts t tᵀ / S after
// shifting by the first block's mean, so even a first block far from the rest's mean (by 50 spreads)
// costs only a few bits. A plain X Xᵀ − S μ μᵀ (no shift) misses by 2e-7 in double and 2e-6 in float here.
TEST(EigenGram, MapsWithLargeMeansEqualTheFormerPath) {
    for (const shape_t& shape : {shape_t{1, 8, 3000}, shape_t{2, 64, 1100}}) {
        auto A = random_tensor(shape, 33, 0, 1), G = random_tensor(shape, 34, 0, 1);
        const std::size_t K = shape[1], S = shape[2];
        for (std::size_t n = 0; n < shape[0]; ++n)
            for (std::size_t k = 0; k < K; ++k)
                for (std::size_t s = 0; s < S; ++s) {
                    const double offset = 1e6 * static_cast<double>(k % 3 + 1) + (s < 100 ? 50.0 : 0.0);
                    A.values[(n * K + k) * S + s] += offset;
                    G.values[(n * K + k) * S + s] += 1e3;
                }
        expect_former_maps(A, G, 1e-9, "large means");
    }
}

// Two leading eigenvalues 0.1% apart (orthogonal patterns x and y with ‖x‖² : ‖y‖² = 1 : 0.999
// over 64 channels, plus a little noise): the map is the better one's and equals the former path's.
TEST(EigenGram, NearDegenerateTopEigenvaluesEqualTheFormerPath) {
    const std::size_t K = 64, S = 1500;
    auto A = random_tensor({1, K, S}, 35, -1e-3, 1e-3);
    const double pi = std::acos(-1.0);
    for (std::size_t k = 0; k < K; ++k)
        for (std::size_t s = 0; s < S; ++s) {
            const double x = std::sin(2 * pi * 3 * static_cast<double>(s) / S), y = std::cos(2 * pi * 5 * static_cast<double>(s) / S);
            const double u = std::cos(0.1 * static_cast<double>(k)), w = std::sin(0.1 * static_cast<double>(k));
            A.values[k * S + s] += u * x + std::sqrt(0.999) * w * y + 2;
        }
    expect_former_maps(A, A, 1e-9, "near-degenerate");
}

// A strided view (the planes gathered) of a sample wider than a block: the same maps as the
// contiguous tensor, and both Eigen-CAM's ignored gradients and the activations checked finite.
TEST(EigenGram, StridedSampleOfManyBlocks) {
    const std::size_t K = 20, H = 40, W = 60;  // stored [1, K, W, H], viewed as [1, K, H, W]
    const auto storage = cast<float>(random_tensor({1, K, W, H}, 36, 0, 2));
    camkit::host_view<const float> A{storage.data(), {1, K, H, W}, {K * W * H, W * H, 1, H}};
    camkit::tensor<float> Ac({1, K, H, W});
    for (std::size_t k = 0; k < K; ++k)
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t w = 0; w < W; ++w) Ac(0, k, h, w) = storage(0, k, w, h);
    const camkit::options opt{.relu = false, .normalize = camkit::normalization::none};
    const auto got = camkit::explain<camkit::eigen_cam>(A, A, opt), want = camkit::explain<camkit::eigen_cam>(Ac, opt);
    EXPECT_LT(camkit_test::max_relative_error(got.raw, want.raw), 1e-6);
    const auto want_former = former_raw(cast<double>(Ac), static_cast<const camkit::tensor<double>*>(nullptr));
    const std::vector<double> g(got.raw.values.begin(), got.raw.values.end());
    EXPECT_LT(camkit_test::max_relative_error_per_map(std::span<const double>(g), std::span<const double>(want_former), 1), 1e-6);
}

/// A non-finite gradient of sample n, channel k in g: Eigen-Grad-CAM (which uses the gradients)
/// and Eigen-CAM (which ignores them, but checks them) both name it; unchecked, Eigen-CAM's map is
/// the one made without gradients. `where` names the case in failures.
template <class T>
void expect_bad_gradient_named(const T& a, const T& g, std::size_t n, std::size_t k, std::size_t where) {
    const std::string message = "camkit: gradients contain NaN or Inf (sample " + std::to_string(n) + ", channel " +
                                std::to_string(k) + ")";
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_grad_cam>(a, g); }), message) << where;
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_cam>(a, g); }), message) << where;
    const camkit::options unchecked{.check_finite = false};
    EXPECT_EQ(camkit::explain<camkit::eigen_cam>(a, g, unchecked).raw.values, camkit::explain<camkit::eigen_cam>(a).raw.values)
        << where;
}

// Non-finite values past the first block of positions, in the activations, in Eigen-Grad-CAM's
// gradients and in the gradients Eigen-CAM ignores (read in the X v₁ pass, four channels a sweep
// and the rest in a shorter one), and in the first block (the shift): each reported with its
// sample and channel, the lowest channel first; the activations (proven by the Gram pass) before
// the ignored gradients.
TEST(EigenGram, NonFiniteValuesInLaterBlocks) {
    const shape_t shape{2, 8, 5000};
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (float bad : {nan, inf}) {
        for (std::size_t s : {std::size_t{3}, std::size_t{4000}, std::size_t{4999}}) {
            auto a = cast<float>(random_tensor(shape, 37)), g = cast<float>(random_tensor(shape, 38));
            a(1, 5, s) = bad;
            a(1, 6, 0) = bad;
            EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_cam>(a); }),
                      "camkit: activations contain NaN or Inf (sample 1, channel 5)") << s;
            EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_grad_cam>(a, g); }),
                      "camkit: activations contain NaN or Inf (sample 1, channel 5)") << s;
            a(1, 5, s) = 1.f, a(1, 6, 0) = 1.f;
            g(0, 3, s) = bad;
            expect_bad_gradient_named(a, g, 0, 3, s);
            a(0, 5, s) = bad;  // a later channel's activations before the ignored gradients
            EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_cam>(a, g); }),
                      "camkit: activations contain NaN or Inf (sample 0, channel 5)") << s;
        }
    }
    // Seven channels: the last three in a sweep of their own.
    const shape_t seven{1, 7, 3000};
    for (std::size_t k : {std::size_t{3}, std::size_t{4}, std::size_t{6}}) {
        const auto a = cast<float>(random_tensor(seven, 39));
        auto g = cast<float>(random_tensor(seven, 40));
        g(0, k, 2999) = std::numeric_limits<float>::infinity();
        EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_cam>(a, g); }),
                  "camkit: gradients contain NaN or Inf (sample 0, channel " + std::to_string(k) + ")");
    }
}

// Fewer positions than channels (the Gram over positions, each channel centred on its own): a
// non-finite value in a whole pack or in the tail of a 7×7 plane, in the gradients Eigen-CAM ignores
// or Eigen-Grad-CAM uses or in the activations, names its sample and channel; unchecked, the ignored
// gradients change nothing.
TEST(EigenGram, NonFiniteValuesWithFewerPositionsThanChannels) {
    const shape_t shape{2, 64, 7, 7};
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        for (std::size_t s : {std::size_t{0}, std::size_t{20}, std::size_t{48}}) {
            auto a = cast<float>(random_tensor(shape, 41)), g = cast<float>(random_tensor(shape, 42));
            g(1, 9, s / 7, s % 7) = bad;
            expect_bad_gradient_named(a, g, 1, 9, s);
            g(1, 9, s / 7, s % 7) = 0.5f;
            a(0, 63, s / 7, s % 7) = bad;
            EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::eigen_cam>(a, g); }),
                      "camkit: activations contain NaN or Inf (sample 0, channel 63)") << s;
        }
    }
}
