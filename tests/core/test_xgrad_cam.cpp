#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"

using namespace camkit_test;

// w_k = Σ G·A / (Σ A + 1e-7): channel 0: 3 / 4; channel 1: (4 + 3) / 1 = 7.
TEST(XGradCam, HandComputed) {
    const auto r = camkit::explain<camkit::xgrad_cam>(hand_activations(), hand_gradients(), {.relu = false});
    const double w0 = 3.0 / (4.0 + 1e-7), w1 = 7.0 / (1.0 + 1e-7);
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 0), w0);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), w1);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), w0 * 1 + w1 * 2);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), w0 * 3 - w1 * 1);
}
