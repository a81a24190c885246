// Localization metrics (include/camkit/metrics.hpp): hand-computed cases, the NaN / +inf rules,
// batches with per-sample and shared masks, and every error path.
#include <camkit/metrics.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include "common/error_message.hpp"

using camkit::shape_t;
using camkit::tensor;

namespace {
// m = [[0, 1, 2], [3, 0, 4]], M = [[0, 1, 1], [0, 0, 1]]
const tensor<double> m({2, 3}, {0.0, 1.0, 2.0, 3.0, 0.0, 4.0});
const tensor<std::uint8_t> mask({2, 3}, {0, 1, 1, 0, 0, 1});
}  // namespace

TEST(metrics, hand_computed_two_d) {
    EXPECT_DOUBLE_EQ(camkit::energy_inside(m, mask), 7.0 / 10.0);    // (1 + 2 + 4) / 10
    EXPECT_TRUE(camkit::pointing_hit(m, mask));                      // max 4 at (1, 2), inside
    EXPECT_DOUBLE_EQ(camkit::attention_ratio(m, mask), 7.0 / 3.0);   // (7/3) / (3/3)
    // m > 1.5 = {(0,2), (1,0), (1,2)}; M = {(0,1), (0,2), (1,2)}: 2 shared of 4
    EXPECT_DOUBLE_EQ(camkit::iou_at(m, mask, 1.5), 0.5);
    // m > 0 = 4 positions, 3 of them in M, union 4 → 3/4; m > 4 is empty → 0/3
    EXPECT_DOUBLE_EQ(camkit::iou_at(m, mask, 0.0), 0.75);
    EXPECT_DOUBLE_EQ(camkit::iou_at(m, mask, 4.0), 0.0);
}

TEST(metrics, pointing_miss_and_ties_take_the_first_index) {
    const tensor<float> peak_outside({4}, {0.0f, 5.0f, 1.0f, 1.0f});
    EXPECT_FALSE(camkit::pointing_hit(peak_outside, tensor<int>({4}, {1, 0, 1, 1})));
    const tensor<float> tie({3}, {2.0f, 1.0f, 2.0f});
    EXPECT_FALSE(camkit::pointing_hit(tie, tensor<int>({3}, {0, 0, 1})));  // first max at 0, outside
    EXPECT_TRUE(camkit::pointing_hit(tie, tensor<int>({3}, {1, 0, 0})));
    const tensor<float> zero({3}, {0.0f, 0.0f, 0.0f});
    EXPECT_TRUE(camkit::pointing_hit(zero, tensor<int>({3}, {1, 0, 0})));
    // has_peak tells such a constant map from one with a maximum.
    EXPECT_FALSE(camkit::has_peak(zero));
    EXPECT_FALSE(camkit::has_peak(tensor<float>({2, 2}, {0.25f, 0.25f, 0.25f, 0.25f})));
    EXPECT_FALSE(camkit::has_peak(tensor<float>({1}, 3.0f)));
    EXPECT_TRUE(camkit::has_peak(tie));
    EXPECT_TRUE(camkit::has_peak(tensor<double>({3}, {0.0, 0.0, 1e-300})));
    EXPECT_FALSE(camkit::has_peak(peak_outside.data() + 2, 2));  // the last two values, 1 and 1
    EXPECT_TRUE(camkit::has_peak(peak_outside.data() + 1, 2));
    EXPECT_FALSE(camkit::has_peak(peak_outside.data(), 0));
}

TEST(metrics, three_d_and_real_valued_masks) {
    // Any nonzero mask value is inside, including negative ones.
    const tensor<double> v({2, 1, 2}, {1.0, 1.0, 2.0, 4.0});
    const tensor<float> mk({2, 1, 2}, {0.0f, -0.5f, 0.0f, 2.0f});
    EXPECT_DOUBLE_EQ(camkit::energy_inside(v, mk), 5.0 / 8.0);
    EXPECT_DOUBLE_EQ(camkit::attention_ratio(v, mk), 2.5 / 1.5);
    EXPECT_TRUE(camkit::pointing_hit(v, mk));
    EXPECT_DOUBLE_EQ(camkit::iou_at(v, mk, 1.5), 1.0 / 3.0);  // positions {2, 3} vs {1, 3}
}

