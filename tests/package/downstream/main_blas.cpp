// A downstream program using camkit::blas: explain_many's W·A by BLAS gemm on a hand-computed case.
// One sample, two channels A = [[1, 2], [3, 4]]; target 0 has G = [[1, 1], [0, 0]] -> w = [1, 0],
// raw = [1, 2]; target 1 has G = [[0, 0], [2, 2]] -> w = [0, 2], raw = [6, 8].
#include <camkit/blas/explain_many.hpp>
#include <camkit/camkit.hpp>

#include <cstdio>

int main() {
    const camkit::tensor<float> activations({1, 2, 1, 2}, std::vector<float>{1, 2, 3, 4});
    const camkit::tensor<float> gradients({2, 2, 1, 2}, std::vector<float>{1, 1, 0, 0, 0, 0, 2, 2});
    const auto e = camkit::blas::explain_many<camkit::grad_cam>(activations, gradients);
    const float want[] = {1, 2, 6, 8};
    bool ok = e.raw.size() == 4;
    for (std::size_t i = 0; ok && i < 4; ++i) ok = e.raw[i] == want[i];
    // The gemm product itself: it reads dense float activations.
    float raw[4] = {};
    const float w[] = {1, 0, 0, 2};
    const auto view = camkit::tensor_traits<camkit::tensor<float>>::view(activations);
    ok = ok && camkit::blas::detail::gemm_can_read<float>(2, 2, view, 2);
    camkit::blas::gemm_product{}(w, 2, 2, view, 2, raw, 1u);
    for (std::size_t i = 0; ok && i < 4; ++i) ok = raw[i] == want[i];
    std::printf("camkit %s blas: raw = [%g, %g; %g, %g] -> %s\n", CAMKIT_VERSION_STRING, e.raw[0], e.raw[1], e.raw[2],
                e.raw[3], ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
