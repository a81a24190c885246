// CAM refinement (include/camkit/refine/): hand-computed cases of every step, the pipeline's
// wiring and every error path. tests/core/test_refine_reference.cpp compares with scipy,
// scikit-image, SimpleITK and PIL.
#include <camkit/refine/box_filter.hpp>
#include <camkit/refine/focal_points.hpp>
#include <camkit/refine/holes.hpp>
#include <camkit/refine/keep.hpp>
#include <camkit/refine/local_maxima.hpp>
#include <camkit/refine/merge.hpp>
#include <camkit/refine/panel.hpp>
#include <camkit/refine/percentile.hpp>
#include <camkit/refine/refine.hpp>
#include <camkit/refine/region_growing.hpp>
#include <camkit/refine/sobel.hpp>
#include <camkit/refine/thinning.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using camkit::mask_t;
using camkit::points_t;
using camkit::shape_t;
using camkit::tensor;
using ::testing::DoubleNear;
using ::testing::Pointwise;

namespace {

mask_t mask(shape_t shape, std::vector<int> v) {
    return mask_t(std::move(shape), std::vector<std::uint8_t>(v.begin(), v.end()));
}

std::vector<int> ints(const mask_t& m) { return {m.values.begin(), m.values.end()}; }
std::vector<std::int64_t> coords(const points_t& p) { return p.values; }

/// A smooth 2-D test scene: a low-res map with one peak and a high-res map with a blob there.
struct scene {
    tensor<double> low{{4, 4}}, high{{32, 32}};
    scene() {
        for (std::size_t y = 0; y < 4; ++y)
            for (std::size_t x = 0; x < 4; ++x)
                low(y, x) = std::exp(-(std::pow(double(y) - 1.2, 2) + std::pow(double(x) - 2.1, 2)) / 2.0);
        for (std::size_t y = 0; y < 32; ++y)
            for (std::size_t x = 0; x < 32; ++x)
                high(y, x) = std::exp(-(std::pow(double(y) - 11.0, 2) + std::pow(double(x) - 18.0, 2)) / 30.0) +
                             0.05 * std::sin(double(x * 7 + y * 3));
    }
};

}  // namespace

// ---- percentile ----------------------------------------------------------------------------

TEST(refine_percentile, numpy_linear_by_hand) {
    const tensor<double> v({4}, {4.0, 1.0, 3.0, 2.0});
    // virtual index p/100·3 between the sorted values 1 2 3 4
    EXPECT_DOUBLE_EQ(camkit::percentile(v, 0), 1.0);
    EXPECT_DOUBLE_EQ(camkit::percentile(v, 25), 1.75);
    EXPECT_DOUBLE_EQ(camkit::percentile(v, 50), 2.5);
    EXPECT_DOUBLE_EQ(camkit::percentile(v, 85), 3.55);
    EXPECT_DOUBLE_EQ(camkit::percentile(v, 100), 4.0);
    EXPECT_DOUBLE_EQ(camkit::percentile(tensor<float>({1}, std::vector<float>{7.0f}), 40), 7.0);
}

TEST(refine_percentile, masked_values_only) {
    const tensor<double> v({2, 3}, {10, 1, 20, 2, 30, 3});
    EXPECT_DOUBLE_EQ(camkit::percentile(v, mask({2, 3}, {1, 0, 1, 0, 1, 0}), 50), 20.0);
    EXPECT_DOUBLE_EQ(camkit::percentile(v, mask({2, 3}, {0, 1, 0, 1, 0, 1}), 75), 2.5);
}

TEST(refine_percentile, errors) {
    const tensor<double> v({2, 2}, {1, 2, 3, 4});
    EXPECT_THROW(camkit::percentile(v, -1), camkit::error);
    EXPECT_THROW(camkit::percentile(v, 100.5), camkit::error);
    EXPECT_THROW(camkit::percentile(tensor<double>({0}), 50), camkit::error);
    EXPECT_THROW(camkit::percentile(v, mask({2, 2}, {0, 0, 0, 0}), 50), camkit::error);
    EXPECT_THROW(camkit::percentile(v, mask({4}, {1, 1, 1, 1}), 50), camkit::error);
    EXPECT_THROW(camkit::percentile(tensor<double>({2}, {1.0, std::nan("")}), 50), camkit::error);
}

// ---- box filter ----------------------------------------------------------------------------

TEST(refine_box_filter, reflect_border_by_hand) {
    // reflect: x[−1] = x[0], x[3] = x[2]
    const auto r = camkit::box_filter(tensor<double>({1, 3}, {1, 2, 4}), 3);
    EXPECT_THAT(r.values, Pointwise(DoubleNear(1e-15), std::vector<double>{4.0 / 3, 7.0 / 3, 10.0 / 3}));
    // a single row: the vertical pass reads the row itself three times
    EXPECT_EQ(r.shape, (shape_t{1, 3}));
}

