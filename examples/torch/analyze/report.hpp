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

/// "0.812 ± 0.05" of a statistic, "–" without values.
inline std::string stat_cell(const statistic& s) {
    if (s.n == 0) return "&ndash;";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f <small>&plusmn; %.3f</small>", s.mean, s.std);
    return buf;
}

/// What the report says about the run besides the records.
struct run_info {
    std::string model, target;
    std::vector<std::string> methods, layers;
    std::size_t images_total = 0;  ///< images in the input folder (within --limit)
    bool interrupted = false;
};

/// The metric that ranks method × layer in the summary table: the share of the map's energy
/// inside the target region (the "focus"), ties broken by the pointing game.
inline double focus_key(const group& g) {
    const statistic& e = g.stats.at("energy_inside");
    return e.n ? e.mean : -1.0;
}

/// The page.
inline std::string report_html(const run_info& info, const std::vector<record>& records, const std::vector<failure>& failed) {
    std::string o;
    o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>camkit analyze: " + html(info.model) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
         "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#eee}"
         "td.name,th.name{text-align:left}tr.best td{background:#dff3df;font-weight:bold}"
         "figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}figcaption{font-size:90%;max-width:60em}"
         "img{image-rendering:pixelated;border:1px solid #888}.fail{color:#a00}small{color:#666}\n"
         "</style>\n</head>\n<body>\n";
    o += "<h1>camkit-torch analyze</h1>\n<p>Model <code>" + html(info.model) + "</code>, target <code>" + html(info.target) +
         "</code>; " + std::to_string(records.size()) + " of " + std::to_string(info.images_total) + " images analysed";
    if (!failed.empty()) o += ", <span class=\"fail\">" + std::to_string(failed.size()) + " failed</span>";
    if (info.interrupted) o += ", <span class=\"fail\">interrupted</span> (run again with the same --out to resume)";
    o += ". Files: <a href=\"metrics.csv\">metrics.csv</a>, <a href=\"summary.json\">summary.json</a>.</p>\n";

    // Summary: method × layer, best focus first.
    std::vector<group> gs = groups(records, false);
    std::stable_sort(gs.begin(), gs.end(), [](const group& a, const group& b) { return focus_key(a) > focus_key(b); });
    const std::vector<std::pair<std::string, std::string>> shown{
        {"energy_inside", "energy inside"}, {"pointing_hit", "pointing hit"}, {"attention_ratio", "attention ratio"},
        {"iou_pred", "IoU (prediction)"},   {"iou_gt", "IoU (truth)"},       {"attention_mean", "mean"}};
    o += "<h2 id=\"summary\">Which method and layer focus most on the target regions</h2>\n";
    if (!gs.empty() && gs.front().stats.at("energy_inside").n) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", gs.front().stats.at("energy_inside").mean);
        o += "<p id=\"best\">Most focused: <b>" + html(gs.front().method) + "</b> at layer <b>" + html(gs.front().layer) +
             "</b> (mean share of the map's energy inside the target region " + buf + ").</p>\n";
    }
    o += "<p>Means &plusmn; standard deviations over every image &times; target; energy inside = share of the map's "
         "sum inside the target's region, pointing hit = share of maps whose maximum lies inside it, attention ratio = "
         "mean inside / mean outside, IoU of the map above 0.5 with the predicted and the true region.</p>\n";
    o += "<table id=\"summary-table\">\n<tr><th class=\"name\">method</th><th class=\"name\">layer</th><th>rows</th>";
    for (const auto& [key, label] : shown) o += "<th>" + label + "</th>";
    o += "</tr>\n";
    for (std::size_t i = 0; i < gs.size(); ++i) {
        o += std::string(i == 0 ? "<tr class=\"best\">" : "<tr>") + "<td class=\"name\">" + html(gs[i].method) +
             "</td><td class=\"name\">" + html(gs[i].layer) + "</td><td>" + std::to_string(gs[i].rows) + "</td>";
        for (const auto& [key, label] : shown) o += "<td>" + stat_cell(gs[i].stats.at(key)) + "</td>";
        o += "</tr>\n";
    }
    o += "</table>\n";

    // Per class: energy inside per method × layer, and the model's own IoU and Dice.
    const std::vector<group> cg = groups(records, true);
    std::set<std::string> classes_seen;
    std::vector<std::string> classes, columns_order;
    std::map<std::string, std::map<std::string, const group*>> cell;
    std::map<std::string, const group*> any_of_class;
    for (const group& g : cg) {
        if (classes_seen.insert(g.cls).second) classes.push_back(g.cls);
        const std::string col = g.method + " @ " + g.layer;
        if (std::find(columns_order.begin(), columns_order.end(), col) == columns_order.end()) columns_order.push_back(col);
        cell[g.cls][col] = &g;
        if (!any_of_class.count(g.cls)) any_of_class[g.cls] = &g;
    }
    std::sort(classes.begin(), classes.end(), [](const std::string& a, const std::string& b) {
        const auto x = parse_number(a), y = parse_number(b);
        return x && y ? *x < *y : a < b;
    });
    o += "<h2 id=\"classes\">How each class fares</h2>\n<p>Energy inside the target region per class (mean &plusmn; "
         "standard deviation), and the model's own IoU and Dice against the ground truth where there is one.</p>\n";
    o += "<table id=\"class-table\">\n<tr><th>class</th><th>model IoU</th><th>model Dice</th>";
    for (const auto& col : columns_order) o += "<th>" + html(col) + "</th>";
    o += "</tr>\n";
    for (const auto& c : classes) {
        o += "<tr><td>" + html(c) + "</td><td>" + stat_cell(any_of_class[c]->stats.at("model_iou")) + "</td><td>" +
             stat_cell(any_of_class[c]->stats.at("model_dice")) + "</td>";
        for (const auto& col : columns_order) {
            const auto it = cell[c].find(col);
            o += "<td>" + (it == cell[c].end() ? std::string("&ndash;") : stat_cell(it->second->stats.at("energy_inside"))) +
                 "</td>";
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
