// Fusion of several layers' maps (include/camkit/fusion.hpp): hand-computed cases and errors.
#include <camkit/fusion.hpp>
#include <gtest/gtest.h>

#include <span>
#include <vector>
#include "common/error_message.hpp"

using camkit::fusion;
using camkit::shape_t;
using camkit::tensor;

TEST(fuse_layers, mean_then_relu_and_min_max_per_sample) {
    // sample 0: mean of [0, .5, 1] and [0, 1, 1] = [0, .75, 1] → min-max → [0, .75, 1] / (1 + ε)
    // sample 1: mean of [2, 4, 6] and [−4, 0, 2] = [−1, 2, 4] → ReLU [0, 2, 4] → [0, .5, 1]·4 / (4 + ε)
    const tensor<double> a({2, 3}, {0.0, 0.5, 1.0, 2.0, 4.0, 6.0});
    const tensor<double> b({2, 3}, {0.0, 1.0, 1.0, -4.0, 0.0, 2.0});
    const auto f = camkit::fuse_layers(std::vector{a, b}, fusion::mean);
    EXPECT_EQ(f.shape, (shape_t{2, 3}));
    const double e = 1e-7;
    EXPECT_DOUBLE_EQ(f(0, 0), 0.0);
    EXPECT_DOUBLE_EQ(f(0, 1), 0.75 / (1 + e));
    EXPECT_DOUBLE_EQ(f(0, 2), 1.0 / (1 + e));
    EXPECT_DOUBLE_EQ(f(1, 0), 0.0);
    EXPECT_DOUBLE_EQ(f(1, 1), 2.0 / (4 + e));
    EXPECT_DOUBLE_EQ(f(1, 2), 4.0 / (4 + e));
}

TEST(fuse_layers, mean_uses_the_given_eps) {
    const tensor<double> a({1, 2}, {0.0, 1.0});
    const auto f = camkit::fuse_layers(std::vector{a, a, a}, fusion::mean, 1.0);
    EXPECT_DOUBLE_EQ(f(0, 1), 0.5);  // 1 / (1 − 0 + 1)
}

TEST(fuse_layers, max_and_product_elementwise) {
    const tensor<float> a({1, 2, 2}, {0.0f, 0.5f, 1.0f, 0.25f});
    const tensor<float> b({1, 2, 2}, {0.5f, 0.5f, 0.0f, 0.5f});
    const tensor<float> c({1, 2, 2}, {1.0f, 0.5f, 0.5f, 0.5f});
    const std::vector<tensor<float>> maps{a, b, c};
    EXPECT_EQ(camkit::fuse_layers(maps, fusion::max).values, (std::vector<float>{1.0f, 0.5f, 1.0f, 0.5f}));
    EXPECT_EQ(camkit::fuse_layers(maps, fusion::product).values, (std::vector<float>{0.0f, 0.125f, 0.0f, 0.0625f}));
}

TEST(fuse_layers, single_layer) {
    const tensor<double> a({1, 3}, {0.2, 0.6, 0.4});
    const std::span<const tensor<double>> one(&a, 1);
    EXPECT_EQ(camkit::fuse_layers(one, fusion::max).values, a.values);
    EXPECT_EQ(camkit::fuse_layers(one, fusion::product).values, a.values);
    // mean renormalizes: (x − .2) / (.4 + ε)
    const auto m = camkit::fuse_layers(one, fusion::mean);
    EXPECT_DOUBLE_EQ(m(0, 0), 0.0);
    EXPECT_DOUBLE_EQ(m(0, 1), 0.4 / (0.4 + 1e-7));
    EXPECT_DOUBLE_EQ(m(0, 2), (0.4 - 0.2) / (0.4 + 1e-7));
}

TEST(fuse_layers, three_d_maps) {
    const tensor<double> a({1, 2, 1, 2}, {1.0, 2.0, 3.0, 4.0});
    const tensor<double> b({1, 2, 1, 2}, {2.0, 2.0, 2.0, 2.0});
    const auto f = camkit::fuse_layers(std::vector{a, b}, fusion::product);
    EXPECT_EQ(f.shape, a.shape);
    EXPECT_EQ(f.values, (std::vector<double>{2.0, 4.0, 6.0, 8.0}));
}

TEST(fuse_layers, errors) {
    const tensor<float> a({1, 2, 2}), b({1, 2, 3}), flat(shape_t{4});
    EXPECT_NE(camkit_test::error_message([] { camkit::fuse_layers(std::vector<tensor<float>>{}, fusion::mean); }).find("maps is empty"),
              std::string::npos);
    const auto mismatch = camkit_test::error_message([&] { camkit::fuse_layers(std::vector{a, a, b}, fusion::max); });
    EXPECT_NE(mismatch.find("maps[2] has shape [1, 2, 3], expected [1, 2, 2]"), std::string::npos) << mismatch;
    EXPECT_NE(camkit_test::error_message([&] { camkit::fuse_layers(std::vector{flat, flat}, fusion::max); }).find("[N, *S]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { camkit::fuse_layers(std::vector{a}, fusion::mean, -1.0); }).find("eps"),
              std::string::npos);
    EXPECT_THROW(camkit::fuse_layers(std::vector{a, b}, fusion::product), camkit::error);
}

TEST(parse_fusion, names_and_error) {
    EXPECT_EQ(camkit::parse_fusion("mean"), fusion::mean);
    EXPECT_EQ(camkit::parse_fusion("max"), fusion::max);
    EXPECT_EQ(camkit::parse_fusion("product"), fusion::product);
    const auto msg = camkit_test::error_message([] { camkit::parse_fusion("sum"); });
    EXPECT_NE(msg.find("'sum'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mean, max, product"), std::string::npos) << msg;
}
