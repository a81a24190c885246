#pragma once
// The pipeline: method policy + reductions → raw map → relu → normalize → resize → renormalize.
// Every entry point (explain, explain_into, explain_many, cam, and the adapters' capture
// functions) validates its request once with detail::check_request, runs the kernels, and hands
// its tensors back through detail::make_explanation.
#include <camkit/concepts.hpp>
#include <camkit/kernels.hpp>
#include <camkit/projection.hpp>
#include <camkit/methods/policy.hpp>
#include <camkit/normalize.hpp>
#include <camkit/resize.hpp>

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace camkit {

/// Settings of the pipeline after the raw map (docs/math.md; defaults follow it) and of the kernels.
struct options {
    bool relu = true;                                    ///< step 1: clip negative evidence
    normalization normalize = normalization::min_max;    ///< step 2
    double eps = 1e-7;                                   ///< ε of min-max normalization
    shape_t size = {};                                   ///< step 3: spatial size; empty keeps the map's
    bool renormalize = false;                            ///< step 4: ReLU and min-max again after resizing
    int threads = 0;                                     ///< host kernels: 0 = as many cores as the work fills
    bool check_finite = true;                            ///< host kernels: NaN or Inf input is an error
};

/// What an explanation returns, as tensors of the caller's kind: the raw map [N, *S], the
/// channel weights [N, K] of methods that have them, and the finished map [N, *size].
template <class R>
struct explanation {
    R raw;
    std::optional<R> weights;
    R map;
};

namespace detail {

/// What a CAM call holds: one target per sample (gradients shaped as the activations), many
/// targets of one sample (activations [1, K, *S], gradients [T, K, *S]), or activations alone.
enum class request_kind { per_sample, many_targets, activations_only };

/// A validated request: the activation shape's facts and how many maps it makes.
struct cam_request {
    std::size_t N = 0;  ///< samples in the activations
    std::size_t K = 0;  ///< channels
    std::size_t S = 0;  ///< spatial positions
    std::size_t maps = 0;  ///< maps made: N, or T for many targets
    shape_t raw_shape;     ///< [maps, *S]
};

/// Validates an [N, K, *S] activation tensor's shape; names the argument in errors.
inline void check_cam_shape(const shape_t& shape, const char* what) {
    // Messages are built only on failure (lazy require): a call in a loop allocates nothing here.
    require(shape.size() >= 3 && shape.size() <= 5, [&] {
        return std::string(what) + " must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got rank " +
               std::to_string(shape.size()) + " shape " + to_string(shape);
    });
    for (std::size_t e : shape)
        require(e > 0, [&] { return std::string(what) + " has an empty axis: shape " + to_string(shape); });
}

/// Validates a request once: the shapes of activations and gradients (none for activations
/// alone) for its kind, and the options against them. Every entry point calls it, host or device.
inline cam_request check_request(const shape_t& a, const shape_t* g, const options& opt, request_kind kind) {
    check_cam_shape(a, "activations");
    if (kind == request_kind::per_sample) {
        require(g != nullptr, "gradients are missing");
        require(*g == a, [&] { return "gradients shape " + to_string(*g) + " must equal activations shape " + to_string(a); });
    } else if (kind == request_kind::many_targets) {
        require(a[0] == 1, [&] { return "explain_many: activations must hold one sample [1, K, *S], got shape " + to_string(a); });
        require(g != nullptr, "gradients are missing");
        check_cam_shape(*g, "gradients");
        require(g->size() == a.size() && std::equal(g->begin() + 1, g->end(), a.begin() + 1), [&] {
            const std::string dims = to_string(shape_t(a.begin() + 1, a.end()));  // "[K, ...]"
            return "explain_many: gradients must be [T, K, *S] = [T, " + dims.substr(1, dims.size() - 2) +
                   "] to match activations " + to_string(a) + ", got shape " + to_string(*g);
        });
    }
    if (!opt.size.empty())
        require(opt.size.size() + 2 == a.size(), [&] {
            return "options.size " + to_string(opt.size) + " must give one extent per spatial axis of activations " + to_string(a);
        });
    for (std::size_t e : opt.size) require(e > 0, [&] { return "options.size " + to_string(opt.size) + " has a zero extent"; });
    require(opt.eps >= 0, [&] { return "options.eps must be ≥ 0, got " + std::to_string(opt.eps); });
    require(opt.threads >= 0,
            [&] { return "options.threads must be ≥ 0 (0: as many cores as the work fills), got " + std::to_string(opt.threads); });
    cam_request r;
    r.N = a[0];
    r.K = a[1];
    r.S = element_count(std::span<const std::size_t>(a).subspan(2));
    r.maps = kind == request_kind::many_targets ? (*g)[0] : r.N;
    r.raw_shape = {r.maps};
    r.raw_shape.insert(r.raw_shape.end(), a.begin() + 2, a.end());
    return r;
}

/// The order of pipeline steps 1–4 (docs/math.md), stated once for every backend: `steps`
/// supplies relu(m), normalize(m, mode, eps) and resize(m, size) on its own map type (camkit
/// tensors on the host, whole tensors on a device).
template <class Map, class Steps>
Map finish_steps(Map map, const options& opt, const Steps& steps) {
    if (opt.relu) map = steps.relu(std::move(map));
    map = steps.normalize(std::move(map), opt.normalize, opt.eps);
    if (opt.size.empty()) return map;
    map = steps.resize(std::move(map), opt.size);
    if (opt.renormalize) map = steps.normalize(steps.relu(std::move(map)), normalization::min_max, opt.eps);
    return map;
}

/// The host's steps for finish_steps, on camkit tensors.
struct host_steps {
    template <class T>
    tensor<T> relu(tensor<T> m) const {
        relu_inplace(m);
        return m;
    }
    template <class T>
    tensor<T> normalize(tensor<T> m, normalization mode, double eps) const {
        normalize_inplace(m, mode, eps);
        return m;
    }
    template <class T>
    tensor<T> resize(const tensor<T>& m, const shape_t& size) const {
        return camkit::resize(m, size);
    }
};

/// Applies pipeline steps 1–4 to a copy of `raw`, written to `map`: without a resize, the copy,
/// ReLU and min-max scan in one pass into `map`'s storage (the same steps, fused); with one, the
/// steps in finish_steps' order.
template <class T>
void finish_map_into(const tensor<T>& raw, const options& opt, tensor<T>& map) {
    if (opt.size.empty()) {
        relu_normalize_copy(raw, map, opt.relu, opt.normalize, opt.eps);
        return;
    }
    map = finish_steps(raw, opt, host_steps{});
}

/// Applies pipeline steps 1–4 to a copy of `raw`.
template <class T>
tensor<T> finish_map(const tensor<T>& raw, const options& opt) {
    tensor<T> map;
    finish_map_into(raw, opt, map);
    return map;
}

/// Gives `t` the shape `shape`, keeping its storage when it has room (values unspecified).
template <class T>
void reshape_for_reuse(tensor<T>& t, const shape_t& shape) {
    t.shape = shape;
    resize_values(t.values, element_count(shape));
}

/// The one result builder: an explanation of `like`'s kind from camkit tensors.
template <class Acc, host_tensor T>
auto make_explanation(const T& like, tensor<Acc>&& raw, std::optional<tensor<Acc>>&& weights, tensor<Acc>&& map) {
    using R = decltype(make_result<Acc>(std::move(raw), like));
    std::optional<R> w;
    if (weights) w.emplace(make_result<Acc>(std::move(*weights), like));
    return explanation<R>{make_result<Acc>(std::move(raw), like), std::move(w), make_result<Acc>(std::move(map), like)};
}

/// The host pipeline of a validated request into caller-owned tensors: runs the fused kernel into
/// `raw` (and `weights` for channel-weight methods, reset otherwise), then finishes `map`.
/// `eigen` solves the projection methods' eigenproblem (camkit's own, or LAPACK's from the BLAS adapter).
template <method_policy Method, class E, class Acc, class Eigen = host_eigen>
void explain_host_into(const cam_request& req, const host_view<const E>& A, const host_view<const E>& G,
                       const options& opt, explanation<tensor<Acc>>& out, const Eigen& eigen = {}) {
    reshape_for_reuse(out.raw, req.raw_shape);
    if constexpr (Method::form == method_form::channel_weights) {
        if (!out.weights) out.weights.emplace();
        reshape_for_reuse(*out.weights, shape_t{req.N, req.K});
        fused_channel_weights<Method, Acc>(A, &G, out.raw.data(), out.weights->data(), opt.threads, opt.check_finite);
    } else {
        out.weights.reset();
        if constexpr (Method::form == method_form::elementwise)
            fused_elementwise<Method, Acc>(A, G, out.raw.data(), opt.threads, opt.check_finite);
        else
            projection_map<Method, Acc>(A, G, out.raw.data(), opt.threads, opt.check_finite, eigen);
    }
    finish_map_into(out.raw, opt, out.map);
}

/// The host pipeline for any host tensors: one validation, the kernels, results of A's kind.
template <method_policy Method, host_tensor T, class Eigen = host_eigen>
auto explain_host(const T& activations, const T& gradients, const options& opt, const Eigen& eigen = {}) {
    return with_host_view(activations, [&](const auto& A) {
        using E = typename std::remove_cvref_t<decltype(A)>::element_type;
        using Acc = accumulator_t<E>;
        const host_view<const E> G = host_view_as<E>(gradients, "gradients");
        const cam_request req = check_request(A.shape, &G.shape, opt, request_kind::per_sample);
        explanation<tensor<Acc>> out;
        explain_host_into<Method>(req, A, G, opt, out, eigen);
        return make_explanation<Acc>(activations, std::move(out.raw), std::move(out.weights), std::move(out.map));
    });
}

}  // namespace detail

/// Explains with `Method` given a layer's activations and the target's gradients, both [N, K, *S].
/// Returns the raw map, the channel weights (if the method has them) and the finished map. Host
/// memory runs the fused kernels; a device tensor runs the same policy with its backend's ops.
template <method_policy Method, explainable_tensor T>
auto explain(const T& activations, const T& gradients, const options& opt = {}) {
    if constexpr (host_tensor<T> && device_tensor<T>) {
        if (detail::on_host(activations)) return detail::explain_host<Method>(activations, gradients, opt);
        return tensor_traits<std::remove_cvref_t<T>>::ops::template explain<Method>(activations, gradients, opt);
    } else if constexpr (host_tensor<T>) {
        return detail::explain_host<Method>(activations, gradients, opt);
    } else {
        // A device backend runs the same policy on whole tensors with its own ops.
        return tensor_traits<std::remove_cvref_t<T>>::ops::template explain<Method>(activations, gradients, opt);
    }
}

/// Explains as `explain` does, into `out`, whose tensors' storage is reused: repeated calls at one
/// shape allocate no map storage (a resize to options.size still does, and so do the kernels'
/// small per-call bookkeeping and, for non-contiguous inputs, their scratch copies of the planes).
/// Results are camkit::tensor of the accumulation type Acc of the inputs' element type. If it throws, `out` holds unspecified values.
template <method_policy Method, class Acc, host_tensor T>
    requires(!static_host_tensor<T> || std::is_same_v<Acc, accumulator_t<value_type_t<T>>>)
void explain_into(explanation<tensor<Acc>>& out, const T& activations, const T& gradients, const options& opt = {}) {
    detail::with_host_view(activations, [&](const auto& A) {
        using E = typename std::remove_cvref_t<decltype(A)>::element_type;
        if constexpr (std::is_same_v<accumulator_t<E>, Acc>) {
            const host_view<const E> G = detail::host_view_as<E>(gradients, "gradients");
            const detail::cam_request req = detail::check_request(A.shape, &G.shape, opt, detail::request_kind::per_sample);
            detail::explain_host_into<Method>(req, A, G, opt, out);
        } else {
            detail::require(false, "explain_into: the activations' element type accumulates in another type than "
                                   "the explanation's tensors hold");
        }
    });
}

/// Explains with a method that needs no gradients (Eigen-CAM): the activations stand in for both.
template <method_policy Method, explainable_tensor T>
auto explain(const T& activations, const options& opt = {}) {
    static_assert(!needs_gradients_v<Method>, "this method needs gradients: call explain<Method>(activations, gradients)");
    return explain<Method>(activations, activations, opt);
}

namespace detail {
/// Validates the shape of a linear head's weights [C, K] (C ≥ 1) for K activation channels.
inline void check_head_shape(const shape_t& w, std::size_t K) {
    require(w.size() == 2 && w[1] == K && w[0] > 0,
            "head_weights must be [C, K] with K = " + std::to_string(K) + " channels, got shape " + to_string(w));
}

/// Validates CAM's head weights [C, K] and one class per sample against a validated request
/// (shared with device backends, so CAM is validated in one place).
inline void check_cam_head(const cam_request& req, const shape_t& w, std::span<const std::size_t> classes) {
    check_head_shape(w, req.K);
    require(classes.size() == req.N, "classes holds " + std::to_string(classes.size()) + " entries but the batch has " +
                                         std::to_string(req.N) + " samples");
    for (std::size_t n = 0; n < req.N; ++n)
        require(classes[n] < w[0], "classes[" + std::to_string(n) + "] = " + std::to_string(classes[n]) +
                                       " is out of range for " + std::to_string(w[0]) + " classes");
}
}  // namespace detail

/// CAM (Zhou et al.) for a global-average-pooling + linear head: raw[n] = Σ_k W[c_n, k] A[n, k].
/// `head_weights` is [C, K] (the linear layer's weight); `classes` holds one class per sample.
template <host_tensor T, host_tensor W>
auto cam(const T& activations, const W& head_weights, std::span<const std::size_t> classes, const options& opt = {}) {
    return detail::with_host_view(activations, [&](const auto& A) {
        using E = typename std::remove_cvref_t<decltype(A)>::element_type;
        using Acc = accumulator_t<E>;
        const detail::cam_request req = detail::check_request(A.shape, nullptr, opt, detail::request_kind::activations_only);
        tensor<Acc> weights_of_classes = detail::with_host_view(head_weights, [&](const auto& Wv) {
            detail::check_cam_head(req, Wv.shape, classes);
            tensor<Acc> w(shape_t{req.N, req.K});
            for (std::size_t n = 0; n < req.N; ++n) {
                for (std::size_t k = 0; k < req.K; ++k) {
                    const Acc v = static_cast<Acc>(Wv.data[static_cast<std::ptrdiff_t>(classes[n]) * Wv.strides[0] +
                                                           static_cast<std::ptrdiff_t>(k) * Wv.strides[1]]);
                    if (opt.check_finite && !std::isfinite(v))
                        throw error("camkit: head_weights contain NaN or Inf (class " + std::to_string(classes[n]) +
                                    ", channel " + std::to_string(k) + ")");
                    w[n * req.K + k] = v;
                }
            }
            return w;
        }, "head_weights");
        explanation<tensor<Acc>> out;
        out.weights = std::move(weights_of_classes);
        out.raw = tensor<Acc>(req.raw_shape);
        detail::fused_channel_weights<void, Acc, E>(A, nullptr, out.raw.data(), out.weights->data(), opt.threads,
                                                    opt.check_finite);
        detail::finish_map_into(out.raw, opt, out.map);
        return detail::make_explanation<Acc>(activations, std::move(out.raw), std::move(out.weights), std::move(out.map));
    });
}

}  // namespace camkit
