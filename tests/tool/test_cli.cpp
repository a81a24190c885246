// The `camkit` tool end to end: its maps equal camkit::explain's for every method and pipeline
// variant, and every error exit (each fail() of examples/cli and examples/common, the hostile
// inputs of a FIFO, /dev/zero, a folder, forged headers, same-file outputs, overflowing products)
// gives exit status 2, one line on stderr and no changed or new file.
#include <camkit/camkit.hpp>
#include <camkit/io/image.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/overlay.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>
#include "common/tool_fixture.hpp"
#include "../../examples/common/picture.hpp"

namespace {

namespace fs = std::filesystem;
using camkit_test::slurp;
using camkit_test::write_text;

class CamkitTool : public camkit_test::tool_fixture {
protected:
    CamkitTool() : tool_fixture(CAMKIT_TOOL_PATH, "camkit") {}

    /// `camkit cam --method gradcam` on a.npy and g.npy into out.npy, with `extra` options.
    std::vector<std::string> cam(const std::string& a, const std::string& g, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"cam", "--method", "gradcam", "--activations", path(a), "--gradients", path(g),
                                         "--out", path("out.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
};

template <class T>
camkit::tensor<T> random_tensor(const camkit::shape_t& shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(-1.0, 1.0);
    camkit::tensor<T> t(shape);
    for (auto& v : t.values) v = static_cast<T>(d(rng));
    return t;
}

template <class T>
camkit::tensor<double> as_double(const camkit::tensor<T>& t) {
    return camkit::tensor<double>(t.shape, std::vector<double>(t.values.begin(), t.values.end()));
}

/// An npy file with a hand-written header dictionary and `data_bytes` zero bytes of data.
std::string npy_file(const std::string& dict, std::size_t data_bytes) {
    std::string s = "\x93NUMPY\x01";
    s += '\0';
    s += static_cast<char>(dict.size());
    s += '\0';
    return s + dict + std::string(data_bytes, '\0');
}

/// Compares the tool's float32 output with camkit's result to 1e-5 of the map's largest value.
template <class T>
void expect_close(const camkit::tensor<float>& got, const camkit::tensor<T>& want, const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    double scale = 1e-12;
    for (auto v : want.values) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], static_cast<double>(want[i]), 1e-5 * scale) << what << " at " << i;
}

TEST_F(CamkitTool, EveryMethodMatchesTheLibrary) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 1), G = random_tensor<float>({2, 3, 4, 5}, 2);
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("g.npy"), G);
    struct variant {
        std::vector<std::string> args;
        camkit::options opt;
    };
    std::vector<variant> variants(4);
    variants[1].args = {"--no-relu", "--normalize", "none"};
    variants[1].opt.relu = false;
    variants[1].opt.normalize = camkit::normalization::none;
    variants[2].args = {"--size", "7x9", "--normalize=max"};
    variants[2].opt.size = {7, 9};
    variants[2].opt.normalize = camkit::normalization::max;
    variants[3].args = {"--size", "8x10", "--renormalize", "--eps", "1e-3"};
    variants[3].opt.size = {8, 10};
    variants[3].opt.renormalize = true;
    variants[3].opt.eps = 1e-3;
    int methods = 0;
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        ++methods;
        if (M::name == camkit::respond_cam::name) return;  // its own default pipeline: test_cli_stats.cpp
        for (const auto& v : variants) {
            const std::string what = std::string(M::name) + " " + ::testing::PrintToString(v.args);
            // The library on the same float32 values, computed in double as the tool does.
            const auto want = camkit::explain<M>(as_double(A), as_double(G), v.opt);
            std::vector<std::string> args = {"cam", "--method", std::string(M::name), "--activations", path("a.npy"),
                                             "--gradients", path("g.npy"), "--out", path("map.npy")};
            if (want.weights) args.insert(args.end(), {"--weights-out", path("w.npy")});
            args.insert(args.end(), v.args.begin(), v.args.end());
            const auto r = run(args);
            ASSERT_EQ(r.status, 0) << what << ": " << r.err;
            EXPECT_EQ(r.err, "") << what;
            expect_close(camkit::io::read_npy<float>(path("map.npy")), want.map, what + " map");
            if (want.weights) expect_close(camkit::io::read_npy<float>(path("w.npy")), *want.weights, what + " weights");
            // The output really is float32 on disk.
            EXPECT_EQ(camkit::io::read_npy_header(path("map.npy")).dtype, camkit::io::npy_dtype::float32);
        }
    });
    EXPECT_EQ(methods, 9);
}

