// A downstream program using camkit::io alone (no xtensor, no torch): a camkit::tensor through an
// npy file and back, the file's header read on its own, and a PNG round trip (stb, found through
// the target). Every file goes to a fresh folder that is removed at the end.
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/version.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

int main() {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("camkit_downstream_io_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string npy = (dir / "map.npy").string(), png = (dir / "map.png").string();

    const camkit::tensor<double> map({1, 2, 2}, std::vector<double>{0.0, 0.25, 0.5, 1.0});
    camkit::io::write_npy(npy, map);
    const auto header = camkit::io::read_npy_header(npy);
    const auto back = camkit::io::read_npy<double>(npy);
    bool ok = header.shape == map.shape && header.dtype == camkit::io::npy_dtype::float64 && back.values == map.values;

    const std::uint8_t rgb[6] = {255, 0, 0, 0, 128, 255};
    camkit::io::write_png(png, rgb, 1, 2);
    const camkit::rgb_image img = camkit::io::read_image(png);
    ok = ok && img.height == 1 && img.width == 2 && std::equal(img.pixels.begin(), img.pixels.end(), rgb);
    std::filesystem::remove_all(dir);

#ifdef CAMKIT_DOWNSTREAM_EXPECTED_VERSION
    ok = ok && std::strcmp(CAMKIT_VERSION_STRING, CAMKIT_DOWNSTREAM_EXPECTED_VERSION) == 0;
#endif
    std::printf("camkit %s io: npy %s, png %s -> %s\n", CAMKIT_VERSION_STRING,
                back.values == map.values ? "equal" : "differs", img.width == 2 ? "2 pixels" : "wrong", ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
