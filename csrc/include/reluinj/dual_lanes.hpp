// The dual (least-squares) reconstruction of eight samples at once, one per lane of an AVX-512
// register, for layers with n <= 16 (the small layers whose per-sample cost is dominated by
// latency-bound n x n Cholesky work and per-sample call overhead rather than by arithmetic).
//
// For a group of up to eight outputs y_s (lanes s), with a_i = [y_si > 0] and b_si = y_si + alpha_i:
//   1. y is gathered row by row into lane layout (one register per output row i) and checked
//      (every entry finite and >= 0; the caller reports the batch as invalid otherwise);
//   2. G_s = sum_i a_si w_i w_i^T from the pair table P (packed upper triangle of w_i w_i^T):
//      masked additions of broadcast table entries, rows in increasing order;
//      r_s = sum_i a_si b_si w_i likewise;
//   3. Cholesky G_s = R_s^T R_s in the lanes (the pivot test L_kk^2 > tol G_kk of the per-sample
//      kernels, lane by lane) and x_s = G_s^{-1} r_s;
//   4. one step of iterative refinement, x_s += G_s^{-1} sum_i a_si (b_si - <w_i, x_s>) w_i;
//   5. the output residual ||ReLU(W x_s - alpha) - y_s||_2.
// Every lane executes the same operation sequence on its own sample only, so each result
// depends on its sample alone (not on the lane, the group, the chunk or the thread). Lanes whose
// pivot test fails (including samples with fewer than n active rows) are left to the caller's
// per-sample fallback.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "reluinj/simd.hpp"

namespace reluinj {
namespace dual_lanes {

constexpr int kLanes = 8;       // samples per group (doubles per AVX-512 register)
constexpr int kMaxN = 16;       // largest n with a lane kernel
constexpr int kMaxPass = 24;    // accumulators per pass over the pair table

// Whether the lane kernels run (AVX-512 allowed by the CPU and RELUINJ_SIMD).
inline bool available() { return RELUINJ_X86 && active_isa() == Isa::avx512; }

// The pair table P (m x packed_pairs(n)): row i holds the packed upper triangle of w_i w_i^T
// (w_ij w_ic for j <= c, row-major pair order, zero padded), so a Gram matrix is a sum of rows.
inline std::ptrdiff_t packed_pairs(std::ptrdiff_t n) { return (n * (n + 1) / 2 + 7) / 8 * 8; }

inline std::vector<double> pair_table(const double *W, std::ptrdiff_t m, std::ptrdiff_t n) {
    const std::ptrdiff_t np2 = packed_pairs(n);
    std::vector<double> P(m * np2, 0.0);
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const double *w = W + i * n;
        double *p = P.data() + i * np2;
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t c = j; c < n; ++c) *p++ = w[j] * w[c];
    }
    return P;
}

// Per-thread scratch of one group: outputs in lane layout (m rows of kLanes doubles) and the
// active-lane mask of every row.
struct Workspace {
    explicit Workspace(std::ptrdiff_t m) : yt(m * kLanes), active(m) {}
    std::vector<double> yt;
    std::vector<std::uint8_t> active;
};

// Result of one group: solutions and residuals of the lanes in `solved` (bit s = lane s).
struct GroupResult {
    double x[kMaxN][kLanes];
    double residual[kLanes];
    unsigned solved;
    bool valid;  // every output entry of the group is finite and >= 0
};

#if RELUINJ_X86
// sqrt, max and cvtps are written in their masked forms with an explicit zero source (all lanes
// selected): the unmasked intrinsics of GCC 12 start from _mm512_undefined_pd and draw false
// -Wuninitialized warnings.

// Entry y[offs[s]] of each sample s in `lanes` (0 in the other lanes), as doubles.
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE __m512d gather_row(const double *y, __mmask8 lanes, __m512i offs) {
    return _mm512_mask_i64gather_pd(_mm512_setzero_pd(), lanes, offs, y, 8);
}
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE __m512d gather_row(const float *y, __mmask8 lanes, __m512i offs) {
    return _mm512_mask_cvtps_pd(_mm512_setzero_pd(), 0xFF, _mm512_mask_i64gather_ps(_mm256_setzero_ps(), lanes, offs, y, 4));
}

