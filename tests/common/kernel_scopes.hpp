#pragma once
// Settings of the host kernels for tests: the instruction sets this CPU supports, and scopes that
// set the instruction set (camkit::set_isa) or the spatial tiles (camkit::detail::set_tiling) and
// restore them when they end.
#include <camkit/isa.hpp>
#include <camkit/kernels.hpp>

#include <cstddef>
#include <vector>

namespace camkit_test {

/// Every instruction set camkit knows.
inline constexpr camkit::isa all_isas[] = {camkit::isa::scalar, camkit::isa::sse2, camkit::isa::avx2, camkit::isa::avx512};

/// The instruction sets this CPU and build support.
inline std::vector<camkit::isa> supported_isas() {
    std::vector<camkit::isa> out;
    for (camkit::isa i : all_isas)
        if (camkit::isa_supported(i)) out.push_back(i);
    return out;
}

/// Sets the active instruction set for one scope and restores the previous one after it.
class isa_scope {
public:
    explicit isa_scope(camkit::isa i) : before_(camkit::set_isa(i)) {}
    ~isa_scope() { camkit::set_isa(before_); }
    isa_scope(const isa_scope&) = delete;
    isa_scope& operator=(const isa_scope&) = delete;

private:
    camkit::isa before_;
};

/// Makes the kernels walk tiles of `positions` (0: whole planes) for one scope, then restores the setting.
class tiling_scope {
public:
    explicit tiling_scope(std::size_t positions) : before_(camkit::detail::set_tiling(positions)) {}
    ~tiling_scope() { camkit::detail::set_tiling(before_); }
    tiling_scope(const tiling_scope&) = delete;
    tiling_scope& operator=(const tiling_scope&) = delete;

private:
    std::size_t before_;
};

}  // namespace camkit_test
