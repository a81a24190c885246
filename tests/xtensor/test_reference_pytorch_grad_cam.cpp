// camkit against pytorch-grad-cam: the same activations and gradients of a trained network layer
// (tests/data/reference, produced by tools/reference/make_reference.py; README.md there says how)
// must give the library's maps at every pipeline stage, to 1e-4 of each map's maximum.
#include <camkit/explain.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

const std::string reference_dir = std::string(CAMKIT_TEST_DATA_DIR) + "/reference/";

/// Relative tolerance per map: |camkit − reference| ≤ tolerance · max|reference|.
constexpr double tolerance = 1e-4;

camkit::tensor<float> load(const std::string& name) {
    const auto x = camkit::xtensor::load_npy<float>(reference_dir + name);
    camkit::shape_t shape(x.shape().begin(), x.shape().end());
    return camkit::tensor<float>(std::move(shape), std::vector<float>(x.begin(), x.end()));
}

/// Largest per-sample relative error max|a − r| / max|r| over the maps of a batch [N, *S].
double max_relative_error(const camkit::tensor<float>& actual, const camkit::tensor<float>& reference) {
    const std::size_t n_maps = reference.shape.at(0);
    const std::size_t per = reference.size() / n_maps;
    double worst = 0;
    for (std::size_t n = 0; n < n_maps; ++n) {
        double diff = 0, scale = 0;
        for (std::size_t s = 0; s < per; ++s) {
            const double r = reference[n * per + s];
            diff = std::max(diff, std::abs(static_cast<double>(actual[n * per + s]) - r));
            scale = std::max(scale, std::abs(r));
        }
        // A reference map of all zeros must be matched exactly.
        worst = std::max(worst, scale > 0 ? diff / scale : (diff > 0 ? INFINITY : 0.0));
    }
    return worst;
}

void expect_matches(const camkit::tensor<float>& actual, const std::string& file) {
    const camkit::tensor<float> reference = load(file);
    ASSERT_EQ(actual.shape, reference.shape) << file;
    const double err = max_relative_error(actual, reference);
    std::printf("[ reference ] %-40s max relative error %.3g\n", file.c_str(), err);
    EXPECT_LE(err, tolerance) << file;
}

/// True for the methods that read no gradients (Eigen-CAM).
template <class Method>
constexpr bool gradient_free() {
    if constexpr (requires { Method::needs_gradients; })
        return !Method::needs_gradients;
    else
        return false;
}

template <class Method>
auto run(const camkit::tensor<float>& A, const camkit::tensor<float>& G, const camkit::options& opt) {
    if constexpr (gradient_free<Method>())
        return camkit::explain<Method>(A, opt);  // the library's Eigen-CAM also ignores gradients
    else
        return camkit::explain<Method>(A, G, opt);
}

/// Every pipeline variant of one 2-D method: raw, normalized, resized (input size and a
/// non-square size, which catches a swapped axis order), renormalized (the library's output).
template <class Method>
void check_2d(const std::string& stem) {
    const auto A = load("A.npy");
    const auto G = load("G.npy");
    ASSERT_EQ(A.shape, (camkit::shape_t{2, 32, 8, 8}));

    camkit::options raw_only;
    raw_only.relu = false;
    raw_only.normalize = camkit::normalization::none;
    const auto raw = run<Method>(A, G, raw_only);
    expect_matches(raw.raw, stem + "_raw.npy");
    expect_matches(raw.map, stem + "_raw.npy");

    expect_matches(run<Method>(A, G, {}).map, stem + "_normalized.npy");

    camkit::options input_size;
    input_size.size = {64, 64};
    expect_matches(run<Method>(A, G, input_size).map, stem + "_resized_input.npy");

    camkit::options non_square;
    non_square.size = {24, 40};  // H = 24, W = 40
    expect_matches(run<Method>(A, G, non_square).map, stem + "_resized_nonsquare.npy");

    camkit::options renormalized = input_size;
    renormalized.renormalize = true;
    expect_matches(run<Method>(A, G, renormalized).map, stem + "_renormalized.npy");
}

