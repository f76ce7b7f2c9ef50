// Non-negative least squares, min ||A x - b||_2 subject to x >= 0, by the Lawson–Hanson
// active-set method (Lawson & Hanson, "Solving Least Squares Problems", 1974, ch. 23).
//
// The QR factorisation of the passive columns is updated, never recomputed: a working copy
// of A (column-major) and of b holds Q^T A and Q^T b for the orthogonal Q accumulated so far.
// A column entering the passive set costs one Householder reflection applied to the other
// free columns and to b (O(M N)); a column leaving it costs one Givens rotation per later
// passive column, each applied to rows (k, k+1) of the columns not yet triangular (O(N)).
// The passive sub-problem is then a back substitution (O(p^2)) and the gradient
// w = A^T (b - A x) is read off the transformed system in O((M - p) N), fused into the
// reflection's pass over the free columns when no column left the passive set. The whole solve is
// O(M N^2) (against O(M N^4) when every sub-problem is re-factorised), as in SciPy's
// translation of the original NNLS routine.
// A Nnls object owns its scratch buffers; use one per thread.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <vector>

#include "reluinj/linalg.hpp"

namespace reluinj {

class Nnls {
public:
    // Relative threshold below which a new passive column counts as linearly dependent on
    // the passive columns already accepted (|R_pp| <= tol * ||a_p||).
    static constexpr double kRankTol = 1e-12;

    Nnls(std::ptrdiff_t M, std::ptrdiff_t N)
        : M_(M), N_(N), w_(N), wnext_(N), s_(N), z_(M), v_(M), aw_(M * N), colnorm_(N), passive_(N),
          ineligible_(N) {
        pos_.reserve(N);
        free_.reserve(N);
    }

    std::ptrdiff_t rows() const { return M_; }
    std::ptrdiff_t cols() const { return N_; }

    // A: row-major (M, N); b: (M,); x: (N,) output. Returns ||A x - b||_2. Throws
    // std::runtime_error when the iteration limit `maxiter` (outer + inner steps) is reached.
    double solve(const double *A, const double *b, double *x, int maxiter) {
        const std::ptrdiff_t M = M_, N = N_;
        std::fill(x, x + N, 0.0);
        std::fill(passive_.begin(), passive_.end(), 0);
        pos_.clear();
        double norm_a1 = 0.0, norm_b = 0.0;
        for (std::ptrdiff_t j = 0; j < N; ++j) {
            double col = 0.0, col2 = 0.0;
            double *c = &aw_[j * M];
            for (std::ptrdiff_t i = 0; i < M; ++i) {
                const double v = A[i * N + j];
                c[i] = v;
                col += std::abs(v);
                col2 += v * v;
            }
            norm_a1 = std::max(norm_a1, col);
            colnorm_[j] = std::sqrt(col2);
        }
        for (std::ptrdiff_t i = 0; i < M; ++i) {
            z_[i] = b[i];
            norm_b += b[i] * b[i];
        }
        norm_b = std::sqrt(norm_b);
        const double tol = 10.0 * std::numeric_limits<double>::epsilon() *
                           double(std::max(M, N)) * norm_a1 * norm_b;
        int iterations = 0;
        gradient();
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
            // The new column must be independent of the passive ones and enter with a
            // positive coefficient; otherwise (a rounding artefact in w) it is skipped.
            if (!add_column(t)) {
                ineligible_[t] = 1;
                continue;
            }
            back_substitute();
            bool fresh = true;  // wnext_ is the gradient at the passive solution
            for (;;) {
                double step = 2.0;
                std::ptrdiff_t blocking = -1;
                for (std::ptrdiff_t j : pos_) {
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
                for (std::ptrdiff_t j : pos_) x[j] += step * (s_[j] - x[j]);
                x[blocking] = 0.0;
                // Remove every passive column whose coefficient reached 0, last one first
                // (a removal shifts the later positions down by one).
                for (std::ptrdiff_t k = static_cast<std::ptrdiff_t>(pos_.size()) - 1; k >= 0;
                     --k) {
                    const std::ptrdiff_t j = pos_[k];
                    if (x[j] <= 0.0) {
                        x[j] = 0.0;
                        remove_position(k);
                        fresh = false;
                    }
                }
                back_substitute();
            }
            for (std::ptrdiff_t j : pos_) x[j] = s_[j];
            if (fresh)
                w_.swap(wnext_);
            else
                gradient();
            std::fill(ineligible_.begin(), ineligible_.end(), 0);
        }
        // Residual from the original data (not the transformed system).
        double rn = 0.0;
        for (std::ptrdiff_t i = 0; i < M; ++i) {
            double v = b[i];
            for (std::ptrdiff_t j : pos_) v -= A[i * N + j] * x[j];
            rn += v * v;
        }
        return std::sqrt(rn);
    }

private:
    // w_j = (Q^T a_j)[p:] . (Q^T b)[p:] for the free columns: A^T (b - A x) at the passive
    // least-squares solution x (the residual is Q [0; (Q^T b)[p:]]).
    void gradient() {
        const std::ptrdiff_t M = M_, N = N_;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(pos_.size());
        for (std::ptrdiff_t j = 0; j < N; ++j) {
            if (passive_[j]) {
                w_[j] = 0.0;
                continue;
            }
            w_[j] = dot(&aw_[j * M + p], &z_[p], M - p);
        }
    }

