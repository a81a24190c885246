// camkit's own rows: the memory-read baseline, the unfused reference, the fused kernels on one
// and two threads, many targets, the mask reductions and the post-processing of every map.
#include "bench_common.hpp"

#include <camkit/colormap.hpp>
#include <camkit/explain.hpp>
#include <camkit/explain_many.hpp>
#include <camkit/isa.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/overlay.hpp>
#include <camkit/targets.hpp>
#if defined(CAMKIT_BENCH_BLAS)
#include <camkit/blas/explain_many.hpp>
#endif

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace camkit_bench {
namespace {

using camkit::shape_t;
using camkit::tensor;

/// Reads A and G once (read_both): what a CAM must read, at the pace of a plain read loop. Kernels
/// that read in another order can come out a little ahead (Grad-CAM 1.09 at the large shape in the
/// run of 2026-12-06).
void memory_read(benchmark::State& st, const shape_t& shape) {
    const auto& in = inputs(shape);
    for (auto _ : st) benchmark::DoNotOptimize(read_both(in.A.data(), in.G.data(), in.A.size()));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

/// Reads A and G once in one pass over both (two streams): the baseline before 2026-12-06.
void memory_read_two_streams(benchmark::State& st, const shape_t& shape) {
    const auto& in = inputs(shape);
    for (auto _ : st) benchmark::DoNotOptimize(read_two_streams(in.A.data(), in.G.data(), in.A.size()));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

/// The straightforward reference: all channel weights in one pass over G (and A where the method
/// needs it), then the weighted sum in a second pass over A; element-wise methods as one plain loop.
template <class Method>
tensor<float> reference_raw(const tensor<float>& A, const tensor<float>& G) {
    const std::size_t N = A.shape[0], K = A.shape[1], S = A.size() / (N * K);
    tensor<float> raw(shape_t{N, S}, 0.0f);
    const camkit::plane_ops<float> ops;
    if constexpr (Method::form == camkit::method_form::channel_weights) {
        std::vector<float> w(N * K);
        for (std::size_t i = 0; i < N * K; ++i)
            w[i] = camkit::detail::channel_weight_of<Method, float>(camkit::plane<float>{A.data() + i * S, S},
                                                                    camkit::plane<float>{G.data() + i * S, S},
                                                                    nullptr, nullptr, false)
                       .weight;
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k) {
                const float* a = A.data() + (n * K + k) * S;
                float* o = raw.data() + n * S;
                for (std::size_t s = 0; s < S; ++s) o[s] += w[n * K + k] * a[s];
            }
    } else {
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k) {
                const float* a = A.data() + (n * K + k) * S;
                const float* g = G.data() + (n * K + k) * S;
                float* o = raw.data() + n * S;
                for (std::size_t s = 0; s < S; ++s) o[s] += static_cast<float>(Method::contribution(ops, a[s], g[s]));
            }
    }
    return raw;
}

template <class Method>
void reference(benchmark::State& st, const shape_t& shape) {
    const auto& in = inputs(shape);
    for (auto _ : st) benchmark::DoNotOptimize(reference_raw<Method>(in.A, in.G));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

template <class Method>
void fused(benchmark::State& st, const shape_t& shape, int threads) {
    const auto& in = inputs(shape);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::explain<Method>(in.A, in.G, opt));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

/// x [N, K, *S] stored channels-last ([N, *S, K] in memory, as PyTorch's channels_last format and
/// TensorFlow store activations and gradients) and the [N, K, *S] view of that storage, whose planes
/// are not contiguous: the kernels read it position by position (include/camkit/position_major.hpp;
/// the projection methods gather planes, kernels.hpp's plane_reader). Made once per array.
struct channels_last_array {
    tensor<float> storage;
    camkit::host_view<const float> view;
};

const channels_last_array& channels_last(const tensor<float>& x) {
    static std::map<const float*, channels_last_array> cache;
    auto it = cache.find(x.data());
    if (it == cache.end()) {
        const std::size_t N = x.shape[0], K = x.shape[1], S = x.size() / (N * K);
        shape_t stored{N};
        stored.insert(stored.end(), x.shape.begin() + 2, x.shape.end());
        stored.push_back(K);
        channels_last_array c{tensor<float>(stored), {}};
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k)
                for (std::size_t i = 0; i < S; ++i) c.storage.values[(n * S + i) * K + k] = x.values[(n * K + k) * S + i];
        c.view = camkit::host_view<const float>{c.storage.data(), x.shape, camkit::channels_last_strides(x.shape)};
        it = cache.emplace(x.data(), std::move(c)).first;
    }
    return it->second;
}

/// fused_t<threads> on channels-last memory: the same values, read from [N, *S, K].
template <class Method>
void fused_channels_last(benchmark::State& st, const shape_t& shape, int threads) {
    const auto& in = inputs(shape);
    const auto& a = channels_last(in.A);
    const auto& g = channels_last(in.G);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::explain<Method>(a.view, g.view, opt));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

/// fused_t1 with the kernels in SSE2 (camkit::set_isa): the default build's instruction set before
/// run-time dispatch, beside the dispatched one in the same binary and run.
template <class Method>
void fused_sse2(benchmark::State& st, const shape_t& shape) {
    const camkit::isa before = camkit::set_isa(camkit::isa::sse2);
    fused<Method>(st, shape, 1);
    camkit::set_isa(before);
}

#if defined(CAMKIT_BENCH_BLAS)
/// camkit::blas::explain: the projection methods' Gram matrix by BLAS syrk (LAPACK's syevd from order 512).
template <class Method>
void fused_lapack(benchmark::State& st, const shape_t& shape, int threads) {
    const auto& in = inputs(shape);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::blas::explain<Method>(in.A, in.G, opt));
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}
#endif

/// A symmetric n×n Gram matrix Xᵀ X of 2n random rows of n values in [−1, 1), made once per n.
const std::vector<double>& gram_of_order(std::size_t n) {
    static std::map<std::size_t, std::vector<double>> cache;
    auto it = cache.find(n);
    if (it == cache.end()) {
        const std::size_t rows = 2 * n;
        std::vector<float> x(rows * n);
        fill_random(x, static_cast<std::uint32_t>(n));
        std::vector<double> m(n * n, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < n; ++j) m[i * n + j] += double(x[r * n + i]) * double(x[r * n + j]);
        it = cache.emplace(n, std::move(m)).first;
    }
    return it->second;
}

/// The projection methods' eigen-solver alone (the largest eigenpair of an n×n Gram matrix):
/// camkit's (linalg.hpp), or with the BLAS adapter LAPACK's syevd (every eigenpair).
template <class Solver>
void eigen_solver(benchmark::State& st, std::size_t n, Solver solve) {
    const auto& m = gram_of_order(n);
    for (auto _ : st) benchmark::DoNotOptimize(solve(m, n).second.data());
    st.SetItemsProcessed(st.iterations());
}

/// camkit::explain_into with one explanation reused across iterations: the pipeline without
/// allocating its results (no page faults), as a loop over batches runs it.
template <class Method>
void fused_reuse(benchmark::State& st, const shape_t& shape, int threads) {
    const auto& in = inputs(shape);
    camkit::options opt;
    opt.threads = threads;
    camkit::explanation<tensor<float>> out;
    for (auto _ : st) {
        camkit::explain_into<Method>(out, in.A, in.G, opt);
        benchmark::DoNotOptimize(out.map.data());
    }
    st.SetBytesProcessed(st.iterations() * cam_bytes(shape));
}

// ---- many targets: every class of one segmentation sample --------------------------------

struct many_inputs {
    tensor<float> A, G;  // [1, K, H, W] and [C, K, H, W]
};

/// C targets of one sample with K channels of side × side positions (128: K = 64, A is 4 MiB and
/// stays in L3 across separate calls; K = 256, A is 16 MiB and does not; 7: a classifier's last layer).
const many_inputs& many(std::size_t C, std::size_t K, std::size_t side = 128) {
    static std::map<std::tuple<std::size_t, std::size_t, std::size_t>, many_inputs> cache;
    auto it = cache.find({C, K, side});
    if (it == cache.end()) {
        many_inputs m{tensor<float>(shape_t{1, K, side, side}), tensor<float>(shape_t{C, K, side, side})};
        fill_random(m.A.values, 3);
        for (float& a : m.A.values) a = a < 0 ? -a : a;
        fill_random(m.G.values, 4);
        it = cache.emplace(std::make_tuple(C, K, side), std::move(m)).first;
    }
    return it->second;
}

std::int64_t many_bytes(std::size_t C, std::size_t K, std::size_t side = 128) {
    return static_cast<std::int64_t>((C + 1) * K * side * side * sizeof(float));
}

/// Reads the activations and all C gradients once: the cost the all-classes path aims at.
void many_read(benchmark::State& st, std::size_t C, std::size_t K, std::size_t side) {
    const auto& m = many(C, K, side);
    for (auto _ : st) benchmark::DoNotOptimize(read_one(m.A.data(), m.A.size()) + read_one(m.G.data(), m.G.size()));
    st.SetBytesProcessed(st.iterations() * many_bytes(C, K, side));
}

template <class Method>
void many_matrix(benchmark::State& st, std::size_t C, std::size_t K, int threads, std::size_t side) {
    const auto& m = many(C, K, side);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::explain_many<Method>(m.A, m.G, opt));
    st.SetBytesProcessed(st.iterations() * many_bytes(C, K, side));
}

