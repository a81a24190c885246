// Grad-CAM on xtensor containers and a PNG encode/decode round trip (stb).
#include <camkit/xtensor/image.hpp>
#include <camkit/camkit.hpp>
#include <camkit/xtensor/xtensor.hpp>

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

int main() {
    const xt::xtensor<float, 4> a = {{{{1.0f, 2.0f}}, {{3.0f, 4.0f}}}};
    const xt::xtensor<float, 4> g = {{{{1.0f, 1.0f}}, {{0.0f, 0.0f}}}};
    const auto e = camkit::explain<camkit::grad_cam>(a, g);
    const std::uint8_t rgb[6] = {255, 0, 0, 0, 128, 255};
    const auto png = camkit::xtensor::decode_image(camkit::xtensor::encode_png(rgb, 1, 2), "memory");
    const bool ok = e.map(0, 0, 0) == 0.0f && std::abs(e.map(0, 0, 1) - 1.0f) < 1e-6f && png.width == 2 &&
                    std::equal(png.pixels.begin(), png.pixels.end(), rgb);
    std::printf("camkit %s test_package (xtensor): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
