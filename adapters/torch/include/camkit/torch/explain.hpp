#pragma once
// Explaining a LibTorch model end to end: one forward pass that records the layer's
// activations, the target's score and seed ∂score/∂output computed with torch ops on the
// output's device, one torch::autograd::grad for the whole batch (parameters' .grad stay
// untouched), then camkit::explain on the activations and gradients.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/explain.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/api/module.h>

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit::torch {

using camkit::explain;

/// What one forward and the backward passes give, all detached from the autograd graph.
struct captured {
    at::Tensor output;       ///< model output [N, C, *P] or [N, C]
    at::Tensor scores;       ///< [N]: each sample's target score (or [T]: each target's, for many targets)
    at::Tensor activations;  ///< A [N, K, *S] (or [T, K, *S]: the sample's activations, expanded)
    at::Tensor gradients;    ///< G = ∂score/∂A [N, K, *S] (or [T, K, *S]: one slice per target)
};

/// A capture plus the maps of one method.
struct explained : captured {
    explanation<at::Tensor> cam;  ///< raw map, channel weights (if any) and finished map
};

namespace detail {

/// A mask as a torch tensor on `device` (the targets keep their masks on the host).
inline at::Tensor mask_tensor(const camkit::tensor<float>& m, const at::Device& device) {
    return at::from_blob(const_cast<float*>(m.data()), sizes_of(m.shape), at::kFloat).to(device, /*non_blocking=*/false,
                                                                                         /*copy=*/true);
}

/// Writes target `t`'s seed for sample `n` into `plane_of_sample` ([C, *P], zeros), with torch ops.
inline void write_seed(const target& t, const camkit::detail::output_dims& d, std::int64_t n,
                       at::Tensor plane_of_sample) {
    const bool one_channel = d.channels == 1;
    const auto ch = static_cast<std::int64_t>(one_channel ? 0 : t.class_index);
    const double sign = one_channel && t.class_index == 0 ? -1.0 : 1.0;
    at::Tensor plane = plane_of_sample.select(0, ch);
    if (!t.mask) {
        plane.fill_(t.mode == reduction::mean ? sign / static_cast<double>(d.positions) : sign);
        return;
    }
    at::Tensor m = mask_tensor(*t.mask, plane.device());
    if (t.mask->shape != d.spatial) m = m.select(0, n);
    m = m.reshape(plane.sizes());
    at::Tensor w = m * sign;
    // nnz stays a tensor on the device: an empty mask is all zeros, so dividing by max(nnz, 1) gives 0.
    if (t.mode == reduction::mean) w = w / (m != 0).sum().clamp_min(1).to(w.scalar_type());
    plane.copy_(w.masked_fill(m == 0, 0));
}

/// Σ over everything but the first axis of seed · Y, reading only where the seed is nonzero.
inline at::Tensor weighted_scores(const at::Tensor& y, const at::Tensor& seed) {
    const at::Tensor prod = at::where(seed != 0, seed * y.to(seed.scalar_type()), at::zeros({}, seed.options()));
    return prod.reshape({prod.size(0), -1}).sum(1);
}

inline void check_autograd(const char* who) {
    camkit::detail::require(!c10::InferenceMode::is_enabled(),
                            std::string(who) + ": c10::InferenceMode is active; gradients need autograd, so "
                                               "explain outside the InferenceMode guard");
    camkit::detail::require(c10::GradMode::is_enabled(),
                            std::string(who) + ": grad mode is off (a torch::NoGradGuard is active); gradients "
                                               "need autograd, so explain outside the NoGradGuard");
}

inline void check_activation(const at::Tensor& a, const at::Tensor& output, const std::string& where) {
    camkit::detail::require(a.defined(), where);
    camkit::detail::require(a.requires_grad(),
                            "the captured activation does not require grad (frozen weights?): make the input "
                            "require grad (input.requires_grad_()) or unfreeze the layers before it");
    camkit::detail::require(output.defined() && output.dim() >= 1 && a.dim() >= 1 && a.size(0) == output.size(0),
                            "the captured activation has batch size " + std::to_string(a.dim() ? a.size(0) : 0) +
                                " but the model output " + to_string(shape_of(output)));
}

/// ∂⟨seed, output⟩/∂A; a clear error when the output does not depend on A.
inline at::Tensor gradient(const at::Tensor& output, const at::Tensor& a, const at::Tensor& seed, bool retain) {
    auto g = ::torch::autograd::grad({output}, {a}, {seed.to(output.scalar_type())}, retain, false, true);
    camkit::detail::require(g.at(0).defined(), "the model output does not depend on the captured activation");
    return g[0];
}

template <class F>
concept forward_callable = std::invocable<F&, const at::Tensor&> &&
                           std::convertible_to<std::invoke_result_t<F&, const at::Tensor&>, at::Tensor>;

/// Runs `forward` while `t` records; returns {output, activations}.
template <class F>
std::pair<at::Tensor, at::Tensor> run_tapped(F& forward, const at::Tensor& input, const tap& t) {
    recording rec(t);
    at::Tensor output = forward(input);
    camkit::detail::require(rec.calls() > 0, "the tap was never reached during forward: call `x = tap(x);` in the "
                                             "model's forward on the tensor to explain");
    camkit::detail::require(rec.calls() == 1, "the tap was reached " + std::to_string(rec.calls()) +
                                                  " times during one forward; camkit explains one call");
    camkit::detail::require(!rec.modified_in_place(),
                            "the tapped tensor was modified in place after the tap: use the tensor the tap "
                            "returns (`x = tap(x);`), which in-place ops may change freely");
    return {output, rec.activations()};
}

}  // namespace detail

/// Scores [N] and seed ∂score/∂Y [N, C, *P] of one target per sample, computed with torch ops on
/// Y's device (accumulating in float, double for double); equal to camkit::seed_and_score on the host.
inline target_result<at::Tensor> seed_and_score(const at::Tensor& output, std::span<const target> targets) {
    camkit::detail::require(output.defined(), "targets: the model output is an undefined tensor");
    const shape_t shape = shape_of(output);
    const auto d = camkit::detail::check_output_shape(shape, "targets");
    camkit::detail::require(targets.size() == d.batch, "targets: " + std::to_string(targets.size()) +
                                                           " given for a batch of " + std::to_string(d.batch));
    for (std::size_t n = 0; n < targets.size(); ++n)
        camkit::detail::check_target(targets[n], d, "targets[" + std::to_string(n) + "]");
    const at::Tensor y = output.detach();
    at::Tensor seed = at::zeros(y.sizes(), y.options().dtype(detail::accumulator_dtype(y.scalar_type())));
    for (std::size_t n = 0; n < targets.size(); ++n)
        detail::write_seed(targets[n], d, static_cast<std::int64_t>(n), seed.select(0, static_cast<std::int64_t>(n)));
    return {detail::weighted_scores(y, seed), seed};
}

/// Scores [T] and seeds [T, C, *P] of T targets on sample `sample` of Y, with torch ops on Y's device.
inline target_result<at::Tensor> seed_and_score_many(const at::Tensor& output, std::span<const target> targets,
                                                     std::size_t sample = 0) {
    camkit::detail::require(output.defined(), "targets: the model output is an undefined tensor");
    const auto d = camkit::detail::check_output_shape(shape_of(output), "targets");
    camkit::detail::require(sample < d.batch, "targets: sample " + std::to_string(sample) +
                                                  " is out of range for a batch of " + std::to_string(d.batch));
    for (std::size_t t = 0; t < targets.size(); ++t)
        camkit::detail::check_target(targets[t], d, "targets[" + std::to_string(t) + "]");
    const at::Tensor y = output.detach().select(0, static_cast<std::int64_t>(sample));
    std::vector<std::int64_t> sizes{static_cast<std::int64_t>(targets.size())};
    for (std::int64_t e : y.sizes()) sizes.push_back(e);
    at::Tensor seeds = at::zeros(sizes, y.options().dtype(detail::accumulator_dtype(y.scalar_type())));
    for (std::size_t t = 0; t < targets.size(); ++t)
        detail::write_seed(targets[t], d, static_cast<std::int64_t>(sample), seeds.select(0, static_cast<std::int64_t>(t)));
    return {detail::weighted_scores(y.unsqueeze(0).expand(seeds.sizes()), seeds), seeds};
}

/// One forward of `forward` (any callable at::Tensor(const at::Tensor&), e.g. a lambda calling a
/// torch::nn::Module) recording `t`, then one autograd::grad for the batch with one target per sample.
template <class Forward>
    requires detail::forward_callable<Forward>
captured capture_gradients(Forward&& forward, const at::Tensor& input, const tap& t, std::span<const target> targets) {
    detail::check_autograd("capture_gradients");
    auto [output, a] = detail::run_tapped(forward, input, t);
    detail::check_activation(a, output, "the tap was never reached during forward");
    auto [scores, seed] = seed_and_score(output, targets);
    at::Tensor g = detail::gradient(output, a, seed, false);
    return {output.detach(), scores, a.detach(), g};
}

/// capture_gradients for a TorchScript layer prepared by scripted_layer.
inline captured capture_gradients(scripted_layer& layer, const at::Tensor& input, std::span<const target> targets) {
    detail::check_autograd("capture_gradients");
    auto p = layer.forward(input);
    detail::check_activation(p.activations, p.output, "layer '" + layer.layer() + "' was not reached during forward");
    auto [scores, seed] = seed_and_score(p.output, targets);
    at::Tensor g = detail::gradient(p.output, p.activations, seed, false);
    return {p.output.detach(), scores, p.activations.detach(), g};
}

namespace detail {
/// T backward passes over one forward's graph, one per target on sample `sample`.
inline captured gradients_many(const at::Tensor& output, const at::Tensor& a, std::span<const target> targets,
                               std::size_t sample) {
    auto [scores, seeds] = seed_and_score_many(output, targets, sample);
    const auto s = static_cast<std::int64_t>(sample);
    std::vector<at::Tensor> gs;
    gs.reserve(targets.size());
    for (std::size_t t = 0; t < targets.size(); ++t) {
        at::Tensor seed = at::zeros(output.sizes(), seeds.options());
        seed.select(0, s).copy_(seeds.select(0, static_cast<std::int64_t>(t)));
        gs.push_back(gradient(output, a, seed, t + 1 < targets.size()).select(0, s));
    }
    const at::Tensor A = a.detach().select(0, s);
    std::vector<std::int64_t> sizes{static_cast<std::int64_t>(targets.size())};
    for (std::int64_t e : A.sizes()) sizes.push_back(e);
    at::Tensor G = gs.empty() ? at::zeros(sizes, A.options()) : at::stack(gs);
    return {output.detach(), scores, A.unsqueeze(0).expand(sizes), G};
}
}  // namespace detail

/// Many targets for sample `sample` of `input` (e.g. every class of a segmentation): one forward,
/// one backward per target (the graph is retained between them). A and G come back as [T, K, *S].
template <class Forward>
    requires detail::forward_callable<Forward>
captured capture_gradients_many(Forward&& forward, const at::Tensor& input, const tap& t,
                                std::span<const target> targets, std::size_t sample = 0) {
    detail::check_autograd("capture_gradients_many");
    auto [output, a] = detail::run_tapped(forward, input, t);
    detail::check_activation(a, output, "the tap was never reached during forward");
    return detail::gradients_many(output, a, targets, sample);
}

/// capture_gradients_many for a TorchScript layer prepared by scripted_layer.
inline captured capture_gradients_many(scripted_layer& layer, const at::Tensor& input, std::span<const target> targets,
                                       std::size_t sample = 0) {
    detail::check_autograd("capture_gradients_many");
    auto p = layer.forward(input);
    detail::check_activation(p.activations, p.output, "layer '" + layer.layer() + "' was not reached during forward");
    return detail::gradients_many(p.output, p.activations, targets, sample);
}

/// Forward only, recording `t`: {output, activations} (for methods without gradients, e.g.
/// Eigen-CAM or Score-CAM). Works under NoGradGuard and InferenceMode too.
template <class Forward>
    requires detail::forward_callable<Forward>
std::pair<at::Tensor, at::Tensor> capture_activations(Forward&& forward, const at::Tensor& input, const tap& t) {
    auto [output, a] = detail::run_tapped(forward, input, t);
    return {output.detach(), a.detach()};
}

/// Forward only through a scripted_layer: {output, activations}.
inline std::pair<at::Tensor, at::Tensor> capture_activations(scripted_layer& layer, const at::Tensor& input) {
    auto p = layer.forward(input);
    camkit::detail::require(p.activations.defined(), "layer '" + layer.layer() + "' was not reached during forward");
    return {p.output.detach(), p.activations.detach()};
}

namespace detail {
template <method_policy Method>
explained finish(captured&& c, const options& opt) {
    explained e;
    static_cast<captured&>(e) = std::move(c);
    e.cam = camkit::explain<Method>(e.activations, e.gradients, opt);
    return e;
}
}  // namespace detail

/// Explains a C++-frontend model: `forward` runs it, `t` is the tap it calls in forward on the
/// layer to explain, one target per sample of `input`.
template <method_policy Method, class Forward>
    requires detail::forward_callable<Forward>
explained explain(Forward&& forward, const at::Tensor& input, const tap& t, std::span<const target> targets,
                  const options& opt = {}) {
    return detail::finish<Method>(capture_gradients(forward, input, t, targets), opt);
}

/// Explains a TorchScript layer prepared once with scripted_layer (reuse it across calls).
template <method_policy Method>
explained explain(scripted_layer& layer, const at::Tensor& input, std::span<const target> targets,
                  const options& opt = {}) {
    return detail::finish<Method>(capture_gradients(layer, input, targets), opt);
}

/// Explains layer `layer` (dotted path, e.g. "layer4.1") of a TorchScript module, with no change
/// to the module. Prepares a scripted_layer on every call: keep one to explain many inputs.
template <method_policy Method>
explained explain(const ::torch::jit::Module& module, const std::string& layer, const at::Tensor& input,
                  std::span<const target> targets, const options& opt = {}) {
    scripted_layer s(module, layer);
    return explain<Method>(s, input, targets, opt);
}

}  // namespace camkit::torch
