#pragma once
// What the refinement steps share: masks, checks of 2-D / 3-D maps, and a walker over the grid's
// face- or fully-connected neighbours (2-D maps are handled as volumes of depth 1).
#include <camkit/error.hpp>
#include <camkit/simd.hpp>
#include <camkit/tensor.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace camkit {

/// A binary mask over a map's grid: 1 inside, 0 outside.
using mask_t = tensor<std::uint8_t>;

/// Which neighbours of a pixel count as touching it.
enum class connectivity {
    face,  ///< pixels sharing an edge (2-D) or a face (3-D): 4 or 6 neighbours
    full,  ///< every pixel of the 3×3 (×3) block around it: 8 or 26 neighbours
};

namespace detail {

/// Throws unless `shape` is a non-empty 2-D [H, W] or 3-D [D, H, W] grid.
inline void check_grid(const shape_t& shape, const std::string& what) {
    require(shape.size() == 2 || shape.size() == 3,
            what + " must be a 2-D [H, W] or 3-D [D, H, W] map, got shape " + to_string(shape));
    for (std::size_t e : shape) require(e > 0, what + " has an empty axis: shape " + to_string(shape));
}

/// Throws unless every value of `map` is finite (NaN or ±inf would make every comparison of the
/// pipeline meaningless).
template <class T>
CAMKIT_OPTIMIZE void check_finite(const tensor<T>& map, const std::string& what) {
    for (std::size_t i = 0; i < map.size(); ++i)
        require(std::isfinite(static_cast<double>(map[i])),
                [&] { return what + " has a non-finite value at flat index " + std::to_string(i); });
}

/// Throws unless shapes `a` and `b` (named `a_name` and `b_name` in the message) are equal.
inline void check_same_grid(const shape_t& a, const shape_t& b, const std::string& a_name, const std::string& b_name) {
    require(a == b, a_name + " shape " + to_string(a) + " must equal " + b_name + " shape " + to_string(b));
}

/// A 2-D or 3-D row-major grid seen as [depth, height, width] (depth 1 for 2-D).
struct grid {
    std::array<std::size_t, 3> extent{1, 1, 1};
    std::array<std::size_t, 3> stride{0, 0, 1};  ///< flat distance of one step along each axis
    std::size_t size = 0;

    explicit grid(const shape_t& shape) {
        for (std::size_t a = 0; a < shape.size(); ++a) extent[3 - shape.size() + a] = shape[a];
        stride = {extent[1] * extent[2], extent[2], 1};
        size = extent[0] * extent[1] * extent[2];
    }

