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
              "camkit: options.size [5, 0] has a zero extent");
    // Checked once, before any work, with the option's name.
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(a, a, {.eps = -1}); }),
              "camkit: options.eps must be ≥ 0, got -1.000000");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(a, a, {.threads = -2}); }),
              "camkit: options.threads must be ≥ 0 (0: as many cores as the work fills), got -2");
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
    EXPECT_TRUE(std::isnan(camkit::explain<camkit::hires_cam>(a, g, {.check_finite = false}).map[0]));
    const auto r = camkit::explain<camkit::hires_cam>(a, g, {.relu = false, .normalize = camkit::normalization::none, .check_finite = false});
    EXPECT_TRUE(std::isnan(r.raw[0]));
}

// Finite inputs whose map comes out NaN or Inf (a float product beyond the range, XGrad-CAM's
// Σ a + 1e-7 exactly 0) are an error naming the sample, not a NaN map; unchecked, the NaN stays.
TEST(Errors, NonFiniteMapOfFiniteInputsIsAnError) {
    const std::string overflow = "camkit: the map of sample 1 is NaN or Inf although its activations and gradients are finite";
    // HiResCAM (element-wise): 1e20 · 1e20 overflows float in sample 1 only.
    camkit::tensor<float> a({2, 2, 2, 2}, 1.f), g({2, 2, 2, 2}, 0.5f);
    a(1, 1, 0, 1) = 1e20f;
    g(1, 1, 0, 1) = 1e20f;
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::hires_cam>(a, g); }).substr(0, overflow.size()), overflow);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::hires_cam>(a, g, {.threads = 2}); }).substr(0, overflow.size()),
              overflow);
    EXPECT_TRUE(std::isinf(camkit::explain<camkit::hires_cam>(a, g, {.relu = false, .normalize = camkit::normalization::none,
                                                                    .check_finite = false}).raw(1, 0, 1)));
    // Element-wise Grad-CAM's relu(g)·a hides a·g = −1e40 (the finite check's sum overflows, the map
    // does not): no error.
    camkit::tensor<float> negative({2, 2, 2, 2}, -1.f);
    negative(1, 1, 0, 1) = -1e20f;
    EXPECT_NO_THROW(camkit::explain<camkit::grad_cam_elementwise>(a, negative));
    // XGrad-CAM in double: channel 0 of sample 1 sums to −1e-7, so its weight divides by 0.
    camkit::tensor<double> ad({2, 2, 1, 2}, 1.0), gd({2, 2, 1, 2}, 1.0);
    ad(1, 0, 0, 0) = -1e-7;
    ad(1, 0, 0, 1) = 0;
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::xgrad_cam>(ad, gd); }).substr(0, overflow.size()), overflow);
    ad(1, 0, 0, 1) = 1;  // any other sum: finite
    EXPECT_NO_THROW(camkit::explain<camkit::xgrad_cam>(ad, gd));
}

namespace {
/// Deterministic values in [lo, lo + 2) for a tensor of `shape`.
camkit::tensor<float> ramp(camkit::shape_t shape, float lo, unsigned seed) {
    camkit::tensor<float> t(std::move(shape));
    unsigned x = seed;
    for (float& v : t.values) {
        x = x * 1664525u + 1013904223u;
        v = lo + static_cast<float>(x >> 8) * (2.0f / 16777216.0f);
    }
    return t;
}
}  // namespace

TEST(ExplainInto, EqualsExplainForEveryMethodAndReusesStorage) {
    // 37 positions: the packs' body and a scalar tail; 6 channels: a full channel group and a partial one.
    const auto a = ramp({2, 6, 37}, 0.f, 1), g = ramp({2, 6, 37}, -1.f, 2);
    const auto other_a = ramp({2, 6, 37}, 0.f, 7), other_g = ramp({2, 6, 37}, -1.f, 8);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (const camkit::options& opt : {camkit::options{.threads = 1}, camkit::options{.relu = false, .threads = 2},
                                           camkit::options{.normalize = camkit::normalization::max},
                                           camkit::options{.size = {50}, .renormalize = true}}) {
            const auto want = camkit::explain<M>(a, g, opt);
            camkit::explanation<camkit::tensor<float>> out;
            camkit::explain_into<M>(out, other_a, other_g, opt);
            const float* raw_data = out.raw.data();
            const float* map_data = out.map.data();
            camkit::explain_into<M>(out, a, g, opt);  // other values at the same shape: same storage, new values
            EXPECT_EQ(out.raw.data(), raw_data) << M::name;
            if (opt.size.empty()) {
                EXPECT_EQ(out.map.data(), map_data) << M::name;
            }
            EXPECT_EQ(out.raw.shape, want.raw.shape) << M::name;
            EXPECT_EQ(out.raw.values, want.raw.values) << M::name;
            EXPECT_EQ(out.map.shape, want.map.shape) << M::name;
            EXPECT_EQ(out.map.values, want.map.values) << M::name;
            ASSERT_EQ(out.weights.has_value(), want.weights.has_value()) << M::name;
            if (want.weights) {
                EXPECT_EQ(out.weights->values, want.weights->values) << M::name;
            }
        }
    });
}

TEST(ExplainInto, ShapeChangesAndMethodFormsBetweenCalls) {
    camkit::explanation<camkit::tensor<float>> out;
    const auto a = ramp({2, 6, 8, 8}, 0.f, 3), g = ramp({2, 6, 8, 8}, -1.f, 4);
    camkit::explain_into<camkit::grad_cam>(out, a, g);
    ASSERT_TRUE(out.weights.has_value());
    EXPECT_EQ(out.weights->shape, (camkit::shape_t{2, 6}));
    // A smaller input, then an element-wise method: no stale weights, the new shapes.
    const auto a1 = ramp({1, 3, 4, 5}, 0.f, 5), g1 = ramp({1, 3, 4, 5}, -1.f, 6);
    camkit::explain_into<camkit::hires_cam>(out, a1, g1);
    EXPECT_FALSE(out.weights.has_value());
    EXPECT_EQ(out.raw.shape, (camkit::shape_t{1, 4, 5}));
    EXPECT_EQ(out.map.shape, (camkit::shape_t{1, 4, 5}));
    EXPECT_EQ(out.map.values, camkit::explain<camkit::hires_cam>(a1, g1).map.values);
    // Back to a larger one: the storage grows.
    camkit::explain_into<camkit::grad_cam>(out, a, g);
    EXPECT_EQ(out.raw.values, camkit::explain<camkit::grad_cam>(a, g).raw.values);
    EXPECT_EQ(out.weights->values, camkit::explain<camkit::grad_cam>(a, g).weights->values);
}

TEST(ExplainInto, Errors) {
    camkit::explanation<camkit::tensor<float>> out;
    const camkit::tensor<float> a({1, 2, 3, 4}, 1.f), g({1, 2, 3, 5}, 1.f);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain_into<camkit::grad_cam>(out, a, g); }),
              "camkit: gradients shape [1, 2, 3, 5] must equal activations shape [1, 2, 3, 4]");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain_into<camkit::grad_cam>(out, a, a, {.size = {5}}); }),
              "camkit: options.size [5] must give one extent per spatial axis of activations [1, 2, 3, 4]");
    EXPECT_THROW(camkit::explain_into<camkit::hires_cam>(out, a, a, {.eps = -1}), camkit::error);
    camkit::tensor<float> bad = a;
    bad(0, 1, 2, 3) = std::numeric_limits<float>::infinity();
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain_into<camkit::layer_cam>(out, a, bad); }),
              "camkit: gradients contain NaN or Inf (sample 0, channel 1)");
}
