// Models exported with tools/export_cam.py (AOTInductor packages), explained by
// camkit::torch::exported_model and by `camkit-torch explain --model M.pt2`. The fixture test
// (make_exported.py) exports a small CNN and the demo's U-Net on this machine and writes the maps
// pytorch-grad-cam gives for the same weights and inputs; here every method's map of a package is
// compared with those and with camkit's own maps of the same network saved as TorchScript
// (scripted_layer), all to 1e-5 of each map's maximum. Every error path of the header is exercised.
#include <camkit/camkit.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/torch/exported.hpp>
#include <camkit/torch/faithfulness.hpp>
#include <camkit/torch/scripted.hpp>
#include "../../../examples/torch/analyze/records.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/import.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/error_message.hpp"
#include "common/temp_dir.hpp"
#include "common/tool_fixture.hpp"

namespace ct = camkit::torch;

namespace {

const std::string dir = std::string(CAMKIT_EXPORTED_DIR) + "/";

/// The tolerance of every comparison: max|actual − reference| ≤ 1e-5 · max|reference| per map.
constexpr double tolerance = 1e-5;

/// The float32 .npy file at `file` as a tensor.
at::Tensor load_file(const std::string& file) {
    const auto t = camkit::io::read_npy<float>(file);
    return at::tensor(t.values, at::kFloat).view(ct::sizes_of(t.shape)).clone();
}

at::Tensor load(const std::string& name) { return load_file(dir + name); }

std::vector<std::int64_t> numbers(const std::string& name) {
    std::ifstream in(dir + name);
    std::vector<std::int64_t> v;
    for (std::int64_t x; in >> x;) v.push_back(x);
    return v;
}

/// max over the maps (first axis) of max|actual − reference| / max|reference|.
double relative_error(const at::Tensor& actual, const at::Tensor& reference, const std::string& what) {
    EXPECT_EQ(actual.sizes(), reference.sizes()) << what;
    if (actual.sizes() != reference.sizes()) return 1e30;
    const auto n = reference.size(0);
    const at::Tensor a = actual.detach().to(at::kDouble).reshape({n, -1}), r = reference.to(at::kDouble).reshape({n, -1});
    const double err = ((a - r).abs().amax(1) / r.abs().amax(1).clamp_min(1e-30)).max().item<double>();
    std::printf("[ exported  ] %-40s max relative error %.3g\n", what.c_str(), err);
    return err;
}

template <class Method>
ct::explained explain_both(ct::exported_model& exported, ct::scripted_layer& scripted, const at::Tensor& x,
                           const ct::objective& what, const camkit::options& opt, ct::explained& reference) {
    reference = ct::explain<Method>(scripted, x.detach().requires_grad_(true), what, opt);
    return ct::explain<Method>(exported, x, what, opt);
}

/// A network of the fixture (`name`.pt2, `name`.pt, `name`_input.npy) explained at `layer`, and
/// pytorch-grad-cam's end-to-end pipeline (resize to the input, renormalize) as camkit options.
class ExportedNet : public ::testing::Test {
protected:
    ExportedNet(const std::string& name, std::string layer, camkit::shape_t input_size)
        : model(dir + name + ".pt2"), script(torch::jit::load(dir + name + ".pt")), x(load(name + "_input.npy")),
          layer_name(std::move(layer)), net(name) {
        script.eval();
        library_pipeline.size = std::move(input_size);
        library_pipeline.renormalize = true;
    }

    /// `Method`'s maps of the package against pytorch-grad-cam's `file`, and its gradients, raw and
    /// finished maps against camkit's TorchScript ones.
    template <class Method>
    void compare(const std::string& file) {
        ct::scripted_layer layer(script, layer_name);
        ct::explained ref;
        const ct::explained e = explain_both<Method>(model, layer, x, targets, library_pipeline, ref);
        const std::string what = net + " " + std::string(Method::name);
        EXPECT_LE(relative_error(e.cam.map, load(file), what + " vs pytorch-grad-cam"), tolerance);
        EXPECT_LE(relative_error(e.gradients, ref.gradients, what + " gradients vs TorchScript"), tolerance);
        EXPECT_LE(relative_error(e.cam.raw, ref.cam.raw, what + " raw vs TorchScript"), tolerance);
        EXPECT_LE(relative_error(e.cam.map, ref.cam.map, what + " map vs TorchScript"), tolerance);
    }

