#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// Grad-CAM++ (Chattopadhyay et al.), in pytorch-grad-cam's closed form:
/// α = G² / (2G² + S_k G³ + 1e-6) (0 where G = 0), w_k = Σ_s relu(G) α, S_k = Σ_s A.
/// The gradient term is relu(G)·G² / (G²(S_k G + 2) + ε): the same value with fewer operations
/// per element (this formula bounds the method's speed); where G = 0 it is 0/ε = 0, so the
/// "0 where G = 0" rule needs no separate select while ε > 0.
struct grad_cam_plus_plus {
    static constexpr std::string_view name = "gradcam++";
    static constexpr std::string_view title = "Grad-CAM++";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::sum_a;
    template <class Ops, class S, class X>
    static auto gradient_term(const Ops& ops, const S& s, const X& g) {
        const auto g2 = g * g;
        return ops.relu(g) * g2 / (g2 * (s.sum_a * g + 2) + constant_like(s.sum_a, 1e-6));
    }
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_term; }
};

}  // namespace camkit
