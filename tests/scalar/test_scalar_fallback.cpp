// The host kernels built without vector extensions (packs of width 1), as compilers other than
// GCC and Clang build them: the same cases as the pack build must pass. A separate executable,
// since every translation unit of a program must see the same pack width.
#define CAMKIT_NO_VECTOR_EXTENSIONS
#define KERNEL_SUITE ScalarKernels
#include "common/kernel_cases.hpp"

TEST(ScalarKernels, PacksAreScalars) {
    EXPECT_EQ(camkit::detail::pack_width<float>, 1u);
    EXPECT_EQ(camkit::detail::pack_width<double>, 1u);
    EXPECT_FALSE(camkit::detail::is_pack_v<float>);
}
