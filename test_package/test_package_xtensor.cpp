// Grad-CAM on xtensor containers and an npy round trip through the xtensor wrappers of camkit::io.
#include <camkit/camkit.hpp>
#include <camkit/xtensor/npy.hpp>
#include <camkit/xtensor/xtensor.hpp>

#include <xtensor/xtensor.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>

int main() {
    const xt::xtensor<float, 4> a = {{{{1.0f, 2.0f}}, {{3.0f, 4.0f}}}};
    const xt::xtensor<float, 4> g = {{{{1.0f, 1.0f}}, {{0.0f, 0.0f}}}};
    const auto e = camkit::explain<camkit::grad_cam>(a, g);
    const auto file = std::filesystem::temp_directory_path() / "camkit_test_package_xtensor.npy";
    camkit::xtensor::save_npy(file.string(), e.map);
    const auto back = camkit::xtensor::load_npy<float>(file.string());
    std::filesystem::remove(file);
    const bool ok = e.map(0, 0, 0) == 0.0f && std::abs(e.map(0, 0, 1) - 1.0f) < 1e-6f && back == e.map;
    std::printf("camkit %s test_package (xtensor): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
