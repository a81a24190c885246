#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"
#include "common/reference_cam.hpp"

using namespace camkit_test;

// raw = Σ_k A·G: position 0: 1·0 + 2·2 = 4; position 1: 3·1 + (−1)(−3) = 6.
TEST(HiResCam, HandComputed) {
    const auto r = camkit::explain<camkit::hires_cam>(hand_activations(), hand_gradients());
    EXPECT_FALSE(r.weights);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), 4.0);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), 6.0);
    EXPECT_NEAR(r.map(0, 0, 0), 0.0, 1e-12);
    EXPECT_NEAR(r.map(0, 0, 1), 1.0, 1e-6);
}

// When every gradient plane is spatially constant, HiResCAM equals Grad-CAM (SPEC.md).
TEST(HiResCam, EqualsGradCamForSpatiallyConstantGradients) {
    for (const camkit::shape_t& shape : {camkit::shape_t{2, 4, 9}, camkit::shape_t{2, 4, 3, 5}, camkit::shape_t{1, 3, 2, 3, 4}}) {
        const auto A = random_tensor(shape, 5);
        const auto per_channel = random_tensor({shape[0], shape[1]}, 6);
        camkit::tensor<double> G(shape);
        const std::size_t S = G.size() / (shape[0] * shape[1]);
        for (std::size_t i = 0; i < G.size(); ++i) G.values[i] = per_channel.values[i / S];
        const auto hires = camkit::explain<camkit::hires_cam>(A, G);
        const auto grad = camkit::explain<camkit::grad_cam>(A, G);
        EXPECT_LT(max_relative_error(hires.raw, grad.raw), 1e-12);
        EXPECT_LT(max_relative_error(hires.map, grad.map), 1e-9);
    }
}

// Where gradients vary in space the two differ: HiResCAM keeps the element-wise product.
TEST(HiResCam, DiffersFromGradCamForVaryingGradients) {
    const auto hires = camkit::explain<camkit::hires_cam>(hand_activations(), hand_gradients());
    const auto grad = camkit::explain<camkit::grad_cam>(hand_activations(), hand_gradients());
    EXPECT_NE(hires.raw.values, grad.raw.values);
}
