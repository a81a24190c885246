// npy I/O of camkit::io: byte-exact NumPy headers, the strict parser's every malformed-input error,
// tensor round trips, and file reads bounded by the header and a cap.
#include <camkit/io/npy.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "common/scratch_test.hpp"

namespace {

namespace fs = std::filesystem;
using camkit_test::error_message;

using Npy = camkit_test::scratch_test;

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
    return error_message([&] { camkit::io::parse_npy(b); });
}

TEST_F(Npy, TensorRoundTripFloatAndDouble) {
    const camkit::tensor<float> a({2, 3}, std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, -6.5f});
    camkit::io::write_npy(path("f.npy"), a);
    const auto back = camkit::io::read_npy<float>(path("f.npy"));
    EXPECT_EQ(back.shape, a.shape);
    EXPECT_EQ(back.values, a.values);
    EXPECT_EQ(camkit::io::read_npy<double>(path("f.npy"))(1, 2), -6.5);

    const camkit::tensor<double> d({3}, std::vector<double>{0.1, 0.2, 1e-300});
    camkit::io::write_npy(path("d.npy"), d);
    EXPECT_EQ(camkit::io::read_npy<double>(path("d.npy")).values, d.values);  // float64 survives exactly
    EXPECT_EQ(camkit::io::read_npy<float>(path("d.npy"))[0], 0.1f);
    // A raw buffer with a shape, and a 0-d array.
    const double one = 7.0;
    camkit::io::write_npy(path("scalar.npy"), camkit::shape_t{}, &one);
    const auto s = camkit::io::read_npy<double>(path("scalar.npy"));
    EXPECT_EQ(s.shape, camkit::shape_t{});
    EXPECT_EQ(s.values, std::vector<double>{7.0});
    camkit::tensor<float> broken({2, 2});
    broken.values.pop_back();
    EXPECT_EQ(error_message([&] { camkit::io::write_npy(path("broken.npy"), broken); }),
              "camkit: write_npy: tensor holds 3 values for shape [2, 2]");
}

// uint8 and bool arrays (as masks are stored: camkit refine writes its masks as '|u1') are read as
// their values, bool as 0 or 1; truncated data is still an error.
TEST_F(Npy, ReadsUint8AndBool) {
    auto u8 = npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", 4);
    const std::size_t at = u8.size() - 4;
    u8[at + 1] = std::byte{1};
    u8[at + 2] = std::byte{255};
    u8[at + 3] = std::byte{7};
    const auto h = camkit::io::parse_npy(u8);
    EXPECT_EQ(h.dtype, camkit::io::npy_dtype::uint8);
    EXPECT_EQ(h.shape, (camkit::shape_t{2, 2}));
    EXPECT_EQ(camkit::io::decode_npy<double>(u8, h), (std::vector<double>{0, 1, 255, 7}));
    auto b1 = npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 3);
    b1[b1.size() - 2] = std::byte{1};
    b1[b1.size() - 1] = std::byte{2};  // not NumPy's, but true
    const std::string file = path("mask_b1.npy");
    write_bytes(file, b1);
    EXPECT_EQ(camkit::io::read_npy<float>(file).values, (std::vector<float>{0, 1, 1}));
    EXPECT_EQ(camkit::io::read_npy_header(file).dtype, camkit::io::npy_dtype::boolean);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 5))
                  .find("needs 6 data bytes but only 5"),
              std::string::npos);
}

// int32 and int64 arrays (class indices as NumPy and torch save them) are read as their values,
// negative ones and beyond float's 2^24 too (the nearest float there).
TEST_F(Npy, ReadsInt32AndInt64) {
    auto i8 = npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24);
    const std::size_t at = i8.size() - 24;
    const std::int64_t v[3] = {3, -2, (std::int64_t{1} << 40) + 1};
    for (int k = 0; k < 3; ++k)
        for (int b = 0; b < 8; ++b)
            i8[at + 8 * k + b] = static_cast<std::byte>((static_cast<std::uint64_t>(v[k]) >> (8 * b)) & 0xff);
    const auto h = camkit::io::parse_npy(i8);
    EXPECT_EQ(h.dtype, camkit::io::npy_dtype::int64);
    EXPECT_EQ(camkit::io::decode_npy<double>(i8, h), (std::vector<double>{3, -2, 1099511627777.0}));
    EXPECT_EQ(camkit::io::decode_npy<float>(i8, h)[2], 1099511627776.0f);
    auto i4 = npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8);
    const std::size_t at4 = i4.size() - 8;
    i4[at4] = std::byte{7};
    for (int b = 0; b < 4; ++b) i4[at4 + 4 + b] = std::byte{0xff};  // -1
    EXPECT_EQ(camkit::io::decode_npy<float>(i4, camkit::io::parse_npy(i4)), (std::vector<float>{7, -1}));
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 15))
                  .find("needs 16 data bytes but only 15"),
              std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", 16))
                  .find("unsupported npy dtype '>i8'"),
              std::string::npos);
}

