// Batched reconstruction of the input of a ReLU layer y = ReLU(W x - alpha) from its output.
//
// For a sample y the active set is I = {i : y_i > 0}; its rows satisfy <x, w_i> = y_i + alpha_i.
// Every kernel below works on one sample at a time (OpenMP over chunks of samples, see
// sample_chunk), or for dual_inverse with AVX2 / AVX-512 on groups of samples in vector lanes
// that never mix (dual_lanes.hpp), so each result depends only on its sample and is
// bitwise independent of n_threads and of the chunking.
//
// * dual_inverse: least squares on the active rows (the canonical dual frame of the active
//   sub-frame). Normal matrix G_I = W_I^T W_I, built either from the active rows or as
//   S - W_{I^c}^T W_{I^c} when fewer rows are inactive than active (S = W^T W precomputed), then
//   Cholesky and one step of iterative refinement with the residual of the active equations.
//   Fallback (documented threshold kCholPivotTol): a one-sided Jacobi SVD of W_I, truncated to
//   the numerical rank r found by IncrementalBasis; r < n gives the minimum-norm solution.
// * facet_inverse: the first facet (in list order) whose vertices are all active; least squares
//   on those rows. No fully active facet: x = NaN and facet = -1 (never another facet).
// * frame_inverse: the ReLU frame algorithm (gradient descent, variants relu/naive).
// * cg_inverse: conjugate gradients on the active normal equations (matrix-free).
// * inverse_stability: 1/sqrt(lambda_min(G_I)) at points x, with I = {<x, w_i> >= alpha_i}.
//
// All arithmetic is in double; W and alpha are passed as double (the binding converts float
// weights once), Y and the outputs may be float or double. The vector kernels are written once
// over vec<double, I> and compiled per ISA (simd.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "reluinj/dual_lanes.hpp"
#include "reluinj/linalg.hpp"
#include "reluinj/parallel.hpp"
#include "reluinj/simd.hpp"

