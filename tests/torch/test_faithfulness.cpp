// Deletion / insertion curves and average drop / increase in confidence on models whose output is a
// known linear function of the input, so every curve point and area is computed by hand.
#include <camkit/torch/faithfulness.hpp>
#include <camkit/torch/scripted.hpp>  // a TorchScript module as the model

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "torch/torch_testing.hpp"

namespace ct = camkit::torch;
using camkit_test::expect_near_all;
using camkit_test::to_vec;
using camkit_test::values;

namespace {

// Logits [B, 2] = [Σ_p x_p, 0]: class 0's logit is the pixel sum, class 1's is 0.
at::Tensor sum_model(const at::Tensor& x) {
    const at::Tensor s = x.flatten(1).sum(1);
    return at::stack({s, at::zeros_like(s)}, 1);
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Input [[1, 2], [3, 4]]; map order (descending) is pixel 1 (2), pixel 2 (3), pixel 3 (4), pixel 0 (1).
const at::Tensor& image() {
    static const at::Tensor x = values({1, 2, 3, 4}, {1, 1, 2, 2});
    return x;
}
const at::Tensor& saliency() {
    static const at::Tensor m = values({0.1f, 0.4f, 0.3f, 0.2f}, {1, 2, 2});
    return m;
}

}  // namespace

TEST(Faithfulness, DeletionCurveByHand) {
    ct::faithfulness_options opt;
    opt.steps = 4;
    const auto c = ct::deletion_curve(sum_model, image(), saliency(), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.fractions), {0, 0.25, 0.5, 0.75, 1});
    expect_near_all(to_vec(c.scores), {10, 8, 5, 1, 0});
    // 0.25 · ((10+8)/2 + (8+5)/2 + (5+1)/2 + (1+0)/2) = 0.25 · 19
    expect_near_all(to_vec(c.auc), {4.75});
}

TEST(Faithfulness, InsertionCurveByHand) {
    ct::faithfulness_options opt;
    opt.steps = 4;
    const auto c = ct::insertion_curve(sum_model, image(), saliency(), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.scores), {0, 2, 5, 9, 10});
    expect_near_all(to_vec(c.auc), {0.25 * (1 + 3.5 + 7 + 9.5)});
}

TEST(Faithfulness, UnevenStepsUseFloorAndTrapezoid) {
    ct::faithfulness_options opt;
    opt.steps = 3;  // k_t = floor(t·4/3) = 0, 1, 2, 4
    const auto c = ct::deletion_curve(sum_model, image(), saliency(), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.fractions), {0, 0.25, 0.5, 1});
    expect_near_all(to_vec(c.scores), {10, 8, 5, 0});
    expect_near_all(to_vec(c.auc), {0.25 * 9 + 0.25 * 6.5 + 0.5 * 2.5});
}

TEST(Faithfulness, ProbabilityScoreIsSoftmaxOfTheClass) {
    ct::faithfulness_options opt;
    opt.steps = 4;
    const std::vector<std::int64_t> cls{0};
    const auto c = ct::deletion_curve(sum_model, image(), saliency(), cls, opt);
    // softmax([s, 0])[0] = sigmoid(s)
    expect_near_all(to_vec(c.scores), {sigmoid(10), sigmoid(8), sigmoid(5), sigmoid(1), sigmoid(0)});
    const std::vector<std::int64_t> cls1{1};
    const auto c1 = ct::deletion_curve(sum_model, image(), saliency(), cls1, opt);
    expect_near_all(to_vec(c1.scores), {sigmoid(-10), sigmoid(-8), sigmoid(-5), sigmoid(-1), sigmoid(0)});
}

TEST(Faithfulness, TiesKeepFlatIndexOrder) {
    ct::faithfulness_options opt;
    opt.steps = 4;
    const auto c = ct::deletion_curve(sum_model, image(), at::ones({1, 2, 2}), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.scores), {10, 9, 7, 4, 0});
}

TEST(Faithfulness, BatchedChunksEqualOneBigBatchAndReportProgress) {
    // Two samples with their own maps and classes; a batch size of 3 splits rows across samples.
    const at::Tensor x = at::cat({image(), image() * -1}, 0);
    const at::Tensor maps = at::cat({saliency(), values({0.9f, 0.1f, 0.5f, 0.7f}, {1, 2, 2})}, 0);
    const std::vector<std::int64_t> cls{0, 1};
    ct::faithfulness_options opt;
    opt.steps = 4;
    opt.batch_size = 3;
    std::vector<std::int64_t> done;
    opt.progress = [&](std::int64_t d, std::int64_t total) {
        EXPECT_EQ(total, 4);  // 2 samples × 5 points = 10 rows in chunks of 3
        done.push_back(d);
    };
    const auto small = ct::insertion_curve(sum_model, x, maps, ct::class_logit{cls}, opt);
    EXPECT_EQ(done, (std::vector<std::int64_t>{1, 2, 3, 4}));
    opt.batch_size = 100;
    opt.progress = {};
    const auto big = ct::insertion_curve(sum_model, x, maps, ct::class_logit{cls}, opt);
    EXPECT_TRUE(at::allclose(small.scores, big.scores));
    // Sample 1: x = −[1, 2, 3, 4], class 1 logit is 0 always.
    expect_near_all(to_vec(small.scores.select(0, 0)), {0, 2, 5, 9, 10});
    expect_near_all(to_vec(small.scores.select(0, 1)), {0, 0, 0, 0, 0});
    // Class 0 for the second sample: order pixels 0 (0.9), 3 (0.7), 2 (0.5), 1 (0.1) of −x.
    const auto c0 = ct::insertion_curve(sum_model, x, maps, ct::class_logit{{0, 0}}, opt);
    expect_near_all(to_vec(c0.scores.select(0, 1)), {0, -1, -5, -8, -10});
}

