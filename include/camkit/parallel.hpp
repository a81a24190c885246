#pragma once
// The one thread pool pattern of the host code: a fixed number of workers taking items in order,
// the caller's thread among them. The helpers come from one process-wide pool of threads kept
// between calls (starting a thread costs tens of microseconds, as much as a small CAM), or are
// started for the call where the pool cannot serve it.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace camkit::detail {

/// The machine's cores (at least 1), counted once per process: std::thread::hardware_concurrency
/// reads /sys (three system calls, ~1.6 µs), which a call with options.threads = 0 would otherwise
/// pay every time.
inline unsigned core_count() {
    static const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return cores;
}

/// Threads kept waiting between parallel_for calls. One caller at a time: a call that finds the
/// pool busy (another thread's call, or a parallel_for inside an item of one) or wanting more helpers
/// than it keeps (one fewer than the cores) starts its own threads instead. A helper joins a call
/// only while the call is open: once the caller has finished its share it closes the call and
/// waits for the helpers that joined, not for those that had not woken yet.
class worker_pool {
public:
    /// Most helpers the pool keeps: one fewer than the cores (the caller is the other).
    static unsigned capacity() { return core_count() - 1; }

    /// Runs `work()` on the calling thread and on up to `helpers` pool threads; false (nothing run)
    /// when the pool cannot serve this call.
    template <class Work>
    bool try_run(unsigned helpers, Work& work) {
        // A call from inside a call the pool serves (a pool thread, or the caller's own thread,
        // which holds caller_: locking it again there would be undefined) starts its own threads.
        if (in_pool_work() || helpers > capacity()) return false;
        std::unique_lock<std::mutex> caller(caller_, std::try_to_lock);
        if (!caller) return false;
        start_threads(helpers);
        {
            std::lock_guard<std::mutex> lock(m_);
            job_ = [](void* w) { (*static_cast<Work*>(w))(); };
            job_arg_ = &work;
            seats_ = std::min<unsigned>(helpers, static_cast<unsigned>(threads_.size()));
            open_ = true;
            ++generation_;
        }
        wake_.notify_all();
        in_pool_work() = true;
        work();  // parallel_for's work: it catches what the items throw
        in_pool_work() = false;
        std::unique_lock<std::mutex> lock(m_);
        open_ = false;  // helpers that have not joined yet stay out
        done_.wait(lock, [&] { return running_ == 0; });
        return true;
    }

    /// The process's pool, created at the first call. A child process made by fork() gets a new
    /// one (the parent's threads do not exist there); the pool is never destroyed, so its waiting
    /// threads end with the process and no exit-time destructor waits for them.
    static worker_pool& shared() {
        static std::atomic<worker_pool*> slot{nullptr};
#if defined(__unix__) || defined(__APPLE__)
        static const int registered = pthread_atfork(nullptr, nullptr, [] { slot.store(nullptr); });
        (void)registered;
#endif
        worker_pool* p = slot.load(std::memory_order_acquire);
        if (!p) {
            auto* fresh = new worker_pool;
            if (slot.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
            delete fresh;  // another thread's pool won; this one started no thread
        }
        return *p;
    }

    /// True on the pool's own threads, and on a caller's thread while the pool serves its call.
    static bool& in_pool_work() {
        thread_local bool in = false;
        return in;
    }

private:
    worker_pool() = default;

    // Starts helpers until there are `wanted` (or the system refuses one: those started serve).
    void start_threads(unsigned wanted) {
        while (threads_.size() < wanted) {
            try {
                threads_.emplace_back([this] { serve(); });
            } catch (const std::system_error&) {
                return;
            }
        }
    }

    void serve() {
        in_pool_work() = true;
        std::uint64_t seen = 0;
        std::unique_lock<std::mutex> lock(m_);
        for (;;) {
            wake_.wait(lock, [&] { return generation_ != seen; });
            seen = generation_;
            if (!open_ || seats_ == 0) continue;
            --seats_;
            ++running_;
            void (*job)(void*) = job_;
            void* arg = job_arg_;
            lock.unlock();
            job(arg);  // parallel_for's work: it catches what the items throw
            lock.lock();
            if (--running_ == 0 && !open_) done_.notify_one();
        }
    }

    std::mutex caller_;  // held by the one call the pool serves
    std::mutex m_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;  // only the caller holding caller_ adds to it
    void (*job_)(void*) = nullptr;
    void* job_arg_ = nullptr;
    std::uint64_t generation_ = 0;
    unsigned seats_ = 0, running_ = 0;
    bool open_ = false;
};

/// Threads to use: `requested` if positive, else as many cores as there is work for (≥ 256 Ki elements each).
inline unsigned resolve_threads(int requested, std::size_t elements) {
    if (requested > 0) return static_cast<unsigned>(requested);
    const unsigned hw = core_count();
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
    auto work = [&]() noexcept {  // what an item throws is kept; anything else ends the process
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
    if (!worker_pool::shared().try_run(workers - 1, work)) {
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
    }
    if (failure) std::rethrow_exception(failure);
}

}  // namespace camkit::detail
