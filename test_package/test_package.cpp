// Grad-CAM on a 1x2x1x2 case: w = [1, 0], raw = [1, 2], min-max map = [0, ~1].
#include <camkit/camkit.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    const camkit::tensor<float> a({1, 2, 1, 2}, std::vector<float>{1, 2, 3, 4});
    const camkit::tensor<float> g({1, 2, 1, 2}, std::vector<float>{1, 1, 0, 0});
    const auto e = camkit::explain<camkit::grad_cam>(a, g);
    const bool ok = e.raw(0, 0, 1) == 2.0f && e.map(0, 0, 0) == 0.0f && std::abs(e.map(0, 0, 1) - 1.0f) < 1e-6f;
    std::printf("camkit %s test_package (core): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
