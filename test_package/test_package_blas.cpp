// explain_many through the BLAS adapter: two targets of a 1x2x1x2 case, raw = [1, 2] and [6, 8].
#include <camkit/blas/explain_many.hpp>
#include <camkit/camkit.hpp>

#include <cstdio>
#include <vector>

int main() {
    const camkit::tensor<float> a({1, 2, 1, 2}, std::vector<float>{1, 2, 3, 4});
    const camkit::tensor<float> g({2, 2, 1, 2}, std::vector<float>{1, 1, 0, 0, 0, 0, 2, 2});
    const auto e = camkit::blas::explain_many<camkit::grad_cam>(a, g);
    const bool ok = e.raw.values == std::vector<float>{1, 2, 6, 8};
    std::printf("camkit %s test_package (blas): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
