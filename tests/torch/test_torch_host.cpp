// One pipeline for host and device tensors: a CPU at::Tensor of float or double takes every host
// feature of the core directly (explain_into, explain_many, the targets' seed_and_score, mask
// builders, CAM), reading its memory in place, with results equal to camkit::tensor's; other
// devices and dtypes are refused by the host-only features with a message that says why.
#include <camkit/explain.hpp>
#include <camkit/explain_many.hpp>
#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/grad_cam_plus_plus.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/metrics.hpp>
#include <camkit/targets.hpp>
#include <camkit/torch/explain.hpp>  // the adapter's seed_and_score
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "torch/torch_testing.hpp"

namespace ct = camkit::torch;
using camkit_test::close;
using camkit_test::random_tensor;
using camkit_test::from_camkit;
using camkit_test::to_camkit;

// explain_into on CPU tensors (float and double, strided too) fills camkit tensors with the same
// numbers as on camkit::tensor, and reuses their storage on the next call.
TEST(TorchHost, ExplainIntoOnCpuTensors) {
    const at::Tensor A = random_tensor({2, 3, 5, 4}, at::kFloat, 61).abs().transpose(2, 3);  // strided [2, 3, 4, 5]
    const at::Tensor G = random_tensor({2, 3, 4, 5}, at::kFloat, 62);
    ASSERT_FALSE(A.is_contiguous());
    camkit::explanation<camkit::tensor<float>> out;
    camkit::explain_into<camkit::grad_cam_plus_plus>(out, A, G);
    const auto want = camkit::explain<camkit::grad_cam_plus_plus>(to_camkit<float>(A), to_camkit<float>(G));
    EXPECT_EQ(out.map.values, want.map.values);
    EXPECT_EQ(out.weights->values, want.weights->values);
    const float* storage = out.map.data();
    camkit::explain_into<camkit::grad_cam_plus_plus>(out, A, G);
    EXPECT_EQ(out.map.data(), storage);
    camkit::explanation<camkit::tensor<double>> out64;
    camkit::explain_into<camkit::hires_cam>(out64, A.to(at::kDouble), G.to(at::kDouble));
    const auto want64 = camkit::explain<camkit::hires_cam>(to_camkit<double>(A), to_camkit<double>(G));
    EXPECT_EQ(out64.map.values, want64.map.values);
    // Host-only: a half tensor has no host kernel, and a float tensor does not fill double results.
    CAMKIT_EXPECT_ERROR_HAS(camkit::explain_into<camkit::hires_cam>(out, A.to(at::kHalf), G.to(at::kHalf)),
                            "has dtype Half");
    CAMKIT_EXPECT_ERROR_HAS(camkit::explain_into<camkit::hires_cam>(out64, A, G), "explain_into");
}

// explain_many on CPU tensors: one sample's activations [1, K, *S] and T targets' gradients give T
// maps, as at::Tensor, equal to camkit::tensor's.
TEST(TorchHost, ExplainManyOnCpuTensors) {
    const at::Tensor A = random_tensor({1, 4, 3, 5}, at::kFloat, 63).abs();
    const at::Tensor G = random_tensor({3, 4, 3, 5}, at::kFloat, 64);
    const auto many = camkit::explain_many<camkit::grad_cam>(A, G);
    const auto want = camkit::explain_many<camkit::grad_cam>(to_camkit<float>(A), to_camkit<float>(G));
    EXPECT_TRUE(close(many.map, from_camkit(want.map), 0));
    EXPECT_TRUE(close(*many.weights, from_camkit(*want.weights), 0));
    EXPECT_EQ(many.map.sizes(), (at::IntArrayRef{3, 3, 5}));
}

