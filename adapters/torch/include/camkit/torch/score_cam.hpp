#pragma once
// Score-CAM (Wang et al., 2020): a gradient-free CAM. Each activation channel, upsampled to the
// input size and min-max normalized, masks the input; the model's score on each masked input is
// that channel's weight. Forward passes run batched (chunked by a batch size) on the input's device.
// score_cam_many scores every masked pass with several scores (targets) at once.
//
// Definitions (input x [N, C, *S], activations A [N, K, *s] of a layer, one score per sample):
// - U[n, k] = upsample(A[n, k]) to *S: linear / bilinear / trilinear; with align_corners = true by
//   default, as pytorch-grad-cam's ScoreCAM (torch.nn.UpsamplingBilinear2d) does.
// - M[n, k] = (U − min U) / (max U − min U + eps) per (n, k), eps = 1e-8.
// - scores[n, k] = score(model(x[n] ⊙ M[n, k])) with M broadcast over the C input channels; the
//   score is the target class's raw output (logit) by default, as pytorch-grad-cam's
//   ClassifierOutputTarget, or any sample_score (class_probability, class_mask_score, your own).
// - weights[n, :] = softmax_k(scores[n, :]) (pytorch-grad-cam's choice), or the scores as they are.
// - raw[n, s] = Σ_k weights[n, k] A[n, k, s]; map = the camkit pipeline (ReLU, normalize, resize,
//   renormalize) on raw, as for every other method.
#include <camkit/explain.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/forward.hpp>
#include <camkit/torch/tensor.hpp>

#include <cstdint>
#include <span>
#include <tuple>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit::torch {

/// Score-CAM's own settings (the pipeline after the raw map is camkit::options).
struct score_cam_options {
    std::int64_t batch_size = 16;  ///< masked inputs per forward pass
    bool softmax = true;           ///< weights = softmax over channels of the scores (else the scores)
    bool align_corners = true;     ///< upsampling of the activations (true matches pytorch-grad-cam)
    double eps = 1e-8;             ///< ε of the per-channel min-max normalization
    progress_callback progress = {};  ///< called after each forward pass with (done, total)
};

/// What Score-CAM returns: the scores [N, K], the channel weights [N, K], raw [N, *s], map [N, *size],
/// and target_scores [N]: each sample's score on the input itself, unmasked (the forms that run that
/// forward: a layer recorder, a tap, a TorchScript layer, an exported package; undefined for the forms
/// given the activations).
struct score_cam_result {
    at::Tensor scores;
    at::Tensor weights;
    at::Tensor raw;
    at::Tensor map;
    at::Tensor target_scores;
};

namespace detail {

/// Upsamples x [B, K, *s] to `size` (one extent per spatial axis) linearly.
inline at::Tensor upsample_channels(const at::Tensor& x, const std::vector<std::int64_t>& size, bool align_corners) {
    if (size.size() == 1) return at::upsample_linear1d(x, size, align_corners);
    if (size.size() == 2) return at::upsample_bilinear2d(x, size, align_corners);
    return at::upsample_trilinear3d(x, size, align_corners);
}

/// Validates Score-CAM's arguments once: the input, the activations and options with the core's
/// check_request, and Score-CAM's own settings.
inline void check_score_cam_args(const at::Tensor& input, const at::Tensor& activations, const options& opt,
                                 const score_cam_options& sopt) {
    check_input(input);
    require(activations.defined() && activations.dim() == input.dim(),
            "activations must be [N, K, *s] with as many spatial axes as input " + to_string(shape_of(input)) +
                ", got shape " + (activations.defined() ? to_string(shape_of(activations)) : std::string("undefined")));
    camkit::detail::check_request(shape_of(activations), nullptr, opt, camkit::detail::request_kind::activations_only);
    require(activations.size(0) == input.size(0), "activations hold " + std::to_string(activations.size(0)) +
                                                      " samples but input holds " + std::to_string(input.size(0)));
    require(activations.is_floating_point(), "activations must hold floating-point values");
    require(activations.device() == input.device(), "activations are on device " + activations.device().str() +
                                                        " but input on " + input.device().str());
    require(sopt.batch_size >= 1, "score_cam_options.batch_size must be ≥ 1, got " + std::to_string(sopt.batch_size));
    require(sopt.eps >= 0, "score_cam_options.eps must be ≥ 0, got " + std::to_string(sopt.eps));
}

}  // namespace detail

