// Mask builders: predicted_region and threshold read from a model output (softmax and sigmoid
// outputs, classifier and 1-D/2-D/3-D segmentation), pixel and box from a shape, their use in
// targets, and every error path.
#include <camkit/segmentation.hpp>
#include <camkit/targets.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"

using camkit::shape_t;
using camkit::target;
using camkit::tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

// Y [2, 3, 2, 2]. Sample 0, per position (c0, c1, c2): (1, 5, 2) → 1; (3, 3, 0) → 0 (tie: first
// wins); (0, −1, 4) → 2; (2, 1, 1) → 0. Sample 1 is sample 0 with channels 0 and 2 swapped:
// (2, 5, 1) → 1; (0, 3, 3) → 1 (tie); (4, −1, 0) → 0; (1, 1, 2) → 2.
tensor<double> three_class_output() {
    return {{2, 3, 2, 2}, {1, 3, 0, 2, 5, 3, -1, 1, 2, 0, 4, 1,  //
                           2, 0, 4, 1, 5, 3, -1, 1, 1, 3, 0, 2}};
}

}  // namespace

TEST(PredictedRegion, ArgmaxOverChannelsPerSample) {
    const auto Y = three_class_output();
    const auto r0 = camkit::predicted_region(Y, 0);
    EXPECT_EQ(r0.shape, (shape_t{2, 2, 2}));
    EXPECT_THAT(r0.values, ElementsAre(0, 1, 0, 1, /**/ 0, 0, 1, 0));
    EXPECT_THAT(camkit::predicted_region(Y, 1).values, ElementsAre(1, 0, 0, 0, /**/ 1, 1, 0, 0));
    EXPECT_THAT(camkit::predicted_region(Y, 2).values, ElementsAre(0, 0, 1, 0, /**/ 0, 0, 0, 1));
}

// The regions of all classes partition the output, in 1-D, 2-D and 3-D.
TEST(PredictedRegion, ClassesPartitionEveryRank) {
    for (const shape_t& shape : {shape_t{2, 4, 7}, shape_t{1, 4, 3, 5}, shape_t{2, 4, 2, 3, 4}}) {
        tensor<double> Y(shape);
        for (std::size_t i = 0; i < Y.size(); ++i) Y[i] = std::sin(0.7 * static_cast<double>(i * i % 97));
        std::vector<float> total(Y.size() / 4, 0.0f);
        for (std::size_t c = 0; c < 4; ++c) {
            const auto r = camkit::predicted_region(Y, c);
            ASSERT_EQ(r.size(), total.size());
            for (std::size_t i = 0; i < total.size(); ++i) total[i] += r[i];
        }
        for (float v : total) EXPECT_EQ(v, 1.0f);
    }
}

// The labels come from packs of positions (and a tail) in every instruction set: at every position
// of a larger output, float and double, the region of class c is where c is the first argmax of the C
// values, found here position by position. Values on a coarse grid make many ties, also where the
// maximum comes late; −0 and +0 tie too.
TEST(PredictedRegion, FirstArgmaxAtEveryPositionOfALargerOutput) {
    const shape_t shape{2, 7, 13, 11};  // 143 positions: no whole number of packs
    const std::size_t C = shape[1], P = shape[2] * shape[3];
    tensor<double> Yd(shape);
    for (std::size_t i = 0; i < Yd.size(); ++i) Yd[i] = std::round(3 * std::sin(1.3 * static_cast<double>(i * i % 101))) / 2;
    Yd[0] = -0.0;
    Yd[P] = 0.0;
    tensor<float> Yf(shape);
    for (std::size_t i = 0; i < Yd.size(); ++i) Yf[i] = static_cast<float>(Yd[i]);
    std::vector<std::size_t> first(2 * P);
    std::size_t late = 0;  // positions whose maximum is not on channel 0
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t p = 0; p < P; ++p) {
            std::size_t best = 0;
            for (std::size_t c = 1; c < C; ++c)
                if (Yd[(n * C + c) * P + p] > Yd[(n * C + best) * P + p]) best = c;
            first[n * P + p] = best;
            late += best > 0;
        }
    ASSERT_GT(late, P);
    for (camkit::isa isa : camkit_test::supported_isas()) {
        const camkit_test::isa_scope scope(isa);
        for (std::size_t c = 0; c < C; ++c) {
            const auto rd = camkit::predicted_region(Yd, c);
            const auto rf = camkit::predicted_region(Yf, c);
            ASSERT_EQ(rd.shape, (shape_t{2, 13, 11}));
            for (std::size_t i = 0; i < 2 * P; ++i) {
                EXPECT_EQ(rd[i], first[i] == c ? 1.0f : 0.0f) << camkit::isa_name(isa) << ", class " << c << ", position " << i;
                EXPECT_EQ(rf[i], rd[i]) << camkit::isa_name(isa) << ", class " << c << ", position " << i;
            }
        }
    }
}

