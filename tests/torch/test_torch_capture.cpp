// Capturing activations and gradients from real LibTorch models (adapters/torch capture.hpp and
// explain.hpp): taps in C++ code, TorchScript layers named by path, gradients checked by hand
// and against a hand-written seed backward, the in-place case, every error path, and memory.
#include <camkit/methods/registry.hpp>
#include <camkit/targets.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/scripted.hpp>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/cuda.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>
#include "common/error_message.hpp"
#include "torch/torch_testing.hpp"

namespace ct = camkit::torch;
using camkit_test::close;
using camkit_test::random_tensor;

namespace {

// conv (2 → K = 3, 3×3, padding 1) → tap → global average pool → linear (3 → 2), written with
// ATen ops. For class c the score is Σ_k W[c,k] mean_s A[k,s] + b, so G[k,s] = W[c,k] / |S|.
struct tiny_net {
    at::Tensor conv_w = random_tensor({3, 2, 3, 3}, at::kFloat, 1).requires_grad_();
    at::Tensor conv_b = random_tensor({3}, at::kFloat, 2).requires_grad_();
    at::Tensor fc_w = random_tensor({2, 3}, at::kFloat, 3).requires_grad_();
    at::Tensor fc_b = random_tensor({2}, at::kFloat, 4).requires_grad_();
    ct::tap tap;
    bool inplace_after_tap = false;

    at::Tensor operator()(const at::Tensor& x) const {
        at::Tensor a = tap(at::conv2d(x, conv_w, conv_b, 1, 1));
        if (inplace_after_tap) a.mul_(2.0);  // in-place right after the explained layer
        return at::linear(a.mean({2, 3}), fc_w, fc_b);
    }
};

// The scripted models of tests/data/torch (make_models.py), rebuilt in C++ from their parameters.
std::string data(const std::string& name) { return std::string(CAMKIT_TEST_DATA_DIR) + "/torch/" + name; }

std::map<std::string, at::Tensor> parameters(const torch::jit::Module& m) {
    std::map<std::string, at::Tensor> p;
    for (const auto& e : m.named_parameters()) p[e.name] = e.value;
    return p;
}

// Classifier: encoder = [conv(2→4), relu_, conv(4→5), relu_], fc: linear(5→3) on the pooled map.
struct cpp_classifier {
    explicit cpp_classifier(std::map<std::string, at::Tensor> params) : p(std::move(params)) {}
    std::map<std::string, at::Tensor> p;
    ct::tap after_conv2;  // the output of encoder.2 (followed by an in-place ReLU)
    ct::tap after_relu3;  // the output of encoder.3 (= features(x))
    at::Tensor operator()(const at::Tensor& x) const {
        at::Tensor h = at::conv2d(x, p.at("encoder.0.weight"), p.at("encoder.0.bias"), 1, 1).relu_();
        h = after_conv2(at::conv2d(h, p.at("encoder.2.weight"), p.at("encoder.2.bias"), 1, 1));
        h = after_relu3(h.relu_());
        return at::linear(h.mean({2, 3}), p.at("fc.weight"), p.at("fc.bias"));
    }
};

struct cpp_segmenter {
    explicit cpp_segmenter(std::map<std::string, at::Tensor> params) : p(std::move(params)) {}
    std::map<std::string, at::Tensor> p;
    ct::tap after_conv0;  // encoder.0, followed by an in-place ReLU
    at::Tensor operator()(const at::Tensor& x) const {
        at::Tensor h = after_conv0(at::conv2d(x, p.at("encoder.0.weight"), p.at("encoder.0.bias"), 1, 1)).relu_();
        h = at::conv2d(h, p.at("encoder.2.weight"), p.at("encoder.2.bias"), 1, 1).relu_();
        return at::conv2d(h, p.at("classifier.weight"), p.at("classifier.bias"));
    }
};

long resident_pages() {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident;
}

}  // namespace

// G = W[c] / |S| per channel, exactly; scores equal the output's class entries; the same G as
// a hand-written backward of the seed with retain_grad; parameters' .grad stay untouched.
TEST(TorchCapture, GradientsByHand) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 5);
    const std::vector<camkit::target> targets = {camkit::class_score(1), camkit::class_score(0)};
    const ct::captured c = ct::capture_gradients(net, x, net.tap, targets);
    ASSERT_EQ(c.gradients.sizes(), (at::IntArrayRef{2, 3, 4, 5}));
    const at::Tensor W = net.fc_w.detach();
    for (int n = 0; n < 2; ++n) {
        const int cls = n == 0 ? 1 : 0;
        for (int k = 0; k < 3; ++k)
            EXPECT_TRUE(close(c.gradients[n][k], at::full({4, 5}, W[cls][k].item<float>() / 20.f), 1e-7));
        EXPECT_NEAR(c.scores[n].item<float>(), c.output[n][cls].item<float>(), 1e-6);
    }
    EXPECT_FALSE(c.activations.requires_grad());
    EXPECT_FALSE(net.conv_w.grad().defined());
    EXPECT_FALSE(net.fc_w.grad().defined());
    EXPECT_FALSE(net.tap.is_recording());

    // The same gradients from an explicit backward of the seed with retain_grad on A.
    at::Tensor a_seen;
    at::Tensor a = at::conv2d(x, net.conv_w, net.conv_b, 1, 1);
    a.retain_grad();
    const at::Tensor y = at::linear(a.mean({2, 3}), net.fc_w, net.fc_b);
    at::Tensor seed = at::zeros_like(y);
    seed[0][1] = 1;
    seed[1][0] = 1;
    y.backward(seed);
    EXPECT_TRUE(close(c.gradients, a.grad(), 1e-7));
    EXPECT_TRUE(close(c.activations, a.detach(), 0));
    net.conv_w.mutable_grad() = at::Tensor();
    net.conv_b.mutable_grad() = at::Tensor();
    net.fc_w.mutable_grad() = at::Tensor();
    net.fc_b.mutable_grad() = at::Tensor();

    // GAP + linear head: Grad-CAM and HiResCAM coincide (SPEC.md identity).
    const auto gc = ct::explain<camkit::grad_cam>(net, x, net.tap, targets);
    const auto hr = ct::explain<camkit::hires_cam>(net, x, net.tap, targets);
    EXPECT_TRUE(close(gc.cam.map, hr.cam.map, 1e-6));
    EXPECT_TRUE(close(*gc.cam.weights, at::stack({W[1], W[0]}) / 20.f, 1e-7));
}

