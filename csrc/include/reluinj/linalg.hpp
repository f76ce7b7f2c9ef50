// Small dense linear-algebra building blocks used inside per-sample kernels: dot products in a
// fixed order, the greedy rank tests, and the one Cholesky factor/solve, Jacobi SVD and
// symmetric eigensolver of the package (reconstruction, most-correlated-basis rank check,
// facet stability constant). All deterministic: results depend only on the inputs.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "reluinj/parallel.hpp"
#include "reluinj/simd.hpp"

namespace reluinj {

// Dot product with four fixed partial sums: deterministic (independent of threads and
// of OpenMP), and vectorisable without -ffast-math.
template <class A, class B>
inline double dot(const A *a, const B *b, std::ptrdiff_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    std::ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += double(a[j]) * double(b[j]);
        s1 += double(a[j + 1]) * double(b[j + 1]);
        s2 += double(a[j + 2]) * double(b[j + 2]);
        s3 += double(a[j + 3]) * double(b[j + 3]);
    }
    for (; j < n; ++j) s0 += double(a[j]) * double(b[j]);
    return (s0 + s1) + (s2 + s3);
}

// Largest m for which a kernel precomputes the m x m Gram matrix W W^T (32 MiB) of its rank
// tests (injective_at, the radial profiles, the most-correlated-basis search).
constexpr std::ptrdiff_t kGramMaxRows = 2048;

// G = W W^T in double precision (row-major m x m), rows in parallel.
template <class T>
std::vector<double> gram_rows(const T *W, std::ptrdiff_t m, std::ptrdiff_t n, int n_threads) {
    std::vector<double> G(m * m);
    parallel_for(m, n_threads, [&](std::ptrdiff_t i) {
        for (std::ptrdiff_t j = 0; j < m; ++j) G[i * m + j] = dot(W + i * n, W + j * n, n);
    });
    return G;
}

// Greedy rank test: an orthonormal basis built one candidate vector at a time.
//
// A candidate v raises the rank iff its distance to the span of the accepted vectors,
// relative to ||v||, exceeds `tol` (the sine of the angle between v and that span).
// Orthogonalisation is classical Gram-Schmidt with one re-orthogonalisation pass when
// the residual lost more than 30% of its norm ("twice is enough", Kahan/Parlett), so the
// basis stays orthonormal to working precision.
class IncrementalBasis {
public:
    IncrementalBasis(std::ptrdiff_t n, double tol) : n_(n), tol_(tol), q_(n * n), r_(n) {}

    void reset() { rank_ = 0; }
    std::ptrdiff_t rank() const { return rank_; }
    bool full() const { return rank_ == n_; }
    // Forget all but the first r accepted vectors: the state is then exactly the one after
    // those r were accepted (try_add reads only the accepted basis vectors), so a scan can be
    // resumed from any candidate without redoing the prefix (radial.hpp).
    void truncate(std::ptrdiff_t r) {
        if (r < rank_) rank_ = r < 0 ? 0 : r;
    }

    // Try to add v (length n). Returns true when v raised the rank.
    template <class T>
    bool try_add(const T *v) {
        if (rank_ == n_) return false;
        double norm2 = 0.0;
        for (std::ptrdiff_t j = 0; j < n_; ++j) {
            r_[j] = double(v[j]);
            norm2 += r_[j] * r_[j];
        }
        if (!(norm2 > 0.0)) return false;
        const double vnorm = std::sqrt(norm2);
        double rnorm = vnorm;
        for (int pass = 0; pass < 2 && rank_ > 0; ++pass) {
            for (std::ptrdiff_t k = 0; k < rank_; ++k) {
                const double *q = &q_[k * n_];
                const double c = dot(q, r_.data(), n_);
                for (std::ptrdiff_t j = 0; j < n_; ++j) r_[j] -= c * q[j];
            }
            const double before = rnorm;
            rnorm = std::sqrt(dot(r_.data(), r_.data(), n_));
            if (rnorm > 0.7 * before) break;
        }
        if (!(rnorm > tol_ * vnorm)) return false;
        double *q = &q_[rank_ * n_];
        const double inv = 1.0 / rnorm;
        for (std::ptrdiff_t j = 0; j < n_; ++j) q[j] = r_[j] * inv;
        ++rank_;
        return true;
    }

private:
    std::ptrdiff_t n_;
    double tol_;
    std::ptrdiff_t rank_ = 0;
    std::vector<double> q_;
    std::vector<double> r_;
};