// int16 (CT Hounsfield units) and uint16 (MRI) volumes are read as their values.
TEST_F(Npy, ReadsInt16AndUint16) {
    auto i2 = npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (1, 3), }", 6);
    const std::size_t at = i2.size() - 6;
    const std::uint16_t v[3] = {static_cast<std::uint16_t>(-1024), 3071, 0x8000};  // -1024, 3071, -32768
    for (int k = 0; k < 3; ++k)
        for (int b = 0; b < 2; ++b) i2[at + 2 * k + b] = static_cast<std::byte>((v[k] >> (8 * b)) & 0xff);
    const auto h = camkit::io::parse_npy(i2);
    EXPECT_EQ(h.dtype, camkit::io::npy_dtype::int16);
    EXPECT_EQ(h.shape, (camkit::shape_t{1, 3}));
    EXPECT_EQ(camkit::io::decode_npy<float>(i2, h), (std::vector<float>{-1024, 3071, -32768}));
    auto u2 = i2;
    const std::string descr = "'<i2'";
    const auto text = std::string(reinterpret_cast<const char*>(u2.data()), u2.size());
    u2[text.find(descr) + 2] = static_cast<std::byte>('u');
    const auto hu = camkit::io::parse_npy(u2);
    EXPECT_EQ(hu.dtype, camkit::io::npy_dtype::uint16);
    EXPECT_EQ(camkit::io::decode_npy<double>(u2, hu), (std::vector<double>{64512, 3071, 32768}));
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", 5)).find("needs 6 data bytes but only 5"),
              std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", 4))
                  .find("'<i2' int16, '<u2' uint16, '<i4' int32 or '<i8' int64"),
              std::string::npos);
}

TEST_F(Npy, HeaderMatchesNumpy) {
    // np.save of np.zeros((2, 3), np.float32) writes exactly this 128-byte prefix.
    const std::vector<float> zeros(6, 0.0f);
    const auto bytes = camkit::io::encode_npy<float>({2, 3}, zeros.data());
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
    EXPECT_EQ(h.data_bytes(), 40u);
    EXPECT_EQ(h.file_bytes(), 168u);
}

TEST_F(Npy, ParsesLegalVariants) {
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
    // The header alone parses without its data; the whole file needs all of it.
    const auto header_only = npy_bytes(body, 0);
    EXPECT_EQ(camkit::io::parse_npy_header(header_only).file_bytes(), header_only.size() + 24);
    EXPECT_NE(parse_error(header_only).find("truncated npy file: shape [3] needs 24 data bytes but only 0"), std::string::npos);
}

TEST_F(Npy, RejectsMalformedInput) {
    const auto good = [](std::string shape, std::string descr = "'<f4'", std::string order = "False") {
        return "{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }";
    };
    EXPECT_NE(parse_error(to_bytes("hello world, not numpy")).find("bad magic"), std::string::npos);
    EXPECT_NE(parse_error(to_bytes("\x93NUMP")).find("bad magic"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)"), 8, 9)).find("version 9.0"), std::string::npos);
    auto long_header = npy_bytes(good("(2,)"), 8);
    long_header[9] = std::byte{0x7f};
    EXPECT_NE(parse_error(long_header).find("truncated npy file: the header claims"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'<u4'"), 8)).find("unsupported npy dtype '<u4'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'>f4'"), 8)).find("unsupported npy dtype '>f4'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)", "'<f4'", "True"), 8)).find("Fortran"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2, 3)"), 20)).find("needs 24 data bytes but only 20"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)"), 9)).find("1 unexpected bytes"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(4294967296, 4294967296, 4294967296)"), 8)).find("overflows"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(99999999999999999999999,)"), 8)).find("overflows"), std::string::npos);
    // count · 4 fits in size_t but the whole file (header + data) would not.
    EXPECT_NE(parse_error(npy_bytes(good("(4611686018427387903,)"), 8)).find("overflows"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(-2,)"), 8)).find("non-negative"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", 8)).find("must contain"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'descr': '<f4'}", 8)).find("repeats"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4', 'extra': 1}", 8)).find("unexpected key"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("{'descr': '<f4", 8)).find("unterminated"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,)") + " x", 8)).find("after the closing"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes("", 8)).find("expected '{'"), std::string::npos);
    EXPECT_NE(parse_error(npy_bytes(good("(2,"), 8)).find("malformed"), std::string::npos);
    std::string axes = "(";
    for (int i = 0; i < 33; ++i) axes += "1, ";
    EXPECT_NE(parse_error(npy_bytes(good(axes + ")"), 4)).find("more than 32 axes"), std::string::npos);
}

