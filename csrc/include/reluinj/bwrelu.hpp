// BW-ReLU element kernels on contiguous blocks (no Python; the Cython module runs them over
// a fixed grid of blocks with prange).
//
// psi(y) = sum_m a_m relu(y - t_m), t = 0, 1/2, ..., 3, a = (1, -8, 23, -32, 23, -8, 1)/6.
// psi is symmetric about 3/2 and its last four ReLUs vanish for y <= 3/2, so with
// s = max(min(y, 3 - y), -1): psi(y) = relu(s)/6 - 4 relu(s - 1/2)/3 + 23 relu(s - 1)/6.
// psi'(y) is the slope of the half-unit interval (k/2, (k+1)/2] containing y: the LEFT slope
// at the knots, which is what autograd of the 7-ReLU form returns (relu'(0) = 0).
// NaN propagates; psi(+-inf) = psi'(+-inf) = 0.
//
// Every operation is a compare-select, so the loops vectorise. GCC only if-converts float
// selects when it may ignore FP-exception traps from the compares, hence the optimize pragma
// around this header's functions (results are unchanged: no exception flags are observed).
#pragma once
#include <cstddef>

#include "reluinj/simd.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

namespace reluinj {
namespace detail {

template <class T>
RELUINJ_FORCE_INLINE T relu_keep_nan(T v) { return (v < T(0)) ? T(0) : v; }

template <class T>
RELUINJ_FORCE_INLINE T psi(T y) {
    const T r = T(3) - y;
    T s = (y < r) ? y : r;
    s = (s < T(-1)) ? T(-1) : s;
    return T(1.0 / 6.0) * relu_keep_nan(s) - T(4.0 / 3.0) * relu_keep_nan(s - T(0.5)) +
           T(23.0 / 6.0) * relu_keep_nan(s - T(1));
}

template <class T>
RELUINJ_FORCE_INLINE T dpsi(T y) {
    T d = (y > T(0)) ? T(1.0 / 6.0) : T(0);
    d = (y > T(0.5)) ? T(-7.0 / 6.0) : d;
    d = (y > T(1)) ? T(8.0 / 3.0) : d;
    d = (y > T(1.5)) ? T(-8.0 / 3.0) : d;
    d = (y > T(2)) ? T(7.0 / 6.0) : d;
    d = (y > T(2.5)) ? T(-1.0 / 6.0) : d;
    d = (y > T(3)) ? T(0) : d;
    return (y != y) ? y : d;
}

// out[i] = psi(c x[i]); out may alias x.
template <Isa, class T>
RELUINJ_FORCE_INLINE void bwrelu_block_impl(const T *x, T c, T *out, std::ptrdiff_t n) {
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = detail::psi(c * x[i]);
}

// out[i] = c psi'(c x[i]); out may alias x.
template <Isa, class T>
RELUINJ_FORCE_INLINE void bwrelu_grad_block_impl(const T *x, T c, T *out, std::ptrdiff_t n) {
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = c * detail::dpsi(c * x[i]);
}

// out[i] = g[i] c psi'(c x[i]) (fused backward of psi(c x)); out may alias x or g.
template <Isa, class T>
RELUINJ_FORCE_INLINE void bwrelu_backward_block_impl(const T *x, const T *g, T c, T *out, std::ptrdiff_t n) {
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = g[i] * (c * detail::dpsi(c * x[i]));
}

}  // namespace detail

// The block loops compiled per ISA (simd.hpp), for float and double.
RELUINJ_ISA_DISPATCH(bwrelu_block, detail::bwrelu_block_impl)
RELUINJ_ISA_DISPATCH(bwrelu_grad_block, detail::bwrelu_grad_block_impl)
RELUINJ_ISA_DISPATCH(bwrelu_backward_block, detail::bwrelu_backward_block_impl)

}  // namespace reluinj

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
