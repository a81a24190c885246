#pragma once
// Localization metrics of a finished map m ≥ 0 against a ground-truth mask M (SPEC.md,
// "Localization metrics"). A mask element that is nonzero is inside the region.
//
// Undefined cases follow one rule: a metric whose value is 0/0 is NaN (callers averaging over a
// data set skip NaN with std::isnan), and x/0 with x > 0 is +infinity. So:
// - energy_inside is NaN for an all-zero map;
// - attention_ratio is NaN when the mask is empty or covers every position (one side has no
//   mean) or both means are 0, and +inf when only the outside mean is 0;
// - iou_at is NaN when neither the thresholded map nor the mask has any position.
// pointing_hit is always defined: the argmax is the first position holding the maximum, so a
// constant (e.g. all-zero) map "points" at its first position; a data set's average may want to
// leave such maps out: has_peak tells them apart (camkit-torch analyze leaves their cell empty,
// camkit stats prints null).
//
// Attention statistics (the U-Net++ analysis tool's numbers): attention_mean and attention_std are
// the mean and the population standard deviation (numpy's np.std, ddof = 0) of the whole map, so
// they do not depend on the region; attention_statistics reports them next to the four metrics
// above against a region (a predicted region or a ground-truth mask). For the two edge regions:
// - an empty region: attention_ratio NaN (no inside mean), energy_inside 0 (NaN for an all-zero
//   map), pointing_hit false, iou 0 (NaN when the thresholded map is empty too);
// - a region covering every position: attention_ratio NaN (no outside mean), energy_inside 1 (NaN
//   for an all-zero map), pointing_hit true, iou = the fraction of positions above the threshold.
// NaN rather than a large finite number (the U-Net++ tool divides by mean_outside + 1e-8): a ratio
// that does not exist must not enter a data set's average as 10⁸ times the map's mean.
#include <camkit/concepts.hpp>
#include <camkit/strided.hpp>
#include <camkit/tensor.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace camkit {

/// The four localization metrics of one sample.
struct localization {
    double energy_inside;    ///< Σ_{p∈M} m / Σ_p m (energy-based pointing game)
    bool pointing_hit;       ///< argmax_p m ∈ M
    double attention_ratio;  ///< mean_{p∈M} m / mean_{p∉M} m
    double iou;              ///< IoU of {m > threshold} with M
};

/// The U-Net++ analysis tool's attention statistics of one sample against a region.
struct attention_stats {
    double attention_mean;   ///< mean of the map over every position
    double attention_std;    ///< population standard deviation of the map over every position
    double attention_ratio;  ///< mean_{p∈M} m / mean_{p∉M} m
    double energy_inside;    ///< Σ_{p∈M} m / Σ_p m
    bool pointing_hit;       ///< argmax_p m ∈ M
    double iou;              ///< IoU of {m > threshold} with M
};

