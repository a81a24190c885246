// ReLU and per-sample normalization (include/camkit/normalize.hpp): hand-computed cases.
#include <camkit/normalize.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using camkit::normalization;
using camkit::tensor;

TEST(relu_inplace, clips_negatives_and_keeps_nan) {
    tensor<double> t({1, 5}, {-2.0, -0.0, 0.5, 3.0, std::nan("")});
    camkit::relu_inplace(t);
    EXPECT_EQ(t.values[0], 0.0);
    EXPECT_EQ(t.values[1], 0.0);
    EXPECT_EQ(t.values[2], 0.5);
    EXPECT_EQ(t.values[3], 3.0);
    EXPECT_TRUE(std::isnan(t.values[4]));
}

TEST(normalize_inplace, min_max_per_sample_with_eps) {
    // sample 0: min 1, max 5 → (x − 1) / (4 + 1e-7); sample 1: min −2, max 2 → (x + 2) / (4 + 1e-7)
    tensor<double> t({2, 3}, {1.0, 3.0, 5.0, 2.0, -2.0, 0.0});
    camkit::normalize_inplace(t, normalization::min_max);
    const double d = 4.0 + 1e-7;
    EXPECT_DOUBLE_EQ(t(0, 0), 0.0);
    EXPECT_DOUBLE_EQ(t(0, 1), 2.0 / d);
    EXPECT_DOUBLE_EQ(t(0, 2), 4.0 / d);
    EXPECT_DOUBLE_EQ(t(1, 0), 4.0 / d);
    EXPECT_DOUBLE_EQ(t(1, 1), 0.0);
    EXPECT_DOUBLE_EQ(t(1, 2), 2.0 / d);
    EXPECT_LT(t(0, 2), 1.0);  // ε keeps the maximum just under 1
}

TEST(normalize_inplace, constant_map_becomes_zeros_not_nan) {
    tensor<float> t({2, 2, 2}, {3, 3, 3, 3, 0, 0, 0, 0});
    camkit::normalize_inplace(t, normalization::min_max);
    for (float v : t.values) EXPECT_EQ(v, 0.0f);
}

TEST(normalize_inplace, custom_eps) {
    tensor<double> t({1, 2}, {0.0, 1.0});
    camkit::normalize_inplace(t, normalization::min_max, 1.0);
    EXPECT_DOUBLE_EQ(t(0, 1), 0.5);
    tensor<double> u({1, 2}, {0.0, 1.0});
    camkit::normalize_inplace(u, normalization::min_max, 0.0);
    EXPECT_EQ(u(0, 1), 1.0);
}

TEST(normalize_inplace, max_divides_only_positive_maxima) {
    tensor<double> t({3, 3}, {1.0, 2.0, 4.0, -3.0, -1.0, -2.0, 0.0, 0.0, 0.0});
    camkit::normalize_inplace(t, normalization::max);
    EXPECT_DOUBLE_EQ(t(0, 0), 0.25);
    EXPECT_DOUBLE_EQ(t(0, 1), 0.5);
    EXPECT_DOUBLE_EQ(t(0, 2), 1.0);
    EXPECT_EQ(t(1, 0), -3.0);  // max ≤ 0: unchanged
    EXPECT_EQ(t(1, 1), -1.0);
    EXPECT_EQ(t(2, 2), 0.0);
}

TEST(normalize_inplace, none_leaves_values) {
    tensor<float> t({1, 3}, {-1.0f, 7.0f, 2.0f});
    camkit::normalize_inplace(t, normalization::none);
    EXPECT_EQ(t.values, (std::vector<float>{-1.0f, 7.0f, 2.0f}));
}

TEST(normalize_inplace, three_d_maps_normalize_over_all_positions) {
    tensor<double> t({1, 2, 1, 2}, {0.0, 2.0, 4.0, 8.0});
    camkit::normalize_inplace(t, normalization::max);
    EXPECT_EQ(t.values, (std::vector<double>{0.0, 0.25, 0.5, 1.0}));
}

TEST(normalize_inplace, empty_tensor_is_a_no_op) {
    tensor<float> t(camkit::shape_t{0, 4});
    EXPECT_NO_THROW(camkit::normalize_inplace(t, normalization::min_max));
    EXPECT_EQ(t.size(), 0u);
}

TEST(normalize_inplace, errors) {
    tensor<double> t({1, 2}, {0.0, 1.0});
    try {
        camkit::normalize_inplace(t, normalization::min_max, -1.0);
        FAIL() << "negative eps accepted";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("eps"), std::string::npos) << e.what();
    }
    tensor<double> scalar(camkit::shape_t{}, std::vector<double>{1.0});  // rank 0: no batch axis
    try {
        camkit::normalize_inplace(scalar, normalization::min_max);
        FAIL() << "rank-0 map accepted";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("batch axis"), std::string::npos) << e.what();
    }
}
