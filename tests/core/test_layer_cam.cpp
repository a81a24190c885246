#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"

using namespace camkit_test;

// raw = Σ relu(G)·A: position 0: 0·1 + 2·2 = 4; position 1: 1·3 + 0·(−1) = 3.
TEST(LayerCam, HandComputed) {
    const auto r = camkit::explain<camkit::layer_cam>(hand_activations(), hand_gradients());
    EXPECT_FALSE(r.weights);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), 4.0);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), 3.0);
}