// Rows i of the `count` outputs Y[s * m + i] (s < count; other lanes 0) in lane layout, their
// active masks (y > 0), and whether all entries are finite and non-negative. The `next_count`
// outputs at `next` (the next group) are prefetched along the way: an output of a small layer
// is only a few dozen cache lines long, too short for the hardware prefetcher to ramp up.
template <class T>
RELUINJ_TARGET_AVX512 inline bool load_group(const T *Y, std::ptrdiff_t m, int count, const T *next,
                                            int next_count, Workspace &ws) {
    constexpr std::ptrdiff_t per_line = 64 / sizeof(T);
    const __mmask8 lanes = __mmask8((1u << count) - 1u);
    const __m512i offs = _mm512_set_epi64(7 * m, 6 * m, 5 * m, 4 * m, 3 * m, 2 * m, m, 0);
    const __m512d zero = _mm512_setzero_pd(), inf = _mm512_set1_pd(std::numeric_limits<double>::infinity());
    __mmask8 bad = 0;
    double *yt = ws.yt.data();
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        if (i % per_line == 0)
            for (int s = 0; s < next_count; ++s) _mm_prefetch(reinterpret_cast<const char *>(next + s * m + i), _MM_HINT_T0);
        const __m512d v = gather_row(Y + i, lanes, offs);
        bad |= _mm512_mask_cmp_pd_mask(lanes, v, zero, _CMP_NGE_UQ) | _mm512_mask_cmp_pd_mask(lanes, v, inf, _CMP_EQ_OQ);
        ws.active[i] = _mm512_cmp_pd_mask(v, zero, _CMP_GT_OQ);
        _mm512_storeu_pd(yt + i * kLanes, v);
    }
    return bad == 0;
}

// out[v] = sum over rows i (in order) of P[i * np2 + q0 + v] in the lanes active at row i.
template <int V>
RELUINJ_TARGET_AVX512 void pair_pass(const double *P, std::ptrdiff_t np2, std::ptrdiff_t m,
                                    const std::uint8_t *active, std::ptrdiff_t q0, double *out) {
    __m512d acc[V];
#pragma GCC unroll 24
    for (int v = 0; v < V; ++v) acc[v] = _mm512_setzero_pd();
    const double *p = P + q0;
    for (std::ptrdiff_t i = 0; i < m; ++i, p += np2) {
        const __mmask8 k = active[i];
#pragma GCC unroll 24
        for (int v = 0; v < V; ++v) acc[v] = _mm512_mask_add_pd(acc[v], k, acc[v], _mm512_set1_pd(p[v]));
    }
#pragma GCC unroll 24
    for (int v = 0; v < V; ++v) _mm512_storeu_pd(out + (q0 + v) * kLanes, acc[v]);
}

using PairPassFn = void (*)(const double *, std::ptrdiff_t, std::ptrdiff_t, const std::uint8_t *,
                            std::ptrdiff_t, double *);

template <int... V>
PairPassFn pair_pass_for(int width, std::integer_sequence<int, V...>) {
    static constexpr PairPassFn table[] = {&pair_pass<V + 1>...};
    return table[width - 1];
}

// Packed index of entry (j, c), j <= c, of the row-major upper triangle of an n x n matrix.
constexpr std::ptrdiff_t upper_index(std::ptrdiff_t n, std::ptrdiff_t j, std::ptrdiff_t c) {
    return j * n - j * (j - 1) / 2 + (c - j);
}
template <int N>
constexpr std::ptrdiff_t upper(int j, int c) { return upper_index(N, j, c); }

// (R^T R) v = v in place for R (packed upper triangle, lanes) with inv = 1 / diag(R): forward
// substitution by rows of R, backward substitution by columns.
template <int N>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void lane_solve(const double *R, const __m512d *inv, __m512d *v) {
#pragma GCC unroll 16
    for (int k = 0; k < N; ++k) {
        v[k] = _mm512_mul_pd(v[k], inv[k]);
#pragma GCC unroll 16
        for (int j = k + 1; j < N; ++j)
            v[j] = _mm512_fnmadd_pd(_mm512_load_pd(R + upper<N>(k, j) * kLanes), v[k], v[j]);
    }
#pragma GCC unroll 16
    for (int k = N - 1; k >= 0; --k) {
        v[k] = _mm512_mul_pd(v[k], inv[k]);
#pragma GCC unroll 16
        for (int j = 0; j < k; ++j)
            v[j] = _mm512_fnmadd_pd(_mm512_load_pd(R + upper<N>(j, k) * kLanes), v[k], v[j]);
    }
}

