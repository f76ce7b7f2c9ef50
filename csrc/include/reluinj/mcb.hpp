// Most-correlated-basis (MCB) search over sample points: the kernel of Approach A of the
// maximal-bias estimation (sampled_bias / data_bias).
//
// Inputs are the *normalized* frame Wn (m, n), rows = unit frame vectors, and k points X (k, n).
// For every point x the correlations c_i = <x, Wn_i> are ordered by (c_i descending, i
// ascending); the most correlated basis J*(x) is the greedy maximum-weight basis in that order:
// the top n elements when they are linearly independent (fast path), otherwise an element is
// kept only if it raises the rank (IncrementalBasis) until n independent ones are found. For
// every i in J*(x): min_out[i] = min(min_out[i], c_i) and hits_out[i] += 1.
//
// Correlations are computed in blocks of CHUNK points by a packed, register-tiled GEMM written
// once over vec<T, I> (compiled for SSE2 and, on x86, also for AVX2+FMA and AVX-512, chosen at
// run time); no k x m matrix is ever materialized. Every correlation is the sequential sum over
// j = 0..n-1 of x_j * w_ij, so its value depends only on (x, w_i) and the instruction set, never
// on the chunk, the tile or the thread. Partial results live in per-thread buffers reduced with
// exact operations (min, integer sum): the output is bitwise identical for any n_threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "reluinj/linalg.hpp"
#include "reluinj/omp_compat.hpp"
#include "reluinj/parallel.hpp"
#include "reluinj/simd.hpp"
#include "reluinj/mcb_select.hpp"

namespace reluinj {
namespace mcb_detail {

// Points per chunk of the fixed work grid (also the height of a correlation block).
constexpr std::ptrdiff_t CHUNK = 64;
// Budget (bytes) of a correlation block that should stay in the L1 data cache.
constexpr std::ptrdiff_t BLOCK_BYTES = 24 * 1024;

// Register tile of ISA I: MR points x NR = 2 vectors of frame elements, accumulated over the
// n coordinates in the order j = 0..n-1 (the accumulators fill about half the registers).
template <class T, Isa I>
struct Tile {
    static constexpr int VW = lanes<T, I>(), NR = 2 * VW, MR = I == Isa::avx512 ? 8 : I == Isa::avx2 ? 6 : 4;
};

template <Isa I, class T>
RELUINJ_FORCE_INLINE void micro_tile(const T *xp, const T *wp, std::ptrdiff_t n, T *c, std::ptrdiff_t ldc,
                                      std::ptrdiff_t rows) {
    using V = vec<T, I>;
    constexpr int MR = Tile<T, I>::MR, NR = Tile<T, I>::NR, VW = Tile<T, I>::VW, NV = NR / VW;
    V acc[MR][NV];
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = V{};
    for (std::ptrdiff_t j = 0; j < n; ++j) {
        V w[NV];
        for (int v = 0; v < NV; ++v) w[v] = vload<V>(wp + j * NR + v * VW);
        const T *x = xp + j * MR;
        for (int r = 0; r < MR; ++r) {
            const V xr = x[r] - V{};  // broadcast (x - 0 == x exactly, so it folds)
            for (int v = 0; v < NV; ++v) acc[r][v] += xr * w[v];
        }
    }
    // A loop of constant length (r < rows tested inside) is unrolled, so acc stays in registers.
    for (int r = 0; r < MR; ++r)
        if (r < rows)
            for (int v = 0; v < NV; ++v) vstore(c + r * ldc + v * VW, acc[r][v]);
}

// Wp = Wn packed in panels of NR rows: Wp[(p * n + j) * NR + t] = Wn[p * NR + t][j] (zero
// padding beyond m). Size m_pad * n with m_pad = ceil(m / NR) * NR.
template <class T, int NR>
void pack_frame(const T *Wn, std::ptrdiff_t m, std::ptrdiff_t n, std::vector<T> &Wp) {
    const std::ptrdiff_t panels = (m + NR - 1) / NR;
    Wp.assign(panels * NR * n, T(0));
    for (std::ptrdiff_t p = 0; p < panels; ++p)
        for (std::ptrdiff_t t = 0; t < NR && p * NR + t < m; ++t)
            for (std::ptrdiff_t j = 0; j < n; ++j) Wp[(p * n + j) * NR + t] = Wn[(p * NR + t) * n + j];
}

// C (rows x m_pad, row-major) = X (rows x n) @ Wn.T, from the packed frame. xbuf holds
// ceil(rows / MR) * MR * n entries. Returns false (computing nothing) unless every |x_j| <=
// x_limit, which rejects NaN/inf and, with x_limit from CorrelationEngine, any overflow: by
// Cauchy-Schwarz every partial sum is at most sqrt(n) max|x_j| max_i ||w_i|| <= max(T) / 2.
template <Isa I, class T>
RELUINJ_FORCE_INLINE bool corr_block_impl(const T *Wp, std::ptrdiff_t m_pad, const T *X, std::ptrdiff_t rows,
                                           std::ptrdiff_t n, T x_limit, T *xbuf, T *C) {
    constexpr int MR = Tile<T, I>::MR, NR = Tile<T, I>::NR;
    // The check first, as one vectorizable pass (an integer count) over the contiguous rows.
    std::ptrdiff_t bad = 0;
    for (std::ptrdiff_t q = 0; q < rows * n; ++q) bad += !(std::abs(X[q]) <= x_limit);  // NaN, inf
    if (bad) return false;
    for (std::ptrdiff_t s0 = 0; s0 < rows; s0 += MR) {
        T *dst = xbuf + s0 * n;
        for (std::ptrdiff_t j = 0; j < n; ++j)
            for (std::ptrdiff_t r = 0; r < MR; ++r)
                dst[j * MR + r] = s0 + r < rows ? X[(s0 + r) * n + j] : T(0);
    }
    for (std::ptrdiff_t i0 = 0; i0 < m_pad; i0 += NR) {
        const T *wp = Wp + i0 * n;
        for (std::ptrdiff_t s0 = 0; s0 < rows; s0 += MR)
            micro_tile<I>(xbuf + s0 * n, wp, n, C + s0 * m_pad + i0, m_pad, rows - s0);
    }
    return true;
}

template <class T>
using BlockFn = bool (*)(const T *, std::ptrdiff_t, const T *, std::ptrdiff_t, std::ptrdiff_t, T,
                         T *, T *);

#if RELUINJ_X86
RELUINJ_VECTOR_ISA_WRAPPERS(corr_block, corr_block_impl)  // corr_block_avx2, corr_block_avx512
#endif

// The correlation engine chosen for this CPU: packed frame + block function.
template <class T>
struct CorrelationEngine {
    std::vector<T> Wp;
    std::ptrdiff_t m = 0, n = 0, m_pad = 0, mr = 1;
    BlockFn<T> block = nullptr;
    SelectFn<T> select = nullptr;  // top n of one point's correlations (same instruction set)
    UpdateFn<T> update = nullptr;  // selection + min/hit update of a block (no rank test)
    T x_limit = std::numeric_limits<T>::max();  // largest |x_j| that cannot overflow

