// camkit-torch analyze, run as a program on the fixed-weight segmenter tests/data/regions/discs.pt
// (class 1 where the 3×3 box mean of the channel mean exceeds 0.5: on bright squares) and on
// small images the tests draw. The maps equal `camkit-torch explain`'s for the same target, the
// metrics equal what the test computes from those maps and the model's own output, the pass counts
// are one forward per image and one backward per target (Score-CAM's masked forwards counted), a
// second run resumes, every bad input and every bad file mid-run ends with exit 2, SIGINT leaves no
// partial file, and the report loads in headless Chromium with every picture.
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/metrics.hpp>
#include <camkit/overlay.hpp>
#include <camkit/refine/refine.hpp>
#include <camkit/regions/components.hpp>
#include <camkit/torch/scripted.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "../../examples/torch/analyze/records.hpp"
#include "common/tool_fixture.hpp"

namespace fs = std::filesystem;

namespace {

using camkit_test::slurp;
using camkit_test::write_text;

const std::string model_path = std::string(CAMKIT_TEST_DATA_DIR) + "/regions/discs.pt";

#ifdef CAMKIT_TORCH_TOOL
constexpr const char* tool_path = CAMKIT_TORCH_TOOL;
#else
constexpr const char* tool_path = "";
#endif

/// A square of a picture: rows y0..y0+h, columns x0..x0+w.
struct square {
    std::size_t y0, x0, h, w;
};

class CamkitTorchAnalyze : public camkit_test::tool_fixture {
protected:
    CamkitTorchAnalyze() : tool_fixture(tool_path, "camkit-torch") {}

    void SetUp() override {
        if (std::string(tool_path).empty()) GTEST_SKIP() << "the camkit-torch tool is not built (CAMKIT_BUILD_EXAMPLES=OFF)";
        tool_fixture::SetUp();
    }

    /// Writes a dark 20×24 image with bright squares as images/<stem>.png, and its mask (class 1 in
    /// the first square only, so the model's prediction and the truth differ) as masks/<stem>.png.
    void draw(const std::string& stem, const std::vector<square>& squares, std::size_t h = 20, std::size_t w = 24) const {
        fs::create_directories(path("images"));
        fs::create_directories(path("masks"));
        camkit::rgb_image im(h, w), mask(h, w);
        std::fill(im.pixels.begin(), im.pixels.end(), 30);
        for (std::size_t k = 0; k < squares.size(); ++k)
            for (std::size_t y = squares[k].y0; y < squares[k].y0 + squares[k].h; ++y)
                for (std::size_t x = squares[k].x0; x < squares[k].x0 + squares[k].w; ++x) {
                    im.set(y, x, {230, 230, 230});
                    if (k == 0) mask.set(y, x, {1, 1, 1});
                }
        camkit::io::write_png(path("images/" + stem + ".png"), im);
        camkit::io::write_png(path("masks/" + stem + ".png"), mask);
    }

    /// The three images of most tests.
    void draw_three() const {
        draw("a", {{3, 3, 6, 6}, {15, 2, 3, 3}});
        draw("b", {{10, 8, 5, 5}});
        draw("c", {{2, 12, 4, 4}, {14, 16, 4, 5}});
    }