TEST(metrics, undefined_cases_are_nan_and_division_by_zero_is_inf) {
    const double inf = std::numeric_limits<double>::infinity();
    const tensor<double> zero({3}, {0.0, 0.0, 0.0});
    const tensor<int> some({3}, {0, 1, 0}), none({3}, {0, 0, 0}), all({3}, {1, 1, 1});
    EXPECT_TRUE(std::isnan(camkit::energy_inside(zero, some)));       // 0/0
    EXPECT_TRUE(std::isnan(camkit::attention_ratio(zero, some)));     // both means 0
    const tensor<double> v({3}, {0.0, 2.0, 0.0});
    EXPECT_EQ(camkit::attention_ratio(v, some), inf);                 // outside mean 0
    EXPECT_TRUE(std::isnan(camkit::attention_ratio(v, none)));        // no inside
    EXPECT_TRUE(std::isnan(camkit::attention_ratio(v, all)));         // no outside
    EXPECT_DOUBLE_EQ(camkit::energy_inside(v, none), 0.0);
    EXPECT_DOUBLE_EQ(camkit::energy_inside(v, all), 1.0);
    EXPECT_TRUE(std::isnan(camkit::iou_at(zero, none, 0.5)));         // both sets empty
    EXPECT_DOUBLE_EQ(camkit::iou_at(zero, some, 0.5), 0.0);
}

TEST(localization_metrics, batch_with_per_sample_masks) {
    // sample 0 is `m` above; sample 1 = [[4, 0, 0], [0, 0, 0]] against [[1, 0, 0], [0, 0, 0]]
    tensor<double> maps({2, 2, 3});
    std::copy(m.values.begin(), m.values.end(), maps.values.begin());
    maps(1, 0, 0) = 4.0;
    tensor<bool> masks({2, 2, 3});
    for (std::size_t i = 0; i < 6; ++i) masks.values[i] = mask.values[i] != 0;
    masks.values[6] = true;
    const auto r = camkit::localization_metrics(maps, masks, 1.5);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_DOUBLE_EQ(r[0].energy_inside, 0.7);
    EXPECT_TRUE(r[0].pointing_hit);
    EXPECT_DOUBLE_EQ(r[0].attention_ratio, 7.0 / 3.0);
    EXPECT_DOUBLE_EQ(r[0].iou, 0.5);
    EXPECT_DOUBLE_EQ(r[1].energy_inside, 1.0);
    EXPECT_TRUE(r[1].pointing_hit);
    EXPECT_EQ(r[1].attention_ratio, std::numeric_limits<double>::infinity());
    EXPECT_DOUBLE_EQ(r[1].iou, 1.0);
}

TEST(localization_metrics, shared_mask_broadcasts_over_the_batch) {
    const tensor<float> maps({3, 4}, {1, 0, 0, 0, 0, 0, 0, 2, 1, 1, 1, 1});
    const tensor<int> shared({4}, {1, 1, 0, 0});
    const auto r = camkit::localization_metrics(maps, shared);  // threshold 0.5
    ASSERT_EQ(r.size(), 3u);
    EXPECT_DOUBLE_EQ(r[0].energy_inside, 1.0);
    EXPECT_TRUE(r[0].pointing_hit);
    EXPECT_DOUBLE_EQ(r[0].iou, 0.5);
    EXPECT_DOUBLE_EQ(r[1].energy_inside, 0.0);
    EXPECT_FALSE(r[1].pointing_hit);
    EXPECT_DOUBLE_EQ(r[1].attention_ratio, 0.0);
    EXPECT_DOUBLE_EQ(r[1].iou, 0.0);
    EXPECT_DOUBLE_EQ(r[2].energy_inside, 0.5);
    EXPECT_DOUBLE_EQ(r[2].attention_ratio, 1.0);
    EXPECT_DOUBLE_EQ(r[2].iou, 0.5);
    // agrees with the single-sample functions
    const tensor<float> s2({4}, {1, 1, 1, 1});
    EXPECT_DOUBLE_EQ(r[2].energy_inside, camkit::energy_inside(s2, shared));
}