// A copy of a model (torch::nn::Cloneable::clone() copies its members) has a tap of its own: two
// threads explain the original and the copy at once, and the tap of one is not the other's. A
// thread that only runs the model passes through the tap while another thread explains with it.
TEST(TorchCapture, CopiedModelsHaveTapsOfTheirOwnAndOtherThreadsPassThrough) {
    tiny_net a;
    const tiny_net b = a;  // shares the weights, not the tap
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 9);
    const std::vector<camkit::target> targets = {camkit::class_score(1), camkit::class_score(0)};
    const at::Tensor want = ct::explain<camkit::grad_cam>(a, x, a.tap, targets).cam.map;
    EXPECT_TRUE(close(ct::explain<camkit::grad_cam>(b, x, b.tap, targets).cam.map, want, 1e-6));
    EXPECT_NE(camkit_test::error_message([&] { ct::explain<camkit::grad_cam>(b, x, a.tap, targets); })
                  .find("the tap was never reached during forward"),
              std::string::npos);
    const auto explain_many_times = [&](const tiny_net& net, int& failures, int& wrong) {
        for (int i = 0; i < 100; ++i) {
            try {
                if (!close(ct::explain<camkit::grad_cam>(net, x, net.tap, targets).cam.map, want, 1e-6)) ++wrong;
            } catch (const std::exception&) {
                ++failures;
            }
        }
    };
    int failures_a = 0, wrong_a = 0, failures_b = 0, wrong_b = 0;
    std::thread ta([&] { explain_many_times(a, failures_a, wrong_a); });
    std::thread tb([&] { explain_many_times(b, failures_b, wrong_b); });
    ta.join();
    tb.join();
    EXPECT_EQ(failures_a + failures_b, 0);
    EXPECT_EQ(wrong_a + wrong_b, 0);
    // Inference on the same model from another thread while it is explained.
    std::atomic<bool> done{false};
    std::thread runner([&] {
        at::NoGradGuard no_grad;
        while (!done) (void)a(x);
    });
    int failures = 0, wrong = 0;
    explain_many_times(a, failures, wrong);
    done = true;
    runner.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(wrong, 0);
    EXPECT_FALSE(a.tap.is_recording());
}

// Targets given as a braced list or a temporary vector are kept by the objective (it referred to
// them before: a named objective outlived the list's array, which AddressSanitizer reports).
TEST(TorchCapture, ObjectiveKeepsTargetsGivenByValue) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 10);
    const std::vector<camkit::target> named = {camkit::class_score(1), camkit::class_score(0)};
    const at::Tensor want = ct::explain<camkit::hires_cam>(net, x, net.tap, named).cam.map;
    const ct::objective listed = {camkit::class_score(1), camkit::class_score(0)};
    const ct::objective moved = std::vector<camkit::target>{camkit::class_score(1), camkit::class_score(0)};
    const ct::objective copy = listed;
    for (const ct::objective* what : {&listed, &moved, &copy})
        EXPECT_TRUE(close(ct::explain<camkit::hires_cam>(net, x, net.tap, *what).cam.map, want, 0));
}

// scripted_layer edits a clone of the module made once; the clone follows the train/eval mode the
// user sets on the module afterwards (BatchNorm in train mode normalizes by the batch).
TEST(TorchCapture, ScriptedLayerFollowsTheModulesMode) {
    torch::jit::Module m = torch::jit::load(data("resnet_like.pt"));
    m.train();
    ct::scripted_layer one(m, "layer1");
    ct::scripted_layers two(m, {"layer1", "layer2"});
    const at::Tensor x = random_tensor({2, 3, 8, 8}, at::kFloat, 11);
    const std::vector<camkit::target> targets = {camkit::class_score(1), camkit::class_score(4)};
    for (const bool training : {false, true}) {
        SCOPED_TRACE(training ? "train" : "eval");
        m.train(training);
        at::Tensor y;
        {
            at::NoGradGuard no_grad;
            y = m.forward({x}).toTensor();
        }
        EXPECT_TRUE(close(ct::capture_gradients(one, x, targets).output, y, 1e-6));
        EXPECT_TRUE(close(two.forward(x).output.detach(), y, 1e-6));
        EXPECT_EQ(one.module().is_training(), training);
    }
    m.eval();
}

// An in-place op right after the tapped layer leaves the recorded activation and its gradient right.
TEST(TorchCapture, InPlaceAfterTap) {
    tiny_net net;
    net.inplace_after_tap = true;
    const at::Tensor x = random_tensor({1, 2, 4, 5}, at::kFloat, 6);
    const ct::captured c = ct::capture_gradients(net, x, net.tap, std::vector<camkit::target>{camkit::class_score(0)});
    const at::Tensor a = at::conv2d(x, net.conv_w, net.conv_b, 1, 1).detach();
    EXPECT_TRUE(close(c.activations, a, 0));  // not doubled by the mul_ downstream
    const at::Tensor W = net.fc_w.detach();
    for (int k = 0; k < 3; ++k)  // the doubling downstream doubles the gradient
        EXPECT_TRUE(close(c.gradients[0][k], at::full({4, 5}, 2 * W[0][k].item<float>() / 20.f), 1e-7));
    // Without a recording the tap is a plain passthrough: the same tensor comes back.
    const at::Tensor t = at::ones({2});
    EXPECT_TRUE(net.tap(t).is_same(t));
}

// Many targets for one sample: one forward, one backward per target; each slice equals a single-target run.
TEST(TorchCapture, ManyTargetsForOneSample) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 7);
    const std::vector<camkit::target> all = {camkit::class_score(0), camkit::class_score(1)};
    const ct::captured many = ct::capture_gradients_many(net, x, net.tap, all, 1);
    ASSERT_EQ(many.gradients.sizes(), (at::IntArrayRef{2, 3, 4, 5}));
    ASSERT_EQ(many.activations.sizes(), (at::IntArrayRef{2, 3, 4, 5}));
    for (std::int64_t t = 0; t < 2; ++t) {
        const auto one = ct::capture_gradients(net, x.narrow(0, 1, 1), net.tap,
                                               std::vector<camkit::target>{all[static_cast<std::size_t>(t)]});
        EXPECT_TRUE(close(many.gradients[t], one.gradients[0], 1e-7));
        EXPECT_TRUE(close(many.activations[t], one.activations[0], 1e-6));
        EXPECT_NEAR(many.scores[t].item<float>(), one.scores[0].item<float>(), 1e-5);
    }
    const auto maps = camkit::explain<camkit::hires_cam>(many.activations, many.gradients);
    EXPECT_EQ(maps.map.sizes(), (at::IntArrayRef{2, 4, 5}));
}

