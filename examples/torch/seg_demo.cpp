// camkit-seg-demo: Seg-Grad-CAM and Seg-HiRes-Grad-CAM end to end on the CPU.
//
// 1. makes a synthetic segmentation data set (textured shapes on textured backgrounds, exact masks),
// 2. trains a small U-Net with the LibTorch C++ frontend for a fixed number of steps on one thread
//    (weights cached under a key of every setting that changes them, so a second run starts at once),
// 3. explains every class with Seg-Grad-CAM and Seg-HiRes-Grad-CAM at an encoder and a decoder layer,
//    writes comparison panels as PNG and prints localization metrics over a held-out set,
// 4. exports the model to TorchScript and checks that explaining the exported file's named layer gives
//    the same maps as the in-process tap; writes the held-out set as PNG images and class-index masks
//    for `camkit-torch analyze`.
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>  // TORCH_VERSION, part of the cache key

#include <camkit/xtensor/image.hpp>  // first: it compiles its own private copy of stb

#include <camkit/camkit.hpp>
#include <camkit/colormap.hpp>
#include <camkit/metrics.hpp>
#include <camkit/overlay.hpp>
#include <camkit/segmentation.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/scripted.hpp>
#include "../common/font.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <numbers>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace demo {

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

constexpr int image_size = 64;
constexpr int channels = 3;  // RGB in [0, 1], what camkit-torch makes of a PNG (grey pictures: R = G = B)
constexpr int class_count = 4;  // background, circle, square, triangle
const std::array<const char*, class_count> class_names{"BACKGROUND", "CIRCLE", "SQUARE", "TRIANGLE"};
// Part of the cache key: change it whenever the network, the data or the training loop changes.
constexpr const char* model_version = "unet8bn-v3";
// Training runs on one thread whatever --threads says: the order of a parallel reduction depends on
// the thread count, so one thread is what makes the weights (and the published numbers) repeatable.
constexpr int training_threads = 1;
// Training progress is cached this often (steps), so an interrupted run continues where it stopped.
constexpr int checkpoint_every = 25;

struct settings {
    fs::path out_dir = "camkit-demo-out";
    std::optional<fs::path> cache_dir;
    std::uint64_t seed = 7;
    int threads = 2;
    int steps = 500;
    int batch = 8;
    double lr = 6e-3;
    int heldout_images = 200;
    double max_train_seconds = 0;  // 0: no limit; a limit pauses (checkpoint cached), it never truncates
    int panels = 3;
    bool retrain = false;
};

// ---------------------------------------------------------------------------------------------
// Synthetic data set in the spirit of TextureMNIST: shapes filled with one texture on a
// background of another; classes differ only by shape, so the network must see geometry.
// ---------------------------------------------------------------------------------------------

/// Small deterministic generator (splitmix64) so the data set is the same on every platform.
struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform(double lo = 0, double hi = 1) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
    int integer(int lo, int hi) { return lo + int(next() % std::uint64_t(hi - lo + 1)); }
};

/// The seed of one independent stream of images: 0 is the held-out set, 1 + k training step k.
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream) {
    rng r{seed ^ (0xD1B54A32D192ED03ull * (stream + 1))};
    return r.next();
}

/// A sinusoid grating plus noise: value at pixel (x, y).
struct texture {
    double mean, amplitude, fx, fy, phase, noise;
    static texture random(rng& r, double mean, double freq_lo, double freq_hi) {
        const double f = r.uniform(freq_lo, freq_hi), angle = r.uniform(0, std::numbers::pi);
        return {mean, r.uniform(0.12, 0.22), f * std::cos(angle), f * std::sin(angle), r.uniform(0, 2 * std::numbers::pi),
                r.uniform(0.03, 0.08)};
    }
    double at(rng& r, int x, int y) const {
        return mean + amplitude * std::sin(2 * std::numbers::pi * (fx * x + fy * y) + phase) + noise * r.uniform(-1, 1);
    }
};

/// A circle (class 1), axis-aligned square (2) or equilateral triangle (3) of circumradius `radius`.
struct shape {
    int cls;
    double cx, cy, radius;
    bool contains(double x, double y) const {
        const double dx = x - cx, dy = y - cy;
        if (cls == 1) return dx * dx + dy * dy <= radius * radius;
        if (cls == 2) return std::abs(dx) <= radius * 0.8 && std::abs(dy) <= radius * 0.8;
        // triangle: inside its three edges, whose outward normals point at 270, 30 and 150 degrees
        constexpr double h = 0.8660254037844386;  // sin(60 degrees)
        return dy >= -radius / 2 && -h * dx - 0.5 * dy >= -radius / 2 && h * dx - 0.5 * dy >= -radius / 2;
    }
};

struct data_set {
    torch::Tensor images;  // [N, 3, H, W] float32, multiples of 1/255 in [0, 1] (exact in an 8-bit PNG), R = G = B
    torch::Tensor labels;  // [N, H, W] int64 class per pixel
};

