// Batched reconstruction of the input of a ReLU layer y = ReLU(W x - alpha) from its output.
//
// For a sample y the active set is I = {i : y_i > 0}; its rows satisfy <x, w_i> = y_i + alpha_i.
// Every kernel below works on one sample at a time (OpenMP over chunks of samples, see
// sample_chunk), or on AVX-512 for dual_inverse on groups of eight samples in vector lanes
// whose lanes never mix (dual_lanes.hpp), so each result depends only on its sample and is
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
// weights once), Y and the outputs may be float or double.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "reluinj/dual_lanes.hpp"
#include "reluinj/linalg.hpp"
#include "reluinj/parallel.hpp"
#include "reluinj/simd_level.hpp"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && !defined(__clang__)
#define RELUINJ_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define RELUINJ_TARGET_CLONES
#endif

// Runtime ISA dispatch of the Gram (SYRK) blocks, as in mcb.hpp: functions compiled with
// target("avx512f,avx2,fma") / target("avx2,fma"), chosen by simd_level(), with the
// portable gram_update as baseline.
#if defined(__GNUC__) && defined(__x86_64__)
#define RELUINJ_RECON_X86 1
#include <immintrin.h>
#define RELUINJ_RECON_AVX2 __attribute__((target("avx2,fma")))
#define RELUINJ_RECON_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define RELUINJ_RECON_X86 0
#endif

