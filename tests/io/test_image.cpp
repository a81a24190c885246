// Image I/O: PNG round trips byte for byte, JPEG decodes, errors name the file, writes are atomic,
// and a header that claims more pixels than the cap is refused before any pixel is decoded.
#include <camkit/io/image.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include "common/error_message.hpp"
#include "common/scratch_test.hpp"

namespace camkit_test {
// Defined in test_image_second_tu.cpp, which includes image.hpp too: both link into one program.
camkit::rgb_image roundtrip_in_second_tu(const camkit::rgb_image& img, const std::string& path);
}  // namespace camkit_test

namespace {

namespace fs = std::filesystem;

// Each test writes into a folder of its own, removed afterwards.
class Image : public camkit_test::scratch_test {};

camkit::rgb_image pattern(std::size_t h, std::size_t w) {
    camkit::rgb_image img(h, w);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            img.set(y, x, {static_cast<std::uint8_t>(17 * x), static_cast<std::uint8_t>(31 * y), static_cast<std::uint8_t>(x * y)});
    return img;
}

TEST_F(Image, PngRoundTripIsExact) {
    const std::string p = path("pattern.png");
    const auto img = pattern(5, 7);
    camkit::io::write_png(p, img);
    const auto back = camkit::io::read_image(p);
    EXPECT_EQ(back.height, 5u);
    EXPECT_EQ(back.width, 7u);
    EXPECT_EQ(back.pixels, img.pixels);
    EXPECT_EQ(back.at(4, 6), (camkit::rgb{102, 124, 24}));
    // The file really is a PNG: signature bytes.
    std::ifstream f(p, std::ios::binary);
    char sig[8];
    f.read(sig, 8);
    EXPECT_EQ(std::string(sig + 1, 3), "PNG");
}

TEST_F(Image, TwoTranslationUnitsShareTheHeader) {
    const auto img = pattern(3, 4);
    EXPECT_EQ(camkit_test::roundtrip_in_second_tu(img, path("second.png")).pixels, img.pixels);
}

TEST_F(Image, DecodesJpeg) {
    // A flat-colour JPEG (encoded by the same private stb copy) decodes to nearly that colour.
    camkit::rgb_image flat(16, 16);
    for (std::size_t y = 0; y < 16; ++y)
        for (std::size_t x = 0; x < 16; ++x) flat.set(y, x, {200, 100, 50});
    std::vector<std::byte> jpg;
    stbi_write_jpg_to_func(
        [](void* ctx, void* data, int size) {
            auto* v = static_cast<std::vector<std::byte>*>(ctx);
            v->insert(v->end(), static_cast<std::byte*>(data), static_cast<std::byte*>(data) + size);
        },
        &jpg, 16, 16, 3, flat.pixels.data(), 95);
    ASSERT_FALSE(jpg.empty());
    const auto img = camkit::io::decode_image(jpg, "flat.jpg");
    ASSERT_EQ(img.height, 16u);
    for (std::size_t i = 0; i < img.pixels.size(); ++i)
        EXPECT_NEAR(img.pixels[i], flat.pixels[i], 3) << i;
}

TEST_F(Image, ErrorsNameTheFile) {
    const std::string missing = path("missing.png");
    fs::remove(missing);
    try {
        camkit::io::read_image(missing);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()), "camkit: " + missing + ": cannot open: No such file or directory");
    }
    const std::string junk = path("junk.png");
    std::ofstream(junk) << "this is not an image";
    try {
        camkit::io::read_image(junk);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("camkit: " + junk + ": cannot decode image (", 0), 0u) << e.what();
    }
    // A PNG cut in half fails cleanly too.
    const std::string good = path("good.png");
    camkit::io::write_png(good, pattern(8, 8));
    auto bytes = camkit::io::read_file(good);
    bytes.resize(bytes.size() / 2);
    EXPECT_THROW(camkit::io::decode_image(bytes, "half.png"), camkit::error);
    EXPECT_THROW(camkit::io::decode_image({}, "empty.png"), camkit::error);
}