TEST_F(CamkitTool, EigenCamNeedsNoGradients) {
    const auto A = random_tensor<double>({2, 4, 6, 5}, 3);
    camkit::io::write_npy(path("a.npy"), A);
    const auto r = run({"cam", "--method", "eigencam", "--activations", path("a.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    expect_close(camkit::io::read_npy<float>(path("m.npy")), camkit::explain<camkit::eigen_cam>(A).map, "eigencam");
}

TEST_F(CamkitTool, OneAndThreeSpatialAxesAndFloat64) {
    const auto A1 = random_tensor<double>({3, 2, 9}, 4), G1 = random_tensor<double>({3, 2, 9}, 5);
    camkit::io::write_npy(path("a1.npy"), A1);
    camkit::io::write_npy(path("g1.npy"), G1);
    camkit::options o1;
    o1.size = {20};
    ASSERT_EQ(run({"cam", "--method", "layercam", "--activations", path("a1.npy"), "--gradients", path("g1.npy"),
                   "--out", path("m1.npy"), "--size", "20"}).status, 0);
    expect_close(camkit::io::read_npy<float>(path("m1.npy")), camkit::explain<camkit::layer_cam>(A1, G1, o1).map, "1-D");

    const auto A3 = random_tensor<float>({1, 2, 3, 4, 5}, 6), G3 = random_tensor<float>({1, 2, 3, 4, 5}, 7);
    camkit::io::write_npy(path("a3.npy"), A3);
    camkit::io::write_npy(path("g3.npy"), G3);
    camkit::options o3;
    o3.size = {6, 8, 10};
    ASSERT_EQ(run({"cam", "--method", "gradcam++", "--activations", path("a3.npy"), "--gradients", path("g3.npy"),
                   "--out", path("m3.npy"), "--size", "6x8x10", "--png", path("m3.png")}).status, 0);
    expect_close(camkit::io::read_npy<float>(path("m3.npy")),
                 camkit::explain<camkit::grad_cam_plus_plus>(as_double(A3), as_double(G3), o3).map, "3-D");
    // 6 slices of 8x10 in a 3-column grid with 1-pixel lines: 2·8+1 high, 3·10+2 wide.
    const auto png = camkit::io::read_image(path("m3.png"));
    EXPECT_EQ(png.height, 17u);
    EXPECT_EQ(png.width, 32u);
    // slices of 8 pixels have no room for their numbers: the picture is the library's slice grid
    const auto m3 = camkit::io::read_npy<float>(path("m3.npy"));
    EXPECT_EQ(png.pixels, camkit::slice_grid(camkit::tensor<float>({6, 8, 10}, m3.values)).pixels);

    // Slices of 20x30 carry their numbers, 0 to 4, white on a black box (8 pixels wide, 9 high)
    // in their top-left corners; every other pixel is the slice grid's.
    ASSERT_EQ(run({"cam", "--method", "gradcam++", "--activations", path("a3.npy"), "--gradients", path("g3.npy"),
                   "--out", path("m5.npy"), "--size", "5x20x30", "--png", path("m5.png")}).status, 0);
    const auto grid = camkit::slice_grid(camkit::tensor<float>({5, 20, 30}, camkit::io::read_npy<float>(path("m5.npy")).values));
    const auto labelled = camkit::io::read_image(path("m5.png"));
    ASSERT_EQ(labelled.height, grid.height);  // 3 columns, 2 rows
    ASSERT_EQ(labelled.width, grid.width);
    EXPECT_EQ(camkit::slice_grid_columns(5), 3u);
    std::size_t white = 0, differ = 0;
    for (std::size_t y = 0; y < grid.height; ++y)
        for (std::size_t x = 0; x < grid.width; ++x) {
            const std::size_t cy = y % 21, cx = x % 31, slice = (y / 21) * 3 + x / 31;
            const bool in_label = slice < 5 && cy < 9 && cx < 8;
            if (!in_label) {
                differ += labelled.at(y, x) != grid.at(y, x);
                continue;
            }
            const camkit::rgb p = labelled.at(y, x);
            EXPECT_TRUE(p == (camkit::rgb{0, 0, 0}) || p == (camkit::rgb{255, 255, 255})) << y << "," << x;
            white += p == camkit::rgb{255, 255, 255};
        }
    EXPECT_EQ(differ, 0u);
    // the lit pixels of the digits in the 5x7 font: 19 for 0, 10 for 1, 14 each for 2, 3 and 4
    EXPECT_EQ(white, 19u + 10u + 14u + 14u + 14u);
}

/// `t` [N, K, *S] laid out as Keras keeps it, [N, *S, K].
camkit::tensor<float> channels_last(const camkit::tensor<float>& t) {
    camkit::shape_t shape(t.shape.begin() + 2, t.shape.end());
    shape.insert(shape.begin(), t.shape[0]);
    shape.push_back(t.shape[1]);
    const std::size_t N = t.shape[0], K = t.shape[1], S = t.size() / (N * K);
    camkit::tensor<float> out(shape);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            for (std::size_t p = 0; p < S; ++p) out[(n * S + p) * K + k] = t[(n * K + k) * S + p];
    return out;
}

// Keras / TensorFlow arrays [N, *S, K] with --channels-last give the maps of the same arrays in
// camkit's [N, K, *S] (2-D and 3-D; 16 channels: read in place position by position, fewer:
// gathered); without the flag a square map whose channels look last gets a note; the flag's shape
// errors speak of [N, H, W, K].
TEST_F(CamkitTool, ChannelsLastArraysOfKerasAndTensorFlow) {
    for (const camkit::shape_t& shape :
         {camkit::shape_t{2, 3, 4, 5}, camkit::shape_t{1, 2, 3, 4, 5}, camkit::shape_t{2, 16, 6, 7}}) {
        const auto A = random_tensor<float>(shape, 21), G = random_tensor<float>(shape, 22);
        camkit::io::write_npy(path("a_last.npy"), channels_last(A));
        camkit::io::write_npy(path("g_last.npy"), channels_last(G));
        const auto r = run({"cam", "--method", "hirescam", "--activations", path("a_last.npy"), "--gradients", path("g_last.npy"),
                            "--out", path("m.npy"), "--channels-last"});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.err, "");
        expect_close(camkit::io::read_npy<float>(path("m.npy")), camkit::explain<camkit::hires_cam>(as_double(A), as_double(G)).map,
                     "channels last");
    }
    // [2, 8, 8, 16] read channels-first: K = 8 equals H = 8 while the last extent differs.
    const auto K = random_tensor<float>({2, 8, 8, 16}, 23);
    camkit::io::write_npy(path("k.npy"), K);
    auto r = run({"cam", "--method", "gradcam", "--activations", path("k.npy"), "--gradients", path("k.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("[2, 8, 8, 16] is read as [N, K, H, W] with K = 8 channels; Keras and TensorFlow arrays are "
                         "[N, H, W, K]: if so, pass --channels-last"),
              std::string::npos)
        << r.err;
    r = run({"cam", "--method", "gradcam", "--activations", path("k.npy"), "--gradients", path("k.npy"), "--out", path("m.npy"),
             "--channels-last"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(camkit::io::read_npy<float>(path("m.npy")).shape, (camkit::shape_t{2, 8, 8}));
    // a cubic volume's channels last, [N, D, H, W, K]
    camkit::io::write_npy(path("k3.npy"), random_tensor<float>({1, 6, 6, 6, 4}, 25));
    r = run({"cam", "--method", "gradcam", "--activations", path("k3.npy"), "--gradients", path("k3.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("[1, 6, 6, 6, 4] is read as [N, K, D, H, W] with K = 6 channels; Keras and TensorFlow arrays are "
                         "[N, D, H, W, K]: if so, pass --channels-last"),
              std::string::npos)
        << r.err;
    // [N, K, H, W] with K = H = W may be one cubic volume [K, D, H, W] without its batch axis: a note
    camkit::io::write_npy(path("cube.npy"), random_tensor<float>({3, 8, 8, 8}, 26));
    r = run({"cam", "--method", "gradcam", "--activations", path("cube.npy"), "--gradients", path("cube.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "camkit cam: note: " + path("cube.npy") + " [3, 8, 8, 8] is read as [N, K, H, W]: 3 samples of 8 channels "
                     "of 8x8 maps; if it is one volume [K, D, H, W], save it with a batch axis, [1, K, D, H, W] "
                     "(np.expand_dims(a, 0))\n");
    EXPECT_EQ(camkit::io::read_npy<float>(path("m.npy")).shape, (camkit::shape_t{3, 8, 8}));
    // smaller cubes, or a batch of one, get none
    camkit::io::write_npy(path("cube.npy"), random_tensor<float>({3, 7, 7, 7}, 26));
    r = run({"cam", "--method", "gradcam", "--activations", path("cube.npy"), "--gradients", path("cube.npy"), "--out", path("m.npy")});
    EXPECT_EQ(r.err, "");
    camkit::io::write_npy(path("cube.npy"), random_tensor<float>({1, 8, 8, 8}, 26));
    r = run({"cam", "--method", "gradcam", "--activations", path("cube.npy"), "--gradients", path("cube.npy"), "--out", path("m.npy")});
    EXPECT_EQ(r.err, "");
    // a volume with its channels first, [N, K, D, H, W], gets no note
    camkit::io::write_npy(path("k3.npy"), random_tensor<float>({1, 4, 6, 6, 6}, 25));
    r = run({"cam", "--method", "gradcam", "--activations", path("k3.npy"), "--gradients", path("k3.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    camkit::io::write_npy(path("two.npy"), random_tensor<float>({2, 3}, 24));
    r = run({"cam", "--method", "gradcam", "--activations", path("two.npy"), "--gradients", path("two.npy"), "--out", path("m.npy"),
             "--channels-last"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("activations (--channels-last) must be [N, L, K], [N, H, W, K] or [N, D, H, W, K], got shape [2, 3]"),
              std::string::npos)
        << r.err;
    // Later checks quote the file's shape and the shape it is read as.
    r = run({"cam", "--method", "gradcam", "--activations", path("k.npy"), "--gradients", path("k.npy"), "--out", path("m.npy"),
             "--channels-last", "--size", "4x4x4"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--size has 3 extents but the activations [2, 8, 8, 16] (read as [2, 16, 8, 8]) have 2 spatial axes"),
              std::string::npos)
        << r.err;
}

TEST_F(CamkitTool, PngHeatmapsSideBySideAndOverlay) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 8), G = random_tensor<float>({2, 3, 4, 5}, 9);
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("g.npy"), G);
    const auto r = run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                        "--out", path("m.npy"), "--png", path("m.png"), "--colormap", "viridis"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto png = camkit::io::read_image(path("m.png"));
    ASSERT_EQ(png.height, 4u);
    ASSERT_EQ(png.width, 5u + 2u + 5u);  // two samples, 2 black pixels apart
    // The pixels are the colormap of the saved map: sample 1, row 3, column 4 sits at x = 7 + 4.
    const auto m = camkit::io::read_npy<float>(path("m.npy"));
    EXPECT_EQ(png.at(3, 11), camkit::colorize(m(1, 3, 4), camkit::colormap::viridis));
    EXPECT_EQ(png.at(0, 0), camkit::colorize(m(0, 0, 0), camkit::colormap::viridis));
    EXPECT_EQ(png.at(2, 5), (camkit::rgb{0, 0, 0}));

    // Maps beyond [0, 1] (no ReLU, no normalization) are shown min-max scaled over the batch, and the
    // summary says so (the colormap clamps: everything above 1 was one red, everything below 0 black).
    const auto raw = run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                          "--no-relu", "--normalize", "none", "--out", path("r.npy"), "--png", path("r.png"), "--colormap",
                          "viridis"});
    ASSERT_EQ(raw.status, 0) << raw.err;
    EXPECT_NE(raw.out.find("the picture shows them min-max scaled)"), std::string::npos) << raw.out;
    EXPECT_EQ(run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                   path("m2.npy"), "--png", path("m2.png")})
                  .out.find("min-max scaled"),
              std::string::npos);
    const auto r_map = camkit::io::read_npy<float>(path("r.npy"));
    const auto [lo, hi] = std::minmax_element(r_map.values.begin(), r_map.values.end());
    ASSERT_LT(*lo, 0.f);
    const auto r_png = camkit::io::read_image(path("r.png"));
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t y = 0; y < 4; ++y)
            for (std::size_t x = 0; x < 5; ++x)
                EXPECT_EQ(r_png.at(y, 7 * n + x), camkit::colorize((r_map(n, y, x) - *lo) / (*hi - *lo), camkit::colormap::viridis));

    // Overlay onto an image: the map is resized to the image, and one panel per sample.
    camkit::rgb_image image(10, 12);
    for (std::size_t y = 0; y < 10; ++y)
        for (std::size_t x = 0; x < 12; ++x) image.set(y, x, {static_cast<std::uint8_t>(20 * x), 90, static_cast<std::uint8_t>(25 * y)});
    camkit::io::write_png(path("img.png"), image);
    ASSERT_EQ(run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                   "--out", path("m.npy"), "--png", path("o.png"), "--image", path("img.png")}).status, 0);
    const auto over = camkit::io::read_image(path("o.png"));
    ASSERT_EQ(over.height, 10u);
    ASSERT_EQ(over.width, 12u + 2u + 12u);
    const auto resized = camkit::resize(m, {10, 12});
    camkit::tensor<float> second({10, 12});
    std::copy(resized.values.begin() + 120, resized.values.end(), second.values.begin());
    const auto expected = camkit::overlay(second, image, camkit::colormap::jet);
    EXPECT_EQ(over.at(7, 14 + 9), expected.at(7, 9));
    EXPECT_EQ(over.at(0, 14), expected.at(0, 0));
}

TEST_F(CamkitTool, HelpVersionAndMethods) {
    const auto help = run({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("usage: camkit <command> [options]"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("  cam       class-activation maps"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("  methods   lists the method names"), std::string::npos) << help.out;
    const auto cam_help = run({"cam", "--help"});
    EXPECT_EQ(cam_help.status, 0);
    EXPECT_NE(cam_help.out.find("usage: camkit cam --method NAME"), std::string::npos);
    EXPECT_NE(cam_help.out.find("--renormalize"), std::string::npos);
    EXPECT_EQ(run({"--version"}).out, std::string("camkit ") + CAMKIT_VERSION_STRING + "\n");
    const auto methods = run({"methods"});
    EXPECT_EQ(methods.status, 0);
    for (auto name : camkit::method_names()) EXPECT_NE(methods.out.find(std::string(name) + " "), std::string::npos) << name;
}

TEST_F(CamkitTool, EveryUsageErrorFailsCleanly) {
    camkit::io::write_npy(path("a.npy"), random_tensor<float>({2, 3, 4, 5}, 10));
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({2, 3, 4, 5}, 11));
    camkit::io::write_npy(path("a3.npy"), random_tensor<float>({1, 2, 3, 4, 5}, 12));
    camkit::io::write_png(path("img.png"), camkit::rgb_image(4, 4));
    // The skeleton: commands and top-level options.
    expect_bad_input({}, "no command given (see 'camkit --help')");
    // The list of commands grows with commands/*.cpp: it holds at least these two.
    const std::string unknown = expect_bad_input({"explain"}, "unknown command 'explain' (commands: ");
    EXPECT_NE(unknown.find("cam, "), std::string::npos) << unknown;
    EXPECT_NE(unknown.find("methods"), std::string::npos) << unknown;
    EXPECT_NE(unknown.find("; see 'camkit --help')"), std::string::npos) << unknown;
    expect_bad_input({"--frobnicate"}, "unknown option '--frobnicate' (see 'camkit --help')");
    expect_bad_input({"methods", "x"}, "'camkit methods' takes no arguments");
    // The option parser.
    expect_bad_input(cam("a.npy", "g.npy", {"--frobnicate"}), "unknown option '--frobnicate' (see 'camkit cam --help')");
    expect_bad_input(cam("a.npy", "g.npy", {"stray"}), "unexpected argument 'stray' (see 'camkit cam --help')");
    expect_bad_input(cam("a.npy", "g.npy", {"--size"}), "--size needs a value");
    expect_bad_input(cam("a.npy", "g.npy", {"--no-relu", "--no-relu"}), "option --no-relu is given twice");
    expect_bad_input(cam("a.npy", "g.npy", {"--renormalize=yes"}), "--renormalize takes no value");
    // Values.
    for (const char* size : {"0x4", "4x", "ax4", "x", "65537", "-3"})
        expect_bad_input(cam("a.npy", "g.npy", {"--size", size}), "--size must be L, HxW or DxHxW with extents from 1 to 65536");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "4x5x6x7"}), "--size must be L, HxW or DxHxW, got '4x5x6x7'");
    for (const char* eps : {"-1", "abc", "inf", "1e999"})
        expect_bad_input(cam("a.npy", "g.npy", {"--eps", eps}), "--eps must be a finite number >= 0");
    expect_bad_input(cam("a.npy", "g.npy", {"--normalize", "l2"}), "--normalize must be min_max, max or none, got 'l2'");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--colormap", "rainbow"}),
                     "--colormap must be jet, turbo or viridis, got 'rainbow'");
    // Output names that promise another format than the option writes (--out and --png mixed up).
    for (const char* name : {"m.png", "m.JPG", "m.jpeg"})
        expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out", path(name)},
                         "--out " + path(name) + ": --out writes numpy's .npy format, not an image; name it .npy, and ask for a "
                         "picture with --png");
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path("w.png")}), "--weights-out " + path("w.png") + ": --weights-out writes numpy's");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.npy")}),
                     "--png " + path("p.npy") + ": --png writes a PNG picture; name it .png (the arrays go to --out)");
    // Required options and combinations.
    expect_bad_input({"cam", "--activations", path("a.npy"), "--gradients", path("g.npy")}, "--method is required (one of: gradcam");
    expect_bad_input({"cam", "--method", "scorecam", "--activations", path("a.npy"), "--out", path("out.npy")},
                     "unknown method 'scorecam' (choose one of: gradcam hirescam");
    expect_bad_input({"cam", "--method", "gradcam", "--out", path("out.npy")}, "--activations is required");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy")}, "--out is required");
    expect_bad_input(cam("a.npy", "g.npy", {"--image", path("img.png")}), "--image needs --png");
    expect_bad_input(cam("a.npy", "g.npy", {"--colormap", "jet"}), "--colormap needs --png");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--out", path("out.npy")},
                     "--gradients is required for method gradcam (only eigencam works without)");
    expect_bad_input({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                      "--out", path("out.npy"), "--weights-out", path("w.npy")},
                     "--weights-out: method hirescam has no channel weights");
    // Shapes and sizes.
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "4x5x6"}), "--size has 3 extents but the activations [2, 3, 4, 5] have 2");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "65536x65536"}),
                     "--size [65536, 65536] for 2 samples is too large: 8589934592 values, at most 2^28");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a3.npy"), "--gradients", path("a3.npy"),
                      "--out", path("out.npy"), "--png", path("p.png"), "--image", path("img.png")},
                     "--image needs 2-D maps, but the activations [1, 2, 3, 4, 5] give 3-D maps");
}

