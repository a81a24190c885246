// `camkit stats` (attention statistics as JSON lines), `camkit cam --method cam --fc-weights`
// (CAM and Saliency Tubes from a linear head, top classes) and `--method respondcam` (its
// published pipeline) end to end: numbers by hand or equal to the library's, and bad inputs
// (exit 2, one line on stderr, nothing written).
#include <camkit/camkit.hpp>
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/methods/saliency_tubes.hpp>

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <random>
#include <string>
#include <vector>
#include "common/tool_fixture.hpp"

namespace {

using camkit::shape_t;
using camkit::tensor;

class CamkitStats : public camkit_test::tool_fixture {
protected:
    CamkitStats() : tool_fixture(CAMKIT_TOOL_PATH, "camkit") {}
};

tensor<double> random_tensor(const shape_t& shape, unsigned seed, double lo = -1.0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, 1.0);
    tensor<double> t(shape);
    for (auto& v : t.values) v = d(rng);
    return t;
}

void expect_close(const tensor<float>& got, const tensor<double>& want, const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << what << " at " << i;
}

}  // namespace

// Sample 0 is metrics' hand case m = [[0, 1, 2], [3, 0, 4]] against [[0, 1, 1], [0, 0, 1]]: mean
// 5/3, std √(20/9), ratio (7/3)/(3/3), energy 7/10, hit, IoU at 1.5 = 2/4. Sample 1 is all zeros:
// ratio and energy are 0/0 (null), no peak to point with (null), IoU 0 of 3.
TEST_F(CamkitStats, HandComputedJsonLines) {
    camkit::io::write_npy(path("map.npy"), tensor<float>({2, 2, 3}, {0, 1, 2, 3, 0, 4, 0, 0, 0, 0, 0, 0}));
    camkit::io::write_npy(path("mask.npy"), tensor<float>({2, 3}, {0, 1, 1, 0, 0, 1}));
    const auto r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.npy"), "--threshold", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "{\"attention_mean\": 1.6666666666666667, \"attention_std\": 1.4907119849998596, "
              "\"attention_ratio\": 2.3333333333333335, \"energy_inside\": 0.7, \"pointing_hit\": true, \"iou\": 0.5}\n"
              "{\"attention_mean\": 0, \"attention_std\": 0, \"attention_ratio\": null, \"energy_inside\": null, "
              "\"pointing_hit\": null, \"iou\": 0}\n");
}

