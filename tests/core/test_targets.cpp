// The targets layer: hand-computed scores and seeds of every target on classifier and
// segmentation outputs (1-D, 2-D, 3-D), one-channel sigmoid outputs, batches with a target per
// sample, many targets for one sample, the mask_sum/mask_mean identity through Grad-CAM, empty
// masks, and every error path.
#include <camkit/explain.hpp>
#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/targets.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "common/random_tensor.hpp"

using camkit::shape_t;
using camkit_test::random_tensor;
using camkit::target;
using camkit::tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {


/// The message of the camkit::error `f` throws ("" when it throws nothing).
// Y [1, 2, 2, 2]: channel 0 = (1, 2, 3, 4), channel 1 = (5, 6, 7, 8).
tensor<double> seg_output() { return {{1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}}; }

}  // namespace

// Y = [[1, 2, 3], [4, 5, 6]]: class 2 of sample 0 is 3, class 0 of sample 1 is 4.
TEST(ClassScore, ClassifierHandComputed) {
    const tensor<double> Y({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto r = camkit::seed_and_score(Y, {camkit::class_score(2), camkit::class_score(0)});
    EXPECT_EQ(r.scores.shape, shape_t{2});
    EXPECT_THAT(r.scores.values, ElementsAre(3.0, 4.0));
    EXPECT_EQ(r.seed.shape, Y.shape);
    EXPECT_THAT(r.seed.values, ElementsAre(0, 0, 1, 1, 0, 0));
}

// One sigmoid logit per sample: class 1 is Y, class 0 is −Y (seed −1).
TEST(ClassScore, SigmoidOneChannelClassifier) {
    const tensor<double> Y({2, 1}, {2.5, -1.5});
    const auto r = camkit::seed_and_score(Y, {camkit::class_score(1), camkit::class_score(0)});
    EXPECT_THAT(r.scores.values, ElementsAre(2.5, 1.5));
    EXPECT_THAT(r.seed.values, ElementsAre(1.0, -1.0));
}

// On a segmentation output class_score(c) sums class c over every position, like whole_image(c).
TEST(ClassScore, OnSegmentationEqualsWholeImage) {
    const auto Y = seg_output();
    const auto a = camkit::seed_and_score(Y, {camkit::class_score(1)});
    const auto b = camkit::seed_and_score(Y, {camkit::whole_image(1)});
    EXPECT_THAT(a.scores.values, ElementsAre(26.0));
    EXPECT_EQ(a.scores.values, b.scores.values);
    EXPECT_EQ(a.seed.values, b.seed.values);
}

// whole_image(0) on the 2-D output: 1 + 2 + 3 + 4 = 10, seed ones on channel 0.
TEST(WholeImage, TwoDHandComputed) {
    const auto r = camkit::seed_and_score(seg_output(), {camkit::whole_image(0)});
    EXPECT_THAT(r.scores.values, ElementsAre(10.0));
    EXPECT_THAT(r.seed.values, ElementsAre(1, 1, 1, 1, 0, 0, 0, 0));
}

// A signed real mask M = (1, 0, 0.5, −2) on class 1 = (5, 6, 7, 8): 5 + 3.5 − 16 = −7.5.
TEST(MaskSum, TwoDSignedMaskHandComputed) {
    const tensor<float> M({2, 2}, {1, 0, 0.5f, -2});
    const auto r = camkit::seed_and_score(seg_output(), {camkit::mask_sum(1, M)});
    EXPECT_THAT(r.scores.values, ElementsAre(-7.5));
    EXPECT_THAT(r.seed.values, ElementsAre(0, 0, 0, 0, 1, 0, 0.5, -2));
}

// The same mask as a mean: nnz = 3, so score −7.5 / 3 = −2.5 and seed M / 3.
TEST(MaskMean, TwoDSignedMaskHandComputed) {
    const tensor<float> M({2, 2}, {1, 0, 0.5f, -2});
    const auto r = camkit::seed_and_score(seg_output(), {camkit::mask_mean(1, M)});
    EXPECT_DOUBLE_EQ(r.scores[0], -2.5);
    EXPECT_THAT(r.seed.values, ElementsAre(0, 0, 0, 0, 1.0 / 3, 0, 0.5 / 3, -2.0 / 3));
}

// 1-D output [1, 2, 4]: class 0 = (1, −1, 2, 4), class 1 = (0, 3, 5, −2); M = (0, 1, 1, 0).
TEST(MaskSum, OneDHandComputed) {
    const tensor<double> Y({1, 2, 4}, {1, -1, 2, 4, 0, 3, 5, -2});
    const tensor<float> M({4}, {0, 1, 1, 0});
    const auto s = camkit::seed_and_score(Y, {camkit::mask_sum(0, M)});
    EXPECT_THAT(s.scores.values, ElementsAre(1.0));
    EXPECT_THAT(s.seed.values, ElementsAre(0, 1, 1, 0, 0, 0, 0, 0));
    const auto m = camkit::seed_and_score(Y, {camkit::mask_mean(1, M)});
    EXPECT_THAT(m.scores.values, ElementsAre(4.0));
    EXPECT_THAT(m.seed.values, ElementsAre(0, 0, 0, 0, 0, 0.5, 0.5, 0));
    const auto w = camkit::seed_and_score(Y, {camkit::whole_image(1)});
    EXPECT_THAT(w.scores.values, ElementsAre(6.0));
}

// 3-D output [1, 2, 2, 2, 2]: class 1 holds 9..16; M marks the corners (0,0,0) and (1,1,1).
TEST(MaskMean, ThreeDHandComputed) {
    tensor<double> Y({1, 2, 2, 2, 2});
    for (std::size_t i = 0; i < 16; ++i) Y[i] = static_cast<double>(i + 1);
    tensor<float> M({2, 2, 2}, 0.0f);
    M(0, 0, 0) = 1;
    M(1, 1, 1) = 1;
    const auto m = camkit::seed_and_score(Y, {camkit::mask_mean(1, M)});
    EXPECT_THAT(m.scores.values, ElementsAre((9.0 + 16.0) / 2));
    EXPECT_DOUBLE_EQ(m.seed(0, 1, 0, 0, 0), 0.5);
    EXPECT_DOUBLE_EQ(m.seed(0, 1, 1, 1, 1), 0.5);
    double total = 0;
    for (double v : m.seed.values) total += v;
    EXPECT_DOUBLE_EQ(total, 1.0);
    const auto s = camkit::seed_and_score(Y, {camkit::mask_sum(0, M)});
    EXPECT_THAT(s.scores.values, ElementsAre(1.0 + 8.0));
    const auto w = camkit::seed_and_score(Y, {camkit::whole_image(0)});
    EXPECT_THAT(w.scores.values, ElementsAre(36.0));
}

// One-channel segmentation Y = (1, −2, 3, 0.5), M = (1, 1, 0, 0): class 1 scores 1 − 2 = −1 with
// seed M; class 0 scores +1 with seed −M, and +0 (not −0) outside the mask.
TEST(MaskSum, SigmoidOneChannelSegmentation) {
    const tensor<double> Y({1, 1, 2, 2}, {1, -2, 3, 0.5});
    const tensor<float> M({2, 2}, {1, 1, 0, 0});
    const auto one = camkit::seed_and_score(Y, {camkit::mask_sum(1, M)});
    EXPECT_THAT(one.scores.values, ElementsAre(-1.0));
    EXPECT_THAT(one.seed.values, ElementsAre(1, 1, 0, 0));
    const auto zero = camkit::seed_and_score(Y, {camkit::mask_sum(0, M)});
    EXPECT_THAT(zero.scores.values, ElementsAre(1.0));
    EXPECT_THAT(zero.seed.values, ElementsAre(-1, -1, 0, 0));
    EXPECT_FALSE(std::signbit(zero.seed[2]));
    const auto mean0 = camkit::seed_and_score(Y, {camkit::mask_mean(0, M)});
    EXPECT_THAT(mean0.scores.values, ElementsAre(0.5));
    EXPECT_THAT(mean0.seed.values, ElementsAre(-0.5, -0.5, 0, 0));
    const auto whole0 = camkit::seed_and_score(Y, {camkit::whole_image(0)});
    EXPECT_THAT(whole0.scores.values, ElementsAre(-2.5));
}

// Three samples of a 1-D output [3, 2, 2], each with its own target and kind of mask:
//   sample 0: mask_sum(0, M = (1, 0))            → Y[0,0,0] = 1
//   sample 1: mask_mean(1, B) with B [3, 2], slice 1 = (1, 1) → (7 + 8) / 2 = 7.5
//   sample 2: whole_image(1)                      → 11 + 12 = 23
TEST(SeedAndScore, BatchWithATargetPerSample) {
    const tensor<double> Y({3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    const tensor<float> M({2}, {1, 0});
    const tensor<float> B({3, 2}, {0, 0, 1, 1, 0, 0});
    const std::vector<target> targets{camkit::mask_sum(0, M), camkit::mask_mean(1, B), camkit::whole_image(1)};
    const auto r = camkit::seed_and_score(Y, targets);
    EXPECT_THAT(r.scores.values, ElementsAre(1.0, 7.5, 23.0));
    EXPECT_THAT(r.seed.values, ElementsAre(1, 0, 0, 0, /**/ 0, 0, 0.5, 0.5, /**/ 0, 0, 1, 1));
}

// The seed is the derivative of the score: score = Σ seed ⊙ Y for every sample, and it does not
// depend on Y (target_seed gives it from the shape alone).
TEST(SeedAndScore, ScoreIsTheLinearFormOfTheSeed) {
    const auto Y = random_tensor({3, 4, 5, 3}, 7, -2, 2);
    const auto M = random_tensor({3, 5, 3}, 8, -2, 2);
    tensor<float> Mf(M.shape);
    for (std::size_t i = 0; i < M.size(); ++i) Mf[i] = static_cast<float>(M[i]);
    const std::vector<target> targets{camkit::mask_sum(2, Mf), camkit::mask_mean(3, Mf), camkit::class_score(0)};
    const auto r = camkit::seed_and_score(Y, targets);
    const std::size_t per = 4 * 15;
    for (std::size_t n = 0; n < 3; ++n) {
        double dot = 0;
        for (std::size_t i = 0; i < per; ++i) dot += r.seed[n * per + i] * Y[n * per + i];
        EXPECT_NEAR(r.scores[n], dot, 1e-12);
    }
    const auto seed = camkit::target_seed<double>(Y.shape, targets);
    EXPECT_EQ(seed.values, r.seed.values);
    // Finite differences agree with the seed (the score is linear, so exactly up to rounding).
    auto Yp = Y;
    Yp(1, 3, 2, 1) += 0.25;
    const auto rp = camkit::seed_and_score(Yp, targets);
    EXPECT_NEAR((rp.scores[1] - r.scores[1]) / 0.25, r.seed(1, 3, 2, 1), 1e-12);
    EXPECT_DOUBLE_EQ(rp.scores[0], r.scores[0]);
}

// Float output accumulates in float, double in double; the results are camkit tensors.
TEST(SeedAndScore, AccumulationTypeFollowsTheOutput) {
    const tensor<float> Yf({1, 2, 2}, {1, 2, 3, 4});
    const auto rf = camkit::seed_and_score(Yf, {camkit::whole_image(1)});
    static_assert(std::is_same_v<decltype(rf.scores), tensor<float>>);
    static_assert(std::is_same_v<decltype(rf.seed), tensor<float>>);
    EXPECT_THAT(rf.scores.values, ElementsAre(7.0f));
    const auto rd = camkit::seed_and_score(seg_output(), {camkit::whole_image(1)});
    static_assert(std::is_same_v<decltype(rd.scores), tensor<double>>);
}

// A strided host view (the output stored channel-major, [C, N, P], viewed as [N, C, P]) gives the
// same scores as the dense tensor.
TEST(SeedAndScore, StridedViewEqualsDense) {
    const auto Y = random_tensor({2, 3, 4}, 3, -2, 2);
    std::vector<double> cnp(24);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t p = 0; p < 4; ++p) cnp[(c * 2 + n) * 4 + p] = Y(n, c, p);
    const camkit::host_view<const double> view{cnp.data(), {2, 3, 4}, {4, 8, 1}};
    const tensor<float> M({4}, {1, 0, -1, 2});
    const std::vector<target> targets{camkit::mask_sum(2, M), camkit::mask_mean(1, M)};
    const auto dense = camkit::seed_and_score(Y, targets);
    const auto strided = camkit::seed_and_score(view, targets);
    EXPECT_EQ(dense.scores.values, strided.scores.values);
    EXPECT_EQ(dense.seed.values, strided.seed.values);
}

// Masks of other host tensor kinds are copied to float.
TEST(MaskSum, AcceptsAnyHostTensorMask) {
    const tensor<double> Md({2, 2}, {1, 0, 0.5, -2});
    const std::vector<int> raw{1, 0, 1, 0};
    const camkit::host_view<const int> Mi{raw.data(), {2, 2}, {1, 2}};  // transposed: (1, 1, 0, 0)
    const auto a = camkit::seed_and_score(seg_output(), {camkit::mask_sum(1, Md)});
    EXPECT_THAT(a.scores.values, ElementsAre(-7.5));
    const auto b = camkit::seed_and_score(seg_output(), {camkit::mask_mean(0, Mi)});
    EXPECT_THAT(b.seed.values, ElementsAre(0.5, 0.5, 0, 0, 0, 0, 0, 0));
    EXPECT_THAT(b.scores.values, ElementsAre(1.5));
}

// Many targets for one sample equal the per-target results on that sample, in one call.
TEST(SeedAndScoreMany, EqualsOneTargetAtATime) {
    const auto Y = random_tensor({2, 3, 4, 3}, 11, -2, 2);
    const tensor<float> M = camkit::box({4, 3}, {1, 0}, {3, 2});
    tensor<float> B({2, 4, 3}, 0.0f);
    B(1, 0, 0) = 2;
    B(1, 3, 2) = -1;
    const std::vector<target> targets{camkit::class_score(0), camkit::mask_sum(1, M), camkit::mask_mean(2, M),
                                      camkit::whole_image(1), camkit::mask_sum(0, B), camkit::mask_mean(2, B)};
    const auto many = camkit::seed_and_score_many(Y, targets, 1);
    ASSERT_EQ(many.scores.shape, shape_t{targets.size()});
    ASSERT_EQ(many.seed.shape, (shape_t{targets.size(), 3, 4, 3}));
    const std::size_t per = 3 * 12;
    for (std::size_t t = 0; t < targets.size(); ++t) {
        const auto one = camkit::seed_and_score(Y, std::vector<target>{targets[t], targets[t]});
        EXPECT_DOUBLE_EQ(many.scores[t], one.scores[1]) << "target " << t;
        for (std::size_t i = 0; i < per; ++i) EXPECT_EQ(many.seed[t * per + i], one.seed[per + i]) << "target " << t;
    }
    // mask_sum(0, B) on sample 1: 2·Y[1,0,0,0] − Y[1,0,3,2].
    EXPECT_NEAR(many.scores[4], 2 * Y(1, 0, 0, 0) - Y(1, 0, 3, 2), 1e-12);
    const auto seeds = camkit::target_seeds_for_sample<double>(Y.shape, targets, 1);
    EXPECT_EQ(seeds.values, many.seed.values);
}

// Every class of a one-channel output for one sample: class 0 and class 1 are negatives.
TEST(SeedAndScoreMany, SigmoidBothClasses) {
    const tensor<double> Y({1, 1, 3}, {2, -1, 0.5});
    const auto r = camkit::seed_and_score_many(Y, {camkit::whole_image(0), camkit::whole_image(1)});
    EXPECT_THAT(r.scores.values, ElementsAre(-1.5, 1.5));
    EXPECT_THAT(r.seed.values, ElementsAre(-1, -1, -1, 1, 1, 1));
}

// An empty mask scores 0 with an all-zero seed for both reductions (no division by zero), also
// when the output holds NaN outside the mask; NaN inside a mask propagates to that score.
TEST(EmptyMask, ScoresZeroWithZeroSeed) {
    auto Y = seg_output();
    Y(0, 1, 0, 0) = std::numeric_limits<double>::quiet_NaN();
    const tensor<float> empty({2, 2}, 0.0f);
    for (const target& t : {camkit::mask_sum(1, empty), camkit::mask_mean(1, empty),
                            camkit::mask_mean(1, camkit::box({2, 2}, {1, 0}, {1, 2}))}) {
        const auto r = camkit::seed_and_score(Y, {t});
        EXPECT_EQ(r.scores[0], 0.0);
        for (double v : r.seed.values) EXPECT_EQ(v, 0.0);
    }
    const auto whole = camkit::seed_and_score(Y, {camkit::whole_image(1)});
    EXPECT_TRUE(std::isnan(whole.scores[0]));
    for (double v : whole.seed.values) EXPECT_TRUE(std::isfinite(v));
    // A batched mask whose slice for one sample is empty: only that sample scores 0.
    const tensor<double> Y2({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    const tensor<float> B({2, 2}, {0, 0, 1, 1});
    const auto r2 = camkit::seed_and_score(Y2, {camkit::mask_mean(0, B), camkit::mask_mean(0, B)});
    EXPECT_THAT(r2.scores.values, ElementsAre(0.0, 5.5));
}

namespace {

// A 1×1-convolution head Y[c, s] = Σ_k W[c, k] A[k, s]: back-propagating a seed gives the
// layer's gradients G[k, s] = Σ_c seed[c, s] W[c, k], exactly what autograd would.
tensor<double> head_output(const tensor<double>& A, const tensor<double>& W) {
    const std::size_t N = A.shape[0], K = A.shape[1], C = W.shape[0], S = A.size() / (N * K);
    shape_t shape = A.shape;
    shape[1] = C;
    tensor<double> Y(shape);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t s = 0; s < S; ++s)
                for (std::size_t k = 0; k < K; ++k) Y[(n * C + c) * S + s] += W(c, k) * A[(n * K + k) * S + s];
    return Y;
}

tensor<double> head_backward(const tensor<double>& seed, const tensor<double>& W, const shape_t& a_shape) {
    const std::size_t N = a_shape[0], K = a_shape[1], C = W.shape[0], S = seed.size() / (N * C);
    tensor<double> G(a_shape);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            for (std::size_t s = 0; s < S; ++s)
                for (std::size_t c = 0; c < C; ++c) G[(n * K + k) * S + s] += seed[(n * C + c) * S + s] * W(c, k);
    return G;
}

}  // namespace

// SPEC.md's identity: mask_sum and mask_mean seeds differ only by the factor nnz(M), so the
// gradients and raw maps do too, and after min-max normalization the Seg-Grad-CAM (and
// Seg-HiRes-Grad-CAM) maps are equal. Checked per sample on a batch with different masks.
TEST(MaskSumVsMean, EqualMapsAfterMinMaxThroughGradCam) {
    auto A = random_tensor({2, 4, 5, 6}, 21, -2, 2);
    for (double& v : A.values) v = std::abs(v);
    const auto W = random_tensor({3, 4}, 22, -2, 2);
    const auto Y = head_output(A, W);
    tensor<float> B({2, 5, 6}, 0.0f);
    const auto b0 = camkit::box({5, 6}, {1, 1}, {4, 5});  // nnz 12
    for (std::size_t i = 0; i < 30; ++i) B[i] = b0[i];
    B(1, 0, 0) = 0.5f;  // nnz 3, real-valued
    B(1, 2, 3) = 1;
    B(1, 4, 5) = 2;
    const std::vector<target> sums{camkit::mask_sum(2, B), camkit::mask_sum(0, B)};
    const std::vector<target> means{camkit::mask_mean(2, B), camkit::mask_mean(0, B)};
    const auto rs = camkit::seed_and_score(Y, sums);
    const auto rm = camkit::seed_and_score(Y, means);
    const double nnz[2] = {12, 3};
    const std::size_t per = 3 * 30;
    for (std::size_t n = 0; n < 2; ++n) {
        EXPECT_NEAR(rs.scores[n], nnz[n] * rm.scores[n], 1e-12);
        for (std::size_t i = 0; i < per; ++i) EXPECT_NEAR(rs.seed[n * per + i], nnz[n] * rm.seed[n * per + i], 1e-15);
    }
    const auto Gs = head_backward(rs.seed, W, A.shape);
    const auto Gm = head_backward(rm.seed, W, A.shape);
    const auto grad_s = camkit::explain<camkit::seg_grad_cam>(A, Gs, {.relu = false});
    const auto grad_m = camkit::explain<camkit::seg_grad_cam>(A, Gm, {.relu = false});
    const auto hires_s = camkit::explain<camkit::seg_hires_grad_cam>(A, Gs, {.relu = false});
    const auto hires_m = camkit::explain<camkit::seg_hires_grad_cam>(A, Gm, {.relu = false});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t s = 0; s < 30; ++s) {
            const std::size_t i = n * 30 + s;
            EXPECT_NEAR(grad_s.raw[i], nnz[n] * grad_m.raw[i], 1e-12);
            // Equal up to min-max's absolute ε = 1e-7, which weighs nnz times more on the smaller map.
            EXPECT_NEAR(grad_s.map[i], grad_m.map[i], 1e-5);
            EXPECT_NEAR(hires_s.map[i], hires_m.map[i], 1e-5);
        }
    // The maps are not trivially constant: the identity compares real structure.
    double lo = 1, hi = 0;
    for (double v : grad_s.map.values) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_LT(lo, 0.01);
    EXPECT_GT(hi, 0.99);
}

// An empty mask's seed back-propagates to zero gradients: an all-zero map, not NaN.
TEST(EmptyMask, GivesAnAllZeroMapThroughGradCam) {
    auto A = random_tensor({1, 3, 4, 4}, 5, -2, 2);
    const auto W = random_tensor({2, 3}, 6, -2, 2);
    const auto Y = head_output(A, W);
    const auto r = camkit::seed_and_score(Y, {camkit::mask_mean(1, tensor<float>({4, 4}, 0.0f))});
    const auto G = head_backward(r.seed, W, A.shape);
    for (const auto& e : {camkit::explain<camkit::grad_cam>(A, G), camkit::explain<camkit::hires_cam>(A, G)})
        for (double v : e.map.values) EXPECT_EQ(v, 0.0);
}

// ---- error paths ----

TEST(TargetErrors, CountDiffersFromBatch) {
    const tensor<double> Y({4, 2});
    const std::vector<target> three(3, camkit::class_score(0));
    EXPECT_EQ(camkit_test::error_message([&] { camkit::seed_and_score(Y, three); }), "camkit: targets: 3 given for a batch of 4");
    EXPECT_THROW(camkit::target_seed(Y.shape, three), camkit::error);
    EXPECT_THROW(camkit::seed_and_score(Y, std::vector<target>(5, camkit::class_score(0))), std::invalid_argument);
}

TEST(TargetErrors, ClassOutOfRange) {
    const tensor<double> Y({2, 3, 2});
    const auto msg = camkit_test::error_message([&] { camkit::seed_and_score(Y, {camkit::class_score(0), camkit::mask_sum(3, tensor<float>({2}, 1.0f))}); });
    EXPECT_THAT(msg, HasSubstr("targets[1].class_index = 3"));
    EXPECT_THAT(msg, HasSubstr("C = 3"));
    const tensor<double> S({1, 1, 2});
    const auto sig = camkit_test::error_message([&] { camkit::seed_and_score(S, {camkit::whole_image(2)}); });
    EXPECT_THAT(sig, HasSubstr("one-channel"));
    EXPECT_THAT(sig, HasSubstr("C = 1"));
    EXPECT_THROW(camkit::seed_and_score_many(Y, {camkit::class_score(7)}), camkit::error);
}

TEST(TargetErrors, MaskShapeMatchesNeither) {
    const tensor<double> Y({2, 3, 4, 5});
    const auto msg = camkit_test::error_message([&] { camkit::seed_and_score(Y, {camkit::whole_image(0), camkit::mask_sum(1, tensor<float>({5, 4}, 1.0f))}); });
    EXPECT_THAT(msg, HasSubstr("targets[1].mask has shape [5, 4]"));
    EXPECT_THAT(msg, HasSubstr("[*P] = [4, 5]"));
    EXPECT_THAT(msg, HasSubstr("[N, *P] = [2, 4, 5]"));
    EXPECT_THAT(msg, HasSubstr("[2, 3, 4, 5]"));
    // A batched mask of the wrong batch size, and a mask on a classifier that is not [] or [N].
    EXPECT_THROW(camkit::seed_and_score(Y, std::vector<target>(2, camkit::mask_sum(0, tensor<float>({3, 4, 5}, 1.0f)))),
                 camkit::error);
    const tensor<double> C({2, 3});
    EXPECT_THROW(camkit::seed_and_score(C, std::vector<target>(2, camkit::mask_sum(0, tensor<float>({3}, 1.0f)))),
                 camkit::error);
    const auto ok = camkit::seed_and_score(C, std::vector<target>(2, camkit::mask_sum(0, tensor<float>({2}, {1, 0}))));
    EXPECT_THAT(ok.seed.values, ElementsAre(1, 0, 0, 0, 0, 0));
    // Many targets for one sample: a batched mask must match the whole batch.
    EXPECT_THROW(camkit::seed_and_score_many(Y, {camkit::mask_sum(0, tensor<float>({1, 4, 5}, 1.0f))}), camkit::error);
}

TEST(TargetErrors, OutputRankAndEmptyAxes) {
    const tensor<double> rank1({4});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::seed_and_score(rank1, {camkit::class_score(0)}); }),
                HasSubstr("got rank 1 shape [4]"));
    const tensor<double> rank6({1, 1, 1, 1, 1, 1});
    EXPECT_THROW(camkit::seed_and_score(rank6, {camkit::class_score(0)}), camkit::error);
    const tensor<double> empty({1, 2, 0});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::seed_and_score(empty, {camkit::class_score(0)}); }), HasSubstr("empty axis"));
    EXPECT_THROW(camkit::target_seed(shape_t{3}, {}), camkit::error);
}

TEST(TargetErrors, NonFiniteOrMalformedMask) {
    const auto Y = seg_output();
    tensor<float> M({2, 2}, 1.0f);
    M[2] = std::numeric_limits<float>::infinity();
    EXPECT_THAT(camkit_test::error_message([&] { camkit::seed_and_score(Y, {camkit::mask_sum(0, M)}); }),
                HasSubstr("targets[0].mask holds a non-finite value at flat index 2"));
    target broken = camkit::mask_sum(0, tensor<float>({2, 2}, 1.0f));
    broken.mask->values.pop_back();
    EXPECT_THROW(camkit::seed_and_score(Y, {broken}), camkit::error);
    const tensor<double> five({1, 1, 1, 1, 1});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::mask_sum(0, five); }), HasSubstr("mask_sum: mask must be"));
}

TEST(TargetErrors, SampleOutOfRange) {
    const tensor<double> Y({2, 2, 3});
    EXPECT_THAT(camkit_test::error_message([&] { camkit::seed_and_score_many(Y, {camkit::class_score(0)}, 2); }),
                HasSubstr("sample 2 is out of range for a batch of 2"));
    EXPECT_THROW(camkit::target_seeds_for_sample(Y.shape, {}, 5), camkit::error);
}
