#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/hand_case.hpp"
#include "common/policy_weight.hpp"

#include <limits>
#include <string>

using namespace camkit_test;

// Channel 0: S = 4; g = 0 gives α = 0; g = 1 gives α = 1 / (2 + 4 + 1e-6); w0 = α.
// Channel 1: S = 1; g = 2 gives α = 4 / (8 + 1·8 + 1e-6); g = −3 is cut by relu; w1 = 2α.
TEST(GradCamPlusPlus, HandComputed) {
    const auto r = camkit::explain<camkit::grad_cam_plus_plus>(hand_activations(), hand_gradients(), {.relu = false});
    const double w0 = 1.0 / (6.0 + 1e-6), w1 = 2.0 * 4.0 / (16.0 + 1e-6);
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 0), w0);
    EXPECT_DOUBLE_EQ((*r.weights)(0, 1), w1);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 0), w0 * 1 + w1 * 2);
    EXPECT_DOUBLE_EQ(r.raw(0, 0, 1), w0 * 3 - w1 * 1);
}

// All-zero gradients give zero weights (α = 0 where G = 0), never NaN.
TEST(GradCamPlusPlus, ZeroGradientsGiveZeroMap) {
    const camkit::tensor<float> A({1, 2, 2, 2}, 1.f), G({1, 2, 2, 2}, 0.f);
    const auto r = camkit::explain<camkit::grad_cam_plus_plus>(A, G);
    for (float v : r.raw.values) EXPECT_EQ(v, 0.f);
    for (float v : r.map.values) EXPECT_EQ(v, 0.f);
}

// The fused kernel sums the next channel's activations along with this channel's gradients (so
// that Σ A costs no pass of its own; also from a group's last channel into the next group's first
// on contiguous planes); the weights stay those of the policy applied to each plane on its own, to
// the bit: every channel of full and partial groups, 1 and 2 threads.
// In every instruction set, with planes of 37 and of 1100 positions (from 1024 on, AVX-512 sums a
// group's successor's Σ A in the group's gradient sweep) and K = 9 (groups of 4, 4, 1).
TEST(GradCamPlusPlus, WeightsEqualThePolicyPerPlaneExactly) {
    for (const std::size_t S : {std::size_t{37}, std::size_t{1100}}) {
        const std::size_t N = 2, K = 9;
        camkit::tensor<float> A({N, K, S}), G({N, K, S});
        unsigned x = 5;
        for (auto* t : {&A, &G})
            for (float& v : t->values) {
                x = x * 1664525u + 1013904223u;
                v = static_cast<float>(x >> 8) / 16777216.0f * 2.0f - (t == &A ? 0.0f : 1.0f);
            }
        for (camkit::isa i : supported_isas()) {
            isa_scope scope(i);
            for (int threads : {1, 2}) {
                const auto r = camkit::explain<camkit::grad_cam_plus_plus>(A, G, {.threads = threads});
                ASSERT_TRUE(r.weights);
                for (std::size_t n = 0; n < N; ++n)
                    for (std::size_t k = 0; k < K; ++k) {
                        const camkit::plane<float> a{A.data() + (n * K + k) * S, S}, g{G.data() + (n * K + k) * S, S};
                        EXPECT_EQ((*r.weights)(n, k), plain_channel_weight<camkit::grad_cam_plus_plus>(a, g))
                            << "S " << S << " " << camkit::isa_name(i) << " sample " << n << " channel " << k
                            << " threads " << threads;
                    }
            }
        }
    }
}

// Σ A of channel 4 (the second group's first) is summed in channel 3's gradient pass; a NaN or Inf
// there is still reported as channel 4's activations, and a bad gradient of channel 3, read before
// it, as channel 3's gradients; likewise for every plane of the second group where AVX-512 sums
// the whole group's Σ A in the first group's gradient sweep (planes of 1024 positions or more).
TEST(GradCamPlusPlus, NonFiniteInTheNextGroupsFirstChannelIsNamed) {
    const std::size_t N = 2, K = 9;
    for (const std::size_t S : {std::size_t{37}, std::size_t{1100}})
        for (camkit::isa i : supported_isas()) {
            isa_scope scope(i);
            for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()})
                for (std::size_t k = 4; k < 8; ++k) {
                    const std::string where = "S " + std::to_string(S) + " " + std::string(camkit::isa_name(i)) +
                                              " channel " + std::to_string(k);
                    camkit::tensor<float> A({N, K, S}, 0.5f), G({N, K, S}, 0.25f);
                    A(1, k, 20) = bad;
                    EXPECT_EQ(error_message([&] { camkit::explain<camkit::grad_cam_plus_plus>(A, G, {.threads = 1}); }),
                              "camkit: activations contain NaN or Inf (sample 1, channel " + std::to_string(k) + ")")
                        << where;
                    G(1, 3, 36) = bad;
                    EXPECT_EQ(error_message([&] { camkit::explain<camkit::grad_cam_plus_plus>(A, G, {.threads = 1}); }),
                              "camkit: gradients contain NaN or Inf (sample 1, channel 3)")
                        << where;
                }
        }
}