// In-place Cholesky G = R^T R of the packed upper triangles G (n(n+1)/2 x kLanes) in `lanes`,
// with the operations of the per-sample cholesky_upper_impl in the same order (so the same
// factor): the pivot test d > tol G_kk, R_kk = sqrt(d), row k scaled by 1 / R_kk, then
// subtracted from the trailing rows. Blocked by four rows: a panel is factored with updates
// inside it, then every later row receives the panel's four updates in one pass (its entries
// are loaded and stored once per panel instead of once per row of the panel, and the four
// panel rows stay in L1). inv (n x kLanes) receives 1 / R_kk. Returns the lanes whose pivots
// all pass (the others hold meaningless values).
// `Size` is std::ptrdiff_t or a std::integral_constant (solve_group's compile-time n).
template <class Size>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE __mmask8 cholesky_lanes_impl(double *G, Size n, double tol, __mmask8 lanes,
                                                                     double *inv) {
    constexpr std::ptrdiff_t kPanel = 4;
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0), vtol = _mm512_set1_pd(tol);
    auto row = [&](std::ptrdiff_t k) { return G + upper_index(n, k, k) * kLanes; };  // (k, c) at + (c - k) kLanes
    __mmask8 ok = lanes;
    for (std::ptrdiff_t k = 0; k < n; ++k)
        _mm512_storeu_pd(inv + k * kLanes, _mm512_loadu_pd(row(k)));  // G_kk until step k
    for (std::ptrdiff_t k0 = 0; k0 < n; k0 += kPanel) {
        const std::ptrdiff_t k1 = std::min<std::ptrdiff_t>(n, k0 + kPanel);
        for (std::ptrdiff_t k = k0; k < k1; ++k) {
            double *rk = row(k);
            const __m512d d = _mm512_loadu_pd(rk), gkk = _mm512_loadu_pd(inv + k * kLanes);
            ok &= _mm512_cmp_pd_mask(gkk, zero, _CMP_GT_OQ) & _mm512_cmp_pd_mask(d, _mm512_mul_pd(vtol, gkk), _CMP_GT_OQ);
            const __m512d r = _mm512_mask_sqrt_pd(zero, 0xFF, d), ir = _mm512_div_pd(one, r);
            _mm512_storeu_pd(rk, r);
            _mm512_storeu_pd(inv + k * kLanes, ir);
            for (std::ptrdiff_t c = 1; c < n - k; ++c)
                _mm512_storeu_pd(rk + c * kLanes, _mm512_mul_pd(_mm512_loadu_pd(rk + c * kLanes), ir));
            for (std::ptrdiff_t p = k + 1; p < k1; ++p) {
                const __m512d f = _mm512_loadu_pd(rk + (p - k) * kLanes);
                double *rp = row(p);
                const double *rkp = rk + (p - k) * kLanes;
                for (std::ptrdiff_t c = 0; c < n - p; ++c)
                    _mm512_storeu_pd(rp + c * kLanes, _mm512_fnmadd_pd(f, _mm512_loadu_pd(rkp + c * kLanes),
                                                                      _mm512_loadu_pd(rp + c * kLanes)));
            }
        }
        if (k1 - k0 < kPanel) continue;  // the last rows: nothing below them
        const double *r0 = row(k0), *r1 = row(k0 + 1), *r2 = row(k0 + 2), *r3 = row(k0 + 3);
        for (std::ptrdiff_t p = k1; p < n; ++p) {
            // Row k of the panel restricted to columns >= p starts at row(k) + (p - k) kLanes.
            const double *a0 = r0 + (p - k0) * kLanes, *a1 = r1 + (p - k0 - 1) * kLanes;
            const double *a2 = r2 + (p - k0 - 2) * kLanes, *a3 = r3 + (p - k0 - 3) * kLanes;
            const __m512d f0 = _mm512_loadu_pd(a0), f1 = _mm512_loadu_pd(a1);
            const __m512d f2 = _mm512_loadu_pd(a2), f3 = _mm512_loadu_pd(a3);
            double *rp = row(p);
            for (std::ptrdiff_t c = 0; c < n - p; ++c) {
                const std::ptrdiff_t o = c * kLanes;
                __m512d v = _mm512_loadu_pd(rp + o);
                v = _mm512_fnmadd_pd(f0, _mm512_loadu_pd(a0 + o), v);
                v = _mm512_fnmadd_pd(f1, _mm512_loadu_pd(a1 + o), v);
                v = _mm512_fnmadd_pd(f2, _mm512_loadu_pd(a2 + o), v);
                v = _mm512_fnmadd_pd(f3, _mm512_loadu_pd(a3 + o), v);
                _mm512_storeu_pd(rp + o, v);
            }
        }
    }
    return ok;
}