// A TorchScript layer named by path gives the same A, G and maps as a tap in the same network
// written in C++, for a nested layer followed by an in-place ReLU and for a shared-type ReLU.
TEST(TorchCapture, ScriptedLayerEqualsTap) {
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    const std::vector<std::string> names = ct::layer_names(m);
    EXPECT_EQ(names, (std::vector<std::string>{"encoder", "encoder.0", "encoder.1", "encoder.2", "encoder.3", "fc"}));
    cpp_classifier net{parameters(m)};
    const at::Tensor x = random_tensor({2, 2, 6, 7}, at::kFloat, 8);
    const std::vector<camkit::target> targets = {camkit::class_score(2), camkit::class_score(0)};
    for (const auto& [layer, tap] : {std::pair{std::string("encoder.2"), &net.after_conv2},
                                     std::pair{std::string("encoder.3"), &net.after_relu3}}) {
        SCOPED_TRACE(layer);
        ct::scripted_layer s(m, layer);
        EXPECT_FALSE(s.uses_features_head());
        const ct::captured a = ct::capture_gradients(s, x, targets);
        const ct::captured b = ct::capture_gradients(net, x, *tap, targets);
        EXPECT_TRUE(close(a.output, b.output, 1e-6));
        EXPECT_TRUE(close(a.activations, b.activations, 1e-6));
        EXPECT_TRUE(close(a.gradients, b.gradients, 1e-6));
        EXPECT_GT(a.gradients.abs().sum().item<float>(), 0.f);
        const auto ea = ct::explain<camkit::grad_cam_plus_plus>(m, layer, x, targets);
        const auto eb = ct::explain<camkit::grad_cam_plus_plus>(net, x, *tap, targets);
        EXPECT_TRUE(close(ea.cam.map, eb.cam.map, 1e-5));
    }
    // The original module is untouched: same output, no extra attribute.
    EXPECT_FALSE(m.hasattr(ct::scripted_layer::attribute));
    EXPECT_TRUE(close(m.forward({x}).toTensor(), net(x), 1e-6));
    // The features/head fallback equals the named layer encoder.3 (features(x) is the encoder's output).
    ct::scripted_layer split(m, "features");
    EXPECT_TRUE(split.uses_features_head());
    ct::scripted_layer named(m, "encoder.3");
    const auto f = ct::capture_gradients(split, x, targets);
    const auto g = ct::capture_gradients(named, x, targets);
    EXPECT_TRUE(close(f.gradients, g.gradients, 1e-6));
    EXPECT_TRUE(close(f.activations, g.activations, 1e-6));
}

// Seg-HiRes-Grad-CAM on a scripted segmentation network equals the tap in C++; mask targets,
// all classes for one sample.
TEST(TorchCapture, ScriptedSegmenterWithMaskTargets) {
    torch::jit::Module m = torch::jit::load(data("segmenter.pt"));
    cpp_segmenter net{parameters(m)};
    const at::Tensor x = random_tensor({2, 1, 8, 8}, at::kFloat, 9);
    camkit::tensor<float> mask({8, 8}, 0.f);
    for (int i = 2; i < 6; ++i)
        for (int j = 1; j < 5; ++j) mask(i, j) = 1.f;
    const std::vector<camkit::target> targets = {camkit::mask_sum(1, mask), camkit::mask_mean(2, mask)};
    ct::scripted_layer s(m, "encoder.0");
    const auto a = ct::explain<camkit::seg_hires_grad_cam>(s, x, targets);
    const auto b = ct::explain<camkit::seg_hires_grad_cam>(net, x, net.after_conv0, targets);
    EXPECT_TRUE(close(a.gradients, b.gradients, 1e-6));
    EXPECT_TRUE(close(a.cam.map, b.cam.map, 1e-5));
    EXPECT_TRUE(close(a.scores, b.scores, 1e-5));
    // Every class of sample 0 at once equals three single-target runs.
    const std::vector<camkit::target> classes = {camkit::whole_image(0), camkit::whole_image(1), camkit::whole_image(2)};
    const auto many = ct::capture_gradients_many(s, x, classes, 0);
    for (std::size_t c = 0; c < 3; ++c) {
        const auto one = ct::capture_gradients(s, x.narrow(0, 0, 1), std::vector<camkit::target>{classes[c]});
        EXPECT_TRUE(close(many.gradients[static_cast<std::int64_t>(c)], one.gradients[0], 1e-6));
    }
}

// Each failure gives a camkit::error that says what to do.
TEST(TorchCapture, ErrorPaths) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 10);
    const std::vector<camkit::target> two = {camkit::class_score(0), camkit::class_score(1)};
    {
        c10::NoGradGuard guard;
        CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, net.tap, two), "NoGradGuard");
    }
    {
        c10::InferenceMode guard;
        CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, net.tap, two), "InferenceMode");
    }
    // Frozen weights and an input without requires_grad.
    tiny_net frozen;
    for (at::Tensor* p : {&frozen.conv_w, &frozen.conv_b, &frozen.fc_w, &frozen.fc_b}) p->requires_grad_(false);
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(frozen, x, frozen.tap, two), "make the input require grad");
    const auto ok = ct::capture_gradients(frozen, x.clone().requires_grad_(), frozen.tap, two);
    EXPECT_EQ(ok.gradients.sizes(), (at::IntArrayRef{2, 3, 4, 5}));
    // A tap the forward never reaches, and one reached twice.
    ct::tap unused;
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, unused, two), "never reached");
    auto twice = [&](const at::Tensor& in) { return net(in) + net(in); };
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(twice, x, net.tap, two), "reached 2 times");
    // The model ignores what the tap returns and changes the recorded tensor in place.
    auto ignores_tap = [&](const at::Tensor& in) {
        at::Tensor a = at::conv2d(in, net.conv_w, net.conv_b, 1, 1);
        net.tap(a);
        a.relu_();
        return at::linear(a.mean({2, 3}), net.fc_w, net.fc_b);
    };
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(ignores_tap, x, net.tap, two), "x = tap(x);");
    // Target count differs from the batch.
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, net.tap, std::vector<camkit::target>{camkit::class_score(0)}),
                     "1 given for a batch of 2");
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(net, x, net.tap, std::vector<camkit::target>{camkit::class_score(0), camkit::class_score(5)}),
                     "out of range");
    // A second recording of a tap that is recording.
    {
        ct::recording r(net.tap);
        CAMKIT_EXPECT_ERROR_HAS(ct::recording(net.tap), "already active");
    }
    EXPECT_FALSE(net.tap.is_recording());
    // Unknown layer names list the valid ones.
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(m, "encoder.9"),
                     "unknown layer 'encoder.9'; valid layers: encoder, encoder.0, encoder.1, encoder.2, encoder.3, fc; did "
                     "you mean 'encoder.0', 'encoder.1', 'encoder.2' or 'encoder.3'?");
    CAMKIT_EXPECT_ERROR_HAS(ct::explain<camkit::grad_cam>(m, "layer4", x, two), "unknown layer 'layer4'");
    ct::scripted_layer s(m, "encoder.2");
    {
        c10::NoGradGuard guard;
        CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(s, random_tensor({2, 2, 4, 5}, at::kFloat, 11), two), "NoGradGuard");
    }
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(s, random_tensor({2, 2, 4, 5}, at::kFloat, 11), std::vector<camkit::target>{camkit::class_score(0)}),
                     "1 given for a batch of 2");
    // Frozen scripted model.
    torch::jit::Module fm = torch::jit::load(data("classifier.pt"));
    for (auto p : fm.parameters()) p.requires_grad_(false);
    ct::scripted_layer fs(fm, "encoder.2");
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(fs, random_tensor({2, 2, 4, 5}, at::kFloat, 11), two), "does not require grad");
    EXPECT_EQ(ct::capture_gradients(fs, random_tensor({2, 2, 4, 5}, at::kFloat, 11).requires_grad_(), two).gradients.dim(), 4);
}

