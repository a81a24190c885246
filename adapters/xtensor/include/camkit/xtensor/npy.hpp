#pragma once
// NumPy .npy files as xtensor arrays: float32/float64, little-endian, C order. Thin wrappers of
// camkit::io's npy reader and writer (camkit/io/npy.hpp), which do the parsing, bounds and errors.
#include <camkit/error.hpp>
#include <camkit/io/npy.hpp>

#include <xtensor/xarray.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace camkit::xtensor {

/// Loads a float32 or float64 .npy file as xt::xarray<T>, decoding straight into the array; throws
/// camkit::error naming the file and the problem (see camkit::io::read_npy).
template <class T>
xt::xarray<T> load_npy(const std::string& path, std::uint64_t max_bytes = io::default_max_file_bytes) {
    static_assert(std::is_floating_point_v<T>, "load_npy converts to a floating-point type");
    const io::npy_file f = io::read_npy_file(path, max_bytes);
    xt::xarray<T> out = xt::xarray<T>::from_shape(f.header.shape);
    io::decode_npy_into<T>(f.bytes, f.header, std::span<T>(out.data(), out.size()));
    return out;
}

/// Saves an xtensor expression of float (as float32) or double (as float64) to a .npy file in C
/// order; the file appears atomically, so no partial file is ever left.
template <class E>
void save_npy(const std::string& path, const E& array) {
    using T = std::remove_cv_t<typename std::decay_t<E>::value_type>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "save_npy writes float (float32) or double (float64) arrays");
    // Evaluating into a row-major container gives dense C-order data whatever the input's layout.
    const xt::xarray<T, xt::layout_type::row_major> dense = array;
    io::write_npy<T>(path, shape_t(dense.shape().begin(), dense.shape().end()), dense.data());
}

}  // namespace camkit::xtensor
