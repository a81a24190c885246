// A downstream program using camkit::torch: Grad-CAM on at::Tensor (the hand-computed case of
// main_core.cpp), once through the fused host kernels and once through the torch-ops path.
#include <camkit/camkit.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

int main() {
    const std::vector<float> a{1, 2, 3, 4};
    const std::vector<float> g{1, 1, 0, 0};
    const at::Tensor activations = at::tensor(a).reshape({1, 2, 1, 2});
    const at::Tensor gradients = at::tensor(g).reshape({1, 2, 1, 2});
    const auto host = camkit::explain<camkit::grad_cam>(activations, gradients);
    const auto ops = camkit::torch::explain_with_ops<camkit::grad_cam>(activations, gradients, {});
    bool ok = true;
    for (const auto* e : {&host, &ops}) {
        ok = ok && e->map.dim() == 3 && e->map.scalar_type() == at::kFloat &&
             e->map[0][0][0].item<float>() == 0.0f && std::abs(e->map[0][0][1].item<float>() - 1.0f) < 1e-6f;
    }
#ifdef CAMKIT_DOWNSTREAM_EXPECTED_VERSION
    ok = ok && std::strcmp(CAMKIT_VERSION_STRING, CAMKIT_DOWNSTREAM_EXPECTED_VERSION) == 0;
#endif
    std::printf("camkit %s torch: map = [%g, %g] (host kernels), [%g, %g] (torch ops) -> %s\n", CAMKIT_VERSION_STRING,
                host.map[0][0][0].item<float>(), host.map[0][0][1].item<float>(), ops.map[0][0][0].item<float>(),
                ops.map[0][0][1].item<float>(), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
