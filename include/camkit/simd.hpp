#pragma once
// Fixed-width packs for the host kernels. With GCC or Clang a pack is a vector-extension type as
// wide as the target's vector registers: 16 bytes (SSE2, NEON) by default, 32 bytes when AVX is
// enabled (-mavx2, -march=native). The kernels then run in SIMD at -O2 as well as -O3, with no
// -ffast-math. Elsewhere a pack is the scalar itself (width 1), so the same kernel code runs.
// (Like any header-only SIMD code, every translation unit of a program should be compiled for the
// same instruction set.)
//
// Method policies never name packs: their element-wise lambdas are generic, and the ops call them
// with a pack for the body of a plane and with scalars for its tail. Packs support + - * / with
// packs and with scalars of their element type; relu comes from the ops.
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__GNUC__) && !defined(CAMKIT_NO_VECTOR_EXTENSIONS)
#define CAMKIT_VECTOR_EXTENSIONS 1
#endif

namespace camkit::detail {

#if defined(CAMKIT_VECTOR_EXTENSIONS)
#if defined(__AVX__)
inline constexpr std::size_t pack_bytes = 32;
#define CAMKIT_PACK_BYTES 32
#else
inline constexpr std::size_t pack_bytes = 16;
#define CAMKIT_PACK_BYTES 16
#endif
template <class T>
struct pack_types;
template <>
struct pack_types<float> {
    typedef float type __attribute__((vector_size(CAMKIT_PACK_BYTES)));
};
template <>
struct pack_types<double> {
    typedef double type __attribute__((vector_size(CAMKIT_PACK_BYTES)));
};
/// The pack of Acc values the host kernels compute on.
template <class Acc>
using pack_t = typename pack_types<Acc>::type;
template <class Acc>
inline constexpr std::size_t pack_width = pack_bytes / sizeof(Acc);
#else
template <class Acc>
using pack_t = Acc;
template <class Acc>
inline constexpr std::size_t pack_width = 1;
#endif

/// True for the pack types (not for scalars, even where a pack is a scalar).
template <class B>
inline constexpr bool is_pack_v = false;
#if defined(CAMKIT_VECTOR_EXTENSIONS)
template <>
inline constexpr bool is_pack_v<pack_t<float>> = true;
template <>
inline constexpr bool is_pack_v<pack_t<double>> = true;
#endif

/// Loads pack_width<Acc> values from `p` (no alignment needed).
template <class Acc>
inline pack_t<Acc> load(const Acc* p) {
    pack_t<Acc> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// Stores a pack to `p` (no alignment needed).
template <class Acc>
inline void store(Acc* p, const pack_t<Acc>& v) {
    std::memcpy(p, &v, sizeof v);
}

/// A pack with every lane equal to `x`.
template <class Acc>
inline pack_t<Acc> broadcast(Acc x) {
    pack_t<Acc> v;
    if constexpr (pack_width<Acc> == 1) {
        v = x;
    } else {
        for (std::size_t j = 0; j < pack_width<Acc>; ++j) v[j] = x;
    }
    return v;
}

/// Sum of a pack's lanes, pairwise.
template <class Acc>
inline Acc lane_sum(const pack_t<Acc>& v) {
    if constexpr (pack_width<Acc> == 1) {
        return v;
    } else {
        Acc l[pack_width<Acc>];
        std::memcpy(l, &v, sizeof v);
        for (std::size_t w = pack_width<Acc> / 2; w > 0; w /= 2)
            for (std::size_t j = 0; j < w; ++j) l[j] += l[j + w];
        return l[0];
    }
}

#if defined(CAMKIT_VECTOR_EXTENSIONS)
/// Lane-wise max(x, 0), keeping NaN (x < 0 is false for NaN).
template <class B>
    requires is_pack_v<B>
inline B pack_relu(const B& x) {
    using M = decltype(x < x);
    return reinterpret_cast<B>(reinterpret_cast<M>(x) & ~(x < B{}));
}
/// Lane-wise `a` where `take_a`, else `b`.
template <class B, class M>
    requires is_pack_v<B>
inline B pack_select(const M& take_a, const B& a, const B& b) {
    return reinterpret_cast<B>((reinterpret_cast<M>(a) & take_a) | (reinterpret_cast<M>(b) & ~take_a));
}
#endif

/// {min, max} of n values, NaN ignored ({+inf, -inf} when there is no other value). With `out`,
/// also writes the values there, through max(x, 0) when `relu` (NaN kept), and the min and max are
/// those of the written values: the map's copy, ReLU and min/max scan in one pass.
template <class T>
std::pair<T, T> min_max(const T* p, std::size_t n, T* out = nullptr, bool relu = false) {
    using lim = std::numeric_limits<T>;
    T lo = lim::has_infinity ? lim::infinity() : lim::max();
    T hi = lim::has_infinity ? -lim::infinity() : lim::lowest();
    std::size_t i = 0;
#if defined(CAMKIT_VECTOR_EXTENSIONS)
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        constexpr std::size_t W = pack_width<T>;
        pack_t<T> vlo = broadcast(lo), vhi = broadcast(hi);
        auto scan = [&](auto store_relu) {
            for (; i + W <= n; i += W) {
                pack_t<T> v = load(p + i);
                if constexpr (decltype(store_relu)::value) {
                    if (relu) v = pack_relu(v);
                    store(out + i, v);
                }
                vlo = pack_select(v < vlo, v, vlo);
                vhi = pack_select(v > vhi, v, vhi);
            }
        };
        if (out)
            scan(std::true_type{});
        else
            scan(std::false_type{});
        for (std::size_t j = 0; j < W; ++j) {
            if (vlo[j] < lo) lo = vlo[j];
            if (vhi[j] > hi) hi = vhi[j];
        }
    }
#endif
    for (; i < n; ++i) {
        T v = p[i];
        if (out) out[i] = v = relu && v < T(0) ? T(0) : v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    return {lo, hi};
}

}  // namespace camkit::detail
