#pragma once
// Linear / bilinear / trilinear resize of maps [N, *S] with half-pixel centres, no antialiasing:
// src = (dst + 0.5)·in/out − 0.5, clamped at the border (torch's align_corners=false, OpenCV's
// INTER_LINEAR). Separable: one axis at a time.
#include <camkit/optimize.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace camkit {

namespace detail {
/// Resizes axis `axis` of a dense row-major tensor to `out_len`.
template <class T>
CAMKIT_OPTIMIZE tensor<T> resize_axis(const tensor<T>& in, std::size_t axis, std::size_t out_len) {
    const std::size_t in_len = in.shape[axis];
    shape_t out_shape = in.shape;
    out_shape[axis] = out_len;
    tensor<T> out(out_shape);
    std::size_t outer = 1, inner = 1;
    for (std::size_t i = 0; i < axis; ++i) outer *= in.shape[i];
    for (std::size_t i = axis + 1; i < in.rank(); ++i) inner *= in.shape[i];
    const double scale = static_cast<double>(in_len) / static_cast<double>(out_len);
    std::vector<std::size_t> i0(out_len), i1(out_len);
    std::vector<T> frac(out_len);
    for (std::size_t d = 0; d < out_len; ++d) {
        double src = (static_cast<double>(d) + 0.5) * scale - 0.5;
        src = std::clamp(src, 0.0, static_cast<double>(in_len - 1));
        i0[d] = static_cast<std::size_t>(src);
        i1[d] = std::min(i0[d] + 1, in_len - 1);
        frac[d] = static_cast<T>(src - static_cast<double>(i0[d]));
    }
    for (std::size_t o = 0; o < outer; ++o) {
        const T* src = in.data() + o * in_len * inner;
        T* dst = out.data() + o * out_len * inner;
        for (std::size_t d = 0; d < out_len; ++d) {
            const T* a = src + i0[d] * inner;
            const T* b = src + i1[d] * inner;
            const T f = frac[d];
            for (std::size_t j = 0; j < inner; ++j) dst[d * inner + j] = a[j] + (b[j] - a[j]) * f;
        }
    }
    return out;
}
}  // namespace detail

/// Resizes the spatial axes of maps [N, *S] to `size` (one extent per spatial axis).
template <class T>
tensor<T> resize(const tensor<T>& maps, const shape_t& size) {
    detail::require(maps.rank() >= 2 && maps.rank() <= 4,
                    "resize: maps must be [N, *S] with 1 to 3 spatial axes, got shape " + to_string(maps.shape));
    detail::require(size.size() + 1 == maps.rank(),
                    "resize: size " + to_string(size) + " must give one extent per spatial axis of maps " +
                        to_string(maps.shape));
    for (std::size_t e : size) detail::require(e > 0, "resize: size " + to_string(size) + " has a zero extent");
    // An empty source axis has no values to interpolate from (and would index out of bounds).
    for (std::size_t a = 1; a < maps.rank(); ++a)
        detail::require(maps.shape[a] > 0, "resize: maps shape " + to_string(maps.shape) + " has an empty spatial axis");
    tensor<T> out = maps;
    // The last axis first: it is the contiguous one, whose pass gathers two values per output, so
    // it runs while the other axes still have their input extents; the passes over the other axes
    // then blend whole contiguous rows (vectorized). Upsampling a 7×7 map to 224×224 this way runs
    // the gathering pass over 7×224 outputs instead of 224×224.
    for (std::size_t a = size.size(); a-- > 0;)
        if (out.shape[a + 1] != size[a]) out = detail::resize_axis(out, a + 1, size[a]);
    return out;
}

}  // namespace camkit
