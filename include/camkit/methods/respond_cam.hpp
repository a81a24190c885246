#pragma once
// Respond-CAM (Zhao et al., MICCAI 2018, arXiv 1806.00102), written for 3-D cryo-ET volumes:
//   w_k = Σ_s A[k,s] G[k,s] / (Σ_s A[k,s] + ε),   raw = Σ_k w_k A[k,s]
// — the activation-weighted average of the gradients. These are XGrad-CAM's weights (Fu et al.
// 2020 reached them from axioms), so the raw maps are equal; camkit uses one ε, 1e-7, for both
// (the TF saliency code adds 1e-10 to every activation before summing, ε = 1e-10·|S|, a
// difference far below float precision for maps of ordinary size).
//
// What differs is the pipeline. The paper's map is the raw sum itself: no ReLU (negative values
// are evidence against the class) and no normalization, because its sum-to-score property,
// Σ_s raw[s] + b_c = y_c for a layer followed by global average pooling and a linear head with
// bias b, holds for that map only. respond_cam_options() is that pipeline; the `respondcam`
// command-line method uses it by default. The TF saliency code instead clips negatives and divides
// by the maximum for display (options{.normalize = normalization::max}).
#include <camkit/explain.hpp>
#include <camkit/methods/xgrad_cam.hpp>

namespace camkit {

/// Respond-CAM: XGrad-CAM's weights w_k = Σ_s G A / (Σ_s A + 1e-7); see respond_cam_options() for its pipeline.
struct respond_cam {
    static constexpr std::string_view name = "respondcam";
    static constexpr std::string_view title = "Respond-CAM";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = xgrad_cam::needs;
    template <class S>
    static auto channel_weight(const S& s) { return xgrad_cam::channel_weight(s); }
};

/// Respond-CAM's published pipeline: the raw map, neither ReLU nor normalization (sum-to-score holds).
inline options respond_cam_options() { return options{.relu = false, .normalize = normalization::none}; }

}  // namespace camkit