    ct::exported_model model;
    torch::jit::Module script;
    at::Tensor x;
    std::string layer_name, net;
    std::vector<camkit::target> targets;
    camkit::options library_pipeline;
};

class ExportedCnn : public ExportedNet {
protected:
    ExportedCnn() : ExportedNet("cnn", "features.3", {24, 24}) {
        for (std::int64_t c : numbers("cnn_classes.txt")) targets.push_back(camkit::class_score(static_cast<std::size_t>(c)));
    }
    void SetUp() override { ASSERT_EQ(targets.size(), 2u); }
};

TEST_F(ExportedCnn, RecordsTheLayerFunctionsAndShapes) {
    EXPECT_EQ(model.layer(), "features.3");
    EXPECT_TRUE(model.has_gradient());
    EXPECT_TRUE(model.has_forward());
    EXPECT_EQ(model.input_shape(), (camkit::shape_t{2, 3, 24, 24}));
    EXPECT_EQ(model.output_shape(), (camkit::shape_t{2, 3}));
    EXPECT_EQ(model.activation_shape(), (camkit::shape_t{2, 12, 12, 12}));
    EXPECT_EQ(model.metadata().at("camkit.format"), "1");
    EXPECT_EQ(model.describe(), "layer 'features.3' of the exported model " + dir + "cnn.pt2");
}

TEST_F(ExportedCnn, ForwardAndGradientsMatchTorchScript) {
    ct::scripted_layer layer(script, "features.3");
    const ct::captured ref = ct::capture_gradients(layer, x.detach().requires_grad_(true), targets);
    const ct::captured c = ct::capture_gradients(model, x, targets);
    EXPECT_LE(relative_error(c.output, ref.output, "output"), tolerance);
    EXPECT_LE(relative_error(c.activations, ref.activations, "activations"), tolerance);
    EXPECT_LE(relative_error(c.gradients, ref.gradients, "gradients"), tolerance);
    EXPECT_LE(relative_error(c.scores.unsqueeze(1), ref.scores.unsqueeze(1), "scores"), tolerance);
    // The scores are the target logits of the output.
    EXPECT_NEAR(c.scores[0].item<double>(), c.output[0][2].item<double>(), 1e-6);
    EXPECT_NEAR(c.scores[1].item<double>(), c.output[1][0].item<double>(), 1e-6);
    const auto [out, a] = ct::capture_activations(model, x);
    EXPECT_TRUE(at::equal(out, c.output));
    EXPECT_TRUE(at::equal(a, c.activations));
}

TEST_F(ExportedCnn, GradCamMatchesLibraryAndTorchScript) { compare<camkit::grad_cam>("cnn_gradcam.npy"); }
TEST_F(ExportedCnn, HiResCamMatchesLibraryAndTorchScript) { compare<camkit::hires_cam>("cnn_hirescam.npy"); }
TEST_F(ExportedCnn, GradCamPlusPlusMatchesLibraryAndTorchScript) { compare<camkit::grad_cam_plus_plus>("cnn_gradcampp.npy"); }
TEST_F(ExportedCnn, XGradCamMatchesLibraryAndTorchScript) { compare<camkit::xgrad_cam>("cnn_xgradcam.npy"); }
TEST_F(ExportedCnn, LayerCamMatchesLibraryAndTorchScript) { compare<camkit::layer_cam>("cnn_layercam.npy"); }
TEST_F(ExportedCnn, GradCamElementWiseMatchesLibraryAndTorchScript) {
    compare<camkit::grad_cam_elementwise>("cnn_gradcam_elementwise.npy");
}

TEST_F(ExportedCnn, EveryRegisteredMethodMatchesTorchScript) {
    ct::scripted_layer layer(script, "features.3");
    int methods = 0;
    for (const auto name : camkit::method_names()) {
        camkit::with_method(std::string(name), [&](auto type) {
            using M = typename decltype(type)::type;
            ct::explained ref;
            const ct::explained e = explain_both<M>(model, layer, x, targets, {}, ref);
            EXPECT_LE(relative_error(e.cam.raw, ref.cam.raw, std::string(name) + " raw vs TorchScript"), tolerance);
            EXPECT_EQ(e.gradients.defined(), camkit::needs_gradients_v<M>) << name;
            ++methods;
        });
    }
    EXPECT_GE(methods, 9);
}

TEST_F(ExportedCnn, ScoreCamMatchesLibraryAndTorchScript) {
    // Batches of 5 masked inputs: the package (batch 2) runs them in chunks, the last one padded.
    ct::score_cam_options sopt;
    sopt.batch_size = 5;
    const ct::score_cam_result e = ct::score_cam(model, x, targets, library_pipeline, sopt);
    const ct::score_cam_result ref = ct::score_cam(script, "features.3", x, targets, library_pipeline, sopt);
    EXPECT_LE(relative_error(e.map, load("cnn_scorecam.npy"), "scorecam vs pytorch-grad-cam"), tolerance);
    EXPECT_LE(relative_error(e.weights, ref.weights, "scorecam weights vs TorchScript"), tolerance);
    EXPECT_LE(relative_error(e.target_scores, ref.target_scores, "scorecam target scores vs TorchScript"), tolerance);
}

TEST_F(ExportedCnn, PredictedClassAndProbabilityRunTheForwardFirst) {
    ct::scripted_layer layer(script, "features.3");
    const at::Tensor xg = x.detach().requires_grad_(true);
    // Nothing: each sample's predicted class, which depends on the output's values.
    const ct::captured p = ct::capture_gradients(model, x);
    const ct::captured pref = ct::capture_gradients(layer, xg);
    EXPECT_LE(relative_error(p.gradients, pref.gradients, "predicted class gradients"), tolerance);
    const std::vector<camkit::target> argmax = ct::predicted_class_targets(p.output);
    EXPECT_LE(relative_error(p.gradients, ct::capture_gradients(model, x, argmax).gradients, "predicted = argmax"), 0.0);
    // A probability: its seed is the softmax's derivative at the output.
    const ct::probability_score prob{targets};
    const ct::captured q = ct::capture_gradients(model, x, prob);
    const ct::captured qref = ct::capture_gradients(layer, xg, prob);
    EXPECT_LE(relative_error(q.gradients, qref.gradients, "probability gradients"), tolerance);
    EXPECT_LE(relative_error(q.scores.unsqueeze(1), qref.scores.unsqueeze(1), "probability scores"), tolerance);
    EXPECT_GT(q.scores.min().item<double>(), 0.0);
    EXPECT_LT(q.scores.max().item<double>(), 1.0);
}

TEST_F(ExportedCnn, ManyTargetsMatchTorchScript) {
    ct::scripted_layer layer(script, "features.3");
    const std::vector<camkit::target> all{camkit::class_score(0), camkit::class_score(1), camkit::class_score(2)};
    const ct::captured ref = ct::capture_gradients_many(layer, x.detach().requires_grad_(true), all, 1);
    const std::size_t g0 = model.gradient_calls(), f0 = model.forward_calls();
    const ct::captured c = ct::capture_gradients_many(model, x, all, 1);
    // The sample repeated once per target: 3 rows in the package's batch of 2 are 2 calls; the
    // batch's output (it holds another sample) one forward.
    EXPECT_EQ(model.gradient_calls() - g0, 2u);
    EXPECT_EQ(model.forward_calls() - f0, 1u);
    ASSERT_EQ(c.gradients.sizes(), (std::vector<std::int64_t>{3, 12, 12, 12}));
    EXPECT_LE(relative_error(c.gradients, ref.gradients, "many targets gradients"), tolerance);
    EXPECT_LE(relative_error(c.activations, ref.activations, "many targets activations"), tolerance);
    EXPECT_LE(relative_error(c.scores.unsqueeze(1), ref.scores.unsqueeze(1), "many targets scores"), tolerance);
    EXPECT_LE(relative_error(c.output, ref.output, "many targets output"), tolerance);
    for (std::int64_t t = 0; t < 3; ++t)  // each target's own gradients, not one target's thrice
        EXPECT_GT(relative_error(c.gradients[t], c.gradients[(t + 1) % 3], "targets differ"), 1e-3) << t;
    // One sample and two targets: one call, its output the call's own (no forward).
    const at::Tensor one = x.narrow(0, 1, 1);
    const std::vector<camkit::target> two{camkit::class_score(2), camkit::class_score(0)};
    const std::size_t g1 = model.gradient_calls(), f1 = model.forward_calls();
    const ct::captured d = ct::capture_gradients_many(model, one, two);
    EXPECT_EQ(model.gradient_calls() - g1, 1u);
    EXPECT_EQ(model.forward_calls() - f1, 0u);
    const ct::captured dref = ct::capture_gradients_many(layer, one.detach().requires_grad_(true), two);
    EXPECT_LE(relative_error(d.gradients, dref.gradients, "one sample's gradients"), tolerance);
    EXPECT_LE(relative_error(d.scores.unsqueeze(1), dref.scores.unsqueeze(1), "one sample's scores"), tolerance);
    EXPECT_LE(relative_error(d.output, dref.output, "one sample's output"), tolerance);
    // No targets: the output from the forward function, no gradient call; empty scores and maps
    // as the TorchScript layer gives.
    const std::size_t g2 = model.gradient_calls(), f2 = model.forward_calls();
    const ct::captured none = ct::capture_gradients_many(model, one, {});
    const ct::captured noneref = ct::capture_gradients_many(layer, one.detach().requires_grad_(true), {});
    EXPECT_EQ(model.gradient_calls() - g2, 0u);
    EXPECT_EQ(model.forward_calls() - f2, 1u);
    EXPECT_EQ(none.gradients.sizes(), noneref.gradients.sizes());
    EXPECT_EQ(none.activations.sizes(), noneref.activations.sizes());
    EXPECT_EQ(none.scores.sizes(), (std::vector<std::int64_t>{0}));
    EXPECT_EQ(noneref.scores.sizes(), (std::vector<std::int64_t>{0}));
    EXPECT_LE(relative_error(none.output, noneref.output, "no targets' output"), tolerance);
}

TEST_F(ExportedCnn, CamFromTheHeadThePackageHolds) {
    const at::Tensor w = model.parameter("fc.weight");
    at::Tensor wref;
    for (const auto& p : script.named_parameters(true))
        if (p.name == "fc.weight") wref = p.value;
    EXPECT_LE(relative_error(w, wref, "head weight"), 0.0);
    const std::vector<std::size_t> classes{2, 0};
    ct::scripted_layer layer(script, "features.3");
    at::Tensor a;
    {
        at::NoGradGuard no_grad;
        a = layer.forward(x).activations;
    }
    const auto ref = ct::cam(a, wref, classes);
    const auto e = ct::cam(model, x, "fc.weight", classes);
    EXPECT_LE(relative_error(e.raw, ref.raw, "cam raw vs TorchScript"), tolerance);
    try {
        model.parameter("fc.nope");
        ADD_FAILURE() << "no error";
    } catch (const camkit::error& err) {
        EXPECT_NE(std::string(err.what()).find("'fc.nope' is not a parameter the package holds"), std::string::npos);
        EXPECT_NE(std::string(err.what()).find("fc.weight"), std::string::npos) << err.what();
    }
}

TEST_F(ExportedCnn, FaithfulnessRunsAnyBatchSize) {
    // Three inputs through a package of batch 2: chunks of 2, the second padded; the same as one by one.
    const at::Tensor three = at::cat({x, x.narrow(0, 0, 1) * 0.5});
    auto forward = ct::model_traits<ct::exported_model>::forward(model);
    const at::Tensor out = forward(three);
    ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{3, 3}));
    const at::Tensor ref = script.forward({three}).toTensor();
    EXPECT_LE(relative_error(out, ref, "forward of 3 inputs"), tolerance);
    EXPECT_THROW(forward(at::zeros({0, 3, 24, 24})), camkit::error);
}

