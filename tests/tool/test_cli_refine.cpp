// `camkit refine` end to end: every file it writes equals camkit::refine's step (maps to float32
// rounding, masks and points exactly, the pictures pixel for pixel), the options reach the
// library, and every bad input gives exit status 2, one line on stderr and no new file.
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/refine/panel.hpp>
#include <camkit/refine/refine.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>
#include "common/tool_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using camkit::tensor;

class CamkitRefine : public camkit_test::tool_fixture {
protected:
    CamkitRefine() : tool_fixture(CAMKIT_TOOL_PATH, "camkit") {}

    /// Writes the test scene: low.npy [8, 8], high.npy [1, 32, 32] (float32) and image.png 32×32.
    void SetUp() override {
        tool_fixture::SetUp();
        for (std::size_t y = 0; y < 8; ++y)
            for (std::size_t x = 0; x < 8; ++x)
                low(y, x) = static_cast<float>(std::exp(-(std::pow(y - 2.6, 2) + std::pow(x - 4.3, 2)) / 3.0) +
                                               0.2 * std::exp(-(std::pow(y - 6.0, 2) + std::pow(x - 1.0, 2)) / 1.5));
        for (std::size_t y = 0; y < 32; ++y)
            for (std::size_t x = 0; x < 32; ++x)
                high(0, y, x) = static_cast<float>(std::exp(-(std::pow(y - 11.0, 2) + std::pow(x - 17.5, 2)) / 20.0) +
                                                   0.05 * std::sin(0.9 * x + 0.4 * y));
        camkit::io::write_npy(path("low.npy"), low);
        camkit::io::write_npy(path("high.npy"), high);
        for (std::size_t p = 0; p < 32 * 32; ++p)
            image.set(p / 32, p % 32, {static_cast<std::uint8_t>(p % 251), static_cast<std::uint8_t>(p / 7), 200});
        camkit::io::write_png(path("image.png"), image);
    }

    /// `camkit refine` on the scene into out/, with `extra` options.
    std::vector<std::string> refine_args(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"refine",         "--low",     path("low.npy"), "--high",
                                         path("high.npy"), "--out-dir", path("out")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    /// The library's result on the same float32 values, computed in double as the tool does.
    camkit::refine_result<double> library(const camkit::refine_options& o, bool with_image) const {
        return camkit::refine(as_double(low), as_double(high_2d()), with_image ? &image : nullptr, o);
    }

    tensor<float> high_2d() const { return tensor<float>({32, 32}, high.values); }
    static tensor<double> as_double(const tensor<float>& t) {
        return tensor<double>(t.shape, std::vector<double>(t.values.begin(), t.values.end()));
    }
    std::string out(const std::string& name) const { return path("out/" + name); }

    tensor<float> low{{8, 8}}, high{{1, 32, 32}};
    camkit::rgb_image image{32, 32};
};

/// A .npy file of a type camkit::io does not read ('|u1', '<i8'): its dtype, shape and raw data.
struct raw_npy {
    std::string descr, shape;
    std::string data;
};

raw_npy read_raw(const std::string& file) {
    const std::string s = camkit_test::slurp(file);
    EXPECT_GT(s.size(), 10u);
    const std::size_t len = static_cast<unsigned char>(s[8]) | (static_cast<unsigned char>(s[9]) << 8);
    const std::string dict = s.substr(10, len);
    raw_npy r;
    const auto descr = dict.find("'descr': '") + 10;
    r.descr = dict.substr(descr, dict.find('\'', descr) - descr);
    const auto shape = dict.find("'shape': (") + 10;
    r.shape = dict.substr(shape, dict.find(')', shape) - shape);
    r.data = s.substr(10 + len);
    return r;
}

void expect_mask(const std::string& file, const camkit::mask_t& want) {
    const raw_npy r = read_raw(file);
    EXPECT_EQ(r.descr, "|u1") << file;
    EXPECT_EQ(r.shape, std::to_string(want.shape[0]) + ", " + std::to_string(want.shape[1])) << file;
    ASSERT_EQ(r.data.size(), want.size()) << file;
    for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(static_cast<std::uint8_t>(r.data[i]), want[i]) << file << " at " << i;
}

void expect_points(const std::string& file, const camkit::points_t& want) {
    const raw_npy r = read_raw(file);
    EXPECT_EQ(r.descr, "<i8");
    EXPECT_EQ(r.shape, std::to_string(want.shape[0]) + ", 2");
    ASSERT_EQ(r.data.size(), 8 * want.size());
    std::vector<std::int64_t> got(want.size());
    std::memcpy(got.data(), r.data.data(), r.data.size());  // little-endian host
    EXPECT_EQ(got, want.values);
}

void expect_map(const std::string& file, const tensor<double>& want) {
    const tensor<float> got = camkit::io::read_npy<float>(file);
    ASSERT_EQ(got.shape, want.shape) << file;
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6) << file << " at " << i;
}

