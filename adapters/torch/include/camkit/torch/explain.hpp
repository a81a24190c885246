#pragma once
// Explaining a LibTorch model end to end: one forward pass that records the layer's
// activations, the target's score and seed ∂score/∂output, one torch::autograd::grad for the
// whole batch (parameters' .grad stay untouched), then camkit::explain on the activations and
// gradients. The layer is recorded by a tap (capture.hpp) or any other layer_recorder (a
// TorchScript layer, scripted.hpp); no TorchScript header is needed here.
//
// What to explain (an `objective`): one linear camkit target per sample (class score, mask sum
// or mean: the seed is built by the core on the host and copied to the output's device once),
// a non-linear score of the output such as a probability (probability_score, or any callable
// output [N, ...] -> scores [N]: autograd gives the seed), or nothing: each sample's predicted class.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/explain.hpp>
#include <camkit/targets/target.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/forward.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
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

/// A score of the model output computed with autograd: `f(output [N, C, ...]) -> scores [N]`,
/// one differentiable score per sample (sample n's score may depend on output[n] only).
template <class F>
concept output_score = std::invocable<const F&, const at::Tensor&> &&
                       std::convertible_to<std::invoke_result_t<const F&, const at::Tensor&>, at::Tensor> &&
                       !std::convertible_to<const F&, std::span<const target>>;

namespace detail {

/// Σ over everything but the first axis of seed · Y, reading only where the seed is nonzero.
inline at::Tensor weighted_scores(const at::Tensor& y, const at::Tensor& seed) {
    const at::Tensor prod = at::where(seed != 0, seed * y.to(seed.scalar_type()), at::zeros({}, seed.options()));
    return prod.flatten(1).sum(1);  // [0] for no rows (no targets)
}

/// A seed built by the core on the host, on `like`'s device in its accumulation dtype.
template <class Acc>
at::Tensor seed_on_device(camkit::tensor<Acc>&& seed, const at::Tensor& like) {
    return to_torch(std::move(seed)).to(like.device());
}

/// Calls `f` with the host seed builder's accumulation type for `y` (double for double, else float).
template <class F>
decltype(auto) with_accumulator(const at::Tensor& y, F&& f) {
    if (y.scalar_type() == at::kDouble) return f(double{});
    return f(float{});
}

inline void check_autograd(const char* who) {
    camkit::detail::require(!c10::InferenceMode::is_enabled(),
                            std::string(who) + ": c10::InferenceMode is active; gradients need autograd, so "
                                               "explain outside the InferenceMode guard");
    camkit::detail::require(c10::GradMode::is_enabled(),
                            std::string(who) + ": grad mode is off (a torch::NoGradGuard is active); gradients "
                                               "need autograd, so explain outside the NoGradGuard");
}

inline void check_output(const at::Tensor& output, const char* who) {
    camkit::detail::require(output.defined(), std::string(who) + ": the model output is an undefined tensor");
}

}  // namespace detail

/// Scores [N] and seed ∂score/∂Y [N, C, *P] of one linear target per sample: camkit::seed_and_score
/// for a host tensor; otherwise the core builds and validates the seed on the host (it depends
/// only on Y's shape and the targets' masks), it is copied to Y's device once, and the scores are
/// computed there (float, double for double).
inline target_result<at::Tensor> seed_and_score(const at::Tensor& output, std::span<const target> targets) {
    detail::check_output(output, "targets");
    const at::Tensor y = output.detach();
    if (on_host(y)) return camkit::seed_and_score(y, targets);
    const at::Tensor seed = detail::with_accumulator(y, [&](auto acc) {
        return detail::seed_on_device(camkit::target_seed<decltype(acc)>(shape_of(y), targets), y);
    });
    return {detail::weighted_scores(y, seed), seed};
}