// Greedy rank test on a precomputed Gram matrix G = W W^T (row-major, size m x m), by an
// incremental Cholesky factorisation of G[I, I]. It is only a fast path: a candidate is
// accepted when its squared sine to the span of the accepted rows exceeds `accept_sin2`
// (far above rounding level); any candidate below that is "ambiguous" and the caller must
// redo the whole sample with IncrementalBasis. Hence every decision it does return equals
// IncrementalBasis's. Cost: about k^2 flops for a candidate against k accepted rows.
class GramCholeskyBasis {
public:
    GramCholeskyBasis(std::ptrdiff_t n, const double *G, std::ptrdiff_t m, double accept_sin2)
        : n_(n), m_(m), G_(G), accept_(accept_sin2), L_(n * n), idx_(n), y_(n) {}

    void reset() { rank_ = 0; }
    std::ptrdiff_t rank() const { return rank_; }
    bool full() const { return rank_ == n_; }
    // Keep only the first r accepted rows (exactly the state after accepting them).
    void truncate(std::ptrdiff_t r) {
        if (r < rank_) rank_ = r < 0 ? 0 : r;
    }

    // Returns +1 (accepted), 0 (zero row: rejected exactly) or -1 (ambiguous).
    int try_add(std::ptrdiff_t i) {
        const double gii = G_[i * m_ + i];
        if (!(gii > 0.0)) return 0;
        const double *gi = G_ + i * m_;
        double *y = y_.data();
        for (std::ptrdiff_t j = 0; j < rank_; ++j) y[j] = gi[idx_[j]];
        // Forward substitution L y = g by columns (L stored column-major: column j of L is
        // contiguous), so the inner update is a vectorisable axpy.
        double s = 0.0;
        for (std::ptrdiff_t j = 0; j < rank_; ++j) {
            const double *col = &L_[j * n_];
            const double v = y[j] / col[j];
            y[j] = v;
            s += v * v;
            for (std::ptrdiff_t l = j + 1; l < rank_; ++l) y[l] -= col[l] * v;
        }
        const double d = gii - s;
        if (!(d > accept_ * gii)) return -1;
        for (std::ptrdiff_t j = 0; j < rank_; ++j) L_[j * n_ + rank_] = y[j];
        L_[rank_ * n_ + rank_] = std::sqrt(d);
        idx_[rank_] = i;
        ++rank_;
        return 1;
    }

private:
    std::ptrdiff_t n_, m_;
    const double *G_;
    double accept_;
    std::ptrdiff_t rank_ = 0;
    std::vector<double> L_;
    std::vector<std::ptrdiff_t> idx_;
    std::vector<double> y_;
};

// ---- Cholesky G = R^T R of symmetric positive definite n x n matrices, written once for one
// matrix (E = double) and for one matrix per vector lane (E = vec<double, I>, dual_lanes.hpp).
// Entry (j, c), j <= c, of the upper triangle is the E at row(j) + c * L (L = lanes of E):
// row(j) = G + j n for a row-major matrix, the start of row j of a packed triangle otherwise;
// the upper triangle is read and overwritten by R (nothing else is touched). Row-oriented
// (right-looking): once row k of R is final it is subtracted from the trailing rows, so the
// inner loops run over row segments. A pivot fails unless d > tol * G_kk, with d the pivot
// after the previous steps (d / G_kk is the squared sine of column k to the span of the
// previous ones). `ok` (true, or the lanes to factor) comes back with the failed lanes (the
// matrix, for E = double, which then stops at once) cleared; inv[k] = 1 / R_kk.
template <class E>
constexpr std::ptrdiff_t elem_lanes() { return std::ptrdiff_t(sizeof(E) / sizeof(double)); }

template <class E>
RELUINJ_FORCE_INLINE E elem_sqrt(E v) {
    if constexpr (elem_lanes<E>() == 1) {
        return std::sqrt(v);
    } else {
        for (std::ptrdiff_t l = 0; l < elem_lanes<E>(); ++l) v[l] = std::sqrt(v[l]);
        return v;
    }
}