    template <Isa I>
    void setup(const T *Wn, BlockFn<T> fn, SelectFn<T> sel_fn, UpdateFn<T> upd_fn) {
        pack_frame<T, Tile<T, I>::NR>(Wn, m, n, Wp);
        m_pad = static_cast<std::ptrdiff_t>(Wp.size()) / n;
        mr = Tile<T, I>::MR;
        block = fn;
        select = sel_fn;
        update = upd_fn;
        double wmax = 0.0;
        for (std::ptrdiff_t i = 0; i < m; ++i) wmax = std::max(wmax, std::sqrt(dot(Wn + i * n, Wn + i * n, n)));
        const double tmax = static_cast<double>(std::numeric_limits<T>::max());
        if (wmax > 0.0) x_limit = static_cast<T>(std::min(tmax, tmax / (2.0 * std::sqrt(double(n)) * wmax)));
    }

    // C (rows x m_pad) = X (rows x n) @ Wn.T; false if some |x_j| > x_limit (incl. NaN/inf).
    bool compute(const T *X, std::ptrdiff_t rows, T *xbuf, T *C) const {
        return block(Wp.data(), m_pad, X, rows, n, x_limit, xbuf, C);
    }

    // isa: the instruction set to use; must not exceed active_isa() (checked by the caller).
    CorrelationEngine(const T *Wn, std::ptrdiff_t m_, std::ptrdiff_t n_, Isa isa = active_isa())
        : m(m_), n(n_) {
        require(m < (std::ptrdiff_t(1) << 31) - 8, "most correlated basis: more than 2^31 - 9 frame elements");
#if RELUINJ_X86
        switch (isa) {
            case Isa::avx512:  // (a generic lambda without captures converts to BlockFn<T>)
                setup<Isa::avx512>(Wn, [](auto... a) { return corr_block_avx512(a...); },
                                   [](auto... a) { select_top_avx512(a...); }, [](auto... a) { update_top_avx512(a...); });
                return;
            case Isa::avx2:
                setup<Isa::avx2>(Wn, [](auto... a) { return corr_block_avx2(a...); },
                                 [](auto... a) { select_top_avx2(a...); }, [](auto... a) { update_top_avx2(a...); });
                return;
            default: break;
        }
#else
        (void)isa;  // one instruction set
#endif
        setup<Isa::generic>(Wn, [](auto... a) { return corr_block_impl<Isa::generic>(a...); },
                            [](auto... a) { select_impl<Isa::generic>(a...); },
                            [](auto... a) { update_impl<Isa::generic>(a...); });
    }

