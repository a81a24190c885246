// Non-linear targets of the LibTorch adapter (explain.hpp): the probability of a class (softmax),
// of a one-channel output (sigmoid), the mean probability over a mask, any score callable, and
// each sample's predicted class when no target is given. Seeds are checked against their closed
// forms on hand-picked logits, and whole gradients against autograd through the model.
// This file includes no TorchScript header: taps, the tensor ops and autograd capture compile without them.
#include <camkit/methods/grad_cam.hpp>
#include <camkit/targets.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/faithfulness.hpp>
#include <camkit/torch/score_cam.hpp>

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "torch/torch_testing.hpp"

namespace torch::jit {
struct Module;  // declared here only to show that nothing above defined it
}

namespace {
template <class T>
concept complete_type = requires { sizeof(T); };
}  // namespace

static_assert(!complete_type<torch::jit::Module>,
              "capture.hpp, explain.hpp, score_cam.hpp and faithfulness.hpp must not need LibTorch's JIT headers");

namespace ct = camkit::torch;
using camkit_test::close;
using camkit_test::doubles;

namespace {

// conv (2 → K = 3, 3×3, padding 1) → tap → global average pool → linear (3 → C). For an output
// seed s [N, C], the gradient at the tap is G[n, k, :] = Σ_c s[n, c] W[c, k] / |S|.
struct tiny_net {
    explicit tiny_net(std::int64_t classes) {
        at::manual_seed(3);
        conv_w = at::randn({3, 2, 3, 3}).requires_grad_();
        conv_b = at::randn({3}).requires_grad_();
        fc_w = at::randn({classes, 3}).requires_grad_();
        fc_b = at::randn({classes}).requires_grad_();
    }
    at::Tensor conv_w, conv_b, fc_w, fc_b;
    ct::tap tap;
    at::Tensor operator()(const at::Tensor& x) const {
        return at::linear(tap(at::conv2d(x, conv_w, conv_b, 1, 1)).mean({2, 3}), fc_w, fc_b);
    }
    // G from an output seed [N, C], for S spatial positions of shape [h, w].
    at::Tensor gradient_for(const at::Tensor& seed, std::int64_t h, std::int64_t w) const {
        const at::Tensor per_channel = at::matmul(seed.to(at::kFloat), fc_w.detach()) / static_cast<float>(h * w);
        return per_channel.unsqueeze(-1).unsqueeze(-1).expand({seed.size(0), 3, h, w});
    }
};

}  // namespace

// Softmax probability of a class: with logits ln[1, 2, 5] the probabilities are [1, 2, 5] / 8, and
// the seed ∂p_c/∂y_j = p_c (δ_cj − p_j): for c = 2 it is 5/8 · [−1/8, −2/8, 3/8].
TEST(TorchTargets, SoftmaxSeedByHand) {
    const at::Tensor y = at::log(doubles({1, 2, 5, 1, 1, 2}, {2, 3}));
    const ct::probability_score p{{camkit::class_score(2), camkit::class_score(0)}};
    const auto r = ct::seed_and_score(y, p);
    EXPECT_TRUE(close(r.scores, doubles({5.0 / 8, 1.0 / 4}, {2}), 1e-15));
    // Row 2: p = [1, 1, 2] / 4, c = 0: p_0 (δ − p) = 1/4 · [3/4, −1/4, −2/4].
    EXPECT_TRUE(close(r.seed, doubles({-5.0 / 64, -10.0 / 64, 15.0 / 64, 3.0 / 16, -1.0 / 16, -2.0 / 16}, {2, 3}), 1e-15));
    EXPECT_EQ(r.seed.scalar_type(), at::kDouble);
    // In float, the same numbers to float precision, and the result of autograd on softmax directly.
    const auto f = ct::seed_and_score(y.to(at::kFloat), p);
    EXPECT_EQ(f.seed.scalar_type(), at::kFloat);
    EXPECT_TRUE(close(f.seed, r.seed, 1e-7));
    const at::Tensor yy = y.clone().requires_grad_();
    const at::Tensor probs = at::softmax(yy, 1);
    (probs[0][2] + probs[1][0]).backward();
    EXPECT_TRUE(close(r.seed, yy.grad(), 1e-15));
}

