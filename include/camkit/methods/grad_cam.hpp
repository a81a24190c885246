#pragma once
#include <camkit/method.hpp>

namespace camkit {

/// Grad-CAM (Selvaraju et al.): w_k = mean_s G[k,s]; raw = Σ_k w_k A[k,s]. With a mask target it is Seg-Grad-CAM.
struct grad_cam {
    static constexpr std::string_view name = "gradcam";
    static constexpr std::string_view title = "Grad-CAM";
    static constexpr method_form form = method_form::channel_weights;
    template <class Ops, class X>
    static auto channel_weight(const Ops& ops, const X&, const X& g) { return ops.mean(g); }
};

/// Seg-Grad-CAM is Grad-CAM explaining a mask-reduction target (targets/mask_sum.hpp).
using seg_grad_cam = grad_cam;

}  // namespace camkit
