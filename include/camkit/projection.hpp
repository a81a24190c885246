#pragma once
// The projection methods' kernel (Eigen-CAM, Eigen-Grad-CAM): the centred sample X, the Gram
// matrix of its smaller side by a blocked SIMD product, its largest eigenpair, the map X v₁.
// The Gram matrix is nearly all of the cost (K·S² or K²·S flops against K·S to read X), so it
// is computed as a sum of outer products of dense rows with a register tile of packs, in the
// active instruction set's pack width (simd.hpp's dispatch, once per run of row blocks).
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

#if defined(__GNUC__)  // wide packs inside the dispatched kernels: see simd.hpp
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace camkit::detail {

/// Columns of the Gram tile: rows of G per tile, and packs of columns per tile (4 × 3 packs of
/// accumulators fit the 16 vector registers of SSE2/AVX2 with the loads).
inline constexpr std::size_t gram_tile_rows = 4;
inline constexpr std::size_t gram_tile_packs = 3;
/// Rows of Y summed per pass over the tiles, so that a panel of Y stays in L1.
inline constexpr std::size_t gram_panel_rows = 64;
/// Doubles in the widest pack of any instruction set (AVX-512's 64 bytes): the Gram matrices'
/// rows are whole packs of every width, so one layout serves every dispatched kernel.
inline constexpr std::size_t gram_row_multiple = 64 / sizeof(double);

/// Row stride of the zero-padded matrices of the Gram product: d rounded up to whole tiles and
/// to whole packs of every instruction set.
inline std::size_t gram_stride(std::size_t d) {
    static_assert(gram_row_multiple % gram_tile_rows == 0, "a row is whole tiles");
    return (d + gram_row_multiple - 1) / gram_row_multiple * gram_row_multiple;
}

/// G[i0.., j0..] += Σ_r Y[r, i]·Y[r, j] over a tile of gram_tile_rows × P packs of W values.
template <std::size_t W, std::size_t P>
CAMKIT_KERNEL_INLINE void add_gram_tile(const double* Y, std::size_t rows, std::size_t ld, std::size_t i0,
                                        std::size_t j0, double* G) {
    using pack = pack_t<double, W>;
    constexpr std::size_t R = gram_tile_rows;
    pack acc[R][P];
    for (auto& row : acc)
        for (pack& a : row) a = broadcast<double, W>(0);
    for (std::size_t r = 0; r < rows; ++r) {
        const double* y = Y + r * ld;
        pack b[P];
        for (std::size_t p = 0; p < P; ++p) b[p] = load<double, W>(y + j0 + p * W);
        for (std::size_t i = 0; i < R; ++i) {
            const pack a = broadcast<double, W>(y[i0 + i]);
            for (std::size_t p = 0; p < P; ++p) acc[i][p] += a * b[p];
        }
    }
    for (std::size_t i = 0; i < R; ++i)
        for (std::size_t p = 0; p < P; ++p) {
            double* g = G + (i0 + i) * ld + j0 + p * W;
            store(g, load<double, W>(g) + acc[i][p]);
        }
}

/// add_gram_of_rows in packs of W values (compiled per instruction set by its caller's dispatch).
template <std::size_t W>
CAMKIT_KERNEL_INLINE void add_gram_of_rows_in(const double* Y, std::size_t rows, std::size_t d, double* G) {
    constexpr std::size_t span = gram_tile_packs * W;
    const std::size_t ld = gram_stride(d);
    for (std::size_t r0 = 0; r0 < rows; r0 += gram_panel_rows) {
        const std::size_t m = std::min(gram_panel_rows, rows - r0);
        const double* panel = Y + r0 * ld;
        for (std::size_t i0 = 0; i0 < d; i0 += gram_tile_rows)
            for (std::size_t j0 = i0 / W * W; j0 < d; j0 += span) {
                switch (std::min(gram_tile_packs, (d - j0 + W - 1) / W)) {
                    case 1: add_gram_tile<W, 1>(panel, m, ld, i0, j0, G); break;
                    case 2: add_gram_tile<W, 2>(panel, m, ld, i0, j0, G); break;
                    default: add_gram_tile<W, gram_tile_packs>(panel, m, ld, i0, j0, G); break;
                }
            }
    }
}

/// G += Yᵀ Y on and above the diagonal (by whole tiles, so some entries just below it too), for
/// Y `rows` × d with row stride ld = gram_stride(d), zero beyond column d; G d × d with stride ld.
/// Runs in the active instruction set (isa.hpp).
inline void add_gram_of_rows(const double* Y, std::size_t rows, std::size_t d, double* G) {
    dispatch([&](auto bytes) { add_gram_of_rows_in<lanes_in<double, bytes()>>(Y, rows, d, G); });
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

/// Whether gram_of_blocks uses camkit's own Gram kernel for `Eigen`: host_eigen, or one without a gram.
template <class Eigen>
inline constexpr bool uses_host_gram_v =
    std::is_same_v<Eigen, host_eigen> ||
    !requires(const Eigen& e, const double* y, double* g) { e.gram(y, std::size_t{}, std::size_t{}, g); };

/// Σ Yᵀ Y over the row blocks of a rows × d matrix Y (see host_eigen::gram; by `eigen`'s gram if
/// it has its own) into a zeroed gram_stride(d)² buffer. `block(r0, r1, scratch)` gives rows
/// [r0, r1) (at most `block_rows`, stride gram_stride(d)): a pointer into Y where it is stored,
/// else written to `scratch`. The blocks are split into up to `parts` runs, each summed on its
/// own thread, then the runs in order.
template <class Eigen, class Block>
std::vector<double> gram_of_blocks(const Eigen& eigen, std::size_t rows, std::size_t d, std::size_t block_rows,
                                   unsigned parts, Block&& block) {
    const std::size_t ld = gram_stride(d), blocks = (rows + block_rows - 1) / block_rows;
    const std::size_t runs = std::clamp<std::size_t>(blocks, 1, parts);
    std::vector<double> G(runs * ld * ld, 0.0);
    parallel_for(runs, static_cast<unsigned>(runs), [&](std::size_t p) {
        std::vector<double> scratch;
        double* g = G.data() + p * ld * ld;
        // The whole run in one instruction set: making the blocks and their Gram tiles.
        const auto run = [&](auto bytes) {
            for (std::size_t b = blocks * p / runs; b < blocks * (p + 1) / runs; ++b) {
                const std::size_t r0 = b * block_rows, r1 = std::min(rows, r0 + block_rows);
                const double* Y = block(r0, r1, scratch);
                if constexpr (uses_host_gram_v<Eigen>)
                    add_gram_of_rows_in<lanes_in<double, bytes()>>(Y, r1 - r0, d, g);
                else
                    eigen.gram(Y, r1 - r0, d, g);
            }
        };
        dispatch(run);
    });
    for (std::size_t p = 1; p < runs; ++p)
        for (std::size_t i = 0; i < ld * ld; ++i) G[i] += G[p * ld * ld + i];
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
/// host_eigen's). Both are Gram matrices of rows: when S ≤ K the rows are X's channel planes, held
/// in double (X Xᵀ over positions); when S > K they are X's positions, made block by block from
/// the planes (Xᵀ X over channels), so X (twice the size of float input) is never stored. Signed
/// by write_signed_projection. Samples run in parallel, and with fewer samples than threads the
/// Gram products too (gram_of_blocks).
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
    // plane_reader's planes are the memory itself (pointers that stay valid) exactly then.
    const bool reads_in_place = std::is_same_v<E, Acc> && A.contiguous_from(2) && G.contiguous_from(2);
    const unsigned all = resolve_threads(threads, 2 * A.size()), t = std::min<unsigned>(all, static_cast<unsigned>(N));
    // Threads left over when there are fewer samples than threads split each Gram product.
    const unsigned parts_per_sample = std::max(1u, all / t);
    // One item per sample: the whole sample is needed for the decomposition.
    parallel_for(N, t, [&](std::size_t n) {
        plane_reader<Acc, E> ra(A), rg(G);
        // Channel k's values and mean: in X when S ≤ K (X is then small: K·S ≤ K² doubles), else
        // read again from the planes, by pointer, for each block of positions.
        std::unique_ptr<double[]> X;
        if (by_channels) X = std::make_unique_for_overwrite<double[]>(rows * ld);
        std::vector<const Acc*> pa(by_channels ? 0 : K), pg(by_channels ? 0 : K);
        std::vector<Acc> copies(by_channels || reads_in_place ? 0 : 2 * K * S);  // planes a reader gathers
        std::vector<double> means(K);
        // The passes over the sample (means, X, then X v₁) are compiled for the active instruction
        // set too (dispatch), for the compiler's own vectorization of their loops.
        const auto first_pass = [&](auto) {
            for (std::size_t k = 0; k < K; ++k) {
                plane<Acc> a = ra.get(n, k), g = rg.get(n, k);
                if (!by_channels) {
                    if (!reads_in_place) {
                        a.data = std::copy(a.data, a.data + S, copies.data() + 2 * k * S) - S;
                        g.data = std::copy(g.data, g.data + S, copies.data() + (2 * k + 1) * S) - S;
                    }
                    pa[k] = a.data, pg[k] = g.data;
                }
                double* x = by_channels ? &X[k * ld] : nullptr;
                const auto value = [&](std::size_t i) {
                    return static_cast<double>(Method::projected(ops, a.data[i], g.data[i]));
                };
                const auto sum_of = [&](const auto& v) {
                    double part[4] = {0, 0, 0, 0};  // four chains: a single sum is bound by the add's latency
                    std::size_t s = 0;
                    for (; s + 4 <= S; s += 4)
                        for (std::size_t i = 0; i < 4; ++i) part[i] += v(s + i);
                    for (; s < S; ++s) part[0] += v(s);
                    return (part[0] + part[1]) + (part[2] + part[3]);
                };
                double sum;
                if (x) {  // X's row first, then its sum: two loops the compiler vectorizes
                    for (std::size_t i = 0; i < S; ++i) x[i] = value(i);
                    sum = sum_of([&](std::size_t i) { return x[i]; });
                } else {
                    sum = sum_of(value);
                }
                if (check_finite) {
                    const bool suspect = !std::isfinite(sum);  // else every input of the sum is finite
                    if (suspect && !ops.all_finite(a)) throw_non_finite("activations", n, k);
                    if ((suspect || check_ignored_g) && !ops.all_finite(g)) throw_non_finite("gradients", n, k);
                }
                means[k] = sum / static_cast<double>(S);
                if (x) {
                    for (std::size_t i = 0; i < S; ++i) x[i] -= means[k];
                    std::fill(x + S, x + ld, 0.0);
                }
            }
        };
        dispatch(first_pass);
        // Centred values of channel k at positions [s0, s1) into out[(s − s0)·stride].
        const auto centred = [&](std::size_t k, std::size_t s0, std::size_t s1, double* out, std::size_t stride) {
            const Acc *a = pa[k], *g = pg[k];
            for (std::size_t s = s0; s < s1; ++s)
                out[(s - s0) * stride] = static_cast<double>(Method::projected(ops, a[s], g[s])) - means[k];
        };
        // Position blocks of about 256 KiB of rows (L2); whole panels.
        const std::size_t block_rows = std::max<std::size_t>(1, (1u << 15) / ld / gram_panel_rows) * gram_panel_rows;
        const std::vector<double> padded =
            gram_of_blocks(eigen, rows, d, block_rows, parts_per_sample,
                           [&](std::size_t r0, std::size_t r1, std::vector<double>& scratch) -> const double* {
                               if (by_channels) return &X[r0 * ld];
                               scratch.resize(block_rows * ld, 0.0);  // zero beyond column K for good
                               // A cache line of channels per row at a time: whole lines written.
                               constexpr std::size_t line = 64 / sizeof(double);
                               for (std::size_t k0 = 0; k0 < K; k0 += line) {
                                   const auto rows_of = [&](auto m) {
                                       for (std::size_t s = r0; s < r1; ++s) {
                                           double* row = scratch.data() + (s - r0) * ld + k0;
                                           for (std::size_t j = 0; j < m; ++j)
                                               row[j] = static_cast<double>(Method::projected(ops, pa[k0 + j][s], pg[k0 + j][s])) - means[k0 + j];
                                       }
                                   };
                                   if (K - k0 >= line)
                                       rows_of(std::integral_constant<std::size_t, line>{});
                                   else
                                       rows_of(K - k0);
                               }
                               return scratch.data();
                           });
        std::vector<double> gram(d * d);  // dense and symmetric, from the upper triangle
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = i; j < d; ++j) gram[i * d + j] = gram[j * d + i] = padded[i * ld + j];
        const auto top = eigen(std::move(gram), d);  // named, not a structured binding: `project` captures it
        const double lambda = top.first;
        const std::vector<double>& vec = top.second;
        std::vector<double> proj(S, 0.0);
        if (by_channels) {  // vec = u₁ over positions: X v₁ = σ₁ u₁
            const double sigma = std::sqrt(std::max(lambda, 0.0));
            for (std::size_t s = 0; s < S; ++s) proj[s] = sigma * vec[s];
        } else {  // vec = v₁ over channels: Σ_k v₁[k]·(x_k − mean_k), a block of positions at a time
            const auto project = [&](auto) {
                constexpr std::size_t span = 1024;
                std::vector<double> column(span);
                for (std::size_t s0 = 0; s0 < S; s0 += span) {
                    const std::size_t s1 = std::min(S, s0 + span);
                    for (std::size_t k = 0; k < K; ++k) {
                        centred(k, s0, s1, column.data(), 1);
                        const double vk = vec[k];
                        for (std::size_t s = s0; s < s1; ++s) proj[s] += vk * column[s - s0];
                    }
                }
            };
            dispatch(project);
        }
        write_signed_projection(proj, raw + n * S);
    });
}

}  // namespace camkit::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
