"""Convolution layers as linear operators (the matrix W of a CNN layer).

A convolution layer with K filters over M input channels is the matrix ``W`` whose rows are
all shifts of all filters: its **rows are the frame vectors**, one per (filter, shift), and
``W x`` is exactly ``torch.nn.functional.conv1d`` / ``conv2d`` (valid cross-correlation, no
flip, no padding) flattened in C order. ``W.T z`` is ``conv_transpose1d`` / ``conv_transpose2d``
with the same weight tensor. Both directions run in the compiled kernels of
``reluinj._core`` (OpenMP over batch x filter blocks and batch x channel blocks, GIL
released, float32 and float64 without upcasting).
"""
import numbers

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator

from .. import _core
from .._lib.threads import effective_n_threads
from .._lib.validation import (
    as_float_array,
    check_bool,
    check_float_dtype,
    check_positive_int,
    check_rng,
)

__all__ = ["ConvOperator", "ConvOperator2D"]

_NORMALIZE = ("fan_in", "unit")


def _output_length(size, ell, stride, allow_truncation, what):
    """Number of valid shifts (D - ell) // stride + 1, rejecting a truncated tail unless allowed."""
    rem = (size - ell) % stride
    if rem and not allow_truncation:
        raise ValueError(
            f"{what}: (input size {size} - filter size {ell}) = {size - ell} is not divisible by "
            f"stride {stride}; the last {rem} input sample(s) would never be covered. "
            "Pass allow_truncation=True for PyTorch's floor rule."
        )
    return (size - ell) // stride + 1


def _random_filters(shape, normalize, seed, dtype):
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}; got {normalize!r}")
    dtype = check_float_dtype(dtype)
    w = check_rng(seed).standard_normal(shape)
    fan_in = int(np.prod(shape[1:]))
    if normalize == "fan_in":
        w /= np.sqrt(fan_in)
    else:
        norms = np.linalg.norm(w.reshape(shape[0], -1), axis=1)
        w /= norms.reshape((-1,) + (1,) * (len(shape) - 1))
    return w.astype(dtype)