/// Makes `n` images with 1 to 3 non-overlapping shapes each, deterministic from `seed`.
data_set make_data_set(int n, std::uint64_t seed) {
    const int S = image_size;
    auto grey = torch::empty({n, 1, S, S});
    auto labels = torch::zeros({n, S, S}, torch::kLong);
    auto img = grey.accessor<float, 4>();
    auto lab = labels.accessor<std::int64_t, 3>();
    rng r{seed};
    for (int i = 0; i < n; ++i) {
        const double bg_mean = r.uniform(0.35, 0.65);
        const texture bg = texture::random(r, bg_mean, 0.03, 0.09);
        std::vector<shape> shapes;
        const int count = r.integer(1, 3);
        for (int attempt = 0; attempt < 50 && int(shapes.size()) < count; ++attempt) {
            shape s{r.integer(1, 3), r.uniform(12, S - 12), r.uniform(12, S - 12), r.uniform(8, 13)};
            bool free = true;
            for (const shape& o : shapes)
                free = free && std::hypot(s.cx - o.cx, s.cy - o.cy) > s.radius + o.radius + 2;
            if (free) shapes.push_back(s);
        }
        std::vector<texture> fills;
        for (std::size_t k = 0; k < shapes.size(); ++k)
            fills.push_back(texture::random(r, bg_mean + (r.uniform() < 0.5 ? -1 : 1) * r.uniform(0.08, 0.2), 0.18, 0.3));
        for (int y = 0; y < S; ++y)
            for (int x = 0; x < S; ++x) {
                double v = bg.at(r, x, y);
                for (std::size_t k = 0; k < shapes.size(); ++k)
                    if (shapes[k].contains(x + 0.5, y + 0.5)) {
                        v = fills[k].at(r, x, y);
                        lab[i][y][x] = shapes[k].cls;
                    }
                img[i][0][y][x] = float(std::lround(255 * std::clamp(v, 0.0, 1.0))) / 255.0f;
            }
    }
    return {grey.expand({n, channels, S, S}).contiguous(), labels};
}

// ---------------------------------------------------------------------------------------------
// The U-Net (C++ frontend). It calls the tap at the encoder's deepest block and at a decoder block.
// ---------------------------------------------------------------------------------------------

/// Two 3x3 convolutions, each followed by batch normalization and ReLU.
struct block_impl : torch::nn::Module {
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
    block_impl(int in, int out)
        : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)))),
          conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1)))),
          bn1(register_module("bn1", torch::nn::BatchNorm2d(out))),
          bn2(register_module("bn2", torch::nn::BatchNorm2d(out))) {}
    torch::Tensor forward(const torch::Tensor& x) { return torch::relu(bn2(conv2(torch::relu(bn1(conv1(x)))))); }
};
TORCH_MODULE_IMPL(block, block_impl);

/// A three-level U-Net: 8, 16, 32 channels at 64, 32, 16 pixels.
struct unet_impl : torch::nn::Module {
    block enc1{nullptr}, enc2{nullptr}, enc3{nullptr}, dec2{nullptr}, dec1{nullptr};
    torch::nn::ConvTranspose2d up2{nullptr}, up1{nullptr};
    torch::nn::Conv2d head{nullptr};
    camkit::torch::tap enc_tap, dec_tap;  // capture points for the explanations (passthrough unless recording)
    unet_impl() {
        enc1 = register_module("enc1", block(channels, 8));
        enc2 = register_module("enc2", block(8, 16));
        enc3 = register_module("enc3", block(16, 32));
        up2 = register_module("up2", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(32, 16, 2).stride(2)));
        dec2 = register_module("dec2", block(32, 16));
        up1 = register_module("up1", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(16, 8, 2).stride(2)));
        dec1 = register_module("dec1", block(16, 8));
        head = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, class_count, 1)));
    }
    torch::Tensor forward(const torch::Tensor& x) {
        auto e1 = enc1(x);
        auto e2 = enc2(torch::max_pool2d(e1, 2));
        auto e3 = enc_tap(enc3(torch::max_pool2d(e2, 2)));
        auto d2 = dec_tap(dec2(torch::cat({up2(e3), e2}, 1)));
        auto d1 = dec1(torch::cat({up1(d2), e1}, 1));
        return head(d1);
    }
};
TORCH_MODULE_IMPL(unet, unet_impl);

/// The same network as TorchScript source; one class per layer so that each block is a named
/// submodule ("enc3", "dec2.conv1") whose output can be explained by name.
torch::jit::Module export_torchscript(unet& model) {
    auto cu = std::make_shared<torch::jit::CompilationUnit>();
    auto params = model->named_parameters(true);
    auto buffers = model->named_buffers(true);
    auto conv = [&](const std::string& path, const char* call) {
        torch::jit::Module m(c10::QualifiedName("__torch__.camkit_demo.Conv"), cu, /*shouldMangle=*/true);
        m.register_parameter("weight", params[path + ".weight"].detach().clone().requires_grad_(true), false);
        m.register_parameter("bias", params[path + ".bias"].detach().clone().requires_grad_(true), false);
        m.define(std::string("def forward(self, x):\n    return ") + call + "\n");
        return m;
    };
    const char* conv3 = "torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])";
    const char* conv1 = "torch.conv2d(x, self.weight, self.bias)";
    const char* upconv = "torch.conv_transpose2d(x, self.weight, self.bias, [2, 2])";
    auto norm = [&](const std::string& path) {  // batch normalization in inference form
        torch::jit::Module m(c10::QualifiedName("__torch__.camkit_demo.Norm"), cu, true);
        m.register_parameter("weight", params[path + ".weight"].detach().clone().requires_grad_(true), false);
        m.register_parameter("bias", params[path + ".bias"].detach().clone().requires_grad_(true), false);
        m.register_buffer("running_mean", buffers[path + ".running_mean"].detach().clone());
        m.register_buffer("running_var", buffers[path + ".running_var"].detach().clone());
        m.define("def forward(self, x):\n    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, "
                 "self.running_var, False, 0.1, 1e-05, False)\n");
        return m;
    };
    auto make_block = [&](const std::string& name) {
        torch::jit::Module b(c10::QualifiedName("__torch__.camkit_demo.Block"), cu, true);
        b.register_module("conv1", conv(name + ".conv1", conv3));
        b.register_module("bn1", norm(name + ".bn1"));
        b.register_module("conv2", conv(name + ".conv2", conv3));
        b.register_module("bn2", norm(name + ".bn2"));
        // Submodules are called through .forward: Module::define resolves `self` as a plain object.
        b.define("def forward(self, x):\n    return torch.relu(self.bn2.forward(self.conv2.forward(torch.relu("
                 "self.bn1.forward(self.conv1.forward(x))))))\n");
        return b;
    };
    torch::jit::Module net(c10::QualifiedName("__torch__.camkit_demo.UNet"), cu, true);
    for (const char* name : {"enc1", "enc2", "enc3"}) net.register_module(name, make_block(name));
    net.register_module("up2", conv("up2", upconv));
    net.register_module("dec2", make_block("dec2"));
    net.register_module("up1", conv("up1", upconv));
    net.register_module("dec1", make_block("dec1"));
    net.register_module("head", conv("head", conv1));
    net.define(R"(
def forward(self, x):
    e1 = self.enc1.forward(x)
    e2 = self.enc2.forward(torch.max_pool2d(e1, [2, 2]))
    e3 = self.enc3.forward(torch.max_pool2d(e2, [2, 2]))
    d2 = self.dec2.forward(torch.cat([self.up2.forward(e3), e2], 1))
    d1 = self.dec1.forward(torch.cat([self.up1.forward(d2), e1], 1))
    return self.head.forward(d1)
)");
    net.eval();
    return net;
}

