#pragma once
// camkit's one exception type and the checks that throw it.
#include <stdexcept>
#include <string>
#include <type_traits>

namespace camkit {

/// The one exception type camkit throws for bad input; the message names the argument.
struct error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

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
