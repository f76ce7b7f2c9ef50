// Non-negative least squares, min ||A x - b||_2 subject to x >= 0, by the Lawson–Hanson
// active-set method (Lawson & Hanson, "Solving Least Squares Problems", 1974, ch. 23).
//
// Intended for the small dense problems of the polytope bias (A has n <= ~12 rows and a
// few dozen columns): every unconstrained sub-problem on the passive set is re-solved from
// scratch with Householder QR, which is exact up to rounding and cheap at these sizes.
// A Nnls object owns its scratch buffers; use one per thread.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <vector>

namespace reluinj {

class Nnls {
public:
    // Relative threshold below which a new passive column counts as linearly dependent on
    // the passive columns already accepted (|R_pp| <= tol * ||a_p||).
    static constexpr double kRankTol = 1e-12;

    Nnls(std::ptrdiff_t M, std::ptrdiff_t N)
        : M_(M), N_(N), w_(N), s_(N), r_(M), qr_(M * std::max<std::ptrdiff_t>(N, 1)),
          qb_(M), passive_(N), ineligible_(N) {
        passive_list_.reserve(N);
    }

    std::ptrdiff_t rows() const { return M_; }
    std::ptrdiff_t cols() const { return N_; }

    // A: row-major (M, N); b: (M,); x: (N,) output. Returns ||A x - b||_2. Throws
    // std::runtime_error when the iteration limit `maxiter` (outer + inner steps) is reached.
    double solve(const double *A, const double *b, double *x, int maxiter) {
        const std::ptrdiff_t M = M_, N = N_;
        std::fill(x, x + N, 0.0);
        std::fill(passive_.begin(), passive_.end(), 0);
        passive_list_.clear();
        double norm_a1 = 0.0, norm_b = 0.0;
        for (std::ptrdiff_t j = 0; j < N; ++j) {
            double col = 0.0;
            for (std::ptrdiff_t i = 0; i < M; ++i) col += std::abs(A[i * N + j]);
            norm_a1 = std::max(norm_a1, col);
        }
        for (std::ptrdiff_t i = 0; i < M; ++i) norm_b += b[i] * b[i];
        norm_b = std::sqrt(norm_b);
        const double tol = 10.0 * std::numeric_limits<double>::epsilon() *
                           double(std::max(M, N)) * norm_a1 * norm_b;
        int iterations = 0;
        gradient(A, b, x);
        std::fill(ineligible_.begin(), ineligible_.end(), 0);
        for (;;) {
            std::ptrdiff_t t = -1;
            double best = tol;
            for (std::ptrdiff_t j = 0; j < N; ++j) {
                if (!passive_[j] && !ineligible_[j] && w_[j] > best) {
                    best = w_[j];
                    t = j;
                }
            }
            if (t < 0) break;
            if (++iterations > maxiter) throw std::runtime_error("nnls: iteration limit reached");
            passive_[t] = 1;
            passive_list_.push_back(t);
            // The new column must be independent of the passive ones and enter with a
            // positive coefficient; otherwise (a rounding artefact in w) it is skipped.
            if (!passive_solve(A, b) || s_[t] <= 0.0) {
                passive_[t] = 0;
                passive_list_.pop_back();
                ineligible_[t] = 1;
                continue;
            }
            for (;;) {
                double step = 2.0;
                std::ptrdiff_t blocking = -1;
                for (std::ptrdiff_t j : passive_list_) {
                    if (s_[j] <= 0.0) {
                        const double q = x[j] / (x[j] - s_[j]);
                        if (q < step) {
                            step = q;
                            blocking = j;
                        }
                    }
                }
                if (blocking < 0) break;
                if (++iterations > maxiter)
                    throw std::runtime_error("nnls: iteration limit reached");
                for (std::ptrdiff_t j : passive_list_) x[j] += step * (s_[j] - x[j]);
                x[blocking] = 0.0;
                std::ptrdiff_t keep = 0;
                for (std::ptrdiff_t j : passive_list_) {
                    if (x[j] <= 0.0) {
                        x[j] = 0.0;
                        passive_[j] = 0;
                    } else {
                        passive_list_[keep++] = j;
                    }
                }
                passive_list_.resize(keep);
                passive_solve(A, b);
            }
            for (std::ptrdiff_t j : passive_list_) x[j] = s_[j];
            gradient(A, b, x);
            std::fill(ineligible_.begin(), ineligible_.end(), 0);
        }
        double rn = 0.0;
        for (std::ptrdiff_t i = 0; i < M; ++i) rn += r_[i] * r_[i];
        return std::sqrt(rn);
    }

private:
    // r = b - A x and w = A^T r.
    void gradient(const double *A, const double *b, const double *x) {
        const std::ptrdiff_t M = M_, N = N_;
        for (std::ptrdiff_t i = 0; i < M; ++i) {
            double v = b[i];
            for (std::ptrdiff_t j = 0; j < N; ++j) v -= A[i * N + j] * x[j];
            r_[i] = v;
        }
        for (std::ptrdiff_t j = 0; j < N; ++j) {
            double v = 0.0;
            for (std::ptrdiff_t i = 0; i < M; ++i) v += A[i * N + j] * r_[i];
            w_[j] = v;
        }
    }

