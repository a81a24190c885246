#pragma once
// C++20 concepts that check a tensor_traits specialization and give readable errors, and the one
// way core code reads any host tensor (detail::with_host_view).
#include <camkit/tensor.hpp>

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

namespace camkit {

/// A type whose tensor_traits specialization exposes host memory of one element type known at
/// compile time (`value_type`, `view`, `make_result`): camkit::tensor, host_view, xtensor containers.
template <class T>
concept static_host_tensor = requires(const T& t, tensor<float>&& r) {
    typename tensor_traits<std::remove_cvref_t<T>>::value_type;
    requires std::is_convertible_v<typename tensor_traits<std::remove_cvref_t<T>>::value_type, float>;
    { tensor_traits<std::remove_cvref_t<T>>::view(t) }
        -> std::same_as<host_view<const typename tensor_traits<std::remove_cvref_t<T>>::value_type>>;
    { tensor_traits<std::remove_cvref_t<T>>::template make_result<float>(std::move(r), t) } -> std::move_constructible;
};

namespace detail {
/// Stands for any callable taking a host view, to check `with_host_view` in a concept.
struct host_view_probe {
    template <class E>
    void operator()(const host_view<const E>&) const {}
};
}  // namespace detail

/// A type whose element type and place are known only at run time (a torch tensor): its
/// tensor_traits provide `on_host(t)`, `with_host_view(t, f)` that calls f(host_view<const E>)
/// with E = float or double (throwing camkit::error for memory or dtypes the host cannot read),
/// and `make_result`, whose result type must not depend on U.
template <class T>
concept dynamic_host_tensor = requires(const T& t, tensor<float>&& r) {
    { tensor_traits<std::remove_cvref_t<T>>::on_host(t) } -> std::convertible_to<bool>;
    tensor_traits<std::remove_cvref_t<T>>::with_host_view(t, detail::host_view_probe{});
    { tensor_traits<std::remove_cvref_t<T>>::template make_result<float>(std::move(r), t) } -> std::move_constructible;
};

/// A type camkit can read on the host: every host feature (explain_into, explain_many, targets,
/// mask builders, metrics) takes it.
template <class T>
concept host_tensor = static_host_tensor<T> || dynamic_host_tensor<T>;

/// A type whose tensor_traits specialization supplies whole-tensor ops (`ops`), e.g. CUDA tensors.
template <class T>
concept device_tensor = requires { typename tensor_traits<std::remove_cvref_t<T>>::ops; };

/// Anything camkit can explain: a host tensor or a device tensor.
template <class T>
concept explainable_tensor = host_tensor<T> || device_tensor<T>;

/// Element type of a static host tensor (without const: a read-only binding may declare
/// `using value_type = const float`).
template <static_host_tensor T>
using value_type_t = std::remove_cv_t<typename tensor_traits<std::remove_cvref_t<T>>::value_type>;

namespace detail {

/// A view a tensor_traits binding made holds one stride per axis and memory when it has elements
/// (a binding that returns `{data, shape}` leaves the strides empty: the kernels would read wild).
template <class E>
const host_view<E>& checked_view(const host_view<E>& v, std::string_view who) {
    require(v.strides.size() == v.shape.size(), [&] {
        return std::string(who) + ": its tensor_traits view has " + std::to_string(v.strides.size()) + " strides for the rank-" +
               std::to_string(v.shape.size()) + " shape " + to_string(v.shape) + " (one stride per axis, in elements)";
    });
    require(v.data != nullptr || v.size() == 0,
            [&] { return std::string(who) + ": its tensor_traits view of shape " + to_string(v.shape) + " has no data"; });
    return v;
}

/// Calls f(host_view<const E>) on `t`'s memory and returns what f returns: the view itself for a
/// static host tensor, the element type found at run time for a dynamic one.
template <host_tensor T, class F>
decltype(auto) with_host_view(const T& t, F&& f, std::string_view who = "activations") {
    using traits = tensor_traits<std::remove_cvref_t<T>>;
    if constexpr (static_host_tensor<T>) return f(checked_view(traits::view(t), who));
    else return traits::with_host_view(t, [&](const auto& v) -> decltype(auto) { return f(checked_view(v, who)); });
}

/// The host view of `t` with element type E (the type another argument of the same call has);
/// `who` names the argument when a dynamic tensor's element type differs.
template <class E, host_tensor T>
host_view<const E> host_view_as(const T& t, const std::string& who) {
    if constexpr (static_host_tensor<T>) {
        static_assert(std::is_same_v<value_type_t<T>, E>, "arguments of one call must share an element type");
        return checked_view(tensor_traits<std::remove_cvref_t<T>>::view(t), who);
    } else {
        host_view<const E> out;
        tensor_traits<std::remove_cvref_t<T>>::with_host_view(t, [&](const auto& v) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, host_view<const E>>) out = checked_view(v, who);
            else require(false, who + " has another element type than the call's first tensor argument");
        });
        return out;
    }
}

/// True when `t`'s memory is on the host now (always for a static host tensor).
template <explainable_tensor T>
bool on_host(const T& t) {
    if constexpr (static_host_tensor<T>) return true;
    else if constexpr (dynamic_host_tensor<T>) return tensor_traits<std::remove_cvref_t<T>>::on_host(t);
    else return false;
}

/// `r` as a tensor of `like`'s kind (tensor_traits::make_result).
template <class U, host_tensor T>
auto make_result(tensor<U>&& r, const T& like) {
    return tensor_traits<std::remove_cvref_t<T>>::template make_result<U>(std::move(r), like);
}

}  // namespace detail

}  // namespace camkit
