// camkit_bench_end_to_end: one end-to-end explanation path of a TorchScript model written by
// benchmarks/end_to_end.py, timed in a fresh process: the first call (what a one-shot tool pays)
// and every later call (warm per batch). benchmarks/end_to_end.py runs it once per path and
// compares it with pytorch-grad-cam and torchcam on the same weights.
//
//   camkit_bench_end_to_end MODEL.pt classify|segment PATH THREADS REPEATS
//   camkit_bench_end_to_end MODEL.pt classify|segment interleave:PATH,PATH,... THREADS REPEATS
//
// The model exports forward(x) == head(features(x)), features ending at the explained layer
// (`layer` below), and its batch as the buffer `example_input`. PATH is one of
//   fb        the model's own forward + backward: head(features(x)), the score (Y·seed).sum(),
//             autograd's gradient of the score to the layer's output; no camkit;
//   layer     camkit::torch::explain<grad_cam> at the layer by name (scripted_layer, built once);
//   tap       camkit::torch::explain<grad_cam> through a C++ tap between features and head;
// and the tap's parts, to tell where its time goes:
//   fb-seed   fb with the seed given to autograd as ∂score/∂Y (what camkit does; the least a
//             forward + backward to the layer costs);
//   fb-clone  fb-seed plus the tap's copy of the activation between features and head;
//   host, host-seed, host-cam   camkit's host work alone on one captured batch: the targets' seed
//             and scores and the maps, or either.
// classify: one Grad-CAM per sample of target class n·97 mod C, maps resized to the input size.
// segment: every class c of the batch in turn (Seg-Grad-CAM: the score of sample n is the sum of
// output[n, c] over the pixels of class c in the model's `example_regions`), maps at the input size.
// Prints one JSON line: load_ms (torch::jit::load), setup_ms (scripted_layer construction),
// first_ms and warm_ms (milliseconds of each later call, one batch = all its classes), and the same
// as the process's CPU time (first_cpu_ms, warm_cpu_ms: what a loaded machine's waiting leaves out).
// interleave: every PATH in one process, REPEATS rounds of one call of each in a rotating order (the
// load drifts alike for all, so ratios of one round's calls compare them); one JSON object per path.
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
#include <time.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

/// The process's CPU time in milliseconds: on a loaded machine it counts the work, not the waiting
/// for a core (with one thread, the one figure to compare across processes; with more, their sum).
double cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
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

/// Milliseconds of wall and CPU time of each call of one path.
struct timings {
    double first_ms = 0, first_cpu_ms = 0;
    std::vector<double> warm_ms, warm_cpu_ms;

    void time(const std::function<void()>& call, bool first) {
        const auto t0 = clock_type::now();
        const double c0 = cpu_ms();
        call();
        const double wall = ms_since(t0), cpu = cpu_ms() - c0;
        if (first) {
            first_ms = wall, first_cpu_ms = cpu;
        } else {
            warm_ms.push_back(wall), warm_cpu_ms.push_back(cpu);
        }
    }

