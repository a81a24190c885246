// CAM refinement against the libraries the original calls: scipy.ndimage.convolve, numpy.percentile,
// skimage.filters.sobel, skimage.morphology.local_maxima / remove_small_holes, SimpleITK's
// ConnectedThreshold and PIL's resizes, and the whole pipeline written from those calls.
// The numbers are tests/data/refine/*.npy, written by tools/reference/make_refine_reference.py
// (see tests/data/refine/README.md).
#include <camkit/refine/refine.hpp>
#include <gtest/gtest.h>

// The numbers are .npy files: these tests need camkit::io (linked where CAMKIT_WITH_IO is on).
#if __has_include(<camkit/io/npy.hpp>)
#include <camkit/io/npy.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

using camkit::mask_t;
using camkit::points_t;
using camkit::shape_t;
using camkit::tensor;

namespace {

tensor<double> load(const std::string& name) {
    return camkit::io::read_npy<double>(std::string(CAMKIT_TEST_DATA_DIR) + "/refine/" + name + ".npy");
}

mask_t load_mask(const std::string& name) {
    const auto t = load(name);
    mask_t m(t.shape, std::uint8_t{0});
    for (std::size_t i = 0; i < t.size(); ++i) m[i] = t[i] != 0;
    return m;
}

points_t load_points(const std::string& name) {
    const auto t = load(name);
    points_t p(t.shape);
    for (std::size_t i = 0; i < t.size(); ++i) p[i] = static_cast<std::int64_t>(t[i]);
    return p;
}

void expect_near(const tensor<double>& got, const tensor<double>& want, double tol, const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    EXPECT_LE(worst, tol) << what;
}

void expect_equal(const mask_t& got, const mask_t& want, const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
    EXPECT_EQ(differ, 0u) << what << ": pixels that differ";
}

std::set<std::vector<std::int64_t>> point_set(const points_t& p) {
    std::set<std::vector<std::int64_t>> s;
    for (std::size_t k = 0; k < p.shape[0]; ++k)
        s.insert(std::vector<std::int64_t>(p.values.begin() + static_cast<std::ptrdiff_t>(k * p.shape[1]),
                                           p.values.begin() + static_cast<std::ptrdiff_t>((k + 1) * p.shape[1])));
    return s;
}

}  // namespace

TEST(refine_reference, box_filter_as_scipy_convolve) {
    expect_near(camkit::box_filter(load("box_2d_in"), 5), load("box_2d_size5"), 1e-15, "2-D, width 5");
    expect_near(camkit::box_filter(load("box_2d_in"), 4), load("box_2d_size4"), 1e-15, "2-D, width 4");
    expect_near(camkit::box_filter(load("box_3d_in"), 3), load("box_3d_size3"), 1e-15, "3-D, width 3");
}

TEST(refine_reference, sobel_as_skimage) {
    expect_near(camkit::sobel_magnitude(load("box_2d_in")), load("sobel_2d"), 1e-15, "2-D");
    expect_near(camkit::sobel_magnitude(load("box_3d_in")), load("sobel_3d"), 1e-15, "3-D");
}

TEST(refine_reference, percentile_as_numpy_and_the_original) {
    const auto v = load("percentile_in");
    const auto table = load("percentile_out");  // rows: p, numpy.percentile, min + iqr(rng=(0, p))
    ASSERT_EQ(table.shape[1], 3u);
    for (std::size_t r = 0; r < table.shape[0]; ++r) {
        const double p = table(r, 0), got = camkit::percentile(v, p);
        EXPECT_EQ(got, table(r, 1)) << "p = " << p;
        EXPECT_NEAR(got, table(r, 2), 1e-15) << "p = " << p;
    }
}

TEST(refine_reference, local_maxima_as_skimage) {
    expect_equal(camkit::local_maxima(load("maxima_2d_in")), load_mask("maxima_2d"), "2-D");
    expect_equal(camkit::local_maxima(load("maxima_3d_in")), load_mask("maxima_3d"), "3-D");
}

TEST(refine_reference, holes_as_skimage_remove_small_holes) {
    expect_equal(camkit::fill_small_holes(load_mask("holes_2d_in"), 5), load_mask("holes_2d_a5"), "2-D");
    expect_equal(camkit::fill_small_holes(load_mask("holes_3d_in"), 4), load_mask("holes_3d_a4"), "3-D");
}

TEST(refine_reference, region_growing_as_simpleitk_connected_threshold) {
    for (const std::string name : {"grow_2d", "grow_3d"}) {
        const auto bounds = load(name + "_bounds");
        const auto got = camkit::grow_region(load(name + "_in"), load_points(name + "_seeds"), bounds[0], bounds[1]);
        expect_equal(got, load_mask(name), name);
        EXPECT_GT(std::count(got.values.begin(), got.values.end(), 1), 3) << name;  // it grew
    }
}

TEST(refine_reference, resizes_as_pil) {
    for (const std::string name : {"resize_a", "resize_b"}) {
        const auto in = load(name + "_in");
        const auto bilinear = load(name + "_bilinear");
        // PIL resizes mode-F images in float32
        expect_near(camkit::resize_low(in, bilinear.shape), bilinear, 1e-6, name + " bilinear");
        mask_t half(in.shape, std::uint8_t{0});
        for (std::size_t i = 0; i < in.size(); ++i) half[i] = in[i] > 0.5;
        const auto nearest = load_mask(name + "_nearest");
        expect_equal(camkit::resize_nearest(half, nearest.shape), nearest, name + " nearest");
    }
}

namespace {

void expect_pipeline(const std::string& prefix, const camkit::refine_options& options) {
    const auto r = camkit::refine(load("pipeline_low"), load("pipeline_high"), options);
    expect_near(r.blurred, load(prefix + "_blurred"), 1e-15, prefix + " blurred");
    expect_near(r.edges, load(prefix + "_edges"), 1e-14, prefix + " edges");
    expect_near(r.low_resized, load(prefix + "_low_resized"), 1e-6, prefix + " low_resized");
    expect_equal(r.roi, load_mask(prefix + "_roi"), prefix + " roi");
    const auto bounds = load(prefix + "_bounds");
    EXPECT_NEAR(r.bounds.lower, bounds[0], 1e-14) << prefix;
    EXPECT_NEAR(r.bounds.upper, bounds[1], 1e-14) << prefix;
    EXPECT_EQ(point_set(r.focal_points), point_set(load_points(prefix + "_focal_points"))) << prefix;
    expect_equal(r.segmented, load_mask(prefix + "_segmented"), prefix + " segmented");
    expect_equal(r.full_segment, load_mask(prefix + "_full_segment"), prefix + " full_segment");
    expect_near(r.merged, load(prefix + "_merged"), 1e-6, prefix + " merged");
    // the original's 8-bit merge: within two 8-bit steps
    expect_near(r.merged, load(prefix + "_merged_8bit"), 2.0 / 255, prefix + " merged vs the 8-bit merge");
    expect_equal(r.keep, load_mask(prefix + "_keep"), prefix + " keep");
}

}  // namespace

TEST(refine_reference, pipeline_with_the_defaults) { expect_pipeline("default", {}); }

TEST(refine_reference, pipeline_local_large_multiply_threshold) {
    // the reference script's second option set
    expect_pipeline("local", {.roi_percentile = 70,
                              .focal = camkit::focal_scope::local,
                              .areas = camkit::maxima_areas::large,
                              .merge = camkit::merge_mode::multiply,
                              .keep = camkit::keep_mode::threshold,
                              .keep_threshold = 0.3});
}

#endif  // camkit::io
