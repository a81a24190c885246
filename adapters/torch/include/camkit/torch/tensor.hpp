#pragma once
// LibTorch binding: camkit::tensor_traits<at::Tensor>. A dense CPU tensor of float or double is a
// host tensor whose element type is known at run time: every host feature of the core (explain,
// explain_into, explain_many, cam, seed_and_score, mask builders) reads its memory in place, and
// results come back as CPU tensors. Any other tensor (CUDA, half, bfloat16) runs the same method
// policy with whole-tensor torch ops on its own device (`ops`), with no host copies and no `.item()`;
// results come back on the input's device and in its dtype.
#include <camkit/explain.hpp>

#include <ATen/ATen.h>

#include <limits>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace camkit::torch {

/// The shape of a torch tensor as camkit's shape type.
inline shape_t shape_of(const at::Tensor& t) {
    shape_t s;
    s.reserve(static_cast<std::size_t>(t.dim()));
    for (std::int64_t e : t.sizes()) s.push_back(static_cast<std::size_t>(e));
    return s;
}

/// A torch size vector for a camkit shape.
inline std::vector<std::int64_t> sizes_of(const shape_t& shape) {
    return std::vector<std::int64_t>(shape.begin(), shape.end());
}

/// Wraps a camkit::tensor as a CPU at::Tensor without copying: the tensor owns the buffer.
template <class U>
at::Tensor to_torch(camkit::tensor<U>&& t) {
    auto owner = std::make_unique<camkit::tensor<U>>(std::move(t));
    U* data = owner->data();
    const auto sizes = sizes_of(owner->shape);
    camkit::tensor<U>* raw_owner = owner.release();
    return at::from_blob(
        data, sizes, [raw_owner](void*) { delete raw_owner; },
        at::TensorOptions().dtype(c10::CppTypeToScalarType<U>::value));
}

/// A host view of a CPU tensor's memory (no copy); throws camkit::error for other devices or dtypes.
template <class E>
host_view<const E> host_view_of(const at::Tensor& t, const char* what) {
    detail::require(t.defined(), std::string(what) + " is an undefined tensor");
    detail::require(t.device().is_cpu(), std::string(what) + " must be on the CPU for a host view, got device " +
                                             t.device().str());
    detail::require(t.scalar_type() == c10::CppTypeToScalarType<E>::value,
                    std::string(what) + " has dtype " + std::string(c10::toString(t.scalar_type())) +
                        ", the host view expects " + std::string(c10::toString(c10::CppTypeToScalarType<E>::value)));
    detail::require(t.layout() == at::kStrided, std::string(what) + " must be a dense (strided) tensor");
    host_view<const E> v;
    v.data = t.data_ptr<E>();
    v.shape = shape_of(t);
    v.strides.assign(t.strides().begin(), t.strides().end());
    return v;
}

