// Batched point-wise injectivity test of a ReLU layer x -> ReLU(W x - alpha).
//
// For each sample x (a row of X), the active set is I = {i : <x, w_i> >= alpha_i}; the
// layer is injective at x iff the rows W[I] span R^n. The rank is found greedily with
// IncrementalBasis (stopping as soon as n independent rows are found), so the cost per
// sample is O(m n) for the correlations plus O(n^3) at most for the rank.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "reluinj/linalg.hpp"
#include "reluinj/parallel.hpp"

namespace reluinj {

// Correlation of sample x with every row of W, in double precision, identical across all
// kernels (active masks and injectivity tests agree bit for bit).
template <class T>
inline void correlations(const T *W, const T *x, double *c, std::ptrdiff_t m, std::ptrdiff_t n) {
    for (std::ptrdiff_t i = 0; i < m; ++i) c[i] = dot(W + i * n, x, n);
}

template <class T>
void active_mask(const T *W, const T *alpha, const T *X, std::uint8_t *mask, std::ptrdiff_t m,
                 std::ptrdiff_t n, std::ptrdiff_t k, int n_threads) {
    parallel_chunks(k, 256, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        std::vector<double> c(m);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            correlations(W, X + s * n, c.data(), m, n);
            std::uint8_t *row = mask + s * m;
            for (std::ptrdiff_t i = 0; i < m; ++i) row[i] = c[i] >= double(alpha[i]);
        }
    });
}

// out[s] = rank(W[I_s]) == n; rank_out[s] = that rank (may be nullptr).
template <class T>
void injective_at(const T *W, const T *alpha, const T *X, std::uint8_t *out,
                  std::int32_t *rank_out, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k,
                  double rank_tol, int n_threads) {
    parallel_chunks(k, 256, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        std::vector<double> c(m);
        IncrementalBasis basis(n, rank_tol);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            correlations(W, X + s * n, c.data(), m, n);
            basis.reset();
            std::ptrdiff_t n_active = 0;
            for (std::ptrdiff_t i = 0; i < m; ++i) n_active += c[i] >= double(alpha[i]);
            // Fewer than n active rows cannot span: skip the scan unless the rank is wanted.
            if (n_active >= n || rank_out) {
                for (std::ptrdiff_t i = 0; i < m && !basis.full(); ++i) {
                    if (c[i] >= double(alpha[i])) basis.try_add(W + i * n);
                }
            }
            out[s] = basis.full();
            if (rank_out) rank_out[s] = static_cast<std::int32_t>(basis.rank());
        }
    });
}

}  // namespace reluinj
