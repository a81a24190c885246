// camkit_bench_end_to_end: one end-to-end explanation path of a TorchScript model written by
// benchmarks/end_to_end.py, timed in a fresh process: the first call (what a one-shot tool pays)
// and every later call (warm per batch). benchmarks/end_to_end.py runs it once per path and
// compares it with pytorch-grad-cam on the same weights.
//
//   camkit_bench_end_to_end MODEL.pt classify|segment PATH THREADS REPEATS
//
// The model exports forward(x) == head(features(x)), features ending at the explained layer
// (`layer` below), and its batch as the buffer `example_input`. PATH is one of
//   fb     the model's own forward + backward: head(features(x)), the score, autograd's gradient
//          of the score to the layer's output; no camkit (the cost any CAM must pay);
//   layer  camkit::torch::explain<grad_cam> at the layer by name (scripted_layer, built once);
//   tap    camkit::torch::explain<grad_cam> through a C++ tap between features and head.
// classify: one Grad-CAM per sample of target class n·97 mod C, maps resized to the input size.
// segment: every class c of the batch in turn (Seg-Grad-CAM: the score of sample n is the sum of
// output[n, c] over the pixels of class c in the model's `example_regions`), maps at the input size.
// Prints one JSON line: load_ms (torch::jit::load), setup_ms (scripted_layer construction),
// first_ms and warm_ms (milliseconds of each later call, one batch = all its classes).
#include <camkit/explain.hpp>
#include <camkit/methods/grad_cam.hpp>
#include <camkit/targets.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/scripted.hpp>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

/// What one call explains: per classifier sample one class; per segmentation class one mask per sample.
struct workload {
    bool segment = false;
    at::Tensor input;
    std::vector<std::vector<camkit::target>> rounds;  // one entry per backward pass of a call
    std::vector<at::Tensor> seeds;                    // the same scores as ∂score/∂output, for fb
    camkit::options opt;
};

/// The workload from the model's buffers alone: no forward pass runs before the first timed call.
workload make_workload(torch::jit::Module& m, bool segment) {
    workload w;
    w.segment = segment;
    w.input = m.attr("example_input").toTensor();
    const auto n = w.input.size(0);
    for (std::int64_t d = 2; d < w.input.dim(); ++d) w.opt.size.push_back(static_cast<std::size_t>(w.input.size(d)));
    const std::int64_t classes = m.attr("num_classes").toInt();
    if (!segment) {
        std::vector<camkit::target> t;
        at::Tensor seed = at::zeros({n, classes});
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t c = (i * 97) % classes;
            t.push_back(camkit::class_score(static_cast<std::size_t>(c)));
            seed[i][c] = 1.0f;
        }
        w.rounds.push_back(std::move(t));
        w.seeds.push_back(seed);
        return w;
    }
    // The targets' regions, written by end_to_end.py: [N, *S] class indices.
    const at::Tensor regions = m.attr("example_regions").toTensor();
    for (std::int64_t c = 0; c < classes; ++c) {
        const at::Tensor region = regions.eq(c).to(at::kFloat);
        std::vector<camkit::target> t;
        for (std::int64_t i = 0; i < n; ++i) {
            const at::Tensor r = region[i].contiguous();
            camkit::tensor<float> mask(camkit::torch::shape_of(r));
            std::copy_n(r.data_ptr<float>(), r.numel(), mask.values.begin());
            t.push_back(camkit::mask_sum(static_cast<std::size_t>(c), std::move(mask)));
        }
        std::vector<std::int64_t> seed_shape = w.input.sizes().vec();
        seed_shape[1] = classes;
        at::Tensor seed = at::zeros(seed_shape);
        seed.select(1, c).copy_(region);
        w.rounds.push_back(std::move(t));
        w.seeds.push_back(seed);
    }
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s MODEL.pt classify|segment fb|layer|tap THREADS REPEATS\n", argv[0]);
        return 2;
    }
    try {
        const std::string kind = argv[2], path = argv[3];
        at::set_num_threads(std::stoi(argv[4]));
        const int repeats = std::stoi(argv[5]);
        auto t0 = clock_type::now();
        torch::jit::Module m = torch::jit::load(argv[1]);
        m.eval();
        const double load_ms = ms_since(t0);
        workload w = make_workload(m, kind == "segment");
        const std::string layer_name = kind == "segment" ? "dec1" : "layer4";

        t0 = clock_type::now();
        std::function<void()> call;
        std::optional<camkit::torch::scripted_layer> layer;
        camkit::torch::tap tap;
        auto split_forward = [&](const at::Tensor& x) {
            return m.run_method("head", tap(m.run_method("features", x).toTensor())).toTensor();
        };
        if (path == "fb") {
            call = [&] {
                for (const at::Tensor& seed : w.seeds) {
                    const at::Tensor f = m.run_method("features", w.input).toTensor();
                    const at::Tensor y = m.run_method("head", f).toTensor();
                    const at::Tensor score = (y * seed).sum();
                    const auto g = torch::autograd::grad({score}, {f});
                    if (!g[0].defined()) throw std::runtime_error("no gradient");
                }
            };
        } else if (path == "layer") {
            layer.emplace(m, layer_name);
            call = [&] {
                for (const auto& t : w.rounds) {
                    auto e = camkit::torch::explain<camkit::grad_cam>(*layer, w.input, t, w.opt);
                    if (!e.cam.map.defined()) throw std::runtime_error("no map");
                }
            };
        } else if (path == "tap") {
            call = [&] {
                for (const auto& t : w.rounds) {
                    auto e = camkit::torch::explain<camkit::grad_cam>(split_forward, w.input, tap, t, w.opt);
                    if (!e.cam.map.defined()) throw std::runtime_error("no map");
                }
            };
        } else {
            std::fprintf(stderr, "unknown path %s (fb, layer or tap)\n", path.c_str());
            return 2;
        }
        const double setup_ms = ms_since(t0);
        t0 = clock_type::now();
        call();
        const double first_ms = ms_since(t0);
        std::printf("{\"path\": \"%s\", \"threads\": %d, \"load_ms\": %.3f, \"setup_ms\": %.3f, \"first_ms\": %.3f, \"warm_ms\": [",
                    path.c_str(), at::get_num_threads(), load_ms, setup_ms, first_ms);
        for (int r = 0; r < repeats; ++r) {
            t0 = clock_type::now();
            call();
            std::printf("%s%.3f", r ? ", " : "", ms_since(t0));
        }
        std::printf("]}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "camkit_bench_end_to_end: %s\n", e.what());
        return 1;
    }
    return 0;
}
