// The dual (least-squares) reconstruction of a group of samples at once, one per lane of a
// vector register (eight with AVX-512, four with AVX2): for small n the per-sample cost is
// dominated by latency-bound n x n Cholesky work and call overhead rather than by arithmetic,
// which the lanes hide; for large n each row of W is read once per group, not once per sample.
//
// For a group of up to L outputs y_s (lanes s), with a_i = [y_si > 0] and b_si = y_si + alpha_i:
//   1. y is transposed into lane layout (one vector per output row i) and checked (every entry
//      finite and >= 0; the caller reports the batch as invalid otherwise);
//   2. G_s = sum_i a_si w_i w_i^T: for n <= kMaxN from the pair table P (packed upper triangle
//      of w_i w_i^T) by masked additions of broadcast table entries, rows in increasing order;
//      for larger n by the caller's per-sample SYRK; r_s = sum_i a_si b_si w_i from the rows;
//   3. Cholesky G_s = R_s^T R_s in the lanes (the pivot test L_kk^2 > tol G_kk of the per-sample
//      kernel, lane by lane) and x_s = G_s^{-1} r_s;
//   4. one step of iterative refinement, x_s += G_s^{-1} sum_i a_si (b_si - <w_i, x_s>) w_i;
//   5. the output residual ||ReLU(W x_s - alpha) - y_s||_2.
// Every lane executes the same operation sequence on its own sample only, so each result
// depends on its sample alone (not on the lane, the group, the chunk or the thread). Lanes whose
// pivot test fails (including samples with fewer than n active rows) are left to the caller's
// per-sample fallback. Written once over the vector type; compiled for AVX2 and AVX-512 by
// RELUINJ_WIDE_ISA_DISPATCH (simd.hpp). With two doubles per vector (SSE2) the per-sample path
// of reconstruct.hpp is faster, and is used instead.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "reluinj/linalg.hpp"
#include "reluinj/simd.hpp"

