// Score-CAM on models small enough to compute every score by hand: a model where one activation
// channel alone carries the class, the per-channel upsampling and normalization seen through a model
// that outputs its input, chunking, TorchScript, and agreement with a channel-by-channel loop.
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/scripted.hpp>  // TorchScript models and named layers

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

// Logits [B, 2]: class 0 = 5·x[0, 0], class 1 = 5·x[1, 1] of a 2×2 one-channel image.
at::Tensor corner_model(const at::Tensor& x) {
    return at::stack({5 * x.select(1, 0).select(1, 0).select(1, 0), 5 * x.select(1, 0).select(1, 1).select(1, 1)}, 1);
}

// Channel 0 covers pixel (0, 0), channel 1 covers pixel (1, 1): only channel 0 carries class 0.
at::Tensor corner_activations() { return values({1, 0, 0, 0, 0, 0, 0, 1}, {1, 2, 2, 2}); }

}  // namespace

TEST(ScoreCam, OneChannelCarriesTheClass) {
    const at::Tensor x = at::ones({1, 1, 2, 2});
    const std::vector<std::int64_t> cls{0};
    camkit::options opt;
    const auto r = ct::score_cam(corner_model, x, corner_activations(), cls, opt);
    // Masked input with channel 0 keeps pixel (0, 0): logit 5; channel 1 removes it: logit 0.
    expect_near_all(to_vec(r.scores), {5, 0});
    const double w0 = std::exp(5.0) / (std::exp(5.0) + 1), w1 = 1 / (std::exp(5.0) + 1);
    expect_near_all(to_vec(r.weights), {w0, w1});
    expect_near_all(to_vec(r.raw), {w0, 0, 0, w1});
    expect_near_all(to_vec(r.map), {w0 / (w0 + 1e-7), 0, 0, w1 / (w0 + 1e-7)});

    // The other class swaps the roles.
    const std::vector<std::int64_t> cls1{1};
    const auto r1 = ct::score_cam(corner_model, x, corner_activations(), cls1, opt);
    expect_near_all(to_vec(r1.scores), {0, 5});
    expect_near_all(to_vec(r1.raw), {w1, 0, 0, w0});
}

TEST(ScoreCam, WithoutSoftmaxTheScoresAreTheWeights) {
    ct::score_cam_options sopt;
    sopt.softmax = false;
    camkit::options opt;
    opt.normalize = camkit::normalization::none;
    const std::vector<std::int64_t> cls{0};
    const auto r = ct::score_cam(corner_model, at::full({1, 1, 2, 2}, 2.0f), corner_activations(), cls, opt, sopt);
    expect_near_all(to_vec(r.weights), {10, 0});
    expect_near_all(to_vec(r.raw), {10, 0, 0, 0});
    expect_near_all(to_vec(r.map), {10, 0, 0, 0});
}

// A model whose logits are its input pixels: class p's score on a masked input of ones is the
// normalized, upsampled activation at p, so the masks are visible one value at a time.
TEST(ScoreCam, UpsamplingAndPerChannelNormalization) {
    auto identity_logits = [](const at::Tensor& x) { return x.flatten(1); };
    // One channel A = [0, 3] upsampled to 4 positions; four samples ask for positions 0..3.
    const at::Tensor A = values({0, 3}, {1, 1, 2}).expand({4, 1, 2}).contiguous();
    const at::Tensor x = at::ones({4, 1, 4});
    const std::vector<std::int64_t> cls{0, 1, 2, 3};
    ct::score_cam_options sopt;  // align_corners = true: src = d·(2−1)/(4−1)
    auto r = ct::score_cam(identity_logits, x, A, cls, {}, sopt);
    expect_near_all(to_vec(r.scores), {0, 1.0 / 3, 2.0 / 3, 1}, 1e-6);
    sopt.align_corners = false;  // half-pixel centres: src = (d + 0.5)/2 − 0.5, clamped
    r = ct::score_cam(identity_logits, x, A, cls, {}, sopt);
    expect_near_all(to_vec(r.scores), {0, 0.25, 0.75, 1}, 1e-6);
    // A constant channel normalizes to all zeros (eps keeps it finite).
    r = ct::score_cam(identity_logits, x, at::full({4, 1, 2}, 7.0f), cls, {}, sopt);
    expect_near_all(to_vec(r.scores), {0, 0, 0, 0});
}

