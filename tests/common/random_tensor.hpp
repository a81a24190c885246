#pragma once
// Deterministic pseudo-random test tensors, the one generator of the tests.
#include <camkit/tensor.hpp>

#include <random>

namespace camkit_test {

/// Tensor of `shape` with values drawn uniformly from [lo, hi) by a generator seeded with `seed`.
template <class T = double>
camkit::tensor<T> random_tensor(const camkit::shape_t& shape, unsigned seed, double lo = -1, double hi = 1) {
    camkit::tensor<T> t(shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, hi);
    for (T& v : t.values) v = static_cast<T>(d(rng));
    return t;
}

/// Element-wise cast of a tensor.
template <class To, class From>
camkit::tensor<To> cast(const camkit::tensor<From>& t) {
    camkit::tensor<To> out(t.shape);
    for (std::size_t i = 0; i < t.size(); ++i) out.values[i] = static_cast<To>(t.values[i]);
    return out;
}

}  // namespace camkit_test
