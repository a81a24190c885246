#pragma once
// mask_mean(c, M): the mask-weighted mean of class c's output over the mask's nonzero positions.
#include <camkit/targets/target.hpp>

#include <cstddef>
#include <utility>

namespace camkit {

/// Mean target: score Σ_p M[p] Y[c, p] / nnz(M), seed M / nnz(M) on channel c. It differs from
/// mask_sum only by the factor nnz(M) per sample, so min-max-normalized maps are the same up to
/// min-max's absolute ε (docs/math.md: for a large region with small gradients the mean's map is
/// dimmed; prefer mask_sum there); an empty mask scores 0 with an all-zero seed (no division by zero).
inline target mask_mean(std::size_t c, tensor<float> mask) {
    return target{c, std::move(mask), reduction::mean};
}

/// mask_mean with a mask of any host tensor kind (copied to float).
template <host_tensor M>
target mask_mean(std::size_t c, const M& mask) {
    return target{c, detail::to_mask(mask, "mask_mean"), reduction::mean};
}

}  // namespace camkit