TEST(Faithfulness, BlurBaselineOfConstantImageIsConstant) {
    ct::faithfulness_options opt;
    opt.steps = 4;
    opt.baseline = ct::baseline_kind::blur;
    opt.blur_sigma = 1.5;
    const at::Tensor x = at::full({1, 3, 5, 6}, 0.5f);
    const auto c = ct::deletion_curve(sum_model, x, at::rand({1, 5, 6}), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.scores), {45, 45, 45, 45, 45}, 1e-3);
}

TEST(Faithfulness, GaussianBlurOfAnImpulse) {
    at::Tensor x = at::zeros({1, 1, 1, 21});
    x.index_put_({0, 0, 0, 10}, 1.0f);
    const at::Tensor y = ct::detail::gaussian_blur(x, 1.0);
    double z = 0;
    for (int i = -3; i <= 3; ++i) z += std::exp(-i * i / 2.0);
    const auto v = to_vec(y);
    EXPECT_NEAR(v[10], 1.0 / z, 1e-6);
    EXPECT_NEAR(v[12], std::exp(-2.0) / z, 1e-6);
    EXPECT_NEAR(v[12], v[8], 1e-7);
    EXPECT_NEAR(v[14], 0.0, 1e-7);  // beyond the radius 3σ
    EXPECT_NEAR(y.sum().item<double>(), 1.0, 1e-6);
}

TEST(Faithfulness, OneAndThreeSpatialAxes) {
    ct::faithfulness_options opt;
    opt.steps = 2;
    const at::Tensor x1 = values({1, 2, 3, 4}, {1, 1, 4});
    const auto c1 = ct::deletion_curve(sum_model, x1, values({4, 3, 2, 1}, {1, 4}), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c1.scores), {10, 7, 0});
    const at::Tensor x3 = values({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 2, 2});
    const auto c3 = ct::insertion_curve(sum_model, x3, x3.squeeze(1), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c3.scores), {0, 26, 36});
}

TEST(Faithfulness, TorchScriptModule) {
    torch::jit::Module m("sum_model");
    m.define(R"(
def forward(self, x):
    s = x.flatten(1).sum(1)
    return torch.stack([s, torch.zeros_like(s)], 1)
)");
    ct::faithfulness_options opt;
    opt.steps = 4;
    const auto c = ct::deletion_curve(m, image(), saliency(), ct::class_logit{{0}}, opt);
    expect_near_all(to_vec(c.scores), {10, 8, 5, 1, 0});
}

TEST(Faithfulness, AverageDropAndIncreaseByHand) {
    // Y = sigmoid(Σx), O = sigmoid(Σ x·m).
    const at::Tensor x = at::cat({at::ones({1, 1, 2, 2}), at::ones({1, 1, 2, 2}), -at::ones({1, 1, 2, 2})}, 0);
    const at::Tensor m = at::cat({at::full({1, 2, 2}, 0.5f), at::ones({1, 2, 2}), at::full({1, 2, 2}, 0.5f)}, 0);
    const std::vector<std::int64_t> cls{0, 0, 0};
    const auto r = ct::confidence_drop(sum_model, x, m, cls, /*batch_size=*/2);
    expect_near_all(to_vec(r.original), {sigmoid(4), sigmoid(4), sigmoid(-4)});
    expect_near_all(to_vec(r.explained), {sigmoid(2), sigmoid(4), sigmoid(-2)});
    const double drop0 = (sigmoid(4) - sigmoid(2)) / sigmoid(4);
    EXPECT_NEAR(r.average_drop, 100.0 * drop0 / 3.0, 1e-4);
    EXPECT_NEAR(r.increase_in_confidence, 100.0 / 3.0, 1e-4);
}

TEST(Faithfulness, ErrorPaths) {
    const std::vector<std::int64_t> one{0};
    ct::faithfulness_options opt;
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, image(), at::ones({1, 2, 3}), one, opt); })
                  .find("maps must be [N, *S] = [1, 2, 2]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] {
                  ct::deletion_curve(sum_model, image(), saliency(), std::vector<std::int64_t>{0, 1}, opt);
              }).find("classes holds 2 entries but the batch has 1"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] {
                  ct::insertion_curve(sum_model, image(), saliency(), std::vector<std::int64_t>{5}, opt);
              }).find("classes[0] = 5 is out of range for a model output with 2 classes"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, at::ones({1, 4}), saliency(), one, opt); })
                  .find("input must be [N, C, L]"),
              std::string::npos);
    opt.steps = 0;
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, image(), saliency(), one, opt); }).find("steps must be ≥ 1"),
              std::string::npos);
    opt.steps = 4;
    opt.batch_size = 0;
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, image(), saliency(), one, opt); })
                  .find("batch_size must be ≥ 1"),
              std::string::npos);
    opt.batch_size = 8;
    opt.baseline = ct::baseline_kind::blur;
    opt.blur_sigma = 0;
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, image(), saliency(), one, opt); })
                  .find("blur_sigma must be a positive number"),
              std::string::npos);
    opt.baseline = ct::baseline_kind::zeros;
    auto bad_score = [](const at::Tensor& out, const at::Tensor&) { return out; };
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(sum_model, image(), saliency(), bad_score, opt); })
                  .find("score: must return one value per output row"),
              std::string::npos);
    auto bad_model = [](const at::Tensor& x) { return x.flatten(1).sum(1); };
    EXPECT_NE(camkit_test::error_message([&] { ct::deletion_curve(bad_model, image(), saliency(), one, opt); })
                  .find("model: output must be [B, C, ...]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { ct::confidence_drop(sum_model, image(), saliency(), one, 0); })
                  .find("batch_size must be ≥ 1"),
              std::string::npos);
}
