#pragma once
// Whole-file reads bounded by a cap, and all-or-nothing writes (C++20 standard library only),
// shared by the npy and image I/O and by the tools.
//
// Reads accept regular files only (a FIFO would block forever, /dev/zero would never end), after
// checking the file's size against a cap. Writes go to a short-named staging file in the
// destination's folder (so a 230-character file name still fits the file system's name limit) and
// are renamed into place together; a failed set of writes leaves every destination as it was.
#include <camkit/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace camkit::io {

/// The largest file the readers accept unless told otherwise: 4 GiB.
inline constexpr std::uint64_t default_max_file_bytes = std::uint64_t{1} << 32;

namespace detail {

using camkit::detail::require;

/// "camkit: <path>: <what>".
[[noreturn]] inline void fail_file(const std::string& path, const std::string& what) {
    throw error("camkit: " + path + ": " + what);
}

/// The C library's text for errno value `err`.
inline std::string errno_text(int err) { return std::strerror(err); }

/// A FILE* closed on scope exit.
struct file_handle {
    std::FILE* f = nullptr;
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;
    explicit file_handle(std::FILE* file) : f(file) {}
    ~file_handle() {
        if (f) std::fclose(f);
    }
    /// Closes the file now; false when the close (the final flush) failed.
    bool close() {
        const bool ok = std::fclose(f) == 0;
        f = nullptr;
        return ok;
    }
};

/// A random 8-digit hexadecimal name part, so concurrent writers in one folder never collide.
inline std::string random_tag() {
    static constexpr char hex[] = "0123456789abcdef";
    std::uint32_t r = std::random_device{}();
    std::string s(8, '0');
    for (char& c : s) {
        c = hex[r & 0xf];
        r >>= 4;
    }
    return s;
}

/// Creates a new empty file with a short unused name in `folder` and returns its path.
inline std::filesystem::path create_staging_file(const std::filesystem::path& folder, const std::string& dest) {
    for (int attempt = 0;; ++attempt) {
        const std::filesystem::path p = folder / (".camkit-" + random_tag() + ".tmp");
        // "x": fail if the name exists, so another writer's staging file is never reused.
        if (std::FILE* f = std::fopen(p.c_str(), "wbx")) {
            std::fclose(f);
            return p;
        }
        const int err = errno;
        if (err != EEXIST || attempt > 16)
            fail_file(dest, "cannot write into the folder '" + folder.string() + "': " + errno_text(err));
    }
}

}  // namespace detail

/// Checks that `path` names a regular file (symbolic links are followed) of at most `max_bytes`
/// bytes and returns its size. A folder, FIFO, socket or device (/dev/zero) is refused: reading
/// one would block, never end or mean nothing.
inline std::uint64_t regular_file_size(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (st.type() == std::filesystem::file_type::not_found)
        detail::fail_file(path, "cannot open: No such file or directory");
    if (ec) detail::fail_file(path, "cannot open: " + ec.message());
    if (st.type() == std::filesystem::file_type::directory) detail::fail_file(path, "is a directory, not a file");
    if (st.type() != std::filesystem::file_type::regular)
        detail::fail_file(path, "is not a regular file (a FIFO, socket or device cannot be read as an input)");
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) detail::fail_file(path, "cannot open: " + ec.message());
    if (size > max_bytes)
        detail::fail_file(path, "file of " + std::to_string(size) + " bytes is larger than the limit of " +
                                    std::to_string(max_bytes) + " bytes");
    return size;
}

/// Reads bytes [offset, offset + count) of the regular file `path`; fewer when the file is shorter.
inline std::vector<std::byte> read_file_range(const std::string& path, std::uint64_t offset, std::size_t count) {
    detail::file_handle f(std::fopen(path.c_str(), "rb"));
    if (!f.f) detail::fail_file(path, "cannot open: " + detail::errno_text(errno));
    if (offset > 0 && std::fseek(f.f, static_cast<long>(offset), SEEK_SET) != 0)
        detail::fail_file(path, "cannot read: " + detail::errno_text(errno));
    std::vector<std::byte> bytes(count);
    const std::size_t got = count == 0 ? 0 : std::fread(bytes.data(), 1, count, f.f);
    if (std::ferror(f.f)) detail::fail_file(path, "read error");
    bytes.resize(got);
    return bytes;
}

/// Reads the whole regular file `path`, refusing files larger than `max_bytes` before reading;
/// throws camkit::error naming the file when it cannot be read.
inline std::vector<std::byte> read_file(const std::string& path, std::uint64_t max_bytes = default_max_file_bytes) {
    const std::uint64_t size = regular_file_size(path, max_bytes);
    std::vector<std::byte> bytes = read_file_range(path, 0, static_cast<std::size_t>(size));
    if (bytes.size() != size) detail::fail_file(path, "the file changed while it was read");
    return bytes;
}