/// Scores [T] and seeds [T, C, *P] of T linear targets on sample `sample` of Y: the core's
/// seed_and_score_many for a host tensor, seeds built by the core and scored on Y's device otherwise.
inline target_result<at::Tensor> seed_and_score_many(const at::Tensor& output, std::span<const target> targets,
                                                     std::size_t sample = 0) {
    detail::check_output(output, "targets");
    const at::Tensor y = output.detach();
    if (on_host(y)) return camkit::seed_and_score_many(y, targets, sample);
    const at::Tensor seeds = detail::with_accumulator(y, [&](auto acc) {
        return detail::seed_on_device(camkit::target_seeds_for_sample<decltype(acc)>(shape_of(y), targets, sample), y);
    });
    const at::Tensor ys = y.select(0, static_cast<std::int64_t>(sample)).unsqueeze(0).expand(seeds.sizes());
    return {detail::weighted_scores(ys, seeds), seeds};
}

/// Scores [N] and seed ∂(Σ_n score[n])/∂Y [N, C, *P] of a non-linear score of the output, by
/// autograd through `score` alone (the model is not run again). With one score per sample that
/// depends on its own row of Y, the seed's row n is ∂score[n]/∂Y[n].
template <output_score F>
target_result<at::Tensor> seed_and_score(const at::Tensor& output, const F& score) {
    detail::check_output(output, "score");
    detail::check_autograd("score");
    const at::ScalarType acc = detail::accumulator_dtype(output.scalar_type());
    const at::Tensor y = output.detach().to(acc).requires_grad_(true);
    const at::Tensor s = std::invoke(score, y);
    camkit::detail::require(s.defined() && s.dim() == 1 && s.size(0) == y.size(0),
                            "score: must return one value per sample, [N] = [" + std::to_string(y.size(0)) +
                                "], got " + (s.defined() ? "shape " + to_string(shape_of(s)) : std::string("undefined")));
    camkit::detail::require(s.is_floating_point(), "score: must return floating-point values");
    at::Tensor seed;
    if (s.requires_grad()) seed = ::torch::autograd::grad({s.sum()}, {y}, {}, false, false, true).at(0);
    camkit::detail::require(seed.defined(), "score: the score does not depend on the model output");
    return {s.detach().to(acc), seed};
}

/// The probability of a linear camkit target: score[n] = Σ seed(t[n]) · P[n] with P the class
/// probabilities of the output, softmax over the class axis (C ≥ 2) or, for a one-channel
/// (sigmoid) output, P = [1 − σ(Y), σ(Y)] so class 1 is σ(Y) and class 0 is 1 − σ(Y).
/// class_score(c) gives the probability of class c (classifier); mask_mean(c, M) the mean
/// probability of class c over M (segmentation); mask_sum(c, M) their sum.
///
/// The targets are given (`targets`), or built from the output of the explanation's own forward
/// pass by `from_output` (output [N, C, ...], detached -> N targets; used while `targets` is empty),
/// as targets_from_output does for linear targets: no forward of its own to learn the output.
struct probability_score {
    std::vector<target> targets;  ///< one per sample, validated against P's shape
    std::function<std::vector<target>(const at::Tensor&)> from_output = {};  ///< builds them when `targets` is empty

    /// Seeds [N, C', *P] of the targets on the class probabilities of `output` (C' = 2 for one channel).
    at::Tensor seeds(const at::Tensor& output) const {
        const at::Tensor p = class_probabilities(output);
        std::vector<target> built;
        if (targets.empty() && from_output) {
            detail::check_output(output, "probability_score");
            built = from_output(output.detach());
        }
        const std::vector<target>& use = targets.empty() && from_output ? built : targets;
        return detail::with_accumulator(p, [&](auto acc) {
            return detail::seed_on_device(camkit::target_seed<decltype(acc)>(shape_of(p), use), p);
        });
    }

    /// Scores [N] of `output` [N, C, *P], differentiable through the probabilities.
    at::Tensor operator()(const at::Tensor& output) const {
        return detail::weighted_scores(class_probabilities(output), seeds(output.detach()));
    }
};

