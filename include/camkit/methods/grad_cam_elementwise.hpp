#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// Element-wise Grad-CAM: raw = Σ_k relu(A[k,s] G[k,s]).
struct grad_cam_elementwise {
    static constexpr std::string_view name = "gradcam-elementwise";
    static constexpr std::string_view title = "Grad-CAM element-wise";
    static constexpr method_form form = method_form::elementwise;
    template <class Ops, class X>
    static auto contribution(const Ops& ops, const X& a, const X& g) { return ops.relu(a * g); }
};

}  // namespace camkit
