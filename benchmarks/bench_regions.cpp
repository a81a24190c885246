// Connected-component labelling (include/camkit/regions/labels.hpp) at 512² and 128³ against a
// plain read of its input mask (float, as predicted_region returns it): a labelling must read the
// mask once and write the labels once, so a row's fraction of the baseline shows what its two
// passes and the union-find cost beyond that.
#include "bench_common.hpp"

#include <camkit/regions/components.hpp>
#include <camkit/regions/labels.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace camkit_bench {
namespace {

using camkit::shape_t;
using camkit::tensor;

/// A class region as a segmentation predicts it, of `shape` (2-D or 3-D): smooth blobs (a wave
/// thresholded) with 1% random specks, so it has large components, many single-position ones and
/// diagonal contacts. Built once per shape.
const tensor<float>& blob_mask(const shape_t& shape) {
    static std::map<shape_t, tensor<float>> cache;
    auto it = cache.find(shape);
    if (it != cache.end()) return it->second;
    tensor<float> m(shape);
    std::vector<float> noise(m.size());
    fill_random(noise, 7);
    const std::size_t W = shape.back(), H = shape[shape.size() - 2];
    for (std::size_t p = 0; p < m.size(); ++p) {
        const double x = static_cast<double>(p % W), y = static_cast<double>(p / W % H), z = static_cast<double>(p / (W * H));
        const double wave = std::sin(0.11 * x) * std::cos(0.07 * y) + 0.5 * std::sin(0.05 * z + 0.03 * x);
        m[p] = wave > 0.3 || noise[p] > 0.98f ? 1.0f : 0.0f;
    }
    return cache.emplace(shape, std::move(m)).first->second;
}

std::int64_t mask_bytes(const shape_t& shape) {
    return static_cast<std::int64_t>(camkit::element_count(shape) * sizeof(float));
}

/// Reads the mask once: the time a labelling cannot beat.
void mask_read(benchmark::State& st, const shape_t& shape) {
    const auto& m = blob_mask(shape);
    for (auto _ : st) benchmark::DoNotOptimize(read_one(m.data(), m.size()));
    st.SetBytesProcessed(st.iterations() * mask_bytes(shape));
}

void label(benchmark::State& st, const shape_t& shape, unsigned connectivity) {
    const auto& m = blob_mask(shape);
    std::size_t count = 0;
    for (auto _ : st) {
        const auto c = camkit::label_components(m, connectivity);
        count = c.count();
        benchmark::DoNotOptimize(c.labels.data());
    }
    st.counters["components"] = static_cast<double>(count);
    st.SetBytesProcessed(st.iterations() * mask_bytes(shape));
}

/// keep_largest_component: labelling plus one pass writing the float mask.
void largest(benchmark::State& st, const shape_t& shape) {
    const auto& m = blob_mask(shape);
    for (auto _ : st) benchmark::DoNotOptimize(camkit::keep_largest_component(m).data());
    st.SetBytesProcessed(st.iterations() * mask_bytes(shape));
}

int register_regions() {
    const std::vector<std::pair<std::string, shape_t>> cases{{"512x512", {512, 512}}, {"128x128x128", {128, 128, 128}}};
    for (const auto& [name, shape] : cases) {
        configure(benchmark::RegisterBenchmark(row("regions", name, "memory_read", "baseline").c_str(), mask_read, shape));
        const std::vector<unsigned> conns = shape.size() == 2 ? std::vector<unsigned>{4, 8} : std::vector<unsigned>{6, 18, 26};
        for (unsigned c : conns)
            configure(benchmark::RegisterBenchmark(row("regions", name, "label_" + std::to_string(c), "t1").c_str(), label,
                                                   shape, c));
        configure(benchmark::RegisterBenchmark(row("regions", name, "largest_component", "t1").c_str(), largest, shape));
    }
    return 0;
}

[[maybe_unused]] const int registered = register_regions();

}  // namespace
}  // namespace camkit_bench
