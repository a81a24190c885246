// Saliency Tubes (include/camkit/methods/saliency_tubes.hpp): the 3-D CAM of a linear head by
// hand, with its pipeline (no ReLU, min-max), the top class of GAP(A)·Wᵀ, and errors.
#include <camkit/methods/saliency_tubes.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>
#include "common/error_message.hpp"

using camkit::shape_t;
using camkit::tensor;
using camkit_test::error_message;

namespace {

// A [1, 2, D=2, H=1, W=2]: channel 0 = (1, 2, 3, 4), channel 1 = (0, 1, 0, 2) in (d, w) order.
// Head W [2, 2] = [[1, −1], [0.5, 2]]. GAP = (2.5, 0.75): class 0 scores 1.75, class 1 2.75.
const tensor<double> A({1, 2, 2, 1, 2}, {1, 2, 3, 4, /**/ 0, 1, 0, 2});
const tensor<double> W({2, 2}, {1, -1, 0.5, 2});

}  // namespace

TEST(SaliencyTubes, HandComputedVolume) {
    const std::vector<std::size_t> one{1};
    const auto r = camkit::saliency_tubes(A, W, one);
    // raw = 0.5·A0 + 2·A1 = (0.5, 3, 1.5, 6); min-max (ε = 1e-7): (raw − 0.5) / (5.5 + 1e-7)
    EXPECT_EQ(r.raw.shape, (shape_t{1, 2, 1, 2}));
    const double raw[4] = {0.5, 3.0, 1.5, 6.0};
    for (std::size_t s = 0; s < 4; ++s) {
        EXPECT_DOUBLE_EQ(r.raw.values[s], raw[s]);
        EXPECT_NEAR(r.map.values[s], (raw[s] - 0.5) / 5.5, 1e-7);
    }
    // Class 0: raw = A0 − A1 = (1, 1, 3, 2).
    const std::vector<std::size_t> zero{0};
    EXPECT_EQ(camkit::saliency_tubes(A, W, zero).raw.values, (std::vector<double>{1, 1, 3, 2}));
    // It is camkit::cam on a 3-D layer.
    EXPECT_EQ(camkit::cam(A, W, one, camkit::saliency_tubes_options()).map.values, r.map.values);
}

TEST(SaliencyTubes, TopClassOfTheHead) {
    EXPECT_EQ(camkit::top_classes(A, W), (std::vector<std::size_t>{1}));
    const auto top = camkit::saliency_tubes(A, W);
    EXPECT_EQ(top.weights->values, (std::vector<double>{0.5, 2}));
    // Two samples: the second has channel 1 negated, so class 0 wins (2.5 + 0.75 vs 1.25 − 1.5).
    tensor<double> two({2, 2, 2, 1, 2});
    for (std::size_t i = 0; i < 8; ++i) {
        two[i] = A[i];
        two[8 + i] = i < 4 ? A[i] : -A[i];
    }
    EXPECT_EQ(camkit::top_classes(two, W), (std::vector<std::size_t>{1, 0}));
    // Ties go to the first class; the map may have any rank.
    EXPECT_EQ(camkit::top_classes(tensor<double>({1, 2, 3}, 1.0), tensor<double>({3, 2}, {1, 0, 0, 1, -1, 0})),
              (std::vector<std::size_t>{0}));
}

TEST(SaliencyTubes, Errors) {
    const std::vector<std::size_t> one{1};
    EXPECT_EQ(error_message([&] { camkit::saliency_tubes(tensor<double>({1, 2, 3, 4}, 1.0), W, one); }),
              "camkit: saliency_tubes: activations must be [N, K, D, H, W] (a 3-D layer), got shape [1, 2, 3, 4]");
    EXPECT_EQ(error_message([&] { camkit::top_classes(A, tensor<double>({2, 3}, 1.0)); }),
              "camkit: head_weights must be [C, K] with K = 2 channels, got shape [2, 3]");
    EXPECT_EQ(error_message([&] { camkit::top_classes(A, tensor<double>({0, 2})); }),
              "camkit: head_weights must be [C, K] with K = 2 channels, got shape [0, 2]");
    tensor<double> bad = A;
    bad[6] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(error_message([&] { camkit::top_classes(bad, W); }),
              "camkit: activations contain NaN or Inf (sample 0, channel 1)");
    tensor<double> badw = W;
    badw[3] = std::numeric_limits<double>::infinity();
    EXPECT_EQ(error_message([&] { camkit::top_classes(A, badw); }), "camkit: head_weights contain NaN or Inf (class 1)");
    const std::vector<std::size_t> out_of_range{2};
    EXPECT_EQ(error_message([&] { camkit::saliency_tubes(A, W, out_of_range); }),
              "camkit: classes[0] = 2 is out of range for 2 classes");
}