namespace reluinj {

// The Cholesky path is accepted iff every pivot satisfies L_kk^2 > kCholPivotTol * G_kk, i.e.
// column k of W_I keeps a sine > 1e-4 to the span of the previous columns; otherwise the
// sample goes through the SVD fallback.
constexpr double kCholPivotTol = 1e-8;
constexpr int kJacobiMaxSweeps = 60;
constexpr std::ptrdiff_t kSampleChunk = 64;
// Bytes of packed rows per SYRK panel: two thirds of a 48 KiB L1 data cache, all of a 32 KiB one
// (16 KiB measured slower on the latter).
constexpr std::ptrdiff_t kSyrkPanelBytes = 32 << 10;

// Samples per chunk: at most kSampleChunk, and small enough that a small batch still gives
// every thread about four chunks (the results do not depend on it).
inline std::ptrdiff_t sample_chunk(std::ptrdiff_t B, int n_threads) {
    const std::ptrdiff_t c = B / (4 * std::ptrdiff_t(n_threads > 0 ? n_threads : 1));
    return std::max<std::ptrdiff_t>(1, std::min(kSampleChunk, c));
}

// G[j, k] (k >= j, row-major n x n) += sign * sum over the listed rows of w_j w_k.
// Rows are consumed eight (then four, then one) at a time so that every entry of G is loaded
// and stored once per block; the summation order depends only on the row list.
RELUINJ_TARGET_CLONES
inline void gram_update(const double *W, const std::int64_t *idx, std::ptrdiff_t cnt,
                        std::ptrdiff_t n, double sign, double *__restrict G) {
    std::ptrdiff_t t = 0;
    for (; t + 8 <= cnt; t += 8) {
        const double *__restrict a = W + idx[t] * n, *__restrict b = W + idx[t + 1] * n;
        const double *__restrict c = W + idx[t + 2] * n, *__restrict d = W + idx[t + 3] * n;
        const double *__restrict e = W + idx[t + 4] * n, *__restrict f = W + idx[t + 5] * n;
        const double *__restrict g_ = W + idx[t + 6] * n, *__restrict h = W + idx[t + 7] * n;
        for (std::ptrdiff_t j = 0; j < n; ++j) {
            const double aj = sign * a[j], bj = sign * b[j], cj = sign * c[j], dj = sign * d[j];
            const double ej = sign * e[j], fj = sign * f[j], gj = sign * g_[j], hj = sign * h[j];
            double *__restrict g = G + j * n;
            for (std::ptrdiff_t k = j; k < n; ++k)
                g[k] += ((aj * a[k] + bj * b[k]) + (cj * c[k] + dj * d[k])) +
                        ((ej * e[k] + fj * f[k]) + (gj * g_[k] + hj * h[k]));
        }
    }
    for (; t + 4 <= cnt; t += 4) {
        const double *__restrict a = W + idx[t] * n, *__restrict b = W + idx[t + 1] * n;
        const double *__restrict c = W + idx[t + 2] * n, *__restrict d = W + idx[t + 3] * n;
        for (std::ptrdiff_t j = 0; j < n; ++j) {
            const double aj = sign * a[j], bj = sign * b[j], cj = sign * c[j], dj = sign * d[j];
            double *__restrict g = G + j * n;
            for (std::ptrdiff_t k = j; k < n; ++k)
                g[k] += ((aj * a[k] + bj * b[k]) + (cj * c[k] + dj * d[k]));
        }
    }
    for (; t < cnt; ++t) {
        const double *a = W + idx[t] * n;
        for (std::ptrdiff_t j = 0; j < n; ++j) {
            const double aj = sign * a[j];
            double *__restrict g = G + j * n;
            for (std::ptrdiff_t k = j; k < n; ++k) g[k] += aj * a[k];
        }
    }
}

// ---- Gram of packed rows: G (np x np, row-major) = A^T A, A = k packed rows of stride np whose
// entries past n are zero. Only register blocks that touch the upper triangle (col >= row) are
// computed; every entry is sum_t a_tj a_tc accumulated in t order (one FMA chain per entry), so
// the result depends only on the rows and their order.
enum class GramIsa { generic, avx2, avx512 };

inline GramIsa detect_gram_isa() {
    switch (simd_level()) {
        case SimdLevel::avx512: return GramIsa::avx512;
        case SimdLevel::avx2: return GramIsa::avx2;
        default: return GramIsa::generic;
    }
}

// Padded row stride for the packed rows of each ISA (multiple of the register block width).
inline std::ptrdiff_t gram_stride(GramIsa isa, std::ptrdiff_t n) {
    const std::ptrdiff_t w = isa == GramIsa::avx512 ? 16 : 8;
    return (n + w - 1) / w * w;
}

#if RELUINJ_RECON_X86
// G[j0 + r][c0 + 8 v + l] (r < 8, v < V, l < 8) = sum_t A[t][j0 + r] A[t][c0 + 8 v + l]: an
// 8 x 8V register block. With `resume` the FMA chains continue from the values in G (a panel of
// rows after the previous ones: the same chains as one call on all rows).
template <int V>
RELUINJ_RECON_AVX512 inline void syrk_block_avx512(const double *A, std::ptrdiff_t k, std::ptrdiff_t np,
                                                   std::ptrdiff_t j0, std::ptrdiff_t c0, double *G, bool resume) {
    __m512d acc[8][V];
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v)
            acc[r][v] = resume ? _mm512_loadu_pd(G + (j0 + r) * np + c0 + 8 * v) : _mm512_setzero_pd();
    const double *a = A;
    for (std::ptrdiff_t t = 0; t < k; ++t, a += np) {
        __m512d u[V];
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) u[v] = _mm512_loadu_pd(a + c0 + 8 * v);
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
            const __m512d x = _mm512_set1_pd(a[j0 + r]);
#pragma GCC unroll 2
            for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_pd(x, u[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) _mm512_storeu_pd(G + (j0 + r) * np + c0 + 8 * v, acc[r][v]);
}

// The register blocks of the upper triangle: rows j0 (multiples of 8) and, from column j0 on,
// 8 x 16 blocks and an 8 x 8 block for the last 8 columns of a row block when they are left.
// Every entry is one FMA chain over the rows in order (independent of the blocking).
RELUINJ_RECON_AVX512 inline void syrk_packed_avx512(const double *A, std::ptrdiff_t k,
                                                    std::ptrdiff_t np, std::ptrdiff_t n, double *G,
                                                    bool resume) {
    for (std::ptrdiff_t j0 = 0; j0 < n; j0 += 8) {
        std::ptrdiff_t c0 = j0;
        for (; c0 + 16 <= np; c0 += 16) syrk_block_avx512<2>(A, k, np, j0, c0, G, resume);
        if (c0 < np) syrk_block_avx512<1>(A, k, np, j0, c0, G, resume);
    }
}

// 4 x 8 register block (8 ymm accumulators); `resume` as in syrk_packed_avx512.
RELUINJ_RECON_AVX2 inline void syrk_packed_avx2(const double *A, std::ptrdiff_t k, std::ptrdiff_t np,
                                                std::ptrdiff_t n, double *G, bool resume) {
    for (std::ptrdiff_t j0 = 0; j0 < n; j0 += 4) {
        for (std::ptrdiff_t c0 = j0 / 8 * 8; c0 < n; c0 += 8) {
            __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            if (resume) {
                const double *g = G + j0 * np + c0;
                a0 = _mm256_loadu_pd(g); b0 = _mm256_loadu_pd(g + 4); g += np;
                a1 = _mm256_loadu_pd(g); b1 = _mm256_loadu_pd(g + 4); g += np;
                a2 = _mm256_loadu_pd(g); b2 = _mm256_loadu_pd(g + 4); g += np;
                a3 = _mm256_loadu_pd(g); b3 = _mm256_loadu_pd(g + 4);
            }
            const double *r = A;
            for (std::ptrdiff_t t = 0; t < k; ++t, r += np) {
                const __m256d u = _mm256_loadu_pd(r + c0), v = _mm256_loadu_pd(r + c0 + 4);
                const double *s = r + j0;
                __m256d x;
                x = _mm256_broadcast_sd(s); a0 = _mm256_fmadd_pd(x, u, a0); b0 = _mm256_fmadd_pd(x, v, b0);
                x = _mm256_broadcast_sd(s + 1); a1 = _mm256_fmadd_pd(x, u, a1); b1 = _mm256_fmadd_pd(x, v, b1);
                x = _mm256_broadcast_sd(s + 2); a2 = _mm256_fmadd_pd(x, u, a2); b2 = _mm256_fmadd_pd(x, v, b2);
                x = _mm256_broadcast_sd(s + 3); a3 = _mm256_fmadd_pd(x, u, a3); b3 = _mm256_fmadd_pd(x, v, b3);
            }
            double *g = G + j0 * np + c0;
            _mm256_storeu_pd(g, a0); _mm256_storeu_pd(g + 4, b0); g += np;
            _mm256_storeu_pd(g, a1); _mm256_storeu_pd(g + 4, b1); g += np;
            _mm256_storeu_pd(g, a2); _mm256_storeu_pd(g + 4, b2); g += np;
            _mm256_storeu_pd(g, a3); _mm256_storeu_pd(g + 4, b3);
        }
    }
}
#endif

#if RELUINJ_RECON_X86
// ---- AVX-512 versions of the per-sample vector kernels of the dual solve. Each computes every
// output in a fixed order (FMA chains in index order, fixed pairwise reductions), so results
// depend only on the sample; they differ from the portable versions in the last bits only.

inline __mmask8 tail_mask(std::ptrdiff_t len) {
    return len >= 8 ? __mmask8(0xFF) : __mmask8((1u << len) - 1u);
}

// c = W x from Wt (n x m): 32 rows per pass in four accumulators (FMA over j in order).
RELUINJ_RECON_AVX512 inline void analysis_t_avx512(const double *Wt, const double *x, std::ptrdiff_t m,
                                                   std::ptrdiff_t n, double *__restrict c) {
    std::ptrdiff_t i = 0;
    for (; i + 32 <= m; i += 32) {
        __m512d c0 = _mm512_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
        const double *w = Wt + i;
        for (std::ptrdiff_t j = 0; j < n; ++j, w += m) {
            const __m512d xj = _mm512_set1_pd(x[j]);
            c0 = _mm512_fmadd_pd(xj, _mm512_loadu_pd(w), c0);
            c1 = _mm512_fmadd_pd(xj, _mm512_loadu_pd(w + 8), c1);
            c2 = _mm512_fmadd_pd(xj, _mm512_loadu_pd(w + 16), c2);
            c3 = _mm512_fmadd_pd(xj, _mm512_loadu_pd(w + 24), c3);
        }
        _mm512_storeu_pd(c + i, c0);
        _mm512_storeu_pd(c + i + 8, c1);
        _mm512_storeu_pd(c + i + 16, c2);
        _mm512_storeu_pd(c + i + 24, c3);
    }
    for (; i < m; i += 8) {
        const __mmask8 k = tail_mask(m - i);
        __m512d c0 = _mm512_setzero_pd();
        const double *w = Wt + i;
        for (std::ptrdiff_t j = 0; j < n; ++j, w += m)
            c0 = _mm512_fmadd_pd(_mm512_set1_pd(x[j]), _mm512_maskz_loadu_pd(k, w), c0);
        _mm512_mask_storeu_pd(c + i, k, c0);
    }
}

// out[j0 + r] = <Wt[j0 + r], v> for r < R: two accumulators per column (i mod 16 < 8 or not),
// 16 rows per step, then one masked 8-row tail; each column's sum is reduced in a fixed order.
template <int R>
RELUINJ_RECON_AVX512 inline void synthesis_cols_avx512(const double *Wt, const double *v, std::ptrdiff_t m,
                                                       std::ptrdiff_t j0, double *__restrict out) {
    __m512d a[R], b[R];
    for (int r = 0; r < R; ++r) a[r] = b[r] = _mm512_setzero_pd();
    const double *w = Wt + j0 * m;
    std::ptrdiff_t i = 0;
    for (; i + 16 <= m; i += 16) {
        const __m512d v0 = _mm512_loadu_pd(v + i), v1 = _mm512_loadu_pd(v + i + 8);
        for (int r = 0; r < R; ++r) {
            a[r] = _mm512_fmadd_pd(_mm512_loadu_pd(w + r * m + i), v0, a[r]);
            b[r] = _mm512_fmadd_pd(_mm512_loadu_pd(w + r * m + i + 8), v1, b[r]);
        }
    }
    for (; i < m; i += 8) {
        const __mmask8 k = tail_mask(m - i);
        const __m512d v0 = _mm512_maskz_loadu_pd(k, v + i);
        for (int r = 0; r < R; ++r) a[r] = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(k, w + r * m + i), v0, a[r]);
    }
    for (int r = 0; r < R; ++r) {
        alignas(64) double t[8];
        _mm512_store_pd(t, _mm512_add_pd(a[r], b[r]));
        out[j0 + r] = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
    }
}

// Eight outputs y[i:i+8] (masked by k) as doubles.
RELUINJ_RECON_AVX512 inline __m512d load_outputs_avx512(const double *y, __mmask8 k) {
    return _mm512_maskz_loadu_pd(k, y);
}
RELUINJ_RECON_AVX512 inline __m512d load_outputs_avx512(const float *y, __mmask8 k) {
    // Masked forms with explicit zero sources (see dual_lanes.hpp on GCC 12's warnings).
    const __m512 v = _mm512_maskz_loadu_ps(__mmask16(k), y);
    const __m256d low = _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v), 0);
    return _mm512_mask_cvtps_pd(_mm512_setzero_pd(), 0xFF, _mm256_castpd_ps(low));
}

