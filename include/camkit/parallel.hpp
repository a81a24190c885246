#pragma once
// The one thread pool pattern of the host code: a fixed number of workers taking items in order.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace camkit::detail {

/// Threads to use: `requested` if positive, else as many cores as there is work for (≥ 256 Ki elements each).
inline unsigned resolve_threads(int requested, std::size_t elements) {
    if (requested > 0) return static_cast<unsigned>(requested);
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t by_work = std::max<std::size_t>(1, elements / (std::size_t{1} << 18));
    return static_cast<unsigned>(std::min<std::size_t>(hw, by_work));
}

/// Runs body(i) for i in [0, count) on up to `threads` threads (the caller's among them), items
/// taken in order one at a time; the first exception thrown by a body is rethrown here, and no
/// new item starts after it.
template <class Body>
void parallel_for(std::size_t count, unsigned threads, Body&& body) {
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    if (workers <= 1) {
        for (std::size_t i = 0; i < count; ++i) body(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto work = [&] {
        try {
            for (std::size_t i; (i = next.fetch_add(1)) < count;) body(i);
        } catch (...) {
            std::lock_guard lock(failure_mutex);
            if (!failure) failure = std::current_exception();
            next = count;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < workers; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace camkit::detail
