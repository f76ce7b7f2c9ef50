"""Convolution layers as linear operators (the matrix W of a CNN layer).

A convolution layer with K filters over M input channels is the matrix ``W`` whose rows are
all shifts of all filters: its **rows are the frame vectors**, one per (filter, shift), and
``W x`` is exactly ``torch.nn.functional.conv1d`` / ``conv2d`` (cross-correlation, no flip,
with the layer's zero padding, stride, dilation and groups) flattened in C order. ``W.T z`` is
``conv_transpose1d`` / ``conv_transpose2d`` with the same weight tensor and geometry. A
per-filter bias ``b`` is kept beside the linear operator: :meth:`affine` is ``W x + b``. Both directions run in the compiled kernels of
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
    """Number of valid shifts (D - ell) // stride + 1, rejecting a truncated tail unless allowed.

    `size` is the padded input size and `ell` the dilated filter size.
    """
    rem = (size - ell) % stride
    if rem and not allow_truncation:
        raise ValueError(
            f"{what}: (input size {size} - filter size {ell}) = {size - ell} is not divisible by "
            f"stride {stride}; the last {rem} input sample(s) would never be covered. "
            "Pass allow_truncation=True for PyTorch's floor rule."
        )
    return (size - ell) // stride + 1


def _nonneg_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise TypeError(f"{name} must be a non-negative int; got {value!r}")
    return int(value)


def _padding_1d(padding, ell_eff, stride, name="padding"):
    """(left, right) zero padding of one axis from an int, a pair or "same"/"valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError(f"{name}='same' is not supported for strided convolutions "
                                 f"(stride={stride}), as in PyTorch")
            total = ell_eff - 1
            return total // 2, total - total // 2  # PyTorch puts the odd zero on the right
        raise ValueError(f"{name} must be an int, a pair of ints, 'same' or 'valid'; "
                         f"got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 1:
        padding = padding[0]
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        return _nonneg_int(padding[0], name), _nonneg_int(padding[1], name)
    p = _nonneg_int(padding, name)
    return p, p


def _check_groups(groups, K, M):
    G = check_positive_int(groups, "groups")
    if M % G or K % G:
        raise ValueError(f"groups={G} must divide both the number of filters K={K} and the "
                         f"number of input channels M={M}")
    return G


def _as_filter_bias(bias, K, dtype):
    if bias is None:
        return None
    b = as_float_array(bias, "bias", ndim=1).astype(dtype, copy=True)
    if b.shape != (K,):
        raise ValueError(f"bias must have shape ({K},) (one value per filter); got {b.shape}")
    b.flags.writeable = False
    return b


def _torch_conv_params(module, ndim):
    """Weights, bias and geometry of a torch Conv1d/Conv2d module as numpy / tuples."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised only without torch
        raise ImportError("from_torch needs PyTorch: pip install 'reluinj[torch]'") from err
    cls = torch.nn.Conv1d if ndim == 1 else torch.nn.Conv2d
    if not isinstance(module, cls):
        raise TypeError(f"module must be a torch.nn.{cls.__name__}; got {type(module).__name__}")
    if module.padding_mode != "zeros":
        raise ValueError(f"module.padding_mode={module.padding_mode!r} is not supported "
                         "(only zero padding)")
    w = module.weight.detach().cpu()
    if w.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"module weights must be float32 or float64; got {w.dtype}")
    w = w.numpy().copy()
    b = None if module.bias is None else module.bias.detach().cpu().numpy().copy()
    return w, b, module.stride, module.padding, module.dilation, module.groups


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

    def _setup(self, w4, H, W, sh, sw, dims, dimsd, n_threads, *, dilation=(1, 1),
               pads=(0, 0, 0, 0), groups=1, bias=None):
        if n_threads is not None:
            effective_n_threads(n_threads)
        self._w4 = w4
        self._geom = (H, W, sh, sw)
        self._pads = tuple(int(p) for p in pads)
        self._kw = dict(dilation_h=int(dilation[0]), dilation_w=int(dilation[1]),
                        pad_top=self._pads[0], pad_bottom=self._pads[1],
                        pad_left=self._pads[2], pad_right=self._pads[3], groups=int(groups))
        self.groups = int(groups)
        self.bias = bias
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
        X4 = X.reshape(B, self._w4.shape[1] * self.groups, H, W)
        Z = _core.conv_forward(X4, self._w4, sh, sw, effective_n_threads(n_threads), **self._kw)
        return Z.reshape((B,) + tuple(self.dimsd))

    def _adj(self, Z, n_threads):
        H, W, sh, sw = self._geom
        B = Z.shape[0]
        OH, OW = self._out_hw
        Z4 = Z.reshape(B, self._w4.shape[0], OH, OW)
        X = _core.conv_adjoint(Z4, self._w4, H, W, sh, sw, effective_n_threads(n_threads),
                               **self._kw)
        return X.reshape((B,) + tuple(self.dims))

    @property
    def _out_hw(self):
        return (1, self.dimsd[-1]) if len(self.dimsd) == 2 else tuple(self.dimsd[1:])

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

    def affine(self, X, *, n_threads=None):
        """The layer's pre-activation ``W x + b`` (torch's ``conv1d``/``conv2d`` with bias).

        Same shapes as :meth:`forward`; without a bias this is :meth:`forward`.
        """
        out = self.forward(X, n_threads=n_threads)
        if self.bias is not None:
            out += self.bias.reshape((-1,) + (1,) * (len(self.dimsd) - 1))
        return out

    # -- explicit matrices -------------------------------------------------------------------
    def tosparse(self, format="csr"):
        """The matrix ``W`` of shape ``(K * n_out, M * n_in)`` as a scipy.sparse matrix.

        Each row holds one shifted filter, so ``nnz = K * n_out * M * (filter size)``.
        """
        H, W, sh, sw = self._geom
        K, Mg, kh, kw = self._w4.shape
        OH, OW = self._out_hw
        dh, dw = self._kw["dilation_h"], self._kw["dilation_w"]
        pt, _, pl, _ = self._pads
        Kg = K // self.groups
        i, oy, ox, m, ph, pw = np.ix_(*(np.arange(s) for s in (K, OH, OW, Mg, kh, kw)))
        full = (K, OH, OW, Mg, kh, kw)
        y = np.broadcast_to(oy * sh + ph * dh - pt, full)
        c = np.broadcast_to(ox * sw + pw * dw - pl, full)
        keep = (y >= 0) & (y < H) & (c >= 0) & (c < W)  # taps on the zero padding drop out
        rows = np.broadcast_to((i * OH + oy) * OW + ox, full)
        chan = np.broadcast_to((i // Kg) * Mg + m, full)
        cols = (chan * H + y) * W + c
        vals = np.broadcast_to(self._w4[:, None, None, :, :, :], full)
        mat = scipy.sparse.coo_matrix((vals[keep], (rows[keep], cols[keep])), shape=self.shape)
        return mat.asformat(format)

    def todense(self):
        """The dense matrix ``W`` as an ndarray of shape ``(K * n_out, M * n_in)``."""
        return self.tosparse("coo").toarray()

    toarray = todense

    def _pair_filters(self):
        # with groups, each group's filters are followed by their negatives (group order kept)
        w = self.filters.reshape((self.groups, -1) + self.filters.shape[1:])
        return np.concatenate([w, -w], axis=1).reshape((-1,) + self.filters.shape[1:])


class ConvOperator(_ConvBase):
    """1-D multichannel convolution layer as a ``LinearOperator`` of shape (K n, M D).

    Without padding, dilation or groups, ``W[i*n + j, m*D + j*stride + p] = filters[i, m, p]``:
    the rows of ``W`` are the frame vectors (every filter at every shift), inputs are
    channel-major (``x[m, d]`` at ``m*D + d``) and outputs filter-major (``h[i, j]`` at
    ``i*n + j``). In general ``W x`` is exactly ``torch.nn.functional.conv1d(x, filters,
    stride=stride, padding=padding, dilation=dilation, groups=groups)``.

    Parameters
    ----------
    filters : array_like of shape (K, M // groups, ell)
        K filters of length ell (``torch.nn.Conv1d.weight`` layout). float32 filters give a
        float32 operator; other real dtypes become float64. Copied.
    input_length : int
        D, the length of each input channel (before padding).
    stride : int, default=1
        Shift t between consecutive filter positions.
    padding : int, (int, int), "valid" or "same", default=0
        Zero samples added on both sides (an int), on the (left, right) sides (a pair), none
        (``"valid"``) or PyTorch's ``"same"`` (stride 1 only; an odd total puts the extra zero
        on the right). The zeros are not unknowns: ``W`` acts on the D input samples only.
    dilation : int, default=1
        Spacing between filter taps (the dilated filter spans ``dilation*(ell-1)+1``).
    groups : int, default=1
        Channels and filters are split into `groups` blocks; filter block g sees channel
        block g only (``groups == M``: depthwise). Must divide K and M.
    bias : array_like of shape (K,) or None, default=None
        Per-filter bias, used by :meth:`affine` (``W x + b``); the operator itself is linear.
    allow_truncation : bool, default=False
        If False, ``(D + padding - dilated ell) % stride != 0`` is a ValueError. If True,
        PyTorch's floor rule is used and the trailing input samples covered by no row give
        zero columns of ``W`` (then ``W`` is not injective).
    n_threads : int or None, default=None
        OpenMP threads of ``matvec``/``rmatvec``/``matmat``; None follows OMP_NUM_THREADS /
        RELUINJ_NUM_THREADS / threadpoolctl, -1 = all cores.

    Attributes
    ----------
    K, M, ell, D, n, stride, dilation, groups : int
        Filters, channels, filter length, input length, output length, stride, dilation,
        groups.
    padding : tuple (left, right)
        The zero padding actually applied.
    dims : tuple
        ``(M, D)``, the nd shape of an input.
    dimsd : tuple
        ``(K, n)``, the nd shape of an output.
    filters : ndarray of shape (K, M // groups, ell)
        Read-only copy of the filters.
    bias : ndarray of shape (K,) or None

    Notes
    -----
    Forward (``conv1d``), with ``xp`` the zero-padded input and g = i // (K / groups):
    ``h[i, j] = sum_m sum_p filters[i, m, p] * xp[g*M/groups + m, j*t + p*dilation]``.

    Adjoint (``conv_transpose1d`` with the same weights, stride, padding, dilation, groups
    and ``output_padding`` making the output length D): the transpose of that sum, i.e.
    ``x[c, d] = sum_{i, j, p : j*t + p*dilation - left = d} filters[i, c - g*M/groups, p] * h[i, j]``.

    ``matvec`` accepts shapes (M D,) and (M D, 1); an input whose float dtype differs from the
    operator's is a TypeError (no silent upcast or downcast).

    Examples
    --------
    >>> op = ConvOperator.random(96, 32, 5, 32, seed=0)
    >>> op.shape
    (2688, 1024)
    >>> ConvOperator.random(8, 4, 3, 32, padding="same", groups=4, seed=0).dimsd
    (8, 32)
    """

    def __init__(self, filters, input_length, stride=1, *, padding=0, dilation=1, groups=1,
                 bias=None, allow_truncation=False, n_threads=None):
        w = as_float_array(filters, "filters", ndim=3)
        K, Mg, ell = w.shape
        D = check_positive_int(input_length, "input_length")
        t = check_positive_int(stride, "stride")
        dil = check_positive_int(dilation, "dilation")
        G = check_positive_int(groups, "groups")
        if K % G:
            raise ValueError(f"groups={G} must divide the number of filters K={K}")
        M = Mg * G
        ell_eff = dil * (ell - 1) + 1
        left, right = _padding_1d(padding, ell_eff, t)
        if D + left + right < ell_eff:
            raise ValueError(f"input_length={D} must be >= the filter length {ell_eff} "
                             f"(after dilation) minus the padding {left + right}")
        n = _output_length(D + left + right, ell_eff, t, allow_truncation, "ConvOperator")
        w = w.copy()
        w.flags.writeable = False
        self.filters = w
        self.K, self.M, self.ell, self.D, self.n, self.stride = K, M, ell, D, n, t
        self.dilation, self.padding = dil, (left, right)
        self.allow_truncation = check_bool(allow_truncation, "allow_truncation")
        self._setup(w[:, :, None, :], 1, D, 1, t, (M, D), (K, n), n_threads,
                    dilation=(1, dil), pads=(0, 0, left, right), groups=G,
                    bias=_as_filter_bias(bias, K, w.dtype))

    @classmethod
    def random(cls, K, M, ell, input_length, stride=1, *, padding=0, dilation=1, groups=1,
               normalize="fan_in", seed=None, dtype=np.float64, allow_truncation=False,
               n_threads=None):
        """A layer with Gaussian filters.

        Parameters
        ----------
        K, M, ell : int
            Filters, input channels and filter length.
        input_length : int
            D.
        stride : int, default=1
        padding, dilation, groups
            As in :class:`ConvOperator`; the filters have shape (K, M // groups, ell).
        normalize : {"fan_in", "unit"}, default="fan_in"
            ``"fan_in"``: i.i.d. N(0, 1) entries scaled by ``1 / sqrt(fan-in)`` (the paper's
            Theorem 3.1); ``"unit"``: each filter rescaled to unit Frobenius norm, so every
            row of ``W`` away from the padding has unit norm.
        seed : None, int, SeedSequence or numpy Generator
        dtype : {float64, float32}, default=float64
        """
        K = check_positive_int(K, "K")
        M = check_positive_int(M, "M")
        ell = check_positive_int(ell, "ell")
        G = _check_groups(groups, K, M)
        w = _random_filters((K, M // G, ell), normalize, seed, dtype)
        return cls(w, input_length, stride, padding=padding, dilation=dilation, groups=G,
                   allow_truncation=allow_truncation, n_threads=n_threads)

    @classmethod
    def from_torch(cls, module, input_shape, *, n_threads=None):
        """The operator of a ``torch.nn.Conv1d`` on inputs of the given shape.

        Parameters
        ----------
        module : torch.nn.Conv1d
            Zero padding only (``padding_mode="zeros"``); weights and bias are copied in
            the module's dtype (float32 or float64).
        input_shape : int or (int, int)
            D, or (M, D) (M must equal ``module.in_channels``).
        n_threads : int or None, default=None

        Returns
        -------
        op : ConvOperator
            ``op.affine(x)`` equals ``module(x)``; PyTorch's floor rule applies
            (``allow_truncation=True``).
        """
        w, b, stride, padding, dilation, groups = _torch_conv_params(module, 1)
        D = _input_size(input_shape, (module.in_channels,), 1, "input_shape")[0]
        return cls(w, D, stride[0], padding=padding if isinstance(padding, str) else padding[0],
                   dilation=dilation[0], groups=groups, bias=b, allow_truncation=True,
                   n_threads=n_threads)

    def relu_pair(self):
        """The operator of ``[W; -W]``: filters concatenated with their negatives (2K filters).

        ``ReLU([W; -W] x) = [h+; h-]`` with ``h+ - h- = W x``, so
        ``W_pm.T ReLU(W_pm x) = W.T W x`` (the paper's Proposition 1). With groups, each
        group's filters are followed by their negatives (the rows are those of ``[W; -W]``
        in another order).
        """
        return ConvOperator(self._pair_filters(), self.D, self.stride, padding=self.padding,
                            dilation=self.dilation, groups=self.groups,
                            allow_truncation=self.allow_truncation, n_threads=self.n_threads)

    def __repr__(self):
        extra = ""
        if self.padding != (0, 0):
            extra += f" padding={self.padding}"
        if self.dilation != 1:
            extra += f" dilation={self.dilation}"
        if self.groups != 1:
            extra += f" groups={self.groups}"
        return (f"<ConvOperator K={self.K} M={self.M} ell={self.ell} D={self.D} n={self.n} "
                f"stride={self.stride}{extra} dtype={self.dtype}>")


def _input_size(input_shape, channels, nd, name):
    """Spatial input size from (spatial...) or (channels, spatial...)."""
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (int(input_shape),)
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tuple of ints; got {input_shape!r}") from None
    if len(shape) == nd + 1:
        if shape[0] != channels[0]:
            raise ValueError(f"{name}={shape} has {shape[0]} channels but the module expects "
                             f"{channels[0]}")
        shape = shape[1:]
    if len(shape) != nd:
        raise ValueError(f"{name} must have {nd} spatial sizes (optionally after the channel "
                         f"count); got {input_shape!r}")
    return shape


def _pair(value, name):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints; got {value!r}") from None
    return check_positive_int(a, name), check_positive_int(b, name)


def _pad_pair(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError("padding must be an int, a pair of ints, 'same' or 'valid'; "
                        f"got {value!r}") from None
    return _nonneg_int(a, "padding"), _nonneg_int(b, "padding")


class ConvOperator2D(_ConvBase):
    """2-D multichannel convolution layer as a ``LinearOperator``.

    Without padding, dilation or groups,
    ``W[(i*OH + oy)*OW + ox, (m*H + oy*sh + ph)*W_in + ox*sw + pw] = filters[i, m, ph, pw]``;
    in general ``W x`` is exactly ``torch.nn.functional.conv2d(x.reshape(1, M, H, W_in),
    filters, stride=stride, padding=padding, dilation=dilation, groups=groups)`` flattened.
    The rows of ``W`` (one per filter and 2-D shift) are the frame vectors.

    Parameters
    ----------
    filters : array_like of shape (K, M // groups, kh, kw)
        ``torch.nn.Conv2d.weight`` layout. Copied.
    input_shape : int or (int, int)
        (H, W_in) of each input channel, before padding.
    stride : int or (int, int), default=1
        (sh, sw).
    padding : int, (int, int), "valid" or "same", default=0
        Zero rows/columns: an int pads every side, a pair ``(ph, pw)`` pads ``ph`` rows above
        and below and ``pw`` columns left and right (PyTorch's convention), ``"same"`` is
        PyTorch's (stride 1; an odd total puts the extra zero below / on the right); a
        4-tuple is ``(top, bottom, left, right)`` (the :attr:`padding` attribute).
    dilation : int or (int, int), default=1
    groups : int, default=1
        As in :class:`ConvOperator` (``groups == M``: depthwise).
    bias : array_like of shape (K,) or None, default=None
        Per-filter bias, used by :meth:`affine`.
    allow_truncation : bool, default=False
        As in :class:`ConvOperator`, per axis.
    n_threads : int or None, default=None

    Attributes
    ----------
    K, M, groups : int
    kernel_size, input_shape, output_shape, stride, dilation : tuple of int
        (kh, kw), (H, W_in), (OH, OW), (sh, sw), (dh, dw).
    padding : tuple (top, bottom, left, right)
        The zero padding actually applied.
    dims, dimsd : tuple
        ``(M, H, W_in)`` and ``(K, OH, OW)``.
    filters : ndarray of shape (K, M // groups, kh, kw)
    bias : ndarray of shape (K,) or None

    Notes
    -----
    Forward (``conv2d``), with ``xp`` the zero-padded input and g = i // (K / groups):
    ``h[i, oy, ox] = sum_{m, ph, pw} filters[i, m, ph, pw] * xp[g*M/groups + m, oy*sh + ph*dh,
    ox*sw + pw*dw]``.

    Adjoint (``conv_transpose2d`` with the same weights and geometry): the transpose of that
    sum; entries of ``xp`` on the padding are dropped.
    """

    def __init__(self, filters, input_shape, stride=1, *, padding=0, dilation=1, groups=1,
                 bias=None, allow_truncation=False, n_threads=None):
        w = as_float_array(filters, "filters", ndim=4)
        K, Mg, kh, kw = w.shape
        H, W = _pair(input_shape, "input_shape")
        sh, sw = _pair(stride, "stride")
        dh, dw = _pair(dilation, "dilation")
        G = check_positive_int(groups, "groups")
        if K % G:
            raise ValueError(f"groups={G} must divide the number of filters K={K}")
        M = Mg * G
        khe, kwe = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if isinstance(padding, str):
            pt, pb = _padding_1d(padding, khe, sh)
            pl, pr = _padding_1d(padding, kwe, sw)
        elif isinstance(padding, (tuple, list)) and len(padding) == 4:
            pt, pb, pl, pr = (_nonneg_int(p, "padding") for p in padding)
        else:
            ph_, pw_ = _pad_pair(padding)
            pt = pb = ph_
            pl = pr = pw_
        if H + pt + pb < khe or W + pl + pr < kwe:
            raise ValueError(f"input_shape={(H, W)} plus padding must be at least the (dilated) "
                             f"filter size {(khe, kwe)}")
        OH = _output_length(H + pt + pb, khe, sh, allow_truncation, "ConvOperator2D (height)")
        OW = _output_length(W + pl + pr, kwe, sw, allow_truncation, "ConvOperator2D (width)")
        w = w.copy()
        w.flags.writeable = False
        self.filters = w
        self.K, self.M = K, M
        self.kernel_size, self.input_shape = (kh, kw), (H, W)
        self.output_shape, self.stride = (OH, OW), (sh, sw)
        self.dilation, self.padding = (dh, dw), (pt, pb, pl, pr)
        self.allow_truncation = check_bool(allow_truncation, "allow_truncation")
        self._setup(w, H, W, sh, sw, (M, H, W), (K, OH, OW), n_threads, dilation=(dh, dw),
                    pads=(pt, pb, pl, pr), groups=G, bias=_as_filter_bias(bias, K, w.dtype))

    @classmethod
    def random(cls, K, M, kernel_size, input_shape, stride=1, *, padding=0, dilation=1,
               groups=1, normalize="fan_in", seed=None, dtype=np.float64,
               allow_truncation=False, n_threads=None):
        """A 2-D layer with Gaussian filters of shape (K, M // groups, kh, kw); `normalize`
        as in :meth:`ConvOperator.random` (``"fan_in"`` scales by ``1 / sqrt(M/groups*kh*kw)``)."""
        K = check_positive_int(K, "K")
        M = check_positive_int(M, "M")
        kh, kw = _pair(kernel_size, "kernel_size")
        G = _check_groups(groups, K, M)
        w = _random_filters((K, M // G, kh, kw), normalize, seed, dtype)
        return cls(w, input_shape, stride, padding=padding, dilation=dilation, groups=G,
                   allow_truncation=allow_truncation, n_threads=n_threads)

    @classmethod
    def from_torch(cls, module, input_shape, *, n_threads=None):
        """The operator of a ``torch.nn.Conv2d`` on inputs of the given shape.

        Parameters
        ----------
        module : torch.nn.Conv2d
            Zero padding only (``padding_mode="zeros"``); weights and bias are copied in
            the module's dtype (float32 or float64).
        input_shape : (int, int) or (int, int, int)
            (H, W), or (M, H, W) with M equal to ``module.in_channels``.
        n_threads : int or None, default=None

        Returns
        -------
        op : ConvOperator2D
            ``op.affine(x)`` equals ``module(x)``; PyTorch's floor rule applies
            (``allow_truncation=True``).
        """
        w, b, stride, padding, dilation, groups = _torch_conv_params(module, 2)
        H, W = _input_size(input_shape, (module.in_channels,), 2, "input_shape")
        return cls(w, (H, W), stride, padding=padding, dilation=dilation, groups=groups,
                   bias=b, allow_truncation=True, n_threads=n_threads)

    def relu_pair(self):
        """The operator of ``[W; -W]`` (2K filters); see :meth:`ConvOperator.relu_pair`."""
        return ConvOperator2D(self._pair_filters(), self.input_shape, self.stride,
                              padding=self.padding, dilation=self.dilation, groups=self.groups,
                              allow_truncation=self.allow_truncation, n_threads=self.n_threads)

    def __repr__(self):
        extra = ""
        if any(self.padding):
            extra += f" padding={self.padding}"
        if self.dilation != (1, 1):
            extra += f" dilation={self.dilation}"
        if self.groups != 1:
            extra += f" groups={self.groups}"
        return (f"<ConvOperator2D K={self.K} M={self.M} kernel_size={self.kernel_size} "
                f"input_shape={self.input_shape} stride={self.stride}{extra} dtype={self.dtype}>")
