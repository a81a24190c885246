#pragma once
// What `camkit-torch explain` and `camkit-torch analyze` share: the method names they accept,
// reading inputs (.npy or image) with their size checked first, how an image becomes a model input
// (--gray, --resize, --mean/--std), and the region targets (largest-component, smallest-component,
// component-at, point) built from a model output.
#include "../common/cli_support.hpp"

#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/regions/components.hpp>
#include <camkit/resize.hpp>
#include <camkit/targets/masks.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace camkit_torch_tool {

/// True for a file name ending in .png, .jpg or .jpeg (any case).
inline bool is_image_path(const std::string& p) {
    const std::string ext = camkit_cli::extension_lower(p);
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

/// True for a method of the registry, scorecam, or cam.
inline bool known_method(const std::string& name) {
    if (name == "scorecam" || name == "cam") return true;
    for (auto n : camkit::method_names())
        if (n == name) return true;
    return false;
}

/// Checks the size an image or .npy input declares in its header, before its data is read: at
/// most max_values values (`per_pixel` values per image pixel). Returns the declared shape.
inline camkit::shape_t check_declared_size(const std::string& path, const std::string& what, std::size_t per_pixel) {
    if (is_image_path(path)) {
        const camkit::io::image_info info = camkit::io::read_image_info(path);
        camkit_cli::check_values(camkit_cli::value_count(per_pixel, {info.height, info.width}),
                                 what + " " + path + " of " + std::to_string(info.height) + "x" + std::to_string(info.width));
        return {1, 3, info.height, info.width};
    }
    const camkit::shape_t shape = camkit::io::read_npy_header(path).shape;
    camkit_cli::check_values(camkit::element_count(shape), what + " " + path + " " + camkit::to_string(shape));
    return shape;
}

/// `v` for a message, in at most 7 significant digits ("1e+300", not 301 digits).
inline std::string short_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", v);
    return buf;
}

/// The values of a .npy file as float, refusing NaN, Inf and values beyond float32's range.
inline camkit::tensor<float> read_floats(const std::string& path, const std::string& what) {
    const camkit::tensor<double> x = camkit_cli::read_finite_npy(path, what);
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::abs(x[i]) > std::numeric_limits<float>::max())
            camkit_cli::fail(path + ": " + what + " holds " + short_number(x[i]) + ", beyond float32's range (flat index " +
                             std::to_string(i) + ")");
    }
    return camkit::tensor<float>(x.shape, std::vector<float>(x.values.begin(), x.values.end()));
}

