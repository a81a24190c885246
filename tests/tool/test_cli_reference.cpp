// The `camkit` tool against pytorch-grad-cam: on the reference activations and gradients
// (tests/data/reference, see its README.md) the tool's output files equal the library's maps for
// every shared method and every pipeline variant, to 1e-4 of each map's maximum.
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>
#include "common/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

const std::string reference_dir = std::string(CAMKIT_TEST_DATA_DIR) + "/reference/";

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
        const auto r = camkit::xtensor::load_npy<float>(reference_dir + reference_file);
        EXPECT_EQ(std::vector<std::size_t>(x.shape().begin(), x.shape().end()),
                  std::vector<std::size_t>(r.shape().begin(), r.shape().end()))
            << reference_file;
        if (x.size() != r.size()) return INFINITY;
        const std::size_t n_maps = r.shape()[0], per = r.size() / n_maps;
        double worst = 0;
        for (std::size_t n = 0; n < n_maps; ++n) {
            double diff = 0, scale = 0;
            for (std::size_t s = 0; s < per; ++s) {
                diff = std::max(diff, std::abs(double(x.data()[n * per + s]) - r.data()[n * per + s]));
                scale = std::max(scale, std::abs(double(r.data()[n * per + s])));
            }
            worst = std::max(worst, scale > 0 ? diff / scale : (diff > 0 ? INFINITY : 0.0));
        }
        return worst;
    }

    void expect_matches(const method_case& m, const std::string& a, const std::string& g,
                        const std::vector<std::string>& flags, const std::string& reference_file) {
        const double err = relative_error(run_cam(m.tool_name, a, g, flags), reference_file);
        std::printf("[ tool      ] %-40s max relative error %.3g\n", reference_file.c_str(), err);
        EXPECT_LE(err, 1e-4) << m.tool_name << " vs " << reference_file;
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

// A map of the wrong method is far from the reference: the comparison above can fail.
TEST_F(CamkitToolReference, AWrongMethodIsDetected) {
    EXPECT_GT(relative_error(run_cam("gradcam", "A.npy", "G.npy", {}), "hirescam_normalized.npy"), 1e-2);
    EXPECT_GT(relative_error(run_cam("layercam", "A3d.npy", "G3d.npy", {"--no-relu", "--normalize none"}),
                             "gradcam_elementwise_3d_raw.npy"),
              1e-3);
}

}  // namespace
