#pragma once
// report.html of `camkit-torch analyze`: one self-contained page (relative links only) that
// answers which method and layer focus most on the target regions (the summary table, best
// first), how each class fares, and shows every image's panel with its row and column names.
// A script at the end records in the page itself whether every picture loaded
// (<body data-images="loaded/total">), so a headless browser can check the page.
#include "records.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace camkit_analyze {

/// Text with &, <, >, " escaped for HTML.
inline std::string html(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '&') o += "&amp;";
        else if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

/// A path segment percent-encoded for a relative URL (file names may hold spaces or '#').
inline std::string url_segment(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o += static_cast<char>(c);
        else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            o += buf;
        }
    }
    return o;
}

/// "0.812 ± 0.05" of a statistic, "–" without values; "(n = 7)" after it when fewer than
/// `rows` rows have a value.
inline std::string stat_cell(const statistic& s, std::size_t rows = 0) {
    if (s.n == 0) return "&ndash;";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.3f <small>&plusmn; %.3f</small>", s.mean, s.std);
    std::string o = buf;
    if (s.n < rows) o += " <small>(n = " + std::to_string(s.n) + ")</small>";
    return o;
}

/// "19.9" of a statistic's median, "–" without values; "(n = 7)" as stat_cell.
inline std::string median_cell(const statistic& s, std::size_t rows = 0) {
    if (s.n == 0) return "&ndash;";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", s.median);
    std::string o = buf;
    if (s.n < rows) o += " <small>(n = " + std::to_string(s.n) + ")</small>";
    return o;
}

/// A table cell "<td title="± 0.05, n = 7">0.812</td>" of a statistic's mean, its standard deviation
/// and count on hover (the per-class table has a column per method × layer: means only fit).
inline std::string mean_cell(const statistic& s, std::size_t rows) {
    if (s.n == 0) return "<td>&ndash;</td>";
    char buf[128];
    std::snprintf(buf, sizeof buf, "<td title=\"&plusmn; %.3f, n = %zu\">%.3f", s.std, s.n, s.mean);
    std::string o = buf;
    if (s.n < rows) o += " <small>(n = " + std::to_string(s.n) + ")</small>";
    return o + "</td>";
}

