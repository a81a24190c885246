// The camkit-torch tool, run as a program on the tiny TorchScript models of tests/data/torch_tool
// (made by make_models.py there, which also computes the expected maps with PyTorch autograd and
// the formulas of SPEC.md written out). Checks the maps numerically and every error path's exit
// status 2, its one line on stderr and that no output file appears.
#include <camkit/xtensor/image.hpp>
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>

#include <xtensor/xarray.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

const std::string data = std::string(CAMKIT_TEST_DATA_DIR) + "/torch_tool/";

struct result {
    int status = -1;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

class CamkitTorchTool : public ::testing::Test {
protected:
    void SetUp() override {
#ifndef CAMKIT_TORCH_TOOL
        GTEST_SKIP() << "the camkit-torch tool is not built (CAMKIT_BUILD_EXAMPLES=OFF)";
#endif
        dir_ = fs::temp_directory_path() /
               ("camkit_torch_tool_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path path(const std::string& name) const { return dir_ / name; }

    /// Runs the tool with `args` (already quoted where needed).
    result run(const std::string& args) const {
        result r;
#ifdef CAMKIT_TORCH_TOOL
        const fs::path out = path("stdout.txt"), err = path("stderr.txt");
        const std::string cmd = std::string("'") + CAMKIT_TORCH_TOOL + "' " + args + " >'" + out.string() + "' 2>'" +
                                err.string() + "'";
        const int raw = std::system(cmd.c_str());
        r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
#else
        (void)args;
#endif
        return r;
    }

    /// Runs a command that must fail with bad input: exit 2, one stderr line, no output file.
    std::string expect_bad_input(const std::string& args) const {
        const fs::path out = path("map.npy");
        const result r = run(args + " --out '" + out.string() + "'");
        EXPECT_EQ(r.status, 2) << args << "\nstderr: " << r.err;
        EXPECT_TRUE(r.err.starts_with("camkit-torch: ")) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_FALSE(fs::exists(out)) << args;
        for (const auto& e : fs::directory_iterator(dir_))
            EXPECT_EQ(e.path().filename().string().find("staging"), std::string::npos) << e.path();
        return r.err;
    }

    /// Runs `args --out map.npy` successfully and returns the map.
    xt::xarray<float> explain(const std::string& args) const {
        const fs::path out = path("map.npy");
        fs::remove(out);
        const result r = run("explain " + args + " --out '" + out.string() + "'");
        EXPECT_EQ(r.status, 0) << args << "\nstderr: " << r.err;
        for (const auto& e : fs::directory_iterator(dir_))
            EXPECT_EQ(e.path().filename().string().find("staging"), std::string::npos) << e.path();
        if (r.status != 0) return {};
        return camkit::xtensor::load_npy<float>(out.string());
    }

    fs::path dir_;
};

void expect_maps_near(const xt::xarray<float>& got, const std::string& expected_file, double tol = 1e-4) {
    const xt::xarray<float> want = camkit::xtensor::load_npy<float>(data + expected_file);
    ASSERT_EQ(std::vector<std::size_t>(got.shape().begin(), got.shape().end()),
              std::vector<std::size_t>(want.shape().begin(), want.shape().end()))
        << expected_file;
    for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got.data()[i], want.data()[i], tol) << expected_file << " at flat index " << i;
}

std::string model(const char* name) { return "--model '" + data + name + "'"; }
std::string input(const char* name) { return "--input '" + data + name + "'"; }

}  // namespace

TEST_F(CamkitTorchTool, LayersListsDottedNames) {
    const result r = run("layers " + model("classifier.pt"));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "features\nfeatures.0\nfeatures.1\nfeatures.2\npool\nfc\n");
}

TEST_F(CamkitTorchTool, GradCamOfAClassAtANestedLayer) {
    expect_maps_near(explain(model("classifier.pt") + " --layer features.2 " + input("x.npy") + " --class 1"),
                     "expected_gradcam_class1.npy");
    expect_maps_near(
        explain(model("classifier.pt") + " --layer features.2 " + input("x.npy") + " --class 1 --renormalize"),
        "expected_gradcam_class1_renorm.npy");
}

