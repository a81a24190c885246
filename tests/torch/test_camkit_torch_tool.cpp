// The camkit-torch tool, run as a program on the tiny TorchScript models of tests/data/torch_tool
// (made by make_models.py there, which also computes expected maps with PyTorch autograd and the
// formulas of SPEC.md written out) and on models built here with LibTorch. Every method's map is
// compared numerically: with the committed numbers, and with the library API on the same model
// and input. Every error exit (each fail() of examples/torch and examples/common), the hostile
// inputs (FIFO, /dev/zero, forged headers, same-file outputs, a truncated model) give exit status
// 2, one line on stderr and no changed or new file.
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/camkit.hpp>
#include <camkit/version.hpp>
#include <camkit/torch/exported.hpp>  // CAMKIT_TORCH_HAS_EXPORTED
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/torch.hpp>

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>  // TORCH_VERSION, TORCH_VERSION_MAJOR

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>
#include "common/tool_fixture.hpp"

namespace fs = std::filesystem;

namespace {

using camkit_test::slurp;
using camkit_test::write_text;

const std::string data = std::string(CAMKIT_TEST_DATA_DIR) + "/torch_tool/";

#ifdef CAMKIT_TORCH_TOOL
constexpr const char* tool_path = CAMKIT_TORCH_TOOL;
#else
constexpr const char* tool_path = "";
#endif

class CamkitTorchTool : public camkit_test::tool_fixture {
protected:
    CamkitTorchTool() : tool_fixture(tool_path, "camkit-torch") {}

    void SetUp() override {
        if (std::string(tool_path).empty()) GTEST_SKIP() << "the camkit-torch tool is not built (CAMKIT_BUILD_EXAMPLES=OFF)";
        tool_fixture::SetUp();
    }

