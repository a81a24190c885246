#pragma once
// Cases every build of the host kernels must pass, whatever their pack width: the fused kernels of
// every method (the projections included) against the reference loops (reference_cam.hpp) at
// shapes whose planes leave a tail after the packs and whose channel counts leave partial channel
// groups, on 1 and 3 threads, in float and double; and NaN/±Inf at every position found and
// named. Included by the pack build (core/test_simd.cpp) and the scalar build (scalar/,
// CAMKIT_NO_VECTOR_EXTENSIONS); KERNEL_SUITE names the test suite of each.
#include <camkit/camkit.hpp>
#include <camkit/explain_many.hpp>
#include <gtest/gtest.h>

#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/reference_cam.hpp"

#include <limits>
#include <string>

#ifndef KERNEL_SUITE
#error "define KERNEL_SUITE before including kernel_cases.hpp"
#endif

namespace kernel_cases {

inline const std::vector<camkit::shape_t>& odd_shapes() {
    static const std::vector<camkit::shape_t> shapes{
        {1, 1, 1}, {1, 5, 3}, {2, 3, 7}, {2, 9, 17}, {1, 6, 3, 5}, {3, 2, 33}, {1, 7, 2, 3, 5}, {2, 4, 8, 8}};
    return shapes;
}

/// Every method on random activations and gradients of `shape` against the reference loops, on 1
/// and 3 threads, in double and float. The projections (Eigen-CAM, Eigen-Grad-CAM) too: the
/// reference's power iteration gives their first component to the same precision.
inline void expect_every_method_matches_the_reference(const camkit::shape_t& shape) {
    using namespace camkit_test;
    const auto A = random_tensor(shape, 11, 0, 2);  // post-ReLU activations
    const auto G = random_tensor(shape, 12);
    const auto Af = cast<float>(A), Gf = cast<float>(G);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto want = reference_raw(M::name, A, G);
        for (int threads : {1, 3}) {
            const camkit::options opt{.relu = false, .normalize = camkit::normalization::none, .threads = threads};
            EXPECT_LT(max_relative_error(camkit::explain<M>(A, G, opt).raw, want), 1e-12)
                << M::name << " " << camkit::to_string(shape) << " t" << threads;
            EXPECT_LT(max_relative_error(camkit::explain<M>(Af, Gf, opt).raw, want), 2e-5)
                << M::name << " " << camkit::to_string(shape) << " t" << threads << " float";
        }
    });
}

}  // namespace kernel_cases

TEST(KERNEL_SUITE, EveryMethodMatchesTheReferenceAtOddSizes) {
    // {1, 5, 3} has more channels than positions.
    for (const auto& shape : kernel_cases::odd_shapes()) kernel_cases::expect_every_method_matches_the_reference(shape);
}

TEST(KERNEL_SUITE, SpatialTilesMatchTheReference) {
    // Tiles of 64 positions (kernels.hpp's tiling, forced on small planes): full tiles and a
    // remainder (209 = 3·64 + 17, 231 = 3·64 + 39), partial channel groups, 1 and 3 threads.
    camkit_test::tiling_scope tiles(64);
    for (const camkit::shape_t& shape : {camkit::shape_t{2, 6, 209}, camkit::shape_t{1, 5, 3, 7, 11}})
        kernel_cases::expect_every_method_matches_the_reference(shape);
}

TEST(KERNEL_SUITE, NonFiniteAtEveryPositionIsNamed) {
    using namespace camkit_test;
    const camkit::shape_t shape{2, 5, 19};  // 19 positions: packs and a tail; 5 channels: a partial group
    const auto A = cast<float>(random_tensor(shape, 13, 0, 2));
    const auto G = cast<float>(random_tensor(shape, 14));
    const float bad_values[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (float bad : bad_values)
            for (std::size_t s = 0; s < 19; ++s)
                for (bool in_gradients : {false, true}) {
                    auto a = A, g = G;
                    const std::size_t n = 1, k = 3, i = (n * 5 + k) * 19 + s;
                    (in_gradients ? g : a).values[i] = bad;
                    const std::string want = std::string("camkit: ") + (in_gradients ? "gradients" : "activations") +
                                             " contain NaN or Inf (sample 1, channel 3)";
                    EXPECT_EQ(error_message([&] { (void)camkit::explain<M>(a, g); }), want)
                        << M::name << " value " << bad << " at " << s;
                }
    });
}

TEST(KERNEL_SUITE, AllClassesMatchOneByOne) {
    using namespace camkit_test;
    const auto A = cast<float>(random_tensor({1, 6, 3, 7}, 15, 0, 2));
    const auto G = cast<float>(random_tensor({5, 6, 3, 7}, 16));
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const camkit::options opt{.relu = false, .normalize = camkit::normalization::none};
        const auto many = camkit::explain_many<M>(A, G, opt);
        for (std::size_t c = 0; c < 5; ++c) {
            camkit::tensor<float> g({1, 6, 3, 7});
            std::copy_n(G.values.begin() + static_cast<std::ptrdiff_t>(c * g.size()), g.size(), g.values.begin());
            const auto one = camkit::explain<M>(A, g, opt).raw;
            for (std::size_t s = 0; s < one.size(); ++s)
                EXPECT_NEAR(many.raw.values[c * one.size() + s], one.values[s], 1e-5f) << M::name << " target " << c;
        }
    });
}
