// detail::parallel_for, the one thread pattern of the host kernels: every item runs once, the
// error reported with several threads is the one a single thread reports (the lowest item that
// throws), a thread the system cannot start does not end the process, and the helper threads are
// kept between calls (detail::worker_pool) without deadlock for concurrent, nested or forked calls.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include "common/error_message.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

TEST(Parallel, EveryItemRunsOnceOnAnyThreadCount) {
    for (unsigned threads : {0u, 1u, 2u, 3u, 7u, 64u}) {
        std::vector<std::atomic<int>> runs(50);
        camkit::detail::parallel_for(runs.size(), threads, [&](std::size_t i) { ++runs[i]; });
        for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "item " << i << ", " << threads << " threads";
    }
}

// options.threads = 0: one thread per 256 Ki elements of work, up to the machine's cores (counted
// once per process); a positive request is taken as it is.
TEST(Parallel, ThreadsZeroTakesTheCoresTheWorkFills) {
    using camkit::detail::resolve_threads;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    EXPECT_EQ(camkit::detail::core_count(), cores);
    EXPECT_EQ(camkit::detail::worker_pool::capacity(), cores - 1);
    constexpr std::size_t per = std::size_t{1} << 18;
    EXPECT_EQ(resolve_threads(0, 0), 1u);
    EXPECT_EQ(resolve_threads(0, per - 1), 1u);
    EXPECT_EQ(resolve_threads(0, 2 * per), std::min(2u, cores));
    EXPECT_EQ(resolve_threads(0, 3 * per - 1), std::min(2u, cores));
    EXPECT_EQ(resolve_threads(0, std::size_t{1} << 40), cores);
    EXPECT_EQ(resolve_threads(5, 1), 5u);
    EXPECT_EQ(resolve_threads(1, std::size_t{1} << 40), 1u);
}

TEST(Parallel, TheLowestFailingItemIsReportedAndTheItemsBelowItRun) {
    for (unsigned threads : {1u, 2u, 4u, 16u}) {
        for (int round = 0; round < 20; ++round) {
            std::vector<std::atomic<int>> runs(40);
            try {
                camkit::detail::parallel_for(runs.size(), threads, [&](std::size_t i) {
                    ++runs[i];
                    if (i == 9 || i == 30 || i == 31) throw std::runtime_error("item " + std::to_string(i));
                });
                ADD_FAILURE() << "no exception";
            } catch (const std::runtime_error& e) {
                EXPECT_STREQ(e.what(), "item 9") << threads << " threads, round " << round;
            }
            for (std::size_t i = 0; i <= 9; ++i) EXPECT_EQ(runs[i].load(), 1) << "item " << i << ", " << threads << " threads";
        }
    }
}

// The finite checks name the first bad plane in (sample, channel) order whatever the thread count.
TEST(Parallel, NonFiniteInputsAreNamedAsOneThreadNamesThem) {
    camkit::tensor<float> a({4, 8, 16, 16}, 1.0f), g({4, 8, 16, 16}, 0.5f);
    a(0, 7, 3, 3) = std::numeric_limits<float>::quiet_NaN();
    a(3, 1, 0, 0) = std::numeric_limits<float>::infinity();
    camkit::tensor<float> h({1, 32, 8, 8}, 1.0f), hg({1, 32, 8, 8}, 0.5f);
    hg(0, 1, 2, 2) = std::numeric_limits<float>::quiet_NaN();
    hg(0, 30, 0, 0) = std::numeric_limits<float>::infinity();
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (int threads : {1, 2, 4, 64})
            for (int round = 0; round < 10; ++round) {
                camkit::options opt;
                opt.threads = threads;
                EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<M>(a, g, opt); }),
                          "camkit: activations contain NaN or Inf (sample 0, channel 7)")
                    << M::name << ", " << threads << " threads";
                if constexpr (camkit::needs_gradients_v<M>) {
                    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<M>(h, hg, opt); }),
                              "camkit: gradients contain NaN or Inf (sample 0, channel 1)")
                        << M::name << ", " << threads << " threads";
                }
            }
    });
}

// Two items that each wait for the other: both run at once, one on the caller, one on a helper.
// The helper is the same thread call after call (its thread_local count reaches the number of
// calls): the pool keeps it. A host of one core keeps none (capacity 0): each call starts one.
TEST(Parallel, PoolThreadsAreKeptBetweenCalls) {
    const auto caller = std::this_thread::get_id();
    const bool pooled = camkit::detail::worker_pool::capacity() >= 1;
    int last_helper_count = 0;
    const int calls = 200;
    for (int c = 0; c < calls; ++c) {
        std::atomic<int> arrived{0};
        std::atomic<bool> together{true};
        camkit::detail::parallel_for(2, 2, [&](std::size_t) {
            ++arrived;
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (arrived.load() < 2)
                if (std::chrono::steady_clock::now() > until) {
                    together = false;
                    return;
                }
            if (std::this_thread::get_id() != caller) {
                thread_local int helped = 0;
                last_helper_count = ++helped;
            }
        });
        ASSERT_TRUE(together.load()) << "call " << c << ": the second item did not start within 10 s";
    }
    EXPECT_EQ(last_helper_count, pooled ? calls : 1);
}

