// Component regions and pixel sets (include/camkit/regions/components.hpp, pixel_sets.hpp): the
// largest, smallest, point-containing and large-enough components of a class region by hand, per
// sample of a batch, their use as mask_sum targets, Seg-HiRes-Grad CAM's pixel sets, and errors.
#include <camkit/regions/components.hpp>
#include <camkit/regions/pixel_sets.hpp>
#include <camkit/targets.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>
#include "common/error_message.hpp"

using camkit::shape_t;
using camkit::tensor;
using camkit_test::error_message;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

namespace {

// The class-1 region of sample 0: a pair in row 0, an L touching it only by a corner, and (3,0).
const std::vector<float> region0{1, 1, 0, 0,  //
                                 0, 0, 1, 0,  //
                                 0, 0, 1, 1,  //
                                 1, 0, 0, 0};

// Y [2, 2, 4, 4]: channel 0 is 0, channel 1 is +2 inside the class-1 region and −1 outside. Sample
// 0's region is region0; sample 1 predicts class 0 everywhere (an empty class-1 region).
tensor<double> two_class_output() {
    tensor<double> Y({2, 2, 4, 4}, 0.0);
    for (std::size_t p = 0; p < 16; ++p) {
        Y[16 + p] = region0[p] != 0 ? 2.0 : -1.0;
        Y[3 * 16 + p] = -1.0;
    }
    return Y;
}

// The 16 values of sample n of an [N, 4, 4] mask.
std::vector<float> sample(const tensor<float>& m, std::size_t n) {
    return {m.values.begin() + static_cast<std::ptrdiff_t>(16 * n), m.values.begin() + static_cast<std::ptrdiff_t>(16 * n + 16)};
}

const std::vector<float> zeros(16, 0.0f);

}  // namespace

