# cython: language_level=3
"""Element-wise Cython kernels of reluinj (private; use the public reluinj API).

Every kernel takes typed memoryviews (float32 or float64, C-contiguous), releases the GIL and
runs a static ``prange`` over rows, so results do not depend on the number of threads.
"""
from cython.parallel cimport prange

from omp_compat cimport RELUINJ_HAS_OPENMP, reluinj_max_threads

ctypedef fused floating:
    float
    double

HAS_OPENMP = bool(RELUINJ_HAS_OPENMP)


def max_threads():
    """omp_get_max_threads() as seen by the Cython module (1 without OpenMP)."""
    return reluinj_max_threads()


def shifted_relu(const floating[:, ::1] Z, const floating[::1] alpha, floating[:, ::1] out,
                 int n_threads):
    """out[s, i] = max(Z[s, i] - alpha[i], 0), in place allowed (out may be Z's buffer)."""
    cdef Py_ssize_t k = Z.shape[0], m = Z.shape[1], s, i
    cdef floating v
    if alpha.shape[0] != m or out.shape[0] != k or out.shape[1] != m:
        raise ValueError("shifted_relu: shapes of Z (k, m), alpha (m,), out (k, m) disagree")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    with nogil:
        for s in prange(k, num_threads=n_threads, schedule="static"):
            for i in range(m):
                v = Z[s, i] - alpha[i]
                out[s, i] = v if v > 0 else 0


# --- BW-ReLU: psi(y) = sum_m a_m relu(y - t_m), t = 0, 1/2, ..., 3, a = (1,-8,23,-32,23,-8,1)/6 ---
# With t = 2 y and i = floor(t) in 0..5, psi(y) = _PSI_VAL[i] + _PSI_HALF_SLOPE[i] * (t - i)
# (value at the knot i/2 plus the slope per half unit); psi'(y) on (i/2, (i+1)/2) is _PSI_SLOPE[i].
cdef double _PSI_VAL[6]
cdef double _PSI_HALF_SLOPE[6]
cdef double _PSI_SLOPE[6]
_PSI_VAL[:] = [0.0, 1.0 / 12, -0.5, 5.0 / 6, -0.5, 1.0 / 12]
_PSI_HALF_SLOPE[:] = [1.0 / 12, -7.0 / 12, 4.0 / 3, -4.0 / 3, 7.0 / 12, -1.0 / 12]
_PSI_SLOPE[:] = [1.0 / 6, -7.0 / 6, 8.0 / 3, -8.0 / 3, 7.0 / 6, -1.0 / 6]


cdef inline floating _psi(floating y) noexcept nogil:
    """psi(y); NaN propagates, psi(+-inf) = 0 (support [0, 3])."""
    cdef floating t = y + y
    cdef int i
    if t > 0 and t < 6:
        i = <int>t
        return <floating>_PSI_VAL[i] + <floating>_PSI_HALF_SLOPE[i] * (t - <floating>i)
    if t != t:
        return t
    return 0


cdef inline floating _dpsi(floating y) noexcept nogil:
    """psi'(y) with the left slope at the knots (autograd of the 7-ReLU form); NaN propagates."""
    cdef floating t = y + y
    cdef int i
    if t > 0 and t <= 6:
        i = <int>t
        if i == t:
            i -= 1
        return <floating>_PSI_SLOPE[i]
    if t != t:
        return t
    return 0


def _check_flat(Py_ssize_t n_in, Py_ssize_t n_out, int n_threads):
    if n_out != n_in:
        raise ValueError(f"out must have as many elements as x ({n_in}); got {n_out}")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")


def bwrelu(const floating[::1] x, floating c, floating[::1] out, int n_threads):
    """out[i] = psi(c * x[i]) on flat arrays (one pass; out may alias x)."""
    cdef Py_ssize_t n = x.shape[0], i
    _check_flat(n, out.shape[0], n_threads)
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            out[i] = _psi(c * x[i])


def bwrelu_grad(const floating[::1] x, floating c, floating[::1] out, int n_threads):
    """out[i] = c * psi'(c * x[i]) on flat arrays, left slope at knots (out may alias x)."""
    cdef Py_ssize_t n = x.shape[0], i
    _check_flat(n, out.shape[0], n_threads)
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            out[i] = c * _dpsi(c * x[i])


def bwrelu_backward(const floating[::1] x, const floating[::1] grad_out, floating c,
                    floating[::1] out, int n_threads):
    """out[i] = grad_out[i] * c * psi'(c * x[i]): the fused backward of psi(c x)."""
    cdef Py_ssize_t n = x.shape[0], i
    _check_flat(n, out.shape[0], n_threads)
    if grad_out.shape[0] != n:
        raise ValueError(f"grad_out must have as many elements as x ({n}); "
                         f"got {grad_out.shape[0]}")
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            out[i] = grad_out[i] * (c * _dpsi(c * x[i]))
