// Small dense linear-algebra building blocks used inside per-sample kernels.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

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

}  // namespace reluinj