TEST_F(CamkitTool, MalformedInputFilesFailCleanly) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 10);
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({2, 3, 4, 5}, 11));
    camkit::io::write_npy(path("g_other.npy"), random_tensor<float>({2, 3, 4, 6}, 12));
    camkit::io::write_npy(path("rank2.npy"), random_tensor<float>({3, 4}, 13));
    camkit::io::write_npy(path("rank6.npy"), random_tensor<float>({1, 1, 2, 2, 2, 2}, 14));
    camkit::tensor<float> nan_a = A;
    nan_a[7] = std::numeric_limits<float>::quiet_NaN();
    camkit::io::write_npy(path("nan.npy"), nan_a);
    const std::string full = slurp(path("a.npy"));
    write_text(path("truncated.npy"), full.substr(0, full.size() - 4));
    write_text(path("longer.npy"), full + "xx");
    write_text(path("garbage.npy"), "this is not an npy file at all");
    write_text(path("int.npy"), npy_file("{'descr': '<u4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }", 480));
    write_text(path("fortran.npy"), npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4, 5), }", 480));
    write_text(path("bigendian.npy"), npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }", 480));
    write_text(path("not_an_image.png"), "nope");

    expect_bad_input(cam("missing.npy", "g.npy"), "missing.npy: cannot open: No such file or directory");
    expect_bad_input(cam("a.npy", "missing.npy"), "missing.npy: cannot open");
    expect_bad_input(cam("garbage.npy", "g.npy"), "garbage.npy: not an npy file");
    expect_bad_input(cam("truncated.npy", "g.npy"), "truncated.npy: truncated npy file: shape [2, 3, 4, 5] needs 480");
    expect_bad_input(cam("longer.npy", "g.npy"), "longer.npy: npy file has 2 unexpected bytes");
    expect_bad_input(cam("int.npy", "g.npy"), "int.npy: unsupported npy dtype '<u4'");
    expect_bad_input(cam("a.npy", "bigendian.npy"), "bigendian.npy: unsupported npy dtype '>f4'");
    expect_bad_input(cam("fortran.npy", "g.npy"), "fortran.npy: Fortran-order");
    expect_bad_input(cam("a.npy", "g_other.npy"), "have shape [2, 3, 4, 6] but activations");
    expect_bad_input(cam("rank2.npy", "rank2.npy"), "rank2.npy: activations must be [N, K, L], [N, K, H, W] or [N, K, D, H, W], got shape [3, 4]");
    expect_bad_input(cam("rank6.npy", "rank6.npy"), "got shape [1, 1, 2, 2, 2, 2]");
    expect_bad_input(cam("nan.npy", "g.npy"), "camkit: " + path("nan.npy") + ": activations hold NaN or Inf (flat index 7)");
    expect_bad_input(cam("a.npy", "nan.npy"), "camkit: " + path("nan.npy") + ": gradients hold NaN or Inf (flat index 7)");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--image", path("not_an_image.png")}),
                     "not_an_image.png: cannot decode image");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--image", path("missing.png")}),
                     "missing.png: cannot open: No such file or directory");
}

