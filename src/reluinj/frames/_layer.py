"""The ReLU layer ``x -> ReLU(W x - alpha)`` and its point-wise injectivity test."""
import numpy as np

from .. import _core, _cykern
from .._lib.threads import effective_n_threads
from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.validation import (as_bias, as_points, as_weights,
                               check_rank_tol, result_dtype)

__all__ = ["ReLULayer"]


class ReLULayer:
    """A ReLU layer ``y = ReLU(W x - alpha)`` (the bias enters with a minus sign).

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Must have rank n (m >= n).
    alpha : float or array_like of shape (m,), default=0.0
        Bias thresholds α_i: row i is active at x iff ``<x, φ_i> >= α_i``. ``+inf`` is
        allowed (the row is never active), NaN is not.

    Attributes
    ----------
    W : ndarray of shape (m, n)
    alpha : ndarray of shape (m,)
    m, n : int
    dtype : numpy dtype (float32 or float64)

    See Also
    --------
    ReLULayer.from_affine : the deep-learning convention ``ReLU(W x + b)``.

    Examples
    --------
    >>> import reluinj
    >>> layer = reluinj.ReLULayer(reluinj.icosahedron(), 0.0)
    >>> bool(layer.is_injective_at([0.0, 0.0, 1.0]))
    True
    """

    def __init__(self, W, alpha=0.0):
        W = as_weights(W)
        a = as_bias(alpha, W.shape[0], finite=False)
        if np.isnan(a).any():
            raise ValueError("alpha contains NaN")
        dtype = result_dtype(W, a)
        self.W = np.ascontiguousarray(W, dtype=dtype)
        self.alpha = np.ascontiguousarray(a, dtype=dtype)
        self.W.flags.writeable = False
        self.alpha.flags.writeable = False

    @classmethod
    def from_affine(cls, W, b):
        """Layer ``ReLU(W x + b)`` of the deep-learning convention, i.e. ``alpha = -b``."""
        W = as_weights(W)
        b = as_bias(b, W.shape[0], name="b")
        return cls(W, -b)

    @classmethod
    def from_torch(cls, linear):
        """Layer from a ``torch.nn.Linear`` (followed by a ReLU): ``alpha = -linear.bias``.

        Requires the optional ``torch`` extra. The weights are copied to float64 unless they
        are float32.
        """
        try:
            import torch
        except ImportError as err:  # pragma: no cover - exercised only without torch
            raise ImportError("ReLULayer.from_torch needs PyTorch: pip install 'reluinj[torch]'") from err
        if not isinstance(linear, torch.nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear; got {type(linear).__name__}")
        W = linear.weight.detach().cpu().numpy()
        b = (linear.bias.detach().cpu().numpy() if linear.bias is not None
             else np.zeros(W.shape[0], dtype=W.dtype))
        return cls.from_affine(W, b)

    @property
    def m(self):
        """Number of neurons (frame vectors)."""
        return self.W.shape[0]

    @property
    def n(self):
        """Input dimension."""
        return self.W.shape[1]

    @property
    def dtype(self):
        """Floating dtype of the layer's parameters."""
        return self.W.dtype

    def __repr__(self):
        return f"ReLULayer(m={self.m}, n={self.n}, dtype={self.dtype})"

    def _prepare(self, X):
        X2, was_1d = as_points(X, self.n)
        dtype = result_dtype(X2, self.W)
        W = self.W if self.W.dtype == dtype else self.W.astype(dtype)
        alpha = self.alpha if self.alpha.dtype == dtype else self.alpha.astype(dtype)
        return W, alpha, np.ascontiguousarray(X2, dtype=dtype), was_1d

    def __call__(self, X, *, n_threads=None):
        """Forward pass ``ReLU(X @ W.T - alpha)``.

        Parameters
        ----------
        X : array_like of shape (n,) or (k, n)
        n_threads : int or None, default=None
            Threads of the element-wise kernel (see :func:`reluinj.effective_n_threads`).

        Returns
        -------
        Y : ndarray of shape (m,) or (k, m)
        """
        nt = effective_n_threads(n_threads)
        W, alpha, X2, was_1d = self._prepare(X)
        Z = X2 @ W.T
        _cykern.shifted_relu(Z, alpha, Z, nt)
        return Z[0] if was_1d else Z

    def active_mask(self, X, *, n_threads=None):
        """Active rows ``<x, φ_i> >= alpha_i`` for each point.

        Returns
        -------
        mask : ndarray of bool, shape (m,) or (k, m)
        """
        W, alpha, X2, was_1d = self._prepare(X)
        mask = _core.active_mask(W, alpha, X2, effective_n_threads(n_threads))
        return mask[0] if was_1d else mask

    def is_injective_at(self, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
        """Point-wise injectivity: do the active rows at x span R^n?

        This is a numerical **rank** test, not a count of active rows: active rows are
        scanned in index order and a row raises the rank iff its distance to the span of
        the rows accepted before it, relative to its norm, exceeds `rank_tol`. The layer is
        injective at x iff n rows are accepted. Compiled kernel, OpenMP over samples, GIL
        released; results do not depend on `n_threads`. The rank itself is
        :meth:`active_rank`.

        Parameters
        ----------
        X : array_like of shape (n,) or (k, n)
            Points at which to test.
        rank_tol : float, default=1e-10
            Relative tolerance of the rank test, in (0, 1).
        n_threads : int or None, default=None
            See :func:`reluinj.effective_n_threads`.

        Returns
        -------
        injective : ndarray of bool, shape (k,) (a 0-d bool for a single point)
        """
        return self._injective_at(X, rank_tol, n_threads, with_rank=False)

    def active_rank(self, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
        """Numerical rank of the active sub-frame at each point (the rank test of
        :meth:`is_injective_at`, which is ``active_rank(X) == n``).

        Parameters
        ----------
        X : array_like of shape (n,) or (k, n)
            Points at which to test.
        rank_tol : float, default=1e-10
            Relative tolerance of the rank test, in (0, 1).
        n_threads : int or None, default=None
            See :func:`reluinj.effective_n_threads`.

        Returns
        -------
        rank : ndarray of int32, shape (k,) (0-d for a single point)
        """
        return self._injective_at(X, rank_tol, n_threads, with_rank=True)[1]

    def _injective_at(self, X, rank_tol, n_threads, *, with_rank):
        rank_tol = check_rank_tol(rank_tol)
        nt = effective_n_threads(n_threads)
        W, alpha, X2, was_1d = self._prepare(X)
        res = _core.injective_at(W, alpha, X2, rank_tol, bool(with_rank), nt)
        if was_1d:
            return (res[0][0], res[1][0]) if with_rank else res[0]
        return res

    def injectivity_rate(self, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
        """Fraction of the points of `X` (shape (k, n)) at which the layer is injective."""
        inj = self.is_injective_at(X, rank_tol=rank_tol, n_threads=n_threads)
        inj = np.atleast_1d(inj)
        if inj.size == 0:
            raise ValueError("X must contain at least one point")
        return float(np.mean(inj))

    def inverse(self, Y, *, method="dual", options=None, rank_tol=DEFAULT_RANK_TOL,
                n_threads=None):
        """Reconstruct inputs from outputs ``Y`` of this layer.

        Delegates to :func:`reluinj.relu_inverse` with this layer's ``W`` and ``alpha``.

        Parameters
        ----------
        Y : array_like of shape (m,) or (B, m)
            Non-negative, finite layer outputs.
        method, options, rank_tol, n_threads
            As in :func:`reluinj.relu_inverse`.

        Returns
        -------
        result : InverseResult
            ``result.x`` has shape (n,) or (B, n).
        """
        from ._reconstruct import relu_inverse

        return relu_inverse(self.W, self.alpha, Y, method=method, options=options,
                            rank_tol=rank_tol, n_threads=n_threads)