TEST_F(ExportedCnn, ForwardOnlyPackage) {
    ct::exported_model fwd(dir + "cnn_forward_only.pt2");
    EXPECT_FALSE(fwd.has_gradient());
    EXPECT_TRUE(fwd.has_forward());
    EXPECT_EQ(fwd.layer(), "features.3");
    const ct::explained eigen = ct::explain<camkit::eigen_cam>(fwd, x);
    EXPECT_LE(relative_error(eigen.cam.raw, ct::explain<camkit::eigen_cam>(model, x).cam.raw, "eigencam forward-only"),
              tolerance);
    EXPECT_LE(relative_error(ct::score_cam(fwd, x, targets).map, ct::score_cam(model, x, targets).map, "scorecam forward-only"),
              tolerance);
    try {
        ct::explain<camkit::grad_cam>(fwd, x, targets);
        ADD_FAILURE() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("is a forward-only package"), std::string::npos) << e.what();
    }
    EXPECT_THROW(fwd.run_gradient(x, at::zeros({2, 3})), camkit::error);
}

TEST_F(ExportedCnn, PackageWithoutForwardRunsTheGradientWithAZeroSeed) {
    ct::exported_model grad(dir + "cnn_gradient_only.pt2");
    EXPECT_TRUE(grad.has_gradient());
    EXPECT_FALSE(grad.has_forward());
    const auto [out, a] = ct::capture_activations(grad, x);
    const auto [out_ref, a_ref] = ct::capture_activations(model, x);
    EXPECT_LE(relative_error(out, out_ref, "zero-seed forward output"), tolerance);
    EXPECT_LE(relative_error(a, a_ref, "zero-seed forward activations"), tolerance);
    // The predicted class needs the output first.
    EXPECT_LE(relative_error(ct::capture_gradients(grad, x).gradients, ct::capture_gradients(model, x).gradients,
                             "zero-seed predicted class"),
              tolerance);
    EXPECT_LE(relative_error(ct::score_cam(grad, x, targets).map, ct::score_cam(model, x, targets).map,
                             "zero-seed scorecam"),
              tolerance);
    try {
        grad.parameter("fc.weight");
        ADD_FAILURE() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("has no forward function"), std::string::npos) << e.what();
    }
}

