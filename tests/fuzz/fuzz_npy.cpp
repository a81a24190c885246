// libFuzzer target for the npy reader: any byte string must either parse into a header whose data
// decodes and re-encodes to the same values, or throw camkit::error; nothing else (no crash, no
// out-of-bounds read under AddressSanitizer, no undefined behaviour, no other exception).
#include <camkit/io/npy.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    camkit::io::npy_header h;
    try {
        h = camkit::io::parse_npy(bytes);
    } catch (const camkit::error&) {
        return 0;  // rejected cleanly
    }
    // A header that parsed promises exactly count elements of data: decode them both ways.
    const auto as_double = camkit::io::decode_npy<double>(bytes, h);
    const auto as_float = camkit::io::decode_npy<float>(bytes, h);
    if (as_double.size() != h.count || as_float.size() != h.count) __builtin_trap();
    const std::byte* original = bytes.data() + h.data_offset;
    if (h.dtype == camkit::io::npy_dtype::uint8 || h.dtype == camkit::io::npy_dtype::boolean) {
        // Byte types (read, never written): each value is its byte, or for bool whether it is nonzero.
        for (std::size_t i = 0; i < h.count; ++i) {
            const auto v = static_cast<unsigned>(original[i]);
            const double want = h.dtype == camkit::io::npy_dtype::boolean ? (v != 0) : v;
            if (as_double[i] != want || as_float[i] != static_cast<float>(want)) __builtin_trap();
        }
        return 0;
    }
    if (h.dtype == camkit::io::npy_dtype::int16 || h.dtype == camkit::io::npy_dtype::uint16 ||
        h.dtype == camkit::io::npy_dtype::int32 || h.dtype == camkit::io::npy_dtype::int64) {
        // Integer types (read, never written): each value is its little-endian two's complement
        // (uint16: its unsigned value).
        const std::size_t size = camkit::io::npy_itemsize(h.dtype);
        for (std::size_t i = 0; i < h.count; ++i) {
            std::uint64_t u = 0;
            for (std::size_t b = size; b-- > 0;) u = (u << 8) | static_cast<std::uint64_t>(original[i * size + b]);
            const double want = h.dtype == camkit::io::npy_dtype::uint16 ? static_cast<double>(u)
                                : size == 2 ? static_cast<double>(static_cast<std::int16_t>(static_cast<std::uint16_t>(u)))
                                : size == 4 ? static_cast<double>(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)))
                                            : static_cast<double>(static_cast<std::int64_t>(u));
            if (as_double[i] != want) __builtin_trap();
        }
        return 0;
    }
    // Re-encoding in the file's own dtype must reproduce the data bytes exactly.
    const std::size_t n = h.count * camkit::io::npy_itemsize(h.dtype);
    const auto again = h.dtype == camkit::io::npy_dtype::float64 ? camkit::io::encode_npy(h.shape, as_double.data())
                                                                     : camkit::io::encode_npy(h.shape, as_float.data());
    const auto h2 = camkit::io::parse_npy(again);
    if (h2.shape != h.shape || h2.dtype != h.dtype || h2.count != h.count) __builtin_trap();
    if (n && std::memcmp(again.data() + h2.data_offset, original, n) != 0) __builtin_trap();
    return 0;
}