// probability_score's targets built from the output itself (from_output, used while `targets` is
// empty): each row's predicted class, here 2 and 0; the same scores and seeds as given targets, the
// output handed over detached, and the maker's errors passed through.
TEST(TorchTargets, SoftmaxTargetsFromTheOutput) {
    const at::Tensor y = at::log(doubles({1, 2, 5, 1, 1, 2}, {2, 3}) * doubles({1, 1, 1, 3, 1, 1}, {2, 3}));
    bool detached = false;
    const ct::probability_score built{{}, [&](const at::Tensor& out) {
                                          detached = !out.requires_grad();
                                          return ct::predicted_class_targets(out);
                                      }};
    const ct::probability_score given{{camkit::class_score(2), camkit::class_score(0)}};
    const at::Tensor yy = y.clone().requires_grad_();
    const auto a = ct::seed_and_score(yy, built), b = ct::seed_and_score(y, given);
    EXPECT_TRUE(detached);
    EXPECT_TRUE(close(a.scores, b.scores, 0.0));
    EXPECT_TRUE(close(a.seed, b.seed, 0.0));
    EXPECT_TRUE(close(b.scores, doubles({5.0 / 8, 3.0 / 6}, {2}), 1e-15));
    // Given targets win over the maker; a maker's wrong count is the seed's error.
    const ct::probability_score both{{camkit::class_score(1), camkit::class_score(1)}, built.from_output};
    EXPECT_TRUE(close(ct::seed_and_score(y, both).scores, doubles({2.0 / 8, 1.0 / 6}, {2}), 1e-15));
    const ct::probability_score one{{}, [](const at::Tensor&) { return std::vector<camkit::target>{camkit::class_score(0)}; }};
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, one), "targets: 1 given for a batch of 2");
}

// A one-channel output is a sigmoid: class 1 scores σ(y), class 0 scores 1 − σ(y). With y = ln 3,
// σ = 3/4 and the seed is σ(1 − σ) = 3/16; with y = 0 and class 0 the score is 1/2 and the seed −1/4.
TEST(TorchTargets, SigmoidSeedByHand) {
    const at::Tensor y = doubles({std::log(3.0), 0.0}, {2, 1});
    const auto r = ct::seed_and_score(y, ct::probability_score{{camkit::class_score(1), camkit::class_score(0)}});
    EXPECT_TRUE(close(r.scores, doubles({0.75, 0.5}, {2}), 1e-15));
    EXPECT_TRUE(close(r.seed, doubles({3.0 / 16, -0.25}, {2, 1}), 1e-15));
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, ct::probability_score{{camkit::class_score(2), camkit::class_score(0)}}),
                     "targets[0].class_index = 2 is out of range for C = 2 classes");
}

// The mean softmax probability of class 1 over a mask (segmentation [1, 2, 1, 2]): at position 0
// the logits [0, ln 3] give p_1 = 3/4, at position 1 [0, 0] give 1/2. Over both positions the score
// is 5/8 and the seed at p is ±(1/2) p_1 p_0: ±3/32 and ±1/8; over position 0 alone it is 3/4 and ±3/16.
TEST(TorchTargets, MeanProbabilityOverAMaskByHand) {
    const at::Tensor y = doubles({0, 0, std::log(3.0), 0}, {1, 2, 1, 2});
    const auto both = ct::seed_and_score(y, ct::probability_score{{camkit::mask_mean(1, camkit::tensor<float>({1, 2}, 1.f))}});
    EXPECT_TRUE(close(both.scores, doubles({5.0 / 8}, {1}), 1e-15));
    EXPECT_TRUE(close(both.seed, doubles({-3.0 / 32, -1.0 / 8, 3.0 / 32, 1.0 / 8}, {1, 2, 1, 2}), 1e-15));
    const auto first = ct::seed_and_score(
        y, ct::probability_score{{camkit::mask_mean(1, camkit::tensor<float>({1, 2}, std::vector<float>{1, 0}))}});
    EXPECT_TRUE(close(first.scores, doubles({0.75}, {1}), 1e-15));
    EXPECT_TRUE(close(first.seed, doubles({-3.0 / 16, 0, 3.0 / 16, 0}, {1, 2, 1, 2}), 1e-15));
}

// Any callable of the output: score = y_0 · y_1 has the seed [y_1, y_0].
TEST(TorchTargets, UserScoreByHand) {
    const at::Tensor y = doubles({2, 3, -1, 5}, {2, 2});
    auto product = [](const at::Tensor& out) { return out.select(1, 0) * out.select(1, 1); };
    const auto r = ct::seed_and_score(y, product);
    EXPECT_TRUE(close(r.scores, doubles({6, -5}, {2}), 0));
    EXPECT_TRUE(close(r.seed, doubles({3, 2, 5, -1}, {2, 2}), 0));
}