// The group kernel for a compile-time n = N: the `count` outputs at Y (the next `next_count`
// outputs follow them and are prefetched); P is the pair table (m x np2, see pair_table).
template <int N, class T>
RELUINJ_TARGET_AVX512 void solve_group(const double *W, const double *P, std::ptrdiff_t np2,
                                      const double *alpha, const T *Y, std::ptrdiff_t m, int count,
                                      int next_count, double tol, Workspace &ws, GroupResult &out) {
    constexpr int Q = N * (N + 1) / 2;
    out.valid = load_group(Y, m, count, next_count ? Y + kLanes * m : Y, next_count, ws);
    const double *yt = ws.yt.data();
    const std::uint8_t *act = ws.active.data();

    // 2. Normal matrices (packed, lanes) in passes of at most kMaxPass table columns.
    alignas(64) double G[Q * kLanes];
    {
        const int passes = (Q + kMaxPass - 1) / kMaxPass, width = (Q + passes - 1) / passes;
        for (int q0 = 0; q0 < Q; q0 += width) {
            const int w = Q - q0 < width ? Q - q0 : width;
            pair_pass_for(w, std::make_integer_sequence<int, kMaxPass>{})(P, np2, m, act, q0, G);
        }
    }
    __m512d x[N], g[N];
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) x[j] = _mm512_setzero_pd();
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const __m512d b = _mm512_maskz_add_pd(act[i], _mm512_loadu_pd(yt + i * kLanes), _mm512_set1_pd(alpha[i]));
        const double *w = W + i * N;
#pragma GCC unroll 16
        for (int j = 0; j < N; ++j) x[j] = _mm512_fmadd_pd(b, _mm512_set1_pd(w[j]), x[j]);
    }

    // 3. Cholesky in the lanes (cholesky_lanes_impl), inverse pivots in inv.
    alignas(64) double inv_diag[N * kLanes];
    const __mmask8 ok = cholesky_lanes_impl(G, std::integral_constant<std::ptrdiff_t, N>{}, tol,
                                            __mmask8((1u << count) - 1u), inv_diag);
    __m512d inv[N];
#pragma GCC unroll 16
    for (int k = 0; k < N; ++k) inv[k] = _mm512_load_pd(inv_diag + k * kLanes);
    out.solved = ok;
    lane_solve<N>(G, inv, x);

    // 4. Refinement: g = sum_i a_i (b_i - <w_i, x>) w_i, x += G^{-1} g.
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) g[j] = _mm512_setzero_pd();
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const double *w = W + i * N;
        __m512d wx = _mm512_mul_pd(x[0], _mm512_set1_pd(w[0]));
#pragma GCC unroll 16
        for (int j = 1; j < N; ++j) wx = _mm512_fmadd_pd(x[j], _mm512_set1_pd(w[j]), wx);
        const __m512d b = _mm512_add_pd(_mm512_loadu_pd(yt + i * kLanes), _mm512_set1_pd(alpha[i]));
        const __m512d c = _mm512_maskz_sub_pd(act[i], b, wx);
#pragma GCC unroll 16
        for (int j = 0; j < N; ++j) g[j] = _mm512_fmadd_pd(c, _mm512_set1_pd(w[j]), g[j]);
    }
    lane_solve<N>(G, inv, g);
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) x[j] = _mm512_add_pd(x[j], g[j]);

    // 5. Output residual sum_i (max(<w_i, x> - alpha_i, 0) - y_i)^2, two interleaved sums.
    const __m512d zero = _mm512_setzero_pd();
    __m512d s0 = zero, s1 = zero;
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const double *w = W + i * N;
        __m512d wx = _mm512_mul_pd(x[0], _mm512_set1_pd(w[0]));