// The same sample 0 with the region as 'camkit refine' writes masks (uint8 '|u1'), in a file whose
// extension is upper case: read as a .npy, not decoded as an image.
TEST_F(CamkitStats, Uint8MaskAsRefineWritesIt) {
    camkit::io::write_npy(path("map.npy"), tensor<float>({1, 2, 3}, {0, 1, 2, 3, 0, 4}));
    std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
    header.append(128 - 10 - header.size() - 1, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
    bytes += std::string("\0\1\1\0\0\1", 6);
    camkit_test::write_text(path("roi.NPY"), bytes);
    const auto r = run({"stats", "--map", path("map.npy"), "--mask", path("roi.NPY"), "--threshold", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "{\"attention_mean\": 1.6666666666666667, \"attention_std\": 1.4907119849998596, "
              "\"attention_ratio\": 2.3333333333333335, \"energy_inside\": 0.7, \"pointing_hit\": true, \"iou\": 0.5}\n");
}

// Per-sample 3-D regions: one ordinary, one empty, one covering everything (the library's edge
// cases), with the default threshold 0.5; the numbers are the library's.
TEST_F(CamkitStats, ThreeDPerSampleRegionsEqualTheLibrary) {
    const tensor<double> maps({3, 1, 2, 2}, {1, 3, 0, 4, /**/ 2, 2, 2, 2, /**/ 0, 1, 0, 1});
    const tensor<double> masks({3, 1, 2, 2}, {0, 1, 0, 1, /**/ 0, 0, 0, 0, /**/ 1, 1, 1, 1});
    camkit::io::write_npy(path("map.npy"), maps);
    camkit::io::write_npy(path("mask.npy"), masks);
    const auto r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "{\"attention_mean\": 2, \"attention_std\": 1.5811388300841898, \"attention_ratio\": 7, "
              "\"energy_inside\": 0.875, \"pointing_hit\": true, \"iou\": 0.6666666666666666}\n"
              "{\"attention_mean\": 2, \"attention_std\": 0, \"attention_ratio\": null, \"energy_inside\": 0, "
              "\"pointing_hit\": null, \"iou\": 0}\n"
              "{\"attention_mean\": 0.5, \"attention_std\": 0.5, \"attention_ratio\": null, \"energy_inside\": 1, "
              "\"pointing_hit\": true, \"iou\": 0.5}\n");
    const auto s = camkit::attention_statistics(maps, masks);
    EXPECT_DOUBLE_EQ(s[0].attention_std, 1.5811388300841898);
}

// A PNG mask (any nonzero channel is inside), shared by the batch; an infinite ratio is null too.
TEST_F(CamkitStats, PngMaskSharedByTheBatch) {
    camkit::rgb_image png(2, 2);
    png.pixels[3 * 1 + 1] = 255;  // (0, 1): green only
    png.pixels[3 * 3 + 0] = 7;    // (1, 1): a dark red
    camkit::io::write_png(path("mask.png"), png);
    camkit::io::write_npy(path("map.npy"), tensor<float>({2, 2, 2}, {0, 1, 0, 3, /**/ 1, 0, 1, 0}));
    const auto r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.png"), "--threshold", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "{\"attention_mean\": 1, \"attention_std\": 1.224744871391589, \"attention_ratio\": null, "
              "\"energy_inside\": 1, \"pointing_hit\": true, \"iou\": 1}\n"
              "{\"attention_mean\": 0.5, \"attention_std\": 0.5, \"attention_ratio\": 0, \"energy_inside\": 0, "
              "\"pointing_hit\": false, \"iou\": 0}\n");
}

// One 2-D map without the batch axis, as analyze --save-maps writes it: --single, or an image mask
// of its size, reads it as one sample (the hand case above); without either a 2-D map with a
// .npy mask of its shape is a batch of signals, and a note says so (a volume likewise).
TEST_F(CamkitStats, SingleMapWithoutBatchAxis) {
    const std::string hand =
        "{\"attention_mean\": 1.6666666666666667, \"attention_std\": 1.4907119849998596, "
        "\"attention_ratio\": 2.3333333333333335, \"energy_inside\": 0.7, \"pointing_hit\": true, \"iou\": 0.5}\n";
    camkit::io::write_npy(path("map.npy"), tensor<float>({2, 3}, {0, 1, 2, 3, 0, 4}));
    camkit::io::write_npy(path("mask.npy"), tensor<float>({2, 3}, {0, 1, 1, 0, 0, 1}));
    auto r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.npy"), "--threshold", "1.5", "--single"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, hand);
    EXPECT_EQ(r.err, "");
    camkit::rgb_image png(2, 3);
    for (std::size_t p : {1, 2, 5}) png.pixels[3 * p] = 255;
    camkit::io::write_png(path("mask.png"), png);
    r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.png"), "--threshold", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, hand);
    r = run({"stats", "--map", path("map.npy"), "--mask", path("mask.npy"), "--threshold", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
    EXPECT_NE(r.err.find("is read as 2 signals of length 3; a single 2-D map (as 'camkit-torch analyze --save-maps' writes) "
                         "takes --single"),
              std::string::npos)
        << r.err;
    // A volume [D, H, W] with a mask of its shape: D 2-D maps, and a note; one line with --single.
    camkit::io::write_npy(path("vol.npy"), tensor<float>({2, 1, 3}, {0, 1, 2, 3, 0, 4}));
    camkit::io::write_npy(path("vmask.npy"), tensor<float>({2, 1, 3}, {0, 1, 1, 0, 0, 1}));
    r = run({"stats", "--map", path("vol.npy"), "--mask", path("vmask.npy"), "--threshold", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
    EXPECT_NE(r.err.find("vol.npy [2, 1, 3] is read as 2 2-D maps of 1x3; a single 3-D map (as 'camkit-torch analyze "
                         "--save-maps' writes) takes --single"),
              std::string::npos)
        << r.err;
    r = run({"stats", "--map", path("vol.npy"), "--mask", path("vmask.npy"), "--threshold", "1.5", "--single"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, hand);
    EXPECT_EQ(r.err, "");
    camkit::rgb_image small(1, 3);
    camkit::io::write_png(path("small.png"), small);
    r = run({"stats", "--map", path("map.npy"), "--mask", path("small.png")});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("is a 1x3 image, but the map [2, 3] is neither a 2-D map of its size nor a batch of 2-D maps [N, H, W]"),
              std::string::npos)
        << r.err;
    camkit::io::write_npy(path("four.npy"), tensor<float>({1, 1, 1, 1}, 1.0f));
    r = run({"stats", "--map", path("four.npy"), "--mask", path("mask.npy"), "--single"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("with --single the map must be [L], [H, W] or [D, H, W], got shape [1, 1, 1, 1]"), std::string::npos) << r.err;
}

TEST_F(CamkitStats, BadInput) {
    camkit::io::write_npy(path("map.npy"), tensor<float>({2, 2, 3}, 0.5f));
    camkit::io::write_npy(path("mask.npy"), tensor<float>({2, 3}, 1.0f));
    const auto stats = [&](std::vector<std::string> extra) {
        std::vector<std::string> args{"stats"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    expect_bad_input(stats({"--mask", path("mask.npy")}), "--map is required");
    expect_bad_input(stats({"--map", path("map.npy")}), "--mask is required");
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("mask.npy"), "--threshold", "nan"}),
                     "--threshold must be a finite number, got 'nan'");
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("mask.npy"), "--threshold", "x"}),
                     "--threshold must be a finite number, got 'x'");
    expect_bad_input(stats({"--map", path("missing.npy"), "--mask", path("mask.npy")}), "missing.npy");
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("mask.npy"), "--out", "x"}),
                     "unknown option '--out' (see 'camkit stats --help')");
    camkit::io::write_npy(path("wrong.npy"), tensor<float>({3, 2}, 1.0f));
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("wrong.npy")}),
                     "has shape [3, 2] but must be [2, 2, 3] (one region per sample) or [2, 3] (shared)");
    camkit::io::write_npy(path("flat.npy"), tensor<float>({6}, 1.0f));
    expect_bad_input(stats({"--map", path("flat.npy"), "--mask", path("mask.npy")}),
                     "maps must be [N, L], [N, H, W] or [N, D, H, W] (one map without the batch axis: --single), got shape [6]");
    camkit::io::write_npy(path("neg.npy"), tensor<float>({2, 2, 3}, {0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0}));
    expect_bad_input(stats({"--map", path("neg.npy"), "--mask", path("mask.npy")}),
                     "--map " + path("neg.npy") + " holds -1.000000 at flat index 8: maps must be finite and >= 0");
    camkit::io::write_npy(path("nanmask.npy"), tensor<float>({2, 3}, {0, 1, std::nanf(""), 0, 0, 1}));
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("nanmask.npy")}),
                     "holds a non-finite value at flat index 2");
    camkit::io::write_npy(path("vol.npy"), tensor<float>({1, 2, 2, 3}, 1.0f));
    camkit::io::write_png(path("mask.png"), camkit::rgb_image(2, 3));
    expect_bad_input(stats({"--map", path("vol.npy"), "--mask", path("mask.png")}), "is an image, but the maps [1, 2, 2, 3] are not 2-D");
    camkit_test::write_text(path("bad.png"), "not a png");
    expect_bad_input(stats({"--map", path("map.npy"), "--mask", path("bad.png")}), "bad.png");
}

