// The CAM refinement (include/camkit/refine/): the whole pipeline at 512² (low-res 32², the
// original's 16× ratio of 14² → 224²) and 128³ (low-res 8³), and each step that works on
// volumes, against a plain read of the high-res input of the same shape (the memory_read
// baseline, so table.py's fraction column is read time / step time).
#include "bench_common.hpp"

#include <camkit/refine/refine.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace camkit_bench {
namespace {

using camkit::shape_t;
using camkit::tensor;

/// A smooth map of `shape` (2-D or 3-D): a broad peak off-centre plus a ripple and a little noise,
/// so that the roi, the edges and the region growing have real structure.
tensor<float> scene(const shape_t& shape, std::uint32_t seed) {
    tensor<float> t(shape);
    fill_random(t.values, seed);
    const std::size_t rank = shape.size();
    for (std::size_t p = 0; p < t.size(); ++p) {
        double r2 = 0, ripple = 0;
        std::size_t rest = p;
        for (std::size_t a = rank; a-- > 0;) {
            const double u = static_cast<double>(rest % shape[a]) / static_cast<double>(shape[a]);
            rest /= shape[a];
            r2 += (u - 0.4) * (u - 0.4);
            ripple += std::sin(9.0 * u + static_cast<double>(a));
        }
        t[p] = static_cast<float>(std::exp(-r2 / 0.05) + 0.1 * ripple) + 0.02f * t[p];
    }
    return t;
}

struct refine_inputs {
    tensor<float> low, high, edges;
    camkit::mask_t segment;
    camkit::points_t seeds;
    camkit::refine_bounds bounds;
};

const refine_inputs& inputs_for(std::size_t side, std::size_t rank) {
    static std::map<std::pair<std::size_t, std::size_t>, refine_inputs> cache;
    auto it = cache.find({side, rank});
    if (it == cache.end()) {
        refine_inputs in;
        in.high = scene(shape_t(rank, side), 3);
        in.low = scene(shape_t(rank, side / 16), 4);
        const auto r = camkit::refine(in.low, in.high);
        in.edges = r.edges;
        in.segment = r.segmented;
        in.seeds = r.focal_points;
        in.bounds = r.bounds;
        it = cache.emplace(std::pair{side, rank}, std::move(in)).first;
    }
    return it->second;
}

std::int64_t map_bytes(std::size_t side, std::size_t rank) {
    return static_cast<std::int64_t>(std::pow(static_cast<double>(side), static_cast<double>(rank)) * sizeof(float));
}

void read_high(benchmark::State& st, std::size_t side, std::size_t rank) {
    const auto& in = inputs_for(side, rank);
    for (auto _ : st) benchmark::DoNotOptimize(read_one(in.high.data(), in.high.size()));
    st.SetBytesProcessed(st.iterations() * map_bytes(side, rank));
}

/// One refinement row: `step` run on the cached inputs of the shape.
template <class Step>
void refine_row(benchmark::State& st, std::size_t side, std::size_t rank, Step step) {
    const auto& in = inputs_for(side, rank);
    for (auto _ : st) benchmark::DoNotOptimize(step(in));
    st.SetBytesProcessed(st.iterations() * map_bytes(side, rank));
}

template <class Step>
void add(const std::string& shape, const std::string& method, std::size_t side, std::size_t rank, Step step) {
    configure(benchmark::RegisterBenchmark(row("refine", shape, method, "camkit").c_str(),
                                           [=](benchmark::State& st) { refine_row(st, side, rank, step); }));
}

int register_refine() {
    for (const auto& [side_of, rank_of] : {std::pair<std::size_t, std::size_t>{512, 2}, {128, 3}}) {
        const std::size_t side = side_of, rank = rank_of;  // copies: Clang 14 captures no structured binding
        const std::string shape = rank == 2 ? "512x512" : "128x128x128";
        configure(benchmark::RegisterBenchmark(row("refine", shape, "memory_read", "baseline").c_str(),
                                               [=](benchmark::State& st) { read_high(st, side, rank); }));
        add(shape, "refine", side, rank, [](const refine_inputs& in) { return camkit::refine(in.low, in.high); });
        add(shape, "box_filter", side, rank, [](const refine_inputs& in) { return camkit::box_filter(in.high, 5); });
        add(shape, "sobel_magnitude", side, rank,
            [](const refine_inputs& in) { return camkit::sobel_magnitude(in.high); });
        add(shape, "percentile", side, rank, [](const refine_inputs& in) { return camkit::percentile(in.high, 85); });
        add(shape, "resize_low", side, rank,
            [](const refine_inputs& in) { return camkit::resize_low(in.low, in.high.shape); });
        // From the refinement's seeds through every edge value up to its upper bound: the flat
        // region around the peak (the refinement's own bounds grow only a few pixels on this scene).
        add(shape, "grow_region", side, rank,
            [](const refine_inputs& in) { return camkit::grow_region(in.edges, in.seeds, 0.0, in.bounds.upper); });
        add(shape, "fill_small_holes", side, rank,
            [](const refine_inputs& in) { return camkit::fill_small_holes(in.segment); });
        add(shape, "local_maxima", side, rank, [](const refine_inputs& in) { return camkit::local_maxima(in.high); });
    }
    return 0;
}

const int registered = register_refine();

}  // namespace
}  // namespace camkit_bench
