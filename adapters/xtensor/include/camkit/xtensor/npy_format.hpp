#pragma once
// The .npy format (NumPy 1.0/2.0/3.0) on bytes, with the C++20 standard library only: a strict
// header parser, little-endian float32/float64 decoding and encoding. Every malformed input is a
// camkit::error; the parser never reads outside the span it is given (it is fuzzed).
#include <camkit/error.hpp>
#include <camkit/shape.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace camkit::detail {

/// Element types camkit reads and writes: little-endian IEEE float32 and float64.
enum class npy_dtype { float32, float64 };

/// Size in bytes of one element of `t`.
constexpr std::size_t npy_itemsize(npy_dtype t) { return t == npy_dtype::float32 ? 4 : 8; }

/// What the header of a .npy file says: shape, element type and where the data starts.
struct npy_header {
    shape_t shape;               ///< extents, outermost first (empty for a 0-d array)
    npy_dtype dtype = npy_dtype::float32;
    std::size_t data_offset = 0; ///< byte offset of the first element
    std::size_t count = 0;       ///< number of elements (product of shape)
};

namespace npy {

inline constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

[[noreturn]] inline void fail(const std::string& what) { throw error("camkit: " + what); }

/// A cursor over the header dictionary text (a Python literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`).
struct dict_reader {
    std::string_view s;
    std::size_t i = 0;

    void skip_ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    }
    bool eat(char c) {
        skip_ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    void expect(char c, const char* where) {
        if (!eat(c)) fail(std::string("malformed npy header: expected '") + c + "' " + where);
    }
    bool peek(char c) {
        skip_ws();
        return i < s.size() && s[i] == c;
    }
    std::string_view string_literal(const char* where) {
        skip_ws();
        if (i >= s.size() || (s[i] != '\'' && s[i] != '"'))
            fail(std::string("malformed npy header: expected a quoted string ") + where);
        const char q = s[i++];
        const std::size_t start = i;
        while (i < s.size() && s[i] != q) {
            if (s[i] == '\\') fail("malformed npy header: escapes in strings are not supported");
            ++i;
        }
        if (i >= s.size()) fail("malformed npy header: unterminated string");
        return s.substr(start, i++ - start);
    }
    bool boolean(const char* where) {
        skip_ws();
        if (s.substr(i, 4) == "True") {
            i += 4;
            return true;
        }
        if (s.substr(i, 5) == "False") {
            i += 5;
            return false;
        }
        fail(std::string("malformed npy header: expected True or False ") + where);
    }
    std::size_t integer() {
        skip_ws();
        if (i >= s.size() || s[i] < '0' || s[i] > '9') fail("malformed npy header: shape entries must be non-negative integers");
        std::size_t v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            const auto d = static_cast<std::size_t>(s[i] - '0');
            if (v > (std::numeric_limits<std::size_t>::max() - d) / 10) fail("npy shape extent overflows");
            v = v * 10 + d;
            ++i;
        }
        if (i < s.size() && s[i] == 'L') ++i;  // Python 2 long literal, as old NumPy wrote it
        return v;
    }
    shape_t tuple() {
        expect('(', "to open the shape tuple");
        shape_t shape;
        if (eat(')')) return shape;
        for (;;) {
            shape.push_back(integer());
            if (shape.size() > 32) fail("npy shape has more than 32 axes");
            if (eat(')')) return shape;
            expect(',', "between shape entries");
            if (eat(')')) return shape;
        }
    }
};

}  // namespace npy