// ---------------------------------------------------------------------------------------------
// Training: a fixed number of steps on fresh images, with a progress bar, checkpoints and the
// weight cache. Nothing depends on the clock: the images, the learning rate and the optimizer state
// are functions of the step, so a run that is interrupted and resumed ends with the same weights.
// ---------------------------------------------------------------------------------------------

using seconds = std::chrono::duration<double>;
using clock = std::chrono::steady_clock;

std::string format_seconds(double s) {
    char buf[32];
    if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%.0fs", s);
    return buf;
}

/// One line of progress on stderr; redrawn in place on a terminal, every tenth of the run otherwise.
struct progress_bar {
    bool tty = isatty(STDERR_FILENO) != 0;
    void show(int step, int steps, double loss, double elapsed, double eta) {
        const bool last = step == steps;
        if (!tty && !last && step % std::max(steps / 10, 1) != 0) return;
        const int width = 28;
        std::string bar(std::size_t(width), '.');
        for (int i = 0; i < int(double(step) / steps * width + 0.5); ++i) bar[std::size_t(i)] = '#';
        std::fprintf(stderr, "%s[%s] step %4d/%d loss %.4f %s elapsed, ETA %s   %s", tty ? "\r" : "", bar.c_str(), step, steps,
                     loss, format_seconds(elapsed).c_str(), format_seconds(eta).c_str(), (!tty || last) ? "\n" : "");
        std::fflush(stderr);
    }
};

/// The learning rate of step k (from 0): a linear warm-up over the first 5% of the steps, then a
/// cosine decay to 1% of the peak at the last step.
double learning_rate(const settings& cfg, int k) {
    const int warm = std::max(cfg.steps / 20, 1);
    if (k < warm) return cfg.lr * (k + 1) / warm;
    const double t = double(k - warm) / std::max(cfg.steps - warm - 1, 1);
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(std::numbers::pi * t)));
}

/// Where training stands: steps done, wall-clock and CPU seconds spent on them (over every run),
/// the running loss. CPU time is the figure to compare on a loaded machine: one thread trains.
struct training_state {
    int step = 0;
    double seconds = 0, cpu_seconds = 0, loss = 0;
};

/// CPU seconds this process has used so far.
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

struct training_summary {
    training_state state;
    bool from_cache = false;
    int resumed_at = 0;  ///< the step a cached checkpoint let this run start from (0: from scratch)
};

/// Raised when --max-train-seconds pauses training: the checkpoint is cached, the next run resumes.
struct training_paused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The files of one cached training run, named by everything that changes the weights.
struct cache_files {
    fs::path dir, weights, info, checkpoint;
    cache_files(const fs::path& d, const settings& cfg) : dir(d) {
        std::ostringstream key;
        key << "seg_demo_" << model_version << "_seed" << cfg.seed << "_steps" << cfg.steps << "_batch" << cfg.batch << "_lr"
            << cfg.lr << "_threads" << training_threads << "_torch" << TORCH_VERSION;
        weights = dir / (key.str() + ".pt");
        info = dir / (key.str() + ".txt");
        checkpoint = dir / (key.str() + ".checkpoint.pt");
    }
};

/// Writes `archive` to `path` through a staging file and a rename, so no half-written file is left.
void save_atomically(torch::serialize::OutputArchive& archive, const fs::path& path) {
    const fs::path staging = path.string() + ".part";
    archive.save_to(staging.string());
    fs::rename(staging, path);
}

void save_checkpoint(const fs::path& path, unet& model, const torch::optim::Adam& opt, const training_state& st) {
    torch::serialize::OutputArchive archive, m, o;
    model->save(m);
    opt.save(o);
    archive.write("model", m);
    archive.write("optimizer", o);
    archive.write("step", c10::IValue(std::int64_t(st.step)));
    archive.write("seconds", c10::IValue(st.seconds));
    archive.write("cpu_seconds", c10::IValue(st.cpu_seconds));
    archive.write("loss", c10::IValue(st.loss));
    save_atomically(archive, path);
}

