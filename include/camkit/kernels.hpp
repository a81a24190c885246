#pragma once
// Fused host kernels. Each (sample, channel) plane of A and G is read from memory once: its
// statistics are computed and its contribution folded into the output while it is in cache.
// Work is split over samples and channel blocks; partial maps are added in a fixed order, so a
// result depends on the thread count only through float rounding.
#include <camkit/method.hpp>
#include <camkit/reductions.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace camkit::detail {

/// Gives the (n, k) plane of an [N, K, *S] view as dense Acc values: the memory itself when it
/// already is, otherwise a gather (strided views, half precision) into a scratch buffer.
template <class Acc, class E>
class plane_reader {
public:
    explicit plane_reader(const host_view<const E>& v)
        : v_(v), spatial_(element_count(shape_t(v.shape.begin() + 2, v.shape.end()))),
          direct_(std::is_same_v<E, Acc> && v.contiguous_from(2)) {
        if (!direct_) scratch_.resize(spatial_);
    }

    plane<Acc> get(std::size_t n, std::size_t k) {
        const E* base = v_.data + static_cast<std::ptrdiff_t>(n) * v_.strides[0] +
                        static_cast<std::ptrdiff_t>(k) * v_.strides[1];
        if constexpr (std::is_same_v<E, Acc>) {
            if (direct_) return {base, spatial_};
        }
        gather(base);
        return {scratch_.data(), spatial_};
    }

private:
    void gather(const E* base) {
        // Up to three spatial axes, padded to three with extent 1.
        std::size_t ext[3] = {1, 1, 1};
        std::ptrdiff_t str[3] = {0, 0, 0};
        const std::size_t r = v_.shape.size() - 2;
        for (std::size_t i = 0; i < r; ++i) {
            ext[3 - r + i] = v_.shape[2 + i];
            str[3 - r + i] = v_.strides[2 + i];
        }
        Acc* out = scratch_.data();
        for (std::size_t i = 0; i < ext[0]; ++i)
            for (std::size_t j = 0; j < ext[1]; ++j) {
                const E* row = base + static_cast<std::ptrdiff_t>(i) * str[0] + static_cast<std::ptrdiff_t>(j) * str[1];
                for (std::size_t l = 0; l < ext[2]; ++l)
                    *out++ = static_cast<Acc>(row[static_cast<std::ptrdiff_t>(l) * str[2]]);
            }
    }

    host_view<const E> v_;
    std::size_t spatial_;
    bool direct_;
    std::vector<Acc> scratch_;
};

/// Threads to use: `requested` if positive, else as many cores as there is work for (≥ 256 Ki elements each).
inline unsigned resolve_threads(int requested, std::size_t elements) {
    if (requested > 0) return static_cast<unsigned>(requested);
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t by_work = std::max<std::size_t>(1, elements / (std::size_t{1} << 18));
    return static_cast<unsigned>(std::min<std::size_t>(hw, by_work));
}

/// Runs `chunk(n, k0, k1, out)` over channel blocks of every sample on `threads` threads; `out`
/// points at `spatial` accumulators for sample n (zeroed). Partial maps of one sample are summed
/// into `raw` in block order. The first exception thrown by a chunk is rethrown here.
template <class Acc, class Chunk>
void for_channel_blocks(std::size_t N, std::size_t K, std::size_t spatial, unsigned threads, Acc* raw,
                        Chunk&& chunk) {
    const std::size_t blocks = std::min<std::size_t>(K, threads > N ? (threads + N - 1) / N : 1);
    const std::size_t items = N * blocks;
    std::vector<Acc> partial(blocks > 1 ? items * spatial : 0, Acc(0));
    std::fill(raw, raw + N * spatial, Acc(0));
    auto run_item = [&](std::size_t item) {
        const std::size_t n = item / blocks, b = item % blocks;
        const std::size_t k0 = K * b / blocks, k1 = K * (b + 1) / blocks;
        Acc* out = blocks > 1 ? partial.data() + item * spatial : raw + n * spatial;
        chunk(n, k0, k1, out);
    };
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, items));
    if (workers <= 1) {
        for (std::size_t i = 0; i < items; ++i) run_item(i);
    } else {
        std::atomic<std::size_t> next{0};
        std::exception_ptr failure;
        std::mutex failure_mutex;
        auto work = [&] {
            try {
                for (std::size_t i; (i = next.fetch_add(1)) < items;) run_item(i);
            } catch (...) {
                std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
                next = items;
            }
        };
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < workers; ++t) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();
        if (failure) std::rethrow_exception(failure);
    }
    if (blocks > 1)
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t b = 0; b < blocks; ++b) {
                const Acc* p = partial.data() + (n * blocks + b) * spatial;
                Acc* o = raw + n * spatial;
                for (std::size_t s = 0; s < spatial; ++s) o[s] += p[s];
            }
}

