#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"
#include "common/reference_cam.hpp"

using namespace camkit_test;

// w = mean_s G = (0.5, −0.5); raw = 0.5·(1, 3) − 0.5·(2, −1) = (−0.5, 2).
TEST(GradCam, HandComputed) {
    const auto r = camkit::explain<camkit::grad_cam>(hand_activations(), hand_gradients(), {.relu = false, .normalize = camkit::normalization::none});
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 0), 0.5);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), -0.5);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), -0.5);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), 2.0);
    EXPECT_EQ(r.map.values, r.raw.values);  // no ReLU, no normalization
}

// A network whose explained layer is followed by global average pooling and a linear layer W:
// the gradient of class c is G[k,s] = W[c,k] / |S|. Grad-CAM, HiResCAM and CAM then coincide
// (CAM up to the constant 1/|S|) — SPEC.md's free correctness check.
TEST(GradCam, GapLinearHeadCoincidesWithHiResCamAndCam) {
    const camkit::shape_t shape{2, 5, 4, 3};
    const auto A = random_tensor(shape, 1, 0, 2);
    const auto W = random_tensor({7, 5}, 2);
    const std::vector<std::size_t> classes{3, 6};
    camkit::tensor<double> G(shape);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t k = 0; k < 5; ++k)
            for (std::size_t s = 0; s < 12; ++s) G.values[(n * 5 + k) * 12 + s] = W(classes[n], k) / 12.0;
    // ε = 0: the maps differ in scale by |S|, and min-max's absolute ε would show that.
    const camkit::options opt{.eps = 0};
    const auto grad = camkit::explain<camkit::grad_cam>(A, G, opt);
    const auto hires = camkit::explain<camkit::hires_cam>(A, G, opt);
    const auto cam = camkit::cam(A, W, classes, opt);
    for (std::size_t i = 0; i < grad.raw.size(); ++i) {
        EXPECT_NEAR(grad.raw[i], hires.raw[i], 1e-12);
        EXPECT_NEAR(grad.raw[i], cam.raw[i] / 12.0, 1e-12);
    }
    EXPECT_LT(max_relative_error(grad.map, cam.map), 1e-9);
}
