// Selection of the most correlated basis candidates for the MCB kernel (mcb.hpp): for each
// point, the top n correlations in the order (c descending, index ascending), and the update
// of the per-element minima and hit counts. Written once over plain loops (CandidatesScalar,
// compiled per ISA by the wrappers below); for double with AVX-512, a hand-written selection
// (CandidatesAvx512, update_small_avx512). A/B build without it (2026-12-07, AVX-512 Zen 4,
// 1 thread): 200x10, 2e5 samples 63 vs 150 ms (2.4x, n <= 16: select_small/update_small);
// 1024x64, 2e4 samples 103-105 vs 114-115 ms (1.08-1.12x: CandidatesAvx512 for n > 16, below
// the 1.3x rule but more than the 10 % a bench may lose; to go with a vectorised generic compact).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "reluinj/linalg.hpp"
#include "reluinj/simd.hpp"

namespace reluinj {
namespace mcb_detail {

// Threshold scans over the correlations c[0..m) of one point: count(c, m, t) = #{q : c_q >= t};
// compact(c, m, t, vals, cand) writes the q with c_q >= t in increasing order to cand (their
// values to vals) and returns how many. Plain loops here (vectorized by the compiler where it
// can); CandidatesAvx512 below is the same for double with AVX-512 masks.
template <class T>
struct CandidatesScalar {
    // lo = min, hi = max of c[0..m) (m >= 1, all finite): four interleaved running extremes.
    static RELUINJ_FORCE_INLINE void range(const T *c, std::ptrdiff_t m, T &lo, T &hi) {
        T l[4] = {c[0], c[0], c[0], c[0]}, h[4] = {c[0], c[0], c[0], c[0]};
        std::ptrdiff_t q = 0;
        for (; q + 4 <= m; q += 4)
            for (int r = 0; r < 4; ++r) {
                l[r] = c[q + r] < l[r] ? c[q + r] : l[r];
                h[r] = c[q + r] > h[r] ? c[q + r] : h[r];
            }
        for (; q < m; ++q) {
            l[0] = c[q] < l[0] ? c[q] : l[0];
            h[0] = c[q] > h[0] ? c[q] : h[0];
        }
        lo = std::min(std::min(l[0], l[1]), std::min(l[2], l[3]));
        hi = std::max(std::max(h[0], h[1]), std::max(h[2], h[3]));
    }
    static RELUINJ_FORCE_INLINE std::ptrdiff_t count(const T *c, std::ptrdiff_t m, T t) {
        std::ptrdiff_t r = 0;
        for (std::ptrdiff_t q = 0; q < m; ++q) r += c[q] >= t;
        return r;
    }
    static RELUINJ_FORCE_INLINE std::ptrdiff_t compact(const T *c, std::ptrdiff_t m, T t, T *vals,
                                                        std::int64_t *cand) {
        std::ptrdiff_t r = 0;
        for (std::ptrdiff_t q = 0; q < m; ++q) {
            const T v = c[q];
            cand[r] = q;
            vals[r] = v;
            r += v >= t;
        }
        return r;
    }
};

// Top n (n > SMALL_SELECT_N) of the correlations c[0..m) (all finite) in the order
// ByCorrelation, as a set written to sel; vals and cand are scratch of length m + 8. Bisection on
// the value (with interpolated steps) keeps a threshold lo with count(lo) >= n (so
// {i : c_i >= lo} holds the whole top n) until at most n + n / 4 + 8 elements reach it; those candidates are compacted in
// increasing index order, nth_element finds the n-th largest value thr, and the set is the
// values above thr, then the ties at thr in index order. Exact: the same set as a full sort.
constexpr int TOP_N_MAX_BISECTIONS = 64;

template <class T, class Cand>
RELUINJ_FORCE_INLINE void top_n(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, T *vals,
                                 std::int64_t *cand, std::int64_t *sel) {
    T lo, hi;
    Cand::range(c, m, lo, hi);
    std::ptrdiff_t cnt_lo = m;  // count(lo) >= n throughout
    std::ptrdiff_t cnt_hi = Cand::count(c, m, hi);
    if (cnt_hi >= n) lo = hi, cnt_lo = cnt_hi;
    const std::ptrdiff_t target = n + n / 4 + 8;
    // Safeguarded regula falsi: the next threshold interpolates the counts at lo and hi to aim
    // at (n + target) / 2, kept within the middle 3/4 of the bracket.
    const double aim = 0.5 * double(n + target);
    for (int it = 0; it < TOP_N_MAX_BISECTIONS && cnt_lo > target && cnt_lo > cnt_hi; ++it) {
        double f = (double(cnt_lo) - aim) / double(cnt_lo - cnt_hi);
        f = f < 0.125 ? 0.125 : (f > 0.875 ? 0.875 : f);
        const T mid = lo + T(f) * (hi - lo);  // hi - lo: both finite with |c| <= max / 2
        if (!(mid > lo && mid < hi)) break;
        const std::ptrdiff_t cm = Cand::count(c, m, mid);
        if (cm >= n)
            lo = mid, cnt_lo = cm;
        else
            hi = mid, cnt_hi = cm;
    }
    const std::ptrdiff_t count = Cand::compact(c, m, lo, vals, cand);
    std::nth_element(vals, vals + (n - 1), vals + count, [](T a, T b) { return a > b; });
    const T thr = vals[n - 1];
    std::ptrdiff_t cnt = 0;
    for (std::ptrdiff_t q = 0; q < count; ++q)
        if (c[cand[q]] > thr) sel[cnt++] = cand[q];
    for (std::ptrdiff_t q = 0; q < count && cnt < n; ++q)
        if (c[cand[q]] == thr) sel[cnt++] = cand[q];
}

// Top n (n <= SMALL_SELECT_N <= G) of the correlations c[0..m) of one point, as a set (in no
// particular order) written to sel; vals and cand are scratch of length m + 8.
//
// Threshold: the m elements fall in G = 16 groups (i mod G); the n-th largest group maximum t
// (computed as the largest g_k with #{j : g_j >= g_k} >= n) is reached by n distinct
// elements, so t <= the n-th largest value and {i : c_i >= t} contains the whole top n. These
// candidates (about n + 4 for random data) are compacted in increasing index order; then the last one in the order ByCorrelation (smallest value, then largest index) is
// removed until n remain. Exact: the same set as a full sort.
constexpr std::ptrdiff_t SELECT_GROUPS = 16;
constexpr std::ptrdiff_t SMALL_SELECT_N = 16;

template <class T, class Cand>
RELUINJ_FORCE_INLINE void select_small_impl(const T *c, std::ptrdiff_t m, std::ptrdiff_t n,
                                             T *vals, std::int64_t *cand, std::int64_t *sel) {
    constexpr std::ptrdiff_t G = SELECT_GROUPS;
    const T ninf = -std::numeric_limits<T>::infinity();
    T g[G];
    for (std::ptrdiff_t l = 0; l < G; ++l) g[l] = ninf;
    std::ptrdiff_t i = 0;
    for (; i + G <= m; i += G)
        for (std::ptrdiff_t l = 0; l < G; ++l) g[l] = c[i + l] > g[l] ? c[i + l] : g[l];
    for (std::ptrdiff_t l = 0; i + l < m; ++l) g[l] = c[i + l] > g[l] ? c[i + l] : g[l];
    T t = ninf;
    for (std::ptrdiff_t k = 0; k < G; ++k) {
        std::ptrdiff_t cnt = 0;
        for (std::ptrdiff_t j = 0; j < G; ++j) cnt += g[j] >= g[k];
        const T cand_t = cnt >= n ? g[k] : ninf;
        t = cand_t > t ? cand_t : t;
    }
    std::ptrdiff_t count = Cand::compact(c, m, t, vals, cand);
    while (count > n) {
        std::ptrdiff_t w = 0;
        for (std::ptrdiff_t q = 1; q < count; ++q)
            if (vals[q] < vals[w] || (vals[q] == vals[w] && cand[q] > cand[w])) w = q;
        --count;
        cand[w] = cand[count];
        vals[w] = vals[count];
    }
    for (std::ptrdiff_t q = 0; q < n; ++q) sel[q] = cand[q];
}

// Top n of the correlations c[0..m) of one point for any n <= m, as a set written to sel.
template <class T, class Cand>
RELUINJ_FORCE_INLINE void select_impl(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, T *vals,
                                       std::int64_t *cand, std::int64_t *sel) {
    if (n <= SMALL_SELECT_N)
        select_small_impl<T, Cand>(c, m, n, vals, cand, sel);
    else
        top_n<T, Cand>(c, m, n, vals, cand, sel);
}

template <class T>
using SelectFn = void (*)(const T *, std::ptrdiff_t, std::ptrdiff_t, T *, std::int64_t *,
                          std::int64_t *);

// Points per phase of the AVX-512 update (update_small_avx512).
constexpr std::ptrdiff_t UPDATE_BATCH = 8;

// Per-thread scratch of the selection: vals and cand (m + 8 entries) for the select functions,
// sel (n) for the selected set, pos (UPDATE_BATCH x (m_pad + 8)) for the candidate positions
// of the AVX-512 update.
template <class T>
struct SelectScratch {
    std::vector<T> vals;
    std::vector<std::int64_t> cand, sel;
    std::vector<std::int32_t> pos;
    SelectScratch(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t m_pad)
        : vals(m + 8), cand(m + 8), sel(n), pos(UPDATE_BATCH * (m_pad + 8)) {}
};

// Selection and update without rank test for `rows` points whose correlations are the rows
// of C (row stride ldc = m_pad >= m): for every i in the top n of a row c,
// mins[i] = min(mins[i], c_i) and hits[i] += 1.
template <class T>
using UpdateFn = void (*)(const T *, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t,
                          SelectScratch<T> &, T *, std::int64_t *);

// The min/hit update of one point from its selected set sel[0..n).
template <class T>
RELUINJ_FORCE_INLINE void update_selected(const T *c, const std::int64_t *sel, std::ptrdiff_t n,
                                           T *mins, std::int64_t *hits) {
    for (std::ptrdiff_t q = 0; q < n; ++q) {
        const std::int64_t i = sel[q];
        mins[i] = std::min(mins[i], c[i]);
        ++hits[i];
    }
}

template <class T, class Cand>
RELUINJ_FORCE_INLINE void select_update_impl(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc,
                                              std::ptrdiff_t m, std::ptrdiff_t n,
                                              SelectScratch<T> &s, T *mins, std::int64_t *hits) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        const T *c = C + r * ldc;
        select_impl<T, Cand>(c, m, n, s.vals.data(), s.cand.data(), s.sel.data());
        update_selected(c, s.sel.data(), n, mins, hits);
    }
}

