// Multichannel strided, dilated, grouped, zero-padded cross-correlation (a convolution layer,
// exactly torch.nn.functional.conv2d) and its adjoint (conv_transpose2d).
//
// Layouts (C order, batch first, exactly those of torch.nn.functional.conv2d):
//   x   : (B, M, H, W)        input images, M channels
//   w   : (K, M/G, kh, kw)    K filters in G groups; filter i sees channels of group i / (K/G)
//   out : (B, K, OH, OW)      OH = (H + pt + pb - dh*(kh-1) - 1) / sh + 1 (floor), OW alike
// Forward:  out[b,i,oy,ox] = sum_{m,ph,pw} w[i,m,ph,pw] * xp[b,g*M/G+m,oy*sh+ph*dh,ox*sw+pw*dw]
// Adjoint:  the transpose of the same sum, x[b, c, y, c'] gathering every term that reads it,
// where xp is x with pt/pb zero rows above/below and pl/pr zero columns left/right.
// A 1-D layer is the case H = kh = sh = dh = 1, pt = pb = 0.
// Padding is a zero-padded copy of the input (forward) or a cropped padded result (adjoint)
// around the valid kernels below; dilation and groups are offsets and work-item ranges of
// those kernels.
//
// Both kernels are direct (no im2col): a work item is a chunk of kBatch batch elements and a
// block of kBlock output rows (filters in the forward, channels in the adjoint), so no two
// items write the same memory (no atomics); the grid depends only on the shapes. Inside an item, each output row is computed in tiles
// of J contiguous positions held in registers; the stride is removed beforehand by
// splitting every source row into its `sw` phases (x[u*sw + r] -> phase r, position u), so
// the innermost loop is always a unit-stride multiply-add that the compiler vectorises.
// 2-D float32 layers with unit strides take a second kernel with AVX2 and AVX-512 (same work
// grid, same term order): the planes are flattened so that a tile group may straddle rows,
// and 8 rows x 1-3 vectors of positions stay in registers (conv_forward_flat / conv_adjoint_flat).
// The summation order of every output value is fixed by the term list (independent of the
// thread that computes it): results are bitwise identical for any n_threads. Work items
// never straddle a group.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "reluinj/parallel.hpp"
#include "reluinj/simd.hpp"