#pragma GCC unroll 16
        for (int j = 1; j < N; ++j) wx = _mm512_fmadd_pd(x[j], _mm512_set1_pd(w[j]), wx);
        const __m512d d = _mm512_sub_pd(_mm512_mask_max_pd(zero, 0xFF, _mm512_sub_pd(wx, _mm512_set1_pd(alpha[i])), zero),
                                        _mm512_loadu_pd(yt + i * kLanes));
        if (i & 1) s1 = _mm512_fmadd_pd(d, d, s1);
        else s0 = _mm512_fmadd_pd(d, d, s0);
    }
    _mm512_storeu_pd(out.residual, _mm512_mask_sqrt_pd(zero, 0xFF, _mm512_add_pd(s0, s1)));
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) _mm512_storeu_pd(out.x[j], x[j]);
}

// ---- Larger n (the dense path of reconstruct.hpp). The Gram matrices come from a per-sample
// SYRK there (compute-bound); everything else is done here for the group in lanes: the
// right-hand sides, refinement step and output residual (products with W that are
// memory-bound one sample at a time: in lanes every row of W is read once per group), and the
// Cholesky factorisation and solves on the packed upper triangles of the eight Gram matrices
// (latency-bound one sample at a time). x and g are n x kLanes (lane s = sample s); W is
// row-major m x n; ws holds the group's outputs (load_group).

RELUINJ_TARGET_AVX512 inline __mmask8 cholesky_lanes(double *G, std::ptrdiff_t n, double tol, __mmask8 lanes,
                                                   double *inv) {
    return cholesky_lanes_impl(G, n, tol, lanes, inv);
}

// (R^T R) v = v in place for the factors of cholesky_lanes: forward substitution by rows of R,
// backward substitution by columns.
RELUINJ_TARGET_AVX512 inline void cholesky_solve_lanes(const double *R, const double *inv, std::ptrdiff_t n,
                                                     double *v) {
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        const __m512d vk = _mm512_mul_pd(_mm512_loadu_pd(v + k * kLanes), _mm512_loadu_pd(inv + k * kLanes));
        _mm512_storeu_pd(v + k * kLanes, vk);
        const double *rk = R + upper_index(n, k, k) * kLanes;
        for (std::ptrdiff_t j = k + 1; j < n; ++j)
            _mm512_storeu_pd(v + j * kLanes, _mm512_fnmadd_pd(_mm512_loadu_pd(rk + (j - k) * kLanes), vk,
                                                              _mm512_loadu_pd(v + j * kLanes)));
    }
    for (std::ptrdiff_t k = n - 1; k >= 0; --k) {
        const __m512d vk = _mm512_mul_pd(_mm512_loadu_pd(v + k * kLanes), _mm512_loadu_pd(inv + k * kLanes));
        _mm512_storeu_pd(v + k * kLanes, vk);
        for (std::ptrdiff_t j = 0; j < k; ++j)
            _mm512_storeu_pd(v + j * kLanes, _mm512_fnmadd_pd(_mm512_loadu_pd(R + upper_index(n, j, k) * kLanes), vk,
                                                              _mm512_loadu_pd(v + j * kLanes)));
    }
}

// c[r] = W[i + r] x for r < R: one FMA chain over j per row and lane.
template <int R>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void rows_times_lanes(const double *W, std::ptrdiff_t n, std::ptrdiff_t i,
                                                                const double *x, __m512d *c) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) c[r] = _mm512_setzero_pd();
    const double *w = W + i * n;
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        const __m512d xj = _mm512_loadu_pd(x + j * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) c[r] = _mm512_fmadd_pd(_mm512_set1_pd(w[r * n + j]), xj, c[r]);
    }
}

