#pragma once
// Percentiles with numpy's default 'linear' method (numpy.percentile, which the original's
// utils.percentile reaches through scipy.stats.iqr): the value at virtual index q·(n − 1) of the
// sorted values, interpolated between its two neighbours with numpy's two-sided lerp.
#include <camkit/refine/grid.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace camkit {

namespace detail {

/// Throws unless 0 ≤ p ≤ 100.
inline void check_percent(double p, const std::string& what) {
    require(p >= 0 && p <= 100, what + " must be in [0, 100], got " + std::to_string(p));
}

/// The p-th percentile of `v` (reordered in place; n ≥ 1): numpy 1.24's steps, so that the
/// rounding matches too.
CAMKIT_OPTIMIZE inline double percentile_in_place(std::vector<double>& v, double p) {
    const double q = p / 100.0;
    const double n = static_cast<double>(v.size());
    const double virtual_index = n * q + (1.0 + q * -1.0) - 1.0;
    const double below = std::floor(virtual_index);
    const double gamma = virtual_index - below;
    const auto last = static_cast<std::ptrdiff_t>(v.size()) - 1;
    const auto i = std::clamp(static_cast<std::ptrdiff_t>(below), std::ptrdiff_t{0}, last);
    const auto j = std::clamp(static_cast<std::ptrdiff_t>(below) + 1, std::ptrdiff_t{0}, last);
    std::nth_element(v.begin(), v.begin() + i, v.end());
    const double a = v[static_cast<std::size_t>(i)];
    // The next order statistic is the smallest value after position i.
    const double b = j == i ? a : *std::min_element(v.begin() + i + 1, v.end());
    const double diff = b - a;
    return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

}  // namespace detail

/// The p-th percentile (0 ≤ p ≤ 100) of all values of `values` (finite), as numpy.percentile(values, p).
template <class T>
CAMKIT_OPTIMIZE double percentile(const tensor<T>& values, double p) {
    detail::check_percent(p, "percentile: p");
    detail::require(values.size() > 0, "percentile: values are empty: shape " + to_string(values.shape));
    detail::check_finite(values, "percentile: values");
    std::vector<double> v(values.values.begin(), values.values.end());
    return detail::percentile_in_place(v, p);
}

/// The p-th percentile of the values of `values` where `mask` is set, as
/// numpy.percentile(values[mask > 0], p); throws when the mask selects nothing.
template <class T>
double percentile(const tensor<T>& values, const mask_t& mask, double p) {
    detail::check_percent(p, "percentile: p");
    detail::check_same_grid(mask.shape, values.shape, "percentile: mask", "values");
    detail::check_finite(values, "percentile: values");
    std::vector<double> v;
    for (std::size_t i = 0; i < values.size(); ++i)
        if (mask[i]) v.push_back(static_cast<double>(values[i]));
    detail::require(!v.empty(), "percentile: mask selects no value (it is all zeros)");
    return detail::percentile_in_place(v, p);
}

}  // namespace camkit