TEST_F(Image, FailedWritesLeaveNoFile) {
    const fs::path dir = path("absent_dir");
    fs::remove_all(dir);
    EXPECT_THROW(camkit::io::write_png((dir / "x.png").string(), pattern(2, 2)), camkit::error);
    EXPECT_FALSE(fs::exists(dir));
    camkit::rgb_image inconsistent = pattern(2, 2);
    inconsistent.width = 3;
    const std::string p = path("inconsistent.png");
    fs::remove(p);
    EXPECT_THROW(camkit::io::write_png(p, inconsistent), camkit::error);
    EXPECT_THROW(camkit::io::write_png(p, camkit::rgb_image{}), camkit::error);
    EXPECT_FALSE(fs::exists(p));
    // Sizes whose rows overflow stb's int are refused before any pixel is read (16 x 89478488
    // wrapped to a 144-byte buffer and crashed); the message names the size.
    const std::uint8_t none[3] = {};
    EXPECT_NE(camkit_test::error_message([&] { camkit::io::encode_png(none, 16, 89478488); }).find("16x89478488 is too large"),
              std::string::npos);
    EXPECT_THROW(camkit::io::encode_png(none, 1 << 20, 1 << 10), camkit::error);
    EXPECT_THROW(camkit::io::encode_png(none, 1, std::size_t{1} << 40), camkit::error);
    // png_fits, which callers ask before they draw, draws the same line: (3·width + 1)·height
    // bytes of rows at most INT_MAX / 2 = 1073741823.
    static_assert(camkit::io::max_png_row_bytes == 1073741823u);
    EXPECT_TRUE(camkit::io::png_fits(1, 357913940));   // 1073741821 bytes
    EXPECT_FALSE(camkit::io::png_fits(1, 357913941));  // 1073741824
    EXPECT_TRUE(camkit::io::png_fits(16, 22369620));   // 1073741776
    EXPECT_FALSE(camkit::io::png_fits(16, 22369621));  // 1073741824
    EXPECT_FALSE(camkit::io::png_fits(16, 89478488));
    EXPECT_FALSE(camkit::io::png_fits(std::size_t{1} << 40, 1));
}

/// A PNG of 1x1 pixels whose IHDR claims `height` x `width` (big-endian at bytes 16-23).
std::vector<std::byte> forged_png(std::uint32_t height, std::uint32_t width) {
    const std::uint8_t rgb[3] = {1, 2, 3};
    std::vector<std::byte> png = camkit::io::encode_png(rgb, 1, 1);
    for (int b = 0; b < 4; ++b) {
        png[16 + b] = std::byte{static_cast<unsigned char>(width >> (24 - 8 * b))};
        png[20 + b] = std::byte{static_cast<unsigned char>(height >> (24 - 8 * b))};
    }
    return png;
}

TEST_F(Image, HeaderSizeIsReadWithoutDecoding) {
    const std::uint8_t rgb[6 * 3] = {};
    const auto info = camkit::io::decode_image_info(camkit::io::encode_png(rgb, 2, 3), "x.png");
    EXPECT_EQ(info.height, 2u);
    EXPECT_EQ(info.width, 3u);
    EXPECT_EQ(info.channels, 3);
    const auto forged = camkit::io::decode_image_info(forged_png(16384, 16384), "forged.png");
    EXPECT_EQ(forged.height, 16384u);
    EXPECT_EQ(forged.width, 16384u);
    const std::string p = path("forged.png");
    const auto bytes = forged_png(5000, 7);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    EXPECT_EQ(camkit::io::read_image_info(p).height, 5000u);
    // A file longer than the 64 KiB read first: the header is found in its beginning.
    std::vector<std::uint8_t> noise(3 * 200 * 200);
    std::mt19937 rng(7);
    for (auto& v : noise) v = static_cast<std::uint8_t>(rng());  // random pixels do not compress
    camkit::io::write_png(path("large.png"), noise.data(), 200, 200);
    ASSERT_GT(fs::file_size(path("large.png")), 1u << 16);
    const auto large = camkit::io::read_image_info(path("large.png"));
    EXPECT_EQ(large.height, 200u);
    EXPECT_EQ(large.width, 200u);
    EXPECT_EQ(camkit_test::error_message([] { camkit::io::decode_image_info({}, "empty.png"); }),
              "camkit: empty.png: empty image file");
}

TEST_F(Image, TooManyPixelsAreRefusedBeforeDecoding) {
    // 16384^2 = 2^28 pixels would take 768 MiB as RGB: refused from the 60-byte file's header.
    EXPECT_EQ(camkit_test::error_message([] { camkit::io::decode_image(forged_png(16384, 16384), "forged.png"); }),
              "camkit: forged.png: image of 16384x16384 pixels is larger than the limit of 67108864 pixels");
    // The cap is the caller's: a 4x4 image with a cap of 15 pixels.
    const std::uint8_t rgb[16 * 3] = {};
    const auto png = camkit::io::encode_png(rgb, 4, 4);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::io::decode_image(png, "small.png", 15); }),
              "camkit: small.png: image of 4x4 pixels is larger than the limit of 15 pixels");
    EXPECT_EQ(camkit::io::decode_image(png, "small.png", 16).height, 4u);
    // Under the cap but lying about its size: the decoder fails on the missing data, cleanly.
    EXPECT_NE(camkit_test::error_message([] { camkit::io::decode_image(forged_png(64, 64), "liar.png"); })
                  .find("camkit: liar.png: cannot decode image ("),
              std::string::npos);
}

TEST_F(Image, SpecialFilesAreRefused) {
    EXPECT_EQ(camkit_test::error_message([] { camkit::io::read_image("/dev/zero"); }),
              "camkit: /dev/zero: is not a regular file (a FIFO, socket or device cannot be read as an input)");
    const std::string dir = path("folder.png");
    fs::create_directories(dir);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::io::read_image(dir); }),
              "camkit: " + dir + ": is a directory, not a file");
}

}  // namespace