template <class T>
void select_generic(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, T *vals, std::int64_t *cand,
                    std::int64_t *sel) {
    select_impl<T, CandidatesScalar<T>>(c, m, n, vals, cand, sel);
}

template <class T>
void update_generic(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc, std::ptrdiff_t m,
                    std::ptrdiff_t n, SelectScratch<T> &s, T *mins, std::int64_t *hits) {
    select_update_impl<T, CandidatesScalar<T>>(C, rows, ldc, m, n, s, mins, hits);
}

#if RELUINJ_X86
template <class T>
RELUINJ_TARGET_AVX2 void select_avx2(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, T *vals,
                                     std::int64_t *cand, std::int64_t *sel) {
    select_impl<T, CandidatesScalar<T>>(c, m, n, vals, cand, sel);
}

template <class T>
RELUINJ_TARGET_AVX2 void update_avx2(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc,
                                     std::ptrdiff_t m, std::ptrdiff_t n, SelectScratch<T> &s,
                                     T *mins, std::int64_t *hits) {
    select_update_impl<T, CandidatesScalar<T>>(C, rows, ldc, m, n, s, mins, hits);
}

template <class T>
RELUINJ_TARGET_AVX512 void select_avx512(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, T *vals,
                                         std::int64_t *cand, std::int64_t *sel) {
    select_impl<T, CandidatesScalar<T>>(c, m, n, vals, cand, sel);
}