inline void throw_non_finite(const char* which, std::size_t n, std::size_t k) {
    throw error(std::string("camkit: ") + which + " contain NaN or Inf (sample " + std::to_string(n) +
                ", channel " + std::to_string(k) + ")");
}

/// Shape facts of an [N, K, *S] pair.
struct cam_dims {
    std::size_t N, K, S;
};

inline cam_dims dims_of(const shape_t& shape) {
    return {shape[0], shape[1], element_count(shape_t(shape.begin() + 2, shape.end()))};
}

/// Plane ops that also note, in the same pass, whether each plane they reduce is all finite, so
/// the kernels need no separate finite-check pass (a sum stays non-finite once it meets NaN or
/// Inf; a finite sum that overflows only triggers the exact re-check, never a false error).
template <class Acc>
struct checking_ops : plane_ops<Acc> {
    const Acc* a_data = nullptr;
    const Acc* g_data = nullptr;
    mutable bool saw_a = false, saw_g = false, suspect = false;
    // Σ a and Σ g, known once a two-plane sum has run (its check sums are exactly these), or Σ a
    // given by the kernel from the previous channel's pass.
    mutable std::optional<Acc> sum_a, sum_g;
    // The next channel's activation plane, given by the kernel once the method has asked for Σ a:
    // a one-plane reduction of the gradients then sums it in the same pass (next_sum_a), so the
    // next channel's Σ a needs no pass of its own and its memory traffic overlaps this channel's
    // arithmetic (Grad-CAM++: Σ a, then a division per gradient element). Same order of additions
    // as a pass of its own, so the same value.
    const Acc* next_a = nullptr;
    mutable std::optional<Acc> next_sum_a;
    mutable bool asked_sum_a = false;

    void note(const Acc* p, Acc check) const {
        // Policies take the ops by const reference; the flags are bookkeeping, not state of the math.
        if (p == a_data) saw_a = true;
        if (p == g_data) saw_g = true;
        if (!std::isfinite(check)) suspect = true;
    }
    Acc sum(plane<Acc> x) const {
        if (x.data == a_data) asked_sum_a = true;
        if (x.data == a_data && sum_a) return *sum_a;
        if (x.data == g_data && sum_g) return *sum_g;
        const Acc s = plane_ops<Acc>::sum(x);
        note(x.data, s);  // the sum itself is the check
        return s;
    }
    Acc mean(plane<Acc> x) const { return sum(x) / static_cast<Acc>(x.size); }
    template <class F>
    Acc sum(plane<Acc> x, F f) const {
        if (next_a && x.data == g_data && !next_sum_a) {
            const Acc* na = next_a;
            const auto r = reduce_planes<Acc>(x.size, [&](auto at) {
                const auto v = at(x.data);
                using V = decltype(v);
                return sums<V, 3>{{static_cast<V>(f(v)), v, at(na)}};
            });
            note(x.data, r.v[1]);
            next_sum_a = r.v[2];
            return r.v[0];
        }
        const auto r = reduce_planes<Acc>(x.size, [&](auto at) {
            const auto v = at(x.data);
            using V = decltype(v);
            return sums<V, 2>{{static_cast<V>(f(v)), v}};
        });
        note(x.data, r.v[1]);
        return r.v[0];
    }
    template <class F>
    Acc sum(plane<Acc> a, plane<Acc> g, F f) const {
        // f(a, g), Σ a and Σ g in one pass; the plain sums are the checks and are kept for a later
        // sum(a) or sum(g) of the same planes (XGrad-CAM's Σ a), which then costs no pass.
        const auto r = reduce_planes<Acc>(a.size, [&](auto at) {
            const auto va = at(a.data), vg = at(g.data);
            using V = decltype(va);
            return sums<V, 3>{{static_cast<V>(f(va, vg)), va, vg}};
        });
        const Acc total = r.v[0], sa = r.v[1], sg = r.v[2];
        note(a.data, sa);
        note(g.data, sg);
        if (a.data == a_data) sum_a = sa;
        if (g.data == g_data) sum_g = sg;
        return total;
    }
};