TEST_F(CamkitTool, SpecialFilesAreRefusedWithoutBeingRead) {
    camkit::io::write_npy(path("a.npy"), random_tensor<float>({1, 2, 3, 3}, 15));
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({1, 2, 3, 3}, 16));
    // A FIFO with no writer would block a reader forever (the fixture's time limit would show 124).
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    expect_bad_input(cam("fifo", "g.npy"), "fifo: is not a regular file (a FIFO, socket or device cannot be read as an input)");
    expect_bad_input(cam("a.npy", "fifo"), "fifo: is not a regular file");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--image", path("fifo")}), "fifo: is not a regular file");
    // /dev/zero never ends: refused before anything is read.
    expect_bad_input({"cam", "--method", "gradcam", "--activations", "/dev/zero", "--gradients", path("g.npy"), "--out",
                      path("out.npy")},
                     "/dev/zero: is not a regular file");
    fs::create_directory(path("folder"));
    expect_bad_input(cam("folder", "g.npy"), "folder: is a directory, not a file");
}

TEST_F(CamkitTool, HeadersBoundTheMemoryBeforeAnythingIsRead) {
    // An activation file whose header declares 2^28 + 1 values: a sparse file of the declared size,
    // refused from its header before its 1 GiB of data is read.
    write_text(path("huge.npy"), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 268435457), }", 0));
    fs::resize_file(path("huge.npy"), fs::file_size(path("huge.npy")) + 4 * ((std::uintmax_t{1} << 28) + 1));
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({2, 3, 4, 5}, 17));
    expect_bad_input(cam("huge.npy", "g.npy"), "huge.npy: activations [1, 1, 1, 268435457] is too large: 268435457 values, at most 2^28");
    // A 60-byte PNG whose header claims 16384 x 16384 pixels: refused from its header (the maps
    // resized to it would need 2 · 2^28 values) before any pixel is decoded.
    camkit::io::write_npy(path("a.npy"), random_tensor<float>({2, 3, 4, 5}, 18));
    std::vector<std::uint8_t> one(3, 0);
    std::vector<std::byte> png = camkit::io::encode_png(one.data(), 1, 1);
    // IHDR width and height sit at bytes 16-23 (big-endian); the CRC is not checked by the header read.
    for (int k : {16, 20}) {
        png[k] = std::byte{0}, png[k + 1] = std::byte{0}, png[k + 2] = std::byte{0x40}, png[k + 3] = std::byte{0};
    }
    write_text(path("huge.png"), std::string(reinterpret_cast<const char*>(png.data()), png.size()));
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--image", path("huge.png")}),
                     "--image " + path("huge.png") + " of 16384x16384 for 2 samples is too large: 536870912 values");
    // 1000 1-D maps of 30000 values fit the value bound but their picture (strips 16 pixels high,
    // side by side) does not fit a PNG: refused before the maps are computed, and no output appears.
    camkit::io::write_npy(path("a1.npy"), random_tensor<float>({1000, 2, 8}, 19));
    expect_bad_input(cam("a1.npy", "a1.npy", {"--size", "30000", "--png", path("m1.png")}),
                     "--png: the picture of the maps [1000, 30000] would be 16x30001998 pixels, too large for a PNG "
                     "(at most 1073741823 bytes of pixel rows); pass fewer samples, a smaller --size, or no --png");
    // the size every layout's picture has, as maps_picture draws it
    for (const camkit::shape_t& maps : {camkit::shape_t{3, 7}, camkit::shape_t{2, 5, 6}, camkit::shape_t{2, 10, 3, 4},
                                        camkit::shape_t{1, 1, 2, 2}, camkit::shape_t{4, 6, 5, 1}}) {
        const camkit::rgb_image picture = camkit_cli::maps_picture(camkit::tensor<float>(maps), camkit::colormap::jet);
        EXPECT_EQ(camkit_cli::maps_picture_size(maps), (std::array<std::size_t, 2>{picture.height, picture.width}))
            << camkit::to_string(maps);
    }
}