    void print() const {
        std::printf("\"first_ms\": %.3f, \"first_cpu_ms\": %.3f", first_ms, first_cpu_ms);
        for (const auto& [name, v] : {std::pair{"warm_ms", &warm_ms}, std::pair{"warm_cpu_ms", &warm_cpu_ms}}) {
            std::printf(", \"%s\": [", name);
            for (std::size_t r = 0; r < v->size(); ++r) std::printf("%s%.3f", r ? ", " : "", (*v)[r]);
            std::printf("]");
        }
    }
};

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t start = 0;;) {
        const std::size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s MODEL.pt classify|segment PATH|interleave:PATH,PATH... THREADS REPEATS\n"
                             "  PATH: fb layer tap | fb-seed fb-clone host host-seed host-cam (the tap's parts)\n", argv[0]);
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

        std::optional<camkit::torch::scripted_layer> layer;
        camkit::torch::tap tap;
        auto split_forward = [&](const at::Tensor& x) {
            return m.run_method("head", tap(m.run_method("features", x).toTensor())).toTensor();
        };
        // The model's forward + backward to the layer: the score as (Y · seed).sum() (`fb`), or the
        // seed given to autograd as ∂score/∂Y the way camkit does (`fb-seed`), and with the tap's copy
        // of the activation between features and head (`fb-clone`): the tap's parts, one at a time.
        auto forward_backward = [&](bool seed_as_gradient, bool clone) {
            return [&, seed_as_gradient, clone] {
                for (const at::Tensor& seed : w.seeds) {
                    const at::Tensor f = m.run_method("features", w.input).toTensor();
                    const at::Tensor y = m.run_method("head", clone ? f.clone() : f).toTensor();
                    const auto g = seed_as_gradient ? torch::autograd::grad({y}, {f}, {seed})
                                                    : torch::autograd::grad({(y * seed).sum()}, {f});
                    if (!g[0].defined()) throw std::runtime_error("no gradient");
                }
            };
        };
        // camkit's host work alone on one captured batch: the targets' seed and scores and the maps.
        std::optional<camkit::torch::captured> captured;
        auto make_call = [&](const std::string& p) -> std::function<void()> {
            if (p == "fb") return forward_backward(false, false);
            if (p == "fb-seed") return forward_backward(true, false);
            if (p == "fb-clone") return forward_backward(true, true);
            if (p == "layer") {
                if (!layer) layer.emplace(m, layer_name);
                return [&] {
                    for (const auto& t : w.rounds) {
                        auto e = camkit::torch::explain<camkit::grad_cam>(*layer, w.input, t, w.opt);
                        if (!e.cam.map.defined()) throw std::runtime_error("no map");
                    }
                };
            }
            if (p == "tap")
                return [&] {
                    for (const auto& t : w.rounds) {
                        auto e = camkit::torch::explain<camkit::grad_cam>(split_forward, w.input, tap, t, w.opt);
                        if (!e.cam.map.defined()) throw std::runtime_error("no map");
                    }
                };
            if (p == "host" || p == "host-seed" || p == "host-cam") {
                if (!captured) captured = camkit::torch::capture_gradients(split_forward, w.input, tap, w.rounds.front());
                const bool seed = p != "host-cam", cam = p != "host-seed";
                return [&, seed, cam] {
                    for (const auto& t : w.rounds) {
                        if (seed && !camkit::torch::seed_and_score(captured->output, t).seed.defined())
                            throw std::runtime_error("no seed");
                        if (cam && !camkit::explain<camkit::grad_cam>(captured->activations, captured->gradients, w.opt)
                                        .map.defined())
                            throw std::runtime_error("no map");
                    }
                };
            }
            throw std::invalid_argument("unknown path " + p + " (fb, layer, tap, fb-seed, fb-clone, host, host-seed or host-cam)");
        };

        const std::string interleave = "interleave:";
        if (path.rfind(interleave, 0) != 0) {
            t0 = clock_type::now();
            const std::function<void()> call = make_call(path);
            const double setup_ms = ms_since(t0);
            timings t;
            t.time(call, true);
            for (int r = 0; r < repeats; ++r) t.time(call, false);
            std::printf("{\"path\": \"%s\", \"threads\": %d, \"load_ms\": %.3f, \"setup_ms\": %.3f, ", path.c_str(),
                        at::get_num_threads(), load_ms, setup_ms);
            t.print();
            std::printf("}\n");
            return 0;
        }
        // Every path in one process, one call of each per round in a rotating order, so that the
        // machine's load drifts alike for all: the ratios of one round's calls are what to compare.
        const std::vector<std::string> names = split_list(path.substr(interleave.size()));
        std::vector<std::function<void()>> calls;
        for (const auto& p : names) calls.push_back(make_call(p));
        std::vector<timings> t(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) t[i].time(calls[i], true);
        for (int r = 0; r < repeats; ++r)
            for (std::size_t k = 0; k < names.size(); ++k) {
                const std::size_t i = (k + static_cast<std::size_t>(r)) % names.size();
                t[i].time(calls[i], false);
            }
        std::printf("{\"interleave\": true, \"threads\": %d, \"paths\": {", at::get_num_threads());
        for (std::size_t i = 0; i < names.size(); ++i) {
            std::printf("%s\"%s\": {", i ? ", " : "", names[i].c_str());
            t[i].print();
            std::printf("}");
        }
        std::printf("}}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "camkit_bench_end_to_end: %s\n", e.what());
        return 1;
    }
    return 0;
}