namespace reluinj {
namespace conv_detail {

constexpr std::ptrdiff_t kBlock = 8;   // output rows per work item (register blocking)
constexpr std::ptrdiff_t kBatch = 16;  // batch elements per work item (amortises packing)

template <class T>
struct TileWidth {
    static constexpr std::ptrdiff_t value = 64 / static_cast<std::ptrdiff_t>(sizeof(T));
};

// acc[(tile*kBlock + f)*J + jj] = sum_t wt[t][f] * src[t][tile*J + jj] for every tile.
// A tile (J = 64 bytes of positions) is NV native vectors of the ISA (one on AVX-512, two
// on AVX2, four on SSE2), and the kBlock rows are taken FB = kBlock / NV at a time, so that
// FB x NV = kBlock accumulators stay in registers on every ISA. (A single 64-byte vector
// type per row is lowered by GCC to stack traffic on AVX2 and SSE2: 5-15x slower.)
// Every value is the same FMA chain over the terms in list order on every ISA.
template <Isa I, class T>
RELUINJ_FORCE_INLINE void row_accumulate_impl(const T *const *src, const T *const *wt,
                                              std::ptrdiff_t n_terms, std::ptrdiff_t n_tiles, T *acc) {
    constexpr std::ptrdiff_t J = TileWidth<T>::value;
    constexpr std::ptrdiff_t L = lanes<T, I>();
    constexpr std::ptrdiff_t NV = J / L;
    constexpr std::ptrdiff_t FB = kBlock / NV;
    static_assert(NV * L == J && FB * NV == kBlock, "tiles must split into native vectors");
    typedef vec<T, I> V;
    for (std::ptrdiff_t tile = 0; tile < n_tiles; ++tile) {
        const std::ptrdiff_t j0 = tile * J;
        for (std::ptrdiff_t f0 = 0; f0 < kBlock; f0 += FB) {
            V a[FB][NV] = {};
            for (std::ptrdiff_t t = 0; t < n_terms; ++t) {
                V s[NV];
                for (std::ptrdiff_t v = 0; v < NV; ++v) s[v] = vload<V>(src[t] + j0 + v * L);
                const T *w = wt[t] + f0;
                for (std::ptrdiff_t f = 0; f < FB; ++f)
                    for (std::ptrdiff_t v = 0; v < NV; ++v) a[f][v] += w[f] * s[v];
            }
            for (std::ptrdiff_t f = 0; f < FB; ++f)
                for (std::ptrdiff_t v = 0; v < NV; ++v)
                    vstore(acc + (tile * kBlock + f0 + f) * J + v * L, a[f][v]);
        }
    }
}
RELUINJ_ISA_DISPATCH(row_accumulate, row_accumulate_impl)

inline std::ptrdiff_t ceil_div(std::ptrdiff_t a, std::ptrdiff_t b) { return (a + b - 1) / b; }

// ---- float32, stride 1: flattened images --------------------------------------------------
// With unit strides, output (oy, ox) of a plane of row pitch W at flat position p = oy*W + ox
// reads src[p + off[t]] for every term t, where off[t] is a fixed offset: the 2-D layer is a
// 1-D multi-tap correlation along the flattened plane. Positions with ox >= OW are computed
// and discarded (the forward keeps rows of OW of every W). Tiles of one vector of positions x
// kBlock rows stay in registers, flat_tiles<I>() tiles at a time (three with the 32 registers
// of AVX-512, one otherwise), so every term costs that many vector loads and kBlock weight
// broadcasts. Every value is the FMA chain over the terms in list order, as in row_accumulate.
template <Isa I>
constexpr int flat_tiles() { return I == Isa::avx512 ? 3 : 1; }
constexpr std::ptrdiff_t kFlatSlack = 16;  // floats past the end of flat buffers (one vector)

// dst[f*ldd + p0 + L j + l] (+)= sum_t wpack[t*kBlock + f] * src[off[t] + p0 + L j + l] for
// j < NT, continuing the FMA chains stored in dst if `resume`, else starting from zero; only
// the first `last` lanes of the final tile are written. Reads go up to a whole vector past
// them in dst (which has kFlatSlack floats of slack) and, when `src_slack`, in src (a scalar
// tail otherwise): the extra lanes are computed and discarded.
template <Isa I, int NT>
RELUINJ_FORCE_INLINE void flat_tile_group(const float *src, const std::ptrdiff_t *off, const float *wpack,
                                          std::ptrdiff_t n_terms, bool resume, std::ptrdiff_t last,
                                          bool src_slack, float *dst, std::ptrdiff_t ldd) {
    using V = vec<float, I>;
    constexpr int L = lanes<float, I>();
    const bool full = last == L || src_slack;
    V a[kBlock][NT];
#pragma GCC unroll 8
    for (int f = 0; f < kBlock; ++f)
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) a[f][j] = resume ? vload<V>(dst + f * ldd + L * j) : V{};
    for (std::ptrdiff_t t = 0; t < n_terms; ++t) {
        const float *s = src + off[t];
        V v[NT];
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) v[j] = j < NT - 1 || full ? vload<V>(s + L * j) : vload_tail<V>(s + L * j, last);
        const float *w = wpack + t * kBlock;
#pragma GCC unroll 8
        for (int f = 0; f < kBlock; ++f)
#pragma GCC unroll 4
            for (int j = 0; j < NT; ++j) a[f][j] += w[f] * v[j];
    }
#pragma GCC unroll 8
    for (int f = 0; f < kBlock; ++f)
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) {
            float *d = dst + f * ldd + L * j;
            if (j < NT - 1 || last == L) vstore(d, a[f][j]);
            else vstore_tail(d, a[f][j], last);
        }
}

