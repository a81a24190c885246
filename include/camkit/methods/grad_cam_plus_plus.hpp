#pragma once
#include <camkit/method.hpp>

namespace camkit {

/// Grad-CAM++ (Chattopadhyay et al.), in pytorch-grad-cam's closed form:
/// α = G² / (2G² + S_k G³ + 1e-6) (0 where G = 0), w_k = Σ_s relu(G) α, S_k = Σ_s A.
struct grad_cam_plus_plus {
    static constexpr std::string_view name = "gradcam++";
    static constexpr std::string_view title = "Grad-CAM++";
    static constexpr method_form form = method_form::channel_weights;
    template <class Ops, class X>
    static auto channel_weight(const Ops& ops, const X& a, const X& g) {
        const auto s = ops.sum(a);
        const auto eps = constant_like(s, 1e-6);
        return ops.sum(g, [&](const auto& gv) {
            const auto g2 = gv * gv;
            const auto alpha = ops.where_nonzero(gv, g2 / ((g2 + g2) + s * g2 * gv + eps));
            return ops.relu(gv) * alpha;
        });
    }
};

}  // namespace camkit
