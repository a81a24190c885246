#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

// Grad-CAM on one sample, two channels, a 1×2 map, worked by hand:
// w = mean G = (0.5, -1); raw = 0.5·A0 − 1·A1 = (0.5·1 − 2, 0.5·3 − 1) = (−1.5, 0.5).
TEST(Smoke, GradCamByHand) {
    camkit::tensor<float> A({1, 2, 1, 2}, {1, 3, 2, 1});
    camkit::tensor<float> G({1, 2, 1, 2}, {0, 1, -1, -1});
    const auto r = camkit::explain<camkit::grad_cam>(A, G);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 0), -1.5f);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 1), 0.5f);
    ASSERT_TRUE(r.weights);
    EXPECT_FLOAT_EQ((*r.weights)(0, 1), -1.0f);
    EXPECT_FLOAT_EQ(r.map(0, 0, 0), 0.0f);
    EXPECT_NEAR(r.map(0, 0, 1), 1.0f, 1e-6);
}
