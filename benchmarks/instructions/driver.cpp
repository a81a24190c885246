// The instruction-count driver of benchmarks/instructions/compare.sh: three explain calls of one
// method on one shape (cls [32, 2048, 7, 7], seg [8, 64, 128, 128], vol [1, 32, 64, 64, 64]), one
// thread; method "none" runs only the set-up, which the script subtracts. Instruction counts
// (valgrind's callgrind) do not depend on the load of a shared machine, so two versions of the
// kernels compare exactly where timings cannot; they say nothing of memory traffic.
#include <camkit/camkit.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
int main(int argc, char** argv) {
    const std::string method = argv[1];
    const camkit::shape_t shape = std::string(argv[2]) == "cls" ? camkit::shape_t{32, 2048, 7, 7}
                                : std::string(argv[2]) == "seg" ? camkit::shape_t{8, 64, 128, 128}
                                                                : camkit::shape_t{1, 32, 64, 64, 64};
    camkit::tensor<float> A(shape), G(shape);
    unsigned x = 1;
    for (auto* t : {&A, &G}) for (float& v : t->values) { x = x * 1664525u + 1013904223u; v = (x >> 8) / 16777216.f * 2 - (t == &A ? 0 : 1); }
    float sink = 0;
    camkit::with_method(method, [&](auto t) {
        using M = typename decltype(t)::type;
        for (int i = 0; i < 3; ++i) sink += camkit::explain<M>(A, G, {.threads = 1}).raw.values[7];
    });
    std::printf("%g\n", sink);
}