/// Channels folded into the output together: the output is loaded and stored once per group
/// instead of once per channel, which halves (or better) the kernels' memory operations.
inline constexpr std::size_t channel_group = 4;

/// Calls f(std::integral_constant<std::size_t, m>) for a run-time m in [1, channel_group].
template <class F>
void with_group_size(std::size_t m, F&& f) {
    switch (m) {
        case 1: f(std::integral_constant<std::size_t, 1>{}); break;
        case 2: f(std::integral_constant<std::size_t, 2>{}); break;
        case 3: f(std::integral_constant<std::size_t, 3>{}); break;
        default: f(std::integral_constant<std::size_t, 4>{}); break;
    }
}

/// out[s] += Σ_j w[j] · a[j][s] over S positions for M channels (added in channel order).
template <std::size_t M, class Acc>
void add_scaled(Acc* out, const Acc* w, const Acc* const* planes, std::size_t S) {
    constexpr std::size_t W = pack_width<Acc>;
    using B = pack_t<Acc>;
    // Local copies: stores to `out` could otherwise alias the caller's arrays and force reloads.
    const Acc* a[M];
    Acc wl[M];
    B wv[M];
    for (std::size_t j = 0; j < M; ++j) a[j] = planes[j], wl[j] = w[j], wv[j] = broadcast(w[j]);
    std::size_t s = 0;
    for (; s + W <= S; s += W) {
        B o = load(out + s);
        for (std::size_t j = 0; j < M; ++j) o += wv[j] * load(a[j] + s);
        store(out + s, o);
    }
    for (; s < S; ++s)
        for (std::size_t j = 0; j < M; ++j) out[s] += wl[j] * a[j][s];
}

/// out[s] += Σ_j contribution(a[j][s], g[j][s]) over S positions for M channels (added in channel
/// order). With Check, also returns Σ a·g over the planes as a finite check: a·g is NaN or Inf
/// whenever a or g is (Inf·0 is NaN), and a sum stays so; without, returns 0.
template <class Method, bool Check, std::size_t M, class Acc>
Acc add_contributions(Acc* out, const Acc* const* a_planes, const Acc* const* g_planes, std::size_t S) {
    constexpr std::size_t W = pack_width<Acc>;
    using B = pack_t<Acc>;
    const plane_ops<Acc> ops;
    const Acc* a[M];  // local copies, as in add_scaled
    const Acc* g[M];
    for (std::size_t j = 0; j < M; ++j) a[j] = a_planes[j], g[j] = g_planes[j];
    B c[M] = {};
    std::size_t s = 0;
    for (; s + W <= S; s += W) {
        B o = load(out + s);
        for (std::size_t j = 0; j < M; ++j) {
            const B av = load(a[j] + s), gv = load(g[j] + s);
            o += static_cast<B>(Method::contribution(ops, av, gv));
            if constexpr (Check) c[j] += av * gv;
        }
        store(out + s, o);
    }
    Acc check = 0;
    if constexpr (Check)
        for (std::size_t j = 0; j < M; ++j) check += lane_sum<Acc>(c[j]);
    for (; s < S; ++s)
        for (std::size_t j = 0; j < M; ++j) {
            out[s] += static_cast<Acc>(Method::contribution(ops, a[j][s], g[j][s]));
            if constexpr (Check) check += a[j][s] * g[j][s];
        }
    return check;
}

/// Exact finite check of planes k0..k1 of sample n, in order (activations before gradients of a
/// channel); throws for the first non-finite plane, naming gradients' sample `gradient_label` when
/// given (explain_many names its targets). Runs only when a fused check saw NaN or Inf.
template <class Acc, class E>
void locate_non_finite(const host_view<const E>& A, const host_view<const E>* G, std::size_t n, std::size_t k0,
                       std::size_t k1, std::size_t gradient_label = static_cast<std::size_t>(-1)) {
    const plane_ops<Acc> ops;
    plane_reader<Acc, E> ra(A);
    std::optional<plane_reader<Acc, E>> rg;
    if (G) rg.emplace(*G);
    for (std::size_t k = k0; k < k1; ++k) {
        if (!ops.all_finite(ra.get(n, k))) throw_non_finite("activations", n, k);
        if (G && !ops.all_finite(rg->get(n, k)))
            throw_non_finite("gradients", gradient_label == static_cast<std::size_t>(-1) ? n : gradient_label, k);
    }
}

/// True when every accumulator is finite.
template <class Acc>
bool finite_map(const Acc* out, std::size_t S) {
    return plane_ops<Acc>::all_finite(plane<Acc>{out, S});
}

