#pragma once
// Run-time choice of the instruction set the host kernels run in. The kernels are compiled for
// every instruction set below in one binary (simd.hpp: each pack width in a function compiled for
// its target), and the best one the CPU supports runs, whatever flags the program was built with.
// CAMKIT_ISA=scalar|sse2|avx2|avx512 in the environment, read at the first kernel call, or
// camkit::set_isa, choose a lower one (tests, benchmarks); asking for one the CPU lacks is an error.
#include <camkit/error.hpp>

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

#if defined(__GNUC__) && !defined(CAMKIT_NO_VECTOR_EXTENSIONS)
#define CAMKIT_VECTOR_EXTENSIONS 1
#if defined(__x86_64__) || defined(__i386__)
#define CAMKIT_ISA_DISPATCH 1
#endif
#endif

namespace camkit {

/// An instruction set of the host kernels, by pack width: scalar (one value), sse2 (16-byte packs;
/// off x86 the build's own 16-byte vectors, e.g. NEON), avx2 (32 bytes, with FMA), avx512 (64 bytes).
enum class isa { scalar, sse2, avx2, avx512 };

/// The name of an instruction set, as CAMKIT_ISA spells it.
constexpr std::string_view isa_name(isa i) {
    switch (i) {
        case isa::scalar: return "scalar";
        case isa::sse2: return "sse2";
        case isa::avx2: return "avx2";
        case isa::avx512: return "avx512";
    }
    return "unknown";
}

/// The instruction set named `name` (scalar, sse2, avx2, avx512); throws camkit::error for any other name.
inline isa parse_isa(std::string_view name) {
    for (isa i : {isa::scalar, isa::sse2, isa::avx2, isa::avx512})
        if (name == isa_name(i)) return i;
    throw error("camkit: unknown instruction set '" + std::string(name) +
                "' (CAMKIT_ISA expects scalar, sse2, avx2 or avx512)");
}

/// Whether this build and this CPU can run the kernels in `i`: avx2 needs AVX2 and FMA, avx512
/// needs AVX-512 F, VL, DQ and BW (and the operating system saving their registers, which
/// __builtin_cpu_supports checks).
inline bool isa_supported(isa i) {
    switch (i) {
        case isa::scalar: return true;
#if defined(CAMKIT_VECTOR_EXTENSIONS)
        case isa::sse2: return true;
#endif
#if defined(CAMKIT_ISA_DISPATCH)
        case isa::avx2:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case isa::avx512:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#endif
        default: return false;
    }
}

/// The widest instruction set this build and CPU support.
inline isa best_isa() {
    for (isa i : {isa::avx512, isa::avx2, isa::sse2})
        if (isa_supported(i)) return i;
    return isa::scalar;
}

namespace detail {

/// The instruction set a setting asks for: `setting` null or empty means the best supported;
/// otherwise the named one, which must be supported. Throws camkit::error naming CAMKIT_ISA.
inline isa isa_from_setting(const char* setting) {
    if (!setting || !*setting) return best_isa();
    const isa i = parse_isa(setting);
    require(isa_supported(i), [&] {
        return "CAMKIT_ISA=" + std::string(setting) + ": this CPU or build cannot run it (best here: " +
               std::string(isa_name(best_isa())) + ")";
    });
    return i;
}

/// The set_isa override: −1 while none is set.
inline std::atomic<int>& isa_override() {
    static std::atomic<int> value{-1};
    return value;
}

}  // namespace detail

/// The instruction set the host kernels run in: set_isa's choice if one was made, else CAMKIT_ISA
/// (read once, at the first call), else best_isa(). Throws camkit::error when CAMKIT_ISA is bad.
inline isa active_isa() {
    const int chosen = detail::isa_override().load(std::memory_order_relaxed);
    if (chosen >= 0) return static_cast<isa>(chosen);
    static const isa from_environment = detail::isa_from_setting(std::getenv("CAMKIT_ISA"));
    return from_environment;
}

/// Makes the host kernels run in `i` from now on (set it while no kernel runs); throws camkit::error
/// when this CPU or build cannot run it. Returns the instruction set used until now.
inline isa set_isa(isa i) {
    detail::require(isa_supported(i), [&] {
        return "set_isa: this CPU or build cannot run " + std::string(isa_name(i)) + " (best here: " +
               std::string(isa_name(best_isa())) + ")";
    });
    const isa before = active_isa();
    detail::isa_override().store(static_cast<int>(i), std::memory_order_relaxed);
    return before;
}

}  // namespace camkit
