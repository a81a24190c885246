#pragma once
// What a method policy is: a small type naming the method and stating its channel weights,
// per-element contribution or projected matrix in terms of the reductions (reductions.hpp).
#include <concepts>
#include <string_view>
#include <type_traits>

namespace camkit {

/// How a method turns activations A and gradients G into a raw map.
enum class method_form {
    channel_weights,  ///< raw = Σ_k w_k A[k,s] with w_k from `channel_weight(ops, a, g)`
    elementwise,      ///< raw = Σ_k `contribution(ops, a, g)` per position
    projection,       ///< raw = first principal component of `projected(ops, a, g)` over channels
};

/// A method policy: a name for the command line, a title for people, and its form.
/// Its element-wise code (contribution, projected, the lambdas given to ops.sum) is generic over
/// the value type: on the host it runs on Acc scalars and on SIMD packs of Acc (simd.hpp), on a
/// device on whole tensors. So it uses arithmetic operators, `ops.relu`, `ops.where_nonzero` and
/// `constant_like`, not std::max, std::abs or `?:`, which packs and tensors do not share.
template <class M>
concept method_policy = requires {
    { M::name } -> std::convertible_to<std::string_view>;
    { M::title } -> std::convertible_to<std::string_view>;
    { M::form } -> std::convertible_to<method_form>;
};

/// Whether a method reads gradients: true unless its policy says `needs_gradients = false` (Eigen-CAM).
template <class M>
inline constexpr bool needs_gradients_v = [] {
    if constexpr (requires { M::needs_gradients; }) return static_cast<bool>(M::needs_gradients);
    else return true;
}();

/// The constant `v` in the arithmetic of a policy's scalar `like`: the host's accumulation type
/// for a host scalar (so float kernels stay in float and vectorize), a double for a device tensor
/// (whose ops take a double scalar and keep the tensor's dtype).
template <class S>
constexpr auto constant_like(const S&, double v) {
    if constexpr (std::is_floating_point_v<S>) return static_cast<S>(v);
    else return v;
}

}  // namespace camkit
