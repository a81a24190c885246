#pragma once
// Fixed-width packs for the host kernels. With GCC or Clang a pack is a vector-extension type of
// W values; W = 1 is the scalar itself, so the same kernel code runs on packs and on single values.
// The hot kernels are written once for any width and compiled for every instruction set of
// isa.hpp in one binary: `dispatch` calls them inside a function compiled for the active ISA's
// target (16-byte packs for SSE2, 32 for AVX2 + FMA, 64 for AVX-512), everything it calls inlined
// there, so no -march flag is needed for speed (translation units of one program should still
// share their -m flags: docs/pitfalls.md).
// Without vector extensions (other compilers, CAMKIT_NO_VECTOR_EXTENSIONS) every pack is a scalar.
//
// Method policies never name packs: their element-wise lambdas are generic, and the ops call them
// with a pack for the body of a plane and with scalars for its tail. Packs support + - * / with
// packs and with scalars of their element type; relu comes from the ops.
#include <camkit/isa.hpp>
#include <camkit/optimize.hpp>

#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

// Packs wider than the build's registers are returned from functions compiled for the default
// target; they are inlined into the per-ISA functions (dispatch), so the ABI note does not apply.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/// Marks a kernel body written for one pack width: inlined into its per-ISA entry point even where
/// the compiler's flatten stops short (Clang's is not recursive). The pack helpers below carry it
/// too: a pack passed to or returned from a call that is not inlined draws GCC's -Wpsabi, without
/// a source location that a pragma could silence, in a unit built without that ISA enabled.
#if defined(__GNUC__)
#define CAMKIT_KERNEL_INLINE __attribute__((always_inline)) inline
#else
#define CAMKIT_KERNEL_INLINE inline
#endif

/// CAMKIT_KERNEL_INLINE and CAMKIT_LAMBDA_INLINE for Clang only: the kernel functions and lambdas
/// below a per-ISA entry point that GCC's recursive flatten inlines there anyway, when it optimizes
/// (tests/entry_point_calls.py checks both compilers' builds). Always inlined under GCC too, they
/// made its -O0 builds (camkit's sanitizer leg) compile a third longer, and LayerCAM's
/// contribution stayed out of line in position_major.hpp's default-target dispatch lambda: -Wpsabi
/// at -O2 in a user's unit.
#if defined(__clang__)
#define CAMKIT_KERNEL_INLINE_CLANG __attribute__((always_inline)) inline
#define CAMKIT_LAMBDA_INLINE_CLANG __attribute__((always_inline))
#else
#define CAMKIT_KERNEL_INLINE_CLANG inline
#define CAMKIT_LAMBDA_INLINE_CLANG
#endif

/// Marks a lambda called inside a dispatched kernel: inlined there (so compiled for its instruction
/// set) also where the compiler's flatten stops at the first level of calls (Clang's).
#if defined(__GNUC__)
#define CAMKIT_LAMBDA_INLINE __attribute__((always_inline))
#else
#define CAMKIT_LAMBDA_INLINE
#endif

