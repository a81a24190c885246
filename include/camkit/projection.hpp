#pragma once
// The projection methods' kernel (Eigen-CAM, Eigen-Grad-CAM): the centred sample X, the Gram
// matrix of its smaller side by a blocked SIMD product, its largest eigenpair, the map X v₁.
// The Gram matrix is nearly all of the cost (K·S² or K²·S flops against K·S to read X), so it is
// computed with register tiles of packs in the active instruction set's pack width (simd.hpp's
// dispatch, once per run of blocks): over positions (S ≤ K) as a sum of outer products of the
// centred channel rows; over channels (S > K) as dot products of the channels' rows, a block of
// positions at a time, in one pass over the sample (projection_map).
#include <camkit/kernels.hpp>
#include <camkit/linalg.hpp>
#include <camkit/parallel.hpp>
#include <camkit/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
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
            // A scalar times a pack: GCC folds the broadcast into the FMA's memory operand (a broadcast
            // pack made first took a load, a permute and an insert a row in AVX-512).
            const double a = y[i0 + i];
            for (std::size_t p = 0; p < P; ++p) acc[i][p] += a * b[p];
        }
    }
    for (std::size_t i = 0; i < R; ++i)
        for (std::size_t p = 0; p < P; ++p) {
            double* g = G + (i0 + i) * ld + j0 + p * W;
            store(g, load<double, W>(g) + acc[i][p]);
        }
}