template <class T>
RELUINJ_TARGET_AVX512 void update_avx512(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc,
                                         std::ptrdiff_t m, std::ptrdiff_t n, SelectScratch<T> &s,
                                         T *mins, std::int64_t *hits) {
    select_update_impl<T, CandidatesScalar<T>>(C, rows, ldc, m, n, s, mins, hits);
}

// CandidatesScalar<double> with AVX-512: comparison masks of 8 lanes; compact() packs each 8
// lanes with vcompress and stores whole registers, so vals and cand need m + 8 entries. (Not
// always_inline: top_n has no target attribute of its own.)
struct CandidatesAvx512 {
    RELUINJ_TARGET_AVX512 static RELUINJ_FORCE_INLINE __mmask8 ge_mask(const double *c,
                                                                       std::ptrdiff_t len,
                                                                       __m512d tv) {
        const __mmask8 valid = tail_mask8(len);
        return _mm512_mask_cmp_pd_mask(valid, _mm512_maskz_loadu_pd(valid, c), tv, _CMP_GE_OQ);
    }
    RELUINJ_TARGET_AVX512 static void range(const double *c, std::ptrdiff_t m, double &lo, double &hi) {
        __m512d l = _mm512_set1_pd(c[0]), h = l;
        for (std::ptrdiff_t q = 0; q < m; q += 8) {
            const std::ptrdiff_t len = m - q;
            const __mmask8 valid = tail_mask8(len);
            const __m512d v = _mm512_maskz_loadu_pd(valid, c + q);
            l = _mm512_mask_min_pd(l, valid, l, v);
            h = _mm512_mask_max_pd(h, valid, h, v);
        }
        alignas(64) double tl[8], th[8];
        _mm512_store_pd(tl, l);
        _mm512_store_pd(th, h);
        lo = tl[0];
        hi = th[0];
        for (int r = 1; r < 8; ++r) {
            lo = tl[r] < lo ? tl[r] : lo;
            hi = th[r] > hi ? th[r] : hi;
        }
    }
    RELUINJ_TARGET_AVX512 static std::ptrdiff_t count(const double *c, std::ptrdiff_t m,
                                                      double t) {
        const __m512d tv = _mm512_set1_pd(t);
        std::ptrdiff_t r = 0;
        for (std::ptrdiff_t q = 0; q < m; q += 8)
            r += __builtin_popcount(static_cast<unsigned>(ge_mask(c + q, m - q, tv)));
        return r;
    }
    RELUINJ_TARGET_AVX512 static std::ptrdiff_t compact(const double *c, std::ptrdiff_t m,
                                                        double t, double *vals,
                                                        std::int64_t *cand) {
        const __m512d tv = _mm512_set1_pd(t);
        std::ptrdiff_t r = 0;
        __m512i idx = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        const __m512i eight = _mm512_set1_epi64(8);
        for (std::ptrdiff_t q = 0; q < m; q += 8) {
            const std::ptrdiff_t len = m - q;
            const __mmask8 valid = tail_mask8(len);
            const __m512d v = _mm512_maskz_loadu_pd(valid, c + q);
            const __mmask8 k = _mm512_mask_cmp_pd_mask(valid, v, tv, _CMP_GE_OQ);
            _mm512_storeu_pd(vals + r, _mm512_maskz_compress_pd(k, v));
            _mm512_storeu_si512(cand + r, _mm512_maskz_compress_epi64(k, idx));
            r += __builtin_popcount(static_cast<unsigned>(k));
            idx = _mm512_add_epi64(idx, eight);
        }
        return r;
    }
};