    /// `analyze` on images/ and masks/ into out/ at layers enc and enc.0 with gradcam and hirescam, then `extra`.
    std::vector<std::string> args(const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> a{"analyze", "--model", model_path, "--images", path("images"), "--masks", path("masks"),
                                   "--out", path("out"), "--layer", "enc", "--layer", "enc.0", "--method", "gradcam",
                                   "--method", "hirescam"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    /// The rows of a CSV file, split into cells (the header first).
    static std::vector<std::vector<std::string>> csv(const std::string& file) {
        std::ifstream in(file);
        std::vector<std::vector<std::string>> rows;
        for (std::string line; std::getline(in, line);) rows.push_back(camkit_analyze::split_csv(line));
        return rows;
    }

    /// The model's predicted labels [H, W] for image `stem` (argmax of the two logits, ties to class 0).
    camkit::tensor<float> predicted(const std::string& stem) const {
        const camkit::rgb_image im = camkit::io::read_image(path("images/" + stem + ".png"));
        at::Tensor x = at::empty({1, 3, static_cast<std::int64_t>(im.height), static_cast<std::int64_t>(im.width)});
        for (std::size_t p = 0; p < im.height * im.width; ++p)
            for (std::size_t c = 0; c < 3; ++c) x.data_ptr<float>()[c * im.height * im.width + p] = im.pixels[3 * p + c] / 255.0f;
        torch::jit::Module m = torch::jit::load(model_path);
        m.eval();
        at::NoGradGuard no_grad;
        const at::Tensor y = m.forward({x}).toTensor().contiguous();
        camkit::tensor<float> labels({im.height, im.width});
        for (std::size_t p = 0; p < labels.size(); ++p)
            labels[p] = y.data_ptr<float>()[labels.size() + p] > y.data_ptr<float>()[p] ? 1.0f : 0.0f;
        return labels;
    }
};

/// 0/1 mask of labels == c.
camkit::tensor<float> is_class(const camkit::tensor<float>& labels, float c) {
    camkit::tensor<float> m(labels.shape);
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = labels[i] == c ? 1.0f : 0.0f;
    return m;
}

/// The pointing_hit cell analyze writes: empty for a constant map (no peak), else 1 or 0.
std::string hit_cell(const camkit::tensor<float>& map, const camkit::tensor<float>& region) {
    const auto [lo, hi] = std::minmax_element(map.values.begin(), map.values.end());
    if (*lo == *hi) return "";
    return camkit::pointing_hit(map, region) ? "1" : "0";
}

/// A number cell of metrics.csv.
double cell(const std::string& s) {
    const auto v = camkit_analyze::parse_number(s);
    EXPECT_TRUE(v.has_value()) << "not a number: '" << s << "'";
    return v.value_or(std::nan(""));
}

// The adapter piece analyze stands on: scripted_layers records several layers (nested ones too,
// given deepest first) in one forward, each equal to what a scripted_layer of it records alone.
TEST(ScriptedLayers, RecordsEveryLayerInOneForwardAsSingleRecordersDo) {
    torch::jit::Module m = torch::jit::load(model_path);
    m.eval();
    const std::vector<std::string> names{"enc.1", "head", "enc.0", "enc"};
    camkit::torch::scripted_layers rec(m, names);
    EXPECT_EQ(rec.layers(), names);
    at::manual_seed(3);
    const at::Tensor x = at::rand({2, 3, 12, 12}).requires_grad_(true);
    const auto p = rec.forward(x);
    ASSERT_EQ(p.activations.size(), 4u);
    for (std::size_t i = 0; i < names.size(); ++i) {
        camkit::torch::scripted_layer one(m, names[i]);
        const auto q = one.forward(x);
        ASSERT_TRUE(p.activations[i].defined()) << names[i];
        EXPECT_TRUE(at::equal(p.activations[i], q.activations)) << names[i];
        EXPECT_TRUE(at::equal(p.output, q.output)) << names[i];
        EXPECT_TRUE(p.activations[i].requires_grad()) << names[i];
    }
    EXPECT_TRUE(at::equal(p.activations[3], p.activations[0])) << "enc's output is enc.1's (its last module)";
    // One backward reaches every layer.
    const auto g = torch::autograd::grad({p.output.sum()}, p.activations);
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_TRUE(g[i].defined()) << names[i];
    const auto message = [&](const std::vector<std::string>& layers) {
        try {
            camkit::torch::scripted_layers bad(m, layers);
        } catch (const camkit::error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({"enc", "enc"}).find("layer 'enc' is given twice"), std::string::npos);
    EXPECT_NE(message({"enc", "nope"}).find("unknown layer 'nope'; valid layers: enc, enc.0, enc.1, head"), std::string::npos);
    EXPECT_NE(message({}).find("no layer given"), std::string::npos);
}

TEST_F(CamkitTorchAnalyze, WritesEveryOutputWithOneForwardPerImageAndOneBackwardPerTarget) {
    draw_three();
    const auto r = run(args({"--save-maps"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("3 images, 2 methods x 2 layers"), std::string::npos) << r.out;
    for (const std::string stem : {"a", "b", "c"}) {
        EXPECT_TRUE(fs::is_regular_file(path("out/panels/" + stem + ".png"))) << stem;
        EXPECT_TRUE(fs::is_regular_file(path("out/records/" + stem + ".csv"))) << stem;
    }
    // Every image predicts classes 0 and 1: 2 targets × 2 methods × 2 layers rows each.
    const auto rows = csv(path("out/metrics.csv"));
    ASSERT_EQ(rows.size(), 1u + 3 * 8);
    EXPECT_EQ(camkit_analyze::csv_line(rows[0]),
              "image,target,class,method,layer,attention_mean,attention_std,attention_ratio,energy_inside,pointing_hit,"
              "iou_pred,iou_gt,model_iou,model_dice");
    EXPECT_EQ(camkit_analyze::csv_line(rows[1]).substr(0, 25), "a,predicted0,0,gradcam,en");

    // One forward per image, one backward per target (2 per image) for both layers and both
    // methods; separate explain calls take one of each per target × method × layer (8 per image).
    const std::string summary = slurp(path("out/summary.json"));
    EXPECT_NE(summary.find("\"passes\": {\"forward\": 3, \"backward\": 6, \"separate_explain_forward\": 24, "
                           "\"separate_explain_backward\": 24}"),
              std::string::npos)
        << summary;
    EXPECT_NE(summary.find("\"failed\": []"), std::string::npos);

    // The maps equal explain's for the same target (mask-sum over the predicted region of class 1),
    // and every metric cell equals what the saved map, the model's prediction and the mask give.
    for (const std::string method : {"gradcam", "hirescam"})
        for (const std::string layer : {"enc", "enc.0"}) {
            const auto e = run({"explain", "--model", model_path, "--layer", layer, "--input", path("images/a.png"), "--method",
                                method, "--target", "predicted", "--class", "1", "--out", path("explained.npy")});
            ASSERT_EQ(e.status, 0) << e.err;
            const auto expected = camkit::io::read_npy<float>(path("explained.npy"));
            const auto got = camkit::io::read_npy<float>(path("out/maps/a/predicted1__" + method + "__" + layer + ".npy"));
            ASSERT_EQ(got.shape, (camkit::shape_t{20, 24}));
            ASSERT_EQ(expected.shape, (camkit::shape_t{1, 20, 24}));
            for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-6) << method << " " << layer << " " << i;
        }
    const camkit::tensor<float> pred = predicted("a");
    const camkit::rgb_image m = camkit::io::read_image(path("masks/a.png"));
    camkit::tensor<float> truth({20, 24});
    for (std::size_t p = 0; p < truth.size(); ++p) truth[p] = m.pixels[3 * p];
    std::size_t checked = 0;
    for (const auto& row : rows) {
        if (row[0] != "a") continue;
        const float c = row[2] == "1" ? 1.0f : 0.0f;
        const auto map = camkit::io::read_npy<float>(path("out/maps/a/" + row[1] + "__" + row[3] + "__" + row[4] + ".npy"));
        const camkit::tensor<float> region = is_class(pred, c), gt = is_class(truth, c);
        double sum = 0, inside = 0, inter = 0, p = 0, g = 0, mean = 0;
        for (std::size_t i = 0; i < map.size(); ++i) {
            sum += map[i], inside += map[i] * region[i], mean += map[i];
            inter += region[i] * gt[i], p += region[i], g += gt[i];
        }
        mean /= static_cast<double>(map.size());
        EXPECT_NEAR(cell(row[5]), mean, 1e-6);
        if (sum > 0) EXPECT_NEAR(cell(row[8]), inside / sum, 1e-6) << camkit_analyze::csv_line(row);
        else EXPECT_EQ(row[8], "") << "energy inside of an all-zero map is 0/0";
        EXPECT_EQ(row[9], hit_cell(map, region));
        EXPECT_NEAR(cell(row[10]), camkit::iou_at(map, region, 0.5), 1e-6);
        EXPECT_NEAR(cell(row[11]), camkit::iou_at(map, gt, 0.5), 1e-6);
        EXPECT_NEAR(cell(row[12]), inter / (p + g - inter), 1e-6);
        EXPECT_NEAR(cell(row[13]), 2 * inter / (p + g), 1e-6);
        ++checked;
    }
    EXPECT_EQ(checked, 8u);
    // Class 1's prediction is both squares, the truth the first only: the model's IoU is below 1.
    EXPECT_LT(cell(rows[5][12]), 0.95);
}

TEST_F(CamkitTorchAnalyze, TargetsGtAllClassesClassAndComponentsNameTheirRows) {
    draw_three();
    const auto targets_of = [&](const std::string& target, std::vector<std::string> extra = {}) {
        fs::remove_all(path("out"));
        extra.insert(extra.begin(), {"--target", target});
        const auto r = run(args(extra));
        EXPECT_EQ(r.status, 0) << target << ": " << r.err;
        std::vector<std::string> names;
        for (const auto& row : csv(path("out/metrics.csv")))
            if (row[0] == "a" && row[3] == "gradcam" && row[4] == "enc") names.push_back(row[1] + "/" + row[2]);
        return names;
    };
    EXPECT_EQ(targets_of("gt"), (std::vector<std::string>{"gt0/0", "gt1/1"}));
    EXPECT_EQ(targets_of("all-classes"), (std::vector<std::string>{"class0/0", "class1/1"}));
    EXPECT_EQ(targets_of("class:1"), (std::vector<std::string>{"class1/1"}));
    EXPECT_EQ(targets_of("largest-component:1"), (std::vector<std::string>{"largest1/1"}));
    EXPECT_EQ(targets_of("smallest-component"), (std::vector<std::string>{"smallest0/0", "smallest1/1"}));
    // --skip-class leaves a class's targets out (a background class, say).
    for (const std::string target : {"predicted", "gt", "all-classes", "largest-component", "smallest-component"}) {
        const auto names = targets_of(target, {"--skip-class", "0"});
        ASSERT_EQ(names.size(), 1u) << target;
        EXPECT_EQ(names[0].substr(names[0].size() - 2), "/1") << target;
    }
    EXPECT_EQ(targets_of("predicted", {"--skip-class", "1"}), (std::vector<std::string>{"predicted0/0"}));
    // Several --target kinds: the rows of each in the order given; one that two give, once.
    EXPECT_EQ(targets_of("gt", {"--target", "largest-component:1"}), (std::vector<std::string>{"gt0/0", "gt1/1", "largest1/1"}));
    EXPECT_EQ(targets_of("class:1", {"--target", "all-classes"}), (std::vector<std::string>{"class1/1", "class0/0"}));
    EXPECT_EQ(targets_of("all-classes", {"--target", "gt", "--skip-class", "0"}), (std::vector<std::string>{"class1/1", "gt1/1"}));
    // Their maps are those of the runs of each kind alone (the saved .npy maps, bit for bit).
    {
        fs::remove_all(path("out"));
        ASSERT_EQ(run(args({"--target", "gt", "--target", "largest-component:1", "--save-maps"})).status, 0);
        const auto both = camkit::io::read_npy<float>(path("out/maps/a/largest1__hirescam__enc.npy"));
        const auto gt1 = camkit::io::read_npy<float>(path("out/maps/a/gt1__hirescam__enc.npy"));
        fs::remove_all(path("out"));
        ASSERT_EQ(run(args({"--target", "largest-component:1", "--save-maps"})).status, 0);
        const auto alone = camkit::io::read_npy<float>(path("out/maps/a/largest1__hirescam__enc.npy"));
        ASSERT_EQ(both.values, alone.values);
        fs::remove_all(path("out"));
        ASSERT_EQ(run(args({"--target", "gt", "--save-maps"})).status, 0);
        ASSERT_EQ(gt1.values, camkit::io::read_npy<float>(path("out/maps/a/gt1__hirescam__enc.npy")).values);
        // A folder of the gt run alone is not resumed by a run of both (its options differ).
        ASSERT_EQ(run(args({"--target", "gt", "--target", "largest-component:1"})).status, 2);
    }
    // The largest component's map equals explain --target largest-component's.
    fs::remove_all(path("out"));
    ASSERT_EQ(run(args({"--target", "largest-component:1", "--save-maps"})).status, 0);
    ASSERT_EQ(run({"explain", "--model", model_path, "--layer", "enc", "--input", path("images/a.png"), "--method", "hirescam",
                   "--target", "largest-component", "--class", "1", "--out", path("explained.npy")})
                  .status,
              0);
    const auto expected = camkit::io::read_npy<float>(path("explained.npy"));
    const auto got = camkit::io::read_npy<float>(path("out/maps/a/largest1__hirescam__enc.npy"));
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-6) << i;
}

// The report's per-class table and summary.json's model_by_class: the model's IoU and Dice of each
// class summed over the data set (pixels of every image), here computed from the model's own
// prediction and the masks; --class-names names the classes.
TEST_F(CamkitTorchAnalyze, ModelIouPerClassIsTheDataSetsAndClassesHaveNames) {
    draw_three();
    const auto r = run(args({"--class-names", "dark,bright"}));
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string summary = slurp(path("out/summary.json"));
    const std::string page = slurp(path("out/report.html"));
    for (const float c : {0.0f, 1.0f}) {
        double both = 0, p = 0, g = 0;
        std::size_t images_true = 0, images_predicted = 0;
        for (const std::string stem : {"a", "b", "c"}) {
            const camkit::tensor<float> pred = is_class(predicted(stem), c);
            const camkit::rgb_image m = camkit::io::read_image(path("masks/" + stem + ".png"));
            double tp = 0, tg = 0;
            for (std::size_t i = 0; i < pred.size(); ++i) {
                const float t = m.pixels[3 * i] == c ? 1.0f : 0.0f;
                both += pred[i] * t, tp += pred[i], tg += t;
            }
            p += tp, g += tg, images_predicted += tp > 0, images_true += tg > 0;
        }
        const std::string name = c == 0 ? "dark" : "bright";
        const std::string expected = "{\"class\": \"" + std::to_string(static_cast<int>(c)) + "\", \"name\": \"" + name +
                                     "\", \"images_true\": " + std::to_string(images_true) +
                                     ", \"images_predicted\": " + std::to_string(images_predicted) + ", \"iou\": " +
                                     camkit_analyze::number(both / (p + g - both)) + ", \"dice\": " +
                                     camkit_analyze::number(2 * both / (p + g)) + "}";
        EXPECT_NE(summary.find(expected), std::string::npos) << expected << "\n" << summary;
        EXPECT_NE(page.find("<td class=\"name\">" + std::to_string(static_cast<int>(c)) + " (" + name + ")</td>"), std::string::npos);
    }
    EXPECT_NE(summary.find("\"class\": \"1\", \"name\": \"bright\", \"rows\": "), std::string::npos)
        << "by_method_layer_class names the classes too";
    // Each method × layer has rows of both classes, and its class-balanced means.
    EXPECT_NE(summary.find("\"classes\": 2, \"class_balanced\": {"), std::string::npos) << summary;
    // A resumed run keeps the overlaps in the records: the same summary.
    ASSERT_EQ(run(args({"--class-names", "dark,bright"})).status, 0);
    EXPECT_EQ(slurp(path("out/summary.json")), summary);
    // The panels name each row's class under the target's name: the picture differs from a run
    // without names (same size, the same maps).
    std::vector<std::string> plain = args();
    plain[8] = path("plain");
    ASSERT_EQ(run(plain).status, 0);
    const camkit::rgb_image named = camkit::io::read_image(path("out/panels/a.png"));
    const camkit::rgb_image unnamed = camkit::io::read_image(path("plain/panels/a.png"));
    ASSERT_EQ(named.height, unnamed.height);
    ASSERT_EQ(named.width, unnamed.width);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < named.pixels.size(); ++i) differ += named.pixels[i] != unnamed.pixels[i];
    EXPECT_GT(differ, 0u) << "the class names are drawn";
}

// --renormalize: ReLU and min-max again after the resize to the image, as pytorch-grad-cam does:
// every map that is not constant reaches 1; the option is part of the run's signature.
TEST_F(CamkitTorchAnalyze, RenormalizeMakesEveryMapReachOne) {
    draw_three();
    ASSERT_EQ(run(args({"--renormalize", "--save-maps"})).status, 0);
    std::size_t checked = 0;
    for (const auto& entry : fs::recursive_directory_iterator(path("out/maps"))) {
        if (entry.path().extension() != ".npy") continue;
        const auto m = camkit::io::read_npy<float>(entry.path().string());
        const auto [lo, hi] = std::minmax_element(m.values.begin(), m.values.end());
        if (*lo == *hi) continue;
        EXPECT_NEAR(*hi, 1.0f, 1e-5f) << entry.path();
        EXPECT_EQ(*lo, 0.0f) << entry.path();
        ++checked;
    }
    EXPECT_GE(checked, 6u);
    EXPECT_NE(slurp(path("out/run.txt")).find("refine 0 renormalize\n"), std::string::npos);
    const auto r = run(args({"--save-maps"}));
    EXPECT_EQ(r.status, 2) << "another option set on the same --out";
    EXPECT_NE(r.err.find("holds a run with other options"), std::string::npos) << r.err;
}

// --images names one image file and --masks its mask file: the rows of that image equal those of the
// folder's run; a file that is no image is refused before any work.
TEST_F(CamkitTorchAnalyze, OneImageFileWithItsMaskFile) {
    draw_three();
    ASSERT_EQ(run(args()).status, 0);
    std::vector<std::vector<std::string>> folder_rows;
    for (const auto& row : csv(path("out/metrics.csv")))
        if (row[0] == "b") folder_rows.push_back(row);
    auto one = args();
    one[4] = path("images/b.png");
    one[6] = path("masks/b.png");
    one[8] = path("one");
    const auto r = run(one);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("camkit-torch analyze: 1 image, 2 methods x 2 layers"), std::string::npos) << r.out;
    auto rows = csv(path("one/metrics.csv"));
    rows.erase(rows.begin());
    EXPECT_EQ(rows, folder_rows);
    EXPECT_EQ(folder_rows.size(), 8u);
    write_text(path("notes.txt"), "not an image");
    one[4] = path("notes.txt");
    one[8] = path("bad");
    expect_bad_input(one, "--images " + path("notes.txt") + " is neither a folder nor a PNG or JPEG image");
    EXPECT_FALSE(fs::exists(path("bad")));
    // The one image does not decode: refused before any work (nothing written), not a failed run.
    write_text(path("fake.png"), "not a PNG");
    one[4] = path("fake.png");
    expect_bad_input(one, path("fake.png"));
    EXPECT_FALSE(fs::exists(path("bad")));
    // A finished run resumed with new options that do not change its results: they are checked too.
    auto names = args({"--class-names", "a,b,c"});
    expect_bad_input(names, "--class-names gives 3 names but the model output [1, 2, 20, 24] has 2 classes");
}

TEST_F(CamkitTorchAnalyze, ComponentAtAndPointTargetsAtOneOutputPosition) {
    draw_three();
    // (5, 5) lies in image a's first square (class 1) and in the background (class 0) of b and c.
    ASSERT_EQ(run(args({"--target", "component-at", "--at", "5,5", "--save-maps"})).status, 0);
    const std::map<std::string, std::string> expected_names{{"a", "component1"}, {"b", "component0"}, {"c", "component0"}};
    std::size_t rows_seen = 0;
    for (const auto& row : csv(path("out/metrics.csv"))) {
        if (row[0] == "image") continue;
        ASSERT_EQ(row[1], expected_names.at(row[0])) << "without :C, the class predicted at --at";
        EXPECT_EQ(row[2], row[1].substr(9));
        // The metrics' region is the connected part of that class's predicted region holding (5, 5).
        const auto map = camkit::io::read_npy<float>(path("out/maps/" + row[0] + "/" + row[1] + "__" + row[3] + "__" + row[4] + ".npy"));
        const camkit::tensor<float> part =
            camkit::keep_component_at(is_class(predicted(row[0]), row[2] == "1" ? 1.0f : 0.0f), camkit::shape_t{5, 5});
        double sum = 0, inside = 0, area = 0;
        for (std::size_t i = 0; i < map.size(); ++i) sum += map[i], inside += map[i] * part[i], area += part[i];
        EXPECT_GT(area, 0.0);
        if (sum > 0) {
            EXPECT_NEAR(cell(row[8]), inside / sum, 1e-6) << camkit_analyze::csv_line(row);
        }
        EXPECT_EQ(row[9], hit_cell(map, part));
        ++rows_seen;
    }
    EXPECT_EQ(rows_seen, 3u * 4);
    // The map equals explain --target component-at's.
    ASSERT_EQ(run({"explain", "--model", model_path, "--layer", "enc", "--input", path("images/a.png"), "--method", "gradcam",
                   "--target", "component-at", "--class", "1", "--at", "5,5", "--out", path("explained.npy")})
                  .status,
              0);
    auto expected = camkit::io::read_npy<float>(path("explained.npy"));
    auto got = camkit::io::read_npy<float>(path("out/maps/a/component1__gradcam__enc.npy"));
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-6) << i;