namespace reluinj {

// The Cholesky path is accepted iff every pivot satisfies L_kk^2 > kCholPivotTol * G_kk, i.e.
// column k of W_I keeps a sine > 1e-4 to the span of the previous columns; otherwise the
// sample goes through the SVD fallback.
constexpr double kCholPivotTol = 1e-8;
constexpr std::ptrdiff_t kSampleChunk = 64;
// Bytes of packed rows per SYRK panel: two thirds of a 48 KiB L1 data cache, all of a 32 KiB one.
constexpr std::ptrdiff_t kSyrkPanelBytes = 32 << 10;

// Samples per chunk: at most kSampleChunk, and small enough that a small batch still gives
// every thread about four chunks (the results do not depend on it).
inline std::ptrdiff_t sample_chunk(std::ptrdiff_t B, int n_threads) {
    const std::ptrdiff_t c = B / (4 * std::ptrdiff_t(n_threads > 0 ? n_threads : 1));
    return std::max<std::ptrdiff_t>(1, std::min(kSampleChunk, c));
}

namespace recon_detail {

// Register block of the packed SYRK: R rows x 2 vectors (8 x 16 doubles with AVX-512).
template <Isa I>
constexpr std::ptrdiff_t syrk_rows() { return I == Isa::avx512 ? 8 : 4; }

// Padded row stride of the packed rows: a multiple of the block width (2 vectors) and of R.
template <Isa I>
constexpr std::ptrdiff_t syrk_stride_impl(std::ptrdiff_t n) {
    constexpr std::ptrdiff_t w = std::max<std::ptrdiff_t>(2 * lanes<double, I>(), syrk_rows<I>());
    return (n + w - 1) / w * w;
}

// G[j0 + r][c0 + VW v + l] (r < R, v < NV) = sum_t A[t][j0 + r] A[t][c0 + VW v + l]: one FMA
// chain per entry over the rows t in order; with `resume` the chains continue from G (a panel
// of rows after the previous ones gives the same chains as one call on all rows).
template <Isa I, int NV>
RELUINJ_FORCE_INLINE void syrk_block(const double *A, std::ptrdiff_t k, std::ptrdiff_t np, std::ptrdiff_t j0,
                                     std::ptrdiff_t c0, double *G, bool resume) {
    using V = vec<double, I>;
    constexpr int R = int(syrk_rows<I>()), VW = lanes<double, I>();
    V acc[R][NV];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = resume ? vload<V>(G + (j0 + r) * np + c0 + VW * v) : V{};
    const double *a = A;
    for (std::ptrdiff_t t = 0; t < k; ++t, a += np) {
        V u[NV];
        for (int v = 0; v < NV; ++v) u[v] = vload<V>(a + c0 + VW * v);
        for (int r = 0; r < R; ++r) {
            const double x = a[j0 + r];
            for (int v = 0; v < NV; ++v) acc[r][v] += x * u[v];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) vstore(G + (j0 + r) * np + c0 + VW * v, acc[r][v]);
}

// The register blocks that touch the upper triangle of G (np x np) = A^T A, A = k packed rows.
template <Isa I>
RELUINJ_FORCE_INLINE void syrk_packed_impl(const double *A, std::ptrdiff_t k, std::ptrdiff_t np, std::ptrdiff_t n,
                                           double *G, bool resume) {
    constexpr std::ptrdiff_t R = syrk_rows<I>(), VW = lanes<double, I>();
    for (std::ptrdiff_t j0 = 0; j0 < n; j0 += R) {
        std::ptrdiff_t c0 = j0 / VW * VW;
        for (; c0 + 2 * VW <= np; c0 += 2 * VW) syrk_block<I, 2>(A, k, np, j0, c0, G, resume);
        if (c0 < np) syrk_block<I, 1>(A, k, np, j0, c0, G, resume);
    }
}

// c = W x for all m rows from Wt (n x m): four vectors of rows per pass, one FMA chain over j.
template <Isa I>
RELUINJ_FORCE_INLINE void analysis_impl(const double *Wt, const double *x, std::ptrdiff_t m, std::ptrdiff_t n,
                                        double *c) {
    using V = vec<double, I>;
    constexpr std::ptrdiff_t VW = lanes<double, I>();
    std::ptrdiff_t i = 0;
    for (; i + 4 * VW <= m; i += 4 * VW) {
        V c0 = {}, c1 = {}, c2 = {}, c3 = {};
        const double *w = Wt + i;
        for (std::ptrdiff_t j = 0; j < n; ++j, w += m) {
            const double xj = x[j];
            c0 += xj * vload<V>(w);
            c1 += xj * vload<V>(w + VW);
            c2 += xj * vload<V>(w + 2 * VW);
            c3 += xj * vload<V>(w + 3 * VW);
        }
        vstore(c + i, c0);
        vstore(c + i + VW, c1);
        vstore(c + i + 2 * VW, c2);
        vstore(c + i + 3 * VW, c3);
    }
    for (; i < m; i += VW) {
        const std::ptrdiff_t len = std::min(VW, m - i);
        V c0 = {};
        const double *w = Wt + i;
        for (std::ptrdiff_t j = 0; j < n; ++j, w += m)
            c0 += x[j] * (len == VW ? vload<V>(w) : vload_tail<V>(w, len));
        vstore_tail(c + i, c0, len);
    }
}

// out_j = <Wt[j], v> (= (W^T v)_j), four columns at a time: per column two vector partial sums
// over the rows, reduced in a fixed order.
template <Isa I>
RELUINJ_FORCE_INLINE void synthesis_impl(const double *Wt, const double *v, std::ptrdiff_t m, std::ptrdiff_t n,
                                         double *out) {
    using V = vec<double, I>;
    constexpr std::ptrdiff_t VW = lanes<double, I>();
    for (std::ptrdiff_t j0 = 0; j0 < n; j0 += 4) {
        const std::ptrdiff_t nc = std::min<std::ptrdiff_t>(4, n - j0);
        V a[4] = {}, b[4] = {};
        std::ptrdiff_t i = 0;
        for (; i + 2 * VW <= m; i += 2 * VW) {
            const V v0 = vload<V>(v + i), v1 = vload<V>(v + i + VW);
            for (std::ptrdiff_t r = 0; r < nc; ++r) {
                const double *w = Wt + (j0 + r) * m + i;
                a[r] += vload<V>(w) * v0;
                b[r] += vload<V>(w + VW) * v1;
            }
        }
        for (; i < m; i += VW) {
            const std::ptrdiff_t len = std::min(VW, m - i);
            const V v0 = vload_tail<V>(v + i, len);
            for (std::ptrdiff_t r = 0; r < nc; ++r) a[r] += vload_tail<V>(Wt + (j0 + r) * m + i, len) * v0;
        }
        for (std::ptrdiff_t r = 0; r < nc; ++r) out[j0 + r] = reduce_add(a[r] + b[r]);
    }
}

// out = sum_t coef[t] W[idx[t]] (length n), rows in list order.
template <Isa>
RELUINJ_FORCE_INLINE void synth_rows_impl(const double *W, const std::int64_t *idx, const double *coef,
                                          std::ptrdiff_t cnt, std::ptrdiff_t n, double *__restrict out) {
    std::fill(out, out + n, 0.0);
    for (std::ptrdiff_t t = 0; t < cnt; ++t) {
        const double *__restrict w = W + idx[t] * n;
        const double ct = coef[t];
        for (std::ptrdiff_t j = 0; j < n; ++j) out[j] += ct * w[j];
    }
}

// sum_i (max(c_i - alpha_i, 0) - y_i)^2 with c = W x (in wx), four partial sums (i mod 4).
template <Isa, class T>
RELUINJ_FORCE_INLINE double residual2_impl(const double *wx, const double *alpha, const T *y, std::ptrdiff_t m) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    std::ptrdiff_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int l = 0; l < 4; ++l) {
            const double z = wx[i + l] - alpha[i + l];
            const double d = (z > 0.0 ? z : 0.0) - double(y[i + l]);
            s[l] += d * d;
        }
    for (int l = 0; i < m; ++i, ++l) {
        const double z = wx[i] - alpha[i];
        const double d = (z > 0.0 ? z : 0.0) - double(y[i]);
        s[l] += d * d;
    }
    return (s[0] + s[2]) + (s[1] + s[3]);
}

RELUINJ_ISA_DISPATCH(syrk_packed, syrk_packed_impl)
RELUINJ_ISA_DISPATCH(analysis, analysis_impl)
RELUINJ_ISA_DISPATCH(synthesis, synthesis_impl)
RELUINJ_ISA_DISPATCH(synth_rows, synth_rows_impl)
RELUINJ_ISA_DISPATCH(residual2, residual2_impl)
RELUINJ_ISA_DISPATCH(syrk_stride, syrk_stride_impl)

}  // namespace recon_detail