/// 3-D: the library resizes volumes with a cubic spline, so only raw and normalized compare.
template <class Method>
void check_3d(const std::string& stem) {
    const auto A = load("A3d.npy");
    const auto G = load("G3d.npy");
    ASSERT_EQ(A.shape, (camkit::shape_t{2, 16, 4, 8, 8}));

    camkit::options raw_only;
    raw_only.relu = false;
    raw_only.normalize = camkit::normalization::none;
    expect_matches(run<Method>(A, G, raw_only).raw, stem + "_3d_raw.npy");
    expect_matches(run<Method>(A, G, {}).map, stem + "_3d_normalized.npy");
}

TEST(reference_pytorch_grad_cam, grad_cam) { check_2d<camkit::grad_cam>("gradcam"); }
TEST(reference_pytorch_grad_cam, hires_cam) { check_2d<camkit::hires_cam>("hirescam"); }
TEST(reference_pytorch_grad_cam, grad_cam_plus_plus) { check_2d<camkit::grad_cam_plus_plus>("gradcampp"); }
TEST(reference_pytorch_grad_cam, xgrad_cam) { check_2d<camkit::xgrad_cam>("xgradcam"); }
TEST(reference_pytorch_grad_cam, layer_cam) { check_2d<camkit::layer_cam>("layercam"); }
TEST(reference_pytorch_grad_cam, grad_cam_elementwise) {
    check_2d<camkit::grad_cam_elementwise>("gradcam_elementwise");
}
TEST(reference_pytorch_grad_cam, eigen_cam) { check_2d<camkit::eigen_cam>("eigencam"); }
TEST(reference_pytorch_grad_cam, eigen_grad_cam) { check_2d<camkit::eigen_grad_cam>("eigengradcam"); }

TEST(reference_pytorch_grad_cam, grad_cam_3d) { check_3d<camkit::grad_cam>("gradcam"); }
TEST(reference_pytorch_grad_cam, hires_cam_3d) { check_3d<camkit::hires_cam>("hirescam"); }
TEST(reference_pytorch_grad_cam, layer_cam_3d) { check_3d<camkit::layer_cam>("layercam"); }
TEST(reference_pytorch_grad_cam, grad_cam_elementwise_3d) {
    check_3d<camkit::grad_cam_elementwise>("gradcam_elementwise");
}
TEST(reference_pytorch_grad_cam, eigen_cam_3d) { check_3d<camkit::eigen_cam>("eigencam"); }
TEST(reference_pytorch_grad_cam, eigen_grad_cam_3d) { check_3d<camkit::eigen_grad_cam>("eigengradcam"); }

/// Largest absolute difference between two reference files of equal shape.
double max_difference(const std::string& a, const std::string& b) {
    const auto x = load(a), y = load(b);
    double d = 0;
    for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(double(x[i]) - y[i]));
    return d;
}

// The comparison is only as strong as the data: the gradients vary over space (so Grad-CAM,
// HiResCAM and XGrad-CAM differ), the two samples target different classes and give different
// maps with negative evidence, and the 3-D layer has signed activations that carry gradient
// (so LayerCAM and Grad-CAM-elementwise differ).
TEST(reference_pytorch_grad_cam, data_is_informative) {
    const auto G = load("G.npy");
    EXPECT_LT(*std::min_element(G.values.begin(), G.values.end()), 0.0f);
    EXPECT_GT(*std::max_element(G.values.begin(), G.values.end()), 0.0f);
    const auto raw = load("gradcam_raw.npy");
    const std::size_t per = raw.size() / 2;
    EXPECT_LT(*std::min_element(raw.values.begin(), raw.values.end()), 0.0f);
    double differ = 0;
    for (std::size_t s = 0; s < per; ++s) differ = std::max(differ, std::abs(double(raw[s]) - raw[per + s]));
    EXPECT_GT(differ, 1e-3);
    EXPECT_GT(max_difference("gradcam_normalized.npy", "hirescam_normalized.npy"), 0.01);
    EXPECT_GT(max_difference("gradcam_normalized.npy", "xgradcam_normalized.npy"), 0.01);
    EXPECT_GT(max_difference("layercam_3d_raw.npy", "gradcam_elementwise_3d_raw.npy"), 1e-3);
    const auto A3 = load("A3d.npy");
    EXPECT_LT(*std::min_element(A3.values.begin(), A3.values.end()), 0.0f);
    // A swapped height/width in the resize would not even have the reference's shape.
    EXPECT_EQ(load("gradcam_resized_nonsquare.npy").shape, (camkit::shape_t{2, 24, 40}));
}

}  // namespace
