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
void check_finite(const tensor<T>& map, const std::string& what) {
    for (std::size_t i = 0; i < map.size(); ++i)
        require(std::isfinite(static_cast<double>(map[i])),
                [&] { return what + " has a non-finite value at flat index " + std::to_string(i); });
}

/// Throws unless `mask` and a map of `shape` cover the same grid.
inline void check_same_grid(const shape_t& a, const shape_t& b, const std::string& a_name, const std::string& b_name) {
    require(a == b, a_name + " shape " + to_string(a) + " must equal " + b_name + " shape " + to_string(b));
}

/// A 2-D or 3-D row-major grid seen as [depth, height, width] (depth 1 for 2-D).
struct grid {
    std::array<std::size_t, 3> extent{1, 1, 1};
    std::size_t size = 0;

    explicit grid(const shape_t& shape) {
        for (std::size_t a = 0; a < shape.size(); ++a) extent[3 - shape.size() + a] = shape[a];
        size = extent[0] * extent[1] * extent[2];
    }

    /// Calls f(q) for each in-grid neighbour q of flat index p.
    template <class F>
    void for_each_neighbour(std::size_t p, connectivity conn, F&& f) const {
        const std::size_t x = p % extent[2], y = (p / extent[2]) % extent[1], z = p / (extent[2] * extent[1]);
        const std::array<std::size_t, 3> at{z, y, x};
        for (int dz = -1; dz <= 1; ++dz)
            for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                    const int steps = (dz != 0) + (dy != 0) + (dx != 0);
                    if (steps == 0 || (conn == connectivity::face && steps > 1)) continue;
                    const std::array<int, 3> d{dz, dy, dx};
                    std::size_t q = 0;
                    bool inside = true;
                    for (std::size_t a = 0; a < 3 && inside; ++a) {
                        if ((d[a] < 0 && at[a] == 0) || (d[a] > 0 && at[a] + 1 == extent[a])) inside = false;
                        q = q * extent[a] + static_cast<std::size_t>(static_cast<std::ptrdiff_t>(at[a]) + d[a]);
                    }
                    if (inside) f(q);
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

/// Applies `line(in, out, n, stride)` along axis `axis` of a row-major `shape` to every line of
/// that axis: the separable filters' loop over lines.
template <class F>
void for_each_line(const shape_t& shape, std::size_t axis, F&& line) {
    std::size_t outer = 1, inner = 1;
    for (std::size_t a = 0; a < axis; ++a) outer *= shape[a];
    for (std::size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
    const std::size_t n = shape[axis];
    for (std::size_t o = 0; o < outer; ++o)
        for (std::size_t i = 0; i < inner; ++i) line(o * n * inner + i, n, inner);
}

}  // namespace detail

/// `map` min-max normalized to [0, 1] (no ε, as the original's normalize_image); throws when the
/// map is constant, which leaves nothing to normalize ("blank").
template <class T>
tensor<T> min_max_normalized(const tensor<T>& map, const std::string& what = "map") {
    detail::require(map.size() > 0, what + " is empty: shape " + to_string(map.shape));
    const auto [mn, mx] = detail::min_max(map.data(), map.size());
    detail::require(mx > mn, [&] {
        return what + " is blank: every value equals " + std::to_string(static_cast<double>(mn));
    });
    tensor<T> out = map;
    const T range = mx - mn;  // a division per value, as numpy's (x − min) / (max − min)
    for (T& v : out.values) v = (v - mn) / range;
    return out;
}

}  // namespace camkit
