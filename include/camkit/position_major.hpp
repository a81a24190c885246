#pragma once
// Host kernels for channels-last memory read in place: [N, *S, K] in memory (PyTorch's
// channels_last and channels_last_3d, TensorFlow's NHWC and NDHWC), viewed as [N, K, *S]. Each
// position's K values are adjacent, so the kernels walk positions in memory order and compute
// across channels in packs: the per-channel statistics are sums of whole rows of channels, a map
// value is one dot product (channel weights) or one sum (element-wise) per position. The plane
// kernels (kernels.hpp) would first gather every plane out of such memory (plane_reader): a copy
// written and read back.
//
// The kernels the dispatch lambdas call (rows_sums_in, rows_dot_in, rows_contributions_in) are plain
// templates, as kernels.hpp's chunk functions are: marked always_inline, they would be inlined into
// the lambdas' default-target copies too, where a method's functions on packs (contribution,
// gradient_term) cannot be inlined and are emitted out of line, with GCC's -Wpsabi for their packs
// in a program built without camkit's flags (DropIn.CompilesWithoutWarnings).
//
// Sums over positions take blocks of `row_block` positions in the accumulation type (registers),
// added into double totals; a map value sums its channels in packs. So maps and weights equal the plane
// kernels' (contiguous memory) to rounding, not to the bit.
#include <camkit/kernels.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#if defined(__GNUC__)  // wide packs inside the dispatched kernels: see simd.hpp
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace camkit::detail {

/// Fewest channels for which channels-last memory is read position by position: a position's
/// channels fill at least one cache line of floats. Fewer go through plane_reader's gather.
inline constexpr std::size_t position_major_min_channels = 16;

/// Positions whose sums a kernel keeps in the accumulation type before adding them to its double totals.
inline constexpr std::size_t row_block = 64;

/// Fewest positions a thread's range holds when the positions of one sample are split over threads.
inline constexpr std::size_t min_range_positions = 4096;

/// True when the [N, K, *S] view v is channels-last memory: channel stride 1 and every spatial axis
/// of more than one position K times the positions inside it apart (the positions nest densely,
/// position s at s·K); the sample stride is free.
template <class E>
bool channels_last_dense(const host_view<const E>& v) {
    if (v.shape.size() < 3 || v.strides[1] != 1) return false;
    std::ptrdiff_t expected = static_cast<std::ptrdiff_t>(v.shape[1]);
    for (std::size_t a = v.shape.size(); a-- > 2;) {
        if (v.shape[a] != 1 && v.strides[a] != expected) return false;
        expected *= static_cast<std::ptrdiff_t>(v.shape[a]);
    }
    return true;
}

/// Whether the host kernels read A (and G, when given) position by position: both channels-last
/// (channels_last_dense) in the accumulation type itself, at least position_major_min_channels
/// channels, and not also planes that are the memory itself (a single position).
template <class Acc, class E>
bool reads_position_major(const host_view<const E>& A, const host_view<const E>* G) {
    if constexpr (!std::is_same_v<Acc, E>) {
        return false;
    } else {
        if (A.shape.size() < 3 || A.shape[1] < position_major_min_channels) return false;
        if (A.contiguous_from(2) && (!G || G->contiguous_from(2))) return false;
        return channels_last_dense(A) && (!G || channels_last_dense(*G));
    }
}

/// The rows of one sample: row s (a position's K channels) at data + s·K.
template <class Acc>
struct sample_rows {
    const Acc* data = nullptr;
    std::size_t K = 0;
    const Acc* row(std::size_t s) const { return data + s * K; }
};

template <class Acc>
sample_rows<Acc> rows_of(const host_view<const Acc>& v, std::size_t n) {
    return {v.data + static_cast<std::ptrdiff_t>(n) * v.strides[0], v.shape[1]};
}

/// How the positions of N samples are split over threads: `ranges` ranges a sample, item i is range
/// i % ranges of sample i / ranges.
struct position_split {
    std::size_t N, S, ranges;
    std::size_t items() const { return N * ranges; }
    std::size_t sample(std::size_t item) const { return item / ranges; }
    std::size_t begin(std::size_t item) const { return S * (item % ranges) / ranges; }
    std::size_t end(std::size_t item) const { return S * (item % ranges + 1) / ranges; }
};

inline position_split split_positions(std::size_t N, std::size_t S, unsigned threads) {
    std::size_t ranges = threads > N ? (threads + N - 1) / N : 1;
    ranges = std::max<std::size_t>(1, std::min(ranges, S / min_range_positions));
    return {N, S, ranges};
}

/// Which per-channel sums a pass over rows takes: Σ a, Σ g, Σ a·g, Σ gradient_term(statistics, g).
/// A template argument of the walks: each method compiles the few sets its passes take (first_walk,
/// second_walk), not every combination.
struct row_sum_set {
    bool a = false, g = false, ag = false, term = false;
    constexpr std::size_t count() const { return std::size_t{a} + g + ag + term; }
    constexpr bool reads_a() const { return a || ag; }          ///< the set reads A's rows
    constexpr bool reads_g() const { return g || ag || term; }  ///< the set reads G's rows
};

/// The first walk of channel-weight method Method: its declared sums, with Σ a and Σ g as the finite
/// checks of the rows it reads (G also when nothing else reads it); without Σ a where it is known
/// and the method takes it alone from A (shares_sum_a: explain_many's, summed once for its targets).
template <class Method>
constexpr row_sum_set first_walk(bool check_finite, bool sum_a_known = false) {
    constexpr statistic needs = Method::needs;
    constexpr bool need_a = has(needs, statistic::sum_a), need_g = has(needs, statistic::sum_g),
                   need_ag = has(needs, statistic::sum_ag), term = has_gradient_term<Method>;
    const bool reads_g = need_g || need_ag || (!term && check_finite);
    row_sum_set set;
    set.a = (need_a && !(sum_a_known && shares_sum_a<Method>)) || (check_finite && need_ag);
    set.g = need_g || (check_finite && reads_g);
    set.ag = need_ag;
    return set;
}

/// The second walk (methods with a gradient term): the term, with Σ g as the finite check where the
/// first walk did not read G.
template <class Method>
constexpr row_sum_set second_walk(bool check_finite) {
    row_sum_set set;
    set.term = has_gradient_term<Method>;
    set.g = set.term && check_finite && !first_walk<Method>(check_finite).g;
    return set;
}

/// Channels summed together in rows_sums_in: up to this many packs, each sum's accumulators in registers.
inline constexpr std::size_t sum_chunk_packs = 4;

/// The sums of C packs of V channels from channel c0 over rows [b, e), added to `out` (sum j of
/// channel k at out[j·K + k], a block buffer): each sum's C accumulators stay in registers over the
/// rows. `sum_a` holds each channel's Σ a for the gradient term.
template <std::size_t V, std::size_t C, class Method, row_sum_set Set, class Acc>
CAMKIT_KERNEL_INLINE void chunk_sums(sample_rows<Acc> A, sample_rows<Acc> G, const Acc* sum_a, std::size_t c0,
                                     std::size_t b, std::size_t e, Acc* out, Acc positions) {
    using B = pack_t<Acc, V>;
    constexpr bool SA = Set.a, SG = Set.g, SAG = Set.ag, ST = Set.term, RA = Set.reads_a(), RG = Set.reads_g();
    constexpr std::size_t M = Set.count(), ig = SA, iag = ig + SG, it = iag + SAG;
    static_assert(M > 0);
    const std::size_t K = A.K;
    B acc[M][C] = {};
    plane_statistics<B> st[C];
    if constexpr (ST) {
        for (std::size_t j = 0; j < C; ++j) {
            st[j].sum_a = load<Acc, V>(sum_a + c0 + j * V);
            st[j].positions = broadcast<Acc, V>(positions);
        }
    } else {
        (void)sum_a, (void)positions;
    }
    const plane_ops<Acc> ops;
    for (std::size_t s = b; s < e; ++s) {
        const Acc* a = RA ? A.row(s) + c0 : nullptr;
        const Acc* g = RG ? G.row(s) + c0 : nullptr;
        for (std::size_t j = 0; j < C; ++j) {
            B av{}, gv{};
            if constexpr (RA) av = load<Acc, V>(a + j * V);
            if constexpr (RG) gv = load<Acc, V>(g + j * V);
            if constexpr (SA) acc[0][j] += av;
            if constexpr (SG) acc[ig][j] += gv;
            if constexpr (SAG) acc[iag][j] += av * gv;
            if constexpr (ST) {
                if constexpr (channel_weight_method<Method> && has_gradient_term<Method>)
                    acc[it][j] += static_cast<B>(Method::gradient_term(ops, st[j], gv));
            }
        }
    }
    for (std::size_t i = 0; i < M; ++i)
        for (std::size_t j = 0; j < C; ++j) {
            Acc* o = out + i * K + c0 + j * V;
            store(o, load<Acc, V>(o) + acc[i][j]);
        }
}

/// chunk_sums over the channels [c, c + n·V) for a run-time n ≤ sum_chunk_packs; returns c + n·V.
template <std::size_t V, class Method, row_sum_set Set, class Acc>
CAMKIT_KERNEL_INLINE std::size_t chunk_sums_of(std::size_t n, sample_rows<Acc> A, sample_rows<Acc> G, const Acc* sum_a,
                                               std::size_t c, std::size_t b, std::size_t e, Acc* out, Acc positions) {
    static_assert(sum_chunk_packs == 4);
    switch (n) {
        case 0: return c;
        case 1: chunk_sums<V, 1, Method, Set>(A, G, sum_a, c, b, e, out, positions); break;
        case 2: chunk_sums<V, 2, Method, Set>(A, G, sum_a, c, b, e, out, positions); break;
        case 3: chunk_sums<V, 3, Method, Set>(A, G, sum_a, c, b, e, out, positions); break;
        default: chunk_sums<V, 4, Method, Set>(A, G, sum_a, c, b, e, out, positions); break;
    }
    return c + n * V;
}

/// Every channel's sums over rows [b, e) added to `out`: chunks of sum_chunk_packs packs of W
/// channels, one chunk of fewer packs, then the last channels (fewer than W) one at a time.
template <std::size_t W, class Method, row_sum_set Set, class Acc>
CAMKIT_KERNEL_INLINE void chunks_sums(sample_rows<Acc> A, sample_rows<Acc> G, const Acc* sum_a, std::size_t b,
                                      std::size_t e, Acc* out, Acc positions) {
    const std::size_t K = A.K;
    constexpr std::size_t chunk = sum_chunk_packs * W;
    std::size_t c = 0;
    for (; c + chunk <= K; c += chunk)
        chunk_sums<W, sum_chunk_packs, Method, Set>(A, G, sum_a, c, b, e, out, positions);
    c = chunk_sums_of<W, Method, Set>((K - c) / W, A, G, sum_a, c, b, e, out, positions);
    if constexpr (W > 1) {  // fewer than W channels left: one at a time (the rows are in L1 by now)
        for (; c < K; ++c) chunk_sums<1, 1, Method, Set>(A, G, sum_a, c, b, e, out, positions);
    }
}

/// Rows longer than this (bytes) are walked a few at a time by the chunks of channels (rows_sums_in).
inline constexpr std::size_t long_row_bytes = 1024;
/// Rows of all arrays read that each chunk of channels walks at a time where rows are long.
inline constexpr std::size_t few_rows = 16;

/// Adds the per-channel sums `Set` of rows [s0, s1) into `totals` (sum j of channel k at
/// totals[j·K + k]): blocks of row_block rows, each summed in Acc into `blk` (count · K values),
/// then added in double. Where a row holds more than one chunk of channels, each chunk walks the
/// block's rows after the previous one, a step of a row's length from one to the next: rows longer
/// than long_row_bytes (the cls shape's 2048 channels: 8 KiB) put every step on another page, where
/// the prefetchers do not follow, so such blocks are walked a few rows at a time (few_rows over the
/// arrays read: each row a stream that a chunk continues where the previous one stopped).
template <std::size_t W, class Method, row_sum_set Set, class Acc>
CAMKIT_KERNEL_INLINE_CLANG
void rows_sums_in(sample_rows<Acc> A, sample_rows<Acc> G, const Acc* sum_a, std::size_t s0, std::size_t s1,
                  double* totals, Acc* blk, Acc positions) {
    constexpr std::size_t M = Set.count();
    constexpr std::size_t arrays = std::size_t{Set.reads_a()} + Set.reads_g();
    const std::size_t K = A.K;
    const std::size_t few = K <= sum_chunk_packs * W || K * sizeof(Acc) <= long_row_bytes ? row_block : few_rows / arrays;
    for (std::size_t b = s0; b < s1; b += row_block) {
        const std::size_t e = std::min(s1, b + row_block);
        std::fill(blk, blk + M * K, Acc(0));
        for (std::size_t f = b; f < e; f += few)
            chunks_sums<W, Method, Set>(A, G, sum_a, f, std::min(e, f + few), blk, positions);
        for (std::size_t i = 0; i < M * K; ++i) totals[i] += static_cast<double>(blk[i]);
    }
}

/// The per-channel sums `Set` of rows [s0, s1) of sample rows A and G (both of A.K channels; the
/// data of an array the set does not read may be null) into `totals` (zeroed here; Set.count() · K
/// doubles, in the order a, g, ag, term), compiled per instruction set.
template <class Method, row_sum_set Set, class Acc>
void rows_sums(sample_rows<Acc> A, sample_rows<Acc> G, const Acc* sum_a, std::size_t s0, std::size_t s1,
               double* totals, std::size_t S) {
    const std::size_t K = A.K;
    std::fill(totals, totals + Set.count() * K, 0.0);
    std::vector<Acc> blk(Set.count() * K);
    dispatch([&](auto bytes) {
        rows_sums_in<lanes_in<Acc, bytes()>, Method, Set>(A, G, sum_a, s0, s1, totals, blk.data(), static_cast<Acc>(S));
    });
}

/// raw[s] = Σ_k w[k] · row(s)[k] for rows [s0, s1), in packs of W channels (four accumulators).
template <std::size_t W, class Acc>
CAMKIT_KERNEL_INLINE_CLANG void rows_dot_in(sample_rows<Acc> A, const Acc* w, std::size_t s0, std::size_t s1, Acc* raw) {
    using B = pack_t<Acc, W>;
    const std::size_t K = A.K;
    for (std::size_t s = s0; s < s1; ++s) {
        const Acc* a = A.row(s);
        B acc[4] = {};
        std::size_t c = 0;
        for (; c + 4 * W <= K; c += 4 * W)
            for (std::size_t j = 0; j < 4; ++j) acc[j] += load<Acc, W>(w + c + j * W) * load<Acc, W>(a + c + j * W);
        for (; c + W <= K; c += W) acc[0] += load<Acc, W>(w + c) * load<Acc, W>(a + c);
        Acc r = lane_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
        for (; c < K; ++c) r += w[c] * a[c];
        raw[s] = r;
    }
}

/// raw[s] = Σ_k contribution(row_A(s)[k], row_G(s)[k]) for rows [s0, s1), in packs of W channels;
/// with Check, returns Σ a·g over them (the finite check of fused_elementwise), else 0.
template <std::size_t W, class Method, bool Check, class Acc>
CAMKIT_KERNEL_INLINE_CLANG
Acc rows_contributions_in(sample_rows<Acc> A, sample_rows<Acc> G, std::size_t s0, std::size_t s1, Acc* raw) {
    using B = pack_t<Acc, W>;
    const plane_ops<Acc> ops;
    const std::size_t K = A.K;
    B check{};
    Acc check_tail = 0;
    for (std::size_t s = s0; s < s1; ++s) {
        const Acc *a = A.row(s), *g = G.row(s);
        B acc[2] = {};
        std::size_t c = 0;
        for (; c + 2 * W <= K; c += 2 * W)
            for (std::size_t j = 0; j < 2; ++j) {
                const B av = load<Acc, W>(a + c + j * W), gv = load<Acc, W>(g + c + j * W);
                acc[j] += static_cast<B>(Method::contribution(ops, av, gv));
                if constexpr (Check) check += av * gv;
            }
        for (; c + W <= K; c += W) {
            const B av = load<Acc, W>(a + c), gv = load<Acc, W>(g + c);
            acc[0] += static_cast<B>(Method::contribution(ops, av, gv));
            if constexpr (Check) check += av * gv;
        }
        Acc r = lane_sum(acc[0] + acc[1]);
        for (; c < K; ++c) {
            r += static_cast<Acc>(Method::contribution(ops, a[c], g[c]));
            if constexpr (Check) check_tail += a[c] * g[c];
        }
        raw[s] = r;
    }
    return Check ? lane_sum(check) + check_tail : Acc(0);
}

/// Throws for the first NaN or Inf of samples 0..n (locate_non_finite, channel by channel, the
/// plane kernels' message); returns when those planes are finite.
template <class Acc>
void locate_non_finite_upto(const host_view<const Acc>& A, const host_view<const Acc>* G, std::size_t n,
                            std::size_t gradient_label = own_sample) {
    const std::size_t K = A.shape[1];
    for (std::size_t i = 0; i <= n; ++i) locate_non_finite<Acc>(A, G, i, 0, K, gradient_label);
}

/// explain_many's targets for position_major_weights: A holds one sample, shared by every sample of
/// G (target n is G's sample n, and errors name it so), with its Σ a of every channel (K values)
/// where the method takes Σ a alone from A (shares_sum_a; else null).
template <class Acc>
struct shared_sample {
    const Acc* sum_a = nullptr;
};

/// Runs the sums `Set` over the rows of every item of `split` (`rows(i)`: the sample rows of A and
/// G of sample i, `sum_a(i)`: its Σ a for the gradient term), adds each sample's ranges in order,
/// and hands them to `take(i, sums)` (sum j of channel k at sums[j·K + k]).
template <class Method, row_sum_set Set, class Rows, class SumA, class Take>
void walk_rows(const position_split& split, std::size_t K, unsigned threads, Rows&& rows, SumA&& sum_a, Take&& take) {
    constexpr std::size_t M = Set.count();
    std::vector<double> part(split.items() * M * K);
    parallel_for(split.items(), threads, [&](std::size_t item) {
        const std::size_t i = split.sample(item);
        const auto [a, g] = rows(i);
        rows_sums<Method, Set>(a, g, sum_a(i), split.begin(item), split.end(item), part.data() + item * M * K, split.S);
    });
    for (std::size_t i = 0; i < split.N; ++i) {
        double* sums = part.data() + i * split.ranges * M * K;
        for (std::size_t r = 1; r < split.ranges; ++r) {
            const double* more = sums + r * M * K;
            for (std::size_t x = 0; x < M * K; ++x) sums[x] += more[x];
        }
        take(i, static_cast<const double*>(sums));
    }
}

/// The channel weights of samples [n0, n1) for channels-last A and G into weights[n·K + k], each
/// sample's positions in split.ranges ranges over `threads` threads (items: range r of sample n):
/// the declared statistics of every channel in one walk over the rows (first_walk; the gradient
/// term in a second walk over G, after Σ a), then the weights. With Check, the sums read are the
/// finite checks: a NaN or Inf throws the plane kernels' error. With `shared`, A is explain_many's
/// one sample for the targets in G (shared_sample; its Σ a not summed again).
template <class Method, bool Check, class Acc>
void position_major_weights(const host_view<const Acc>& A, const host_view<const Acc>* G, Acc* weights,
                            unsigned threads, std::size_t n0, const position_split& split,
                            const shared_sample<Acc>* shared = nullptr) {
    constexpr row_sum_set own = first_walk<Method>(Check), known_a = first_walk<Method>(Check, true),
                          second = second_walk<Method>(Check);
    const std::size_t K = A.shape[1], S = split.S, N = split.N;
    const bool given_a = shared && shared->sum_a;
    // The statistics of sample n0 + i, channel k at [i·K + k], one array each (the loops over
    // channels below vectorize).
    std::vector<Acc> sum_a(N * K), sum_g(N * K), sum_ag(N * K), sum_term(N * K);
    if (given_a)
        for (std::size_t i = 0; i < N; ++i) std::copy_n(shared->sum_a, K, sum_a.data() + i * K);
    // Throws for the first NaN or Inf of sample n0 + i (for a target: of A and its gradients).
    const auto locate = [&](std::size_t i) {
        const std::size_t n = n0 + i;
        if (!shared) return locate_non_finite_upto<Acc>(A, G, n);
        const host_view<const Acc> g = target_slice(*G, n);
        locate_non_finite<Acc>(A, &g, 0, 0, K, n);
    };
    // The rows a walk of `set` reads of sample i.
    const auto rows = [&](auto set) {
        return [&](std::size_t i) {
            constexpr row_sum_set Set = decltype(set)::value;
            const sample_rows<Acc> none{nullptr, K};
            return std::pair{Set.reads_a() ? rows_of(A, shared ? 0 : n0 + i) : none,
                             Set.reads_g() ? rows_of(*G, n0 + i) : none};
        };
    };
    const auto sum_a_of = [&](std::size_t i) { return static_cast<const Acc*>(sum_a.data() + i * K); };
    // Sums j of sample i into `to` in Acc; false where one is NaN or Inf.
    auto into = [&](std::vector<Acc>& to, std::size_t i, const double* sums, std::size_t j) {
        Acc* d = to.data() + i * K;
        const double* q = sums + j * K;
        for (std::size_t k = 0; k < K; ++k) d[k] = static_cast<Acc>(q[k]);
        return !Check || finite_map(d, K);
    };
    // The first walk (Σ a known: without it, and its finite check instead).
    const auto first = [&](auto set) {
        constexpr row_sum_set Set = decltype(set)::value;
        const bool a_finite = !Check || !given_a || finite_map(shared->sum_a, K);
        if constexpr (Set.count() == 0) {  // none: a method that needs no sum of this walk, unchecked
            if (!a_finite) locate(0);
        } else {
            walk_rows<Method, Set>(split, K, threads, rows(set), sum_a_of, [&](std::size_t i, const double* sums) {
                std::size_t j = 0;
                bool finite = a_finite;
                if (Set.a) finite &= into(sum_a, i, sums, j++);
                if (Set.g) finite &= into(sum_g, i, sums, j++);
                if (Set.ag) finite &= into(sum_ag, i, sums, j++);
                if (!finite && Check) locate(i);
            });
        }
    };
    if (given_a) first(std::integral_constant<row_sum_set, known_a>{});
    else first(std::integral_constant<row_sum_set, own>{});
    if constexpr (second.term) {
        constexpr auto set = std::integral_constant<row_sum_set, second>{};
        walk_rows<Method, second>(split, K, threads, rows(set), sum_a_of, [&](std::size_t i, const double* sums) {
            bool finite = into(sum_term, i, sums, second.g ? 1 : 0);
            if (second.g) finite &= into(sum_g, i, sums, 0);  // the check only
            if (!finite && Check) locate(i);
        });
    }
    for (std::size_t i = 0; i < N; ++i) {
        Acc* w = weights + (n0 + i) * K;
        for (std::size_t k = 0; k < K; ++k) {
            plane_statistics<Acc> x;
            x.sum_a = sum_a[i * K + k], x.sum_g = sum_g[i * K + k], x.sum_ag = sum_ag[i * K + k];
            x.sum_term = sum_term[i * K + k], x.positions = static_cast<Acc>(S);
            w[k] = static_cast<Acc>(Method::channel_weight(x));
        }
        if (Check && !finite_map(w, K)) locate(i);
    }
}

/// Σ a of every channel of channels-last A's one sample into sum_a (K values), its positions split
/// as `split` over `threads` threads (the sums position_major_weights' first walk takes for it on
/// that split). Unchecked: position_major_weights checks them.
template <class Method, class Acc>
void position_major_sum_a(const host_view<const Acc>& A, Acc* sum_a, unsigned threads, const position_split& split) {
    const std::size_t K = A.shape[1];
    constexpr row_sum_set set{true, false, false, false};
    walk_rows<Method, set>(split, K, threads,
                           [&](std::size_t) { return std::pair{rows_of(A, 0), sample_rows<Acc>{nullptr, K}}; },
                           [](std::size_t) { return static_cast<const Acc*>(nullptr); },
                           [&](std::size_t, const double* sums) {
                               for (std::size_t k = 0; k < K; ++k) sum_a[k] = static_cast<Acc>(sums[k]);
                           });
}

/// explain_many's weights W[t, k] for channels-last A (one sample of S positions) and G (a target a sample):
/// position_major_weights with A shared (its Σ a summed once where the method shares it), each
/// target's positions split over the threads as explain splits one sample's, or the targets side by
/// side, one a thread, where the positions make fewer ranges than threads: either way each
/// target's weights are explain's on its gradients (with the threads, or one) to the bit.
template <class Method, class Acc>
void position_major_many_weights(const host_view<const Acc>& A, const host_view<const Acc>& G, std::size_t S, Acc* W,
                                 unsigned threads, bool check_finite) {
    const std::size_t K = A.shape[1], Tn = G.shape[0];
    const position_split one = split_positions(1, S, threads);
    const bool side_by_side = one.ranges < threads && Tn > 1;
    const position_split split = side_by_side ? position_split{1, S, 1} : one;
    std::vector<Acc> sum_a;
    if constexpr (shares_sum_a<Method>) {
        sum_a.resize(K);
        position_major_sum_a<Method>(A, sum_a.data(), threads, split);
    }
    const shared_sample<Acc> shared{sum_a.empty() ? nullptr : sum_a.data()};
    const auto target = [&](std::size_t t, unsigned th) {
        if (check_finite) position_major_weights<Method, true>(A, &G, W, th, t, split, &shared);
        else position_major_weights<Method, false>(A, &G, W, th, t, split, &shared);
    };
    if (side_by_side) parallel_for(Tn, threads, [&](std::size_t t) { target(t, 1); });
    else for (std::size_t t = 0; t < Tn; ++t) target(t, threads);
}

/// Most planes in memory that blocked_product reads side by side, a block of positions from each: every
/// plane is a stream and a page of its own. One thread, [1, K, 128, 128], 8 or 21 targets (Intel Xeon
/// VM, 2026-12-07): 64 planes 1.3–1.46× faster than loop_product's groups of four whole planes; 256
/// planes between 0.52× and 1.3× from run to run of the same binary (a block touches 256 pages).
/// More planes go through the groups. (Copying each block of more planes side by side before the
/// sweeps, measured 2026-12-07 on an AMD EPYC VM: 1.3× faster for 21 targets of [1, 128, 64, 64],
/// 0.9× for 21 of [1, 256, 128, 128] and 0.5× for 1000 of [1, 256, 14, 14]: not kept.)
inline constexpr std::size_t blocked_product_max_planes = 64;

/// Packs of positions a sweep of blocked_product's targets (8 with 64-byte packs: two targets' 16
/// accumulators and the loads within AVX-512's 32 registers; else 4).
template <class Acc, std::size_t V>
inline constexpr std::size_t product_sweep_packs = V * sizeof(Acc) >= 64 ? 8 : 4;

/// Positions a block of blocked_product (of channels-last rows: made planes a block at a time).
template <class Acc>
std::size_t product_block(std::size_t K) {
    return K * sizeof(Acc) <= 1024 ? 128 : 64;  // the K × block planes within L1 up to 256 channels of float
}

/// Bytes that more planes may span for blocked_product to read them in place all the same: a block
/// touches at most a thousand pages (a classifier's 7 × 7 layer of 2048 channels spans 392 KiB, a
/// 28 × 28 one of 512 channels 1.5 MiB).
inline constexpr std::size_t blocked_product_max_span = std::size_t{4} << 20;

/// Whether blocked_product reads A's planes in place: dense planes in the accumulation type, up
/// to blocked_product_max_planes of them or more within blocked_product_max_span bytes. One
/// thread (AMD EPYC VM, 2026-12-07), against loop_product's groups: 1000 targets of 2048 and 512
/// planes of 7 × 7 4.1–4.8× faster, of 256 planes of 14 × 14 1.8×, of 28 × 28 1.7×; 100 targets of
/// 512 planes of 28 × 28 3.2×, of 2048 of 14 × 14 1.3×; 21 targets of 1024 planes of 32 × 32 2.0×.
template <class Acc, class E>
bool blocked_product_in_place(const host_view<const E>& A) {
    if (!std::is_same_v<Acc, E> || A.shape.size() < 2 || !A.contiguous_from(2)) return false;
    const std::size_t K = A.shape[1];
    const auto stride = static_cast<std::size_t>(A.strides[1] < 0 ? -A.strides[1] : A.strides[1]);
    return K <= blocked_product_max_planes || K * stride * sizeof(Acc) <= blocked_product_max_span;
}

/// Targets [t, t + R) of targets_from_planes: C packs of positions a sweep over the channels, each
/// pack of the planes loaded once for the R targets; whole sweeps only (targets_rest does the rest).
template <std::size_t V, std::size_t R, class Acc>
CAMKIT_KERNEL_INLINE void some_targets_from_planes(const Acc* W, std::size_t t, std::size_t K, const Acc* planes,
                                                   std::ptrdiff_t ld, std::size_t len, Acc* raw, std::size_t S) {
    using B = pack_t<Acc, V>;
    constexpr std::size_t C = product_sweep_packs<Acc, V>;  // R·C accumulators within the registers
    for (std::size_t i = 0; i + C * V <= len; i += C * V) {
        B acc[R][C] = {};
        for (std::size_t k = 0; k < K; ++k) {
            Acc w[R];  // a scalar times a pack: one multiply-add with a broadcast operand
            for (std::size_t r = 0; r < R; ++r) w[r] = W[(t + r) * K + k];
            const Acc* p = planes + static_cast<std::ptrdiff_t>(k) * ld + static_cast<std::ptrdiff_t>(i);
            for (std::size_t j = 0; j < C; ++j) {
                const B x = load<Acc, V>(p + j * V);
                for (std::size_t r = 0; r < R; ++r) acc[r][j] += w[r] * x;
            }
        }
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t j = 0; j < C; ++j) store(raw + (t + r) * S + i + j * V, acc[r][j]);
    }
}