// Per-thread scratch and the dense solvers shared by the reconstruction kernels.
class ActiveSolver {
public:
    // W (m x n) and its transpose Wt (n x m, may be null when only Gram matrices are needed);
    // S = W^T W (upper triangle of the row-major n x n) or nullptr.
    ActiveSolver(const double *W, const double *Wt, const double *S, std::ptrdiff_t m, std::ptrdiff_t n,
                 double rank_tol)
        : W_(W), Wt_(Wt), S_(S), m_(m), n_(n), np_(recon_detail::syrk_stride(n)), basis_(n, rank_tol),
          G_(n * n), g_(n), inv_(n), b_(m), act_(m), inact_(m), c_(m), wx_(m), bm_(m), on_(m) {}

    // Active set {i : y_i > 0} of a sample and the targets b_t = y_i + alpha_i.
    template <class T>
    void set_active(const T *y, const double *alpha) {
        dense_ = true;
        // Branch-free partition: outputs are ~50% active, so branches would mispredict.
        n_act_ = n_inact_ = 0;
        for (std::ptrdiff_t i = 0; i < m_; ++i) {
            const double yi = double(y[i]);
            const bool on = yi > 0.0;
            const double bi = yi + alpha[i];
            b_[n_act_] = bi;
            bm_[i] = on ? bi : 0.0;  // targets in row order, 0 on inactive rows
            on_[i] = on ? 1.0 : 0.0;
            act_[n_act_] = i;
            inact_[n_inact_] = i;
            n_act_ += on;
            n_inact_ += !on;
        }
    }

    // Active set {i : <x, w_i> >= alpha_i} of an input point.
    template <class T>
    void set_active_from_input(const T *x, const double *alpha) {
        n_act_ = n_inact_ = 0;
        dense_ = false;
        for (std::ptrdiff_t i = 0; i < m_; ++i) {
            if (dot(W_ + i * n_, x, n_) >= alpha[i]) act_[n_act_++] = i;
            else inact_[n_inact_++] = i;
        }
    }

    // Use the given rows (e.g. a facet) with targets y_i + alpha_i instead of the active set.
    template <class T>
    void set_rows(const std::int64_t *rows, std::ptrdiff_t cnt, const T *y, const double *alpha) {
        n_act_ = cnt;
        n_inact_ = 0;
        dense_ = false;
        for (std::ptrdiff_t t = 0; t < cnt; ++t) {
            act_[t] = rows[t];
            b_[t] = double(y[rows[t]]) + alpha[rows[t]];
        }
    }