// Positions [0, n_out) of kBlock output planes dst + f*ldd, in groups of flat_tiles<I>() tiles,
// then single tiles, the last one partial. The terms are taken in runs of `run` (whole planes
// of the source, so that a run's planes stay in L2 and the rows under a tile group in L1),
// each run over all positions: the partial sums wait in dst, and every value is still one FMA
// chain in term order.
template <Isa I>
RELUINJ_FORCE_INLINE void flat_accumulate_impl(const float *src, const std::ptrdiff_t *off, const float *wpack,
                                               std::ptrdiff_t n_terms, std::ptrdiff_t run, std::ptrdiff_t n_out,
                                               bool src_slack, float *dst, std::ptrdiff_t ldd) {
    constexpr int L = lanes<float, I>(), NT = flat_tiles<I>(), G = L * NT;
    static_assert(L <= kFlatSlack, "the buffers' slack holds one vector");
    for (std::ptrdiff_t t0 = 0; t0 < n_terms; t0 += run) {
        const std::ptrdiff_t nt = std::min(run, n_terms - t0);
        const float *wt = wpack + t0 * kBlock;
        std::ptrdiff_t p = 0;
        for (; p + G <= n_out; p += G)
            flat_tile_group<I, NT>(src + p, off + t0, wt, nt, t0 > 0, L, true, dst + p, ldd);
        for (; p < n_out; p += L)
            flat_tile_group<I, 1>(src + p, off + t0, wt, nt, t0 > 0, std::min<std::ptrdiff_t>(L, n_out - p),
                                  src_slack, dst + p, ldd);
    }
}
RELUINJ_WIDE_ISA_DISPATCH(flat_accumulate, flat_accumulate_impl)

// Source planes per run of terms: as many as fit in kFlatRunFloats (at least one).
constexpr std::ptrdiff_t kFlatRunFloats = std::ptrdiff_t(1) << 16;
inline std::ptrdiff_t flat_run_planes(std::ptrdiff_t plane, std::ptrdiff_t n_planes) {
    return std::max<std::ptrdiff_t>(1, std::min(n_planes, kFlatRunFloats / plane));
}

}  // namespace conv_detail

// Geometry of one layer. H, W are the sizes of the (unpadded) input; pads are zero rows
// (pt above, pb below) and columns (pl left, pr right); G groups divide M and K.
struct ConvGeom {
    std::ptrdiff_t B, M, H, W, K, kh, kw;
    std::ptrdiff_t sh = 1, sw = 1, dh = 1, dw = 1;
    std::ptrdiff_t pt = 0, pb = 0, pl = 0, pr = 0, G = 1;
    std::ptrdiff_t Hp() const { return H + pt + pb; }
    std::ptrdiff_t Wp() const { return W + pl + pr; }
    std::ptrdiff_t kh_eff() const { return dh * (kh - 1) + 1; }
    std::ptrdiff_t kw_eff() const { return dw * (kw - 1) + 1; }
    std::ptrdiff_t OH() const { return (Hp() - kh_eff()) / sh + 1; }
    std::ptrdiff_t OW() const { return (Wp() - kw_eff()) / sw + 1; }
    std::ptrdiff_t Mg() const { return M / G; }
    std::ptrdiff_t Kg() const { return K / G; }
    bool padded() const { return pt || pb || pl || pr; }
    ConvGeom unpadded() const {  // the valid layer on the padded input
        ConvGeom g = *this;
        g.H = Hp(), g.W = Wp(), g.pt = g.pb = g.pl = g.pr = 0;
        return g;
    }
};

inline void check_geometry(const ConvGeom &g) {
    require(g.B >= 0 && g.M >= 1 && g.K >= 1 && g.kh >= 1 && g.kw >= 1, "conv: empty filters");
    require(g.sh >= 1 && g.sw >= 1, "conv: stride must be >= 1");
    require(g.dh >= 1 && g.dw >= 1, "conv: dilation must be >= 1");
    require(g.pt >= 0 && g.pb >= 0 && g.pl >= 0 && g.pr >= 0, "conv: padding must be >= 0");
    require(g.G >= 1 && g.M % g.G == 0 && g.K % g.G == 0,
            "conv: groups must divide both the channels and the filters");
    require(g.H >= 1 && g.W >= 1, "conv: empty input");
    require(g.Hp() >= g.kh_eff() && g.Wp() >= g.kw_eff(),
            "conv: padded input smaller than the dilated filters");
}

