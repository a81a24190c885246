#pragma once
// The one thread pool pattern of the host code: a fixed number of workers taking items in order.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
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
/// taken in order one at a time. When bodies throw, the exception of the lowest item that threw is
/// rethrown here, as with one thread: the items below it still run, none above it starts. A thread
/// the system cannot start (a thread or memory limit) leaves its share to the threads that did.
template <class Body>
void parallel_for(std::size_t count, unsigned threads, Body&& body) {
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    if (workers <= 1) {
        for (std::size_t i = 0; i < count; ++i) body(i);
        return;
    }
    std::atomic<std::size_t> next{0}, failed_at{count};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < count;) {
            if (i > failed_at.load()) return;  // items are taken in order: every later one is above it too
            try {
                body(i);
            } catch (...) {
                std::lock_guard lock(failure_mutex);
                if (i < failed_at.load()) {
                    failed_at = i;
                    failure = std::current_exception();
                }
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);  // no reallocation below: a failed start leaves the started threads joinable here
    for (unsigned t = 1; t < workers; ++t) {
        try {
            pool.emplace_back(work);
        } catch (const std::system_error&) {
            break;  // the threads already started, and this one, take the rest
        }
    }
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace camkit::detail