// (GCC 12 warns of a write past the packed triangles for n = 4 and 5 in lanes, on a loop
// iteration c = n it cannot rule out; none happens: tests/test_reconstruct.py runs every n
// under AddressSanitizer, tools/sanitize.sh.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
template <class E, class Row, class Size, class Mask>
RELUINJ_FORCE_INLINE Mask cholesky_rows(Row row, Size n, double tol, Mask ok, double *inv) {
    constexpr std::ptrdiff_t L = elem_lanes<E>();
    for (std::ptrdiff_t k = 0; k < n; ++k) vstore(inv + k * L, vload<E>(row(k) + k * L));  // G_kk until step k
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        double *rk = row(k);
        const E d = vload<E>(rk + k * L), gkk = vload<E>(inv + k * L);
        ok = gkk > 0.0 ? ok : Mask{};
        ok = d > tol * gkk ? ok : Mask{};
        if constexpr (L == 1)
            if (!ok) return ok;
        const E r = elem_sqrt(d), ir = 1.0 / r;
        vstore(rk + k * L, r);
        vstore(inv + k * L, ir);
        for (std::ptrdiff_t c = k + 1; c < n; ++c) vstore(rk + c * L, vload<E>(rk + c * L) * ir);
        for (std::ptrdiff_t p = k + 1; p < n; ++p) {
            const E f = vload<E>(rk + p * L);
            double *rp = row(p);
            for (std::ptrdiff_t c = p; c < n; ++c) vstore(rp + c * L, vload<E>(rp + c * L) - f * vload<E>(rk + c * L));
        }
    }
    return ok;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// (R^T R) v = v in place (v: n entries of E) for the factor of cholesky_rows: forward, then
// backward substitution, both along the rows of R.
template <class E, class Row, class Size>
RELUINJ_FORCE_INLINE void cholesky_solve_rows(Row row, const double *inv, Size n, double *v) {
    constexpr std::ptrdiff_t L = elem_lanes<E>();
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        const double *rk = row(k);
        const E vk = vload<E>(v + k * L) * vload<E>(inv + k * L);
        vstore(v + k * L, vk);
        for (std::ptrdiff_t j = k + 1; j < n; ++j) vstore(v + j * L, vload<E>(v + j * L) - vload<E>(rk + j * L) * vk);
    }
    for (std::ptrdiff_t k = n - 1; k >= 0; --k) {
        const double *rk = row(k);
        E s = {};
        for (std::ptrdiff_t j = k + 1; j < n; ++j) s += vload<E>(rk + j * L) * vload<E>(v + j * L);
        vstore(v + k * L, (vload<E>(v + k * L) - s) * vload<E>(inv + k * L));
    }
}

// One row-major n x n matrix, compiled per ISA (simd.hpp).
template <Isa>
RELUINJ_FORCE_INLINE bool cholesky_factor_impl(double *G, std::ptrdiff_t n, double tol, double *inv_diag) {
    return cholesky_rows<double>([=](std::ptrdiff_t k) { return G + k * n; }, n, tol, true, inv_diag);
}
template <Isa>
RELUINJ_FORCE_INLINE void cholesky_solve_impl(const double *R, const double *inv_diag, std::ptrdiff_t n, double *v) {
    cholesky_solve_rows<double>([=](std::ptrdiff_t k) { return R + k * n; }, inv_diag, n, v);
}

RELUINJ_ISA_DISPATCH(cholesky_factor, cholesky_factor_impl)
RELUINJ_ISA_DISPATCH(cholesky_solve, cholesky_solve_impl)

// ---- One-sided (Hestenes) Jacobi SVD of a matrix given by its n columns a_j of length k,
// stored as the rows of At (n x k). On return the rows of At are the columns of A V
// (= u_j sigma_j, so sigma_j = ||row j||), and, when Vt is given, its rows are the right
// singular vectors v_j. Column norms are recomputed at the start of every sweep and updated
// in closed form after each rotation; a pair is rotated while |<a_p, a_q>| > eps ||a_p|| ||a_q||.
// norm2 needs n doubles.
constexpr int kJacobiMaxSweeps = 60;

inline void jacobi_svd(double *At, double *Vt, std::ptrdiff_t n, std::ptrdiff_t k, double *norm2) {
    if (Vt) {
        std::fill(Vt, Vt + n * n, 0.0);
        for (std::ptrdiff_t j = 0; j < n; ++j) Vt[j * n + j] = 1.0;
    }
    const double eps = std::numeric_limits<double>::epsilon();
    for (int sweep = 0; sweep < kJacobiMaxSweeps; ++sweep) {
        for (std::ptrdiff_t p = 0; p < n; ++p) norm2[p] = dot(At + p * k, At + p * k, k);
        bool rotated = false;
        for (std::ptrdiff_t p = 0; p + 1 < n; ++p) {
            for (std::ptrdiff_t q = p + 1; q < n; ++q) {
                double *ap = At + p * k, *aq = At + q * k;
                const double apq = dot(ap, aq, k);
                if (!(std::fabs(apq) > eps * std::sqrt(norm2[p] * norm2[q]))) continue;
                rotated = true;
                const double zeta = (norm2[q] - norm2[p]) / (2.0 * apq);
                const double t = std::copysign(1.0, zeta) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
                const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
                for (std::ptrdiff_t i = 0; i < k; ++i) {
                    const double x = ap[i], y = aq[i];
                    ap[i] = c * x - s * y;
                    aq[i] = s * x + c * y;
                }
                norm2[p] -= t * apq;
                norm2[q] += t * apq;
                if (!Vt) continue;
                double *vp = Vt + p * n, *vq = Vt + q * n;
                for (std::ptrdiff_t i = 0; i < n; ++i) {
                    const double x = vp[i], y = vq[i];
                    vp[i] = c * x - s * y;
                    vq[i] = s * x + c * y;
                }
            }
        }
        if (!rotated) break;
    }
}