// W x on 8 R rows at i (R vectors, lanes past `last` of the final one masked off): the FMA chain
// over j in order, as analysis_t_avx512.
template <int R>
RELUINJ_RECON_AVX512 inline void rows_times_x_avx512(const double *Wt, const double *x, std::ptrdiff_t m,
                                                     std::ptrdiff_t n, std::ptrdiff_t i, __mmask8 last,
                                                     __m512d *c) {
    for (int r = 0; r < R; ++r) c[r] = _mm512_setzero_pd();
    const double *w = Wt + i;
    for (std::ptrdiff_t j = 0; j < n; ++j, w += m) {
        const __m512d xj = _mm512_set1_pd(x[j]);
        for (int r = 0; r < R; ++r)
            c[r] = _mm512_fmadd_pd(xj, _mm512_maskz_loadu_pd(r == R - 1 ? last : __mmask8(0xFF), w + 8 * r), c[r]);
    }
}

inline double reduce_lanes_avx512(const double *t) {
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

// ||ReLU(W x - alpha) - y||_2 in one pass over Wt (as output_residual, eight-lane sums).
template <class T>
RELUINJ_RECON_AVX512 inline double output_residual_avx512(const double *Wt, const double *x, const double *alpha,
                                                          const T *y, std::ptrdiff_t m, std::ptrdiff_t n) {
    const __m512d zero = _mm512_setzero_pd();
    __m512d s[4] = {zero, zero, zero, zero};
    std::ptrdiff_t i = 0;
    for (; i + 32 <= m; i += 32) {
        __m512d c[4];
        rows_times_x_avx512<4>(Wt, x, m, n, i, 0xFF, c);
        for (int r = 0; r < 4; ++r) {
            const __m512d z = _mm512_sub_pd(c[r], _mm512_loadu_pd(alpha + i + 8 * r));
            const __m512d d = _mm512_sub_pd(_mm512_mask_max_pd(zero, 0xFF, z, zero),
                                            load_outputs_avx512(y + i + 8 * r, 0xFF));
            s[r] = _mm512_fmadd_pd(d, d, s[r]);
        }
    }
    for (; i < m; i += 8) {
        const __mmask8 k = tail_mask(m - i);
        __m512d c;
        rows_times_x_avx512<1>(Wt, x, m, n, i, k, &c);
        const __m512d z = _mm512_sub_pd(c, _mm512_maskz_loadu_pd(k, alpha + i));
        const __m512d d = _mm512_sub_pd(_mm512_mask_max_pd(zero, k, z, zero), load_outputs_avx512(y + i, k));
        s[0] = _mm512_fmadd_pd(d, d, s[0]);
    }
    alignas(64) double t[8];
    _mm512_store_pd(t, _mm512_add_pd(_mm512_add_pd(s[0], s[1]), _mm512_add_pd(s[2], s[3])));
    return std::sqrt(reduce_lanes_avx512(t));
}

// out = W^T v from Wt (n x m), four columns at a time.
RELUINJ_RECON_AVX512 inline void synthesis_t_avx512(const double *Wt, const double *v, std::ptrdiff_t m,
                                                    std::ptrdiff_t n, double *__restrict out) {
    std::ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) synthesis_cols_avx512<4>(Wt, v, m, j, out);
    for (; j < n; ++j) synthesis_cols_avx512<1>(Wt, v, m, j, out);
}

// out[q0 + q] += sum over the listed rows of P[idx[t], q0 + q] for q < 8 V: even and odd t
// summed in separate register accumulators, added at the end.
template <int V>
RELUINJ_RECON_AVX512 inline void pair_sum_block_avx512(const double *P, std::ptrdiff_t np2,
                                                       const std::int64_t *idx, std::ptrdiff_t cnt,
                                                       std::ptrdiff_t q0, double *__restrict out) {
    __m512d e[V], o[V];
    for (int q = 0; q < V; ++q) e[q] = o[q] = _mm512_setzero_pd();
    std::ptrdiff_t t = 0;
    for (; t + 2 <= cnt; t += 2) {
        const double *a = P + idx[t] * np2 + q0, *b = P + idx[t + 1] * np2 + q0;
        for (int q = 0; q < V; ++q) {
            e[q] = _mm512_add_pd(e[q], _mm512_loadu_pd(a + 8 * q));
            o[q] = _mm512_add_pd(o[q], _mm512_loadu_pd(b + 8 * q));
        }
    }
    if (t < cnt) {
        const double *a = P + idx[t] * np2 + q0;
        for (int q = 0; q < V; ++q) e[q] = _mm512_add_pd(e[q], _mm512_loadu_pd(a + 8 * q));
    }
    for (int q = 0; q < V; ++q)
        _mm512_storeu_pd(out + q0 + 8 * q, _mm512_add_pd(_mm512_loadu_pd(out + q0 + 8 * q),
                                                         _mm512_add_pd(e[q], o[q])));
}

// pair_sum (below) in blocks of 32 table entries, then one block of the 8, 16 or 24 left.
RELUINJ_RECON_AVX512 inline void pair_sum_avx512(const double *P, std::ptrdiff_t np2, const std::int64_t *idx,
                                                 std::ptrdiff_t cnt, double *__restrict out) {
    std::ptrdiff_t q0 = 0;
    for (; q0 + 32 <= np2; q0 += 32) pair_sum_block_avx512<4>(P, np2, idx, cnt, q0, out);
    switch ((np2 - q0) / 8) {
        case 3: pair_sum_block_avx512<3>(P, np2, idx, cnt, q0, out); break;
        case 2: pair_sum_block_avx512<2>(P, np2, idx, cnt, q0, out); break;
        case 1: pair_sum_block_avx512<1>(P, np2, idx, cnt, q0, out); break;
        default: break;
    }
}

// Partition of the rows by y_i > 0, eight at a time: targets bm = y + alpha on active rows
// (0 elsewhere), indicator on, and the active / inactive row lists and the active targets b
// (compressed in row order). act, inact and b need 8 entries of slack past m.
template <class T>
RELUINJ_RECON_AVX512 inline void partition_active_avx512(const T *y, const double *alpha, std::ptrdiff_t m,
                                                         double *bm, double *on, double *b, std::int64_t *act,
                                                         std::int64_t *inact, std::ptrdiff_t &n_act,
                                                         std::ptrdiff_t &n_inact) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512i step = _mm512_set1_epi64(8);
    __m512i rows = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    std::ptrdiff_t na = 0, ni = 0;
    for (std::ptrdiff_t i = 0; i < m; i += 8, rows = _mm512_add_epi64(rows, step)) {
        const __mmask8 valid = tail_mask(m - i);
        const __m512d yv = load_outputs_avx512(y + i, valid);
        const __mmask8 k = _mm512_mask_cmp_pd_mask(valid, yv, zero, _CMP_GT_OQ);
        const __mmask8 off = valid & __mmask8(~k);
        const __m512d bv = _mm512_add_pd(yv, _mm512_maskz_loadu_pd(valid, alpha + i));
        _mm512_mask_storeu_pd(bm + i, valid, _mm512_maskz_mov_pd(k, bv));
        _mm512_mask_storeu_pd(on + i, valid, _mm512_maskz_mov_pd(k, one));
        // Register-form compress plus a full store (the memory form is slow on some cores).
        _mm512_storeu_pd(b + na, _mm512_maskz_compress_pd(k, bv));
        _mm512_storeu_si512(act + na, _mm512_maskz_compress_epi64(k, rows));
        _mm512_storeu_si512(inact + ni, _mm512_maskz_compress_epi64(off, rows));
        na += __builtin_popcount(unsigned(k));
        ni += __builtin_popcount(unsigned(off));
    }
    n_act = na;
    n_inact = ni;
}
#endif