    /// Calls f(q) for each in-grid neighbour q of flat index p.
    template <class F>
    void for_each_neighbour(std::size_t p, connectivity conn, F&& f) const {
        const std::size_t x = p % extent[2], yz = p / extent[2], y = yz % extent[1], z = yz / extent[1];
        const std::array<bool, 3> back{z > 0, y > 0, x > 0};
        const std::array<bool, 3> ahead{z + 1 < extent[0], y + 1 < extent[1], x + 1 < extent[2]};
        if (conn == connectivity::face) {
            for (std::size_t a = 0; a < 3; ++a) {
                if (back[a]) f(p - stride[a]);
                if (ahead[a]) f(p + stride[a]);
            }
            return;
        }
        auto allowed = [&](std::size_t a, int d) { return d == 0 || (d < 0 ? back[a] : ahead[a]); };
        for (int dz = -1; dz <= 1; ++dz) {
            if (!allowed(0, dz)) continue;
            for (int dy = -1; dy <= 1; ++dy) {
                if (!allowed(1, dy)) continue;
                for (int dx = -1; dx <= 1; ++dx) {
                    if (!allowed(2, dx) || (dz == 0 && dy == 0 && dx == 0)) continue;
                    f(static_cast<std::size_t>(static_cast<std::ptrdiff_t>(p) +
                                               dz * static_cast<std::ptrdiff_t>(stride[0]) +
                                               dy * static_cast<std::ptrdiff_t>(stride[1]) + dx));
                }
            }
        }
    }
};

/// scipy.ndimage's 'reflect' border (d c b a | a b c d | d c b a): the in-range index that
/// index i of an axis of length n reads.
inline std::size_t reflect_index(std::ptrdiff_t i, std::size_t n) {
    const auto len = static_cast<std::ptrdiff_t>(n);
    const std::ptrdiff_t period = 2 * len;
    std::ptrdiff_t r = i % period;
    if (r < 0) r += period;
    return static_cast<std::size_t>(r < len ? r : period - 1 - r);
}

/// One separable filter pass along axis `axis` of a row-major `shape` with the reflect border:
/// out[…, k, …] = (Σ_t w[t] · in[…, k + t − back, …]) / divisor. Along an outer axis whole rows
/// are combined (contiguous, vectorizable); along the innermost axis each line is first padded
/// with its reflected values.
CAMKIT_OPTIMIZE inline void filter_axis(const std::vector<double>& in, std::vector<double>& out, const shape_t& shape, std::size_t axis,
                        const std::vector<double>& w, std::size_t back, double divisor) {
    std::size_t outer = 1, inner = 1;
    for (std::size_t a = 0; a < axis; ++a) outer *= shape[a];
    for (std::size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
    const std::size_t n = shape[axis], taps = w.size();
    if (inner == 1) {
        std::vector<double> line(n + taps);
        for (std::size_t o = 0; o < outer; ++o) {
            const double* src = in.data() + o * n;
            for (std::size_t k = 0; k < n + taps - 1; ++k)
                line[k] = src[reflect_index(static_cast<std::ptrdiff_t>(k) - static_cast<std::ptrdiff_t>(back), n)];
            double* dst = out.data() + o * n;
            for (std::size_t k = 0; k < n; ++k) {
                double sum = 0;
                for (std::size_t t = 0; t < taps; ++t) sum += w[t] * line[k + t];
                dst[k] = sum / divisor;
            }
        }
        return;
    }
    std::vector<const double*> rows(taps);
    for (std::size_t o = 0; o < outer; ++o)
        for (std::size_t k = 0; k < n; ++k) {
            for (std::size_t t = 0; t < taps; ++t)
                rows[t] =
                    in.data() +
                    (o * n + reflect_index(static_cast<std::ptrdiff_t>(k + t) - static_cast<std::ptrdiff_t>(back), n)) *
                        inner;
            double* dst = out.data() + (o * n + k) * inner;
            for (std::size_t i = 0; i < inner; ++i) {
                double sum = 0;
                for (std::size_t t = 0; t < taps; ++t) sum += w[t] * rows[t][i];
                dst[i] = sum / divisor;
            }
        }
}

}  // namespace detail

/// `map` min-max normalized to [0, 1] (no ε, as the original's normalize_image); throws when the
/// map is constant, which leaves nothing to normalize ("blank"), or when max − min overflows.
template <class T>
tensor<T> min_max_normalized(const tensor<T>& map, const std::string& what = "map") {
    detail::require(map.size() > 0, what + " is empty: shape " + to_string(map.shape));
    const auto extremes = detail::min_max(map.data(), map.size());
    const T mn = extremes.first, mx = extremes.second;  // named, not bound: the lambdas below capture them
    detail::require(mx > mn,
                    [&] { return what + " is blank: every value equals " + std::to_string(static_cast<double>(mn)); });
    const T range = mx - mn;  // a division per value, as numpy's (x − min) / (max − min)
    detail::require(std::isfinite(static_cast<double>(range)), [&] {
        return what + " spans too wide a range to normalize: max − min overflows (min " +
               std::to_string(static_cast<double>(mn)) + ", max " + std::to_string(static_cast<double>(mx)) + ")";
    });
    tensor<T> out = map;
    for (T& v : out.values) v = (v - mn) / range;
    return out;
}

}  // namespace camkit
