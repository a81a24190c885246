// Linear / bilinear / trilinear resize with half-pixel centres (include/camkit/resize.hpp):
// hand-computed cases, analytic identities and values from OpenCV and torch.
#include <camkit/resize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/closeness.hpp"

using camkit::shape_t;
using camkit::tensor;
using camkit_test::expect_all_near;

namespace {

/// Half-pixel source coordinate of output index d, clamped to the input (SPEC.md, resize).
double source(std::size_t d, std::size_t in, std::size_t out) {
    const double s = (static_cast<double>(d) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    return std::clamp(s, 0.0, static_cast<double>(in - 1));
}

/// 1-D linear interpolation of samples v at a (clamped) source coordinate.
double interp(const std::vector<double>& v, double s) {
    const std::size_t i0 = static_cast<std::size_t>(s), i1 = std::min(i0 + 1, v.size() - 1);
    return v[i0] + (v[i1] - v[i0]) * (s - static_cast<double>(i0));
}

}  // namespace

TEST(resize, upsample_two_to_four) {
    // src = (d + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    const auto r = camkit::resize(tensor<double>({1, 2}, {0.0, 1.0}), {4});
    EXPECT_EQ(r.shape, (shape_t{1, 4}));
    expect_all_near(r.values, {0.0, 0.25, 0.75, 1.0}, 1e-15);
}

TEST(resize, identity_size_copies) {
    const tensor<float> t({2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    const auto r = camkit::resize(t, {2, 3});
    EXPECT_EQ(r.shape, t.shape);
    EXPECT_EQ(r.values, t.values);
}

TEST(resize, downsample_one_d) {
    // 4 → 2: src = 0.5, 2.5 → pair means. 3 → 2: src = 0.25, 1.75.
    expect_all_near(camkit::resize(tensor<double>({1, 4}, {0.0, 1.0, 2.0, 6.0}), {2}).values, {0.5, 4.0}, 1e-15);
    expect_all_near(camkit::resize(tensor<double>({1, 3}, {0.0, 4.0, 8.0}), {2}).values, {1.0, 7.0}, 1e-15);
}

TEST(resize, single_source_value_is_replicated) {
    // Every source coordinate clamps to index 0.
    expect_all_near(camkit::resize(tensor<double>({1, 1}, std::vector<double>{3.5}), {3}).values, {3.5, 3.5, 3.5}, 0);
}

TEST(resize, clamps_at_the_border) {
    // 3 → 6: src = −0.25, 0.25, 0.75, 1.25, 1.75, 2.25; the ends clamp to the edge values.
    const auto r = camkit::resize(tensor<double>({1, 3}, {2.0, 4.0, 10.0}), {6});
    expect_all_near(r.values, {2.0, 2.5, 3.5, 5.5, 8.5, 10.0}, 1e-14);
}

TEST(resize, batch_samples_are_independent) {
    const auto r = camkit::resize(tensor<double>({2, 2}, {0.0, 1.0, 10.0, 20.0}), {4});
    expect_all_near(r.values, {0.0, 0.25, 0.75, 1.0, 10.0, 12.5, 17.5, 20.0}, 1e-13);
}

TEST(resize, bilinear_matches_opencv_inter_linear) {
    // Expected values from OpenCV 4.6 on this machine:
    //   a = np.array([[0,1,4,2],[3,-1,5,0],[2,2,7,1]], np.float32)
    //   cv2.resize(a, (7, 5), interpolation=cv2.INTER_LINEAR).ravel()
    const tensor<float> a({1, 3, 4}, {0, 1, 4, 2, 3, -1, 5, 0, 2, 2, 7, 1});
    const auto up = camkit::resize(a, {5, 7});
    EXPECT_EQ(up.shape, (shape_t{1, 5, 7}));
    expect_all_near(up.values,
                    {0.0, 0.3571428656578064, 0.9285714626312256, 2.5, 3.857142925262451, 2.7142858505249023, 2.0,
                     1.2000000476837158, 0.8428571820259094, 0.2714286148548126, 2.299999952316284, 4.171428680419922,
                     2.3428573608398438, 1.2000000476837158, 3.0, 1.5714285373687744, -0.7142856121063232, 2.0,
                     4.642857551574707, 1.7857146263122559, 0.0, 2.4000000953674316, 1.8285714387893677,
                     0.9142857789993286, 3.5, 5.800000190734863, 2.6000003814697266, 0.6000000238418579, 2.0, 2.0,
                     2.0, 4.5, 6.571428298950195, 3.142857551574707, 1.0},
                    2e-6);
    // Downsampling (no antialiasing in either):
    //   b = np.arange(30, dtype=np.float32).reshape(6, 5) ** 1.5 / 10
    //   cv2.resize(b, (3, 4), interpolation=cv2.INTER_LINEAR).ravel()
    tensor<float> b({1, 6, 5});
    for (std::size_t i = 0; i < 30; ++i) b.values[i] = std::pow(static_cast<float>(i), 1.5f) / 10.0f;
    const auto down = camkit::resize(b, {4, 3});
    expect_all_near(down.values,
                    {0.33381348848342896, 0.6751384735107422, 1.1684656143188477, 2.8020241260528564,
                     3.580698251724243, 4.429526329040527, 6.797399520874023, 7.83668851852417, 8.928935050964355,
                     11.857025146484375, 13.101938247680664, 14.391332626342773},
                    2e-5);
}

TEST(resize, trilinear_matches_torch_interpolate) {
    // Expected values from torch 1.13 on this machine:
    //   v = torch.arange(12, dtype=torch.float64).reshape(1, 1, 2, 3, 2) ** 2
    //   F.interpolate(v, size=(3, 4, 5), mode="trilinear", align_corners=False).flatten()
    tensor<double> v({1, 2, 3, 2});
    for (std::size_t i = 0; i < 12; ++i) v.values[i] = static_cast<double>(i * i);
    const auto r = camkit::resize(v, {3, 4, 5});
    EXPECT_EQ(r.shape, (shape_t{1, 3, 4, 5}));
    expect_all_near(r.values,
                    {0.0,  0.1,   0.5,  0.9,   1.0,  2.5,   2.85,  4.25, 5.65,  6.0,  8.5,   9.15,
                     11.75, 14.35, 15.0, 16.0,  16.9, 20.5,  24.1,  25.0, 18.0,  18.7, 21.5,  24.3,
                     25.0, 28.0,  28.95, 32.75, 36.55, 37.5, 43.0,  44.25, 49.25, 54.25, 55.5, 58.0,
                     59.5, 65.5,  71.5, 73.0,  36.0, 37.3,  42.5,  47.7, 49.0,  53.5, 55.05, 61.25,
                     67.45, 69.0, 77.5, 79.35, 86.75, 94.15, 96.0, 100.0, 102.1, 110.5, 118.9, 121.0},
                    1e-12);
}

TEST(resize, trilinear_of_a_separable_product_is_the_product_of_linear_resizes) {
    // f(d, h, w) = p(d)·q(h)·r(w): the separable resize must give interp(p)·interp(q)·interp(r).
    const std::vector<double> p{1.0, 3.0, 2.0}, q{0.5, 4.0}, rr{2.0, -1.0, 0.0, 5.0};
    tensor<double> f({2, 3, 2, 4});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t d = 0; d < 3; ++d)
            for (std::size_t h = 0; h < 2; ++h)
                for (std::size_t w = 0; w < 4; ++w) f(n, d, h, w) = (n + 1.0) * p[d] * q[h] * rr[w];
    const shape_t size{5, 3, 7};
    const auto g = camkit::resize(f, size);
    EXPECT_EQ(g.shape, (shape_t{2, 5, 3, 7}));
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t d = 0; d < 5; ++d)
            for (std::size_t h = 0; h < 3; ++h)
                for (std::size_t w = 0; w < 7; ++w) {
                    const double want = (n + 1.0) * interp(p, source(d, 3, 5)) * interp(q, source(h, 2, 3)) *
                                        interp(rr, source(w, 4, 7));
                    EXPECT_NEAR(g(n, d, h, w), want, 1e-12) << n << ' ' << d << ' ' << h << ' ' << w;
                }
}

TEST(resize, linear_function_is_reproduced_inside_and_clamped_outside) {
    // Bilinear interpolation is exact on f = 1 + 2y + 3x, evaluated at the clamped source coordinates.
    tensor<double> f({1, 4, 3});
    for (std::size_t y = 0; y < 4; ++y)
        for (std::size_t x = 0; x < 3; ++x) f(0, y, x) = 1.0 + 2.0 * y + 3.0 * x;
    const auto g = camkit::resize(f, {7, 2});
    for (std::size_t y = 0; y < 7; ++y)
        for (std::size_t x = 0; x < 2; ++x)
            EXPECT_NEAR(g(0, y, x), 1.0 + 2.0 * source(y, 4, 7) + 3.0 * source(x, 3, 2), 1e-12);
}

TEST(resize, errors) {
    const auto expect_error = [](const auto& maps, const shape_t& size, const char* needle) {
        try {
            (void)camkit::resize(maps, size);
            ADD_FAILURE() << "no error for " << needle;
        } catch (const camkit::error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_error(tensor<float>(shape_t{4}), {2}, "[N, *S]");               // no spatial axis
    expect_error(tensor<float>(shape_t{1, 2, 2, 2, 2}), {2, 2, 2, 2}, "[N, *S]");  // 4 spatial axes
    expect_error(tensor<float>(shape_t{1, 3, 3}), {3}, "one extent per spatial axis");
    expect_error(tensor<float>(shape_t{1, 3, 3}), {3, 0}, "zero extent");
    expect_error(tensor<float>(shape_t{1, 0}), {4}, "empty spatial axis");
    expect_error(tensor<float>(shape_t{2, 3, 0}), {3, 3}, "empty spatial axis");
}
