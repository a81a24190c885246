#pragma once
// What the `camkit` and `camkit-torch` tools share besides the skeleton (app.hpp): bad-input
// errors, one-line messages, option parsing, `--size` and number parsing, the files of a command
// (inputs checked to be regular files, outputs checked against the inputs and each other before
// any work and written all or nothing at the end) and the finite check of results.
#include <camkit/io/file.hpp>
#include <camkit/io/npy.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <unistd.h>

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

/// The most map values (N · ∏ size) a tool computes, and the most values an input array may hold:
/// 2^28 (2 GiB as float64). The `--size` limit and the input checks use it before anything large
/// is read or allocated.
inline constexpr std::size_t max_values = std::size_t{1} << 28;

/// The parts of `s` between the separators `sep` (empty parts kept: "a,,b" has three).
inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t at = s.find(sep, start);
        parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

/// Parses `--size` as L, HxW or DxHxW with extents from 1 to 65536.
inline camkit::shape_t parse_size(std::string_view s) {
    camkit::shape_t size;
    for (const std::string_view part : split(s, 'x')) {
        std::size_t v = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || v == 0 || v > 65536)
            fail("--size must be L, HxW or DxHxW with extents from 1 to 65536, got '" + std::string(s) + "'");
        size.push_back(v);
    }
    if (size.size() > 3) fail("--size must be L, HxW or DxHxW, got '" + std::string(s) + "'");
    return size;
}

/// Parses an integer option value of at least `lo`.
inline std::int64_t parse_count(std::string_view s, const std::string& name, std::int64_t lo) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < lo)
        fail(name + " must be an integer >= " + std::to_string(lo) + ", got '" + std::string(s) + "'");
    return v;
}

/// Takes every `NAME V` / `NAME=V` of the options that may repeat (`repeated`: name → list) out of
/// `args`, in order, into their lists; returns the other arguments, for the option parser (which
/// takes each option once).
inline std::vector<std::string> take_repeated(
    const std::vector<std::string>& args,
    std::initializer_list<std::pair<std::string_view, std::vector<std::string>*>> repeated) {
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        bool taken = false;
        for (const auto& [name, list] : repeated) {
            if (args[i] == name) {
                if (i + 1 >= args.size()) fail(std::string(name) + " needs a value");
                list->push_back(args[++i]);
                taken = true;
                break;
            }
            if (args[i].size() > name.size() && args[i].starts_with(name) && args[i][name.size()] == '=') {
                list->push_back(args[i].substr(name.size() + 1));
                taken = true;
                break;
            }
        }
        if (!taken) rest.push_back(args[i]);
    }
    return rest;
}

/// Fails unless `count` values (what `what` implies) stay within max_values.
inline void check_values(std::size_t count, const std::string& what) {
    if (count > max_values)
        fail(what + " is too large: " + std::to_string(count) + " values, at most 2^28 = " + std::to_string(max_values));
}

/// N · ∏ extents, saturating instead of overflowing (so a huge product is still "too large").
inline std::size_t value_count(std::size_t n, const camkit::shape_t& extents) {
    std::size_t c = n;
    for (std::size_t e : extents) c = (e != 0 && c > SIZE_MAX / e) ? SIZE_MAX : c * e;
    return c;
}

/// A command's options: `--name value`, `--name=value` and flags, each given at most once.
class option_parser {
public:
    /// `command` is used in messages, e.g. "camkit cam" gives "(see 'camkit cam --help')".
    explicit option_parser(std::string command) : command_(std::move(command)) {}

    /// An option with a value, handed to `set`.
    option_parser& value(const std::string& name, std::function<void(const std::string&)> set) {
        options_[name] = {std::move(set), false};
        return *this;
    }
    /// An option with a value stored in `out`.
    option_parser& value(const std::string& name, std::string& out) {
        return value(name, [&out](const std::string& v) { out = v; });
    }
    /// A flag (no value) that sets `out` to `to`.
    option_parser& flag(const std::string& name, bool& out, bool to = true) {
        options_[name] = {[&out, to](const std::string&) { out = to; }, true};
        return *this;
    }

    /// Parses `args`; unknown options, missing values, repeats and stray arguments are usage errors.
    void parse(const std::vector<std::string>& args) const {
        std::map<std::string, bool> seen;
        for (std::size_t i = 0; i < args.size(); ++i) {
            std::string name = args[i];
            std::optional<std::string> inline_value;
            if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
                inline_value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            const auto it = options_.find(name);
            if (it == options_.end()) {
                if (name.starts_with("-")) fail("unknown option '" + name + "' (see '" + command_ + " --help')");
                fail("unexpected argument '" + name + "' (see '" + command_ + " --help')");
            }
            if (seen[name]) fail("option " + name + " is given twice");
            seen[name] = true;
            const auto& [set, is_flag] = it->second;
            if (is_flag) {
                if (inline_value) fail(name + " takes no value");
                set("");
            } else if (inline_value) {
                set(*inline_value);
            } else {
                if (i + 1 >= args.size()) fail(name + " needs a value");
                set(args[++i]);
            }
        }
    }

private:
    std::string command_;
    std::map<std::string, std::pair<std::function<void(const std::string&)>, bool>> options_;
};