// sel = the candidates (vals, cand)[0..count), count <= 8 R, whose rank in the order
// ByCorrelation (the number of candidates before it: larger, or equal with a smaller index) is
// below n; in increasing candidate position.
template <int R>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void rank_select_avx512(const double *vals,
                                                                  const std::int64_t *cand,
                                                                  std::ptrdiff_t count,
                                                                  std::ptrdiff_t n,
                                                                  std::int64_t *sel) {
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i nv = _mm512_set1_epi64(static_cast<long long>(n));
    __mmask8 valid[R];
    __m512d v[R];
    __m512i id[R], rank[R];
    for (int g = 0; g < R; ++g) {
        const std::ptrdiff_t left = count - 8 * g;
        valid[g] = tail_mask8(left);
        v[g] = _mm512_maskz_loadu_pd(valid[g], vals + 8 * g);
        id[g] = _mm512_maskz_loadu_epi64(valid[g], cand + 8 * g);
        rank[g] = _mm512_setzero_si512();
    }
    for (std::ptrdiff_t p = 0; p < count; ++p) {
        const __m512d b = _mm512_set1_pd(vals[p]);
        const __m512i bi = _mm512_set1_epi64(cand[p]);
        for (int g = 0; g < R; ++g) {
            const __mmask8 before = _mm512_cmp_pd_mask(b, v[g], _CMP_GT_OQ) |
                                    (_mm512_cmp_pd_mask(b, v[g], _CMP_EQ_OQ) &
                                     _mm512_cmplt_epi64_mask(bi, id[g]));
            rank[g] = _mm512_mask_add_epi64(rank[g], before, rank[g], one);
        }
    }
    // Scalar stores (not vcompress to memory): the caller reads sel right away, and loads
    // are forwarded from scalar stores only.
    std::uint32_t keep = 0;
    for (int g = 0; g < R; ++g)
        keep |= std::uint32_t(_mm512_mask_cmplt_epi64_mask(valid[g], rank[g], nv)) << (8 * g);
    std::ptrdiff_t r = 0;
    for (; keep; keep &= keep - 1) sel[r++] = cand[__builtin_ctz(keep)];
}

