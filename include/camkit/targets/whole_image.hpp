#pragma once
// whole_image(c): mask_sum(c, 1), class c summed over every output position.
#include <camkit/targets/target.hpp>

#include <cstddef>
#include <optional>

namespace camkit {

/// Class c summed over every output position: score Σ_p Y[c, p], seed 1 on channel c (docs/math.md: mask_sum(c, 1)).
inline target whole_image(std::size_t c) { return target{c, std::nullopt, reduction::sum}; }

}  // namespace camkit