    // Least squares on the passive columns (in passive_list_ order) by Householder QR;
    // writes s_[j] for passive j. Returns false if the last passive column is numerically
    // dependent on the others (then s_ is not meaningful).
    bool passive_solve(const double *A, const double *b) {
        const std::ptrdiff_t M = M_, N = N_;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(passive_list_.size());
        if (p > M) return false;
        // qr_ holds the passive columns, column-major (M, p).
        for (std::ptrdiff_t k = 0; k < p; ++k) {
            const std::ptrdiff_t j = passive_list_[k];
            for (std::ptrdiff_t i = 0; i < M; ++i) qr_[k * M + i] = A[i * N + j];
        }
        for (std::ptrdiff_t i = 0; i < M; ++i) qb_[i] = b[i];
        for (std::ptrdiff_t k = 0; k < p; ++k) {
            double *col = &qr_[k * M];
            double norm2 = 0.0, orig2 = 0.0;
            for (std::ptrdiff_t i = k; i < M; ++i) norm2 += col[i] * col[i];
            for (std::ptrdiff_t i = 0; i < M; ++i) orig2 += col[i] * col[i];
            const double norm = std::sqrt(norm2);
            if (!(norm > kRankTol * std::sqrt(orig2))) return false;
            const double alpha = col[k] > 0.0 ? -norm : norm;
            // Householder vector v = col[k:] - alpha e_k, stored in place; H = I - 2 v v^T / v^T v.
            col[k] -= alpha;
            double vtv = 0.0;
            for (std::ptrdiff_t i = k; i < M; ++i) vtv += col[i] * col[i];
            for (std::ptrdiff_t c = k + 1; c < p; ++c) {
                double *other = &qr_[c * M];
                double d = 0.0;
                for (std::ptrdiff_t i = k; i < M; ++i) d += col[i] * other[i];
                const double f = 2.0 * d / vtv;
                for (std::ptrdiff_t i = k; i < M; ++i) other[i] -= f * col[i];
            }
            double d = 0.0;
            for (std::ptrdiff_t i = k; i < M; ++i) d += col[i] * qb_[i];
            const double f = 2.0 * d / vtv;
            for (std::ptrdiff_t i = k; i < M; ++i) qb_[i] -= f * col[i];
            diag_store(k, alpha);
        }
        // Back substitution R s = (Q^T b)[:p]; R's diagonal is in diag_, above it in qr_.
        for (std::ptrdiff_t k = p - 1; k >= 0; --k) {
            double v = qb_[k];
            for (std::ptrdiff_t c = k + 1; c < p; ++c) v -= qr_[c * M + k] * s_[passive_list_[c]];
            s_[passive_list_[k]] = v / diag_[k];
        }
        return true;
    }

    void diag_store(std::ptrdiff_t k, double value) {
        if (static_cast<std::ptrdiff_t>(diag_.size()) <= k) diag_.resize(k + 1);
        diag_[k] = value;
    }

    std::ptrdiff_t M_, N_;
    std::vector<double> w_, s_, r_, qr_, qb_, diag_;
    std::vector<unsigned char> passive_, ineligible_;
    std::vector<std::ptrdiff_t> passive_list_;
};

}  // namespace reluinj