namespace detail {

/// Rejects a map with a negative, NaN or infinite value (the metrics need m ≥ 0).
template <class T>
void check_metric_map(const T* m, std::size_t count, const char* fn) {
    for (std::size_t p = 0; p < count; ++p)
        require(std::isfinite(static_cast<double>(m[p])) && m[p] >= T(0), [&] {
            return std::string(fn) + ": map must be finite and ≥ 0 (apply ReLU first), got " +
                   std::to_string(static_cast<double>(m[p])) + " at flat index " + std::to_string(p);
        });
}

/// Validates one sample's map [*S] and mask [*S].
inline void check_metric_shapes(const shape_t& map, const shape_t& mask, const char* fn) {
    require(map.size() >= 1 && map.size() <= 3,
            std::string(fn) + ": map must have 1 to 3 spatial axes, got shape " + to_string(map));
    require(mask == map, std::string(fn) + ": mask shape " + to_string(mask) + " must equal map shape " +
                             to_string(map));
}

inline double ratio(double num, double den) {
    if (den == 0) return num == 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    return num / den;
}

template <class M>
bool inside(const std::vector<M>& mask, std::size_t offset, std::size_t p) {
    return mask[offset + p] != M{};
}

// The kernels below take a map pointer and a mask at an offset (vector<bool> has no pointer).
template <class T, class M>
double energy_inside(const T* m, const std::vector<M>& mask, std::size_t off, std::size_t count) {
    double in = 0, total = 0;
    for (std::size_t p = 0; p < count; ++p) {
        total += static_cast<double>(m[p]);
        if (inside(mask, off, p)) in += static_cast<double>(m[p]);
    }
    return ratio(in, total);
}

template <class T, class M>
bool pointing_hit(const T* m, const std::vector<M>& mask, std::size_t off, std::size_t count) {
    std::size_t best = 0;
    for (std::size_t p = 1; p < count; ++p)
        if (m[p] > m[best]) best = p;  // strict: ties keep the first position
    return count > 0 && inside(mask, off, best);
}

template <class T, class M>
double attention_ratio(const T* m, const std::vector<M>& mask, std::size_t off, std::size_t count) {
    double in = 0, out = 0;
    std::size_t n_in = 0;
    for (std::size_t p = 0; p < count; ++p) {
        if (inside(mask, off, p)) {
            in += static_cast<double>(m[p]);
            ++n_in;
        } else {
            out += static_cast<double>(m[p]);
        }
    }
    const std::size_t n_out = count - n_in;
    if (n_in == 0 || n_out == 0) return std::numeric_limits<double>::quiet_NaN();
    return ratio(in / static_cast<double>(n_in), out / static_cast<double>(n_out));
}

template <class T, class M>
double iou_at(const T* m, const std::vector<M>& mask, std::size_t off, std::size_t count, double threshold) {
    std::size_t both = 0, either = 0;
    for (std::size_t p = 0; p < count; ++p) {
        const bool a = static_cast<double>(m[p]) > threshold, b = inside(mask, off, p);
        both += a && b;
        either += a || b;
    }
    return ratio(static_cast<double>(both), static_cast<double>(either));
}

/// Mean of `count` map values (NaN for none).
template <class T>
double map_mean(const T* m, std::size_t count) {
    double sum = 0;
    for (std::size_t p = 0; p < count; ++p) sum += static_cast<double>(m[p]);
    return ratio(sum, static_cast<double>(count));
}

/// Population standard deviation of `count` map values around their mean (two passes: no
/// cancellation for maps far from 0).
template <class T>
double map_std(const T* m, std::size_t count) {
    const double mean = map_mean(m, count);
    double sq = 0;
    for (std::size_t p = 0; p < count; ++p) sq += (static_cast<double>(m[p]) - mean) * (static_cast<double>(m[p]) - mean);
    return std::sqrt(ratio(sq, static_cast<double>(count)));
}

/// Validates one sample's map [*S] (1 to 3 axes, finite, ≥ 0) for the mask-free statistics.
template <class T>
void check_statistic_map(const tensor<T>& map, const char* fn) {
    require(map.rank() >= 1 && map.rank() <= 3,
            std::string(fn) + ": map must have 1 to 3 spatial axes, got shape " + to_string(map.shape));
    check_metric_map(map.data(), map.size(), fn);
}

}  // namespace detail

/// Fraction of the map's energy inside the mask, Σ_{p∈M} m / Σ_p m, for one map [*S] and mask [*S].
template <class T, class M>
double energy_inside(const tensor<T>& map, const tensor<M>& mask) {
    detail::check_metric_shapes(map.shape, mask.shape, "energy_inside");
    detail::check_metric_map(map.data(), map.size(), "energy_inside");
    return detail::energy_inside(map.data(), mask.values, 0, map.size());
}

/// Whether the map's maximum (its first position on ties) lies inside the mask.
template <class T, class M>
bool pointing_hit(const tensor<T>& map, const tensor<M>& mask) {
    detail::check_metric_shapes(map.shape, mask.shape, "pointing_hit");
    detail::check_metric_map(map.data(), map.size(), "pointing_hit");
    return detail::pointing_hit(map.data(), mask.values, 0, map.size());
}

