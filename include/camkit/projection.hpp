#pragma once
// The projection methods' kernel (Eigen-CAM, Eigen-Grad-CAM): the centred sample X, the Gram
// matrix of its smaller side by a blocked SIMD product, its largest eigenpair, the map X v₁.
// The Gram matrix is nearly all of the cost (K·S² or K²·S flops against K·S to read X), so it
// is computed as a sum of outer products of dense rows with a register tile of packs.
#include <camkit/kernels.hpp>
#include <camkit/linalg.hpp>
#include <camkit/parallel.hpp>
#include <camkit/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit::detail {

/// Columns of the Gram tile: rows of G per tile, and packs of columns per tile (4 × 3 packs of
/// accumulators fit the 16 vector registers of SSE2/AVX2 with the loads).
inline constexpr std::size_t gram_tile_rows = 4;
inline constexpr std::size_t gram_tile_packs = 3;
/// Rows of Y summed per pass over the tiles, so that a panel of Y stays in L1.
inline constexpr std::size_t gram_panel_rows = 64;

/// Row stride of the zero-padded matrices of the Gram product: d rounded up to whole tiles and packs.
inline std::size_t gram_stride(std::size_t d) {
    static_assert(gram_tile_rows % pack_width<double> == 0, "a tile row count is whole packs");
    return (d + gram_tile_rows - 1) / gram_tile_rows * gram_tile_rows;
}

/// G[i0.., j0..] += Σ_r Y[r, i]·Y[r, j] over a tile of gram_tile_rows × P packs.
template <std::size_t P>
void add_gram_tile(const double* Y, std::size_t rows, std::size_t ld, std::size_t i0, std::size_t j0, double* G) {
    using pack = pack_t<double>;
    constexpr std::size_t W = pack_width<double>, R = gram_tile_rows;
    pack acc[R][P];
    for (auto& row : acc)
        for (pack& a : row) a = broadcast<double>(0);
    for (std::size_t r = 0; r < rows; ++r) {
        const double* y = Y + r * ld;
        pack b[P];
        for (std::size_t p = 0; p < P; ++p) b[p] = load(y + j0 + p * W);
        for (std::size_t i = 0; i < R; ++i) {
            const pack a = broadcast(y[i0 + i]);
            for (std::size_t p = 0; p < P; ++p) acc[i][p] += a * b[p];
        }
    }
    for (std::size_t i = 0; i < R; ++i)
        for (std::size_t p = 0; p < P; ++p) {
            double* g = G + (i0 + i) * ld + j0 + p * W;
            store(g, load(g) + acc[i][p]);
        }
}

/// G += Yᵀ Y on and above the diagonal (by whole tiles, so some entries just below it too), for
/// Y `rows` × d with row stride ld = gram_stride(d), zero beyond column d; G d × d with stride ld.
inline void add_gram_of_rows(const double* Y, std::size_t rows, std::size_t d, double* G) {
    constexpr std::size_t W = pack_width<double>, span = gram_tile_packs * W;
    const std::size_t ld = gram_stride(d);
    for (std::size_t r0 = 0; r0 < rows; r0 += gram_panel_rows) {
        const std::size_t m = std::min(gram_panel_rows, rows - r0);
        const double* panel = Y + r0 * ld;
        for (std::size_t i0 = 0; i0 < d; i0 += gram_tile_rows)
            for (std::size_t j0 = i0 / W * W; j0 < d; j0 += span) {
                switch (std::min(gram_tile_packs, (d - j0 + W - 1) / W)) {
                    case 1: add_gram_tile<1>(panel, m, ld, i0, j0, G); break;
                    case 2: add_gram_tile<2>(panel, m, ld, i0, j0, G); break;
                    default: add_gram_tile<gram_tile_packs>(panel, m, ld, i0, j0, G); break;
                }
            }
    }
}

