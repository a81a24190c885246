#pragma once
// `camkit-torch analyze`'s results as text: the metric rows of metrics.csv, the per-image record
// files the run resumes from (records/<stem>.csv), and the per-group statistics of summary.json.
// No LibTorch header: the report and the tests read the same code.
#include <camkit/io/file.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace camkit_analyze {

/// The columns of metrics.csv, in order (the contract: do not reorder).
inline const std::vector<std::string>& columns() {
    static const std::vector<std::string> c{"image",         "target",         "class",        "method",
                                            "layer",         "attention_mean", "attention_std", "attention_ratio",
                                            "energy_inside", "pointing_hit",   "iou_pred",      "iou_gt",
                                            "model_iou",     "model_dice"};
    return c;
}

/// The first metric column (attention_mean); the ones before it name the row.
inline constexpr std::size_t first_metric = 5;

/// One row of metrics.csv: one image × target × method × layer; a metric without a value (no
/// ground truth, no region) is an empty cell.
struct row {
    std::vector<std::string> cells = std::vector<std::string>(columns().size());
};

/// A metric value as a CSV cell: empty for none or NaN, "inf" for +∞, else 9 significant digits.
inline std::string number(std::optional<double> v) {
    if (!v || std::isnan(*v)) return "";
    if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", *v);
    return buf;
}

/// A cell quoted as RFC 4180 asks when it holds a comma, quote or line break.
inline std::string quote(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q(1, '"');
    for (char c : s) {
        if (c == '"') q.push_back('"');
        q.push_back(c);
    }
    q.push_back('"');
    return q;
}

/// One CSV line of cells (without the line break).
inline std::string csv_line(std::span<const std::string> cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (i) line.push_back(',');  // appended, not concatenated: GCC 12 warns falsely (-Wrestrict) on "," + s
        line.append(quote(cells[i]));
    }
    return line;
}

/// Splits one CSV line into cells (quoted cells as csv_line writes them).
inline std::vector<std::string> split_csv(const std::string& line) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += '"', ++i;
            else if (c == '"') quoted = false;
            else cells.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            cells.emplace_back();
        } else {
            cells.back() += c;
        }
    }
    return cells;
}

/// A parsed number cell; nullopt for an empty or unreadable one.
inline std::optional<double> parse_number(const std::string& s) {
    if (s.empty()) return std::nullopt;
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

/// The model's own segmentation of one class in one image against its ground truth, as pixel
/// counts: the report sums them over the data set (IoU = Σ both / (Σ predicted + Σ true - Σ both)).
struct class_overlap {
    std::size_t cls = 0;
    double both = 0, predicted = 0, truth = 0;
};

/// What the record of one image holds: its rows and the passes its analysis took, with the
/// passes separate `explain` calls would have taken for the same maps.
struct record {
    std::string stem;
    std::vector<row> rows;
    std::size_t forward = 0, backward = 0;                    ///< passes of this image's analysis
    std::size_t separate_forward = 0, separate_backward = 0;  ///< one explain call per target × method × layer
    std::vector<std::string> targets;                         ///< the panel's rows, in order
    std::vector<class_overlap> overlaps;  ///< with ground truth: each class predicted or true in the image
};

/// The first line of a record file (an earlier version's records are redone).
inline constexpr const char* record_header = "# camkit-torch analyze record 2";

/// The text of a record file: a header line, the pass counts, the target names, the class
/// overlaps, then the rows.
inline std::string record_text(const record& r) {
    std::string s = std::string(record_header) + "\n";
    s += "passes," + std::to_string(r.forward) + "," + std::to_string(r.backward) + "," +
         std::to_string(r.separate_forward) + "," + std::to_string(r.separate_backward) + "\n";
    std::vector<std::string> t{"targets"};
    t.insert(t.end(), r.targets.begin(), r.targets.end());
    s += csv_line(t) + "\n";
    for (const class_overlap& o : r.overlaps)
        s += "overlap," + std::to_string(o.cls) + "," + number(o.both) + "," + number(o.predicted) + "," + number(o.truth) + "\n";
    for (const row& x : r.rows) s += csv_line(x.cells) + "\n";
    return s;
}

/// Reads a record file written by record_text; nullopt when it is not one (then the image is redone).
inline std::optional<record> read_record(const std::string& path, const std::string& stem) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line) || line != record_header) return std::nullopt;
    record r;
    r.stem = stem;
    if (!std::getline(in, line)) return std::nullopt;
    const auto p = split_csv(line);
    if (p.size() != 5 || p[0] != "passes") return std::nullopt;
    try {
        r.forward = std::stoul(p[1]), r.backward = std::stoul(p[2]);
        r.separate_forward = std::stoul(p[3]), r.separate_backward = std::stoul(p[4]);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (!std::getline(in, line)) return std::nullopt;
    const auto t = split_csv(line);
    if (t.empty() || t[0] != "targets") return std::nullopt;
    r.targets.assign(t.begin() + 1, t.end());
    while (std::getline(in, line)) {
        row x;
        x.cells = split_csv(line);
        if (x.cells.size() == 5 && x.cells[0] == "overlap" && r.rows.empty()) {
            class_overlap o;
            const auto both = parse_number(x.cells[2]), predicted = parse_number(x.cells[3]), truth = parse_number(x.cells[4]);
            try {
                o.cls = std::stoul(x.cells[1]);
            } catch (const std::exception&) {
                return std::nullopt;
            }
            if (!both || !predicted || !truth) return std::nullopt;
            o.both = *both, o.predicted = *predicted, o.truth = *truth;
            r.overlaps.push_back(o);
            continue;
        }
        if (x.cells.size() != columns().size()) return std::nullopt;
        r.rows.push_back(std::move(x));
    }
    return r;
}