/// Targets [t, t + R) at the P packs of positions that start at at[0..P) (packs may overlap: a value
/// made twice is the same additions, so the same value), each pack of the planes loaded once for
/// the R targets.
template <std::size_t V, std::size_t R, std::size_t P, class Acc>
CAMKIT_KERNEL_INLINE void target_tile(const Acc* W, std::size_t t, std::size_t K, const Acc* planes, std::ptrdiff_t ld,
                                      const std::size_t (&at)[P], Acc* raw, std::size_t S) {
    using B = pack_t<Acc, V>;
    B acc[R][P] = {};
    for (std::size_t k = 0; k < K; ++k) {
        Acc w[R];
        for (std::size_t r = 0; r < R; ++r) w[r] = W[(t + r) * K + k];
        const Acc* p = planes + static_cast<std::ptrdiff_t>(k) * ld;
        for (std::size_t j = 0; j < P; ++j) {
            const B x = load<Acc, V>(p + at[j]);
            for (std::size_t r = 0; r < R; ++r) acc[r][j] += w[r] * x;
        }
    }
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t j = 0; j < P; ++j) store(raw + (t + r) * S + at[j], acc[r][j]);
}

/// Positions [i, len) of every target, after the whole sweeps: tiles of up to four packs, the last
/// ending at len (over positions made already where len − i is no whole number of packs), as many
/// targets a tile as the registers hold (a 7 × 7 map is four packs of 16 floats, eight targets a tile
/// of two...); fewer positions than a pack, one value at a time.
template <std::size_t V, class Acc>
CAMKIT_KERNEL_INLINE void targets_rest(const Acc* W, std::size_t Tn, std::size_t K, const Acc* planes, std::ptrdiff_t ld,
                                       std::size_t i, std::size_t len, Acc* raw, std::size_t S) {
    if (i >= len) return;
    if (len < V) {
        for (std::size_t t = 0; t < Tn; ++t)
            for (std::size_t s = i; s < len; ++s) {
                Acc acc = 0;
                const Acc* p = planes + s;
                for (std::size_t k = 0; k < K; ++k, p += ld) acc += W[t * K + k] * *p;
                raw[t * S + s] = acc;
            }
        return;
    }
    constexpr std::size_t regs = V * sizeof(Acc) >= 64 ? 24 : 12;  // accumulators beside the loads
    const auto tiles = [&](auto packs) CAMKIT_LAMBDA_INLINE {
        constexpr std::size_t P = decltype(packs)::value, R = std::min<std::size_t>(8, regs / P);
        std::size_t at[P];
        for (std::size_t j = 0; j < P; ++j) at[j] = std::min(i + j * V, len - V);
        std::size_t t = 0;
        for (; t + R <= Tn; t += R) target_tile<V, R, P>(W, t, K, planes, ld, at, raw, S);
        for (; t < Tn; ++t) target_tile<V, 1, P>(W, t, K, planes, ld, at, raw, S);
        i += P * V;
    };
    while (len - i > 4 * V) tiles(std::integral_constant<std::size_t, 4>{});
    switch ((len - i + V - 1) / V) {
        case 1: tiles(std::integral_constant<std::size_t, 1>{}); break;
        case 2: tiles(std::integral_constant<std::size_t, 2>{}); break;
        case 3: tiles(std::integral_constant<std::size_t, 3>{}); break;
        default: tiles(std::integral_constant<std::size_t, 4>{}); break;
    }
}