TEST(ScoreCam, BatchedChunksProgressAndTorchScript) {
    // 2 samples × 3 channels, a conv-like model: logits = per-class weighted sums of the input.
    at::manual_seed(3);
    const at::Tensor head = at::randn({4, 2 * 6 * 6});
    auto model = [&](const at::Tensor& x) { return at::matmul(x.flatten(1), head.t()); };
    const at::Tensor x = at::rand({2, 2, 6, 6});
    const at::Tensor A = at::rand({2, 3, 3, 3});
    const std::vector<std::int64_t> cls{1, 3};
    camkit::options opt;
    opt.size = {6, 6};
    ct::score_cam_options sopt;
    sopt.batch_size = 4;  // 6 rows in chunks of 4: the second chunk spans both samples
    std::vector<std::int64_t> calls;
    sopt.progress = [&](std::int64_t done, std::int64_t total) {
        EXPECT_EQ(total, 2);
        calls.push_back(done);
    };
    const auto chunked = ct::score_cam(model, x, A, cls, opt, sopt);
    EXPECT_EQ(calls, (std::vector<std::int64_t>{1, 2}));

    // The same thing one channel at a time, written out.
    const at::Tensor up = at::upsample_bilinear2d(A, {6, 6}, true);
    for (std::int64_t n = 0; n < 2; ++n) {
        for (std::int64_t k = 0; k < 3; ++k) {
            at::Tensor m = up[n][k];
            m = (m - m.min()) / (m.max() - m.min() + 1e-8);
            const double s = model((x[n] * m).unsqueeze(0))[0][cls[static_cast<std::size_t>(n)]].item<double>();
            EXPECT_NEAR(chunked.scores[n][k].item<double>(), s, 1e-4 * (1 + std::abs(s)));
        }
    }
    const at::Tensor w = at::softmax(chunked.scores, 1);
    const at::Tensor raw = (w.view({2, 3, 1, 1}) * A).sum(1);
    EXPECT_TRUE(at::allclose(chunked.raw, raw, 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(chunked.map, ct::finish_map(raw, opt), 1e-5, 1e-6));
    EXPECT_EQ(chunked.map.sizes(), (std::vector<std::int64_t>{2, 6, 6}));

    sopt.batch_size = 64;
    sopt.progress = {};
    const auto whole = ct::score_cam(model, x, A, cls, opt, sopt);
    EXPECT_TRUE(at::allclose(whole.scores, chunked.scores, 1e-5, 1e-6));

    torch::jit::Module m("linear_model");
    m.register_buffer("head", head);
    m.define(R"(
def forward(self, x):
    return torch.matmul(x.flatten(1), self.head.t())
)");
    const auto scripted = ct::score_cam(m, x, A, cls, opt, sopt);
    EXPECT_TRUE(at::allclose(scripted.map, whole.map, 1e-5, 1e-6));
}

TEST(ScoreCam, MaskScoreForSegmentation) {
    // Output = input itself as one class plane [B, 1, 2, 2] plus its negative; score = Σ over a mask.
    auto seg = [](const at::Tensor& x) { return at::cat({x, -x}, 1); };
    const at::Tensor x = at::ones({1, 1, 2, 2});
    ct::class_mask_score score{{0}, values({1, 1, 0, 0}, {2, 2})};
    ct::score_cam_options sopt;
    sopt.softmax = false;
    const auto r = ct::score_cam(seg, x, corner_activations(), score, {}, sopt);
    expect_near_all(to_vec(r.scores), {1, 0});  // channel 0 keeps pixel (0,0) inside the mask
    score.mean = true;
    score.masks = values({1, 0, 0, 1}, {2, 2});
    const auto rm = ct::score_cam(seg, x, corner_activations(), score, {}, sopt);
    expect_near_all(to_vec(rm.scores), {0.5, 0.5});
}

// Several scores on the same masked forwards: each result is the one-score call's, and the model
// runs ⌈N·K / batch_size⌉ times in all, not per score.
TEST(ScoreCam, ManyScoresShareTheMaskedForwards) {
    at::manual_seed(11);
    const at::Tensor head = at::randn({3, 1 * 4 * 4});
    int forwards = 0;
    auto model = [&](const at::Tensor& x) {
        ++forwards;
        return at::matmul(x.flatten(1), head.t());
    };
    const at::Tensor x = at::rand({2, 1, 4, 4});
    const at::Tensor A = at::rand({2, 5, 2, 2});
    ct::score_cam_options sopt;
    sopt.batch_size = 4;  // 10 rows: 3 passes
    std::vector<ct::class_logit> scores{ct::class_logit{{0, 2}}, ct::class_logit{{1, 1}}, ct::class_logit{{2, 0}}};
    std::vector<std::int64_t> progress;
    sopt.progress = [&](std::int64_t done, std::int64_t total) { progress.push_back(done * 10 + total); };
    const auto many = ct::score_cam_many(model, x, A, std::span<const ct::class_logit>(scores), {}, sopt);
    EXPECT_EQ(forwards, 3);
    EXPECT_EQ(progress, (std::vector<std::int64_t>{13, 23, 33}));
    ASSERT_EQ(many.size(), 3u);
    sopt.progress = {};
    for (std::size_t i = 0; i < scores.size(); ++i) {
        forwards = 0;
        const auto one = ct::score_cam(model, x, A, scores[i], {}, sopt);
        EXPECT_EQ(forwards, 3);
        EXPECT_TRUE(at::equal(many[i].scores, one.scores)) << i;
        EXPECT_TRUE(at::equal(many[i].weights, one.weights)) << i;
        EXPECT_TRUE(at::equal(many[i].raw, one.raw)) << i;
        EXPECT_TRUE(at::equal(many[i].map, one.map)) << i;
    }
    // The scores differ between targets (the test would not tell them apart otherwise).
    EXPECT_FALSE(at::allclose(many[0].scores, many[1].scores));
    // Each score is a class's logit on the masked input, written out for one (sample, channel).
    const at::Tensor up = at::upsample_bilinear2d(A, {4, 4}, true);
    at::Tensor m = up[1][3];
    m = (m - m.min()) / (m.max() - m.min() + 1e-8);
    EXPECT_NEAR(many[0].scores[1][3].item<double>(), at::matmul((x[1] * m).flatten(), head[2]).item<double>(), 1e-5);

    const std::vector<ct::class_logit> none;
    EXPECT_NE(camkit_test::error_message([&] { ct::score_cam_many(model, x, A, std::span<const ct::class_logit>(none)); })
                  .find("score_cam_many: no scores given"),
              std::string::npos);
}

namespace {
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST(ScoreCam, ErrorPaths) {
    const at::Tensor x = at::ones({1, 1, 2, 2});
    const std::vector<std::int64_t> cls{0};
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, at::ones({2, 2, 2, 2}), cls); }),
                    "activations hold 2 samples but input holds 1"));
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, at::ones({1, 2, 2}), cls); }),
                    "as many spatial axes as input"));
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, corner_activations(), std::vector<std::int64_t>{0, 1}); }),
                    "classes holds 2 entries but the batch has 1"));
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, corner_activations(), std::vector<std::int64_t>{2}); }),
                    "classes[0] = 2 is out of range for a model output with 2 classes"));
    ct::score_cam_options sopt;
    sopt.batch_size = 0;
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, corner_activations(), cls, {}, sopt); }),
                    "batch_size must be ≥ 1"));
    camkit::options opt;
    opt.size = {4};
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(corner_model, x, corner_activations(), cls, opt); }),
                    "options.size [4] must give one extent per spatial axis"));
    ct::class_mask_score bad{{0}, at::ones({3, 3})};
    auto seg = [](const at::Tensor& v) { return at::cat({v, -v}, 1); };
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(seg, x, corner_activations(), bad); }),
                    "masks shape [3, 3] must be [N, *S] or [*S]"));
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(seg, x, corner_activations(), ct::class_mask_score{{0}, {}}); }),
                    "masks is an undefined tensor"));
}

