#pragma once
// Shapes: extents outermost first, their element counts, row-major strides and how errors print them.
#include <cstddef>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace camkit {

/// Tensor shape: extents, outermost first.
using shape_t = std::vector<std::size_t>;

/// Formats a shape as `[2, 3, 4]` for error messages.
inline std::string to_string(std::span<const std::size_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

/// Number of elements of a tensor of `shape`.
inline std::size_t element_count(std::span<const std::size_t> shape) {
    return std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>{});
}

/// Row-major strides, in elements, for a dense tensor of `shape`.
inline std::vector<std::ptrdiff_t> row_major_strides(std::span<const std::size_t> shape) {
    std::vector<std::ptrdiff_t> strides(shape.size());
    std::ptrdiff_t s = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = s;
        s *= static_cast<std::ptrdiff_t>(shape[i]);
    }
    return strides;
}

/// Strides, in elements, of an [N, K, *S] view of dense channels-last memory [N, *S, K] (PyTorch's
/// channels_last, TensorFlow's [N, H, W, K]): read in place without a copy, position by position
/// (position_major.hpp: float or double, 16 channels or more; otherwise the kernels gather planes up
/// to 64 channels at a time). `shape` is the view's, [N, K, *S] (at least two axes).
inline std::vector<std::ptrdiff_t> channels_last_strides(std::span<const std::size_t> shape) {
    std::vector<std::ptrdiff_t> strides(shape.size());
    if (shape.size() < 2) return row_major_strides(shape);
    std::ptrdiff_t s = static_cast<std::ptrdiff_t>(shape[1]);
    strides[1] = 1;
    for (std::size_t i = shape.size(); i-- > 2;) {
        strides[i] = s;
        s *= static_cast<std::ptrdiff_t>(shape[i]);
    }
    strides[0] = s;
    return strides;
}

}  // namespace camkit