namespace conv_detail {

// The work grid of both directions: an item is a chunk of kBatch samples, a group and a block
// of kBlock output rows of that group (filters in the forward, channels in the adjoint), so no
// two items write the same memory; the grid depends only on the shapes.
struct WorkItem {
    std::ptrdiff_t b0, b1;  // samples [b0, b1)
    std::ptrdiff_t grp;     // group
    std::ptrdiff_t r0, nr;  // rows [r0, r0 + nr) of the group, nr <= kBlock
};

template <class Body>
void for_each_work_item(const ConvGeom &g, std::ptrdiff_t rows, int n_threads, Body body) {
    const std::ptrdiff_t n_blocks = ceil_div(rows, kBlock);
    parallel_for(ceil_div(g.B, kBatch) * g.G * n_blocks, n_threads, [&](std::ptrdiff_t item) {
        const std::ptrdiff_t b0 = item / (g.G * n_blocks) * kBatch, r0 = item % n_blocks * kBlock;
        body(WorkItem{b0, std::min(g.B, b0 + kBatch), item / n_blocks % g.G, r0, std::min(kBlock, rows - r0)});
    });
}

// The weights of an item's rows, term-major: wpack[t * kBlock + f] (zero for f >= nr). Forward:
// term t = (m, ph, pw) of filter grp * Kg + r0 + f.
template <class T>
std::vector<T> forward_weights(const T *w, const ConvGeom &g, const WorkItem &it) {
    const std::ptrdiff_t n_terms = g.Mg() * g.kh * g.kw, f0 = it.grp * g.Kg() + it.r0;
    std::vector<T> wpack(n_terms * kBlock, T(0));
    for (std::ptrdiff_t f = 0; f < it.nr; ++f)
        for (std::ptrdiff_t t = 0; t < n_terms; ++t) wpack[t * kBlock + f] = w[(f0 + f) * n_terms + t];
    return wpack;
}

// Adjoint: term t = (i, ph, pw), tap (ph, pw) of filter grp * Kg + i on channel r0 + f of the group.
template <class T>
std::vector<T> adjoint_weights(const T *w, const ConvGeom &g, const WorkItem &it) {
    const std::ptrdiff_t Kg = g.Kg(), Mg = g.Mg(), taps = g.kh * g.kw;
    std::vector<T> wpack(Kg * taps * kBlock, T(0));
    for (std::ptrdiff_t i = 0; i < Kg; ++i)
        for (std::ptrdiff_t f = 0; f < it.nr; ++f)
            for (std::ptrdiff_t q = 0; q < taps; ++q)
                wpack[(i * taps + q) * kBlock + f] = w[((it.grp * Kg + i) * Mg + it.r0 + f) * taps + q];
    return wpack;
}

// Whether a float32 layer takes the flattened kernel: unit strides, 2-D (H > 1), AVX2 or
// AVX-512. Measured (bench/README.md): on 2-D layers 1.2-1.4x faster than the row kernel; on
// 1-D layers as fast in the forward and 1.6x slower in the adjoint; with SSE2 no faster.
inline bool flat_applies(const ConvGeom &g) { return g.sh == 1 && g.sw == 1 && g.H > 1 && wide_vectors(); }

// Flattened forward, float32, unit strides (see above): same work grid as conv_forward.
// Dilation only changes the term offsets; a work item stays inside one group.
inline void conv_forward_flat(const float *x, const float *w, float *out, const ConvGeom &g,
                              int n_threads) {
    const std::ptrdiff_t M = g.M, H = g.H, W = g.W, K = g.K, kh = g.kh, kw = g.kw;
    const std::ptrdiff_t Mg = g.Mg(), Kg = g.Kg(), OH = g.OH(), OW = g.OW();
    const std::ptrdiff_t n_terms = Mg * kh * kw;
    std::vector<std::ptrdiff_t> off(n_terms);
    for (std::ptrdiff_t m = 0; m < Mg; ++m)
        for (std::ptrdiff_t ph = 0; ph < kh; ++ph)
            for (std::ptrdiff_t pw = 0; pw < kw; ++pw)
                off[(m * kh + ph) * kw + pw] = (m * H + ph * g.dh) * W + pw * g.dw;
    const std::ptrdiff_t n_out = (OH - 1) * W + OW;  // flat positions up to the last output
    const std::ptrdiff_t run = flat_run_planes(H * W, Mg) * kh * kw;
    for_each_work_item(g, Kg, n_threads, [&](const WorkItem &it) {
        const std::ptrdiff_t grp = it.grp, f0 = grp * Kg + it.r0;
        const std::vector<float> wpack = forward_weights(w, g, it);
        std::vector<float> plane(kBlock * n_out + kFlatSlack);
        for (std::ptrdiff_t b = it.b0; b < it.b1; ++b) {
            // Whole-vector reads of the last tile go up to one vector past this block's planes:
            // allowed when x holds at least kFlatSlack more floats after them (later blocks).
            const bool slack = (g.B * M - b * M - (grp + 1) * Mg) * H * W >= kFlatSlack;
            flat_accumulate(x + (b * M + grp * Mg) * H * W, off.data(), wpack.data(), n_terms, run, n_out, slack,
                            plane.data(), n_out);
            for (std::ptrdiff_t f = 0; f < it.nr; ++f)
                for (std::ptrdiff_t oy = 0; oy < OH; ++oy)
                    std::memcpy(out + ((b * K + f0 + f) * OH + oy) * OW,
                                plane.data() + f * n_out + oy * W, OW * sizeof(float));
        }
    });
}

// Flattened adjoint, float32, unit strides. x[b, m] is the "full" correlation of the z[b, i]
// with the flipped (dilated) filters: every z plane is copied once, shared by all work items,
// into a zero-padded plane of row pitch W (kh_eff - 1 zero rows above and below, kw_eff - 1
// zeros before every row, which also pad the end of the row above), so x[b, m, y, c] at
// p = y*W + c reads zpad[b, i][p + (kh_eff-1-ph*dh)*W + (kw_eff-1-pw*dw)] and every position
// of the x plane is an output.
// With a crop (the adjoint of zero padding: g describes the padded input, x has `crop`'s
// H x W planes at offset (pt, pl)), only the flat positions from the first to the last
// interior one are computed and the interior rows copied out; every value is the same FMA
// chain as without the crop.
struct FlatCrop {
    std::ptrdiff_t pt, pl, H, W;
};

inline void conv_adjoint_flat(const float *z, const float *w, float *x, const ConvGeom &g,
                              int n_threads, const FlatCrop *crop = nullptr) {
    const std::ptrdiff_t M = g.M, H = g.H, W = g.W, K = g.K, kh = g.kh, kw = g.kw;
    const std::ptrdiff_t Mg = g.Mg(), Kg = g.Kg(), OH = g.OH(), OW = g.OW();
    const std::ptrdiff_t khe = g.kh_eff(), kwe = g.kw_eff();
    const std::ptrdiff_t Sz = (H + khe - 1) * W + kwe - 1;  // padded plane (last read + 1)
    std::vector<float> zpad(g.B * K * Sz + kFlatSlack, 0.0f);  // the padding stays zero
    parallel_for(g.B * K, n_threads, [&](std::ptrdiff_t plane) {
        float *dst = zpad.data() + plane * Sz;
        for (std::ptrdiff_t oy = 0; oy < OH; ++oy)
            std::memcpy(dst + (oy + khe - 1) * W + kwe - 1, z + (plane * OH + oy) * OW,
                        OW * sizeof(float));
    });
    const std::ptrdiff_t n_terms = Kg * kh * kw;
    const std::ptrdiff_t run = flat_run_planes(Sz, Kg) * kh * kw;
    std::vector<std::ptrdiff_t> off(n_terms);
    for (std::ptrdiff_t i = 0; i < Kg; ++i)
        for (std::ptrdiff_t ph = 0; ph < kh; ++ph)
            for (std::ptrdiff_t pw = 0; pw < kw; ++pw)
                off[(i * kh + ph) * kw + pw] =
                    i * Sz + (khe - 1 - ph * g.dh) * W + (kwe - 1 - pw * g.dw);
    for_each_work_item(g, Mg, n_threads, [&](const WorkItem &it) {
        const std::ptrdiff_t grp = it.grp, m0 = it.r0, nm = it.nr;
        const std::vector<float> wpack = adjoint_weights(w, g, it);
        // the partial sums stay in one cache-resident buffer, copied out per image
        const std::ptrdiff_t p0 = crop ? crop->pt * W + crop->pl : 0;
        const std::ptrdiff_t n_pos = crop ? (crop->H - 1) * W + crop->W : H * W;
        std::vector<float> plane(kBlock * n_pos + kFlatSlack);
        for (std::ptrdiff_t b = it.b0; b < it.b1; ++b) {
            flat_accumulate(zpad.data() + (b * K + grp * Kg) * Sz + p0, off.data(), wpack.data(), n_terms, run,
                            n_pos, true, plane.data(), n_pos);
            if (!crop) {
                std::memcpy(x + (b * M + grp * Mg + m0) * H * W, plane.data(),
                            nm * H * W * sizeof(float));
                continue;
            }
            const std::ptrdiff_t HW = crop->H * crop->W;
            for (std::ptrdiff_t f = 0; f < nm; ++f)
                for (std::ptrdiff_t y = 0; y < crop->H; ++y)
                    std::memcpy(x + (b * M + grp * Mg + m0 + f) * HW + y * crop->W,
                                plane.data() + f * n_pos + y * W, crop->W * sizeof(float));
        }
    });
}

// The valid (unpadded) forward of any dtype, stride, dilation and groups.
template <class T>
void conv_forward_valid(const T *x, const T *w, T *out, const ConvGeom &g, int n_threads) {
    // 2-D float32 with unit strides, AVX2 or AVX-512: the flattened kernel
    if constexpr (std::is_same<T, float>::value) {
        if (flat_applies(g)) {
            conv_forward_flat(x, w, out, g, n_threads);
            return;
        }
    }
    const std::ptrdiff_t M = g.M, H = g.H, W = g.W, K = g.K, kh = g.kh, kw = g.kw;
    const std::ptrdiff_t sh = g.sh, sw = g.sw, dh = g.dh, dw = g.dw;
    const std::ptrdiff_t Mg = g.Mg(), Kg = g.Kg(), OH = g.OH(), OW = g.OW();
    constexpr std::ptrdiff_t J = TileWidth<T>::value;
    const std::ptrdiff_t n_tiles = ceil_div(OW, J);
    // With stride 1 the full tiles read the input rows in place (the reads stay below W);
    // the remaining tiles (all of them when sw > 1) read phase-split, zero-padded copies.
    const std::ptrdiff_t n_direct = sw == 1 ? OW / J : 0;
    const std::ptrdiff_t n_tail = n_tiles - n_direct;
    const std::ptrdiff_t c0 = n_direct * J;                    // first column of the copies
    const std::ptrdiff_t U = n_tail * J + ((kw - 1) * dw) / sw;  // length of one phase row
    const std::ptrdiff_t n_rows = Mg * kh;                     // source rows per output row
    const std::ptrdiff_t n_terms = n_rows * kw;
    // The phase-split, zero-padded copies of every input row are made once, before the work
    // grid: phase r of row (b, m, y) holds row[c0 + r], row[c0 + r + sw], ..., its zero tail
    // beyond the row never changes. (Made per work item they cost as much as the FMAs for
    // sw > 1: every filter block and every output row reading the row copied it again.)
    std::vector<T> phases(n_tail > 0 ? g.B * M * H * sw * U : 0, T(0));
    if (n_tail > 0)
        parallel_for(g.B * M * H, n_threads, [&](std::ptrdiff_t rowid) {
            const T *row = x + rowid * W;
            T *dst = phases.data() + rowid * sw * U;
            for (std::ptrdiff_t r = 0; r < sw; ++r, dst += U) {
                const std::ptrdiff_t avail = W - c0 - r;
                // values past U are never read (and may not fit with truncation)
                const std::ptrdiff_t len = std::min(U, avail > 0 ? ceil_div(avail, sw) : 0);
                const T *from = row + c0 + r;
                for (std::ptrdiff_t u = 0; u < len; ++u) dst[u] = from[u * sw];
            }
        });
    for_each_work_item(g, Kg, n_threads, [&](const WorkItem &it) {
        const std::ptrdiff_t grp = it.grp, f0 = grp * Kg + it.r0;
        const std::vector<T> wpack = forward_weights(w, g, it);
        std::vector<const T *> src(n_terms), src_tail(n_terms), wt(n_terms);
        for (std::ptrdiff_t t = 0; t < n_terms; ++t) wt[t] = wpack.data() + t * kBlock;
        std::vector<T> acc(n_tiles * kBlock * J);
        for (std::ptrdiff_t b = it.b0; b < it.b1; ++b)
            for (std::ptrdiff_t oy = 0; oy < OH; ++oy) {
                for (std::ptrdiff_t m = 0; m < Mg; ++m)
                    for (std::ptrdiff_t ph = 0; ph < kh; ++ph) {
                        const std::ptrdiff_t rowid = (b * M + grp * Mg + m) * H + oy * sh + ph * dh;
                        const T *row = x + rowid * W;
                        const T *prow = phases.data() + rowid * sw * U;
                        for (std::ptrdiff_t pw = 0; pw < kw; ++pw) {
                            const std::ptrdiff_t e = pw * dw, t = (m * kh + ph) * kw + pw;
                            if (n_direct > 0) src[t] = row + e;
                            if (n_tail > 0) src_tail[t] = prow + (e % sw) * U + e / sw;
                        }
                    }
                if (n_direct > 0)
                    row_accumulate(src.data(), wt.data(), n_terms, n_direct, acc.data());
                if (n_tail > 0)
                    row_accumulate(src_tail.data(), wt.data(), n_terms, n_tail,
                                   acc.data() + n_direct * kBlock * J);
                for (std::ptrdiff_t f = 0; f < it.nr; ++f) {
                    T *o = out + ((b * K + f0 + f) * OH + oy) * OW;
                    for (std::ptrdiff_t ox = 0; ox < OW; ++ox)
                        o[ox] = acc[((ox / J) * kBlock + f) * J + ox % J];
                }
            }
    });
}

// The valid (unpadded) adjoint of any dtype, stride, dilation and groups.
template <class T>
void conv_adjoint_valid(const T *z, const T *w, T *x, const ConvGeom &g, int n_threads) {
    // 2-D float32 with unit strides, AVX2 or AVX-512: the flattened kernel
    if constexpr (std::is_same<T, float>::value) {
        if (flat_applies(g)) {
            conv_adjoint_flat(z, w, x, g, n_threads);
            return;
        }
    }
    const std::ptrdiff_t M = g.M, H = g.H, W = g.W, K = g.K, kh = g.kh, kw = g.kw;
    const std::ptrdiff_t sh = g.sh, sw = g.sw, dh = g.dh, dw = g.dw;
    const std::ptrdiff_t Mg = g.Mg(), Kg = g.Kg(), OH = g.OH(), OW = g.OW();
    constexpr std::ptrdiff_t J = TileWidth<T>::value;
    const std::ptrdiff_t P = ((kw - 1) * dw) / sw;          // left zero padding of z rows
    const std::ptrdiff_t n_tiles_max = ceil_div(ceil_div(W, sw), J);
    const std::ptrdiff_t L = P + n_tiles_max * J;           // padded z row length (>= P + OW)
    const std::ptrdiff_t max_terms = Kg * kh * kw;
    for_each_work_item(g, Mg, n_threads, [&](const WorkItem &it) {
        const std::ptrdiff_t grp = it.grp, m0 = it.r0, nm = it.nr;
        const std::vector<T> wpack = adjoint_weights(w, g, it);
        // zpad rows: P zeros, the OW values of z[b, i, oy, :], zeros up to L (tails stay 0)
        std::vector<T> zpad(Kg * OH * L, T(0));
        // Term lists per (input row y, width phase r): they point into zpad, whose address
        // does not change with b, so they are built once per work item. Column q*sw + r
        // gathers tap pw from z column q - s with s*sw = pw*dw - r (when divisible).
        std::vector<const T *> src(H * sw * max_terms), wt(H * sw * max_terms);
        std::vector<std::ptrdiff_t> n_terms(H * sw, 0);
        for (std::ptrdiff_t y = 0; y < H; ++y)
            for (std::ptrdiff_t r = 0; r < sw; ++r) {
                const std::ptrdiff_t list = y * sw + r;
                std::ptrdiff_t nt = 0;
                for (std::ptrdiff_t i = 0; i < Kg; ++i)
                    for (std::ptrdiff_t ph = 0; ph < kh; ++ph) {
                        const std::ptrdiff_t d = y - ph * dh;
                        if (d < 0 || d % sh != 0 || d / sh >= OH) continue;
                        const T *zrow = zpad.data() + (i * OH + d / sh) * L + P;
                        for (std::ptrdiff_t pw = 0; pw < kw; ++pw) {
                            const std::ptrdiff_t e = pw * dw - r;
                            if (e < 0 || e % sw != 0) continue;
                            src[list * max_terms + nt] = zrow - e / sw;
                            wt[list * max_terms + nt] =
                                wpack.data() + ((i * kh + ph) * kw + pw) * kBlock;
                            ++nt;
                        }
                    }
                n_terms[list] = nt;
            }
        std::vector<T> acc(n_tiles_max * kBlock * J);
        for (std::ptrdiff_t b = it.b0; b < it.b1; ++b) {
            for (std::ptrdiff_t r = 0; r < Kg * OH; ++r) {
                const T *from = z + ((b * K + grp * Kg) * OH + r) * OW;
                std::copy(from, from + OW, zpad.data() + r * L + P);
            }
            for (std::ptrdiff_t y = 0; y < H; ++y) {
                for (std::ptrdiff_t r = 0; r < sw; ++r) {
                    const std::ptrdiff_t Q = r < W ? ceil_div(W - r, sw) : 0;  // columns q*sw+r
                    const std::ptrdiff_t list = y * sw + r;
                    T *o = x + ((b * M + grp * Mg + m0) * H + y) * W + r;
                    if (n_terms[list] == 0) {  // no tap reaches this row phase
                        for (std::ptrdiff_t f = 0; f < nm; ++f)
                            for (std::ptrdiff_t q = 0; q < Q; ++q) o[f * H * W + q * sw] = T(0);
                        continue;
                    }
                    row_accumulate(src.data() + list * max_terms, wt.data() + list * max_terms,
                                   n_terms[list], ceil_div(Q, J), acc.data());
                    for (std::ptrdiff_t f = 0; f < nm; ++f)
                        for (std::ptrdiff_t q = 0; q < Q; ++q)
                            o[f * H * W + q * sw] = acc[((q / J) * kBlock + f) * J + q % J];
                }
            }
        }
    });
}

}  // namespace conv_detail