// The package takes batches of 2; batches of 1, 3 and 5 run in chunks of 2, the last padded, and
// every result is the TorchScript model's on the same batch.
TEST_F(ExportedCnn, AnyBatchSizeRunsInChunksOfThePackages) {
    ct::scripted_layer layer(script, "features.3");
    for (const std::int64_t N : {1, 3, 5}) {
        at::manual_seed(N);
        const at::Tensor xs = at::randn({N, 3, 24, 24});
        const at::Tensor xg = xs.detach().requires_grad_(true);
        std::vector<camkit::target> t;
        for (std::int64_t n = 0; n < N; ++n) t.push_back(camkit::class_score(static_cast<std::size_t>(n % 3)));
        const std::string b = "batch " + std::to_string(N) + " ";
        ct::explained ref;
        const ct::explained e = explain_both<camkit::grad_cam>(model, layer, xs, t, library_pipeline, ref);
        ASSERT_EQ(e.gradients.size(0), N);
        EXPECT_LE(relative_error(e.gradients, ref.gradients, b + "gradients"), tolerance);
        EXPECT_LE(relative_error(e.cam.map, ref.cam.map, b + "gradcam map"), tolerance);
        EXPECT_GT(ref.cam.map.flatten(1).amax(1).min().item<double>(), 0.0) << b << "map empty";
        EXPECT_LE(relative_error(e.scores.unsqueeze(1), ref.scores.unsqueeze(1), b + "scores"), tolerance);
        EXPECT_LE(relative_error(e.output, ref.output, b + "output"), tolerance);
        // Each sample's predicted class: the forward function's chunks first, then the gradient's.
        const ct::explained p = explain_both<camkit::hires_cam>(model, layer, xs, {}, library_pipeline, ref);
        EXPECT_LE(relative_error(p.cam.map, ref.cam.map, b + "predicted hirescam map"), tolerance);
        EXPECT_GT(ref.cam.map.flatten(1).amax(1).min().item<double>(), 0.0) << b << "map empty";
        EXPECT_LE(relative_error(p.scores.unsqueeze(1), ref.scores.unsqueeze(1), b + "predicted scores"), tolerance);
        const ct::explained eigen = explain_both<camkit::eigen_cam>(model, layer, xs, {}, library_pipeline, ref);
        EXPECT_LE(relative_error(eigen.cam.map, ref.cam.map, b + "eigencam map"), tolerance);
        const ct::score_cam_result sc = ct::score_cam(model, xs, t, library_pipeline);
        const ct::score_cam_result scref = ct::score_cam(script, "features.3", xs, t, library_pipeline);
        EXPECT_LE(relative_error(sc.map, scref.map, b + "scorecam map"), tolerance);
        EXPECT_LE(relative_error(sc.target_scores.unsqueeze(1), scref.target_scores.unsqueeze(1), b + "scorecam scores"),
                  tolerance);
        // Many targets of the last sample: the gradient function on the chunk that holds it.
        const std::vector<camkit::target> all{camkit::class_score(0), camkit::class_score(1), camkit::class_score(2)};
        const auto last = static_cast<std::size_t>(N - 1);
        const ct::captured many = ct::capture_gradients_many(model, xs, all, last);
        const ct::captured manyref = ct::capture_gradients_many(layer, xg, all, last);
        EXPECT_LE(relative_error(many.gradients, manyref.gradients, b + "many targets gradients"), tolerance);
        EXPECT_LE(relative_error(many.scores.unsqueeze(1), manyref.scores.unsqueeze(1), b + "many targets scores"),
                  tolerance);
        EXPECT_EQ(many.output.size(0), N);
    }
}

TEST_F(ExportedCnn, AnInputThePackageCannotTakeIsAClearError) {
    CAMKIT_EXPECT_ERROR_HAS(ct::explain<camkit::grad_cam>(model, at::randn({3, 3, 16, 16}),
                                                          std::vector<camkit::target>(3, camkit::class_score(0))),
                            "takes input of shape [2, 3, 24, 24] (any batch size, run in chunks of 2; the other axes "
                            "are fixed at export), got [3, 3, 16, 16]");
    // The functions themselves take the one shape.
    CAMKIT_EXPECT_ERROR_HAS(model.run_forward(at::randn({3, 3, 24, 24})),
                            "takes input of shape [2, 3, 24, 24] (a package's shapes, batch size included, are fixed "
                            "at export), got [3, 3, 24, 24]");
    EXPECT_THROW(ct::capture_activations(model, at::randn({0, 3, 24, 24})), camkit::error);
    EXPECT_THROW(ct::capture_activations(model, at::randn({3, 24, 24})), camkit::error);
    EXPECT_THROW(ct::capture_activations(model, at::randn({2, 3, 16, 16})), camkit::error);
    EXPECT_THROW(ct::capture_activations(model, x.to(at::kDouble)), camkit::error);
    EXPECT_THROW(ct::capture_activations(model, at::Tensor()), camkit::error);
    // Targets are validated against the recorded output shape before anything runs.
    EXPECT_THROW(ct::capture_gradients(model, x, std::vector<camkit::target>(2, camkit::class_score(3))), camkit::error);
    EXPECT_THROW(ct::capture_gradients(model, x, std::vector<camkit::target>(1, camkit::class_score(0))), camkit::error);
    try {
        model.run_gradient(x, at::zeros({2, 4}));
        ADD_FAILURE() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("the seed must have the output's shape [2, 3]"), std::string::npos) << e.what();
    }
}