TEST_F(CamkitTool, OutputsAreCheckedBeforeAnyWork) {
    camkit::io::write_npy(path("a.npy"), random_tensor<float>({1, 2, 3, 3}, 19));
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({1, 2, 3, 3}, 20));
    camkit::io::write_png(path("img.png"), camkit::rgb_image(3, 3));
    fs::create_directory(path("dir"));
    // An output that is an input, however spelled: the input is never overwritten.
    expect_bad_input(cam("a.npy", "g.npy", {"--out", path("a.npy")}), "option --out is given twice");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      (dir_ / "dir" / ".." / "a.npy").string()},
                     "--out and --activations are the same file");
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", (dir_ / "." / "g.npy").string()}),
                     "--weights-out and --gradients are the same file");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("img.png"), "--image", path("img.png")}),
                     "--png and --image are the same file");
    fs::create_symlink(path("a.npy"), path("link.npy"));
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      path("link.npy")},
                     "--out and --activations are the same file");
    fs::create_hard_link(path("g.npy"), path("hard.npy"));
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path("hard.npy")}), "--weights-out and --gradients are the same file");
    // Two outputs spelled differently: dir/./map.npy, dir//map.npy and a symlinked folder.
    const std::string map1 = (dir_ / "dir" / "." / "map.npy").string(), map2 = path("dir") + "//map.npy";
    fs::create_directory_symlink(path("dir"), path("dirlink"));
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      map1, "--weights-out", map2},
                     "--weights-out and --out are the same file");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      map1, "--weights-out", path("dirlink") + "/map.npy"},
                     "--weights-out and --out are the same file");
    // Outputs that cannot be written are found before any work, and nothing is written.
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("dir")}), "dir: cannot write: it is a directory");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("no_such_folder/p.png")}),
                     "no_such_folder/p.png: cannot write: the folder '" + path("no_such_folder") + "' does not exist");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("img.png/p.png")}), "cannot write: '" + path("img.png") + "' is not a folder");
    ASSERT_EQ(::mkfifo(path("fifo.npy").c_str(), 0600), 0);
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path("fifo.npy")}), "fifo.npy: cannot write: it exists and is not a regular file");
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path(std::string(252, 'w') + ".npy")}),
                     "cannot write: its file name is 256 bytes long, longer than file systems allow (255)");
    if (::geteuid() != 0) {  // root writes anywhere
        fs::create_directory(path("readonly"));
        fs::permissions(path("readonly"), fs::perms::owner_read | fs::perms::owner_exec);
        expect_bad_input(cam("a.npy", "g.npy", {"--png", path("readonly/p.png")}),
                         "p.png: cannot write into the folder '" + path("readonly") + "': Permission denied");
        fs::permissions(path("readonly"), fs::perms::owner_all);
    }
}

