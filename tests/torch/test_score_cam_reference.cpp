// camkit's Score-CAM against pytorch-grad-cam's ScoreCAM: the same TorchScript network (TinyNet,
// tests/data/reference/tinynet.pt), the same two 16x16 images and classes give the library's
// channel weights and maps at every pipeline stage (tests/data/reference/README.md says how they
// were produced).
#include <camkit/targets/class_score.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/scripted.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/import.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/reference_data.hpp"

namespace ct = camkit::torch;
using camkit_test::load_reference;
using camkit_test::reference_path;

namespace {

// The README's tolerance, 1e-6 of each map's maximum (measured: weights 4.8e-7, maps 2.5e-7), although
// the library's masks and softmax run in float32 and camkit's in double, and the network's forward
// passes run in another LibTorch than the library's.
constexpr double tolerance = camkit_test::reference_tolerance;

at::Tensor to_torch(const camkit::tensor<float>& t) {
    std::vector<std::int64_t> sizes(t.shape.begin(), t.shape.end());
    return at::tensor(t.values, at::kFloat).view(sizes).clone();
}

camkit::tensor<float> to_camkit(const at::Tensor& x) {
    const at::Tensor c = x.to(at::kFloat).contiguous();
    return camkit::tensor<float>(camkit::shape_t(c.sizes().begin(), c.sizes().end()),
                                 std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
}

double error_to(const at::Tensor& actual, const std::string& file) {
    const double err = camkit_test::reference_error(to_camkit(actual), load_reference(file));
    std::printf("[ reference ] %-32s max relative error %.3g\n", file.c_str(), err);
    return err;
}

std::vector<std::int64_t> classes() {
    std::ifstream in(reference_path("tinynet_classes.txt"));
    std::vector<std::int64_t> c;
    for (std::int64_t v; in >> v;) c.push_back(v);
    return c;
}

struct score_cam_reference : ::testing::Test {
    torch::jit::Module net = torch::jit::load(reference_path("tinynet.pt"));
    at::Tensor input = to_torch(load_reference("tinynet_input.npy"));
    std::vector<std::int64_t> cls = classes();
    std::vector<camkit::target> targets;

    void SetUp() override {
        net.eval();
        ASSERT_EQ(input.sizes(), (std::vector<std::int64_t>{2, 3, 16, 16}));
        ASSERT_EQ(cls.size(), 2u);
        for (std::int64_t c : cls) targets.push_back(camkit::class_score(static_cast<std::size_t>(c)));
    }

    /// Score-CAM of layer block8 (K = 16, 8x8) with the camkit options `opt`.
    ct::score_cam_result run(const camkit::options& opt) { return ct::score_cam(net, "block8", input, targets, opt); }
};

}  // namespace

TEST_F(score_cam_reference, EveryStageEqualsPytorchGradCam) {
    camkit::options raw_only;
    raw_only.relu = false;
    raw_only.normalize = camkit::normalization::none;
    const auto r = run(raw_only);
    EXPECT_LE(error_to(r.weights, "scorecam_weights.npy"), tolerance);
    EXPECT_LE(error_to(r.raw, "scorecam_raw.npy"), tolerance);
    EXPECT_LE(error_to(run({}).map, "scorecam_normalized.npy"), tolerance);
    camkit::options input_size;
    input_size.size = {16, 16};
    EXPECT_LE(error_to(run(input_size).map, "scorecam_resized_input.npy"), tolerance);
    input_size.renormalize = true;
    EXPECT_LE(error_to(run(input_size).map, "scorecam_renormalized.npy"), tolerance);
}

// From the activations the library recorded, with the class-logit overload: the same weights.
TEST_F(score_cam_reference, FromTheLibrarysActivations) {
    const at::Tensor A = to_torch(load_reference("scorecam_A.npy"));
    ASSERT_EQ(A.sizes(), (std::vector<std::int64_t>{2, 16, 8, 8}));
    const auto r = ct::score_cam(net, input, A, cls);
    EXPECT_LE(error_to(r.weights, "scorecam_weights.npy"), tolerance);
    EXPECT_LE(error_to(r.map, "scorecam_normalized.npy"), tolerance);
}

// The comparison can fail: the classes swapped between the samples, or the right classes with
// plain scores instead of their softmax, give maps far from the library's.
TEST_F(score_cam_reference, AWrongClassOrNoSoftmaxIsDetected) {
    targets = {camkit::class_score(static_cast<std::size_t>(cls[1])), camkit::class_score(static_cast<std::size_t>(cls[0]))};
    EXPECT_GT(error_to(run({}).map, "scorecam_normalized.npy"), 1e-2);
    ct::score_cam_options no_softmax;
    no_softmax.softmax = false;
    const auto r = ct::score_cam(net, input, to_torch(load_reference("scorecam_A.npy")), cls, {}, no_softmax);
    EXPECT_GT(error_to(r.map, "scorecam_normalized.npy"), 1e-2);
}
