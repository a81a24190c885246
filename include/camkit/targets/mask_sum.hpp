#pragma once
// mask_sum(c, M): Seg-Grad-CAM's reduction, the mask-weighted sum of class c's output.
#include <camkit/targets/target.hpp>

#include <cstddef>
#include <utility>

namespace camkit {

/// Seg-Grad-CAM's target: score Σ_p M[p] Y[c, p], seed M on channel c. M is [*P] (every sample)
/// or [N, *P] (one slice per sample), real-valued and possibly signed; an empty mask scores 0.
inline target mask_sum(std::size_t c, tensor<float> mask) {
    return target{c, std::move(mask), reduction::sum};
}

/// mask_sum with a mask of any host tensor kind (copied to float).
template <host_tensor M>
target mask_sum(std::size_t c, const M& mask) {
    return target{c, detail::to_mask(mask, "mask_sum"), reduction::sum};
}

}  // namespace camkit