training_state load_checkpoint(const fs::path& path, unet& model, torch::optim::Adam& opt) {
    torch::serialize::InputArchive archive, m, o;
    archive.load_from(path.string());
    archive.read("model", m);
    archive.read("optimizer", o);
    model->load(m);
    opt.load(o);
    c10::IValue step, secs, cpu, loss;
    archive.read("step", step);
    archive.read("seconds", secs);
    archive.read("cpu_seconds", cpu);
    archive.read("loss", loss);
    return {int(step.toInt()), secs.toDouble(), cpu.toDouble(), loss.toDouble()};
}

/// Runs the remaining steps of `st` (cfg.batch fresh images each, Adam, cross-entropy), caching a
/// checkpoint every `checkpoint_every` steps when `checkpoint` is set.
void train(unet& model, torch::optim::Adam& opt, training_state& st, const settings& cfg,
           const std::optional<fs::path>& checkpoint) {
    progress_bar bar;
    const auto start = clock::now();
    const double before = st.seconds, cpu_before = st.cpu_seconds, cpu_start = cpu_seconds();
    const int first = st.step;
    model->train();
    while (st.step < cfg.steps) {
        const data_set b = make_data_set(cfg.batch, stream_seed(cfg.seed, 1 + std::uint64_t(st.step)));
        for (auto& group : opt.param_groups()) group.options().set_lr(learning_rate(cfg, st.step));
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(model->forward(b.images), b.labels);
        loss.backward();
        opt.step();
        const double l = loss.item<double>();
        st.loss = st.step == 0 ? l : 0.95 * st.loss + 0.05 * l;
        ++st.step;
        const double now = seconds(clock::now() - start).count();
        st.seconds = before + now;
        st.cpu_seconds = cpu_before + (cpu_seconds() - cpu_start);
        bar.show(st.step, cfg.steps, st.loss, now, now / (st.step - first) * (cfg.steps - st.step));
        if (st.step == cfg.steps) break;
        const bool pause = cfg.max_train_seconds > 0 && now > cfg.max_train_seconds;
        if (checkpoint && (pause || st.step % checkpoint_every == 0)) save_checkpoint(*checkpoint, model, opt, st);
        if (pause) {
            std::fputc('\n', stderr);
            throw training_paused("training paused at step " + std::to_string(st.step) + " of " + std::to_string(cfg.steps) +
                                  " by --max-train-seconds " + format_seconds(cfg.max_train_seconds) +
                                  (checkpoint ? "; its checkpoint is cached: run again to continue (the weights will "
                                                "be those of an uninterrupted run)"
                                              : "; the cache is not writable, so nothing was kept"));
        }
    }
}

fs::path default_cache_dir() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "camkit";
    if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "camkit";
    return fs::path(".camkit-cache");
}

/// Loads cached weights, or trains (from a cached checkpoint where there is one) and caches them.
training_summary trained_model(unet& model, const settings& cfg) {
    const cache_files files(cfg.cache_dir.value_or(default_cache_dir()), cfg);
    std::error_code ec;
    if (cfg.retrain)
        for (const fs::path& p : {files.weights, files.info, files.checkpoint}) fs::remove(p, ec);
    training_summary s;
    if (fs::exists(files.weights)) {
        torch::load(model, files.weights.string());
        s.from_cache = true;
        std::ifstream in(files.info);
        in >> s.state.step >> s.state.seconds >> s.state.cpu_seconds >> s.state.loss;
        std::printf("loaded cached weights %s (trained in %.1f s, %.1f s CPU, %d steps, final loss %.4f)\n",
                    files.weights.c_str(), s.state.seconds, s.state.cpu_seconds, s.state.step, s.state.loss);
        return s;
    }
    fs::create_directories(files.dir, ec);
    const bool cacheable = fs::is_directory(files.dir, ec) && access(files.dir.c_str(), W_OK) == 0;
    if (!cacheable) std::fprintf(stderr, "warning: cannot write the cache %s: training will not be kept\n", files.dir.c_str());
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(cfg.lr));
    if (cacheable && fs::exists(files.checkpoint)) {
        try {
            s.state = load_checkpoint(files.checkpoint, model, opt);
        } catch (const std::exception& e) {
            throw std::runtime_error("cannot resume from " + files.checkpoint.string() + " (" + e.what() +
                                     "): delete it or run with --retrain");
        }
        s.resumed_at = s.state.step;
        std::printf("resuming training at step %d of %d from %s\n", s.state.step, cfg.steps, files.checkpoint.c_str());
    }
    std::printf("training the U-Net for %d steps of %d fresh images (Adam, peak learning rate %g, %d thread); weights go "
                "to %s\n", cfg.steps, cfg.batch, cfg.lr, training_threads, files.weights.c_str());
    std::fflush(stdout);
    torch::set_num_threads(training_threads);
    train(model, opt, s.state, cfg, cacheable ? std::optional<fs::path>(files.checkpoint) : std::nullopt);
    torch::set_num_threads(cfg.threads);
    if (cacheable) {
        try {
            std::ofstream(files.info) << s.state.step << ' ' << s.state.seconds << ' ' << s.state.cpu_seconds << ' '
                                      << std::setprecision(17) << s.state.loss << '\n';
            torch::serialize::OutputArchive archive;
            model->save(archive);
            save_atomically(archive, files.weights);
            fs::remove(files.checkpoint, ec);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "warning: could not cache the weights in %s: %s\n", files.dir.c_str(), e.what());
        }
    }
    return s;
}

/// FNV-1a over every parameter's and buffer's bytes: equal weights print the same number, so a
/// cached, resumed or repeated training run can be compared with another at a glance.
std::uint64_t weights_fingerprint(unet& model) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&](const torch::Tensor& t) {
        const torch::Tensor c = t.detach().contiguous();
        const auto* p = static_cast<const std::uint8_t*>(c.data_ptr());
        for (std::size_t i = 0; i < std::size_t(c.nbytes()); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    };
    for (const auto& p : model->named_parameters(true)) mix(p.value());
    for (const auto& b : model->named_buffers(true)) mix(b.value());
    return h;
}