// The core's seed_and_score, seed_and_score_many, predicted_region, threshold and all_class_targets read a CPU output
// tensor in place; the adapter's seed_and_score gives the same on the CPU and on other dtypes.
TEST(TorchHost, TargetsAndMasksOnCpuTensors) {
    const at::Tensor Y = random_tensor({2, 3, 4, 5}, at::kFloat, 65);
    const camkit::tensor<float> region = camkit::predicted_region(Y, 2);
    EXPECT_EQ(region.values, camkit::predicted_region(to_camkit<float>(Y), 2).values);
    EXPECT_EQ(camkit::threshold(Y, 1, 0.25).values, camkit::threshold(to_camkit<float>(Y), 1, 0.25).values);
    const std::vector<camkit::target> targets = {camkit::mask_mean(2, region), camkit::class_score(0)};
    const auto core = camkit::seed_and_score(Y, targets);
    const auto host = camkit::seed_and_score(to_camkit<float>(Y), targets);
    EXPECT_TRUE(close(core.seed, from_camkit(host.seed), 0));
    EXPECT_TRUE(close(core.scores, from_camkit(host.scores), 0));
    const auto adapter = ct::seed_and_score(Y, targets);
    EXPECT_TRUE(close(adapter.seed, core.seed, 0));
    EXPECT_TRUE(close(adapter.scores, core.scores, 1e-6));
    const auto half = ct::seed_and_score(Y.to(at::kHalf), targets);
    EXPECT_TRUE(close(half.scores, camkit::seed_and_score(Y.to(at::kHalf).to(at::kFloat), targets).scores, 1e-5));
    const auto many = camkit::seed_and_score_many(Y, targets, 1);
    EXPECT_TRUE(close(many.scores, from_camkit(camkit::seed_and_score_many(to_camkit<float>(Y), targets, 1).scores), 0));
    const auto classes = camkit::all_class_targets(Y, camkit::mask_kind::predicted_region, camkit::reduction::mean, 1);
    const auto classes_host =
        camkit::all_class_targets(to_camkit<float>(Y), camkit::mask_kind::predicted_region, camkit::reduction::mean, 1);
    ASSERT_EQ(classes.size(), 3u);
    for (std::size_t c = 0; c < 3; ++c) EXPECT_EQ(classes[c].mask->values, classes_host[c].mask->values);
    CAMKIT_EXPECT_ERROR_HAS(camkit::predicted_region(Y.to(at::kHalf), 2), "has dtype Half");
}

// CAM on CPU tensors goes through the core; the head's weights may be of another dtype.
TEST(TorchHost, CamOnCpuTensors) {
    const at::Tensor A = random_tensor({2, 4, 3, 3}, at::kDouble, 66).abs();
    const at::Tensor W = random_tensor({5, 4}, at::kFloat, 67);
    const std::vector<std::size_t> classes = {4, 1};
    const auto e = ct::cam(A, W, classes);
    const auto want = camkit::cam(to_camkit<double>(A), to_camkit<double>(W), classes);
    EXPECT_EQ(e.map.scalar_type(), at::kDouble);
    EXPECT_TRUE(close(e.map, from_camkit(want.map), 0));
    EXPECT_TRUE(close(camkit::cam(A, W.to(at::kDouble), classes).map, e.map, 0));
}

// The metrics and attention statistics of CPU tensors (a strided map among them) equal those of
// the same values in camkit tensors.
TEST(TorchHost, MetricsOnCpuTensors) {
    const at::Tensor maps = at::rand({2, 5, 6}, at::kDouble);
    const at::Tensor masks = (at::rand({2, 5, 6}, at::kDouble) > 0.6).to(at::kFloat);
    const camkit::tensor<double> m = to_camkit<double>(maps);
    const camkit::tensor<float> k = to_camkit<float>(masks);
    const auto got = camkit::attention_statistics(maps, masks, 0.4);
    const auto want = camkit::attention_statistics(m, k, 0.4);
    ASSERT_EQ(got.size(), 2u);
    for (std::size_t n = 0; n < 2; ++n) {
        EXPECT_EQ(got[n].attention_mean, want[n].attention_mean);
        EXPECT_EQ(got[n].attention_std, want[n].attention_std);
        EXPECT_EQ(got[n].energy_inside, want[n].energy_inside);
        EXPECT_EQ(got[n].pointing_hit, want[n].pointing_hit);
        EXPECT_EQ(got[n].iou, want[n].iou);
    }
    const at::Tensor transposed = maps.select(0, 1).t().contiguous().t();  // strided, the same values
    const camkit::tensor<float> mask1 = to_camkit<float>(masks.select(0, 1));
    EXPECT_EQ(camkit::energy_inside(transposed, mask1), camkit::energy_inside(to_camkit<double>(maps.select(0, 1)), mask1));
    EXPECT_EQ(camkit::attention_mean(transposed), camkit::attention_mean(to_camkit<double>(maps.select(0, 1))));
    EXPECT_THROW(camkit::energy_inside(maps.select(0, 0).to(at::kInt), mask1), camkit::error);
}
