// File reads and all-or-nothing writes of camkit::io: regular files only, reads bounded by a cap,
// same-file detection however a path is spelled, staged outputs that commit together or not at all.
#include <camkit/io/file.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "common/scratch_test.hpp"

namespace {

namespace fs = std::filesystem;
using camkit_test::error_message;

using File = camkit_test::scratch_test;

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string text_of(const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_F(File, ReadsRegularFilesUpToTheCap) {
    std::ofstream(path("a.txt")) << "0123456789";
    EXPECT_EQ(text_of(camkit::io::read_file(path("a.txt"))), "0123456789");
    EXPECT_EQ(text_of(camkit::io::read_file(path("a.txt"), 10)), "0123456789");
    EXPECT_EQ(error_message([&] { camkit::io::read_file(path("a.txt"), 9); }),
              "camkit: " + path("a.txt") + ": file of 10 bytes is larger than the limit of 9 bytes");
    EXPECT_EQ(text_of(camkit::io::read_file_range(path("a.txt"), 3, 4)), "3456");
    EXPECT_EQ(text_of(camkit::io::read_file_range(path("a.txt"), 8, 4)), "89");  // shorter at the end
    EXPECT_EQ(camkit::io::regular_file_size(path("a.txt")), 10u);
    // A symbolic link to a regular file is read through.
    fs::create_symlink(path("a.txt"), path("link"));
    EXPECT_EQ(text_of(camkit::io::read_file(path("link"))), "0123456789");
}

TEST_F(File, RefusesWhatIsNotARegularFile) {
    const std::string special = ": is not a regular file (a FIFO, socket or device cannot be read as an input)";
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    EXPECT_EQ(error_message([&] { camkit::io::read_file(path("fifo")); }), "camkit: " + path("fifo") + special);
    EXPECT_EQ(error_message([] { camkit::io::read_file("/dev/zero"); }), "camkit: /dev/zero" + special);
    EXPECT_EQ(error_message([&] { camkit::io::read_file(dir_.string()); }),
              "camkit: " + dir_.string() + ": is a directory, not a file");
    EXPECT_EQ(error_message([&] { camkit::io::read_file(path("missing")); }),
              "camkit: " + path("missing") + ": cannot open: No such file or directory");
    fs::create_symlink(path("missing"), path("dangling"));
    EXPECT_EQ(error_message([&] { camkit::io::read_file(path("dangling")); }),
              "camkit: " + path("dangling") + ": cannot open: No such file or directory");
}

TEST_F(File, SameFileComparesFilesNotSpellings) {
    std::ofstream(path("a.npy")) << "a";
    std::ofstream(path("b.npy")) << "b";
    fs::create_directory(path("dir"));
    EXPECT_TRUE(camkit::io::same_file(path("a.npy"), path("a.npy")));
    EXPECT_TRUE(camkit::io::same_file(path("a.npy"), (dir_ / "." / "a.npy").string()));
    EXPECT_TRUE(camkit::io::same_file(path("a.npy"), path("dir") + "/../a.npy"));
    EXPECT_TRUE(camkit::io::same_file(path("a.npy"), dir_.string() + "//a.npy"));
    EXPECT_FALSE(camkit::io::same_file(path("a.npy"), path("b.npy")));
    fs::create_symlink(path("a.npy"), path("link.npy"));
    EXPECT_TRUE(camkit::io::same_file(path("link.npy"), path("a.npy")));
    fs::create_hard_link(path("b.npy"), path("hard.npy"));
    EXPECT_TRUE(camkit::io::same_file(path("hard.npy"), path("b.npy")));
    // Files that do not exist yet: by their resolved paths, through a symlinked folder too.
    fs::create_directory_symlink(path("dir"), path("dirlink"));
    EXPECT_TRUE(camkit::io::same_file(path("dir") + "/./new.npy", path("dir") + "//new.npy"));
    EXPECT_TRUE(camkit::io::same_file(path("dirlink") + "/new.npy", path("dir") + "/new.npy"));
    EXPECT_FALSE(camkit::io::same_file(path("dir") + "/new.npy", path("dir") + "/other.npy"));
    // A relative path and the absolute one.
    const auto cwd = fs::current_path();
    fs::current_path(dir_);
    EXPECT_TRUE(camkit::io::same_file("new.npy", path("new.npy")));
    EXPECT_TRUE(camkit::io::same_file("a.npy", path("a.npy")));
    fs::current_path(cwd);
}

TEST_F(File, StagedFilesAppearTogetherAtCommit) {
    std::ofstream(path("old.npy")) << "old";
    camkit::io::staged_files out;
    const std::size_t a = out.reserve(path("new.npy"));
    const std::size_t b = out.reserve(path("old.npy"));
    EXPECT_EQ(files().size(), 3u);  // old.npy and two staging files, nothing at new.npy yet
    EXPECT_FALSE(fs::exists(path("new.npy")));
    out.write(a, bytes_of("first"));
    out.write(b, bytes_of("second"));
    EXPECT_EQ(slurp(path("old.npy")), "old");
    out.commit();
    EXPECT_EQ(slurp(path("new.npy")), "first");
    EXPECT_EQ(slurp(path("old.npy")), "second");
    EXPECT_EQ(files(), (std::vector<std::string>{"new.npy", "old.npy"}));  // no staging or backup file left
}

TEST_F(File, AFailedCommitRestoresEveryOutput) {
    std::ofstream(path("first.npy")) << "previous";
    {
        camkit::io::staged_files out;
        out.write(out.reserve(path("first.npy")), bytes_of("new first"));
        out.write(out.reserve(path("fresh.npy")), bytes_of("new fresh"));
        out.write(out.reserve(path("second.npy")), bytes_of("new second"));
        // Something takes the third destination after the checks: a folder with a file inside.
        fs::create_directories(path("second.npy/inner"));
        EXPECT_NE(error_message([&] { out.commit(); }).find(path("second.npy") + ": cannot write: "), std::string::npos);
    }
    EXPECT_EQ(slurp(path("first.npy")), "previous");  // restored from its backup
    EXPECT_FALSE(fs::exists(path("fresh.npy")));      // removed again
    EXPECT_EQ(files(), (std::vector<std::string>{"first.npy", "second.npy"}));  // no staging file left
}

TEST_F(File, ReserveChecksTheDestination) {
    camkit::io::staged_files out;
    fs::create_directory(path("dir"));
    EXPECT_EQ(error_message([&] { out.reserve(path("dir")); }), "camkit: " + path("dir") + ": cannot write: it is a directory");
    EXPECT_EQ(error_message([&] { out.reserve(path("none/x.npy")); }),
              "camkit: " + path("none/x.npy") + ": cannot write: the folder '" + path("none") + "' does not exist");
    std::ofstream(path("file")) << "x";
    EXPECT_EQ(error_message([&] { out.reserve(path("file/x.npy")); }),
              "camkit: " + path("file/x.npy") + ": cannot write: '" + path("file") + "' is not a folder");
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    EXPECT_EQ(error_message([&] { out.reserve(path("fifo")); }),
              "camkit: " + path("fifo") + ": cannot write: it exists and is not a regular file");
    const std::string too_long = path(std::string(256, 'n'));
    EXPECT_EQ(error_message([&] { out.reserve(too_long); }),
              "camkit: " + too_long + ": cannot write: its file name is 256 bytes long, longer than file systems allow (255)");
    EXPECT_EQ(error_message([&] { out.reserve(""); }), "camkit: output path is empty");
    EXPECT_EQ(error_message([&] { out.write(0, bytes_of("x")); }), "camkit: staged_files::write: no reserved output 0");
    if (::geteuid() != 0) {  // root writes anywhere
        fs::permissions(path("dir"), fs::perms::owner_read | fs::perms::owner_exec);
        EXPECT_EQ(error_message([&] { out.reserve(path("dir/x.npy")); }),
                  "camkit: " + path("dir/x.npy") + ": cannot write into the folder '" + path("dir") + "': Permission denied");
        fs::permissions(path("dir"), fs::perms::owner_all);
    }
    EXPECT_EQ(files(), (std::vector<std::string>{"dir", "fifo", "file"}));
}

TEST_F(File, LongNamesAndAtomicWrites) {
    // 255 bytes is the longest name: the staging file's own name is short, so it works.
    const std::string longest = path(std::string(251, 'x') + ".npy");
    camkit::io::write_file_atomically(longest, bytes_of("data"));
    EXPECT_EQ(slurp(longest), "data");
    camkit::io::write_file_atomically(longest, bytes_of(""));
    EXPECT_EQ(slurp(longest), "");
    EXPECT_EQ(files().size(), 1u);
    EXPECT_THROW(camkit::io::write_file_atomically(path("none/x"), bytes_of("x")), camkit::error);
    EXPECT_EQ(files().size(), 1u);
}

}  // namespace