#if defined(CAMKIT_BENCH_BLAS)
/// explain_many through the BLAS adapter (W · A by gemm).
template <class Method>
void many_matrix_blas(benchmark::State& st, std::size_t C, std::size_t K, int threads) {
    const auto& m = many(C, K);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::blas::explain_many<Method>(m.A, m.G, opt));
    st.SetBytesProcessed(st.iterations() * many_bytes(C, K));
}
#endif

/// The matrix product raw = W · A of the all-classes path alone (A read once, C maps written):
/// camkit's loop, or BLAS gemm through the BLAS adapter.
template <class Product>
void many_product(benchmark::State& st, std::size_t C, std::size_t K, Product product, std::size_t side) {
    const auto& m = many(C, K, side);
    const std::size_t S = m.A.size() / K;
    std::vector<float> W(C * K), raw(C * S);
    fill_random(W, 6);
    const camkit::host_view<const float> a{m.A.data(), m.A.shape, camkit::row_major_strides(m.A.shape)};
    for (auto _ : st) {
        product(static_cast<const float*>(W.data()), C, K, a, S, raw.data(), 1u);
        benchmark::DoNotOptimize(raw.data());
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>((C + 1) * S * sizeof(float)));
}

/// explain_many on channels-last memory (channels_last below): planes the kernels gather.
template <class Method>
void many_matrix_channels_last(benchmark::State& st, std::size_t C, std::size_t K, int threads) {
    const auto& m = many(C, K);
    const auto& a = channels_last(m.A);
    const auto& g = channels_last(m.G);
    camkit::options opt;
    opt.threads = threads;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::explain_many<Method>(a.view, g.view, opt));
    st.SetBytesProcessed(st.iterations() * many_bytes(C, K));
}