TEST(refine_box_filter, window_wider_than_axis_and_even_width) {
    // length 2, width 5: indices −2..2 read b a a b b (period 4) for pixel 0, a a b b a for pixel 1
    EXPECT_THAT(camkit::box_filter(tensor<double>({1, 2}, {1, 10}), 5).values,
                Pointwise(DoubleNear(1e-14), std::vector<double>{(2 + 30) / 5.0, (3 + 20) / 5.0}));
    // width 4: window [i − 1, i + 2]
    EXPECT_THAT(camkit::box_filter(tensor<double>({1, 4}, {1, 2, 3, 4}), 4).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{(1 + 1 + 2 + 3) / 4.0, (1 + 2 + 3 + 4) / 4.0,
                                                                 (2 + 3 + 4 + 4) / 4.0, (3 + 4 + 4 + 3) / 4.0}));
}

TEST(refine_box_filter, identity_constant_and_volume) {
    const tensor<float> t({2, 3}, {1, 2, 3, 4, 5, 6});
    EXPECT_EQ(camkit::box_filter(t, 1).values, t.values);
    const auto c = camkit::box_filter(tensor<double>({3, 4, 5}, 2.5), 5);
    for (double v : c.values) EXPECT_NEAR(v, 2.5, 1e-15);
    // one hot voxel in the middle of a 5³ volume spreads 1/27 over its 3³ box
    tensor<double> one({5, 5, 5}, 0.0);
    one(2, 2, 2) = 27;
    const auto b = camkit::box_filter(one, 3);
    EXPECT_NEAR(b(1, 1, 1), 1.0, 1e-15);
    EXPECT_NEAR(b(3, 3, 3), 1.0, 1e-15);
    EXPECT_NEAR(b(0, 2, 2), 0.0, 1e-15);
}

TEST(refine_box_filter, errors) {
    EXPECT_THROW(camkit::box_filter(tensor<double>({4}, 1.0)), camkit::error);
    EXPECT_THROW(camkit::box_filter(tensor<double>({2, 0}), 3), camkit::error);
    EXPECT_THROW(camkit::box_filter(tensor<double>({2, 2}, 1.0), 0), camkit::error);
}

// ---- Sobel ---------------------------------------------------------------------------------

TEST(refine_sobel, ramp_by_hand) {
    // x[y, i] = i: central difference 2 inside, 1 at the reflected borders; no vertical gradient
    tensor<double> ramp({3, 5});
    for (std::size_t y = 0; y < 3; ++y)
        for (std::size_t x = 0; x < 5; ++x) ramp(y, x) = double(x);
    const auto s = camkit::sobel_magnitude(ramp);
    const double r2 = std::sqrt(2.0);
    for (std::size_t y = 0; y < 3; ++y)
        EXPECT_THAT((std::vector<double>{s(y, 0), s(y, 1), s(y, 2), s(y, 4)}),
                    Pointwise(DoubleNear(1e-15), std::vector<double>{1 / r2, 2 / r2, 2 / r2, 1 / r2}));
    // 3-D: the same ramp along the innermost axis, divided by √3
    tensor<double> ramp3({2, 2, 4});
    for (std::size_t i = 0; i < ramp3.size(); ++i) ramp3[i] = double(i % 4);
    const auto s3 = camkit::sobel_magnitude(ramp3);
    EXPECT_NEAR(s3(1, 1, 1), 2 / std::sqrt(3.0), 1e-15);
    EXPECT_NEAR(s3(0, 1, 3), 1 / std::sqrt(3.0), 1e-15);
}

TEST(refine_sobel, constant_is_zero_and_errors) {
    for (double v : camkit::sobel_magnitude(tensor<double>({4, 4}, 3.0)).values) EXPECT_EQ(v, 0.0);
    EXPECT_THROW(camkit::sobel_magnitude(tensor<double>({2, 2, 2, 2}, 1.0)), camkit::error);
}

// ---- local maxima --------------------------------------------------------------------------

TEST(refine_local_maxima, plateaus_and_border) {
    // the 2×2 plateau of 1s is a maximum; so is the corner 3 and the 2-plateau at the top left
    const tensor<double> m({4, 4}, {2, 2, 0, 0, 2, 1, 1, 0, 0, 1, 3, 0, 0, 0, 0, 0});
    EXPECT_EQ(ints(camkit::local_maxima(m)), (std::vector<int>{1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}));
    const tensor<double> p({4, 4}, {0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0});
    EXPECT_EQ(ints(camkit::local_maxima(p)), (std::vector<int>{0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}));
    // a constant map has no maximum; a peak in a corner is one
    for (int v : ints(camkit::local_maxima(tensor<double>({3, 3}, 1.0)))) EXPECT_EQ(v, 0);
    EXPECT_EQ(ints(camkit::local_maxima(tensor<double>({2, 2}, {0, 0, 0, 1}))), (std::vector<int>{0, 0, 0, 1}));
}