namespace {
// A module whose forward is `x * w`, for graphs written in C++.
torch::jit::Module scale_module(double w) {
    torch::jit::Module m("Scale");
    m.register_parameter("w", at::full({1}, w), false);
    m.define("def forward(self, x):\n    return x * self.w\n");
    return m;
}

// A module holding `body` whose forward is `source`.
torch::jit::Module holder(const char* name, const torch::jit::Module& body, const std::string& source) {
    torch::jit::Module m(name);
    m.register_module("body", body);
    m.define(source);
    return m;
}
}  // namespace

// Every refusal of scripted_layer says why, for graphs written in C++ and a module reached
// through an interface type (tests/data/torch/interface.pt).
TEST(TorchCapture, ScriptedLayerThatCannotBeRecorded) {
    torch::jit::Module outer("Outer");
    outer.register_module("body", scale_module(1));
    outer.register_module("unused", scale_module(1));
    outer.define("def forward(self, x):\n    return self.body.forward(self.body.forward(x))\n");
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(outer, "body"), "layer 'body' is called 2 times in forward");
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(outer, "unused"), "layer 'unused': forward never uses module 'unused'");
    const auto looped = holder("Looped", scale_module(1),
                               "def forward(self, x):\n    for _ in range(2):\n        x = self.body.forward(x)\n"
                               "    return x\n");
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(looped, "body"), "layer 'body' is called inside a loop");
    torch::jit::Module pair("Pair");
    pair.define("def forward(self, x):\n    return x, x * 2\n");
    const auto tuple_layer = holder("UsesPair", pair, "def forward(self, x):\n    return self.body.forward(x)[0]\n");
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(tuple_layer, "body"),
                     "layer 'body' returns (Tensor, Tensor), camkit needs a layer whose forward returns one tensor "
                     "(record a module inside it that does, or use the features/head fallback)");
    const auto weight_only = holder("WeightOnly", scale_module(2), "def forward(self, x):\n    return x * self.body.w\n");
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(weight_only, "body"),
                     "layer 'body': its forward is never called by the model's forward");

    // A body reached through an interface type: its submodules cannot be inlined, the body itself can.
    torch::jit::Module m = torch::jit::load(data("interface.pt"));
    EXPECT_EQ(ct::layer_names(m), (std::vector<std::string>{"body", "body.conv", "fc"}));
    CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(m, "body.conv"),
                     "layer 'body.conv': a module on its path is called through an interface type");
    ct::scripted_layer body(m, "body");
    const at::Tensor x = random_tensor({2, 1, 4, 5}, at::kFloat, 15).requires_grad_();
    const auto p = parameters(m);
    const ct::captured c = ct::capture_gradients(body, x, std::vector<camkit::target>{camkit::class_score(1), camkit::class_score(0)});
    const at::Tensor a = at::relu(at::conv2d(x, p.at("body.conv.weight"), p.at("body.conv.bias"), 1, 1)).detach();
    EXPECT_TRUE(close(c.activations, a, 1e-6));
    // fc(mean(A)) of the body's output A: G[n, k] = W[c_n, k] / |S| everywhere.
    const at::Tensor W = p.at("fc.weight");
    EXPECT_TRUE(close(c.gradients[0][1], at::full({4, 5}, W[1][1].item<float>() / 20.f), 1e-7));
    EXPECT_TRUE(close(c.gradients[1][0], at::full({4, 5}, W[0][0].item<float>() / 20.f), 1e-7));
}

// A layer the forward skips, a forward that returns no tensor, an output that does not depend on
// the layer, and a recorded tensor whose batch differs from the output's are clear errors.
TEST(TorchCapture, ForwardsThatCannotBeExplained) {
    const std::vector<camkit::target> two = {camkit::class_score(0), camkit::class_score(1)};
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 16).requires_grad_();
    auto skipping = holder("Skips", scale_module(2),
                           "def forward(self, x):\n    if bool(x.sum() > 1e9):\n        x = self.body.forward(x)\n"
                           "    return x.mean([2, 3])\n");
    ct::scripted_layer skipped(skipping, "body");
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(skipped, x, two), "layer 'body' was not reached during forward");
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_activations(skipped, x), "layer 'body' was not reached during forward");
    auto tuple_out = holder("TupleOut", scale_module(2),
                            "def forward(self, x):\n    y = self.body.forward(x)\n    return y, y\n");
    ct::scripted_layer from_tuple(tuple_out, "body");
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(from_tuple, x, two),
                            "model: forward returns a tuple of 2 values; choose the output to explain by its index");
    torch::jit::Module split("Split");
    split.define("def forward(self, x):\n    return x\n"
                 "def features(self, x):\n    return x, x\n"
                 "def head(self, f):\n    return f\n");
    ct::scripted_layer features(split, "features");
    EXPECT_TRUE(features.uses_features_head());
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(features, x, two), "model: features(x) must return one tensor, got Tuple");

    tiny_net net;
    auto ignores_tap = [&](const at::Tensor& in) {
        net.tap(at::conv2d(in, net.conv_w, net.conv_b, 1, 1));
        return at::linear(in.mean({2, 3}), net.fc_w.narrow(1, 0, 2), net.fc_b);
    };
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(ignores_tap, x, net.tap, two),
                     "the model output does not depend on the captured activation");
    auto constant = [&](const at::Tensor& in) {
        net.tap(at::conv2d(in, net.conv_w, net.conv_b, 1, 1));
        return at::zeros({2, 2});
    };
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(constant, x, net.tap, two),
                     "the model output does not depend on the captured activation");
    auto pooled_batch = [&](const at::Tensor& in) {
        const at::Tensor a = at::conv2d(in, net.conv_w, net.conv_b, 1, 1);
        const at::Tensor b = net.tap(a.sum(0, true));
        return at::linear((a + b).mean({2, 3}), net.fc_w, net.fc_b);
    };
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_gradients(pooled_batch, x, net.tap, two),
                     "the captured activation has batch size 1 but the model output has shape [2, 2]");
}

