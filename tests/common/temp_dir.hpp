#pragma once
// A scratch folder of the running test alone: CTest runs tests in parallel (and CI runs the
// suite next to other builds), so a folder shared by name would be removed under another test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace camkit_test {

/// `<tmp>/<prefix>_<pid>_<suite>_<test>`, created empty.
inline std::filesystem::path unique_temp_dir(std::string_view prefix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(prefix) + "_" + std::to_string(::getpid());
    if (info) name += std::string("_") + info->test_suite_name() + "_" + info->name();
    const auto dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace camkit_test
