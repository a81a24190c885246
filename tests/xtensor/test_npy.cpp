// The xtensor-facing npy and image wrappers over camkit::io: round trips of xtensor arrays in
// every layout, and errors that name the file (the parser itself is tested in tests/io).
#include <camkit/xtensor/image.hpp>
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include "common/error_message.hpp"
#include "common/scratch_test.hpp"

namespace {

namespace fs = std::filesystem;

using XtensorNpy = camkit_test::scratch_test;

TEST_F(XtensorNpy, RoundTripFloatAndDouble) {
    const std::string p = path("round.npy");
    xt::xarray<float> a = {{1.5f, -2.0f, 3.25f}, {4.0f, 5.0f, -6.5f}};
    camkit::xtensor::save_npy(p, a);
    const auto back = camkit::xtensor::load_npy<float>(p);
    EXPECT_EQ(back.shape(), a.shape());
    EXPECT_EQ(back, a);
    EXPECT_DOUBLE_EQ(camkit::xtensor::load_npy<double>(p)(1, 2), -6.5);

    xt::xarray<double> d = {0.1, 0.2, 1e-300};
    camkit::xtensor::save_npy(p, d);
    EXPECT_EQ(camkit::xtensor::load_npy<double>(p)(2), 1e-300);  // float64 survives exactly
    EXPECT_EQ(camkit::xtensor::load_npy<float>(p)(0), 0.1f);
    // The same bytes as camkit::io writes for the same values.
    EXPECT_EQ(camkit::io::read_npy<double>(p).values, (std::vector<double>{0.1, 0.2, 1e-300}));
}

TEST_F(XtensorNpy, SavesStridedAndColumnMajorInCOrder) {
    const std::string p = path("strided.npy");
    xt::xarray<float, xt::layout_type::column_major> c = {{1, 2, 3}, {4, 5, 6}};
    camkit::xtensor::save_npy(p, c);
    EXPECT_EQ(camkit::xtensor::load_npy<float>(p), (xt::xarray<float>{{1, 2, 3}, {4, 5, 6}}));
    xt::xarray<double> big = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    camkit::xtensor::save_npy(p, xt::view(big, xt::all(), xt::range(0, 4, 2)));
    EXPECT_EQ(camkit::xtensor::load_npy<double>(p), (xt::xarray<double>{{1, 3}, {5, 7}}));
    const xt::xtensor<float, 3> fixed = {{{1, 2}}, {{3, 4}}};
    camkit::xtensor::save_npy(p, fixed);
    EXPECT_EQ(camkit::io::read_npy_header(p).shape, (camkit::shape_t{2, 1, 2}));
}

TEST_F(XtensorNpy, ErrorsNameTheFileAndFailedSavesLeaveNothing) {
    const std::string missing = path("does_not_exist.npy");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::xtensor::load_npy<float>(missing); }),
              "camkit: " + missing + ": cannot open: No such file or directory");
    std::vector<float> one{1.0f};
    camkit::io::write_npy(path("small.npy"), camkit::shape_t{1}, one.data());
    EXPECT_EQ(camkit_test::error_message([&] { camkit::xtensor::load_npy<float>(path("small.npy"), 10); }),
              "camkit: " + path("small.npy") + ": npy file of 132 bytes (shape [1]) is larger than the limit of 10 bytes");
    EXPECT_THROW(camkit::xtensor::save_npy(path("no_such_dir/out.npy"), xt::xarray<float>{1.0f}), camkit::error);
    fs::create_directories(path("a_folder/inner"));
    EXPECT_THROW(camkit::xtensor::save_npy(path("a_folder"), xt::xarray<float>{1.0f}), camkit::error);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"a_folder", "small.npy"}));
}

TEST_F(XtensorNpy, ImageNamesAreCamkitIos) {
    const std::uint8_t rgb[6] = {255, 0, 0, 0, 128, 255};
    camkit::xtensor::write_png(path("x.png"), rgb, 1, 2);
    const camkit::rgb_image img = camkit::xtensor::read_image(path("x.png"));
    EXPECT_EQ(img.pixels, std::vector<std::uint8_t>(rgb, rgb + 6));
    EXPECT_EQ(camkit::xtensor::decode_image(camkit::xtensor::encode_png(rgb, 1, 2), "memory").pixels, img.pixels);
}

}  // namespace
