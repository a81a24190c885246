#pragma once
// A test with a scratch folder of its own (temp_dir.hpp), removed afterwards: path() names files in
// it and files() lists them, to check what a test's code wrote or left behind.
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace camkit_test {

/// A GoogleTest fixture owning an empty folder for the running test.
class scratch_test : public ::testing::Test {
protected:
    void SetUp() override { dir_ = unique_temp_dir("camkit_test"); }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    /// A path in the test's folder.
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    /// The names in the test's folder, sorted.
    std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    std::filesystem::path dir_;
};

}  // namespace camkit_test