TEST_F(CamkitTorchTool, HiResCamOfThePredictedClassBeforeAnInPlaceRelu) {
    expect_maps_near(explain(model("classifier.pt") + " --layer features.0 " + input("x.npy") +
                             " --method hirescam --target predicted --size 4x4"),
                     "expected_hirescam_predicted.npy");
}

TEST_F(CamkitTorchTool, ScoreCam) {
    expect_maps_near(explain(model("classifier.pt") + " --layer features.2 " + input("x.npy") +
                             " --class 2 --method scorecam --batch-size 3"),
                     "expected_scorecam_class2.npy");
}

TEST_F(CamkitTorchTool, EveryMethodGivesANormalizedMapOfTheInputSize) {
    const result list = run("methods");
    ASSERT_EQ(list.status, 0) << list.err;
    std::istringstream lines(list.out);
    std::string line;
    int methods = 0;
    while (std::getline(lines, line)) {
        const std::string name = line.substr(0, line.find(' '));
        const xt::xarray<float> map =
            explain(model("classifier.pt") + " --layer features.2 " + input("x.npy") + " --class 1 --method " + name);
        ASSERT_EQ(map.dimension(), 3u) << name;
        EXPECT_EQ(map.shape()[0], 2u);
        EXPECT_EQ(map.shape()[1], 8u);
        EXPECT_EQ(map.shape()[2], 8u);
        float lo = 1, hi = 0;
        for (float v : map) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        EXPECT_GE(lo, 0.0f) << name;
        EXPECT_LE(hi, 1.0f) << name;
        EXPECT_GT(hi, 0.5f) << name;  // min-max normalized, resized bilinearly from 4×4
        ++methods;
    }
    EXPECT_EQ(methods, 10);  // the nine registered methods and scorecam
}

TEST_F(CamkitTorchTool, ImageInputAndPngOutput) {
    const fs::path png = path("map.png");
    expect_maps_near(explain(model("classifier.pt") + " --layer features.2 " + input("input.png") +
                             " --class 0 --png '" + png.string() + "'"),
                     "expected_png_gradcam_class0.npy");
    const camkit::rgb_image img = camkit::xtensor::read_image(png.string());
    EXPECT_EQ(img.height, 8u);
    EXPECT_EQ(img.width, 8u);
}

TEST_F(CamkitTorchTool, SegmentationTargets) {
    const std::string seg = model("segmenter.pt") + " --layer enc.0 " + input("xs.npy");
    expect_maps_near(explain(seg + " --class 1 --mask '" + data + "mask.npy'"), "expected_seg_masksum_class1.npy");
    // The mean over the mask differs from the sum by a constant factor: equal after min-max.
    expect_maps_near(explain(seg + " --class 1 --target mask-mean --mask '" + data + "mask.png'"),
                     "expected_seg_masksum_class1.npy");
    expect_maps_near(explain(seg + " --class 0 --target whole-image"), "expected_seg_whole_class0.npy");
    expect_maps_near(explain(seg + " --class 1 --target predicted --method hirescam"),
                     "expected_seg_predicted_class1.npy");
}

