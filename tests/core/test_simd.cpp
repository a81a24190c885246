// The pack layer (simd.hpp) and the reductions built on it, with the vector extensions on; the
// kernels' cases shared with the scalar build are in common/kernel_cases.hpp.
#define KERNEL_SUITE PackKernels
#include "common/kernel_cases.hpp"

#include <camkit/simd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace {
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();
}  // namespace

TEST(Packs, WidthFollowsTheVectorRegisters) {
#if defined(CAMKIT_VECTOR_EXTENSIONS)
#if defined(__AVX__)
    EXPECT_EQ(camkit::detail::pack_width<float>, 8u);
    EXPECT_EQ(camkit::detail::pack_width<double>, 4u);
#else
    EXPECT_EQ(camkit::detail::pack_width<float>, 4u);
    EXPECT_EQ(camkit::detail::pack_width<double>, 2u);
#endif
    EXPECT_TRUE(camkit::detail::is_pack_v<camkit::detail::pack_t<float>>);
    EXPECT_FALSE(camkit::detail::is_pack_v<float>);
#else
    GTEST_SKIP() << "this compiler has no vector extensions: packs are scalars";
#endif
}

TEST(Packs, ReluMatchesTheScalarOpsLaneByLane) {
#if defined(CAMKIT_VECTOR_EXTENSIONS)
    using namespace camkit::detail;
    constexpr std::size_t W = pack_width<float>;
    const std::vector<float> values{-2.f, -0.f, 0.f, 3.f, nan_f, inf_f, -inf_f, 1e-30f, -1e-30f};
    const camkit::plane_ops<float> ops;
    for (std::size_t start = 0; start + W <= values.size(); ++start) {
        const auto x = load(values.data() + start);
        const auto r = ops.relu(x);
        for (std::size_t j = 0; j < W; ++j) {
            const float v = values[start + j];
            const float want_r = camkit::plane_ops<float>::relu(v);
            if (std::isnan(want_r)) EXPECT_TRUE(std::isnan(r[j]));
            else EXPECT_EQ(r[j], want_r) << v;
        }
    }
#else
    GTEST_SKIP() << "no vector extensions";
#endif
}

TEST(Packs, ReducePlanesCarriesSeveralSumsOverBodyAndTail) {
    using camkit::detail::reduce_planes;
    using camkit::detail::sums;
    for (std::size_t n = 0; n <= 41; ++n) {
        std::vector<float> a(n), g(n);
        double want_f = 0, want_a = 0, want_g = 0;
        for (std::size_t i = 0; i < n; ++i) {
            a[i] = static_cast<float>(i % 7) - 2.f;  // small integers: every sum is exact in float
            g[i] = static_cast<float>(i % 5);
            want_f += a[i] * g[i], want_a += a[i], want_g += g[i];
        }
        const auto r = reduce_planes<float>(n, [&](auto at) {
            const auto va = at(a.data()), vg = at(g.data());
            return sums<decltype(va), 3>{{va * vg, va, vg}};
        });
        EXPECT_EQ(r.v[0], want_f) << n;
        EXPECT_EQ(r.v[1], want_a) << n;
        EXPECT_EQ(r.v[2], want_g) << n;
        EXPECT_EQ(reduce_planes<float>(n, [&](auto at) { return at(g.data()); }), want_g) << n;
    }
}

TEST(Packs, MinMaxIgnoresNaN) {
    using camkit::detail::min_max;
    std::vector<float> v(23);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) - 7.f;
    v[0] = nan_f;
    v[12] = nan_f;
    v[22] = nan_f;  // in the tail
    EXPECT_EQ(min_max(v.data(), v.size()), std::make_pair(-6.f, 14.f));
    v[17] = -inf_f;
    EXPECT_EQ(min_max(v.data(), v.size()).first, -inf_f);
    EXPECT_EQ(min_max(v.data(), 0), std::make_pair(inf_f, -inf_f));
    const std::vector<float> only_nan(9, nan_f);
    EXPECT_EQ(min_max(only_nan.data(), only_nan.size()), std::make_pair(inf_f, -inf_f));
    const std::vector<int> ints{4, -3, 9, 0};
    EXPECT_EQ(min_max(ints.data(), ints.size()), std::make_pair(-3, 9));
    const std::vector<double> doubles{0.5, -0.25, 2.0, 1.0, -1.0};
    EXPECT_EQ(min_max(doubles.data(), doubles.size()), std::make_pair(-1.0, 2.0));
}

TEST(Packs, MinMaxCopiesThroughReluInTheSamePass) {
    using camkit::detail::min_max;
    std::vector<float> v(23), out(23, 99.f);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) - 7.f;
    v[4] = nan_f;
    v[21] = -inf_f;  // in the tail
    EXPECT_EQ(min_max(v.data(), v.size(), out.data(), false), std::make_pair(-inf_f, 15.f));
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i == 4) EXPECT_TRUE(std::isnan(out[i]));
        else EXPECT_EQ(out[i], v[i]) << i;
    }
    // Through ReLU: the min and max are those of what was written (NaN kept, −inf clipped to 0).
    EXPECT_EQ(min_max(v.data(), v.size(), out.data(), true), std::make_pair(0.f, 15.f));
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i == 4) EXPECT_TRUE(std::isnan(out[i]));
        else EXPECT_EQ(out[i], std::max(v[i], 0.f)) << i;
    }
    const std::vector<int> ints{4, -3, 9, 0};
    std::vector<int> iout(4);
    EXPECT_EQ(min_max(ints.data(), ints.size(), iout.data(), true), std::make_pair(0, 9));
    EXPECT_EQ(iout, (std::vector<int>{4, 0, 9, 0}));
}

TEST(Packs, NormalizeLeavesNaNAndScalesTheRest) {
    camkit::tensor<float> m({1, 6}, 0.f);
    m.values = {0.f, nan_f, 2.f, 4.f, 1.f, 3.f};
    camkit::normalize_inplace(m, camkit::normalization::min_max, 0.0);
    EXPECT_TRUE(std::isnan(m.values[1]));
    EXPECT_FLOAT_EQ(m.values[3], 1.f);
    EXPECT_FLOAT_EQ(m.values[4], 0.25f);
}
