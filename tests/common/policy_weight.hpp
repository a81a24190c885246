#pragma once
// A channel weight computed the plain way, one reduction per statistic over one plane pair, so the
// kernels' fused passes (statistics folded together, Σ A shared or read ahead) can be checked
// against it to the bit: the same additions in the same order give the same value.
#include <camkit/methods/policy.hpp>
#include <camkit/reductions.hpp>

namespace camkit_test {

/// `Method`'s weight of the planes a and g, each declared statistic by a pass of its own.
template <camkit::channel_weight_method Method>
float plain_channel_weight(camkit::plane<float> a, camkit::plane<float> g) {
    using camkit::statistic;
    const camkit::plane_ops<float> ops;
    camkit::plane_statistics<float> s;
    s.positions = static_cast<float>(a.size);
    if constexpr (has(Method::needs, statistic::sum_a)) s.sum_a = ops.sum(a);
    if constexpr (has(Method::needs, statistic::sum_g)) s.sum_g = ops.sum(g);
    if constexpr (has(Method::needs, statistic::sum_ag))
        s.sum_ag = ops.sum(a, g, [](const auto& x, const auto& y) { return x * y; });
    if constexpr (camkit::has_gradient_term<Method>)
        s.sum_term = ops.sum(g, [&](const auto& v) { return Method::gradient_term(ops, s, v); });
    return static_cast<float>(Method::channel_weight(s));
}

}  // namespace camkit_test