// A forward that returns a dict (torchvision's segmentation models: {"out": ..., "aux": ...}), a
// tuple or a list: the model output named by key or index is the one explained, as if forward
// returned it alone; every way to get the choice wrong says what forward returned.
TEST(TorchCapture, ModelOutputChosenFromADictTupleOrList) {
    const std::vector<camkit::target> two = {camkit::class_score(1), camkit::class_score(0)};
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 17);
    const auto make = [](const char* name, const std::string& result) {
        return holder(name, scale_module(3),
                      "def forward(self, x):\n    y = torch.relu(self.body.forward(x) - 0.5)\n    return " + result + "\n");
    };
    auto single = make("Single", "y.mean([2, 3])");
    auto dict = make("Dict", "{'out': y.mean([2, 3]), 'aux': -y.sum([2, 3])}");
    auto tuple = make("Tuple", "-y.sum([2, 3]), y.mean([2, 3])");
    auto list = make("List", "[-y.sum([2, 3]), y.mean([2, 3])]");

    ct::scripted_layer want_layer(single, "body");
    const ct::captured want = ct::capture_gradients(want_layer, x.detach().requires_grad_(), two);
    const auto want_map = ct::explain<camkit::grad_cam>(want_layer, x.detach().requires_grad_(), two).cam.map;
    for (const auto& [model, pick] : {std::pair{&dict, "out"}, std::pair{&tuple, "1"}, std::pair{&list, "1"}}) {
        ct::scripted_layer layer(*model, "body", pick);
        EXPECT_EQ(layer.model_output(), pick);
        const ct::captured got = ct::capture_gradients(layer, x.detach().requires_grad_(), two);
        EXPECT_TRUE(at::equal(got.activations, want.activations)) << pick;
        EXPECT_TRUE(at::equal(got.gradients, want.gradients)) << pick;
        EXPECT_TRUE(at::equal(ct::explain<camkit::grad_cam>(layer, x.detach().requires_grad_(), two).cam.map, want_map)) << pick;
        ct::scripted_layers layers(*model, {"body"}, pick);
        const auto pass = layers.forward(x);
        EXPECT_TRUE(at::equal(pass.output, single.forward({x}).toTensor())) << pick;
        EXPECT_TRUE(at::equal(ct::forward_of(*model, pick)(x), pass.output)) << pick;
    }
    // A method that reads the layer alone needs no choice: Eigen-CAM's maps of the unchosen
    // dict, tuple and list models are the single-output model's, and the output is left undefined.
    const auto want_eigen = ct::explain<camkit::eigen_cam>(want_layer, x).cam.map;
    for (const torch::jit::Module* model : {&dict, &tuple, &list}) {
        ct::scripted_layer layer(*model, "body");
        const ct::explained e = ct::explain<camkit::eigen_cam>(layer, x);
        EXPECT_FALSE(e.output.defined());
        EXPECT_TRUE(at::equal(e.activations, want.activations));
        EXPECT_TRUE(at::equal(e.cam.map, want_eigen));
        EXPECT_FALSE(layer.forward_activations(x).output.defined());
        // capture_activations gives the output (Score-CAM reads it): the choice is still needed there.
        EXPECT_NE(camkit_test::error_message([&] { ct::capture_activations(layer, x); }).find("choose the output"),
                  std::string::npos);
        ct::scripted_layer picked(*model, "body", model == &dict ? "out" : "1");  // a choice is still taken
        EXPECT_TRUE(at::equal(ct::explain<camkit::eigen_cam>(picked, x).output, single.forward({x}).toTensor()));
    }
    {
        ct::scripted_layer one(single, "body");  // one output: kept
        EXPECT_TRUE(at::equal(ct::explain<camkit::eigen_cam>(one, x).output, single.forward({x}).toTensor()));
        ct::scripted_layer wrong(dict, "body", "logits");  // a choice the output lacks: still an error
        EXPECT_NE(camkit_test::error_message([&] { ct::explain<camkit::eigen_cam>(wrong, x); })
                      .find("model: forward returns a dict without the key 'logits' (keys: out, aux)"),
                  std::string::npos);
    }

    // The other output is another model output (the choice is not ignored).
    ct::scripted_layer aux(dict, "body", "aux");
    EXPECT_FALSE(at::equal(aux.forward(x).output, single.forward({x}).toTensor()));

    // The features/head fallback takes the output from head(f).
    torch::jit::Module split("SplitDict");
    split.define("def forward(self, x):\n    return {'out': x.mean([2, 3])}\n"
                 "def features(self, x):\n    return x * 2.0\n"
                 "def head(self, f):\n    return {'out': f.mean([2, 3])}\n");
    ct::scripted_layer features(split, "features", "out");
    ASSERT_TRUE(features.uses_features_head());
    EXPECT_TRUE(at::equal(features.forward(x).output, (x * 2.0).mean({2, 3})));
    ct::scripted_layer unchosen(split, "features");
    EXPECT_FALSE(unchosen.forward_activations(x).output.defined());
    EXPECT_TRUE(at::equal(unchosen.forward_activations(x).activations, x * 2.0));

    const auto error_of = [&](const torch::jit::Module& m, const std::string& pick) {
        ct::scripted_layer layer(m, "body", pick);
        return camkit_test::error_message([&] { layer.forward(x); });
    };
    const auto expect_has = [](const std::string& message, const std::string& part) {
        EXPECT_NE(message.find(part), std::string::npos) << message << "\nexpected: " << part;
    };
    expect_has(error_of(dict, ""), "camkit: model: forward returns a dict (keys: out, aux); choose the output to explain by "
                                   "its key (model_output = \"out\"; camkit-torch: --model-output KEY)");
    expect_has(error_of(dict, "logits"), "model: forward returns a dict without the key 'logits' (keys: out, aux)");
    expect_has(error_of(dict, "0"), "model: forward returns a dict without the key '0' (keys: out, aux)");
    expect_has(error_of(tuple, ""), "model: forward returns a tuple of 2 values; choose the output to explain by its index "
                                    "(model_output = \"0\"; camkit-torch: --model-output INDEX)");
    expect_has(error_of(list, ""), "model: forward returns a list of 2 values; choose the output to explain by its index");
    expect_has(error_of(tuple, "2"), "model: forward returns a tuple of 2 values; the model output '2' must be an index from 0 to 1");
    expect_has(error_of(tuple, "out"), "the model output 'out' must be an index from 0 to 1");
    expect_has(error_of(list, "-1"), "model: forward returns a list of 2 values; the model output '-1' must be an index from 0 to 1");
    expect_has(error_of(single, "out"), "model: forward returns one tensor; the model output 'out' chooses from a dict or a "
                                        "tuple (give none)");
    expect_has(error_of(make("Mixed", "y.mean([2, 3]), 7"), "1"), "model: forward output '1' is a Int, not a tensor");
    expect_has(error_of(make("Number", "7"), "0"), "model: forward must return one tensor, a dict or a tuple of tensors, got Int");
    expect_has(error_of(make("Number", "7"), ""), "model: forward must return one tensor, got Int");
    expect_has(camkit_test::error_message([&] { ct::forward_of(dict)(x); }),
               "model: forward returns a dict (keys: out, aux)");
}