namespace camkit::detail {

/// The type of W values of Acc computed together: Acc itself when W = 1.
template <class Acc, std::size_t W>
struct pack_types {
    using type = Acc;
};
#if defined(CAMKIT_VECTOR_EXTENSIONS)
template <class Acc, std::size_t W>
    requires(W > 1 && (std::is_same_v<Acc, float> || std::is_same_v<Acc, double>))
struct pack_types<Acc, W> {
    typedef Acc type __attribute__((vector_size(W * sizeof(Acc))));
};
/// Bytes of the packs of code not dispatched by ISA: the width of the build's own vector registers.
#if defined(__AVX__)
inline constexpr std::size_t pack_bytes = 32;
#else
inline constexpr std::size_t pack_bytes = 16;
#endif
#else
inline constexpr std::size_t pack_bytes = 0;
#endif

/// Values of Acc in a pack of `bytes` bytes (0: a scalar).
template <class Acc, std::size_t bytes>
inline constexpr std::size_t lanes_in = bytes < 2 * sizeof(Acc) ? 1 : bytes / sizeof(Acc);

/// The width of packs outside the dispatched kernels (the build's own vector registers).
template <class Acc>
inline constexpr std::size_t pack_width = lanes_in<Acc, pack_bytes>;

/// A pack of W values of Acc; by default as wide as the build's own vector registers.
template <class Acc, std::size_t W = pack_width<Acc>>
using pack_t = typename pack_types<Acc, W>::type;

/// Lanes and element type of a pack (of a scalar: 1 and itself).
template <class B>
struct pack_traits {
    using value_type = B;
    static constexpr std::size_t lanes = 1;
};
#if defined(CAMKIT_VECTOR_EXTENSIONS)
template <class B>
    requires requires(const B& b) {
        requires std::is_floating_point_v<std::remove_cvref_t<decltype(b[0])>>;
        // A vector-extension pack itself (not a std::array or a pointer, which also have b[0]).
        requires std::is_same_v<B, typename pack_types<std::remove_cvref_t<decltype(b[0])>,
                                                       sizeof(B) / sizeof(b[0])>::type>;
    }
struct pack_traits<B> {
    using value_type = std::remove_cvref_t<decltype(std::declval<const B&>()[0])>;
    static constexpr std::size_t lanes = sizeof(B) / sizeof(value_type);
};
#endif

/// True for the pack types of float and double (not for scalars).
template <class B>
inline constexpr bool is_pack_v = pack_traits<B>::lanes > 1 &&
                                  (std::is_same_v<typename pack_traits<B>::value_type, float> ||
                                   std::is_same_v<typename pack_traits<B>::value_type, double>);

/// Loads W values from `p` (no alignment needed).
template <class Acc, std::size_t W = pack_width<Acc>>
CAMKIT_KERNEL_INLINE pack_t<Acc, W> load(const Acc* p) {
    pack_t<Acc, W> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// Stores a pack to `p` (no alignment needed).
template <class Acc, class B>
CAMKIT_KERNEL_INLINE void store(Acc* p, const B& v) {
    static_assert(std::is_same_v<typename pack_traits<B>::value_type, Acc>);
    std::memcpy(p, &v, sizeof v);
}

/// A pack of W values equal to `x`.
template <class Acc, std::size_t W = pack_width<Acc>>
CAMKIT_KERNEL_INLINE pack_t<Acc, W> broadcast(Acc x) {
    pack_t<Acc, W> v{};  // initialized: GCC -O1 took the lane-by-lane fill for a read of garbage
    if constexpr (W == 1) {
        v = x;
    } else {
        for (std::size_t j = 0; j < W; ++j) v[j] = x;
    }
    return v;
}

/// Sum of a pack's lanes, pairwise: lane j plus lane j + W/2, then the same over the W/2 sums, down
/// to one. Packs wider than 16 bytes take the first step as one addition of their halves, the same
/// sums to the bit: one thread at [32, 2048, 7, 7] (Intel Xeon VM, AVX-512, 2026-12-06), Grad-CAM,
/// XGrad-CAM and Grad-CAM++ 9–24 % faster than with scalar additions of all lanes.
template <class B>
CAMKIT_KERNEL_INLINE auto lane_sum(const B& v) {
    using Acc = typename pack_traits<B>::value_type;
    constexpr std::size_t W = pack_traits<B>::lanes;
    if constexpr (W == 1) {
        return v;
    } else if constexpr (sizeof(B) > 16) {
        pack_t<Acc, W / 2> lo, hi;
        std::memcpy(&lo, &v, sizeof lo);
        std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
        return lane_sum(lo + hi);
    } else {
        Acc l[W];
        std::memcpy(l, &v, sizeof v);
        for (std::size_t w = W / 2; w > 0; w /= 2)
            for (std::size_t j = 0; j < w; ++j) l[j] += l[j + w];
        return l[0];
    }
}

#if defined(CAMKIT_VECTOR_EXTENSIONS)
/// Lane-wise max(x, 0), keeping NaN (x < 0 is false for NaN).
template <class B>
    requires is_pack_v<B>
CAMKIT_KERNEL_INLINE B pack_relu(const B& x) {
    using M = decltype(x < x);
    return reinterpret_cast<B>(reinterpret_cast<M>(x) & ~(x < B{}));
}
/// Lane-wise `a` where `take_a`, else `b`.
template <class B, class M>
    requires is_pack_v<B>
CAMKIT_KERNEL_INLINE B pack_select(const M& take_a, const B& a, const B& b) {
    return reinterpret_cast<B>((reinterpret_cast<M>(a) & take_a) | (reinterpret_cast<M>(b) & ~take_a));
}
#endif

// The kernels' entry points: each calls f(std::integral_constant<std::size_t, bytes>) with
// `flatten`, so f and everything it calls (the kernel, the policy's generic lambdas) are inlined
// into one function compiled for that target (the per-ISA ones) at CAMKIT_OPTIMIZE's level.
// (GCC inlines a default-target callee into a wider target; a lambda defined inside a target
// function would not inherit the target, so f is defined outside.)
template <std::size_t Bytes, class F>
CAMKIT_FLATTEN CAMKIT_OPTIMIZE inline decltype(auto) run_build(F& f) {
    return f(std::integral_constant<std::size_t, Bytes>{});
}

#if defined(CAMKIT_ISA_DISPATCH)
template <class F>
__attribute__((flatten)) CAMKIT_OPTIMIZE inline decltype(auto) run_sse2(F& f) {
    return f(std::integral_constant<std::size_t, 16>{});
}
template <class F>
__attribute__((target("avx2,fma"), flatten)) CAMKIT_OPTIMIZE inline decltype(auto) run_avx2(F& f) {
    return f(std::integral_constant<std::size_t, 32>{});
}
template <class F>
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"), flatten)) CAMKIT_OPTIMIZE inline decltype(auto)
run_avx512(F& f) {
    return f(std::integral_constant<std::size_t, 64>{});
}
#endif

/// Calls f(std::integral_constant<std::size_t, bytes>) with the pack bytes of the active ISA
/// (active_isa(): 0 for scalar), compiled for that ISA; exceptions pass through as from any call.
template <class F>
decltype(auto) dispatch(F&& f) {
#if defined(CAMKIT_ISA_DISPATCH)
    switch (active_isa()) {
        case isa::avx512: return run_avx512(f);
        case isa::avx2: return run_avx2(f);
        case isa::sse2: return run_sse2(f);
        default: break;
    }
    return run_build<0>(f);
#elif defined(CAMKIT_VECTOR_EXTENSIONS)
    if (active_isa() == isa::scalar) return run_build<0>(f);
    return run_build<16>(f);
#else
    return run_build<0>(f);
#endif
}

/// Bytes of a plane from which AVX-512 runs its own 64-byte packs over it (24 packs); smaller
/// planes (float: fewer than 384 positions, as 7×7, 14×14 and 16×16) run the AVX2 kernels, 32-byte
/// packs with FMA, which every AVX-512 CPU has. On a plane of a few packs the wide packs lose more
/// to the tail (up to 15 values a plane in narrower packs or single steps) and to the lane sums
/// than they gain. One thread, Intel Xeon VM, 2026-12-06: at [32, 2048, 7, 7] Grad-CAM, XGrad-CAM
/// and Grad-CAM++ 1.2–1.3× faster in AVX2; AVX2 ahead up to 18×18, even at 20×20 and 24×24, and
/// AVX-512 ahead at 56×56 and the segmentation shape's 128×128 (benchmarks/README.md).
inline constexpr std::size_t wide_pack_min_plane_bytes = 1536;

/// dispatch for work over planes of `positions` values of Acc: the active instruction set's kernels,
/// except AVX2's for AVX-512 and planes under wide_pack_min_plane_bytes. Every pass that sums over
/// a plane (reduce_planes, so plane_ops and the methods' per-plane statistics, and the channel-weight
/// kernels' chunks) is dispatched here with the plane's size, so a plane of a given size is summed
/// in one order whichever path sums it: the kernels' weights equal the policy's per-plane sums, and
/// explain's equal explain_many's, to the bit. (The element-wise kernels sum nothing over positions
/// but their finite check: they keep the wide packs, with narrower ones for the tail.)
template <class Acc, class F>
decltype(auto) dispatch_plane(std::size_t positions, F&& f) {
#if defined(CAMKIT_ISA_DISPATCH)
    if (positions * sizeof(Acc) < wide_pack_min_plane_bytes && active_isa() == isa::avx512) return run_avx2(f);
#else
    (void)positions;
#endif
    return dispatch(f);
}

/// The pack bytes the kernels over planes of `positions` values of Acc run in: as dispatch gives
/// them (0 for scalar), except 32 for AVX-512 below wide_pack_min_plane_bytes.
template <class Acc>
std::size_t plane_pack_bytes(std::size_t positions) {
    return dispatch_plane<Acc>(positions, [](auto bytes) { return bytes(); });
}


/// min_max in packs of W values (see min_max).
template <std::size_t W, class T>
CAMKIT_KERNEL_INLINE std::pair<T, T> min_max_in(const T* p, std::size_t n, T* out, bool relu) {
    using lim = std::numeric_limits<T>;
    T lo = lim::has_infinity ? lim::infinity() : lim::max();
    T hi = lim::has_infinity ? -lim::infinity() : lim::lowest();
    std::size_t i = 0;
    if constexpr (W > 1) {
        pack_t<T, W> vlo = broadcast<T, W>(lo), vhi = broadcast<T, W>(hi);
        auto scan = [&](auto store_relu) {
            for (; i + W <= n; i += W) {
                pack_t<T, W> v = load<T, W>(p + i);
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
    for (; i < n; ++i) {
        T v = p[i];
        if (out) out[i] = v = relu && v < T(0) ? T(0) : v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    return {lo, hi};
}

/// {min, max} of n values, NaN ignored ({+inf, -inf} when there is no other value). With `out`,
/// also writes the values there, through max(x, 0) when `relu` (NaN kept), and the min and max are
/// those of the written values: the map's copy, ReLU and min/max scan in one pass.
template <class T>
std::pair<T, T> min_max(const T* p, std::size_t n, T* out = nullptr, bool relu = false) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        return dispatch([&](auto bytes) { return min_max_in<lanes_in<T, bytes()>>(p, n, out, relu); });
    } else {
        return min_max_in<1>(p, n, out, relu);
    }
}

}  // namespace camkit::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// GCC gives its -Wpsabi warnings for the packs above ("AVX vector return without AVX enabled
// changes the ABI") at the end of the translation unit, where the push/pop around this header no
// longer reaches, so a program compiled without camkit's CMake flags (-Wno-psabi) would see two
// per translation unit, and fail with -Werror. This one setting therefore stays for the rest of
// the translation unit. The warning is about passing vectors between functions compiled for
// different instruction sets, which camkit never does (its packs stay inside inlined kernels).
// Clang gives its -Wpsabi at the methods' policy functions that return packs (in the headers that
// include this one, and in a user's own policy): the same setting, Clang's, reaches them.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