TEST(ComponentMasks, LargestAndSmallestDependOnConnectivity) {
    const auto Y = two_class_output();
    const auto l8 = camkit::largest_component(Y, 1);  // default: 8-connectivity joins pair and L
    EXPECT_EQ(l8.shape, (shape_t{2, 4, 4}));
    EXPECT_THAT(sample(l8, 0), ElementsAreArray<float>({1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0}));
    EXPECT_THAT(sample(l8, 1), ElementsAreArray(zeros));  // empty region: an all-zero mask
    const auto l4 = camkit::largest_component(Y, 1, 4);   // the L (3) beats the pair (2)
    EXPECT_THAT(sample(l4, 0), ElementsAreArray<float>({0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0}));
    const auto s4 = camkit::smallest_component(Y, 1, 4);
    EXPECT_THAT(sample(s4, 0), ElementsAreArray<float>({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
    EXPECT_THAT(sample(s4, 1), ElementsAreArray(zeros));
    EXPECT_THAT(sample(camkit::smallest_component(Y, 1, 8), 0), ElementsAreArray(sample(s4, 0)));
}

TEST(ComponentMasks, TiesGoToTheFirstComponentInRasterOrder) {
    const tensor<int> two_pairs({1, 5}, {1, 1, 0, 1, 1});
    EXPECT_THAT(camkit::keep_largest_component(two_pairs).values, ElementsAre(1, 1, 0, 0, 0));
    EXPECT_THAT(camkit::keep_smallest_component(two_pairs).values, ElementsAre(1, 1, 0, 0, 0));
    EXPECT_THAT(camkit::keep_largest_component(tensor<int>({3}, 0)).values, ElementsAre(0, 0, 0));
}

TEST(ComponentMasks, ComponentAtAPoint) {
    const auto Y = two_class_output();
    const auto at = camkit::component_at(Y, 1, {2, 3}, 4);
    EXPECT_THAT(sample(at, 0), ElementsAreArray(sample(camkit::largest_component(Y, 1, 4), 0)));
    EXPECT_THAT(sample(at, 1), ElementsAreArray(zeros));  // the point is not in sample 1's region
    EXPECT_THAT(sample(camkit::component_at(Y, 1, {0, 0}, 4), 0),
                ElementsAreArray<float>({1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_THAT(sample(camkit::component_at(Y, 1, {0, 0}, 8), 0),
                ElementsAreArray(sample(camkit::largest_component(Y, 1, 8), 0)));
    EXPECT_THAT(sample(camkit::component_at(Y, 1, {3, 3}), 0), ElementsAreArray(zeros));  // background
    // Class 0's region is the complement: one 8-connected piece holding (3, 3).
    const auto bg = camkit::component_at(Y, 0, {3, 3});
    for (std::size_t p = 0; p < 16; ++p) EXPECT_EQ(bg[p], region0[p] != 0 ? 0.0f : 1.0f) << p;
}

TEST(ComponentMasks, ComponentsOfAtLeastAMinimumSize) {
    const auto Y = two_class_output();
    EXPECT_THAT(sample(camkit::components_at_least(Y, 1, 2, 4), 0),
                ElementsAreArray<float>({1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0}));
    EXPECT_THAT(sample(camkit::components_at_least(Y, 1, 3, 4), 0),
                ElementsAreArray(sample(camkit::largest_component(Y, 1, 4), 0)));
    EXPECT_THAT(sample(camkit::components_at_least(Y, 1, 6, 8), 0), ElementsAreArray(zeros));
    EXPECT_THAT(sample(camkit::components_at_least(Y, 1, 0), 0), ElementsAreArray(region0));
}

// A one-channel (sigmoid) 3-D output: class 1 is Y > 0; a face pair and a voxel diagonal to it.
TEST(ComponentMasks, SigmoidVolume) {
    tensor<float> Y({1, 1, 2, 2, 2}, -1.0f);
    Y[0] = 3.0f;          // (0, 0, 0)
    Y[7] = 1.0f;          // (1, 1, 1)
    Y[1] = 2.0f;          // (0, 0, 1): joins (0, 0, 0) by a face
    const auto six = camkit::largest_component(Y, 1, 6);
    EXPECT_EQ(six.shape, (shape_t{1, 2, 2, 2}));
    EXPECT_THAT(six.values, ElementsAre(1, 1, 0, 0, 0, 0, 0, 0));
    EXPECT_THAT(camkit::largest_component(Y, 1, 26).values, ElementsAre(1, 1, 0, 0, 0, 0, 0, 1));
    EXPECT_THAT(camkit::smallest_component(Y, 1, 6).values, ElementsAre(0, 0, 0, 0, 0, 0, 0, 1));
    // (0, 0, 1) and (1, 1, 1) share an edge: 18 joins all three voxels.
    EXPECT_THAT(camkit::smallest_component(Y, 1, 18).values, ElementsAre(1, 1, 0, 0, 0, 0, 0, 1));
    EXPECT_THAT(camkit::component_at(Y, 1, {1, 1, 1}, 6).values, ElementsAre(0, 0, 0, 0, 0, 0, 0, 1));
}

// A component mask is a mask_sum target: the score sums class 1's output over the component.
TEST(ComponentMasks, AsMaskSumTarget) {
    const auto Y = two_class_output();
    const std::vector<camkit::target> targets{camkit::mask_sum(1, camkit::largest_component(Y, 1, 4))};
    const auto r = camkit::seed_and_score(Y, {targets[0], targets[0]});
    EXPECT_DOUBLE_EQ(r.scores[0], 3 * 2.0);  // the L: three positions of value 2
    EXPECT_DOUBLE_EQ(r.scores[1], 0.0);      // empty region: score 0
    EXPECT_EQ(r.seed(0, 1, 2, 3), 1.0);
    EXPECT_EQ(r.seed(0, 1, 0, 0), 0.0);
}

TEST(ComponentMasks, Errors) {
    const auto Y = two_class_output();
    EXPECT_EQ(error_message([&] { camkit::largest_component(Y, 2); }),
              "camkit: largest_component: class = 2 is out of range for C = 2 classes (0 to 1)");
    EXPECT_EQ(error_message([&] { camkit::smallest_component(Y, 1, 6); }),
              "camkit: smallest_component: connectivity 6 is not one of 4 or 8 (or 0 for full) for a 2-D mask");
    EXPECT_EQ(error_message([&] { camkit::component_at(Y, 1, {4, 0}); }),
              "camkit: component_at: position [4, 0] lies outside shape [4, 4]");
    EXPECT_EQ(error_message([&] { camkit::component_at(Y, 1, {1, 1, 1}); }),
              "camkit: component_at: position [1, 1, 1] must have 2 coordinates for shape [4, 4]");
    EXPECT_EQ(error_message([&] { camkit::components_at_least(tensor<double>({2, 3}, 0.0), 1, 2); }),
              "camkit: components_at_least: output must be [N, C, *P] with 1 to 3 spatial axes (a classifier [N, C] "
              "has no components), got shape [2, 3]");
    tensor<double> bad = Y;
    bad[5] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THAT(error_message([&] { camkit::largest_component(bad, 1); }), ::testing::HasSubstr("non-finite"));
}

TEST(PixelSets, NamedBuilders) {
    const auto Y = two_class_output();
    const auto image = camkit::pixel_set_mask(Y, "image", 1);
    EXPECT_EQ(image.shape, (shape_t{2, 4, 4}));
    EXPECT_THAT(image.values, ::testing::Each(1.0f));
    EXPECT_THAT(camkit::pixel_set_mask(Y, "zero", 1).values, ::testing::Each(0.0f));
    const auto cls = camkit::pixel_set_mask(Y, "class", 1);
    EXPECT_THAT(sample(cls, 0), ElementsAreArray(region0));
    EXPECT_THAT(sample(cls, 1), ElementsAreArray(zeros));
    EXPECT_THAT(camkit::pixel_set_mask(Y, camkit::pixel_set::class_region, 1).values, ElementsAreArray(cls.values));
    const auto point = camkit::pixel_set_mask(Y, "point", 0, {1, 2});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t p = 0; p < 16; ++p) EXPECT_EQ(point[16 * n + p], p == 6 ? 1.0f : 0.0f);
}

// The "class" set of a one-channel output is sigmoid > 0.5, i.e. Y > 0 (class 1) and Y ≤ 0 (class 0).
TEST(PixelSets, ClassOfASigmoidOutput) {
    const tensor<float> Y({1, 1, 4}, {-1.0f, 0.0f, 0.5f, 3.0f});
    EXPECT_THAT(camkit::pixel_set_mask(Y, "class", 1).values, ElementsAre(0, 0, 1, 1));
    EXPECT_THAT(camkit::pixel_set_mask(Y, "class", 0).values, ElementsAre(1, 1, 0, 0));
}

// Seg-HiRes-Grad CAM's sanity check: the zero set scores 0 with an all-zero seed; image = whole_image.
TEST(PixelSets, ZeroScoresNothingAndImageScoresEverything) {
    const auto Y = two_class_output();
    const auto zero = camkit::seed_and_score(Y, {camkit::mask_sum(1, camkit::pixel_set_mask(Y, "zero", 1)),
                                                 camkit::mask_sum(1, camkit::pixel_set_mask(Y, "zero", 1))});
    EXPECT_EQ(zero.scores[0], 0.0);
    EXPECT_THAT(zero.seed.values, ::testing::Each(0.0));
    const auto image = camkit::seed_and_score(Y, {camkit::mask_sum(1, camkit::pixel_set_mask(Y, "image", 1)),
                                                  camkit::whole_image(1)});
    EXPECT_DOUBLE_EQ(image.scores[0], 6 * 2.0 - 10 * 1.0);  // sample 0: six 2s and ten −1s
    EXPECT_DOUBLE_EQ(image.scores[1], -16.0);
}

TEST(PixelSets, Errors) {
    const auto Y = two_class_output();
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(Y, "pixel", 1); }),
              "camkit: pixel_set: unknown pixel set 'pixel' (image, class, point or zero)");
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(Y, "point", 1); }),
              "camkit: pixel_set_mask: position [] must have 2 coordinates for shape [4, 4]");
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(Y, "point", 1, {0, 4}); }),
              "camkit: pixel_set_mask: position [0, 4] lies outside shape [4, 4]");
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(Y, "image", 1, {0, 0}); }),
              "camkit: pixel_set_mask: a position [0, 0] is given, but only the point set uses one");
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(Y, "class", 3); }),
              "camkit: pixel_set_mask: class = 3 is out of range for C = 2 classes (0 to 1)");
    EXPECT_EQ(error_message([&] { camkit::pixel_set_mask(tensor<float>({1, 2}, 0.0f), "image", 0); }),
              "camkit: pixel_set_mask: output must be [N, C, *P] with 1 to 3 spatial axes, got shape [1, 2]");
}