/// "0.812" of a number, "–" for NaN.
inline std::string value_cell(double v) {
    if (!std::isfinite(v)) return "&ndash;";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

/// What the report says about the run besides the records.
struct run_info {
    std::string model, target;
    std::vector<std::string> methods, layers;
    std::size_t images_total = 0;  ///< images in the input folder (within --limit)
    bool interrupted = false;
    std::vector<std::string> class_names;  ///< --class-names (may be empty)
    std::vector<std::size_t> skipped;      ///< --skip-class
};

/// Class cells in numeric order (2 before 10), text after numbers.
inline bool by_class_index(const std::string& a, const std::string& b) {
    const auto x = parse_number(a), y = parse_number(b);
    if (x && y) return *x < *y;
    if (x || y) return x.has_value();
    return a < b;
}

/// The ranking of method × layer in the summary table: the class-balanced share of the map's
/// energy inside the target region (the "focus"), ties broken by the class-balanced pointing
/// game; groups without either come last, in their order.
inline bool ranks_before(const group& a, const group& b) {
    const auto key = [](const group& g, const char* metric) {
        const double v = g.class_balanced.at(metric);
        return std::isfinite(v) ? v : -1.0;
    };
    const double ea = key(a, "energy_inside"), eb = key(b, "energy_inside");
    if (ea != eb) return ea > eb;
    return key(a, "pointing_hit") > key(b, "pointing_hit");
}

/// The page.
inline std::string report_html(const run_info& info, const std::vector<record>& records, const tables& t,
                               const std::vector<failure>& failed) {
    std::string o;
    o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>camkit analyze: " + html(info.model) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:92%}"
         "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:right}th{background:#eee}td{white-space:nowrap}"
         "td.name,th.name{text-align:left}tr.best td{background:#dff3df;font-weight:bold}"
         "figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}figcaption{font-size:90%;max-width:60em}"
         "img{image-rendering:pixelated;border:1px solid #888}.fail{color:#a00}small{color:#666}"
         "dl{max-width:60em}dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}\n"
         "</style>\n</head>\n<body>\n";
    o += "<h1>camkit-torch analyze</h1>\n<p>Model <code>" + html(info.model) + "</code>, target <code>" + html(info.target) +
         "</code>; " + std::to_string(records.size()) + " of " + std::to_string(info.images_total) + " images analysed";
    if (!failed.empty()) o += ", <span class=\"fail\">" + std::to_string(failed.size()) + " failed</span>";
    if (info.interrupted) o += ", <span class=\"fail\">interrupted</span> (run again with the same --out to resume)";
    o += ". Files: <a href=\"metrics.csv\">metrics.csv</a>, <a href=\"summary.json\">summary.json</a>.</p>\n";

    // Summary: method × layer, best class-balanced focus first.
    std::vector<group> gs = t.by_method_layer;
    std::stable_sort(gs.begin(), gs.end(), ranks_before);
    const std::vector<std::pair<std::string, std::string>> shown{
        {"energy_inside", "energy inside"}, {"pointing_hit", "pointing hit"}, {"iou_pred", "IoU (prediction)"},
        {"iou_gt", "IoU (truth)"},          {"attention_mean", "map mean"}};
    std::vector<std::string> all_classes;
    for (const record& r : records)
        for (const row& x : r.rows)
            if (std::find(all_classes.begin(), all_classes.end(), x.cells[2]) == all_classes.end()) all_classes.push_back(x.cells[2]);
    std::sort(all_classes.begin(), all_classes.end(), by_class_index);
    o += "<h2 id=\"summary\">Which method and layer focus most on the target regions</h2>\n";
    if (!gs.empty() && std::isfinite(gs.front().class_balanced.at("energy_inside"))) {
        o += "<p id=\"best\">Most focused: <b>" + html(gs.front().method) + "</b> at layer <b>" + html(gs.front().layer) +
             "</b> (share of the map's energy inside the target region " + value_cell(gs.front().class_balanced.at("energy_inside")) +
             ", the mean over its " + std::to_string(gs.front().classes) + " classes of each class's mean).</p>\n";
    }
    std::string classes_text;
    for (const auto& c : all_classes) classes_text += (classes_text.empty() ? "" : ", ") + class_label(c, info.class_names);
    std::string skipped_text;
    for (std::size_t c : info.skipped) skipped_text += (skipped_text.empty() ? "" : ", ") + class_label(std::to_string(c), info.class_names);
    o += "<p id=\"classes-included\">Classes among the targets: " + html(classes_text.empty() ? "none" : classes_text) +
         (skipped_text.empty() ? std::string(" (a background class is one of them unless <code>--skip-class</code> leaves it out)")
                               : "; left out by <code>--skip-class</code>: " + html(skipped_text)) +
         ".</p>\n";
    o += "<dl id=\"legend\">"
         "<dt>rows</dt><dd>image &times; target pairs of the method and layer; classes: the classes among them.</dd>"
         "<dt>focus</dt><dd>the ranking: the share of the map's sum inside the target's region, averaged per class "
         "and then over the classes, so that every class counts once however many rows it has. Ties go to the "
         "higher pointing hit, averaged the same way.</dd>"
         "<dt>energy inside, pointing hit, IoU, map mean</dt><dd>mean &plusmn; standard deviation over the rows (the "
         "population standard deviation: divided by n, not n &minus; 1). Pointing hit: the share of maps whose maximum "
         "lies inside the region. IoU: of the map above 0.5 with the class's predicted and true regions. Map mean: the "
         "mean of the whole map (attention_mean in metrics.csv).</dd>"
         "<dt>attention ratio</dt><dd>mean inside the region / mean outside, shown as the median over the rows: the "
         "ratio has a heavy tail (a map nearly zero outside gives a huge ratio), which the mean would follow. A map "
         "zero everywhere outside has an infinite ratio (<code>inf</code> in metrics.csv) and is left out.</dd>"
         "<dt>(n = &hellip;)</dt><dd>how many rows have a value when that is fewer than the rows: no region, no ground "
         "truth, an infinite ratio, the pointing hit of a constant map (no peak).</dd></dl>\n";
    o += "<table id=\"summary-table\">\n<tr><th class=\"name\">method</th><th class=\"name\">layer</th><th>rows</th>"
         "<th>classes</th><th>focus</th>";
    for (const auto& [key, label] : shown) o += "<th>" + label + "</th>";
    o += "<th>attention ratio (median)</th></tr>\n";
    for (std::size_t i = 0; i < gs.size(); ++i) {
        const group& g = gs[i];
        o += std::string(i == 0 ? "<tr class=\"best\">" : "<tr>") + "<td class=\"name\">" + html(g.method) +
             "</td><td class=\"name\">" + html(g.layer) + "</td><td>" + std::to_string(g.rows) + "</td><td>" +
             std::to_string(g.classes) + "</td><td>" + value_cell(g.class_balanced.at("energy_inside")) + "</td>";
        for (const auto& [key, label] : shown) o += "<td>" + stat_cell(g.stats.at(key), g.rows) + "</td>";
        o += "<td>" + median_cell(g.stats.at("attention_ratio"), g.rows) + "</td></tr>\n";
    }
    o += "</table>\n";

    // Per class: energy inside per method × layer, and the model's own IoU and Dice over the data set.
    const std::vector<group>& cg = t.by_method_layer_class;
    const std::map<std::size_t, class_quality>& quality = t.quality;
    std::set<std::string> classes_seen;
    std::vector<std::string> classes, columns_order;
    std::map<std::string, std::map<std::string, const group*>> cell;
    std::map<std::string, std::size_t> rows_of_class;  // rows of the class in one method × layer
    for (const group& g : cg) {
        if (classes_seen.insert(g.cls).second) classes.push_back(g.cls);
        const std::string col = g.method + " @ " + g.layer;
        if (std::find(columns_order.begin(), columns_order.end(), col) == columns_order.end()) columns_order.push_back(col);
        cell[g.cls][col] = &g;
        rows_of_class[g.cls] = std::max(rows_of_class[g.cls], g.rows);
    }
    for (const auto& [c, q] : quality)
        if (classes_seen.insert(std::to_string(c)).second) classes.push_back(std::to_string(c));
    std::sort(classes.begin(), classes.end(), by_class_index);
    o += "<h2 id=\"classes\">How each class fares</h2>\n<p>Per class: its rows (image &times; target pairs, in each "
         "method and layer), the images whose ground truth holds it and those whose prediction does, the model's own "
         "IoU and Dice of the class over the data set (pixels summed over every image with ground truth: "
         "&Sigma; both / (&Sigma; predicted + &Sigma; true &minus; &Sigma; both); empty without ground truth), and the "
         "mean energy inside the target region per method and layer over the class's rows (the standard deviation "
         "shows on hovering a cell).</p>\n";
    o += "<table id=\"class-table\">\n<tr><th class=\"name\">class</th><th>rows</th><th>images true</th><th>images "
         "predicted</th><th>model IoU</th><th>model Dice</th>";
    for (const auto& col : columns_order) o += "<th>" + html(col) + "</th>";
    o += "</tr>\n";
    for (const auto& c : classes) {
        const auto n = parse_number(c);
        const auto q = n ? quality.find(static_cast<std::size_t>(*n)) : quality.end();
        const bool known = q != quality.end();
        o += "<tr><td class=\"name\">" + html(class_label(c, info.class_names)) + "</td><td>" + std::to_string(rows_of_class[c]) +
             "</td><td>" + (known ? std::to_string(q->second.images_true) : std::string("&ndash;")) + "</td><td>" +
             (known ? std::to_string(q->second.images_predicted) : std::string("&ndash;")) + "</td><td>" +
             (known ? value_cell(q->second.iou()) : std::string("&ndash;")) + "</td><td>" +
             (known ? value_cell(q->second.dice()) : std::string("&ndash;")) + "</td>";
        for (const auto& col : columns_order) {
            const auto it = cell[c].find(col);
            o += it == cell[c].end() ? std::string("<td>&ndash;</td>") : mean_cell(it->second->stats.at("energy_inside"), it->second->rows);
        }
        o += "</tr>\n";
    }
    o += "</table>\n";

    if (!failed.empty()) {
        o += "<h2 id=\"failed\">Files that failed</h2>\n<ul class=\"fail\">\n";
        for (const failure& f : failed) o += "<li><code>" + html(f.file) + "</code>: " + html(f.message) + "</li>\n";
        o += "</ul>\n";
    }

    std::string cols;
    for (const auto& m : info.methods)
        for (const auto& l : info.layers) cols += (cols.empty() ? "" : ", ") + m + " @ " + l;
    o += "<h2 id=\"panels\">Panels</h2>\n<p>First row: the input, the ground truth and the prediction (class colours). "
         "Then one row per target: its region (outside darkened), then the columns " + html(cols) +
         ", and the colour bar (1 at the top, 0 at the bottom).</p>\n";
    for (const record& r : records) {
        std::string rows;
        for (const auto& t : r.targets) rows += (rows.empty() ? "" : ", ") + t;
        const std::string src = "panels/" + url_segment(r.stem) + ".png";
        o += "<figure id=\"image-" + html(r.stem) + "\"><a href=\"" + src + "\"><img src=\"" + src + "\" alt=\"panel of " +
             html(r.stem) + "\"></a><figcaption><b>" + html(r.stem) + "</b>: rows " + html(rows.empty() ? "(none)" : rows) +
             "</figcaption></figure>\n";
    }
    o += "<script>\nwindow.addEventListener('load', function () {\n"
         "  var imgs = document.images, ok = 0;\n"
         "  for (var i = 0; i < imgs.length; ++i) if (imgs[i].complete && imgs[i].naturalWidth > 0) ++ok;\n"
         "  document.body.setAttribute('data-images', ok + '/' + imgs.length);\n});\n</script>\n</body>\n</html>\n";
    return o;
}

}  // namespace camkit_analyze