    // S = W^T W (upper triangle of the row-major n x n S, the frame operator). Only for a
    // solver constructed without S.
    void frame_operator(double *S) {
        n_act_ = m_;
        n_inact_ = 0;
        dense_ = false;
        for (std::ptrdiff_t i = 0; i < m_; ++i) act_[i] = i;
        build_gram();
        std::copy(G_.begin(), G_.end(), S);
    }

    std::ptrdiff_t n_active() const { return n_act_; }
    const std::int64_t *active() const { return act_.data(); }
    const double *targets() const { return b_.data(); }

    // Numerical rank of the current rows (greedy test of IncrementalBasis, as in injective_at).
    std::ptrdiff_t rank() {
        basis_.reset();
        for (std::ptrdiff_t t = 0; t < n_act_ && !basis_.full(); ++t) basis_.try_add(W_ + act_[t] * n_);
        return basis_.rank();
    }

    // Least squares on the current rows: x minimises ||W_I x - b||; the minimum-norm solution
    // when the rows do not span. Returns the numerical rank (n when the rows span).
    std::ptrdiff_t solve(double *x) {
        const std::ptrdiff_t n = n_;
        if (n_act_ < n) return solve_svd(x);
        build_gram();
        if (!cholesky_factor(G_.data(), n, kCholPivotTol, inv_.data())) return solve_svd(x);
        // One step of iterative refinement with the residual of the active equations. After
        // set_active the right-hand sides are dense products with W^T of vectors that vanish on
        // the inactive rows (no gathers); otherwise sums over the rows.
        if (dense_) {
            recon_detail::synthesis(Wt_, bm_.data(), m_, n, x);
            cholesky_solve(G_.data(), inv_.data(), n, x);
            recon_detail::analysis(Wt_, x, m_, n, wx_.data());
            for (std::ptrdiff_t i = 0; i < m_; ++i) c_[i] = on_[i] * (bm_[i] - wx_[i]);  // branch-free
            recon_detail::synthesis(Wt_, c_.data(), m_, n, g_.data());
        } else {
            recon_detail::synth_rows(W_, act_.data(), b_.data(), n_act_, n, x);
            cholesky_solve(G_.data(), inv_.data(), n, x);
            recon_detail::analysis(Wt_, x, m_, n, wx_.data());
            for (std::ptrdiff_t t = 0; t < n_act_; ++t) c_[t] = b_[t] - wx_[act_[t]];
            recon_detail::synth_rows(W_, act_.data(), c_.data(), n_act_, n, g_.data());
        }
        cholesky_solve(G_.data(), inv_.data(), n, g_.data());
        for (std::ptrdiff_t j = 0; j < n; ++j) x[j] += g_[j];
        return n;
    }

    // G_I of the current rows into lane `lane` of the packed upper triangles GL
    // (n(n+1)/2 x lanes, see dual_lanes::cholesky_lanes). Returns false (nothing stored) when
    // fewer than n rows are active.
    bool gram_to_lanes(double *GL, int lane, int lanes) {
        const std::ptrdiff_t n = n_;
        if (n_act_ < n) return false;
        build_gram();
        double *g = GL + lane;
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t c = j; c < n; ++c, g += lanes) *g = G_[j * n + c];
        return true;
    }

    // The fallback of solve(): truncated SVD of W_I at the numerical rank of the rows.
    std::ptrdiff_t solve_svd(double *x) {
        const std::ptrdiff_t n = n_, k = n_act_;
        const std::ptrdiff_t r = rank();
        scratch();
        for (std::ptrdiff_t t = 0; t < k; ++t) {
            const double *w = W_ + act_[t] * n;
            for (std::ptrdiff_t j = 0; j < n; ++j) At_[j * k + t] = w[j];
        }
        jacobi_svd(At_.data(), Vt_.data(), n, k, g_.data());
        std::vector<std::ptrdiff_t> &order = order_;
        for (std::ptrdiff_t j = 0; j < n; ++j) {
            inv_[j] = std::sqrt(dot(At_.data() + j * k, At_.data() + j * k, k));  // sigma_j
            order[j] = j;
        }
        std::stable_sort(order.begin(), order.end(), [&](std::ptrdiff_t a, std::ptrdiff_t b) { return inv_[a] > inv_[b]; });
        std::fill(x, x + n, 0.0);
        for (std::ptrdiff_t q = 0; q < r; ++q) {
            const std::ptrdiff_t j = order[q];
            if (!(inv_[j] > 0.0)) break;
            const double coef = dot(At_.data() + j * k, b_.data(), k) / (inv_[j] * inv_[j]);
            const double *v = Vt_.data() + j * n;
            for (std::ptrdiff_t i = 0; i < n; ++i) x[i] += coef * v[i];
        }
        return r;
    }

    // Smallest and largest eigenvalue of G_I = W_I^T W_I (lo = 0 when fewer than n rows are
    // active).
    void gram_extremes(double &lo, double &hi) {
        const std::ptrdiff_t n = n_;
        if (n_act_ == 0) {
            lo = hi = 0.0;
            return;
        }
        build_gram();
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t k = j + 1; k < n; ++k) G_[k * n + j] = G_[j * n + k];
        sym_eig_extremes(G_.data(), n, lo, hi, scratch());
        lo = n_act_ < n ? 0.0 : std::max(0.0, lo);
    }

    // ||ReLU(W x - alpha) - y||_2 (output-space misfit).
    template <class T>
    double output_residual(const double *x, const double *alpha, const T *y) {
        recon_detail::analysis(Wt_, x, m_, n_, wx_.data());
        return std::sqrt(recon_detail::residual2(wx_.data(), alpha, y, m_));
    }

