#pragma once
// Closeness checks shared by the tests: the error measure of the reference comparisons (relative
// to each map's maximum) and element-wise near-equality of two sequences with the index reported.
#include <camkit/tensor.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace camkit_test {

/// Largest per-map error max|a − r| / max|r| over the `n_maps` equal-sized maps that `actual` and
/// `reference` hold one after the other (a batch [N, *S]). A reference map of zeros must be
/// matched exactly (its error is 0 or infinity); sizes that differ give infinity.
template <class A, class R>
double max_relative_error_per_map(std::span<const A> actual, std::span<const R> reference, std::size_t n_maps) {
    if (actual.size() != reference.size() || n_maps == 0 || reference.size() % n_maps != 0)
        return std::numeric_limits<double>::infinity();
    const std::size_t per = reference.size() / n_maps;
    double worst = 0;
    for (std::size_t n = 0; n < n_maps; ++n) {
        double diff = 0, scale = 0;
        for (std::size_t s = n * per; s < (n + 1) * per; ++s) {
            diff = std::max(diff, std::abs(static_cast<double>(actual[s]) - static_cast<double>(reference[s])));
            scale = std::max(scale, std::abs(static_cast<double>(reference[s])));
        }
        worst = std::max(worst, scale > 0 ? diff / scale : (diff > 0 ? std::numeric_limits<double>::infinity() : 0.0));
    }
    return worst;
}

/// max |a − b| / max |b| over whole tensors (one map); infinity when the shapes differ.
template <class A, class B>
double max_relative_error(const camkit::tensor<A>& a, const camkit::tensor<B>& b) {
    if (a.shape != b.shape) return std::numeric_limits<double>::infinity();
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, std::abs(static_cast<double>(a.values[i]) - static_cast<double>(b.values[i])));
        scale = std::max(scale, std::abs(static_cast<double>(b.values[i])));
    }
    return scale == 0 ? err : err / scale;
}

/// |got[i] − want[i]| ≤ tolerance for every i (sizes equal), failures naming `what` and the index.
/// (A braced list of expected values is a std::vector<double>.)
template <class Got, class Want = std::vector<double>>
void expect_all_near(const Got& got, const Want& want, double tolerance, const std::string& what = "") {
    ASSERT_EQ(std::size(got), std::size(want)) << what;
    auto w = std::begin(want);
    std::size_t i = 0;
    for (auto g = std::begin(got); g != std::end(got); ++g, ++w, ++i)
        EXPECT_NEAR(static_cast<double>(*g), static_cast<double>(*w), tolerance) << what << " at flat index " << i;
}

}  // namespace camkit_test
