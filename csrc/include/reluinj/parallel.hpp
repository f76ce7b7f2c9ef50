// Parallel-loop helpers shared by all kernels.
//
// * parallel_for(n, n_threads, body): static schedule over [0, n); exceptions thrown by
//   `body` are captured (the first one wins) and rethrown after the region, because an
//   exception may not leave an OpenMP region.
// * Work is split so that every item's result depends only on the item, never on the
//   thread that computed it: results are bitwise independent of n_threads.
#pragma once
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "reluinj/omp_compat.hpp"

namespace reluinj {

class ExceptionCapture {
public:
    template <class F>
    void run(F &&f) noexcept {
        try {
            f();
        } catch (...) {
#ifdef _OPENMP
#pragma omp critical(reluinj_exception_capture)
#endif
            {
                if (!ptr_) ptr_ = std::current_exception();
            }
        }
    }
    void rethrow() const {
        if (ptr_) std::rethrow_exception(ptr_);
    }

private:
    std::exception_ptr ptr_ = nullptr;
};

inline int clamp_threads(int n_threads) {
    if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
    return n_threads;
}

template <class F>
void parallel_for(std::ptrdiff_t n, int n_threads, F &&body) {
    clamp_threads(n_threads);
    ExceptionCapture capture;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1 && n > 1)
#endif
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        capture.run([&] { body(i); });
    }
    capture.rethrow();
}

// Like parallel_for, but over fixed chunks [begin, end) of at most `chunk` items, so a body
// can amortise per-chunk scratch buffers. The chunk grid depends only on n and chunk.
template <class F>
void parallel_chunks(std::ptrdiff_t n, std::ptrdiff_t chunk, int n_threads, F &&body) {
    if (chunk < 1) throw std::invalid_argument("chunk must be >= 1");
    const std::ptrdiff_t n_chunks = (n + chunk - 1) / chunk;
    parallel_for(n_chunks, n_threads, [&](std::ptrdiff_t c) {
        const std::ptrdiff_t begin = c * chunk;
        const std::ptrdiff_t end = begin + chunk < n ? begin + chunk : n;
        body(c, begin, end);
    });
}

// Interruptible long loops. A kernel that can run for seconds takes a `poll` functor and
// splits its item range into consecutive blocks with run_blocks: poll() is called between
// blocks on the calling thread, outside any parallel region (the bindings' poll takes the GIL
// for the signal check only: Ctrl-C), and the kernel stops early when it returns true. The
// block length adapts so that a block lasts about kPollSeconds; since every item's result
// depends only on the item, the blocks decide when poll() runs, never what is computed.
struct NoInterrupt {
    bool operator()() const noexcept { return false; }
};

constexpr double kPollSeconds = 0.05;

// body(begin, end) over [0, n) in blocks starting at `first` items. Returns false when
// poll() asked to stop (the remaining items are not computed), true when all were run.
template <class Body, class Poll>
bool run_blocks(std::ptrdiff_t n, std::ptrdiff_t first, Body &&body, Poll &&poll) {
    if (n <= 0) return true;
    if constexpr (std::is_same_v<std::decay_t<Poll>, NoInterrupt>) {
        body(std::ptrdiff_t(0), n);
        return true;
    } else {
        using clock = std::chrono::steady_clock;
        std::ptrdiff_t block = first > 0 ? first : 1;
        for (std::ptrdiff_t begin = 0; begin < n;) {
            const std::ptrdiff_t end = block < n - begin ? begin + block : n;
            const auto t0 = clock::now();
            body(begin, end);
            const double dt = std::chrono::duration<double>(clock::now() - t0).count();
            begin = end;
            if (poll()) return false;
            if (dt < 0.5 * kPollSeconds && block < (std::ptrdiff_t(1) << 40)) block *= 2;
            else if (dt > 2.0 * kPollSeconds && block > 1) block /= 2;
        }
        return true;
    }
}

inline void require(bool cond, const std::string &msg) {
    if (!cond) throw std::invalid_argument(msg);
}

}  // namespace reluinj