// ---- Symmetric eigenvalues: Householder tridiagonalisation and bisection (Sturm counts).
// sym_eig_extremes(A, n, lo, hi, work) returns the smallest and largest eigenvalue of the
// symmetric n x n matrix A (full storage, destroyed); work needs 4 n doubles.
inline void tridiagonalize(double *A, std::ptrdiff_t n, double *d, double *e, double *v, double *w) {
    for (std::ptrdiff_t k = 0; k + 2 < n; ++k) {
        const std::ptrdiff_t len = n - k - 1;
        double *x = v;  // x = A[k+1:, k]
        for (std::ptrdiff_t i = 0; i < len; ++i) x[i] = A[(k + 1 + i) * n + k];
        const double xnorm = std::sqrt(dot(x, x, len));
        if (xnorm == 0.0) {
            e[k] = 0.0;
            continue;
        }
        const double beta = x[0] >= 0.0 ? -xnorm : xnorm;  // x -> beta e_1
        x[0] -= beta;
        const double tau = 2.0 / dot(x, x, len);
        // p = tau * A_sub v; w = p - (tau/2) (p.v) v; A_sub -= v w^T + w v^T
        for (std::ptrdiff_t i = 0; i < len; ++i) w[i] = tau * dot(A + (k + 1 + i) * n + k + 1, x, len);
        const double kappa = 0.5 * tau * dot(w, x, len);
        for (std::ptrdiff_t i = 0; i < len; ++i) w[i] -= kappa * x[i];
        for (std::ptrdiff_t i = 0; i < len; ++i) {
            double *row = A + (k + 1 + i) * n + k + 1;
            const double xi = x[i], wi = w[i];
            for (std::ptrdiff_t j = 0; j < len; ++j) row[j] -= xi * w[j] + wi * x[j];
        }
        e[k] = beta;
    }
    for (std::ptrdiff_t k = 0; k < n; ++k) d[k] = A[k * n + k];
    if (n >= 2) e[n - 2] = A[(n - 1) * n + n - 2];
}

// The k-th smallest eigenvalue (k = 0 .. n-1) of the symmetric tridiagonal (d, e) by bisection
// inside its Gershgorin interval (absolute accuracy ~ eps * max |eigenvalue|).
inline double tridiagonal_eigenvalue(const double *d, const double *e, std::ptrdiff_t n, std::ptrdiff_t k) {
    double lo = d[0], hi = d[0];
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const double r = (i > 0 ? std::fabs(e[i - 1]) : 0.0) + (i + 1 < n ? std::fabs(e[i]) : 0.0);
        lo = std::min(lo, d[i] - r);
        hi = std::max(hi, d[i] + r);
    }
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        std::ptrdiff_t below = 0;  // Sturm count: eigenvalues < mid
        double q = 1.0;
        for (std::ptrdiff_t i = 0; i < n; ++i) {
            q = d[i] - mid - (i > 0 ? e[i - 1] * e[i - 1] / q : 0.0);
            if (q == 0.0) q = -std::numeric_limits<double>::min();
            below += q < 0.0;
        }
        if (below > k) hi = mid;
        else lo = mid;
    }
    return 0.5 * (lo + hi);
}

inline void sym_eig_extremes(double *A, std::ptrdiff_t n, double &lo, double &hi, double *work) {
    double *d = work, *e = work + n, *v = work + 2 * n, *w = work + 3 * n;
    tridiagonalize(A, n, d, e, v, w);
    lo = tridiagonal_eigenvalue(d, e, n, 0);
    hi = tridiagonal_eigenvalue(d, e, n, n - 1);
}

}  // namespace reluinj