/// add_gram_of_rows in packs of W values (compiled per instruction set by its caller's dispatch);
/// `between(t, T)` runs before tile t of the T tiles (the caller's prefetches, spread over the work).
template <std::size_t W, class Between = void (*)(std::size_t, std::size_t)>
CAMKIT_KERNEL_INLINE void add_gram_of_rows_in(const double* Y, std::size_t rows, std::size_t d, double* G,
                                              Between&& between = [](std::size_t, std::size_t) {}) {
    constexpr std::size_t span = gram_tile_packs * W;
    const std::size_t ld = gram_stride(d);
    std::size_t per_panel = 0, t = 0;
    for (std::size_t i0 = 0; i0 < d; i0 += gram_tile_rows) per_panel += (d - i0 / W * W + span - 1) / span;
    const std::size_t tiles = per_panel * ((rows + gram_panel_rows - 1) / gram_panel_rows);
    for (std::size_t r0 = 0; r0 < rows; r0 += gram_panel_rows) {
        const std::size_t m = std::min(gram_panel_rows, rows - r0);
        const double* panel = Y + r0 * ld;
        for (std::size_t i0 = 0; i0 < d; i0 += gram_tile_rows)
            for (std::size_t j0 = i0 / W * W; j0 < d; j0 += span) {
                between(t++, tiles);
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

/// out[q] += the sum of a[q]'s lanes for q < 4 (W = 1, 2, 4 or 8), by pairwise lane shuffles: the
/// tiles' accumulators are reduced once per block, so this runs R·4 times per block of positions.
template <std::size_t W>
CAMKIT_KERNEL_INLINE void add_lane_sums4(const pack_t<double, W> (&a)[4], double* out) {
#if defined(CAMKIT_VECTOR_EXTENSIONS)
    if constexpr (W == 2) {
        for (std::size_t q = 0; q < 4; q += 2) {
            const pack_t<double, W> s = __builtin_shufflevector(a[q], a[q + 1], 0, 2) + __builtin_shufflevector(a[q], a[q + 1], 1, 3);
            store(out + q, load<double, W>(out + q) + s);
        }
        return;
    } else if constexpr (W == 4 || W == 8) {
        using quad = pack_t<double, W / (W / 4)>;  // 4 lanes
        quad h[4];  // each pack folded to 4 lanes
        for (std::size_t q = 0; q < 4; ++q) {
            if constexpr (W == 8)
                h[q] = __builtin_shufflevector(a[q], a[q], 0, 1, 2, 3) + __builtin_shufflevector(a[q], a[q], 4, 5, 6, 7);
            else
                h[q] = a[q];
        }
        // [h0 h0 h1 h1] and [h2 h2 h3 h3] in pairs of partial sums, then the pairs added.
        const quad x01 = __builtin_shufflevector(h[0], h[1], 0, 1, 4, 5) + __builtin_shufflevector(h[0], h[1], 2, 3, 6, 7);
        const quad x23 = __builtin_shufflevector(h[2], h[3], 0, 1, 4, 5) + __builtin_shufflevector(h[2], h[3], 2, 3, 6, 7);
        const quad s = __builtin_shufflevector(x01, x23, 0, 2, 4, 6) + __builtin_shufflevector(x01, x23, 1, 3, 5, 7);
        store(out, load<double, 4>(out) + s);
        return;
    }
#endif
    for (std::size_t q = 0; q < 4; ++q) out[q] += lane_sum(a[q]);
}

/// Rows of G per tile of the row-dot Gram product: 4 × 4 packs of accumulators with AVX-512's 32
/// registers, 2 × 4 with the 16 of SSE2/AVX2 (and for scalars).
template <std::size_t W>
inline constexpr std::size_t row_dots_tile_rows = W >= 8 ? 4 : 2;
/// Columns of G per tile of the row-dot Gram product (rows of C are padded to a multiple of it).
inline constexpr std::size_t row_dots_tile_cols = 4;

/// add_row_dots in packs of W values (compiled per instruction set by its caller's dispatch);
/// `between(t, T)` runs before tile t of the T tiles (the caller's prefetches, spread over the work).
template <std::size_t W, class Between = void (*)(std::size_t, std::size_t)>
CAMKIT_KERNEL_INLINE void add_row_dots_in(const double* C, std::size_t d, std::size_t cols, std::size_t ldc, double* G,
                                          Between&& between = [](std::size_t, std::size_t) {}) {
    using pack = pack_t<double, W>;
    constexpr std::size_t R = row_dots_tile_rows<W>, Q = row_dots_tile_cols;
    const std::size_t ld = gram_stride(d), rows = (d + Q - 1) / Q * Q;
    std::size_t tiles = 0, t = 0;
    for (std::size_t i0 = 0; i0 < rows; i0 += R) tiles += (rows - i0 / Q * Q) / Q;
    for (std::size_t i0 = 0; i0 < rows; i0 += R)
        for (std::size_t j0 = i0 / Q * Q; j0 < rows; j0 += Q) {
            between(t++, tiles);
            pack acc[R][Q];
            for (auto& row : acc)
                for (pack& a : row) a = broadcast<double, W>(0);
            const double* ci = C + i0 * ldc;
            const double* cj = C + j0 * ldc;
            for (std::size_t s = 0; s < cols; s += W) {
                pack b[Q];
                for (std::size_t q = 0; q < Q; ++q) b[q] = load<double, W>(cj + q * ldc + s);
                for (std::size_t i = 0; i < R; ++i) {
                    const pack a = load<double, W>(ci + i * ldc + s);
                    for (std::size_t q = 0; q < Q; ++q) acc[i][q] += a * b[q];
                }
            }
            for (std::size_t i = 0; i < R; ++i) add_lane_sums4<W>(acc[i], G + (i0 + i) * ld + j0);
        }
}

/// G += C Cᵀ on and above the diagonal (by whole tiles, so some entries just below it too): the dot
/// products of the rows of C, d × cols with row stride ldc, rows d.. up to a multiple of 4 zero
/// and cols a multiple of 8 (zero-padded); G d × d with row stride gram_stride(d). Runs in the
/// active instruction set (isa.hpp).
inline void add_row_dots(const double* C, std::size_t d, std::size_t cols, std::size_t ldc, double* G) {
    dispatch([&](auto bytes) { add_row_dots_in<lanes_in<double, bytes()>>(C, d, cols, ldc, G); });
}

/// camkit's own Gram product and eigen-solver (linalg.hpp) for the projection methods; the BLAS
/// adapter passes one with BLAS's syrk and LAPACK's syevd instead.
struct host_eigen {
    /// Largest eigenpair of a symmetric row-major n×n matrix.
    std::pair<double, std::vector<double>> operator()(std::vector<double> m, std::size_t n) const {
        return top_eigenpair(m, n);
    }

    /// G = Yᵀ Y on and above the diagonal for Y `rows` × d, both with row stride gram_stride(d),
    /// Y zero beyond column d, G (gram_stride(d) rows) zeroed by the caller.
    void gram(const double* Y, std::size_t rows, std::size_t d, double* G) const { add_gram_of_rows(Y, rows, d, G); }

    /// G += C Cᵀ on and above the diagonal for C d × cols with row stride ldc, G (gram_stride(d)
    /// rows and columns) as in gram; C's rows padded as add_row_dots needs.
    void row_gram(const double* C, std::size_t d, std::size_t cols, std::size_t ldc, double* G) const {
        add_row_dots(C, d, cols, ldc, G);
    }
};

/// Whether `Eigen` brings its own Gram products (gram and row_gram, as host_eigen's).
template <class Eigen>
inline constexpr bool has_own_gram_v =
    !std::is_same_v<Eigen, host_eigen> &&
    requires(const Eigen& e, const double* y, double* g, std::size_t n) {
        e.gram(y, n, n, g);
        e.row_gram(y, n, n, n, g);
    };

/// Σ over `blocks` blocks of add(bytes, b, acc, scratch) into one zeroed buffer of `size`
/// doubles (bytes: the active instruction set's pack bytes, as from dispatch). The blocks are
/// split into up to `parts` runs, each into its own buffer on its own thread (with its own
/// scratch vector), then the runs summed in order.
template <class Add>
std::vector<double> sum_over_blocks(std::size_t blocks, std::size_t size, unsigned parts, Add&& add) {
    const std::size_t runs = std::clamp<std::size_t>(blocks, 1, parts);
    std::vector<double> acc(runs * size, 0.0);
    parallel_for(runs, static_cast<unsigned>(runs), [&](std::size_t p) {
        std::vector<double> scratch;
        // The whole run in one instruction set: making the blocks and their Gram tiles.
        const auto run = [&](auto bytes) {
            for (std::size_t b = blocks * p / runs; b < blocks * (p + 1) / runs; ++b) add(bytes, b, acc.data() + p * size, scratch);
        };
        dispatch(run);
    });
    for (std::size_t p = 1; p < runs; ++p)
        for (std::size_t i = 0; i < size; ++i) acc[i] += acc[p * size + i];
    acc.resize(size);
    return acc;
}

/// proj[s] += Σ_j v[j]·(x_j[s] − m[j]) over J channels' planes, x = projected(a, g), in packs of W
/// doubles (W inputs widened at a time); with `check_g`, also Σ (g − g) over their gradients.
/// Returns false when that sum is not 0 (a gradient not finite), else true.
template <class Method, class Acc, std::size_t W, std::size_t J>
CAMKIT_KERNEL_INLINE bool add_projection(const plane_ops<Acc>& ops, const Acc* const (&a)[J], const Acc* const (&g)[J],
                                         const double* v, const double* m, std::size_t S, bool check_g, double* proj) {
    std::size_t s = 0;
    Acc bad = 0;
    if constexpr (W > 1) {
        using wide = pack_t<double, W>;
        const auto sweep = [&](auto check) CAMKIT_LAMBDA_INLINE {
            pack_t<Acc, W> acc = broadcast<Acc, W>(0);
            for (; s + W <= S; s += W) {
                wide sum = load<double, W>(proj + s);
                for (std::size_t j = 0; j < J; ++j) {
                    const auto gj = load<Acc, W>(g[j] + s);
                    const auto x = Method::projected(ops, load<Acc, W>(a[j] + s), gj);
                    sum += v[j] * (__builtin_convertvector(x, wide) - m[j]);
                    if constexpr (decltype(check)::value) acc += gj - gj;
                }
                store(proj + s, sum);
            }
            bad = lane_sum(acc);
        };
        if (check_g)
            sweep(std::true_type{});
        else
            sweep(std::false_type{});
    }
    for (; s < S; ++s)
        for (std::size_t j = 0; j < J; ++j) {
            proj[s] += v[j] * (static_cast<double>(Method::projected(ops, a[j][s], g[j][s])) - m[j]);
            if (check_g) bad += g[j][s] - g[j][s];
        }
    return bad == Acc(0);
}

/// Channels-last memory (position_major.hpp's rows, read in place): Y[s − s0, k] = projected(a, g)[s, k]
/// − c[k] for the positions s of [s0, s0 + m) as doubles, rows ld apart (columns K.. untouched), and
/// t[k] += Σ_s Y[s, k]: a block of the rows X − c whose Gram product Yᵀ Y is an add_gram_of_rows.
template <class Method, class Acc, std::size_t W>
CAMKIT_KERNEL_INLINE void shifted_rows(const plane_ops<Acc>& ops, sample_rows<Acc> A, sample_rows<Acc> G, std::size_t s0,
                                       std::size_t m, const double* c, std::size_t ld, double* Y, double* t) {
    const std::size_t K = A.K;
    for (std::size_t r = 0; r < m; ++r) {
        const Acc *a = A.row(s0 + r), *g = G.row(s0 + r);
        double* y = Y + r * ld;
        std::size_t k = 0;
        if constexpr (W > 1) {
            using wide = pack_t<double, W>;
            for (; k + W <= K; k += W) {
                const wide x = __builtin_convertvector(Method::projected(ops, load<Acc, W>(a + k), load<Acc, W>(g + k)), wide) -
                               load<double, W>(c + k);
                store(y + k, x);
                store(t + k, load<double, W>(t + k) + x);
            }
        }
        for (; k < K; ++k) {
            y[k] = static_cast<double>(Method::projected(ops, a[k], g[k])) - c[k];
            t[k] += y[k];
        }
    }
}

/// Channels-last memory: proj[s] = Σ_k v[k]·(x[s, k] − mean[k]) for s in [s0, s1), x = projected(a,
/// g), each position's channels in packs of W doubles; with `check_g`, also Σ (g − g) over the
/// gradients read. Returns false when that sum is not 0 (a gradient not finite), else true.
template <class Method, class Acc, std::size_t W>
CAMKIT_KERNEL_INLINE bool rows_projection(const plane_ops<Acc>& ops, sample_rows<Acc> A, sample_rows<Acc> G, std::size_t s0,
                                          std::size_t s1, const double* v, const double* mean, bool check_g, double* proj) {
    const std::size_t K = A.K;
    Acc bad = 0;
    const auto walk = [&](auto check) CAMKIT_LAMBDA_INLINE {
        constexpr bool Check = decltype(check)::value;
        pack_t<Acc, W> checks = broadcast<Acc, W>(0);
        for (std::size_t s = s0; s < s1; ++s) {
            const Acc *a = A.row(s), *g = G.row(s);
            double sum = 0;
            std::size_t k = 0;
            if constexpr (W > 1) {
                using wide = pack_t<double, W>;
                wide acc = broadcast<double, W>(0);
                for (; k + W <= K; k += W) {
                    const auto gk = load<Acc, W>(g + k);
                    const wide x = __builtin_convertvector(Method::projected(ops, load<Acc, W>(a + k), gk), wide);
                    acc += load<double, W>(v + k) * (x - load<double, W>(mean + k));
                    if constexpr (Check) checks += gk - gk;
                }
                sum = lane_sum(acc);
            }
            for (; k < K; ++k) {
                sum += v[k] * (static_cast<double>(Method::projected(ops, a[k], g[k])) - mean[k]);
                if constexpr (Check) bad += g[k] - g[k];
            }
            proj[s] = sum;
        }
        bad += lane_sum(checks);
    };
    if (check_g)
        walk(std::true_type{});
    else
        walk(std::false_type{});
    return bad == Acc(0);
}

/// Writes a projection of S positions to raw with Eigen-CAM's sign rule: the sign that makes
/// max ≥ |min|. Where they are equal to rounding (64 ulps of the larger; always at two positions)
/// the eigenvector's own sign stays (linalg.hpp's set_eigenvector_sign), not the one its rounding
/// would pick.
template <class Acc>
void write_signed_projection(const std::vector<double>& proj, Acc* raw) {
    double hi = -INFINITY, lo = INFINITY;
    for (double p : proj) hi = std::max(hi, p), lo = std::min(lo, p);
    const double tie = 64 * std::numeric_limits<double>::epsilon() * std::max(hi, -lo);
    const double sign = hi >= -lo - tie ? 1.0 : -1.0;
    for (std::size_t s = 0; s < proj.size(); ++s) raw[s] = static_cast<Acc>(sign * proj[s]);
}

/// Asks for the cache line at p. The empty asm keeps a loop of prefetches alone: GCC deletes a loop
/// of nothing but __builtin_prefetch as one without effects.
CAMKIT_KERNEL_INLINE void prefetch_line(const void* p) {
#if defined(__GNUC__)
    __builtin_prefetch(p);
    asm volatile("" : : "r"(p));
#else
    (void)p;
#endif
}

/// Positions per block of the row-dot Gram product: about 128 KiB of C, whole packs of every width
/// (256 positions at K = 64: a tile's rows stay in L1; blocks of 1024 and more, with fewer lane
/// reductions, measured 15-25% slower).
inline std::size_t row_dots_block(std::size_t d) {
    const std::size_t rows = (d + row_dots_tile_cols - 1) / row_dots_tile_cols * row_dots_tile_cols;
    return std::clamp<std::size_t>((std::size_t{1} << 14) / rows / gram_row_multiple * gram_row_multiple, 64, 2048);
}

/// out[s] = value(s) − c for s < n, then zeros up to a whole pack of every width; returns Σ out.
template <std::size_t W, class Value>
CAMKIT_KERNEL_INLINE double shifted_row(Value&& value, std::size_t n, double c, double* out) {
    for (std::size_t s = 0; s < n; ++s) out[s] = value(s) - c;
    const std::size_t padded = (n + gram_row_multiple - 1) / gram_row_multiple * gram_row_multiple;
    std::fill(out + n, out + padded, 0.0);
    pack_t<double, W> part[2] = {broadcast<double, W>(0), broadcast<double, W>(0)};  // two chains: the add's latency
    for (std::size_t s = 0; s < padded; s += 2 * W) {
        part[0] += load<double, W>(out + s);
        if (s + W < padded) part[1] += load<double, W>(out + s + W);
    }
    return lane_sum(part[0] + part[1]);
}

/// out[s] = x[s] − Σx / S for s < S, x = projected(a, g) widened to double, then zeros up to a
/// whole pack of every width; returns Σ x, and sets `g_finite` to whether the gradients were
/// checked (`check_g`) and found finite (Σ (g − g) == 0). The sum comes from the inputs and the centred values are written after it: summing
/// a row just written stalled on store forwarding at small planes (the padding's narrow stores
/// under the last pack's load: about a quarter of Eigen-CAM's centring at 7×7).
template <class Method, class Acc, std::size_t W>
CAMKIT_KERNEL_INLINE double centred_row(const plane_ops<Acc>& ops, const Acc* a, const Acc* g, std::size_t S,
                                        bool check_g, bool& g_finite, double* out) {
    const auto x_at = [&](std::size_t s) CAMKIT_LAMBDA_INLINE { return static_cast<double>(Method::projected(ops, a[s], g[s])); };
    double sum = 0;
    Acc bad = 0;
    std::size_t s = 0;
    if constexpr (W > 1) {
        using wide = pack_t<double, W>;
        const auto x_pack = [&](std::size_t i) CAMKIT_LAMBDA_INLINE {
            return __builtin_convertvector(Method::projected(ops, load<Acc, W>(a + i), load<Acc, W>(g + i)), wide);
        };
        wide part[2] = {broadcast<double, W>(0), broadcast<double, W>(0)};  // two chains: the add's latency
        pack_t<Acc, W> checks = broadcast<Acc, W>(0);
        for (; s + 2 * W <= S; s += 2 * W) {
            part[0] += x_pack(s);
            part[1] += x_pack(s + W);
            if (check_g) {
                const auto g0 = load<Acc, W>(g + s), g1 = load<Acc, W>(g + s + W);
                checks += (g0 - g0) + (g1 - g1);
            }
        }
        if (s + W <= S) {
            part[0] += x_pack(s);
            if (check_g) {
                const auto g0 = load<Acc, W>(g + s);
                checks += g0 - g0;
            }
            s += W;
        }
        sum = lane_sum(part[0] + part[1]);
        bad = lane_sum(checks);
    }
    for (; s < S; ++s) {
        sum += x_at(s);
        if (check_g) bad += g[s] - g[s];
    }
    const double mean = sum / static_cast<double>(S);
    s = 0;
    if constexpr (W > 1)  // (clang checks a vector conversion's type outside `if constexpr` even in a generic lambda)
        for (; s + W <= S; s += W)
            store(out + s, __builtin_convertvector(Method::projected(ops, load<Acc, W>(a + s), load<Acc, W>(g + s)),
                                                   pack_t<double, W>) - mean);
    for (; s < S; ++s) out[s] = x_at(s) - mean;
    std::fill(out + S, out + (S + gram_row_multiple - 1) / gram_row_multiple * gram_row_multiple, 0.0);
    g_finite = check_g && bad == Acc(0);
    return sum;
}

/// raw[n] = X v₁ for X[s,k] = projected(A, G) with centred columns; v₁ the first right-singular
/// vector, from the largest eigenpair of the Gram matrix on the smaller side (`eigen`: its
/// operator() solves a symmetric row-major n×n matrix, its gram and row_gram are host_eigen's
/// products, if it has its own). When S ≤ K the Gram rows are X's channel planes, held centred in
/// double (X Xᵀ over positions, host_eigen::gram). When S > K it is Xᵀ X over channels, made in one
/// pass over the sample: blocks of positions of every channel, shifted by c_k (the mean of the
/// first block), into a K × block buffer whose rows' dot products (row_gram) are summed, with the
/// sums t_k of the shifted values; then Xᵀ X = Σ (x − c)(x − c)ᵀ − t tᵀ / S and mean_k = c_k + t_k / S.
/// c is that close to the mean that the subtraction loses little: S·(mean − c)² ≤ (S / block)·‖x_k
/// − mean_k‖², so it costs at most log₂(S / block) bits of the centred Gram's entries. Signed by
/// write_signed_projection. Samples run in parallel, and with fewer samples than threads the Gram
/// products too (sum_over_blocks). Non-finite gradients are named by `gradient_label` when given
/// (explain_many's target), else by their sample.
template <class Method, class Acc, class E, class Eigen = host_eigen>
void projection_map(const host_view<const E>& A, const host_view<const E>& G, Acc* raw, int threads,
                    bool check_finite, const Eigen& eigen = {}, std::size_t gradient_label = own_sample) {
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    const plane_ops<Acc> ops;
    const bool by_channels = S <= K;  // rows of X: channels, else positions
    const std::size_t d = by_channels ? S : K, ld = gram_stride(d);
    // A finite sum of X's column proves its inputs finite, except gradients a method ignores:
    // those are checked on their own unless they are the activations themselves.
    const bool check_ignored_g = !needs_gradients_v<Method> && (G.data != A.data || G.strides != A.strides);
    // plane_reader's planes are the memory itself (pointers that stay valid) exactly then.
    const bool reads_in_place = std::is_same_v<E, Acc> && A.contiguous_from(2) && G.contiguous_from(2);
    // Channels-last memory read in place, a block of rows (positions) at a time: Yᵀ Y of those blocks.
    const bool by_rows = !by_channels && reads_position_major<Acc>(A, &G);
    const unsigned all = resolve_threads(threads, 2 * A.size()), t = std::min<unsigned>(all, static_cast<unsigned>(N));
    // Threads left over when there are fewer samples than threads split each Gram product.
    const unsigned parts_per_sample = std::max(1u, all / t);
    const auto g_label = [gradient_label](std::size_t n) { return gradient_label == own_sample ? n : gradient_label; };
    // Sample n's rows of v where by_rows (E is Acc then).
    const auto rows_at = [](const host_view<const E>& v, std::size_t n) {
        if constexpr (std::is_same_v<E, Acc>)
            return rows_of(v, n);
        else
            return sample_rows<Acc>{};
    };
    // One item per sample: the whole sample is needed for the decomposition.
    parallel_for(N, t, [&](std::size_t n) {
        std::vector<const Acc*> pa(K), pg(K);
        std::vector<Acc> copies(reads_in_place || by_rows ? 0 : 2 * K * S);  // planes a reader gathers
        if (!by_rows) {
            plane_reader<Acc, E> ra(A), rg(G);
            for (std::size_t k = 0; k < K; ++k) {
                plane<Acc> a = ra.get(n, k), g = rg.get(n, k);
                if (!reads_in_place) {
                    a.data = std::copy(a.data, a.data + S, copies.data() + 2 * k * S) - S;
                    g.data = std::copy(g.data, g.data + S, copies.data() + (2 * k + 1) * S) - S;
                }
                pa[k] = a.data, pg[k] = g.data;
            }
        }
        // Channel k's values at positions [s0, s0 + m) less c into out, padded; their sum.
        const auto shifted = [&](auto bytes, std::size_t k, std::size_t s0, std::size_t m, double c, double* out) CAMKIT_LAMBDA_INLINE {
            const Acc *a = pa[k] + s0, *g = pg[k] + s0;
            const auto at = [&](std::size_t s) CAMKIT_LAMBDA_INLINE { return static_cast<double>(Method::projected(ops, a[s], g[s])); };
            return shifted_row<lanes_in<double, bytes()>>(at, m, c, out);
        };
        // Asks for part t of T of the cache lines of every channel's inputs at positions [s0, s1):
        // the next block's, a little before each tile of this one (a burst would stall on the fill buffers).
        const bool reads_g = needs_gradients_v<Method>;  // ignored gradients: checked in the X v₁ pass
        const auto prefetch = [&](std::size_t s0, std::size_t s1, std::size_t t, std::size_t T) CAMKIT_LAMBDA_INLINE {
            constexpr std::size_t line = 64 / sizeof(Acc);
            if (s1 <= s0) return;  // the last block: nothing after it
            const std::size_t per_channel = (s1 - s0 + line - 1) / line, lines = K * per_channel;
            const std::size_t l0 = lines * t / T, l1 = lines * (t + 1) / T;
            std::size_t k = l0 / per_channel, s = s0 + l0 % per_channel * line;
            for (std::size_t l = l0; l < l1; ++l, s += line) {
                if (s >= s1) ++k, s = s0;
                prefetch_line(pa[k] + s);
                if (reads_g) prefetch_line(pg[k] + s);
            }
        };
        // The same for channels-last rows: part t of T of the cache lines of rows [s0, s1).
        const auto prefetch_rows = [&](const sample_rows<Acc>& ra, const sample_rows<Acc>& rg, std::size_t s0, std::size_t s1,
                                       std::size_t t, std::size_t T) CAMKIT_LAMBDA_INLINE {
            constexpr std::size_t line = 64 / sizeof(Acc);
            if (s1 <= s0) return;  // the last block: nothing after it
            const std::size_t o0 = s0 * K, lines = ((s1 - s0) * K + line - 1) / line;
            for (std::size_t l = lines * t / T; l < lines * (t + 1) / T; ++l) {
                prefetch_line(ra.data + o0 + l * line);
                if (reads_g) prefetch_line(rg.data + o0 + l * line);
            }
        };
        // Throws for channel k's non-finite inputs when the sum of its values is not finite (or
        // for ignored gradients, checked on their own).
        // `g_finite`: whether the ignored gradients were found finite already (else they are read here).
        const auto check_channel = [&](std::size_t k, double sum, bool g_finite) {
            if (!check_finite) return;
            const bool suspect = !std::isfinite(sum);  // else every input of the sum is finite
            if (suspect && !ops.all_finite({pa[k], S})) throw_non_finite("activations", n, k);
            const bool read_g = suspect ? needs_gradients_v<Method> || !g_finite : check_ignored_g && !g_finite;
            if (read_g && !ops.all_finite({pg[k], S})) throw_non_finite("gradients", g_label(n), k);
        };
        std::vector<double> means(K), padded;
        if (by_channels) {
            // X: the centred channel planes, K·S ≤ K² doubles; its Gram products split over threads by
            // blocks of channels.
            const auto X = std::make_unique_for_overwrite<double[]>(K * ld);
            const bool check_g = check_finite && check_ignored_g;
            const auto centre = [&](auto bytes) {
                for (std::size_t k = 0; k < K; ++k) {
                    bool g_finite = false;
                    const double sum = centred_row<Method, Acc, lanes_in<double, bytes()>>(ops, pa[k], pg[k], S, check_g,
                                                                                          g_finite, &X[k * ld]);
                    check_channel(k, sum, g_finite);
                    means[k] = sum / static_cast<double>(S);
                }
            };
            dispatch(centre);
            const std::size_t block = std::max<std::size_t>(1, (1u << 15) / ld / gram_panel_rows) * gram_panel_rows;
            padded = sum_over_blocks((K + block - 1) / block, ld * ld, parts_per_sample,
                                     [&](auto bytes, std::size_t b, double* g, std::vector<double>&) CAMKIT_LAMBDA_INLINE {
                                         const std::size_t r0 = b * block, r1 = std::min(K, r0 + block);
                                         if constexpr (has_own_gram_v<Eigen>)
                                             eigen.gram(&X[r0 * ld], r1 - r0, d, g);
                                         else
                                             add_gram_of_rows_in<lanes_in<double, bytes()>>(&X[r0 * ld], r1 - r0, d, g);
                                     });
        } else {
            // c: each channel's mean over the first block, the shift of every run.
            const std::size_t block = row_dots_block(K), first = std::min(S, block);
            std::vector<double> shift(K, 0.0);
            if (by_rows) {
                // Σ x over the first block's rows, then the same blocks made again less c and summed
                // into Yᵀ Y (rows of doubles, ld apart), one pass over the sample in place.
                const sample_rows<Acc> rows_a = rows_at(A, n), rows_g = rows_at(G, n);
                dispatch([&](auto bytes) {
                    const std::vector<double> zero(K, 0.0);
                    std::vector<double> Y(first * ld);
                    shifted_rows<Method, Acc, lanes_in<double, bytes()>>(ops, rows_a, rows_g, 0, first, zero.data(), ld, Y.data(),
                                                                        shift.data());
                });
                for (double& c : shift) c /= static_cast<double>(first);
                padded = sum_over_blocks((S + block - 1) / block, ld * ld + K, parts_per_sample,
                                         [&](auto bytes, std::size_t b, double* g, std::vector<double>& Y) CAMKIT_LAMBDA_INLINE {
                                             const std::size_t s0 = b * block, m = std::min(S, s0 + block) - s0;
                                             Y.resize(block * ld, 0.0);  // columns K.. stay zero
                                             shifted_rows<Method, Acc, lanes_in<double, bytes()>>(ops, rows_a, rows_g, s0, m, shift.data(), ld,
                                                                                                 Y.data(), g + ld * ld);
                                             if constexpr (has_own_gram_v<Eigen>) {
                                                 eigen.gram(Y.data(), m, K, g);
                                             } else {  // the next block's rows fetched while this one's tiles run
                                                 const std::size_t next = std::min(S, s0 + m + block);
                                                 add_gram_of_rows_in<lanes_in<double, bytes()>>(Y.data(), m, K, g, [&](std::size_t t, std::size_t T) CAMKIT_LAMBDA_INLINE {
                                                     prefetch_rows(rows_a, rows_g, s0 + m, next, t, T);
                                                 });
                                             }
                                         });
            } else {
                dispatch([&](auto bytes) {
                    std::vector<double> row(first + gram_row_multiple);
                    for (std::size_t k = 0; k < K; ++k)
                        shift[k] = shifted(bytes, k, 0, first, 0.0, row.data()) / static_cast<double>(first);
                });
                // Per run: the Gram of the shifted values (ld × ld) and the sums t_k (K). Ignored gradients
                // are checked in the X v₁ pass, as more streams of its sweeps over whole planes (here they
                // were a separate read of every channel's block between the tiles).
                const std::size_t rows = (K + row_dots_tile_cols - 1) / row_dots_tile_cols * row_dots_tile_cols;
                padded = sum_over_blocks((S + block - 1) / block, ld * ld + K, parts_per_sample,
                                         [&](auto bytes, std::size_t b, double* g, std::vector<double>& C) CAMKIT_LAMBDA_INLINE {
                                             const std::size_t s0 = b * block, m = std::min(S, s0 + block) - s0;
                                             C.resize(rows * block, 0.0);  // rows K.. stay zero
                                             for (std::size_t k = 0; k < K; ++k) g[ld * ld + k] += shifted(bytes, k, s0, m, shift[k], &C[k * block]);
                                             const std::size_t cols = (m + gram_row_multiple - 1) / gram_row_multiple * gram_row_multiple;
                                             if constexpr (has_own_gram_v<Eigen>)
                                                 eigen.row_gram(C.data(), K, cols, block, g);
                                             else  // the next block's inputs fetched while this one's tiles run
                                                 add_row_dots_in<lanes_in<double, bytes()>>(C.data(), K, cols, block, g, [&](std::size_t t, std::size_t T) CAMKIT_LAMBDA_INLINE {
                                                     prefetch(s0 + m, std::min(S, s0 + m + block), t, T);
                                                 });
                                         });
            }
            const double* sums = &padded[ld * ld];
            for (std::size_t k = 0; k < K; ++k) {
                if (!by_rows)
                    check_channel(k, sums[k], true);  // ignored gradients: in the X v₁ pass
                else if (check_finite && !std::isfinite(sums[k]))  // as check_channel, the planes gathered
                    locate_non_finite<Acc>(A, needs_gradients_v<Method> ? &G : nullptr, n, k, k + 1, gradient_label);
                means[k] = shift[k] + sums[k] / static_cast<double>(S);
            }
            for (std::size_t i = 0; i < K; ++i)
                for (std::size_t j = i; j < K; ++j) padded[i * ld + j] -= sums[i] * sums[j] / static_cast<double>(S);
        }
        std::vector<double> gram(d * d);  // dense and symmetric, from the upper triangle
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = i; j < d; ++j) gram[i * d + j] = gram[j * d + i] = padded[i * ld + j];
        const auto top = eigen(std::move(gram), d);  // named, not a structured binding: `project` captures it
        const double lambda = top.first;
        const std::vector<double>& vec = top.second;
        std::vector<double> proj = make_values<double>(S);  // zeros, pre-faulted when large
        if (by_channels) {  // vec = u₁ over positions: X v₁ = σ₁ u₁
            const double sigma = std::sqrt(std::max(lambda, 0.0));
            for (std::size_t s = 0; s < S; ++s) proj[s] = sigma * vec[s];
        } else if (by_rows) {  // the same, position by position
            const bool check_g = check_finite && check_ignored_g;
            bool finite = true;
            dispatch([&](auto bytes) {
                finite = rows_projection<Method, Acc, lanes_in<double, bytes()>>(ops, rows_at(A, n), rows_at(G, n), 0, S, vec.data(),
                                                                                means.data(), check_g, proj.data());
            });
            if (!finite)  // the first channel with a non-finite gradient, as the planes' sweeps name it
                locate_non_finite_gradients<Acc>(G, n, gradient_label);
        } else {  // vec = v₁ over channels: Σ_k v₁[k]·(x_k − mean_k)
            const bool check_g = check_finite && check_ignored_g;
            const auto project = [&](auto bytes) {
                // J ≤ 4 channels' planes a sweep (J streams for the prefetchers, and a J-th of the
                // read-modify-writes of proj, which outgrows L1), with their ignored gradients checked
                // in the same sweep.
                std::size_t k = 0;
                const auto sweep = [&](auto channels) CAMKIT_LAMBDA_INLINE {
                    constexpr std::size_t J = decltype(channels)::value;
                    const Acc *a[J], *g[J];
                    for (std::size_t j = 0; j < J; ++j) a[j] = pa[k + j], g[j] = pg[k + j];
                    const bool finite = add_projection<Method, Acc, lanes_in<double, bytes()>, J>(ops, a, g, &vec[k], &means[k], S, check_g, proj.data());
                    if (!finite)
                        for (std::size_t j = 0; j < J; ++j)
                            if (!ops.all_finite({g[j], S})) throw_non_finite("gradients", g_label(n), k + j);
                    k += J;
                };
                while (k + 4 <= K) sweep(std::integral_constant<std::size_t, 4>{});
                switch (K - k) {
                    case 3: sweep(std::integral_constant<std::size_t, 3>{}); break;
                    case 2: sweep(std::integral_constant<std::size_t, 2>{}); break;
                    case 1: sweep(std::integral_constant<std::size_t, 1>{}); break;
                    default: break;
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
