#pragma once
#include <camkit/method.hpp>

namespace camkit {

/// XGrad-CAM (Fu et al.; the same weights as Respond-CAM): w_k = Σ_s G A / (Σ_s A + 1e-7).
struct xgrad_cam {
    static constexpr std::string_view name = "xgradcam";
    static constexpr std::string_view title = "XGrad-CAM";
    static constexpr method_form form = method_form::channel_weights;
    template <class Ops, class X>
    static auto channel_weight(const Ops& ops, const X& a, const X& g) {
        return ops.sum(a, g, [](const auto& av, const auto& gv) { return av * gv; }) / (ops.sum(a) + 1e-7);
    }
};

}  // namespace camkit
