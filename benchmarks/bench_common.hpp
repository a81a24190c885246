#pragma once
// Shared inputs and helpers of the benchmark binary: the shapes, deterministic data, and the
// byte counters every benchmark reports (bytes of A + G read per iteration).
#include <camkit/tensor.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace camkit_bench {

/// One benchmarked activation shape [N, K, *S] with a short name for the tables.
struct bench_shape {
    std::string name;
    camkit::shape_t shape;
};

/// The shapes of the issue: classification, segmentation, a large map and a 3-D volume.
inline const std::vector<bench_shape>& shapes() {
    static const std::vector<bench_shape> s = {
        {"cls_32x2048x7x7", {32, 2048, 7, 7}},
        {"seg_8x64x128x128", {8, 64, 128, 128}},
        {"large_2x256x128x128", {2, 256, 128, 128}},
        {"vol_1x32x64x64x64", {1, 32, 64, 64, 64}},
    };
    return s;
}

/// Deterministic values in [-1, 1) (a 32-bit LCG), so runs are comparable.
inline void fill_random(std::vector<float>& v, std::uint32_t seed) {
    std::uint32_t x = seed * 2654435761u + 1u;
    for (float& f : v) {
        x = x * 1664525u + 1013904223u;
        f = static_cast<float>(x >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

/// Activations and gradients of one shape, allocated once per process and shared by all rows.
struct cam_inputs {
    camkit::tensor<float> A, G;
};

inline const cam_inputs& inputs(const camkit::shape_t& shape) {
    static std::map<camkit::shape_t, cam_inputs> cache;
    auto it = cache.find(shape);
    if (it == cache.end()) {
        cam_inputs in{camkit::tensor<float>(shape), camkit::tensor<float>(shape)};
        fill_random(in.A.values, 1);
        fill_random(in.G.values, 2);
        // Activations after a ReLU are non-negative, as in a real network.
        for (float& a : in.A.values) a = a < 0 ? -a : a;
        it = cache.emplace(shape, std::move(in)).first;
    }
    return it->second;
}

/// Σ p[i] with 32 independent lanes, which the compiler vectorizes into several register
/// accumulators: one read of an input, the baseline of rows that read one tensor. Kept out of
/// line: inlined into a benchmark loop, gcc 12 vectorized it worse.
[[gnu::noinline]] inline float read_one(const float* p, std::size_t n) {
    float s[32] = {};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (std::size_t j = 0; j < 32; ++j) s[j] += p[i + j];
    float total = 0;
    for (float v : s) total += v;
    for (; i < n; ++i) total += p[i];
    return total;
}

/// Bytes of A plus G of a shape (what a CAM must read).
inline std::int64_t cam_bytes(const camkit::shape_t& shape) {
    return static_cast<std::int64_t>(2 * camkit::element_count(shape) * sizeof(float));
}

/// Name of a benchmark row: group/shape/method/implementation.
inline std::string row(const std::string& group, const std::string& shape, const std::string& method,
                       const std::string& impl) {
    return group + "/" + shape + "/" + method + "/" + impl;
}

/// Common settings of the CAM rows: milliseconds, real time (threads matter).
inline void configure(benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond)->UseRealTime(); }

}  // namespace camkit_bench
