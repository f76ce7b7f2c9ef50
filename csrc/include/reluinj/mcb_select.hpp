// Selection of the most correlated basis candidates for the MCB kernel (mcb.hpp): for each
// point, the top n correlations in the order ByCorrelation (c descending, index ascending), and
// the update of the per-element minima and hit counts. Written once over vec<T, I> and
// compiled per ISA by the wrappers at the end.
//
// The correlations c[0..m) of a point are read in whole vectors of L = lanes<T, I>() entries:
// c must have ceil(m / L) * L readable entries (the rows of a correlation block are padded to
// m_pad, a multiple of the tile width 2 L); the lanes at and beyond m are masked. All
// correlations are finite (mcb.hpp checks the points).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "reluinj/simd.hpp"

namespace reluinj {
namespace mcb_detail {

constexpr std::ptrdiff_t SELECT_GROUPS = 16;    // groups (i mod 16) of the small selection
constexpr std::ptrdiff_t SMALL_SELECT_N = 16;   // n up to which the small selection is used
constexpr std::ptrdiff_t UPDATE_BATCH = 8;      // points per phase of update_small
constexpr std::ptrdiff_t FAST_CANDIDATES = 32;  // most candidates ranked by rank_candidates
constexpr int TOP_N_MAX_BISECTIONS = 64;

// Per-thread scratch: vals and cand for one point, pos (UPDATE_BATCH lists) for a batch, each
// list of stride = m + FAST_CANDIDATES entries (the listing writes 8 past its count, rank_keep
// reads FAST_CANDIDATES); sel (n) for the result.
template <class T>
struct SelectScratch {
    std::ptrdiff_t stride;
    std::vector<T> vals;
    std::vector<std::int32_t> cand, pos;
    std::vector<std::int64_t> sel;
    SelectScratch(std::ptrdiff_t m, std::ptrdiff_t n)
        : stride(m + FAST_CANDIDATES), vals(stride), cand(stride), pos(UPDATE_BATCH * stride), sel(n) {}
};

template <class T>
constexpr T ninf() { return -std::numeric_limits<T>::infinity(); }
template <class V>
RELUINJ_FORCE_INLINE V vmax(V a, V b) { return a > b ? a : b; }
template <class V>
RELUINJ_FORCE_INLINE V vmin(V a, V b) { return a < b ? a : b; }

// LANES.lane[b] = the positions of the set bits of the byte b in increasing order (then
// zeros): turns 8 bits of a comparison mask into candidate positions without branches.
struct LaneTable {
    alignas(32) std::int32_t lane[256][8];
};
constexpr LaneTable make_lane_table() {
    LaneTable t{};
    for (int b = 0; b < 256; ++b)
        for (int l = 0, r = 0; l < 8; ++l)
            if ((b >> l) & 1) t.lane[b][r++] = l;
    return t;
}
inline constexpr LaneTable LANES = make_lane_table();

// The positions q < m with c_q >= t in increasing order, written to pos (m + 8 entries);
// returns how many. Steps of W entries (whole bytes of mask bits: 8, or one vector when wider).
template <Isa I, class T>
RELUINJ_FORCE_INLINE std::ptrdiff_t list_ge(const T *c, std::ptrdiff_t m, T t, std::int32_t *pos) {
    using V = vec<T, I>;
    using P = typename SimdVec<std::int32_t, 32>::type;
    constexpr int L = lanes<T, I>(), W = L < 8 ? 8 : L;
    const V tv = vsplat<V>(t);
    std::ptrdiff_t cnt = 0;
    P base = {};
    const auto emit = [&](unsigned bits) {
        for (int o = 0; o < W; o += 8) {
            const unsigned b = (bits >> o) & 0xFFu;
            vstore(pos + cnt, vload<P>(LANES.lane[b]) + base);
            cnt += __builtin_popcount(b);
            base += 8;
        }
    };
    std::ptrdiff_t q = 0;
    for (; q + W <= m; q += W) {
        unsigned bits = 0;
        for (int k = 0; k < W / L; ++k) bits |= mask_bits(vload<V>(c + q + k * L) >= tv) << (k * L);
        emit(bits);
    }
    if (q < m) {
        unsigned bits = 0;
        for (int k = 0; k < W / L && q + k * L < m; ++k)
            bits |= mask_bits(keep_first(vload<V>(c + q + k * L), m - q - k * L, ninf<T>()) >= tv) << (k * L);
        emit(bits);
    }
    return cnt;
}

// #{q < m : c_q >= t}.
template <Isa I, class T>
RELUINJ_FORCE_INLINE std::ptrdiff_t count_ge(const T *c, std::ptrdiff_t m, T t) {
    using V = vec<T, I>;
    constexpr int L = lanes<T, I>();
    const V tv = vsplat<V>(t);
    vmask<T, I> acc = {};
    for (std::ptrdiff_t q = 0; q < m; q += L) {
        V v = vload<V>(c + q);
        if (m - q < L) v = keep_first(v, m - q, ninf<T>());
        acc -= v >= tv;  // true lanes are -1
    }
    std::ptrdiff_t r = 0;
    for (int l = 0; l < L; ++l) r += acc[l];
    return r;
}

// lo = min, hi = max of c[0..m) (m >= 1).
template <Isa I, class T>
RELUINJ_FORCE_INLINE void value_range(const T *c, std::ptrdiff_t m, T &lo, T &hi) {
    using V = vec<T, I>;
    constexpr int L = lanes<T, I>();
    V l = vsplat<V>(c[0]), h = l;
    for (std::ptrdiff_t q = 0; q < m; q += L) {
        V v = vload<V>(c + q);
        if (m - q < L) v = keep_first(v, m - q, c[0]);
        l = vmin(l, v);
        h = vmax(h, v);
    }
    lo = l[0], hi = h[0];
    for (int r = 1; r < L; ++r) lo = std::min(lo, T(l[r])), hi = std::max(hi, T(h[r]));
}

// The 16 group maxima g[j] = max {c_i : i mod 16 == j} (-inf for an empty group), in two
// independent chains per vector.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void group_maxima(const T *c, std::ptrdiff_t m, T *g) {
    using V = vec<T, I>;
    constexpr int L = lanes<T, I>(), NG = SELECT_GROUPS / L;
    static_assert(NG >= 1 && NG * L == SELECT_GROUPS, "whole vectors per group panel");
    V a[NG], b[NG];
    for (int k = 0; k < NG; ++k) a[k] = b[k] = vsplat<V>(ninf<T>());
    std::ptrdiff_t q = 0;
    for (; q + 2 * SELECT_GROUPS <= m; q += 2 * SELECT_GROUPS)
        for (int k = 0; k < NG; ++k) {
            a[k] = vmax(a[k], vload<V>(c + q + k * L));
            b[k] = vmax(b[k], vload<V>(c + q + SELECT_GROUPS + k * L));
        }
    for (; q < m; q += SELECT_GROUPS)
        for (int k = 0; k < NG && q + k * L < m; ++k)
            a[k] = vmax(a[k], keep_first(vload<V>(c + q + k * L), m - q - k * L, ninf<T>()));
    for (int k = 0; k < NG; ++k) vstore(g + k * L, vmax(a[k], b[k]));
}

// {c[idx[0]], ..., c[idx[L - 1]]}.
template <class V, class T, std::size_t... Ix>
RELUINJ_FORCE_INLINE V gather_impl(const T *c, const std::int32_t *idx, std::index_sequence<Ix...>) {
    return V{c[idx[Ix]]...};
}
template <class V, class T>
RELUINJ_FORCE_INLINE V gather(const T *c, const std::int32_t *idx) {
    return gather_impl<V>(c, idx, std::make_index_sequence<sizeof(V) / sizeof(T)>{});
}

// For the count (n <= count <= NC) candidates at positions pos[0..count) of c (pos readable up
// to NC): their values to vs[0..NC) (-inf beyond count); returns the mask (bit q) of the
// candidates q with r_q = #{p : c_p > c_q} < n. An element of the top n has fewer than n larger
// elements, so the kept ones contain the top n, and exactly n kept means they are the top n;
// more happens only with ties at the n-th value. The -inf padding is never kept (r >= count).
template <Isa I, int NC, class T>
RELUINJ_FORCE_INLINE std::uint32_t rank_keep(const T *c, const std::int32_t *pos, std::ptrdiff_t count,
                                             std::ptrdiff_t n, T *vs) {
    using V = vec<T, I>;
    using M = vmask<T, I>;
    constexpr int L = lanes<T, I>(), NV = NC / L;
    static_assert(NV * L == NC && NC <= 32, "whole vectors of candidates, bits of a mask");
    V v[NV];
    M r[NV];
    for (int h = 0; h < NV; ++h) {
        v[h] = keep_first(gather<V>(c, pos + h * L), count - h * L, ninf<T>());
        vstore(vs + h * L, v[h]);
        r[h] = M{};
    }
    // A fixed number of rounds (the -inf padding counts for nothing): no branch to mispredict.
#pragma GCC unroll 4
    for (int p = 0; p < NC; ++p) {
        const V b = vsplat<V>(vs[p]);
        for (int h = 0; h < NV; ++h) r[h] = b > v[h] ? r[h] + 1 : r[h];  // (a masked add)
    }
    std::uint32_t keep = 0;
    for (int h = 0; h < NV; ++h) keep |= std::uint32_t(mask_bits(r[h] < vsplat<M>(n))) << (h * L);
    return keep;
}

// rank_keep for the count candidates listed at pos (count + FAST_CANDIDATES entries; the ones
// past count are zeroed here), or 0 when there are more than FAST_CANDIDATES of them.
template <Isa I, class T>
RELUINJ_FORCE_INLINE std::uint32_t rank_candidates(const T *c, std::int32_t *pos, std::ptrdiff_t count,
                                                   std::ptrdiff_t n, T *vs) {
    if (count > FAST_CANDIDATES) return 0;
    for (std::ptrdiff_t k = 0; k < FAST_CANDIDATES; ++k) pos[count + k] = 0;
    return count <= 16 ? rank_keep<I, 16>(c, pos, count, n, vs) : rank_keep<I, FAST_CANDIDATES>(c, pos, count, n, vs);
}

// The threshold of the small selection from the 16 group maxima g: the largest g_k with
// #{j : g_j >= g_k} >= n. It is reached by n distinct elements, so it is <= the n-th largest
// value and {i : c_i >= t} contains the whole top n.
template <Isa I, class T>
RELUINJ_FORCE_INLINE T group_threshold(const T *g, std::ptrdiff_t n) {
    using V = vec<T, I>;
    using M = vmask<T, I>;
    constexpr int L = lanes<T, I>(), NG = SELECT_GROUPS / L;
    V gv[NG], t = vsplat<V>(ninf<T>());
    M cnt[NG];
    for (int k = 0; k < NG; ++k) gv[k] = vload<V>(g + k * L), cnt[k] = M{};
    for (std::ptrdiff_t j = 0; j < SELECT_GROUPS; ++j) {
        const V b = vsplat<V>(g[j]);
        for (int k = 0; k < NG; ++k) cnt[k] -= b >= gv[k];
    }
    for (int k = 0; k < NG; ++k) t = vmax(t, cnt[k] >= vsplat<M>(n) ? gv[k] : vsplat<V>(ninf<T>()));
    T r = t[0];
    for (int l = 1; l < L; ++l) r = std::max(r, T(t[l]));
    return r;
}

template <Isa I, class T>
RELUINJ_FORCE_INLINE void top_n(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, SelectScratch<T> &s,
                                std::int64_t *sel);

// Top n (n <= SMALL_SELECT_N) of one point, as a set written to sel: the candidates above
// group_threshold (about n + 4 for random data) ranked by rank_keep; top_n when there are more
// than FAST_CANDIDATES of them or ties at the n-th value.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void select_small(const T *c, std::ptrdiff_t m, std::ptrdiff_t n,
                                       SelectScratch<T> &s, std::int64_t *sel) {
    alignas(64) T g[SELECT_GROUPS];
    group_maxima<I>(c, m, g);
    std::int32_t *cand = s.cand.data();
    const std::ptrdiff_t count = list_ge<I>(c, m, group_threshold<I>(g, n), cand);
    std::uint32_t keep = rank_candidates<I>(c, cand, count, n, s.vals.data());
    if (__builtin_popcount(keep) != n) return top_n<I>(c, m, n, s, sel);
    for (std::ptrdiff_t q = 0; q < n; ++q, keep &= keep - 1) sel[q] = cand[__builtin_ctz(keep)];
}

