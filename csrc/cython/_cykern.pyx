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