    // point:1 at (5, 5): class 1's output there; in b the point is background, so its metrics'
    // region is empty (no ratio, no energy inside, no hit) while the map is explain's.
    fs::remove_all(path("out"));
    ASSERT_EQ(run(args({"--target", "point:1", "--at", "5,5", "--save-maps"})).status, 0);
    for (const auto& row : csv(path("out/metrics.csv"))) {
        if (row[0] == "image") continue;
        EXPECT_EQ(row[1], "point1");
        if (row[0] == "b") {
            EXPECT_EQ(row[7] + "|" + row[9], "|0") << camkit_analyze::csv_line(row);
        }
    }
    ASSERT_EQ(run({"explain", "--model", model_path, "--layer", "enc.0", "--input", path("images/b.png"), "--method", "hirescam",
                   "--target", "point", "--class", "1", "--at", "5,5", "--out", path("explained.npy")})
                  .status,
              0);
    expected = camkit::io::read_npy<float>(path("explained.npy"));
    got = camkit::io::read_npy<float>(path("out/maps/b/point1__hirescam__enc.0.npy"));
    ASSERT_EQ(got.size(), expected.size());
    double total = 0;
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-6) << i;
    for (float v : got.values) total += v;
    EXPECT_GT(total, 0.0) << "a point's map is not all zero";

