// camkit-torch explain's region targets (largest-component, smallest-component, component-at,
// point) on the fixed-weight segmenter tests/data/regions/discs.pt (class 1 on bright pixels):
// each map equals the map of a mask-sum target whose mask the test builds with the library's
// region builders from the model's own output, so the tool wires the builders in per sample; and
// the bad inputs fail cleanly.
#include <camkit/regions/components.hpp>
#include <camkit/targets/masks.hpp>
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <torch/script.h>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include <string>
#include <vector>
#include "common/tool_fixture.hpp"

namespace {

const std::string data = std::string(CAMKIT_TEST_DATA_DIR) + "/";

#ifdef CAMKIT_TORCH_TOOL
constexpr const char* tool_path = CAMKIT_TORCH_TOOL;
#else
constexpr const char* tool_path = "";
#endif

class CamkitTorchRegions : public camkit_test::tool_fixture {
protected:
    CamkitTorchRegions() : tool_fixture(tool_path, "camkit-torch") {}

    void SetUp() override {
        if (std::string(tool_path).empty()) GTEST_SKIP() << "the camkit-torch tool is not built (CAMKIT_BUILD_EXAMPLES=OFF)";
        tool_fixture::SetUp();
        // Two 12×12 RGB inputs in [0, 1] with bright squares: sample 0 a 5×5, a 3×3 and a 3×4 one
        // (three class-1 components of different sizes), sample 1 one 4×4 square.
        xt::xarray<float> x = xt::zeros<float>({2, 3, 12, 12});
        const auto square = [&](std::size_t n, std::size_t y0, std::size_t x0, std::size_t h, std::size_t w) {
            for (std::size_t c = 0; c < 3; ++c)
                for (std::size_t i = y0; i < y0 + h; ++i)
                    for (std::size_t j = x0; j < x0 + w; ++j) x(n, c, i, j) = 1.0f;
        };
        square(0, 1, 1, 5, 5);
        square(0, 8, 8, 3, 3);
        square(0, 1, 8, 3, 4);
        square(1, 4, 4, 4, 4);
        camkit::xtensor::save_npy(path("x.npy"), x);
        output_ = forward(x);
    }

    /// The segmenter's output [2, 2, 12, 12] on `x`, as a camkit tensor.
    static camkit::tensor<float> forward(const xt::xarray<float>& x) {
        torch::jit::Module m = torch::jit::load(data + "regions/discs.pt");
        m.eval();
        at::Tensor in = torch::from_blob(const_cast<float*>(x.data()), {2, 3, 12, 12}, at::kFloat).clone();
        at::NoGradGuard no_grad;
        const at::Tensor y = m.forward({in}).toTensor().contiguous();
        camkit::tensor<float> out(camkit::shape_t(y.sizes().begin(), y.sizes().end()));
        std::copy_n(y.data_ptr<float>(), out.size(), out.values.begin());
        return out;
    }

    /// `camkit-torch explain` of the segmenter's layer enc (HiResCAM) on x.npy, then `extra`, into `out`.
    std::vector<std::string> explain_args(const std::vector<std::string>& extra, const std::string& out = "map.npy") const {
        std::vector<std::string> args{"explain", "--model", data + "regions/discs.pt", "--layer", "enc", "--input",
                                      path("x.npy"), "--method", "hirescam", "--out", path(out)};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    /// Runs explain with `extra` successfully and returns its map.
    xt::xarray<float> explain(const std::vector<std::string>& extra, const std::string& out) const {
        const auto r = run(explain_args(extra, out));
        EXPECT_EQ(r.status, 0) << ::testing::PrintToString(extra) << "\nstderr: " << r.err;
        return r.status == 0 ? camkit::xtensor::load_npy<float>(path(out)) : xt::xarray<float>{};
    }

    /// The map of --target mask-sum with `mask` [N, *P] written as an .npy.
    xt::xarray<float> with_mask(const camkit::tensor<float>& mask) const {
        camkit::xtensor::save_npy(path("mask.npy"), xt::xarray<float>(xt::adapt(mask.values, mask.shape)));
        return explain({"--target", "mask-sum", "--class", "1", "--mask", path("mask.npy")}, "ref.npy");
    }

    camkit::tensor<float> output_;
};

void expect_equal_maps(const xt::xarray<float>& got, const xt::xarray<float>& want, const std::string& what) {
    ASSERT_EQ(got.shape(), want.shape()) << what;
    ASSERT_GT(got.size(), 0u) << what;
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got.data()[i], want.data()[i], 1e-6) << what << " at " << i;
}

bool differ(const camkit::tensor<float>& a, const camkit::tensor<float>& b) { return a.values != b.values; }

/// Sample n of an [N, 12, 12] mask.
camkit::tensor<float> tensor_slice(const camkit::tensor<float>& m, std::size_t n) {
    const auto first = m.values.begin() + static_cast<std::ptrdiff_t>(n * 144);
    return camkit::tensor<float>({12, 12}, std::vector<float>(first, first + 144));
}

}  // namespace