/// Writes text to `path` atomically (a staging file renamed into place): no partial file.
inline void write_text(const std::string& path, const std::string& text) {
    camkit::io::write_file_atomically(
        path, std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

/// Mean, population standard deviation (divided by n, not n - 1), median and count of the
/// finite values of one metric (an infinite attention ratio, a map with nothing outside the
/// region, is left out and not counted).
struct statistic {
    double mean = 0, std = 0, median = 0;
    std::size_t n = 0;
};

/// The statistic of `values` (non-finite ones left out).
inline statistic summarize(const std::vector<double>& values) {
    statistic s;
    std::vector<double> kept;
    for (double v : values)
        if (std::isfinite(v)) kept.push_back(v);
    s.n = kept.size();
    if (s.n == 0) return s;
    double sum = 0;
    for (double v : kept) sum += v;
    s.mean = sum / static_cast<double>(s.n);
    double sq = 0;
    for (double v : kept) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(s.n));
    std::sort(kept.begin(), kept.end());
    s.median = s.n % 2 ? kept[s.n / 2] : (kept[s.n / 2 - 1] + kept[s.n / 2]) / 2;
    return s;
}

/// The statistics of every metric column over a set of rows, by column name.
using metric_stats = std::map<std::string, statistic>;

/// The metric statistics of `rows`.
inline metric_stats stats_of(const std::vector<const row*>& rows) {
    metric_stats out;
    for (std::size_t c = first_metric; c < columns().size(); ++c) {
        std::vector<double> v;
        for (const row* r : rows)
            if (auto x = parse_number(r->cells[c])) v.push_back(*x);
        out[columns()[c]] = summarize(v);
    }
    return out;
}

/// One group of rows: a method × layer (class empty) or a method × layer × class.
struct group {
    std::string method, layer, cls;
    std::size_t rows = 0;
    metric_stats stats;
    /// Method × layer only: each metric's mean over the classes of the mean of each class's rows
    /// (every class counts once, however many rows it has: a background class present in every
    /// image does not outweigh the others); NaN where no class has a value.
    std::map<std::string, double> class_balanced;
    std::size_t classes = 0;  ///< method × layer only: the classes among its rows
};

/// The rows of `records` grouped by method × layer (by_class false) or method × layer × class,
/// in the order they first appear.
inline std::vector<group> groups(const std::vector<record>& records, bool by_class) {
    using key_t = std::tuple<std::string, std::string, std::string>;
    std::vector<key_t> keys;
    std::map<key_t, std::vector<const row*>> members;
    std::map<key_t, std::map<std::string, std::vector<const row*>>> per_class;  // method × layer -> class -> rows
    for (const record& r : records)
        for (const row& x : r.rows) {
            auto key = std::make_tuple(x.cells[3], x.cells[4], by_class ? x.cells[2] : std::string());
            if (!members.count(key)) keys.push_back(key);
            members[key].push_back(&x);
            if (!by_class) per_class[key][x.cells[2]].push_back(&x);
        }
    std::vector<group> out;
    for (const auto& k : keys) {
        group g{std::get<0>(k), std::get<1>(k), std::get<2>(k), members[k].size(), stats_of(members[k]), {}, 0};
        if (!by_class) {
            const auto& classes = per_class[k];
            g.classes = classes.size();
            std::map<std::string, std::pair<double, std::size_t>> sums;
            for (const auto& [cls, rows] : classes)
                for (const auto& [metric, st] : stats_of(rows))
                    if (st.n) sums[metric].first += st.mean, ++sums[metric].second;
            for (std::size_t c = first_metric; c < columns().size(); ++c) {
                const auto it = sums.find(columns()[c]);
                g.class_balanced[columns()[c]] =
                    it == sums.end() ? std::nan("") : it->second.first / static_cast<double>(it->second.second);
            }
        }
        out.push_back(std::move(g));
    }
    return out;
}

/// The model's own segmentation of one class over the data set: pixel counts summed over the
/// images with ground truth, and in how many of them the class is predicted / true.
struct class_quality {
    std::size_t cls = 0, images_predicted = 0, images_true = 0;
    double both = 0, predicted = 0, truth = 0;
    /// Σ both / (Σ predicted + Σ true - Σ both): the data set's IoU (NaN when the class is nowhere).
    double iou() const { return predicted + truth - both > 0 ? both / (predicted + truth - both) : std::nan(""); }
    /// 2 Σ both / (Σ predicted + Σ true).
    double dice() const { return predicted + truth > 0 ? 2 * both / (predicted + truth) : std::nan(""); }
};

/// The class_quality of every class in some record's overlaps, by class.
inline std::map<std::size_t, class_quality> class_qualities(const std::vector<record>& records) {
    std::map<std::size_t, class_quality> out;
    for (const record& r : records)
        for (const class_overlap& o : r.overlaps) {
            class_quality& q = out[o.cls];
            q.cls = o.cls;
            q.both += o.both, q.predicted += o.predicted, q.truth += o.truth;
            q.images_predicted += o.predicted > 0, q.images_true += o.truth > 0;
        }
    return out;
}

/// What summary.json and report.html both show, computed once: the groups by method × layer and
/// by method × layer × class, and the model's own quality per class.
struct tables {
    std::vector<group> by_method_layer, by_method_layer_class;
    std::map<std::size_t, class_quality> quality;
};

inline tables tables_of(const std::vector<record>& records) {
    return {groups(records, false), groups(records, true), class_qualities(records)};
}

/// A class's name for people: "3" or "3 (car)" with --class-names.
inline std::string class_label(const std::string& cls, const std::vector<std::string>& names) {
    try {
        std::size_t used = 0;
        const unsigned long c = std::stoul(cls, &used);
        if (used == cls.size() && c < names.size()) return cls + " (" + names[c] + ")";
    } catch (const std::exception&) {
    }
    return cls;
}

/// A string as a JSON string literal.
inline std::string json_string(const std::string& s) {
    std::string q = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') q += '\\', q += static_cast<char>(c);
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            q += buf;
        } else q += static_cast<char>(c);
    }
    return q + "\"";
}