template <class Method>
void many_one_by_one(benchmark::State& st, std::size_t C, std::size_t K, int threads) {
    const auto& m = many(C, K);
    camkit::options opt;
    opt.threads = threads;
    const std::size_t per = m.A.size();
    for (auto _ : st) {
        for (std::size_t c = 0; c < C; ++c) {
            // The target's gradients as a [1, K, H, W] view of row c: no copy.
            camkit::host_view<const float> g{m.G.data() + c * per, m.A.shape, camkit::row_major_strides(m.A.shape)};
            camkit::host_view<const float> a{m.A.data(), m.A.shape, camkit::row_major_strides(m.A.shape)};
            benchmark::DoNotOptimize(camkit::explain<Method>(a, g, opt));
        }
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(2 * C * per * sizeof(float)));
}

// ---- mask reductions: scores and seeds of a segmentation output ---------------------------

void targets_bench(benchmark::State& st, bool use_mask) {
    tensor<float> Y(shape_t{8, 21, 128, 128});
    fill_random(Y.values, 5);
    std::vector<camkit::target> ts;
    for (std::size_t n = 0; n < 8; ++n) {
        if (use_mask) {
            tensor<float> mask(shape_t{128, 128});
            for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = (i / 128) % 3 == 0 ? 1.0f : 0.0f;
            ts.push_back(camkit::mask_sum(n % 21, std::move(mask)));
        } else {
            ts.push_back(camkit::whole_image(n % 21));
        }
    }
    for (auto _ : st) benchmark::DoNotOptimize(camkit::seed_and_score(Y, std::span<const camkit::target>(ts)));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(2 * Y.size() * sizeof(float)));
}