private:
    // G_ = W_I^T W_I (upper triangle). Rows are packed (zero padded to np_) and multiplied in
    // panels that fit in L1, so every register block rereads its panel from L1 rather than the
    // whole list from L2; the complement S - W_{I^c}^T W_{I^c} when that list is shorter.
    void build_gram() {
        const std::ptrdiff_t n = n_, np = np_;
        const bool complement = S_ && n_inact_ < n_act_;
        const std::int64_t *idx = complement ? inact_.data() : act_.data();
        const std::ptrdiff_t cnt = complement ? n_inact_ : n_act_;
        const std::ptrdiff_t panel = std::max<std::ptrdiff_t>(8, kSyrkPanelBytes / (np * std::ptrdiff_t(sizeof(double))));
        if (!Apack_) {
            Apack_.reset(new double[std::min(m_, panel) * np]);  // rows are written before use
            Gb_.assign(np * np, 0.0);
        }
        if (cnt == 0) std::fill(Gb_.begin(), Gb_.end(), 0.0);
        for (std::ptrdiff_t t0 = 0; t0 < cnt; t0 += panel) {
            const std::ptrdiff_t rows = std::min(panel, cnt - t0);
            for (std::ptrdiff_t t = 0; t < rows; ++t) {
                double *row = Apack_.get() + t * np;
                std::copy(W_ + idx[t0 + t] * n, W_ + idx[t0 + t] * n + n, row);
                std::fill(row + n, row + np, 0.0);
            }
            // The next panel's rows (scattered over W, so invisible to the hardware prefetcher)
            // towards L2 while this panel is multiplied.
            for (std::ptrdiff_t t = t0 + panel; t < std::min(cnt, t0 + 2 * panel); ++t)
                for (std::ptrdiff_t q = 0; q < n; q += 8) __builtin_prefetch(W_ + idx[t] * n + q, 0, 2);
            recon_detail::syrk_packed(static_cast<const double *>(Apack_.get()), rows, np, n, Gb_.data(), t0 > 0);
        }
        const double *gb = Gb_.data();
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t c = j; c < n; ++c)
                G_[j * n + c] = complement ? S_[j * n + c] - gb[j * np + c] : gb[j * np + c];
    }

    // Scratch of the SVD fallback and gram_extremes (n x max(m, 4)), allocated on first use.
    double *scratch() {
        if (At_.empty()) {
            At_.assign(n_ * std::max<std::ptrdiff_t>(m_, 4), 0.0);
            Vt_.assign(n_ * n_, 0.0);
            order_.resize(n_);
        }
        return At_.data();
    }

    const double *W_, *Wt_, *S_;
    std::ptrdiff_t m_, n_, np_;
    IncrementalBasis basis_;
    std::vector<double> G_, g_, inv_, At_, Vt_;
    std::vector<std::ptrdiff_t> order_;
    std::vector<double> b_;
    std::vector<std::int64_t> act_, inact_;
    std::vector<double> c_, wx_, bm_;
    std::vector<double> on_;  // 1.0 on active rows, 0.0 elsewhere
    bool dense_ = false;
    std::ptrdiff_t n_act_ = 0, n_inact_ = 0;
    std::unique_ptr<double[]> Apack_;
    std::vector<double> Gb_;
};

