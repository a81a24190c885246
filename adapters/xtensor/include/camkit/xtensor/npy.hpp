#pragma once
// Reading and writing NumPy .npy files as xtensor arrays: float32/float64, little-endian, C order.
// The byte-level parser lives in npy_format.hpp (standard library only, fuzzed).
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/xtensor/file.hpp>
#include <camkit/xtensor/npy_format.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xeval.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace camkit::xtensor {

/// Loads a float32 or float64 .npy file as xt::xarray<T>; throws camkit::error naming the file and
/// the problem for a missing file, a malformed or truncated file, another dtype or Fortran order.
template <class T>
xt::xarray<T> load_npy(const std::string& path) {
    static_assert(std::is_floating_point_v<T>, "load_npy converts to a floating-point type");
    const std::vector<std::byte> bytes = detail::read_file_bytes(path);
    try {
        const detail::npy_header h = detail::parse_npy(bytes);
        std::vector<T> values = detail::decode_npy<T>(bytes, h);
        xt::xarray<T> out(h.shape);
        std::copy(values.begin(), values.end(), out.data());
        return out;
    } catch (const error& e) {
        // Put the file name right after the "camkit: " prefix so a tool can print the message as is.
        std::string_view what = e.what();
        if (what.starts_with("camkit: ")) what.remove_prefix(8);
        throw error("camkit: " + path + ": " + std::string(what));
    }
}

/// Saves an xtensor expression of float (as float32) or double (as float64) to a .npy file in C
/// order; the file appears atomically (temporary file + rename), so no partial file is ever left.
template <class E>
void save_npy(const std::string& path, const E& array) {
    using T = std::remove_cv_t<typename std::decay_t<E>::value_type>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "save_npy writes float (float32) or double (float64) arrays");
    // Evaluating into a row-major container gives dense C-order data whatever the input's layout.
    const xt::xarray<T, xt::layout_type::row_major> dense = array;
    const shape_t shape(dense.shape().begin(), dense.shape().end());
    const std::vector<std::byte> bytes = detail::encode_npy<T>(shape, dense.data());
    detail::write_file_atomically(path, bytes);
}

}  // namespace camkit::xtensor