/// camkit's own Gram product and eigen-solver (linalg.hpp) for the projection methods; the BLAS
/// adapter passes one with BLAS's syrk and LAPACK's syevd instead.
struct host_eigen {
    /// Largest eigenpair of a symmetric row-major n×n matrix.
    std::pair<double, std::vector<double>> operator()(std::vector<double> m, std::size_t n) const {
        return top_eigenpair(std::move(m), n);
    }

    /// G = Yᵀ Y on and above the diagonal for Y `rows` × d, both with row stride gram_stride(d),
    /// Y zero beyond column d, G (gram_stride(d) rows) zeroed by the caller.
    void gram(const double* Y, std::size_t rows, std::size_t d, double* G) const { add_gram_of_rows(Y, rows, d, G); }
};

/// The Gram matrix of Y's rows (see host_eigen::gram; by `eigen`'s gram if it has one) as a
/// zeroed gram_stride(d)² buffer, the rows split into up to `parts` blocks of whole panels summed
/// on their own threads and then in block order.
template <class Eigen>
std::vector<double> gram_in_parts(const Eigen& eigen, const double* Y, std::size_t rows, std::size_t d, unsigned parts) {
    const std::size_t ld = gram_stride(d);
    const std::size_t blocks = std::clamp<std::size_t>(rows / (4 * gram_panel_rows), 1, parts);
    std::vector<double> G(blocks * ld * ld, 0.0);
    parallel_for(blocks, static_cast<unsigned>(blocks), [&](std::size_t b) {
        const std::size_t r0 = rows * b / blocks / gram_panel_rows * gram_panel_rows;
        const std::size_t r1 = b + 1 == blocks ? rows : rows * (b + 1) / blocks / gram_panel_rows * gram_panel_rows;
        if constexpr (requires { eigen.gram(Y, rows, d, G.data()); })
            eigen.gram(Y + r0 * ld, r1 - r0, d, G.data() + b * ld * ld);
        else
            host_eigen{}.gram(Y + r0 * ld, r1 - r0, d, G.data() + b * ld * ld);
    });
    for (std::size_t b = 1; b < blocks; ++b)
        for (std::size_t i = 0; i < ld * ld; ++i) G[i] += G[b * ld * ld + i];
    G.resize(ld * ld);
    return G;
}

/// Writes a projection of S positions to raw with Eigen-CAM's sign rule: the sign that makes
/// max ≥ |min| (where both do, as always at two positions, the solver's sign stays).
template <class Acc>
void write_signed_projection(const std::vector<double>& proj, Acc* raw) {
    double hi = -INFINITY, lo = INFINITY;
    for (double p : proj) hi = std::max(hi, p), lo = std::min(lo, p);
    const double sign = hi >= -lo ? 1.0 : -1.0;
    for (std::size_t s = 0; s < proj.size(); ++s) raw[s] = static_cast<Acc>(sign * proj[s]);
}