void predicted_region_bench(benchmark::State& st) {
    tensor<float> Y(shape_t{8, 21, 128, 128});
    fill_random(Y.values, 6);
    for (auto _ : st) benchmark::DoNotOptimize(camkit::predicted_region(Y, 3));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(Y.size() * sizeof(float)));
}

// ---- post-processing of every map ---------------------------------------------------------

tensor<float> random_maps(shape_t shape, std::uint32_t seed) {
    tensor<float> t(std::move(shape));
    fill_random(t.values, seed);
    return t;
}

void normalize_bench(benchmark::State& st, shape_t shape) {
    const tensor<float> maps = random_maps(shape, 7);
    for (auto _ : st) {
        tensor<float> m = maps;
        camkit::relu_inplace(m);
        camkit::normalize_inplace(m, camkit::normalization::min_max);
        benchmark::DoNotOptimize(m.data());
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(maps.size() * sizeof(float)));
}

void resize_bench(benchmark::State& st, shape_t from, shape_t to) {
    const tensor<float> maps = random_maps(from, 8);
    tensor<float> out;
    for (auto _ : st) {
        out = camkit::resize(maps, to);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>((maps.size() + out.size()) * sizeof(float)));
}

void heatmap_bench(benchmark::State& st, std::size_t side) {
    tensor<float> map = random_maps(shape_t{side, side}, 9);
    for (float& v : map.values) v = v < 0 ? -v : v;
    for (auto _ : st) benchmark::DoNotOptimize(camkit::heatmap(map, camkit::colormap::jet));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(map.size() * (sizeof(float) + 3)));
}

void overlay_bench(benchmark::State& st, std::size_t side) {
    tensor<float> map = random_maps(shape_t{side, side}, 10);
    for (float& v : map.values) v = v < 0 ? -v : v;
    camkit::rgb_image img(side, side);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<unsigned char>(i * 31);
    for (auto _ : st) benchmark::DoNotOptimize(camkit::overlay(map, img, camkit::colormap::jet, 0.5));
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(map.size() * (sizeof(float) + 6)));
}

// ---- registration -------------------------------------------------------------------------

template <class Method>
constexpr bool has_reference = Method::form != camkit::method_form::projection;