// Forward of the layer described by g (padding included): out (B, K, OH, OW).
template <class T>
void conv_forward(const T *x, const T *w, T *out, const ConvGeom &g, int n_threads) {
    using namespace conv_detail;
    check_geometry(g);
    if (!g.padded()) {
        conv_forward_valid(x, w, out, g, n_threads);
        return;
    }
    // zero-padded copy of the input, then the valid layer on it
    const ConvGeom v = g.unpadded();
    const std::ptrdiff_t Hp = v.H, Wp = v.W;
    // every plane is written once (zero border, copied interior) by the thread that owns it
    std::unique_ptr<T[]> xp(new T[g.B * g.M * Hp * Wp]);
    parallel_for(g.B * g.M, n_threads, [&](std::ptrdiff_t plane) {
        T *dst = xp.get() + plane * Hp * Wp;
        std::fill(dst, dst + g.pt * Wp, T(0));
        for (std::ptrdiff_t y = 0; y < g.H; ++y) {
            T *row = dst + (y + g.pt) * Wp;
            std::fill(row, row + g.pl, T(0));
            std::copy(x + (plane * g.H + y) * g.W, x + (plane * g.H + y + 1) * g.W, row + g.pl);
            std::fill(row + g.pl + g.W, row + Wp, T(0));
        }
        std::fill(dst + (g.pt + g.H) * Wp, dst + Hp * Wp, T(0));
    });
    conv_forward_valid(xp.get(), w, out, v, n_threads);
}

