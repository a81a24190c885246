#pragma once
// The map pipeline's command-line options (docs/math.md, "The pipeline after the raw map"), shared
// by `camkit cam` and `camkit-torch explain`: --relu/--no-relu, --normalize, --eps, --renormalize,
// with Respond-CAM's published defaults (no ReLU, no normalization) unless the user says otherwise.
#include "cli_support.hpp"

#include <camkit/explain.hpp>
#include <camkit/methods/respond_cam.hpp>

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>

/// The help lines of the pipeline options, a macro so that the commands' help literals concatenate
/// it: option names at column 2, their text at column 20 plus PAD (a literal of spaces).
#define CAMKIT_PIPELINE_HELP(PAD)                                                                 \
    "  --no-relu         " PAD "keep negative evidence (default: ReLU on the raw map)\n"                \
    "  --relu            " PAD "clip negative evidence (respondcam's default is no ReLU)\n"             \
    "  --normalize MODE  " PAD "per-sample normalization: min_max (default), max or none;\n"            \
    "                    " PAD "respondcam defaults to its published map: no ReLU, --normalize none\n"  \
    "  --eps E           " PAD "epsilon of min_max normalization (default 1e-7)\n"                      \
    "  --renormalize     " PAD "ReLU and min_max again after resizing (as pytorch-grad-cam does)\n"

namespace camkit_cli {


/// What the pipeline options said, beyond the values they set in camkit::options.
struct pipeline_flags {
    bool relu = false, no_relu = false, normalize_given = false;
};

/// --eps: a finite number ≥ 0.
inline double parse_eps(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v < 0)
        fail("--eps must be a finite number >= 0, got '" + std::string(s) + "'");
    return v;
}

/// Adds the pipeline options to `p`, writing into `opt` and `f`.
inline option_parser& pipeline_options(option_parser& p, camkit::options& opt, pipeline_flags& f) {
    return p.flag("--no-relu", f.no_relu)
        .flag("--relu", f.relu)
        .flag("--renormalize", opt.renormalize)
        .value("--eps", [&opt](const std::string& v) { opt.eps = parse_eps(v); })
        .value("--normalize", [&opt, &f](const std::string& v) {
            f.normalize_given = true;
            if (v == "min_max") opt.normalize = camkit::normalization::min_max;
            else if (v == "max") opt.normalize = camkit::normalization::max;
            else if (v == "none") opt.normalize = camkit::normalization::none;
            else fail("--normalize must be min_max, max or none, got '" + v + "'");
        });
}

/// After parsing: Respond-CAM's published pipeline for `method` respondcam unless --relu or
/// --normalize say otherwise; --relu with --no-relu is an error.
inline void finish_pipeline(const std::string& method, camkit::options& opt, const pipeline_flags& f) {
    if (f.relu && f.no_relu) fail("--relu and --no-relu contradict each other");
    // Respond-CAM's published map is the raw sum (its sum-to-score property needs it).
    if (method == camkit::respond_cam::name) {
        const camkit::options published = camkit::respond_cam_options();
        opt.relu = published.relu;
        if (!f.normalize_given) opt.normalize = published.normalize;
    }
    if (f.relu || f.no_relu) opt.relu = f.relu;
}

}  // namespace camkit_cli