int register_all() {
    // The instruction set the kernels run in (CAMKIT_ISA or the best this CPU has), in the output's context.
    benchmark::AddCustomContext("camkit_isa", std::string(camkit::isa_name(camkit::active_isa())));
    for (const auto& s : shapes()) {
        configure(benchmark::RegisterBenchmark(row("cam", s.name, "memory_read", "baseline").c_str(), memory_read, s.shape));
        configure(benchmark::RegisterBenchmark(row("cam", s.name, "memory_read", "two_streams").c_str(),
                                               memory_read_two_streams, s.shape));
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            const std::string name(M::name);
            if constexpr (M::form == camkit::method_form::projection) {
                // Eigen-CAM is compute-bound: its Gram product is K²S/2 multiply-adds a sample, a billion at the large shape.
                if (s.name.rfind("large", 0) == 0) return;
#if defined(CAMKIT_BENCH_BLAS)
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "lapack_t1").c_str(), fused_lapack<M>, s.shape, 1));
#endif
            }
            if constexpr (has_reference<M>)
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "reference").c_str(), reference<M>, s.shape));
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "fused_t1").c_str(), fused<M>, s.shape, 1));
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "fused_t2").c_str(), fused<M>, s.shape, 2));
            if constexpr (has_reference<M>)
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "fused_sse2_t1").c_str(), fused_sse2<M>, s.shape));
            configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "reuse_t1").c_str(), fused_reuse<M>, s.shape, 1));
            const bool seg_or_vol = s.name.rfind("seg", 0) == 0 || s.name.rfind("vol", 0) == 0;
            // Projection methods: channels-last rows where positions outnumber channels (seg, 3-D).
            const bool projection = M::form == camkit::method_form::projection;
            if ((seg_or_vol || s.name.rfind("cls", 0) == 0) && (!projection || seg_or_vol)) {
                configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "channels_last_t1").c_str(),
                                                       fused_channels_last<M>, s.shape, 1));
                if (seg_or_vol && !projection)
                    configure(benchmark::RegisterBenchmark(row("cam", s.name, name, "channels_last_t2").c_str(),
                                                           fused_channels_last<M>, s.shape, 2));
            }
        });
    }
    // The eigen-solver of the projection methods at the orders of a 7 × 7 and a 14 × 14 layer (S ≤ K)
    // and of a 256- and 512-channel layer (S > K).
    for (std::size_t n : {std::size_t{49}, std::size_t{196}, std::size_t{256}, std::size_t{512}}) {
        const std::string order = "n" + std::to_string(n);
        configure(benchmark::RegisterBenchmark(row("eigen", order, "top_eigenpair", "camkit_t1").c_str(), eigen_solver<decltype(&camkit::detail::top_eigenpair)>,
                                               n, &camkit::detail::top_eigenpair));
#if defined(CAMKIT_BENCH_BLAS)
        configure(benchmark::RegisterBenchmark(row("eigen", order, "top_eigenpair", "syevd_t1").c_str(), eigen_solver<decltype(&camkit::blas::syevd_top_eigenpair)>,
                                               n, &camkit::blas::syevd_top_eigenpair));
#endif
    }
    // Eigen-CAM at a 14 × 14 layer of 1024 channels (a ResNet-50's layer3): a 196 × 196 Gram matrix a
    // sample, whose decomposition costs nearly as much as its product.
    {
        const shape_t shape{8, 1024, 14, 14};
        const std::string name = "mid_8x1024x14x14";
        configure(benchmark::RegisterBenchmark(row("cam", name, "memory_read", "baseline").c_str(), memory_read, shape));
        configure(benchmark::RegisterBenchmark(row("cam", name, "eigencam", "fused_t1").c_str(), fused<camkit::eigen_cam>, shape, 1));
#if defined(CAMKIT_BENCH_BLAS)
        configure(benchmark::RegisterBenchmark(row("cam", name, "eigencam", "lapack_t1").c_str(), fused_lapack<camkit::eigen_cam>, shape, 1));
#endif
    }
    for (auto [C, K] : {std::pair<std::size_t, std::size_t>{8, 64}, {21, 64}, {21, 256}}) {
        const std::string shape = "seg1_C" + std::to_string(C) + "x" + std::to_string(K) + "x128x128";
        configure(benchmark::RegisterBenchmark(row("many", shape, "memory_read", "baseline").c_str(), many_read, C, K, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_t1").c_str(), many_matrix<camkit::grad_cam>, C, K, 1, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_t2").c_str(), many_matrix<camkit::grad_cam>, C, K, 2, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "one_by_one_t1").c_str(), many_one_by_one<camkit::grad_cam>, C, K, 1));
        configure(benchmark::RegisterBenchmark(row("many", shape, "product_W_A", "loop_t1").c_str(),
                                               many_product<camkit::detail::loop_product>, C, K,
                                               camkit::detail::loop_product{}, std::size_t{128}));
#if defined(CAMKIT_BENCH_BLAS)
        configure(benchmark::RegisterBenchmark(row("many", shape, "product_W_A", "gemm_t1").c_str(),
                                               many_product<camkit::blas::gemm_product>, C, K,
                                               camkit::blas::gemm_product{}, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_gemm_t1").c_str(), many_matrix_blas<camkit::grad_cam>, C, K, 1));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_gemm_t2").c_str(), many_matrix_blas<camkit::grad_cam>, C, K, 2));
