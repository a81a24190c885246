#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"

using namespace camkit_test;

// raw = Σ relu(A·G): position 0: relu(0) + relu(4) = 4; position 1: relu(3) + relu(3) = 6.
// Negative products are cut per channel, so a negative raw value cannot occur.
TEST(GradCamElementwise, HandComputed) {
    const auto r = camkit::explain<camkit::grad_cam_elementwise>(hand_activations(), hand_gradients());
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), 4.0);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), 6.0);
    const camkit::tensor<double> A({1, 2, 2}, {1, 1, 1, 1}), G({1, 2, 2}, {-1, 2, -3, -4});
    const auto cut = camkit::explain<camkit::grad_cam_elementwise>(A, G, {.relu = false});
    EXPECT_DOUBLE_EQ(cut.raw(0, 0), 0.0);
    EXPECT_DOUBLE_EQ(cut.raw(0, 1), 2.0);
}