namespace reluinj {
namespace dual_lanes {

constexpr int kMaxN = 16;     // largest n with a lane kernel
constexpr int kMaxPass = 24;  // accumulators per pass over the pair table

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

// Lane l of a vector holds sample l of the group: L = lanes<double, I>() samples per group.
template <Isa I>
using V = vec<double, I>;
template <Isa I>
using M = vec<std::int64_t, I>;  // lane masks (-1 true, 0 false)

// Per-thread scratch of one group: outputs in lane layout (m rows of L doubles) and the
// active-lane mask of every row (a std::vector<M> would drop M's alignment).
template <Isa I>
struct Workspace {
    static constexpr int L = lanes<double, I>();
    explicit Workspace(std::ptrdiff_t m) : yt(m * L), active(m * L) {}
    RELUINJ_FORCE_INLINE V<I> y(std::ptrdiff_t i) const { return vload<V<I>>(yt.data() + i * L); }
    RELUINJ_FORCE_INLINE M<I> on(std::ptrdiff_t i) const { return vload<M<I>>(active.data() + i * L); }
    std::vector<double> yt;
    std::vector<std::int64_t> active;
};

// L consecutive entries at p, as doubles.
template <Isa I, class T>
RELUINJ_FORCE_INLINE V<I> load_as_double(const T *p) {
    if constexpr (std::is_same<T, double>::value) {
        return vload<V<I>>(p);
    } else {
        using F = typename SimdVec<float, 4 * lanes<double, I>()>::type;
        return __builtin_convertvector(vload<F>(p), V<I>);
    }
}

// The L x L block v[r][l] transposed in place (L = 4 or 8): one butterfly stage per bit H of
// the index, swapping the blocks (r, l) and (r + H, l - H) for r & H == 0, l & H != 0.
template <Isa I, int H, std::size_t... Ls>
RELUINJ_FORCE_INLINE void transpose_stage(V<I> *v, std::index_sequence<Ls...>) {
    constexpr int L = int(sizeof...(Ls));
    for (int r = 0; r < L; ++r)
        if (!(r & H)) {
            const V<I> a = v[r], b = v[r + H];
            v[r] = shuffle2<(int(Ls) & H ? int(Ls) - H + L : int(Ls))...>(a, b);
            v[r + H] = shuffle2<(int(Ls) & H ? int(Ls) + L : int(Ls) + H)...>(a, b);
        }
}
template <Isa I>
RELUINJ_FORCE_INLINE void transpose_block(V<I> *v) {
    constexpr int L = lanes<double, I>();
    static_assert(L == 4 || L == 8, "lane groups of four or eight samples");
    transpose_stage<I, 1>(v, std::make_index_sequence<L>{});
    transpose_stage<I, 2>(v, std::make_index_sequence<L>{});
    if constexpr (L == 8) transpose_stage<I, 4>(v, std::make_index_sequence<L>{});
}

// Rows i of the `count` outputs Y[s * m + i] (s < count; other lanes 0) in lane layout (blocks
// of L rows transposed in registers), their active masks (y > 0), and whether all entries are
// finite and non-negative. The outputs of the next group (`next_count` at `next`) are
// prefetched along the way: an output of a small layer is only a few dozen cache lines long,
// too short for the hardware prefetcher to ramp up.
template <Isa I, class T>
RELUINJ_FORCE_INLINE bool load_group(const T *Y, std::ptrdiff_t m, int count, const T *next, int next_count,
                                     Workspace<I> &ws) {
    constexpr int L = lanes<double, I>();
    constexpr std::ptrdiff_t per_line = 64 / sizeof(T);
    double *yt = ws.yt.data();
    std::ptrdiff_t i0 = 0;
    for (; i0 + L <= m; i0 += L) {
        if (i0 % per_line < L)
            for (int s = 0; s < next_count; ++s) __builtin_prefetch(next + s * m + i0, 0, 3);
        V<I> v[L];
        for (int s = 0; s < L; ++s) v[s] = s < count ? load_as_double<I>(Y + s * m + i0) : V<I>{};
        transpose_block<I>(v);
        for (int r = 0; r < L; ++r) vstore(yt + (i0 + r) * L, v[r]);
    }
    for (std::ptrdiff_t i = i0; i < m; ++i)
        for (int s = 0; s < L; ++s) yt[i * L + s] = s < count ? double(Y[s * m + i]) : 0.0;
    // Valid iff no entry is below 0 and the sum of v * 0 (NaN for a NaN or infinite v) is 0.
    // (Written with < and arithmetic only: GCC 12 lowers a vector >= lane by lane.)
    V<I> lo = {}, nan = {};
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const V<I> v = ws.y(i);
        lo = v < lo ? v : lo;
        nan += v * 0.0;
        vstore(ws.active.data() + i * L, M<I>(v > 0.0));
    }
    return reduce_add(nan) == 0.0 && !(mask_bits(lo < 0.0));
}

// out[v] = sum over rows i (in order) of P[i * np2 + q0 + v] in the lanes active at row i.
template <Isa I, int Width>
RELUINJ_FORCE_INLINE void pair_pass(const double *P, std::ptrdiff_t np2, std::ptrdiff_t m, const Workspace<I> &ws,
                                    std::ptrdiff_t q0, double *out) {
    V<I> acc[Width];
#pragma GCC unroll 24
    for (int v = 0; v < Width; ++v) acc[v] = V<I>{};
    const double *p = P + q0;
    for (std::ptrdiff_t i = 0; i < m; ++i, p += np2) {
        const M<I> k = ws.on(i);
#pragma GCC unroll 24
        for (int v = 0; v < Width; ++v) acc[v] = k ? acc[v] + p[v] : acc[v];
    }
#pragma GCC unroll 24
    for (int v = 0; v < Width; ++v) vstore(out + (q0 + v) * lanes<double, I>(), acc[v]);
}

// The Q packed Gram entries of every lane, in passes of at most kMaxPass table columns.
template <Isa I, int Q>
RELUINJ_FORCE_INLINE void gram_lanes(const double *P, std::ptrdiff_t np2, std::ptrdiff_t m, const Workspace<I> &ws,
                                     double *G) {
    constexpr int passes = (Q + kMaxPass - 1) / kMaxPass, width = (Q + passes - 1) / passes;
    for (int p = 0; p + 1 < passes; ++p) pair_pass<I, width>(P, np2, m, ws, p * width, G);
    pair_pass<I, Q - (passes - 1) * width>(P, np2, m, ws, (passes - 1) * width, G);
}

// The packed upper triangles G (n(n+1)/2 x L: entries (j, c), j <= c, in row-major order) in the
// form cholesky_rows (linalg.hpp) reads: entry (j, c) at row(j) + c * L.
template <Isa I, class Size>
RELUINJ_FORCE_INLINE auto packed_rows(double *G, Size n) {
    return [=](std::ptrdiff_t j) { return G + (j * n - j * (j + 1) / 2) * lanes<double, I>(); };
}

// In-place Cholesky of the packed Gram matrices in the lanes of `todo` (bit l = lane l), by the
// Cholesky of linalg.hpp (the operations of the per-sample factor, lane by lane); inv (n x L)
// receives 1 / R_kk. Returns the lanes whose pivots all pass (the others hold meaningless
// values). `Size` is std::ptrdiff_t or a std::integral_constant (the compile-time n).
template <Isa I, class Size>
RELUINJ_FORCE_INLINE unsigned cholesky_lanes(double *G, Size n, double tol, unsigned todo, double *inv) {
    M<I> ok = {};
    for (int l = 0; l < lanes<double, I>(); ++l) ok[l] = (todo >> l & 1u) ? -1 : 0;
    return mask_bits(cholesky_rows<V<I>>(packed_rows<I>(G, n), n, tol, ok, inv));
}

// (R^T R) v = v in place for the factors of cholesky_lanes (v: n x L).
template <Isa I, class Size>
RELUINJ_FORCE_INLINE void solve_lanes(double *R, const double *inv, Size n, double *v) {
    cholesky_solve_rows<V<I>>(packed_rows<I>(R, n), inv, n, v);
}

// c[r] = <w_{i+r}, x> for r < R in every lane: one FMA chain over j per row.
template <Isa I, int R, class Size>
RELUINJ_FORCE_INLINE void rows_times_lanes(const double *W, Size n, std::ptrdiff_t i, const double *x, V<I> *c) {
    constexpr int L = lanes<double, I>();
    for (int r = 0; r < R; ++r) c[r] = V<I>{};
    const double *w = W + i * n;
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        const V<I> xj = vload<V<I>>(x + j * L);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) c[r] += w[r * n + j] * xj;
    }
}

