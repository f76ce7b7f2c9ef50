# cython: language_level=3
"""Element-wise Cython kernels of reluinj (private; use the public reluinj API).

Every kernel takes typed memoryviews (float32 or float64, C-contiguous), releases the GIL and
runs a static ``prange`` over rows, so results do not depend on the number of threads.
"""
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t

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


# --- BW-ReLU psi(c x), its derivative and the fused backward (element kernels: bwrelu.hpp) ---
cdef extern from "reluinj/bwrelu.hpp" namespace "reluinj" nogil:
    void bwrelu_block(const float* x, float c, float* out, Py_ssize_t n)
    void bwrelu_block(const double* x, double c, double* out, Py_ssize_t n)
    void bwrelu_grad_block(const float* x, float c, float* out, Py_ssize_t n)
    void bwrelu_grad_block(const double* x, double c, double* out, Py_ssize_t n)
    void bwrelu_backward_block(const float* x, const float* g, float c, float* out, Py_ssize_t n)
    void bwrelu_backward_block(const double* x, const double* g, double c, double* out,
                               Py_ssize_t n)

# Fixed block grid: block b covers [b * BLOCK, min((b + 1) * BLOCK, n)) whatever n_threads is.
cdef enum:
    BLOCK = 16384


cdef inline Py_ssize_t _n_blocks(Py_ssize_t n, Py_ssize_t n_out, int n_threads) except -1:
    if n_out != n:
        raise ValueError(f"out must have as many elements as x ({n}); got {n_out}")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    return (n + BLOCK - 1) // BLOCK


def bwrelu(const floating[::1] x, floating c, floating[::1] out, int n_threads,
           bint derivative=False):
    """out[i] = psi(c * x[i]), or c * psi'(c * x[i]) (left slope at knots) when derivative,
    on flat arrays, one pass (out may alias x)."""
    cdef Py_ssize_t n = x.shape[0], nb = _n_blocks(n, out.shape[0], n_threads), b, lo
    if n == 0:
        return
    cdef const floating* xp = &x[0]
    cdef floating* op = &out[0]
    with nogil:
        for b in prange(nb, num_threads=n_threads, schedule="static"):
            lo = b * BLOCK
            if derivative:
                bwrelu_grad_block(xp + lo, c, op + lo, min(BLOCK, n - lo))
            else:
                bwrelu_block(xp + lo, c, op + lo, min(BLOCK, n - lo))


def bwrelu_backward(const floating[::1] x, const floating[::1] grad_out, floating c,
                    floating[::1] out, int n_threads):
    """out[i] = grad_out[i] * c * psi'(c * x[i]): the fused backward of psi(c x)."""
    cdef Py_ssize_t n = x.shape[0], nb = _n_blocks(n, out.shape[0], n_threads), b, lo
    if grad_out.shape[0] != n:
        raise ValueError(f"grad_out must have as many elements as x ({n}); "
                         f"got {grad_out.shape[0]}")
    if n == 0:
        return
    cdef const floating* xp = &x[0]
    cdef const floating* gp = &grad_out[0]
    cdef floating* op = &out[0]
    with nogil:
        for b in prange(nb, num_threads=n_threads, schedule="static"):
            lo = b * BLOCK
            bwrelu_backward_block(xp + lo, gp + lo, c, op + lo, min(BLOCK, n - lo))


# --- CSR matrix times a block of columns (the Radon / pooling operators of reluinj.inr) ---
ctypedef fused csr_index:
    int32_t
    int64_t


def csr_matmat(const floating[::1] data, const csr_index[::1] indices,
               const csr_index[::1] indptr, const floating[:, ::1] X, floating[:, ::1] out,
               int n_threads):
    """out[r, :] = sum_k data[k] * X[indices[k], :] over indptr[r] <= k < indptr[r + 1].

    Rows are split statically over threads and each row sums its entries in a fixed order
    (stored order for C > 1; four interleaved partial sums for C == 1), so the result does not
    depend on n_threads.
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, C = X.shape[1], r, j, k
    cdef floating a, acc, a0, a1, a2
    cdef Py_ssize_t lo
    if out.shape[0] != n_rows or out.shape[1] != C:
        raise ValueError(f"csr_matmat: out must have shape ({n_rows}, {C}); "
                         f"got ({out.shape[0]}, {out.shape[1]})")
    if indices.shape[0] != data.shape[0]:
        raise ValueError("csr_matmat: data and indices differ in length")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    if n_rows == 0 or C == 0:
        return
    cdef const floating* xp = &X[0, 0] if X.shape[0] > 0 else NULL
    cdef floating* op = &out[0, 0]
    with nogil:
        if C == 1:
            # one column: four interleaved accumulators per row (entries k mod 4), so the adds
            # do not wait on each other; fixed order, independent of the thread count
            for r in prange(n_rows, num_threads=n_threads, schedule="static"):
                acc = 0
                a0 = 0
                a1 = 0
                a2 = 0
                k = indptr[r]
                lo = indptr[r + 1] - 3
                while k < lo:
                    acc = acc + data[k] * xp[indices[k]]
                    a0 = a0 + data[k + 1] * xp[indices[k + 1]]
                    a1 = a1 + data[k + 2] * xp[indices[k + 2]]
                    a2 = a2 + data[k + 3] * xp[indices[k + 3]]
                    k = k + 4
                while k < indptr[r + 1]:
                    acc = acc + data[k] * xp[indices[k]]
                    k = k + 1
                op[r] = (acc + a0) + (a1 + a2)
        else:
            for r in prange(n_rows, num_threads=n_threads, schedule="static"):
                for j in range(C):
                    op[r * C + j] = 0
                for k in range(indptr[r], indptr[r + 1]):
                    a = data[k]
                    for j in range(C):
                        op[r * C + j] += a * xp[indices[k] * C + j]
