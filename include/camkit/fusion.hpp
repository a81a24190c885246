#pragma once
// Fusion of several layers' finished maps into one (docs/math.md, pipeline: "Several layers"). Each
// input is one layer's map [N, *S], already through ReLU, normalization and resize to a common size.
#include <camkit/normalize.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace camkit {

/// How several layers' maps combine, element by element.
enum class fusion {
    mean,     ///< the mean, then ReLU and min-max per sample again (pytorch-grad-cam's multi-layer rule)
    max,      ///< the maximum: a region shown by any layer
    product,  ///< the product: only regions every layer shows
};

/// Fuses equal-shaped maps [N, *S] of several layers; throws camkit::error for no maps or
/// differing shapes. `eps` is the ε of the min-max normalization after `mean`.
template <class T>
tensor<T> fuse_layers(std::span<const tensor<T>> maps, fusion mode, double eps = 1e-7) {
    detail::require(!maps.empty(), "fuse_layers: maps is empty; give at least one layer's map");
    detail::require(eps >= 0, "fuse_layers: eps must be ≥ 0, got " + std::to_string(eps));
    const shape_t& shape = maps[0].shape;
    detail::require(shape.size() >= 2 && shape.size() <= 4,
                    "fuse_layers: maps[0] must be [N, *S] with 1 to 3 spatial axes, got shape " + to_string(shape));
    for (std::size_t l = 1; l < maps.size(); ++l)
        detail::require(maps[l].shape == shape, "fuse_layers: maps[" + std::to_string(l) + "] has shape " +
                                                    to_string(maps[l].shape) + ", expected " + to_string(shape) +
                                                    " as maps[0]; resize every layer to a common size first");
    tensor<T> out = maps[0];
    for (std::size_t l = 1; l < maps.size(); ++l) {
        const std::vector<T>& v = maps[l].values;
        for (std::size_t i = 0; i < out.size(); ++i) {
            T& o = out.values[i];
            switch (mode) {
                case fusion::mean: o += v[i]; break;
                case fusion::max: o = std::max(o, v[i]); break;
                case fusion::product: o *= v[i]; break;
            }
        }
    }
    if (mode == fusion::mean) {
        const T scale = T(1) / static_cast<T>(maps.size());
        for (T& o : out.values) o *= scale;
        relu_inplace(out);
        normalize_inplace(out, normalization::min_max, eps);
    }
    return out;
}

/// As above, for a vector of maps.
template <class T>
tensor<T> fuse_layers(const std::vector<tensor<T>>& maps, fusion mode, double eps = 1e-7) {
    return fuse_layers(std::span<const tensor<T>>(maps), mode, eps);
}

/// Parses "mean", "max" or "product"; throws camkit::error listing the valid names.
inline fusion parse_fusion(std::string_view name) {
    if (name == "mean") return fusion::mean;
    if (name == "max") return fusion::max;
    if (name == "product") return fusion::product;
    throw error("camkit: fusion: unknown name '" + std::string(name) + "'; valid names: mean, max, product");
}

}  // namespace camkit
