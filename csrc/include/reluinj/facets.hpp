// Facet traversal of the polytope bias (approach B).
//
// Input: the normalized frame Wn (m, n) (rows are unit frame vectors) and the facets of
// P = conv{rows of Wn} in CSR form (facet f has the vertex indices
// indices[indptr[f] : indptr[f+1]]). For every facet F and every vertex i of F,
//
//   beta(i, F) = min { <x, w_i> : x in cone(F), ||x|| = 1 }
//              = min_j g_j                 if g_j = <w_i, w_j> >= 0 for all j in F,
//              = -||Proj_cone(F)(-w_i)||  otherwise (an NNLS problem, solved exactly),
//
// and min_F sigma_min(Wn[F]). The per-element bias is then aggregated by one of three rules
// (see Variant). Work is split over a fixed grid of facet chunks, every output entry is
// computed by exactly one thread and the reductions are exact minima, so the results are
// bitwise identical for any number of threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "reluinj/linalg.hpp"
#include "reluinj/nnls.hpp"
#include "reluinj/parallel.hpp"

namespace reluinj {

enum class Variant : int {
    vertex = 0,   // alpha_i = min_{F ∋ i} beta(i, F)
    facet = 1,    // alpha_F = min_{k in F} beta(k, F); alpha_i = min_{F ∋ i} alpha_F
    authors = 2,  // over N(i) = union of the facets containing i (reference implementation)
};

// Facets per chunk of the parallel grid (fixed: results never depend on n_threads).
constexpr std::ptrdiff_t kFacetChunk = 32;
// Threads are only used for at least this many facets per thread: below that, starting
// and joining threads costs more than the work (results never depend on the count).
constexpr std::ptrdiff_t kMinFacetsPerThread = 1024;

inline int useful_threads(std::ptrdiff_t n_facets, int n_threads) {
    clamp_threads(n_threads);
    const std::ptrdiff_t cap = std::max<std::ptrdiff_t>(1, n_facets / kMinFacetsPerThread);
    return static_cast<int>(std::min<std::ptrdiff_t>(n_threads, cap));
}

// Iteration cap of every NNLS solve, per column of its matrix.
constexpr int kNnlsIterPerColumn = 5;

// Smallest singular value of the (k, n) row-major matrix G (k >= n), by the Jacobi SVD of
// linalg.hpp (accurate to working precision also for ill-conditioned facets). `work` must hold
// k * n doubles, norm2 n.
inline double sigma_min_rows(const double *G, std::ptrdiff_t k, std::ptrdiff_t n, double *work,
                             double *norm2) {
    for (std::ptrdiff_t r = 0; r < k; ++r)
        for (std::ptrdiff_t p = 0; p < n; ++p) work[p * k + r] = G[r * n + p];
    jacobi_svd(work, nullptr, n, k, norm2);
    double smin2 = std::numeric_limits<double>::infinity();
    for (std::ptrdiff_t p = 0; p < n; ++p)
        smin2 = std::min(smin2, dot(work + p * k, work + p * k, k));
    return std::sqrt(smin2);
}

// Cheap two-sided bounds on sigma_min(G)^2 = lambda_min(G^T G) for the (k, n) row-major G:
// with S = G^T G = R^T R (Cholesky) and d_i = (S^-1)_ii = ||R^-T e_i||^2,
//   1 / sum_i d_i  <=  sigma_min^2  <=  1 / max_i d_i,
// the two ends within a factor n. Returns {0, +inf} when S is not numerically positive
// definite. `work` must hold 2 * n * n doubles.
struct SigmaBounds {
    double lower2, upper2;
};

inline SigmaBounds sigma_min_bounds(const double *G, std::ptrdiff_t k, std::ptrdiff_t n,
                                    double *work) {
    double *R = work, *z = work + n * n, *inv = z + n;
    for (std::ptrdiff_t p = 0; p < n; ++p)
        for (std::ptrdiff_t q = p; q < n; ++q) {
            double v = 0.0;
            for (std::ptrdiff_t r = 0; r < k; ++r) v += G[r * n + p] * G[r * n + q];
            R[p * n + q] = v;
        }
    // n is small (a facet's dimension): the generic factor inlined here beats the dispatched
    // one, and d_i is read off the rows of R^-T computed in place of n separate solves.
    if (!cholesky_factor_impl<Isa::generic>(R, n, 1e-8, inv))
        return {0.0, std::numeric_limits<double>::infinity()};
    double trace = 0.0, dmax = 0.0;
    for (std::ptrdiff_t e = 0; e < n; ++e) {
        // z = R^-T e_e: zero above e, so the forward substitution starts at row e.
        std::fill(z, z + n, 0.0);
        z[e] = 1.0;
        double col2 = 0.0;
        for (std::ptrdiff_t k = e; k < n; ++k) {
            const double zk = z[k] * inv[k];
            col2 += zk * zk;
            for (std::ptrdiff_t j = k + 1; j < n; ++j) z[j] -= R[k * n + j] * zk;
        }
        trace += col2;
        dmax = std::max(dmax, col2);
    }
    return {1.0 / trace, 1.0 / dmax};
}

// Scratch space of one thread: generator matrix, NNLS solver, buffers.
class ConeWorkspace {
public:
    explicit ConeWorkspace(std::ptrdiff_t n) : n_(n), solver_(n, 0), b_(n), norm2_(n) {}

