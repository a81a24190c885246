#pragma once
// Component regions (Seg-Grad-CAM's regions of interest): masks that keep some connected
// components of a region, for the mask_sum / mask_mean targets.
//
// Two levels:
//  - keep_*(region [*S], ...) pick components of one binary mask and return a float mask [*S];
//  - largest_component(Y, c), ... build the class-c predicted region of a model output
//    Y [N, C, *P] (predicted_region: argmax, or Y > 0 for one channel) and pick components per
//    sample, returning [N, *P] masks of 0s and 1s (sample n's region in slice n), the form the
//    targets accept.
// An empty region gives an all-zero mask (a zero score and an all-zero map, SPEC.md), as does a
// position outside the region for component_at. Ties between equal-size components go to the
// first in raster order (Seg-Grad-CAM takes np.argmax / np.argmin of the component sizes).
#include <camkit/regions/labels.hpp>
#include <camkit/targets/masks.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

namespace camkit {

namespace detail {

/// A float mask [*S] that is 1 where `keep(label)` holds for the position's component label.
template <class Keep>
tensor<float> mask_of_labels(const components& comps, Keep&& keep) {
    tensor<float> out(comps.labels.shape, 0.0f);
    for (std::size_t p = 0; p < out.size(); ++p) {
        const std::uint32_t l = comps.labels[p];
        if (l != 0 && keep(l)) out[p] = 1.0f;
    }
    return out;
}

/// The label of the component whose size `better(size, best size)` prefers, the first on ties; 0 if none.
template <class Better>
std::uint32_t pick_component(const components& comps, Better&& better) {
    std::uint32_t best = 0;
    for (std::size_t i = 0; i < comps.count(); ++i)
        if (best == 0 || better(comps.sizes[i], comps.sizes[best - 1])) best = static_cast<std::uint32_t>(i + 1);
    return best;
}

/// Applies `pick(region [*P])` to every sample's class-c predicted region of Y [N, C, *P]; [N, *P].
template <host_tensor T, class Pick>
tensor<float> per_sample_components(const T& output, std::size_t c, unsigned connectivity, const std::string& who,
                                    Pick&& pick) {
    const auto shape = detail::host_shape(output);
    const output_dims d = check_output_shape(shape, who);
    require(!d.spatial.empty(), who + ": output must be [N, C, *P] with 1 to 3 spatial axes (a classifier [N, C] has no "
                                      "components), got shape " + to_string(shape));
    check_class(c, d.channels, who + ": class");
    connectivity_reach(connectivity, d.spatial.size(), who);
    tensor<float> regions = predicted_region(output, c);
    tensor<float> region(d.spatial);
    for (std::size_t n = 0; n < d.batch; ++n) {
        const auto first = regions.values.begin() + static_cast<std::ptrdiff_t>(n * d.positions);
        std::copy_n(first, d.positions, region.values.begin());
        const tensor<float> kept = pick(region);
        std::copy(kept.values.begin(), kept.values.end(), first);
    }
    return regions;
}

}  // namespace detail

/// The largest connected component of `region` [*S] (nonzero = inside) as a 0/1 mask; the first in
/// raster order among equally large ones; all zeros for an empty region.
template <class M>
tensor<float> keep_largest_component(const tensor<M>& region, unsigned connectivity = full_connectivity) {
    const components comps = label_components(region, connectivity);
    const std::uint32_t best = detail::pick_component(comps, [](std::size_t a, std::size_t b) { return a > b; });
    return detail::mask_of_labels(comps, [&](std::uint32_t l) { return l == best; });
}

/// The smallest connected component of `region` [*S] as a 0/1 mask (first on ties; zeros if empty).
template <class M>
tensor<float> keep_smallest_component(const tensor<M>& region, unsigned connectivity = full_connectivity) {
    const components comps = label_components(region, connectivity);
    const std::uint32_t best = detail::pick_component(comps, [](std::size_t a, std::size_t b) { return a < b; });
    return detail::mask_of_labels(comps, [&](std::uint32_t l) { return l == best; });
}

/// The connected component of `region` [*S] that contains `position` (one coordinate per axis) as a
/// 0/1 mask; all zeros when the position lies outside the region. A position outside the shape throws.
template <class M>
tensor<float> keep_component_at(const tensor<M>& region, const shape_t& position,
                                unsigned connectivity = full_connectivity) {
    const components comps = label_components(region, connectivity);
    const std::uint32_t at = comps.labels[detail::flat_position(region.shape, position, "component_at")];
    return detail::mask_of_labels(comps, [&](std::uint32_t l) { return l == at; });
}

/// Every connected component of `region` [*S] with at least `min_size` positions, as one 0/1 mask
/// (min_size 0 or 1 keeps the whole region).
template <class M>
tensor<float> keep_components_at_least(const tensor<M>& region, std::size_t min_size,
                                       unsigned connectivity = full_connectivity) {
    const components comps = label_components(region, connectivity);
    return detail::mask_of_labels(comps, [&](std::uint32_t l) { return comps.sizes[l - 1] >= min_size; });
}

/// Per sample, the largest component of the region predicted as class c in Y [N, C, *P]; [N, *P].
template <host_tensor T>
tensor<float> largest_component(const T& output, std::size_t c, unsigned connectivity = full_connectivity) {
    return detail::per_sample_components(output, c, connectivity, "largest_component", [&](const tensor<float>& region) {
        return keep_largest_component(region, connectivity);
    });
}

/// Per sample, the smallest component of the region predicted as class c in Y [N, C, *P]; [N, *P].
template <host_tensor T>
tensor<float> smallest_component(const T& output, std::size_t c, unsigned connectivity = full_connectivity) {
    return detail::per_sample_components(output, c, connectivity, "smallest_component", [&](const tensor<float>& region) {
        return keep_smallest_component(region, connectivity);
    });
}

/// Per sample, the component of the class-c predicted region of Y [N, C, *P] that contains
/// `position` ([*P] coordinates); a sample whose region misses the position gets an all-zero slice.
template <host_tensor T>
tensor<float> component_at(const T& output, std::size_t c, const shape_t& position,
                           unsigned connectivity = full_connectivity) {
    return detail::per_sample_components(output, c, connectivity, "component_at", [&](const tensor<float>& region) {
        return keep_component_at(region, position, connectivity);
    });
}

/// Per sample, the components of the class-c predicted region of Y [N, C, *P] with at least
/// `min_size` positions, as one mask [N, *P].
template <host_tensor T>
tensor<float> components_at_least(const T& output, std::size_t c, std::size_t min_size,
                                  unsigned connectivity = full_connectivity) {
    return detail::per_sample_components(output, c, connectivity, "components_at_least", [&](const tensor<float>& region) {
        return keep_components_at_least(region, min_size, connectivity);
    });
}

}  // namespace camkit