TEST(ExportedModel, LoadErrors) {
    const auto expect_error = [](const std::string& path, const std::string& needle) {
        try {
            ct::exported_model m(path);
            ADD_FAILURE() << "no error for " << path;
        } catch (const camkit::error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_error(dir + "missing.pt2", "missing.pt2 is not a regular file");
    expect_error(dir, "is not a regular file");
    expect_error(dir + "cnn.pt", "cannot load " + dir + "cnn.pt (is it a package written by tools/export_cam.py?): it "
                                 "holds neither a forward nor a gradient function");
    expect_error(dir + "cnn_input.npy", "cannot load " + dir + "cnn_input.npy (is it a package written by "
                                        "tools/export_cam.py?): not a PyTorch archive: ");
    expect_error(dir + "plain.pt2", "has no camkit metadata (camkit.layer)");
}

// LibTorch's loader extracts a package into a temporary folder; asked for a function the package
// lacks, or given a file that is no package, it fails and leaves that folder behind. camkit asks
// only for the functions a package holds: loading every kind of package, and failing to load
// other files, leaves the temporary directory ($TMPDIR, which the loader follows) as it was.
TEST(ExportedModel, LoadingLeavesNoTemporaryFolder) {
    const std::filesystem::path tmp = camkit_test::unique_temp_dir("camkit_test_exported");
    const char* before = std::getenv("TMPDIR");
    const std::string saved = before ? before : "";
    ASSERT_EQ(setenv("TMPDIR", tmp.c_str(), 1), 0);
    for (const std::string name : {"cnn.pt2", "cnn_forward_only.pt2", "cnn_gradient_only.pt2", "unet_dict.pt2",
                                   "unet_layers.pt2", "plain.pt2", "cnn.pt", "cnn_input.npy"}) {
        const bool package = name != "plain.pt2" && name != "cnn.pt" && name != "cnn_input.npy";  // LoadErrors
        try {
            ct::exported_model m(dir + name);
            EXPECT_TRUE(package && (m.has_forward() || m.has_gradient())) << name;
        } catch (const camkit::error& e) {
            EXPECT_FALSE(package) << name << ": " << e.what();
        }
        EXPECT_TRUE(std::filesystem::is_empty(tmp)) << name << " left " << std::filesystem::directory_iterator(tmp)->path();
    }
    if (before)
        setenv("TMPDIR", saved.c_str(), 1);
    else
        unsetenv("TMPDIR");
    std::filesystem::remove_all(tmp);
}

TEST(ExportedModel, ParsesShapes) {
    EXPECT_EQ(ct::detail::parse_shape("2,3,24,24", "k"), (camkit::shape_t{2, 3, 24, 24}));
    EXPECT_EQ(ct::detail::parse_shape("7", "k"), (camkit::shape_t{7}));
    for (const char* bad : {"", "2,,3", "2,3,", "a", "-1", "2, 3"}) EXPECT_THROW(ct::detail::parse_shape(bad, "k"), camkit::error) << bad;
}

// --layer auto is one rule in both implementations: camkit::torch::candidate_layer on the traced
// TorchScript files chooses what export_cam.py's candidate_layer chose on the Python models.
TEST(ExportedModel, AutoLayerAgreesWithExportCam) {
    std::ifstream in(dir + "auto_layers.txt");
    std::map<std::string, std::string> python;
    for (std::string net, layer; in >> net >> layer;) python[net] = layer;
    ASSERT_EQ(python.size(), 2u);
    EXPECT_EQ(python["cnn"], "features");  // the Sequential, after its last ReLU, before the pooling
    EXPECT_EQ(python["unet"], "head");     // a segmenter's output convolution
    for (const std::string net : {"cnn", "unet"}) {
        torch::jit::Module m = torch::jit::load(dir + net + ".pt");
        m.eval();
        EXPECT_EQ(ct::candidate_layer(m, load(net + "_input.npy")), python[net]) << net;
    }
}

class ExportedUnet : public ExportedNet {
protected:
    ExportedUnet() : ExportedNet("unet", "dec2", {32, 32}) { targets.assign(2, camkit::mask_sum(cls, mask)); }
    std::size_t cls = static_cast<std::size_t>(numbers("unet_class.txt").at(0));
    camkit::tensor<float> mask = camkit::io::read_npy<float>(dir + "unet_mask.npy");
};

TEST_F(ExportedUnet, RecordsTheLayer) {
    EXPECT_EQ(model.layer(), "dec2");
    EXPECT_EQ(model.output_shape(), (camkit::shape_t{2, 4, 32, 32}));
    EXPECT_EQ(model.activation_shape(), (camkit::shape_t{2, 16, 16, 16}));
}

TEST_F(ExportedUnet, SegGradCamMatchesLibraryAndTorchScript) { compare<camkit::grad_cam>("unet_gradcam.npy"); }
TEST_F(ExportedUnet, SegHiResCamMatchesLibraryAndTorchScript) { compare<camkit::hires_cam>("unet_hirescam.npy"); }

TEST_F(ExportedUnet, PredictedRegionAndMeanProbabilityMatchTorchScript) {
    ct::scripted_layer layer(script, "dec2");
    const at::Tensor xg = x.detach().requires_grad_(true);
    // The predicted region of class cls, from the forward function's output.
    const at::Tensor output = ct::capture_activations(model, x).first;
    const camkit::tensor<float> y = camkit::tensor<float>(ct::shape_of(output),
                                                          std::vector<float>(output.data_ptr<float>(),
                                                                             output.data_ptr<float>() + output.numel()));
    const std::vector<camkit::target> region(2, camkit::mask_sum(cls, camkit::predicted_region(y, cls)));
    ct::explained ref;
    const ct::explained e = explain_both<camkit::grad_cam>(model, layer, x, region, {}, ref);
    EXPECT_LE(relative_error(e.cam.raw, ref.cam.raw, "U-Net predicted region"), tolerance);
    // The mean probability of cls over the image: the seed needs the output's values.
    const ct::probability_score prob{std::vector<camkit::target>(2, camkit::target{cls, std::nullopt, camkit::reduction::mean})};
    const ct::captured q = ct::capture_gradients(model, x, prob);
    EXPECT_LE(relative_error(q.gradients, ct::capture_gradients(layer, xg, prob).gradients, "U-Net mean probability"),
              tolerance);
}

// A model whose forward returns a dict, exported at model_output "out": its package is the U-Net's
// (the output, the layer's activations and gradients, and the map), and records the choice.
TEST_F(ExportedUnet, DictOutputExportedAtTheNamedKey) {
    ct::exported_model dict(dir + "unet_dict.pt2");
    EXPECT_EQ(dict.layer(), "net.dec2");
    EXPECT_EQ(dict.metadata().at("camkit.model_output"), "out");
    EXPECT_EQ(dict.output_shape(), (camkit::shape_t{2, 4, 32, 32}));
    EXPECT_FALSE(dict.has_forward());
    const ct::captured want = ct::capture_gradients(model, x, targets);
    const ct::captured got = ct::capture_gradients(dict, x, targets);
    EXPECT_LE(relative_error(got.output, want.output, "dict output"), tolerance);
    EXPECT_LE(relative_error(got.activations, want.activations, "dict activations"), tolerance);
    EXPECT_LE(relative_error(got.gradients, want.gradients, "dict gradients"), tolerance);
    EXPECT_LE(relative_error(ct::explain<camkit::grad_cam>(dict, x, targets, library_pipeline).cam.map, load("unet_gradcam.npy"),
                             "dict U-Net gradcam vs pytorch-grad-cam"),
              tolerance);
}

// unet_layers.pt2 records enc2, dec2 and dec1 in one forward: each layer's activations and
// gradients equal the TorchScript model's at that layer, from one call per chunk for all of them;
// the functions of one layer take the layer named when loading, and ask for one otherwise.
TEST_F(ExportedUnet, SeveralLayersInOnePackage) {
    const std::vector<std::string> names{"enc2", "dec2", "dec1"};
    ct::exported_model all(dir + "unet_layers.pt2");
    EXPECT_EQ(all.layers(), names);
    EXPECT_EQ(all.metadata().at("camkit.format"), "2");
    EXPECT_EQ(all.activation_shapes(),
              (std::vector<camkit::shape_t>{{2, 16, 16, 16}, {2, 16, 16, 16}, {2, 8, 32, 32}}));
    EXPECT_FALSE(all.has_selected_layer());
    const std::string choose = "unet_layers.pt2 records layers 'enc2', 'dec2', 'dec1': choose one (exported_model(path, layer)";
    CAMKIT_EXPECT_ERROR_HAS(all.layer(), choose);
    CAMKIT_EXPECT_ERROR_HAS(ct::explain<camkit::grad_cam>(all, x, targets), choose);
    CAMKIT_EXPECT_ERROR_HAS(ct::capture_activations(all, x), choose);
    EXPECT_EQ(all.describe(), "layers 'enc2', 'dec2', 'dec1' of the exported model " + dir + "unet_layers.pt2");
    CAMKIT_EXPECT_ERROR_HAS(ct::exported_model(dir + "unet_layers.pt2", "enc1"),
                      "unet_layers.pt2 records layers 'enc2', 'dec2', 'dec1', not 'enc1' (export the package at that layer)");
    CAMKIT_EXPECT_ERROR_HAS(ct::exported_model(dir + "unet.pt2", "enc2"),
                      "unet.pt2 records layer 'dec2', not 'enc2' (export the package at that layer)");

    // Every layer from one forward call per chunk (3 samples: two chunks of the batch of 2).
    const at::Tensor x3 = at::cat({x, x.narrow(0, 1, 1) * 0.9});
    const std::size_t f0 = all.forward_calls();
    const ct::layered_pass fwd = ct::capture_activations_layers(all, x3);
    EXPECT_EQ(all.forward_calls() - f0, 2u);
    ASSERT_EQ(fwd.activations.size(), 3u);
    EXPECT_TRUE(fwd.gradients.empty());
    const std::vector<camkit::target> three{camkit::mask_sum(cls, mask), camkit::class_score(0), camkit::class_score(3)};
    const std::size_t g0 = all.gradient_calls();
    const ct::layered_pass many = ct::capture_gradients_many_layers(all, x3, three, 2);
    EXPECT_EQ(all.gradient_calls() - g0, 2u);  // 3 targets in chunks of 2, every layer in each call
    for (std::size_t l = 0; l < names.size(); ++l) {
        ct::scripted_layer layer(script, names[l]);
        const std::string what = "layers package " + names[l];
        const auto [yref, aref] = ct::capture_activations(layer, x3);
        EXPECT_LE(relative_error(fwd.activations[l], aref, what + " activations"), tolerance);
        EXPECT_LE(relative_error(fwd.output, yref, what + " output"), tolerance);
        const ct::captured ref = ct::capture_gradients_many(layer, x3.detach().requires_grad_(true), three, 2);
        EXPECT_LE(relative_error(many.gradients[l], ref.gradients, what + " gradients of 3 targets"), tolerance);
        EXPECT_LE(relative_error(many.activations[l], ref.activations, what + " activations of 3 targets"), tolerance);
        // The package loaded at that layer: the one-layer functions, as the one-layer package would.
        ct::exported_model one(dir + "unet_layers.pt2", names[l]);
        EXPECT_EQ(one.layer(), names[l]);
        EXPECT_EQ(one.activation_shape(), all.activation_shapes()[l]);
        ct::explained eref;
        const ct::explained e = explain_both<camkit::grad_cam>(one, layer, x, targets, library_pipeline, eref);
        EXPECT_LE(relative_error(e.cam.map, eref.cam.map, what + " Seg-Grad-CAM map"), tolerance);
        EXPECT_LE(relative_error(e.gradients, eref.gradients, what + " Seg-Grad-CAM gradients"), tolerance);
    }
    ct::scripted_layer dec1(script, "dec1");
    const ct::captured sref = ct::capture_gradients_many(dec1, x3.detach().requires_grad_(true), three, 2);
    EXPECT_LE(relative_error(many.scores.unsqueeze(1), sref.scores.unsqueeze(1), "layers package scores"), tolerance);
    EXPECT_LE(relative_error(many.output, sref.output, "layers package output of 3 targets"), tolerance);
    // At dec2 the package of three layers gives the one-layer package's numbers.
    ct::exported_model at_dec2(dir + "unet_layers.pt2", "dec2");
    const ct::captured a = ct::capture_gradients(at_dec2, x, targets), b = ct::capture_gradients(model, x, targets);
    EXPECT_LE(relative_error(a.gradients, b.gradients, "dec2 of both packages"), tolerance);
}

// ---- camkit-torch with --model M.pt2 ----

#ifdef CAMKIT_TORCH_TOOL
constexpr const char* tool_path = CAMKIT_TORCH_TOOL;
#else
constexpr const char* tool_path = "";
#endif

class ExportedTool : public camkit_test::tool_fixture {
protected:
    ExportedTool() : tool_fixture(tool_path, "camkit-torch") {}
    void SetUp() override {
        if (std::string(tool_path).empty()) GTEST_SKIP() << "the camkit-torch tool is not built (CAMKIT_BUILD_EXAMPLES=OFF)";
        tool_fixture::SetUp();
    }
    at::Tensor explain(std::vector<std::string> args) const {
        args.insert(args.begin(), "explain");
        args.insert(args.end(), {"--out", path("map.npy")});
        std::filesystem::remove(path("map.npy"));
        const auto r = run(args);
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
        samples = camkit_test::explained_samples(r.out);
        if (r.status != 0) return at::zeros({1});
        return load_file(path("map.npy"));
    }
    /// Expects the same classes and scores (to `tolerance`, relative) in `a` and `b`.
    static void expect_same_samples(const std::vector<camkit_test::explained_sample>& a,
                                    const std::vector<camkit_test::explained_sample>& b, const std::string& what) {
        ASSERT_EQ(a.size(), b.size()) << what;
        for (std::size_t n = 0; n < a.size(); ++n) {
            EXPECT_EQ(a[n].cls, b[n].cls) << what << " sample " << n;
            EXPECT_EQ(std::isnan(a[n].score), std::isnan(b[n].score)) << what << " sample " << n;
            if (!std::isnan(a[n].score)) {
                EXPECT_NEAR(a[n].score, b[n].score, 1e-4 * (1 + std::abs(b[n].score))) << what << " sample " << n;
            }
        }
    }
    mutable std::vector<camkit_test::explained_sample> samples;  ///< of the last explain

    /// `camkit-torch analyze` of `inputs` into the test's folder `out` with Grad-CAM, HiResCAM and
    /// Score-CAM, the maps saved, and `model` (--model and --layer arguments).
    void analyze(const std::string& inputs, const std::string& out, const std::vector<std::string>& model) const {
        std::vector<std::string> args{"analyze", "--inputs", inputs, "--out", path(out), "--method", "gradcam",
                                      "--method", "hirescam", "--method", "scorecam", "--save-maps"};
        args.insert(args.end(), model.begin(), model.end());
        const auto r = run(args);
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
    }

    /// Expects `rows` rows in the analyses `a` and `b` (test folders), with equal names and
    /// metrics, and equal saved maps; returns how many of those maps are zero everywhere.
    std::size_t expect_same_analyses(const std::string& a_out, const std::string& b_out, std::size_t rows) const {
        std::size_t empty = 0;
        const auto lines = [&](const std::string& out) {
            std::ifstream in(path(out) + "/metrics.csv");
            std::vector<std::vector<std::string>> v;
            for (std::string line; std::getline(in, line);) v.push_back(camkit_analyze::split_csv(line));
            return v;
        };
        const auto a = lines(a_out), b = lines(b_out);
        EXPECT_EQ(a.size(), rows);
        EXPECT_EQ(a.size(), b.size());
        if (a.size() != rows || b.size() != rows) return rows;
        // Score-CAM's softmax over masked sums in the hundreds turns float rounding into 1.1e-5 of a map.
        const double tol = 5e-5;
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].size(), b[i].size()) << "row " << i;
            if (a[i].size() != b[i].size()) return rows;
            for (std::size_t c = 0; c < a[i].size(); ++c) {
                if (i == 0 || c < camkit_analyze::first_metric || a[i][c].empty() || b[i][c].empty()) {
                    EXPECT_EQ(a[i][c], b[i][c]) << "row " << i << " column " << c;
                    continue;
                }
                const double x = std::stod(a[i][c]), y = std::stod(b[i][c]);
                if (std::isinf(y)) {  // a ratio over zero attention outside the region
                    EXPECT_EQ(x, y) << "row " << i << " column " << camkit_analyze::columns()[c];
                    continue;
                }
                EXPECT_NEAR(x, y, tol * (1 + std::abs(y))) << "row " << i << " column " << camkit_analyze::columns()[c];
            }
            if (i > 0) {
                const std::string name = "/maps/" + a[i][0] + "/" + a[i][1] + "__" + a[i][3] + "__" + a[i][4] + ".npy";
                const at::Tensor ma = load_file(path(a_out) + name), mb = load_file(path(b_out) + name);
                EXPECT_LE(relative_error(ma.unsqueeze(0), mb.unsqueeze(0), "analyze " + name), tol);
                empty += mb.max().item<double>() > 0.0 ? 0 : 1;
            }
        }
        return empty;
    }

    /// unet_input.npy's two samples and a third (the second × 0.9, whose mask-sum map is not
    /// empty), as unet_input3.npy in the test's folder: the package (batch 2) takes it in two
    /// chunks, the second padded.
    std::string unet_input3() const {
        const at::Tensor two = load("unet_input.npy");
        const at::Tensor three = at::cat({two, two.narrow(0, 1, 1) * 0.9}).contiguous();
        const std::string file = path("unet_input3.npy");
        camkit::io::write_npy(file, camkit::tensor<float>(ct::shape_of(three),
                                                          std::vector<float>(three.data_ptr<float>(),
                                                                             three.data_ptr<float>() + three.numel())));
        return file;
    }
};