// ---------------------------------------------------------------------------------------------
// Explanations: Seg-Grad-CAM and Seg-HiRes-Grad-CAM of every class, with camkit's torch adapter
// ---------------------------------------------------------------------------------------------

/// Maps of both methods at one layer, [N, C, H, W] (class 0, the background, left at zero).
struct layer_maps {
    torch::Tensor grad_cam, hires_cam;
};

/// Seg-Grad-CAM's target for every sample: mask_sum of class c over the region predicted as c
/// (the core's mask builder reads the CPU logits in place), one [H, W] slice per sample.
std::vector<camkit::target> predicted_region_targets(const torch::Tensor& logits, int c) {
    const camkit::tensor<float> region = camkit::predicted_region(logits.detach(), std::size_t(c));  // [N, H, W]
    const std::size_t n = region.shape[0], per = region.size() / n;
    std::vector<camkit::target> targets;
    for (std::size_t i = 0; i < n; ++i) {
        auto first = region.values.begin() + std::ptrdiff_t(i * per);
        targets.push_back(camkit::mask_sum(std::size_t(c), camkit::tensor<float>({region.shape[1], region.shape[2]},
                                                                                  std::vector<float>(first, first + std::ptrdiff_t(per)))));
    }
    return targets;
}

/// Explains classes 1..C-1 of a batch. `capture(targets)` runs one forward and one backward for
/// the whole batch (one target per sample) and returns the layer's activations and gradients;
/// both methods then read the same A and G.
template <class Capture>
layer_maps explain_classes(const torch::Tensor& logits, Capture&& capture) {
    const auto n = logits.size(0);
    layer_maps out{torch::zeros({n, class_count, image_size, image_size}), torch::zeros({n, class_count, image_size, image_size})};
    camkit::options opt;
    opt.size = {std::size_t(image_size), std::size_t(image_size)};
    for (int c = 1; c < class_count; ++c) {
        const std::vector<camkit::target> targets = predicted_region_targets(logits, c);
        const camkit::torch::captured cap = capture(std::span<const camkit::target>(targets));
        out.grad_cam.select(1, c).copy_(camkit::explain<camkit::grad_cam>(cap.activations, cap.gradients, opt).map);
        out.hires_cam.select(1, c).copy_(camkit::explain<camkit::hires_cam>(cap.activations, cap.gradients, opt).map);
    }
    return out;
}

/// Both layers of the C++-frontend model, through the taps it calls in forward.
std::map<std::string, layer_maps> explain_with_taps(unet& model, const torch::Tensor& images, const torch::Tensor& logits) {
    auto forward = [&](const at::Tensor& x) { return model->forward(x); };
    std::map<std::string, layer_maps> out;
    for (const auto& [name, tap] : {std::pair{"enc3", &model->enc_tap}, std::pair{"dec2", &model->dec_tap}})
        out[name] = explain_classes(logits, [&](std::span<const camkit::target> targets) {
            return camkit::torch::capture_gradients(forward, images, *tap, targets);
        });
    return out;
}

