#pragma once
// The vocabulary every method is written in, on host memory. A method policy calls these
// "plane ops" on one (sample, channel) plane at a time, so the fused kernels in kernels.hpp can
// compute a channel's statistics and fold its contribution while the plane is still in cache.
// A device backend supplies the same names on whole [N, K, S] tensors (see concepts.hpp).
#include <cmath>
#include <cstddef>

namespace camkit {

/// One dense plane of a channel: `size` spatial values in accumulation type Acc.
template <class Acc>
struct plane {
    const Acc* data;
    std::size_t size;
};

namespace detail {
// Eight independent partial sums let the compiler vectorize a reduction without -ffast-math.
inline constexpr std::size_t lanes = 8;

template <class Acc>
Acc add_lanes(const Acc (&s)[lanes]) {
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}
}  // namespace detail

/// Reductions over one plane on the host. Scalars are Acc; the same names exist for device ops.
template <class Acc>
struct plane_ops {
    using value_type = Acc;

    /// max(x, 0), keeping NaN so that bad input stays visible.
    static Acc relu(Acc x) { return x < Acc(0) ? Acc(0) : x; }
    /// `value` where `g != 0`, else 0.
    static Acc where_nonzero(Acc g, Acc value) { return g != Acc(0) ? value : Acc(0); }

    /// Σ_s x[s].
    static Acc sum(plane<Acc> x) {
        return sum(x, [](Acc v) { return v; });
    }
    /// mean_s x[s].
    static Acc mean(plane<Acc> x) { return sum(x) / static_cast<Acc>(x.size); }
    /// Σ_s f(x[s]).
    template <class F>
    static Acc sum(plane<Acc> x, F f) {
        Acc s[detail::lanes] = {};
        std::size_t i = 0;
        for (; i + detail::lanes <= x.size; i += detail::lanes)
            for (std::size_t j = 0; j < detail::lanes; ++j) s[j] += f(x.data[i + j]);
        for (std::size_t j = 0; i < x.size; ++i, ++j) s[j] += f(x.data[i]);
        return detail::add_lanes(s);
    }
    /// Σ_s f(a[s], g[s]).
    template <class F>
    static Acc sum(plane<Acc> a, plane<Acc> g, F f) {
        Acc s[detail::lanes] = {};
        std::size_t i = 0;
        for (; i + detail::lanes <= a.size; i += detail::lanes)
            for (std::size_t j = 0; j < detail::lanes; ++j) s[j] += f(a.data[i + j], g.data[i + j]);
        for (std::size_t j = 0; i < a.size; ++i, ++j) s[j] += f(a.data[i], g.data[i]);
        return detail::add_lanes(s);
    }
    /// True when every value is finite (x − x is 0 for finite x and NaN otherwise).
    static bool all_finite(plane<Acc> x) {
        return sum(x, [](Acc v) { return v - v; }) == Acc(0);
    }
};

}  // namespace camkit