    std::ptrdiff_t xbuf_size(std::ptrdiff_t rows) const { return (rows + mr - 1) / mr * mr * n; }

    // Points per correlation block of the MCB kernel: the most tiles of mr points whose
    // block (rows x m_pad) fits in BLOCK_BYTES, so that the selection reads it from L1 right
    // after the GEMM wrote it; CHUNK when even one tile does not fit (large m: the GEMM then
    // keeps each frame panel in L1 for a whole chunk instead).
    std::ptrdiff_t block_rows() const {
        const std::ptrdiff_t tiles = BLOCK_BYTES / (mr * m_pad * std::ptrdiff_t(sizeof(T)));
        return tiles < 1 ? CHUNK : std::min(CHUNK, tiles * mr);
    }
};

// Strict total order of the elements of one point: larger correlation first, then smaller index.
template <class T>
struct ByCorrelation {
    const T *c;
    bool operator()(std::int64_t a, std::int64_t b) const {
        return c[a] > c[b] || (c[a] == c[b] && a < b);
    }
};

// Per-thread scratch and partial result.
template <class T>
struct Workspace {
    std::vector<T> C, xbuf;
    SelectScratch<T> sc;
    std::vector<std::int64_t> order;
    std::vector<double> chol;
    IncrementalBasis basis;
    std::vector<T> min_part;
    std::vector<std::int64_t> hits_part;
    Workspace(const CorrelationEngine<T> &eng, double rank_tol)
        : C(eng.block_rows() * eng.m_pad), xbuf(eng.xbuf_size(eng.block_rows())),
          sc(eng.m, eng.n), chol((eng.n + 1) * eng.n), basis(eng.n, rank_tol),
          min_part(eng.m, std::numeric_limits<T>::infinity()), hits_part(eng.m, 0) {}
};

constexpr const char *X_ERROR =
    "X contains NaN or inf, or entries so large that the correlations overflow";

// Sufficient test that the rows sel[0..n) of Wn are independent in the sense of
// IncrementalBasis (each one's distance to the span of the previous ones > rank_tol): the
// Cholesky factor of their Gram matrix (taken from `gram` = Wn Wn^T when given, else computed)
// has pivots equal to those distances; all of them above CHOLESKY_PROOF (far above rank_tol
// and the O(n eps) rounding of the Gram entries) prove it, at about a third of the cost of the
// Gram-Schmidt test. Returns false when not proven (the caller then runs the exact test).
constexpr double CHOLESKY_PROOF = 1e-5;

template <class T>
bool independent_by_cholesky(const T *Wn, const double *gram, std::ptrdiff_t m, std::ptrdiff_t n,
                             const std::int64_t *sel, double *R) {
    for (std::ptrdiff_t i = 0; i < n; ++i)
        for (std::ptrdiff_t j = i; j < n; ++j)
            R[i * n + j] = gram ? gram[sel[i] * m + sel[j]] : dot(Wn + sel[i] * n, Wn + sel[j] * n, n);
    // Rows of Wn have unit norm (G_kk = 1 up to rounding): the relative pivot test is the
    // test on the distances.
    return cholesky_factor(R, n, CHOLESKY_PROOF * CHOLESKY_PROOF, R + n * n);
}

// J*(x) with the rank test for one point with correlations c; returns its size (n unless
// the frame is numerically rank deficient), indices in ws.sc.sel (or ws.order for the rank
// fallback). Without the rank test J*(x) is the top n: CorrelationEngine::update.
template <class T>
const std::int64_t *most_correlated_basis(const CorrelationEngine<T> &eng, const T *Wn,
                                          const double *gram, const T *c, std::ptrdiff_t m,
                                          std::ptrdiff_t n, Workspace<T> &ws,
                                          std::ptrdiff_t &size) {
    std::int64_t *sel = ws.sc.sel.data();
    eng.select(c, m, n, &ws.sc);
    size = n;
    const ByCorrelation<T> cmp{c};
    std::sort(sel, sel + n, cmp);  // the rank test goes down the ordering
    if (independent_by_cholesky(Wn, gram, m, n, sel, ws.chol.data())) return sel;
    ws.basis.reset();
    for (std::ptrdiff_t q = 0; q < n; ++q) ws.basis.try_add(Wn + sel[q] * n);
    if (ws.basis.full()) return sel;
    // Rank fallback: greedy over the full ordering (the top n are its prefix).
    ws.order.resize(m);
    for (std::ptrdiff_t i = 0; i < m; ++i) ws.order[i] = i;
    std::sort(ws.order.begin(), ws.order.end(), cmp);
    ws.basis.reset();
    std::ptrdiff_t kept = 0;
    for (std::ptrdiff_t q = 0; q < m && !ws.basis.full(); ++q)
        if (ws.basis.try_add(Wn + ws.order[q] * n)) ws.order[kept++] = ws.order[q];
    size = kept;
    return ws.order.data();
}

// Wn Wn^T for the rank test when n > 1 and m <= kGramMaxRows (linalg.hpp); empty otherwise.
template <class T>
std::vector<double> frame_gram(const T *Wn, std::ptrdiff_t m, std::ptrdiff_t n, int n_threads) {
    return n > 1 && m <= kGramMaxRows ? gram_rows(Wn, m, n, n_threads) : std::vector<double>();
}

// The points X (k, n) in chunks of CHUNK (OpenMP), each in blocks of eng.block_rows() whose
// correlations are computed into w.C; then fn(w, b0, rows) for the block of points
// [b0, b0 + rows), w the thread's Workspace. Returns the Workspaces (their partial results).
template <class T, class Fn>
std::vector<Workspace<T>> correlation_blocks(const CorrelationEngine<T> &eng, const T *X, std::ptrdiff_t k,
                                             double rank_tol, int n_threads, Fn fn) {
    std::vector<Workspace<T>> ws;
    ws.reserve(n_threads);
    for (int t = 0; t < n_threads; ++t) ws.emplace_back(eng, rank_tol);
    const std::ptrdiff_t block = eng.block_rows();
    parallel_chunks(k, CHUNK, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        Workspace<T> &w = ws[reluinj_thread_num()];
        for (std::ptrdiff_t b0 = b; b0 < e; b0 += block) {
            const std::ptrdiff_t rows = std::min(block, e - b0);
            if (!eng.compute(X + b0 * eng.n, rows, w.xbuf.data(), w.C.data())) throw std::invalid_argument(X_ERROR);
            fn(w, b0, rows);
        }
    });
    return ws;
}

}  // namespace mcb_detail