TEST_F(ExportedTool, ExplainsAPackageAsTheTorchScriptModel) {
    const std::vector<std::string> unet_args{"--input", dir + "unet_input.npy", "--target", "mask-sum", "--class", "1",
                                             "--mask", dir + "unet_mask.npy", "--renormalize"};
    auto with = [](std::vector<std::string> head, const std::vector<std::string>& tail) {
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
    };
    const at::Tensor e = explain(with({"--model", dir + "unet.pt2"}, unet_args));
    EXPECT_LE(relative_error(e, load("unet_gradcam.npy"), "tool U-Net gradcam vs pytorch-grad-cam"), tolerance);
    // --layer may repeat the recorded layer.
    const at::Tensor same = explain(with({"--model", dir + "unet.pt2", "--layer", "dec2", "--method", "hirescam"}, unet_args));
    EXPECT_LE(relative_error(same, load("unet_hirescam.npy"), "tool U-Net hirescam vs pytorch-grad-cam"), tolerance);
    // Targets that need the output, and a linear one, against the TorchScript model, on three
    // inputs (the package takes two at a time: two chunks, the second padded).
    const std::string input3 = unet_input3();
    for (const auto& target : {std::vector<std::string>{"--target", "predicted", "--class", "0"},
                                                  {"--target", "largest-component", "--class", "1"},
                                                  {"--target", "softmax", "--class", "3"},
                                                  {"--target", "mask-sum", "--class", "1", "--mask", dir + "unet_mask.npy"}}) {
        const at::Tensor a = explain(with({"--model", dir + "unet.pt2", "--input", input3}, target));
        const auto a_samples = samples;
        const at::Tensor b = explain(with({"--model", dir + "unet.pt", "--layer", "dec2", "--input", input3}, target));
        EXPECT_LE(relative_error(a, b, "tool U-Net " + target[1] + " vs TorchScript"), tolerance);
        EXPECT_GT(b.amax(at::IntArrayRef{1, 2}).min().item<double>(), 0.0) << target[1];  // no sample's map is empty
        EXPECT_EQ(samples.size(), 3u) << target[1];  // the three inputs' lines
        expect_same_samples(a_samples, samples, "tool U-Net " + target[1] + " printed samples");
    }
    for (const auto& method : {std::vector<std::string>{"--method", "scorecam", "--class", "1"},
                                                  {"--method", "eigencam"},
                                                  {"--method", "cam", "--head", "fc.weight"},
                                                  {"--method", "gradcam++"}}) {
        const at::Tensor a = explain(with({"--model", dir + "cnn.pt2", "--input", dir + "cnn_input.npy"}, method));
        const auto a_samples = samples;
        const at::Tensor b =
            explain(with({"--model", dir + "cnn.pt", "--layer", "features.3", "--input", dir + "cnn_input.npy"}, method));
        EXPECT_LE(relative_error(a, b, "tool CNN " + method[1] + " vs TorchScript"), tolerance);
        EXPECT_EQ(samples.empty(), method[1] == "eigencam") << method[1];  // Eigen-CAM explains no target
        expect_same_samples(a_samples, samples, "tool CNN " + method[1] + " printed samples");
    }
}