// Through a model: G at the tap is Σ_c seed[n, c] W[c, k] / |S| with the softmax seed of the
// model's own output, equal to autograd of softmax(model(x)) with retain_grad on the layer.
TEST(TorchTargets, ProbabilityGradientsThroughTheModel) {
    tiny_net net(3);
    at::manual_seed(4);
    const at::Tensor x = at::randn({2, 2, 4, 5});
    const std::vector<camkit::target> classes = {camkit::class_score(1), camkit::class_score(2)};
    const ct::captured c = ct::capture_gradients(net, x, net.tap, ct::probability_score{classes});
    const at::Tensor p = at::softmax(c.output.to(at::kDouble), 1);
    at::Tensor seed = at::zeros({2, 3}, at::kDouble);
    for (std::int64_t n = 0; n < 2; ++n) {
        const std::int64_t cls = n == 0 ? 1 : 2;
        for (std::int64_t j = 0; j < 3; ++j)
            seed[n][j] = p[n][cls].item<double>() * ((j == cls ? 1.0 : 0.0) - p[n][j].item<double>());
        EXPECT_NEAR(c.scores[n].item<float>(), p[n][cls].item<double>(), 1e-7);
    }
    EXPECT_TRUE(close(c.gradients, net.gradient_for(seed, 4, 5), 1e-7));
    // The same with autograd through the model and softmax, by hand.
    at::Tensor a = at::conv2d(x, net.conv_w, net.conv_b, 1, 1);
    a.retain_grad();
    const at::Tensor probs = at::softmax(at::linear(a.mean({2, 3}), net.fc_w, net.fc_b), 1);
    (probs[0][1] + probs[1][2]).backward();
    EXPECT_TRUE(close(c.gradients, a.grad(), 1e-7));
    for (at::Tensor* t : {&net.conv_w, &net.conv_b, &net.fc_w, &net.fc_b}) t->mutable_grad() = at::Tensor();
    // The maps follow the gradients: Grad-CAM's weights are the per-channel mean of G.
    const auto e = ct::explain<camkit::grad_cam>(net, x, net.tap, ct::probability_score{classes});
    EXPECT_TRUE(close(*e.cam.weights, net.gradient_for(seed, 1, 1).flatten(1) / 20.0, 1e-7));
    // A linear target keeps its direct seed: G = W[c] / |S|.
    const ct::captured lin = ct::capture_gradients(net, x, net.tap, classes);
    EXPECT_TRUE(close(lin.gradients, net.gradient_for(at::one_hot(at::tensor({1, 2}, at::kLong), 3), 4, 5), 1e-7));
}

// Without a target, each sample's predicted class is explained: argmax for C ≥ 2, and for a
// one-channel output class 1 where y > 0; a segmentation output needs its targets.
TEST(TorchTargets, PredictedClassWithoutATarget) {
    tiny_net net(4);
    at::manual_seed(5);
    const at::Tensor x = at::randn({3, 2, 4, 5});
    const ct::captured c = ct::capture_gradients(net, x, net.tap);
    const at::Tensor pred = c.output.argmax(1);
    EXPECT_TRUE(close(c.scores, c.output.amax(1), 0));
    EXPECT_TRUE(close(c.gradients, net.gradient_for(at::one_hot(pred, 4), 4, 5), 1e-7));
    const auto targets = ct::predicted_class_targets(doubles({0.5, -2, 0}, {3, 1}));
    ASSERT_EQ(targets.size(), 3u);
    EXPECT_EQ(targets[0].class_index, 1u);
    EXPECT_EQ(targets[1].class_index, 0u);
    EXPECT_EQ(targets[2].class_index, 0u);
    EXPECT_FALSE(targets[0].mask.has_value());
    CAMKIT_EXPECT_ERROR_HAS(ct::predicted_class_targets(at::zeros({1, 3, 2, 2})),
                     "predicted class: explaining without a target needs a classifier output [N, C], the model "
                     "gives [1, 3, 2, 2]");
    CAMKIT_EXPECT_ERROR_HAS(ct::predicted_class_targets(at::Tensor()), "predicted class: the model output is an undefined tensor");
}