// describe_layers: every layer's type, and with an input its output's shape from one forward; a
// layer that cannot be recorded or is not reached says why.
TEST(TorchCapture, DescribeLayersGivesTypesShapesAndProblems) {
    torch::jit::Module net("Net");
    net.register_module("body", scale_module(2));
    net.register_module("twice", scale_module(1));
    net.register_module("unused", scale_module(1));
    net.register_module("skipped", scale_module(1));
    net.define("def forward(self, x):\n    y = self.body.forward(x)[:, :, 1:, :]\n"
               "    y = self.twice.forward(self.twice.forward(y))\n"
               "    if bool(y.sum() > 1e9):\n        y = self.skipped.forward(y)\n"
               "    return {'out': y.mean([2, 3])}\n");
    const at::Tensor x = random_tensor({2, 3, 4, 5}, at::kFloat, 19);
    for (const bool with_input : {false, true}) {
        const auto layers = with_input ? ct::describe_layers(net, x, "out") : ct::describe_layers(net);
        ASSERT_EQ(layers.size(), 4u);
        EXPECT_EQ(layers[0].name, "body");
        EXPECT_EQ(layers[0].type, "Scale");
        EXPECT_EQ(layers[0].problem, "");
        EXPECT_EQ(layers[0].shape, (with_input ? std::vector<std::int64_t>{2, 3, 4, 5} : std::vector<std::int64_t>{}));
        EXPECT_EQ(layers[1].name, "twice");
        EXPECT_NE(layers[1].problem.find("layer 'twice' is called 2 times in forward"), std::string::npos) << layers[1].problem;
        EXPECT_TRUE(layers[1].shape.empty());
        EXPECT_NE(layers[2].problem.find("layer 'unused': forward never uses module 'unused'"), std::string::npos)
            << layers[2].problem;
        EXPECT_EQ(layers[3].name, "skipped");
        EXPECT_EQ(layers[3].problem, with_input ? "not reached by forward on this input" : "");
        EXPECT_TRUE(layers[3].shape.empty());
        EXPECT_EQ(layers[0].order, with_input ? 0 : -1);
        for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(layers[i].order, -1) << layers[i].name;
    }
    // The forward's several outputs need a name, as everywhere else.
    CAMKIT_EXPECT_ERROR_HAS(ct::describe_layers(net, x), "model: forward returns a dict (keys: out)");
}

