// The LibTorch CPU ops path, computed the way Captum and torchcam do: whole-tensor ATen ops
// (grads.mean over space with keepdim, times activations, sum over channels).
#include "bench_common.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <string>
#include <vector>

namespace camkit_bench {
namespace {

at::Tensor wrap(const camkit::tensor<float>& t) {
    std::vector<int64_t> sizes(t.shape.begin(), t.shape.end());
    return at::from_blob(const_cast<float*>(t.data()), sizes, at::kFloat);
}

enum class torch_method { grad_cam, hires_cam, grad_cam_plus_plus, xgrad_cam, layer_cam };

at::Tensor torch_raw(torch_method m, const at::Tensor& A, const at::Tensor& G) {
    std::vector<int64_t> ax;
    for (int64_t d = 2; d < A.dim(); ++d) ax.push_back(d);
    switch (m) {
        case torch_method::grad_cam:
            return (G.mean(ax, true) * A).sum(1);
        case torch_method::hires_cam:
            return (G * A).sum(1);
        case torch_method::layer_cam:
            return (at::relu(G) * A).sum(1);
        case torch_method::xgrad_cam:
            return (((G * A).sum(ax, true) / (A.sum(ax, true) + 1e-7)) * A).sum(1);
        case torch_method::grad_cam_plus_plus: {
            auto g2 = G.pow(2);
            auto g3 = g2 * G;
            auto s = A.sum(ax, true);
            auto denom = 2 * g2 + s * g3;
            denom = at::where(denom != 0, denom, at::ones_like(denom));
            auto alpha = g2 / (denom + 1e-6);
            alpha = at::where(G != 0, alpha, at::zeros_like(alpha));
            auto w = (at::relu(G) * alpha).sum(ax, true);
            return (w * A).sum(1);
        }
    }
    return {};
}

void torch_bench(benchmark::State& st, torch_method m, const camkit::shape_t& shape, int threads) {
    const auto& in = inputs(shape);
    const at::Tensor A = wrap(in.A), G = wrap(in.G);
    at::set_num_threads(threads);
    at::NoGradGuard no_grad;
    for (auto _ : st) {
        at::Tensor raw = torch_raw(m, A, G);
        benchmark::DoNotOptimize(raw.data_ptr());
    }
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

int register_all() {
    const std::pair<torch_method, const char*> methods[] = {
        {torch_method::grad_cam, "gradcam"}, {torch_method::hires_cam, "hirescam"},
        {torch_method::grad_cam_plus_plus, "gradcam++"}, {torch_method::xgrad_cam, "xgradcam"},
        {torch_method::layer_cam, "layercam"}};
    for (const auto& s : shapes())
        for (const auto& [m, name] : methods) {
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "torch_t1").c_str(), torch_bench, m, s.shape, 1));
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "torch_t2").c_str(), torch_bench, m, s.shape, 2));
        }
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace camkit_bench