// g += sum over rows i + r (r < R, in order) of a_i (b_i - <w_i, x>) w_i; without x (nullptr),
// of a_i b_i w_i.
template <Isa I, int R, class Size>
RELUINJ_FORCE_INLINE void rhs_block(const double *W, const double *alpha, Size n, std::ptrdiff_t i,
                                    const Workspace<I> &ws, const double *x, double *g) {
    constexpr int L = lanes<double, I>();
    V<I> c[R] = {};  // <w_i, x>, then the coefficients of the rows
    if (x) rows_times_lanes<I, R>(W, n, i, x, c);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) c[r] = ws.on(i + r) ? (ws.y(i + r) + alpha[i + r]) - c[r] : V<I>{};
    const double *w = W + i * n;
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        V<I> acc = vload<V<I>>(g + j * L);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc += c[r] * w[r * n + j];
        vstore(g + j * L, acc);
    }
}

// g = sum_i a_i (b_i - <w_i, x>) w_i (per entry one FMA chain over the rows in order), in
// blocks of 2L rows: W x of a block, then its rows added to g while they are in L1. With
// x = nullptr, g = sum_i a_i b_i w_i (the first right-hand side).
template <Isa I, class Size>
RELUINJ_FORCE_INLINE void rhs_lanes(const double *W, const double *alpha, std::ptrdiff_t m, Size n,
                                    const Workspace<I> &ws, const double *x, double *g) {
    constexpr int R = 2 * lanes<double, I>();
    std::fill(g, g + n * lanes<double, I>(), 0.0);
    std::ptrdiff_t i = 0;
    for (; i + R <= m; i += R) rhs_block<I, R>(W, alpha, n, i, ws, x, g);
    for (; i < m; ++i) rhs_block<I, 1>(W, alpha, n, i, ws, x, g);
}

// ||ReLU(W x_s - alpha) - y_s||_2 in every lane s (rows summed in order).
template <Isa I, class Size>
RELUINJ_FORCE_INLINE V<I> residual_lanes(const double *W, const double *alpha, std::ptrdiff_t m, Size n,
                                         const Workspace<I> &ws, const double *x) {
    constexpr int R = 2 * lanes<double, I>();
    V<I> s = {}, c[R];
    auto add = [&](std::ptrdiff_t i0, int rows) {
        for (int r = 0; r < rows; ++r) {
            const V<I> z = c[r] - alpha[i0 + r];
            const V<I> d = (z > 0.0 ? z : V<I>{}) - ws.y(i0 + r);
            s += d * d;
        }
    };
    std::ptrdiff_t i = 0;
    for (; i + R <= m; i += R) {
        rows_times_lanes<I, R>(W, n, i, x, c);
        add(i, R);
    }
    for (; i < m; ++i) {
        rows_times_lanes<I, 1>(W, n, i, x, c);
        add(i, 1);
    }
    return elem_sqrt(s);
}