// S = W^T W (upper triangle), with the Gram kernel of ActiveSolver.
inline std::vector<double> frame_operator_upper(const double *W, std::ptrdiff_t m, std::ptrdiff_t n) {
    std::vector<double> S(n * n, 0.0);
    ActiveSolver(W, nullptr, nullptr, m, n, 0.0).frame_operator(S.data());
    return S;
}

// W^T (n x m), in blocks of 32 rows of W (which stay in L1 while their columns are written out
// contiguously; a plain row-by-row loop strides every store across a whole row of W^T).
inline std::vector<double> transpose(const double *W, std::ptrdiff_t m, std::ptrdiff_t n) {
    std::vector<double> Wt(n * m);
    for (std::ptrdiff_t i0 = 0; i0 < m; i0 += 32) {
        const std::ptrdiff_t i1 = std::min(m, i0 + 32);
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t i = i0; i < i1; ++i) Wt[j * m + i] = W[i * n + j];
    }
    return Wt;
}

// True when every output y_i is finite and >= 0 (a ReLU output).
template <class T>
inline bool outputs_valid(const T *y, std::ptrdiff_t m) {
    bool ok = true;
    for (std::ptrdiff_t i = 0; i < m; ++i) ok &= y[i] >= T(0) && y[i] <= std::numeric_limits<T>::max();
    return ok;
}

// Returns false (the outputs are then meaningless) when some entry of Y is NaN, infinite or
// negative: the validation of Y is part of the pass over it.
//
// Paths: with AVX2 or AVX-512, groups of samples in vector lanes (dual_lanes.hpp): for n <= 16
// the whole solve (Gram matrices from the pair table), for n > 16 everything but the
// per-sample SYRK. Otherwise (SSE2) one sample at a time (ActiveSolver::solve). Samples whose
// factorisation fails go to the per-sample minimum-norm least squares (ActiveSolver::solve_svd).
template <class T>
bool dual_inverse(const double *W, const double *alpha, const T *Y, T *X, std::uint8_t *injective,
                  double *residual, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t B,
                  double rank_tol, int n_threads) {
    const std::vector<double> S = frame_operator_upper(W, m, n), Wt = transpose(W, m, n);
    const bool lanes = wide_vectors(), small = lanes && n <= dual_lanes::kMaxN;
    const std::vector<double> P = small ? dual_lanes::pair_table(W, m, n) : std::vector<double>();
    std::ptrdiff_t chunk = sample_chunk(B, n_threads);
    // A partly filled group costs as much as a full one: whole groups (of 4 or 8) per chunk.
    if (lanes) chunk = std::max<std::ptrdiff_t>(8, chunk / 8 * 8);
    std::vector<std::uint8_t> chunk_valid((B + chunk - 1) / chunk, 1);
    parallel_chunks(B, chunk, n_threads, [&](std::ptrdiff_t c, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), S.data(), m, n, rank_tol);
        std::vector<double> x(n);
        auto store = [&](std::ptrdiff_t s, std::ptrdiff_t r) {
            injective[s] = r == n;
            residual[s] = solver.output_residual(x.data(), alpha, Y + s * m);
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j]);
        };
        auto fallback = [&](std::ptrdiff_t s) {
            solver.set_active(Y + s * m, alpha);
            store(s, solver.solve_svd(x.data()));
        };
        bool valid = true;
        if (lanes) {
            valid = dual_lanes::solve_lane_groups(
                n, W, P.data(), alpha, Y, X, injective, residual, m, b, e, kCholPivotTol,
                [&](std::ptrdiff_t s, double *GL, int lane, int L) {
                    solver.set_active(Y + s * m, alpha);
                    return solver.gram_to_lanes(GL, lane, L);
                },
                fallback);
        } else {
            for (std::ptrdiff_t s = b; s < e; ++s) {
                valid &= outputs_valid(Y + s * m, m);
                solver.set_active(Y + s * m, alpha);
                store(s, solver.solve(x.data()));
            }
        }
        chunk_valid[c] = valid;
    });
    return std::all_of(chunk_valid.begin(), chunk_valid.end(), [](std::uint8_t v) { return v != 0; });
}

