// camkit::io: an npy encode/parse/decode round trip and a PNG encode/decode round trip (stb), in memory.
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/version.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
    const std::vector<float> values{0.5f, -1.0f, 2.0f, 3.5f};
    const auto bytes = camkit::io::encode_npy<float>({2, 2}, values.data());
    const auto header = camkit::io::parse_npy(bytes);
    const auto back = camkit::io::decode_npy<float>(bytes, header);
    const std::uint8_t rgb[6] = {255, 0, 0, 0, 128, 255};
    const auto png = camkit::io::decode_image(camkit::io::encode_png(rgb, 1, 2), "memory");
    const bool ok = header.shape == camkit::shape_t{2, 2} && back == values && png.width == 2 &&
                    std::equal(png.pixels.begin(), png.pixels.end(), rgb);
    std::printf("camkit %s test_package (io): %s\n", CAMKIT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