// Samples [b, e) of Y (m outputs each), L at a time. The Gram matrices: for a compile-time
// n = N <= kMaxN (Size = std::integral_constant) from the pair table P in lanes; otherwise
// gram(s, GL, lane, L) stores the Gram matrix of sample s (ActiveSolver's per-sample SYRK) in a
// lane of GL and returns false when it has fewer than n active rows. Then in lanes the Cholesky
// factors, the first right-hand sides W_I^T b and solves, the refinement step and the output
// residuals. Lanes whose pivot test fails go to fallback(s). Returns whether every output was
// valid.
template <Isa I, class Size, class T, class Gram, class Fallback>
RELUINJ_FORCE_INLINE bool solve_groups_impl(Size n, const double *W, const double *P, const double *alpha,
                                            const T *Y, T *X, std::uint8_t *injective, double *residual,
                                            std::ptrdiff_t m, std::ptrdiff_t b, std::ptrdiff_t e, double tol,
                                            Gram gram, Fallback fallback) {
    constexpr int L = lanes<double, I>();
    constexpr bool pairs = !std::is_same<Size, std::ptrdiff_t>::value;
    Workspace<I> ws(m);
    std::vector<double> GL(n * (n + 1) / 2 * L), inv(n * L), x(n * L), g(n * L);
    bool valid = true;
    for (std::ptrdiff_t s0 = b; s0 < e; s0 += L) {
        const int count = int(std::min<std::ptrdiff_t>(L, e - s0));
        const int next = int(std::max<std::ptrdiff_t>(0, std::min<std::ptrdiff_t>(L, e - s0 - count)));
        valid &= load_group<I>(Y + s0 * m, m, count, Y + (s0 + count) * m, next, ws);
        unsigned stored = (1u << count) - 1u;
        if constexpr (pairs) {
            gram_lanes<I, Size::value * (Size::value + 1) / 2>(P, packed_pairs(n), m, ws, GL.data());
        } else {
            for (int l = 0; l < count; ++l)
                if (!gram(s0 + l, GL.data(), l, L)) stored &= ~(1u << l);
        }
        const unsigned solved = stored ? cholesky_lanes<I>(GL.data(), n, tol, stored, inv.data()) : 0u;
        for (int l = 0; l < count; ++l)
            if (!(solved >> l & 1u)) fallback(s0 + l);
        if (!solved) continue;
        rhs_lanes<I>(W, alpha, m, n, ws, nullptr, x.data());
        solve_lanes<I>(GL.data(), inv.data(), n, x.data());
        rhs_lanes<I>(W, alpha, m, n, ws, x.data(), g.data());
        solve_lanes<I>(GL.data(), inv.data(), n, g.data());
        for (std::ptrdiff_t q = 0; q < n * L; ++q) x[q] += g[q];
        const V<I> res = residual_lanes<I>(W, alpha, m, n, ws, x.data());
        for (int l = 0; l < count; ++l) {
            if (!(solved >> l & 1u)) continue;
            const std::ptrdiff_t s = s0 + l;
            injective[s] = 1;
            residual[s] = res[l];
            for (std::ptrdiff_t j = 0; j < n; ++j) X[s * n + j] = T(x[j * L + l]);
        }
    }
    return valid;
}

RELUINJ_WIDE_ISA_DISPATCH(solve_groups, solve_groups_impl)

// solve_groups for a runtime n: a compile-time n (and the pair table) for n <= kMaxN.
template <int... N, class... A>
bool solve_groups_for(std::ptrdiff_t n, std::integer_sequence<int, N...>, A... a) {
    if (n > kMaxN) return solve_groups(n, a...);
    bool valid = true;
    ((n == N + 1 ? (valid = solve_groups(std::integral_constant<std::ptrdiff_t, N + 1>{}, a...), 0) : 0), ...);
    return valid;
}
template <class... A>
bool solve_lane_groups(std::ptrdiff_t n, A... a) {
    return solve_groups_for(n, std::make_integer_sequence<int, kMaxN>{}, a...);
}

}  // namespace dual_lanes
}  // namespace reluinj
