// Parallel-loop helpers shared by all kernels.
//
// * parallel_for(n, n_threads, body): static schedule over [0, n); exceptions thrown by
//   `body` are captured (the first one wins) and rethrown after the region, because an
//   exception may not leave an OpenMP region.
// * Work is split so that every item's result depends only on the item, never on the
//   thread that computed it: results are bitwise independent of n_threads.
#pragma once
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>

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

inline void require(bool cond, const std::string &msg) {
    if (!cond) throw std::invalid_argument(msg);
}

}  // namespace reluinj