// Every argument check of Score-CAM and of its scores names the argument and what it expected.
TEST(ScoreCam, ArgumentErrors) {
    const at::Tensor x = at::ones({1, 1, 2, 2});
    const at::Tensor A = corner_activations();
    const std::vector<std::int64_t> cls{0};
    auto message = [&](auto&& f) { return camkit_test::error_message(f); };
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, at::ones({1, 4}), A, cls); }),
                    "input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape [1, 4]"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x.to(at::kLong), A, cls); }),
                    "input must hold floating-point values"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, at::ones({1, 1, 0, 2}), A, cls); }),
                    "input has an empty axis: shape [1, 1, 0, 2]"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, at::Tensor(), cls); }),
                    "activations must be [N, K, *s] with as many spatial axes as input [1, 1, 2, 2], got shape undefined"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, at::ones({1, 2, 0, 2}), cls); }),
                    "activations has an empty axis: shape [1, 2, 0, 2]"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, A.to(at::kInt), cls); }),
                    "activations must hold floating-point values"));
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, at::empty({1, 2, 2, 2}, at::device(at::kMeta)), cls); }),
                    "activations are on device meta but input on cpu"));
    ct::score_cam_options sopt;
    sopt.eps = -1;
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, A, cls, {}, sopt); }),
                    "score_cam_options.eps must be ≥ 0, got -1"));
    // A model whose output is not [B, C, ...], and a score with the wrong number of values.
    auto flat = [](const at::Tensor& v) { return v.flatten(1).sum(1); };
    EXPECT_TRUE(has(message([&] { ct::score_cam(flat, x, A, cls); }),
                    "model: output must be [B, C, ...] with B = 2 rows, got shape [2]"));
    auto two_per_row = [](const at::Tensor& out, const at::Tensor&) { return out; };
    EXPECT_TRUE(has(message([&] { ct::score_cam(corner_model, x, A, two_per_row); }),
                    "score: must return one value per output row (2), got shape [2, 2]"));
    // The scores alone: a class needs a [B, C, ...] output; a seed must match the output.
    const at::Tensor rows = at::zeros({2}, at::kLong);
    EXPECT_TRUE(has(message([&] { ct::class_logit{{0}}(at::ones({2}), rows); }),
                    "model: output must be [B, C, ...] to pick a class"));
    EXPECT_TRUE(has(message([&] { ct::seed_score{at::ones({1, 3})}(at::ones({2, 2}), rows); }),
                    "seed_score: seeds shape [1, 3] must be [N, C, *P] for an output of shape [2, 2]"));
    EXPECT_TRUE(has(message([&] { ct::seed_score{}(at::ones({2, 2}), rows); }),
                    "seed_score: seeds shape undefined must be [N, C, *P]"));
    // A TorchScript model that returns two tensors and no choice between them.
    torch::jit::Module pair("pair");
    pair.define("def forward(self, x):\n    return x, x\n");
    EXPECT_TRUE(has(message([&] { ct::score_cam(pair, x, A, cls); }),
                    "model: forward returns a tuple of 2 values; choose the output to explain by its index"));
}

