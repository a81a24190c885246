#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include <cmath>

// A rank-one layer A[k,s] = u_k f(s) + c_k: centring removes c, X = f_c uᵀ, v₁ = ±u/|u| and
// raw = X v₁ = |u| f_c. With f = (0, 0, 3), f_c = (−1, −1, 2): raw = |u|·(−1, −1, 2), the sign
// chosen so that max ≥ |min|.
namespace {
camkit::tensor<double> rank_one(const std::vector<double>& u, const std::vector<double>& c) {
    const std::vector<double> f{0, 0, 3};
    camkit::tensor<double> A({1, u.size(), 3});
    for (std::size_t k = 0; k < u.size(); ++k)
        for (std::size_t s = 0; s < 3; ++s) A(0, k, s) = u[k] * f[s] + c[k];
    return A;
}
}  // namespace

TEST(EigenCam, RankOneFewerChannelsThanPositions) {
    const auto r = camkit::explain<camkit::eigen_cam>(rank_one({3, 4}, {5, -2}), {.relu = false, .normalize = camkit::normalization::none});
    EXPECT_NEAR(r.raw(0, 0), -5, 1e-9);
    EXPECT_NEAR(r.raw(0, 1), -5, 1e-9);
    EXPECT_NEAR(r.raw(0, 2), 10, 1e-9);
}

TEST(EigenCam, RankOneMoreChannelsThanPositions) {
    // u = (1, 2, 2, 4), |u| = 5; the X Xᵀ branch.
    const auto r = camkit::explain<camkit::eigen_cam>(rank_one({1, -2, 2, 4}, {0, 1, 2, 3}), {.relu = false, .normalize = camkit::normalization::none});
    EXPECT_NEAR(r.raw(0, 0), -5, 1e-9);
    EXPECT_NEAR(r.raw(0, 1), -5, 1e-9);
    EXPECT_NEAR(r.raw(0, 2), 10, 1e-9);
}

TEST(EigenCam, SignMakesMaximumDominate) {
    // A flipped layer gives the same map: the sign of v₁ is fixed by max ≥ |min|.
    auto A = rank_one({3, 4}, {0, 0});
    auto B = A;
    for (double& v : B.values) v = -v;
    const auto a = camkit::explain<camkit::eigen_cam>(A), b = camkit::explain<camkit::eigen_cam>(B);
    EXPECT_EQ(a.raw.values, b.raw.values);
}

TEST(EigenCam, ConstantLayerGivesZeroMap) {
    const camkit::tensor<float> A({1, 3, 2, 2}, 7.f);
    const auto r = camkit::explain<camkit::eigen_cam>(A);
    for (float v : r.raw.values) EXPECT_EQ(v, 0.f);
    for (float v : r.map.values) EXPECT_EQ(v, 0.f);
}

// Eigen-Grad-CAM is Eigen-CAM of the element-wise product A·G.
TEST(EigenGradCam, IsEigenCamOfTheProduct) {
    camkit::tensor<double> A({2, 3, 4}), G({2, 3, 4}), P({2, 3, 4});
    for (std::size_t i = 0; i < A.size(); ++i) {
        A[i] = std::sin(0.7 * static_cast<double>(i));
        G[i] = std::cos(1.3 * static_cast<double>(i));
        P[i] = A[i] * G[i];
    }
    const auto eg = camkit::explain<camkit::eigen_grad_cam>(A, G), e = camkit::explain<camkit::eigen_cam>(P);
    for (std::size_t i = 0; i < eg.raw.size(); ++i) EXPECT_NEAR(eg.raw[i], e.raw[i], 1e-12);
}
