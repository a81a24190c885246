#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// HiResCAM (Draelos & Carin): raw = Σ_k A[k,s] G[k,s]. With a mask target it is Seg-HiRes-Grad-CAM.
struct hires_cam {
    static constexpr std::string_view name = "hirescam";
    static constexpr std::string_view title = "HiResCAM";
    static constexpr method_form form = method_form::elementwise;
    template <class Ops, class X>
    static auto contribution(const Ops&, const X& a, const X& g) { return a * g; }
};

/// Seg-HiRes-Grad-CAM is HiResCAM explaining a mask-reduction target (targets/mask_sum.hpp).
using seg_hires_grad_cam = hires_cam;

}  // namespace camkit