// Facets in CSR form: the vertices of facet f are indices[indptr[f]:indptr[f+1]]. The scan
// over the facets costs O(n_facets) per sample: `poll` is called between blocks of samples
// (see run_blocks); returns false when it interrupted the work (outputs incomplete).
template <class T, class Poll = NoInterrupt>
bool facet_inverse(const double *W, const double *alpha, const T *Y, const std::int64_t *indptr,
                   const std::int64_t *indices, std::ptrdiff_t n_facets, T *X,
                   std::uint8_t *injective, double *residual, std::int64_t *facet,
                   std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t B, double rank_tol, int n_threads,
                   Poll &&poll = Poll{}) {
    const std::vector<double> Wt = transpose(W, m, n);
    return run_blocks(B, n_threads, [&](std::ptrdiff_t b0, std::ptrdiff_t e0) {
    parallel_chunks(e0 - b0, sample_chunk(e0 - b0, n_threads), n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), nullptr, m, n, rank_tol);
        std::vector<double> x(n);
        for (std::ptrdiff_t s = b0 + b; s < b0 + e; ++s) {
            const T *y = Y + s * m;
            std::int64_t found = -1;
            for (std::ptrdiff_t f = 0; f < n_facets && found < 0; ++f) {
                bool all_active = true;
                for (std::int64_t p = indptr[f]; p < indptr[f + 1] && all_active; ++p)
                    all_active = double(y[indices[p]]) > 0.0;
                if (all_active) found = f;
            }
            facet[s] = found;
            if (found < 0) {
                injective[s] = 0;
                residual[s] = std::numeric_limits<double>::quiet_NaN();
                for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(std::numeric_limits<double>::quiet_NaN());
                continue;
            }
            solver.set_rows(indices + indptr[found], indptr[found + 1] - indptr[found], y, alpha);
            injective[s] = solver.solve(x.data()) == n;
            residual[s] = solver.output_residual(x.data(), alpha, y);
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j]);
        }
    });
    }, poll);
}

// The ReLU frame algorithm. step: lambda_full > 0 uses that step for every sample; otherwise
// the step comes from the active sub-frame: 2 / (A_I + B_I) for the naive variant (whose
// objective involves the active rows only, so its gradient is B_I-Lipschitz), and
// 2 / (A_I + frame_upper) for the relu variant, whose gradient also involves the violated
// inactive rows and is only B-Lipschitz (frame_upper = B of the whole frame): a step below
// 2 / B, hence convergent, and still faster than 2 / (A + B). 1 / B_I (naive) or
// 1 / frame_upper (relu) when the active rows do not span.
// Stops when ||y_{k+1} - y_k|| <= tol ||y_{k+1}|| (tol > 0) or after max_iter iterations.
template <class T>
void frame_inverse(const double *W, const double *alpha, const T *Y, T *X, std::uint8_t *injective,
                   double *residual, std::int32_t *n_iter, std::ptrdiff_t m, std::ptrdiff_t n,
                   std::ptrdiff_t B, bool relu_variant, double lambda_full, double frame_upper,
                   double tol, int max_iter, double rank_tol, int n_threads) {
    const std::vector<double> Wt = transpose(W, m, n);
    parallel_chunks(B, sample_chunk(B, n_threads), n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), nullptr, m, n, rank_tol);
        std::vector<double> x(n), grad(n), c(m), coef(m);
        std::vector<std::int64_t> rows(m);
        std::vector<std::uint8_t> is_act(m);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            const T *y = Y + s * m;
            solver.set_active(y, alpha);
            injective[s] = solver.rank() == n;
            double lambda = lambda_full;
            if (!(lambda_full > 0.0)) {
                double lo, hi;
                solver.gram_extremes(lo, hi);
                if (relu_variant) hi = frame_upper;
                lambda = hi > 0.0 ? (injective[s] ? 2.0 / (lo + hi) : 1.0 / hi) : 0.0;
            }
            std::fill(is_act.begin(), is_act.end(), 0);
            const std::int64_t *act = solver.active();
            const double *tgt = solver.targets();
            const std::ptrdiff_t k = solver.n_active();
            for (std::ptrdiff_t t = 0; t < k; ++t) is_act[rows[t] = act[t]] = 1;
            std::fill(x.begin(), x.end(), 0.0);
            int it = 0;
            while (it < max_iter) {
                // The gradient: the active rows (in order), then for the relu variant the
                // violated inactive rows <x, w_i> >= alpha_i (in order).
                recon_detail::analysis(Wt.data(), x.data(), m, n, c.data());
                std::ptrdiff_t cnt = k;
                for (std::ptrdiff_t t = 0; t < k; ++t) coef[t] = tgt[t] - c[act[t]];
                for (std::ptrdiff_t i = 0; relu_variant && i < m; ++i)
                    if (!is_act[i] && c[i] >= alpha[i]) rows[cnt] = i, coef[cnt++] = alpha[i] - c[i];
                recon_detail::synth_rows(W, rows.data(), coef.data(), cnt, n, grad.data());
                double step2 = 0.0, norm2 = 0.0;
                for (std::ptrdiff_t j = 0; j < n; ++j) {
                    const double d = lambda * grad[j];
                    x[j] += d;
                    step2 += d * d;
                    norm2 += x[j] * x[j];
                }
                ++it;
                if (tol > 0.0 && std::sqrt(step2) <= tol * std::sqrt(norm2)) break;
            }
            n_iter[s] = it;
            residual[s] = solver.output_residual(x.data(), alpha, y);
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j]);
        }
    });
}

