#pragma once
// C++20 concepts that check a tensor_traits specialization and give readable errors.
#include <camkit/tensor.hpp>

#include <concepts>
#include <type_traits>

namespace camkit {

/// A type whose tensor_traits specialization exposes host memory (the fused kernels apply).
template <class T>
concept host_tensor = requires(const T& t, tensor<float>&& r) {
    typename tensor_traits<std::remove_cvref_t<T>>::value_type;
    requires std::is_convertible_v<typename tensor_traits<std::remove_cvref_t<T>>::value_type, float>;
    { tensor_traits<std::remove_cvref_t<T>>::view(t) }
        -> std::same_as<host_view<const typename tensor_traits<std::remove_cvref_t<T>>::value_type>>;
    tensor_traits<std::remove_cvref_t<T>>::template make_result<float>(std::move(r), t);
};

/// A type whose tensor_traits specialization supplies op-level reductions (`ops`), e.g. CUDA tensors.
template <class T>
concept device_tensor = requires { typename tensor_traits<std::remove_cvref_t<T>>::ops; };

/// Anything camkit can explain: a host tensor or a device tensor.
template <class T>
concept explainable_tensor = host_tensor<T> || device_tensor<T>;

/// Element type of a host tensor.
template <host_tensor T>
using value_type_t = typename tensor_traits<std::remove_cvref_t<T>>::value_type;

}  // namespace camkit