#pragma GCC diagnostic push  // GCC 12 flags the undefined pass-through operand of _mm512_max_pd
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The threshold t of select_small_impl from the 16 group maxima (g0, g1) (lanes = groups):
// the largest g_k with cnt_k = #{j : g_j >= g_k} >= n, counted by masked compares.
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE double group_threshold_avx512(__m512d g0, __m512d g1,
                                                                        std::ptrdiff_t n) {
    const __m512d ninf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
    alignas(64) double gs[16];
    _mm512_store_pd(gs, g0);
    _mm512_store_pd(gs + 8, g1);
    const __m512i one = _mm512_set1_epi64(1);
    __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();
    for (int j = 0; j < 16; ++j) {
        const __m512d b = _mm512_set1_pd(gs[j]);
        c0 = _mm512_mask_add_epi64(c0, _mm512_cmp_pd_mask(b, g0, _CMP_GE_OQ), c0, one);
        c1 = _mm512_mask_add_epi64(c1, _mm512_cmp_pd_mask(b, g1, _CMP_GE_OQ), c1, one);
    }
    const __m512i nv = _mm512_set1_epi64(static_cast<long long>(n));
    const __m512d t0 = _mm512_mask_blend_pd(_mm512_cmpge_epi64_mask(c0, nv), ninf, g0);
    const __m512d t1 = _mm512_mask_blend_pd(_mm512_cmpge_epi64_mask(c1, nv), ninf, g1);
    return _mm512_reduce_max_pd(_mm512_max_pd(t0, t1));
}

// select_small_impl for double with AVX-512 (G = 16 groups = two registers of group maxima,
// ranks of the maxima and of up to 32 final candidates by masked counting).
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void select_small_avx512(const double *c,
                                                                   std::ptrdiff_t m,
                                                                   std::ptrdiff_t n, double *vals,
                                                                   std::int64_t *cand,
                                                                   std::int64_t *sel) {
    static_assert(SELECT_GROUPS == 16, "two registers of 8 doubles");
    const __m512d ninf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
    __m512d g0 = ninf, g1 = ninf;
    std::ptrdiff_t i = 0;
    for (; i + 16 <= m; i += 16) {
        g0 = _mm512_max_pd(g0, _mm512_loadu_pd(c + i));
        g1 = _mm512_max_pd(g1, _mm512_loadu_pd(c + i + 8));
    }
    const std::ptrdiff_t rem = m - i;
    if (rem > 0) {
        const __mmask8 k0 = tail_mask8(rem);
        g0 = _mm512_max_pd(g0, _mm512_mask_loadu_pd(ninf, k0, c + i));
        if (rem > 8) {
            const __mmask8 k1 = tail_mask8(rem - 8);
            g1 = _mm512_max_pd(g1, _mm512_mask_loadu_pd(ninf, k1, c + i + 8));
        }
    }
    const double t = group_threshold_avx512(g0, g1, n);
    // Candidates {q : c_q >= t} in increasing index order.
    std::ptrdiff_t count = CandidatesAvx512::compact(c, m, t, vals, cand);
    // Drop the last candidate in the order ByCorrelation (smallest value, then largest index)
    // while more than 32 remain (rare for random data).
    while (count > 32 && count > n) {
        std::ptrdiff_t w = 0;
        double bv = vals[0];
        std::int64_t bc = cand[0];
        for (std::ptrdiff_t q = 1; q < count; ++q) {
            const bool worse = vals[q] < bv || (vals[q] == bv && cand[q] > bc);
            w = worse ? q : w;
            bv = worse ? vals[q] : bv;
            bc = worse ? cand[q] : bc;
        }
        --count;
        cand[w] = cand[count];
        vals[w] = vals[count];
    }
    if (count <= 16)
        rank_select_avx512<2>(vals, cand, count, n, sel);
    else
        rank_select_avx512<4>(vals, cand, count, n, sel);
}

template <>
RELUINJ_TARGET_AVX512 inline void select_avx512<double>(const double *c, std::ptrdiff_t m,
                                                        std::ptrdiff_t n, double *vals,
                                                        std::int64_t *cand, std::int64_t *sel) {
    if (n <= SMALL_SELECT_N)
        select_small_avx512(c, m, n, vals, cand, sel);
    else
        top_n<double, CandidatesAvx512>(c, m, n, vals, cand, sel);
}