/// raw[n] = X v₁ for X[s,k] = projected(A, G) with centred columns; v₁ the first right-singular
/// vector, from the largest eigenpair of the Gram matrix on the smaller side (`eigen`: its
/// operator() solves a symmetric row-major n×n matrix, its gram(Y, rows, d, G) is Yᵀ Y as
/// host_eigen's). X is stored with the larger side as rows: channel planes when S ≤ K (the Gram
/// matrix X Xᵀ over positions), positions when S > K (Xᵀ X over channels), so both are the Gram
/// matrix of rows. Signed by write_signed_projection. Samples run in parallel, and with fewer
/// samples than threads the Gram products too (gram_in_parts).
template <class Method, class Acc, class E, class Eigen = host_eigen>
void projection_map(const host_view<const E>& A, const host_view<const E>& G, Acc* raw, int threads,
                    bool check_finite, const Eigen& eigen = {}) {
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    const plane_ops<Acc> ops;
    const bool by_channels = S <= K;  // rows of X: channels, else positions
    const std::size_t rows = by_channels ? K : S, d = by_channels ? S : K, ld = gram_stride(d);
    // A finite sum of X's column proves its inputs finite, except gradients a method ignores:
    // those are checked on their own unless they are the activations themselves.
    const bool check_ignored_g = !needs_gradients_v<Method> && (G.data != A.data || G.strides != A.strides);
    const unsigned all = resolve_threads(threads, 2 * A.size()), t = std::min<unsigned>(all, static_cast<unsigned>(N));
    // Threads left over when there are fewer samples than threads split each Gram product.
    const unsigned parts_per_sample = std::max(1u, all / t);
    // One item per sample: the whole sample is needed for the decomposition.
    parallel_for(N, t, [&](std::size_t n) {
        plane_reader<Acc, E> ra(A), rg(G);
        std::unique_ptr<double[]> X = std::make_unique_for_overwrite<double[]>(rows * ld);
        for (std::size_t r = 0; r < rows; ++r) std::fill(&X[r * ld + d], &X[r * ld + ld], 0.0);
        // Rows of positions are written a cache line of channels at a time, from columns held here.
        constexpr std::size_t group = 64 / sizeof(double);
        std::vector<double> columns(by_channels ? 0 : std::min(K, group) * S);
        double means[group];
        for (std::size_t k0 = 0; k0 < K; k0 += group) {
            const std::size_t m = std::min(group, K - k0);
            for (std::size_t j = 0; j < m; ++j) {
                const std::size_t k = k0 + j;
                const plane<Acc> a = ra.get(n, k), g = rg.get(n, k);
                double* x = by_channels ? &X[k * ld] : &columns[j * S];
                double part[4] = {0, 0, 0, 0};  // four chains: a single sum is bound by the add's latency
                std::size_t s = 0;
                for (; s + 4 <= S; s += 4)
                    for (std::size_t i = 0; i < 4; ++i)
                        part[i] += x[s + i] = static_cast<double>(Method::projected(ops, a.data[s + i], g.data[s + i]));
                for (; s < S; ++s) part[0] += x[s] = static_cast<double>(Method::projected(ops, a.data[s], g.data[s]));
                const double sum = (part[0] + part[1]) + (part[2] + part[3]);
                if (check_finite && (!std::isfinite(sum) || check_ignored_g)) {
                    if (!ops.all_finite(a)) throw_non_finite("activations", n, k);
                    if (!ops.all_finite(g)) throw_non_finite("gradients", n, k);
                }
                means[j] = sum / static_cast<double>(S);
                if (by_channels)
                    for (std::size_t s = 0; s < S; ++s) x[s] -= means[j];
            }
            if (!by_channels) {
                const auto write_rows = [&](auto count) {
                    for (std::size_t s = 0; s < S; ++s)
                        for (std::size_t j = 0; j < count; ++j) X[s * ld + k0 + j] = columns[j * S + s] - means[j];
                };
                if (m == group)
                    write_rows(std::integral_constant<std::size_t, group>{});  // unrolled: whole lines
                else
                    write_rows(m);
            }
        }
        const std::vector<double> padded = gram_in_parts(eigen, X.get(), rows, d, parts_per_sample);
        std::vector<double> gram(d * d);  // dense and symmetric, from the upper triangle
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = i; j < d; ++j) gram[i * d + j] = gram[j * d + i] = padded[i * ld + j];
        auto [lambda, vec] = eigen(std::move(gram), d);
        std::vector<double> proj(S);
        if (by_channels) {  // vec = u₁ over positions: X v₁ = σ₁ u₁
            const double sigma = std::sqrt(std::max(lambda, 0.0));
            for (std::size_t s = 0; s < S; ++s) proj[s] = sigma * vec[s];
        } else {  // vec = v₁ over channels
            for (std::size_t s = 0; s < S; ++s) proj[s] = dot(&X[s * ld], vec.data(), K);
        }
        write_signed_projection(proj, raw + n * S);
    });
}

}  // namespace camkit::detail
