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

/// Σ of the 8 parts [p[j], p[j] + len) read together, with 16 independent lanes: eight streams.
/// Some cores' prefetchers need several streams to reach the core's read bandwidth: on an Intel
/// Xeon VM (2026-12-06) one pass over two arrays ran 10–40 % slower than this, and camkit's kernels,
/// which read four channels' planes together, beat it. Kept out of line: inlined into a benchmark
/// loop, gcc 12 vectorized such loops worse.
[[gnu::noinline]] inline float read_eight(const float* const* p, std::size_t len) {
    const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3], *p4 = p[4], *p5 = p[5], *p6 = p[6], *p7 = p[7];
    float s[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= len; i += 16)
        for (std::size_t j = 0; j < 16; ++j)
            s[j] += ((p0[i + j] + p1[i + j]) + (p2[i + j] + p3[i + j])) +
                    ((p4[i + j] + p5[i + j]) + (p6[i + j] + p7[i + j]));
    float total = 0;
    for (float v : s) total += v;
    for (; i < len; ++i) total += p0[i] + p1[i] + p2[i] + p3[i] + p4[i] + p5[i] + p6[i] + p7[i];
    return total;
}

/// Σ p[i], p read as eight parts at once (read_eight): one read of an input, the baseline of rows
/// that read one tensor.
inline float read_one(const float* p, std::size_t n) {
    const std::size_t q = n / 8;
    const float* parts[8];
    for (std::size_t j = 0; j < 8; ++j) parts[j] = p + j * q;
    float total = read_eight(parts, q);
    for (std::size_t i = 8 * q; i < n; ++i) total += p[i];
    return total;
}

/// Σ a[i] + g[i], each array read as four parts, all eight at once (read_eight): one read of A and G.
inline float read_both(const float* a, const float* g, std::size_t n) {
    const std::size_t q = n / 4;
    const float* parts[8];
    for (std::size_t j = 0; j < 4; ++j) parts[j] = a + j * q, parts[4 + j] = g + j * q;
    float total = read_eight(parts, q);
    for (std::size_t i = 4 * q; i < n; ++i) total += a[i] + g[i];
    return total;
}

/// Σ a[i] + g[i] in one pass over both arrays from the start (two streams), with 32 independent
/// lanes: the baseline of the runs before 2026-12-06, kept as a row for comparison with them.
[[gnu::noinline]] inline float read_two_streams(const float* a, const float* g, std::size_t n) {
    float s[32] = {};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (std::size_t j = 0; j < 32; ++j) s[j] += a[i + j] + g[i + j];
    float total = 0;
    for (float v : s) total += v;
    for (; i < n; ++i) total += a[i] + g[i];
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