// Partial Approach-A result over the points X (k, n) for the normalized frame Wn (m, n):
// min_out[i] = min over points with i in J*(x) of <x, Wn_i> (+inf if none), hits_out[i] =
// number of such points. Requires m >= n >= 1; X must be finite (std::invalid_argument).
// isa_code as in most_correlated_basis_correlations (-1: this CPU's best; others for tests).
template <class T>
void most_correlated_basis_partial(const T *Wn, const T *X, std::ptrdiff_t m, std::ptrdiff_t n,
                                   std::ptrdiff_t k, bool check_rank, double rank_tol,
                                   int n_threads, T *min_out, std::int64_t *hits_out,
                                   int isa_code = -1) {
    using namespace mcb_detail;
    require(n >= 1 && m >= n, "most_correlated_basis_partial: need m >= n >= 1");
    clamp_threads(n_threads);
    require(isa_code >= -1 && isa_code <= static_cast<int>(active_isa()),
            "isa not supported by this CPU");
    const CorrelationEngine<T> eng(Wn, m, n, isa_code < 0 ? active_isa() : static_cast<Isa>(isa_code));
    const std::vector<double> gram = check_rank ? frame_gram(Wn, m, n, n_threads) : std::vector<double>();
    const auto ws = correlation_blocks(eng, X, k, rank_tol, n_threads, [&](Workspace<T> &w, std::ptrdiff_t, std::ptrdiff_t rows) {
        if (!check_rank) {
            eng.update(w.C.data(), rows, eng.m_pad, m, n, &w.sc, w.min_part.data(), w.hits_part.data());
            return;
        }
        for (std::ptrdiff_t s = 0; s < rows; ++s) {
            const T *c = w.C.data() + s * eng.m_pad;
            std::ptrdiff_t size = 0;
            const std::int64_t *J = most_correlated_basis(eng, Wn, gram.empty() ? nullptr : gram.data(), c, m, n, w, size);
            update_selected(c, J, size, w.min_part.data(), w.hits_part.data());
        }
    });
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        T v = std::numeric_limits<T>::infinity();
        std::int64_t h = 0;
        for (const auto &w : ws) {
            v = std::min(v, w.min_part[i]);
            h += w.hits_part[i];
        }
        min_out[i] = v;
        hits_out[i] = h;
    }
}

