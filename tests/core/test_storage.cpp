// Host storage of results: make_values / resize_values (tensor.hpp) fill and reuse as documented,
// and on Linux prefault maps a fresh range's whole pages in one call but leaves reused (mapped)
// memory alone, checked page by page with mincore.
#include <camkit/tensor.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace {

TEST(Storage, MakeValuesFillsSmallAndLargeStorage) {
    const auto small = camkit::detail::make_values<float>(10, 2.5f);
    ASSERT_EQ(small.size(), 10u);
    EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](float v) { return v == 2.5f; }));
    const std::size_t n = camkit::detail::prefault_bytes / sizeof(float) + 7;  // pre-faulted
    const auto large = camkit::detail::make_values<float>(n);
    ASSERT_EQ(large.size(), n);
    EXPECT_TRUE(std::all_of(large.begin(), large.end(), [](float v) { return v == 0.0f; }));
    const camkit::tensor<double> t({512, 512}, 1.5);
    ASSERT_EQ(t.size(), 512u * 512u);
    EXPECT_TRUE(std::all_of(t.values.begin(), t.values.end(), [](double v) { return v == 1.5; }));
    const camkit::tensor<bool> b({600, 600}, true);  // std::vector<bool>: no data() to prefault
    EXPECT_EQ(std::count(b.values.begin(), b.values.end(), true), 600 * 600);
}

TEST(Storage, ResizeValuesKeepsStorageWithRoomAndReplacesItOtherwise) {
    std::vector<float> v;
    v.reserve(1000);
    v.assign(800, 3.0f);
    const float* before = v.data();
    camkit::detail::resize_values(v, 500);
    EXPECT_EQ(v.size(), 500u);
    EXPECT_EQ(v.data(), before) << "room enough: the storage is kept";
    camkit::detail::resize_values(v, 1000);
    EXPECT_EQ(v.size(), 1000u);
    EXPECT_EQ(v.data(), before);
    const std::size_t n = std::size_t{1} << 18;
    camkit::detail::resize_values(v, n);
    ASSERT_EQ(v.size(), n);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; })) << "new storage is value-initialized";
}

#if defined(__linux__)
/// Pages of [p, p + pages · 4 KiB) that are resident.
std::size_t resident_pages(void* p, std::size_t pages) {
    std::vector<unsigned char> in(pages);
    EXPECT_EQ(::mincore(p, pages * 4096, in.data()), 0);
    return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return (c & 1) != 0; }));
}

/// A fresh anonymous mapping of `pages` 4 KiB pages (none resident yet).
struct fresh_mapping {
    explicit fresh_mapping(std::size_t pages) : bytes(pages * 4096) {
        p = static_cast<unsigned char*>(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    }
    ~fresh_mapping() {
        if (p != MAP_FAILED) ::munmap(p, bytes);
    }
    std::size_t bytes;
    unsigned char* p;
};

TEST(Storage, PrefaultMapsFreshPagesAndLeavesMappedMemoryAlone) {
    if (::sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "pages of another size than 4 KiB: prefault does nothing";
    {
        fresh_mapping probe(1);
        ASSERT_NE(probe.p, MAP_FAILED);
        if (::madvise(probe.p, 4096, MADV_POPULATE_WRITE) != 0)
            GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE (Linux 5.14+): prefault does nothing";
    }
    fresh_mapping fresh(64);
    ASSERT_NE(fresh.p, MAP_FAILED);
    ASSERT_EQ(resident_pages(fresh.p, 64), 0u);
    // An unaligned range: only the pages wholly inside it are mapped.
    camkit::detail::prefault(fresh.p + 100, fresh.bytes - 200);
    EXPECT_EQ(resident_pages(fresh.p, 64), 62u);
    EXPECT_EQ(fresh.p[100], 0) << "mapped pages read as zero";

    // The last page resident (memory the allocator reuses): nothing more is mapped.
    fresh_mapping reused(64);
    ASSERT_NE(reused.p, MAP_FAILED);
    reused.p[reused.bytes - 1] = 1;
    ASSERT_EQ(resident_pages(reused.p, 64), 1u);
    camkit::detail::prefault(reused.p, reused.bytes);
    EXPECT_EQ(resident_pages(reused.p, 64), 1u);
}
#endif

}  // namespace
