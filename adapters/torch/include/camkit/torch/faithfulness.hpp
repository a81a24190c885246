#pragma once
// Faithfulness metrics that need the model: deletion and insertion curves with their area under
// the curve (Petsiuk et al., RISE), and average drop / increase in confidence (Chattopadhay et al.,
// Grad-CAM++). All run batched forward passes, chunked by a batch size, on the input's device.
//
// Definitions (input x [N, C, *S], map m [N, *S] of the same spatial shape, P = |S| pixels,
// T = steps, score = target-class probability unless another score is passed):
// - order: pixels sorted by m descending (stable: ties keep their flat index order).
// - k_t = floor(t·P / T) for t = 0..T: the number of pixels changed at step t.
// - deletion:  x_t = x with its k_t most important pixels (all channels) set to the baseline.
// - insertion: x_t = the baseline with the k_t most important pixels taken from x.
// - curve[n, t] = score(model(x_t)); fractions[t] = k_t / P.
// - auc[n] = Σ_t (fractions[t+1] − fractions[t]) · (curve[n, t] + curve[n, t+1]) / 2 (trapezoid).
//   Lower deletion AUC and higher insertion AUC mean a more faithful map.
// - baseline: zeros, or the input blurred by a Gaussian (σ in pixels, replicated borders).
// - average drop = 100 · mean_n max(0, Y_n − O_n) / Y_n and increase in confidence =
//   100 · (number of n with O_n > Y_n) / N, where Y_n = score(model(x)) and O_n = score(model(x ⊙ m))
//   with m broadcast over channels (m is expected in [0, 1], e.g. a min-max normalized map).
#include <camkit/torch/forward.hpp>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace camkit::torch {

/// What a removed pixel becomes (deletion) or what the image starts from (insertion).
enum class baseline_kind {
    zeros,  ///< all-zero pixels
    blur,   ///< the input blurred by a Gaussian of `blur_sigma` pixels
};

/// Settings of the faithfulness metrics.
struct faithfulness_options {
    std::int64_t steps = 100;                     ///< T: the curve has T + 1 points
    std::int64_t batch_size = 32;                 ///< perturbed inputs per forward pass
    baseline_kind baseline = baseline_kind::zeros;
    double blur_sigma = 5.0;                      ///< σ of the blur baseline, in pixels
    progress_callback progress = {};              ///< called after each forward pass
};

/// A deletion or insertion curve: fractions [T+1] of changed pixels, scores [N, T+1] and auc [N].
struct faithfulness_curve {
    at::Tensor fractions;
    at::Tensor scores;
    at::Tensor auc;
};

/// Average drop and increase in confidence (both in percent) with the per-sample scores behind them.
struct confidence_change {
    at::Tensor original;   ///< Y [N]: score on the input
    at::Tensor explained;  ///< O [N]: score on the input multiplied by the map
    double average_drop = 0;            ///< 100 · mean max(0, Y − O) / Y
    double increase_in_confidence = 0;  ///< 100 · fraction of samples with O > Y
};

namespace detail {

/// Checks a map [N, *S] against an input [N, C, *S].
inline void check_map_for_input(const at::Tensor& maps, const at::Tensor& input) {
    shape_t want{static_cast<std::size_t>(input.size(0))};
    for (std::int64_t d = 2; d < input.dim(); ++d) want.push_back(static_cast<std::size_t>(input.size(d)));
    require(maps.defined() && shape_of(maps) == want,
            "maps must be [N, *S] = " + to_string(want) + " to match input " + to_string(shape_of(input)) +
                ", got " + (maps.defined() ? to_string(shape_of(maps)) : std::string("undefined")));
}

/// Separable Gaussian blur over the spatial axes of x [N, C, *S], replicating the border.
inline at::Tensor gaussian_blur(const at::Tensor& x, double sigma) {
    require(sigma > 0 && std::isfinite(sigma), "blur_sigma must be a positive number, got " + std::to_string(sigma));
    const std::int64_t radius = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(3 * sigma)));
    at::Tensor k = at::arange(-radius, radius + 1, x.options()).to(at::kDouble);
    k = at::exp(-(k * k) / (2 * sigma * sigma));
    k = (k / k.sum()).to(x.scalar_type()).view({1, 1, -1});
    at::Tensor y = x;
    for (std::int64_t axis = 2; axis < x.dim(); ++axis) {
        at::Tensor moved = y.movedim(axis, -1).contiguous();
        const auto moved_sizes = moved.sizes().vec();
        const std::int64_t len = moved_sizes.back();
        at::Tensor rows = moved.view({-1, 1, len});
        // Replicated border by clamped indices: works for rows shorter than the kernel too.
        const at::Tensor idx =
            at::arange(-radius, len + radius, at::TensorOptions().dtype(at::kLong).device(x.device())).clamp(0, len - 1);
        rows = rows.index_select(2, idx);
        rows = at::conv1d(rows, k);
        y = rows.view(moved_sizes).movedim(-1, axis);
    }
    return y.contiguous();
}