TEST(refine_local_maxima, face_connectivity_and_volume) {
    // with face connectivity a diagonal neighbour does not count
    const tensor<double> d({2, 2}, {1, 0, 0, 2});
    EXPECT_EQ(ints(camkit::local_maxima(d)), (std::vector<int>{0, 0, 0, 1}));
    EXPECT_EQ(ints(camkit::local_maxima(d, camkit::connectivity::face)), (std::vector<int>{1, 0, 0, 1}));
    tensor<double> v({3, 3, 3}, 0.0);
    v(1, 1, 1) = 2;
    v(0, 0, 0) = 1;  // touches the centre only diagonally: not a maximum with full connectivity
    const auto m = camkit::local_maxima(v);
    EXPECT_EQ(m(1, 1, 1), 1);
    EXPECT_EQ(m(0, 0, 0), 0);
    EXPECT_EQ(std::count(m.values.begin(), m.values.end(), 1), 1);
}

// ---- thinning ------------------------------------------------------------------------------

TEST(refine_thin, zhang_suen_by_hand) {
    // a one-pixel line is its own skeleton
    const mask_t line = mask({3, 5}, {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0});
    EXPECT_EQ(ints(camkit::thin(line)), ints(line));
    // a 3-wide bar thins to part of its middle row (the south-east pass runs first)
    mask_t bar({5, 9}, std::uint8_t{0});
    for (std::size_t y = 1; y < 4; ++y)
        for (std::size_t x = 1; x < 8; ++x) bar(y, x) = 1;
    mask_t want({5, 9}, std::uint8_t{0});
    for (std::size_t x = 2; x < 6; ++x) want(2, x) = 1;
    EXPECT_EQ(ints(camkit::thin(bar)), ints(want));
    // a 16×16 block (a low-res pixel scaled by 16) shrinks to one pixel
    const auto block = camkit::thin(mask_t({16, 16}, std::uint8_t{1}));
    EXPECT_EQ(std::count(block.values.begin(), block.values.end(), 1), 1);
    EXPECT_EQ(block(7, 7), 1);
    EXPECT_THROW(camkit::thin(mask_t({2, 2, 2}, std::uint8_t{1})), camkit::error);
    EXPECT_THROW(camkit::thin(mask_t({0, 3})), camkit::error);
}

// ---- region growing ------------------------------------------------------------------------

TEST(refine_grow_region, by_hand) {
    const tensor<double> m({1, 6}, {0.5, 0.5, 0.9, 0.5, 0.5, 0.4});
    const points_t seed({1, 2}, {0, 0});
    EXPECT_EQ(ints(camkit::grow_region(m, seed, 0.4, 0.6)), (std::vector<int>{1, 1, 0, 0, 0, 0}));
    // the bounds are inclusive: 0.9 joins and the growth reaches the end
    EXPECT_EQ(ints(camkit::grow_region(m, seed, 0.4, 0.9)), (std::vector<int>{1, 1, 1, 1, 1, 1}));
    // a seed outside [lower, upper] starts nothing
    EXPECT_EQ(ints(camkit::grow_region(m, points_t({1, 2}, {0, 2}), 0.4, 0.6)), (std::vector<int>{0, 0, 0, 0, 0, 0}));
    // no seeds, no region
    EXPECT_EQ(ints(camkit::grow_region(m, points_t({0, 2}), 0.0, 1.0)), (std::vector<int>(6, 0)));
}