// ---- Small n: table P (m x np2) of the packed upper-triangle outer products w_j w_c (j <= c,
// row-major pair order, zero padded to np2); the packed Gram of a row list is a plain sum of
// table rows (four at a time, in list order).
inline std::ptrdiff_t packed_pairs(std::ptrdiff_t n) { return (n * (n + 1) / 2 + 7) / 8 * 8; }

// Use the table when it is small enough to stay in cache.
inline bool use_pair_table(std::ptrdiff_t m, std::ptrdiff_t n) {
    return n <= 24 && m * packed_pairs(n) * std::ptrdiff_t(sizeof(double)) <= (std::ptrdiff_t(4) << 20);
}

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

// out[q] += sum over the listed rows of P[idx[t], q].
RELUINJ_TARGET_CLONES
inline void pair_sum(const double *P, std::ptrdiff_t np2, const std::int64_t *idx, std::ptrdiff_t cnt,
                     double *__restrict out) {
    std::ptrdiff_t t = 0;
    for (; t + 4 <= cnt; t += 4) {
        const double *__restrict a = P + idx[t] * np2, *__restrict b = P + idx[t + 1] * np2;
        const double *__restrict c = P + idx[t + 2] * np2, *__restrict d = P + idx[t + 3] * np2;
        for (std::ptrdiff_t q = 0; q < np2; ++q) out[q] += (a[q] + b[q]) + (c[q] + d[q]);
    }
    for (; t < cnt; ++t) {
        const double *__restrict a = P + idx[t] * np2;
        for (std::ptrdiff_t q = 0; q < np2; ++q) out[q] += a[q];
    }
}

// c = W x for all m rows, from the transposed weights Wt (n x m): vectorised passes over the
// rows, four coordinates per pass (c_i = ((x0 w0i + x1 w1i) + (x2 w2i + x3 w3i)) + ... in j order).
RELUINJ_TARGET_CLONES
inline void analysis_t(const double *Wt, const double *x, std::ptrdiff_t m, std::ptrdiff_t n,
                       double *__restrict c) {
    std::fill(c, c + m, 0.0);
    std::ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const double x0 = x[j], x1 = x[j + 1], x2 = x[j + 2], x3 = x[j + 3];
        const double *__restrict w0 = Wt + j * m, *__restrict w1 = w0 + m, *__restrict w2 = w1 + m,
                                 *__restrict w3 = w2 + m;
        for (std::ptrdiff_t i = 0; i < m; ++i) c[i] += (x0 * w0[i] + x1 * w1[i]) + (x2 * w2[i] + x3 * w3[i]);
    }
    for (; j < n; ++j) {
        const double xj = x[j];
        const double *__restrict w = Wt + j * m;
        for (std::ptrdiff_t i = 0; i < m; ++i) c[i] += xj * w[i];
    }
}

// out_j = sum_i Wt[j, i] v_i (= W^T v) for all m rows: n vectorised dot products of length m.
RELUINJ_TARGET_CLONES
inline void synthesis_t(const double *Wt, const double *v, std::ptrdiff_t m, std::ptrdiff_t n,
                        double *__restrict out) {
    // Eight interleaved partial sums per dot (i mod 8), combined pairwise: a fixed order.
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        const double *__restrict w = Wt + j * m;
        double a[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        std::ptrdiff_t i = 0;
        for (; i + 8 <= m; i += 8)
            for (int l = 0; l < 8; ++l) a[l] += w[i + l] * v[i + l];
        for (int l = 0; i < m; ++i, ++l) a[l] += w[i] * v[i];
        out[j] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    }
}

// out = sum_t coef[t] * W[idx[t]] (length n), four rows per pass.
RELUINJ_TARGET_CLONES
inline void synth_rows(const double *W, const std::int64_t *idx, const double *coef,
                       std::ptrdiff_t cnt, std::ptrdiff_t n, double *__restrict out) {
    std::fill(out, out + n, 0.0);
    std::ptrdiff_t t = 0;
    for (; t + 4 <= cnt; t += 4) {
        const double *__restrict a = W + idx[t] * n, *__restrict b = W + idx[t + 1] * n;
        const double *__restrict c = W + idx[t + 2] * n, *__restrict d = W + idx[t + 3] * n;
        const double ca = coef[t], cb = coef[t + 1], cc = coef[t + 2], cd = coef[t + 3];
        for (std::ptrdiff_t j = 0; j < n; ++j) out[j] += (ca * a[j] + cb * b[j]) + (cc * c[j] + cd * d[j]);
    }
    for (; t < cnt; ++t) {
        const double *__restrict w = W + idx[t] * n;
        const double ct = coef[t];
        for (std::ptrdiff_t j = 0; j < n; ++j) out[j] += ct * w[j];
    }
}

// Step k of the factorisation: the pivot test on d = G_kk after the previous steps against
// the original G_kk (kept in inv_diag[k]), then R_kk = sqrt(d), inv_diag[k] = 1 / R_kk and row
// k of R scaled by it. Returns false when the test fails.
template <class Size>
__attribute__((always_inline)) inline bool cholesky_pivot(double *__restrict rk, std::ptrdiff_t k, Size n,
                                                          double tol, double *__restrict inv_diag) {
    const double gkk = inv_diag[k], d = rk[k];
    if (!(gkk > 0.0) || !(d > tol * gkk)) return false;
    const double r = std::sqrt(d);
    rk[k] = r;
    const double inv = 1.0 / r;
    inv_diag[k] = inv;
    for (std::ptrdiff_t j = k + 1; j < n; ++j) rk[j] *= inv;
    return true;
}

// In-place Cholesky G = L L^T of the upper triangle of G (L^T stored in the upper triangle).
// Returns false when a pivot fails the relative test L_kk^2 > tol * G_kk. Row-oriented
// (right-looking): once row k of R is final it is subtracted from the trailing rows, so all
// inner loops run over contiguous row segments. On success inv_diag[k] = 1 / R_kk (the
// substitutions multiply by it instead of dividing). `Size` is std::ptrdiff_t or a
// std::integral_constant (compile-time sizes, see cholesky_kernels).
template <class Size>
__attribute__((always_inline)) inline bool cholesky_upper_impl(double *G, Size n, double tol,
                                                               double *__restrict inv_diag) {
    for (std::ptrdiff_t k = 0; k < n; ++k) inv_diag[k] = G[k * n + k];  // G_kk until step k
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        double *__restrict rk = G + k * n;
        if (!cholesky_pivot(rk, k, n, tol, inv_diag)) return false;
        for (std::ptrdiff_t p = k + 1; p < n; ++p) {
            const double f = rk[p];
            double *__restrict rp = G + p * n;
            for (std::ptrdiff_t j = p; j < n; ++j) rp[j] -= f * rk[j];
        }
    }
    return true;
}

// Solve (R^T R) z = v in place, R upper triangular and inv_diag = 1 / diag(R) as left by
// cholesky_upper_impl (both substitutions walk the rows of R).
template <class Size>
__attribute__((always_inline)) inline void cholesky_solve_impl(const double *R, const double *inv_diag,
                                                               Size n, double *__restrict v) {
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        const double *__restrict rk = R + k * n;
        const double vk = v[k] * inv_diag[k];
        v[k] = vk;
        for (std::ptrdiff_t j = k + 1; j < n; ++j) v[j] -= rk[j] * vk;
    }
    for (std::ptrdiff_t k = n - 1; k >= 0; --k) {
        const double *__restrict rk = R + k * n;
        double s = 0.0;
        for (std::ptrdiff_t j = k + 1; j < n; ++j) s += rk[j] * v[j];
        v[k] = (v[k] - s) * inv_diag[k];
    }
}

RELUINJ_TARGET_CLONES
inline bool cholesky_upper(double *G, std::ptrdiff_t n, double tol, double *__restrict inv_diag) {
    return cholesky_upper_impl(G, n, tol, inv_diag);
}