#endif
        if (K != 64) continue;  // the other methods at the smaller shape only
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam++", "matrix_t1").c_str(), many_matrix<camkit::grad_cam_plus_plus>, C, K, 1, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam++", "one_by_one_t1").c_str(), many_one_by_one<camkit::grad_cam_plus_plus>, C, K, 1));
        configure(benchmark::RegisterBenchmark(row("many", shape, "hirescam", "matrix_t1").c_str(), many_matrix<camkit::hires_cam>, C, K, 1, std::size_t{128}));
        configure(benchmark::RegisterBenchmark(row("many", shape, "hirescam", "one_by_one_t1").c_str(), many_one_by_one<camkit::hires_cam>, C, K, 1));
        if (C != 21) continue;
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_channels_last_t1").c_str(),
                                               many_matrix_channels_last<camkit::grad_cam>, C, K, 1));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam++", "matrix_channels_last_t1").c_str(),
                                               many_matrix_channels_last<camkit::grad_cam_plus_plus>, C, K, 1));
        configure(benchmark::RegisterBenchmark(row("many", shape, "xgradcam", "matrix_channels_last_t1").c_str(),
                                               many_matrix_channels_last<camkit::xgrad_cam>, C, K, 1));
    }
    // Every class of a classifier's 7 × 7 layer (1000 targets): 64 channels (W · A by blocks of
    // positions) and 512 (a ResNet-18's last layer: the group loop).
    for (std::size_t K : {std::size_t{64}, std::size_t{512}}) {
        const std::size_t C = 1000, side = 7;
        const std::string shape = "cls1_C1000x" + std::to_string(K) + "x7x7";
        configure(benchmark::RegisterBenchmark(row("many", shape, "memory_read", "baseline").c_str(), many_read, C, K, side));
        configure(benchmark::RegisterBenchmark(row("many", shape, "gradcam", "matrix_t1").c_str(), many_matrix<camkit::grad_cam>, C, K, 1, side));
        configure(benchmark::RegisterBenchmark(row("many", shape, "product_W_A", "loop_t1").c_str(),
                                               many_product<camkit::detail::loop_product>, C, K, camkit::detail::loop_product{}, side));
#if defined(CAMKIT_BENCH_BLAS)
        configure(benchmark::RegisterBenchmark(row("many", shape, "product_W_A", "gemm_t1").c_str(),
                                               many_product<camkit::blas::gemm_product>, C, K, camkit::blas::gemm_product{}, side));
#endif
    }
    configure(benchmark::RegisterBenchmark("targets/8x21x128x128/mask_sum/seed_and_score", targets_bench, true));
    configure(benchmark::RegisterBenchmark("targets/8x21x128x128/whole_image/seed_and_score", targets_bench, false));
    configure(benchmark::RegisterBenchmark("targets/8x21x128x128/predicted_region/mask", predicted_region_bench));
    configure(benchmark::RegisterBenchmark("post/8x128x128/relu_min_max/normalize", normalize_bench, shape_t{8, 128, 128}));
    configure(benchmark::RegisterBenchmark("post/32x7x7/relu_min_max/normalize", normalize_bench, shape_t{32, 7, 7}));
    configure(benchmark::RegisterBenchmark("post/1x16x16_to_224x224/bilinear/resize", resize_bench, shape_t{1, 16, 16}, shape_t{224, 224}));
    configure(benchmark::RegisterBenchmark("post/8x128x128_to_512x512/bilinear/resize", resize_bench, shape_t{8, 128, 128}, shape_t{512, 512}));
    configure(benchmark::RegisterBenchmark("post/1x64x64x64_to_128x128x128/trilinear/resize", resize_bench, shape_t{1, 64, 64, 64}, shape_t{128, 128, 128}));
    configure(benchmark::RegisterBenchmark("post/224x224/jet/heatmap", heatmap_bench, std::size_t{224}));
    configure(benchmark::RegisterBenchmark("post/512x512/jet/overlay", overlay_bench, std::size_t{512}));
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace camkit_bench