// Top n (any n <= m) of one point in the order ByCorrelation, as a set written to sel.
// Bisection on the value (with interpolated steps) keeps a threshold lo with count(lo) >= n (so
// {i : c_i >= lo} holds the whole top n) until at most n + n / 4 + 8 elements reach it; those
// candidates are listed in index order, nth_element finds the n-th largest value thr, and the
// set is the values above thr, then the ties at thr in index order. Exact: the same set as a
// full sort.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void top_n(const T *c, std::ptrdiff_t m, std::ptrdiff_t n,
                                SelectScratch<T> &s, std::int64_t *sel) {
    T lo, hi;
    value_range<I>(c, m, lo, hi);
    std::ptrdiff_t cnt_lo = m;  // count(lo) >= n throughout
    std::ptrdiff_t cnt_hi = count_ge<I>(c, m, hi);
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
        const std::ptrdiff_t cm = count_ge<I>(c, m, mid);
        if (cm >= n)
            lo = mid, cnt_lo = cm;
        else
            hi = mid, cnt_hi = cm;
    }
    std::int32_t *cand = s.cand.data();
    T *vals = s.vals.data();
    const std::ptrdiff_t count = list_ge<I>(c, m, lo, cand);
    for (std::ptrdiff_t q = 0; q < count; ++q) vals[q] = c[cand[q]];
    std::nth_element(vals, vals + (n - 1), vals + count, [](T a, T b) { return a > b; });
    const T thr = vals[n - 1];
    std::ptrdiff_t cnt = 0;
    for (std::ptrdiff_t q = 0; q < count; ++q)
        if (c[cand[q]] > thr) sel[cnt++] = cand[q];
    for (std::ptrdiff_t q = 0; q < count && cnt < n; ++q)
        if (c[cand[q]] == thr) sel[cnt++] = cand[q];
}

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

