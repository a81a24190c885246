// A downstream program using camkit::core: Grad-CAM on a hand-computed 1x2x1x2 case.
// A = [[1, 2], [3, 4]] (two channels), G = [[1, 1], [0, 0]] -> w = [1, 0], raw = [1, 2],
// min-max map = [0, 1 / (1 + 1e-7)]; explain_many with a second target whose G = [[0, 0], [1, 1]]
// -> its w = [0, 1], raw = [3, 4]. In the installed-package test (CAMKIT_DOWNSTREAM_KERNELS_ONCE)
// the kernels are compiled once, in kernels_core.cpp: this file only declares them
// (camkit/kernel_instances.hpp), so a missing instance fails the link; elsewhere it stands alone.
#include <camkit/camkit.hpp>
#ifdef CAMKIT_DOWNSTREAM_KERNELS_ONCE
#include <camkit/kernel_instances.hpp>
#endif

#include <cmath>
#include <cstdio>
#include <cstring>

int main() {
    const camkit::tensor<float> activations({1, 2, 1, 2}, std::vector<float>{1, 2, 3, 4});
    const camkit::tensor<float> gradients({1, 2, 1, 2}, std::vector<float>{1, 1, 0, 0});
    const auto e = camkit::explain<camkit::grad_cam>(activations, gradients);
    const bool ok = e.weights.has_value() && (*e.weights)(0, 0) == 1.0f && (*e.weights)(0, 1) == 0.0f &&
                    e.raw(0, 0, 0) == 1.0f && e.raw(0, 0, 1) == 2.0f && e.map(0, 0, 0) == 0.0f &&
                    std::abs(e.map(0, 0, 1) - 1.0f) < 1e-6f;
    const camkit::tensor<float> two_targets({2, 2, 1, 2}, std::vector<float>{1, 1, 0, 0, 0, 0, 1, 1});
    const auto many = camkit::explain_many<camkit::grad_cam>(activations, two_targets);
    const bool many_ok = many.weights.has_value() && (*many.weights)(0, 0) == 1.0f && (*many.weights)(1, 1) == 1.0f &&
                         (*many.weights)(1, 0) == 0.0f && many.raw(0, 0, 1) == 2.0f && many.raw(1, 0, 0) == 3.0f &&
                         many.raw(1, 0, 1) == 4.0f && std::abs(many.map(1, 0, 1) - 1.0f) < 1e-6f;
#ifdef CAMKIT_DOWNSTREAM_EXPECTED_VERSION
    // The package's version (camkitConfigVersion.cmake) must be the headers' version.
    if (std::strcmp(CAMKIT_VERSION_STRING, CAMKIT_DOWNSTREAM_EXPECTED_VERSION) != 0) {
        std::printf("version mismatch: headers %s, package %s\n", CAMKIT_VERSION_STRING,
                    CAMKIT_DOWNSTREAM_EXPECTED_VERSION);
        return 1;
    }
#endif
    std::printf("camkit %s core: raw = [%g, %g], map = [%g, %g] -> %s; explain_many's second raw = [%g, %g] -> %s\n",
                CAMKIT_VERSION_STRING, e.raw(0, 0, 0), e.raw(0, 0, 1), e.map(0, 0, 0), e.map(0, 0, 1),
                ok ? "ok" : "WRONG", many.raw(1, 0, 0), many.raw(1, 0, 1), many_ok ? "ok" : "WRONG");
    return ok && many_ok ? 0 : 1;
}
