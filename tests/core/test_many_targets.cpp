// explain_many: T targets of one sample in one call equal T separate explain calls.
#include <camkit/explain_many.hpp>
#include <camkit/methods/registry.hpp>

#include "common/policy_weight.hpp"

// The same suite runs twice: with camkit's own W·A loop, and in the BLAS test executable with
// the BLAS adapter's product (CAMKIT_TEST_BLAS_PRODUCT).
#if defined(CAMKIT_TEST_BLAS_PRODUCT)
#include <camkit/blas/explain_many.hpp>
namespace many = camkit::blas;
#else
namespace many = camkit;
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "common/closeness.hpp"
#include "common/random_tensor.hpp"

namespace {

using camkit::shape_t;
using camkit::tensor;
using camkit_test::random_tensor;

/// Row t of G [T, K, *S] as its own [1, K, *S] tensor.
tensor<float> target_row(const tensor<float>& G, std::size_t t) {
    shape_t s = G.shape;
    s[0] = 1;
    const std::size_t per = G.size() / G.shape[0];
    return tensor<float>(s, std::vector<float>(G.values.begin() + static_cast<std::ptrdiff_t>(t * per),
                                               G.values.begin() + static_cast<std::ptrdiff_t>((t + 1) * per)));
}

/// The n values at `got` equal those at `want` to 1e-6 of their largest magnitude.
void expect_close(const float* got, const float* want, std::size_t n, const std::string& what) {
    EXPECT_LE(camkit_test::max_relative_error_per_map(std::span(got, n), std::span(want, n), 1), 1e-6) << what;
}

template <class Method>
void check_equal_to_separate_calls(const shape_t& a_shape, std::size_t T, int threads) {
    const tensor<float> A = random_tensor<float>(a_shape, 11, 0, 1);
    shape_t g_shape = a_shape;
    g_shape[0] = T;
    const tensor<float> G = random_tensor<float>(g_shape, 12);
    camkit::options opt;
    opt.threads = threads;
    const auto many = many::explain_many<Method>(A, G, opt);
    ASSERT_EQ(many.raw.shape[0], T);
    const std::size_t S = A.size() / (a_shape[0] * a_shape[1]);
    for (std::size_t t = 0; t < T; ++t) {
        camkit::options one = opt;
        one.threads = 1;
        const auto single = camkit::explain<Method>(A, target_row(G, t), one);
        const std::string what = std::string(Method::name) + " target " + std::to_string(t);
        expect_close(many.raw.data() + t * S, single.raw.data(), S, what + " raw");
        expect_close(many.map.data() + t * S, single.map.data(), S, what + " map");
        if constexpr (Method::form == camkit::method_form::channel_weights) {
            ASSERT_TRUE(many.weights.has_value());
            expect_close(many.weights->data() + t * a_shape[1], single.weights->data(), a_shape[1], what + " weights");
        }
    }
}

TEST(ManyTargets, EqualsSeparateCallsForEveryMethod2D) {
    camkit::for_each_method([](auto m) {
        using M = typename decltype(m)::type;
        check_equal_to_separate_calls<M>({1, 6, 9, 13}, 5, 1);
    });
}

TEST(ManyTargets, EqualsSeparateCallsOnTwoThreadsAndOddBlocks) {
    // S = 2100 spans three spatial blocks of the matrix product, the last one partial.
    check_equal_to_separate_calls<camkit::grad_cam>({1, 7, 30, 70}, 3, 2);
    check_equal_to_separate_calls<camkit::xgrad_cam>({1, 7, 30, 70}, 4, 2);
    check_equal_to_separate_calls<camkit::layer_cam>({1, 7, 30, 70}, 3, 2);
}

TEST(ManyTargets, EqualsSeparateCalls1DAnd3D) {
    check_equal_to_separate_calls<camkit::grad_cam_plus_plus>({1, 4, 17}, 2, 1);
    check_equal_to_separate_calls<camkit::hires_cam>({1, 3, 4, 5, 6}, 3, 1);
    check_equal_to_separate_calls<camkit::grad_cam>({1, 3, 4, 5, 6}, 1, 2);
}

TEST(ManyTargets, EigenCamDecomposesTheActivationsOnce) {
    // Eigen-CAM ignores the gradients: every target's map is the activations' one, to the bit that
    // of explain on the activations with the same threads (90 positions, more than the 6 channels;
    // 4 positions, fewer than them).
    for (const shape_t& shape : {shape_t{1, 6, 9, 10}, shape_t{1, 6, 2, 2}}) {
        const tensor<float> A = random_tensor<float>(shape, 13, 0, 1);
        shape_t g_shape = shape;
        g_shape[0] = 4;
        const tensor<float> G = random_tensor<float>(g_shape, 14);
        for (int threads : {1, 2}) {
            camkit::options opt;
            opt.threads = threads;
            const auto many = many::explain_many<camkit::eigen_cam>(A, G, opt);
            const auto single = camkit::explain<camkit::eigen_cam>(A, opt);
            const std::size_t S = single.raw.size();
            ASSERT_EQ(many.raw.size(), 4 * S);
            for (std::size_t t = 0; t < 4; ++t) {
                const std::vector<float> raw(many.raw.values.begin() + static_cast<std::ptrdiff_t>(t * S),
                                             many.raw.values.begin() + static_cast<std::ptrdiff_t>((t + 1) * S));
                EXPECT_EQ(raw, single.raw.values) << camkit::to_string(shape) << " target " << t << " threads " << threads;
            }
        }
    }
}

TEST(ManyTargets, HandComputedGradCam) {
    // One channel plane [1, 2]: A = [1, 2], G for two targets = [3, 5] and [-1, -1].
    const tensor<float> A(shape_t{1, 1, 2}, {1, 2});
    const tensor<float> G(shape_t{2, 1, 2}, {3, 5, -1, -1});
    camkit::options opt;
    opt.relu = false;
    opt.normalize = camkit::normalization::none;
    const auto r = many::explain_many<camkit::grad_cam>(A, G, opt);
    EXPECT_FLOAT_EQ((*r.weights)[0], 4.0f);
    EXPECT_FLOAT_EQ((*r.weights)[1], -1.0f);
    EXPECT_FLOAT_EQ(r.raw[0], 4.0f);
    EXPECT_FLOAT_EQ(r.raw[1], 8.0f);
    EXPECT_FLOAT_EQ(r.raw[2], -1.0f);
    EXPECT_FLOAT_EQ(r.raw[3], -2.0f);
}

template <class F>
void expect_error(F f, const std::string& part) {
    try {
        f();
        FAIL() << "expected camkit::error containing: " << part;
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(ManyTargets, ErrorPaths) {
    const tensor<float> A = random_tensor<float>({1, 3, 4, 4}, 1, 0, 1);
    expect_error([&] { many::explain_many<camkit::grad_cam>(random_tensor<float>({2, 3, 4, 4}, 1), random_tensor<float>({2, 3, 4, 4}, 2)); },
                 "one sample");
    expect_error([&] { many::explain_many<camkit::grad_cam>(A, random_tensor<float>({2, 4, 4, 4}, 2)); },
                 "explain_many: gradients must be [T, K, *S] = [T, 3, 4, 4] to match activations [1, 3, 4, 4], got shape "
                 "[2, 4, 4, 4]");
    expect_error([&] { many::explain_many<camkit::grad_cam>(A, random_tensor<float>({2, 3, 4, 5}, 2)); }, "[2, 3, 4, 5]");
    expect_error([&] { many::explain_many<camkit::grad_cam>(A, random_tensor<float>({2, 3, 16}, 2)); }, "gradients");
    expect_error([&] { many::explain_many<camkit::grad_cam>(random_tensor<float>({1, 3}, 1), random_tensor<float>({1, 3}, 2)); },
                 "activations must be");
    camkit::options bad_size;
    bad_size.size = {8};
    expect_error([&] { many::explain_many<camkit::grad_cam>(A, random_tensor<float>({2, 3, 4, 4}, 2), bad_size); },
                 "options.size");
    tensor<float> G = random_tensor<float>({3, 3, 4, 4}, 2);
    G.values[2 * 48 + 16 + 5] = std::numeric_limits<float>::quiet_NaN();  // target 2, channel 1
    expect_error([&] { many::explain_many<camkit::grad_cam>(A, G); }, "gradients contain NaN or Inf (sample 2, channel 1)");
    expect_error([&] { many::explain_many<camkit::hires_cam>(A, G); }, "gradients contain NaN or Inf (sample 2, channel 1)");
    expect_error([&] { many::explain_many<camkit::eigen_grad_cam>(A, G); }, "gradients contain NaN or Inf (sample 2, channel 1)");
    // Eigen-CAM ignores the gradients but checks them, target by target, as separate calls do.
    expect_error([&] { many::explain_many<camkit::eigen_cam>(A, G); }, "gradients contain NaN or Inf (sample 2, channel 1)");
    camkit::options unchecked;
    unchecked.check_finite = false;
    EXPECT_NO_THROW(many::explain_many<camkit::eigen_cam>(A, G, unchecked));
    expect_error([&] { many::explain_many<camkit::grad_cam_plus_plus>(A, G); }, "gradients contain NaN or Inf (sample 2, channel 1)");
    // Finite inputs whose map is not finite: the target's is named (the element-wise and the matrix paths).
    tensor<float> A_big = A, G_big = random_tensor<float>({3, 3, 4, 4}, 2);
    A_big.values[16 + 5] = 1e20f;
    G_big.values[2 * 48 + 16 + 5] = 1e20f;  // target 2, channel 1: 1e40 in float
    expect_error([&] { many::explain_many<camkit::hires_cam>(A_big, G_big); }, "the map of sample 2 is NaN or Inf");
    tensor<double> A_zero({1, 2, 1, 2}, {-1e-7, 0, 1, 1}), G_one({2, 2, 1, 2}, 1.0);  // XGrad-CAM: Σ a + 1e-7 = 0
    expect_error([&] { many::explain_many<camkit::xgrad_cam>(A_zero, G_one); }, "the map of sample 0 is NaN or Inf");
    tensor<float> A_inf = A;
    A_inf.values[16 * 2 + 3] = std::numeric_limits<float>::infinity();
    expect_error([&] { many::explain_many<camkit::grad_cam>(A_inf, random_tensor<float>({2, 3, 4, 4}, 2)); },
                 "activations contain NaN or Inf (sample 0, channel 2)");
}

}  // namespace

// Grad-CAM++'s Σ A is computed once per channel for all targets; the weights stay those of the
// policy applied to each (target, channel) plane pair on its own, to the bit.
TEST(ManyTargets, GradCamPlusPlusWeightsEqualThePolicyPerPlaneExactly) {
    const std::size_t T = 3, K = 5, S = 37;
    const tensor<float> A = random_tensor<float>({1, K, S}, 21, 0, 1), G = random_tensor<float>({T, K, S}, 22);
    for (int threads : {1, 2, 4}) {
        const auto many = many::explain_many<camkit::grad_cam_plus_plus>(A, G, {.threads = threads});
        ASSERT_TRUE(many.weights);
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t k = 0; k < K; ++k) {
                const camkit::plane<float> a{A.data() + k * S, S}, g{G.data() + (t * K + k) * S, S};
                EXPECT_EQ((*many.weights)(t, k), camkit_test::plain_channel_weight<camkit::grad_cam_plus_plus>(a, g))
                    << "target " << t << " channel " << k << " threads " << threads;
            }
    }
}
