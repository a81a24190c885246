#pragma once
// Channels-last test arrays: x [N, K, *S] stored as [N, *S, K] (PyTorch's channels_last, TensorFlow's
// NHWC) and the [N, K, *S] view of that storage, as a user explains such memory in place.
#include <camkit/shape.hpp>
#include <camkit/tensor.hpp>

#include <cstddef>
#include <vector>

namespace camkit_test {

/// The storage [N, *S, K] and its [N, K, *S] view (camkit::channels_last_strides).
template <class E>
struct stored_channels_last {
    std::vector<E> storage;
    camkit::host_view<const E> view;
};

/// x's values as E (static_cast), stored channels-last.
template <class E, class T>
stored_channels_last<E> channels_last_copy(const camkit::tensor<T>& x) {
    const std::size_t N = x.shape[0], K = x.shape[1], S = x.size() / (N * K);
    stored_channels_last<E> out{std::vector<E>(x.size(), static_cast<E>(0.f)), {}};
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            for (std::size_t s = 0; s < S; ++s) out.storage[(n * S + s) * K + k] = static_cast<E>(x[(n * K + k) * S + s]);
    out.view = camkit::host_view<const E>{out.storage.data(), x.shape, camkit::channels_last_strides(x.shape)};
    return out;
}

}  // namespace camkit_test
