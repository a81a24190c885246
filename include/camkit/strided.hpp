#pragma once
// The one strided walker: visits the elements of a strided block of memory in row-major order.
// Kernels, targets and mask builders read through it whatever their input's strides.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>

#include <array>
#include <cstddef>
#include <span>

namespace camkit::detail {

/// Calls f(const E* element) for every element of the block at `base` with extents `shape` and
/// element strides `strides`, in row-major order. The innermost axis is a plain strided loop; up
/// to 8 axes (camkit's tensors have at most 5), so the walk allocates nothing.
template <class E, class F>
void for_each_strided(const E* base, std::span<const std::size_t> shape, std::span<const std::ptrdiff_t> strides,
                      F&& f) {
    const std::size_t r = shape.size();
    if (r == 0) {
        f(base);
        return;
    }
    for (std::size_t e : shape)
        if (e == 0) return;
    const std::size_t inner = shape[r - 1];
    const std::ptrdiff_t step = strides[r - 1];
    require(r <= 8, "strided walk over " + std::to_string(r) + " axes; at most 8 are supported");
    std::array<std::size_t, 8> idx{};  // odometer over the outer axes
    for (;;) {
        const E* row = base;
        for (std::size_t a = 0; a + 1 < r; ++a) row += static_cast<std::ptrdiff_t>(idx[a]) * strides[a];
        for (std::size_t i = 0; i < inner; ++i) f(row + static_cast<std::ptrdiff_t>(i) * step);
        std::size_t a = r - 1;
        while (a-- > 0) {
            if (++idx[a] < shape[a]) break;
            idx[a] = 0;
        }
        if (a == static_cast<std::size_t>(-1)) return;
    }
}

/// Copies the strided block at `base` into `out` densely (row-major), converting to T.
template <class T, class E>
void gather_strided(const E* base, std::span<const std::size_t> shape, std::span<const std::ptrdiff_t> strides,
                    T* out) {
    for_each_strided(base, shape, strides, [&](const E* p) { *out++ = static_cast<T>(*p); });
}

}  // namespace camkit::detail