// Batcher's odd-even merge sort of 16 elements: 63 compare-exchanges (lo, hi).
struct SortNetwork16 {
    static constexpr int N = 16, SIZE = 63;
    int lo[SIZE], hi[SIZE];
};
constexpr SortNetwork16 make_sort_network16() {
    SortNetwork16 net{};
    int e = 0;
    for (int p = 1; p < SortNetwork16::N; p <<= 1)
        for (int k = p; k >= 1; k >>= 1)
            for (int j = k % p; j + k < SortNetwork16::N; j += 2 * k)
                for (int i = 0; i < k && i + j + k < SortNetwork16::N; ++i)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) net.lo[e] = i + j, net.hi[e++] = i + j + k;
    return net;
}
inline constexpr SortNetwork16 SORT_NETWORK16 = make_sort_network16();

// Selection and update (no rank test) for n <= SMALL_SELECT_N of `rows` points whose
// correlations are the rows of C (stride ldc): for every i in the top n of a row c,
// mins[i] = min(mins[i], c_i) and hits[i] += 1. The work of one point is a long chain of
// dependent steps (group maxima -> threshold -> candidates -> ranks -> update), so the points
// go through each phase in batches of UPDATE_BATCH, which gives the out-of-order core
// independent work: 1. the 16 group maxima of each point; the thresholds t of select_small
// (the n-th largest maximum) of the whole batch by one sorting network on vectors of one lane
// per point; 2. the candidates {i : c_i >= t} of each point, to its own list in s.pos;
// 3. rank_candidates; 4. the updates. More than FAST_CANDIDATES candidates, or ties at the n-th
// value, fall back to top_n.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void update_small(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc,
                                       std::ptrdiff_t m, std::ptrdiff_t n, SelectScratch<T> &s,
                                       T *mins, std::int64_t *hits) {
    constexpr std::ptrdiff_t B = UPDATE_BATCH, G = SELECT_GROUPS;
    using VB = typename SimdVec<T, B * sizeof(T)>::type;  // one lane per point of a batch
    alignas(64) T gm[G][B], gb[G], t[B];
    alignas(64) T vs[B][FAST_CANDIDATES];
    std::ptrdiff_t count[B];
    std::uint32_t keep[B];
    for (std::ptrdiff_t j = 0; j < G; ++j)
        for (std::ptrdiff_t b = 0; b < B; ++b) gm[j][b] = ninf<T>();
    for (std::ptrdiff_t r0 = 0; r0 < rows; r0 += B) {
        const std::ptrdiff_t nb = std::min(B, rows - r0);
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            group_maxima<I>(C + (r0 + b) * ldc, m, gb);
            for (std::ptrdiff_t j = 0; j < G; ++j) gm[j][b] = gb[j];
        }
        VB v[G];
        for (std::ptrdiff_t j = 0; j < G; ++j) v[j] = vload<VB>(gm[j]);
#pragma GCC unroll 63
        for (int e = 0; e < SortNetwork16::SIZE; ++e) {
            const VB x = v[SORT_NETWORK16.lo[e]], y = v[SORT_NETWORK16.hi[e]];
            v[SORT_NETWORK16.lo[e]] = vmin(x, y);
            v[SORT_NETWORK16.hi[e]] = vmax(x, y);
        }
        vstore(t, v[G - n]);
        for (std::ptrdiff_t b = 0; b < nb; ++b)
            count[b] = list_ge<I>(C + (r0 + b) * ldc, m, t[b], s.pos.data() + b * s.stride);
        for (std::ptrdiff_t b = 0; b < nb; ++b)
            keep[b] = rank_candidates<I>(C + (r0 + b) * ldc, s.pos.data() + b * s.stride, count[b], n, vs[b]);
        // The updates of the batch after all its selections: their addresses are then known
        // early, so that the loads of one point do not overtake the stores of the previous one
        // to the same entry (frequent: consecutive points share elements).
        for (std::ptrdiff_t b = 0; b < nb; ++b) {
            const T *c = C + (r0 + b) * ldc;
            std::uint32_t kb = keep[b];
            if (__builtin_popcount(kb) != n) {  // (select_small would fail the same way)
                top_n<I>(c, m, n, s, s.sel.data());
                update_selected(c, s.sel.data(), n, mins, hits);
                continue;
            }
            const std::int32_t *pos = s.pos.data() + b * s.stride;
            for (std::ptrdiff_t q = 0; q < n; ++q, kb &= kb - 1) {
                const int l = __builtin_ctz(kb);
                const std::int32_t i = pos[l];
                const T x = vs[b][l], mu = mins[i];
                mins[i] = x < mu ? x : mu;
                ++hits[i];
            }
        }
    }
}