RELUINJ_TARGET_CLONES
inline void cholesky_solve(const double *R, const double *inv_diag, std::ptrdiff_t n, double *__restrict v) {
    cholesky_solve_impl(R, inv_diag, n, v);
}

// The factorisation and the solve for one n: instantiations with a compile-time n <= 16 (on
// AVX2/FMA CPUs), the generic loops otherwise.
struct CholeskyKernels {
    bool (*factor)(double *, std::ptrdiff_t, double, double *);
    void (*solve)(const double *, const double *, std::ptrdiff_t, double *);
};

#if RELUINJ_RECON_X86
constexpr std::ptrdiff_t kCholUnrolledMax = 16;

template <std::ptrdiff_t N>
RELUINJ_RECON_AVX2 bool cholesky_upper_fixed(double *G, std::ptrdiff_t, double tol, double *inv_diag) {
    return cholesky_upper_impl(G, std::integral_constant<std::ptrdiff_t, N>{}, tol, inv_diag);
}

template <std::ptrdiff_t N>
RELUINJ_RECON_AVX2 void cholesky_solve_fixed(const double *R, const double *inv_diag, std::ptrdiff_t, double *v) {
    cholesky_solve_impl(R, inv_diag, std::integral_constant<std::ptrdiff_t, N>{}, v);
}

template <std::ptrdiff_t... N>
CholeskyKernels unrolled_cholesky(std::ptrdiff_t n, std::integer_sequence<std::ptrdiff_t, N...>) {
    static constexpr CholeskyKernels table[] = {{&cholesky_upper_fixed<N + 1>, &cholesky_solve_fixed<N + 1>}...};
    return table[n - 1];
}
#endif

#if RELUINJ_RECON_X86
// Rows p0 + r (r < 8, those < n) of the trailing matrix minus the rank-8 update of the factor
// rows k0..k0+7, for columns from p0 on: G[p][j] -= sum_k R[k][p] R[k][j], one FNMADD per k in
// increasing order (the order of the unblocked update), in 8 x 16 register blocks. Entries left
// of the diagonal are updated too (never read); columns past n are masked off.
RELUINJ_RECON_AVX512 inline void cholesky_trailing_avx512(double *G, std::ptrdiff_t n, std::ptrdiff_t k0,
                                                          std::ptrdiff_t p0) {
    const std::ptrdiff_t pr = std::min<std::ptrdiff_t>(8, n - p0);
    for (std::ptrdiff_t c0 = p0; c0 < n; c0 += 16) {
        const __mmask8 m0 = tail_mask(n - c0), m1 = n - c0 > 8 ? tail_mask(n - c0 - 8) : __mmask8(0);
        __m512d a[8], b[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
            const double *g = G + (p0 + r) * n + c0;
            a[r] = r < pr ? _mm512_maskz_loadu_pd(m0, g) : _mm512_setzero_pd();
            b[r] = r < pr ? _mm512_maskz_loadu_pd(m1, g + 8) : _mm512_setzero_pd();
        }
        for (std::ptrdiff_t k = k0; k < k0 + 8; ++k) {
            // Row k of R; p0 + r < n(k + 1) keeps the broadcasts inside G for r >= pr.
            const double *rk = G + k * n;
            const __m512d u = _mm512_maskz_loadu_pd(m0, rk + c0), v = _mm512_maskz_loadu_pd(m1, rk + c0 + 8);
#pragma GCC unroll 8
            for (int r = 0; r < 8; ++r) {
                const __m512d f = _mm512_set1_pd(rk[p0 + r]);
                a[r] = _mm512_fnmadd_pd(f, u, a[r]);
                b[r] = _mm512_fnmadd_pd(f, v, b[r]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
            if (r >= pr) break;
            double *g = G + (p0 + r) * n + c0;
            _mm512_mask_storeu_pd(g, m0, a[r]);
            _mm512_mask_storeu_pd(g + 8, m1, b[r]);
        }
    }
}

// cholesky_upper_impl for larger n with AVX-512, blocked by 8 rows: each panel of 8 rows is
// factored with row updates inside the panel, then the rows below it get the panel's rank-8
// update (cholesky_trailing_avx512). Every entry receives the same updates in the same order
// as in the unblocked factorisation. Row p of an update starts at the 8-aligned column below p,
// so a few entries left of the diagonal (never read: R is the upper triangle) are updated too
// and every vector but the last is whole.
RELUINJ_RECON_AVX512 inline bool cholesky_upper_avx512(double *G, std::ptrdiff_t n, double tol,
                                                       double *__restrict inv_diag) {
    for (std::ptrdiff_t k = 0; k < n; ++k) inv_diag[k] = G[k * n + k];
    for (std::ptrdiff_t k0 = 0; k0 < n; k0 += 8) {
        const std::ptrdiff_t k1 = std::min(n, k0 + 8);
        for (std::ptrdiff_t k = k0; k < k1; ++k) {
            double *rk = G + k * n;
            if (!cholesky_pivot(rk, k, n, tol, inv_diag)) return false;
            for (std::ptrdiff_t p = k + 1; p < k1; ++p) {
                const __m512d f = _mm512_set1_pd(rk[p]);
                double *rp = G + p * n;
                for (std::ptrdiff_t j = p / 8 * 8; j < n; j += 8) {
                    const __mmask8 m = tail_mask(n - j);
                    _mm512_mask_storeu_pd(rp + j, m, _mm512_fnmadd_pd(f, _mm512_maskz_loadu_pd(m, rk + j),
                                                                      _mm512_maskz_loadu_pd(m, rp + j)));
                }
            }
        }
        if (k1 - k0 == 8)
            for (std::ptrdiff_t p0 = k1; p0 < n; p0 += 8) cholesky_trailing_avx512(G, n, k0, p0);
    }
    return true;
}

// cholesky_solve_impl with AVX-512 rows: the forward substitution updates v[k+1:] by whole
// (masked) vectors, the backward one takes each dot product of a row of R with v[k+1:] in
// eight lanes, reduced in a fixed order.
RELUINJ_RECON_AVX512 inline void cholesky_solve_avx512(const double *R, const double *inv_diag, std::ptrdiff_t n,
                                                       double *__restrict v) {
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        const double *rk = R + k * n;
        const double vk = v[k] * inv_diag[k];
        v[k] = vk;
        const __m512d f = _mm512_set1_pd(vk);
        const std::ptrdiff_t j0 = (k + 1) / 8 * 8;
        for (std::ptrdiff_t j = j0; j < n; j += 8) {
            __mmask8 m = tail_mask(n - j);
            if (j == j0) m &= __mmask8(0xFFu << (k + 1 - j0));
            _mm512_mask_storeu_pd(v + j, m, _mm512_fnmadd_pd(_mm512_maskz_loadu_pd(m, rk + j), f,
                                                             _mm512_maskz_loadu_pd(m, v + j)));
        }
    }
    for (std::ptrdiff_t k = n - 1; k >= 0; --k) {
        const double *rk = R + k * n;
        const std::ptrdiff_t j0 = (k + 1) / 8 * 8;
        __m512d acc = _mm512_setzero_pd();
        for (std::ptrdiff_t j = j0; j < n; j += 8) {
            __mmask8 m = tail_mask(n - j);
            if (j == j0) m &= __mmask8(0xFFu << (k + 1 - j0));
            acc = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, rk + j), _mm512_maskz_loadu_pd(m, v + j), acc);
        }
        alignas(64) double t[8];
        _mm512_store_pd(t, acc);
        const double s = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
        v[k] = (v[k] - s) * inv_diag[k];
    }
}
#endif