TEST_F(CamkitRefine, EveryStepEqualsTheLibrary) {
    const camkit_test::tool_result run = this->run(refine_args({"--image", path("image.png")}));
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(run.out.find("6 focal points"), std::string::npos) << run.out;  // round(√32)
    const auto r = library({}, true);
    expect_map(out("blurred.npy"), r.blurred);
    expect_map(out("edges.npy"), r.edges);
    expect_map(out("low_resized.npy"), r.low_resized);
    expect_map(out("merged.npy"), r.merged);
    expect_mask(out("roi.npy"), r.roi);
    expect_mask(out("segmented.npy"), r.segmented);
    expect_mask(out("full_segment.npy"), r.full_segment);
    expect_mask(out("keep.npy"), r.keep);
    expect_points(out("focal_points.npy"), r.focal_points);
    const std::string bounds = camkit_test::slurp(out("bounds.json"));
    EXPECT_EQ(std::stod(bounds.substr(bounds.find("\"lower\": ") + 9)), r.bounds.lower) << bounds;
    EXPECT_EQ(std::stod(bounds.substr(bounds.find("\"upper\": ") + 9)), r.bounds.upper) << bounds;
    EXPECT_EQ(camkit::io::read_image(out("result.png")).pixels, r.result.pixels);
    // the picture: panels enlarged 4× (32 px → 128 px), the image first
    const auto want = camkit::refine_panel(r, as_double(high_2d()), &image, camkit::colormap::jet, 6, 4, 4);
    const auto got = camkit::io::read_image(out("pipeline.png"));
    EXPECT_EQ(got.height, want.height);
    EXPECT_EQ(got.width, want.width);
    EXPECT_EQ(got.pixels, want.pixels);
    // the steps are not trivial
    EXPECT_GT(std::count(r.full_segment.values.begin(), r.full_segment.values.end(), 1), 10);
}

TEST_F(CamkitRefine, OptionsReachTheLibrary) {
    const camkit_test::tool_result run =
        this->run(refine_args({"--roi-percentile", "70", "--focal", "local", "--maxima-areas", "large", "--merge",
                               "multiply", "--keep-threshold", "0.3"}));
    ASSERT_EQ(run.status, 0) << run.err;
    const auto r = library({.roi_percentile = 70,
                            .focal = camkit::focal_scope::local,
                            .areas = camkit::maxima_areas::large,
                            .merge = camkit::merge_mode::multiply,
                            .keep = camkit::keep_mode::threshold,
                            .keep_threshold = 0.3},
                           false);
    expect_mask(out("roi.npy"), r.roi);
    expect_points(out("focal_points.npy"), r.focal_points);
    expect_map(out("merged.npy"), r.merged);
    expect_mask(out("keep.npy"), r.keep);
    EXPECT_FALSE(fs::exists(out("result.png")));  // no image, no result
    EXPECT_EQ(r.focal_points.shape[0], 16u);      // the strong maximum's 4×4 block

    ASSERT_EQ(this->run(refine_args({"--focal-points", "3", "--alpha", "0.8", "--keep-percentage", "30"})).status, 0);
    const auto q = library({.focal_points = 3, .alpha = 0.8, .keep_percentage = 30}, false);
    expect_points(out("focal_points.npy"), q.focal_points);
    expect_map(out("merged.npy"), q.merged);
    expect_mask(out("keep.npy"), q.keep);
    // local maxima thinned (the default areas): the strong maximum's block shrinks to one pixel
    ASSERT_EQ(this->run(refine_args({"--focal", "local"})).status, 0);
    const auto t = library({.focal = camkit::focal_scope::local}, false);
    EXPECT_EQ(t.focal_points.shape[0], 1u);
    expect_points(out("focal_points.npy"), t.focal_points);
}

