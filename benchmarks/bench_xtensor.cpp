// Plain xtensor expressions, the way a user of xtensor writes a CAM without camkit's kernels:
// xt::mean / xt::sum over the spatial axes, broadcasting against A, xt::sum over channels.
#include "bench_common.hpp"

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xview.hpp>

#include <numeric>
#include <string>
#include <vector>

namespace camkit_bench {
namespace {

using shape_vec = std::vector<std::size_t>;

auto adapt(const camkit::tensor<float>& t) {
    return xt::adapt(t.data(), t.size(), xt::no_ownership(), shape_vec(t.shape.begin(), t.shape.end()));
}

shape_vec spatial_axes(std::size_t rank) {
    shape_vec ax(rank - 2);
    std::iota(ax.begin(), ax.end(), std::size_t{2});
    return ax;
}

enum class xt_method { grad_cam, hires_cam, grad_cam_plus_plus, xgrad_cam, layer_cam, grad_cam_elementwise };

xt::xarray<float> xt_raw(xt_method m, const camkit::tensor<float>& At, const camkit::tensor<float>& Gt) {
    const auto A = adapt(At);
    const auto G = adapt(Gt);
    const auto ax = spatial_axes(At.shape.size());
    switch (m) {
        case xt_method::grad_cam: {
            xt::xarray<float> w = xt::mean(G, ax, xt::keep_dims | xt::evaluation_strategy::immediate);
            return xt::sum(w * A, {1}, xt::evaluation_strategy::immediate);
        }
        case xt_method::hires_cam:
            return xt::sum(A * G, {1}, xt::evaluation_strategy::immediate);
        case xt_method::layer_cam:
            return xt::sum(xt::maximum(G, 0.0f) * A, {1}, xt::evaluation_strategy::immediate);
        case xt_method::grad_cam_elementwise:
            return xt::sum(xt::maximum(A * G, 0.0f), {1}, xt::evaluation_strategy::immediate);
        case xt_method::xgrad_cam: {
            xt::xarray<float> num = xt::sum(A * G, ax, xt::keep_dims | xt::evaluation_strategy::immediate);
            xt::xarray<float> den = xt::sum(A, ax, xt::keep_dims | xt::evaluation_strategy::immediate);
            xt::xarray<float> w = num / (den + 1e-7f);
            return xt::sum(w * A, {1}, xt::evaluation_strategy::immediate);
        }
        case xt_method::grad_cam_plus_plus: {
            // pytorch-grad-cam's closed form, written with numpy-style temporaries.
            xt::xarray<float> g2 = G * G;
            xt::xarray<float> g3 = g2 * G;
            xt::xarray<float> s = xt::sum(A, ax, xt::keep_dims | xt::evaluation_strategy::immediate);
            xt::xarray<float> denom = 2.0f * g2 + s * g3;
            denom = xt::where(xt::not_equal(denom, 0.0f), denom, 1.0f);
            xt::xarray<float> alpha = g2 / (denom + 1e-6f);
            alpha = xt::where(xt::not_equal(G, 0.0f), alpha, 0.0f);
            xt::xarray<float> w = xt::sum(xt::maximum(G, 0.0f) * alpha, ax, xt::keep_dims | xt::evaluation_strategy::immediate);
            return xt::sum(w * A, {1}, xt::evaluation_strategy::immediate);
        }
    }
    return {};
}

void xtensor_bench(benchmark::State& st, xt_method m, const camkit::shape_t& shape) {
    const auto& in = inputs(shape);
    for (auto _ : st) {
        xt::xarray<float> raw = xt_raw(m, in.A, in.G);
        benchmark::DoNotOptimize(raw.data());
    }
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

int register_all() {
    const std::pair<xt_method, const char*> methods[] = {
        {xt_method::grad_cam, "gradcam"},     {xt_method::hires_cam, "hirescam"},
        {xt_method::grad_cam_plus_plus, "gradcam++"}, {xt_method::xgrad_cam, "xgradcam"},
        {xt_method::layer_cam, "layercam"},   {xt_method::grad_cam_elementwise, "gradcam-elementwise"}};
    for (const auto& s : shapes()) {
        // xtensor 0.24 throws (broadcast_error, then bad_alloc) in these expressions on the
        // 5-D volume, which aborted the whole run; the volume is compared with the others only.
        if (s.shape.size() > 4) continue;
        for (const auto& [m, name] : methods)
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "xtensor").c_str(), xtensor_bench, m, s.shape));
    }
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace camkit_bench