// describe_layers' order is the forward's, not the modules' declaration order; candidate_layer is
// the last layer whose output keeps the input's rank with a spatial extent above 1 and feeds the
// model output.
TEST(TorchCapture, CandidateLayerIsTheLastSpatialOutputOfTheForward) {
    torch::jit::Module net("Net");
    for (const char* name : {"a", "b", "c", "pool", "flat"}) net.register_module(name, scale_module(1));
    // Declared a, b, c, pool, flat; run c, a, b, then pool on b's output pooled to 1×1, flat on [N, C].
    net.define("def forward(self, x):\n    y = self.b.forward(self.a.forward(self.c.forward(x)))\n"
               "    p = self.pool.forward(y.mean([2, 3], keepdim=True))\n"
               "    return self.flat.forward(p.flatten(1))\n");
    const at::Tensor x = random_tensor({2, 3, 4, 5}, at::kFloat, 23);
    const auto layers = ct::describe_layers(net, x);
    ASSERT_EQ(layers.size(), 5u);
    const std::vector<std::int64_t> order{1, 2, 0, 3, 4};  // a, b, c, pool, flat
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(layers[i].order, order[i]) << layers[i].name;
    EXPECT_EQ(layers[3].shape, (std::vector<std::int64_t>{2, 3, 1, 1}));
    EXPECT_EQ(layers[4].shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(ct::candidate_layer(net, x), "b");  // pool is 1×1, flat has no spatial dimensions
    // One spatial extent above 1 is enough ([N, C, 1, W]); a 1-D input wants rank-3 outputs.
    EXPECT_EQ(ct::candidate_layer(net, random_tensor({2, 3, 1, 5}, at::kFloat, 24)), "b");
    CAMKIT_EXPECT_ERROR_HAS(ct::candidate_layer(net, random_tensor({2, 3, 1, 1}, at::kFloat, 25)),
                            "no layer of the model has an output of the input's rank with a spatial extent above 1 "
                            "on an input of shape [2, 3, 1, 1]");
    CAMKIT_EXPECT_ERROR_HAS(ct::candidate_layer(net, random_tensor({2, 3}, at::kFloat, 26)),
                            "candidate_layer: the input must be [N, C, *S] with 1 to 3 spatial dimensions, got [2, 3]");
    {
        c10::InferenceMode inference;
        CAMKIT_EXPECT_ERROR_HAS(ct::candidate_layer(net, x), "candidate_layer: c10::InferenceMode is active");
    }
    {
        at::NoGradGuard no_grad;  // describe_layers turns grad mode on for its forward
        EXPECT_EQ(ct::candidate_layer(net, x), "b");
    }

    // A dict output whose auxiliary head runs after the main one (torchvision's FCN does so): the
    // layer the chosen output does not depend on is passed over, and says so.
    torch::jit::Module two_heads("TwoHeads");
    two_heads.register_module("main", scale_module(2));
    two_heads.register_module("aux", scale_module(3));
    two_heads.define("def forward(self, x):\n    out = self.main.forward(x)\n"
                     "    return {'out': out, 'aux': self.aux.forward(x)}\n");
    EXPECT_EQ(ct::candidate_layer(two_heads, x, "out"), "main");
    EXPECT_EQ(ct::candidate_layer(two_heads, x, "aux"), "aux");
    const auto heads = ct::describe_layers(two_heads, x, "out");
    ASSERT_EQ(heads.size(), 2u);
    EXPECT_EQ(heads[0].problem, "");
    EXPECT_EQ(heads[1].problem, "the model output does not depend on it");
    EXPECT_EQ(heads[1].shape, (std::vector<std::int64_t>{2, 3, 4, 5}));
    EXPECT_GT(heads[1].order, heads[0].order);

    // A forward that scales its input in place: the caller's input is left as it was.
    torch::jit::Module in_place("InPlace");
    in_place.register_module("body", scale_module(3));
    in_place.define("def forward(self, x):\n    x.mul_(2.0)\n    return self.body.forward(x)\n");
    const at::Tensor kept = x.clone();
    EXPECT_EQ(ct::candidate_layer(in_place, x), "body");
    EXPECT_TRUE(at::equal(x, kept));

    // The test models: a ResNet's last stage (the enclosing Sequential after its last block, which
    // returns the same tensor), a classifier's encoder before global pooling, a segmenter's 1×1 head.
    EXPECT_EQ(ct::candidate_layer(torch::jit::load(data("resnet_like.pt")), random_tensor({2, 3, 8, 8}, at::kFloat, 27)),
              "layer2");
    EXPECT_EQ(ct::candidate_layer(torch::jit::load(data("resnet_like_traced.pt")),
                                  random_tensor({2, 3, 8, 8}, at::kFloat, 28)),
              "layer2");
    EXPECT_EQ(ct::candidate_layer(torch::jit::load(data("classifier.pt")), random_tensor({2, 2, 6, 7}, at::kFloat, 29)),
              "encoder");
    EXPECT_EQ(ct::candidate_layer(torch::jit::load(data("segmenter.pt")), random_tensor({1, 1, 6, 6}, at::kFloat, 30)),
              "classifier");
    const auto resnet = ct::describe_layers(torch::jit::load(data("resnet_like.pt")), random_tensor({1, 3, 8, 8}, at::kFloat, 31));
    const auto order_of = [&](const std::string& name) {
        for (const auto& l : resnet)
            if (l.name == name) return l.order;
        ADD_FAILURE() << "no layer " << name;
        return std::int64_t{-2};
    };
    EXPECT_LT(order_of("conv1"), order_of("layer1.0.conv1"));
    EXPECT_LT(order_of("layer1.0.conv1"), order_of("layer1.0"));
    EXPECT_LT(order_of("layer1.1"), order_of("layer1"));
    EXPECT_LT(order_of("layer1"), order_of("layer2.0.downsample"));
    EXPECT_LT(order_of("layer2.2"), order_of("layer2"));
    EXPECT_LT(order_of("layer2"), order_of("fc"));
}

// A probability target through a TorchScript layer equals the same target through a tap.
TEST(TorchCapture, ScriptedLayerWithProbabilityTarget) {
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    cpp_classifier net{parameters(m)};
    const at::Tensor x = random_tensor({2, 2, 6, 7}, at::kFloat, 17);
    const ct::probability_score p{{camkit::class_score(2), camkit::class_score(0)}};
    const auto a = ct::explain<camkit::grad_cam>(m, "encoder.2", x, p);
    const auto b = ct::explain<camkit::grad_cam>(net, x, net.after_conv2, p);
    EXPECT_TRUE(close(a.gradients, b.gradients, 1e-6));
    EXPECT_TRUE(close(a.cam.map, b.cam.map, 1e-5));
    const at::Tensor probs = at::softmax(a.output, 1);
    EXPECT_NEAR(a.scores[0].item<float>(), probs[0][2].item<float>(), 1e-6);
    EXPECT_NEAR(a.scores[1].item<float>(), probs[1][0].item<float>(), 1e-6);
    // No target: each sample's predicted class.
    const auto predicted = ct::explain<camkit::grad_cam>(m, "encoder.2", x);
    const at::Tensor cls = a.output.argmax(1);
    const auto want = ct::explain<camkit::grad_cam>(
        m, "encoder.2", x,
        {camkit::class_score(static_cast<std::size_t>(cls[0].item<std::int64_t>())),
         camkit::class_score(static_cast<std::size_t>(cls[1].item<std::int64_t>()))});
    EXPECT_TRUE(close(predicted.gradients, want.gradients, 0));
    EXPECT_TRUE(close(predicted.scores, a.output.amax(1), 1e-6));
}

// 1000 explanations in a loop (tap and TorchScript layer) leave the resident memory flat.
TEST(TorchCapture, MemoryStaysFlat) {
    tiny_net net;
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    ct::scripted_layer s(m, "encoder.2");
    const at::Tensor x = random_tensor({2, 2, 6, 7}, at::kFloat, 12);
    const std::vector<camkit::target> targets = {camkit::class_score(1), camkit::class_score(2)};
    auto round = [&] {
        const auto a = ct::explain<camkit::grad_cam>(net, x.narrow(2, 0, 4).narrow(3, 0, 5), net.tap,
                                                     std::vector<camkit::target>{targets[0], camkit::class_score(0)});
        const auto b = ct::explain<camkit::hires_cam>(s, x, targets);
        return a.cam.map.sum().item<float>() + b.cam.map.sum().item<float>();
    };
    for (int i = 0; i < 100; ++i) round();  // warm-up: allocator pools, JIT profiling runs
    const long before = resident_pages();
    for (int i = 0; i < 1000; ++i) round();
    const long after = resident_pages();
    const long page_kib = sysconf(_SC_PAGESIZE) / 1024;
    RecordProperty("rss_before_kib", static_cast<int>(before * page_kib));
    RecordProperty("rss_after_kib", static_cast<int>(after * page_kib));
    EXPECT_LT((after - before) * page_kib, 1024) << "grew from " << before * page_kib << " KiB to " << after * page_kib
                                                 << " KiB";
}

// Forward-only capture works under InferenceMode and feeds Eigen-CAM, which needs no gradients.
TEST(TorchCapture, ActivationsOnlyForEigenCam) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 13);
    at::Tensor a;
    {
        c10::InferenceMode guard;
        a = ct::capture_activations(net, x, net.tap).second;
    }
    EXPECT_FALSE(net.tap.is_recording());
    const auto e = camkit::explain<camkit::eigen_cam>(a);
    const auto host = camkit::explain<camkit::eigen_cam>(a.clone(), a.clone());
    EXPECT_TRUE(close(e.map, host.map, 1e-6));
    EXPECT_EQ(e.map.sizes(), (at::IntArrayRef{2, 4, 5}));
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    ct::scripted_layer s(m, "encoder.2");
    c10::NoGradGuard guard;
    const auto [out, acts] = ct::capture_activations(s, x);
    EXPECT_EQ(acts.sizes(), (at::IntArrayRef{2, 5, 4, 5}));
    EXPECT_EQ(out.sizes(), (at::IntArrayRef{2, 3}));
}

