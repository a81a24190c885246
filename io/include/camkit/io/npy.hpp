#pragma once
// NumPy .npy files (format 1.0/2.0/3.0) with the C++20 standard library only: a strict header
// parser, little-endian float32/float64 decoding and encoding on bytes (fuzzed: every malformed
// input is a camkit::error and nothing is read outside the given span), and file reading into a
// camkit::tensor<T> bounded by what the header declares, and atomic file writing.
#include <camkit/error.hpp>
#include <camkit/io/file.hpp>
#include <camkit/tensor.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit::io {
/// Element types camkit reads: little-endian IEEE float32 and float64 (which it also writes); uint8
/// and bool, as masks are often stored (read as their values, bool as 0 or 1); little-endian
/// int16, uint16 (CT and MRI volumes), int32 and int64 (class indices), read as their values.
enum class npy_dtype { float32, float64, uint8, boolean, int32, int64, int16, uint16 };

/// Size in bytes of one element of `t`.
constexpr std::size_t npy_itemsize(npy_dtype t) {
    switch (t) {
        case npy_dtype::float32:
        case npy_dtype::int32: return 4;
        case npy_dtype::float64:
        case npy_dtype::int64: return 8;
        case npy_dtype::int16:
        case npy_dtype::uint16: return 2;
        default: return 1;
    }
}

/// What the header of a .npy file says: shape, element type and where the data starts.
struct npy_header {
    shape_t shape;               ///< extents, outermost first (empty for a 0-d array)
    npy_dtype dtype = npy_dtype::float32;
    std::size_t data_offset = 0; ///< byte offset of the first element
    std::size_t count = 0;       ///< number of elements (product of shape)

    /// Bytes of data the header declares (count times the element size; checked not to overflow).
    std::size_t data_bytes() const { return count * npy_itemsize(dtype); }
    /// Size of the whole file the header declares.
    std::size_t file_bytes() const { return data_offset + data_bytes(); }
};

namespace detail {

inline constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/// The longest npy header read before the dictionary is parsed; NumPy writes far shorter ones.
inline constexpr std::size_t max_header_bytes = std::size_t{1} << 20;

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

/// Runs `f`, putting `path` right after the "camkit: " prefix of a camkit::error it throws, so a
/// tool can print the message as it is.
template <class F>
decltype(auto) naming_file(const std::string& path, F&& f) {
    try {
        return f();
    } catch (const error& e) {
        std::string_view what = e.what();
        if (what.starts_with("camkit: ")) what.remove_prefix(8);
        if (what.starts_with(path + ": ")) throw;
        throw error("camkit: " + path + ": " + std::string(what));
    }
}

}  // namespace detail

/// Parses the header of a .npy file from its first bytes (at least the whole header; the data
/// need not follow). Throws camkit::error on bad magic or version, a header beyond the end of
/// `bytes`, a malformed dictionary, Fortran order, a dtype npy_dtype does not name, or a shape whose
/// byte size overflows.
inline npy_header parse_npy_header(std::span<const std::byte> bytes) {
    using detail::fail;
    if (bytes.size() < 10 || std::memcmp(bytes.data(), detail::magic, 6) != 0)
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

    detail::dict_reader r{std::string_view(reinterpret_cast<const char*>(bytes.data()) + prefix, header_len)};
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
    else if (descr == "|u1")
        h.dtype = npy_dtype::uint8;
    else if (descr == "|b1")
        h.dtype = npy_dtype::boolean;
    else if (descr == "<i4")
        h.dtype = npy_dtype::int32;
    else if (descr == "<i8")
        h.dtype = npy_dtype::int64;
    else if (descr == "<i2")
        h.dtype = npy_dtype::int16;
    else if (descr == "<u2")
        h.dtype = npy_dtype::uint16;
    else
        fail("unsupported npy dtype '" + std::string(descr) +
             "' (expected '<f4' float32, '<f8' float64, '|u1' uint8, '|b1' bool, '<i2' int16, '<u2' uint16, '<i4' "
             "int32 or '<i8' int64)");

    std::size_t count = 1;
    for (std::size_t e : h.shape) {
        if (e != 0 && count > std::numeric_limits<std::size_t>::max() / e) fail("npy shape " + to_string(h.shape) + " overflows");
        count *= e;
    }
    const std::size_t itemsize = npy_itemsize(h.dtype);
    if (count > std::numeric_limits<std::size_t>::max() / itemsize) fail("npy shape " + to_string(h.shape) + " overflows");
    h.count = count;
    h.data_offset = prefix + header_len;
    if (count * itemsize > std::numeric_limits<std::size_t>::max() - h.data_offset)
        fail("npy shape " + to_string(h.shape) + " overflows");
    return h;
}

