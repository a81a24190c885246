#pragma once
// How camkit's hot functions are compiled, whatever the build's optimization level.

/// The optimization level of camkit's hot functions (the kernels' entry points in simd.hpp, so
/// every kernel they inline; the resizing, colouring, target-mask and refinement loops): GCC's -O3,
/// whatever the build's level. At -O2 (CMake's RelWithDebInfo, Debian's and Fedora's package
/// flags, Bazel's opt) GCC 12 unrolls a loop completely early, where the arrays of packs it
/// indexes become registers, only if that does not grow the code, and vectorizes no loop that
/// needs a scalar tail: the kernels' loops over the M planes of a group stayed loops over arrays in
/// memory (the kernels ran 1.2–3.5× slower than at -O3; one thread, AMD EPYC Zen 4, 2026-12-07:
/// Grad-CAM++ 5.35 against 2.05 ms at [32, 2048, 7, 7]) and ReLU, normalization, resizing and the
/// refinements ran a value at a time (up to 15× slower). The attribute's options are added to the
/// build's own (-ffast-math, sanitizers and the rest stay), so the code is an -O3 build's and
/// computes the same values. GCC inlines no function that carries it into one that does not:
/// it marks only functions that run whole loops. Clang's -O2 unrolls and vectorizes these loops
/// as its -O3 does and has no such attribute. Define CAMKIT_OPTIMIZE (empty) before including
/// camkit to compile them at the build's own level (to step through them at -O0).
#if !defined(CAMKIT_OPTIMIZE)
#if defined(__GNUC__) && !defined(__clang__)
#define CAMKIT_OPTIMIZE __attribute__((optimize("O3")))
#else
#define CAMKIT_OPTIMIZE
#endif
#endif

/// Inlines every call in a function's body, recursively where the compiler does (GCC).
#if defined(__GNUC__)
#define CAMKIT_FLATTEN __attribute__((flatten))
#else
#define CAMKIT_FLATTEN
#endif