/// The same layers of the exported TorchScript file, named by their paths in the module.
std::map<std::string, layer_maps> explain_torchscript(const torch::jit::Module& net, const torch::Tensor& images,
                                                      const torch::Tensor& logits) {
    std::map<std::string, layer_maps> out;
    for (const char* name : {"enc3", "dec2"}) {
        camkit::torch::scripted_layer layer(net, name);
        out[name] = explain_classes(logits, [&](std::span<const camkit::target> targets) {
            return camkit::torch::capture_gradients(layer, images, targets);
        });
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Localization metrics over the held-out set (camkit/metrics.hpp)
// ---------------------------------------------------------------------------------------------

struct metric_summary {
    int pairs = 0, energy_count = 0, ratio_count = 0;
    double energy = 0, hits = 0, ratio = 0;
};

/// Scores the maps of classes 1..C-1 against each class's ground-truth mask, over the
/// (image, class) pairs where the class is present and predicted somewhere.
metric_summary localization_summary(const torch::Tensor& maps, const torch::Tensor& labels, const torch::Tensor& pred) {
    metric_summary s;
    for (int c = 1; c < class_count; ++c) {
        const auto keep = ((labels == c).flatten(1).any(1) & (pred == c).flatten(1).any(1)).nonzero().flatten();
        const auto k = keep.size(0);
        if (k == 0) continue;
        const torch::Tensor m = maps.select(1, c).index_select(0, keep).contiguous();
        const torch::Tensor t = (labels.index_select(0, keep) == c).to(torch::kFloat).contiguous();
        const camkit::shape_t shape{std::size_t(k), std::size_t(image_size), std::size_t(image_size)};
        const camkit::tensor<float> mt(shape, std::vector<float>(m.data_ptr<float>(), m.data_ptr<float>() + m.numel()));
        const camkit::tensor<float> tt(shape, std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel()));
        for (const camkit::localization& l : camkit::localization_metrics(mt, tt)) {
            ++s.pairs;
            s.hits += l.pointing_hit ? 1 : 0;
            // An all-zero map has no energy and no ratio: it counts in the hit rate only.
            if (std::isfinite(l.energy_inside)) { s.energy += l.energy_inside; ++s.energy_count; }
            if (std::isfinite(l.attention_ratio)) { s.ratio += l.attention_ratio; ++s.ratio_count; }
        }
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Panels: camkit's overlay and colormap, drawn on a canvas with a tiny 5x7 bitmap font
// ---------------------------------------------------------------------------------------------

/// An RGB canvas with a white background, addressed (x, y); drawing outside is ignored.
struct canvas {
    camkit::rgb_image image;
    canvas(int w, int h) : image(std::size_t(h), std::size_t(w)) {
        std::fill(image.pixels.begin(), image.pixels.end(), std::uint8_t(255));
    }
    int width() const { return int(image.width); }
    int height() const { return int(image.height); }
    void set(int x, int y, camkit::rgb c) {
        if (x >= 0 && y >= 0 && x < width() && y < height()) image.set(std::size_t(y), std::size_t(x), c);
    }
};

/// Draws `text` (letters in upper case) with its top-left corner at (x, y), each font pixel `scale` pixels wide.
void draw_text(canvas& c, int x, int y, const std::string& text, int scale, camkit::rgb color = {0, 0, 0}) {
    camkit_cli::draw_glyphs(c.image, std::size_t(y), std::size_t(x), text, std::size_t(scale), color);
}

const std::array<camkit::rgb, class_count> class_colors{{{40, 40, 40}, {230, 60, 60}, {60, 200, 80}, {70, 120, 240}}};

/// Draws a 64x64 picture `zoom` times larger with its top-left corner at (x0, y0).
void draw_tile(canvas& c, int x0, int y0, int zoom, const std::function<camkit::rgb(int, int)>& f) {
    for (int y = 0; y < image_size * zoom; ++y)
        for (int x = 0; x < image_size * zoom; ++x) c.set(x0 + x, y0 + y, f(x / zoom, y / zoom));
}

/// Writes one panel for image `i` at one layer: a row per class (circle, square, triangle);
/// columns image, ground truth, prediction, Seg-Grad-CAM, Seg-HiRes-Grad-CAM. The class's
/// ground-truth outline is drawn in white on both explanations.
void write_panel(const fs::path& path, const data_set& set, const torch::Tensor& pred, const layer_maps& maps, int i,
                 const std::string& layer_title) {
    const int zoom = 2, tile = image_size * zoom, gap = 6, label_w = 112, header_h = 46;
    const int rows = class_count - 1, cols = 5;
    canvas c(label_w + cols * (tile + gap), header_h + rows * (tile + gap) + 14);
    const auto img = set.images[i][0].contiguous();
    const auto gt = set.labels[i].contiguous();
    const auto pr = pred[i].contiguous();
    const auto ia = img.accessor<float, 2>();
    const auto ga = gt.accessor<std::int64_t, 2>();
    const auto pa = pr.accessor<std::int64_t, 2>();
    const char* headers[cols][2] = {{"IMAGE", ""}, {"GROUND", "TRUTH"}, {"PREDICTED", ""}, {"SEG-", "GRAD-CAM"}, {"SEG-HIRES-", "GRAD-CAM"}};
    for (int k = 0; k < cols; ++k) {
        draw_text(c, label_w + k * (tile + gap), 4, headers[k][0], 2);
        draw_text(c, label_w + k * (tile + gap), 22, headers[k][1], 2);
    }
    camkit::rgb_image grey{std::size_t(image_size), std::size_t(image_size)};
    for (int y = 0; y < image_size; ++y)
        for (int x = 0; x < image_size; ++x) {
            const auto v = std::uint8_t(std::lround(255 * std::clamp(double(ia[y][x]), 0.0, 1.0)));
            grey.set(std::size_t(y), std::size_t(x), {v, v, v});
        }
    for (int cls = 1; cls < class_count; ++cls) {
        const int y0 = header_h + (cls - 1) * (tile + gap);
        draw_text(c, 4, y0 + 4, class_names[std::size_t(cls)], 2, class_colors[std::size_t(cls)]);
        draw_text(c, 4, y0 + 24, layer_title, 1);
        auto labels = [&](const auto& acc) {
            return [&acc, cls](int x, int y) {
                const auto k = acc[y][x];
                camkit::rgb col = class_colors[std::size_t(k)];
                if (k != cls && k != 0)  // other classes dimmed, so the row's class stands out
                    for (auto& v : col) v = std::uint8_t(v / 3);
                return col;
            };
        };
        auto outline = [&](int x, int y) {
            if (ga[y][x] != cls) return false;
            for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
                const int u = x + dx, v = y + dy;
                if (u < 0 || v < 0 || u >= image_size || v >= image_size || ga[v][u] != cls) return true;
            }
            return false;
        };
        auto heat = [&](const torch::Tensor& m) {
            const torch::Tensor plane = m[i][cls].contiguous();
            const camkit::tensor<float> map({std::size_t(image_size), std::size_t(image_size)},
                                            std::vector<float>(plane.data_ptr<float>(), plane.data_ptr<float>() + plane.numel()));
            return [o = camkit::overlay(map, grey), &outline](int x, int y) {
                return outline(x, y) ? camkit::rgb{255, 255, 255} : o.at(std::size_t(y), std::size_t(x));
            };
        };
        draw_tile(c, label_w, y0, zoom, [&](int x, int y) { return grey.at(std::size_t(y), std::size_t(x)); });
        draw_tile(c, label_w + (tile + gap), y0, zoom, labels(ga));
        draw_tile(c, label_w + 2 * (tile + gap), y0, zoom, labels(pa));
        draw_tile(c, label_w + 3 * (tile + gap), y0, zoom, heat(maps.grad_cam));
        draw_tile(c, label_w + 4 * (tile + gap), y0, zoom, heat(maps.hires_cam));
    }
    // the colour scale of the maps, under the two explanation columns
    const int yb = header_h + rows * (tile + gap), xb = label_w + 3 * (tile + gap), wb = 2 * tile + gap - 24;
    draw_text(c, xb, yb, "0", 1);
    for (int x = 0; x < wb; ++x)
        for (int y = 0; y < 7; ++y) c.set(xb + 10 + x, yb + y, camkit::colorize(double(x) / (wb - 1), camkit::colormap::jet));
    draw_text(c, xb + wb + 14, yb, "1", 1);
    camkit::xtensor::write_png(path.string(), c.image);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

void usage() {
    std::puts(
        "usage: camkit-seg-demo [--out DIR] [--cache DIR] [--retrain] [--seed N] [--threads N] [--steps N]\n"
        "                       [--batch N] [--lr X] [--heldout N] [--panels N] [--max-train-seconds S]\n"
        "Trains (or loads from the cache) a small U-Net on synthetic textured shapes, explains it with\n"
        "Seg-Grad-CAM and Seg-HiRes-Grad-CAM, writes PNG panels to DIR (default ./camkit-demo-out) and\n"
        "prints localization metrics. It also writes DIR/unet.pt (TorchScript: RGB [N, 3, 64, 64] in [0, 1]\n"
        "to 4 class scores per pixel) and the held-out set as PNG files for 'camkit-torch analyze':\n"
        "DIR/heldout/images/*.png and DIR/heldout/masks/*.png (same names; pixel value = class index).\n"
        "\n"
        "Training is --steps Adam steps (default 500) of --batch fresh images (default 8) with a warm-up\n"
        "and cosine learning-rate schedule peaking at --lr (default 0.006), on one thread whatever\n"
        "--threads says (the thread count of the explanations, default 2), so the weights depend only on\n"
        "the settings, the LibTorch version and the CPU (LibTorch and OpenBLAS choose their kernels for\n"
        "it at run time). They are cached under $XDG_CACHE_HOME/camkit or ~/.cache/camkit (or --cache\n"
        "DIR), keyed by the settings and the LibTorch version; training progress is cached every 25\n"
        "steps, so an interrupted run continues where it stopped. --max-train-seconds S pauses training\n"
        "after S seconds (exit status 3) and a later run resumes it: the weights never depend on time.\n"
        "On a busy machine set OMP_WAIT_POLICY=PASSIVE (scripts/demo.sh does): LibTorch's OpenMP threads\n"
        "otherwise spin while they wait, taking the CPU from the thread that works. With Debian's LibTorch\n"
        "also set OPENBLAS_NUM_THREADS=1 (scripts/demo.sh does): OpenBLAS's own threads spin beside them.");
}

settings parse(int argc, char** argv) {
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
            return argv[++i];
        };
        if (a == "--out") s.out_dir = value();
        else if (a == "--cache") s.cache_dir = fs::path(value());
        else if (a == "--retrain") s.retrain = true;
        else if (a == "--seed") s.seed = std::stoull(value());
        else if (a == "--threads") s.threads = std::stoi(value());
        else if (a == "--steps") s.steps = std::stoi(value());
        else if (a == "--batch") s.batch = std::stoi(value());
        else if (a == "--lr") s.lr = std::stod(value());
        else if (a == "--heldout") s.heldout_images = std::stoi(value());
        else if (a == "--panels") s.panels = std::stoi(value());
        else if (a == "--max-train-seconds") s.max_train_seconds = std::stod(value());
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else throw std::invalid_argument("unknown option " + a + " (see --help)");
    }
    if (s.threads < 1 || s.steps < 1 || s.batch < 2 || s.heldout_images < 1 || s.panels < 0)
        throw std::invalid_argument("--threads, --steps, --heldout must be >= 1, --batch >= 2 and --panels >= 0");
    if (!(s.lr > 0) || !(s.max_train_seconds >= 0))
        throw std::invalid_argument("--lr must be > 0 and --max-train-seconds >= 0");
    return s;
}

/// Writes the held-out images (RGB) and their ground-truth masks (R = G = B = class index) as PNG
/// files of the same names under dir/images and dir/masks, the inputs of 'camkit-torch analyze'.
void write_heldout(const fs::path& dir, const data_set& set) {
    fs::create_directories(dir / "images");
    fs::create_directories(dir / "masks");
    const auto images = (set.images * 255).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();  // exact
    const auto masks = set.labels.to(torch::kUInt8).unsqueeze(3).expand({-1, -1, -1, 3}).contiguous();
    for (int i = 0; i < int(images.size(0)); ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "shapes_%03d.png", i);
        camkit::xtensor::write_png((dir / "images" / name).string(), images[i].data_ptr<std::uint8_t>(), image_size, image_size);
        camkit::xtensor::write_png((dir / "masks" / name).string(), masks[i].data_ptr<std::uint8_t>(), image_size, image_size);
    }
}