    // Try to make free column t passive at position p: a Householder reflection on rows
    // p..M-1 zeroes its entries below row p. The reflection is applied to the other free
    // columns and to z only if the column is independent of the passive ones and its new
    // coefficient (z_p / R_pp, the last step of the back substitution) is positive.
    bool add_column(std::ptrdiff_t t) {
        const std::ptrdiff_t M = M_, N = N_;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(pos_.size());
        if (p >= M) return false;
        double *col = &aw_[t * M];
        const double norm = std::sqrt(dot(col + p, col + p, M - p));
        if (!(norm > kRankTol * colnorm_[t])) return false;
        const double alpha = col[p] > 0.0 ? -norm : norm;
        // v = col[p:] - alpha e_p; H = I - 2 v v^T / v^T v maps col[p:] to alpha e_p.
        for (std::ptrdiff_t i = p; i < M; ++i) v_[i] = col[i];
        v_[p] -= alpha;
        const double *v = &v_[p];
        const std::ptrdiff_t len = M - p;
        const double vtv = dot(v, v, len);
        const double fz = 2.0 * dot(v, &z_[p], len) / vtv;
        const double zp = z_[p] - fz * v_[p];
        if (!(zp / alpha > 0.0)) return false;
        for (std::ptrdiff_t i = p; i < M; ++i) z_[i] -= fz * v_[i];
        col[p] = alpha;
        for (std::ptrdiff_t i = p + 1; i < M; ++i) col[i] = 0.0;
        // The gradient of the next outer step, w_j = (Q^T a_j)[p+1:] . (Q^T b)[p+1:], is
        // accumulated while column j is in cache (valid unless a column leaves the set).
        free_.clear();
        for (std::ptrdiff_t j = 0; j < N; ++j) {
            wnext_[j] = 0.0;
            if (!passive_[j] && j != t) free_.push_back(j);
        }
        const double *zt = z_.data() + p + 1;
        const std::ptrdiff_t nf = static_cast<std::ptrdiff_t>(free_.size());
        std::ptrdiff_t q = 0;
        // Two columns per pass over v (one read of v for both); same arithmetic as one at a time.
        for (; q + 2 <= nf; q += 2) {
            double *c0 = &aw_[free_[q] * M + p], *c1 = &aw_[free_[q + 1] * M + p];
            const double f0 = 2.0 * dot(v, c0, len) / vtv, f1 = 2.0 * dot(v, c1, len) / vtv;
            for (std::ptrdiff_t i = 0; i < len; ++i) {
                c0[i] -= f0 * v[i];
                c1[i] -= f1 * v[i];
            }
            wnext_[free_[q]] = dot(c0 + 1, zt, len - 1);
            wnext_[free_[q + 1]] = dot(c1 + 1, zt, len - 1);
        }
        for (; q < nf; ++q) {
            double *c0 = &aw_[free_[q] * M + p];
            const double f0 = 2.0 * dot(v, c0, len) / vtv;
            for (std::ptrdiff_t i = 0; i < len; ++i) c0[i] -= f0 * v[i];
            wnext_[free_[q]] = dot(c0 + 1, zt, len - 1);
        }
        passive_[t] = 1;
        pos_.push_back(t);
        return true;
    }

    // Drop the passive column at position k: the later passive columns shift down one
    // position and become upper Hessenberg; Givens rotations of rows (i, i+1) restore the
    // triangle, applied to every column not yet triangular there and to z.
    void remove_position(std::ptrdiff_t k) {
        const std::ptrdiff_t M = M_, N = N_;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(pos_.size());
        const std::ptrdiff_t gone = pos_[k];
        passive_[gone] = 0;
        pos_.erase(pos_.begin() + k);
        for (std::ptrdiff_t i = k; i < p - 1; ++i) {
            double *piv = &aw_[pos_[i] * M];
            const double a = piv[i], bb = piv[i + 1];
            const double r = std::hypot(a, bb);
            if (r == 0.0) continue;
            const double c = a / r, s = bb / r;
            piv[i] = r;
            piv[i + 1] = 0.0;
            for (std::ptrdiff_t q = i + 1; q < p - 1; ++q) rotate(&aw_[pos_[q] * M], i, c, s);
            for (std::ptrdiff_t j = 0; j < N; ++j)
                if (!passive_[j]) rotate(&aw_[j * M], i, c, s);
            rotate(z_.data(), i, c, s);
        }
    }

    static void rotate(double *v, std::ptrdiff_t i, double c, double s) {
        const double a = v[i], b = v[i + 1];
        v[i] = c * a + s * b;
        v[i + 1] = -s * a + c * b;
    }

    // R s = (Q^T b)[:p]; R column k is aw_ column pos_[k], rows 0..k.
    void back_substitute() {
        const std::ptrdiff_t M = M_;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(pos_.size());
        for (std::ptrdiff_t k = 0; k < p; ++k) v_[k] = z_[k];
        for (std::ptrdiff_t k = p - 1; k >= 0; --k) {
            const double *col = &aw_[pos_[k] * M];
            const double sk = v_[k] / col[k];
            s_[pos_[k]] = sk;
            for (std::ptrdiff_t i = 0; i < k; ++i) v_[i] -= col[i] * sk;
        }
    }

    std::ptrdiff_t M_, N_;
    std::vector<double> w_, wnext_, s_, z_, v_, aw_, colnorm_;
    std::vector<unsigned char> passive_, ineligible_;
    std::vector<std::ptrdiff_t> pos_, free_;
};

}  // namespace reluinj
