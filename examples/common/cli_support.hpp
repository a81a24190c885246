#pragma once
// What the `camkit` and `camkit-torch` tools share: bad-input errors, one-line messages,
// `--size` parsing, all-or-nothing output files and side-by-side pictures.
#include <camkit/overlay.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace camkit_cli {

/// Bad input: reported by the tool's main as one line "<tool>: <message>" on stderr, exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Throws usage_error(what).
[[noreturn]] inline void fail(const std::string& what) { throw usage_error(what); }

/// Keeps a message to one line: the first line of a multi-line message (LibTorch adds context and
/// a backtrace after it), with any stray line breaks turned into spaces.
inline std::string one_line(std::string s) {
    if (const auto nl = s.find_first_of("\r\n"); nl != std::string::npos && nl > 0) s.resize(nl);
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

/// Parses `--size` as L, HxW or DxHxW with extents from 1 to 65536.
inline camkit::shape_t parse_size(std::string_view s) {
    camkit::shape_t size;
    std::size_t start = 0;
    for (;;) {
        const std::size_t x = s.find('x', start);
        const std::string_view part = s.substr(start, x == std::string_view::npos ? std::string_view::npos : x - start);
        std::size_t v = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || v == 0 || v > 65536)
            fail("--size must be L, HxW or DxHxW with extents from 1 to 65536, got '" + std::string(s) + "'");
        size.push_back(v);
        if (x == std::string_view::npos) break;
        start = x + 1;
    }
    if (size.size() > 3) fail("--size must be L, HxW or DxHxW, got '" + std::string(s) + "'");
    return size;
}

/// Files written at the end, all or nothing: each is first saved to a staging path beside its
/// destination, then all are renamed into place once every one of them has been saved.
class staged_outputs {
public:
    staged_outputs() = default;
    staged_outputs(const staged_outputs&) = delete;
    staged_outputs& operator=(const staged_outputs&) = delete;
    ~staged_outputs() {
        std::error_code ec;
        for (const auto& [staging, final_path] : files_) std::filesystem::remove(staging, ec);
    }
    /// Saves via `save(staging_path)`; the file appears at `path` only on commit().
    void stage(const std::string& path, const std::function<void(const std::string&)>& save) {
        const std::string staging = path + ".camkit-staging-" + std::to_string(std::random_device{}());
        try {
            save(staging);
        } catch (const camkit::error&) {
            fail(path + ": cannot write (missing folder, permission or disk full)");
        }
        files_.emplace_back(staging, path);
    }
    /// Moves every staged file into place.
    void commit() {
        for (auto& [staging, final_path] : files_) {
            std::error_code ec;
            std::filesystem::rename(staging, final_path, ec);
            if (ec) fail(final_path + ": cannot write: " + ec.message());
            staging.clear();
        }
        files_.clear();
    }

private:
    std::vector<std::pair<std::string, std::string>> files_;
};

/// Places images side by side, left to right, `gap` black pixels apart.
inline camkit::rgb_image side_by_side(const std::vector<camkit::rgb_image>& images, std::size_t gap) {
    std::size_t h = 0, w = 0;
    for (const auto& im : images) {
        h = std::max(h, im.height);
        w += im.width;
    }
    w += gap * (images.size() - 1);
    camkit::rgb_image out(h, w);
    std::size_t x0 = 0;
    for (const auto& im : images) {
        for (std::size_t y = 0; y < im.height; ++y)
            std::copy_n(im.pixels.data() + 3 * y * im.width, 3 * im.width, out.pixels.data() + 3 * (y * w + x0));
        x0 += im.width + gap;
    }
    return out;
}

}  // namespace camkit_cli
