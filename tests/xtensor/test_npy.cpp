// npy I/O: round trips, byte-exact NumPy headers and every malformed-input error.
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include "common/temp_dir.hpp"
#include "common/error_message.hpp"

namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
    static thread_local fs::path dir;
    static thread_local std::string owner;
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (owner != test) dir = camkit_test::unique_temp_dir("camkit_test_npy"), owner = test;
    return (dir / name).string();
}

std::vector<std::byte> to_bytes(const std::string& s) {
    std::vector<std::byte> b(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(static_cast<unsigned char>(s[i]));
    return b;
}

// A version-1.0 npy file with the given header text (unpadded) and `data_bytes` zero bytes of data.
std::vector<std::byte> npy_bytes(const std::string& header, std::size_t data_bytes, char major = 1) {
    std::string s = "\x93NUMPY";
    s += major;
    s += '\0';
    s += static_cast<char>(header.size() & 0xff);
    s += static_cast<char>(header.size() >> 8);
    s += header;
    s.append(data_bytes, '\0');
    return to_bytes(s);
}

void write_bytes(const std::string& path, const std::vector<std::byte>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::string parse_error(const std::vector<std::byte>& b) {
    return camkit_test::error_message([&] { camkit::io::parse_npy(b); });
}

TEST(Npy, RoundTripFloatAndDouble) {
    const std::string p = temp_path("round.npy");
    xt::xarray<float> a = {{1.5f, -2.0f, 3.25f}, {4.0f, 5.0f, -6.5f}};
    camkit::xtensor::save_npy(p, a);
    const auto back = camkit::xtensor::load_npy<float>(p);
    EXPECT_EQ(back.shape(), a.shape());
    EXPECT_EQ(back, a);
    const auto as_double = camkit::xtensor::load_npy<double>(p);
    EXPECT_DOUBLE_EQ(as_double(1, 2), -6.5);

    xt::xarray<double> d = {0.1, 0.2, 1e-300};
    camkit::xtensor::save_npy(p, d);
    const auto dback = camkit::xtensor::load_npy<double>(p);
    EXPECT_EQ(dback(2), 1e-300);  // float64 survives exactly
    EXPECT_EQ(camkit::xtensor::load_npy<float>(p)(0), 0.1f);
}

TEST(Npy, HeaderMatchesNumpy) {
    // np.save of np.zeros((2, 3), np.float32) writes exactly this 128-byte prefix.
    xt::xarray<float> a = xt::zeros<float>({2, 3});
    const auto bytes = camkit::io::encode_npy<float>({2, 3}, a.data());
    ASSERT_EQ(bytes.size(), 128u + 24u);
    const std::string header(reinterpret_cast<const char*>(bytes.data()) + 10, 118);
    std::string expected = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    expected.resize(117, ' ');
    EXPECT_EQ(header, expected + '\n');
    EXPECT_EQ(static_cast<int>(bytes[8]), 118);
    const auto one = camkit::io::encode_npy<double>({5}, std::vector<double>(5).data());
    EXPECT_NE(std::string(reinterpret_cast<const char*>(one.data()), 80).find("'shape': (5,)"), std::string::npos);
    const auto h = camkit::io::parse_npy(one);
    EXPECT_EQ(h.shape, (camkit::shape_t{5}));
    EXPECT_EQ(h.dtype, camkit::io::npy_dtype::float64);
    EXPECT_EQ(h.data_offset, 128u);  // NumPy's size for this header too
}

TEST(Npy, SavesStridedAndColumnMajorInCOrder) {
    const std::string p = temp_path("strided.npy");
    xt::xarray<float, xt::layout_type::column_major> c = {{1, 2, 3}, {4, 5, 6}};
    camkit::xtensor::save_npy(p, c);
    EXPECT_EQ(camkit::xtensor::load_npy<float>(p), (xt::xarray<float>{{1, 2, 3}, {4, 5, 6}}));
    xt::xarray<double> big = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    camkit::xtensor::save_npy(p, xt::view(big, xt::all(), xt::range(0, 4, 2)));
    EXPECT_EQ(camkit::xtensor::load_npy<double>(p), (xt::xarray<double>{{1, 3}, {5, 7}}));
}

TEST(Npy, ParsesLegalVariants) {
    const std::string body = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    EXPECT_EQ(camkit::io::parse_npy(npy_bytes(body, 24)).count, 3u);
    // Keys in another order, double quotes, no trailing comma, padding and a newline.
    EXPECT_EQ(parse_error(npy_bytes("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}   \n", 8)),
              "no error");
    // 0-d array and version 2.0.
    EXPECT_EQ(camkit::io::parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4)).count, 1u);
    auto v2 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4)}", 0, 2);
    v2.insert(v2.begin() + 10, {std::byte{0}, std::byte{0}});  // 4-byte header length
    EXPECT_EQ(camkit::io::parse_npy(v2).count, 0u);
}