    /// `explain` on the classifier's layer features.2 and x.npy, then `extra`.
    std::vector<std::string> clf(std::vector<std::string> extra) const {
        std::vector<std::string> args = {"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                                         data + "x.npy", "--out", path("map.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    /// `explain` on the segmenter's layer enc.0 and xs.npy, then `extra`.
    std::vector<std::string> seg(std::vector<std::string> extra) const {
        std::vector<std::string> args = {"explain", "--model", data + "segmenter.pt", "--layer", "enc.0", "--input",
                                         data + "xs.npy", "--out", path("map.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    /// Runs `args` successfully and returns the map written to map.npy.
    camkit::tensor<float> explain(const std::vector<std::string>& args) const {
        fs::remove(path("map.npy"));
        const auto r = run(args);
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
        EXPECT_EQ(files().size(), args.end() != std::find(args.begin(), args.end(), "--png") ? 2u : 1u)
            << "a staging file was left";
        if (r.status != 0) return {};
        return camkit::io::read_npy<float>(path("map.npy"));
    }
};

void expect_maps_near(const camkit::tensor<float>& got, const camkit::tensor<float>& want, const std::string& what,
                      double tol) {
    ASSERT_EQ(got.shape, want.shape) << what;
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << " at flat index " << i;
}

void expect_maps_near(const camkit::tensor<float>& got, const std::string& expected_file, double tol = 1e-4) {
    expect_maps_near(got, camkit::io::read_npy<float>(data + expected_file), expected_file, tol);
}

at::Tensor to_torch(const camkit::tensor<float>& t) {
    at::Tensor x = at::empty(camkit::torch::sizes_of(t.shape), at::kFloat);
    std::copy(t.values.begin(), t.values.end(), x.data_ptr<float>());
    return x;
}

/// The library's side of the `clf` cases: classifier.pt (eval) at layer features.2, x.npy, and
/// class 1 of both samples.
struct classifier_case {
    camkit::torch::scripted_layer layer;
    at::Tensor x;
    std::vector<camkit::target> targets;
};

classifier_case classifier() {
    torch::jit::Module model = torch::jit::load(data + "classifier.pt");
    model.eval();
    return {camkit::torch::scripted_layer(model, "features.2"), to_torch(camkit::io::read_npy<float>(data + "x.npy")),
            std::vector<camkit::target>(2, camkit::class_score(1))};
}

camkit::tensor<float> to_camkit(const at::Tensor& t) {
    const at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
    camkit::tensor<float> out(camkit::torch::shape_of(c));
    std::copy_n(c.data_ptr<float>(), c.numel(), out.values.begin());
    return out;
}

/// A module whose forward is `forward_source`, with a submodule `body` (forward `body_source`,
/// one parameter `w` of `weight`) to explain, saved as TorchScript at `path`; with `later`, a
/// second such submodule named `later`.
void save_model(const std::string& path, const std::string& forward_source, const std::string& body_source,
                const at::Tensor& weight, bool later = false) {
    torch::jit::Module m("Net");
    for (const char* name : {"body", "later"}) {
        if (std::string(name) == "later" && !later) continue;
        torch::jit::Module body("Body");
        body.register_parameter("w", weight, false);
        body.define(body_source);
        m.register_module(name, body);
    }
    m.define(forward_source);
    m.save(path);
}

/// A copy of the TorchScript file `from` whose first weight storage (data/0) is cut to half its
/// length: a well-formed archive whose tensors reach past the end of their storage.
void save_truncated_weights(const std::string& from, const std::string& to) {
    caffe2::serialize::PyTorchStreamReader reader(from);
    caffe2::serialize::PyTorchStreamWriter writer(to);
    writer.setMinVersion(reader.version());
    for (const std::string& name : reader.getAllRecords()) {
        if (name == "version" || name == ".data/version") continue;  // the writer writes its own
        auto [bytes, size] = reader.getRecord(name);
        writer.writeRecord(name, bytes.get(), name == "data/0" ? size / 2 : size);
    }
    writer.writeEndOfFile();
}

/// The archive `from` without TorchScript's code and constants.pkl, as a torch.save() file looks
/// (data.pkl and its storages), plus `extra` (a record name) when given.
void save_without_code(const std::string& from, const std::string& to, const std::string& extra = "") {
    caffe2::serialize::PyTorchStreamReader reader(from);
    caffe2::serialize::PyTorchStreamWriter writer(to);
    writer.setMinVersion(reader.version());
    for (const std::string& name : reader.getAllRecords()) {
        if (name == "version" || name == ".data/version" || name == "constants.pkl" || name.starts_with("code/")) continue;
        auto [bytes, size] = reader.getRecord(name);
        writer.writeRecord(name, bytes.get(), size);
    }
    if (!extra.empty()) writer.writeRecord(extra, "x", 1);
    writer.writeEndOfFile();
}

/// A PNG of 1x1 pixels whose header claims `height` x `width`.
std::string forged_png(std::uint32_t height, std::uint32_t width) {
    const std::uint8_t rgb[3] = {1, 2, 3};
    const std::vector<std::byte> png = camkit::io::encode_png(rgb, 1, 1);
    std::string s(reinterpret_cast<const char*>(png.data()), png.size());
    for (int b = 0; b < 4; ++b) {
        s[16 + b] = static_cast<char>(width >> (24 - 8 * b));
        s[20 + b] = static_cast<char>(height >> (24 - 8 * b));
    }
    return s;
}

}  // namespace

TEST_F(CamkitTorchTool, LayersListsDottedNames) {
    const auto r = run({"layers", "--model", data + "classifier.pt"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "features\nfeatures.0\nfeatures.1\nfeatures.2\npool\nfc\n");
    // With an input shape: each layer's type and output shape (tests/data/torch_tool/make_models.py:
    // a stride-2 convolution to 4 channels, then one to 5, pooled, 3 classes).
    const auto t = run({"layers", "--model", data + "classifier.pt", "--input-shape", "2,3,8,8"});
    EXPECT_EQ(t.status, 0) << t.err;
    EXPECT_EQ(t.out,
              "layer       type               output\n"
              "features    Sequential         [2, 5, 4, 4]\n"
              "features.0  Conv2d             [2, 4, 4, 4]\n"
              "features.1  ReLU               [2, 4, 4, 4]\n"
              "features.2  Conv2d             [2, 5, 4, 4]\n"
              "pool        AdaptiveAvgPool2d  [2, 5, 1, 1]\n"
              "fc          Linear             [2, 3]\n"
              "\n--layer auto: features\n");
    // A layer called twice and one the forward skips say why, without repeating their names.
    const std::string two = path("two") + "/";
    fs::create_directories(two);
    save_model(two + "twice.pt",
               "def forward(self, x):\n    y = self.body.forward(self.body.forward(x))\n"
               "    if bool(y.sum() > 1e9):\n        y = self.later.forward(y)\n    return y.sum(dim=[2, 3])\n",
               "def forward(self, x):\n    return x * self.w\n", at::ones({1}), true);
    const auto w = run({"layers", "--model", two + "twice.pt", "--input-shape", "1,2,3,3"});
    EXPECT_EQ(w.status, 0) << w.err;
    EXPECT_EQ(w.out,
              "layer  type  output\n"
              "body   Body  - (is called 2 times in forward; camkit records one call (use the features/head fallback))\n"
              "later  Body  - (not reached by forward on this input)\n"
              "\n--layer auto: none (no layer's output keeps the input's rank with a spatial extent above 1)\n");
    // An input the model refuses is bad input (exit 2) with LibTorch's reason, also where the
    // TorchScript interpreter wraps the model's error in its own (LibTorch 1.13).
    const auto bad = run({"layers", "--model", data + "classifier.pt", "--input-shape", "2,5,8,8"});
    EXPECT_EQ(bad.status, 2) << bad.err;
    EXPECT_EQ(bad.err.rfind("camkit-torch: the model failed on this input: ", 0), 0u) << bad.err;
    EXPECT_NE(bad.err.find("to have 3 channels, but got 5 channels"), std::string::npos) << bad.err;
}

TEST_F(CamkitTorchTool, GradCamOfAClassAtANestedLayer) {
    expect_maps_near(explain(clf({"--class", "1"})), "expected_gradcam_class1.npy");
    expect_maps_near(explain(clf({"--class", "1", "--renormalize"})), "expected_gradcam_class1_renorm.npy");
}

// The pipeline options camkit cam has (--no-relu, --normalize, --eps, --renormalize): the maps of
// the library's explain with the same options on the same model.
TEST_F(CamkitTorchTool, PipelineOptionsAsCamkitCamHasThem) {
    auto [layer, x, targets] = classifier();
    const auto want = [&](camkit::options o) {
        o.size = {8, 8};
        return to_camkit(camkit::torch::explain<camkit::grad_cam>(layer, x.detach().requires_grad_(true), targets, o).cam.map);
    };
    camkit::options raw;
    raw.relu = false;
    raw.normalize = camkit::normalization::none;
    const camkit::tensor<float> got = explain(clf({"--class", "1", "--no-relu", "--normalize", "none"}));
    expect_maps_near(got, want(raw), "raw", 1e-6);
    EXPECT_LT(*std::min_element(got.values.begin(), got.values.end()), 0.0f) << "negative evidence kept";
    camkit::options by_max;
    by_max.normalize = camkit::normalization::max;
    expect_maps_near(explain(clf({"--class", "1", "--normalize", "max"})), want(by_max), "max", 1e-6);
    camkit::options big_eps;
    big_eps.eps = 0.5;
    expect_maps_near(explain(clf({"--class", "1", "--eps", "0.5"})), want(big_eps), "eps", 1e-6);
}

// --layer auto explains the layer candidate_layer chooses (the classifier's last spatial stage,
// features, before its pooling), says so, and gives that layer's maps.
TEST_F(CamkitTorchTool, LayerAutoChoosesTheLastSpatialLayer) {
    auto args = clf({"--class", "1"});
    args[4] = "auto";
    const auto r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("camkit-torch: gradcam of layer features (--layer auto), map [2, 8, 8] -> ", 0), 0u) << r.out;
    const camkit::tensor<float> got = camkit::io::read_npy<float>(path("map.npy"));
    args[4] = "features";
    const camkit::tensor<float> want = explain(args);
    expect_maps_near(got, want, "--layer auto against --layer features", 0.0);
    // A model whose layers all lose the spatial axes has no candidate: one line, exit 2.
    const std::string two = path("flat") + "/";
    fs::create_directories(two);
    save_model(two + "flat.pt", "def forward(self, x):\n    return self.body.forward(x.mean([2, 3]))\n",
               "def forward(self, x):\n    return x * self.w\n", at::ones({1}));
    expect_bad_input({"explain", "--model", two + "flat.pt", "--layer", "auto", "--input", data + "x.npy", "--out",
                      path("m.npy")},
                     "no layer of the model has an output of the input's rank with a spatial extent above 1 on an input "
                     "of shape [1, 3, 8, 8]");
}

TEST_F(CamkitTorchTool, HiResCamOfThePredictedClassBeforeAnInPlaceRelu) {
    expect_maps_near(explain({"explain", "--model", data + "classifier.pt", "--layer", "features.0", "--input",
                              data + "x.npy", "--out", path("map.npy"), "--method", "hirescam", "--target", "predicted",
                              "--size", "4x4"}),
                     "expected_hirescam_predicted.npy");
}

TEST_F(CamkitTorchTool, ScoreCam) {
    expect_maps_near(explain(clf({"--class", "2", "--method", "scorecam", "--batch-size", "3"})), "expected_scorecam_class2.npy");
    // Its forward passes show a bar on a terminal (util-linux's script gives the tool one); off a
    // terminal a run this short prints nothing (a line every 10 s on longer ones).
    const auto quiet = run(clf({"--class", "2", "--method", "scorecam", "--batch-size", "3"}));
    ASSERT_EQ(quiet.status, 0) << quiet.err;
    EXPECT_EQ(quiet.err.find("scorecam"), std::string::npos) << quiet.err;
    const std::string shown = run_on_terminal(clf({"--class", "2", "--method", "scorecam", "--batch-size", "3"}));
    EXPECT_NE(shown.find("\rscorecam [##############################] "), std::string::npos) << shown;
}

TEST_F(CamkitTorchTool, EveryMethodEqualsTheLibraryOnTheSameModel) {
    // The library API on the same model, layer, input and target: the tool adds nothing but I/O.
    auto [layer, x, targets] = classifier();
    camkit::options opt;
    opt.size = {8, 8};

    const auto list = run({"methods"});
    ASSERT_EQ(list.status, 0) << list.err;
    std::istringstream lines(list.out);
    std::string line;
    int methods = 0;
    while (std::getline(lines, line)) {
        const std::string name = line.substr(0, line.find(' '));
        if (name == "cam") {  // needs the head's weight: its maps are tested against the library elsewhere
            EXPECT_NE(line.find("needs --head PARAM"), std::string::npos) << line;
            ++methods;
            continue;
        }
        at::Tensor want;
        // Respond-CAM's published pipeline (no ReLU, no normalization) is its default, as in camkit cam.
        camkit::options o = name == "respondcam" ? camkit::respond_cam_options() : opt;
        o.size = opt.size;
        if (name == "scorecam") {
            want = camkit::torch::score_cam(layer.module(), "features.2", x, targets, o).map;
        } else {
            camkit::with_method(name, [&](auto type) {
                using M = typename decltype(type)::type;
                want = camkit::torch::explain<M>(layer, x.detach().requires_grad_(true), targets, o).cam.map;
            });
        }
        const camkit::tensor<float> got = explain(clf({"--class", "1", "--method", name}));
        expect_maps_near(got, to_camkit(want), name, 1e-6);
        // A real map: min-max normalized, not constant (Respond-CAM's raw one: not constant).
        const auto [lo, hi] = std::minmax_element(got.values.begin(), got.values.end());
        EXPECT_GT(*hi - *lo, name == "respondcam" ? 1e-4f : 0.5f) << name;
        ++methods;
    }
    EXPECT_EQ(methods, 11);  // the nine registered methods, scorecam and cam
}

// --target softmax explains the class probability (a classifier) or its mean over a mask
// (segmentation): the library's probability_score on the same model and input.
TEST_F(CamkitTorchTool, SoftmaxTargets) {
    auto [clf_layer, x, class1] = classifier();
    camkit::options opt;
    opt.size = {8, 8};
    const std::vector<camkit::target> p1(2, camkit::target{1, std::nullopt, camkit::reduction::mean});
    const at::Tensor want = camkit::torch::explain<camkit::grad_cam>(clf_layer, x.detach().requires_grad_(true),
                                                                      camkit::torch::probability_score{p1}, opt)
                                .cam.map;
    expect_maps_near(explain(clf({"--class", "1", "--target", "softmax"})), to_camkit(want), "softmax class 1", 1e-6);
    // It is not the logit's map: the probability's gradient mixes every class's logit.
    const at::Tensor logit = camkit::torch::explain<camkit::grad_cam>(
                                 clf_layer, x.detach().requires_grad_(true), class1, opt)
                                 .cam.map;
    EXPECT_GT((want - logit).abs().max().item<double>(), 1e-3);

    torch::jit::Module seg_model = torch::jit::load(data + "segmenter.pt");
    seg_model.eval();
    camkit::torch::scripted_layer seg_layer(seg_model, "enc.0");
    const at::Tensor xs = to_torch(camkit::io::read_npy<float>(data + "xs.npy"));
    camkit::options seg_opt;
    seg_opt.size = camkit::shape_t(xs.sizes().begin() + 2, xs.sizes().end());
    const camkit::tensor<float> mask = camkit::io::read_npy<float>(data + "mask.npy");
    const std::vector<camkit::target> over_mask(static_cast<std::size_t>(xs.size(0)),
                                                camkit::target{1, mask, camkit::reduction::mean});
    const at::Tensor seg_want = camkit::torch::explain<camkit::hires_cam>(seg_layer, xs.detach().requires_grad_(true),
                                                                          camkit::torch::probability_score{over_mask},
                                                                          seg_opt)
                                    .cam.map;
    expect_maps_near(explain(seg({"--class", "1", "--target", "softmax", "--mask", data + "mask.npy", "--method",
                                  "hirescam"})),
                     to_camkit(seg_want), "softmax over a mask", 1e-6);
    expect_bad_input(clf({"--target", "softmax"}), "--target softmax needs --class");
    // --out and --png mixed up
    expect_bad_input(clf({"--png", path("p.npy")}), "--png " + path("p.npy") + ": --png writes a PNG picture; name it .png");
    auto as_png = clf({});
    *std::find(as_png.begin(), as_png.end(), path("map.npy")) = path("map.png");
    expect_bad_input(as_png, "--out " + path("map.png") + ": --out writes numpy's .npy format, not an image");
}

// --method cam: CAM from the head weight named by its parameter path, for --class C or each
// sample's predicted class; the library's camkit::torch::cam on the same recorded activations.
TEST_F(CamkitTorchTool, CamFromTheHeadWeight) {
    [[maybe_unused]] auto [layer, x, targets] = classifier();  // the targets: --class below
    at::Tensor weight;
    for (const auto& p : layer.module().named_parameters(true))
        if (p.name == "fc.weight") weight = p.value.detach();
    ASSERT_TRUE(weight.defined());
    at::NoGradGuard no_grad;
    const auto recorded = layer.forward(x);
    camkit::options opt;
    opt.size = {8, 8};
    const std::vector<std::size_t> class2{2, 2};
    expect_maps_near(explain(clf({"--method", "cam", "--head", "fc.weight", "--class", "2"})),
                     to_camkit(camkit::torch::cam(recorded.activations, weight, class2, opt).map), "cam class 2", 1e-6);
    const at::Tensor predicted = recorded.output.argmax(1);
    const std::vector<std::size_t> top{static_cast<std::size_t>(predicted[0].item<std::int64_t>()),
                                       static_cast<std::size_t>(predicted[1].item<std::int64_t>())};
    expect_maps_near(explain(clf({"--method", "cam", "--head", "fc.weight"})),
                     to_camkit(camkit::torch::cam(recorded.activations, weight, top, opt).map), "cam predicted", 1e-6);
    expect_bad_input(clf({"--method", "cam"}), "--method cam needs --head PARAM");
    expect_bad_input(clf({"--method", "cam", "--head", "fc.bias.x"}), "is not a parameter of the model (its parameters:");
    expect_bad_input(clf({"--method", "cam", "--head", "features.0.weight"}), "CAM needs a linear head's weight [classes, K]");
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.0", "--input", data + "x.npy", "--out",
                      path("map.npy"), "--method", "cam", "--head", "fc.weight", "--class", "1"},
                     "--head fc.weight has shape [3, 5] but layer features.0 has 4 channels");
    expect_bad_input(clf({"--method", "cam", "--head", "fc.weight", "--class", "7"}), "out of range");
    expect_bad_input(clf({"--method", "cam", "--head", "fc.weight", "--target", "class"}), "--method cam takes no --target");
    expect_bad_input(clf({"--method", "gradcam", "--head", "fc.weight", "--class", "1"}), "--head goes with --method cam");
    expect_bad_input(seg({"--method", "cam", "--head", "dec.weight"}), "needs a classifier output [N, C]");
}

// After the summary line, one line per sample: the class its map explains and, for the gradient
// methods, the target's score (printed with 6 significant digits), against the model's own output.
TEST_F(CamkitTorchTool, PrintsEachSamplesClassAndScore) {
    const auto samples_of = [&](const std::vector<std::string>& args, std::string* summary = nullptr) {
        const auto r = run(args);
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
        if (summary) *summary = r.out.substr(0, r.out.find('\n'));
        return camkit_test::explained_samples(r.out);
    };
    torch::jit::Module model = torch::jit::load(data + "classifier.pt");
    model.eval();
    at::Tensor y;
    {
        at::NoGradGuard no_grad;
        y = model.forward({to_torch(camkit::io::read_npy<float>(data + "x.npy"))}).toTensor();
    }
    ASSERT_EQ(y.size(0), 2);
    // Each sample's predicted class and its logit.
    std::string summary;
    const auto predicted = samples_of(clf({"--target", "predicted"}), &summary);
    EXPECT_EQ(summary.rfind("camkit-torch: gradcam of layer features.2, map [2, 8, 8] -> ", 0), 0u) << summary;
    ASSERT_EQ(predicted.size(), 2u);
    for (std::int64_t n = 0; n < 2; ++n) {
        const auto [c, score] = predicted[static_cast<std::size_t>(n)];
        EXPECT_EQ(c, static_cast<std::size_t>(y[n].argmax().item<std::int64_t>()));
        EXPECT_NEAR(score, y[n][static_cast<std::int64_t>(c)].item<double>(), 1e-5 * (1 + std::abs(score)));
    }
    // --target softmax: the probability of --class.
    const at::Tensor p = at::softmax(y, 1);
    const auto softmax = samples_of(clf({"--class", "2", "--target", "softmax"}));
    ASSERT_EQ(softmax.size(), 2u);
    for (std::int64_t n = 0; n < 2; ++n) {
        EXPECT_EQ(softmax[static_cast<std::size_t>(n)].cls, 2u);
        EXPECT_NEAR(softmax[static_cast<std::size_t>(n)].score, p[n][2].item<double>(), 1e-6);
    }
    // Score-CAM: the logit of --class on the input itself; CAM: the class alone; Eigen-CAM explains
    // no target: no lines.
    const auto scorecam = samples_of(clf({"--class", "1", "--method", "scorecam"}));
    ASSERT_EQ(scorecam.size(), 2u);
    for (std::int64_t n = 0; n < 2; ++n) {
        EXPECT_EQ(scorecam[static_cast<std::size_t>(n)].cls, 1u);
        EXPECT_NEAR(scorecam[static_cast<std::size_t>(n)].score, y[n][1].item<double>(), 1e-5 * (1 + std::abs(y[n][1].item<double>())));
    }
    const auto cam = samples_of(clf({"--class", "1", "--method", "cam", "--head", "fc.weight"}));
    ASSERT_EQ(cam.size(), 2u);
    for (const auto& s : cam) EXPECT_TRUE(s.cls == 1 && std::isnan(s.score));
    EXPECT_TRUE(samples_of(clf({"--method", "eigencam"})).empty());
    // A segmentation: Seg-Grad-CAM's score, Σ of class 1's output over the mask.
    torch::jit::Module seg_model = torch::jit::load(data + "segmenter.pt");
    seg_model.eval();
    const at::Tensor xs = to_torch(camkit::io::read_npy<float>(data + "xs.npy"));
    at::Tensor ys;
    {
        at::NoGradGuard no_grad;
        ys = seg_model.forward({xs}).toTensor();
    }
    const at::Tensor mask = to_torch(camkit::io::read_npy<float>(data + "mask.npy"));
    const auto masked = samples_of(seg({"--class", "1", "--target", "mask-sum", "--mask", data + "mask.npy"}));
    ASSERT_EQ(masked.size(), static_cast<std::size_t>(ys.size(0)));
    for (std::int64_t n = 0; n < ys.size(0); ++n) {
        const double want = (ys[n][1] * mask).sum().item<double>();
        EXPECT_EQ(masked[static_cast<std::size_t>(n)].cls, 1u);
        EXPECT_NEAR(masked[static_cast<std::size_t>(n)].score, want, 1e-5 * (1 + std::abs(want)));
    }
    // Eigen-CAM does not ask for a target either: a segmentation without --class (the default
    // target, predicted, would need one), the map Eigen-CAM's of the layer.
    EXPECT_TRUE(samples_of(seg({"--method", "eigencam"})).empty());
    expect_bad_input(seg({"--method", "eigencam", "--class", "2"}),
                     "--class 2 is out of range: the model output [1, 2, 6, 6] has 2 classes (0 to 1)");
    camkit::torch::scripted_layer seg_layer(seg_model, "enc.0");
    camkit::options opt;
    opt.size = camkit::shape_t(xs.sizes().begin() + 2, xs.sizes().end());
    expect_maps_near(camkit::io::read_npy<float>(path("map.npy")),
                     to_camkit(camkit::torch::explain<camkit::eigen_cam>(seg_layer, xs, {}, opt).cam.map),
                     "eigencam of a segmentation", 1e-6);
}

TEST_F(CamkitTorchTool, ImageInputAndPngOutput) {
    expect_maps_near(explain({"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                              data + "input.png", "--class", "0", "--out", path("map.npy"), "--png", path("map.png")}),
                     "expected_png_gradcam_class0.npy");
    const camkit::rgb_image img = camkit::io::read_image(path("map.png"));
    EXPECT_EQ(img.height, 8u);
    EXPECT_EQ(img.width, 8u);
}

// An image input prepared as --resize, --mean/--std and --gray say gives the maps of the .npy input
// prepared that way by hand (the maps at the image's own size, as --size would give them).
TEST_F(CamkitTorchTool, ImageInputResizedNormalizedOrGray) {
    const camkit::rgb_image img = camkit::io::read_image(data + "input.png");  // 8x8
    const std::vector<double> mean{0.485, 0.456, 0.406}, sd{0.229, 0.224, 0.225};
    camkit::tensor<float> rgb({3, 8, 8});
    for (std::size_t p = 0; p < 64; ++p)
        for (std::size_t c = 0; c < 3; ++c) rgb[c * 64 + p] = static_cast<float>(img.pixels[3 * p + c] / 255.0);
    const auto normalized = [&](camkit::tensor<float> x) {
        const std::size_t per = x.size() / 3;
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t p = 0; p < per; ++p) x[c * per + p] = static_cast<float>((x[c * per + p] - mean[c]) / sd[c]);
        camkit::shape_t batch{1};
        batch.insert(batch.end(), x.shape.begin(), x.shape.end());
        return camkit::tensor<float>(batch, x.values);
    };
    const std::vector<std::string> norm{"--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"};
    const auto png = [&](std::vector<std::string> extra) {
        std::vector<std::string> a{"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                                   data + "input.png", "--class", "1", "--out", path("map.npy")};
        a.insert(a.end(), extra.begin(), extra.end());
        return explain(a);
    };
    const auto npy = [&](const camkit::tensor<float>& x, std::vector<std::string> extra) {
        camkit::io::write_npy(path("x.npy"), x);
        std::vector<std::string> a{"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                                   path("x.npy"), "--class", "1", "--out", path("map.npy")};
        a.insert(a.end(), extra.begin(), extra.end());
        const auto m = camkit_test::tool_fixture::run(a);
        EXPECT_EQ(m.status, 0) << m.err;
        fs::remove(path("x.npy"));
        return camkit::io::read_npy<float>(path("map.npy"));
    };
    const auto plain = png({});
    const auto want = npy(normalized(rgb), {});
    expect_maps_near(png(norm), want, "--mean/--std", 1e-6);
    // The normalization changes the maps (the test would not see it missing otherwise).
    double diff = 0;
    for (std::size_t i = 0; i < want.size(); ++i) diff = std::max(diff, std::abs(double(want[i]) - plain[i]));
    EXPECT_GT(diff, 1e-3);
    // --resize 12x10: the model sees the resized image; the maps are at the image's 8x8.
    auto with = norm;
    with.insert(with.end(), {"--resize", "12x10"});
    const auto resized = png(with);
    ASSERT_EQ(resized.shape, (camkit::shape_t{1, 8, 8}));
    expect_maps_near(resized, npy(normalized(camkit::resize(rgb, {12, 10})), {"--size", "8x8"}), "--resize", 1e-6);

    // --gray: one luminance channel, for the one-channel segmenter (a 6x6 image).
    camkit::rgb_image six(6, 6);
    camkit::tensor<float> lum({1, 1, 6, 6});
    for (std::size_t p = 0; p < 36; ++p) {
        const auto r = static_cast<std::uint8_t>(40 * (p % 6)), g = static_cast<std::uint8_t>(7 * p),
                   b = static_cast<std::uint8_t>(255 - 5 * p);
        six.pixels[3 * p] = r, six.pixels[3 * p + 1] = g, six.pixels[3 * p + 2] = b;
        lum[p] = static_cast<float>((0.299 * r + 0.587 * g + 0.114 * b) / 255.0);
    }
    camkit::io::write_png(path("six.png"), six);
    camkit::io::write_npy(path("lum.npy"), lum);
    const auto seg_map = [&](const std::string& input, std::vector<std::string> extra) {
        std::vector<std::string> a{"explain", "--model", data + "segmenter.pt", "--layer", "enc.0", "--class", "1", "--target",
                                   "whole-image", "--out", path("map.npy"), "--input", input};
        a.insert(a.end(), extra.begin(), extra.end());
        const auto r = camkit_test::tool_fixture::run(a);
        EXPECT_EQ(r.status, 0) << r.err;
        return camkit::io::read_npy<float>(path("map.npy"));
    };
    expect_maps_near(seg_map(path("six.png"), {"--gray"}), seg_map(path("lum.npy"), {}), "--gray", 1e-6);
}

TEST_F(CamkitTorchTool, SegmentationTargets) {
    expect_maps_near(explain(seg({"--class", "1", "--mask", data + "mask.npy"})), "expected_seg_masksum_class1.npy");
    // The mean over the mask differs from the sum by a constant factor: equal after min-max.
    expect_maps_near(explain(seg({"--class", "1", "--target", "mask-mean", "--mask", data + "mask.png"})),
                     "expected_seg_masksum_class1.npy");
    expect_maps_near(explain(seg({"--class", "0", "--target", "whole-image"})), "expected_seg_whole_class0.npy");
    expect_maps_near(explain(seg({"--class", "1", "--target", "predicted", "--method", "hirescam"})),
                     "expected_seg_predicted_class1.npy");
    // An empty region explains nothing: the map is written, with a warning.
    camkit::io::write_npy(path("empty_mask.npy"), camkit::tensor<float>({6, 6}));
    const auto empty = run(seg({"--class", "1", "--mask", path("empty_mask.npy")}));
    EXPECT_EQ(empty.status, 0) << empty.err;
    EXPECT_NE(empty.err.find("camkit-torch: warning: the target region is empty for sample 0 (score 0: an all-zero map)"),
              std::string::npos)
        << empty.err;
    const auto full = run(seg({"--class", "1", "--mask", data + "mask.npy"}));
    EXPECT_EQ(full.err.find("warning"), std::string::npos) << full.err;
    // A mask PNG of class indices (0 and 1, as analyze --masks takes) would binarize to nothing: refused.
    camkit::rgb_image labels(6, 6);
    for (std::size_t p = 0; p < 12; ++p) labels.pixels[3 * p] = labels.pixels[3 * p + 1] = labels.pixels[3 * p + 2] = 1;
    camkit::io::write_png(path("labels.png"), labels);
    expect_bad_input(seg({"--class", "1", "--mask", path("labels.png")}),
                     "--mask " + path("labels.png") + " has no pixel brighter than half (the brightest is 1 of 255)");
}

// camkit-torch builds the targets from the explanation's own forward pass, one forward per batch:
// the predicted and region targets from its values, the others from its shape. A model that refuses
// a second forward (an attribute counts the calls) is explained, and its maps equal the library's on
// a fresh copy.
TEST_F(CamkitTorchTool, OutputTargetsComeFromTheExplanationsOwnForward) {
    const std::string body = "def forward(self, x):\n    return torch.relu(x * self.w - 0.2)\n";
    const auto save_once = [&](const std::string& file, const std::string& output) {
        torch::jit::Module b("Body");
        b.register_parameter("w", at::full({1}, 1.5), false);
        b.define(body);
        torch::jit::Module m("Net");
        m.register_module("body", b);
        m.register_attribute("calls", c10::IntType::get(), 0);
        m.define("def forward(self, x):\n    self.calls += 1\n    assert self.calls == 1, \"forward ran twice\"\n"
                 "    return " + output + "\n");
        m.save(path(file));
    };
    save_once("once_clf.pt", "self.body.forward(x).sum(dim=[2, 3])");                    // [2, 3] logits
    save_once("once_seg.pt", "self.body.forward(x).repeat(1, 3, 1, 1) * self.body.w * torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1) - 0.1");
    const at::Tensor x = to_torch(camkit::io::read_npy<float>(data + "x.npy"));
    const at::Tensor xs = to_torch(camkit::io::read_npy<float>(data + "xs.npy"));
    const auto library = [&](const std::string& file, const at::Tensor& in, const camkit::torch::objective& what) {
        torch::jit::Module model = torch::jit::load(path(file));  // a fresh count
        camkit::torch::scripted_layer layer(model, "body");
        camkit::options opt;
        opt.size = {static_cast<std::size_t>(in.size(2)), static_cast<std::size_t>(in.size(3))};
        return to_camkit(camkit::torch::explain<camkit::grad_cam>(layer, in.detach().requires_grad_(true), what, opt).cam.map);
    };
    const auto once = [&](const std::string& file, const std::string& input, std::vector<std::string> extra) {
        std::vector<std::string> args{"explain", "--model", path(file), "--layer", "body", "--input", data + input,
                                      "--out", path("map.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run(args);  // (the fixture's explain() expects no files but the map: the models are here)
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
        return r.status == 0 ? camkit::io::read_npy<float>(path("map.npy")) : camkit::tensor<float>{};
    };
    expect_maps_near(once("once_clf.pt", "x.npy", {"--target", "predicted"}), library("once_clf.pt", x, {}),
                     "predicted class", 1e-6);
    expect_maps_near(once("once_clf.pt", "x.npy", {}), library("once_clf.pt", x, {}), "the default target", 1e-6);
    // Segmentation: the region predicted as class 2, and its largest connected component.
    torch::jit::Module seg_model = torch::jit::load(path("once_seg.pt"));
    const camkit::tensor<float> y = to_camkit(seg_model.forward({xs}).toTensor());
    const std::vector<camkit::target> region(1, camkit::mask_sum(2, camkit::predicted_region(y, 2)));
    const std::vector<camkit::target> component(1, camkit::mask_sum(2, camkit::largest_component(y, 2)));
    ASSERT_GT(std::count(region[0].mask->values.begin(), region[0].mask->values.end(), 1.0f), 0);
    expect_maps_near(once("once_seg.pt", "xs.npy", {"--target", "predicted", "--class", "2"}),
                     library("once_seg.pt", xs, region), "predicted region", 1e-6);
    expect_maps_near(once("once_seg.pt", "xs.npy", {"--target", "largest-component", "--class", "2"}),
                     library("once_seg.pt", xs, component), "largest component", 1e-6);
    // Targets of the output's shape alone come from the same forward, --target softmax's too (its
    // probability objective builds them from that output).
    expect_maps_near(once("once_clf.pt", "x.npy", {"--class", "1"}),
                     library("once_clf.pt", x, std::vector<camkit::target>(2, camkit::class_score(1))), "class 1", 1e-6);
    expect_maps_near(once("once_seg.pt", "xs.npy", {"--class", "2", "--target", "whole-image"}),
                     library("once_seg.pt", xs, std::vector<camkit::target>(1, camkit::whole_image(2))), "whole image", 1e-6);
    expect_maps_near(once("once_clf.pt", "x.npy", {"--class", "1", "--target", "softmax"}),
                     library("once_clf.pt", x, camkit::torch::probability_score{{camkit::class_score(1), camkit::class_score(1)}}),
                     "softmax of class 1", 1e-6);
    expect_maps_near(once("once_seg.pt", "xs.npy", {"--class", "2", "--target", "softmax"}),
                     library("once_seg.pt", xs,
                             camkit::torch::probability_score{{camkit::target{2, std::nullopt, camkit::reduction::mean}}}),
                     "mean softmax of class 2", 1e-6);
    // The model does refuse a second forward.
    torch::jit::Module twice = torch::jit::load(path("once_clf.pt"));
    twice.forward({x});
    try {
        twice.forward({x});
        ADD_FAILURE() << "a second forward ran";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("forward ran twice"), std::string::npos) << e.what();
    }
}

// A model saved on a GPU (classifier_cuda.pt: make_cuda_copy.py) loads onto the CPU, as Python's
// map_location='cpu' does; a float64 model takes the input cast to its type.
TEST_F(CamkitTorchTool, ModelsSavedOnAGpuOrInFloat64) {
    const camkit::tensor<float> float_map = explain(clf({"--class", "1"}));
    auto args = clf({"--class", "1"});
    args[2] = data + "classifier_cuda.pt";
    expect_maps_near(explain(args), float_map, "saved on cuda:0", 0.0);

    auto [layer, x, targets] = classifier();
    layer.module().to(at::kDouble);
    const std::string f64 = path("f64.pt");
    layer.module().save(f64);
    camkit::options opt;
    opt.size = {8, 8};
    camkit::torch::scripted_layer double_layer(layer.module(), "features.2");
    const at::Tensor want =
        camkit::torch::explain<camkit::grad_cam>(double_layer, x.to(at::kDouble).requires_grad_(true), targets, opt).cam.map;
    EXPECT_EQ(want.scalar_type(), at::kDouble);
    args[2] = f64;
    const auto r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const camkit::tensor<float> got = camkit::io::read_npy<float>(path("map.npy"));
    expect_maps_near(got, to_camkit(want), "float64 model", 1e-6);
    expect_maps_near(got, float_map, "float64 against float32", 1e-4);
}

// A model whose forward calls an operator that PyTorch 2.x has and 1.13 lacks
// (segmenter_newer_op.pt: make_newer_op.py, aten::_upsample_lanczos2d_aa at the output's own size):
// LibTorch 1.13 is told that the file needs a newer LibTorch, not that it is damaged; LibTorch 2.x
// explains it as it explains segmenter.pt.
TEST_F(CamkitTorchTool, AModelOfANewerPyTorchIsNamedSo) {
    auto args = seg({"--class", "1"});
    args[2] = data + "segmenter_newer_op.pt";
#if TORCH_VERSION_MAJOR < 2
    const std::string err = expect_bad_input(args, "segmenter_newer_op.pt: LibTorch " TORCH_VERSION " cannot load this model: it calls "
                                                   "aten::_upsample_lanczos2d_aa, an operator this version does not know; it was "
                                                   "likely saved by a newer PyTorch: build camkit-torch against that PyTorch's LibTorch");
    EXPECT_EQ(err.find("damaged"), std::string::npos) << err;
#else
    expect_maps_near(explain(args), explain(seg({"--class", "1"})), "newer operator", 1e-6);
#endif
}

// --class C1,...,CN explains one class per sample (pytorch-grad-cam's list of targets); a layer of
// one position per channel gets a warning (its maps are constant).
TEST_F(CamkitTorchTool, OneClassPerSampleAndALayerOfOnePosition) {
    auto [layer, x, targets] = classifier();
    camkit::options opt;
    opt.size = {8, 8};
    const std::vector<camkit::target> two{camkit::class_score(2), camkit::class_score(0)};
    const at::Tensor want = camkit::torch::explain<camkit::grad_cam>(layer, x.detach().requires_grad_(true), two, opt).cam.map;
    const auto r = run(clf({"--class", "2,0"}));
    ASSERT_EQ(r.status, 0) << r.err;
    expect_maps_near(camkit::io::read_npy<float>(path("map.npy")), to_camkit(want), "classes 2, 0", 1e-6);
    const auto printed = camkit_test::explained_samples(r.out);
    ASSERT_EQ(printed.size(), 2u) << r.out;
    EXPECT_EQ(printed[0].cls, 2u);
    EXPECT_EQ(printed[1].cls, 0u);
    expect_bad_input(clf({"--class", "2,0,1"}), "--class gives 3 classes but the input holds 2 samples (one class for all, or one per sample)");
    expect_bad_input(clf({"--class", "2,3"}), "--class 3 is out of range: the model output [2, 3] has 3 classes (0 to 2)");
    expect_bad_input(clf({"--class", "2,"}), "--class must be an integer >= 0, got ''");
    expect_bad_input(clf({"--method", "cam", "--head", "fc.weight", "--class", "1,1,1"}), "--class gives 3 classes but the input holds 2 samples");

    auto fc = clf({"--class", "1"});
    fc[4] = "fc";
    expect_bad_input(fc, "layer fc's output [2, 3] has no spatial axes: a class-activation map needs a layer of shape "
                         "[N, K, *S], a convolutional one before the pooling");
    fc[4] = "features.20";
    expect_bad_input(fc, "unknown layer 'features.20'; valid layers: ");
    EXPECT_NE(expect_bad_input(fc, "did you mean").find("did you mean 'features.0' or 'features.2'?"), std::string::npos);

    auto pooled = clf({"--class", "1"});
    pooled[4] = "pool";
    const auto p = run(pooled);
    ASSERT_EQ(p.status, 0) << p.err;
    EXPECT_NE(p.err.find("camkit-torch: warning: layer pool has one position per channel (output [2, 5, 1, 1]): every map "
                         "is constant"),
              std::string::npos)
        << p.err;
}

TEST_F(CamkitTorchTool, DeviceCudaIsCudaOrAClearError) {
    // Decided by LibTorch, not by the tool's exit status: on a CUDA machine the tool must succeed.
    if (torch::cuda::is_available()) {
        expect_maps_near(explain(clf({"--class", "1", "--device", "cuda"})), "expected_gradcam_class1.npy", 1e-3);
    } else {
        expect_bad_input(clf({"--class", "1", "--device", "cuda"}),
                         "--device cuda: this LibTorch build or machine has no CUDA device");
    }
}

TEST_F(CamkitTorchTool, HelpVersionAndMethods) {
    const auto help = run({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("  explain   class-activation maps of a model's named layer"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("  layers    "), std::string::npos) << help.out;
    EXPECT_NE(run({"explain", "--help"}).out.find("usage: camkit-torch explain --model M.pt"), std::string::npos);
    EXPECT_NE(run({"layers", "-h"}).out.find("usage: camkit-torch layers --model M.pt"), std::string::npos);
    EXPECT_EQ(run({"--version"}).out, std::string("camkit-torch ") + CAMKIT_VERSION_STRING + "\n");
    const auto methods = run({"methods"});
    EXPECT_EQ(methods.status, 0);
    EXPECT_NE(methods.out.find("scorecam              Score-CAM"), std::string::npos) << methods.out;
}

TEST_F(CamkitTorchTool, EveryUsageErrorFailsCleanly) {
    expect_bad_input({}, "no command given (see 'camkit-torch --help')");
    const std::string unknown_command = expect_bad_input({"cam"}, "unknown command 'cam' (commands: ");
    for (const char* name : {"explain", "layers", "methods"})  // and whatever commands/*.cpp adds
        EXPECT_NE(unknown_command.find(name), std::string::npos) << unknown_command;
    expect_bad_input({"--bogus"}, "unknown option '--bogus' (see 'camkit-torch --help')");
    expect_bad_input({"methods", "x"}, "'camkit-torch methods' takes no arguments");
    expect_bad_input({"layers"}, "--model is required");
    expect_bad_input({"layers", "--model", data + "classifier.pt", "x"}, "unexpected argument 'x' (see 'camkit-torch layers --help')");
    expect_bad_input({"layers", "--model", data + "classifier.pt", "--input-shape", "2,3"},
                     "--input-shape must be N,C,L, N,C,H,W or N,C,D,H,W, got '2,3'");
    expect_bad_input({"layers", "--model", data + "classifier.pt", "--input-shape", "2,0,8,8"},
                     "--input-shape extents must be an integer >= 1, got '0'");
    expect_bad_input({"layers", "--model", data + "classifier.pt", "--input-shape", "65536,65536,8,8"},
                     "--input-shape 65536,65536,8,8 is too large: 274877906944 values, at most 2^28");
    expect_bad_input({"layers", "--model", data + "classifier.pt", "--model-output", "out"},
                     "--model-output goes with --input-shape");
    expect_bad_input({"layers", "--model", path("m.pt2"), "--input-shape", "2,3,8,8"},
                     "--input-shape goes with a TorchScript model; a .pt2 package records its shapes");
    expect_bad_input(clf({"--class", "0", "--bogus"}), "unknown option '--bogus' (see 'camkit-torch explain --help')");
    expect_bad_input(clf({"--class", "0", "--class", "1"}), "option --class is given twice");
    expect_bad_input(clf({"--class"}), "--class needs a value");
    expect_bad_input(clf({"--renormalize=1"}), "--renormalize takes no value");
    expect_bad_input(clf({"--normalize", "zscore"}), "--normalize must be min_max, max or none, got 'zscore'");
    expect_bad_input(clf({"--relu", "--no-relu"}), "--relu and --no-relu contradict each other");
    expect_bad_input(clf({"--eps", "-1"}), "--eps must be a finite number >= 0, got '-1'");
    expect_bad_input({"explain", "--layer", "a", "--input", data + "x.npy", "--out", path("m.npy")}, "--model is required");
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--input", data + "x.npy", "--out", path("m.npy")},
                     "--layer is required (see 'camkit-torch layers --model " + data + "classifier.pt'), or --layer auto");
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "fc", "--out", path("m.npy")}, "--input is required");
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "fc", "--input", data + "x.npy"}, "--out is required");
    expect_bad_input(clf({"--class", "0", "--method", "nosuch"}), "unknown method 'nosuch' (choose one of: gradcam");
    expect_bad_input(clf({"--target", "everything"}),
                     "--target must be class, mask-sum, mask-mean, predicted, whole-image, largest-component, "
                     "smallest-component, component-at, point or softmax, got 'everything'");
    expect_bad_input(clf({"--target", "mask-sum", "--class", "0"}), "--target mask-sum needs --mask");
    expect_bad_input(clf({"--target", "class", "--class", "0", "--mask", data + "mask.npy"}),
                     "--mask goes with --target mask-sum, mask-mean or softmax, not class");
    expect_bad_input(clf({"--target", "whole-image"}), "--target whole-image needs --class");
    expect_bad_input(clf({"--class", "0", "--device", "tpu"}), "--device must be cpu or cuda, got 'tpu'");
    expect_bad_input(clf({"--class", "-1"}), "--class must be an integer >= 0, got '-1'");
    expect_bad_input(clf({"--class", "0", "--batch-size", "0"}), "--batch-size must be an integer >= 1, got '0'");
    expect_bad_input(clf({"--class", "0", "--size", "0"}), "--size must be L, HxW or DxHxW");
    expect_bad_input(clf({"--class", "0", "--size", "4"}), "--size has 1 extents but the input [2, 3, 8, 8] has 2 spatial axes");
    expect_bad_input(clf({"--class", "0", "--resize", "4x4"}),
                     "--gray, --resize, --mean and --std apply to an image --input; a .npy input is used as it is");
    const auto image = [&](std::vector<std::string> extra) {
        std::vector<std::string> a{"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                                   data + "input.png", "--class", "0", "--out", path("m.npy")};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    expect_bad_input(image({"--mean", "0.5,0.5,0.5"}), "--mean and --std go together");
    expect_bad_input(image({"--mean", "0.5,0.5", "--std", "1,1"}), "--mean and --std need 3 values (one per input channel), got 2 and 2");
    expect_bad_input(image({"--gray", "--mean", "0.5,0.5,0.5", "--std", "1,1,1"}), "--mean and --std need 1 values");
    expect_bad_input(image({"--mean", "0.5,x,0.5", "--std", "1,1,1"}), "--mean must be numbers separated by commas, got '0.5,x,0.5'");
    expect_bad_input(image({"--mean", "0,0,0", "--std", "1,0,1"}), "--std must not hold 0");
    // a std so small that normalized pixels leave float32 (the error blamed the activations)
    expect_bad_input(image({"--mean", "0.5,0.5,0.5", "--std", "1e-40,1,1"}),
                     "--std 1e-40 with --mean 0.5 takes pixel values in [0, 1] beyond float32's range");
    expect_bad_input(image({"--resize", "4"}), "--resize must be HxW, got [4]");
    expect_bad_input(image({"--resize", "60000x60000"}), "the input resized to [60000, 60000] is too large");
    expect_bad_input(image({"--gray"}), "the model failed on the input [1, 1, ");
    expect_bad_input(clf({"--class", "0", "--size", "65536x65536"}), "the maps [65536, 65536] of 2 samples is too large");
    // Against the model output.
    expect_bad_input(clf({"--class", "3"}), "--class 3 is out of range: the model output [2, 3] has 3 classes (0 to 2)");
    expect_bad_input(clf({"--target", "whole-image", "--class", "0"}),
                     "--target whole-image needs a segmentation output [N, C, *P], the model gives [2, 3]");
    expect_bad_input(clf({"--target", "predicted", "--class", "0"}), "--class does not go with --target predicted for a classifier");
    expect_bad_input(seg({"--target", "predicted"}), "--target predicted on a segmentation output needs --class");
    camkit::io::write_npy(path("mask5.npy"), camkit::tensor<float>({5, 5}));
    expect_bad_input(seg({"--class", "1", "--mask", path("mask5.npy")}),
                     "--mask " + path("mask5.npy") + " has shape [5, 5] but the model output [1, 2, 6, 6] needs [6, 6] or [1, 6, 6]");
    expect_bad_input(clf({"--class", "0", "--layer", "features.9"}), "option --layer is given twice");
    expect_bad_input({"explain", "--model", path("m.pt2"), "--model-output", "out", "--input", data + "x.npy", "--out", path("m.npy")},
                     "--model-output goes with a TorchScript model; a .pt2 package has the one output it was exported at "
                     "(export_cam.py --model-output)");
    const std::string unknown = expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.9",
                                                  "--input", data + "x.npy", "--out", path("map.npy"), "--class", "0"},
                                                 "unknown layer 'features.9'");
    EXPECT_NE(unknown.find("features.2"), std::string::npos) << unknown;
}

TEST_F(CamkitTorchTool, BadInputFilesFailCleanly) {
    camkit::io::write_npy(path("flat.npy"), camkit::tensor<float>({3, 8}));
    camkit::io::write_npy(path("empty.npy"), camkit::tensor<float>({0, 3, 8, 8}));
    camkit::io::write_npy(path("two_channels.npy"), camkit::tensor<float>({1, 2, 8, 8}));
    camkit::tensor<float> nan({1, 3, 8, 8});
    nan[5] = std::numeric_limits<float>::quiet_NaN();
    camkit::io::write_npy(path("nan.npy"), nan);
    camkit::tensor<double> huge({1, 3, 8, 8}, 1.0);
    huge[9] = 1e300;
    camkit::io::write_npy(path("huge.npy"), huge);
    camkit::tensor<float> nan_mask({6, 6});
    nan_mask[2] = std::numeric_limits<float>::infinity();
    camkit::io::write_npy(path("nan_mask.npy"), nan_mask);
    const auto with_input = [&](const std::string& input, std::vector<std::string> extra) {
        std::vector<std::string> args = {"explain", "--model", data + "classifier.pt", "--layer", "features.2",
                                         "--input", input, "--out", path("map.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    expect_bad_input(with_input(path("none.npy"), {"--class", "0"}), path("none.npy") + ": cannot open: No such file or directory");
    expect_bad_input(with_input(path("flat.npy"), {"--class", "0"}),
                     "flat.npy: input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape [3, 8]");
    expect_bad_input(with_input(path("empty.npy"), {"--class", "0"}), "empty.npy: input has an empty axis: shape [0, 3, 8, 8]");
    expect_bad_input(with_input(path("nan.npy"), {"--class", "0"}), "nan.npy: input holds NaN or Inf (flat index 5)");
    expect_bad_input(with_input(path("huge.npy"), {"--class", "0"}),
                     "huge.npy: input holds 1e+300, beyond float32's range (flat index 9)");
    const std::string channels = expect_bad_input(with_input(path("two_channels.npy"), {"--class", "0"}),
                                                  "the model failed on the input [1, 2, 8, 8] (read as [N, C, H, W]: 1 "
                                                  "sample of 2 channels): ");
    EXPECT_NE(channels.find(" (an image is read as RGB [1, 3, H, W]: --gray gives [1, 1, H, W]; an .npy input is [N, C, *S])"),
              std::string::npos)
        << channels;
    expect_bad_input(seg({"--class", "1", "--mask", path("nan_mask.npy")}), "nan_mask.npy: mask holds NaN or Inf (flat index 2)");
    write_text(path("junk.png"), "not a png");
    expect_bad_input(with_input(path("junk.png"), {"--class", "0"}), "junk.png: cannot decode image");
    expect_bad_input(seg({"--class", "1", "--mask", path("junk.png")}), "junk.png: cannot decode image");
}

TEST_F(CamkitTorchTool, HostileInputsAreRefusedBeforeTheyAreRead) {
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    const std::string special = ": is not a regular file (a FIFO, socket or device cannot be read as an input)";
    expect_bad_input({"explain", "--model", path("fifo"), "--layer", "a", "--input", data + "x.npy", "--out", path("m.npy")},
                     "fifo" + special);
    expect_bad_input({"layers", "--model", "/dev/zero"}, "/dev/zero" + special);
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input", "/dev/zero",
                      "--out", path("m.npy"), "--class", "0"},
                     "/dev/zero" + special);
    expect_bad_input(seg({"--class", "1", "--mask", path("fifo")}), "fifo" + special);
    fs::create_directory(path("folder.pt"));
    expect_bad_input({"layers", "--model", path("folder.pt")}, "folder.pt: is a directory, not a file");
    // A 60-byte PNG whose header claims 16384 x 16384: refused from its header.
    write_text(path("huge.png"), forged_png(16384, 16384));
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input", path("huge.png"),
                      "--out", path("m.npy"), "--class", "0"},
                     "--input " + path("huge.png") + " of 16384x16384 is too large: 805306368 values, at most 2^28");
    // As a mask it is 2^28 values, within the tool's limit, but over camkit::io's pixel cap.
    expect_bad_input(seg({"--class", "1", "--mask", path("huge.png")}),
                     "huge.png: image of 16384x16384 pixels is larger than the limit of 67108864 pixels");
    // An npy input whose header declares 2^28 + 1 values (a sparse file of that size).
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 268435457), }";
    std::string npy = std::string("\x93NUMPY\x01", 7) + '\0' + static_cast<char>(dict.size()) + '\0' + dict;
    write_text(path("big.npy"), npy);
    fs::resize_file(path("big.npy"), npy.size() + 4 * ((std::uintmax_t{1} << 28) + 1));
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input", path("big.npy"),
                      "--out", path("m.npy"), "--class", "0"},
                     "--input " + path("big.npy") + " [1, 1, 1, 268435457] is too large");
}