/// Parses the header of an in-memory .npy file and checks that the data that follows has exactly
/// the size the shape and dtype call for. Throws camkit::error on anything else: bad magic or
/// version, header beyond the end, a malformed dictionary, Fortran order, a dtype other than
/// '<f4'/'<f8', an overflowing shape, or truncated (or over-long) data.
inline npy_header parse_npy(std::span<const std::byte> bytes) {
    using npy::fail;
    if (bytes.size() < 10 || std::memcmp(bytes.data(), npy::magic, 6) != 0)
        fail("not an npy file (bad magic; expected \\x93NUMPY)");
    const auto u8 = [&](std::size_t at) { return static_cast<std::uint32_t>(bytes[at]); };
    const std::uint32_t major = u8(6), minor = u8(7);
    if ((major < 1 || major > 3) || minor != 0)
        fail("unsupported npy format version " + std::to_string(major) + "." + std::to_string(minor) +
             " (expected 1.0, 2.0 or 3.0)");
    std::size_t prefix = 10, header_len = u8(8) | (u8(9) << 8);
    if (major >= 2) {
        if (bytes.size() < 12) fail("truncated npy header");
        prefix = 12;
        header_len = u8(8) | (u8(9) << 8) | (u8(10) << 16) | (static_cast<std::size_t>(u8(11)) << 24);
    }
    if (header_len > bytes.size() - prefix)
        fail("truncated npy file: the header claims " + std::to_string(header_len) + " bytes but only " +
             std::to_string(bytes.size() - prefix) + " follow");

    npy::dict_reader r{std::string_view(reinterpret_cast<const char*>(bytes.data()) + prefix, header_len)};
    bool has_descr = false, has_order = false, has_shape = false, fortran = false;
    std::string_view descr;
    npy_header h;
    r.expect('{', "at the start of the header");
    while (!r.eat('}')) {
        const std::string_view key = r.string_literal("as a header key");
        r.expect(':', "after a header key");
        bool* seen = nullptr;
        if (key == "descr") {
            seen = &has_descr;
            descr = r.string_literal("for 'descr'");
        } else if (key == "fortran_order") {
            seen = &has_order;
            fortran = r.boolean("for 'fortran_order'");
        } else if (key == "shape") {
            seen = &has_shape;
            h.shape = r.tuple();
        } else {
            fail("npy header has an unexpected key '" + std::string(key) + "'");
        }
        if (*seen) fail("npy header repeats the key '" + std::string(key) + "'");
        *seen = true;
        if (!r.eat(',')) {
            r.expect('}', "to close the header");
            break;
        }
    }
    r.skip_ws();
    if (r.i != r.s.size()) fail("malformed npy header: text after the closing '}'");
    if (!has_descr || !has_order || !has_shape)
        fail("npy header must contain 'descr', 'fortran_order' and 'shape'");
    if (fortran) fail("Fortran-order npy arrays are not supported (save with C order)");
    if (descr == "<f4")
        h.dtype = npy_dtype::float32;
    else if (descr == "<f8")
        h.dtype = npy_dtype::float64;
    else
        fail("unsupported npy dtype '" + std::string(descr) + "' (expected '<f4' float32 or '<f8' float64)");

    std::size_t count = 1;
    for (std::size_t e : h.shape) {
        if (e != 0 && count > std::numeric_limits<std::size_t>::max() / e) fail("npy shape " + to_string(h.shape) + " overflows");
        count *= e;
    }
    const std::size_t itemsize = npy_itemsize(h.dtype);
    if (count > std::numeric_limits<std::size_t>::max() / itemsize) fail("npy shape " + to_string(h.shape) + " overflows");
    h.count = count;
    h.data_offset = prefix + header_len;
    const std::size_t have = bytes.size() - h.data_offset, need = count * itemsize;
    if (have < need)
        fail("truncated npy file: shape " + to_string(h.shape) + " needs " + std::to_string(need) +
             " data bytes but only " + std::to_string(have) + " are present");
    if (have > need)
        fail("npy file has " + std::to_string(have - need) + " unexpected bytes after the data of shape " +
             to_string(h.shape));
    return h;
}

/// Decodes the data of a parsed .npy file into a row-major vector of T (float or double).
template <class T>
std::vector<T> decode_npy(std::span<const std::byte> bytes, const npy_header& h) {
    static_assert(std::is_floating_point_v<T>, "decode_npy converts to float or double");
    require(h.data_offset <= bytes.size() && h.count * npy_itemsize(h.dtype) <= bytes.size() - h.data_offset,
            "npy data is shorter than its header says");
    std::vector<T> out(h.count);
    const std::byte* p = bytes.data() + h.data_offset;
    // Little-endian bytes are assembled explicitly so the reader is right on any host.
    if (h.dtype == npy_dtype::float32) {
        for (std::size_t i = 0; i < h.count; ++i, p += 4) {
            std::uint32_t u = 0;
            for (int b = 3; b >= 0; --b) u = (u << 8) | static_cast<std::uint32_t>(p[b]);
            out[i] = static_cast<T>(std::bit_cast<float>(u));
        }
    } else {
        for (std::size_t i = 0; i < h.count; ++i, p += 8) {
            std::uint64_t u = 0;
            for (int b = 7; b >= 0; --b) u = (u << 8) | static_cast<std::uint64_t>(p[b]);
            out[i] = static_cast<T>(std::bit_cast<double>(u));
        }
    }
    return out;
}

/// Encodes a dense row-major float or double array of `shape` as a complete .npy file
/// ('<f4' for float, '<f8' for double; version 1.0, header padded to 64 bytes as NumPy does).
template <class T>
std::vector<std::byte> encode_npy(const shape_t& shape, const T* values) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "encode_npy writes float or double");
    std::string dict = std::string("{'descr': '") + (std::is_same_v<T, float> ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (";
    std::size_t count = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
        count *= shape[i];
    }
    dict += "), }";
    std::size_t prefix = 10;
    if (dict.size() + 1 + prefix > 65535) prefix = 12;  // version 2.0 for very long headers
    const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - prefix - dict.size() - 1, ' ');
    dict += '\n';
    std::vector<std::byte> out(total + count * sizeof(T));
    std::memcpy(out.data(), npy::magic, 6);
    out[6] = std::byte{static_cast<unsigned char>(prefix == 10 ? 1 : 2)};
    out[7] = std::byte{0};
    const std::size_t len = dict.size();
    for (std::size_t b = 0; b < prefix - 8; ++b) out[8 + b] = std::byte{static_cast<unsigned char>((len >> (8 * b)) & 0xff)};
    std::memcpy(out.data() + prefix, dict.data(), dict.size());
    std::byte* p = out.data() + total;
    using U = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
    for (std::size_t i = 0; i < count; ++i) {
        U u = std::bit_cast<U>(values[i]);
        for (std::size_t b = 0; b < sizeof(T); ++b, u >>= 8) *p++ = std::byte{static_cast<unsigned char>(u & 0xff)};
    }
    return out;
}

}  // namespace camkit::detail