/// Score-CAM of `activations` [N, K, *s] (captured from a layer on `input`) for several scores at
/// once: the masked inputs depend on the activations alone, so each masked forward pass is scored by
/// every score (⌈N·K / batch_size⌉ passes in all, not that many per score). Result i is what
/// score_cam with scores[i] alone returns.
template <torch_model M, sample_score Score>
std::vector<score_cam_result> score_cam_many(M&& model, const at::Tensor& input, const at::Tensor& activations,
                                             std::span<const Score> scores, const options& opt = {},
                                             const score_cam_options& sopt = {}) {
    detail::check_score_cam_args(input, activations, opt, sopt);
    detail::require(!scores.empty(), "score_cam_many: no scores given (one result per score)");
    auto&& forward = detail::as_forward(model);
    at::NoGradGuard no_grad;
    const std::int64_t N = activations.size(0), K = activations.size(1);
    const at::ScalarType acc = detail::accumulator_dtype(activations.scalar_type());
    const at::Tensor A = activations.detach().to(acc);

    std::vector<std::int64_t> size(input.sizes().begin() + 2, input.sizes().end());
    const at::Tensor up = detail::upsample_channels(A, size, sopt.align_corners).reshape({N, K, -1});
    const at::Tensor lo = up.amin(-1, true), hi = up.amax(-1, true);
    std::vector<std::int64_t> mask_shape{N * K, 1};
    mask_shape.insert(mask_shape.end(), size.begin(), size.end());
    const at::Tensor masks = ((up - lo) / (hi - lo + sopt.eps)).to(input.scalar_type()).reshape(mask_shape);

    // Rows (n, k) flattened in that order, chunked by batch_size; every score reads each chunk's output.
    const std::int64_t rows = N * K;
    const std::int64_t total_passes = (rows + sopt.batch_size - 1) / sopt.batch_size;
    const auto long_opts = at::TensorOptions().dtype(at::kLong).device(input.device());
    std::vector<std::vector<at::Tensor>> chunks(scores.size());
    for (std::int64_t r0 = 0, pass = 0; r0 < rows; r0 += sopt.batch_size, ++pass) {
        const std::int64_t b = std::min(sopt.batch_size, rows - r0);
        const at::Tensor n = at::arange(r0, r0 + b, long_opts).div(K, "floor");
        const at::Tensor output = detail::run_forward(forward, input.index_select(0, n) * masks.narrow(0, r0, b));
        for (std::size_t i = 0; i < scores.size(); ++i) chunks[i].push_back(detail::score_rows(scores[i], output, n));
        if (sopt.progress) sopt.progress(pass + 1, total_passes);
    }
    std::vector<std::int64_t> map_sizes{N};
    for (std::int64_t d = 2; d < activations.dim(); ++d) map_sizes.push_back(activations.size(d));
    const at::Tensor flat_A = A.reshape({N, K, -1});
    std::vector<score_cam_result> out(scores.size());
    for (std::size_t i = 0; i < scores.size(); ++i) {
        score_cam_result& r = out[i];
        r.scores = at::cat(chunks[i]).view({N, K}).to(acc);
        r.weights = sopt.softmax ? at::softmax(r.scores, 1) : r.scores;
        // raw[n, s] = Σ_k w[n, k] A[n, k, s]
        r.raw = at::bmm(r.weights.unsqueeze(1), flat_A).squeeze(1).reshape(map_sizes);
        r.map = finish_map(r.raw, opt);
    }
    return out;
}

/// Score-CAM of `activations` [N, K, *s] (captured from a layer on `input`) with a sample_score.
template <torch_model M, sample_score Score>
score_cam_result score_cam(M&& model, const at::Tensor& input, const at::Tensor& activations, const Score& score,
                           const options& opt = {}, const score_cam_options& sopt = {}) {
    return std::move(score_cam_many(model, input, activations, std::span<const Score>(&score, 1), opt, sopt).front());
}

/// Score-CAM scored by the raw output (logit) of one class per sample, as pytorch-grad-cam does.
template <torch_model M>
score_cam_result score_cam(M&& model, const at::Tensor& input, const at::Tensor& activations,
                           std::span<const std::int64_t> classes, const options& opt = {},
                           const score_cam_options& sopt = {}) {
    detail::check_class_count(classes, input);
    return score_cam(model, input, activations, class_logit{{classes.begin(), classes.end()}}, opt, sopt);
}

namespace detail {

/// Score-CAM of `activations` and `output`, which one forward of `input` recorded, scored by `what`:
/// the result with target_scores, the score of each sample's own output.
template <torch_model M>
score_cam_result score_cam_of_recorded(M&& model, const at::Tensor& input, const at::Tensor& output,
                                       const at::Tensor& activations, const objective& what, const options& opt,
                                       const score_cam_options& sopt) {
    const auto score = what.sample_score_for(output);
    score_cam_result r = camkit::torch::score_cam(model, input, activations, score, opt, sopt);
    at::NoGradGuard no_grad;
    const at::Tensor samples = at::arange(output.size(0), at::TensorOptions().dtype(at::kLong).device(output.device()));
    r.target_scores = score_rows(score, output.detach(), samples).to(r.scores.scalar_type());
    return r;
}

}  // namespace detail

/// Score-CAM at the layer `rec` records (a tap's `tapped` model, a scripted_layer): one forward
/// records the activations, then the masked inputs run through `model`, scored by `what`: one
/// camkit target per sample, a probability_score, or nothing (each sample's predicted class).
template <layer_recorder R, torch_model M>
score_cam_result score_cam(R& rec, M&& model, const at::Tensor& input, const objective& what = {},
                           const options& opt = {}, const score_cam_options& sopt = {}) {
    detail::check_input(input);
    at::Tensor output, activations;
    {
        at::NoGradGuard no_grad;
        std::tie(output, activations) = capture_activations(rec, input);
    }
    return detail::score_cam_of_recorded(model, input, output, activations, what, opt, sopt);
}

/// Score-CAM of a C++-frontend model at the tap it calls in forward, scored by `what`.
template <forward_function F>
score_cam_result score_cam(F&& forward, const at::Tensor& input, const tap& t, const objective& what = {},
                           const options& opt = {}, const score_cam_options& sopt = {}) {
    tapped<std::remove_reference_t<F>> rec(forward, t);
    return score_cam(rec, forward, input, what, opt, sopt);
}

}  // namespace camkit::torch