/// Whether `count` map values from `m` have a peak: some value differs from another. A constant map
/// (all zeros: a class the layer shows nothing of) has none, and pointing_hit's answer for it, its
/// first position, is no evidence. NaN values count as differing (check the map first).
template <class T>
bool has_peak(const T* m, std::size_t count) {
    for (std::size_t p = 1; p < count; ++p)
        if (!(m[p] == m[0])) return true;
    return false;
}

/// has_peak of one map [*S].
template <class T>
bool has_peak(const tensor<T>& map) {
    return has_peak(map.data(), map.size());
}

/// Mean of the map inside the mask over its mean outside (NaN or +inf in the cases the header names).
template <class T, class M>
double attention_ratio(const tensor<T>& map, const tensor<M>& mask) {
    detail::check_metric_shapes(map.shape, mask.shape, "attention_ratio");
    detail::check_metric_map(map.data(), map.size(), "attention_ratio");
    return detail::attention_ratio(map.data(), mask.values, 0, map.size());
}

/// Intersection over union of the region where map > threshold with the mask.
template <class T, class M>
double iou_at(const tensor<T>& map, const tensor<M>& mask, double threshold) {
    detail::check_metric_shapes(map.shape, mask.shape, "iou_at");
    detail::check_metric_map(map.data(), map.size(), "iou_at");
    detail::require(std::isfinite(threshold), "iou_at: threshold must be finite, got " + std::to_string(threshold));
    return detail::iou_at(map.data(), mask.values, 0, map.size(), threshold);
}

namespace detail {

/// The four metrics of every sample of maps [N, *S] against masks [N, *S] or [*S], after
/// validating both (`fn` names the public function in messages).
template <class T, class M>
std::vector<localization> localization_batch(const tensor<T>& maps, const tensor<M>& masks, double threshold,
                                             const char* fn) {
    require(maps.rank() >= 2 && maps.rank() <= 4,
            std::string(fn) + ": maps must be [N, *S] with 1 to 3 spatial axes, got shape " + to_string(maps.shape));
    const shape_t spatial(maps.shape.begin() + 1, maps.shape.end());
    const bool shared = masks.shape == spatial;
    require(shared || masks.shape == maps.shape,
            std::string(fn) + ": masks shape " + to_string(masks.shape) + " must be " + to_string(maps.shape) +
                " (one per sample) or " + to_string(spatial) + " (shared)");
    require(std::isfinite(threshold), std::string(fn) + ": threshold must be finite, got " + std::to_string(threshold));
    check_metric_map(maps.data(), maps.size(), fn);
    const std::size_t per = element_count(spatial);
    std::vector<localization> out;
    out.reserve(maps.shape[0]);
    for (std::size_t n = 0; n < maps.shape[0]; ++n) {
        const T* m = maps.data() + n * per;
        const std::size_t off = shared ? 0 : n * per;
        out.push_back({energy_inside(m, masks.values, off, per), pointing_hit(m, masks.values, off, per),
                       attention_ratio(m, masks.values, off, per), iou_at(m, masks.values, off, per, threshold)});
    }
    return out;
}

}  // namespace detail

/// All four metrics for each sample of maps [N, *S] against masks [N, *S] (one per sample) or
/// [*S] (shared by the batch); IoU thresholds the map at `threshold`.
template <class T, class M>
std::vector<localization> localization_metrics(const tensor<T>& maps, const tensor<M>& masks,
                                               double threshold = 0.5) {
    return detail::localization_batch(maps, masks, threshold, "localization_metrics");
}

/// Mean of one map [*S] over every position (the U-Net++ tool's "attention mean").
template <class T>
double attention_mean(const tensor<T>& map) {
    detail::check_statistic_map(map, "attention_mean");
    return detail::map_mean(map.data(), map.size());
}

