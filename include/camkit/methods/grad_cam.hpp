#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// Grad-CAM (Selvaraju et al.): w_k = mean_s G[k,s]; raw = Σ_k w_k A[k,s]. With a mask target it is Seg-Grad-CAM.
struct grad_cam {
    static constexpr std::string_view name = "gradcam";
    static constexpr std::string_view title = "Grad-CAM";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::sum_g;
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_g / s.positions; }
};

/// Seg-Grad-CAM is Grad-CAM explaining a mask-reduction target (targets/mask_sum.hpp).
using seg_grad_cam = grad_cam;

}  // namespace camkit
