#pragma once
// The vocabulary every method is written in, on host memory. A method policy calls these
// "plane ops" on one (sample, channel) plane at a time, so the fused kernels in kernels.hpp can
// compute a channel's statistics and fold its contribution while the plane is still in cache.
// A device backend supplies the same names on whole [N, K, S] tensors (see concepts.hpp).
#include <camkit/simd.hpp>

#include <cmath>
#include <cstddef>
#include <type_traits>

#if defined(__GNUC__)  // wide packs inside the dispatched kernels: see simd.hpp
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace camkit {

/// One dense plane of a channel: `size` spatial values in accumulation type Acc.
template <class Acc>
struct plane {
    const Acc* data = nullptr;
    std::size_t size = 0;
};

namespace detail {

/// M sums carried together through one pass (a value and its finite checks).
template <class X, std::size_t M>
struct sums {
    X v[M];
};

/// Reads position i of a plane: a pack of W positions from i, or one value.
template <class Acc, std::size_t W>
struct pack_at {
    std::size_t i;
    CAMKIT_KERNEL_INLINE pack_t<Acc, W> operator()(const Acc* p) const { return load<Acc, W>(p + i); }
};
template <class Acc>
struct value_at {
    std::size_t i;
    Acc operator()(const Acc* p) const { return p[i]; }
};

template <class X>
struct sum_count : std::integral_constant<std::size_t, 0> {};
template <class X, std::size_t M>
struct sum_count<sums<X, M>> : std::integral_constant<std::size_t, M> {};

/// Adds v's lanes to r: one sum, or each of M sums.
template <class R, class V>
CAMKIT_KERNEL_INLINE void add_lane_sums(R& r, const V& v) {
    if constexpr (sum_count<V>::value > 0) {
        for (std::size_t m = 0; m < sum_count<V>::value; ++m) r.v[m] += lane_sum(v.v[m]);
    } else {
        r += lane_sum(v);
    }
}

/// The tail of reduce_planes_in from position i: one pack of V values where V fit, then V/2, …,
/// down to 16-byte packs (wide packs would otherwise leave up to 2W − 1 values to single steps:
/// 17 of a 7×7 plane in AVX-512).
template <class Acc, std::size_t V, class Body, class R>
CAMKIT_KERNEL_INLINE void reduce_tail(std::size_t& i, std::size_t n, Body& body, R& r) {
    if constexpr (V > 1 && V * sizeof(Acc) >= 16) {
        if (i + V <= n) {
            add_lane_sums(r, body(pack_at<Acc, V>{i}));
            i += V;
        }
        reduce_tail<Acc, V / 2>(i, n, body, r);
    }
}

/// reduce_planes in packs of W values (W = 1: one value at a time).
template <class Acc, std::size_t W, class Body>
CAMKIT_KERNEL_INLINE auto reduce_planes_in(std::size_t n, Body&& body) {
    using B = pack_t<Acc, W>;
    constexpr std::size_t M = sum_count<decltype(body(pack_at<Acc, W>{0}))>::value;
    auto add = [](auto& s, const auto& v) {
        if constexpr (M > 0) {
            for (std::size_t m = 0; m < M; ++m) s.v[m] += v.v[m];
        } else {
            s += v;
        }
    };
    std::conditional_t<(M > 0), sums<B, M>, B> s0{}, s1{};
    std::size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        add(s0, body(pack_at<Acc, W>{i}));
        add(s1, body(pack_at<Acc, W>{i + W}));
    }
    if (i + W <= n) {
        add(s1, body(pack_at<Acc, W>{i}));
        i += W;
    }
    add(s0, s1);
    std::conditional_t<(M > 0), sums<Acc, M>, Acc> r{};
    add_lane_sums(r, s0);
    reduce_tail<Acc, W / 2>(i, n, body, r);
    for (; i < n; ++i) {
        const auto v = body(value_at<Acc>{i});
        if constexpr (M > 0) {
            for (std::size_t m = 0; m < M; ++m) r.v[m] += static_cast<Acc>(v.v[m]);
        } else {
            r += static_cast<Acc>(v);
        }
    }
    return r;
}

/// Σ_{i<n} body(at_i), where at_i(p) reads position i of a plane p: pack_at for the body of the
/// plane (two independent pack accumulators), value_at for the tail. `body` returns one value,
/// or sums<·, M> for M sums in the same pass (then the result is a sums<Acc, M>). Runs in the
/// packs of the active instruction set for planes of n values (dispatch_plane, simd.hpp).
template <class Acc, class Body>
auto reduce_planes(std::size_t n, Body body) {
    return dispatch_plane<Acc>(n, [&](auto bytes) { return reduce_planes_in<Acc, lanes_in<Acc, bytes()>>(n, body); });
}

}  // namespace detail

/// Reductions over one plane on the host. Scalars are Acc; the same names exist for device ops.
/// Element-wise functions given to `sum` are generic: they are called with packs of Acc
/// (simd.hpp) for the body of a plane and with single Acc values for its tail.
template <class Acc>
struct plane_ops {
    using value_type = Acc;

    /// max(x, 0), keeping NaN so that bad input stays visible.
    static Acc relu(Acc x) { return x < Acc(0) ? Acc(0) : x; }
#if defined(CAMKIT_VECTOR_EXTENSIONS)
    template <class B>
        requires detail::is_pack_v<B>
    static B relu(const B& x) {
        return detail::pack_relu(x);
    }
#endif

    /// Σ_s x[s].
    static Acc sum(plane<Acc> x) {
        return sum(x, [](const auto& v) CAMKIT_LAMBDA_INLINE { return v; });
    }
    /// mean_s x[s].
    static Acc mean(plane<Acc> x) { return sum(x) / static_cast<Acc>(x.size); }
    /// Σ_s f(x[s]).
    template <class F>
    static Acc sum(plane<Acc> x, F f) {
        return detail::reduce_planes<Acc>(x.size, [&](auto at) CAMKIT_LAMBDA_INLINE { return f(at(x.data)); });
    }
    /// Σ_s f(a[s], g[s]).
    template <class F>
    static Acc sum(plane<Acc> a, plane<Acc> g, F f) {
        return detail::reduce_planes<Acc>(a.size, [&](auto at) CAMKIT_LAMBDA_INLINE { return f(at(a.data), at(g.data)); });
    }
    /// True when every value is finite (x − x is 0 for finite x and NaN otherwise).
    static bool all_finite(plane<Acc> x) {
        return sum(x, [](const auto& v) CAMKIT_LAMBDA_INLINE { return v - v; }) == Acc(0);
    }
};

}  // namespace camkit

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
