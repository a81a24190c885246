#pragma once
// The small input every per-method test works by hand: one sample, two channels, a 1×2 map.
//   A: channel 0 = (1, 3), channel 1 = (2, −1)      G: channel 0 = (0, 1), channel 1 = (2, −3)
#include <camkit/tensor.hpp>

namespace camkit_test {
inline camkit::tensor<double> hand_activations() { return {{1, 2, 1, 2}, {1, 3, 2, -1}}; }
inline camkit::tensor<double> hand_gradients() { return {{1, 2, 1, 2}, {0, 1, 2, -3}}; }
}  // namespace camkit_test