/// Parses the header of an in-memory .npy file and checks that the data that follows has exactly
/// the size the shape and dtype call for: truncated or over-long data is an error too.
inline npy_header parse_npy(std::span<const std::byte> bytes) {
    const npy_header h = parse_npy_header(bytes);
    const std::size_t have = bytes.size() - h.data_offset, need = h.data_bytes();
    if (have < need)
        detail::fail("truncated npy file: shape " + to_string(h.shape) + " needs " + std::to_string(need) +
                     " data bytes but only " + std::to_string(have) + " are present");
    if (have > need)
        detail::fail("npy file has " + std::to_string(have - need) + " unexpected bytes after the data of shape " +
                     to_string(h.shape));
    return h;
}

/// Decodes the data of a parsed .npy file into `out` (row-major, h.count values of float or double).
template <class T>
void decode_npy_into(std::span<const std::byte> bytes, const npy_header& h, std::span<T> out) {
    static_assert(std::is_floating_point_v<T>, "decode_npy_into converts to float or double");
    camkit::detail::require(h.data_offset <= bytes.size() && h.data_bytes() <= bytes.size() - h.data_offset,
                            "npy data is shorter than its header says");
    camkit::detail::require(out.size() == h.count, "decode_npy_into: the output holds " + std::to_string(out.size()) +
                                                        " values but the npy data has " + std::to_string(h.count));
    const std::byte* p = bytes.data() + h.data_offset;
    // Little-endian bytes are assembled explicitly so the reader is right on any host.
    if (h.dtype == npy_dtype::uint8 || h.dtype == npy_dtype::boolean) {
        // bool: any nonzero byte is true (NumPy writes 0 and 1)
        for (std::size_t i = 0; i < h.count; ++i) {
            const auto v = static_cast<unsigned>(p[i]);
            out[i] = static_cast<T>(h.dtype == npy_dtype::boolean ? (v != 0) : v);
        }
    } else if (h.dtype == npy_dtype::int16 || h.dtype == npy_dtype::uint16 || h.dtype == npy_dtype::int32 ||
               h.dtype == npy_dtype::int64) {
        // Class indices as NumPy and torch save them (int64 by default), CT (int16) and MRI (uint16)
        // volumes: the nearest T.
        const int size = static_cast<int>(npy_itemsize(h.dtype));
        for (std::size_t i = 0; i < h.count; ++i, p += size) {
            std::uint64_t u = 0;
            for (int b = size - 1; b >= 0; --b) u = (u << 8) | static_cast<std::uint64_t>(p[b]);
            switch (h.dtype) {
                case npy_dtype::int16: out[i] = static_cast<T>(std::bit_cast<std::int16_t>(static_cast<std::uint16_t>(u))); break;
                case npy_dtype::uint16: out[i] = static_cast<T>(static_cast<std::uint16_t>(u)); break;
                case npy_dtype::int32: out[i] = static_cast<T>(std::bit_cast<std::int32_t>(static_cast<std::uint32_t>(u))); break;
                default: out[i] = static_cast<T>(std::bit_cast<std::int64_t>(u));
            }
        }
    } else if (h.dtype == npy_dtype::float32) {
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
}

/// Decodes the data of a parsed .npy file into a row-major vector of T (float or double).
template <class T>
std::vector<T> decode_npy(std::span<const std::byte> bytes, const npy_header& h) {
    std::vector<T> out(h.count);
    decode_npy_into<T>(bytes, h, out);
    return out;
}

/// Encodes a dense row-major float or double array of `shape` as a complete .npy file
/// ('<f4' for float, '<f8' for double; version 1.0, header padded to 64 bytes as NumPy does).
template <class T>
std::vector<std::byte> encode_npy(const shape_t& shape, const T* values) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "encode_npy writes float or double");
    std::string dict = std::string("{'descr': '") + (std::is_same_v<T, float> ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i)
        dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    const std::size_t count = element_count(shape);
    dict += "), }";
    std::size_t prefix = 10;
    if (dict.size() + 1 + prefix > 65535) prefix = 12;  // version 2.0 for very long headers
    const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - prefix - dict.size() - 1, ' ');
    dict += '\n';
    std::vector<std::byte> out(total + count * sizeof(T));
    std::memcpy(out.data(), detail::magic, 6);
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