TEST(refine_grow_region, faces_only_in_2d_and_3d) {
    // the 1s touch only diagonally: face connectivity keeps the growth at the seed
    const tensor<double> m({3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
    EXPECT_EQ(ints(camkit::grow_region(m, points_t({1, 2}, {0, 0}), 1, 1)),
              (std::vector<int>{1, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(ints(camkit::grow_region(m, points_t({1, 2}, {0, 0}), 1, 1, camkit::connectivity::full)),
              (std::vector<int>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
    tensor<double> v({2, 2, 2}, 0.0);
    v(0, 0, 0) = v(1, 0, 0) = v(1, 1, 0) = 1;  // a face-connected path through depth
    v(0, 1, 1) = 1;                            // touching only along an edge
    const auto g = camkit::grow_region(v, points_t({1, 3}, {0, 0, 0}), 0.5, 1.5);
    EXPECT_EQ(ints(g), (std::vector<int>{1, 0, 0, 0, 1, 0, 1, 0}));
}

TEST(refine_grow_region, errors) {
    const tensor<double> m({2, 2}, 0.5);
    EXPECT_THROW(camkit::grow_region(m, points_t({1, 2}, {2, 0}), 0, 1), camkit::error);
    EXPECT_THROW(camkit::grow_region(m, points_t({1, 2}, {0, -1}), 0, 1), camkit::error);
    EXPECT_THROW(camkit::grow_region(m, points_t({1, 3}, {0, 0, 0}), 0, 1), camkit::error);
    EXPECT_THROW(camkit::grow_region(m, points_t({1, 2}, {0, 0}), 0.7, 0.6), camkit::error);
}

// ---- hole filling --------------------------------------------------------------------------

TEST(refine_fill_small_holes, by_hand) {
    // a ring around a one-pixel hole; the background outside the ring has 16 pixels
    mask_t ring({5, 5}, std::uint8_t{0});
    for (std::size_t y = 1; y < 4; ++y)
        for (std::size_t x = 1; x < 4; ++x) ring(y, x) = (y != 2 || x != 2);
    auto filled = camkit::fill_small_holes(ring, 2);
    EXPECT_EQ(filled(2, 2), 1);
    EXPECT_EQ(filled(0, 0), 0);
    // a hole of exactly area_threshold pixels stays (skimage fills components smaller than it)
    EXPECT_EQ(camkit::fill_small_holes(ring, 1)(2, 2), 0);
    // the outer background (16 pixels, touching the border) is filled too when small enough
    for (int v : ints(camkit::fill_small_holes(ring, 17))) EXPECT_EQ(v, 1);
    // default 256: everything here
    for (int v : ints(camkit::fill_small_holes(ring))) EXPECT_EQ(v, 1);
}

TEST(refine_fill_small_holes, volume) {
    // a 3³ shell with an empty centre inside a 5³ volume: the centre is a 1-voxel hole
    mask_t shell({5, 5, 5}, std::uint8_t{0});
    for (std::size_t z = 1; z < 4; ++z)
        for (std::size_t y = 1; y < 4; ++y)
            for (std::size_t x = 1; x < 4; ++x) shell(z, y, x) = !(z == 2 && y == 2 && x == 2);
    const auto f = camkit::fill_small_holes(shell, 2);
    EXPECT_EQ(f(2, 2, 2), 1);
    EXPECT_EQ(f(0, 0, 0), 0);
    EXPECT_EQ(std::count(f.values.begin(), f.values.end(), 1), 27);
    EXPECT_THROW(camkit::fill_small_holes(mask_t({4}, std::uint8_t{1})), camkit::error);
}

// ---- focal points --------------------------------------------------------------------------

TEST(refine_focal_points, default_count) {
    EXPECT_EQ(camkit::default_focal_point_count({224, 224}), 15u);
    EXPECT_EQ(camkit::default_focal_point_count({40, 40}), 6u);
    EXPECT_EQ(camkit::default_focal_point_count({10, 300}), 17u);
    EXPECT_EQ(camkit::default_focal_point_count({64, 64, 64}), 8u);
}

TEST(refine_focal_points, top_points_order_and_ties) {
    const tensor<double> m({2, 3}, {0.1, 0.9, 0.5, 0.9, 0.2, 0.7});
    // 0.9 at (0, 1) and (1, 0): the lower flat index first, then 0.7 at (1, 2)
    EXPECT_EQ(coords(camkit::top_points(m, 3)), (std::vector<std::int64_t>{0, 1, 1, 0, 1, 2}));
    EXPECT_EQ(camkit::top_points(m, 3).shape, (shape_t{3, 2}));
    tensor<double> v({2, 2, 2}, 0.0);
    v(1, 0, 1) = 5;
    EXPECT_EQ(coords(camkit::top_points(v, 1)), (std::vector<std::int64_t>{1, 0, 1}));
    EXPECT_THROW(camkit::top_points(m, 0), camkit::error);
    EXPECT_THROW(camkit::top_points(m, 7), camkit::error);
}

TEST(refine_focal_points, nearest_resize_like_pil) {
    EXPECT_EQ(ints(camkit::resize_nearest(mask({1, 2}, {1, 0}), {1, 4})), (std::vector<int>{1, 1, 0, 0}));
    // 3 → 7: ⌊(d + ½)·3/7⌋ = 0 0 1 1 1 2 2
    EXPECT_EQ(ints(camkit::resize_nearest(mask({1, 3}, {1, 0, 1}), {1, 7})), (std::vector<int>{1, 1, 0, 0, 0, 1, 1}));
    EXPECT_EQ(ints(camkit::resize_nearest(mask({1, 1, 2}, {0, 1}), {2, 1, 2})), (std::vector<int>{0, 1, 0, 1}));
    EXPECT_THROW(camkit::resize_nearest(mask({1, 2}, {1, 0}), {4}), camkit::error);
}

TEST(refine_focal_points, strong_maxima_above_the_mid_point) {
    // maxima 1.0, 0.9 and 0.2: mid-point 0.6 keeps the first two
    const tensor<double> m({1, 7}, {1.0, 0.1, 0.9, 0.0, 0.0, 0.2, 0.0});
    EXPECT_EQ(ints(camkit::strong_local_maxima(m)), (std::vector<int>{1, 0, 1, 0, 0, 0, 0}));
    // one maximum (or several equal ones) lies on the mid-point: none is strictly above it
    EXPECT_EQ(ints(camkit::strong_local_maxima(tensor<double>({1, 3}, {0, 1, 0}))), (std::vector<int>{0, 0, 0}));
}

TEST(refine_focal_points, local_points_scaled_and_thinned) {
    // one maximum (0.2 touches 1.0 diagonally): it lies on the mid-point, so there are no points
    const tensor<double> low({2, 2}, {0.0, 0.2, 0.1, 1.0});
    EXPECT_EQ(coords(camkit::local_focal_points(low, {4, 4}, camkit::maxima_areas::large)),
              (std::vector<std::int64_t>{}));
    const tensor<double> two({2, 3}, {1.0, 0.0, 0.8, 0.0, 0.0, 0.0});  // maxima 1.0 and 0.8, mid 0.9
    EXPECT_EQ(coords(camkit::local_focal_points(two, {4, 6}, camkit::maxima_areas::large)),
              (std::vector<std::int64_t>{0, 0, 0, 1, 1, 0, 1, 1}));
    const tensor<double> three({1, 3}, {1.0, 0.0, 0.1});  // maxima 1.0 and 0.1: the block of 1.0, thinned
    const auto pts = camkit::local_focal_points(three, {16, 48}, camkit::maxima_areas::small);
    EXPECT_EQ(coords(pts), (std::vector<std::int64_t>{7, 7}));
    EXPECT_THROW(camkit::local_focal_points(tensor<double>({2, 2, 2}, 1.0), {4, 4, 4}), camkit::error);
}

// ---- merge and keep ------------------------------------------------------------------------

TEST(refine_merge, blend_and_multiply_by_hand) {
    const mask_t seg = mask({2, 2}, {0, 1, 1, 0});
    const tensor<double> low({2, 2}, {0, 2, 4, 1});  // normalized 0 .5 1 .25
    EXPECT_THAT(camkit::merge_maps(seg, low).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{0, 0.75, 1, 0.125}));
    EXPECT_THAT(camkit::merge_maps(seg, low, camkit::merge_mode::blend, 0.2).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{0, 0.6, 1, 0.2}));
    EXPECT_THAT(camkit::merge_maps(seg, low, camkit::merge_mode::multiply).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{0, 0.5, 1, 0}));
}

TEST(refine_merge, blank_inputs) {
    const tensor<double> low({2, 2}, {0, 2, 4, 1});
    // a blank segment gives the normalized low-res map, a blank low-res map the segment
    EXPECT_THAT(camkit::merge_maps(mask({2, 2}, {0, 0, 0, 0}), low).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{0, 0.5, 1, 0.25}));
    EXPECT_THAT(camkit::merge_maps(mask({2, 2}, {0, 1, 0, 0}), tensor<double>({2, 2}, {0, -1, 0, -2})).values,
                Pointwise(DoubleNear(0), std::vector<double>{0, 1, 0, 0}));
    // ... normalized as a blank segment's low-res map is, and a constant segment refused alike
    const tensor<double> blank_low({2, 2}, {0, -1, 0, -2});
    EXPECT_THAT(camkit::merge_maps(tensor<double>({2, 2}, {0, 2, 4, 1}), blank_low).values,
                Pointwise(DoubleNear(1e-15), std::vector<double>{0, 0.5, 1, 0.25}));
    EXPECT_THROW(camkit::merge_maps(mask({2, 2}, {1, 1, 1, 1}), blank_low), camkit::error);
    EXPECT_THROW(camkit::merge_maps(mask({2, 2}, {0, 0, 0, 0}), tensor<double>({2, 2}, 0.0)), camkit::error);
    EXPECT_THROW(camkit::merge_maps(mask({2, 2}, {1, 1, 1, 1}), low), camkit::error);  // a full segment is constant
    EXPECT_THROW(camkit::merge_maps(mask({2, 2}, {0, 1, 0, 0}), low, camkit::merge_mode::blend, 1.5), camkit::error);
    EXPECT_THROW(camkit::merge_maps(mask({2, 2}, {0, 1, 0, 0}), low, camkit::merge_mode::blend, -0.1), camkit::error);
    EXPECT_THROW(camkit::merge_maps(mask({4}, {0, 1, 0, 0}), low), camkit::error);
}

TEST(refine_keep, threshold_and_percentage_by_hand) {
    EXPECT_EQ(ints(camkit::keep_above(tensor<double>({1, 4}, {0, 0.5, 0.61, 1}))), (std::vector<int>{0, 0, 1, 1}));
    // normalized first: {0, 5, 6.1, 10} / 10 gives the same mask
    EXPECT_EQ(ints(camkit::keep_above(tensor<double>({1, 4}, {0, 5, 6.1, 10}))), (std::vector<int>{0, 0, 1, 1}));
    // 20 values i/19, 15 %: position ⌊0.85·20⌋ = 17, threshold 17/19, strictly above: 18/19 and 1
    tensor<double> r({4, 5});
    for (std::size_t i = 0; i < 20; ++i) r[i] = double(i) / 19;
    const auto k = camkit::keep_top_percentage(r);
    EXPECT_EQ(std::count(k.values.begin(), k.values.end(), 1), 2);
    EXPECT_EQ(k[18] + k[19], 2);
    // 100 %: everything above the minimum
    const auto all = camkit::keep_top_percentage(r, 100);
    EXPECT_EQ(std::count(all.values.begin(), all.values.end(), 1), 19);
    // a percentage so small that 1 − p/100 rounds to 1: the last sorted position, nothing above it
    // (it read one past the values before)
    for (double tiny : {1.0, 1e-15, 1e-300}) {
        const auto none = camkit::keep_top_percentage(r, tiny);
        EXPECT_EQ(std::count(none.values.begin(), none.values.end(), 1), 0) << tiny;
    }
    EXPECT_THROW(camkit::keep_above(r, 1.2), camkit::error);
    EXPECT_THROW(camkit::keep_above(r, -0.2), camkit::error);
    EXPECT_THROW(camkit::keep_top_percentage(r, 0), camkit::error);
    EXPECT_THROW(camkit::keep_top_percentage(r, 101), camkit::error);
    EXPECT_THROW(camkit::keep_above(tensor<double>({2, 2}, 0.3)), camkit::error);  // constant: blank
    EXPECT_THROW(camkit::keep_top_percentage(tensor<double>({1, 2}, {0.1, std::nan("")})), camkit::error);
}

TEST(refine_keep, pixels_outside_become_black) {
    camkit::rgb_image img(1, 2);
    img.set(0, 0, {10, 20, 30});
    img.set(0, 1, {40, 50, 60});
    const auto out = camkit::keep_pixels(img, mask({1, 2}, {0, 1}));
    EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{0, 0, 0, 40, 50, 60}));
    EXPECT_THROW(camkit::keep_pixels(img, mask({2, 1}, {0, 1})), camkit::error);
}

// ---- the pipeline --------------------------------------------------------------------------

TEST(refine_pipeline, steps_are_wired_together) {
    const scene s;
    const auto r = camkit::refine(s.low, s.high);
    // each step equals its own function applied to the previous results
    EXPECT_EQ(r.blurred.values, camkit::box_filter(camkit::min_max_normalized(s.high), 5).values);
    EXPECT_EQ(r.edges.values, camkit::min_max_normalized(camkit::sobel_magnitude(r.blurred)).values);
    EXPECT_EQ(r.low_resized.values, camkit::resize_low(s.low, {32, 32}).values);
    const double level = camkit::percentile(r.low_resized, 85);
    for (std::size_t i = 0; i < r.roi.size(); ++i) EXPECT_EQ(r.roi[i], r.low_resized[i] > level ? 1 : 0);
    EXPECT_EQ(r.bounds.lower, camkit::percentile(r.edges, r.roi, 25));
    EXPECT_EQ(r.bounds.upper, camkit::percentile(r.edges, r.roi, 75));
    EXPECT_EQ(r.focal_points.shape, (shape_t{6, 2}));  // round(√32)
    EXPECT_EQ(coords(r.focal_points), coords(camkit::top_points(r.low_resized, 6)));
    EXPECT_EQ(r.segmented.values, camkit::grow_region(r.edges, r.focal_points, r.bounds.lower, r.bounds.upper).values);
    for (std::size_t i = 0; i < r.full_segment.size(); ++i)
        if (r.segmented[i] || (r.roi[i] && r.edges[i] >= r.bounds.upper)) {
            EXPECT_EQ(r.full_segment[i], 1);
        }
    EXPECT_EQ(r.merged.values, camkit::merge_maps(r.full_segment, r.low_resized).values);
    EXPECT_EQ(r.keep.values, camkit::keep_top_percentage(r.merged, 15).values);
    EXPECT_TRUE(r.result.pixels.empty());
    EXPECT_GT(std::count(r.roi.values.begin(), r.roi.values.end(), 1), 0);
}

TEST(refine_pipeline, options_reach_their_steps) {
    const scene s;
    camkit::refine_options o{.roi_percentile = 60,
                             .focal = camkit::focal_scope::local,
                             .areas = camkit::maxima_areas::large,
                             .merge = camkit::merge_mode::multiply,
                             .keep = camkit::keep_mode::threshold,
                             .keep_threshold = 0.3,
                             .blur_size = 3,
                             .hole_area = 4};
    const auto r = camkit::refine(s.low, s.high, o);
    EXPECT_EQ(r.blurred.values, camkit::box_filter(camkit::min_max_normalized(s.high), 3).values);
    EXPECT_EQ(coords(r.focal_points), coords(camkit::local_focal_points(s.low, {32, 32}, camkit::maxima_areas::large)));
    EXPECT_EQ(r.merged.values, camkit::merge_maps(r.full_segment, r.low_resized, camkit::merge_mode::multiply).values);
    EXPECT_EQ(r.keep.values, camkit::keep_above(r.merged, 0.3).values);
    o.focal = camkit::focal_scope::global;
    o.focal_points = 3;
    EXPECT_EQ(camkit::refine(s.low, s.high, o).focal_points.shape, (shape_t{3, 2}));
}

TEST(refine_pipeline, image_and_volume) {
    const scene s;
    camkit::rgb_image img(32, 32);
    std::fill(img.pixels.begin(), img.pixels.end(), std::uint8_t{200});
    const auto r = camkit::refine(s.low, s.high, &img);
    EXPECT_EQ(r.result.pixels, camkit::keep_pixels(img, r.keep).pixels);
    // a volume: every step runs in 3-D (global focal points; local maxima without thinning)
    tensor<double> low({3, 3, 3}, 0.0), high({6, 6, 6}, 0.0);
    for (std::size_t i = 0; i < low.size(); ++i) low[i] = double((i * 7) % 5);
    for (std::size_t i = 0; i < high.size(); ++i) high[i] = double((i * 13) % 11);
    camkit::refine_options o;
    o.hole_area = 8;  // the default 256 would fill most of this small volume's background
    const auto v = camkit::refine(low, high, o);
    EXPECT_EQ(v.merged.shape, (shape_t{6, 6, 6}));
    EXPECT_EQ(v.focal_points.shape, (shape_t{2, 3}));  // round(√6)
    o.focal = camkit::focal_scope::local;
    EXPECT_THROW(camkit::refine(low, high, o), camkit::error);  // thinning is 2-D only
    o.areas = camkit::maxima_areas::large;
    EXPECT_NO_THROW(camkit::refine(low, high, o));
}

TEST(refine_pipeline, float_maps_give_the_double_results) {
    const scene s;
    const auto to_float = [](const tensor<double>& t) {
        return tensor<float>(t.shape, std::vector<float>(t.values.begin(), t.values.end()));
    };
    const tensor<float> low = to_float(s.low), high = to_float(s.high);
    const auto to_double = [](const tensor<float>& t) {
        return tensor<double>(t.shape, std::vector<double>(t.values.begin(), t.values.end()));
    };
    const auto f = camkit::refine(low, high);
    const auto d = camkit::refine(to_double(low), to_double(high));
    EXPECT_EQ(f.roi.values, d.roi.values);
    EXPECT_EQ(f.focal_points.values, d.focal_points.values);
    EXPECT_EQ(f.segmented.values, d.segmented.values);
    EXPECT_EQ(f.full_segment.values, d.full_segment.values);
    EXPECT_EQ(f.keep.values, d.keep.values);
    EXPECT_NEAR(f.bounds.upper, d.bounds.upper, 1e-6);
    EXPECT_THAT(std::vector<double>(f.merged.values.begin(), f.merged.values.end()),
                Pointwise(DoubleNear(1e-6), d.merged.values));
}

TEST(refine_pipeline, bad_input_is_one_clear_error) {
    const scene s;
    auto with = [](auto change) {
        camkit::refine_options o;
        change(o);
        return o;
    };
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.roi_percentile = 0; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.roi_percentile = 100; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.alpha = 1.01; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.alpha = -1; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.keep_percentage = 0; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.keep_threshold = 2; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.blur_size = 0; })), camkit::error);
    EXPECT_THROW(camkit::refine(s.low, s.high, with([](auto& o) { o.focal_points = 1025; })), camkit::error);
    // shapes: different ranks, low larger than high, empty
    EXPECT_THROW(camkit::refine(tensor<double>({1, 4, 4}, 1.0), s.high), camkit::error);
    EXPECT_THROW(camkit::refine(tensor<double>({64, 4}, 1.0), s.high), camkit::error);
    EXPECT_THROW(camkit::refine(tensor<double>({0, 4}), s.high), camkit::error);
    // blank maps: a constant high-res map, a constant low-res map (empty roi)
    EXPECT_THROW(camkit::refine(s.low, tensor<double>({32, 32}, 0.5)), camkit::error);
    tensor<double> wide = s.high;
    wide[0] = 1e308;
    wide[1] = -1e308;
    EXPECT_THROW(camkit::refine(s.low, wide), camkit::error);  // max − min overflows
    try {
        camkit::refine(tensor<double>({4, 4}, 0.5), s.high);
        ADD_FAILURE() << "a blank low-res map must throw";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("roi is empty"), std::string::npos) << e.what();
    }
    tensor<double> nan_low = s.low;
    nan_low[3] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(camkit::refine(nan_low, s.high), camkit::error);
    camkit::rgb_image small(16, 16);
    EXPECT_THROW(camkit::refine(s.low, s.high, &small), camkit::error);
}

