// A second translation unit including image.hpp: stb's functions have internal linkage, so the
// test program links without duplicate symbols (see image.hpp).
#include <camkit/io/image.hpp>

#include <string>

namespace camkit_test {
camkit::rgb_image roundtrip_in_second_tu(const camkit::rgb_image& img, const std::string& path) {
    camkit::io::write_png(path, img);
    return camkit::io::read_image(path);
}
}  // namespace camkit_test