inline at::Tensor make_baseline(const at::Tensor& input, const faithfulness_options& opt) {
    if (opt.baseline == baseline_kind::zeros) return at::zeros_like(input);
    return gaussian_blur(input, opt.blur_sigma);
}

inline void check_faithfulness_options(const faithfulness_options& opt) {
    require(opt.steps >= 1, "options.steps must be ≥ 1, got " + std::to_string(opt.steps));
    require(opt.batch_size >= 1, "options.batch_size must be ≥ 1, got " + std::to_string(opt.batch_size));
}

/// Shared body of deletion and insertion: `start` is the image at t = 0 and `end` at t = T.
template <forward_function F, sample_score Score>
faithfulness_curve perturbation_curve(F& forward, const at::Tensor& start, const at::Tensor& end,
                                      const at::Tensor& maps, const Score& score, const faithfulness_options& opt) {
    const std::int64_t N = start.size(0), T = opt.steps;
    const std::int64_t P = maps[0].numel();
    const auto long_opts = at::TensorOptions().dtype(at::kLong).device(start.device());

    // rank[n, p] = position of pixel p in the importance order of sample n.
    const at::Tensor flat = maps.reshape({N, P}).to(at::kFloat);
    const at::Tensor order = std::get<1>(at::sort(flat, /*stable=*/true, /*dim=*/1, /*descending=*/true));
    const at::Tensor positions = at::arange(P, long_opts).expand({N, P});
    const at::Tensor rank = at::empty_like(order).scatter_(1, order, positions);

    std::vector<std::int64_t> counts(static_cast<std::size_t>(T + 1));
    for (std::int64_t t = 0; t <= T; ++t) counts[static_cast<std::size_t>(t)] = t * P / T;
    const at::Tensor k = at::tensor(counts, at::kLong).to(start.device());

    std::vector<std::int64_t> mask_shape{-1, 1};
    for (std::int64_t d = 2; d < start.dim(); ++d) mask_shape.push_back(start.size(d));

    // Rows (n, t) flattened in that order, chunked by batch_size.
    const std::int64_t rows = N * (T + 1);
    const std::int64_t total_passes = (rows + opt.batch_size - 1) / opt.batch_size;
    std::vector<at::Tensor> chunks;
    for (std::int64_t r0 = 0, pass = 0; r0 < rows; r0 += opt.batch_size, ++pass) {
        const std::int64_t b = std::min(opt.batch_size, rows - r0);
        const at::Tensor idx = at::arange(r0, r0 + b, long_opts);
        const at::Tensor n = idx.div(T + 1, "floor");
        const at::Tensor t = idx.remainder(T + 1);
        // changed[row, p]: pixel p is among the k_t most important of sample n.
        const at::Tensor changed = rank.index_select(0, n).lt(k.index_select(0, t).unsqueeze(1));
        const at::Tensor m = changed.to(start.scalar_type()).view(mask_shape);
        const at::Tensor s = start.index_select(0, n), e = end.index_select(0, n);
        const at::Tensor out = run_forward(forward, s + m * (e - s));
        chunks.push_back(score_rows(score, out, n));
        if (opt.progress) opt.progress(pass + 1, total_passes);
    }
    faithfulness_curve c;
    c.scores = at::cat(chunks).view({N, T + 1});
    c.fractions = k.to(at::kFloat) / static_cast<float>(P);
    const at::Tensor dx = c.fractions.narrow(0, 1, T) - c.fractions.narrow(0, 0, T);
    const at::Tensor mid = (c.scores.narrow(1, 1, T) + c.scores.narrow(1, 0, T)) * 0.5;
    c.auc = (mid * dx.unsqueeze(0)).sum(1);
    return c;
}

