#pragma once
// Progress of a long `camkit-torch analyze` run (or of explain's Score-CAM passes) on stderr: a bar
// with the ETA redrawn in place on a terminal, plain lines otherwise (a log file or CI output stays
// readable): one per image, or for many quick steps one every few seconds.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <unistd.h>

namespace camkit_analyze {

/// Seconds as M:SS or H:MM:SS.
inline std::string clock_text(double seconds) {
    const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

/// Reports the steps (images) of one run as they finish.
class progress {
public:
    /// `total` steps to do in this run (those already finished are not counted), shown as `label`;
    /// off a terminal a plain line per step, or with `plain_every` > 0 seconds at most one line that
    /// often (none for a run shorter than that).
    explicit progress(std::size_t total, std::string label = "analyze", double plain_every = 0)
        : total_(total), terminal_(isatty(STDERR_FILENO) == 1), label_(std::move(label)), plain_every_(plain_every) {}

    /// Step `name` is done (or failed, when `ok` is false).
    void step(const std::string& name, bool ok) {
        ++done_;
        const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
        const double eta = done_ ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
        if (terminal_) {
            const std::size_t width = 30, filled = total_ ? width * done_ / total_ : width;
            const std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
            std::fprintf(stderr, "\r%s [%s] %zu/%zu  elapsed %s  ETA %s ", label_.c_str(), bar.c_str(), done_, total_,
                         clock_text(elapsed).c_str(), clock_text(eta).c_str());
            if (done_ == total_) std::fprintf(stderr, "\n");
        } else if (plain_every_ <= 0) {
            std::fprintf(stderr, "%s: %zu/%zu %s %s (elapsed %s, ETA %s)\n", label_.c_str(), done_, total_, name.c_str(),
                         ok ? "done" : "FAILED", clock_text(elapsed).c_str(), clock_text(eta).c_str());
        } else if (elapsed >= last_plain_ + plain_every_) {
            last_plain_ = elapsed;
            std::fprintf(stderr, "%s: %zu/%zu %s (elapsed %s, ETA %s)\n", label_.c_str(), done_, total_, name.c_str(),
                         clock_text(elapsed).c_str(), clock_text(eta).c_str());
        }
        std::fflush(stderr);
    }

    /// Ends the bar's line early (an interrupt or an error message follows).
    void finish_line() {
        if (terminal_ && done_ != total_) std::fprintf(stderr, "\n");
    }

private:
    using clock = std::chrono::steady_clock;
    std::size_t total_, done_ = 0;
    bool terminal_;
    std::string label_;
    double plain_every_, last_plain_ = 0;
    clock::time_point start_ = clock::now();
};

}  // namespace camkit_analyze