TEST_F(CamkitTorchTool, OutputsAreCheckedBeforeAnyWork) {
    fs::copy_file(data + "x.npy", path("x.npy"));
    fs::copy_file(data + "input.png", path("in.png"));
    fs::create_directory(path("dir"));
    const auto on = [&](const std::string& input, std::vector<std::string> outputs) {
        std::vector<std::string> args = {"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input",
                                         input, "--class", "1"};
        args.insert(args.end(), outputs.begin(), outputs.end());
        return args;
    };
    expect_bad_input(on(path("x.npy"), {"--out", (dir_ / "dir" / ".." / "x.npy").string()}), "--out and --input are the same file");
    expect_bad_input(on(path("in.png"), {"--out", path("m.npy"), "--png", path("dir") + "/../in.png"}),
                     "--png and --input are the same file");
    expect_bad_input(on(path("x.npy"), {"--out", data + "classifier.pt"}), "--out and --model are the same file");
    expect_bad_input(on(path("x.npy"), {"--out", path("dir") + "/./m", "--png", path("dir") + "//m"}),
                     "--png and --out are the same file");
    expect_bad_input(on(path("x.npy"), {"--out", path("m.npy"), "--png", path("dir")}), "dir: cannot write: it is a directory");
    expect_bad_input(on(path("x.npy"), {"--out", path("none/m.npy")}), "cannot write: the folder '" + path("none") + "' does not exist");
    // A failure leaves existing outputs as they were, also when the second output is the bad one.
    write_text(path("keep.npy"), "old");
    expect_bad_input(on(path("x.npy"), {"--out", path("keep.npy"), "--png", path("dir")}), "cannot write: it is a directory");
    expect_bad_input({"explain", "--model", data + "classifier.pt", "--layer", "features.2", "--input", path("x.npy"),
                      "--class", "7", "--out", path("keep.npy")},
                     "--class 7 is out of range");
    EXPECT_EQ(slurp(path("keep.npy")), "old");
    // A valid 230-character output name works: the staging files' names are short.
    const std::string long_out = path(std::string(226, 'o') + ".npy"), long_png = path(std::string(226, 'p') + ".png");
    const auto r = run(on(path("x.npy"), {"--out", long_out, "--png", long_png}));
    ASSERT_EQ(r.status, 0) << r.err;
    expect_maps_near(camkit::io::read_npy<float>(long_out), "expected_gradcam_class1.npy");
}

