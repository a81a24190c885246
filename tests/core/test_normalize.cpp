// ReLU and per-sample normalization (include/camkit/normalize.hpp): hand-computed cases.
#include <camkit/normalize.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
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

TEST(relu_normalize_copy, equals_relu_then_normalize_of_a_copy) {
    // 2 samples of 23 values (packs and a scalar tail) with negatives, NaN and a constant stretch.
    for (bool relu : {true, false})
        for (normalization mode : {normalization::min_max, normalization::max, normalization::none}) {
            tensor<float> in({2, 23});
            for (std::size_t i = 0; i < in.size(); ++i) in.values[i] = static_cast<float>((i * 7) % 11) - 4.5f;
            in.values[3] = std::nanf("");
            in.values[45] = std::nanf("");  // in the second sample's tail
            tensor<float> want = in;
            if (relu) camkit::relu_inplace(want);
            camkit::normalize_inplace(want, mode, 1e-3);
            const tensor<float> before = in;
            tensor<float> out;
            camkit::relu_normalize_copy(in, out, relu, mode, 1e-3);
            EXPECT_EQ(out.shape, want.shape);
            ASSERT_EQ(out.size(), want.size());
            for (std::size_t i = 0; i < out.size(); ++i) {
                if (std::isnan(want.values[i]))
                    EXPECT_TRUE(std::isnan(out.values[i])) << i;
                else
                    EXPECT_EQ(out.values[i], want.values[i]) << i << " relu " << relu;
            }
            EXPECT_EQ(std::memcmp(in.data(), before.data(), in.size() * sizeof(float)), 0);  // input untouched
        }
}

TEST(relu_normalize_copy, hand_case_and_storage_reuse) {
    const tensor<double> in({1, 4}, {-2.0, 0.0, 2.0, 6.0});
    tensor<double> out({3, 3}, 9.0);  // larger: its storage is kept
    const double* storage = out.data();
    camkit::relu_normalize_copy(in, out, true, normalization::min_max);
    EXPECT_EQ(out.data(), storage);
    EXPECT_EQ(out.shape, (camkit::shape_t{1, 4}));
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out(0, 0), 0.0);
    EXPECT_EQ(out(0, 1), 0.0);
    EXPECT_DOUBLE_EQ(out(0, 2), 2.0 / (6.0 + 1e-7));
    EXPECT_DOUBLE_EQ(out(0, 3), 6.0 / (6.0 + 1e-7));
}

TEST(relu_normalize_copy, errors) {
    const tensor<double> in({1, 2}, {0.0, 1.0});
    tensor<double> out;
    EXPECT_THROW(camkit::relu_normalize_copy(in, out, true, normalization::min_max, -1.0), camkit::error);
    const tensor<double> scalar(camkit::shape_t{}, std::vector<double>{1.0});
    try {
        camkit::relu_normalize_copy(scalar, out, true, normalization::min_max);
        FAIL() << "rank-0 map accepted";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("batch axis"), std::string::npos) << e.what();
    }
}