TEST_F(CamkitTool, AFailureLeavesExistingOutputsUntouched) {
    camkit::io::write_npy(path("a.npy"), random_tensor<float>({1, 2, 3, 3}, 21));
    camkit::io::write_npy(path("g.npy"), random_tensor<float>({1, 2, 3, 3}, 22));
    write_text(path("out.npy"), "previous contents");
    write_text(path("w.npy"), "previous weights");
    fs::create_directory(path("dir"));
    // The second output is a folder: the first is not written either (all or nothing).
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path("w.npy"), "--png", path("dir")}), "cannot write: it is a directory");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "0"}), "--size must be");
    EXPECT_EQ(slurp(path("out.npy")), "previous contents");
    EXPECT_EQ(slurp(path("w.npy")), "previous weights");
}

TEST_F(CamkitTool, LongOutputNamesWork) {
    const auto A = random_tensor<float>({1, 2, 3, 3}, 23), G = random_tensor<float>({1, 2, 3, 3}, 24);
    camkit::io::write_npy(path("a.npy"), A);
    camkit::io::write_npy(path("g.npy"), G);
    // 230 and 255 characters: the staging files have short names of their own.
    for (std::size_t n : {230u, 255u}) {
        const std::string out = path(std::string(n - 4, 'm') + ".npy"), png = path(std::string(n - 4, 'p') + ".png");
        const auto r = run({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                            "--out", out, "--png", png});
        ASSERT_EQ(r.status, 0) << r.err;
        expect_close(camkit::io::read_npy<float>(out), camkit::explain<camkit::grad_cam>(as_double(A), as_double(G)).map,
                     std::to_string(n));
        EXPECT_EQ(camkit::io::read_image(png).width, 3u);
    }
    EXPECT_EQ(files().size(), 6u);  // inputs and outputs, no staging file
}