TEST_F(CamkitTorchTool, DamagedModelFilesAreBlamedOnTheModel) {
    expect_bad_input({"layers", "--model", path("missing.pt")}, path("missing.pt") + ": cannot open: No such file or directory");
    write_text(path("junk.pt"), "not a model\n");
    expect_bad_input({"explain", "--model", path("junk.pt"), "--layer", "a", "--input", data + "x.npy", "--out", path("m.npy")},
                     "junk.pt: not a TorchScript model (save it with torch.jit.script(model).save(path)");
    // A TorchScript archive cut short: its zip directory is gone.
    const std::string whole = slurp(data + "classifier.pt");
    write_text(path("cut.pt"), whole.substr(0, whole.size() / 2));
    expect_bad_input({"layers", "--model", path("cut.pt")}, "cut.pt: damaged model file: ");
    // A well-formed archive whose weight storage is shorter than its tensors: LibTorch loads it,
    // and the tool says the model file is damaged (not that the input is wrong).
    save_truncated_weights(data + "classifier.pt", path("truncated.pt"));
    expect_bad_input({"explain", "--model", path("truncated.pt"), "--layer", "features.2", "--input", data + "x.npy",
                      "--out", path("m.npy"), "--class", "1"},
                     "truncated.pt: damaged model file: the weights of 'features.0.weight' need 432 bytes but no weight "
                     "record of the file has that size (truncated or corrupt)");
    // A .pt2 that is no package: with LibTorch 2.6+ the loader's reason, before that the tool says it
    // cannot load packages at all; explain, analyze and layers alike.
    write_text(path("junk.pt2"), "not a package\n");
    const std::string why = CAMKIT_TORCH_HAS_EXPORTED ? "is it a package written by tools/export_cam.py?"
                                                      : "which cannot load .pt2 packages";
    expect_bad_input({"explain", "--model", path("junk.pt2"), "--input", data + "x.npy", "--out", path("m.npy")}, why);
    expect_bad_input({"analyze", "--model", path("junk.pt2"), "--inputs", data + "x.npy", "--out", path("an"), "--method",
                      "gradcam"},
                     why);
    expect_bad_input({"layers", "--model", path("junk.pt2")}, why);
    fs::copy_file(path("junk.pt2"), path("junk.PT2"));  // the extension in any case
    expect_bad_input({"layers", "--model", path("junk.PT2")}, why);
    // A torch.save() file (the commonest mistake) and a package under another extension are named
    // as what they are, not as damaged models.
    save_without_code(data + "classifier.pt", path("state.pt"));
    expect_bad_input({"layers", "--model", path("state.pt")},
                     "state.pt: a torch.save() file (a state_dict or a pickled module), not a TorchScript model: save the "
                     "model with torch.jit.script(model).save(path)");
    save_without_code(data + "classifier.pt", path("package.pt"), "data/aotinductor/model/model.so");
    expect_bad_input({"layers", "--model", path("package.pt")},
                     "package.pt: an exported package (AOTInductor): give it the extension .pt2");
}