/// Each sample's predicted class of a classifier output [N, C] as a class_score target: the
/// argmax over C, or for one channel (sigmoid) class 1 where Y > 0 and class 0 elsewhere.
inline std::vector<target> predicted_class_targets(const at::Tensor& output) {
    detail::check_output(output, "predicted class");
    camkit::detail::require(output.dim() == 2,
                            "predicted class: explaining without a target needs a classifier output [N, C], the "
                            "model gives " + to_string(shape_of(output)) +
                                "; give a segmentation model its targets (e.g. mask_sum over predicted_region)");
    const at::Tensor y = output.detach();
    const at::Tensor pred = (y.size(1) == 1 ? y.select(1, 0).gt(0).to(at::kLong) : y.argmax(1)).to(at::kCPU);
    std::vector<target> targets(static_cast<std::size_t>(y.size(0)));
    const auto* c = pred.data_ptr<std::int64_t>();
    for (std::size_t n = 0; n < targets.size(); ++n) targets[n].class_index = static_cast<std::size_t>(c[n]);
    return targets;
}

/// Linear targets that read the model output's values (a predicted class, a predicted region):
/// `make(output)` builds one target per sample from the output of the explanation's own forward
/// pass (detached), so no separate forward is needed to find them.
struct targets_from_output {
    std::function<std::vector<target>(const at::Tensor&)> make;  ///< output [N, C, ...] -> N targets
};

/// What to explain in one call: one linear camkit target per sample, linear targets built from the
/// output (targets_from_output), a non-linear output_score (e.g. probability_score), or nothing,
/// which explains each sample's predicted class. Converts implicitly from each. Targets given as a
/// span or a named vector are referred to (they must outlive the objective, as for a span); a
/// braced list or a temporary vector is kept by the objective (and shared by its copies).
class objective {
public:
    /// Each sample's predicted class (a classifier output).
    objective() = default;
    /// One linear target per sample (referred to).
    objective(std::span<const target> targets) : targets_(targets), linear_(true) {}
    /// One linear target per sample (referred to).
    objective(const std::vector<target>& targets) : objective(std::span<const target>(targets)) {}
    /// One linear target per sample, kept.
    objective(std::vector<target>&& targets) : objective(std::make_shared<const std::vector<target>>(std::move(targets))) {}
    /// One linear target per sample, as a braced list (kept: the list's array lives only for the
    /// full expression that makes it).
    objective(std::initializer_list<target> targets) : objective(std::make_shared<const std::vector<target>>(targets)) {}
    /// Linear targets built from the output of the explanation's own forward pass.
    objective(targets_from_output f) : from_output_(std::move(f.make)) {
        camkit::detail::require(static_cast<bool>(from_output_), "targets_from_output: `make` is empty");
    }
    /// Linear targets on the class probabilities.
    objective(probability_score p) : probability_(std::move(p)) {}
    /// A score of the output whose seed autograd gives.
    template <output_score F>
    objective(F score) : score_(std::move(score)) {}

    /// Scores [N] and seed ∂score/∂Y of `output` (validated against it).
    target_result<at::Tensor> seed_and_score(const at::Tensor& output) const {
        if (linear_) return camkit::torch::seed_and_score(output, targets_);
        if (probability_) return camkit::torch::seed_and_score(output, *probability_);
        if (score_) return camkit::torch::seed_and_score(output, score_);
        const std::vector<target> built = targets_for(output);
        return camkit::torch::seed_and_score(output, built);
    }

    /// The same objective as a sample_score of perturbed copies of the samples of `output`'s batch
    /// (Score-CAM, faithfulness): every kind but a general score callable, whose per-sample
    /// meaning camkit cannot know (pass a sample_score to those functions instead).
    seed_score sample_score_for(const at::Tensor& output) const {
        if (linear_) return {camkit::torch::seed_and_score(output, targets_).seed};
        if (probability_) return {probability_->seeds(output.detach()), true};
        camkit::detail::require(!score_, "a score callable cannot score perturbed inputs (Score-CAM): give camkit "
                                         "targets, a probability_score, or a sample_score");
        const std::vector<target> built = targets_for(output);
        return {camkit::torch::seed_and_score(output, built).seed};
    }