#include <camkit/targets/class_score.hpp>

TEST(ScoreCam, NamedTorchScriptLayerAndTapWithCamkitTargets) {
    at::manual_seed(5);
    const at::Tensor w = at::rand({1, 2, 1, 1}) + 0.5;
    const at::Tensor head = at::randn({3, 2 * 4 * 4});
    const at::Tensor x = at::rand({2, 2, 4, 4});
    const at::Tensor A = at::relu(x * w);  // the layer's output, written out
    auto plain = [&](const at::Tensor& v) { return at::matmul(at::relu(v * w).flatten(1), head.t()); };
    const std::vector<std::int64_t> cls{1, 2};
    camkit::options opt;
    const auto want = ct::score_cam(plain, x, A, cls, opt);

    torch::jit::Module features("features");
    features.register_buffer("w", w);
    features.define("def forward(self, x):\n    return torch.relu(x * self.w)\n");
    torch::jit::Module net("net");
    net.register_module("features", features);
    net.register_buffer("head", head);
    net.define("def forward(self, x):\n    return torch.matmul(self.features.forward(x).flatten(1), self.head.t())\n");
    const std::vector<camkit::target> targets{camkit::class_score(1), camkit::class_score(2)};
    const auto scripted = ct::score_cam(net, "features", x, targets, opt);
    EXPECT_TRUE(at::allclose(scripted.scores, want.scores, 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(scripted.map, want.map, 1e-5, 1e-6));

    ct::tap tap;
    auto tapped = [&](const at::Tensor& v) { return at::matmul(tap(at::relu(v * w)).flatten(1), head.t()); };
    const auto from_tap = ct::score_cam(tapped, x, tap, targets, opt);
    EXPECT_TRUE(at::allclose(from_tap.scores, want.scores, 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(from_tap.map, want.map, 1e-5, 1e-6));
    EXPECT_FALSE(tap.is_recording());
    // target_scores: each sample's logit of its class on x itself; undefined given the activations.
    const at::Tensor y = plain(x);
    const std::vector<double> logits{y[0][1].item<double>(), y[1][2].item<double>()};
    expect_near_all(to_vec(scripted.target_scores), logits, 1e-5);
    expect_near_all(to_vec(from_tap.target_scores), logits, 1e-5);
    EXPECT_FALSE(want.target_scores.defined());

    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(net, "nosuch", x, targets, opt); }), "valid layers: features"));

    // Scored by probabilities: the same as pytorch-grad-cam-style class_probability on the rows.
    const auto prob_want = ct::score_cam(plain, x, A, ct::class_probability{cls}, opt);
    const ct::probability_score probs{targets};
    const auto prob_scripted = ct::score_cam(net, "features", x, probs, opt);
    const auto prob_tap = ct::score_cam(tapped, x, tap, probs, opt);
    EXPECT_TRUE(at::allclose(prob_scripted.scores, prob_want.scores, 1e-6, 1e-7));
    EXPECT_TRUE(at::allclose(prob_tap.map, prob_want.map, 1e-5, 1e-6));
    const at::Tensor p = at::softmax(y, 1);
    expect_near_all(to_vec(prob_scripted.target_scores), {p[0][1].item<double>(), p[1][2].item<double>()}, 1e-6);
    // No target: each sample's predicted class.
    const at::Tensor predicted = y.argmax(1);
    const std::vector<std::int64_t> pred_cls{predicted[0].item<std::int64_t>(), predicted[1].item<std::int64_t>()};
    const auto pred_want = ct::score_cam(plain, x, A, pred_cls, opt);
    const auto pred = ct::score_cam(tapped, x, tap);
    EXPECT_TRUE(at::allclose(pred.scores, pred_want.scores, 1e-5, 1e-6));
    const at::Tensor top = y.amax(1);
    expect_near_all(to_vec(pred.target_scores), {top[0].item<double>(), top[1].item<double>()}, 1e-5);
    // A general score callable has no per-row meaning for the masked inputs.
    auto logsumexp = [](const at::Tensor& y) { return y.logsumexp(1); };
    EXPECT_TRUE(has(camkit_test::error_message([&] { ct::score_cam(tapped, x, tap, logsumexp, opt); }),
                    "a score callable cannot score perturbed inputs (Score-CAM)"));

    // A double model scores in double (its logits exactly, as explain's scores; float rounded them
    // to 5e-6 before), and its masked scores equal the double reference's.
    const at::Tensor wd = w.to(at::kDouble), headd = head.to(at::kDouble), xd = x.to(at::kDouble);
    auto tapped_d = [&](const at::Tensor& v) { return at::matmul(tap(at::relu(v * wd)).flatten(1), headd.t()); };
    const auto dbl = ct::score_cam(tapped_d, xd, tap, targets, opt);
    const at::Tensor yd = tapped_d(xd);
    ASSERT_EQ(dbl.target_scores.scalar_type(), at::kDouble);
    EXPECT_EQ(dbl.target_scores[0].item<double>(), yd[0][1].item<double>());
    EXPECT_EQ(dbl.target_scores[1].item<double>(), yd[1][2].item<double>());
    auto plain_d = [&](const at::Tensor& v) { return at::matmul(at::relu(v * wd).flatten(1), headd.t()); };
    const auto want_d = ct::score_cam(plain_d, xd, at::relu(xd * wd), cls, opt);
    EXPECT_TRUE(at::allclose(dbl.scores, want_d.scores, 1e-12, 1e-14));
}

// The probabilities of a one-channel output score Score-CAM's masked inputs: σ for class 1, 1 − σ for class 0.
TEST(ScoreCam, ProbabilitiesOfAOneChannelOutput) {
    auto one_channel = [](const at::Tensor& v) { return (5 * v.select(1, 0).select(1, 0).select(1, 0)).unsqueeze(1); };
    const at::Tensor x = values({1, 0, 0, 0}, {1, 1, 2, 2});
    ct::tap tap;
    auto tapped = [&](const at::Tensor& v) { return one_channel(tap(v)); };
    ct::score_cam_options sopt;
    sopt.softmax = false;
    // The tap records the input itself, one channel already min-max normalized, so the masked input
    // is x and the logit 5.
    const auto r1 = ct::score_cam(tapped, x, tap, ct::probability_score{{camkit::class_score(1)}}, {}, sopt);
    expect_near_all(to_vec(r1.scores), {1 / (1 + std::exp(-5.0))});
    const auto r0 = ct::score_cam(tapped, x, tap, ct::probability_score{{camkit::class_score(0)}}, {}, sopt);
    expect_near_all(to_vec(r0.scores), {1 - 1 / (1 + std::exp(-5.0))});
}
