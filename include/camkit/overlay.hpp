#pragma once
// Heatmaps and overlays as RGB byte buffers (docs/math.md, "Overlay"). Writing them to a file is the
// adapters' business (PNG via stb in the xtensor adapter); the core only fills the pixels.
//
// overlay() follows pytorch-grad-cam's show_cam_on_image step for step, in the same precision
// (float32 for byte images), so its bytes equal that function's:
//   heat = colormap(uint8(255·map)) / 255;  out = (1 − α)·heat + α·image;  out /= max(out);
//   bytes = uint8(255·out)   (truncation, as numpy's cast).
#include <camkit/colormap.hpp>
#include <camkit/optimize.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace camkit {

/// An 8-bit RGB image: row-major, 3 bytes per pixel (red, green, blue).
struct rgb_image {
    std::size_t height = 0;
    std::size_t width = 0;
    std::vector<std::uint8_t> pixels;

    rgb_image() = default;
    /// A black image of the given size.
    rgb_image(std::size_t h, std::size_t w) : height(h), width(w), pixels(3 * h * w, 0) {}

    /// The colour at row y, column x.
    rgb at(std::size_t y, std::size_t x) const {
        const std::size_t o = 3 * (y * width + x);
        return {pixels[o], pixels[o + 1], pixels[o + 2]};
    }
    /// Sets the colour at row y, column x.
    void set(std::size_t y, std::size_t x, rgb c) {
        const std::size_t o = 3 * (y * width + x);
        pixels[o] = c[0];
        pixels[o + 1] = c[1];
        pixels[o + 2] = c[2];
    }
};

namespace detail {

inline void check_map2d(const shape_t& shape, const char* fn) {
    require(shape.size() == 2, std::string(fn) + ": map must be [H, W], got shape " + to_string(shape));
    require(shape[0] > 0 && shape[1] > 0, std::string(fn) + ": map has an empty axis: shape " + to_string(shape));
}

inline void check_alpha(double alpha) {
    require(alpha >= 0 && alpha <= 1, "overlay: alpha must be in [0, 1], got " + std::to_string(alpha));
}

/// Blends the heatmap of `map` with an image given as values in [0, 1] (pixel p, channel c at 3p + c).
template <class F, class T, class Image>
CAMKIT_OPTIMIZE rgb_image blend(const tensor<T>& map, const Image& image_value, colormap cm, double alpha) {
    const std::size_t h = map.shape[0], w = map.shape[1];
    // The heat term is float32 whatever the image (numpy: np.float32(heatmap) / 255 times a
    // Python scalar stays float32); the image term and the sum are in F.
    const F a = static_cast<F>(alpha);
    const float one_minus_a = static_cast<float>(1.0 - alpha);
    std::vector<F> out(3 * h * w);
    F mx = F(0);
    for (std::size_t p = 0; p < h * w; ++p) {
        const rgb c = colorize(map.values[p], cm);
        for (std::size_t k = 0; k < 3; ++k) {
            const float heat = one_minus_a * (static_cast<float>(c[k]) / 255.0f);
            const F v = static_cast<F>(heat) + a * image_value(3 * p + k);
            out[3 * p + k] = v;
            mx = v > mx ? v : mx;
        }
    }
    rgb_image img(h, w);
    if (mx > F(0))  // an all-black blend (α = 1 on a black image) stays black instead of 0/0
        for (std::size_t i = 0; i < out.size(); ++i)
            img.pixels[i] = static_cast<std::uint8_t>(F(255) * (out[i] / mx));
    return img;
}

/// Colours one [H, W] plane starting at `values` into `img` at (y0, x0).
template <class T>
CAMKIT_OPTIMIZE void paint(rgb_image& img, const T* values, std::size_t h, std::size_t w, std::size_t y0, std::size_t x0,
           colormap cm) {
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) img.set(y0 + y, x0 + x, colorize(values[y * w + x], cm));
}

}  // namespace detail

/// The colormapped image of a map [H, W] with values in [0, 1] (clamped; NaN as 0).
template <class T>
rgb_image heatmap(const tensor<T>& map, colormap cm = colormap::jet) {
    detail::check_map2d(map.shape, "heatmap");
    rgb_image img(map.shape[0], map.shape[1]);
    detail::paint(img, map.data(), map.shape[0], map.shape[1], 0, 0, cm);
    return img;
}

