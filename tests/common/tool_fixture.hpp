#pragma once
// One fixture for the tests that run a built tool (`camkit`, `camkit-torch`) as a program: a
// scratch folder of the running test (scratch_test.hpp), the run itself with stdout and stderr
// captured, and the check of a clean failure (exit status 2, one line on stderr, no file left).
#include "scratch_test.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace camkit_test {

/// What a run of a tool gave: its exit status and what it wrote.
struct tool_result {
    int status = -1;  ///< exit status; 128 + signal when killed, 124 when it ran into the time limit
    std::string out, err;
};

/// The bytes of the file at `p` ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// Writes `bytes` to the file at `p`.
inline void write_text(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

/// `s` quoted for the POSIX shell.
inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// A test that runs the tool at `tool_path`, named `tool_name` in its messages, in a scratch
/// folder of its own.
class tool_fixture : public scratch_test {
protected:
    tool_fixture(std::string tool_path, std::string tool_name)
        : tool_path_(std::move(tool_path)), tool_name_(std::move(tool_name)) {}

    /// Runs the tool with `args` (passed as they are, no shell expansion), stdin from /dev/null and
    /// a time limit of two minutes, so a tool that blocks on an input fails the test instead of hanging it.
    tool_result run(const std::vector<std::string>& args) const {
        const std::filesystem::path o = dir_.parent_path() / (dir_.filename().string() + ".stdout"),
                                    e = dir_.parent_path() / (dir_.filename().string() + ".stderr");
        // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::string.
        std::string cmd = "timeout 120 ";
        cmd += shell_quote(tool_path_);
        for (const auto& a : args) (cmd += ' ') += shell_quote(a);
        ((cmd += " </dev/null >") += shell_quote(o.string())) += " 2>";
        cmd += shell_quote(e.string());
        const int raw = std::system(cmd.c_str());
        tool_result r;
        r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        r.out = slurp(o);
        r.err = slurp(e);
        std::error_code ec;
        std::filesystem::remove(o, ec);
        std::filesystem::remove(e, ec);
        return r;
    }

    /// Runs the tool with `args` on a pseudo-terminal (util-linux's `script` gives it one, so it
    /// draws what it draws for a person) and returns everything it showed there; fails the test
    /// unless it exits with 0.
    std::string run_on_terminal(const std::vector<std::string>& args) const {
        EXPECT_EQ(std::system("command -v script >/dev/null 2>&1"), 0) << "util-linux's script is missing";
        std::string cmd = shell_quote(tool_path_);
        for (const auto& a : args) (cmd += ' ') += shell_quote(a);
        const std::filesystem::path shown = dir_.parent_path() / (dir_.filename().string() + ".tty");
        std::string line = "timeout 120 script -qec ";
        ((line += shell_quote(cmd)) += " /dev/null >") += shell_quote(shown.string());
        line += " </dev/null";
        EXPECT_EQ(std::system(line.c_str()), 0) << line;
        const std::string text = slurp(shown);
        std::error_code ec;
        std::filesystem::remove(shown, ec);
        return text;
    }

    /// Expects a clean failure: status 2, one line on stderr starting "<tool>: " and containing
    /// `needle`, and the folder as it was (no output, no staging file, no changed file). Returns stderr.
    std::string expect_bad_input(const std::vector<std::string>& args, const std::string& needle) const {
        std::vector<std::pair<std::string, std::string>> before;
        for (const auto& name : files()) before.emplace_back(name, file_state(name));
        const tool_result r = run(args);
        EXPECT_EQ(r.status, 2) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
        EXPECT_EQ(r.err.rfind(tool_name_ + ": ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "expected: " << needle;
        std::vector<std::pair<std::string, std::string>> after;
        for (const auto& name : files()) after.emplace_back(name, file_state(name));
        EXPECT_EQ(after, before) << "the folder changed: " << r.err;
        return r.err;
    }

private:
    /// A file's contents (a folder or special file as a marker), to see that a failure changed nothing.
    std::string file_state(const std::string& name) const {
        std::error_code ec;
        const auto st = std::filesystem::symlink_status(dir_ / name, ec);
        if (st.type() != std::filesystem::file_type::regular) return "<" + std::to_string(static_cast<int>(st.type())) + ">";
        // Large (sparse) inputs by size and time: reading them would take longer than the test.
        // Size, time and a hash of the contents (up to 1 MiB: large inputs are sparse files of the
        // test, too slow to read), so that a failure message stays short.
        const auto size = std::filesystem::file_size(dir_ / name, ec);
        const auto time = std::filesystem::last_write_time(dir_ / name, ec).time_since_epoch().count();
        const std::size_t hash = size > (1u << 20) ? 0 : std::hash<std::string>{}(slurp(dir_ / name));
        return std::to_string(size) + " bytes, time " + std::to_string(time) + ", hash " + std::to_string(hash);
    }

    std::string tool_path_, tool_name_;
};

/// One sample's line of `camkit-torch explain`: the class its map explains and the target's score
/// (NaN where the line has none: cam).
struct explained_sample {
    std::size_t cls = 0;
    double score = std::numeric_limits<double>::quiet_NaN();
};

/// The per-sample lines "  sample n: class C[, score S]" that follow explain's summary line in
/// `out`, in order; a line of another form, or out of order, is a test failure.
inline std::vector<explained_sample> explained_samples(const std::string& out) {
    std::vector<explained_sample> got;
    std::istringstream in(out);
    std::string line;
    std::getline(in, line);  // the summary: what was written
    while (std::getline(in, line)) {
        const std::string head = "  sample " + std::to_string(got.size()) + ": class ";
        explained_sample s;
        char tail = 0;
        const int read = line.rfind(head, 0) == 0
                             ? std::sscanf(line.c_str() + head.size(), "%zu, score %lf%c", &s.cls, &s.score, &tail)
                             : 0;
        if (read < 1 || read > 2 || (read == 1 && line.find(',') != std::string::npos))
            ADD_FAILURE() << "not sample " << got.size() << "'s line: '" << line << "'";
        got.push_back(s);
    }
    return got;
}

}  // namespace camkit_test
