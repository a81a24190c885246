// A translation unit as a user who drops the headers in writes it, compiled by the CTest test
// DropIn.CompilesWithoutWarnings with nothing but -I include, -O3 and -Wall -Wextra -Werror (none
// of camkit's CMake flags, -Wno-psabi among them): it must compile without a warning.
#include <camkit/camkit.hpp>

#include <vector>

// GCC's -Wpsabi for the kernels' packs, reported at the end of the unit (include/camkit/simd.hpp).
int explain_once() {
    const camkit::tensor<float> A(camkit::shape_t{1, 4, 8, 8}, 1.0f), G(camkit::shape_t{1, 4, 8, 8}, 0.5f);
    const auto e = camkit::explain<camkit::grad_cam>(A, G);
    return e.map.values.empty() ? 1 : 0;
}

// GCC 12 at -O3 warned falsely (-Wstringop-overread) on copies of a tensor built in the same unit
// (camkit::tensor's copy constructor).
float score_of_region(const camkit::tensor<float>& Y) {
    const auto region = camkit::predicted_region(Y, 2);
    const auto r = camkit::seed_and_score(Y, std::vector<camkit::target>(2, camkit::mask_sum(2, region)));
    return r.scores.values[0];
}
