#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// Eigen-CAM (Muhammad & Yeasin): the first principal component of the centred activations,
/// signed so that max(raw) ≥ |min(raw)|. Needs no gradients.
struct eigen_cam {
    static constexpr std::string_view name = "eigencam";
    static constexpr std::string_view title = "Eigen-CAM";
    static constexpr method_form form = method_form::projection;
    static constexpr bool needs_gradients = false;
    template <class Ops, class X>
    static auto projected(const Ops&, const X& a, const X&) { return a; }
};

/// Eigen-Grad-CAM: Eigen-CAM on the element-wise product A·G.
struct eigen_grad_cam {
    static constexpr std::string_view name = "eigengradcam";
    static constexpr std::string_view title = "Eigen-Grad-CAM";
    static constexpr method_form form = method_form::projection;
    template <class Ops, class X>
    static auto projected(const Ops&, const X& a, const X& g) { return a * g; }
};

}  // namespace camkit