TEST_F(CamkitRefine, HelpAndListing) {
    const camkit_test::tool_result help = run({"refine", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_EQ(help.out.rfind("usage: camkit refine --low LOW.npy --high HIGH.npy --out-dir DIR", 0), 0u) << help.out;
    const camkit_test::tool_result all = run({"--help"});
    EXPECT_NE(all.out.find("  refine    refine a low-res CAM by a high-res CAM"), std::string::npos) << all.out;
    expect_bad_input({"refin"}, "refine");  // the unknown command's message lists it
}

TEST_F(CamkitRefine, BadOptionsAreCleanFailures) {
    expect_bad_input({"refine", "--high", path("high.npy"), "--out-dir", path("out")}, "--low is required");
    expect_bad_input({"refine", "--low", path("low.npy"), "--out-dir", path("out")}, "--high is required");
    expect_bad_input({"refine", "--low", path("low.npy"), "--high", path("high.npy")}, "--out-dir is required");
    expect_bad_input(refine_args({"--roi-percentile", "0"}), "--roi-percentile must be in (0, 100)");
    expect_bad_input(refine_args({"--roi-percentile", "100"}), "--roi-percentile must be in (0, 100)");
    expect_bad_input(refine_args({"--roi-percentile", "8a"}), "--roi-percentile must be a finite number");
    expect_bad_input(refine_args({"--roi-percentile", "nan"}), "--roi-percentile must be a finite number");
    expect_bad_input(refine_args({"--alpha", "1.5"}), "--alpha must be in [0, 1]");
    expect_bad_input(refine_args({"--alpha", "-0.1"}), "--alpha must be in [0, 1]");
    expect_bad_input(refine_args({"--merge", "multiply", "--alpha", "0.3"}), "--alpha applies to --merge blend only");
    expect_bad_input(refine_args({"--merge", "sum"}), "--merge must be blend or multiply");
    expect_bad_input(refine_args({"--keep-percentage", "0"}), "--keep-percentage must be in (0, 100]");
    expect_bad_input(refine_args({"--keep-percentage", "101"}), "--keep-percentage must be in (0, 100]");
    expect_bad_input(refine_args({"--keep-threshold", "2"}), "--keep-threshold must be in [0, 1]");
    expect_bad_input(refine_args({"--keep-percentage", "10", "--keep-threshold", "0.5"}), "exclude each other");
    expect_bad_input(refine_args({"--focal", "everywhere"}), "--focal must be global or local");
    expect_bad_input(refine_args({"--focal-points", "0"}), "--focal-points must be an integer >= 1");
    expect_bad_input(refine_args({"--focal", "local", "--focal-points", "4"}),
                     "--focal-points applies to --focal global");
    expect_bad_input(refine_args({"--maxima-areas", "large"}), "--maxima-areas applies to --focal local");
    expect_bad_input(refine_args({"--focal", "local", "--maxima-areas", "huge"}),
                     "--maxima-areas must be small or large");
    expect_bad_input(refine_args({"--focal-points", "1025"}), "--focal-points 1025 exceeds the 1024 pixels of the high-res map");
    expect_bad_input(refine_args({"--size", "4"}), "unknown option '--size'");
}

TEST_F(CamkitRefine, BadInputsAreCleanFailures) {
    // shapes: a batch of two maps, a volume, low larger than high, an image of another size
    camkit::io::write_npy(path("two.npy"), tensor<float>({2, 8, 8}, 1.0f));
    expect_bad_input({"refine", "--low", path("two.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "must be a 2-D map [H, W] or [1, H, W], got shape [2, 8, 8]");
    camkit::io::write_npy(path("big.npy"), tensor<float>({64, 64}, 1.0f));
    expect_bad_input({"refine", "--low", path("big.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "must not exceed the high-res shape");
    camkit::io::write_png(path("small.png"), camkit::rgb_image(16, 16));
    expect_bad_input(refine_args({"--image", path("small.png")}), "is 16x16 but the high-res map is 32x32");
    // blank maps: a constant high-res map, a constant low-res map (no roi), a NaN
    camkit::io::write_npy(path("flat_high.npy"), tensor<float>({32, 32}, 0.25f));
    expect_bad_input({"refine", "--low", path("low.npy"), "--high", path("flat_high.npy"), "--out-dir", path("out")},
                     "refine: high is blank");
    camkit::io::write_npy(path("flat_low.npy"), tensor<float>({8, 8}, 0.5f));
    expect_bad_input({"refine", "--low", path("flat_low.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "the roi is empty");
    tensor<float> nan_low = low;
    nan_low[5] = std::numeric_limits<float>::quiet_NaN();
    camkit::io::write_npy(path("nan_low.npy"), nan_low);
    expect_bad_input({"refine", "--low", path("nan_low.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "non-finite value at flat index 5");
    // files: a missing input, an out-dir that is a file or has no parent, an output that is an input
    expect_bad_input({"refine", "--low", path("none.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "none.npy");
    camkit_test::write_text(path("file"), "x");
    expect_bad_input({"refine", "--low", path("low.npy"), "--high", path("high.npy"), "--out-dir", path("file")},
                     "exists and is not a folder");
    expect_bad_input({"refine", "--low", path("low.npy"), "--high", path("high.npy"), "--out-dir", path("no/such/dir")},
                     "its parent folder");
    expect_bad_input({"refine", "--low", path("low.npy"), "--high", path("high.npy"), "--out-dir", path("file/sub")},
                     "--out-dir " + path("file/sub") + ": '" + path("file") + "' is not a folder");
    fs::create_directory(path("out"));
    fs::copy_file(path("low.npy"), path("out/merged.npy"));
    expect_bad_input({"refine", "--low", path("out/merged.npy"), "--high", path("high.npy"), "--out-dir", path("out")},
                     "are the same file");
}

}  // namespace