inline CholeskyKernels cholesky_kernels(std::ptrdiff_t n, GramIsa isa) {
#if RELUINJ_RECON_X86
    if (isa != GramIsa::generic && n >= 1 && n <= kCholUnrolledMax)
        return unrolled_cholesky(n, std::make_integer_sequence<std::ptrdiff_t, kCholUnrolledMax>{});
    if (isa == GramIsa::avx512) return {&cholesky_upper_avx512, &cholesky_solve_avx512};
#else
    (void)isa;
#endif
    return {&cholesky_upper, &cholesky_solve};
}

// One-sided (Hestenes) Jacobi SVD of a matrix given by its n columns a_j of length k, stored
// as the rows of At (n x k). On return the rows of At are the columns of A V (= u_j sigma_j)
// and the rows of Vt are the right singular vectors v_j.
inline void jacobi_svd(double *At, double *Vt, std::ptrdiff_t n, std::ptrdiff_t k) {
    std::fill(Vt, Vt + n * n, 0.0);
    for (std::ptrdiff_t j = 0; j < n; ++j) Vt[j * n + j] = 1.0;
    const double eps = std::numeric_limits<double>::epsilon();
    for (int sweep = 0; sweep < kJacobiMaxSweeps; ++sweep) {
        bool rotated = false;
        for (std::ptrdiff_t p = 0; p + 1 < n; ++p) {
            for (std::ptrdiff_t q = p + 1; q < n; ++q) {
                double *ap = At + p * k, *aq = At + q * k;
                const double alpha = dot(ap, ap, k), beta = dot(aq, aq, k), gamma = dot(ap, aq, k);
                if (!(std::fabs(gamma) > eps * std::sqrt(alpha * beta))) continue;
                rotated = true;
                const double zeta = (beta - alpha) / (2.0 * gamma);
                const double t = std::copysign(1.0, zeta) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
                const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
                for (std::ptrdiff_t i = 0; i < k; ++i) {
                    const double x = ap[i], y = aq[i];
                    ap[i] = c * x - s * y;
                    aq[i] = s * x + c * y;
                }
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

// Householder reduction of the symmetric n x n matrix A (full storage, destroyed) to
// tridiagonal form: diagonal d (n), off-diagonal e (n - 1, e[k] couples k and k + 1).
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
        const double vnorm2 = dot(x, x, len);
        const double tau = 2.0 / vnorm2;
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

// Number of eigenvalues < lambda of the symmetric tridiagonal (d, e) (Sturm count).
inline std::ptrdiff_t sturm_count(const double *d, const double *e, std::ptrdiff_t n, double lambda) {
    std::ptrdiff_t count = 0;
    double q = 1.0;
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const double off = i > 0 ? e[i - 1] * e[i - 1] : 0.0;
        q = d[i] - lambda - (i > 0 ? off / q : 0.0);
        if (q == 0.0) q = -std::numeric_limits<double>::min();
        if (q < 0.0) ++count;
    }
    return count;
}

// The k-th smallest eigenvalue (k = 0 .. n-1) of a symmetric tridiagonal matrix by bisection
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
        if (sturm_count(d, e, n, mid) > k) hi = mid;
        else lo = mid;
    }
    return 0.5 * (lo + hi);
}

// Per-thread scratch and the dense solvers shared by the reconstruction kernels.
class ActiveSolver {
public:
    // W (m x n) and its transpose Wt (n x m); S = W^T W (full n x n) or nullptr.
    ActiveSolver(const double *W, const double *Wt, const double *S, std::ptrdiff_t m,
                 std::ptrdiff_t n, double rank_tol)
        : W_(W), Wt_(Wt), S_(S), m_(m), n_(n), basis_(n, rank_tol), G_(n * n), g_(n),
          Vt_(n * n), sv_(n), order_(n), b_(m + 8), act_(m + 8), inact_(m + 8), c_(m), wx_(m), bm_(m), on_(m),
          isa_(detect_gram_isa()), np_(gram_stride(isa_, n)),
          chol_(cholesky_kernels(n, isa_)) {}

    // Small n: build Gram matrices from the pair table P (m x packed_pairs(n), see pair_table)
    // and, for the complement, Sp = pair_sum of all rows of P. Both must outlive the solver.
    void set_pair_table(const double *P, const double *Sp) {
        P_ = P;
        Sp_ = Sp;
        Gp_.assign(packed_pairs(n_), 0.0);
    }

    // Active set {i : y_i > 0} of a sample and the targets b_t = y_i + alpha_i.
    template <class T>
    void set_active(const T *y, const double *alpha) {
        dense_ = true;
#if RELUINJ_RECON_X86
        if (isa_ == GramIsa::avx512) {
            partition_active_avx512(y, alpha, m_, bm_.data(), on_.data(), b_.data(), act_.data(),
                                    inact_.data(), n_act_, n_inact_);
            return;
        }
#endif
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

    // S = W^T W (upper triangle of the row-major n x n S, the frame operator), with the Gram
    // kernels of build_gram. Only for a solver constructed without S.
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
        // One step of iterative refinement with the residual of the active equations. After
        // set_active the right-hand sides are dense products with W^T of vectors that vanish on
        // the inactive rows (no gathers); otherwise sums over the rows.
        if (n_act_ < n) return solve_svd(x);
        build_gram();
        if (!chol_.factor(G_.data(), n, kCholPivotTol, sv_.data())) return solve_svd(x);
        if (dense_) {
            synthesis(bm_.data(), x);
            chol_.solve(G_.data(), sv_.data(), n, x);
            refinement_rhs(x);
        } else {
            synth_rows(W_, act_.data(), b_.data(), n_act_, n, x);
            chol_.solve(G_.data(), sv_.data(), n, x);
            analysis(x, wx_.data());
            for (std::ptrdiff_t t = 0; t < n_act_; ++t) c_[t] = b_[t] - wx_[act_[t]];
            synth_rows(W_, act_.data(), c_.data(), n_act_, n, g_.data());
        }
        chol_.solve(G_.data(), sv_.data(), n, g_.data());
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
        const std::ptrdiff_t n = n_;
        const std::ptrdiff_t r = rank();
        svd_rows();
        std::fill(x, x + n, 0.0);
        const std::ptrdiff_t k = n_act_;
        for (std::ptrdiff_t q = 0; q < r; ++q) {
            const std::ptrdiff_t j = order_[q];
            if (!(sv_[j] > 0.0)) break;
            const double coef = dot(At_.data() + j * k, b_.data(), k) / (sv_[j] * sv_[j]);
            const double *v = Vt_.data() + j * n;
            for (std::ptrdiff_t i = 0; i < n; ++i) x[i] += coef * v[i];
        }
        return r;
    }

    // Smallest and largest eigenvalue of G_I = W_I^T W_I: Householder tridiagonalisation of
    // G_I and bisection (lo = 0 when fewer than n rows are active).
    void gram_extremes(double &lo, double &hi) {
        const std::ptrdiff_t n = n_;
        if (n_act_ == 0) {
            lo = hi = 0.0;
            return;
        }
        build_gram();
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t k = j + 1; k < n; ++k) G_[k * n + j] = G_[j * n + k];
        double *d = sv_.data(), *e = g_.data(), *v = svd_scratch(), *w = v + n;
        tridiagonalize(G_.data(), n, d, e, v, w);
        hi = tridiagonal_eigenvalue(d, e, n, n - 1);
        lo = n_act_ < n ? 0.0 : std::max(0.0, tridiagonal_eigenvalue(d, e, n, 0));
    }

    // ||ReLU(W x - alpha) - y||_2 (output-space misfit).
    template <class T>
    double output_residual(const double *x, const double *alpha, const T *y) {
#if RELUINJ_RECON_X86
        if (isa_ == GramIsa::avx512) return output_residual_avx512(Wt_, x, alpha, y, m_, n_);
#endif
        analysis(x, wx_.data());
        double s = 0.0;
        for (std::ptrdiff_t i = 0; i < m_; ++i) {
            const double z = wx_[i] - alpha[i];
            const double d = (z > 0.0 ? z : 0.0) - double(y[i]);
            s += d * d;
        }
        return std::sqrt(s);
    }

private:
    // c = W x, out = W^T v and the pair-table sums, on the fastest ISA of this CPU.
    void analysis(const double *x, double *c) const {
#if RELUINJ_RECON_X86
        if (isa_ == GramIsa::avx512) return analysis_t_avx512(Wt_, x, m_, n_, c);
#endif
        analysis_t(Wt_, x, m_, n_, c);
    }
    void synthesis(const double *v, double *out) const {
#if RELUINJ_RECON_X86
        if (isa_ == GramIsa::avx512) return synthesis_t_avx512(Wt_, v, m_, n_, out);
#endif
        synthesis_t(Wt_, v, m_, n_, out);
    }
    // g_ = W^T (on * (bm - W x)): the right-hand side of the refinement step after set_active.
    void refinement_rhs(const double *x) {
        analysis(x, wx_.data());
        for (std::ptrdiff_t i = 0; i < m_; ++i) c_[i] = on_[i] * (bm_[i] - wx_[i]);  // branch-free
        synthesis(c_.data(), g_.data());
    }
    void sum_pairs(const std::int64_t *idx, std::ptrdiff_t cnt, double *out) const {
        const std::ptrdiff_t np2 = static_cast<std::ptrdiff_t>(Gp_.size());
#if RELUINJ_RECON_X86
        if (isa_ == GramIsa::avx512) return pair_sum_avx512(P_, np2, idx, cnt, out);
#endif
        pair_sum(P_, np2, idx, cnt, out);
    }

    // G_ = W_I^T W_I (upper triangle).
    void build_gram() {
        const std::ptrdiff_t n = n_;
        const bool complement = S_ && n_inact_ < n_act_;
        const std::int64_t *idx = complement ? inact_.data() : act_.data();
        const std::ptrdiff_t cnt = complement ? n_inact_ : n_act_;
        if (P_ && (Sp_ || !complement)) {
            std::fill(Gp_.begin(), Gp_.end(), 0.0);
            sum_pairs(idx, cnt, Gp_.data());
            const double *gp = Gp_.data();
            for (std::ptrdiff_t j = 0, q = 0; j < n; ++j)
                for (std::ptrdiff_t c = j; c < n; ++c, ++q) G_[j * n + c] = complement ? Sp_[q] - gp[q] : gp[q];
            return;
        }
#if RELUINJ_RECON_X86
        if (isa_ != GramIsa::generic) {
            const std::ptrdiff_t np = np_;
            // Rows are packed (zero padded to np) and multiplied in panels that fit in L1, so
            // every register block rereads its panel from L1 rather than the whole list from L2.
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
                // The next panel's rows (scattered over W, so invisible to the hardware
                // prefetcher) towards L2 while this panel is multiplied.
                for (std::ptrdiff_t t = t0 + panel; t < std::min(cnt, t0 + 2 * panel); ++t)
                    for (std::ptrdiff_t q = 0; q < n; q += 8)
                        _mm_prefetch(reinterpret_cast<const char *>(W_ + idx[t] * n + q), _MM_HINT_T1);
                if (isa_ == GramIsa::avx512) syrk_packed_avx512(Apack_.get(), rows, np, n, Gb_.data(), t0 > 0);
                else syrk_packed_avx2(Apack_.get(), rows, np, n, Gb_.data(), t0 > 0);
            }
            store_gram(complement);
            return;
        }
#endif
        if (complement) {
            std::copy(S_, S_ + n * n, G_.begin());
            gram_update(W_, idx, cnt, n, -1.0, G_.data());
        } else {
            std::fill(G_.begin(), G_.end(), 0.0);
            gram_update(W_, idx, cnt, n, 1.0, G_.data());
        }
    }

    // G_ (upper triangle) from the SYRK block Gb_ (stride np_): S - Gb_ for the complement.
    void store_gram(bool complement) {
        const std::ptrdiff_t n = n_, np = np_;
        const double *gb = Gb_.data();
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t c = j; c < n; ++c)
                G_[j * n + c] = complement ? S_[j * n + c] - gb[j * np + c] : gb[j * np + c];
    }

    // Scratch of the SVD fallback and gram_extremes (n x max(m, 2)), allocated on first use.
    double *svd_scratch() {
        if (At_.empty()) At_.assign(n_ * std::max<std::ptrdiff_t>(m_, 2), 0.0);
        return At_.data();
    }

    // Jacobi SVD of W_I; singular values in sv_, order_ sorts them decreasingly (stable).
    void svd_rows() {
        const std::ptrdiff_t n = n_, k = n_act_;
        svd_scratch();
        for (std::ptrdiff_t t = 0; t < k; ++t) {
            const double *w = W_ + act_[t] * n;
            for (std::ptrdiff_t j = 0; j < n; ++j) At_[j * k + t] = w[j];
        }
        jacobi_svd(At_.data(), Vt_.data(), n, k);
        for (std::ptrdiff_t j = 0; j < n; ++j) {
            sv_[j] = std::sqrt(dot(At_.data() + j * k, At_.data() + j * k, k));
            order_[j] = j;
        }
        std::stable_sort(order_.begin(), order_.end(),
                         [&](std::ptrdiff_t a, std::ptrdiff_t b) { return sv_[a] > sv_[b]; });
    }

    const double *W_;
    const double *Wt_;
    const double *S_;
    std::ptrdiff_t m_, n_;
    IncrementalBasis basis_;
    std::vector<double> G_, g_, At_, Vt_, sv_;
    std::vector<std::ptrdiff_t> order_;
    std::vector<double> b_;
    std::vector<std::int64_t> act_, inact_;
    std::vector<double> c_, wx_, bm_;
    std::vector<double> on_;  // 1.0 on active rows, 0.0 elsewhere
    bool dense_ = false;
    std::ptrdiff_t n_act_ = 0, n_inact_ = 0;
    GramIsa isa_;
    std::ptrdiff_t np_;
    CholeskyKernels chol_;
    std::unique_ptr<double[]> Apack_;
    std::vector<double> Gb_, Gp_;
    const double *P_ = nullptr, *Sp_ = nullptr;
};

