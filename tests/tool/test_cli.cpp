// The `camkit` tool end to end: its maps equal camkit::explain's for every method and pipeline
// variant, and every kind of bad input gives exit status 2, one line on stderr and no output file.
#include <camkit/camkit.hpp>
#include <camkit/overlay.hpp>
#include <camkit/xtensor/image.hpp>
#include <camkit/xtensor/npy.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct run_result {
    int status = -1;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class CamkitTool : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / ("camkit_tool_test_" + std::string(info->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    /// Runs the tool with `args` (each single-quoted for the shell), capturing stdout and stderr.
    run_result run(const std::vector<std::string>& args) const {
        std::string cmd = "'" CAMKIT_TOOL_PATH "'";
        for (const auto& a : args) cmd += " '" + a + "'";
        const fs::path o = dir_ / "stdout.txt", e = dir_ / "stderr.txt";
        cmd += " >'" + o.string() + "' 2>'" + e.string() + "'";
        const int raw = std::system(cmd.c_str());
        run_result r;
        r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        r.out = slurp(o);
        r.err = slurp(e);
        fs::remove(o);
        fs::remove(e);
        return r;
    }

    /// The files in the test folder (inputs and outputs), to check that a failure wrote nothing.
    std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    /// Expects a clean failure: status 2, one line on stderr starting "camkit: " and containing
    /// `needle`, and no new file in the folder (no output, no temporary or staging file).
    void expect_bad_input(const std::vector<std::string>& args, const std::string& needle) {
        const auto before = files();
        const run_result r = run(args);
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_EQ(r.err.rfind("camkit: ", 0), 0u) << r.err;
        ASSERT_FALSE(r.err.empty());
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "expected: " << needle;
        EXPECT_EQ(files(), before) << r.err;
    }

    fs::path dir_;
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
void save(const std::string& path, const camkit::tensor<T>& t) {
    xt::xarray<T> x(t.shape);
    std::copy(t.values.begin(), t.values.end(), x.data());
    camkit::xtensor::save_npy(path, x);
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

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
void expect_close(const xt::xarray<float>& got, const camkit::tensor<T>& want, const std::string& what) {
    ASSERT_EQ(camkit::shape_t(got.shape().begin(), got.shape().end()), want.shape) << what;
    double scale = 1e-12;
    for (auto v : want.values) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got.data()[i], static_cast<double>(want[i]), 1e-5 * scale) << what << " at " << i;
}

TEST_F(CamkitTool, EveryMethodMatchesTheLibrary) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 1), G = random_tensor<float>({2, 3, 4, 5}, 2);
    save(path("a.npy"), A);
    save(path("g.npy"), G);
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
        for (const auto& v : variants) {
            const std::string what = std::string(M::name) + " " + ::testing::PrintToString(v.args);
            // The library on the same float32 values, computed in double as the tool does.
            const camkit::tensor<double> Ad(A.shape, std::vector<double>(A.values.begin(), A.values.end()));
            const camkit::tensor<double> Gd(G.shape, std::vector<double>(G.values.begin(), G.values.end()));
            const auto want = camkit::explain<M>(Ad, Gd, v.opt);
            std::vector<std::string> args = {"cam", "--method", std::string(M::name), "--activations", path("a.npy"),
                                             "--gradients", path("g.npy"), "--out", path("map.npy")};
            if (want.weights) args.insert(args.end(), {"--weights-out", path("w.npy")});
            args.insert(args.end(), v.args.begin(), v.args.end());
            const run_result r = run(args);
            ASSERT_EQ(r.status, 0) << what << ": " << r.err;
            EXPECT_EQ(r.err, "") << what;
            expect_close(camkit::xtensor::load_npy<float>(path("map.npy")), want.map, what + " map");
            if (want.weights) expect_close(camkit::xtensor::load_npy<float>(path("w.npy")), *want.weights, what + " weights");
            // The output really is float32 on disk.
            EXPECT_EQ(camkit::io::parse_npy(camkit::io::read_file(path("map.npy"))).dtype,
                      camkit::io::npy_dtype::float32);
        }
    });
    EXPECT_EQ(methods, 8);
}

TEST_F(CamkitTool, EigenCamNeedsNoGradients) {
    const auto A = random_tensor<double>({2, 4, 6, 5}, 3);
    save(path("a.npy"), A);
    const run_result r = run({"cam", "--method", "eigencam", "--activations", path("a.npy"), "--out", path("m.npy")});
    ASSERT_EQ(r.status, 0) << r.err;
    expect_close(camkit::xtensor::load_npy<float>(path("m.npy")), camkit::explain<camkit::eigen_cam>(A).map, "eigencam");
}