inline void check_curve_args(const at::Tensor& input, const at::Tensor& maps, const faithfulness_options& opt) {
    check_input(input);
    check_map_for_input(maps, input);
    check_faithfulness_options(opt);
}

}  // namespace detail

/// Deletion curve: the score as the most important pixels (by `maps`) are removed, with its AUC.
/// `score` is any sample_score (class_probability{classes} for the usual target-class probability).
template <torch_model M, sample_score Score>
faithfulness_curve deletion_curve(M&& model, const at::Tensor& input, const at::Tensor& maps, const Score& score,
                                  const faithfulness_options& opt = {}) {
    detail::check_curve_args(input, maps, opt);
    const at::Tensor base = detail::make_baseline(input, opt);
    auto&& forward = detail::as_forward(model);
    return detail::perturbation_curve(forward, input, base, maps.to(input.device()), score, opt);
}

/// Deletion curve scored by the softmax probability of one class per sample.
template <torch_model M>
faithfulness_curve deletion_curve(M&& model, const at::Tensor& input, const at::Tensor& maps,
                                  std::span<const std::int64_t> classes, const faithfulness_options& opt = {}) {
    detail::check_class_count(classes, input);
    return deletion_curve(model, input, maps, class_probability{{classes.begin(), classes.end()}}, opt);
}

/// Insertion curve: the score as the most important pixels are put onto the baseline, with its AUC.
template <torch_model M, sample_score Score>
faithfulness_curve insertion_curve(M&& model, const at::Tensor& input, const at::Tensor& maps, const Score& score,
                                   const faithfulness_options& opt = {}) {
    detail::check_curve_args(input, maps, opt);
    const at::Tensor base = detail::make_baseline(input, opt);
    auto&& forward = detail::as_forward(model);
    return detail::perturbation_curve(forward, base, input, maps.to(input.device()), score, opt);
}

/// Insertion curve scored by the softmax probability of one class per sample.
template <torch_model M>
faithfulness_curve insertion_curve(M&& model, const at::Tensor& input, const at::Tensor& maps,
                                   std::span<const std::int64_t> classes, const faithfulness_options& opt = {}) {
    detail::check_class_count(classes, input);
    return insertion_curve(model, input, maps, class_probability{{classes.begin(), classes.end()}}, opt);
}

/// Average drop and increase in confidence (Chattopadhay et al.) of `maps` under `score`.
template <torch_model M, sample_score Score>
confidence_change confidence_drop(M&& model, const at::Tensor& input, const at::Tensor& maps, const Score& score,
                                  std::int64_t batch_size = 32) {
    detail::check_input(input);
    detail::check_map_for_input(maps, input);
    detail::require(batch_size >= 1, "batch_size must be ≥ 1, got " + std::to_string(batch_size));
    auto&& forward = detail::as_forward(model);
    const std::int64_t N = input.size(0);
    const at::Tensor explained_input = input * maps.to(input.device()).to(input.scalar_type()).unsqueeze(1);
    std::vector<at::Tensor> y, o;
    for (std::int64_t r0 = 0; r0 < N; r0 += batch_size) {
        const std::int64_t b = std::min(batch_size, N - r0);
        const at::Tensor n = at::arange(r0, r0 + b, at::TensorOptions().dtype(at::kLong).device(input.device()));
        y.push_back(detail::score_rows(score, detail::run_forward(forward, input.narrow(0, r0, b)), n));
        o.push_back(detail::score_rows(score, detail::run_forward(forward, explained_input.narrow(0, r0, b)), n));
    }
    confidence_change r;
    r.original = at::cat(y);
    r.explained = at::cat(o);
    // The two summary numbers are for people, so one host read at the very end is fine.
    r.average_drop = (at::clamp_min(r.original - r.explained, 0) / r.original).mean().item<double>() * 100.0;
    r.increase_in_confidence = r.explained.gt(r.original).to(at::kDouble).mean().item<double>() * 100.0;
    return r;
}

/// Average drop and increase in confidence scored by the softmax probability of one class per sample.
template <torch_model M>
confidence_change confidence_drop(M&& model, const at::Tensor& input, const at::Tensor& maps,
                                  std::span<const std::int64_t> classes, std::int64_t batch_size = 32) {
    detail::check_class_count(classes, input);
    return confidence_drop(model, input, maps, class_probability{{classes.begin(), classes.end()}}, batch_size);
}

}  // namespace camkit::torch
