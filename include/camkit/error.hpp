#pragma once
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace camkit {

/// The one exception type camkit throws for bad input; the message names the argument.
struct error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// Tensor shape: extents, outermost first.
using shape_t = std::vector<std::size_t>;

/// Formats a shape as `[2, 3, 4]` for error messages.
inline std::string to_string(std::span<const std::size_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

namespace detail {
/// Throws camkit::error with `what` unless `ok`.
inline void require(bool ok, const std::string& what) {
    if (!ok) throw error("camkit: " + what);
}
/// As above, with the message built by `what()` only on failure: for checks inside loops, where
/// building a message per element would cost far more than the check.
template <class F>
    requires std::is_invocable_r_v<std::string, F&>
void require(bool ok, F&& what) {
    if (!ok) throw error("camkit: " + what());
}
}  // namespace detail

}  // namespace camkit
