#pragma once
// The image functions of camkit::io (camkit/io/image.hpp: PNG/JPEG reading, PNG writing, stb
// compiled privately per translation unit) under the xtensor adapter's namespace, for code written
// against camkit::xtensor. Include it before any other stb header, as camkit/io/image.hpp.
#include <camkit/io/image.hpp>

namespace camkit::xtensor {

using io::decode_image;
using io::encode_png;
using io::read_image;
using io::write_png;

}  // namespace camkit::xtensor