// g += sum over rows i + r (r < R, in order) of a_i (b_i - <w_i, x>) w_i; without x (nullptr),
// of a_i b_i w_i.
template <int R>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void refinement_block(const double *W, const double *alpha, std::ptrdiff_t n,
                                                                std::ptrdiff_t i, const Workspace &ws,
                                                                const double *x, double *g) {
    __m512d c[R];
    if (x) rows_times_lanes<R>(W, n, i, x, c);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        const __m512d b = _mm512_add_pd(_mm512_loadu_pd(ws.yt.data() + (i + r) * kLanes), _mm512_set1_pd(alpha[i + r]));
        c[r] = x ? _mm512_maskz_sub_pd(ws.active[i + r], b, c[r]) : _mm512_maskz_mov_pd(ws.active[i + r], b);
    }
    const double *w = W + i * n;
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        __m512d acc = _mm512_loadu_pd(g + j * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc = _mm512_fmadd_pd(c[r], _mm512_set1_pd(w[r * n + j]), acc);
        _mm512_storeu_pd(g + j * kLanes, acc);
    }
}

// g = sum_i a_i (b_i - <w_i, x>) w_i (the refinement right-hand side; per entry one FMA chain
// over the rows in order), in blocks of 16 rows: W x of a block, then its rows added to g
// while they are in L1. With x = nullptr, g = sum_i a_i b_i w_i (the first right-hand side).
RELUINJ_TARGET_AVX512 inline void refinement_rhs_lanes(const double *W, const double *alpha, std::ptrdiff_t m,
                                                      std::ptrdiff_t n, const Workspace &ws, const double *x,
                                                      double *g) {
    std::fill(g, g + n * kLanes, 0.0);
    std::ptrdiff_t i = 0;
    for (; i + 16 <= m; i += 16) refinement_block<16>(W, alpha, n, i, ws, x, g);
    for (; i < m; ++i) refinement_block<1>(W, alpha, n, i, ws, x, g);
}

// s += (max(<w_i, x> - alpha_i, 0) - y_i)^2 over rows i + r (r < R, in order).
template <int R>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void residual_block(const double *W, const double *alpha, std::ptrdiff_t n,
                                                              std::ptrdiff_t i, const Workspace &ws,
                                                              const double *x, __m512d &s) {
    const __m512d zero = _mm512_setzero_pd();
    __m512d c[R];
    rows_times_lanes<R>(W, n, i, x, c);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        const __m512d z = _mm512_sub_pd(c[r], _mm512_set1_pd(alpha[i + r]));
        const __m512d d = _mm512_sub_pd(_mm512_mask_max_pd(zero, 0xFF, z, zero),
                                        _mm512_loadu_pd(ws.yt.data() + (i + r) * kLanes));
        s = _mm512_fmadd_pd(d, d, s);
    }
}

// residual[s] = ||ReLU(W x_s - alpha) - y_s||_2 for the lanes s (rows summed in order).
RELUINJ_TARGET_AVX512 inline void output_residual_lanes(const double *W, const double *alpha, std::ptrdiff_t m,
                                                       std::ptrdiff_t n, const Workspace &ws, const double *x,
                                                       double *residual) {
    __m512d s = _mm512_setzero_pd();
    std::ptrdiff_t i = 0;
    for (; i + 16 <= m; i += 16) residual_block<16>(W, alpha, n, i, ws, x, s);
    for (; i < m; ++i) residual_block<1>(W, alpha, n, i, ws, x, s);
    _mm512_storeu_pd(residual, _mm512_mask_sqrt_pd(_mm512_setzero_pd(), 0xFF, s));
}

template <class T>
using GroupFn = void (*)(const double *, const double *, std::ptrdiff_t, const double *, const T *,
                         std::ptrdiff_t, int, int, double, Workspace &, GroupResult &);

template <class T, int... N>
GroupFn<T> group_kernel_for(std::ptrdiff_t n, std::integer_sequence<int, N...>) {
    static constexpr GroupFn<T> table[] = {&solve_group<N + 1, T>...};
    return table[n - 1];
}

// The group kernel for n (nullptr when n > kMaxN).
template <class T>
GroupFn<T> group_kernel(std::ptrdiff_t n) {
    if (n < 1 || n > kMaxN) return nullptr;
    return group_kernel_for<T>(n, std::make_integer_sequence<int, kMaxN>{});
}