// The correlations C (k, m) = X @ Wn.T exactly as the MCB kernel computes them (same
// engine, same rounding); used to test the selection logic against a brute force and each
// instruction-set path (isa_code 0 generic, 1 avx2, 2 avx512, -1 this CPU's best).
template <class T>
void most_correlated_basis_correlations(const T *Wn, const T *X, std::ptrdiff_t m,
                                        std::ptrdiff_t n, std::ptrdiff_t k, int isa_code,
                                        int n_threads, T *C_out) {
    using namespace mcb_detail;
    require(n >= 1 && m >= 1, "most_correlated_basis_correlations: need m, n >= 1");
    clamp_threads(n_threads);
    const int best = static_cast<int>(active_isa());
    require(isa_code >= -1 && isa_code <= best, "isa not supported by this CPU");
    const CorrelationEngine<T> eng(Wn, m, n, isa_code < 0 ? active_isa() : static_cast<Isa>(isa_code));
    std::vector<std::vector<T>> Cbuf(n_threads, std::vector<T>(CHUNK * eng.m_pad));
    std::vector<std::vector<T>> xbuf(n_threads, std::vector<T>(eng.xbuf_size(CHUNK)));
    parallel_chunks(k, CHUNK, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        const int t = reluinj_thread_num();
        if (!eng.compute(X + b * n, e - b, xbuf[t].data(), Cbuf[t].data()))
            throw std::invalid_argument(X_ERROR);
        for (std::ptrdiff_t s = b; s < e; ++s)
            std::copy(Cbuf[t].data() + (s - b) * eng.m_pad, Cbuf[t].data() + (s - b) * eng.m_pad + m,
                      C_out + s * m);
    });
}

// Name of the instruction set the correlation engine uses on this CPU.
inline const char *most_correlated_basis_isa() { return isa_name(active_isa()); }


// The most correlated basis J*(x) of every point (rows of X), exactly as
// most_correlated_basis_partial selects it with the rank test: J_out (k, n) holds the indices
// in correlation order (c descending, index ascending), padded with -1 when the frame is
// numerically rank deficient at x; size_out[s] = |J*(x_s)|. Bitwise independent of n_threads.
template <class T>
void most_correlated_basis_sets(const T *Wn, const T *X, std::ptrdiff_t m, std::ptrdiff_t n,
                                std::ptrdiff_t k, double rank_tol, int n_threads,
                                std::int64_t *J_out, std::int64_t *size_out) {
    using namespace mcb_detail;
    require(n >= 1 && m >= n, "most_correlated_basis_sets: need m >= n >= 1");
    clamp_threads(n_threads);
    const CorrelationEngine<T> eng(Wn, m, n, active_isa());
    const std::vector<double> gram = frame_gram(Wn, m, n, n_threads);
    correlation_blocks(eng, X, k, rank_tol, n_threads, [&](Workspace<T> &w, std::ptrdiff_t b0, std::ptrdiff_t rows) {
        for (std::ptrdiff_t s = 0; s < rows; ++s) {
            const T *c = w.C.data() + s * eng.m_pad;
            std::ptrdiff_t size = 0;
            const std::int64_t *J = most_correlated_basis(eng, Wn, gram.empty() ? nullptr : gram.data(), c, m, n, w, size);
            std::int64_t *out = J_out + (b0 + s) * n;
            for (std::ptrdiff_t q = 0; q < n; ++q) out[q] = q < size ? J[q] : -1;
            size_out[b0 + s] = size;
        }
    });
}

}  // namespace reluinj