TEST(refine_panel, panels_in_order) {
    const scene s;
    camkit::rgb_image img(32, 32);
    std::fill(img.pixels.begin(), img.pixels.end(), std::uint8_t{90});
    const auto r = camkit::refine(s.low, s.high, &img);
    // 11 panels with the image: 6 + 5 in two rows, 4-pixel gaps, an 11-pixel caption under each
    const auto p = camkit::refine_panel(r, s.high, &img);
    const std::size_t cell = 32 + 11 + 4;
    EXPECT_EQ(p.width, 6 * 32 + 5 * 4);
    EXPECT_EQ(p.height, 2 * (32 + 11) + 4);
    EXPECT_EQ(p.at(3, 3), (camkit::rgb{90, 90, 90}));          // panel 1: the image
    EXPECT_EQ(p.at(3, 32 + 1), (camkit::rgb{255, 255, 255}));  // a gap
    const auto roi_img = camkit::detail::mask_image(r.roi);    // panel 6: the roi, white on black
    for (std::size_t y = 0; y < 32; ++y)
        for (std::size_t x = 0; x < 32; ++x) EXPECT_EQ(p.at(y, 5 * 36 + x), roi_img.at(y, x));
    for (std::size_t y = 0; y < 32; ++y)  // panel 11 (row 2, column 5): the result
        for (std::size_t x = 0; x < 32; ++x) EXPECT_EQ(p.at(cell + y, 4 * 36 + x), r.result.at(y, x));
    // the caption "image": black pixels in the strip under panel 1, white in the margin above them
    std::size_t black = 0;
    for (std::size_t y = 32; y < 43; ++y)
        for (std::size_t x = 0; x < 32; ++x) black += p.at(y, x) == camkit::rgb{0, 0, 0};
    EXPECT_GT(black, 10u);
    EXPECT_EQ(p.at(32, 16), (camkit::rgb{255, 255, 255}));
    // the glyphs: 'i' has its dot in row 0, '-' is one row of four pixels, 'g' a descender,
    // unknown characters are blank
    EXPECT_EQ(camkit::detail::caption_glyph('i')[0], 0x04);
    EXPECT_EQ(camkit::detail::caption_glyph('-')[3], 0x1e);
    EXPECT_EQ(camkit::detail::caption_glyph('g')[8], 0x0e);
    EXPECT_EQ(camkit::detail::caption_glyph('a')[8], 0x00);
    EXPECT_EQ(camkit::detail::caption_glyph('?'), camkit::detail::glyph{});
    // without an image: 10 panels, the last the keep mask
    const auto q = camkit::refine_panel(camkit::refine(s.low, s.high), s.high, nullptr, camkit::colormap::jet, 5, 2);
    EXPECT_EQ(q.width, 5 * 32 + 4 * 2);
    EXPECT_EQ(q.height, 2 * (32 + 11) + 2);
    EXPECT_EQ(q.at(43 + 2 + 5, 4 * 34 + 5), r.keep(5, 5) ? (camkit::rgb{255, 255, 255}) : (camkit::rgb{0, 0, 0}));
    // scale 2: every panel pixel becomes a 2×2 block
    const auto big = camkit::refine_panel(r, s.high, &img, camkit::colormap::jet, 6, 4, 2);
    EXPECT_EQ(big.width, 6 * 64 + 5 * 4);
    for (std::size_t y = 0; y < 64; ++y)
        for (std::size_t x = 0; x < 64; ++x) EXPECT_EQ(big.at(y, 5 * 68 + x), roi_img.at(y / 2, x / 2));
    EXPECT_THROW(camkit::refine_panel(r, tensor<double>({8, 8}, 1.0)), camkit::error);
    EXPECT_THROW(camkit::refine_panel(r, s.high, &img, camkit::colormap::jet, 6, 4, 0), camkit::error);
}
