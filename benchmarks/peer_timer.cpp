// camkit_peer_timer: times camkit::explain on activations and gradients read from .npy files, the
// same arrays benchmarks/peers.py gives pytorch-grad-cam and torchcam, inside one process (no
// process start-up or file reading in the times). One call per repeat, each a fresh result as a
// user's call makes it; prints one JSON line with every repeat's milliseconds.
//
//   camkit_peer_timer METHOD A.npy G.npy HxW THREADS REPEATS RENORMALIZE [MAP.npy]
//
// The work timed is the whole pipeline of options: the method's map, ReLU, min-max normalization,
// bilinear resize to HxW (half-pixel centres, as cv2.resize and F.interpolate) and, with
// RENORMALIZE = 1, ReLU and min-max again after resizing (what pytorch-grad-cam's
// aggregate_multi_layers does). MAP.npy, if given, receives the finished maps of the last call so
// the script can check that both sides computed the same maps.
#include <camkit/explain.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/methods/registry.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

/// Parses "HxW" (or "L", "DxHxW") into a spatial size.
camkit::shape_t parse_extents(const std::string& s) {
    camkit::shape_t out;
    std::size_t start = 0;
    while (start <= s.size()) {
        const std::size_t x = s.find('x', start);
        out.push_back(std::stoul(s.substr(start, x - start)));
        if (x == std::string::npos) break;
        start = x + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 8 && argc != 9) {
        std::fprintf(stderr, "usage: %s METHOD A.npy G.npy HxW THREADS REPEATS RENORMALIZE [MAP.npy]\n", argv[0]);
        return 2;
    }
    try {
        const std::string method = argv[1];
        const auto A = camkit::io::read_npy<float>(argv[2]);
        const auto G = camkit::io::read_npy<float>(argv[3]);
        camkit::options opt;
        opt.size = parse_extents(argv[4]);
        opt.threads = std::stoi(argv[5]);
        const int repeats = std::stoi(argv[6]);
        opt.renormalize = std::string(argv[7]) == "1";
        std::vector<double> ms;
        camkit::tensor<float> last;
        const bool known = camkit::with_method(method, [&](auto t) {
            using M = typename decltype(t)::type;
            for (int r = 0; r < repeats; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                auto e = camkit::explain<M>(A, G, opt);
                const auto t1 = std::chrono::steady_clock::now();
                ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                last = std::move(e.map);
            }
        });
        if (!known) {
            std::fprintf(stderr, "unknown method %s (known: %s)\n", method.c_str(), camkit::method_names_joined().c_str());
            return 2;
        }
        if (argc == 9 && !last.values.empty()) camkit::io::write_npy(argv[8], last);
        std::printf("{\"method\": \"%s\", \"ms\": [", method.c_str());
        for (std::size_t i = 0; i < ms.size(); ++i) std::printf("%s%.6f", i ? ", " : "", ms[i]);
        std::printf("]}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "camkit_peer_timer: %s\n", e.what());
        return 1;
    }
    return 0;
}