// The per-ISA entry points (wrappers below): select = the top n of one point (sel = s->sel);
// update = selection and min/hit update of a block without rank test.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void select_impl(const T *c, std::ptrdiff_t m, std::ptrdiff_t n, SelectScratch<T> *s) {
    if (n <= SMALL_SELECT_N)
        select_small<I>(c, m, n, *s, s->sel.data());
    else
        top_n<I>(c, m, n, *s, s->sel.data());
}

template <Isa I, class T>
RELUINJ_FORCE_INLINE void update_impl(const T *C, std::ptrdiff_t rows, std::ptrdiff_t ldc, std::ptrdiff_t m,
                                      std::ptrdiff_t n, SelectScratch<T> *s, T *mins, std::int64_t *hits) {
    if (n <= SMALL_SELECT_N) return update_small<I>(C, rows, ldc, m, n, *s, mins, hits);
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        top_n<I>(C + r * ldc, m, n, *s, s->sel.data());
        update_selected(C + r * ldc, s->sel.data(), n, mins, hits);
    }
}

template <class T>
using SelectFn = void (*)(const T *, std::ptrdiff_t, std::ptrdiff_t, SelectScratch<T> *);
template <class T>
using UpdateFn = void (*)(const T *, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t,
                          SelectScratch<T> *, T *, std::int64_t *);

#if RELUINJ_X86
RELUINJ_VECTOR_ISA_WRAPPERS(select_top, select_impl)  // select_top_avx2, select_top_avx512
RELUINJ_VECTOR_ISA_WRAPPERS(update_top, update_impl)  // update_top_avx2, update_top_avx512
#endif

}  // namespace mcb_detail
}  // namespace reluinj