/// raw[t, s] = Σ_k W[t, k] · planes[k·ld + s] for targets [0, Tn) and positions s < len, in packs of
/// V, each accumulated over k in order from zero: loop_product's additions (plane by plane, into maps
/// that start at zero), so its values to the bit. Two targets a sweep with AVX-512's 32 registers.
/// The weights are scalars times packs: GCC 12 makes those one multiply-add with a broadcast operand,
/// where a pack filled from a scalar (broadcast) took a load, a permute and an insert or, for floats
/// in AVX-512, masked broadcasts lane by lane; weights made packs beforehand were T × K packs,
/// 16 times W (32 MiB for 1000 targets of 512 channels).
template <std::size_t V, class Acc>
CAMKIT_KERNEL_INLINE void targets_from_planes(const Acc* W, std::size_t Tn, std::size_t K, const Acc* planes,
                                              std::ptrdiff_t ld, std::size_t len, Acc* raw, std::size_t S) {
    constexpr std::size_t R = V * sizeof(Acc) >= 64 ? 2 : 1, C = product_sweep_packs<Acc, V>;
    std::size_t t = 0;
    for (; t + R <= Tn; t += R) some_targets_from_planes<V, R>(W, t, K, planes, ld, len, raw, S);
    for (; t < Tn; ++t) some_targets_from_planes<V, 1>(W, t, K, planes, ld, len, raw, S);
    targets_rest<V>(W, Tn, K, planes, ld, len / (C * V) * (C * V), len, raw, S);
}

