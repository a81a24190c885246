#pragma once
// Whole-file reads and atomic whole-file writes (C++20 standard library only), shared by the npy
// and image I/O so that a failed write never leaves a partial file behind.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace camkit::detail {

/// Reads the whole file at `path`; throws camkit::error naming the file when it cannot be read.
inline std::vector<std::byte> read_file_bytes(const std::string& path) {
    std::error_code ec;
    require(!std::filesystem::is_directory(path, ec), path + ": is a directory, not a file");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        const int err = errno;
        throw error("camkit: " + path + ": cannot open: " + std::strerror(err));
    }
    std::vector<std::byte> bytes;
    std::byte buffer[1 << 16];
    for (;;) {
        const std::size_t got = std::fread(buffer, 1, sizeof buffer, f);
        bytes.insert(bytes.end(), buffer, buffer + got);
        if (got < sizeof buffer) break;
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    require(!failed, path + ": read error");
    return bytes;
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder, then renamed
/// over `path`, so readers see either the old file or the complete new one, never a partial one.
inline void write_file_atomically(const std::string& path, std::span<const std::byte> bytes) {
    require(!path.empty(), "output path is empty");
    // A random suffix keeps concurrent writers of the same path from sharing a temporary file.
    const std::string tmp = path + ".tmp-" + std::to_string(std::random_device{}());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
        const int err = errno;
        throw error("camkit: " + path + ": cannot write: " + std::strerror(err));
    }
    bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    ok = (std::fflush(f) == 0) && ok;
    ok = (std::fclose(f) == 0) && ok;
    std::error_code ec;
    if (ok) std::filesystem::rename(tmp, path, ec);
    if (!ok || ec) {
        std::filesystem::remove(tmp, ec);
        throw error("camkit: " + path + ": cannot write (disk full, permission or a folder in the way)");
    }
}

}  // namespace camkit::detail