/// The heatmap of `map` [H, W] blended onto a byte image of the same size:
/// (1 − α)·heat + α·image, rescaled by its maximum (pytorch-grad-cam's show_cam_on_image with
/// image_weight = α). Resize the map to the image's size first.
template <class T>
rgb_image overlay(const tensor<T>& map, const rgb_image& image, colormap cm = colormap::jet, double alpha = 0.5) {
    detail::check_map2d(map.shape, "overlay");
    detail::require(image.pixels.size() == 3 * image.height * image.width,
                    "overlay: image holds " + std::to_string(image.pixels.size()) + " bytes, expected 3·" +
                        std::to_string(image.height) + "·" + std::to_string(image.width));
    detail::require(image.height == map.shape[0] && image.width == map.shape[1],
                    "overlay: map shape " + to_string(map.shape) + " must equal the image size [" +
                        std::to_string(image.height) + ", " + std::to_string(image.width) +
                        "]; resize the map first");
    detail::check_alpha(alpha);
    // float32, as the image np.float32(img) / 255 that pytorch-grad-cam's examples pass
    return detail::blend<float>(map, [&](std::size_t i) { return static_cast<float>(image.pixels[i]) / 255.0f; },
                                cm, alpha);
}

/// As above, for an image [H, W, 3] of RGB values in [0, 1], or a gray one [H, W] (each value its
/// pixel's red, green and blue): float or double, computed in the wider of float and the image's
/// type, as numpy would.
template <class T, class U>
rgb_image overlay(const tensor<T>& map, const tensor<U>& image, colormap cm = colormap::jet, double alpha = 0.5) {
    static_assert(std::is_floating_point_v<U>, "overlay: a value image must be float or double in [0, 1]");
    detail::check_map2d(map.shape, "overlay");
    const bool gray = image.shape == shape_t{map.shape[0], map.shape[1]};
    detail::require(gray || image.shape == shape_t{map.shape[0], map.shape[1], 3},
                    "overlay: image shape " + to_string(image.shape) + " must be [" + std::to_string(map.shape[0]) +
                        ", " + std::to_string(map.shape[1]) + ", 3] (or [" + std::to_string(map.shape[0]) + ", " +
                        std::to_string(map.shape[1]) + "] for gray) to match map shape " + to_string(map.shape) +
                        "; resize the map first");
    for (std::size_t i = 0; i < image.size(); ++i)
        detail::require(image.values[i] >= U(0) && image.values[i] <= U(1), [&] {
            return "overlay: image values must be in [0, 1], got " + std::to_string(static_cast<double>(image.values[i])) +
                   " at flat index " + std::to_string(i);
        });
    detail::check_alpha(alpha);
    using F = std::common_type_t<float, U>;
    const std::size_t per_value = gray ? 3 : 1;  // pixel p, channel c at 3p + c: gray value p
    return detail::blend<F>(map, [&](std::size_t i) { return static_cast<F>(image.values[i / per_value]); }, cm, alpha);
}

/// The number of columns of slice_grid's grid for a volume of `depth` slices: ⌈√depth⌉ (1 for 0).
inline constexpr std::size_t slice_grid_columns(std::size_t depth) {
    std::size_t cols = 1;
    while (cols * cols < depth) ++cols;
    return cols;
}

namespace detail {
/// slice_grid's picture of d slices of h × w (black between and after them), each cell drawn by
/// `cell(image, slice, top row, left column)`.
template <class Cell>
rgb_image grid_of_slices(std::size_t d, std::size_t h, std::size_t w, Cell&& cell) {
    const std::size_t cols = slice_grid_columns(d), rows = (d + cols - 1) / cols;
    rgb_image img(rows * h + rows - 1, cols * w + cols - 1);
    for (std::size_t s = 0; s < d; ++s) cell(img, s, (s / cols) * (h + 1), (s % cols) * (w + 1));
    return img;
}
}  // namespace detail

