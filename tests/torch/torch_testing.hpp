#pragma once
// Helpers the LibTorch adapter tests share: small tensors from values, seeded random tensors,
// and closeness checks with the first offending position in the message.
#include <camkit/tensor.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace camkit_test {

/// A dense copy of `t` as a camkit::tensor<T>, for comparisons with the core's own tensors.
template <class T>
camkit::tensor<T> to_camkit(const at::Tensor& t) {
    const at::Tensor c = t.to(c10::CppTypeToScalarType<T>::value).contiguous();
    return camkit::tensor<T>(camkit::torch::shape_of(c), std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel()));
}

/// A copy of a camkit::tensor<T> as a CPU at::Tensor.
template <class T>
at::Tensor from_camkit(const camkit::tensor<T>& t) {
    return at::tensor(at::ArrayRef<T>(t.values), at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value))
        .reshape(camkit::torch::sizes_of(t.shape));
}

/// A float tensor of `shape` holding `v` (row-major).
inline at::Tensor values(std::vector<float> v, std::vector<std::int64_t> shape) {
    return at::tensor(v, at::kFloat).view(shape).clone();
}

/// A double tensor of `shape` holding `v` (row-major), for hand-computed numbers to 1e-15.
inline at::Tensor doubles(std::vector<double> v, std::vector<std::int64_t> shape) {
    return at::tensor(v, at::kDouble).view(shape).clone();
}

/// Standard normal values of `shape` from their own generator seeded with `seed`.
inline at::Tensor random_tensor(std::vector<std::int64_t> shape, at::ScalarType dtype, std::uint64_t seed) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn(shape, gen, at::TensorOptions().dtype(dtype));
}

/// The values of `t` as floats, in row-major order.
inline std::vector<float> to_vec(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kFloat).contiguous().view({-1});
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

/// Expects `got` to equal `want` entry by entry within `tol`.
inline void expect_near_all(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-5) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

/// |a − b| ≤ tol · max(1, max |b|) elementwise, on any device and dtype.
inline ::testing::AssertionResult close(const at::Tensor& a, const at::Tensor& b, double tol) {
    if (a.sizes() != b.sizes())
        return ::testing::AssertionFailure() << "shapes differ: " << a.sizes() << " vs " << b.sizes();
    const at::Tensor x = a.to(at::kDouble).cpu(), y = b.to(at::kDouble).cpu();
    const double scale = std::max(1.0, y.abs().max().item<double>());
    const at::Tensor err = (x - y).abs();
    const double worst = err.max().item<double>();
    if (worst <= tol * scale) return ::testing::AssertionSuccess();
    const auto at_ = err.flatten().argmax().item<std::int64_t>();
    return ::testing::AssertionFailure() << "max error " << worst << " > " << tol * scale << " at flat index " << at_
                                         << ": " << x.flatten()[at_].item<double>() << " vs "
                                         << y.flatten()[at_].item<double>();
}

}  // namespace camkit_test
