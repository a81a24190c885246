// Same-work rows: camkit's CAM with the resize to the network's input size that pytorch-grad-cam's
// and torchcam's figures include (benchmarks/peers.py times those peers on the same shapes). The
// `cam` rows of bench_core.cpp stop at the feature map's size; these rows time both, on shapes of
// the layers users explain: ResNet-18's and ResNet-50's layer4 and a ResNet stage-2 output at
// 224×224 input, and a U-Net decoder output at 128×128 input (no resize: the map is already the
// input's size).
#include "bench_common.hpp"

#include <camkit/explain.hpp>
#include <camkit/methods/registry.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

namespace camkit_bench {
namespace {

/// A layer's activation shape and the input size its maps are resized to.
struct same_work_shape {
    std::string name;
    camkit::shape_t shape;
    camkit::shape_t input;
};

/// The shapes of benchmarks/peers.py (keep the two lists equal).
const std::vector<same_work_shape>& same_work_shapes() {
    static const std::vector<same_work_shape> s = {
        {"r18l4_8x512x7x7_to224", {8, 512, 7, 7}, {224, 224}},
        {"r50l4_8x2048x7x7_to224", {8, 2048, 7, 7}, {224, 224}},
        {"r18l2_8x128x28x28_to224", {8, 128, 28, 28}, {224, 224}},
        {"unet_8x64x128x128_to128", {8, 64, 128, 128}, {128, 128}},
    };
    return s;
}

/// The methods both peers or pytorch-grad-cam implement.
constexpr std::string_view peer_methods[] = {"gradcam", "hirescam", "gradcam-elementwise", "layercam", "xgradcam",
                                             "gradcam++"};

/// Reads A and G once (the memory-read baseline of these shapes).
void same_work_read(benchmark::State& st, const camkit::shape_t& shape) {
    const auto& in = inputs(shape);
    for (auto _ : st) benchmark::DoNotOptimize(read_both(in.A.data(), in.G.data(), in.A.size()));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

/// camkit::explain with options.size = `size` (empty: the feature map's size), a fresh result per call.
template <class Method>
void same_work_explain(benchmark::State& st, const camkit::shape_t& shape, const camkit::shape_t& size, int threads) {
    const auto& in = inputs(shape);
    camkit::options opt;
    opt.threads = threads;
    opt.size = size;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::explain<Method>(in.A, in.G, opt));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

int register_same_work() {
    for (const auto& s : same_work_shapes()) {
        configure(benchmark::RegisterBenchmark(row("cam", s.name, "memory_read", "baseline").c_str(), same_work_read, s.shape));
        for (std::string_view method : peer_methods)
            camkit::with_method(method, [&](auto t) {
                using M = typename decltype(t)::type;
                const std::string name(M::name);
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "fused_t1").c_str(),
                                                       same_work_explain<M>, s.shape, camkit::shape_t{}, 1));
                // The peers' work: the map resized to the input size.
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "resize_t1").c_str(),
                                                       same_work_explain<M>, s.shape, s.input, 1));
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "resize_t2").c_str(),
                                                       same_work_explain<M>, s.shape, s.input, 2));
            });
    }
    return 0;
}

const int registered = register_same_work();

}  // namespace
}  // namespace camkit_bench