// Conjugate gradients on W_I^T W_I x = W_I^T b from x = 0 (minimum-norm limit when the rows do
// not span). Stops when ||r_k|| <= tol ||W_I^T b|| or after max_iter iterations.
template <class T>
void cg_inverse(const double *W, const double *alpha, const T *Y, T *X, std::uint8_t *injective,
                double *residual, std::int32_t *n_iter, std::ptrdiff_t m, std::ptrdiff_t n,
                std::ptrdiff_t B, double tol, int max_iter, double rank_tol, int n_threads) {
    const std::vector<double> Wt = transpose(W, m, n);
    parallel_chunks(B, sample_chunk(B, n_threads), n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), nullptr, m, n, rank_tol);
        std::vector<double> x(n), r(n), p(n), q(n), tmp(m);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            const T *y = Y + s * m;
            solver.set_active(y, alpha);
            injective[s] = solver.rank() == n;
            const std::int64_t *act = solver.active();
            const std::ptrdiff_t k = solver.n_active();
            recon_detail::synth_rows(W, act, solver.targets(), k, n, r.data());
            std::fill(x.begin(), x.end(), 0.0);
            p = r;
            double rr = dot(r.data(), r.data(), n);
            const double stop = tol * std::sqrt(rr);
            int it = 0;
            while (it < max_iter && std::sqrt(rr) > stop && rr > 0.0) {
                for (std::ptrdiff_t t = 0; t < k; ++t) tmp[t] = dot(W + act[t] * n, p.data(), n);
                recon_detail::synth_rows(W, act, tmp.data(), k, n, q.data());
                const double pq = dot(p.data(), q.data(), n);
                ++it;
                if (!(pq > 0.0)) break;
                const double a = rr / pq;
                for (std::ptrdiff_t j = 0; j < n; ++j) {
                    x[j] += a * p[j];
                    r[j] -= a * q[j];
                }
                const double rr_new = dot(r.data(), r.data(), n);
                const double beta = rr_new / rr;
                rr = rr_new;
                for (std::ptrdiff_t j = 0; j < n; ++j) p[j] = r[j] + beta * p[j];
            }
            n_iter[s] = it;
            residual[s] = solver.output_residual(x.data(), alpha, y);
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j]);
        }
    });
}

// out[s] = 1 / sqrt(lambda_min(W_I^T W_I)) with I = {i : <x_s, w_i> >= alpha_i}; +inf when the
// active rows do not span (rank test of IncrementalBasis).
template <class T>
void inverse_stability(const double *W, const double *alpha, const T *Xin, double *out, std::ptrdiff_t m,
                       std::ptrdiff_t n, std::ptrdiff_t B, double rank_tol, int n_threads) {
    const std::vector<double> Wt = transpose(W, m, n);
    parallel_chunks(B, sample_chunk(B, n_threads), n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), nullptr, m, n, rank_tol);
        for (std::ptrdiff_t s = b; s < e; ++s) {
            solver.set_active_from_input(Xin + s * n, alpha);
            double lo, hi;
            solver.gram_extremes(lo, hi);
            // A clearly positive lambda_min proves that the rows span; only doubtful cases go
            // through the greedy rank test (so the answer agrees with is_injective_at).
            const bool spans = lo > kCholPivotTol * hi || solver.rank() == n;
            out[s] = spans && lo > 0.0 ? 1.0 / std::sqrt(lo) : std::numeric_limits<double>::infinity();
        }
    });
}

}  // namespace reluinj