// Adjoint of conv_forward (padding included): z (B, K, OH, OW) -> x (B, M, H, W).
template <class T>
void conv_adjoint(const T *z, const T *w, T *x, const ConvGeom &g, int n_threads) {
    using namespace conv_detail;
    check_geometry(g);
    if (!g.padded()) {
        conv_adjoint_valid(z, w, x, g, n_threads);
        return;
    }
    // the valid adjoint onto the padded input, cropped (the adjoint of zero padding)
    const ConvGeom v = g.unpadded();
    if constexpr (std::is_same<T, float>::value) {
        if (flat_applies(g)) {  // cropped inside the flat kernel
            const FlatCrop crop{g.pt, g.pl, g.H, g.W};
            conv_adjoint_flat(z, w, x, v, n_threads, &crop);
            return;
        }
    }
    const std::ptrdiff_t Hp = v.H, Wp = v.W;
    std::unique_ptr<T[]> xp(new T[g.B * g.M * Hp * Wp]);  // every entry is written
    conv_adjoint_valid(z, w, xp.get(), v, n_threads);
    parallel_for(g.B * g.M, n_threads, [&](std::ptrdiff_t plane) {
        for (std::ptrdiff_t y = 0; y < g.H; ++y) {
            const T *from = xp.get() + (plane * Hp + y + g.pt) * Wp + g.pl;
            std::copy(from, from + g.W, x + (plane * g.H + y) * g.W);
        }
    });
}

}  // namespace reluinj
