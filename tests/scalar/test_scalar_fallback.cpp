// The host kernels built without vector extensions (packs of width 1), as compilers other than
// GCC and Clang build them: the same cases as the pack build must pass. A separate executable,
// since every translation unit of a program must see the same pack width.
#define CAMKIT_NO_VECTOR_EXTENSIONS
#define KERNEL_SUITE ScalarKernels
#include "common/kernel_cases.hpp"

#include <camkit/isa.hpp>

#include <string>

TEST(ScalarKernels, PacksAreScalars) {
    EXPECT_EQ(camkit::detail::pack_width<float>, 1u);
    EXPECT_EQ(camkit::detail::pack_width<double>, 1u);
    EXPECT_FALSE(camkit::detail::is_pack_v<float>);
}

TEST(ScalarKernels, OnlyTheScalarInstructionSetRuns) {
    // Without vector extensions no pack width exists: the dispatcher picks scalar and refuses the others.
    EXPECT_EQ(camkit::best_isa(), camkit::isa::scalar);
    EXPECT_EQ(camkit::active_isa(), camkit::isa::scalar);
    for (camkit::isa i : {camkit::isa::sse2, camkit::isa::avx2, camkit::isa::avx512}) {
        const std::string name(camkit::isa_name(i));
        EXPECT_FALSE(camkit::isa_supported(i)) << name;
        EXPECT_EQ(camkit_test::error_message([&] { camkit::set_isa(i); }),
                  "camkit: set_isa: this CPU or build cannot run " + name + " (best here: scalar)");
        EXPECT_EQ(camkit_test::error_message([&] { (void)camkit::detail::isa_from_setting(name.c_str()); }),
                  "camkit: CAMKIT_ISA=" + name + ": this CPU or build cannot run it (best here: scalar)");
    }
    EXPECT_EQ(camkit::detail::dispatch([](auto bytes) { return bytes(); }), 0u);
}
