#pragma once
#include <camkit/methods/policy.hpp>

namespace camkit {

/// LayerCAM (Jiang et al.): raw = Σ_k relu(G[k,s]) A[k,s].
struct layer_cam {
    static constexpr std::string_view name = "layercam";
    static constexpr std::string_view title = "LayerCAM";
    static constexpr method_form form = method_form::elementwise;
    template <class Ops, class X>
    static auto contribution(const Ops& ops, const X& a, const X& g) { return ops.relu(g) * a; }
};

}  // namespace camkit
