#pragma once
// Image files as camkit::rgb_image: PNG and JPEG reading (stb_image) and atomic PNG writing
// (stb_image_write).
//
// stb is compiled here, inside the header, with STB_IMAGE_STATIC / STB_IMAGE_WRITE_STATIC: every
// translation unit that includes this header gets its own private (internal-linkage) copy of the
// stb functions, so any number of translation units may include it without duplicate symbols at
// link time, and a program that links its own stb elsewhere does not clash with it. The price is
// some object-code size per translation unit, which the linker cannot merge. Include this header
// before any other inclusion of stb_image.h / stb_image_write.h in the same translation unit.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/overlay.hpp>
#include <camkit/xtensor/file.hpp>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(CAMKIT_STB_IMAGE_COMPILED)
#error "include <camkit/xtensor/image.hpp> before stb_image.h: it compiles its own private copy of stb"
#endif
#if defined(INCLUDE_STB_IMAGE_WRITE_H) && !defined(CAMKIT_STB_IMAGE_COMPILED)
#error "include <camkit/xtensor/image.hpp> before stb_image_write.h: it compiles its own private copy of stb"
#endif

#ifndef CAMKIT_STB_IMAGE_COMPILED
#define CAMKIT_STB_IMAGE_COMPILED
#if defined(__GNUC__)
#pragma GCC diagnostic push
// stb is C code built as C++ with internal linkage: unused functions and C idioms are expected.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuseless-cast"
#endif
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO    // camkit reads the bytes itself (detail::read_file_bytes) for uniform errors
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#include <stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO  // PNG bytes go to memory first, then to the file atomically
#include <stb_image_write.h>
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace camkit::xtensor {

/// Decodes a PNG or JPEG file held in memory into an 8-bit RGB image (grey and alpha are
/// converted to RGB); `name` is used in error messages.
inline rgb_image decode_image(std::span<const std::byte> bytes, const std::string& name) {
    detail::require(!bytes.empty(), name + ": empty image file");
    detail::require(bytes.size() <= static_cast<std::size_t>(INT_MAX), name + ": image file is too large");
    int w = 0, h = 0, channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                              &channels, 3),
        stbi_image_free);
    if (!pixels) {
        const char* why = stbi_failure_reason();
        throw error("camkit: " + name + ": cannot decode image (" + std::string(why ? why : "unknown reason") +
                    "; PNG and JPEG are supported)");
    }
    rgb_image img(static_cast<std::size_t>(h), static_cast<std::size_t>(w));
    std::memcpy(img.pixels.data(), pixels.get(), img.pixels.size());
    return img;
}

/// Reads a PNG or JPEG file into an 8-bit RGB image; throws camkit::error naming the file.
inline rgb_image read_image(const std::string& path) {
    return decode_image(detail::read_file_bytes(path), path);
}

/// Encodes 8-bit RGB pixels (row-major, 3 bytes per pixel) of the given size as PNG bytes.
inline std::vector<std::byte> encode_png(const std::uint8_t* rgb, std::size_t height, std::size_t width) {
    detail::require(height > 0 && width > 0, "encode_png: image is empty (" + std::to_string(height) + "x" +
                                                 std::to_string(width) + ")");
    detail::require(width <= static_cast<std::size_t>(INT_MAX) / 3 && height <= static_cast<std::size_t>(INT_MAX),
                    "encode_png: image " + std::to_string(height) + "x" + std::to_string(width) + " is too large");
    std::vector<std::byte> out;
    const auto append = [](void* ctx, void* data, int size) {
        auto* v = static_cast<std::vector<std::byte>*>(ctx);
        const auto* p = static_cast<const std::byte*>(data);
        v->insert(v->end(), p, p + size);
    };
    const int ok = stbi_write_png_to_func(append, &out, static_cast<int>(width), static_cast<int>(height), 3, rgb,
                                          static_cast<int>(3 * width));
    detail::require(ok != 0 && !out.empty(), "encode_png: stb_image_write failed");
    return out;
}

/// Writes 8-bit RGB pixels (row-major, 3 bytes per pixel) as a PNG file, atomically.
inline void write_png(const std::string& path, const std::uint8_t* rgb, std::size_t height, std::size_t width) {
    detail::write_file_atomically(path, encode_png(rgb, height, width));
}

/// Writes an RGB image as a PNG file, atomically (temporary file + rename): no partial file is left.
inline void write_png(const std::string& path, const rgb_image& image) {
    detail::require(image.pixels.size() == 3 * image.height * image.width,
                    "write_png: image holds " + std::to_string(image.pixels.size()) + " bytes but " +
                        std::to_string(image.height) + "x" + std::to_string(image.width) + " RGB needs " +
                        std::to_string(3 * image.height * image.width));
    write_png(path, image.pixels.data(), image.height, image.width);
}

}  // namespace camkit::xtensor