// Targets that read the output's values (targets_from_output) are built from the output of the
// explanation's own forward pass: the model runs once, `make` sees that output detached, and the
// result equals the same targets given directly (and G its closed form). Here each sample's
// second-best class, a rule only the output's values decide.
TEST(TorchTargets, TargetsFromTheOutputOfTheExplanationsOwnForward) {
    tiny_net net(4);
    at::manual_seed(6);
    const at::Tensor x = at::randn({3, 2, 4, 5});
    int calls = 0;
    auto counted = [&](const at::Tensor& in) {
        ++calls;
        return net(in);
    };
    auto second_best = [](const at::Tensor& y) {
        const at::Tensor order = y.argsort(1, /*descending=*/true).select(1, 1);
        std::vector<camkit::target> t;
        for (std::int64_t n = 0; n < y.size(0); ++n)
            t.push_back(camkit::class_score(static_cast<std::size_t>(order[n].item<std::int64_t>())));
        return t;
    };
    at::Tensor seen;
    const ct::targets_from_output rule{[&](const at::Tensor& y) {
        seen = y;
        return second_best(y);
    }};
    const auto got = ct::explain<camkit::grad_cam>(counted, x, net.tap, rule);
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(seen.defined());
    EXPECT_FALSE(seen.requires_grad());
    EXPECT_TRUE(close(seen, got.output, 0));

    const std::vector<camkit::target> direct = second_best(net(x).detach());
    const at::Tensor classes = at::tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(direct[0].class_index),
                                                                    static_cast<std::int64_t>(direct[1].class_index),
                                                                    static_cast<std::int64_t>(direct[2].class_index)});
    const auto want = ct::explain<camkit::grad_cam>(net, x, net.tap, direct);
    EXPECT_TRUE(close(got.scores, want.scores, 0));
    EXPECT_TRUE(close(got.gradients, want.gradients, 0));
    EXPECT_TRUE(close(got.cam.map, want.cam.map, 0));
    EXPECT_TRUE(close(got.gradients, net.gradient_for(at::one_hot(classes, 4), 4, 5), 1e-7));
    EXPECT_TRUE(close(got.scores, got.output.gather(1, classes.unsqueeze(1)).squeeze(1), 0));

    // Score-CAM scores the masked inputs with the targets built from its recording forward.
    calls = 0;
    const auto score_got = ct::score_cam(counted, x, net.tap, rule);
    EXPECT_EQ(calls, 2);  // the recording forward, then the N·K = 9 masked inputs in one batch (16 a pass)
    EXPECT_TRUE(close(score_got.map, ct::score_cam(net, x, net.tap, direct).map, 0));

    CAMKIT_EXPECT_ERROR_HAS(ct::objective(ct::targets_from_output{}), "targets_from_output: `make` is empty");
    const ct::targets_from_output too_few{[](const at::Tensor&) { return std::vector<camkit::target>(2, camkit::class_score(0)); }};
    CAMKIT_EXPECT_ERROR_HAS(ct::explain<camkit::grad_cam>(net, x, net.tap, too_few), "targets: 2 given for a batch of 3");
    CAMKIT_EXPECT_ERROR_HAS(ct::objective(too_few).seed_and_score(at::Tensor()),
                            "targets_from_output: the model output is an undefined tensor");
}

// A score that is not one floating-point value per sample, or that ignores the output, is refused.
TEST(TorchTargets, ScoreErrors) {
    const at::Tensor y = at::zeros({2, 3});
    auto whole = [](const at::Tensor& out) { return out; };
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, whole), "score: must return one value per sample, [N] = [2], got shape [2, 3]");
    auto nothing = [](const at::Tensor&) { return at::Tensor(); };
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, nothing), "score: must return one value per sample, [N] = [2], got undefined");
    auto counts = [](const at::Tensor& out) { return out.argmax(1); };
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, counts), "score: must return floating-point values");
    auto constant = [](const at::Tensor&) { return at::ones({2}); };
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, constant), "score: the score does not depend on the model output");
    const at::Tensor w = at::ones({2}).requires_grad_();
    auto elsewhere = [&](const at::Tensor&) { return w * 2; };
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, elsewhere), "score: the score does not depend on the model output");
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(at::Tensor(), whole), "score: the model output is an undefined tensor");
    CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(at::Tensor(), std::vector<camkit::target>{}),
                     "targets: the model output is an undefined tensor");
    CAMKIT_EXPECT_ERROR_HAS(ct::probability_score{{camkit::class_score(0)}}(at::zeros({2})),
                     "class probabilities: the model output must be [N, C] or [N, C, *P], got shape [2]");
    {
        c10::InferenceMode guard;
        CAMKIT_EXPECT_ERROR_HAS(ct::seed_and_score(y, whole), "score: c10::InferenceMode is active");
    }
    tiny_net net(2);
    const at::Tensor x = at::ones({1, 2, 3, 3});
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, net.tap, ct::probability_score{{camkit::class_score(0), camkit::class_score(1)}}),
                     "targets: 2 given for a batch of 1");
}