/// Whether `a` and `b` name the same file, however they are spelled: `dir/./f`, `dir//f`,
/// `dir/../dir/f`, a symbolic link and its target, or two hard links. Files that do not exist yet
/// are compared by their resolved absolute paths.
inline bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    if (std::filesystem::exists(a, ec) && std::filesystem::exists(b, ec)) {
        const bool same = std::filesystem::equivalent(a, b, ec);
        if (!ec) return same;
    }
    const auto resolve = [](const std::string& p) {
        std::error_code e;
        auto r = std::filesystem::weakly_canonical(std::filesystem::absolute(p, e), e);
        return e ? std::filesystem::absolute(p, e).lexically_normal() : r.lexically_normal();
    };
    return resolve(a) == resolve(b);
}

/// Output files written all or nothing. reserve() checks a destination before any work is done
/// (its folder exists and can be written, it is not a folder or special file) and creates its
/// staging file; write() fills the staging file; commit() renames every staging file into place.
/// If a rename fails, the destinations already replaced get their previous contents back (kept
/// through a hard link), so either all outputs appear or none changes. Staging files left by an
/// error are removed by the destructor.
class staged_files {
public:
    staged_files() = default;
    staged_files(const staged_files&) = delete;
    staged_files& operator=(const staged_files&) = delete;
    ~staged_files() {
        std::error_code ec;
        for (const auto& f : files_) {
            if (!f.staging.empty()) std::filesystem::remove(f.staging, ec);
            if (!f.backup.empty()) std::filesystem::remove(f.backup, ec);
        }
    }

    /// Checks `path` as an output and reserves its staging file; returns its index for write().
    std::size_t reserve(const std::string& path) {
        detail::require(!path.empty(), "output path is empty");
        namespace fs = std::filesystem;
        std::error_code ec;
        const fs::path dest(path);
        fs::path folder = dest.parent_path();
        if (folder.empty()) folder = ".";
        if (const std::size_t n = dest.filename().native().size(); n > 255)
            detail::fail_file(path, "cannot write: its file name is " + std::to_string(n) +
                                        " bytes long, longer than file systems allow (255)");
        const auto st = fs::status(dest, ec);
        if (st.type() == fs::file_type::directory) detail::fail_file(path, "cannot write: it is a directory");
        if (fs::exists(st) && st.type() != fs::file_type::regular)
            detail::fail_file(path, "cannot write: it exists and is not a regular file");
        const auto fst = fs::status(folder, ec);
        if (!fs::exists(fst)) detail::fail_file(path, "cannot write: the folder '" + folder.string() + "' does not exist");
        if (fst.type() != fs::file_type::directory)
            detail::fail_file(path, "cannot write: '" + folder.string() + "' is not a folder");
        files_.push_back({path, detail::create_staging_file(folder, path), {}});
        return files_.size() - 1;
    }

    /// Writes the complete contents of output `index` into its staging file.
    void write(std::size_t index, std::span<const std::byte> bytes) {
        detail::require(index < files_.size() && !files_[index].staging.empty(),
                        "staged_files::write: no reserved output " + std::to_string(index));
        const entry& f = files_[index];
        detail::file_handle h(std::fopen(f.staging.c_str(), "wb"));
        if (!h.f) detail::fail_file(f.dest, "cannot write: " + detail::errno_text(errno));
        bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), h.f) == bytes.size();
        const int err = errno;
        ok = (std::fflush(h.f) == 0) && ok;
        ok = h.close() && ok;
        if (!ok) detail::fail_file(f.dest, "cannot write: " + detail::errno_text(err ? err : EIO) + " (disk full?)");
    }

    /// Moves every staging file into place, all or nothing.
    void commit() {
        namespace fs = std::filesystem;
        std::error_code ec;
        // Keep the previous contents of existing destinations, to restore them on a failed rename.
        for (auto& f : files_) {
            f.existed = fs::exists(f.dest, ec);
            if (!f.existed) continue;
            const fs::path backup = f.staging.parent_path() / (".camkit-" + detail::random_tag() + ".bak");
            fs::create_hard_link(f.dest, backup, ec);
            if (!ec) f.backup = backup;
        }
        for (std::size_t i = 0; i < files_.size(); ++i) {
            fs::rename(files_[i].staging, files_[i].dest, ec);
            if (!ec) {
                files_[i].staging.clear();
                continue;
            }
            const std::string why = ec.message();
            for (std::size_t j = 0; j < i; ++j) {  // undo the renames already done
                std::error_code e;
                if (!files_[j].backup.empty()) {
                    fs::rename(files_[j].backup, files_[j].dest, e);
                    if (!e) files_[j].backup.clear();
                } else if (!files_[j].existed) {
                    fs::remove(files_[j].dest, e);
                }  // else: no hard link was possible on this file system, so the new contents stay
            }
            detail::fail_file(files_[i].dest, "cannot write: " + why);
        }
        for (auto& f : files_) {
            if (!f.backup.empty()) fs::remove(f.backup, ec);
            f.backup.clear();
        }
        files_.clear();
    }

private:
    struct entry {
        std::string dest;
        std::filesystem::path staging, backup;
        bool existed = false;  ///< the destination existed at commit()
    };
    std::vector<entry> files_;
};

/// Writes `bytes` to `path` atomically: readers see the old file or the complete new one, and a
/// failure leaves no partial file and no staging file behind.
inline void write_file_atomically(const std::string& path, std::span<const std::byte> bytes) {
    staged_files out;
    out.write(out.reserve(path), bytes);
    out.commit();
}

}  // namespace camkit::io