// Calls from several threads at once (one is served by the pool, the others start their own
// threads) and calls inside an item (a pool thread's, or the caller's while the pool serves it):
// every item runs once.
TEST(Parallel, ConcurrentAndNestedCallsRunEveryItemOnce) {
    std::vector<std::thread> callers;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            for (int round = 0; round < 50; ++round) {
                std::vector<std::atomic<int>> runs(24);
                camkit::detail::parallel_for(6, 2, [&](std::size_t outer) {
                    camkit::detail::parallel_for(4, 2, [&](std::size_t inner) { ++runs[outer * 4 + inner]; });
                });
                for (const auto& r : runs) wrong += r.load() != 1;
            }
        });
    for (auto& c : callers) c.join();
    EXPECT_EQ(wrong.load(), 0);
}

#if defined(__unix__)
// A child made by fork() while the pool exists runs parallel_for with a pool of its own (the
// parent's threads are not in it): it finishes, with every item run once.
TEST(Parallel, AForkedChildRunsParallelFor) {
    std::atomic<int> warm{0};
    camkit::detail::parallel_for(8, 2, [&](std::size_t) { ++warm; });  // the pool exists, with its helper
    ASSERT_EQ(warm.load(), 8);
    const pid_t child = fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
        alarm(20);  // a child waiting for the parent's threads would hang: SIGALRM ends it
        std::vector<std::atomic<int>> runs(100);
        for (int round = 0; round < 20; ++round) camkit::detail::parallel_for(runs.size(), 2, [&](std::size_t i) { ++runs[i]; });
        for (const auto& r : runs)
            if (r.load() != 20) std::_Exit(1);
        std::_Exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "the child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

// Samples side by side on several threads: maps of up to 4 KiB are summed in a private buffer
// (neighbouring maps share cache lines) and copied out; larger ones in place. Either way every
// sample's map is the one a single thread computes, to the bit (one channel block per sample).
template <class T>
void expect_thread_counts_agree(const camkit::shape_t& shape) {
    camkit::tensor<T> a(shape), g(shape);
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<T>(std::sin(0.37 * static_cast<double>(i)) + 1.1);
        g[i] = static_cast<T>(std::cos(0.23 * static_cast<double>(i)) * 0.5);
    }
    camkit::for_each_method([&](auto m) {
        using M = typename decltype(m)::type;
        const camkit::options one{.relu = false, .normalize = camkit::normalization::none, .threads = 1};
        const auto ref = camkit::explain<M>(a, g, one).raw;
        for (int threads : {2, 3}) {
            camkit::options opt = one;
            opt.threads = threads;
            const auto got = camkit::explain<M>(a, g, opt).raw;
            ASSERT_EQ(got.size(), ref.size());
            std::size_t differ = 0;
            for (std::size_t i = 0; i < ref.size(); ++i) differ += got[i] != ref[i];
            EXPECT_EQ(differ, 0u) << M::name << ", " << threads << " threads, " << shape[2] << " x " << shape[3];
        }
    });
}

TEST(Parallel, SamplesSideBySideGiveTheOneThreadMaps) {
    expect_thread_counts_agree<float>({7, 24, 7, 7});     // 196-byte maps: private buffers
    expect_thread_counts_agree<double>({5, 24, 16, 32});  // 4 KiB: the largest private map
    expect_thread_counts_agree<float>({5, 24, 33, 33});   // 4356 bytes: summed in place
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CAMKIT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CAMKIT_TEST_SANITIZED 1
#endif
#endif

// In a child process whose address space holds a few hundred thread stacks at most, 4000 threads
// are asked for: the threads that start do the work, and the result is the one-thread result.
#ifndef CAMKIT_TEST_SANITIZED
[[noreturn]] void run_with_few_threads_possible() {
    const rlimit limit{std::size_t{2} << 30, std::size_t{2} << 30};  // 2 GiB: ~250 stacks of 8 MiB
    if (setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(3);
    std::atomic<std::size_t> sum{0};
    camkit::detail::parallel_for(4000, 4000, [&](std::size_t i) { sum += i; });
    if (sum != std::size_t{4000} * 3999 / 2) std::_Exit(1);
    camkit::tensor<float> a({1, 4000, 1, 1}, 1.0f), g({1, 4000, 1, 1}, 0.5f);
    camkit::options opt;
    opt.threads = 4000;
    const auto many = camkit::explain<camkit::grad_cam>(a, g, opt);
    const auto one = camkit::explain<camkit::grad_cam>(a, g);
    for (std::size_t i = 0; i < one.raw.size(); ++i)
        if (std::abs(many.raw[i] - one.raw[i]) > 1e-3f * std::abs(one.raw[i])) std::_Exit(2);
    std::_Exit(0);
}
#endif

TEST(Parallel, ThreadsThatCannotStartLeaveTheirShareToTheOthers) {
#ifdef CAMKIT_TEST_SANITIZED
    GTEST_SKIP() << "a sanitizer reserves more address space than the limit this test sets";
#else
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(run_with_few_threads_possible(), ::testing::ExitedWithCode(0), "");
#endif
}

}  // namespace