TEST_F(CamkitTorchTool, DeviceCudaIsCudaOrAClearError) {
    const std::string args = model("classifier.pt") + " --layer features.2 " + input("x.npy") + " --class 1";
    const fs::path out = path("map.npy");
    const result r = run("explain " + args + " --device cuda --out '" + out.string() + "'");
    if (r.status == 0) {  // a CUDA machine: the same maps as on the CPU
        expect_maps_near(camkit::xtensor::load_npy<float>(out.string()), "expected_gradcam_class1.npy", 1e-3);
    } else {
        EXPECT_EQ(r.status, 2);
        EXPECT_TRUE(r.err.starts_with("camkit-torch: --device cuda: ")) << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
}

TEST_F(CamkitTorchTool, BadInputExitsTwoWithOneLineAndNoFile) {
    const std::string clf = model("classifier.pt") + " --layer features.2 ";
    EXPECT_NE(expect_bad_input("explain --model '" + path("missing.pt").string() + "' --layer a " + input("x.npy"))
                  .find("no such model file"),
              std::string::npos);
    {
        std::ofstream(path("junk.pt")) << "not a model\n";
        EXPECT_NE(expect_bad_input("explain --model '" + path("junk.pt").string() + "' --layer a " + input("x.npy"))
                      .find("not a TorchScript model"),
                  std::string::npos);
    }
    const std::string unknown = expect_bad_input("explain " + model("classifier.pt") + " --layer features.9 " + input("x.npy") + " --class 0");
    EXPECT_NE(unknown.find("unknown layer 'features.9'"), std::string::npos) << unknown;
    EXPECT_NE(unknown.find("features.2"), std::string::npos) << unknown;

    // Input of the wrong rank, and of the wrong channel count for the model.
    camkit::xtensor::save_npy(path("flat.npy").string(), xt::xarray<float>::from_shape({3, 8}));
    EXPECT_NE(expect_bad_input("explain " + clf + "--input '" + path("flat.npy").string() + "' --class 0")
                  .find("input must be [N, C, L], [N, C, H, W] or [N, C, D, H, W], got shape [3, 8]"),
              std::string::npos);
    camkit::xtensor::save_npy(path("two_channels.npy").string(), xt::xarray<float>::from_shape({1, 2, 8, 8}));
    EXPECT_NE(expect_bad_input("explain " + clf + "--input '" + path("two_channels.npy").string() + "' --class 0")
                  .find("the model failed on this input"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + "--input '" + path("none.npy").string() + "' --class 0").find("none.npy"),
              std::string::npos);

    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class 3")
                  .find("--class 3 is out of range: the model output [2, 3] has 3 classes (0 to 2)"),
              std::string::npos);
    camkit::xtensor::save_npy(path("mask5.npy").string(), xt::xarray<float>::from_shape({5, 5}));
    EXPECT_NE(expect_bad_input("explain " + model("segmenter.pt") + " --layer enc.0 " + input("xs.npy") +
                               " --class 1 --mask '" + path("mask5.npy").string() + "'")
                  .find("has shape [5, 5] but the model output [1, 2, 6, 6] needs [6, 6] or [1, 6, 6]"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class 0 --method nosuch").find("unknown method 'nosuch'"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --target whole-image --class 0")
                  .find("needs a segmentation output"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --target predicted --class 0")
                  .find("--class does not go with --target predicted"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --target mask-sum --class 0").find("needs --mask"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class 0 --size 4").find("--size has 1 extents"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class -1").find("--class must be an integer >= 0"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class 0 --device tpu").find("--device must be cpu or cuda"),
              std::string::npos);
    EXPECT_NE(expect_bad_input("explain " + clf + input("x.npy") + " --class 0 --bogus").find("unknown option '--bogus'"),
              std::string::npos);
    const result layers = run("layers --model '" + path("missing.pt").string() + "'");
    EXPECT_EQ(layers.status, 2);
    EXPECT_EQ(layers.err, "camkit-torch: " + path("missing.pt").string() + ": no such model file\n");
}

TEST_F(CamkitTorchTool, AFailureLeavesAnExistingOutputUntouched) {
    const fs::path out = path("keep.npy");
    std::ofstream(out) << "old";
    const result r = run("explain " + model("classifier.pt") + " --layer features.2 " + input("x.npy") +
                         " --class 7 --out '" + out.string() + "'");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(slurp(out), "old");
    const fs::path png = path("unwritable/dir/map.png");
    const result w = run("explain " + model("classifier.pt") + " --layer features.2 " + input("x.npy") +
                         " --class 1 --out '" + out.string() + "' --png '" + png.string() + "'");
    EXPECT_EQ(w.status, 2) << w.err;
    EXPECT_EQ(slurp(out), "old");  // the map was staged but not moved into place
}