TEST(Npy, RejectsMalformedInput) {
    const auto good = [](std::string shape, std::string descr = "'<f4'", std::string order = "False") {
        return "{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }";
    };
    EXPECT_NE(parse_error(to_bytes("hello world, not numpy")).find("bad magic"), std::string::npos);
    EXPECT_NE(parse_error(to_bytes("\x93NUMP")).find("bad magic"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)"), 8, 9)).find("version 9.0"), std::string::npos);
    auto long_header = npy_bytes(good("(2,)"), 8);
    long_header[9] = std::byte{0x7f};
    EXPECT_NE(parse_error(long_header).find("truncated npy file: the header claims"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'<i4'"), 8)).find("unsupported npy dtype '<i4'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'>f4'"), 8)).find("unsupported npy dtype '>f4'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'<f4'", "True"), 8)).find("Fortran"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2, 3)"), 20)).find("needs 24 data bytes but only 20"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)"), 9)).find("1 unexpected bytes"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(4294967296, 4294967296, 4294967296)"), 8)).find("overflows"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(99999999999999999999999,)"), 8)).find("overflows"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(-2,)"), 8)).find("non-negative"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", 8)).find("must contain"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'descr': '<f4'}", 8)).find("repeats"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'extra': 1}", 8)).find("unexpected key"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4", 8)).find("unterminated"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)") + " x", 8)).find("after the closing"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("", 8)).find("expected '{'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,"), 8)).find("malformed"), std::string::npos);
}

TEST(Npy, LoadErrorsNameTheFile) {
    const std::string missing = temp_path("does_not_exist.npy");
    fs::remove(missing);
    try {
        camkit::xtensor::load_npy<float>(missing);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()), "camkit: " + missing + ": cannot open: No such file or directory");
    }
    const std::string bad = temp_path("int.npy");
    write_bytes(bad, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8));
    try {
        camkit::xtensor::load_npy<double>(bad);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "camkit: " + bad + ": unsupported npy dtype '<i4' (expected '<f4' float32 or '<f8' float64)");
    }
    EXPECT_THROW(camkit::xtensor::load_npy<float>(fs::temp_directory_path().string()), camkit::error);
}

TEST(Npy, FailedSaveLeavesNoFile) {
    const fs::path dir = temp_path("no_such_dir");
    fs::remove_all(dir);
    const std::string p = (dir / "out.npy").string();
    EXPECT_THROW(camkit::xtensor::save_npy(p, xt::xarray<float>{1.0f}), camkit::error);
    EXPECT_FALSE(fs::exists(p));
    // Saving over a folder fails cleanly and leaves no temporary file beside it.
    const fs::path folder = temp_path("a_folder");
    fs::create_directories(folder / "inner");
    EXPECT_THROW(camkit::xtensor::save_npy(folder.string(), xt::xarray<float>{1.0f}), camkit::error);
    for (const auto& entry : fs::directory_iterator(folder.parent_path()))
        EXPECT_EQ(entry.path().filename().string().find("a_folder.tmp-"), std::string::npos);
}

}  // namespace