/// raw[t, s] = Σ_k W[t, k] · A[0, k, s], positions split over `threads` in blocks (product_block):
/// the planes themselves where they are the memory (A.contiguous_from(2)), else channels-last rows
/// made planes a block at a time; each target's values of a block summed over the channels in order
/// in registers (targets_from_planes: loop_product's additions over whole planes, so its maps to the
/// bit), written once (benchmarks/README.md, 2026-12-07 "explain_many on channels-last memory").
template <class Acc>
void blocked_product(const Acc* W, std::size_t Tn, std::size_t K, const host_view<const Acc>& A, std::size_t S,
                     Acc* raw, unsigned threads) {
    const std::size_t block = product_block<Acc>(K), blocks = (S + block - 1) / block;
    const unsigned parts = static_cast<unsigned>(std::min<std::size_t>(threads, blocks));
    const bool in_place = A.contiguous_from(2);
    const std::ptrdiff_t ld = in_place ? (K > 1 ? A.strides[1] : 0) : static_cast<std::ptrdiff_t>(block);
    const sample_rows<Acc> rows = rows_of(A, 0);
    parallel_for(parts, parts, [&](std::size_t part) {
        std::vector<Acc> planes(in_place ? 0 : K * block);
        // The widest packs even for small planes (AVX-512's, where dispatch_plane takes AVX2's below
        // 384 floats): targets_rest's tiles lose little to a plane's tail. The same values either way
        // (a multiply-add per channel in order, in both instruction sets).
        dispatch([&](auto bytes) {
            constexpr std::size_t V = lanes_in<Acc, bytes()>;
            for (std::size_t b = blocks * part / parts; b < blocks * (part + 1) / parts; ++b) {
                const std::size_t s0 = b * block, len = std::min(S, s0 + block) - s0;
                if (!in_place) {
                    std::size_t s = 0;
                    for (; s + 4 <= len; s += 4) {  // four rows a sweep, in 4 × 4 tiles
                        const Acc* at[4];
                        for (std::size_t q = 0; q < 4; ++q) at[q] = rows.row(s0 + s + q);
                        std::size_t k = 0;
                        for (; k + 4 <= K; k += 4) transpose4<Acc>(at, k, planes.data() + k * block + s, block);
                        for (; k < K; ++k)
                            for (std::size_t q = 0; q < 4; ++q) planes[k * block + s + q] = at[q][k];
                    }
                    for (; s < len; ++s) {
                        const Acc* r = rows.row(s0 + s);
                        for (std::size_t k = 0; k < K; ++k) planes[k * block + s] = r[k];
                    }
                }
                const Acc* p = in_place ? A.data + s0 : planes.data();
                targets_from_planes<V>(W, Tn, K, p, ld, len, raw + s0, S);
            }
        });
    });
}

