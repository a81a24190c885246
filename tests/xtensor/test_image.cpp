// Image I/O: PNG round trips byte for byte, JPEG decodes, errors name the file, writes are atomic.
#include <camkit/xtensor/image.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include "common/temp_dir.hpp"

namespace camkit_test {
// Defined in test_image_second_tu.cpp, which includes image.hpp too: both link into one program.
camkit::rgb_image roundtrip_in_second_tu(const camkit::rgb_image& img, const std::string& path);
}  // namespace camkit_test

namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
    static thread_local fs::path dir;
    static thread_local std::string owner;
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (owner != test) dir = camkit_test::unique_temp_dir("camkit_test_image"), owner = test;
    return (dir / name).string();
}

camkit::rgb_image pattern(std::size_t h, std::size_t w) {
    camkit::rgb_image img(h, w);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            img.set(y, x, {static_cast<std::uint8_t>(17 * x), static_cast<std::uint8_t>(31 * y), static_cast<std::uint8_t>(x * y)});
    return img;
}

TEST(Image, PngRoundTripIsExact) {
    const std::string p = temp_path("pattern.png");
    const auto img = pattern(5, 7);
    camkit::xtensor::write_png(p, img);
    const auto back = camkit::xtensor::read_image(p);
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

TEST(Image, TwoTranslationUnitsShareTheHeader) {
    const auto img = pattern(3, 4);
    EXPECT_EQ(camkit_test::roundtrip_in_second_tu(img, temp_path("second.png")).pixels, img.pixels);
}

TEST(Image, DecodesJpeg) {
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
    const auto img = camkit::xtensor::decode_image(jpg, "flat.jpg");
    ASSERT_EQ(img.height, 16u);
    for (std::size_t i = 0; i < img.pixels.size(); ++i)
        EXPECT_NEAR(img.pixels[i], flat.pixels[i], 3) << i;
}

TEST(Image, ErrorsNameTheFile) {
    const std::string missing = temp_path("missing.png");
    fs::remove(missing);
    try {
        camkit::xtensor::read_image(missing);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()), "camkit: " + missing + ": cannot open: No such file or directory");
    }
    const std::string junk = temp_path("junk.png");
    std::ofstream(junk) << "this is not an image";
    try {
        camkit::xtensor::read_image(junk);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("camkit: " + junk + ": cannot decode image (", 0), 0u) << e.what();
    }
    // A PNG cut in half fails cleanly too.
    const std::string good = temp_path("good.png");
    camkit::xtensor::write_png(good, pattern(8, 8));
    auto bytes = camkit::io::read_file(good);
    bytes.resize(bytes.size() / 2);
    EXPECT_THROW(camkit::xtensor::decode_image(bytes, "half.png"), camkit::error);
    EXPECT_THROW(camkit::xtensor::decode_image({}, "empty.png"), camkit::error);
}

TEST(Image, FailedWritesLeaveNoFile) {
    const fs::path dir = temp_path("absent_dir");
    fs::remove_all(dir);
    EXPECT_THROW(camkit::xtensor::write_png((dir / "x.png").string(), pattern(2, 2)), camkit::error);
    EXPECT_FALSE(fs::exists(dir));
    camkit::rgb_image inconsistent = pattern(2, 2);
    inconsistent.width = 3;
    const std::string p = temp_path("inconsistent.png");
    fs::remove(p);
    EXPECT_THROW(camkit::xtensor::write_png(p, inconsistent), camkit::error);
    EXPECT_THROW(camkit::xtensor::write_png(p, camkit::rgb_image{}), camkit::error);
    EXPECT_FALSE(fs::exists(p));
}

}  // namespace
