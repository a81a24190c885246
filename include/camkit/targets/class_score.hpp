#pragma once
// class_score(c): the score of class c, the usual target of a classifier.
#include <camkit/targets/target.hpp>

#include <cstddef>
#include <optional>

namespace camkit {

/// The class score Y[c] of a classifier output [N, C] (seed 1 at channel c). On a segmentation
/// output it sums class c over every position, the same linear form as whole_image(c).
inline target class_score(std::size_t c) { return target{c, std::nullopt, reduction::sum}; }

}  // namespace camkit