TEST_F(Npy, DecodeChecksItsOutputAndData) {
    const auto file = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    const auto h = camkit::io::parse_npy(file);
    std::vector<float> three(3);
    EXPECT_EQ(error_message([&] { camkit::io::decode_npy_into<float>(file, h, three); }),
              "camkit: decode_npy_into: the output holds 3 values but the npy data has 2");
    const std::vector<std::byte> cut(file.begin(), file.end() - 1);
    EXPECT_EQ(error_message([&] { camkit::io::decode_npy<float>(cut, h); }),
              "camkit: npy data is shorter than its header says");
}

TEST_F(Npy, FileErrorsNameTheFile) {
    const std::string missing = path("does_not_exist.npy");
    EXPECT_EQ(error_message([&] { camkit::io::read_npy<float>(missing); }),
              "camkit: " + missing + ": cannot open: No such file or directory");
    const std::string bad = path("int.npy");
    write_bytes(bad, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4));
    EXPECT_EQ(error_message([&] { camkit::io::read_npy<double>(bad); }),
              "camkit: " + bad + ": unsupported npy dtype '<f2' (expected '<f4' float32, '<f8' float64, '|u1' uint8, '|b1' bool, "
              "'<i2' int16, '<u2' uint16, '<i4' int32 or '<i8' int64)");
    const std::string cut = path("cut.npy");
    write_bytes(cut, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 12));
    EXPECT_EQ(error_message([&] { camkit::io::read_npy_header(cut); }),
              "camkit: " + cut + ": truncated npy file: shape [2, 2] needs 16 data bytes but only 12 are present");
    const std::string tiny = path("tiny.npy");
    write_bytes(tiny, to_bytes("\x93NU"));
    EXPECT_EQ(error_message([&] { camkit::io::read_npy_header(tiny); }),
              "camkit: " + tiny + ": not an npy file (bad magic; expected \\x93NUMPY)");
}

TEST_F(Npy, ReadsAreBoundedByTheHeaderAndTheCap) {
    // A header that declares far more data than the cap: refused before the data is read (the
    // file is sparse: its 4 GiB of zeros are never touched).
    const std::string huge = path("huge.npy");
    write_bytes(huge, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }", 0));
    fs::resize_file(huge, fs::file_size(huge) + (std::uintmax_t{1} << 32));
    EXPECT_EQ(camkit::io::read_npy_header(huge, UINT64_MAX).count, std::size_t{1} << 30);
    EXPECT_EQ(error_message([&] { camkit::io::read_npy<float>(huge, 1 << 20); }),
              "camkit: " + huge + ": npy file of " + std::to_string(fs::file_size(huge)) +
                  " bytes (shape [1073741824]) is larger than the limit of 1048576 bytes");
    // A header longer than NumPy ever writes is refused before it is read.
    std::vector<std::byte> long_header = to_bytes(std::string("\x93NUMPY\x02\x00", 8));
    for (std::uint8_t b : {0x00, 0x00, 0x00, 0x10}) long_header.push_back(std::byte{b});  // 256 MiB
    write_bytes(path("long_header.npy"), long_header);
    EXPECT_EQ(error_message([&] { camkit::io::read_npy_header(path("long_header.npy")); }),
              "camkit: " + path("long_header.npy") + ": npy header of 268435456 bytes is longer than the limit of 1048576");
    // Special files are refused without being opened for reading.
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    EXPECT_EQ(error_message([&] { camkit::io::read_npy<float>(path("fifo")); }),
              "camkit: " + path("fifo") + ": is not a regular file (a FIFO, socket or device cannot be read as an input)");
    EXPECT_EQ(error_message([] { camkit::io::read_npy_header("/dev/zero"); }),
              "camkit: /dev/zero: is not a regular file (a FIFO, socket or device cannot be read as an input)");
    EXPECT_EQ(error_message([&] { camkit::io::read_npy<float>(dir_.string()); }),
              "camkit: " + dir_.string() + ": is a directory, not a file");
}

}  // namespace