TEST_F(CamkitTool, OneAndThreeSpatialAxesAndFloat64) {
    const auto A1 = random_tensor<double>({3, 2, 9}, 4), G1 = random_tensor<double>({3, 2, 9}, 5);
    save(path("a1.npy"), A1);
    save(path("g1.npy"), G1);
    camkit::options o1;
    o1.size = {20};
    ASSERT_EQ(run({"cam", "--method", "layercam", "--activations", path("a1.npy"), "--gradients", path("g1.npy"),
                   "--out", path("m1.npy"), "--size", "20"}).status, 0);
    expect_close(camkit::xtensor::load_npy<float>(path("m1.npy")), camkit::explain<camkit::layer_cam>(A1, G1, o1).map, "1-D");

    const auto A3 = random_tensor<float>({1, 2, 3, 4, 5}, 6), G3 = random_tensor<float>({1, 2, 3, 4, 5}, 7);
    save(path("a3.npy"), A3);
    save(path("g3.npy"), G3);
    camkit::options o3;
    o3.size = {6, 8, 10};
    ASSERT_EQ(run({"cam", "--method", "gradcam++", "--activations", path("a3.npy"), "--gradients", path("g3.npy"),
                   "--out", path("m3.npy"), "--size", "6x8x10", "--png", path("m3.png")}).status, 0);
    const camkit::tensor<double> A3d(A3.shape, std::vector<double>(A3.values.begin(), A3.values.end()));
    const camkit::tensor<double> G3d(G3.shape, std::vector<double>(G3.values.begin(), G3.values.end()));
    expect_close(camkit::xtensor::load_npy<float>(path("m3.npy")),
                 camkit::explain<camkit::grad_cam_plus_plus>(A3d, G3d, o3).map, "3-D");
    // 6 slices of 8x10 in a 3-column grid with 1-pixel lines: 2·8+1 high, 3·10+2 wide.
    const auto png = camkit::xtensor::read_image(path("m3.png"));
    EXPECT_EQ(png.height, 17u);
    EXPECT_EQ(png.width, 32u);
}

TEST_F(CamkitTool, PngHeatmapsSideBySideAndOverlay) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 8), G = random_tensor<float>({2, 3, 4, 5}, 9);
    save(path("a.npy"), A);
    save(path("g.npy"), G);
    const run_result r = run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                              "--out", path("m.npy"), "--png", path("m.png"), "--colormap", "viridis"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto png = camkit::xtensor::read_image(path("m.png"));
    ASSERT_EQ(png.height, 4u);
    ASSERT_EQ(png.width, 5u + 2u + 5u);  // two samples, 2 black pixels apart
    // The pixels are the colormap of the saved map: sample 1, row 3, column 4 sits at x = 7 + 4.
    const auto m = camkit::xtensor::load_npy<float>(path("m.npy"));
    EXPECT_EQ(png.at(3, 11), camkit::colorize(m(1, 3, 4), camkit::colormap::viridis));
    EXPECT_EQ(png.at(0, 0), camkit::colorize(m(0, 0, 0), camkit::colormap::viridis));
    EXPECT_EQ(png.at(2, 5), (camkit::rgb{0, 0, 0}));

    // Overlay onto an image: the map is resized to the image, and one panel per sample.
    camkit::rgb_image image(10, 12);
    for (std::size_t y = 0; y < 10; ++y)
        for (std::size_t x = 0; x < 12; ++x) image.set(y, x, {static_cast<std::uint8_t>(20 * x), 90, static_cast<std::uint8_t>(25 * y)});
    camkit::xtensor::write_png(path("img.png"), image);
    ASSERT_EQ(run({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                   "--out", path("m.npy"), "--png", path("o.png"), "--image", path("img.png")}).status, 0);
    const auto over = camkit::xtensor::read_image(path("o.png"));
    ASSERT_EQ(over.height, 10u);
    ASSERT_EQ(over.width, 12u + 2u + 12u);
    camkit::tensor<float> maps({2, 4, 5});
    std::copy(m.begin(), m.end(), maps.values.begin());
    const auto resized = camkit::resize(maps, {10, 12});
    camkit::tensor<float> second({10, 12});
    std::copy(resized.values.begin() + 120, resized.values.end(), second.values.begin());
    const auto expected = camkit::overlay(second, image, camkit::colormap::jet);
    EXPECT_EQ(over.at(7, 14 + 9), expected.at(7, 9));
    EXPECT_EQ(over.at(0, 14), expected.at(0, 0));
}