TEST_F(CamkitTorchRegions, ComponentTargetsEqualMaskSumOfTheLibrarysMasks) {
    const camkit::tensor<float> region = camkit::predicted_region(output_, 1);
    const camkit::tensor<float> largest = camkit::largest_component(output_, 1);
    const camkit::tensor<float> smallest = camkit::smallest_component(output_, 1);
    // The inputs make the test meaningful: sample 0's region has three components, sample 1's one.
    ASSERT_EQ(camkit::label_components(tensor_slice(region, 0)).count(), 3u);
    ASSERT_EQ(camkit::label_components(tensor_slice(region, 1)).count(), 1u);
    ASSERT_TRUE(differ(largest, region));
    ASSERT_TRUE(differ(smallest, largest));
    const auto l = explain({"--target", "largest-component", "--class", "1"}, "l.npy");
    const auto s = explain({"--target", "smallest-component", "--class", "1"}, "s.npy");
    expect_equal_maps(l, with_mask(largest), "largest");
    expect_equal_maps(s, with_mask(smallest), "smallest");
    EXPECT_NE(l, s);  // different targets, different maps: the comparisons above can fail
}

TEST_F(CamkitTorchRegions, ComponentAtAndPoint) {
    // The first position of sample 0's class-1 region: --at is Y,X.
    std::size_t first = 0;
    const camkit::tensor<float> region = camkit::predicted_region(output_, 1);
    while (region[first] == 0.0f) ++first;
    const camkit::shape_t at{first / 12, first % 12};
    const std::string at_arg = std::to_string(at[0]) + "," + std::to_string(at[1]);
    expect_equal_maps(explain({"--target", "component-at", "--class", "1", "--at", at_arg}, "c.npy"),
                      with_mask(camkit::component_at(output_, 1, at)), "component-at");
    camkit::tensor<float> one({2, 12, 12}, 0.0f);
    one[first] = one[144 + first] = 1.0f;
    expect_equal_maps(explain({"--target", "point", "--class", "1", "--at", at_arg}, "p.npy"), with_mask(one), "point");
}

TEST_F(CamkitTorchRegions, BadInput) {
    const auto bad = [&](std::vector<std::string> extra, const std::string& needle) {
        expect_bad_input(explain_args(extra), needle);
    };
    bad({"--target", "largest-component"}, "--target largest-component needs --class");
    bad({"--target", "component-at", "--class", "1"}, "--target component-at needs --at Y,X[,Z]");
    bad({"--target", "point", "--class", "1", "--at", "1"}, "--at has 1 coordinate but the model output");
    bad({"--target", "point", "--class", "1", "--at", "1,2,3,4"}, "--at must be X, Y,X or Y,X,Z, got '1,2,3,4'");
    bad({"--target", "point", "--class", "1", "--at", "1,x"}, "--at coordinate must be an integer >= 0, got 'x'");
    bad({"--target", "point", "--class", "1", "--at", "1,2,3"}, "--at has 3 coordinates but the model output");
    bad({"--target", "component-at", "--class", "1", "--at", "12,0"}, "--at [12, 0] lies outside");
    bad({"--target", "whole-image", "--class", "1", "--at", "1,1"}, "--at goes with --target component-at or point");
    bad({"--target", "smallest-component", "--class", "2"}, "--class 2 is out of range");
    bad({"--target", "segments", "--class", "1"}, "smallest-component, component-at, point or softmax");
    // A classifier's output has no components.
    expect_bad_input({"explain", "--model", data + "torch_tool/classifier.pt", "--layer", "features.2", "--input",
                      data + "torch_tool/x.npy",
                      "--target", "largest-component", "--class", "1", "--out", path("map.npy")},
                     "--target largest-component needs a segmentation output");
}
