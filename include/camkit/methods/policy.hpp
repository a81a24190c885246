#pragma once
// What a method policy is: a small type naming the method and stating, in terms of per-plane
// statistics and element-wise arithmetic, how activations A and gradients G become a raw map.
// The kernels (kernels.hpp on the host, a backend's whole-tensor ops on a device) compute the
// statistics a policy declares, together with the finite checks, in passes they plan from the
// declaration; a policy never reads memory itself. docs/math.md has every method's formula.
#include <camkit/reductions.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace camkit {

/// How a method turns activations A and gradients G into a raw map.
enum class method_form {
    channel_weights,  ///< raw = Σ_k w_k A[k,s] with w_k = `channel_weight(statistics)`
    elementwise,      ///< raw = Σ_k `contribution(ops, a, g)` per position
    projection,       ///< raw = first principal component of `projected(ops, a, g)` over channels
};

/// The per-plane statistics a channel-weight method can declare in `needs` (combine with |).
enum class statistic : unsigned {
    none = 0,
    sum_a = 1,   ///< Σ_s A[k,s]
    sum_g = 2,   ///< Σ_s G[k,s]
    sum_ag = 4,  ///< Σ_s A[k,s] G[k,s]
};

/// The union of two sets of statistics.
constexpr statistic operator|(statistic x, statistic y) {
    return static_cast<statistic>(static_cast<unsigned>(x) | static_cast<unsigned>(y));
}

/// True when the set `set` holds `s`.
constexpr bool has(statistic set, statistic s) { return (static_cast<unsigned>(set) & static_cast<unsigned>(s)) != 0; }

/// The statistics of one (sample, channel) plane that a channel-weight method receives: those it
/// declared in `needs`, `sum_term` = Σ_s gradient_term(…, G) when it defines a gradient term, and
/// the number of positions. X is the accumulation type on the host, or a whole [N, K, 1] tensor on
/// a device backend (then Count is a double). Statistics not declared are left value-initialized.
template <class X, class Count = X>
struct plane_statistics {
    X sum_a{};           ///< Σ_s A (declared by statistic::sum_a)
    X sum_g{};           ///< Σ_s G (statistic::sum_g)
    X sum_ag{};          ///< Σ_s A·G (statistic::sum_ag)
    X sum_term{};        ///< Σ_s gradient_term(ops, statistics, G) (methods with a gradient term)
    Count positions{};   ///< |S|, the number of spatial positions
};

/// The part every method policy has: a name for the command line, a title for people, its form.
template <class M>
concept method_description = requires {
    { M::name } -> std::convertible_to<std::string_view>;
    { M::title } -> std::convertible_to<std::string_view>;
    { M::form } -> std::convertible_to<method_form>;
};

/// A channel-weight method with a per-element gradient term whose spatial sum the kernels compute
/// in a second pass over G, after the declared statistics (Grad-CAM++: its α depends on Σ_s A).
template <class M>
concept has_gradient_term = requires(const plane_ops<float>& ops, const plane_statistics<float>& s, float g) {
    { M::gradient_term(ops, s, g) } -> std::convertible_to<float>;
};

/// A channel-weight method: declares `needs` (a set of statistics) and computes its weight from them.
template <class M>
concept channel_weight_method = method_description<M> && (M::form == method_form::channel_weights) &&
                                requires(const plane_statistics<float>& s) {
                                    { M::needs } -> std::convertible_to<statistic>;
                                    { M::channel_weight(s) } -> std::convertible_to<float>;
                                };

/// An element-wise method: a contribution per position and channel, summed over channels.
template <class M>
concept elementwise_method = method_description<M> && (M::form == method_form::elementwise) &&
                             requires(const plane_ops<float>& ops, float a, float g) {
                                 { M::contribution(ops, a, g) } -> std::convertible_to<float>;
                             };

/// A projection method: the matrix whose first principal component over channels is the map.
template <class M>
concept projection_method = method_description<M> && (M::form == method_form::projection) &&
                            requires(const plane_ops<float>& ops, float a, float g) {
                                { M::projected(ops, a, g) } -> std::convertible_to<float>;
                            };

/// A method policy: a name, a title, and the member its form requires (`needs` + `channel_weight`,
/// `contribution`, or `projected`). Element-wise code (contribution, projected, gradient_term) is
/// generic over the value type: on the host it runs on Acc scalars and on SIMD packs of Acc
/// (simd.hpp), on a device on whole tensors. So it uses arithmetic operators, `ops.relu` and
/// `constant_like`, not std::max, std::abs or `?:`, which packs and tensors do not share.
template <class M>
concept method_policy = channel_weight_method<M> || elementwise_method<M> || projection_method<M>;

/// Whether a method reads gradients: true unless its policy says `needs_gradients = false` (Eigen-CAM).
template <class M>
inline constexpr bool needs_gradients_v = [] {
    if constexpr (requires { M::needs_gradients; }) return static_cast<bool>(M::needs_gradients);
    else return true;
}();

/// The constant `v` in the arithmetic of a policy's scalar `like`: the host's accumulation type
/// for a host scalar or a pack of them (statistics of several channels at once: the channels-last
/// kernels), so float kernels stay in float and vectorize; a double for a device tensor (whose ops
/// take a double scalar and keep the tensor's dtype).
template <class S>
constexpr auto constant_like(const S&, double v) {
    if constexpr (std::is_floating_point_v<S>) return static_cast<S>(v);
    else if constexpr (detail::is_pack_v<S>) return static_cast<typename detail::pack_traits<S>::value_type>(v);
    else return v;
}

/// A channel-weight method's weights on whole tensors a [N, K, S] and g [N, K, S] through a
/// backend's ops (`ops.sum(x)` sums the last axis keeping it): the device form of what the host
/// kernels compute plane by plane. Returns [N, K, 1].
template <channel_weight_method Method, class Ops, class X>
X whole_tensor_weights(const Ops& ops, const X& a, const X& g, double positions) {
    plane_statistics<X, double> s;
    s.positions = positions;
    if constexpr (has(Method::needs, statistic::sum_a)) s.sum_a = ops.sum(a);
    if constexpr (has(Method::needs, statistic::sum_g)) s.sum_g = ops.sum(g);
    if constexpr (has(Method::needs, statistic::sum_ag)) s.sum_ag = ops.sum(a * g);
    if constexpr (has_gradient_term<Method>) s.sum_term = ops.sum(Method::gradient_term(ops, s, g));
    return Method::channel_weight(s);
}

}  // namespace camkit