// CAM from a linear head: per-sample classes, the top classes when none is given, 3-D (Saliency
// Tubes), and the weights written as the head's rows.
TEST_F(CamkitStats, CamFromHeadWeights) {
    const auto A = random_tensor({2, 3, 4, 5}, 1, 0.0);
    const tensor<double> W({4, 3}, {1, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 1, /**/ 0.5, -1, 2});
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("w.npy"), W);
    auto r = run({"cam", "--method", "cam", "--activations", path("a.npy"), "--fc-weights", path("w.npy"), "--class", "3",
                  "--class=1", "--out", path("m.npy"), "--weights-out", path("rows.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "camkit: cam (classes [3, 1]) map [2, 4, 5] -> " + path("m.npy") + ", weights -> " + path("rows.npy") + "\n");
    const std::vector<std::size_t> given{3, 1};
    expect_close(camkit::io::read_npy<float>(path("m.npy")), camkit::cam(A, W, given).map, "cam 3, 1");
    expect_close(camkit::io::read_npy<float>(path("rows.npy")), tensor<double>({2, 3}, {0.5, -1, 2, 0, 1, 0}), "rows");
    // No --class: each sample's top class of GAP(A)·Wᵀ.
    r = run({"cam", "--method", "cam", "--activations", path("a.npy"), "--fc-weights", path("w.npy"), "--out", path("t.npy"),
             "--no-relu"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto top = camkit::top_classes(A, W);
    EXPECT_NE(r.out.find("(classes " + camkit::to_string(top) + ")"), std::string::npos) << r.out;
    expect_close(camkit::io::read_npy<float>(path("t.npy")), camkit::cam(A, W, top, {.relu = false}).map, "top");
    // A 3-D layer: Saliency Tubes with its pipeline (--no-relu, min-max) and a resize.
    const auto V = random_tensor({1, 3, 2, 3, 4}, 2);
    camkit::io::write_npy(path("v.npy"), V);
    r = run({"cam", "--method", "cam", "--activations", path("v.npy"), "--fc-weights", path("w.npy"), "--class", "2",
             "--no-relu", "--size", "4x6x8", "--out", path("tube.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    const std::vector<std::size_t> two{2};
    camkit::options o = camkit::saliency_tubes_options();
    o.size = {4, 6, 8};
    expect_close(camkit::io::read_npy<float>(path("tube.npy")), camkit::saliency_tubes(V, W, two, o).map, "tubes");
}

TEST_F(CamkitStats, CamFromHeadWeightsBadInput) {
    camkit::io::write_npy(path("a.npy"), random_tensor({2, 3, 4, 5}, 1, 0.0));
    camkit::io::write_npy(path("g.npy"), random_tensor({2, 3, 4, 5}, 2));
    camkit::io::write_npy(path("w.npy"), tensor<float>({4, 3}, 1.0f));
    camkit::io::write_npy(path("w2.npy"), tensor<float>({4, 2}, 1.0f));
    const auto cam = [&](std::vector<std::string> extra) {
        std::vector<std::string> args{"cam", "--activations", path("a.npy"), "--out", path("m.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    expect_bad_input(cam({"--method", "cam"}), "--method cam needs --fc-weights");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--gradients", path("g.npy")}),
                     "--method cam uses no --gradients");
    expect_bad_input(cam({"--method", "gradcam", "--gradients", path("g.npy"), "--fc-weights", path("w.npy")}),
                     "--fc-weights is for --method cam only");
    expect_bad_input(cam({"--method", "gradcam", "--gradients", path("g.npy"), "--class", "1"}),
                     "--class is for --method cam only");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w2.npy")}),
                     "must be [classes, K] with K = 3 (the channels of the activations [2, 3, 4, 5]), got shape [4, 2]");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--class", "1"}),
                     "got 1 --class values but the activations hold 2 samples");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--class", "1", "--class", "4"}),
                     "--class 4 is out of range for 4 classes");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--class", "-1", "--class", "0"}),
                     "--class must be an integer >= 0, got '-1'");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--class"}), "--class needs a value");
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w.npy"), "--relu", "--no-relu"}),
                     "--relu and --no-relu contradict each other");
    expect_bad_input(cam({"--method", "nosuchcam"}), "unknown method 'nosuchcam' (choose one of: gradcam");
    // non-finite head weights are named by their file (the library says "head_weights")
    camkit::io::write_npy(path("w_nan.npy"), tensor<float>({4, 3}, {1, 1, 1, 1, std::nanf(""), 1, 1, 1, 1, 1, 1, 1}));
    expect_bad_input(cam({"--method", "cam", "--fc-weights", path("w_nan.npy")}),
                     path("w_nan.npy") + ": head weights hold NaN or Inf (flat index 4)");
    // an empty axis is named with the file before any data is read
    camkit::io::write_npy(path("a_n0.npy"), tensor<float>({0, 3, 4, 5}));
    expect_bad_input({"cam", "--method", "eigencam", "--activations", path("a_n0.npy"), "--out", path("m.npy")},
                     path("a_n0.npy") + ": activations have an empty axis: shape [0, 3, 4, 5]");
}

// respondcam: XGrad-CAM's raw map, by default without ReLU or normalization (the published map);
// --relu and --normalize override the default.
TEST_F(CamkitStats, RespondCamPublishedPipeline) {
    const auto A = random_tensor({2, 3, 4, 5}, 3, 0.0), G = random_tensor({2, 3, 4, 5}, 4);
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("g.npy"), G);
    const std::vector<std::string> base{"cam", "--method", "respondcam", "--activations", path("a.npy"),
                                        "--gradients", path("g.npy"), "--out", path("m.npy")};
    auto r = run(base);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto raw = camkit::explain<camkit::xgrad_cam>(A, G, {.relu = false, .normalize = camkit::normalization::none});
    expect_close(camkit::io::read_npy<float>(path("m.npy")), raw.map, "respondcam default");
    bool negative = false;
    for (float v : camkit::io::read_npy<float>(path("m.npy")).values) negative = negative || v < 0;
    EXPECT_TRUE(negative) << "the published map keeps negative evidence";
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--relu", "--normalize", "min_max"});
    r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    expect_close(camkit::io::read_npy<float>(path("m.npy")), camkit::explain<camkit::respond_cam>(A, G).map,
                 "respondcam with camkit's default pipeline");
    args = base;
    args.insert(args.end(), {"--normalize", "max"});
    r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    expect_close(camkit::io::read_npy<float>(path("m.npy")),
                 camkit::explain<camkit::respond_cam>(A, G, {.relu = false, .normalize = camkit::normalization::max}).map,
                 "respondcam --normalize max");
}