/// True for a tensor the core's host features read in place: dense, on the CPU, float or double.
inline bool on_host(const at::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.layout() == at::kStrided &&
           (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

}  // namespace camkit::torch

namespace camkit {

namespace torch {
struct torch_tensor_ops;
}  // namespace torch

/// at::Tensor (= torch::Tensor) is a host tensor with a run-time element type when it is on_host
/// (a dense CPU float or double tensor) and a device tensor otherwise: camkit::explain picks the
/// host kernels or `ops` per call; the host-only features refuse other tensors with a clear error.
template <>
struct tensor_traits<at::Tensor> {
    using ops = camkit::torch::torch_tensor_ops;

    /// True when the host features can read `t` in place.
    static bool on_host(const at::Tensor& t) { return camkit::torch::on_host(t); }

    /// Calls f(host_view<const float>) or f(host_view<const double>) on `t`'s memory (no copy);
    /// throws camkit::error for an undefined, non-CPU, non-dense or other-dtype tensor.
    template <class F>
    static decltype(auto) with_host_view(const at::Tensor& t, F&& f) {
        if (t.defined() && t.scalar_type() == at::kDouble) return f(camkit::torch::host_view_of<double>(t, "tensor"));
        return f(camkit::torch::host_view_of<float>(t, "tensor"));
    }

    /// A host result as a CPU tensor that owns the buffer (no copy).
    template <class U>
    static at::Tensor make_result(tensor<U>&& r, const at::Tensor&) { return camkit::torch::to_torch(std::move(r)); }
};

}  // namespace camkit

namespace camkit::torch {

namespace detail {

using camkit::detail::require;

/// Accumulation dtype for an element dtype: double for double, float for everything else.
inline at::ScalarType accumulator_dtype(at::ScalarType t) {
    return t == at::kDouble ? at::kDouble : at::kFloat;
}

/// The checks the host path makes, with the same messages, plus device and dtype agreement.
inline void check_pair(const at::Tensor& A, const at::Tensor& G, const options& opt) {
    require(A.defined(), "activations is an undefined tensor");
    require(G.defined(), "gradients is an undefined tensor");
    const shape_t a = shape_of(A), g = shape_of(G);
    camkit::detail::check_request(a, &g, opt, camkit::detail::request_kind::per_sample);
    require(A.is_floating_point(),
            "activations must be a floating-point tensor, got dtype " + std::string(c10::toString(A.scalar_type())));
    require(G.scalar_type() == A.scalar_type(), "gradients dtype " + std::string(c10::toString(G.scalar_type())) +
                                                    " must equal activations dtype " +
                                                    std::string(c10::toString(A.scalar_type())));
    require(G.device() == A.device(),
            "gradients are on device " + G.device().str() + " but activations on " + A.device().str());
    require(A.layout() == at::kStrided && G.layout() == at::kStrided, "activations and gradients must be dense tensors");
}

}  // namespace detail

/// Op-level reductions on whole [N, K, S] tensors: the same names the method policies call on
/// host planes. Reductions run over the last (spatial) axis and keep it, so weights broadcast.
struct tensor_ops {
    /// Σ_s x[n, k, s] as [N, K, 1].
    static at::Tensor sum(const at::Tensor& x) { return x.sum(-1, true); }
    /// Σ_s f(x) as [N, K, 1].
    template <class F>
    static at::Tensor sum(const at::Tensor& x, F f) { return f(x).sum(-1, true); }
    /// Σ_s f(a, g) as [N, K, 1].
    template <class F>
    static at::Tensor sum(const at::Tensor& a, const at::Tensor& g, F f) { return f(a, g).sum(-1, true); }
    /// max(x, 0); NaN stays NaN as on the host.
    static at::Tensor relu(const at::Tensor& x) { return at::relu(x); }
};

/// The class probabilities of a model output [N, C, *P] or [N, C], in float (double for double):
/// softmax over the class axis for C ≥ 2; for one channel (a sigmoid output) [1 − σ(Y), σ(Y)],
/// so that class 0 and class 1 index them as they index the output's classes.
inline at::Tensor class_probabilities(const at::Tensor& output) {
    camkit::detail::require(output.defined() && output.dim() >= 2,
                            "class probabilities: the model output must be [N, C] or [N, C, *P], got " +
                                (output.defined() ? "shape " + to_string(shape_of(output)) : std::string("undefined")));
    const at::Tensor y = output.to(detail::accumulator_dtype(output.scalar_type()));
    if (y.size(1) != 1) return at::softmax(y, 1);
    const at::Tensor p = at::sigmoid(y);
    return at::cat({1 - p, p}, 1);
}

/// Per-sample normalization of maps [N, *S] with torch ops (SPEC.md step 2), on their device.
inline at::Tensor normalize(const at::Tensor& maps, normalization mode, double eps = 1e-7) {
    camkit::detail::require(eps >= 0, "normalize: eps must be ≥ 0, got " + std::to_string(eps));
    camkit::detail::require(maps.dim() >= 1, "normalize: maps need a batch axis");
    if (mode == normalization::none || maps.numel() == 0) return maps;
    const at::Tensor flat = maps.reshape({maps.size(0), -1});
    const at::Tensor mx = flat.amax(1, true);
    at::Tensor out;
    if (mode == normalization::min_max) {
        const at::Tensor mn = flat.amin(1, true);
        out = (flat - mn) / (mx - mn + eps);
    } else {
        out = at::where(mx > 0, flat / mx, flat);
    }
    return out.reshape(maps.sizes());
}

/// Linear / bilinear / trilinear resize of maps [N, *S] to `size` with half-pixel centres
/// (align_corners = false), on their device (SPEC.md step 3).
inline at::Tensor resize(const at::Tensor& maps, const shape_t& size) {
    camkit::detail::require(maps.dim() >= 2 && maps.dim() <= 4,
                            "resize: maps must be [N, *S] with 1 to 3 spatial axes, got shape " +
                                to_string(shape_of(maps)));
    camkit::detail::require(size.size() + 1 == static_cast<std::size_t>(maps.dim()),
                            "resize: size " + to_string(size) + " must give one extent per spatial axis of maps " +
                                to_string(shape_of(maps)));
    for (std::size_t e : size) camkit::detail::require(e > 0, "resize: size " + to_string(size) + " has a zero extent");
    const auto out = sizes_of(size);
    if (at::IntArrayRef(out) == maps.sizes().slice(1)) return maps;
    const at::Tensor x = maps.unsqueeze(1);
    at::Tensor r;
    if (size.size() == 1) r = at::upsample_linear1d(x, out, false);
    else if (size.size() == 2) r = at::upsample_bilinear2d(x, out, false);
    else r = at::upsample_trilinear3d(x, out, false);
    return r.squeeze(1);
}

namespace detail {
/// The device's steps for the core's finish_steps: torch ops on the map's device.
struct device_steps {
    at::Tensor relu(const at::Tensor& m) const { return at::relu(m); }
    at::Tensor normalize(const at::Tensor& m, normalization mode, double eps) const {
        return camkit::torch::normalize(m, mode, eps);
    }
    at::Tensor resize(const at::Tensor& m, const shape_t& size) const { return camkit::torch::resize(m, size); }
};
}  // namespace detail

/// Pipeline steps 1–4 on a raw map [N, *S]: the core's finish_map for a host tensor (one
/// pipeline), the same steps with torch ops on the raw map's device otherwise (step 4, ReLU and
/// min-max again, follows a resize only).
inline at::Tensor finish_map(const at::Tensor& raw, const options& opt) {
    if (on_host(raw)) {
        const at::Tensor dense = raw.contiguous();
        if (dense.scalar_type() == at::kDouble)
            return to_torch(camkit::detail::finish_map(
                camkit::tensor<double>(shape_of(dense), {dense.data_ptr<double>(), dense.data_ptr<double>() + dense.numel()}), opt));
        return to_torch(camkit::detail::finish_map(
            camkit::tensor<float>(shape_of(dense), {dense.data_ptr<float>(), dense.data_ptr<float>() + dense.numel()}), opt));
    }
    return camkit::detail::finish_steps(raw, opt, detail::device_steps{});
}

namespace detail {

/// Each row of u [N, d] with the sign camkit's solver gives its eigenvectors
/// (camkit::detail::set_eigenvector_sign): its first entry of at least half its largest magnitude
/// positive.
inline at::Tensor with_own_sign(const at::Tensor& u) {
    const at::Tensor magnitude = u.abs();
    const at::Tensor large = (magnitude >= magnitude.amax(-1, true) / 2).to(at::kInt);
    const at::Tensor first = large.argmax(-1, true);  // the first of the maxima
    return at::where(u.gather(-1, first) < 0, -u, u);
}

/// First principal component of X [N, K, S] over channels for each sample, as [N, S], signed so
/// that max ≥ |min|, keeping the eigenvector's own sign (with_own_sign) where they are equal within
/// 64 ulps of X's type (the rounding of its centring and Gram product; write_signed_projection's
/// rule, whose double sums round less). The Gram matrix on the smaller side is decomposed in double.
inline at::Tensor projection(at::Tensor X) {
    const std::int64_t K = X.size(1), S = X.size(2);
    X = X - X.mean(-1, true);
    const at::Tensor Xt = X.transpose(1, 2);  // [N, S, K]
    at::Tensor proj;
    if (S <= K) {
        const auto eig = at::linalg_eigh(at::bmm(Xt, X).to(at::kDouble));  // X Xᵀ in [s, s'] form
        const at::Tensor u = with_own_sign(std::get<1>(eig).select(-1, S - 1));  // [N, S]
        const at::Tensor sigma = std::get<0>(eig).select(-1, S - 1).clamp_min(0).sqrt().unsqueeze(-1);
        proj = u * sigma;  // in double until signed
    } else {
        const auto eig = at::linalg_eigh(at::bmm(X, Xt).to(at::kDouble));  // [N, K, K]
        const at::Tensor v = with_own_sign(std::get<1>(eig).select(-1, K - 1)).to(X.scalar_type());
        proj = at::bmm(v.unsqueeze(1), X).squeeze(1);  // Σ_k v_k X[k, s]
    }
    const double eps = X.scalar_type() == at::kDouble ? std::numeric_limits<double>::epsilon()
                                                      : std::numeric_limits<float>::epsilon();
    const at::Tensor hi = proj.amax(-1, true), lo = proj.amin(-1, true);
    const at::Tensor tie = 64 * eps * at::maximum(hi, -lo);
    return at::where(hi >= -lo - tie, proj, -proj).to(X.scalar_type());
}

}  // namespace detail

/// Explains with `Method` using whole-tensor torch ops on the tensors' own device (the path CUDA,
/// half and bfloat16 tensors take; callable on CPU tensors too). A and G are [N, K, *S]. NaN and
/// Inf propagate into the maps here (checking them would need a device-to-host copy).
template <method_policy Method>
explanation<at::Tensor> explain_with_ops(const at::Tensor& activations, const at::Tensor& gradients,
                                         const options& opt = {}) {
    detail::check_pair(activations, gradients, opt);
    const at::ScalarType dtype = activations.scalar_type();
    const at::ScalarType acc = detail::accumulator_dtype(dtype);
    const std::int64_t N = activations.size(0), K = activations.size(1);
    const at::Tensor a = activations.detach().to(acc).reshape({N, K, -1});
    const at::Tensor g = gradients.detach().to(acc).reshape({N, K, -1});
    const tensor_ops ops;
    at::Tensor raw;
    std::optional<at::Tensor> weights;
    if constexpr (Method::form == method_form::channel_weights) {
        const at::Tensor w = whole_tensor_weights<Method>(ops, a, g, static_cast<double>(a.size(2)));  // [N, K, 1]
        raw = at::bmm(w.transpose(1, 2), a).squeeze(1);
        weights.emplace(w.squeeze(-1).to(dtype));
    } else if constexpr (Method::form == method_form::elementwise) {
        raw = Method::contribution(ops, a, g).sum(1);
    } else {
        raw = detail::projection(Method::projected(ops, a, g));
    }
    std::vector<std::int64_t> map_sizes{N};
    for (std::int64_t d = 2; d < activations.dim(); ++d) map_sizes.push_back(activations.size(d));
    raw = raw.reshape(map_sizes);
    at::Tensor map = finish_map(raw, opt);
    return {raw.to(dtype), std::move(weights), map.to(dtype)};
}

/// The device side of camkit::explain for at::Tensor: what the core calls for a tensor that is
/// not on_host (CUDA, half, bfloat16); host tensors never get here.
struct torch_tensor_ops : tensor_ops {
    /// explain_with_ops.
    template <method_policy Method>
    static explanation<at::Tensor> explain(const at::Tensor& activations, const at::Tensor& gradients,
                                           const options& opt) {
        return explain_with_ops<Method>(activations, gradients, opt);
    }
};

/// CAM (Zhou et al.) for a global-average-pooling + linear head: raw[n] = Σ_k W[c_n, k] A[n, k].
/// `head_weights` is [C, K] (the linear layer's weight), `classes` one class per sample. Host
/// activations go through camkit::cam (the head's weights read on the CPU in any floating dtype);
/// others use torch ops on their device, validated by the same core checks.
inline explanation<at::Tensor> cam(const at::Tensor& activations, const at::Tensor& head_weights,
                                   std::span<const std::size_t> classes, const options& opt = {}) {
    camkit::detail::require(activations.defined() && head_weights.defined(),
                            "activations and head_weights must be defined tensors");
    const at::ScalarType t = activations.scalar_type();
    if (on_host(activations)) {
        const at::Tensor w = on_host(head_weights) ? head_weights : head_weights.detach().to(at::kCPU, t);
        return camkit::cam(activations, w, classes, opt);
    }
    const camkit::detail::cam_request req = camkit::detail::check_request(
        shape_of(activations), nullptr, opt, camkit::detail::request_kind::activations_only);
    camkit::detail::check_cam_head(req, shape_of(head_weights), classes);
    camkit::detail::require(activations.is_floating_point(), "activations must be a floating-point tensor");
    const at::ScalarType acc = detail::accumulator_dtype(t);
    std::vector<std::int64_t> idx(classes.begin(), classes.end());
    const at::Tensor rows = at::tensor(idx, at::kLong).to(activations.device());
    const at::Tensor w = head_weights.detach().to(activations.device(), acc).index_select(0, rows);  // [N, K]
    const at::Tensor a3 = activations.detach().to(acc).reshape({activations.size(0), activations.size(1), -1});
    const at::Tensor raw = at::bmm(w.unsqueeze(1), a3).squeeze(1).reshape(sizes_of(req.raw_shape));
    return {raw.to(t), w.to(t), finish_map(raw, opt).to(t)};
}

}  // namespace camkit::torch