/// The channel weights (position_major_weights; `Method` void: given) and maps of samples [n0, n1)
/// for channels-last A and G, each sample's positions in `ranges` ranges over `threads` threads:
/// a map value is a dot product per position.
template <class Method, class Acc>
void position_major_samples(const host_view<const Acc>& A, const host_view<const Acc>* G, Acc* raw, Acc* weights,
                            unsigned threads, bool check_finite, std::size_t n0, std::size_t n1, std::size_t ranges) {
    const cam_dims dims = dims_of(A.shape);
    const std::size_t K = dims.K, S = dims.S;
    const position_split split{n1 - n0, S, ranges};  // items of samples n0 + 0 .. n1 − 1
    if constexpr (!std::is_void_v<Method>) {
        if (check_finite) position_major_weights<Method, true>(A, G, weights, threads, n0, split);
        else position_major_weights<Method, false>(A, G, weights, threads, n0, split);
    }
    parallel_for(split.items(), threads, [&](std::size_t item) {
        const std::size_t n = n0 + split.sample(item), s0 = split.begin(item), s1 = split.end(item);
        Acc* out = raw + n * S;
        dispatch([&](auto bytes) { rows_dot_in<lanes_in<Acc, bytes()>>(rows_of(A, n), weights + n * K, s0, s1, out); });
        if (check_finite && !finite_map(out + s0, s1 - s0)) {
            locate_non_finite_upto<Acc>(A, G, n);
            throw_non_finite_map(n);  // finite inputs: an overflow, or a weight that divided by 0
        }
    });
}

