#pragma once
// What the gradient-free parts of the torch adapter (Score-CAM, faithfulness metrics) call the
// model through: any callable from an input batch to an output batch, or a model object with
// model_traits (a TorchScript module once camkit/torch/scripted.hpp is included).
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace camkit::torch {

namespace detail {
/// The type scores are computed in: double for a double output, float otherwise (half and
/// bfloat16 accumulate in float), as the host kernels do.
inline at::ScalarType score_type(const at::Tensor& t) {
    return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}
}  // namespace detail

/// A model as the gradient-free algorithms see it: `f(batch) -> output`, both at::Tensor.
template <class F>
concept forward_function = forward_callable<F>;

/// How a model object that is not itself a forward_function is run: a specialization provides
/// `static forward_function auto forward(M&)` (camkit/torch/scripted.hpp does so for
/// torch::jit::Module, so this header needs no TorchScript header).
template <class M>
struct model_traits;

/// A model: a forward_function, or an object whose model_traits give one.
template <class M>
concept torch_model = forward_function<M> || requires(std::remove_cvref_t<M>& m) {
    { model_traits<std::remove_cvref_t<M>>::forward(m) } -> forward_function;
};

/// Reports progress of a long run: called with the forward passes done so far and their total.
using progress_callback = std::function<void(std::int64_t done, std::int64_t total)>;

/// A score of the model output: `s(output [B, ...], samples [B] int64) -> [B]`, where samples[b]
/// is the input sample that row b was made from (so the score can use that sample's class or mask).
template <class S>
concept sample_score = std::invocable<const S&, const at::Tensor&, const at::Tensor&>;

namespace detail {
/// One class per sample, kept on the host for checks and as a tensor for indexing.
struct class_list {
    std::vector<std::int64_t> classes;

    at::Tensor rows(const at::Tensor& output, const at::Tensor& samples) const {
        camkit::detail::require(output.dim() >= 2, "model: output must be [B, C, ...] to pick a class");
        for (std::size_t i = 0; i < classes.size(); ++i)
            camkit::detail::require(classes[i] >= 0 && classes[i] < output.size(1),
                                    "classes[" + std::to_string(i) + "] = " + std::to_string(classes[i]) +
                                        " is out of range for a model output with " + std::to_string(output.size(1)) +
                                        " classes");
        const at::Tensor all = at::tensor(classes, at::kLong).to(output.device());
        return all.index_select(0, samples.to(output.device())).view({-1, 1});
    }
};
}  // namespace detail

/// The target class's softmax probability over axis 1 of a [B, C] output (one class per sample).
struct class_probability {
    std::vector<std::int64_t> classes;
    at::Tensor operator()(const at::Tensor& output, const at::Tensor& samples) const {
        const at::Tensor c = detail::class_list{classes}.rows(output, samples);
        return at::softmax(output.to(detail::score_type(output)), 1).gather(1, c).view({-1});
    }
};

/// The target class's raw output (logit) at axis 1 of a [B, C] output (one class per sample).
struct class_logit {
    std::vector<std::int64_t> classes;
    at::Tensor operator()(const at::Tensor& output, const at::Tensor& samples) const {
        const at::Tensor c = detail::class_list{classes}.rows(output, samples);
        return output.to(detail::score_type(output)).gather(1, c).view({-1});
    }
};

/// A segmentation score Σ_p M[p] Y[c, p] (or its mean over the mask's nonzeros): Seg-Grad-CAM's
/// mask reduction of an output [B, C, *S], with masks [N, *S] (one per sample) or [*S] (shared).
struct class_mask_score {
    std::vector<std::int64_t> classes;
    at::Tensor masks;
    bool mean = false;  ///< divide by nnz(M) (an empty mask scores 0)
    at::Tensor operator()(const at::Tensor& output, const at::Tensor& samples) const {
        const at::Tensor c = detail::class_list{classes}.rows(output, samples);
        std::vector<std::int64_t> idx_shape{-1, 1};
        for (std::int64_t d = 2; d < output.dim(); ++d) idx_shape.push_back(1);
        std::vector<std::int64_t> expand_shape{-1, 1};
        for (std::int64_t d = 2; d < output.dim(); ++d) expand_shape.push_back(output.size(d));
        const at::Tensor y = output.to(detail::score_type(output)).gather(1, c.view(idx_shape).expand(expand_shape)).squeeze(1);
        camkit::detail::require(masks.defined(), "masks is an undefined tensor");
        const auto spatial = y.sizes().slice(1);
        const bool per_sample = masks.dim() == y.dim() && masks.sizes().slice(1) == spatial;
        camkit::detail::require(per_sample || masks.sizes() == spatial,
                                "masks shape " + to_string(shape_of(masks)) +
                                    " must be [N, *S] or [*S] with *S the output's spatial shape (output shape " +
                                    to_string(shape_of(output)) + ")");
        at::Tensor m = masks.to(output.device()).to(y.scalar_type());
        m = per_sample ? m.index_select(0, samples.to(output.device())) : m.unsqueeze(0).expand_as(y);
        at::Tensor s = (m * y).flatten(1).sum(1);
        if (mean) s = s / m.ne(0).flatten(1).sum(1).clamp_min(1).to(y.scalar_type());
        return s;
    }
};

/// A linear target given by its seed: score[b] = Σ seed[samples[b]] · output[b], with seeds
/// [N, C, *P] = ∂score/∂Y of camkit's targets (camkit::torch::seed_and_score gives them). A target is
/// a linear form of the output, so the seed of the unperturbed input scores perturbed inputs too.
/// With `probabilities`, the seeds weight the output's class_probabilities instead (a
/// probability_score's targets), [N, 2, *P] for a one-channel output.
struct seed_score {
    at::Tensor seeds;
    bool probabilities = false;  ///< score the class probabilities rather than the raw output
    at::Tensor operator()(const at::Tensor& output, const at::Tensor& samples) const {
        const at::Tensor y = probabilities ? class_probabilities(output) : output;
        camkit::detail::require(seeds.defined() && seeds.sizes().slice(1) == y.sizes().slice(1),
                                "seed_score: seeds shape " + (seeds.defined() ? to_string(shape_of(seeds)) : "undefined") +
                                    " must be [N, C, *P] for " + (probabilities ? "class probabilities" : "an output") +
                                    " of shape " + to_string(shape_of(y)));
        const at::Tensor s = seeds.to(y.device()).index_select(0, samples.to(y.device()));
        return (s * y.to(s.scalar_type())).flatten(1).sum(1);
    }
};

namespace detail {

using camkit::detail::require;

/// The forward function of a model: the callable itself, or what its model_traits give.
template <torch_model M>
decltype(auto) as_forward(M& m) {
    if constexpr (forward_function<M>) return (m);
    else return model_traits<std::remove_cvref_t<M>>::forward(m);
}

/// Runs `forward` on a batch without recording autograd history and checks it returned [B, C, ...].
template <forward_function F>
at::Tensor run_forward(F& forward, const at::Tensor& batch) {
    at::NoGradGuard no_grad;
    at::Tensor out = std::invoke(forward, batch);
    require(out.defined() && out.dim() >= 2 && out.size(0) == batch.size(0),
            "model: output must be [B, C, ...] with B = " + std::to_string(batch.size(0)) + " rows, got shape " +
                (out.defined() ? to_string(shape_of(out)) : std::string("undefined")));
    return out;
}

/// Validates an [N, C, *S] model input with 1 to 3 spatial axes.
inline void check_input(const at::Tensor& input) {
    require(input.defined() && input.dim() >= 3 && input.dim() <= 5,
            "input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape " +
                (input.defined() ? to_string(shape_of(input)) : std::string("undefined")));
    require(input.is_floating_point(), "input must hold floating-point values");
    for (auto e : input.sizes()) require(e > 0, "input has an empty axis: shape " + to_string(shape_of(input)));
}

/// Checks that `classes` holds one entry per sample of `input`.
inline void check_class_count(std::span<const std::int64_t> classes, const at::Tensor& input) {
    require(static_cast<std::int64_t>(classes.size()) == input.size(0),
            "classes holds " + std::to_string(classes.size()) + " entries but the batch has " +
                std::to_string(input.size(0)) + " samples");
}

/// Applies a sample_score to a model output and checks it gave one value per row (float, or
/// double when the score is double).
template <sample_score Score>
at::Tensor score_rows(const Score& score, const at::Tensor& output, const at::Tensor& samples) {
    at::Tensor s = std::invoke(score, output, samples);
    require(s.defined() && s.numel() == samples.numel(),
            "score: must return one value per output row (" + std::to_string(samples.numel()) + "), got shape " +
                (s.defined() ? to_string(shape_of(s)) : std::string("undefined")));
    return s.to(score_type(s)).view({-1});
}

}  // namespace detail
}  // namespace camkit::torch