// A model whose forward returns a dict or a tuple: --model-output names the output to explain, and
// explain's and analyze's maps are those of the same model returning that output alone; without
// it, or with a key or index the output lacks, one line says what forward returned.
TEST_F(CamkitTorchTool, ModelOutputPicksADictKeyOrATupleIndex) {
    const std::string body = "def forward(self, x):\n    return torch.relu(x * self.w - 0.3)\n";
    const at::Tensor w = at::full({1}, 2.0);
    const std::string models = path("models") + "/";
    fs::create_directories(models);
    const auto save = [&](const std::string& name, const std::string& result) {
        save_model(models + name, "def forward(self, x):\n    y = self.body.forward(x)\n    return " + result + "\n", body, w);
    };
    save("single.pt", "y.sum(dim=[2, 3])");
    save("dict.pt", "{'out': y.sum(dim=[2, 3]), 'aux': -y.mean(dim=[2, 3])}");
    save("tuple.pt", "-y.mean(dim=[2, 3]), y.sum(dim=[2, 3])");
    const auto args = [&](const std::string& model, std::vector<std::string> extra) {
        std::vector<std::string> a{"explain", "--model", models + model, "--layer", "body", "--input", data + "x.npy", "--out",
                                   path("map.npy")};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    const auto map_of = [&](const std::vector<std::string>& a) {
        const auto r = run(a);
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(a) << "\nstderr: " << r.err;
        return r.status == 0 ? camkit::io::read_npy<float>(path("map.npy")) : camkit::tensor<float>{};
    };
    for (const std::string method : {"gradcam", "scorecam"}) {
        const auto want = map_of(args("single.pt", {"--method", method}));  // each sample's predicted class
        ASSERT_EQ(want.shape, (camkit::shape_t{2, 8, 8})) << method;
        expect_maps_near(map_of(args("dict.pt", {"--method", method, "--model-output", "out"})), want, method + " out", 0);
        expect_maps_near(map_of(args("tuple.pt", {"--method", method, "--model-output", "1"})), want, method + " 1", 0);
        // The other output's predicted class (argmax of -mean) differs: the choice is not ignored.
        const auto other = map_of(args("dict.pt", {"--method", method, "--model-output", "aux"}));
        EXPECT_FALSE(std::equal(other.values.begin(), other.values.end(), want.values.begin())) << method;
    }
    // eigencam reads the layer alone: no --model-output needed, the single-output model's maps.
    const auto eigen = map_of(args("single.pt", {"--method", "eigencam"}));
    ASSERT_EQ(eigen.shape, (camkit::shape_t{2, 8, 8}));
    for (const std::string model : {"dict.pt", "tuple.pt"})
        expect_maps_near(map_of(args(model, {"--method", "eigencam"})), eigen, model + " eigencam", 0);
    // analyze records the layer and explains the chosen output: the single-output model's maps.
    for (const std::string model : {"single.pt", "dict.pt"}) {
        std::vector<std::string> a{"analyze", "--model", models + model, "--inputs", data + "x.npy", "--out", path("an_" + model),
                                   "--layer", "body", "--method", "gradcam", "--method", "scorecam", "--save-maps"};
        if (model == "dict.pt") a.insert(a.end(), {"--model-output", "out"});
        const auto r = run(a);
        ASSERT_EQ(r.status, 0) << r.err;
    }
    std::size_t compared = 0;
    for (const auto& e : fs::recursive_directory_iterator(path("an_single.pt") + "/maps")) {
        if (e.path().extension() != ".npy") continue;
        const fs::path other = fs::path(path("an_dict.pt")) / fs::relative(e.path(), path("an_single.pt"));
        const auto got = camkit::io::read_npy<float>(other.string());
        expect_maps_near(got, camkit::io::read_npy<float>(e.path().string()), other.string(), 0);
        ++compared;
    }
    EXPECT_EQ(compared, 4u);  // 2 samples × (gradcam, scorecam) of the predicted class

    fs::remove_all(path("an_single.pt"));
    fs::remove_all(path("an_dict.pt"));
    fs::remove(path("map.npy"));
    expect_bad_input(args("dict.pt", {}), "model: forward returns a dict (keys: out, aux); choose the output to explain by its "
                                          "key (model_output = \"out\"; camkit-torch: --model-output KEY)");
    expect_bad_input(args("dict.pt", {"--model-output", "logits"}),
                     "model: forward returns a dict without the key 'logits' (keys: out, aux)");
    expect_bad_input(args("tuple.pt", {"--method", "scorecam"}), "model: forward returns a tuple of 2 values; choose the output");
    expect_bad_input(args("tuple.pt", {"--model-output", "2"}), "the model output '2' must be an index from 0 to 1");
    expect_bad_input(args("single.pt", {"--model-output", "out"}),
                     "model: forward returns one tensor; the model output 'out' chooses from a dict or a tuple (give none)");
    expect_bad_input({"analyze", "--model", models + "dict.pt", "--inputs", data + "x.npy", "--out", path("an"), "--layer", "body",
                      "--method", "gradcam"},
                     "model: forward returns a dict (keys: out, aux)");
}

TEST_F(CamkitTorchTool, ModelFailuresAndNonFiniteMapsAreErrors) {
    const at::Tensor one = at::ones({1});
    const std::string body = "def forward(self, x):\n    return x * self.w\n";
    // A forward that raises (the interpreter's exception, not a c10::Error): its message, as bad input.
    save_model(path("raises.pt"),
               "def forward(self, x):\n    y = self.body.forward(x)\n    assert x.size(1) == 7, \"needs 7 channels\"\n"
               "    return y.sum(dim=[2, 3])\n",
               body, one);
    expect_bad_input({"explain", "--model", path("raises.pt"), "--layer", "body", "--input", data + "x.npy", "--out",
                      path("m.npy"), "--class", "0"},
                     "the model failed on the input [2, 3, 8, 8] (read as [N, C, H, W]: 2 samples of 3 channels): "
                     "AssertionError: needs 7 channels");
    // An output of the wrong shape.
    save_model(path("scalar.pt"), "def forward(self, x):\n    return self.body.forward(x).sum()\n", body, one);
    expect_bad_input({"explain", "--model", path("scalar.pt"), "--layer", "body", "--input", data + "x.npy", "--out",
                      path("m.npy")},
                     "the model output has shape []; camkit-torch needs [N, C] or [N, C, *P] with N = 2");
    // Finite activations and gradients whose products overflow float32: an error, never a NaN map.
    save_model(path("overflow.pt"), "def forward(self, x):\n    return self.body.forward(x).sum(dim=[2, 3]) * 1.0e30\n", body,
               at::full({1}, 1.0e30));
    expect_bad_input({"explain", "--model", path("overflow.pt"), "--layer", "body", "--input", data + "x.npy", "--out",
                      path("m.npy"), "--class", "0", "--method", "hirescam"},
                     "the map of sample 0 is NaN or Inf although its activations and gradients are finite: a sum or "
                     "product beyond the range of the element type");
}