    // Gather the rows `idx[0..k)` of Wn as the columns of A = G^T (n, k), row-major.
    void load(const double *Wn, const std::int64_t *idx, std::ptrdiff_t k) {
        k_ = k;
        A_.resize(n_ * k);
        G_.resize(k * n_);
        for (std::ptrdiff_t c = 0; c < k; ++c) {
            const double *w = Wn + idx[c] * n_;
            for (std::ptrdiff_t r = 0; r < n_; ++r) {
                A_[r * k + c] = w[r];
                G_[c * n_ + r] = w[r];
            }
        }
        if (solver_.cols() != k) solver_ = Nnls(n_, k);
        x_.resize(k);
        svd_.resize(k * n_);
    }

    // min { <x, v> : x in cone(loaded rows), ||x|| <= 1 } = -||Proj_cone(-v)||.
    double min_on_cone_ball(const double *v) {
        for (std::ptrdiff_t r = 0; r < n_; ++r) b_[r] = -v[r];
        solver_.solve(A_.data(), b_.data(), x_.data(),
                      kNnlsIterPerColumn * static_cast<int>(k_) + 10);
        double norm2 = 0.0;
        for (std::ptrdiff_t r = 0; r < n_; ++r) {
            const double p = dot(&A_[r * k_], x_.data(), k_);
            norm2 += p * p;
        }
        return -std::sqrt(norm2);
    }

    // beta = min over the unit sphere in the cone of <x, v>, for a unit vector v inside the
    // cone's generators (closed form when every correlation is >= 0).
    double min_on_cone_sphere(const double *v) {
        double gmin = std::numeric_limits<double>::infinity();
        for (std::ptrdiff_t c = 0; c < k_; ++c) gmin = std::min(gmin, dot(&G_[c * n_], v, n_));
        return gmin >= 0.0 ? gmin : min_on_cone_ball(v);
    }

    double sigma_min() { return sigma_min_rows(G_.data(), k_, n_, svd_.data(), norm2_.data()); }