    // A resumed run with another --at is another analysis.
    expect_bad_input(args({"--target", "point:1", "--at", "6,5", "--save-maps"}), "holds a run with other options");
}

TEST_F(CamkitTorchAnalyze, ScoreCamRunsFromTheSharedForwardAndCountsItsMaskedPasses) {
    draw_three();
    ASSERT_EQ(run(args({"--method", "scorecam", "--batch-size", "3", "--save-maps"})).status, 0);
    // Per image: 1 forward for every layer, then per layer (2) ⌈4 channels / 3⌉ = 2 masked forwards
    // that score both targets: 1 + 4. Separate explain calls: gradcam and hirescam one forward and
    // backward each per target × layer (8), Score-CAM a forward per target × layer plus its masked
    // ones (4 + 8).
    const std::string summary = slurp(path("out/summary.json"));
    EXPECT_NE(summary.find("\"passes\": {\"forward\": 15, \"backward\": 6, \"separate_explain_forward\": 60, "
                           "\"separate_explain_backward\": 24}"),
              std::string::npos)
        << summary;
    // Both targets' maps, scored on the same masked forwards, are what separate calls give.
    for (const std::string stem : {"a", "c"})
        for (const std::string layer : {"enc", "enc.0"})
            for (const std::string cls : {"0", "1"}) {
                ASSERT_EQ(run({"explain", "--model", model_path, "--layer", layer, "--input", path("images/" + stem + ".png"), "--method",
                               "scorecam", "--batch-size", "3", "--target", "predicted", "--class", cls, "--out", path("explained.npy")})
                              .status,
                          0);
                const auto expected = camkit::io::read_npy<float>(path("explained.npy"));
                const auto got = camkit::io::read_npy<float>(path("out/maps/" + stem + "/predicted" + cls + "__scorecam__" + layer + ".npy"));
                ASSERT_EQ(got.size(), expected.size());
                double total = 0;
                for (std::size_t i = 0; i < got.size(); ++i)
                    ASSERT_NEAR(got[i], expected[i], 1e-6) << stem << " " << layer << " class " << cls << " " << i;
                for (float v : got.values) total += v;
                EXPECT_GT(total, 0.0) << stem << " " << layer << " class " << cls;
            }
}