/// A .npy file read into memory: its header and all its bytes (the data starts at data_offset).
struct npy_file {
    npy_header header;
    std::vector<std::byte> bytes;
};

/// Reads only the header of the .npy file `path` and checks that the file has exactly the size the
/// header declares, and at most `max_bytes`: the data is not read. A tool uses it to bound the
/// memory an input implies before reading it. Errors name the file.
inline npy_header read_npy_header(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    return detail::naming_file(path, [&] {
        const std::uint64_t size = regular_file_size(path, std::numeric_limits<std::uint64_t>::max());
        std::vector<std::byte> prefix = read_file_range(path, 0, 12);
        std::size_t want = prefix.size();
        if (prefix.size() >= 10 && std::memcmp(prefix.data(), detail::magic, 6) == 0) {
            const auto u8 = [&](std::size_t at) { return static_cast<std::size_t>(prefix[at]); };
            const bool v1 = u8(6) == 1;
            const std::size_t len = v1 ? (u8(8) | (u8(9) << 8))
                                       : prefix.size() < 12 ? 0 : (u8(8) | (u8(9) << 8) | (u8(10) << 16) | (u8(11) << 24));
            if (len > detail::max_header_bytes)
                detail::fail("npy header of " + std::to_string(len) + " bytes is longer than the limit of " +
                             std::to_string(detail::max_header_bytes));
            want = (v1 ? 10 : 12) + len;
        }
        if (want > prefix.size()) prefix = read_file_range(path, 0, want);
        const npy_header h = parse_npy_header(prefix);
        if (size < h.file_bytes())
            detail::fail("truncated npy file: shape " + to_string(h.shape) + " needs " + std::to_string(h.data_bytes()) +
                         " data bytes but only " + std::to_string(size - h.data_offset) + " are present");
        if (size > h.file_bytes())
            detail::fail("npy file has " + std::to_string(size - h.file_bytes()) +
                         " unexpected bytes after the data of shape " + to_string(h.shape));
        if (size > max_bytes)
            detail::fail("npy file of " + std::to_string(size) + " bytes (shape " + to_string(h.shape) +
                         ") is larger than the limit of " + std::to_string(max_bytes) + " bytes");
        return h;
    });
}

/// Reads the .npy file `path`: the header first, then exactly the bytes it declares (a file larger
/// than `max_bytes` is refused before its data is read). Errors name the file.
inline npy_file read_npy_file(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    const npy_header declared = read_npy_header(path, max_bytes);
    return detail::naming_file(path, [&] {
        npy_file f;
        f.bytes = read_file_range(path, 0, declared.file_bytes());
        f.header = parse_npy(f.bytes);  // the file may have changed since its header was read
        return f;
    });
}

/// Reads a float32, float64, uint8 or bool .npy file as a camkit::tensor<T> (T = float or double). Errors
/// name the file: a missing or special file, a malformed or truncated file, another dtype,
/// Fortran order, or a file over `max_bytes`.
template <class T>
tensor<T> read_npy(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    static_assert(std::is_floating_point_v<T>, "read_npy converts to a floating-point type");
    const npy_file f = read_npy_file(path, max_bytes);
    tensor<T> out(f.header.shape);
    decode_npy_into<T>(f.bytes, f.header, out.values);
    return out;
}

/// Writes `values` (dense, row-major, element_count(shape) of them) as a .npy file of `shape`,
/// float as '<f4' and double as '<f8', atomically: no partial file is ever left.
template <class T>
void write_npy(const std::string& path, const shape_t& shape, const T* values) {
    write_file_atomically(path, encode_npy<T>(shape, values));
}

/// Writes a camkit::tensor<float> or tensor<double> as a .npy file, atomically.
template <class T>
void write_npy(const std::string& path, const tensor<T>& t) {
    camkit::detail::require(t.values.size() == element_count(t.shape),
                            "write_npy: tensor holds " + std::to_string(t.values.size()) + " values for shape " +
                                to_string(t.shape));
    write_npy<T>(path, t.shape, t.values.data());
}

}  // namespace camkit::io