/// Dense planes of channels k..k+m of sample n: one reader per group slot, so gathered planes
/// (strided or half-precision input) of a group do not overwrite each other.
template <class Acc, class E>
struct group_reader {
    std::optional<plane_reader<Acc, E>> slot[channel_group];
    const Acc* data[channel_group] = {};

    explicit group_reader(const host_view<const E>* v) {
        if (v)
            for (auto& r : slot) r.emplace(*v);
    }
    plane<Acc> get(std::size_t j, std::size_t n, std::size_t k) {
        const plane<Acc> p = slot[j]->get(n, k);
        data[j] = p.data;
        return p;
    }
};

/// raw[n,s] = Σ_k w[n,k] A[n,k,s] with w from the method's channel_weight (written to `weights`),
/// or taken from `weights` as given when `Method` is void. Channels go in groups: the weights of
/// a group, then one pass adding the group's weighted planes. The finite check rides on the passes
/// the method makes anyway: on its reductions (checking_ops) and on the accumulated map (a
/// non-finite activation makes w·a, and so the map, non-finite for any finite w).
template <class Method, class Acc, class E>
void fused_channel_weights(const host_view<const E>& A, const host_view<const E>* G, Acc* raw, Acc* weights,
                           int threads, bool check_finite) {
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    for_channel_blocks<Acc>(N, K, S, resolve_threads(threads, 2 * A.size()), raw,
                            [&](std::size_t n, std::size_t k0, std::size_t k1, Acc* out) {
        group_reader<Acc, E> ra(&A), rg(std::is_void_v<Method> ? nullptr : G);
        bool prefetch = false;  // the method asks for Σ a: sum the next plane along with these gradients
        for (std::size_t k = k0; k < k1; k += channel_group) {
            const std::size_t m = std::min(channel_group, k1 - k);
            std::optional<plane<Acc>> next;  // plane j, read ahead while channel j − 1 was reduced
            std::optional<Acc> carried;      // its Σ a, if that reduction computed it
            for (std::size_t j = 0; j < m; ++j) {
                const plane<Acc> a = next ? *next : ra.get(j, n, k + j);
                next.reset();
                if constexpr (!std::is_void_v<Method>) {
                    const plane<Acc> g = rg.get(j, n, k + j);
                    checking_ops<Acc> ops;
                    ops.a_data = a.data;
                    ops.g_data = g.data;
                    if (carried) {
                        ops.sum_a = *carried;
                        if (!std::isfinite(*carried)) ops.suspect = true;
                    }
                    // Within the group only: the next group's planes reuse this group's slots.
                    if (prefetch && j + 1 < m) {
                        next = ra.get(j + 1, n, k + j + 1);
                        ops.next_a = next->data;
                    }
                    const Acc w = static_cast<Acc>(Method::channel_weight(ops, a, g));
                    // A policy that reads the gradients other than through the ops gets the exact check.
                    if (check_finite &&
                        (ops.suspect || !std::isfinite(w) || (!ops.saw_g && !plane_ops<Acc>::all_finite(g))))
                        locate_non_finite<Acc>(A, G, n, k0, k + j + 1);
                    weights[n * K + k + j] = w;
                    prefetch = ops.asked_sum_a;
                    carried = ops.next_sum_a;
                }
            }
            with_group_size(m, [&](auto M) { add_scaled<M()>(out, weights + n * K + k, ra.data, S); });
        }
        if (check_finite && !finite_map(out, S)) locate_non_finite<Acc>(A, G, n, k0, k1);
    });
}

/// raw[n,s] = Σ_k contribution(A[n,k,s], G[n,k,s]), channels in groups that share one pass over
/// the output. The finite check is Σ a·g in the same loop (a contribution such as relu(g)·a can
/// hide a −Inf, so the map is not enough).
template <class Method, class Acc, class E>
void fused_elementwise(const host_view<const E>& A, const host_view<const E>& G, Acc* raw, int threads,
                       bool check_finite, std::size_t gradient_label = static_cast<std::size_t>(-1)) {
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    for_channel_blocks<Acc>(N, K, S, resolve_threads(threads, 2 * A.size()), raw,
                            [&](std::size_t n, std::size_t k0, std::size_t k1, Acc* out) {
        group_reader<Acc, E> ra(&A), rg(&G);
        Acc check = 0;
        for (std::size_t k = k0; k < k1; k += channel_group) {
            const std::size_t m = std::min(channel_group, k1 - k);
            for (std::size_t j = 0; j < m; ++j) {
                ra.get(j, n, k + j);
                rg.get(j, n, k + j);
            }
            with_group_size(m, [&](auto M) {
                if (check_finite)
                    check += add_contributions<Method, true, M()>(out, ra.data, rg.data, S);
                else
                    add_contributions<Method, false, M()>(out, ra.data, rg.data, S);
            });
        }
        if (check_finite && !std::isfinite(check)) locate_non_finite<Acc>(A, &G, n, k0, k1, gradient_label);
    });
}