/// Population standard deviation (ddof = 0, as np.std) of one map [*S] (the "attention std").
template <class T>
double attention_std(const tensor<T>& map) {
    detail::check_statistic_map(map, "attention_std");
    return detail::map_std(map.data(), map.size());
}

/// The six attention statistics for each sample of maps [N, *S] against regions [N, *S] (one per
/// sample) or [*S] (shared): the localization metrics (IoU at `threshold`) with the map's mean
/// and standard deviation; the header comment says what empty and full regions give.
template <class T, class M>
std::vector<attention_stats> attention_statistics(const tensor<T>& maps, const tensor<M>& masks, double threshold = 0.5) {
    const std::vector<localization> loc = detail::localization_batch(maps, masks, threshold, "attention_statistics");
    const std::size_t per = element_count(shape_t(maps.shape.begin() + 1, maps.shape.end()));
    std::vector<attention_stats> out;
    out.reserve(loc.size());
    for (std::size_t n = 0; n < loc.size(); ++n) {
        const T* m = maps.data() + n * per;
        out.push_back({detail::map_mean(m, per), detail::map_std(m, per), loc[n].attention_ratio, loc[n].energy_inside,
                       loc[n].pointing_hit, loc[n].iou});
    }
    return out;
}

namespace detail {

template <class X>
inline constexpr bool is_camkit_tensor_v = false;
template <class T>
inline constexpr bool is_camkit_tensor_v<tensor<T>> = true;

/// A dense copy, in double, of any host tensor (a strided view, a CPU torch tensor): the metrics
/// read maps and masks densely, and both are small beside the activations.
template <host_tensor X>
tensor<double> dense_copy(const X& x) {
    return with_host_view(x, [](const auto& v) {
        tensor<double> t(v.shape);
        gather_strided(v.data, v.shape, v.strides, t.data());
        return t;
    });
}

/// True when a metric's arguments are host tensors other than camkit::tensor (they are copied densely first).
template <class X, class Y = tensor<float>>
concept other_host_tensors = host_tensor<X> && host_tensor<Y> &&
                             (!is_camkit_tensor_v<std::remove_cvref_t<X>> || !is_camkit_tensor_v<std::remove_cvref_t<Y>>);

}  // namespace detail

/// energy_inside of any host tensors (strided views, CPU torch tensors).
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
double energy_inside(const X& map, const Y& mask) {
    return energy_inside(detail::dense_copy(map), detail::dense_copy(mask));
}

/// pointing_hit of any host tensors.
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
bool pointing_hit(const X& map, const Y& mask) {
    return pointing_hit(detail::dense_copy(map), detail::dense_copy(mask));
}

/// attention_ratio of any host tensors.
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
double attention_ratio(const X& map, const Y& mask) {
    return attention_ratio(detail::dense_copy(map), detail::dense_copy(mask));
}

/// iou_at of any host tensors.
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
double iou_at(const X& map, const Y& mask, double threshold) {
    return iou_at(detail::dense_copy(map), detail::dense_copy(mask), threshold);
}

/// localization_metrics of any host tensors.
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
std::vector<localization> localization_metrics(const X& maps, const Y& masks, double threshold = 0.5) {
    return localization_metrics(detail::dense_copy(maps), detail::dense_copy(masks), threshold);
}

/// attention_statistics of any host tensors.
template <class X, class Y>
    requires detail::other_host_tensors<X, Y>
std::vector<attention_stats> attention_statistics(const X& maps, const Y& masks, double threshold = 0.5) {
    return attention_statistics(detail::dense_copy(maps), detail::dense_copy(masks), threshold);
}

/// attention_mean of any host tensor.
template <class X>
    requires detail::other_host_tensors<X>
double attention_mean(const X& map) {
    return attention_mean(detail::dense_copy(map));
}

/// attention_std of any host tensor.
template <class X>
    requires detail::other_host_tensors<X>
double attention_std(const X& map) {
    return attention_std(detail::dense_copy(map));
}

}  // namespace camkit
