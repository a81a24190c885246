#pragma once
// Image files as camkit::rgb_image (C++20 standard library + stb): PNG and JPEG reading
// (stb_image) bounded by a pixel cap checked on the header before anything is decoded, and atomic
// PNG writing (stb_image_write).
//
// stb is compiled here, inside the header, with STB_IMAGE_STATIC / STB_IMAGE_WRITE_STATIC: every
// translation unit that includes this header gets its own private (internal-linkage) copy of the
// stb functions, so any number of translation units may include it without duplicate symbols at
// link time, and a program that links its own stb elsewhere does not clash with it. The price is
// some object-code size per translation unit, which the linker cannot merge. Include this header
// before any other inclusion of stb_image.h / stb_image_write.h in the same translation unit.
#include <camkit/error.hpp>
#include <camkit/io/file.hpp>
#include <camkit/overlay.hpp>

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
#error "include <camkit/io/image.hpp> before stb_image.h: it compiles its own private copy of stb"
#endif
#if defined(INCLUDE_STB_IMAGE_WRITE_H) && !defined(CAMKIT_STB_IMAGE_COMPILED)
#error "include <camkit/io/image.hpp> before stb_image_write.h: it compiles its own private copy of stb"
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
#define STBI_NO_STDIO    // camkit reads the bytes itself (io::read_file) for uniform errors
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

namespace camkit::io {

/// The most pixels an image may have unless told otherwise: 2^26 (64 Mpx, 192 MiB as RGB), far
/// above any photograph a CAM is computed for, and far below what a forged header can claim.
inline constexpr std::size_t default_max_image_pixels = std::size_t{1} << 26;

/// An image's size as its header declares it, read without decoding the pixels.
struct image_info {
    std::size_t height = 0;
    std::size_t width = 0;
    int channels = 0;  ///< channels stored in the file (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)
};

/// Reads the size of a PNG or JPEG held in memory from its header; `name` is used in errors.
inline image_info decode_image_info(std::span<const std::byte> bytes, const std::string& name) {
    if (bytes.empty()) detail::fail_file(name, "empty image file");
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) detail::fail_file(name, "image file is too large");
    int w = 0, h = 0, channels = 0;
    if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                               &channels)) {
        const char* why = stbi_failure_reason();
        detail::fail_file(name, "cannot decode image (" + std::string(why ? why : "unknown reason") +
                                    "; PNG and JPEG are supported)");
    }
    if (w <= 0 || h <= 0) detail::fail_file(name, "cannot decode image (its header declares no pixels)");
    return {static_cast<std::size_t>(h), static_cast<std::size_t>(w), channels};
}

/// Decodes a PNG or JPEG file held in memory into an 8-bit RGB image (grey and alpha are
/// converted to RGB); `name` is used in error messages. An image whose header declares more than
/// `max_pixels` pixels is refused before any pixel memory is allocated.
inline rgb_image decode_image(std::span<const std::byte> bytes, const std::string& name,
                              std::size_t max_pixels = default_max_image_pixels) {
    const image_info info = decode_image_info(bytes, name);
    if (info.height > max_pixels / info.width)
        detail::fail_file(name, "image of " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                                    " pixels is larger than the limit of " + std::to_string(max_pixels) + " pixels");
    int w = 0, h = 0, channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                              &channels, 3),
        stbi_image_free);
    if (!pixels) {
        const char* why = stbi_failure_reason();
        detail::fail_file(name, "cannot decode image (" + std::string(why ? why : "unknown reason") +
                                    "; PNG and JPEG are supported)");
    }
    if (static_cast<std::size_t>(h) != info.height || static_cast<std::size_t>(w) != info.width)
        detail::fail_file(name, "cannot decode image (its size differs from its header's)");
    rgb_image img(info.height, info.width);
    std::memcpy(img.pixels.data(), pixels.get(), img.pixels.size());
    return img;
}

/// Reads the size of the PNG or JPEG file `path` from its header, without decoding the pixels:
/// from its first 64 KiB (where a PNG's header and nearly every JPEG's frame header lie), or from
/// the whole file (at most `max_bytes`) when the size is not found there.
inline image_info read_image_info(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    const std::uint64_t size = regular_file_size(path, max_bytes);
    constexpr std::size_t prefix = std::size_t{1} << 16;
    if (size > prefix) {
        const std::vector<std::byte> head = read_file_range(path, 0, prefix);
        int w = 0, h = 0, channels = 0;
        if (stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(head.data()), static_cast<int>(head.size()), &w, &h,
                                  &channels) &&
            w > 0 && h > 0)
            return {static_cast<std::size_t>(h), static_cast<std::size_t>(w), channels};
    }
    return decode_image_info(read_file(path, max_bytes), path);
}

/// Reads a PNG or JPEG file into an 8-bit RGB image; throws camkit::error naming the file (also
/// for a special file, a file over `max_bytes` or an image over `max_pixels`).
inline rgb_image read_image(const std::string& path, std::size_t max_pixels = default_max_image_pixels,
                            std::uint64_t max_bytes = default_max_file_bytes) {
    return decode_image(read_file(path, max_bytes), path, max_pixels);
}

/// The most bytes of filtered pixel rows, (3·width + 1)·height, that encode_png writes.
/// stb_image_write sizes those rows and its compressed stream in int: half of INT_MAX leaves the
/// compressor room (it wrapped and wrote past its buffer for a 16 x 89478488 picture).
inline constexpr std::size_t max_png_row_bytes = static_cast<std::size_t>(INT_MAX) / 2;

/// True when encode_png can write an RGB picture of height × width (callers check a picture's
/// size before they draw it).
inline constexpr bool png_fits(std::size_t height, std::size_t width) {
    return width <= (max_png_row_bytes - 1) / 3 && height <= max_png_row_bytes / (3 * width + 1);
}

/// Encodes 8-bit RGB pixels (row-major, 3 bytes per pixel) of the given size as PNG bytes.
inline std::vector<std::byte> encode_png(const std::uint8_t* rgb, std::size_t height, std::size_t width) {
    detail::require(height > 0 && width > 0, "encode_png: image is empty (" + std::to_string(height) + "x" +
                                                 std::to_string(width) + ")");
    detail::require(png_fits(height, width), [&] {
        return "encode_png: image " + std::to_string(height) + "x" + std::to_string(width) +
               " is too large for a PNG (at most " + std::to_string(max_png_row_bytes) + " bytes of pixel rows)";
    });
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

/// Encodes an RGB image as PNG bytes; throws camkit::error when its pixels do not fill its size.
inline std::vector<std::byte> encode_png(const rgb_image& image) {
    detail::require(image.pixels.size() == 3 * image.height * image.width,
                    "write_png: image holds " + std::to_string(image.pixels.size()) + " bytes but " +
                        std::to_string(image.height) + "x" + std::to_string(image.width) + " RGB needs " +
                        std::to_string(3 * image.height * image.width));
    return encode_png(image.pixels.data(), image.height, image.width);
}

/// Writes 8-bit RGB pixels (row-major, 3 bytes per pixel) as a PNG file, atomically.
inline void write_png(const std::string& path, const std::uint8_t* rgb, std::size_t height, std::size_t width) {
    write_file_atomically(path, encode_png(rgb, height, width));
}

/// Writes an RGB image as a PNG file, atomically (staging file + rename): no partial file is left.
inline void write_png(const std::string& path, const rgb_image& image) {
    write_file_atomically(path, encode_png(image));
}

}  // namespace camkit::io
