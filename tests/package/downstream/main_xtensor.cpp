// A downstream program using camkit::xtensor: Grad-CAM on xtensor containers (the hand-computed
// case of main_core.cpp) and an npy round trip through the xtensor wrappers of camkit::io (PNG
// files are main_io.cpp's).
#include <camkit/camkit.hpp>
#include <camkit/xtensor/npy.hpp>
#include <camkit/xtensor/xtensor.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <xtensor/xtensor.hpp>

int main() {
    const xt::xtensor<float, 4> activations = {{{{1.0f, 2.0f}}, {{3.0f, 4.0f}}}};
    const xt::xtensor<float, 4> gradients = {{{{1.0f, 1.0f}}, {{0.0f, 0.0f}}}};
    const auto e = camkit::explain<camkit::grad_cam>(activations, gradients);
    bool ok = e.raw(0, 0, 0) == 1.0f && e.raw(0, 0, 1) == 2.0f && e.map(0, 0, 0) == 0.0f &&
              std::abs(e.map(0, 0, 1) - 1.0f) < 1e-6f;

    const std::filesystem::path file =
        std::filesystem::temp_directory_path() / ("camkit_downstream_" + std::to_string(::getpid()) + ".npy");
    camkit::xtensor::save_npy(file.string(), e.map);
    const auto loaded = camkit::xtensor::load_npy<float>(file.string());
    std::filesystem::remove(file);
    ok = ok && loaded.dimension() == 3 && loaded.shape(2) == 2 && loaded(0, 0, 1) == e.map(0, 0, 1);

#ifdef CAMKIT_DOWNSTREAM_EXPECTED_VERSION
    ok = ok && std::strcmp(CAMKIT_VERSION_STRING, CAMKIT_DOWNSTREAM_EXPECTED_VERSION) == 0;
#endif
    std::printf("camkit %s xtensor: map = [%g, %g], npy round trip %s -> %s\n", CAMKIT_VERSION_STRING,
                e.map(0, 0, 0), e.map(0, 0, 1), loaded(0, 0, 1) == e.map(0, 0, 1) ? "equal" : "differs",
                ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
