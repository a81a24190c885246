// `camkit-torch analyze`'s shared pass against separate `explain` calls, on a small TorchScript
// segmenter built here (three 3×3 convolutions, 3 → 32 → 32 channels, then a 1×1 head to 3
// classes, on a 1×3×128×128 input). For T = 2 targets, L = 3 layers and M = 2 gradient methods:
//   analyze/shared     one forward recording every layer (scripted_layers), one backward per
//                      target for all layers, each method on the shared A and G: 1 forward, 2 backward
//   analyze/separate   one camkit::torch::explain per target × method × layer: 12 forward, 12 backward
// The time ratio separate / shared is what analyze saves per image.
#include "bench_common.hpp"

#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/targets/class_score.hpp>
#include <camkit/torch/scripted.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>
#include <vector>

namespace camkit_bench {
namespace {

/// A submodule whose forward is `body` (TorchScript source) over the parameter `w` and bias `b`.
torch::jit::Module conv_module(const std::string& name, std::int64_t out, std::int64_t in, std::int64_t k, bool relu) {
    torch::jit::Module m(name);
    m.register_parameter("w", at::randn({out, in, k, k}) * (1.0 / std::sqrt(double(in * k * k))), false);
    m.register_parameter("b", at::zeros({out}), false);
    m.define(std::string("def forward(self, x):\n    y = torch.conv2d(x, self.w, self.b, [1, 1], [") + std::to_string(k / 2) +
             ", " + std::to_string(k / 2) + "])\n    return " + (relu ? "torch.relu(y)" : "y") + "\n");
    return m;
}

torch::jit::Module segmenter() {
    at::manual_seed(7);
    torch::jit::Module m("segmenter");
    m.register_module("enc1", conv_module("enc1", 32, 3, 3, true));
    m.register_module("enc2", conv_module("enc2", 32, 32, 3, true));
    m.register_module("enc3", conv_module("enc3", 32, 32, 3, true));
    m.register_module("head", conv_module("head", 3, 32, 1, false));
    m.define("def forward(self, x):\n    return self.head.forward(self.enc3.forward(self.enc2.forward(self.enc1.forward(x))))\n");
    m.eval();
    return m;
}

const std::vector<std::string> layers{"enc1", "enc2", "enc3"};
const std::vector<camkit::target> targets{camkit::class_score(1), camkit::class_score(2)};

void shared_pass(benchmark::State& st) {
    torch::jit::Module model = segmenter();
    camkit::torch::scripted_layers rec(model, layers);
    at::manual_seed(1);
    const at::Tensor input = at::rand({1, 3, 128, 128});
    for (auto _ : st) {
        const at::Tensor x = input.detach().requires_grad_(true);
        auto pass = rec.forward(x);
        std::vector<std::vector<at::Tensor>> grads(layers.size());
        for (std::size_t t = 0; t < targets.size(); ++t) {
            auto [scores, seed] = camkit::torch::seed_and_score(pass.output, std::span<const camkit::target>(&targets[t], 1));
            auto g = torch::autograd::grad({pass.output}, pass.activations, {seed}, t + 1 < targets.size());
            for (std::size_t l = 0; l < layers.size(); ++l) grads[l].push_back(g[l]);
        }
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const at::Tensor G = at::cat(grads[l]);
            const at::Tensor A = pass.activations[l].detach().expand_as(G);
            benchmark::DoNotOptimize(camkit::explain<camkit::grad_cam>(A, G).map.data_ptr());
            benchmark::DoNotOptimize(camkit::explain<camkit::hires_cam>(A, G).map.data_ptr());
        }
    }
    st.counters["forward"] = 1;
    st.counters["backward"] = static_cast<double>(targets.size());
}

void separate_calls(benchmark::State& st) {
    torch::jit::Module model = segmenter();
    std::vector<camkit::torch::scripted_layer> recs;
    for (const auto& l : layers) recs.emplace_back(model, l);
    at::manual_seed(1);
    const at::Tensor input = at::rand({1, 3, 128, 128});
    for (auto _ : st)
        for (const auto& t : targets)
            for (auto& rec : recs) {
                const at::Tensor x = input.detach().requires_grad_(true);
                const std::vector<camkit::target> what{t};
                benchmark::DoNotOptimize(camkit::torch::explain<camkit::grad_cam>(rec, x, what).cam.map.data_ptr());
                benchmark::DoNotOptimize(camkit::torch::explain<camkit::hires_cam>(rec, x, what).cam.map.data_ptr());
            }
    st.counters["forward"] = st.counters["backward"] = static_cast<double>(targets.size() * layers.size() * 2);
}

int register_all() {
    configure(benchmark::RegisterBenchmark("analyze/seg_1x3x128x128/T2_L3_M2/shared", shared_pass));
    configure(benchmark::RegisterBenchmark("analyze/seg_1x3x128x128/T2_L3_M2/separate", separate_calls));
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace camkit_bench