/// A volume map [D, H, W] shown as a grid of its D slices, slice d at row d / columns and column
/// d % columns, with columns = slice_grid_columns(D) = ⌈√D⌉ and a 1-pixel black line between cells
/// (unused cells black): slice d's top-left pixel is at ((d / columns)·(H + 1), (d % columns)·(W + 1)).
template <class T>
rgb_image slice_grid(const tensor<T>& volume, colormap cm = colormap::jet) {
    detail::require(volume.rank() == 3, "slice_grid: volume must be [D, H, W], got shape " + to_string(volume.shape));
    const std::size_t d = volume.shape[0], h = volume.shape[1], w = volume.shape[2];
    detail::require(d > 0 && h > 0 && w > 0,
                    "slice_grid: volume has an empty axis: shape " + to_string(volume.shape));
    return detail::grid_of_slices(d, h, w, [&](rgb_image& img, std::size_t s, std::size_t y0, std::size_t x0) {
        detail::paint(img, volume.data() + s * h * w, h, w, y0, x0, cm);
    });
}

/// A volume map [D, H, W] over a gray volume `under` [D, H, W] of values in [0, 1] (a CT or MRI
/// scaled to [0, 1]), in slice_grid's layout: slice d is overlay(map slice d, under slice d, cm,
/// alpha), each rescaled by its own maximum as overlay does.
template <class T, class U>
rgb_image overlay_slices(const tensor<T>& volume, const tensor<U>& under, colormap cm = colormap::jet,
                         double alpha = 0.5) {
    detail::require(volume.rank() == 3, "overlay_slices: volume must be [D, H, W], got shape " + to_string(volume.shape));
    detail::require(under.shape == volume.shape, "overlay_slices: the volume under the map has shape " +
                                                     to_string(under.shape) + ", the map " + to_string(volume.shape) +
                                                     "; resize the map first");
    const std::size_t d = volume.shape[0], h = volume.shape[1], w = volume.shape[2];
    detail::require(d > 0 && h > 0 && w > 0,
                    "overlay_slices: volume has an empty axis: shape " + to_string(volume.shape));
    const std::size_t per = h * w;
    return detail::grid_of_slices(d, h, w, [&](rgb_image& img, std::size_t s, std::size_t y0, std::size_t x0) {
        const tensor<T> m({h, w}, std::vector<T>(volume.data() + s * per, volume.data() + (s + 1) * per));
        const tensor<U> u({h, w}, std::vector<U>(under.data() + s * per, under.data() + (s + 1) * per));
        const rgb_image cell = overlay(m, u, cm, alpha);
        for (std::size_t y = 0; y < h; ++y)
            std::copy_n(cell.pixels.data() + 3 * y * w, 3 * w, img.pixels.data() + 3 * ((y0 + y) * img.width + x0));
    });
}

/// One image per sample of maps [N, *S]: a 1-D map [L] as a strip `strip_height` pixels high and
/// L wide, a 2-D map as its heatmap, a 3-D map as its slice_grid.
template <class T>
std::vector<rgb_image> heatmaps(const tensor<T>& maps, colormap cm = colormap::jet, std::size_t strip_height = 16) {
    detail::require(maps.rank() >= 2 && maps.rank() <= 4,
                    "heatmaps: maps must be [N, *S] with 1 to 3 spatial axes, got shape " + to_string(maps.shape));
    for (std::size_t e : maps.shape)
        detail::require(e > 0, "heatmaps: maps has an empty axis: shape " + to_string(maps.shape));
    detail::require(strip_height > 0, "heatmaps: strip_height must be > 0");
    const shape_t spatial(maps.shape.begin() + 1, maps.shape.end());
    const std::size_t per = element_count(spatial);
    std::vector<rgb_image> out;
    out.reserve(maps.shape[0]);
    for (std::size_t n = 0; n < maps.shape[0]; ++n) {
        const T* m = maps.data() + n * per;
        if (spatial.size() == 1) {
            rgb_image img(strip_height, per);
            for (std::size_t y = 0; y < strip_height; ++y) detail::paint(img, m, 1, per, y, 0, cm);
            out.push_back(std::move(img));
        } else if (spatial.size() == 2) {
            rgb_image img(spatial[0], spatial[1]);
            detail::paint(img, m, spatial[0], spatial[1], 0, 0, cm);
            out.push_back(std::move(img));
        } else {
            out.push_back(slice_grid(tensor<T>(spatial, std::vector<T>(m, m + per)), cm));
        }
    }
    return out;
}

}  // namespace camkit