// S = W^T W (upper triangle filled, as gram_update leaves it).
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

#if RELUINJ_DUAL_LANES
// The dense dual solve of samples [b, e) with AVX-512, eight at a time: per sample G_I
// (ActiveSolver's SYRK), then for the eight together in lanes (dual_lanes.hpp) the Cholesky
// factors, the first right-hand sides W_I^T b and solves, the refinement step and the output
// residuals. Each result depends on its sample only. Samples whose factorisation fails (or
// with fewer than n active rows) go to fallback(s). Returns whether every output was valid.
template <class T, class Fallback>
bool dual_dense_groups(ActiveSolver &solver, const double *W, const double *alpha, const T *Y, T *X,
                       std::uint8_t *injective, double *residual, std::ptrdiff_t m, std::ptrdiff_t n,
                       std::ptrdiff_t b, std::ptrdiff_t e, Fallback &&fallback) {
    constexpr int L = dual_lanes::kLanes;
    dual_lanes::Workspace ws(m);
    std::vector<double> GL(n * (n + 1) / 2 * L), inv(n * L), xl(n * L), gl(n * L), res(L);
    bool valid = true;
    for (std::ptrdiff_t s0 = b; s0 < e; s0 += L) {
        const int count = int(std::min<std::ptrdiff_t>(L, e - s0));
        const int next = int(std::max<std::ptrdiff_t>(0, std::min<std::ptrdiff_t>(L, e - s0 - count)));
        valid &= dual_lanes::load_group(Y + s0 * m, m, count, Y + (s0 + count) * m, next, ws);
        unsigned stored = 0;
        for (int l = 0; l < count; ++l) {
            solver.set_active(Y + (s0 + l) * m, alpha);
            if (solver.gram_to_lanes(GL.data(), l, L)) stored |= 1u << l;
        }
        const unsigned solved = stored ? dual_lanes::cholesky_lanes(GL.data(), n, kCholPivotTol, __mmask8(stored), inv.data()) : 0u;
        for (int l = 0; l < count; ++l)
            if (!(solved >> l & 1u)) fallback(s0 + l);
        if (!solved) continue;
        dual_lanes::refinement_rhs_lanes(W, alpha, m, n, ws, nullptr, xl.data());
        dual_lanes::cholesky_solve_lanes(GL.data(), inv.data(), n, xl.data());
        dual_lanes::refinement_rhs_lanes(W, alpha, m, n, ws, xl.data(), gl.data());
        dual_lanes::cholesky_solve_lanes(GL.data(), inv.data(), n, gl.data());
        for (std::ptrdiff_t q = 0; q < n * L; ++q) xl[q] += gl[q];
        dual_lanes::output_residual_lanes(W, alpha, m, n, ws, xl.data(), res.data());
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
#endif

// Returns false (the outputs are then meaningless) when some entry of Y is NaN, infinite or
// negative: the validation of Y is part of the pass over it.
template <class T>
bool dual_inverse(const double *W, const double *alpha, const T *Y, T *X, std::uint8_t *injective,
                  double *residual, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t B,
                  double rank_tol, int n_threads) {
    const std::vector<double> S = frame_operator_upper(W, m, n), Wt = transpose(W, m, n);
    std::vector<double> P, Sp;
    if (use_pair_table(m, n)) {
        P = pair_table(W, m, n);
        std::vector<std::int64_t> all(m);
        for (std::ptrdiff_t i = 0; i < m; ++i) all[i] = i;
        Sp.assign(packed_pairs(n), 0.0);
        pair_sum(P.data(), packed_pairs(n), all.data(), m, Sp.data());
    }
    const auto lanes = P.empty() ? nullptr : dual_lanes::group_kernel<T>(n, detect_gram_isa() == GramIsa::avx512);
    const bool grouped = RELUINJ_DUAL_LANES && detect_gram_isa() == GramIsa::avx512;
    std::ptrdiff_t chunk = sample_chunk(B, n_threads);
    // Groups of eight samples cost the same when partly filled: whole groups per chunk.
    if (grouped) chunk = std::max<std::ptrdiff_t>(dual_lanes::kLanes, chunk / dual_lanes::kLanes * dual_lanes::kLanes);
    std::vector<std::uint8_t> chunk_valid((B + chunk - 1) / chunk, 1);
    parallel_chunks(B, chunk, n_threads, [&](std::ptrdiff_t c, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), S.data(), m, n, rank_tol);
        if (!P.empty()) solver.set_pair_table(P.data(), Sp.data());
        std::vector<double> x(n);
        bool valid = true;
        auto store = [&](std::ptrdiff_t s, std::ptrdiff_t r) {
            injective[s] = r == n;
            residual[s] = solver.output_residual(x.data(), alpha, Y + s * m);
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j]);
        };
        // The per-sample path of the grouped kernels: minimum-norm least squares.
        auto fallback = [&](std::ptrdiff_t s) {
            solver.set_active(Y + s * m, alpha);
            store(s, solver.solve_svd(x.data()));
        };
#if RELUINJ_DUAL_LANES
        if (!lanes && grouped) {
            chunk_valid[c] = dual_dense_groups(solver, W, alpha, Y, X, injective, residual, m, n, b, e, fallback);
            return;
        }
#endif
        if (!lanes) {
            for (std::ptrdiff_t s = b; s < e; ++s) {
                valid &= outputs_valid(Y + s * m, m);
                solver.set_active(Y + s * m, alpha);
                store(s, solver.solve(x.data()));
            }
            chunk_valid[c] = valid;
            return;
        }
        dual_lanes::Workspace ws(m);
        dual_lanes::GroupResult res;
        for (std::ptrdiff_t s0 = b; s0 < e; s0 += dual_lanes::kLanes) {
            const int count = int(std::min<std::ptrdiff_t>(dual_lanes::kLanes, e - s0));
            const int next = int(std::max<std::ptrdiff_t>(0, std::min<std::ptrdiff_t>(dual_lanes::kLanes, e - s0 - count)));
            lanes(W, P.data(), packed_pairs(n), alpha, Y + s0 * m, m, count, next, kCholPivotTol, ws, res);
            valid &= res.valid;
            for (int l = 0; l < count; ++l) {
                const std::ptrdiff_t s = s0 + l;
                if (res.solved >> l & 1u) {
                    injective[s] = 1;
                    residual[s] = res.residual[l];
                    for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(res.x[j][l]);
                } else {
                    fallback(s);
                }
            }
        }
        chunk_valid[c] = valid;
    });
    return std::all_of(chunk_valid.begin(), chunk_valid.end(), [](std::uint8_t v) { return v != 0; });
}