// One sigmoid channel: class 1 where Y > 0 (sigmoid > 0.5), class 0 where Y ≤ 0.
TEST(PredictedRegion, SigmoidOneChannel) {
    const tensor<double> Y({1, 1, 2, 2}, {1, -2, 0, 0.5});
    EXPECT_THAT(camkit::predicted_region(Y, 1).values, ElementsAre(1, 0, 0, 1));
    EXPECT_THAT(camkit::predicted_region(Y, 0).values, ElementsAre(0, 1, 1, 0));
}

// On a classifier [N, C] the region is [N]: whether the sample is predicted as c.
TEST(PredictedRegion, ClassifierGivesOnePerSample) {
    const tensor<float> Y({3, 2}, {0.1f, 0.9f, 2.0f, -1.0f, 0.0f, 0.0f});
    const auto r = camkit::predicted_region(Y, 1);
    EXPECT_EQ(r.shape, shape_t{3});
    EXPECT_THAT(r.values, ElementsAre(1, 0, 0));
}

// Seg-Grad-CAM's usual target: class c summed over its own predicted region, per sample.
TEST(PredictedRegion, AsABatchedMaskSumTarget) {
    const auto Y = three_class_output();
    const auto region = camkit::predicted_region(Y, 2);
    const auto r = camkit::seed_and_score(Y, std::vector<target>(2, camkit::mask_sum(2, region)));
    EXPECT_THAT(r.scores.values, ElementsAre(4.0, 2.0));  // sample 0: c2 at position 2; sample 1: at position 3
    EXPECT_THAT(r.seed.values, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, /**/ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
}

// Softmax over channels of Y [1, 2, 3]: class 1 probabilities are 0.5, 1 / (1 + e²) ≈ 0.119, 0.75.
TEST(Threshold, SoftmaxHandComputed) {
    const tensor<double> Y({1, 2, 3}, {0, 2, 0, 0, 0, std::log(3.0)});
    EXPECT_THAT(camkit::threshold(Y, 1, 0.5).values, ElementsAre(0, 0, 1));  // 0.5 is not > 0.5
    EXPECT_THAT(camkit::threshold(Y, 1, 0.1).values, ElementsAre(1, 1, 1));
    EXPECT_THAT(camkit::threshold(Y, 1, 0.12).values, ElementsAre(1, 0, 1));
    EXPECT_THAT(camkit::threshold(Y, 0, 0.3).values, ElementsAre(1, 1, 0));  // 0.5, 0.881, 0.25
    EXPECT_THAT(camkit::threshold(Y, 0, 0.2).values, ElementsAre(1, 1, 1));
    EXPECT_THAT(camkit::threshold(Y, 0, 1.0).values, ElementsAre(0, 0, 0));
}

// Softmax is shift-invariant and must not overflow on large logits.
TEST(Threshold, SoftmaxLargeLogits) {
    const tensor<float> Y({1, 3, 2}, {1000, -1000, 1001, -999, 999, -1001});
    // Per position: softmax of (1000, 1001, 999) = (0.245, 0.665, 0.090), the same for the shifted one.
    EXPECT_THAT(camkit::threshold(Y, 1, 0.6).values, ElementsAre(1, 1));
    EXPECT_THAT(camkit::threshold(Y, 0, 0.2).values, ElementsAre(1, 1));
    EXPECT_THAT(camkit::threshold(Y, 2, 0.1).values, ElementsAre(0, 0));
}

// One sigmoid channel: σ(0, 2, −2, 50, −800) = (0.5, 0.881, 0.119, 1, 0).
TEST(Threshold, SigmoidOneChannel) {
    const tensor<double> Y({1, 1, 5}, {0, 2, -2, 50, -800});
    EXPECT_THAT(camkit::threshold(Y, 1, 0.5).values, ElementsAre(0, 1, 0, 1, 0));
    EXPECT_THAT(camkit::threshold(Y, 0, 0.5).values, ElementsAre(0, 0, 1, 0, 1));
    EXPECT_THAT(camkit::threshold(Y, 1, 0.1).values, ElementsAre(1, 1, 1, 1, 0));
    EXPECT_THAT(camkit::threshold(Y, 1, 0.0).values, ElementsAre(1, 1, 1, 1, 0));  // σ(−800) underflows to 0
}

// A threshold of 0.5 on two classes equals the predicted region (no ties here).
TEST(Threshold, HalfOnTwoClassesEqualsPredictedRegion) {
    tensor<double> Y({2, 2, 3, 4, 2});
    for (std::size_t i = 0; i < Y.size(); ++i) Y[i] = std::cos(1.3 * static_cast<double>(i) + 0.1);
    for (std::size_t c = 0; c < 2; ++c) EXPECT_EQ(camkit::threshold(Y, c, 0.5).values, camkit::predicted_region(Y, c).values);
}

TEST(Pixel, OneHotInEveryRank) {
    EXPECT_THAT(camkit::pixel({4}, {2}).values, ElementsAre(0, 0, 1, 0));
    const auto p2 = camkit::pixel({2, 3}, {1, 0});
    EXPECT_EQ(p2.shape, (shape_t{2, 3}));
    EXPECT_THAT(p2.values, ElementsAre(0, 0, 0, 1, 0, 0));
    const auto p3 = camkit::pixel({2, 3, 4}, {1, 2, 3});
    float total = 0;
    for (float v : p3.values) total += v;
    EXPECT_EQ(total, 1.0f);
    EXPECT_EQ(p3(1, 2, 3), 1.0f);
}

// The one-pixel target scores the output at that pixel: Y[c, p].
TEST(Pixel, AsATargetScoresThatPixel) {
    const tensor<double> Y({1, 2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    const auto r = camkit::seed_and_score(Y, {camkit::mask_sum(1, camkit::pixel({2, 3}, {1, 1}))});
    EXPECT_THAT(r.scores.values, ElementsAre(11.0));
    const auto m = camkit::seed_and_score(Y, {camkit::mask_mean(0, camkit::pixel({2, 3}, {0, 2}))});
    EXPECT_THAT(m.scores.values, ElementsAre(3.0));
}

TEST(Box, InclusiveLoExclusiveHi) {
    const auto b = camkit::box({3, 4}, {1, 1}, {3, 3});
    EXPECT_THAT(b.values, ElementsAre(0, 0, 0, 0, /**/ 0, 1, 1, 0, /**/ 0, 1, 1, 0));
    EXPECT_THAT(camkit::box({5}, {1}, {5}).values, ElementsAre(0, 1, 1, 1, 1));
    const auto b3 = camkit::box({3, 4, 5}, {0, 1, 2}, {2, 4, 3});
    float total = 0;
    for (float v : b3.values) total += v;
    EXPECT_EQ(total, 2.0f * 3.0f * 1.0f);
    EXPECT_EQ(b3(1, 3, 2), 1.0f);
    EXPECT_EQ(b3(2, 3, 2), 0.0f);
    EXPECT_EQ(b3(1, 3, 3), 0.0f);
    // The whole shape, and an empty box.
    for (float v : camkit::box({2, 2}, {0, 0}, {2, 2}).values) EXPECT_EQ(v, 1.0f);
    for (float v : camkit::box({2, 2}, {1, 0}, {1, 2}).values) EXPECT_EQ(v, 0.0f);
}

// A box target averages the class inside the box: (6 + 7 + 10 + 11) / 4 = 8.5.
TEST(Box, AsAMaskMeanTarget) {
    const tensor<double> Y({1, 1, 3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    const auto r = camkit::seed_and_score(Y, {camkit::mask_mean(1, camkit::box({3, 4}, {1, 1}, {3, 3}))});
    EXPECT_THAT(r.scores.values, ElementsAre(8.5));
}

// ---- all_class_targets (segmentation.hpp) ----

TEST(AllClassTargets, WholeImageOnePerClass) {
    const auto t = camkit::all_class_targets(3);
    ASSERT_EQ(t.size(), 3u);
    for (std::size_t c = 0; c < 3; ++c) {
        EXPECT_EQ(t[c].class_index, c);
        EXPECT_FALSE(t[c].mask);
        EXPECT_EQ(t[c].mode, camkit::reduction::sum);
    }
    EXPECT_EQ(camkit::all_class_targets(1).size(), 2u);  // sigmoid: classes 0 and 1
    EXPECT_EQ(camkit::all_class_targets(4, camkit::reduction::mean)[3].mode, camkit::reduction::mean);
    const auto boxed = camkit::all_class_targets(2, camkit::box({2, 2}, {0, 0}, {1, 2}));
    ASSERT_EQ(boxed.size(), 2u);
    EXPECT_THAT(boxed[1].mask->values, ElementsAre(1, 1, 0, 0));
    EXPECT_THROW(camkit::all_class_targets(0), camkit::error);
}

// Every class of sample 1 over its predicted region in one call: the seeds of all classes add up
// to the one-hot prediction, and the scores are the per-region sums.
TEST(AllClassTargets, PredictedRegionsOfOneSample) {
    const auto Y = three_class_output();
    const auto targets = camkit::all_class_targets(Y, camkit::mask_kind::predicted_region, camkit::reduction::sum, 1);
    ASSERT_EQ(targets.size(), 3u);
    EXPECT_THAT(targets[0].mask->values, ElementsAre(0, 0, 1, 0));
    EXPECT_THAT(targets[1].mask->values, ElementsAre(1, 1, 0, 0));
    EXPECT_THAT(targets[2].mask->values, ElementsAre(0, 0, 0, 1));
    const auto r = camkit::seed_and_score_many(Y, targets, 1);
    // Sample 1: c0 = (2, 0, 4, 1), c1 = (5, 3, −1, 1), c2 = (1, 3, 0, 2).
    EXPECT_THAT(r.scores.values, ElementsAre(4.0, 8.0, 2.0));
    const auto mean = camkit::seed_and_score_many(
        Y, camkit::all_class_targets(Y, camkit::mask_kind::predicted_region, camkit::reduction::mean, 1), 1);
    EXPECT_THAT(mean.scores.values, ElementsAre(4.0, 4.0, 2.0));
    const auto whole = camkit::all_class_targets(Y, camkit::mask_kind::whole_image);
    EXPECT_FALSE(whole[0].mask);
    EXPECT_THROW(camkit::all_class_targets(Y, camkit::mask_kind::whole_image, camkit::reduction::sum, 2), camkit::error);
}

// A class with no predicted pixels gets an empty mask: score 0, zero seed.
TEST(AllClassTargets, AbsentClassGivesEmptyMask) {
    const tensor<double> Y({1, 3, 2}, {1, 2, 0, 0, -1, -1});  // class 0 wins everywhere
    const auto r = camkit::seed_and_score_many(
        Y, camkit::all_class_targets(Y, camkit::mask_kind::predicted_region, camkit::reduction::mean));
    EXPECT_THAT(r.scores.values, ElementsAre(1.5, 0.0, 0.0));
    for (std::size_t i = 6; i < r.seed.size(); ++i) EXPECT_EQ(r.seed[i], 0.0);
}

// ---- error paths ----

TEST(MaskErrors, NonFiniteOutput) {
    auto Y = three_class_output();
    Y(1, 2, 0, 1) = std::numeric_limits<double>::quiet_NaN();
    const auto msg = camkit_test::error_message([&] { camkit::predicted_region(Y, 0); });
    EXPECT_THAT(msg, HasSubstr("predicted_region: output holds a non-finite value"));
    EXPECT_THAT(msg, HasSubstr("sample 1, channel 2, flat position 1"));
    EXPECT_THAT(camkit_test::error_message([&] { camkit::threshold(Y, 0, 0.5); }), HasSubstr("threshold: output holds a non-finite"));
    Y(1, 2, 0, 1) = std::numeric_limits<double>::infinity();
    EXPECT_THROW(camkit::threshold(Y, 0, 0.5), camkit::error);
    EXPECT_THROW(camkit::all_class_targets(Y, camkit::mask_kind::predicted_region), camkit::error);
}

TEST(MaskErrors, ClassOutOfRange) {
    const auto Y = three_class_output();
    EXPECT_THAT(camkit_test::error_message([&] { camkit::predicted_region(Y, 3); }), HasSubstr("out of range for C = 3 classes"));
    EXPECT_THROW(camkit::threshold(Y, 5, 0.5), camkit::error);
    const tensor<double> S({1, 1, 2});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::predicted_region(S, 2); }), HasSubstr("one-channel"));
}

TEST(MaskErrors, BadThresholdAndOutputShape) {
    const auto Y = three_class_output();
    EXPECT_THAT(camkit_test::error_message([&] { camkit::threshold(Y, 0, 1.5); }), HasSubstr("t must be a probability in [0, 1]"));
    EXPECT_THROW(camkit::threshold(Y, 0, -0.1), camkit::error);
    EXPECT_THROW(camkit::threshold(Y, 0, std::numeric_limits<double>::quiet_NaN()), camkit::error);
    const tensor<double> rank1({3});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::predicted_region(rank1, 0); }), HasSubstr("got rank 1"));
}

TEST(MaskErrors, PixelAndBox) {
    EXPECT_THAT(camkit_test::error_message([&] { camkit::pixel({2, 3}, {1}); }), HasSubstr("must have 2 coordinates"));
    EXPECT_THAT(camkit_test::error_message([&] { camkit::pixel({2, 3}, {1, 3}); }), HasSubstr("position [1, 3] lies outside shape [2, 3]"));
    EXPECT_THROW(camkit::pixel({}, {}), camkit::error);
    EXPECT_THROW(camkit::pixel({1, 1, 1, 1}, {0, 0, 0, 0}), camkit::error);
    EXPECT_THROW(camkit::pixel({2, 0}, {0, 0}), camkit::error);
    EXPECT_THAT(camkit_test::error_message([&] { camkit::box({3, 4}, {2, 0}, {1, 4}); }), HasSubstr("lo ≤ hi ≤ shape"));
    EXPECT_THROW(camkit::box({3, 4}, {0, 0}, {3, 5}), camkit::error);
    EXPECT_THAT(camkit_test::error_message([&] { camkit::box({3, 4}, {0}, {3, 4}); }), HasSubstr("must each have 2 coordinates"));
}