class _ConvBase(LinearOperator):
    """Shared machinery: the operator is stored as a 4-D (K, M, kh, kw) correlation."""

    def _setup(self, w4, H, W, sh, sw, dims, dimsd, n_threads):
        if n_threads is not None:
            effective_n_threads(n_threads)
        self._w4 = w4
        self._geom = (H, W, sh, sw)
        self.dims = dims
        self.dimsd = dimsd
        self.n_threads = n_threads
        super().__init__(dtype=w4.dtype, shape=(int(np.prod(dimsd)), int(np.prod(dims))))

    # -- input checks ----------------------------------------------------------------------
    def _as_own_dtype(self, a, name):
        a = np.asarray(a)
        if a.dtype in (np.dtype(np.float32), np.dtype(np.float64)) and a.dtype != self.dtype:
            raise TypeError(
                f"{name} has dtype {a.dtype} but the operator has dtype {self.dtype}; "
                f"convert explicitly (e.g. {name}.astype(np.{self.dtype.name})) or build the "
                f"operator with {a.dtype} filters"
            )
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; got dtype {a.dtype}")
        a = np.ascontiguousarray(a, dtype=self.dtype)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or inf")
        return a

    def _as_batch(self, a, shape, name):
        """Validate an nd array of shape (..., *shape); return (a as (B, *shape), batch shape)."""
        a = self._as_own_dtype(a, name)
        nd = len(shape)
        if a.ndim < nd or a.shape[a.ndim - nd:] != tuple(shape):
            raise ValueError(
                f"{name} must have shape (..., {', '.join(map(str, shape))}); got shape {a.shape}"
            )
        batch = a.shape[: a.ndim - nd]
        return a.reshape((-1,) + tuple(shape)), batch

    def _as_vector(self, v, length, name):
        v = self._as_own_dtype(v, name)
        if v.size != length:
            raise ValueError(f"{name} must have {length} entries; got shape {v.shape}")
        return v.reshape(-1)

    # -- kernels -----------------------------------------------------------------------------
    def _fwd(self, X, n_threads):
        H, W, sh, sw = self._geom
        B = X.shape[0]
        X4 = X.reshape(B, self._w4.shape[1], H, W)
        Z = _core.conv_forward(X4, self._w4, sh, sw, effective_n_threads(n_threads))
        return Z.reshape((B,) + tuple(self.dimsd))

    def _adj(self, Z, n_threads):
        H, W, sh, sw = self._geom
        B = Z.shape[0]
        K, _, kh, kw = self._w4.shape
        Z4 = Z.reshape(B, K, (H - kh) // sh + 1, (W - kw) // sw + 1)
        X = _core.conv_adjoint(Z4, self._w4, H, W, sh, sw, effective_n_threads(n_threads))
        return X.reshape((B,) + tuple(self.dims))

    def _threads(self, n_threads):
        return self.n_threads if n_threads is None else n_threads

    # -- LinearOperator interface ------------------------------------------------------------
    def matvec(self, x):
        """``W x`` for x of shape (N,) or (N, 1) (scipy's LinearOperator interface)."""
        self._check_vector_shape(x, self.shape[1], "x")
        return super().matvec(x)

    def rmatvec(self, x):
        """``W^T z`` for z of shape (M,) or (M, 1) (scipy's LinearOperator interface)."""
        self._check_vector_shape(x, self.shape[0], "z")
        return super().rmatvec(x)

    @staticmethod
    def _check_vector_shape(v, length, name):
        shape = np.shape(v)
        if shape not in ((length,), (length, 1)):
            raise ValueError(f"{name} must have shape ({length},) or ({length}, 1); "
                             f"got shape {shape}")

    def _matvec(self, x):
        x = self._as_vector(x, self.shape[1], "x")
        return self._fwd(x.reshape((1,) + tuple(self.dims)), self.n_threads).reshape(-1)

    def _rmatvec(self, z):
        z = self._as_vector(z, self.shape[0], "z")
        return self._adj(z.reshape((1,) + tuple(self.dimsd)), self.n_threads).reshape(-1)

    def _matmat(self, X):
        X = self._as_own_dtype(X, "X")
        if X.ndim != 2 or X.shape[0] != self.shape[1]:
            raise ValueError(f"X must have shape ({self.shape[1]}, k); got shape {X.shape}")
        Xb = np.ascontiguousarray(X.T).reshape((-1,) + tuple(self.dims))
        return self._fwd(Xb, self.n_threads).reshape(X.shape[1], -1).T

    def _rmatmat(self, Z):
        Z = self._as_own_dtype(Z, "Z")
        if Z.ndim != 2 or Z.shape[0] != self.shape[0]:
            raise ValueError(f"Z must have shape ({self.shape[0]}, k); got shape {Z.shape}")
        Zb = np.ascontiguousarray(Z.T).reshape((-1,) + tuple(self.dimsd))
        return self._adj(Zb, self.n_threads).reshape(Z.shape[1], -1).T

    # -- nd interface ------------------------------------------------------------------------
    def forward(self, X, *, n_threads=None):
        """Apply ``W`` to an nd input of shape ``(..., *dims)``; returns ``(..., *dimsd)``.

        `n_threads` overrides the operator's ``n_threads`` attribute for this call.
        """
        Xb, batch = self._as_batch(X, self.dims, "X")
        return self._fwd(Xb, self._threads(n_threads)).reshape(batch + tuple(self.dimsd))

    def adjoint(self, Z=None, *, n_threads=None):
        """Apply ``W.T`` to ``Z`` of shape ``(..., *dimsd)``; returns ``(..., *dims)``.

        Called without `Z`, returns the adjoint ``LinearOperator`` (``self.H``), as in SciPy.
        """
        if Z is None:
            return self._adjoint()
        Zb, batch = self._as_batch(Z, self.dimsd, "Z")
        return self._adj(Zb, self._threads(n_threads)).reshape(batch + tuple(self.dims))

    # -- explicit matrices -------------------------------------------------------------------
    def tosparse(self, format="csr"):
        """The matrix ``W`` of shape ``(K * n_out, M * n_in)`` as a scipy.sparse matrix.

        Each row holds one shifted filter, so ``nnz = K * n_out * M * (filter size)``.
        """
        H, W, sh, sw = self._geom
        K, M, kh, kw = self._w4.shape
        OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
        i, oy, ox, m, ph, pw = np.ix_(*(np.arange(s) for s in (K, OH, OW, M, kh, kw)))
        rows = (i * OH + oy) * OW + ox
        cols = (m * H + oy * sh + ph) * W + ox * sw + pw
        vals = self._w4[:, None, None, :, :, :]
        full = (K, OH, OW, M, kh, kw)
        mat = scipy.sparse.coo_matrix(
            (np.broadcast_to(vals, full).ravel(),
             (np.broadcast_to(rows, full).ravel(), np.broadcast_to(cols, full).ravel())),
            shape=self.shape,
        )
        return mat.asformat(format)

    def todense(self):
        """The dense matrix ``W`` as an ndarray of shape ``(K * n_out, M * n_in)``."""
        return self.tosparse("coo").toarray()

    toarray = todense

    def _pair_filters(self):
        return np.concatenate([self.filters, -self.filters], axis=0)


class ConvOperator(_ConvBase):
    """1-D multichannel strided convolution layer as a ``LinearOperator`` of shape (K n, M D).

    ``W[i*n + j, m*D + j*stride + p] = filters[i, m, p]``: the rows of ``W`` are the frame
    vectors (every filter at every shift), inputs are channel-major (``x[m, d]`` at
    ``m*D + d``) and outputs filter-major (``h[i, j]`` at ``i*n + j``).

    Parameters
    ----------
    filters : array_like of shape (K, M, ell)
        K filters of length ell over M channels (``torch.nn.Conv1d.weight`` layout). float32
        filters give a float32 operator; other real dtypes become float64. Copied.
    input_length : int
        D, the length of each input channel; must be >= ell.
    stride : int, default=1
        Shift t between consecutive filter positions.
    allow_truncation : bool, default=False
        If False, ``(D - ell) % stride != 0`` is a ValueError. If True, PyTorch's floor rule
        ``n = (D - ell) // stride + 1`` is used and the trailing ``(D - ell) % stride`` input
        samples are covered by no row: their columns of ``W`` are zero and ``W`` is then
        not injective.
    n_threads : int or None, default=None
        OpenMP threads of ``matvec``/``rmatvec``/``matmat``; None follows OMP_NUM_THREADS /
        RELUINJ_NUM_THREADS / threadpoolctl, -1 = all cores.

    Attributes
    ----------
    K, M, ell, D, n, stride : int
        Filters, channels, filter length, input length, output length, stride.
    dims : tuple
        ``(M, D)``, the nd shape of an input.
    dimsd : tuple
        ``(K, n)``, the nd shape of an output.
    filters : ndarray of shape (K, M, ell)
        Read-only copy of the filters.

    Notes
    -----
    Forward (``conv1d``):  ``h[i, j] = sum_m sum_p filters[i, m, p] * x[m, j*t + p]``.

    Adjoint (``conv_transpose1d`` with the same weights and ``output_padding = (D - ell) % t``):
    ``x[m, d] = sum_i sum_{j, p : j*t + p = d} filters[i, m, p] * h[i, j]``.

    ``matvec`` accepts shapes (M D,) and (M D, 1); an input whose float dtype differs from the
    operator's is a TypeError (no silent upcast or downcast).

    Examples
    --------
    >>> op = ConvOperator.random(96, 32, 5, 32, seed=0)
    >>> op.shape
    (2688, 1024)
    """

    def __init__(self, filters, input_length, stride=1, *, allow_truncation=False,
                 n_threads=None):
        w = as_float_array(filters, "filters", ndim=3)
        K, M, ell = w.shape
        D = check_positive_int(input_length, "input_length")
        t = check_positive_int(stride, "stride")
        if D < ell:
            raise ValueError(f"input_length={D} must be >= the filter length ell={ell}")
        n = _output_length(D, ell, t, allow_truncation, "ConvOperator")
        w = w.copy()
        w.flags.writeable = False
        self.filters = w
        self.K, self.M, self.ell, self.D, self.n, self.stride = K, M, ell, D, n, t
        self.allow_truncation = check_bool(allow_truncation, "allow_truncation")
        self._setup(w[:, :, None, :], 1, D, 1, t, (M, D), (K, n), n_threads)

    @classmethod
    def random(cls, K, M, ell, input_length, stride=1, *, normalize="fan_in", seed=None,
               dtype=np.float64, allow_truncation=False, n_threads=None):
        """A layer with Gaussian filters.

        Parameters
        ----------
        K, M, ell : int
            Filters, channels and filter length.
        input_length : int
            D.
        stride : int, default=1
        normalize : {"fan_in", "unit"}, default="fan_in"
            ``"fan_in"``: i.i.d. N(0, 1) entries scaled by ``1 / sqrt(M * ell)`` (the paper's
            Theorem 3.1); ``"unit"``: each filter rescaled to unit Frobenius norm, so every
            row of ``W`` has unit norm.
        seed : None, int, SeedSequence or numpy Generator
        dtype : {float64, float32}, default=float64
        """
        K = check_positive_int(K, "K")
        M = check_positive_int(M, "M")
        ell = check_positive_int(ell, "ell")
        w = _random_filters((K, M, ell), normalize, seed, dtype)
        return cls(w, input_length, stride, allow_truncation=allow_truncation,
                   n_threads=n_threads)

    def relu_pair(self):
        """The operator of ``[W; -W]``: filters concatenated with their negatives (2K filters).

        ``ReLU([W; -W] x) = [h+; h-]`` with ``h+ - h- = W x``, so
        ``W_pm.T ReLU(W_pm x) = W.T W x`` (the paper's Proposition 1).
        """
        return ConvOperator(self._pair_filters(), self.D, self.stride,
                            allow_truncation=self.allow_truncation, n_threads=self.n_threads)

    def __repr__(self):
        return (f"<ConvOperator K={self.K} M={self.M} ell={self.ell} D={self.D} n={self.n} "
                f"stride={self.stride} dtype={self.dtype}>")


def _pair(value, name):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints; got {value!r}") from None
    return check_positive_int(a, name), check_positive_int(b, name)


class ConvOperator2D(_ConvBase):
    """2-D multichannel strided convolution layer as a ``LinearOperator``.

    ``W[(i*OH + oy)*OW + ox, (m*H + oy*sh + ph)*W_in + ox*sw + pw] = filters[i, m, ph, pw]``:
    exactly ``torch.nn.functional.conv2d(x.reshape(1, M, H, W_in), filters, stride)``
    flattened. The rows of ``W`` (one per filter and 2-D shift) are the frame vectors.

    Parameters
    ----------
    filters : array_like of shape (K, M, kh, kw)
        ``torch.nn.Conv2d.weight`` layout. Copied.
    input_shape : int or (int, int)
        (H, W_in) of each input channel; must be at least (kh, kw).
    stride : int or (int, int), default=1
        (sh, sw).
    allow_truncation : bool, default=False
        As in :class:`ConvOperator`, per axis: if False, ``(H - kh) % sh`` and
        ``(W_in - kw) % sw`` must be 0; if True, uncovered trailing rows/columns are allowed.
    n_threads : int or None, default=None

    Attributes
    ----------
    K, M : int
    kernel_size, input_shape, output_shape, stride : tuple of int
        (kh, kw), (H, W_in), (OH, OW), (sh, sw).
    dims, dimsd : tuple
        ``(M, H, W_in)`` and ``(K, OH, OW)``.
    filters : ndarray of shape (K, M, kh, kw)

    Notes
    -----
    Forward (``conv2d``):
    ``h[i, oy, ox] = sum_{m, ph, pw} filters[i, m, ph, pw] * x[m, oy*sh + ph, ox*sw + pw]``.

    Adjoint (``conv_transpose2d`` with the same weights):
    ``x[m, y, c] = sum_{i, oy*sh + ph = y, ox*sw + pw = c} filters[i, m, ph, pw] * h[i, oy, ox]``.
    """

    def __init__(self, filters, input_shape, stride=1, *, allow_truncation=False,
                 n_threads=None):
        w = as_float_array(filters, "filters", ndim=4)
        K, M, kh, kw = w.shape
        H, W = _pair(input_shape, "input_shape")
        sh, sw = _pair(stride, "stride")
        if H < kh or W < kw:
            raise ValueError(f"input_shape={(H, W)} must be at least the filter size {(kh, kw)}")
        OH = _output_length(H, kh, sh, allow_truncation, "ConvOperator2D (height)")
        OW = _output_length(W, kw, sw, allow_truncation, "ConvOperator2D (width)")
        w = w.copy()
        w.flags.writeable = False
        self.filters = w
        self.K, self.M = K, M
        self.kernel_size, self.input_shape = (kh, kw), (H, W)
        self.output_shape, self.stride = (OH, OW), (sh, sw)
        self.allow_truncation = check_bool(allow_truncation, "allow_truncation")
        self._setup(w, H, W, sh, sw, (M, H, W), (K, OH, OW), n_threads)

    @classmethod
    def random(cls, K, M, kernel_size, input_shape, stride=1, *, normalize="fan_in", seed=None,
               dtype=np.float64, allow_truncation=False, n_threads=None):
        """A 2-D layer with Gaussian filters; `normalize` as in :meth:`ConvOperator.random`
        (``"fan_in"`` scales by ``1 / sqrt(M * kh * kw)``)."""
        K = check_positive_int(K, "K")
        M = check_positive_int(M, "M")
        kh, kw = _pair(kernel_size, "kernel_size")
        w = _random_filters((K, M, kh, kw), normalize, seed, dtype)
        return cls(w, input_shape, stride, allow_truncation=allow_truncation,
                   n_threads=n_threads)

    def relu_pair(self):
        """The operator of ``[W; -W]`` (2K filters); see :meth:`ConvOperator.relu_pair`."""
        return ConvOperator2D(self._pair_filters(), self.input_shape, self.stride,
                              allow_truncation=self.allow_truncation, n_threads=self.n_threads)

    def __repr__(self):
        return (f"<ConvOperator2D K={self.K} M={self.M} kernel_size={self.kernel_size} "
                f"input_shape={self.input_shape} stride={self.stride} dtype={self.dtype}>")
