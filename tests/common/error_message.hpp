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

/// Expects `statement` to throw a camkit::error whose message contains `text` (GoogleTest).
#define CAMKIT_EXPECT_ERROR_HAS(statement, text)                                        \
    do {                                                                                \
        const std::string camkit_msg_ = camkit_test::error_message([&] { statement; }); \
        EXPECT_NE(camkit_msg_.find(text), std::string::npos) << "message: " << camkit_msg_; \
    } while (0)