TEST_F(CamkitTool, NonFiniteResultsAreErrorsNamingTheCause) {
    const auto constant = [](double v, const camkit::shape_t& s) { return camkit::tensor<double>(s, v); };
    // Finite inputs near 1e300: the products overflow float64.
    camkit::io::write_npy(path("big.npy"), constant(1e300, {1, 2, 2, 2}));
    expect_bad_input(cam("big.npy", "big.npy"),
                     "the raw map of sample 0 is not finite: the activations and gradients are finite but their products "
                     "overflow float64; rescale the inputs");
    // Grad-CAM++'s weights use g^2 and g^3: they overflow first.
    expect_bad_input({"cam", "--method", "gradcam++", "--activations", path("big.npy"), "--gradients", path("big.npy"),
                      "--out", path("out.npy")},
                     "are not finite");
    // A constant map normalized with --eps 0 divides 0 by 0.
    camkit::io::write_npy(path("one.npy"), constant(1.0, {1, 2, 2, 2}));
    expect_bad_input(cam("one.npy", "one.npy", {"--eps", "0"}),
                     "the map of sample 0 is not finite: min_max normalization of a constant map divides by zero with --eps 0");
    // A raw map from -1e308 to 1e308: its range overflows, so min-max normalization gives NaN.
    camkit::io::write_npy(path("wide.npy"), camkit::tensor<double>({1, 1, 1, 2}, std::vector<double>{1e308, -1e308}));
    camkit::io::write_npy(path("ones.npy"), camkit::tensor<double>({1, 1, 1, 2}, 1.0));
    expect_bad_input(cam("wide.npy", "ones.npy", {"--no-relu"}),
                     "the map of sample 0 is not finite after min_max normalization: its range (max - min) overflows float64");
    // Unnormalized maps beyond float32's range cannot be written as float32.
    camkit::io::write_npy(path("e30.npy"), constant(1e30, {1, 2, 2, 2}));
    expect_bad_input(cam("e30.npy", "e30.npy", {"--normalize", "none"}), "the map holds values beyond float32's range");
    // With ε > 0 the same constant map is fine: zeros.
    const auto r = run(cam("one.npy", "one.npy"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(camkit::io::read_npy<float>(path("out.npy")).values, std::vector<float>(4, 0.0f));
}

}  // namespace
