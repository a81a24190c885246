// The LibTorch CPU ops path, computed the way Captum and torchcam do: whole-tensor ATen ops
// (grads.mean over space with keepdim, times activations, sum over channels). Where a CUDA device
// is present, `cuda/` rows time camkit's torch-ops path and the same ATen ops on it, against a
// device read baseline (Σ A + Σ G by ATen's reduction, which streams both once).
#include "bench_common.hpp"

#include <camkit/methods/registry.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard: ATen.h of LibTorch 2.x no longer brings it
#include <torch/cuda.h>

#include <string>
#include <utility>
#include <vector>

namespace camkit_bench {
namespace {

at::Tensor wrap(const camkit::tensor<float>& t) {
    std::vector<int64_t> sizes(t.shape.begin(), t.shape.end());
    return at::from_blob(const_cast<float*>(t.data()), sizes, at::kFloat);
}

enum class torch_method { grad_cam, hires_cam, grad_cam_plus_plus, xgrad_cam, layer_cam };

/// The ATen formulas benchmarked, with their row names (camkit's method names).
constexpr std::pair<torch_method, const char*> torch_methods[] = {
    {torch_method::grad_cam, "gradcam"}, {torch_method::hires_cam, "hirescam"},
    {torch_method::grad_cam_plus_plus, "gradcam++"}, {torch_method::xgrad_cam, "xgradcam"},
    {torch_method::layer_cam, "layercam"}};

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

/// A and G of a shape on the CUDA device, copied once per process.
struct cuda_inputs {
    at::Tensor A, G;
};

const cuda_inputs& on_cuda(const camkit::shape_t& shape) {
    static std::map<camkit::shape_t, cuda_inputs> cache;
    auto it = cache.find(shape);
    if (it == cache.end()) {
        const auto& in = inputs(shape);
        it = cache.emplace(shape, cuda_inputs{wrap(in.A).to(at::kCUDA), wrap(in.G).to(at::kCUDA)}).first;
        ::torch::cuda::synchronize();
    }
    return it->second;
}

/// Times f() on the device: each iteration waits for the device to finish.
template <class F>
void cuda_loop(benchmark::State& st, const camkit::shape_t& shape, F f) {
    at::NoGradGuard no_grad;
    f();  // warm-up: allocator and kernel caches
    ::torch::cuda::synchronize();
    for (auto _ : st) {
        f();
        ::torch::cuda::synchronize();
    }
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

void cuda_read(benchmark::State& st, const camkit::shape_t& shape) {
    const auto& d = on_cuda(shape);
    cuda_loop(st, shape, [&] { benchmark::DoNotOptimize((d.A.sum() + d.G.sum()).data_ptr()); });
}

void cuda_torch_ops(benchmark::State& st, torch_method m, const camkit::shape_t& shape) {
    const auto& d = on_cuda(shape);
    cuda_loop(st, shape, [&] { benchmark::DoNotOptimize(torch_raw(m, d.A, d.G).data_ptr()); });
}

template <class Method>
void cuda_camkit(benchmark::State& st, const camkit::shape_t& shape) {
    const auto& d = on_cuda(shape);
    cuda_loop(st, shape, [&] { benchmark::DoNotOptimize(camkit::explain<Method>(d.A, d.G).map.data_ptr()); });
}

void register_cuda() {
    if (!::torch::cuda::is_available()) return;  // no rows without a device
    for (const auto& s : shapes()) {
        configure(benchmark::RegisterBenchmark(row("cuda", s.name, "memory_read", "baseline").c_str(), cuda_read, s.shape));
        for (const auto& [m, name] : torch_methods)
            configure(benchmark::RegisterBenchmark(row("cuda", s.name, name, "torch_ops").c_str(), cuda_torch_ops, m, s.shape));
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            if constexpr (M::form != camkit::method_form::projection)
                configure(benchmark::RegisterBenchmark(row("cuda", s.name, std::string(M::name), "camkit").c_str(),
                                                       cuda_camkit<M>, s.shape));
        });
    }
}

int register_all() {
    register_cuda();
    for (const auto& s : shapes())
        for (const auto& [m, name] : torch_methods) {
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "torch_t1").c_str(), torch_bench, m, s.shape, 1));
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "torch_t2").c_str(), torch_bench, m, s.shape, 2));
        }
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace camkit_bench