int run(int argc, char** argv) {
    const auto t0 = clock::now();
    const settings cfg = parse(argc, argv);
    torch::set_num_threads(cfg.threads);
    torch::manual_seed(cfg.seed);

    unet model;
    const training_summary ts = trained_model(model, cfg);
    model->eval();
    std::printf("model ready after %.2f s (weights fingerprint %016llx)\n", seconds(clock::now() - t0).count(),
                static_cast<unsigned long long>(weights_fingerprint(model)));

    // ---- held-out set: segmentation quality ----
    const data_set test = make_data_set(cfg.heldout_images, stream_seed(cfg.seed, 0));
    torch::Tensor logits;
    {
        torch::NoGradGuard no_grad;
        logits = model->forward(test.images);
    }
    const auto pred = logits.argmax(1);
    std::printf("\nheld-out set: %d images, pixel accuracy %.3f\n", cfg.heldout_images,
                (pred == test.labels).to(torch::kDouble).mean().item<double>());
    double miou = 0;
    for (int c = 0; c < class_count; ++c) {
        const auto p = pred == c, t = test.labels == c;
        const double inter = (p & t).sum().item<double>(), uni = (p | t).sum().item<double>();
        const double iou = uni > 0 ? inter / uni : 1.0;
        miou += iou / class_count;
        std::printf("  IoU %-10s %.3f\n", class_names[std::size_t(c)], iou);
    }
    std::printf("  mean IoU   %.3f   (training: %.1f s, %.1f s CPU, %d steps, final loss %.4f%s)\n", miou,
                ts.state.seconds, ts.state.cpu_seconds, ts.state.step, ts.state.loss,
                ts.from_cache ? ", weights from the cache" : ts.resumed_at > 0 ? ", resumed from a checkpoint" : "");

    // ---- explanations of every class at both layers, and their localization metrics ----
    const auto te = clock::now();
    auto maps = explain_with_taps(model, test.images, logits);
    std::printf("\nexplained %d images x %d classes x 2 layers x 2 methods in %.2f s\n", cfg.heldout_images,
                class_count - 1, seconds(clock::now() - te).count());
    std::printf("\nlocalization against each class's ground-truth mask over the held-out set (target: mask_sum\n"
                "over the predicted region; image/class pairs whose class is absent or not predicted are skipped;\n"
                "means over the maps where the metric is defined)\n\n");
    std::printf("%-6s %-20s %6s %14s %14s %16s\n", "layer", "method", "pairs", "energy inside", "pointing hit",
                "attention ratio");
    for (const char* layer : {"enc3", "dec2"})
        for (int m = 0; m < 2; ++m) {
            const metric_summary s =
                localization_summary(m == 0 ? maps[layer].grad_cam : maps[layer].hires_cam, test.labels, pred);
            std::printf("%-6s %-20s %6d %14.3f %14.3f %16.2f\n", layer, m == 0 ? "Seg-Grad-CAM" : "Seg-HiRes-Grad-CAM",
                        s.pairs, s.energy / std::max(s.energy_count, 1), s.hits / std::max(s.pairs, 1),
                        s.ratio / std::max(s.ratio_count, 1));
        }

    // ---- panels ----
    fs::create_directories(cfg.out_dir);
    std::vector<int> chosen;  // images where every class appears first
    for (int i = 0; i < cfg.heldout_images && int(chosen.size()) < cfg.panels; ++i) {
        bool all = true;
        for (int c = 1; c < class_count; ++c) all = all && (test.labels[i] == c).any().item<bool>();
        if (all) chosen.push_back(i);
    }
    for (int i = 0; i < cfg.heldout_images && int(chosen.size()) < cfg.panels; ++i)
        if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) chosen.push_back(i);
    std::printf("\npanels (image, ground truth, prediction, Seg-Grad-CAM, Seg-HiRes-Grad-CAM; a row per class):\n");
    const std::map<std::string, std::string> titles{{"enc3", "ENCODER ENC3 16X16"}, {"dec2", "DECODER DEC2 32X32"}};
    for (int i : chosen)
        for (const char* layer : {"enc3", "dec2"}) {
            const fs::path p = cfg.out_dir / ("panel_" + std::to_string(i) + "_" + layer + ".png");
            write_panel(p, test, pred, maps[layer], i, titles.at(layer));
            std::printf("  %s\n", p.c_str());
        }

    // ---- the held-out set as files, for camkit-torch analyze ----
    write_heldout(cfg.out_dir / "heldout", test);
    std::printf("\nheld-out set for camkit-torch analyze: %d images in %s, masks in %s\n", cfg.heldout_images,
                (cfg.out_dir / "heldout" / "images").c_str(), (cfg.out_dir / "heldout" / "masks").c_str());

    // ---- TorchScript export; the exported file explained by layer name gives the same maps ----
    const fs::path script_path = cfg.out_dir / "unet.pt";
    export_torchscript(model).save(script_path.string());
    auto loaded = torch::jit::load(script_path.string());
    loaded.eval();
    const auto probe = test.images.slice(0, 0, 16);
    const auto probe_logits = logits.slice(0, 0, 16);
    double out_diff = 0;
    {
        torch::NoGradGuard no_grad;
        out_diff = (loaded.forward({probe}).toTensor() - model->forward(probe)).abs().max().item<double>();
    }
    std::printf("\nTorchScript export: %s (max |output difference| vs the C++ model: %.3g)\n", script_path.c_str(), out_diff);
    auto tap_maps = explain_with_taps(model, probe, probe_logits);
    auto script_maps = explain_torchscript(loaded, probe, probe_logits);
    for (const char* layer : {"enc3", "dec2"}) {
        const double dg = (tap_maps[layer].grad_cam - script_maps[layer].grad_cam).abs().max().item<double>();
        const double dh = (tap_maps[layer].hires_cam - script_maps[layer].hires_cam).abs().max().item<double>();
        std::printf("  layer '%s' on %ld images x %d classes, max |TorchScript - tap|: Seg-Grad-CAM %.3g, "
                    "Seg-HiRes-Grad-CAM %.3g\n", layer, long(probe.size(0)), class_count - 1, dg, dh);
    }
    std::printf("\ndone in %.1f s; the panels and unet.pt are in %s\n", seconds(clock::now() - t0).count(),
                fs::absolute(cfg.out_dir).c_str());
    return 0;
}

}  // namespace demo

int main(int argc, char** argv) {
    try {
        return demo::run(argc, argv);
    } catch (const demo::training_paused& e) {
        std::fprintf(stderr, "camkit-seg-demo: %s\n", e.what());
        return 3;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "camkit-seg-demo: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "camkit-seg-demo: %s\n", e.what());
        return 1;
    }
}