    /// False for linear targets, whose seed follows from the output's shape alone.
    bool depends_on_output_values() const { return !linear_; }

private:
    /// The targets of the output-dependent kinds: built by targets_from_output, else the predicted classes.
    std::vector<target> targets_for(const at::Tensor& output) const {
        if (!from_output_) return predicted_class_targets(output);
        detail::check_output(output, "targets_from_output");
        return from_output_(output.detach());  // their count and shapes are checked with the seed
    }

    explicit objective(std::shared_ptr<const std::vector<target>> kept)
        : kept_(std::move(kept)), targets_(*kept_), linear_(true) {}

    std::shared_ptr<const std::vector<target>> kept_;  ///< targets given by value (targets_ views them)
    std::span<const target> targets_;
    bool linear_ = false;
    std::function<std::vector<target>(const at::Tensor&)> from_output_;
    std::optional<probability_score> probability_;
    std::function<at::Tensor(const at::Tensor&)> score_;
};

namespace detail {

inline void check_activation(const at::Tensor& a, const at::Tensor& output, const std::string& who) {
    camkit::detail::require(a.defined(), who + " was not reached during forward");
    camkit::detail::require(a.requires_grad(),
                            "the captured activation does not require grad (frozen weights?): make the input "
                            "require grad (input.requires_grad_()) or unfreeze the layers before it");
    camkit::detail::require(output.defined() && output.dim() >= 1 && a.dim() >= 1 && a.size(0) == output.size(0),
                            "the captured activation has batch size " + std::to_string(a.dim() ? a.size(0) : 0) +
                                " but the model output " +
                                (output.defined() ? "has shape " + to_string(shape_of(output)) : std::string("is undefined")));
}

/// ∂⟨seed, output⟩/∂A; a clear error when the output does not depend on A.
inline at::Tensor gradient(const at::Tensor& output, const at::Tensor& a, const at::Tensor& seed, bool retain) {
    const char* independent = "the model output does not depend on the captured activation";
    camkit::detail::require(output.requires_grad(), independent);
    auto g = ::torch::autograd::grad({output}, {a}, {seed.to(output.scalar_type())}, retain, false, true);
    camkit::detail::require(g.at(0).defined(), independent);
    return g[0];
}

/// One forward through `rec`, checked for autograd; {output, activations} with the graph attached.
template <layer_recorder R>
recorded_pass forward_with_graph(R& rec, const at::Tensor& input, const char* who) {
    check_autograd(who);
    recorded_pass p = rec.forward(input);
    check_activation(p.activations, p.output, rec.describe());
    return p;
}

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

/// One forward through `rec` (a TorchScript layer from scripted.hpp, a `tapped` model, your own
/// layer_recorder), then one autograd::grad for the batch: A, G and the scores of `what`.
template <layer_recorder R>
captured capture_gradients(R& rec, const at::Tensor& input, const objective& what = {}) {
    recorded_pass p = detail::forward_with_graph(rec, input, "capture_gradients");
    auto [scores, seed] = what.seed_and_score(p.output);
    at::Tensor g = detail::gradient(p.output, p.activations, seed, false);
    return {p.output.detach(), scores, p.activations.detach(), g};
}

/// capture_gradients of a C++-frontend model: `forward` (any callable at::Tensor(const at::Tensor&),
/// e.g. a lambda calling a torch::nn::Module) runs it, `t` is the tap it calls on the layer.
template <forward_callable Forward>
captured capture_gradients(Forward&& forward, const at::Tensor& input, const tap& t, const objective& what = {}) {
    tapped<std::remove_reference_t<Forward>> rec(forward, t);
    return capture_gradients(rec, input, what);
}

/// Many linear targets for sample `sample` of `input` (e.g. every class of a segmentation): one
/// forward, one backward per target (the graph is retained between them). A and G come back as [T, K, *S].
template <layer_recorder R>
captured capture_gradients_many(R& rec, const at::Tensor& input, std::span<const target> targets,
                                std::size_t sample = 0) {
    recorded_pass p = detail::forward_with_graph(rec, input, "capture_gradients_many");
    return detail::gradients_many(p.output, p.activations, targets, sample);
}

/// capture_gradients_many of a C++-frontend model at the tap it calls in forward.
template <forward_callable Forward>
captured capture_gradients_many(Forward&& forward, const at::Tensor& input, const tap& t,
                                std::span<const target> targets, std::size_t sample = 0) {
    tapped<std::remove_reference_t<Forward>> rec(forward, t);
    return capture_gradients_many(rec, input, targets, sample);
}

/// Forward only through `rec`: {output, activations}, detached (for methods without gradients,
/// e.g. Eigen-CAM or Score-CAM). Works under NoGradGuard and InferenceMode too.
template <layer_recorder R>
std::pair<at::Tensor, at::Tensor> capture_activations(R& rec, const at::Tensor& input) {
    recorded_pass p = rec.forward(input);
    camkit::detail::require(p.activations.defined(), rec.describe() + " was not reached during forward");
    return {p.output.detach(), p.activations.detach()};
}

/// Forward only, recording the tap `t` of a C++-frontend model: {output, activations}.
template <forward_callable Forward>
std::pair<at::Tensor, at::Tensor> capture_activations(Forward&& forward, const at::Tensor& input, const tap& t) {
    tapped<std::remove_reference_t<Forward>> rec(forward, t);
    return capture_activations(rec, input);
}

namespace detail {

/// capture_activations for a method that reads the layer alone: a recorder with
/// `forward_activations` (scripted_layer) leaves the output undefined when the model returns
/// several and none was chosen, instead of failing on it.
template <class Source>
std::pair<at::Tensor, at::Tensor> capture_layer_alone(Source& src, const at::Tensor& input) {
    if constexpr (requires { { src.forward_activations(input) } -> std::same_as<recorded_pass>; }) {
        recorded_pass p = src.forward_activations(input);
        camkit::detail::require(p.activations.defined(), src.describe() + " was not reached during forward");
        return {p.output.defined() ? p.output.detach() : p.output, p.activations.detach()};
    } else {
        return capture_activations(src, input);
    }
}

/// explain's body for a layer recorder or an exported package `src`: capture_gradients and the
/// method for the gradient-based methods; for the others (Eigen-CAM) a forward alone, without a
/// graph (gradients and scores are then left undefined, and `what` is not used; so is the output
/// of a model that returns several when none was chosen: it is then undefined too).
template <method_policy Method, class Source>
explained explain_source(Source& src, const at::Tensor& input, const objective& what, const options& opt) {
    explained e;
    if constexpr (needs_gradients_v<Method>) {
        static_cast<captured&>(e) = capture_gradients(src, input, what);
        e.cam = camkit::explain<Method>(e.activations, e.gradients, opt);
    } else {
        at::NoGradGuard no_grad;
        std::tie(e.output, e.activations) = capture_layer_alone(src, input);
        e.cam = camkit::explain<Method>(e.activations, opt);
    }
    return e;
}

}  // namespace detail

/// Explains the layer `rec` records (e.g. a scripted_layer, built once and reused) with `Method`:
/// the gradients of `what` for the gradient-based methods, one forward without a graph for the
/// others (Eigen-CAM: gradients and scores are then undefined).
template <method_policy Method, layer_recorder R>
explained explain(R& rec, const at::Tensor& input, const objective& what = {}, const options& opt = {}) {
    return detail::explain_source<Method>(rec, input, what, opt);
}

/// Explains a C++-frontend model: `forward` runs it, `t` is the tap it calls in forward on the
/// layer to explain; `what` is one target per sample, a score, or nothing (the predicted classes).
template <method_policy Method, forward_callable Forward>
explained explain(Forward&& forward, const at::Tensor& input, const tap& t, const objective& what = {},
                  const options& opt = {}) {
    tapped<std::remove_reference_t<Forward>> rec(forward, t);
    return explain<Method>(rec, input, what, opt);
}

}  // namespace camkit::torch
