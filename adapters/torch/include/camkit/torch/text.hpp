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

/// How deep a dotted module path is: the number of dots ("layer4" 0, "layer4.1.conv1" 2).
inline std::ptrdiff_t path_depth(const std::string& path) { return std::count(path.begin(), path.end(), '.'); }

}  // namespace camkit::torch::detail