TEST(metrics, errors) {
    const tensor<double> neg({3}, {0.0, -0.1, 1.0});
    const tensor<int> mk({3}, {1, 0, 0});
    auto msg = camkit_test::error_message([&] { camkit::energy_inside(neg, mk); });
    EXPECT_NE(msg.find("energy_inside: map must be finite and ≥ 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("flat index 1"), std::string::npos) << msg;
    const tensor<double> nan({3}, {0.0, std::nan(""), 1.0});
    EXPECT_NE(camkit_test::error_message([&] { camkit::pointing_hit(nan, mk); }).find("pointing_hit: map"), std::string::npos);
    const tensor<double> inf({3}, {0.0, std::numeric_limits<double>::infinity(), 1.0});
    EXPECT_NE(camkit_test::error_message([&] { camkit::attention_ratio(inf, mk); }).find("attention_ratio: map"), std::string::npos);
    const tensor<double> ok({3}, {0.0, 0.5, 1.0});
    msg = camkit_test::error_message([&] { camkit::iou_at(ok, tensor<int>({4}), 0.5); });
    EXPECT_NE(msg.find("iou_at: mask shape [4] must equal map shape [3]"), std::string::npos) << msg;
    EXPECT_NE(camkit_test::error_message([&] { camkit::iou_at(ok, mk, std::nan("")); }).find("threshold"), std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { camkit::energy_inside(tensor<double>(shape_t{1, 1, 1, 1}), tensor<int>(shape_t{1, 1, 1, 1})); })
                  .find("1 to 3 spatial axes"),
              std::string::npos);

    const tensor<double> maps({2, 3}, {0.0, 0.5, 1.0, 1.0, 0.0, 0.0});
    msg = camkit_test::error_message([&] { camkit::localization_metrics(maps, tensor<int>({2, 4})); });
    EXPECT_NE(msg.find("masks shape [2, 4] must be [2, 3] (one per sample) or [3] (shared)"), std::string::npos) << msg;
    EXPECT_NE(camkit_test::error_message([&] { camkit::localization_metrics(tensor<double>({3}), mk); }).find("[N, *S]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { camkit::localization_metrics(maps, tensor<int>({3}), INFINITY); }).find("threshold"),
              std::string::npos);
    const tensor<double> bad({2, 3}, {0.0, 0.5, 1.0, 1.0, -2.0, 0.0});
    msg = camkit_test::error_message([&] { camkit::localization_metrics(bad, tensor<int>({3})); });
    EXPECT_NE(msg.find("localization_metrics: map must be finite and ≥ 0"), std::string::npos) << msg;
}

TEST(attention_statistics, mean_and_std_of_the_whole_map) {
    // m = [[0, 1, 2], [3, 0, 4]]: mean 10/6; E[m²] = 30/6 = 5, so variance 5 − 25/9 = 20/9.
    EXPECT_DOUBLE_EQ(camkit::attention_mean(m), 5.0 / 3.0);
    EXPECT_DOUBLE_EQ(camkit::attention_std(m), std::sqrt(20.0 / 9.0));
    const tensor<float> flat({2, 2, 2}, 0.25f);
    EXPECT_DOUBLE_EQ(camkit::attention_mean(flat), 0.25);
    EXPECT_DOUBLE_EQ(camkit::attention_std(flat), 0.0);
    // Two passes: a map far from 0 keeps its small spread exactly (E[m²] − mean² would lose digits).
    const tensor<float> far({4}, {1e6f, 1e6f + 1, 1e6f + 2, 1e6f + 3});
    EXPECT_DOUBLE_EQ(camkit::attention_std(far), std::sqrt(1.25));
}

namespace {

// Expects the six statistics of one sample; a NaN expectation expects NaN.
void expect_stats(const camkit::attention_stats& s, double mean, double sd, double ratio, double energy, bool hit,
                  double iou) {
    const auto same = [](double got, double want) {
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(got)) << got;
        else EXPECT_DOUBLE_EQ(got, want);
    };
    same(s.attention_mean, mean);
    same(s.attention_std, sd);
    same(s.attention_ratio, ratio);
    same(s.energy_inside, energy);
    EXPECT_EQ(s.pointing_hit, hit);
    same(s.iou, iou);
}

const double undefined = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// Three 3-D samples [1, 2, 2] with one region each: an ordinary region, an empty one and one
// covering everything (the header's edge cases).
TEST(attention_statistics, batch_with_empty_and_full_regions) {
    const tensor<double> maps({3, 1, 2, 2}, {1, 3, 0, 4, /**/ 2, 2, 2, 2, /**/ 0, 1, 0, 1});
    const tensor<std::uint8_t> masks({3, 1, 2, 2}, {0, 1, 0, 1, /**/ 0, 0, 0, 0, /**/ 1, 1, 1, 1});
    const auto r = camkit::attention_statistics(maps, masks, 0.5);
    ASSERT_EQ(r.size(), 3u);
    // sample 0: mean 2, deviations (−1, 1, −2, 2) → variance 10/4; inside mean 3.5 over outside
    // mean 0.5; energy 7/8; max 4 inside; {m > 0.5} = {0, 1, 3} vs {1, 3}: 2 / 3.
    expect_stats(r[0], 2.0, std::sqrt(2.5), 7.0, 7.0 / 8.0, true, 2.0 / 3.0);
    // sample 1, empty region: ratio NaN, energy 0, no hit, IoU 0 (the thresholded map is not empty).
    expect_stats(r[1], 2.0, 0.0, undefined, 0.0, false, 0.0);
    // sample 2, full region: ratio NaN, energy 1, hit, IoU = 2 of 4 positions above 0.5.
    expect_stats(r[2], 0.5, 0.5, undefined, 1.0, true, 0.5);
    // the four shared metrics are localization_metrics' own
    const auto loc = camkit::localization_metrics(maps, masks, 0.5);
    for (std::size_t n = 0; n < 3; ++n) {
        EXPECT_EQ(r[n].pointing_hit, loc[n].pointing_hit);
        EXPECT_EQ(r[n].energy_inside, loc[n].energy_inside);
    }
}

// An all-zero map against an empty region: every ratio is 0/0.
TEST(attention_statistics, zero_map_and_empty_region_and_a_shared_mask) {
    const tensor<float> maps({2, 3}, {0, 0, 0, /**/ 0, 3, 0});
    const auto r = camkit::attention_statistics(maps, tensor<int>({3}, {0, 0, 0}));
    expect_stats(r[0], 0.0, 0.0, undefined, undefined, false, undefined);
    expect_stats(r[1], 1.0, std::sqrt(2.0), undefined, 0.0, false, 0.0);  // deviations (−1, 2, −1): 6/3
}

TEST(attention_statistics, errors) {
    const tensor<double> maps({2, 3}, {0.0, 0.5, 1.0, 1.0, 0.0, 0.0});
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_statistics(maps, tensor<int>({2, 4})); }),
              "camkit: attention_statistics: masks shape [2, 4] must be [2, 3] (one per sample) or [3] (shared)");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_statistics(tensor<double>({3}), tensor<int>({3})); }),
              "camkit: attention_statistics: maps must be [N, *S] with 1 to 3 spatial axes, got shape [3]");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_statistics(maps, tensor<int>({3}), NAN); }),
              "camkit: attention_statistics: threshold must be finite, got nan");
    const tensor<double> bad({2, 3}, {0.0, 0.5, 1.0, 1.0, -2.0, 0.0});
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_statistics(bad, tensor<int>({3})); }),
              "camkit: attention_statistics: map must be finite and ≥ 0 (apply ReLU first), got -2.000000 at flat index 4");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_mean(tensor<double>({1, 1, 1, 1})); }),
              "camkit: attention_mean: map must have 1 to 3 spatial axes, got shape [1, 1, 1, 1]");
    EXPECT_EQ(camkit_test::error_message([&] { camkit::attention_std(tensor<double>({2}, {1.0, NAN})); }),
              "camkit: attention_std: map must be finite and ≥ 0 (apply ReLU first), got nan at flat index 1");
}

// The metrics read any host tensor: a strided view of every other column gives the numbers of its
// dense copy (energy 3/(3+1+2) = 0.5 inside the mask's two positions of the view).
TEST(Metrics, StridedViewsEqualTheirDenseCopies) {
    const std::vector<float> wide{3, 9, 1, 9, 2, 9};  // the view reads 3, 1, 2
    const camkit::host_view<const float> view{wide.data(), {3}, {2}};
    const camkit::tensor<float> dense({3}, {3, 1, 2});
    const camkit::tensor<float> mask({3}, {1, 0, 0});
    EXPECT_DOUBLE_EQ(camkit::energy_inside(view, mask), 0.5);
    EXPECT_EQ(camkit::energy_inside(view, mask), camkit::energy_inside(dense, mask));
    EXPECT_EQ(camkit::pointing_hit(view, mask), true);
    EXPECT_DOUBLE_EQ(camkit::attention_mean(view), 2.0);
    EXPECT_DOUBLE_EQ(camkit::attention_ratio(view, mask), 3.0 / 1.5);
}
