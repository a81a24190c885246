// A downstream program using camkit::blas: explain_many's W·A through CBLAS on a hand-computed case.
// One sample, two channels A = [[1, 2], [3, 4]]; target 0 has G = [[1, 1], [0, 0]] -> w = [1, 0],
// raw = [1, 2]; target 1 has G = [[0, 0], [2, 2]] -> w = [0, 2], raw = [6, 8].
#include <camkit/camkit.hpp>

#include <cstdio>

int main() {
#ifndef CAMKIT_WITH_CBLAS
    std::printf("camkit::blas did not define CAMKIT_WITH_CBLAS\n");
    return 1;
#else
    const camkit::tensor<float> activations({1, 2, 1, 2}, std::vector<float>{1, 2, 3, 4});
    const camkit::tensor<float> gradients({2, 2, 1, 2}, std::vector<float>{1, 1, 0, 0, 0, 0, 2, 2});
    const auto e = camkit::explain_many<camkit::grad_cam>(activations, gradients);
    const float want[] = {1, 2, 6, 8};
    bool ok = e.raw.size() == 4;
    for (std::size_t i = 0; ok && i < 4; ++i) ok = e.raw[i] == want[i];
    // The CBLAS path itself: it takes dense float activations.
    float raw[4] = {};
    const float w[] = {1, 0, 0, 2};
    ok = ok && camkit::detail::blas_weighted_sum<float>(w, 2, 2, camkit::tensor_traits<camkit::tensor<float>>::view(activations),
                                                        2, raw, 1);
    for (std::size_t i = 0; ok && i < 4; ++i) ok = raw[i] == want[i];
    std::printf("camkit %s blas: raw = [%g, %g; %g, %g] -> %s\n", CAMKIT_VERSION_STRING, e.raw[0], e.raw[1], e.raw[2],
                e.raw[3], ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
#endif
}