/// fused_channel_weights for channels-last A and G (reads_position_major), with the same finite
/// checks and errors as the plane kernels. With samples enough for the threads, each sample is one
/// thread's from its first walk to its map (its rows still in cache for the map where they fit:
/// a [2048, 7, 7] sample's A and G are 784 KiB; and its buffers a few kilobytes); otherwise every
/// sample's positions are split into ranges over the threads (split_positions).
template <class Method, class Acc>
void position_major_channel_weights(const host_view<const Acc>& A, const host_view<const Acc>* G, Acc* raw,
                                    Acc* weights, unsigned threads, bool check_finite) {
    const cam_dims dims = dims_of(A.shape);
    const position_split split = split_positions(dims.N, dims.S, threads);
    if (split.ranges > 1 || dims.N == 1) {
        position_major_samples<Method, Acc>(A, G, raw, weights, threads, check_finite, 0, dims.N, split.ranges);
        return;
    }
    parallel_for(dims.N, threads, [&](std::size_t n) {
        position_major_samples<Method, Acc>(A, G, raw, weights, 1, check_finite, n, n + 1, 1);
    });
}

/// fused_elementwise for channels-last A and G (reads_position_major): one walk over the rows, a
/// sum of contributions per position, with Σ a·g as the finite check.
template <class Method, class Acc>
void position_major_elementwise(const host_view<const Acc>& A, const host_view<const Acc>& G, Acc* raw,
                                unsigned threads, bool check_finite, std::size_t gradient_label) {
    const cam_dims dims = dims_of(A.shape);
    const std::size_t N = dims.N, S = dims.S;
    const position_split split = split_positions(N, S, threads);
    parallel_for(split.items(), threads, [&](std::size_t item) {
        const std::size_t n = split.sample(item), s0 = split.begin(item), s1 = split.end(item);
        Acc* out = raw + n * S;
        const Acc check = dispatch([&](auto bytes) {
            constexpr std::size_t W = lanes_in<Acc, bytes()>;
            return check_finite ? rows_contributions_in<W, Method, true>(rows_of(A, n), rows_of(G, n), s0, s1, out)
                                : rows_contributions_in<W, Method, false>(rows_of(A, n), rows_of(G, n), s0, s1, out);
        });
        if (check_finite && !std::isfinite(check)) {
            locate_non_finite_upto<Acc>(A, &G, n, gradient_label);
            // Finite inputs whose Σ a·g overflowed: an error only where the contributions did too.
            if (!finite_map(out + s0, s1 - s0)) throw_non_finite_map(gradient_label == own_sample ? n : gradient_label);
        }
    });
}

}  // namespace camkit::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
