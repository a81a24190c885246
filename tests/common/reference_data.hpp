#pragma once
// The pytorch-grad-cam reference data (tests/data/reference; its README.md says how it was made)
// and the tolerance every comparison with it enforces.
#include <camkit/tensor.hpp>
#include <camkit/xtensor/npy.hpp>

#include <limits>
#include <span>
#include <string>
#include <vector>

#include "common/closeness.hpp"

namespace camkit_test {

/// What the README claims: |camkit − library| ≤ 1e-6 · max|library| for each map.
inline constexpr double reference_tolerance = 1e-6;

/// Path of a file of tests/data/reference.
inline std::string reference_path(const std::string& name) {
    return std::string(CAMKIT_TEST_DATA_DIR) + "/reference/" + name;
}

/// A float .npy file of tests/data/reference as a camkit tensor.
inline camkit::tensor<float> load_reference(const std::string& name) {
    const auto x = camkit::xtensor::load_npy<float>(reference_path(name));
    return camkit::tensor<float>(camkit::shape_t(x.shape().begin(), x.shape().end()),
                                 std::vector<float>(x.begin(), x.end()));
}

/// The reference comparison: max over the maps [N, *S] of max|actual − reference| / max|reference|
/// (infinity when the shapes differ).
inline double reference_error(const camkit::tensor<float>& actual, const camkit::tensor<float>& reference) {
    if (actual.shape != reference.shape) return std::numeric_limits<double>::infinity();
    return max_relative_error_per_map(std::span<const float>(actual.values), std::span<const float>(reference.values),
                                      reference.shape.at(0));
}

}  // namespace camkit_test