TEST_F(CamkitTool, HelpVersionAndMethods) {
    const auto help = run({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("  cam       class-activation maps"), std::string::npos);
    const auto cam_help = run({"cam", "--help"});
    EXPECT_EQ(cam_help.status, 0);
    EXPECT_NE(cam_help.out.find("--renormalize"), std::string::npos);
    EXPECT_EQ(run({"--version"}).out, std::string("camkit ") + CAMKIT_VERSION_STRING + "\n");
    const auto methods = run({"methods"});
    EXPECT_EQ(methods.status, 0);
    for (auto name : camkit::method_names()) EXPECT_NE(methods.out.find(std::string(name) + " "), std::string::npos) << name;
}

TEST_F(CamkitTool, BadInputFailsCleanly) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 10), G = random_tensor<float>({2, 3, 4, 5}, 11);
    save(path("a.npy"), A);
    save(path("g.npy"), G);
    save(path("g_other.npy"), random_tensor<float>({2, 3, 4, 6}, 12));
    save(path("rank2.npy"), random_tensor<float>({3, 4}, 13));
    save(path("rank6.npy"), random_tensor<float>({1, 1, 2, 2, 2, 2}, 14));
    camkit::tensor<float> nan_a = A;
    nan_a[7] = std::numeric_limits<float>::quiet_NaN();
    save(path("nan.npy"), nan_a);
    const std::string full = slurp(path("a.npy"));
    write_bytes(path("truncated.npy"), full.substr(0, full.size() - 4));
    write_bytes(path("garbage.npy"), "this is not an npy file at all");
    write_bytes(path("int.npy"), npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }", 480));
    write_bytes(path("fortran.npy"), npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4, 5), }", 480));
    write_bytes(path("bigendian.npy"), npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }", 480));
    write_bytes(path("not_an_image.png"), "nope");

    const auto cam = [&](const std::string& a, const std::string& g, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"cam", "--method", "gradcam", "--activations", path(a), "--gradients", path(g),
                                         "--out", path("out.npy")};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    expect_bad_input(cam("missing.npy", "g.npy"), "missing.npy: cannot open: No such file or directory");
    expect_bad_input(cam("a.npy", "missing.npy"), "missing.npy: cannot open");
    expect_bad_input(cam("garbage.npy", "g.npy"), "garbage.npy: not an npy file");
    expect_bad_input(cam("truncated.npy", "g.npy"), "truncated.npy: truncated npy file");
    expect_bad_input(cam("int.npy", "g.npy"), "int.npy: unsupported npy dtype '<i4'");
    expect_bad_input(cam("a.npy", "bigendian.npy"), "unsupported npy dtype '>f4'");
    expect_bad_input(cam("fortran.npy", "g.npy"), "fortran.npy: Fortran-order");
    expect_bad_input(cam("a.npy", "g_other.npy"), "have shape [2, 3, 4, 6] but activations");
    expect_bad_input(cam("rank2.npy", "rank2.npy"), "got shape [3, 4]");
    expect_bad_input(cam("rank6.npy", "rank6.npy"), "got shape [1, 1, 2, 2, 2, 2]");
    expect_bad_input(cam("nan.npy", "g.npy"), "camkit: ");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "0x4"}), "--size must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "4x"}), "--size must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "ax4"}), "--size must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "4x5x6x7"}), "--size must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "4x5x6"}), "--size has 3 extents but the activations [2, 3, 4, 5] have 2");
    expect_bad_input(cam("a.npy", "g.npy", {"--size", "65536x65536"}), "too large");
    expect_bad_input(cam("a.npy", "g.npy", {"--eps", "-1"}), "--eps must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--normalize", "l2"}), "--normalize must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--colormap", "jet"}), "--colormap needs --png");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--colormap", "rainbow"}), "--colormap must be");
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("p.png"), "--image", path("not_an_image.png")}),
                     "not_an_image.png: cannot decode image");
    expect_bad_input(cam("a.npy", "g.npy", {"--frobnicate"}), "unknown option '--frobnicate'");
    expect_bad_input(cam("a.npy", "g.npy", {"--size"}), "--size needs a value");
    expect_bad_input(cam("a.npy", "g.npy", {"--no-relu", "--no-relu"}), "given twice");
    expect_bad_input(cam("a.npy", "g.npy", {"--weights-out", path("out.npy")}), "--weights-out and --out are the same file");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--out", path("out.npy")},
                     "--gradients is required");
    expect_bad_input({"cam", "--method", "hirescam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      path("out.npy"), "--weights-out", path("w.npy")},
                     "has no channel weights");
    expect_bad_input({"cam", "--method", "scorecam", "--activations", path("a.npy"), "--gradients", path("g.npy"), "--out",
                      path("out.npy")},
                     "unknown method 'scorecam' (choose one of: gradcam hirescam");
    expect_bad_input({"cam", "--activations", path("a.npy"), "--gradients", path("g.npy")}, "--method is required");
    expect_bad_input({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy")},
                     "--out is required");
    expect_bad_input({"explain"}, "unknown command 'explain'");
    expect_bad_input({"--frobnicate"}, "unknown option '--frobnicate'");
    expect_bad_input({}, "no command given");
    // All or nothing: when the PNG cannot be written, the map is not written either.
    expect_bad_input(cam("a.npy", "g.npy", {"--png", path("no_such_folder/p.png")}), "no_such_folder/p.png: cannot write");
    EXPECT_FALSE(fs::exists(path("out.npy")));
}

TEST_F(CamkitTool, FailedRunKeepsAnExistingOutput) {
    const auto A = random_tensor<float>({1, 2, 3, 3}, 15), G = random_tensor<float>({1, 2, 3, 3}, 16);
    save(path("a.npy"), A);
    save(path("g.npy"), G);
    write_bytes(path("out.npy"), "previous contents");
    const run_result r = run({"cam", "--method", "gradcam", "--activations", path("a.npy"), "--gradients", path("g.npy"),
                              "--out", path("out.npy"), "--size", "0"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(slurp(path("out.npy")), "previous contents");
}

}  // namespace
