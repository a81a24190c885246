#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"

using namespace camkit_test;

// Channel 0: S = 4; g = 0 gives α = 0; g = 1 gives α = 1 / (2 + 4 + 1e-6); w0 = α.
// Channel 1: S = 1; g = 2 gives α = 4 / (8 + 1·8 + 1e-6); g = −3 is cut by relu; w1 = 2α.
TEST(GradCamPlusPlus, HandComputed) {
    const auto r = camkit::explain<camkit::grad_cam_plus_plus>(hand_activations(), hand_gradients(), {.relu = false});
    const double w0 = 1.0 / (6.0 + 1e-6), w1 = 2.0 * 4.0 / (16.0 + 1e-6);
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 0), w0);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), w1);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), w0 * 1 + w1 * 2);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), w0 * 3 - w1 * 1);
}

// All-zero gradients give zero weights (α = 0 where G = 0), never NaN.
TEST(GradCamPlusPlus, ZeroGradientsGiveZeroMap) {
    const camkit::tensor<float> A({1, 2, 2, 2}, 1.f), G({1, 2, 2, 2}, 0.f);
    const auto r = camkit::explain<camkit::grad_cam_plus_plus>(A, G);
    for (float v : r.raw.values) EXPECT_EQ(v, 0.f);
    for (float v : r.map.values) EXPECT_EQ(v, 0.f);
}
