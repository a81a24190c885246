#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"
#include "common/reference_cam.hpp"

using namespace camkit_test;

// raw = Σ_k W[c,k] A[k]: class 1 has weights (0.5, −1): 0.5·(1, 3) − (2, −1) = (−1.5, 2.5).
TEST(Cam, HandComputed) {
    const camkit::tensor<double> W({2, 2}, {1, 0, 0.5, -1});
    const std::vector<std::size_t> classes{1};
    const auto r = camkit::cam(hand_activations(), W, classes, {.relu = false, .normalize = camkit::normalization::none});
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), -1.5);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), 2.5);
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), -1.0);
}

// A 3-D layer ("saliency tubes"): each sample uses its own class.
TEST(Cam, VolumesAndPerSampleClasses) {
    const auto A = random_tensor({2, 3, 2, 2, 2}, 9, 0, 1);
    const camkit::tensor<double> W({2, 3}, {1, 0, 0, 0, 0, 1});
    const std::vector<std::size_t> classes{0, 1};
    const auto r = camkit::cam(A, W, classes, {.relu = false, .normalize = camkit::normalization::none});
    for (std::size_t s = 0; s < 8; ++s) {
        EXPECT_DOUBLE_EQ(r.raw.values[s], A.values[s]);               // sample 0: channel 0
        EXPECT_DOUBLE_EQ(r.raw.values[8 + s], A.values[24 + 16 + s]);  // sample 1: channel 2
    }
}

TEST(Cam, Errors) {
    const auto A = hand_activations();
    const std::vector<std::size_t> one{0}, two{0, 0}, out_of_range{2};
    const camkit::tensor<double> W({2, 2}, 0.0), W3({2, 3}, 0.0);
    EXPECT_THROW(camkit::cam(A, W3, one), camkit::error);
    EXPECT_THROW(camkit::cam(A, W, two), camkit::error);
    try {
        camkit::cam(A, W, out_of_range);
        FAIL();
    } catch (const camkit::error& e) {
        EXPECT_STREQ(e.what(), "camkit: classes[0] = 2 is out of range for 2 classes");
    }
    // A non-finite weight of a class used is named (others are not read); unchecked, it propagates.
    camkit::tensor<double> Wnan({2, 2}, {1, 0, 0.5, std::nan("")});
    const std::vector<std::size_t> zero{0}, first{1};
    EXPECT_NO_THROW(camkit::cam(A, Wnan, zero));
    try {
        camkit::cam(A, Wnan, first);
        FAIL();
    } catch (const camkit::error& e) {
        EXPECT_STREQ(e.what(), "camkit: head_weights contain NaN or Inf (class 1, channel 1)");
    }
    EXPECT_TRUE(std::isnan(camkit::cam(A, Wnan, first, {.check_finite = false}).map[0]));
}