// Facets in CSR form: the vertices of facet f are indices[indptr[f]:indptr[f+1]].
template <class T>
void facet_inverse(const double *W, const double *alpha, const T *Y, const std::int64_t *indptr,
                   const std::int64_t *indices, std::ptrdiff_t n_facets, T *X,
                   std::uint8_t *injective, double *residual, std::int64_t *facet,
                   std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t B, double rank_tol, int n_threads) {
    const std::vector<double> Wt = transpose(W, m, n);
    parallel_chunks(B, sample_chunk(B, n_threads), n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        ActiveSolver solver(W, Wt.data(), nullptr, m, n, rank_tol);
        std::vector<double> x(n);
        for (std::ptrdiff_t s = b; s < e; ++s) {
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
        std::vector<double> x(n), grad(n), c(m);
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
            for (std::ptrdiff_t t = 0; t < k; ++t) is_act[act[t]] = 1;
            std::fill(x.begin(), x.end(), 0.0);
            int it = 0;
            while (it < max_iter) {
                analysis_t(Wt.data(), x.data(), m, n, c.data());
                std::fill(grad.begin(), grad.end(), 0.0);
                for (std::ptrdiff_t t = 0; t < k; ++t) {
                    const double *w = W + act[t] * n;
                    const double r = tgt[t] - c[act[t]];
                    for (std::ptrdiff_t j = 0; j < n; ++j) grad[j] += r * w[j];
                }
                if (relu_variant) {
                    for (std::ptrdiff_t i = 0; i < m; ++i) {
                        if (is_act[i] || !(c[i] >= alpha[i])) continue;
                        const double *w = W + i * n;
                        const double r = alpha[i] - c[i];
                        for (std::ptrdiff_t j = 0; j < n; ++j) grad[j] += r * w[j];
                    }
                }
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
            synth_rows(W, act, solver.targets(), k, n, r.data());
            std::fill(x.begin(), x.end(), 0.0);
            p = r;
            double rr = dot(r.data(), r.data(), n);
            const double stop = tol * std::sqrt(rr);
            int it = 0;
            while (it < max_iter && std::sqrt(rr) > stop && rr > 0.0) {
                for (std::ptrdiff_t t = 0; t < k; ++t) tmp[t] = dot(W + act[t] * n, p.data(), n);
                synth_rows(W, act, tmp.data(), k, n, q.data());
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