// Batcher's odd-even merge sort of 16 elements: 63 compare-exchanges (lo, hi).
struct SortNetwork16 {
    static constexpr int N = 16, SIZE = 63;
    int lo[SIZE], hi[SIZE];
};

constexpr SortNetwork16 make_sort_network16() {
    SortNetwork16 net{};
    constexpr int N = SortNetwork16::N;
    int e = 0;
    for (int p = 1; p < N; p <<= 1)
        for (int k = p; k >= 1; k >>= 1)
            for (int j = k % p; j + k < N; j += 2 * k)
                for (int i = 0; i < k && i + j + k < N; ++i)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                        net.lo[e] = i + j;
                        net.hi[e] = i + j + k;
                        ++e;
                    }
    return net;
}

inline constexpr SortNetwork16 SORT_NETWORK16 = make_sort_network16();

// Sorts 16 registers lane by lane (lane l of v[0..16) ascending) with min/max. (A pair of
// equal values may come out as two copies of one of them, e.g. -0.0 twice for {0.0, -0.0}:
// the same under comparisons.) Fully unrolled, so that v stays in registers.
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void sort16_lanes_avx512(__m512d *v) {
#pragma GCC unroll 63
    for (int e = 0; e < SortNetwork16::SIZE; ++e) {
        const __m512d a = v[SORT_NETWORK16.lo[e]], b = v[SORT_NETWORK16.hi[e]];
        v[SORT_NETWORK16.lo[e]] = _mm512_min_pd(a, b);
        v[SORT_NETWORK16.hi[e]] = _mm512_max_pd(a, b);
    }
}

// LANES[b] = the positions of the set bits of the byte b in increasing order (then zeros):
// turns a comparison mask of 8 lanes into candidate positions without branches.
struct LaneTable {
    alignas(32) std::int32_t lane[256][8];
};

constexpr LaneTable make_lane_table() {
    LaneTable t{};
    for (int b = 0; b < 256; ++b) {
        int r = 0;
        for (int l = 0; l < 8; ++l)
            if ((b >> l) & 1) t.lane[b][r++] = l;
    }
    return t;
}

inline constexpr LaneTable LANES = make_lane_table();

// Appends base + (the set lanes of the mask k) to pos[0..cnt) (writing 8 entries) and
// advances base by 8 lanes.
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE void list_lanes_avx512(unsigned k, std::int32_t *pos,
                                                                 std::ptrdiff_t &cnt,
                                                                 __m256i &base) {
    const __m256i lanes = _mm256_load_si256(reinterpret_cast<const __m256i *>(LANES.lane[k]));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(pos + cnt), _mm256_add_epi32(lanes, base));
    cnt += __builtin_popcount(k);
    base = _mm256_add_epi32(base, _mm256_set1_epi32(8));
}

// The selection of update_small_avx512 for one point with R registers of candidates (R = 2
// or 4): the `count` candidates (positions pos[0..count), count <= 8 R) are gathered from c
// into vs[0..8 R) (-inf beyond count). Returns the mask of S = {q : g_q < n}, g_q = the number
// of candidates p with f(c_p) > f(c_q), where f rounds down to float (monotone: f(a) > f(b)
// implies a > b). An element of the top n has fewer than n larger elements, so S contains the
// top n, and |S| == n means S is the top n; |S| > n happens only with ties at the n-th value
// (in double or after rounding). Floats give 16 lanes per register: half the comparisons.
template <int R>
RELUINJ_TARGET_AVX512 RELUINJ_FORCE_INLINE std::uint32_t rank_keep_avx512(
    const double *c, const std::int32_t *pos, std::ptrdiff_t count, std::ptrdiff_t n,
    double *vs) {
    static_assert(R == 2 || R == 4, "whole registers of 16 floats");
    constexpr int RF = R / 2;
    const __m512d ninf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i nv = _mm512_set1_epi32(static_cast<int>(n));
    alignas(64) float fs[16 * RF];
    __m512d v[R];
    __m512 f[RF];
    __mmask16 valid[RF];
    __m512i larger[RF];
    for (int g = 0; g < R; ++g) {
        const std::ptrdiff_t left = count - 8 * g;
        const __mmask8 k = tail_mask8(left);
        const __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(pos + 8 * g));
        v[g] = _mm512_mask_i32gather_pd(ninf, k, idx, c, 8);
        _mm512_store_pd(vs + 8 * g, v[g]);
    }
    for (int h = 0; h < RF; ++h) {
        const std::ptrdiff_t left = count - 16 * h;
        valid[h] = tail_mask16(left);
        const __m256 lo = _mm512_cvt_roundpd_ps(v[2 * h], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        const __m256 hi = _mm512_cvt_roundpd_ps(v[2 * h + 1], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        f[h] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                   _mm256_castps_pd(hi), 1));
        _mm512_store_ps(fs + 16 * h, f[h]);
        larger[h] = _mm512_setzero_si512();
    }
    // A fixed number of rounds (the -inf padding counts for nothing): no branch to mispredict.
    for (int p = 0; p < 16 * RF; ++p) {
        const __m512 b = _mm512_set1_ps(fs[p]);
        for (int h = 0; h < RF; ++h)
            larger[h] = _mm512_mask_add_epi32(larger[h], _mm512_cmp_ps_mask(b, f[h], _CMP_GT_OQ),
                                              larger[h], one);
    }
    std::uint32_t keep = 0;
    for (int h = 0; h < RF; ++h)
        keep |= std::uint32_t(_mm512_mask_cmplt_epi32_mask(valid[h], larger[h], nv)) << (16 * h);
    return keep;
}

