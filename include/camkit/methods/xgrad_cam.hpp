#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// XGrad-CAM (Fu et al.; the same weights as Respond-CAM): w_k = Σ_s G A / (Σ_s A + 1e-7).
struct xgrad_cam {
    static constexpr std::string_view name = "xgradcam";
    static constexpr std::string_view title = "XGrad-CAM";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::sum_a | statistic::sum_ag;
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_ag / (s.sum_a + 1e-7); }
};

}  // namespace camkit