// analyze runs a package at the layer it records (each image's two targets in one gradient call
// of the package's batch of 2): the same rows and maps as the TorchScript model's.
TEST_F(ExportedTool, AnalyzesAPackageAsTheTorchScriptModel) {
    const std::string input3 = unet_input3();
    analyze(input3, "package", {"--model", dir + "unet.pt2"});
    analyze(input3, "script", {"--model", dir + "unet.pt", "--layer", "dec2"});
    // The header, 3 images × 2 predicted classes × 3 methods; every map at dec2 has a positive value.
    EXPECT_EQ(expect_same_analyses("package", "script", 1 + 3 * 2 * 3), 0u);
    // Per image: the forward function, one gradient call for both targets (counted as a forward
    // and a backward), one masked forward for Score-CAM (dec2's channels fit one --batch-size of 16).
    std::ifstream summary(path("package") + "/summary.json");
    const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("\"forward\": 9, \"backward\": 3,"), std::string::npos) << text.substr(0, 200);
    // Bad input: another layer, --model-output, a forward-only package for a gradient method.
    const std::vector<std::string> base{"analyze", "--inputs", input3, "--out", path("bad")};
    const auto with = [&](std::vector<std::string> tail) {
        std::vector<std::string> v = base;
        v.insert(v.end(), tail.begin(), tail.end());
        return v;
    };
    expect_bad_input(with({"--model", dir + "unet.pt2", "--layer", "enc1", "--method", "gradcam"}),
                     "unet.pt2 records layer 'dec2' only, not --layer enc1");
    expect_bad_input(with({"--model", dir + "unet.pt2", "--model-output", "out", "--method", "gradcam"}),
                     "--model-output goes with a TorchScript model");
    expect_bad_input(with({"--model", dir + "cnn_forward_only.pt2", "--method", "gradcam"}),
                     "is a forward-only package; the gradient methods need the gradient function");
    expect_bad_input(with({"--model", dir + "cnn.pt2", "--method", "gradcam"}),
                     "takes input of shape [2, 3, 24, 24] (any batch size, run in chunks of 2; the other axes are fixed "
                     "at export), got [1, 1, 32, 32]");
}