    SigmaBounds sigma_bounds() {
        chol_.resize(2 * n_ * n_);
        return sigma_min_bounds(G_.data(), k_, n_, chol_.data());
    }

private:
    std::ptrdiff_t n_, k_ = 0;
    Nnls solver_;
    std::vector<double> A_, G_, b_, x_, svd_, norm2_, chol_;
};

// Check the CSR facet list: 0 = indptr[0] <= ... <= indptr[F] = nnz, every facet has at
// least n vertices, every index is a row of Wn.
inline void check_facet_csr(const std::int64_t *indptr, const std::int64_t *indices,
                            std::ptrdiff_t n_facets, std::ptrdiff_t nnz, std::ptrdiff_t m,
                            std::ptrdiff_t n) {
    require(n_facets >= 1, "need at least one facet");
    require(indptr[0] == 0, "indptr[0] must be 0");
    require(indptr[n_facets] == nnz, "indptr[-1] must equal len(indices)");
    for (std::ptrdiff_t f = 0; f < n_facets; ++f)
        require(indptr[f + 1] - indptr[f] >= n, "every facet needs at least n vertices");
    for (std::ptrdiff_t e = 0; e < nnz; ++e)
        require(indices[e] >= 0 && indices[e] < m, "facet vertex index out of range [0, m)");
}

// The traversal. Outputs: beta (nnz,) aligned with `indices`, alpha (m,) (+inf for an element
// in no facet) and *sigma_min = min over the facets of sigma_min(Wn[F]). The exact (Jacobi) sigma_min is computed only for the facets whose cheap
// lower bound does not exceed the smallest cheap upper bound: the minimum is still exact and
// independent of n_threads, at a fraction of the cost. `poll` is called between blocks of
// facets (see run_blocks); returns false when it interrupted the traversal (the outputs are
// then incomplete and must be discarded), true otherwise.
template <class Poll = NoInterrupt>
bool facet_traversal(const double *Wn, std::ptrdiff_t m, std::ptrdiff_t n,
                     const std::int64_t *indptr, const std::int64_t *indices,
                     std::ptrdiff_t n_facets, Variant variant,
                     double *beta, double *sigma_min, double *alpha, int n_threads,
                     Poll &&poll = Poll{}) {
    const std::ptrdiff_t nnz = indptr[n_facets];
    check_facet_csr(indptr, indices, n_facets, nnz, m, n);
    n_threads = useful_threads(n_facets, n_threads);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> lower2(n_facets, inf), upper2(n_facets, inf);
    const std::ptrdiff_t first_block = kFacetChunk * n_threads;

    const bool done = run_blocks(n_facets, first_block, [&](std::ptrdiff_t b0, std::ptrdiff_t e0) {
    parallel_chunks(e0 - b0, kFacetChunk, n_threads,
                    [&](std::ptrdiff_t, std::ptrdiff_t begin, std::ptrdiff_t end) {
        ConeWorkspace ws(n);
        for (std::ptrdiff_t f = b0 + begin; f < b0 + end; ++f) {
            const std::int64_t *idx = indices + indptr[f];
            const std::ptrdiff_t k = indptr[f + 1] - indptr[f];
            double *bf = beta + indptr[f];
            ws.load(Wn, idx, k);
            const SigmaBounds bounds = ws.sigma_bounds();
            lower2[f] = bounds.lower2;
            upper2[f] = bounds.upper2;
            for (std::ptrdiff_t c = 0; c < k; ++c) bf[c] = ws.min_on_cone_sphere(Wn + idx[c] * n);
        }
    });
    }, poll);
    if (!done) return false;

    // Exact sigma_min only for the facets that can attain the minimum (with a relative
    // slack far above the rounding error of the bounds).
    const double best_upper2 = *std::min_element(upper2.begin(), upper2.end()) * (1.0 + 1e-8);
    std::vector<std::ptrdiff_t> candidates;
    for (std::ptrdiff_t f = 0; f < n_facets; ++f)
        if (lower2[f] <= best_upper2) candidates.push_back(f);
    const std::ptrdiff_t n_cand = static_cast<std::ptrdiff_t>(candidates.size());
    std::vector<double> exact(n_cand);
    const bool exact_done = run_blocks(n_cand, first_block, [&](std::ptrdiff_t b0, std::ptrdiff_t e0) {
    parallel_chunks(e0 - b0, kFacetChunk, n_threads,
                    [&](std::ptrdiff_t, std::ptrdiff_t begin, std::ptrdiff_t end) {
        ConeWorkspace ws(n);
        for (std::ptrdiff_t c = b0 + begin; c < b0 + end; ++c) {
            const std::ptrdiff_t f = candidates[c];
            ws.load(Wn, indices + indptr[f], indptr[f + 1] - indptr[f]);
            exact[c] = ws.sigma_min();
        }
    });
    }, poll);
    if (!exact_done) return false;
    *sigma_min = n_cand ? *std::min_element(exact.begin(), exact.end()) : inf;

    std::fill(alpha, alpha + m, inf);
    if (variant == Variant::vertex) {
        for (std::ptrdiff_t e = 0; e < nnz; ++e)
            alpha[indices[e]] = std::min(alpha[indices[e]], beta[e]);
        return true;
    }
    if (variant == Variant::facet) {
        for (std::ptrdiff_t f = 0; f < n_facets; ++f) {
            const double af = *std::min_element(beta + indptr[f], beta + indptr[f + 1]);
            for (std::ptrdiff_t e = indptr[f]; e < indptr[f + 1]; ++e)
                alpha[indices[e]] = std::min(alpha[indices[e]], af);
        }
        return true;
    }
    require(variant == Variant::authors, "variant must be 0 (vertex), 1 (facet) or 2 (authors)");
    // Neighbourhood N(i): the union of the vertex sets of the facets containing i.
    std::vector<std::vector<std::int64_t>> hood(m);
    for (std::ptrdiff_t f = 0; f < n_facets; ++f) {
        for (std::ptrdiff_t e = indptr[f]; e < indptr[f + 1]; ++e) {
            auto &h = hood[indices[e]];
            h.insert(h.end(), indices + indptr[f], indices + indptr[f + 1]);
        }
    }
    return run_blocks(m, n_threads, [&](std::ptrdiff_t b0, std::ptrdiff_t e0) {
    parallel_for(e0 - b0, n_threads, [&](std::ptrdiff_t i0) {
        const std::ptrdiff_t i = b0 + i0;
        auto &h = hood[i];
        if (h.empty()) return;
        std::sort(h.begin(), h.end());
        h.erase(std::unique(h.begin(), h.end()), h.end());
        const std::ptrdiff_t k = static_cast<std::ptrdiff_t>(h.size());
        ConeWorkspace ws(n);
        ws.load(Wn, h.data(), k);
        double gmin = inf;
        for (std::int64_t j : h) gmin = std::min(gmin, dot(Wn + i * n, Wn + j * n, n));
        if (gmin >= 0.0) {
            alpha[i] = gmin;
            return;
        }
        double a = inf;
        for (std::int64_t j : h) a = std::min(a, ws.min_on_cone_ball(Wn + j * n));
        alpha[i] = a;
    });
    }, poll);
}

}  // namespace reluinj
