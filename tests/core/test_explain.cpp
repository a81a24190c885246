// The pipeline after the raw map (SPEC.md steps 1–4) as explain() runs it, and every input error.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/hand_case.hpp"
#include "common/reference_cam.hpp"

#include <cmath>
#include <limits>
#include "common/error_message.hpp"

using namespace camkit_test;

namespace {
// HiResCAM of this input is raw = (−2, 0, 2, 6) on a 1×4 map.
camkit::tensor<double> A() { return {{1, 1, 1, 4}, {1, 0, 1, 3}}; }
camkit::tensor<double> G() { return {{1, 1, 1, 4}, {-2, 0, 2, 2}}; }

}  // namespace

TEST(Pipeline, DefaultsAreReluThenMinMax) {
    const auto r = camkit::explain<camkit::hires_cam>(A(), G());
    const std::vector<double> raw{-2, 0, 2, 6};
    EXPECT_EQ(r.raw.values, raw);
    // relu → (0, 0, 2, 6); min-max → (0, 0, 1/3, 1) up to ε = 1e-7.
    EXPECT_DOUBLE_EQ(r.map.values[2], 2.0 / (6.0 + 1e-7));
    EXPECT_DOUBLE_EQ(r.map.values[3], 6.0 / (6.0 + 1e-7));
    EXPECT_EQ(r.map.values[0], 0.0);
}

TEST(Pipeline, NoReluKeepsNegativeEvidence) {
    const auto r = camkit::explain<camkit::hires_cam>(A(), G(), {.relu = false});
    EXPECT_DOUBLE_EQ(r.map.values[0], 0.0);
    EXPECT_DOUBLE_EQ(r.map.values[1], 2.0 / (8.0 + 1e-7));
    EXPECT_DOUBLE_EQ(r.map.values[3], 8.0 / (8.0 + 1e-7));
}

TEST(Pipeline, MaxAndNoneNormalization) {
    const auto by_max = camkit::explain<camkit::hires_cam>(A(), G(), {.normalize = camkit::normalization::max});
    EXPECT_DOUBLE_EQ(by_max.map.values[2], 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(by_max.map.values[3], 1.0);
    const auto none = camkit::explain<camkit::hires_cam>(A(), G(), {.relu = false, .normalize = camkit::normalization::none});
    EXPECT_EQ(none.map.values, none.raw.values);
}

TEST(Pipeline, ResizeThenRenormalize) {
    // 1×4 → 2×8 with half-pixel centres; the resized relu'd map keeps its range [0, 1).
    const auto r = camkit::explain<camkit::hires_cam>(A(), G(), {.size = {2, 8}});
    EXPECT_EQ(r.map.shape, (camkit::shape_t{1, 2, 8}));
    EXPECT_EQ(r.raw.shape, (camkit::shape_t{1, 1, 4}));
    // Output column 5 samples source x = (5.5)·0.5 − 0.5 = 2.25 between 1/3 and 1.
    const double third = 2.0 / (6.0 + 1e-7), one = 6.0 / (6.0 + 1e-7);
    EXPECT_NEAR(r.map(0, 1, 5), third + 0.25 * (one - third), 1e-12);
    const auto again = camkit::explain<camkit::hires_cam>(A(), G(), {.size = {2, 8}, .renormalize = true});
    EXPECT_NEAR(again.map(0, 1, 7), 1.0, 1e-6);
    EXPECT_NEAR(again.map(0, 0, 0), 0.0, 1e-12);
}

TEST(Pipeline, ConstantAndEmptyMapsBecomeZerosNotNaN) {
    const camkit::tensor<float> Az({2, 3, 4, 4}, 0.f), Gz({2, 3, 4, 4}, 0.f);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (float v : camkit::explain<M>(Az, Gz).map.values) EXPECT_EQ(v, 0.f) << M::name;
    });
}

TEST(Pipeline, BatchSamplesAreIndependent) {
    // Explaining a batch equals explaining each sample alone, for every method.
    const auto As = random_tensor({3, 4, 5, 6}, 31), Gs = random_tensor({3, 4, 5, 6}, 32);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto batch = camkit::explain<M>(As, Gs, {.size = {7, 9}});
        for (std::size_t n = 0; n < 3; ++n) {
            const std::size_t in = 4 * 30, out = 63;
            camkit::tensor<double> a({1, 4, 5, 6}), g({1, 4, 5, 6});
            std::copy_n(As.values.begin() + static_cast<std::ptrdiff_t>(n * in), in, a.values.begin());
            std::copy_n(Gs.values.begin() + static_cast<std::ptrdiff_t>(n * in), in, g.values.begin());
            const auto single = camkit::explain<M>(a, g, {.size = {7, 9}});
            for (std::size_t i = 0; i < out; ++i) EXPECT_NEAR(batch.map.values[n * out + i], single.map.values[i], 1e-12) << M::name;
        }
    });
}

TEST(Errors, WrongRank) {
    const camkit::tensor<float> two({2, 3}), six({1, 1, 1, 1, 1, 1});
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(two, two); }),
              "camkit: activations must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got rank 2 shape [2, 3]");
    EXPECT_THROW(camkit::explain<camkit::grad_cam>(six, six), camkit::error);
}

TEST(Errors, ShapeMismatch) {
    const camkit::tensor<float> a({1, 2, 3, 4}), g({1, 2, 4, 3});
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::hires_cam>(a, g); }),
              "camkit: gradients shape [1, 2, 4, 3] must equal activations shape [1, 2, 3, 4]");
}

TEST(Errors, EmptyAxis) {
    const camkit::tensor<float> a({0, 2, 3, 4});
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(a, a); }),
              "camkit: activations has an empty axis: shape [0, 2, 3, 4]");
}

TEST(Errors, BadSize) {
    const camkit::tensor<float> a({1, 2, 3, 4}, 1.f);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(a, a, {.size = {5}}); }),
              "camkit: options.size [5] must give one extent per spatial axis of activations [1, 2, 3, 4]");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(a, a, {.size = {5, 0}}); }),
              "camkit: resize: size [5, 0] has a zero extent");
    EXPECT_THROW(camkit::explain<camkit::grad_cam>(a, a, {.eps = -1}), camkit::error);
}

TEST(Errors, NonFiniteInputIsAnError) {
    // NaN or Inf anywhere in A or G is reported with its sample and channel; with
    // check_finite = false it propagates into the map instead (documented in explain.hpp).
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
            camkit::tensor<float> a({2, 3, 2, 2}, 1.f), g({2, 3, 2, 2}, 0.5f);
            a(1, 2, 1, 0) = bad;
            EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<M>(a, g); }),
                      "camkit: activations contain NaN or Inf (sample 1, channel 2)") << M::name;
            a(1, 2, 1, 0) = 1.f;
            g(0, 1, 0, 1) = bad;
            if constexpr (M::name != std::string_view("eigencam")) {
                EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<M>(a, g); }),
                          "camkit: gradients contain NaN or Inf (sample 0, channel 1)") << M::name;
            }
        }
    });
    camkit::tensor<float> a({1, 1, 2}, 1.f), g({1, 1, 2}, 1.f);
    g[0] = std::numeric_limits<float>::quiet_NaN();
    const auto r = camkit::explain<camkit::hires_cam>(a, g, {.relu = false, .normalize = camkit::normalization::none, .check_finite = false});
    EXPECT_TRUE(std::isnan(r.raw[0]));
}