// explain<eigen_cam> through a tap or a scripted layer is one forward without a graph: it runs
// under InferenceMode (where a backward cannot), leaves scores and gradients undefined, and its map
// is Eigen-CAM's of the recorded activations. A gradient method under InferenceMode still refuses.
TEST(TorchCapture, ExplainEigenCamRunsTheForwardAlone) {
    tiny_net net;
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 13);
    const at::Tensor a = ct::capture_activations(net, x, net.tap).second;
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    ct::scripted_layer s(m, "encoder.2");
    const at::Tensor a_scripted = ct::capture_activations(s, x).second;
    c10::InferenceMode guard;
    const ct::explained e = ct::explain<camkit::eigen_cam>(net, x, net.tap, ct::objective{}, {});
    EXPECT_FALSE(e.scores.defined());
    EXPECT_FALSE(e.gradients.defined());
    EXPECT_TRUE(close(e.activations, a, 0.0));
    EXPECT_TRUE(close(e.cam.map, camkit::explain<camkit::eigen_cam>(a).map, 1e-6));
    EXPECT_EQ(e.output.sizes(), (at::IntArrayRef{2, 2}));
    const ct::explained es = ct::explain<camkit::eigen_cam>(s, x);
    EXPECT_FALSE(es.scores.defined());
    EXPECT_TRUE(close(es.cam.map, camkit::explain<camkit::eigen_cam>(a_scripted).map, 1e-6));
    EXPECT_EQ(es.cam.map.sizes(), (at::IntArrayRef{2, 4, 5}));
    CAMKIT_EXPECT_ERROR_HAS(ct::explain<camkit::grad_cam>(s, x), "InferenceMode");
}

// On a GPU: the whole explanation stays on the device and equals the CPU result.
TEST(TorchCapture, CudaModelMatchesCpu) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    tiny_net cpu;
    tiny_net gpu;
    for (auto [d, s] : {std::pair{&gpu.conv_w, &cpu.conv_w}, std::pair{&gpu.conv_b, &cpu.conv_b},
                        std::pair{&gpu.fc_w, &cpu.fc_w}, std::pair{&gpu.fc_b, &cpu.fc_b}})
        *d = s->detach().to(at::kCUDA).requires_grad_();
    const at::Tensor x = random_tensor({2, 2, 4, 5}, at::kFloat, 14);
    const std::vector<camkit::target> targets = {camkit::class_score(1), camkit::class_score(0)};
    camkit::options opt;
    opt.size = {16, 20};
    const auto g = ct::explain<camkit::grad_cam>(gpu, x.to(at::kCUDA), gpu.tap, targets, opt);
    const auto c = ct::explain<camkit::grad_cam>(cpu, x, cpu.tap, targets, opt);
    EXPECT_TRUE(g.cam.map.is_cuda());
    EXPECT_TRUE(g.gradients.is_cuda());
    EXPECT_TRUE(close(g.cam.map.cpu(), c.cam.map, 1e-4));
    torch::jit::Module m = torch::jit::load(data("classifier.pt"));
    m.to(at::kCUDA);
    const auto s = ct::explain<camkit::hires_cam>(m, "encoder.2", x.to(at::kCUDA), targets, opt);
    EXPECT_TRUE(s.cam.map.is_cuda());
}

// A ResNet-style model, scripted and traced: blocks that share one class type, forward through a
// helper method, `out += identity` right after bn2, a downsample branch. A and G of every named
// layer equal eager-mode forward hooks recorded by make_models.py on the same weights.
TEST(TorchCapture, ResNetLikeScriptedAndTracedEqualEagerHooks) {
    torch::jit::Module ref = torch::jit::load(data("resnet_like_reference.pt"));
    const at::Tensor x = ref.attr("input").toTensor();
    const std::vector<camkit::target> targets = {camkit::class_score(3), camkit::class_score(1)};
    for (const char* file : {"resnet_like.pt", "resnet_like_traced.pt"}) {
        torch::jit::Module m = torch::jit::load(data(file));
        for (std::string layer : {"layer1.1", "layer2.0.downsample.0", "layer2.1.bn2", "layer2.2.conv1", "relu"}) {
            SCOPED_TRACE(std::string(file) + " " + layer);
            std::string key = layer;
            std::replace(key.begin(), key.end(), '.', '_');
            ct::scripted_layer s(m, layer);
            // Several runs: the JIT's profiling executor optimizes the edited graph after the first ones.
            for (int run = 0; run < 4; ++run) {
                const ct::captured c = ct::capture_gradients(s, x, targets);
                EXPECT_TRUE(close(c.activations, ref.attr(key + "_a").toTensor(), 1e-6)) << "run " << run;
                EXPECT_TRUE(close(c.gradients, ref.attr(key + "_g").toTensor(), 1e-6)) << "run " << run;
                EXPECT_GT(c.gradients.abs().max().item<float>(), 0.f);
            }
        }
        // The blocks' ReLU module runs twice per block (traced graphs call it as forward1).
        CAMKIT_EXPECT_ERROR_HAS(ct::scripted_layer(m, "layer1.1.relu"), "called 2 times");
    }
}