// update_avx512 for double and n <= SMALL_SELECT_N. The work of one point is a long chain of
// dependent steps (group maxima -> threshold -> candidates -> ranks -> update), so the points
// go through each phase in batches of UPDATE_BATCH, which gives the out-of-order core
// independent work: 1. the 16 group maxima of each point (masked loads beyond m), then the
// threshold t of select_small_impl (the n-th largest maximum) of all points by one sorting
// network; 2. the candidates {i < m : c_i >= t} of each point, written 8 lanes at a time from
// LANES to its own part of s.pos; 3. rank_keep_avx512; 4. the updates. More than
// FAST_CANDIDATES candidates, or ties at the n-th value, fall back to select_small_avx512.
constexpr std::ptrdiff_t FAST_CANDIDATES = 32;

RELUINJ_TARGET_AVX512 inline void update_small_avx512(const double *C, std::ptrdiff_t rows,
                                                      std::ptrdiff_t ldc, std::ptrdiff_t m,
                                                      std::ptrdiff_t n, SelectScratch<double> &s,
                                                      double *mins, std::int64_t *hits) {
    const __m512d ninf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
    // Full panels of 16 and blocks of 8 below m; the masks of the partial ones (if any).
    const std::ptrdiff_t panels = m / 16, blocks = m / 8;
    const std::ptrdiff_t rem16 = m - 16 * panels, rem8 = m - 8 * blocks;
    const __mmask8 tail0 = tail_mask8(rem16);
    const __mmask8 tail1 = tail_mask8(rem16 - 8);
    const __mmask8 tail8 = tail_mask8(rem8);
    const std::ptrdiff_t stride = static_cast<std::ptrdiff_t>(s.pos.size()) / UPDATE_BATCH;
    static_assert(UPDATE_BATCH == 8, "one lane per point of a batch");
    static_assert(FAST_CANDIDATES == 32, "at most rank_keep_avx512<4>");
    const __m256i col = _mm256_set_epi32(112, 96, 80, 64, 48, 32, 16, 0);  // gm[b][0], b < 8
    alignas(64) double gm[UPDATE_BATCH][SELECT_GROUPS];
    alignas(64) double t[UPDATE_BATCH];
    std::ptrdiff_t count[UPDATE_BATCH];
    std::uint32_t keep[UPDATE_BATCH];
    alignas(64) double vs[UPDATE_BATCH][FAST_CANDIDATES];
    for (std::ptrdiff_t r0 = 0; r0 < rows; r0 += UPDATE_BATCH) {
        const std::ptrdiff_t nb = std::min(UPDATE_BATCH, rows - r0);
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            const double *c = C + (r0 + b) * ldc;
            // Two independent chains per register (shorter dependencies).
            __m512d a0 = ninf, a1 = ninf, b0 = ninf, b1 = ninf;
            std::ptrdiff_t p = 0;
            for (; p + 2 <= panels; p += 2) {
                a0 = _mm512_max_pd(a0, _mm512_loadu_pd(c + 16 * p));
                a1 = _mm512_max_pd(a1, _mm512_loadu_pd(c + 16 * p + 8));
                b0 = _mm512_max_pd(b0, _mm512_loadu_pd(c + 16 * p + 16));
                b1 = _mm512_max_pd(b1, _mm512_loadu_pd(c + 16 * p + 24));
            }
            if (p < panels) {
                a0 = _mm512_max_pd(a0, _mm512_loadu_pd(c + 16 * p));
                a1 = _mm512_max_pd(a1, _mm512_loadu_pd(c + 16 * p + 8));
            }
            b0 = _mm512_max_pd(b0, _mm512_mask_loadu_pd(ninf, tail0, c + 16 * panels));
            b1 = _mm512_max_pd(b1, _mm512_mask_loadu_pd(ninf, tail1, c + 16 * panels + 8));
            _mm512_store_pd(gm[b], _mm512_max_pd(a0, b0));
            _mm512_store_pd(gm[b] + 8, _mm512_max_pd(a1, b1));
        }
        // The threshold of every point of the batch at once: register j holds g_j of the
        // points (one per lane), sorted across the registers lane by lane; t = the n-th largest.
        const __mmask8 lanes = tail_mask8(nb);
        __m512d v[SELECT_GROUPS];
        for (int j = 0; j < SELECT_GROUPS; ++j)
            v[j] = _mm512_mask_i32gather_pd(ninf, lanes, _mm256_add_epi32(col, _mm256_set1_epi32(j)),
                                            &gm[0][0], 8);
        sort16_lanes_avx512(v);
        _mm512_store_pd(t, v[SELECT_GROUPS - n]);
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            const double *c = C + (r0 + b) * ldc;
            std::int32_t *pos = s.pos.data() + b * stride;
            const __m512d tv = _mm512_set1_pd(t[b]);
            std::ptrdiff_t cnt = 0;
            __m256i base = _mm256_setzero_si256();
            std::ptrdiff_t q = 0;
            for (; q < 8 * blocks; q += 8)
                list_lanes_avx512(_mm512_cmp_pd_mask(_mm512_loadu_pd(c + q), tv, _CMP_GE_OQ),
                                  pos, cnt, base);
            if (rem8)
                list_lanes_avx512(
                    _mm512_mask_cmp_pd_mask(tail8, _mm512_loadu_pd(c + q), tv, _CMP_GE_OQ), pos,
                    cnt, base);
            count[b] = cnt;
        }
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            const double *c = C + (r0 + b) * ldc;
            const std::int32_t *pos = s.pos.data() + b * stride;
            const std::ptrdiff_t cnt = count[b];
            keep[b] = cnt <= 16                ? rank_keep_avx512<2>(c, pos, cnt, n, vs[b])
                      : cnt <= FAST_CANDIDATES ? rank_keep_avx512<4>(c, pos, cnt, n, vs[b])
                                               : 0;
        }
        // The updates of the batch after all its selections: their addresses are then known
        // early, so that the loads of one point do not overtake the stores of the previous one
        // to the same entry (frequent: consecutive points share elements).
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            const double *c = C + (r0 + b) * ldc;
            const std::int32_t *pos = s.pos.data() + b * stride;
            std::uint32_t kb = keep[b];
            if (__builtin_popcount(kb) != n) {
                select_small_avx512(c, m, n, s.vals.data(), s.cand.data(), s.sel.data());
                update_selected(c, s.sel.data(), n, mins, hits);
                continue;
            }
            // min_sd(v, mu) = v < mu ? v : mu = std::min(mu, v), without a data-dependent branch.
            for (std::ptrdiff_t q = 0; q < n; ++q, kb &= kb - 1) {
                const int l = __builtin_ctz(kb);
                const std::int32_t i = pos[l];
                _mm_store_sd(mins + i, _mm_min_sd(_mm_load_sd(vs[b] + l), _mm_load_sd(mins + i)));
                ++hits[i];
            }
        }
    }
}
#pragma GCC diagnostic pop

template <>
RELUINJ_TARGET_AVX512 inline void update_avx512<double>(const double *C, std::ptrdiff_t rows,
                                                        std::ptrdiff_t ldc, std::ptrdiff_t m,
                                                        std::ptrdiff_t n,
                                                        SelectScratch<double> &s, double *mins,
                                                        std::int64_t *hits) {
    if (n <= SMALL_SELECT_N)
        update_small_avx512(C, rows, ldc, m, n, s, mins, hits);
    else
        select_update_impl<double, CandidatesAvx512>(C, rows, ldc, m, n, s, mins, hits);
}
#endif

}  // namespace mcb_detail
}  // namespace reluinj