/// The files of one command: inputs (checked to be regular files, never overwritten) and outputs
/// (checked before any work: not an input, not another output, however spelled, in a folder that
/// can be written), written all or nothing at the very end.
class file_set {
public:
    /// The inputs as {option, path} pairs (empty paths are options not given), each checked.
    explicit file_set(std::initializer_list<std::pair<std::string, std::string>> inputs = {}) {
        for (const auto& [option, path] : inputs) input(option, path);
    }

    /// Records the input `path` of `option` after checking it is a regular file.
    void input(const std::string& option, const std::string& path) {
        if (path.empty()) return;
        camkit::io::regular_file_size(path, UINT64_MAX);
        inputs_.emplace_back(option, path);
    }

    /// Checks the output `path` of `option` and reserves its staging file; returns its index.
    std::size_t output(const std::string& option, const std::string& path) {
        for (const auto& [o, p] : inputs_)
            if (camkit::io::same_file(path, p)) fail(option + " and " + o + " are the same file '" + path + "'");
        for (const auto& [o, p] : outputs_)
            if (camkit::io::same_file(path, p)) fail(option + " and " + o + " are the same file '" + path + "'");
        outputs_.emplace_back(option, path);
        return files_.reserve(path);
    }

    /// output(option, path) for an optional output: nothing when `path` is empty.
    std::optional<std::size_t> optional_output(const std::string& option, const std::string& path) {
        if (path.empty()) return std::nullopt;
        return output(option, path);
    }

    /// Writes the complete contents of output `index` (to its staging file).
    void write(std::size_t index, std::span<const std::byte> bytes) { files_.write(index, bytes); }

    /// Writes `values` as a float32 .npy file to output `index`.
    void write_npy(std::size_t index, const camkit::tensor<float>& values) {
        files_.write(index, camkit::io::encode_npy<float>(values.shape, values.data()));
    }

    /// Moves every output into place, all or nothing.
    void commit() { files_.commit(); }

private:
    std::vector<std::pair<std::string, std::string>> inputs_, outputs_;
    camkit::io::staged_files files_;
};

/// The extension of `path` in lower case (".npy" for "x.NPY"; "" for none): file kinds are told
/// by extension in any case.
inline std::string extension_lower(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

/// Fails when the name of output `path` of `option` promises another format than the option
/// writes: an array (`writes_picture` false: numpy's .npy format) named .png, .jpg or .jpeg, or a
/// PNG picture named .npy (--out and --png mixed up would give a file no viewer or numpy opens).
inline void check_output_name(const std::string& option, const std::string& path, bool writes_picture) {
    if (path.empty()) return;
    const std::string ext = extension_lower(path);
    if (!writes_picture && (ext == ".png" || ext == ".jpg" || ext == ".jpeg"))
        fail(option + " " + path + ": " + option + " writes numpy's .npy format, not an image; name it .npy, and ask "
             "for a picture with --png");
    if (writes_picture && ext == ".npy")
        fail(option + " " + path + ": " + option + " writes a PNG picture; name it .png (the arrays go to --out)");
}

/// Fails unless output folder `dir` of `option` can be used without creating anything: an existing
/// folder this process may write in, or a path whose nearest existing ancestor is such a folder
/// (with `parent_must_exist`, its parent itself). Checked before any work; the folder is created
/// at the end (create_folder).
inline void check_output_folder(const std::string& option, const std::string& dir, bool parent_must_exist = false) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path at = fs::path(dir).lexically_normal();
    if (!fs::exists(fs::status(at, ec))) {
        at = at.parent_path();
        if (at.empty()) at = ".";
        if (parent_must_exist && !fs::exists(fs::status(at, ec)))
            fail(option + " " + dir + ": its parent folder '" + at.string() + "' does not exist");
        while (!fs::exists(fs::status(at, ec))) at = at.has_parent_path() ? at.parent_path() : fs::path(".");
    }
    if (!fs::is_directory(at, ec))
        fail(option + " " + dir + (at == fs::path(dir).lexically_normal() ? " exists and is not a folder"
                                                                           : ": '" + at.string() + "' is not a folder"));
    if (::access(at.c_str(), W_OK | X_OK) != 0)
        fail(option + " " + dir + ": cannot write in '" + at.string() + "': " + std::generic_category().message(errno));
}

/// Creates output folder `dir` of `option` (and its parents); a usage_error, not an exception of
/// the filesystem library, when it cannot.
inline void create_folder(const std::string& option, const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(option + " " + dir.string() + ": cannot create the folder: " + ec.message());
}

/// Index of the first non-finite value of `values`, if any.
template <class T>
std::optional<std::size_t> first_non_finite(std::span<const T> values) {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) return i;
    return std::nullopt;
}

/// The values of a .npy file as double; fails naming the file and the flat index of the first NaN
/// or Inf: "<path>: <what> <verb> NaN or Inf (flat index i)" (verb: "holds", or "hold" for a plural).
inline camkit::tensor<double> read_finite_npy(const std::string& path, const std::string& what, const char* verb = "holds") {
    camkit::tensor<double> t = camkit::io::read_npy<double>(path);
    if (const auto i = first_non_finite<double>(t.values))
        fail(path + ": " + what + " " + verb + " NaN or Inf (flat index " + std::to_string(*i) + ")");
    return t;
}

}  // namespace camkit_cli