// Samples [b, e) with the group kernel of n <= kMaxN; lanes whose pivot test fails go to
// fallback(s). Returns whether every output was valid.
template <class T, class Fallback>
bool solve_groups(GroupFn<T> kernel, const double *W, const double *P, const double *alpha, const T *Y, T *X,
                  std::uint8_t *injective, double *residual, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t b,
                  std::ptrdiff_t e, double tol, Fallback &&fallback) {
    Workspace ws(m);
    GroupResult res;
    bool valid = true;
    for (std::ptrdiff_t s0 = b; s0 < e; s0 += kLanes) {
        const int count = int(std::min<std::ptrdiff_t>(kLanes, e - s0));
        const int next = int(std::max<std::ptrdiff_t>(0, std::min<std::ptrdiff_t>(kLanes, e - s0 - count)));
        kernel(W, P, packed_pairs(n), alpha, Y + s0 * m, m, count, next, tol, ws, res);
        valid &= res.valid;
        for (int l = 0; l < count; ++l) {
            const std::ptrdiff_t s = s0 + l;
            if (!(res.solved >> l & 1u)) {
                fallback(s);
                continue;
            }
            injective[s] = 1;
            residual[s] = res.residual[l];
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(res.x[j][l]);
        }
    }
    return valid;
}

// Samples [b, e) for n > kMaxN, eight at a time: gram(s, GL, lane) stores the Gram matrix of
// sample s in a lane of GL (false when it has fewer than n active rows); then for the eight
// together in lanes the Cholesky factors, the first right-hand sides W_I^T b and solves, the
// refinement step and the output residuals. Failed lanes go to fallback(s).
template <class T, class Gram, class Fallback>
bool solve_dense_groups(const double *W, const double *alpha, const T *Y, T *X, std::uint8_t *injective,
                        double *residual, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t b, std::ptrdiff_t e,
                        double tol, Gram &&gram, Fallback &&fallback) {
    constexpr int L = kLanes;
    Workspace ws(m);
    std::vector<double> GL(n * (n + 1) / 2 * L), inv(n * L), xl(n * L), gl(n * L), res(L);
    bool valid = true;
    for (std::ptrdiff_t s0 = b; s0 < e; s0 += L) {
        const int count = int(std::min<std::ptrdiff_t>(L, e - s0));
        const int next = int(std::max<std::ptrdiff_t>(0, std::min<std::ptrdiff_t>(L, e - s0 - count)));
        valid &= load_group(Y + s0 * m, m, count, Y + (s0 + count) * m, next, ws);
        unsigned stored = 0;
        for (int l = 0; l < count; ++l)
            if (gram(s0 + l, GL.data(), l)) stored |= 1u << l;
        const unsigned solved = stored ? cholesky_lanes(GL.data(), n, tol, __mmask8(stored), inv.data()) : 0u;
        for (int l = 0; l < count; ++l)
            if (!(solved >> l & 1u)) fallback(s0 + l);
        if (!solved) continue;
        refinement_rhs_lanes(W, alpha, m, n, ws, nullptr, xl.data());
        cholesky_solve_lanes(GL.data(), inv.data(), n, xl.data());
        refinement_rhs_lanes(W, alpha, m, n, ws, xl.data(), gl.data());
        cholesky_solve_lanes(GL.data(), inv.data(), n, gl.data());
        for (std::ptrdiff_t q = 0; q < n * L; ++q) xl[q] += gl[q];
        output_residual_lanes(W, alpha, m, n, ws, xl.data(), res.data());
        for (int l = 0; l < count; ++l) {
            if (!(solved >> l & 1u)) continue;
            const std::ptrdiff_t s = s0 + l;
            injective[s] = 1;
            residual[s] = res[l];
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(xl[j * L + l]);
        }
    }
    return valid;
}

#else

template <class T>
using GroupFn = void (*)(const double *, const double *, std::ptrdiff_t, const double *, const T *,
                         std::ptrdiff_t, int, int, double, Workspace &, GroupResult &);
template <class T>
GroupFn<T> group_kernel(std::ptrdiff_t) { return nullptr; }
template <class T, class Fallback>
bool solve_groups(GroupFn<T>, const double *, const double *, const double *, const T *, T *, std::uint8_t *,
                  double *, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, double, Fallback &&) {
    return true;
}
template <class T, class Gram, class Fallback>
bool solve_dense_groups(const double *, const double *, const T *, T *, std::uint8_t *, double *, std::ptrdiff_t,
                        std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, double, Gram &&, Fallback &&) {
    return true;
}

#endif

}  // namespace dual_lanes
}  // namespace reluinj
