#pragma once
// ReLU and per-sample normalization of maps laid out as [N, *S] (docs/math.md, pipeline steps 1–2).
#include <camkit/simd.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cstddef>

namespace camkit {

/// Per-sample normalization of a map.
enum class normalization {
    min_max,  ///< (x − min) / (max − min + ε): a constant map becomes all zeros
    max,      ///< x / max where max > 0, unchanged otherwise
    none,     ///< unchanged
};

/// max(x, 0) in place (NaN stays NaN).
template <class T>
CAMKIT_OPTIMIZE void relu_inplace(tensor<T>& maps) {
    for (T& v : maps.values) v = v < T(0) ? T(0) : v;
}

namespace detail {

inline void check_normalize_eps(double eps) {
    require(eps >= 0, "normalize: eps must be ≥ 0, got " + std::to_string(eps));
}

/// Normalizes the n values of one sample in place, given their min and max (NaN ignored).
template <class T>
CAMKIT_OPTIMIZE void normalize_sample(T* p, std::size_t n, normalization mode, T mn, T mx, double eps) {
    if (mode == normalization::min_max) {
        const T scale = T(1) / (mx - mn + static_cast<T>(eps));
        for (std::size_t s = 0; s < n; ++s) p[s] = (p[s] - mn) * scale;
    } else if (mode == normalization::max && mx > T(0)) {
        for (std::size_t s = 0; s < n; ++s) p[s] /= mx;
    }
}

}  // namespace detail

/// Normalizes each of the shape[0] samples of `maps` in place. NaN values stay NaN and take no
/// part in a sample's min and max.
template <class T>
void normalize_inplace(tensor<T>& maps, normalization mode, double eps = 1e-7) {
    detail::check_normalize_eps(eps);
    if (mode == normalization::none || maps.size() == 0) return;
    detail::require(maps.rank() >= 1, "normalize: maps need a batch axis");
    const std::size_t per = maps.size() / maps.shape[0];
    for (std::size_t n = 0; n < maps.shape[0]; ++n) {
        T* p = maps.data() + n * per;
        const auto [mn, mx] = detail::min_max(p, per);
        detail::normalize_sample(p, per, mode, mn, mx, eps);
    }
}

/// `out` = relu_inplace (when `relu`) and normalize_inplace of a copy of `maps`, in two passes
/// per sample instead of four; `out`'s storage is reused when it has room.
template <class T>
void relu_normalize_copy(const tensor<T>& maps, tensor<T>& out, bool relu, normalization mode, double eps = 1e-7) {
    detail::check_normalize_eps(eps);
    detail::require(maps.rank() >= 1, "normalize: maps need a batch axis");
    out.shape = maps.shape;
    detail::resize_values(out.values, maps.size());
    const std::size_t per = maps.size() == 0 ? 0 : maps.size() / maps.shape[0];
    for (std::size_t n = 0; per > 0 && n < maps.shape[0]; ++n) {
        T* p = out.data() + n * per;
        const auto [mn, mx] = detail::min_max(maps.data() + n * per, per, p, relu);
        detail::normalize_sample(p, per, mode, mn, mx, eps);
    }
}

}  // namespace camkit
