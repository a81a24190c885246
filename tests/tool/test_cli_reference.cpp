// The `camkit` tool against pytorch-grad-cam: on the reference activations and gradients
// (tests/data/reference, see its README.md) the tool's output files equal the library's maps for
// every shared method and every pipeline variant, to 1e-6 of each map's maximum.
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>
#include "common/reference_data.hpp"
#include "common/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

const std::string reference_dir = camkit_test::reference_path("");

struct method_case {
    const char* tool_name;  // --method NAME
    const char* stem;       // reference file prefix
    bool has_3d;            // the library defines it for [N, K, D, H, W]
};

const method_case methods[] = {
    {"gradcam", "gradcam", true},           {"hirescam", "hirescam", true},
    {"gradcam++", "gradcampp", false},      {"xgradcam", "xgradcam", false},
    {"layercam", "layercam", true},         {"gradcam-elementwise", "gradcam_elementwise", true},
    {"eigencam", "eigencam", true},         {"eigengradcam", "eigengradcam", true},
};

class CamkitToolReference : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = camkit_test::unique_temp_dir("camkit_tool_reference");
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    /// Runs `camkit cam` with the given extra flags and returns the path of its output map.
    std::string run_cam(const std::string& method, const std::string& a, const std::string& g,
                        const std::vector<std::string>& flags) {
        const std::string out = (dir_ / "map.npy").string();
        fs::remove(out);
        std::string cmd = "'" CAMKIT_TOOL_PATH "' cam --method '" + method + "' --activations '" + reference_dir + a +
                          "' --gradients '" + reference_dir + g + "' --out '" + out + "'";
        for (const auto& f : flags) cmd += " " + f;
        cmd += " >'" + (dir_ / "stdout.txt").string() + "' 2>'" + (dir_ / "stderr.txt").string() + "'";
        const int status = std::system(cmd.c_str());
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
        return out;
    }

    /// Max over the maps of max|tool − reference| / max|reference|; fails on a shape mismatch.
    static double relative_error(const std::string& out, const std::string& reference_file) {
        const auto x = camkit::xtensor::load_npy<float>(out);
        const auto r = camkit_test::load_reference(reference_file);
        EXPECT_EQ(camkit::shape_t(x.shape().begin(), x.shape().end()), r.shape) << reference_file;
        return camkit_test::reference_error(camkit::tensor<float>(camkit::shape_t(x.shape().begin(), x.shape().end()),
                                                                  std::vector<float>(x.begin(), x.end())),
                                            r);
    }

    void expect_matches(const method_case& m, const std::string& a, const std::string& g,
                        const std::vector<std::string>& flags, const std::string& reference_file) {
        const double err = relative_error(run_cam(m.tool_name, a, g, flags), reference_file);
        std::printf("[ tool      ] %-40s max relative error %.3g\n", reference_file.c_str(), err);
        EXPECT_LE(err, camkit_test::reference_tolerance) << m.tool_name << " vs " << reference_file;
    }

    fs::path dir_;
};

TEST_F(CamkitToolReference, EveryMethodAndVariantEqualsPytorchGradCam) {
    for (const auto& m : methods) {
        const std::string s = m.stem;
        expect_matches(m, "A.npy", "G.npy", {"--no-relu", "--normalize none"}, s + "_raw.npy");
        expect_matches(m, "A.npy", "G.npy", {}, s + "_normalized.npy");
        expect_matches(m, "A.npy", "G.npy", {"--size 64x64"}, s + "_resized_input.npy");
        expect_matches(m, "A.npy", "G.npy", {"--size 24x40"}, s + "_resized_nonsquare.npy");
        expect_matches(m, "A.npy", "G.npy", {"--size 64x64", "--renormalize"}, s + "_renormalized.npy");
        if (m.has_3d) {
            expect_matches(m, "A3d.npy", "G3d.npy", {"--no-relu", "--normalize none"}, s + "_3d_raw.npy");
            expect_matches(m, "A3d.npy", "G3d.npy", {}, s + "_3d_normalized.npy");
        }
    }
}

// Eigen-CAM's branch with more channels than positions (K = 64 > S = 4x4 = 16).
TEST_F(CamkitToolReference, ProjectionsWithMoreChannelsThanPositionsEqualPytorchGradCam) {
    for (const auto& m : methods) {
        const std::string s = m.stem;
        if (s.rfind("eigen", 0) != 0) continue;
        const std::string a = "A_wide.npy", g = "G_wide.npy";
        expect_matches(m, a, g, {"--no-relu", "--normalize none"}, s + "_wide_raw.npy");
        expect_matches(m, a, g, {}, s + "_wide_normalized.npy");
        expect_matches(m, a, g, {"--size 16x16"}, s + "_wide_resized_input.npy");
        expect_matches(m, a, g, {"--size 6x10"}, s + "_wide_resized_nonsquare.npy");
        expect_matches(m, a, g, {"--size 16x16", "--renormalize"}, s + "_wide_renormalized.npy");
    }
}

// A min-max ε off by 1e-5 is farther from the library's maps than the tolerance.
TEST_F(CamkitToolReference, AnEpsilonOffBy1e5IsDetected) {
    EXPECT_GT(relative_error(run_cam("gradcam", "A.npy", "G.npy", {"--eps 1.01e-5"}), "gradcam_normalized.npy"),
              camkit_test::reference_tolerance);
}

// A map of the wrong method is far from the reference: the comparison above can fail.
TEST_F(CamkitToolReference, AWrongMethodIsDetected) {
    EXPECT_GT(relative_error(run_cam("gradcam", "A.npy", "G.npy", {}), "hirescam_normalized.npy"), 1e-2);
    EXPECT_GT(relative_error(run_cam("layercam", "A3d.npy", "G3d.npy", {"--no-relu", "--normalize none"}),
                             "gradcam_elementwise_3d_raw.npy"),
              1e-3);
}

}  // namespace
