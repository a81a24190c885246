// Respond-CAM (include/camkit/methods/respond_cam.hpp): its weights by hand, equality with
// XGrad-CAM's raw map, its published pipeline (no ReLU, no normalization) and the paper's
// sum-to-score property for a GAP + linear head, in 3-D.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/hand_case.hpp"
#include "common/reference_cam.hpp"

using namespace camkit_test;

// w_k = Σ G·A / (Σ A + 1e-7): channel 0: 3 / 4; channel 1: (4 + 3) / 1 = 7 (the XGrad-CAM hand case).
TEST(RespondCam, HandComputedWithItsPublishedPipeline) {
    const auto r = camkit::explain<camkit::respond_cam>(hand_activations(), hand_gradients(), camkit::respond_cam_options());
    const double w0 = 3.0 / (4.0 + 1e-7), w1 = 7.0 / (1.0 + 1e-7);
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 0), w0);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), w1);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), w0 * 1 + w1 * 2);  // ≈ 14.75
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), w0 * 3 - w1 * 1);  // ≈ −4.75: kept, negative evidence
    EXPECT_EQ(r.map.values, r.raw.values);               // no ReLU, no normalization
    // camkit's default pipeline clips and min-max normalizes, as for every method.
    const auto d = camkit::explain<camkit::respond_cam>(hand_activations(), hand_gradients());
    EXPECT_NEAR(d.map(0, 0, 0), 1.0, 1e-8);
    EXPECT_EQ(d.map(0, 0, 1), 0.0);
    EXPECT_EQ(camkit::respond_cam::name, "respondcam");
    EXPECT_TRUE(camkit::with_method("respondcam", [](auto) {}));
}

TEST(RespondCam, EqualsXGradCamRaw) {
    for (const camkit::shape_t& shape : {camkit::shape_t{2, 3, 7}, camkit::shape_t{1, 4, 5, 6}, camkit::shape_t{2, 3, 3, 4, 5}}) {
        const auto A = random_tensor(shape, 21, 0, 2), G = random_tensor(shape, 22);
        const auto opt = camkit::respond_cam_options();
        const auto r = camkit::explain<camkit::respond_cam>(A, G, opt);
        const auto x = camkit::explain<camkit::xgrad_cam>(A, G, opt);
        EXPECT_EQ(r.raw.values, x.raw.values) << camkit::to_string(shape);
        EXPECT_EQ(r.weights->values, x.weights->values);
    }
}

// Sum-to-score: a 3-D layer A [1, 2, 2, 1, 2] followed by GAP and a linear head y_c = Σ_k W[c,k]
// mean_s A[k,s] + b_c has gradients ∂y_c/∂A[k,s] = W[c,k] / |S|, so Respond-CAM's weights are
// W[c,k]/|S| · ΣA/(ΣA + ε) and Σ_s raw + b_c = y_c (up to ε).
TEST(RespondCam, SumToScoreForAGapLinearHead) {
    const camkit::tensor<double> A({1, 2, 2, 1, 2}, {1, 2, 3, 4, /**/ 0.5, 0, 1, 2.5});
    const double W[2] = {0.8, -1.5}, b = 0.3;  // class c's row of the head
    camkit::tensor<double> G(A.shape);
    for (std::size_t k = 0; k < 2; ++k)
        for (std::size_t s = 0; s < 4; ++s) G[k * 4 + s] = W[k] / 4.0;
    const double y = W[0] * (10.0 / 4) + W[1] * (4.0 / 4) + b;  // 2 − 1.5 + 0.3 = 0.8
    const auto r = camkit::explain<camkit::respond_cam>(A, G, camkit::respond_cam_options());
    double total = 0;
    for (double v : r.map.values) total += v;
    EXPECT_NEAR(total + b, y, 1e-7);
    // Grad-CAM's raw map sums to the same here (spatially constant gradients); with a ReLU the
    // property is lost as soon as a position is negative: raw = 0.2 A0 − 0.375 A1 has one.
    EXPECT_LT(*std::min_element(r.raw.values.begin(), r.raw.values.end()), 0.0);
    const auto clipped = camkit::explain<camkit::respond_cam>(A, G, {.normalize = camkit::normalization::none});
    double clipped_total = 0;
    for (double v : clipped.map.values) clipped_total += v;
    EXPECT_GT(clipped_total + b, y + 0.1);
}
