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

// Squared sine above which the Cholesky fast path trusts its decision (sine > 1e-3).
constexpr double kGramAcceptSin2 = 1e-6;

// out[s] = rank(W[I_s]) == n; rank_out[s] = that rank (may be nullptr).
//
// The rank is decided by IncrementalBasis (Gram-Schmidt, relative tolerance rank_tol) over
// the active rows in index order. When m <= kGramMaxRows a Cholesky fast path on
// W W^T is tried first; a sample on which it meets an ambiguous candidate is redone with
// IncrementalBasis, so both paths return the same decisions.
template <class T>
void injective_at(const T *W, const T *alpha, const T *X, std::uint8_t *out,
                  std::int32_t *rank_out, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k,
                  double rank_tol, int n_threads) {
    const bool fast = m <= kGramMaxRows && k >= m / 4;
    const std::vector<double> G = fast ? gram_rows(W, m, n, n_threads) : std::vector<double>();
    parallel_chunks(k, 256, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        std::vector<double> c(m);
        IncrementalBasis basis(n, rank_tol);
        GramCholeskyBasis chol(n, fast ? G.data() : nullptr, m, kGramAcceptSin2);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            correlations(W, X + s * n, c.data(), m, n);
            std::ptrdiff_t n_active = 0;
            for (std::ptrdiff_t i = 0; i < m; ++i) n_active += c[i] >= double(alpha[i]);
            // Fewer than n active rows cannot span: skip the scan unless the rank is wanted.
            if (n_active < n && !rank_out) {
                out[s] = 0;
                continue;
            }
            if (fast && n_active >= n) {
                chol.reset();
                bool ambiguous = false;
                for (std::ptrdiff_t i = 0; i < m && !chol.full() && !ambiguous; ++i) {
                    if (c[i] >= double(alpha[i])) ambiguous = chol.try_add(i) < 0;
                }
                if (!ambiguous && chol.full()) {
                    out[s] = 1;
                    if (rank_out) rank_out[s] = static_cast<std::int32_t>(n);
                    continue;
                }
            }
            basis.reset();
            for (std::ptrdiff_t i = 0; i < m && !basis.full(); ++i) {
                if (c[i] >= double(alpha[i])) basis.try_add(W + i * n);
            }
            out[s] = basis.full();
            if (rank_out) rank_out[s] = static_cast<std::int32_t>(basis.rank());
        }
    });
}

}  // namespace reluinj