TEST_F(CamkitTorchAnalyze, InputsNpyClassifierTopKAndRefinedMaps) {
    const std::string tool_data = std::string(CAMKIT_TEST_DATA_DIR) + "/torch_tool/";
    // A classifier on a .npy batch [2, 3, 8, 8]: each sample's two best classes, no region metrics.
    auto r = run({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("clf"),
                  "--layer", "features.2", "--method", "gradcam", "--top-k", "2", "--save-maps"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto rows = csv(path("clf/metrics.csv"));
    ASSERT_EQ(rows.size(), 1u + 2 * 2);
    for (std::size_t k = 1; k < rows.size(); ++k) {
        const auto& row = rows[k];
        EXPECT_EQ(row[1], "predicted" + row[2]);
        for (std::size_t c = 7; c < row.size(); ++c) EXPECT_EQ(row[c], "") << "a classifier has no regions";
        const std::size_t n = row[0] == "sample00000" ? 0 : 1;
        ASSERT_EQ(run({"explain", "--model", tool_data + "classifier.pt", "--layer", "features.2", "--input", tool_data + "x.npy",
                       "--target", "class", "--class", row[2], "--out", path("explained.npy")})
                      .status,
                  0);
        const auto expected = camkit::io::read_npy<float>(path("explained.npy"));
        const auto got = camkit::io::read_npy<float>(path("clf/maps/" + row[0] + "/" + row[1] + "__gradcam__features.2.npy"));
        ASSERT_EQ(got.shape, (camkit::shape_t{8, 8}));
        for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[n * 64 + i], 1e-6) << row[0] << " " << row[1];
    }
    EXPECT_NE(rows[1][2], rows[2][2]) << "top-2 gives two different classes";
    // A layer after the global pooling: one position per channel is warned of (constant maps), no
    // spatial axes is refused before any work, as explain does.
    r = run({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("pool"),
             "--layer", "pool", "--method", "gradcam"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("camkit-torch: warning: layer pool has one position per channel (output [1, 5, 1, 1]): every map "
                         "is constant"),
              std::string::npos)
        << r.err;
    expect_bad_input({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("fc"),
                      "--layer", "fc", "--method", "gradcam"},
                     "layer fc's output [1, 3] has no spatial axes: a class-activation map needs a layer of shape [N, K, *S]");
    // --skip-class of sample 0's top class: its target is left out, not replaced by the runner-up.
    const std::string top0 = rows[1][2];
    r = run({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("skip"),
             "--layer", "features.2", "--method", "gradcam", "--skip-class", top0});
    ASSERT_EQ(r.status, 0) << r.err;
    for (const auto& row : csv(path("skip/metrics.csv"))) {
        if (row[0] == "image") continue;
        EXPECT_NE(row[2], top0);
        EXPECT_NE(row[0], "sample00000") << "sample 0's one predicted class is skipped";
    }

    // --layer auto: the classifier's last spatial stage (features), chosen on the first sample; its
    // rows and maps are that layer's.
    r = run({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("auto"),
             "--layer", "auto", "--method", "gradcam", "--top-k", "1", "--save-maps"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto auto_rows = csv(path("auto/metrics.csv"));
    ASSERT_EQ(auto_rows.size(), 1u + 2);
    for (std::size_t k = 1; k < auto_rows.size(); ++k) EXPECT_EQ(auto_rows[k][4], "features");
    EXPECT_NE(r.out.find("camkit-torch analyze: 2 images, 1 method x 1 layer -> "), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(path("auto/maps/sample00000/" + auto_rows[1][1] + "__gradcam__features.npy")));

    // --refine: enc.0's map refined by enc's (the first layer), beside the maps; the class-0 maps
    // are all zero (a constant map has no refinement) and are left out with a note.
    draw_three();
    r = run(args({"--method", "xgradcam", "--refine", "--save-maps"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("no refined map predicted0__gradcam__enc.0"), std::string::npos) << r.err;
    std::size_t refined = 0;
    for (const std::string stem : {"a", "b", "c"})
        for (const std::string method : {"gradcam", "hirescam", "xgradcam"}) {
            const std::string base = path("out/maps/" + stem + "/predicted1__" + method);
            const auto expected = camkit::refine(camkit::io::read_npy<float>(base + "__enc.0.npy"),
                                                 camkit::io::read_npy<float>(base + "__enc.npy"))
                                      .merged;
            const auto got = camkit::io::read_npy<float>(base + "__enc.0__refined.npy");
            ASSERT_EQ(got.shape, expected.shape);
            for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-6) << base;
            ++refined;
        }
    EXPECT_FALSE(fs::exists(path("out/maps/a/predicted1__gradcam__enc__refined.npy"))) << "the first layer is not refined";
    EXPECT_GE(refined, 1u);
}

TEST_F(CamkitTorchAnalyze, VolumesFromNpyWithGroundTruth) {
    // tests/data/analyze: a 3-D segmenter and two volumes [2, 1, 4, 8, 8] with class indices (make_volume.py).
    const std::string d = std::string(CAMKIT_TEST_DATA_DIR) + "/analyze/";
    const auto r = run({"analyze", "--model", d + "volume.pt", "--inputs", d + "x.npy", "--gt", d + "y.npy", "--out", path("out"),
                        "--layer", "enc", "--layer", "enc.0", "--method", "gradcam", "--save-maps"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto rows = csv(path("out/metrics.csv"));
    ASSERT_GE(rows.size(), 1u + 2 * 2);
    std::size_t checked = 0;
    for (std::size_t k = 1; k < rows.size(); ++k) {
        const auto& row = rows[k];
        EXPECT_NE(row[11], "") << "a ground truth gives iou_gt";
        EXPECT_NE(row[13], "") << "and the model's Dice";
        const std::size_t n = row[0] == "sample00000" ? 0 : 1;
        ASSERT_EQ(run({"explain", "--model", d + "volume.pt", "--layer", row[4], "--input", d + "x.npy", "--target", "predicted",
                       "--class", row[2], "--out", path("explained.npy")})
                      .status,
                  0);
        const auto expected = camkit::io::read_npy<float>(path("explained.npy"));
        const auto got = camkit::io::read_npy<float>(path("out/maps/" + row[0] + "/" + row[1] + "__gradcam__" + row[4] + ".npy"));
        ASSERT_EQ(got.shape, (camkit::shape_t{4, 8, 8}));
        for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[n * 256 + i], 1e-6) << row[0] << " " << row[1];
        ++checked;
    }
    EXPECT_EQ(checked, rows.size() - 1);
    EXPECT_TRUE(fs::is_regular_file(path("out/panels/sample00001.png")));
    // --at on a volume is Y,X,Z: a position off the output names the axis in the output's own order.
    expect_bad_input({"explain", "--model", d + "volume.pt", "--layer", "enc", "--input", d + "x.npy", "--target", "point",
                      "--class", "1", "--at", "1,2,4", "--out", path("at.npy")},
                     "--at [1, 2, 4] lies outside the model output's spatial shape [4, 8, 8] (--at is Y,X,Z: the position "
                     "[4, 1, 2] in the output's order [D, H, W]): Z (depth, the first axis) = 4 but that axis has 4 positions "
                     "(0 to 3)");
}

TEST_F(CamkitTorchAnalyze, ExplainPngDrawsAnNpyVolumeUnderItsMaps) {
    // explain --png of a .npy volume: each sample's map over its input's channel 0, min-max scaled
    // to gray per sample, slice by slice in the grid (camkit::overlay_slices), samples 2 pixels
    // apart; maps resized away from the input's size are drawn alone.
    const std::string d = std::string(CAMKIT_TEST_DATA_DIR) + "/analyze/";
    const std::vector<std::string> args{"explain", "--model", d + "volume.pt", "--layer", "enc", "--input", d + "x.npy",
                                        "--target", "predicted", "--class", "1", "--out", path("m.npy"), "--png", path("m.png")};
    const auto r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto maps = camkit::io::read_npy<float>(path("m.npy"));
    const auto x = camkit::io::read_npy<float>(d + "x.npy");
    ASSERT_EQ(maps.shape, (camkit::shape_t{2, 4, 8, 8}));
    ASSERT_EQ(x.shape, (camkit::shape_t{2, 1, 4, 8, 8}));
    const camkit::rgb_image png = camkit::io::read_image(path("m.png"));
    ASSERT_EQ(png.height, 17u);  // 2×2 grids of 8×8 slices with 1-pixel lines, side by side 2 apart
    ASSERT_EQ(png.width, 2u * 17 + 2);
    for (std::size_t n = 0; n < 2; ++n) {
        const auto first = x.values.begin() + static_cast<std::ptrdiff_t>(n * 256);
        const auto [lo, hi] = std::minmax_element(first, first + 256);
        ASSERT_LT(*lo, *hi);
        camkit::tensor<float> gray({4, 8, 8}), map({4, 8, 8});
        for (std::size_t i = 0; i < 256; ++i) {
            gray.values[i] = (x.values[n * 256 + i] - *lo) / (*hi - *lo);
            map.values[i] = maps.values[n * 256 + i];
        }
        const camkit::rgb_image want = camkit::overlay_slices(map, gray);
        const camkit::rgb_image heat = camkit::slice_grid(map);
        std::size_t differs_from_heat = 0;
        for (std::size_t y = 0; y < 17; ++y)
            for (std::size_t xx = 0; xx < 17; ++xx) {
                EXPECT_EQ(png.at(y, n * 19 + xx), want.at(y, xx)) << "sample " << n << " at " << y << "," << xx;
                differs_from_heat += png.at(y, n * 19 + xx) != heat.at(y, xx);
            }
        EXPECT_GT(differs_from_heat, 100u) << "the input shows under the map";
    }
    // A picture too large for a PNG is refused before the model runs: 1 000 signals drawn as strips
    // 16 pixels high and 65 536 wide (2^26 values, within the maps' limit) would be 3 GB of pixels.
    camkit::io::write_npy(path("signals.npy"), camkit::tensor<float>({1000, 1, 64}, 0.5f));
    expect_bad_input({"explain", "--model", d + "signal.pt", "--layer", "enc", "--input", path("signals.npy"), "--class", "1",
                      "--size", "65536", "--out", path("s.npy"), "--png", path("s.png")},
                     "--png: the picture of the maps [1000, 65536] would be 16x65537998 pixels, too large for a PNG");
    // --size other than the input's: heatmaps alone.
    auto resized = args;
    resized.insert(resized.end(), {"--size", "4x4x4"});
    ASSERT_EQ(run(resized).status, 0);
    const auto small = camkit::io::read_npy<float>(path("m.npy"));
    const camkit::rgb_image alone = camkit::io::read_image(path("m.png"));
    const camkit::tensor<float> first({4, 4, 4}, std::vector<float>(small.values.begin(), small.values.begin() + 64));
    const camkit::rgb_image heat = camkit::slice_grid(first);
    ASSERT_EQ(alone.height, heat.height);
    for (std::size_t y = 0; y < heat.height; ++y)
        for (std::size_t xx = 0; xx < heat.width; ++xx) EXPECT_EQ(alone.at(y, xx), heat.at(y, xx)) << y << "," << xx;
}

TEST_F(CamkitTorchAnalyze, SignalsFromNpyOneSpatialAxis) {
    // tests/data/analyze: a fixed-weight 1-D segmenter (class 1 where the 5-point box mean exceeds
    // 0.5) and two signals [2, 1, 64] with a bump each, at 20 and at 44 (make_signal.py).
    const std::string d = std::string(CAMKIT_TEST_DATA_DIR) + "/analyze/";
    const auto analyze = [&](const std::vector<std::string>& extra) {
        fs::remove_all(path("out"));
        std::vector<std::string> a{"analyze", "--model", d + "signal.pt", "--inputs", d + "signal_x.npy", "--gt", d + "signal_y.npy",
                                   "--out", path("out"), "--layer", "enc", "--layer", "enc.0", "--method", "gradcam", "--save-maps"};
        a.insert(a.end(), extra.begin(), extra.end());
        const auto r = run(a);
        EXPECT_EQ(r.status, 0) << r.err;
        return csv(path("out/metrics.csv"));
    };
    // Each row's map [64] equals explain's map of that sample for the same target (one explain
    // call per class and layer serves both samples).
    const auto expect_explain_maps = [&](const std::vector<std::vector<std::string>>& rows, const std::vector<std::string>& target) {
        std::map<std::string, camkit::tensor<float>> explained;  // by class and layer
        for (std::size_t k = 1; k < rows.size(); ++k) {
            const auto& row = rows[k];
            auto [at, fresh] = explained.try_emplace(row[2] + "/" + row[4]);
            if (fresh) {
                std::vector<std::string> e{"explain", "--model", d + "signal.pt", "--layer", row[4], "--input", d + "signal_x.npy",
                                           "--class", row[2], "--out", path("explained.npy")};
                e.insert(e.end(), target.begin(), target.end());
                ASSERT_EQ(run(e).status, 0) << row[1];
                at->second = camkit::io::read_npy<float>(path("explained.npy"));
            }
            const camkit::tensor<float>& expected = at->second;
            const auto got = camkit::io::read_npy<float>(path("out/maps/" + row[0] + "/" + row[1] + "__gradcam__" + row[4] + ".npy"));
            ASSERT_EQ(got.shape, (camkit::shape_t{64}));
            ASSERT_EQ(expected.shape, (camkit::shape_t{2, 64}));
            const std::size_t n = row[0] == "sample00000" ? 0 : 1;
            for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[n * 64 + i], 1e-6) << row[0] << " " << row[1];
        }
    };

    auto rows = analyze({});
    ASSERT_EQ(rows.size(), 1u + 2 * 2 * 2) << "both classes predicted in both signals, two layers";
    for (std::size_t k = 1; k < rows.size(); ++k) {
        EXPECT_EQ(rows[k][1], "predicted" + rows[k][2]);
        EXPECT_NE(rows[k][11], "") << "the ground truth gives iou_gt";
        if (rows[k][2] == "1") {
            EXPECT_NEAR(cell(rows[k][12]), 1.0, 1e-9) << "the prediction is the truth";
        }
    }
    expect_explain_maps(rows, {"--target", "predicted"});
    // The panel shows each signal as a strip of 16 equal rows, enlarged to cells of at least 96 pixels.
    const camkit::rgb_image panel = camkit::io::read_image(path("out/panels/sample00000.png"));
    EXPECT_GE(panel.height, 3u * 96) << "an input row and two target rows";
    EXPECT_GE(panel.width, 3u * 64 * 6) << "the region column and two maps (one method, two layers)";

    // component-at without :C at position 20: the bump of signal 0 (class 1), the background of signal 1.
    rows = analyze({"--target", "component-at", "--at", "20"});
    ASSERT_EQ(rows.size(), 1u + 2 * 2);
    for (std::size_t k = 1; k < rows.size(); ++k)
        EXPECT_EQ(rows[k][1], rows[k][0] == "sample00000" ? "component1" : "component0") << camkit_analyze::csv_line(rows[k]);
    expect_explain_maps(rows, {"--target", "component-at", "--at", "20"});

    rows = analyze({"--target", "largest-component:1"});
    ASSERT_EQ(rows.size(), 1u + 2 * 2);
    for (std::size_t k = 1; k < rows.size(); ++k) EXPECT_EQ(rows[k][1], "largest1");
    expect_explain_maps(rows, {"--target", "largest-component"});
}

TEST_F(CamkitTorchAnalyze, ResumesWithoutRecomputingFinishedImages) {
    draw_three();
    ASSERT_EQ(run(args()).status, 0);
    // A finished image is not redone: its panel stays as we overwrite it; a missing record is redone.
    write_text(path("out/panels/a.png"), "kept");
    fs::remove(path("out/records/b.csv"));
    const std::string before_c = slurp(path("out/records/c.csv"));
    const auto r = run(args());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(slurp(path("out/panels/a.png")), "kept");
    EXPECT_TRUE(fs::is_regular_file(path("out/records/b.csv")));
    EXPECT_EQ(slurp(path("out/records/c.csv")), before_c);
    EXPECT_EQ(csv(path("out/metrics.csv")).size(), 1u + 3 * 8) << "the data set's files come from every record";
    EXPECT_NE(r.err.find("analyze: 1/1 b done"), std::string::npos) << "one image to do: " << r.err;
    // Other options on the same --out: refused before any work.
    expect_bad_input(args({"--target", "gt"}), "holds a run with other options");
}

TEST_F(CamkitTorchAnalyze, ProgressIsABarWithEtaOnATerminalAndPlainLinesOtherwise) {
    draw_three();
    // Not a terminal (the fixture's stderr is a file): one line per image.
    auto r = run(args());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("analyze: 1/3 a done (elapsed "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("analyze: 3/3 c done (elapsed "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos);
    // A terminal (util-linux's script gives the tool a pseudo-terminal): the bar is redrawn in place.
    std::vector<std::string> again = args();
    std::replace(again.begin(), again.end(), path("out"), path("out2"));
    const std::string shown = run_on_terminal(again);
    EXPECT_NE(shown.find("\ranalyze [##########....................] 1/3  elapsed "), std::string::npos) << shown;
    EXPECT_NE(shown.find("\ranalyze [##############################] 3/3  elapsed "), std::string::npos) << shown;
    EXPECT_NE(shown.find("ETA "), std::string::npos);
    EXPECT_EQ(shown.find("analyze: 1/3 a done"), std::string::npos) << "no plain lines on a terminal";
}

TEST_F(CamkitTorchAnalyze, BadInputBeforeWorkIsOneLineAndExitTwo) {
    draw_three();
    fs::create_directories(path("empty"));
    write_text(path("model.pt"), "not a model");
    std::vector<std::string> empty = args();
    empty[4] = path("empty");
    empty.erase(empty.begin() + 5, empty.begin() + 7);  // no --masks
    expect_bad_input(empty, "holds no PNG or JPEG image");
    expect_bad_input(args({"--layer", "nope"}), "unknown layer 'nope'; valid layers:");
    // This segmenter's auto is its head; named twice after auto is resolved is an error.
    expect_bad_input(args({"--layer", "head", "--layer", "auto"}), "--layer auto chose head, which another --layer names");
    expect_bad_input(args({"--method", "nope"}), "unknown method 'nope'");
    expect_bad_input(args({"--target", "class:2"}), "class 2 is out of range: the model output [1, 2, 20, 24] has 2 classes");
    std::vector<std::string> bad_model = args();
    bad_model[2] = path("model.pt");
    expect_bad_input(bad_model, "not a TorchScript model");
    expect_bad_input(args({"--mean", "0.5,0.5", "--std", "0.2,0.2"}), "--mean and --std need 3 values (one per input channel), got 2");
    expect_bad_input(args({"--target", "nope"}), "--target must be predicted, gt, all-classes");
    expect_bad_input(args({"--target", "gt", "--target", "nope"}), "got 'nope'");
    expect_bad_input(args({"--target", "gt", "--target", "gt"}), "--target gt is given twice");
    expect_bad_input(args({"--target", "gt", "--target", "point"}), "--target point needs --at Y,X[,Z]");
    expect_bad_input(args({"--target", "gt", "--target", "all-classes", "--at", "5,5"}),
                     "--at goes with --target component-at[:C] or point[:C], not gt, all-classes");
    expect_bad_input(args({"--target", "gt", "--target", "class:2"}), "--target class:2: class 2 is out of range");
    expect_bad_input(args({"--skip-class", "0", "--target", "gt", "--target", "point:1", "--at", "5,5"}),
                     "--skip-class goes with --target predicted, gt, all-classes, largest-component or smallest-component "
                     "(without :C), not point:1");
    // component-at and point: --at given, well formed and on the output (checked on the first image's).
    expect_bad_input(args({"--target", "component-at"}), "--target component-at needs --at Y,X[,Z]");
    expect_bad_input(args({"--at", "5,5"}), "--at goes with --target component-at[:C] or point[:C], not predicted");
    expect_bad_input(args({"--target", "point", "--at", "5,5,1,1"}), "--at must be X, Y,X or Y,X,Z, got '5,5,1,1'");
    expect_bad_input(args({"--target", "point", "--at", "5"}), "--at has 1 coordinate but the model output [1, 2, 20, 24] has 2");
    expect_bad_input(args({"--target", "point", "--at", "5,5,1"}),
                     "--at has 3 coordinates but the model output [1, 2, 20, 24] has 2 spatial axes");
    expect_bad_input(args({"--target", "point", "--at", "20,5"}), "--at [20, 5] lies outside the model output's spatial shape [20, 24]: Y (row) = 20 but that axis has 20 "
                     "positions (0 to 19)");
    expect_bad_input(args({"--target", "component-at:2", "--at", "5,5"}), "class 2 is out of range");
    expect_bad_input({"analyze", "--model", model_path, "--images", path("images"), "--out", path("out"), "--layer", "enc",
                      "--method", "gradcam", "--refine"},
                     "--refine needs two layers or more");
    expect_bad_input(args({"--method", "gradcam"}), "--method gradcam is given twice");
    expect_bad_input(args({"--skip-class", "2"}), "--skip-class: class 2 is out of range: the model output [1, 2, 20, 24] has 2 classes");
    expect_bad_input(args({"--skip-class", "1,1"}), "--skip-class 1,1 names a class twice");
    expect_bad_input(args({"--skip-class", "one"}), "--skip-class must be an integer >= 0, got 'one'");
    expect_bad_input(args({"--skip-class", "0", "--target", "class:1"}),
                     "--skip-class goes with --target predicted, gt, all-classes, largest-component or smallest-component "
                     "(without :C), not class:1");
    expect_bad_input(args({"--class-names", "a,b,c"}), "--class-names gives 3 names but the model output [1, 2, 20, 24] has 2 classes");
    expect_bad_input(args({"--class-names", "a,"}), "--class-names a, has an empty name");
    expect_bad_input(args({"--gray"}), "the model failed on " + path("images/a.png") + " [1, 1, ");
    // --out under a regular file: one line before any work (it was "internal error", exit 1, from
    // the filesystem library after the first image's forward).
    std::vector<std::string> under_file = args();
    under_file[8] = path("model.pt") + "/sub";
    expect_bad_input(under_file, "--out " + path("model.pt") + "/sub: '" + path("model.pt") + "' is not a folder");
    under_file[8] = path("model.pt");
    expect_bad_input(under_file, "--out " + path("model.pt") + " exists and is not a folder");
    // --refine's first layer must be the finest: the classifier's pooled layer (1 position) before
    // its 4×4 features is refused before any work.
    const std::string tool_data = std::string(CAMKIT_TEST_DATA_DIR) + "/torch_tool/";
    expect_bad_input({"analyze", "--model", tool_data + "classifier.pt", "--inputs", tool_data + "x.npy", "--out", path("out"),
                      "--layer", "pool", "--layer", "features.2", "--method", "gradcam", "--refine"},
                     "--refine takes the first --layer as the high-resolution one, but pool's maps have 1 position(s) and "
                     "features.2's 16: give the finest layer first");
    // A binary mask saved as 0/255: found on the first image, before any work, with the likely cause.
    camkit::rgb_image mask255(20, 24);
    mask255.set(4, 4, {255, 255, 255});
    camkit::io::write_png(path("masks/a.png"), mask255);
    expect_bad_input(args(), "the ground truth of " + path("images/a.png") +
                                 " holds class 255 but the model has 2 classes (0 to 1); a binary mask saved as 0/255? "
                                 "masks hold class indices: 0 and 1");
    draw_three();
    fs::remove(path("masks/b.png"));
    expect_bad_input(args(), "has no mask b.png for image b.png");
}

TEST_F(CamkitTorchAnalyze, BadFileMidRunIsNamedTheRestFinishedAndTheReportWritten) {
    draw_three();
    write_text(path("images/b2.png"), "\x89PNG\r\n\x1a\n broken");
    camkit::io::write_png(path("masks/b2.png"), camkit::rgb_image(20, 24));
    draw("c", {{2, 12, 4, 4}}, 10, 10);  // image c 10×10 ...
    camkit::io::write_png(path("masks/c.png"), camkit::rgb_image(20, 24));  // ... with a 20×24 mask
    const auto r = run(args());
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("b2.png"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("c.png: mask of size 20x24 for image c.png of size 10x10"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("camkit-torch: 2 of 4 inputs failed"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::is_regular_file(path("out/records/a.csv")));
    EXPECT_TRUE(fs::is_regular_file(path("out/records/b.csv")));
    EXPECT_FALSE(fs::exists(path("out/records/b2.csv")));
    EXPECT_FALSE(fs::exists(path("out/records/c.csv")));
    EXPECT_EQ(csv(path("out/metrics.csv")).size(), 1u + 2 * 8);
    const std::string report = slurp(path("out/report.html"));
    EXPECT_NE(report.find("Files that failed"), std::string::npos);
    EXPECT_NE(report.find("b2.png"), std::string::npos);
    EXPECT_NE(slurp(path("out/summary.json")).find("b2.png"), std::string::npos);
}

TEST_F(CamkitTorchAnalyze, InterruptStopsAfterTheCurrentImageAndLeavesNoPartialFile) {
    for (int i = 0; i < 60; ++i) draw("img" + std::to_string(1000 + i), {{3, 3, 6, 6}, {12, 14, 5, 5}}, 32, 32);
    const std::vector<std::string> a = args({"--method", "gradcam++", "--method", "xgradcam", "--save-maps"});
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::vector<char*> argv{const_cast<char*>(tool_path)};
        for (const auto& s : a) argv.push_back(const_cast<char*>(s.c_str()));
        argv.push_back(nullptr);
        const std::string log = path("interrupt.log");
        freopen(log.c_str(), "w", stderr);
        freopen("/dev/null", "w", stdout);
        execv(tool_path, argv.data());
        _exit(127);
    }
    // Wait for the first finished image, then interrupt.
    const auto start = std::chrono::steady_clock::now();
    while (!fs::exists(path("out/records/img1000.csv")) && std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    std::size_t records = 0, staging = 0;
    for (const auto& e : fs::recursive_directory_iterator(path("out"))) {
        const std::string name = e.path().filename().string();
        if (name.starts_with(".camkit-")) ++staging;
        if (e.path().parent_path().filename() == "records") {
            ++records;
            EXPECT_TRUE(camkit_analyze::read_record(e.path().string(), e.path().stem().string())) << "partial record " << name;
        }
    }
    EXPECT_EQ(staging, 0u);
    EXPECT_GE(records, 1u);
    EXPECT_LT(records, 60u) << "the run was not interrupted";
    EXPECT_EQ(csv(path("out/metrics.csv")).size(), 1 + records * 16) << "the report covers the finished images";
    // The next run finishes the rest.
    const auto r = run(args({"--method", "gradcam++", "--method", "xgradcam", "--save-maps"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(csv(path("out/metrics.csv")).size(), 1u + 60 * 16);
}

TEST_F(CamkitTorchAnalyze, ReportLoadsInHeadlessChromiumWithEveryPicture) {
    // CI must not shrink silently: without Chromium this test fails (scripts/setup.sh installs it).
    ASSERT_EQ(std::system("command -v chromium >/dev/null 2>&1"), 0)
        << "chromium is not installed (Debian package 'chromium', in scripts/setup.sh)";
    draw_three();
    ASSERT_EQ(run(args()).status, 0);
    const std::string page = "file://" + fs::absolute(path("out/report.html")).string();
    const std::string flags = "--headless --no-sandbox --disable-gpu --allow-file-access-from-files ";
    const std::string dom = path("dom.html"), shot = path("shot.png");
    ASSERT_EQ(std::system(("timeout 120 chromium " + flags + "--dump-dom " + camkit_test::shell_quote(page) + " >" +
                           camkit_test::shell_quote(dom) + " 2>/dev/null")
                              .c_str()),
              0);
    const std::string loaded = slurp(dom);
    EXPECT_NE(loaded.find("data-images=\"3/3\""), std::string::npos) << "a picture did not load: " << loaded.substr(0, 300);
    EXPECT_NE(loaded.find("id=\"summary-table\""), std::string::npos);
    EXPECT_NE(loaded.find("Most focused: <b>hirescam</b>"), std::string::npos);
    ASSERT_EQ(std::system(("timeout 120 chromium " + flags + "--window-size=1200,1400 --screenshot=" +
                           camkit_test::shell_quote(shot) + " " + camkit_test::shell_quote(page) + " >/dev/null 2>&1")
                              .c_str()),
              0);
    const camkit::rgb_image s = camkit::io::read_image(shot);
    EXPECT_EQ(s.width, 1200u);
    EXPECT_EQ(s.height, 1400u);
    // A broken picture would also show in the page: check the negative case too.
    fs::remove(path("out/panels/b.png"));
    ASSERT_EQ(std::system(("timeout 120 chromium " + flags + "--dump-dom " + camkit_test::shell_quote(page) + " >" +
                           camkit_test::shell_quote(dom) + " 2>/dev/null")
                              .c_str()),
              0);
    EXPECT_NE(slurp(dom).find("data-images=\"2/3\""), std::string::npos);
}

}  // namespace
