#pragma once
// The message of the camkit::error a statement throws, for tests that check error texts.
#include <camkit/error.hpp>

#include <string>

namespace camkit_test {

/// What `f()` throws as camkit::error, or "no error" when it throws none.
template <class F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (const camkit::error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace camkit_test
