// Grad-CAM on at::Tensor.
#include <camkit/camkit.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    const at::Tensor a = at::tensor(std::vector<float>{1, 2, 3, 4}).reshape({1, 2, 1, 2});
    const at::Tensor g = at::tensor(std::vector<float>{1, 1, 0, 0}).reshape({1, 2, 1, 2});
    const auto e = camkit::explain<camkit::grad_cam>(a, g);
    const bool ok = std::abs(e.map[0][0][1].item<float>() - 1.0f) < 1e-6f;
    std::printf("camkit %s test_package (torch): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