/// A comma-separated list of finite numbers (--mean, --std); anything else fails naming `name`.
inline std::vector<double> parse_numbers(const std::string& v, const std::string& name) {
    std::vector<double> out;
    for (const std::string_view part : camkit_cli::split(v, ',')) {
        const std::string text(part);
        std::size_t used = 0;
        double x = std::nan("");
        try {
            x = std::stod(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (text.empty() || used != text.size() || !std::isfinite(x))
            camkit_cli::fail(name + " must be numbers separated by commas, got '" + v + "'");
        out.push_back(x);
    }
    return out;
}

/// --mean and --std: given together, no zero std, and none that takes a pixel value in [0, 1]
/// beyond float32's range ((x − mean) / std).
inline void check_mean_std(const std::vector<double>& mean, const std::vector<double>& std) {
    if (mean.empty() != std.empty()) camkit_cli::fail("--mean and --std go together");
    for (double s : std)
        if (s == 0) camkit_cli::fail("--std must not hold 0");
    for (std::size_t c = 0; c < std::min(mean.size(), std.size()); ++c)
        if (std::max(std::abs(mean[c]), std::abs(1 - mean[c])) / std::abs(std[c]) > std::numeric_limits<float>::max())
            camkit_cli::fail("--std " + short_number(std[c]) + " with --mean " + short_number(mean[c]) +
                             " takes pixel values in [0, 1] beyond float32's range");
}

/// --mean and --std (when given) hold one value per input channel.
inline void check_mean_std_count(const std::vector<double>& mean, const std::vector<double>& std, std::size_t channels) {
    if (!mean.empty() && (mean.size() != channels || std.size() != channels))
        camkit_cli::fail("--mean and --std need " + std::to_string(channels) + " values (one per input channel), got " +
                         std::to_string(mean.size()) + " and " + std::to_string(std.size()));
}

/// x [C, *S] ← (x − mean[c]) / std[c] per channel c; nothing without a mean.
inline void normalize_channels(camkit::tensor<float>& x, const std::vector<double>& mean, const std::vector<double>& std) {
    if (mean.empty()) return;
    const std::size_t per = x.size() / x.shape[0];
    for (std::size_t c = 0; c < x.shape[0]; ++c)
        for (std::size_t p = 0; p < per; ++p) x[c * per + p] = static_cast<float>((x[c * per + p] - mean[c]) / std[c]);
}

/// How an image becomes a model input (--gray, --resize, --mean/--std of explain and analyze).
struct image_prep {
    bool gray = false;              ///< one luminance channel (0.299 R + 0.587 G + 0.114 B) instead of RGB
    camkit::shape_t resize;         ///< H, W for the model (bilinear, half-pixel centres); empty: as it is
    std::vector<double> mean, std;  ///< per channel: (x − mean) / std; empty: none

    /// Input channels the model gets.
    std::size_t channels() const { return gray ? 1 : 3; }

    /// The option errors that need no image.
    void check() const {
        check_mean_std(mean, std);
        check_mean_std_count(mean, std, channels());
        check_resize(resize);
    }

    /// Fails unless `resize` is empty or H, W.
    static void check_resize(const camkit::shape_t& resize) {
        if (!resize.empty() && resize.size() != 2) camkit_cli::fail("--resize must be HxW, got " + camkit::to_string(resize));
    }

    /// `im` as [C, H', W'] floats: RGB (or luminance) in [0, 1], resized, normalized.
    camkit::tensor<float> operator()(const camkit::rgb_image& im) const {
        const std::size_t h = im.height, w = im.width, C = channels();
        camkit::tensor<float> x({C, h, w});
        for (std::size_t p = 0; p < h * w; ++p) {
            const std::uint8_t* px = im.pixels.data() + 3 * p;
            if (C == 1) x[p] = static_cast<float>((0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]) / 255.0);
            else
                for (std::size_t c = 0; c < 3; ++c) x[c * h * w + p] = static_cast<float>(px[c] / 255.0);
        }
        if (!resize.empty()) x = camkit::resize(x, resize);
        normalize_channels(x, mean, std);
        return x;
    }
};

/// True for the targets that pick one connected part of a class's predicted region.
inline bool is_region_target(const std::string& kind) {
    return kind == "largest-component" || kind == "smallest-component" || kind == "component-at" || kind == "point";
}

/// The coordinates of --at "X" (a 1-D output), "Y,X" or "Y,X,Z" (each a count); anything else fails.
inline camkit::shape_t parse_at(const std::string& v) {
    camkit::shape_t at;
    for (const std::string_view part : camkit_cli::split(v, ','))
        at.push_back(static_cast<std::size_t>(camkit_cli::parse_count(std::string(part), "--at coordinate", 0)));
    if (at.size() > 3) camkit_cli::fail("--at must be X, Y,X or Y,X,Z, got '" + v + "'");
    return at;
}

/// The position [*P] on the output `y` [N, C, *P] of --at as the user wrote it (X, Y,X or Y,X,Z; Z
/// indexes a 3-D output's first axis), checked against the output's spatial shape.
inline camkit::shape_t output_position(const camkit::tensor<float>& y, const camkit::shape_t& at) {
    const camkit::shape_t spatial(y.shape.begin() + 2, y.shape.end());
    const camkit::shape_t pos = at.size() == 3 ? camkit::shape_t{at[2], at[0], at[1]} : at;
    if (pos.size() != spatial.size())
        camkit_cli::fail("--at has " + std::to_string(pos.size()) + (pos.size() == 1 ? " coordinate" : " coordinates") +
                         " but the model output " +
                         camkit::to_string(y.shape) + " has " + std::to_string(spatial.size()) + " spatial axes");
    // The axis out of range is named with its extent; a volume's position is also given in the
    // output's own axis order [D, H, W], since --at writes depth last.
    static constexpr const char* names_3d[] = {"Z (depth, the first axis)", "Y (row)", "X (column)"};
    static constexpr const char* names_2d[] = {"Y (row)", "X (column)"};
    for (std::size_t i = 0; i < pos.size(); ++i)
        if (pos[i] >= spatial[i])
            camkit_cli::fail(
                "--at " + camkit::to_string(at) + " lies outside the model output's spatial shape " + camkit::to_string(spatial) +
                (pos.size() == 3 ? " (--at is Y,X,Z: the position [" + std::to_string(pos[0]) + ", " + std::to_string(pos[1]) + ", " +
                                       std::to_string(pos[2]) + "] in the output's order [D, H, W])"
                                 : "") +
                ": " + (pos.size() == 3 ? names_3d[i] : pos.size() == 2 ? names_2d[i] : "X") + " = " + std::to_string(pos[i]) +
                " but that axis has " + std::to_string(spatial[i]) + " positions (0 to " + std::to_string(spatial[i] - 1) + ")");
    return pos;
}

/// The mask [N, *P] (or [*P] for point) of a region target of class `c` on the output `y`
/// [N, C, *P]: the largest or smallest component of the class's predicted region, the component at
/// `at`, or the one position `at` (as output_position reads it).
inline camkit::tensor<float> region_mask(const std::string& kind, const camkit::tensor<float>& y, std::size_t c,
                                         const camkit::shape_t& at) {
    if (kind == "largest-component") return camkit::largest_component(y, c);
    if (kind == "smallest-component") return camkit::smallest_component(y, c);
    const camkit::shape_t pos = output_position(y, at);
    if (kind == "point") return camkit::pixel(camkit::shape_t(y.shape.begin() + 2, y.shape.end()), pos);
    return camkit::component_at(y, c, pos);
}

}  // namespace camkit_torch_tool