/// A finite number as JSON, null otherwise.
inline std::string json_number(double v) { return std::isfinite(v) ? number(v) : "null"; }

/// One file that failed during a run, with the reason.
struct failure {
    std::string file, message;
};

/// summary.json: pass counts, failures, the statistics per method × layer and per
/// method × layer × class, and the model's own IoU and Dice per class over the data set.
inline std::string summary_json(const std::vector<record>& records, const tables& t, const std::vector<failure>& failed,
                                const std::vector<std::string>& class_names = {}) {
    std::size_t f = 0, b = 0, sf = 0, sb = 0;
    for (const record& r : records) f += r.forward, b += r.backward, sf += r.separate_forward, sb += r.separate_backward;
    std::ostringstream o;
    o << "{\n  \"images\": " << records.size() << ",\n";
    o << "  \"passes\": {\"forward\": " << f << ", \"backward\": " << b << ", \"separate_explain_forward\": " << sf
      << ", \"separate_explain_backward\": " << sb << "},\n";
    o << "  \"failed\": [";
    for (std::size_t i = 0; i < failed.size(); ++i)
        o << (i ? ", " : "") << "{\"file\": " << json_string(failed[i].file) << ", \"error\": " << json_string(failed[i].message)
          << "}";
    o << "],\n";
    const auto write_groups = [&](const char* name, bool by_class) {
        o << "  \"" << name << "\": [";
        const std::vector<group>& gs = by_class ? t.by_method_layer_class : t.by_method_layer;
        for (std::size_t i = 0; i < gs.size(); ++i) {
            const group& g = gs[i];
            o << (i ? ",\n    " : "\n    ") << "{\"method\": " << json_string(g.method) << ", \"layer\": " << json_string(g.layer);
            if (by_class) {
                o << ", \"class\": " << json_string(g.cls);
                const auto c = parse_number(g.cls);
                if (c && *c >= 0 && *c < static_cast<double>(class_names.size()))
                    o << ", \"name\": " << json_string(class_names[static_cast<std::size_t>(*c)]);
            }
            o << ", \"rows\": " << g.rows << ", \"metrics\": {";
            bool first = true;
            for (const auto& [metric, s] : g.stats) {
                o << (first ? "" : ", ") << json_string(metric) << ": {\"mean\": " << (s.n ? json_number(s.mean) : "null")
                  << ", \"std\": " << (s.n ? json_number(s.std) : "null")
                  << ", \"median\": " << (s.n ? json_number(s.median) : "null") << ", \"n\": " << s.n << "}";
                first = false;
            }
            o << "}";
            if (!by_class) {
                o << ", \"classes\": " << g.classes << ", \"class_balanced\": {";
                first = true;
                for (const auto& [metric, v] : g.class_balanced) {
                    o << (first ? "" : ", ") << json_string(metric) << ": " << json_number(v);
                    first = false;
                }
                o << "}";
            }
            o << "}";
        }
        o << (gs.empty() ? "]" : "\n  ]");
    };
    write_groups("by_method_layer", false);
    o << ",\n";
    write_groups("by_method_layer_class", true);
    o << ",\n  \"model_by_class\": [";
    bool first = true;
    for (const auto& [cls, q] : t.quality) {
        o << (first ? "\n    " : ",\n    ") << "{\"class\": " << json_string(std::to_string(cls));
        if (cls < class_names.size()) o << ", \"name\": " << json_string(class_names[cls]);
        o << ", \"images_true\": " << q.images_true << ", \"images_predicted\": " << q.images_predicted
          << ", \"iou\": " << json_number(q.iou()) << ", \"dice\": " << json_number(q.dice()) << "}";
        first = false;
    }
    o << (first ? "]" : "\n  ]") << "\n}\n";
    return o.str();
}

/// metrics.csv: the header and every record's rows, in record order.
inline std::string metrics_csv(const std::vector<record>& records) {
    std::string s = csv_line(columns()) + "\n";
    for (const record& r : records)
        for (const row& x : r.rows) s += csv_line(x.cells) + "\n";
    return s;
}

}  // namespace camkit_analyze
