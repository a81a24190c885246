#pragma once
// What `camkit-torch explain` and `camkit-torch analyze` share: the method names they accept,
// reading inputs (.npy or image) with their size checked first, and the region targets
// (largest-component, smallest-component, component-at, point) built from a model output.
#include "../common/cli_support.hpp"

#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/regions/components.hpp>
#include <camkit/targets/masks.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace camkit_torch_tool {

/// True for a file name ending in .png, .jpg or .jpeg (any case).
inline bool is_image_path(const std::string& p) {
    std::string ext = std::filesystem::path(p).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
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

/// The values of a .npy file as float, refusing NaN, Inf and values beyond float32's range.
inline camkit::tensor<float> read_floats(const std::string& path, const std::string& what) {
    const camkit::tensor<double> x = camkit::io::read_npy<double>(path);
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) camkit_cli::fail(path + ": " + what + " holds NaN or Inf (flat index " + std::to_string(i) + ")");
        if (std::abs(x[i]) > std::numeric_limits<float>::max())
            camkit_cli::fail(path + ": " + what + " holds " + std::to_string(x[i]) + ", beyond float32's range (flat index " +
                             std::to_string(i) + ")");
    }
    return camkit::tensor<float>(x.shape, std::vector<float>(x.values.begin(), x.values.end()));
}

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
    for (std::size_t i = 0; i < pos.size(); ++i)
        if (pos[i] >= spatial[i])
            camkit_cli::fail("--at " + camkit::to_string(at) + " lies outside the model output's spatial shape " +
                             camkit::to_string(spatial) + (pos.size() == 3 ? " (Y,X,Z: Z indexes the first axis)" : ""));
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