/// Eigenvector of the largest eigenvalue of a symmetric n×n matrix (row-major), by cyclic Jacobi.
inline std::pair<double, std::vector<double>> top_eigenpair(std::vector<double> m, std::size_t n) {
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
                for (std::size_t r = 0; r < n; ++r) {  // columns p, q
                    const double arp = at(r, p), arq = at(r, q);
                    at(r, p) = c * arp - s * arq;
                    at(r, q) = s * arp + c * arq;
                }
                for (std::size_t r = 0; r < n; ++r) {  // rows p, q
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

/// raw[n] = X v₁ for X[s,k] = projected(A, G) with centred columns; v₁ the first right-singular
/// vector, computed from the Gram matrix on the smaller side. Signed so that max ≥ |min|.
template <class Method, class Acc, class E>
void projection_map(const host_view<const E>& A, const host_view<const E>& G, Acc* raw, int threads,
                    bool check_finite) {
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    const plane_ops<Acc> ops;
    std::vector<Acc> dummy(N * S);
    const unsigned t = std::min<unsigned>(resolve_threads(threads, 2 * A.size()), static_cast<unsigned>(N));
    // One block per sample: the whole sample is needed for the decomposition.
    for_channel_blocks<Acc>(N, 1, S, t, dummy.data(), [&](std::size_t n, std::size_t, std::size_t, Acc*) {
        plane_reader<Acc, E> ra(A), rg(G);
        std::vector<double> X(S * K);  // column-major: channel k at X[k*S .. k*S+S)
        for (std::size_t k = 0; k < K; ++k) {
            const plane<Acc> a = ra.get(n, k), g = rg.get(n, k);
            if (check_finite && !ops.all_finite(a)) throw_non_finite("activations", n, k);
            if (check_finite && !ops.all_finite(g)) throw_non_finite("gradients", n, k);
            double mean = 0;
            for (std::size_t s = 0; s < S; ++s) mean += X[k * S + s] = static_cast<double>(Method::projected(ops, a.data[s], g.data[s]));
            mean /= static_cast<double>(S);
            for (std::size_t s = 0; s < S; ++s) X[k * S + s] -= mean;
        }
        std::vector<double> proj(S, 0.0);
        if (S <= K) {
            std::vector<double> gram(S * S, 0.0);  // X Xᵀ
            for (std::size_t k = 0; k < K; ++k) {
                const double* x = &X[k * S];
                for (std::size_t i = 0; i < S; ++i)
                    for (std::size_t j = i; j < S; ++j) gram[i * S + j] += x[i] * x[j];
            }
            for (std::size_t i = 0; i < S; ++i)
                for (std::size_t j = 0; j < i; ++j) gram[i * S + j] = gram[j * S + i];
            auto [lambda, u] = top_eigenpair(std::move(gram), S);
            const double sigma = std::sqrt(std::max(lambda, 0.0));
            for (std::size_t s = 0; s < S; ++s) proj[s] = sigma * u[s];
        } else {
            std::vector<double> gram(K * K, 0.0);  // Xᵀ X
            for (std::size_t i = 0; i < K; ++i)
                for (std::size_t j = i; j < K; ++j) {
                    double d = 0;
                    for (std::size_t s = 0; s < S; ++s) d += X[i * S + s] * X[j * S + s];
                    gram[i * K + j] = gram[j * K + i] = d;
                }
            auto [lambda, v] = top_eigenpair(std::move(gram), K);
            for (std::size_t k = 0; k < K; ++k)
                for (std::size_t s = 0; s < S; ++s) proj[s] += X[k * S + s] * v[k];
        }
        double hi = -INFINITY, lo = INFINITY;
        for (double p : proj) hi = std::max(hi, p), lo = std::min(lo, p);
        const double sign = hi >= -lo ? 1.0 : -1.0;
        for (std::size_t s = 0; s < S; ++s) raw[n * S + s] = static_cast<Acc>(sign * proj[s]);
    });
}

}  // namespace camkit::detail
