#pragma once
// Small text helpers of the torch adapter's messages and metadata, shared by the TorchScript
// (scripted.hpp) and AOTInductor (exported.hpp) parts, which cannot include each other.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace camkit::torch::detail {

/// `text` split at each `separator` ("a,b" -> {"a", "b"}; "" -> {""}; "layer4.1" at '.' -> its path).
inline std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
        parts.push_back(text.substr(start, at - start));
    parts.push_back(text.substr(start));
    return parts;
}

/// "a, b, c" for a message: cut after about `limit` characters with the count of names, and
/// "(none)" for no name.
inline std::string join(const std::vector<std::string>& names, std::size_t limit = 400) {
    std::string s;
    for (const auto& n : names) {
        if (!s.empty()) s += ", ";
        if (s.size() + n.size() > limit) return s + "... (" + std::to_string(names.size()) + " in all)";
        s += n;
    }
    return s.empty() ? std::string("(none)") : s;
}

/// The layers `names` for a message: "layer 'a'" or "layers 'a', 'b', 'c'" (cut as join cuts).
inline std::string layers_phrase(const std::vector<std::string>& names) {
    std::vector<std::string> quoted;
    quoted.reserve(names.size());
    for (const auto& n : names) quoted.push_back("'" + n + "'");
    return (names.size() == 1 ? "layer " : "layers ") + join(quoted);
}

/// The Levenshtein distance of `a` and `b`: the fewest insertions, deletions and substitutions.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

/// "unknown layer 'x'; valid layers: ..." and, where some names are a few edits from `layer` (a
/// typo, a wrong index: at most 2, or a quarter of its length), "; did you mean 'a' or 'b'?".
inline std::string unknown_layer(const std::string& layer, const std::vector<std::string>& names) {
    std::string s = "unknown layer '" + layer + "'; valid layers: " + join(names);
    std::size_t best = std::max<std::size_t>(2, layer.size() / 4) + 1;
    std::vector<std::string> nearest;
    for (const auto& n : names) {
        const std::size_t d = edit_distance(layer, n);
        if (d < best) best = d, nearest.clear();
        if (d == best) nearest.push_back(n);
    }
    if (nearest.empty() || nearest.size() > 5) return s;
    s += "; did you mean ";
    for (std::size_t i = 0; i < nearest.size(); ++i)
        s += (i == 0 ? "'" : i + 1 == nearest.size() ? " or '" : ", '") + nearest[i] + "'";
    return s + "?";
}

/// How deep a dotted module path is: the number of dots ("layer4" 0, "layer4.1.conv1" 2).
inline std::ptrdiff_t path_depth(const std::string& path) { return std::count(path.begin(), path.end(), '.'); }

}  // namespace camkit::torch::detail