// A package of three layers: analyze compares them as it does the TorchScript model's (every
// layer from the same calls: per image one forward, one gradient call for both targets, and
// Score-CAM's masked forwards, one per layer); --layer picks some of them, in its order.
TEST_F(ExportedTool, AnalyzesAPackageOfSeveralLayers) {
    const std::string input3 = unet_input3();
    analyze(input3, "layers", {"--model", dir + "unet_layers.pt2"});
    analyze(input3, "script", {"--model", dir + "unet.pt", "--layer", "enc2", "--layer", "dec2", "--layer", "dec1"});
    // Grad-CAM's ReLU leaves some maps at enc2 empty (both models alike), not most of them.
    EXPECT_LE(expect_same_analyses("layers", "script", 1 + 3 * 2 * 3 * 3), 3 * 2 * 3u);
    std::ifstream summary(path("layers") + "/summary.json");
    const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("\"forward\": 15, \"backward\": 3,"), std::string::npos) << text.substr(0, 200);
    analyze(input3, "some", {"--model", dir + "unet_layers.pt2", "--layer", "dec1", "--layer", "enc2"});
    analyze(input3, "some_script", {"--model", dir + "unet.pt", "--layer", "dec1", "--layer", "enc2"});
    EXPECT_LE(expect_same_analyses("some", "some_script", 1 + 3 * 2 * 3 * 2), 3 * 2 * 3u);
    expect_bad_input({"analyze", "--inputs", input3, "--out", path("bad"), "--model", dir + "unet_layers.pt2", "--layer",
                      "enc1", "--method", "gradcam"},
                     "unet_layers.pt2 records layers 'enc2', 'dec2', 'dec1' only, not --layer enc1");
    // --refine takes a package's layers when --layer is left out (it needed --layer before), in the
    // package's order, whose first layer must be the finest (enc2 is not: refused before any work);
    // named finest first it runs; a package of one layer is refused.
    expect_bad_input({"analyze", "--inputs", input3, "--out", path("refined"), "--model", dir + "unet_layers.pt2", "--method",
                      "gradcam", "--refine"},
                     "--refine takes the first --layer as the high-resolution one, but enc2's maps have 256 position(s) and "
                     "dec1's 1024: give the finest layer first");
    const auto refined = run({"analyze", "--inputs", input3, "--out", path("refined"), "--model", dir + "unet_layers.pt2",
                              "--layer", "dec1", "--layer", "dec2", "--layer", "enc2", "--method", "gradcam", "--refine"});
    EXPECT_EQ(refined.status, 0) << refined.err;
    expect_bad_input({"analyze", "--inputs", input3, "--out", path("bad"), "--model", dir + "unet.pt2", "--method",
                      "gradcam", "--refine"},
                     "--refine needs two layers or more (the first is the high-resolution one); " + dir +
                         "unet.pt2 records layer 'dec2'");
    // explain and layers: the package's layers, one of them chosen by --layer.
    const auto r = run({"layers", "--model", dir + "unet_layers.pt2"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "enc2\ndec2\ndec1\n");
    const std::vector<std::string> args{"--input", dir + "unet_input.npy", "--target", "mask-sum", "--class", "1",
                                        "--mask", dir + "unet_mask.npy"};
    expect_bad_input({"explain", "--model", dir + "unet_layers.pt2", "--input", dir + "unet_input.npy", "--out",
                      path("map.npy")},
                     "unet_layers.pt2 records layers 'enc2', 'dec2', 'dec1': choose one with --layer");
    expect_bad_input({"explain", "--model", dir + "unet_layers.pt2", "--layer", "up1", "--input",
                      dir + "unet_input.npy", "--out", path("map.npy")},
                     "records layers 'enc2', 'dec2', 'dec1', not --layer up1 (export it at that layer)");
    expect_bad_input({"explain", "--model", dir + "unet_layers.pt2", "--layer", "auto", "--input",
                      dir + "unet_input.npy", "--out", path("map.npy")},
                     "unet_layers.pt2 records layers 'enc2', 'dec2', 'dec1': --layer auto chooses among a TorchScript "
                     "model's layers; name one of these");
    expect_bad_input({"analyze", "--inputs", input3, "--out", path("bad"), "--model", dir + "unet_layers.pt2", "--layer",
                      "auto", "--method", "gradcam"},
                     "--layer auto chooses among a TorchScript model's layers; name one of these");
    for (const std::string layer : {"enc2", "dec1"}) {
        std::vector<std::string> a{"--model", dir + "unet_layers.pt2", "--layer", layer}, b{"--model", dir + "unet.pt",
                                                                                             "--layer", layer};
        a.insert(a.end(), args.begin(), args.end());
        b.insert(b.end(), args.begin(), args.end());
        const at::Tensor ma = explain(a), mb = explain(b);
        EXPECT_LE(relative_error(ma, mb, "tool layers package " + layer + " vs TorchScript"), tolerance);
        EXPECT_GT(mb.max().item<double>(), 0.0) << layer;
    }
}

TEST_F(ExportedTool, ErrorsAndLayers) {
    const auto r = run({"layers", "--model", dir + "cnn.pt2"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "features.3\n");
    // --layer auto on a package of one layer is that layer.
    const auto chosen = run({"explain", "--model", dir + "cnn.pt2", "--layer", "auto", "--input", dir + "cnn_input.npy",
                             "--class", "1", "--out", path("auto.npy")});
    EXPECT_EQ(chosen.status, 0) << chosen.err;
    EXPECT_EQ(chosen.out.rfind("camkit-torch: gradcam of layer features.3 (--layer auto), map ", 0), 0u) << chosen.out;
    expect_bad_input({"explain", "--model", dir + "cnn.pt2", "--layer", "features.0", "--input", dir + "cnn_input.npy",
                      "--out", path("map.npy")},
                     "records layer 'features.3', not --layer features.0");
    expect_bad_input({"explain", "--model", dir + "unet.pt2", "--input", dir + "cnn_input.npy", "--out", path("map.npy")},
                     "takes input of shape [2, 1, 32, 32]");
    expect_bad_input({"explain", "--model", dir + "cnn_forward_only.pt2", "--input", dir + "cnn_input.npy", "--out",
                      path("map.npy")},
                     "is a forward-only package");
    // Eigen-CAM explains no target, but a --class the output lacks is an error in both paths.
    for (const std::string model : {"cnn.pt2", "cnn.pt"})
        expect_bad_input({"explain", "--model", dir + model, "--layer", "features.3", "--input", dir + "cnn_input.npy",
                          "--method", "eigencam", "--class", "99", "--out", path("map.npy")},
                         "--class 99 is out of range: the model output [2, ");
}

}  // namespace
