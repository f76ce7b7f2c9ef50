"""Invertibility of CNN layers (Gilbert, Zhang, Lee, Zhang, Lee, IJCAI 2017).

A convolution layer ``W`` (see :class:`reluinj.ConvOperator`; its rows, every filter at every
shift, are the frame vectors) followed by max-``|.|`` pooling and a sparsity budget maps an input
``x`` to a *model-k-sparse* code: each of the K filter blocks of ``h = W x`` keeps at most one
entry per pooling region, and k entries are kept in total. When ``W.T`` satisfies the
model-RIP, the tied decoder ``x_hat = W.T M(W x, k)`` approximately inverts the layer on
signals ``x = W.T z`` with model-sparse ``z`` (Theorem 3.3); iterating the same step is
model-based iterative hard thresholding (Algorithm 1).

For 2-D operators ``pool`` is either an int, which counts consecutive positions along the
flattened ``(OH, OW)`` output map of a filter (C order), or a pair ``(ph, pw)`` of window
sizes: the ``ph x pw`` max-pooling windows of a CNN (the paper's VGG experiments use 2 x 2).
"""
import math
from dataclasses import dataclass
from typing import Tuple, Union

import numpy as np

from .._lib.validation import (
    as_float_array,
    check_bool,
    check_float_dtype,
    check_positive_float,
    check_positive_int,
    check_rng,
)
from ._operators import _ConvBase

__all__ = [
    "model_project",
    "model_support",
    "sample_model_sparse",
    "one_shot_reconstruct",
    "iht",
    "IHTResult",
    "estimate_model_rip",
    "ModelRIPEstimate",
    "theorem_3_3_bound",
    "filter_coherence",
]

DENSE_NORM_MAX_DIM = 64  # below this, ||W|| comes from a dense SVD
STEP_SAFETY = 1.0 + 1e-4  # margin over the Lanczos estimate of ||W||^2 (float32 too)
RIP_CHUNK = 256     # samples per batched call in estimate_model_rip (fixed: reproducibility)


def _pool_windows(pool):
    """True when `pool` is a tuple of window sizes (one per shift axis), not an int or None."""
    return isinstance(pool, (tuple, list))


def _regions(K, shape, k, pool):
    """Validate k and pool for K filter blocks with shift grid `shape`.

    Parameters
    ----------
    K : int
    shape : tuple of int
        Shift grid of one block: ``(n,)``, or ``(OH, OW)`` when `pool` is a window pair.
    k : int or None
    pool : int, tuple of int or None

    Returns
    -------
    k : int
    pool : int or tuple of int
        The effective region size, clipped to the grid (``None``: the whole block).
    table : ndarray of int, shape (R, P)
        Flat (C-order) positions of each of the R regions of a block; along a row the positions
        increase, and the sentinel ``prod(shape)`` stands for the cells of a region that lie
        beyond the grid edge.
    """
    k = check_positive_int(k, "k")
    n = math.prod(shape)
    if pool is None:
        pool, table = n, np.arange(n).reshape(1, n)
    elif _pool_windows(pool):
        if len(pool) != len(shape):
            raise ValueError(
                f"pool must have one window size per shift axis ({len(shape)}); got {pool!r}"
            )
        pool = tuple(min(check_positive_int(p, "pool"), d) for p, d in zip(pool, shape))
        table = np.zeros((1, 1), dtype=np.intp)
        for d, p in zip(shape, pool):
            idx = np.arange(-(-d // p) * p).reshape(-1, p)      # (regions, p) along this axis
            valid = idx < d
            # Row-major combination: region (a, b), offset (i, j) -> table[a, i] * d + idx[b, j].
            table = np.where(
                (table[:, None, :, None] < n) & valid[None, :, None, :],
                table[:, None, :, None] * d + idx[None, :, None, :],
                n,
            ).reshape(table.shape[0] * idx.shape[0], -1)
    else:
        pool = min(check_positive_int(pool, "pool"), n)
        table = np.arange(-(-n // pool) * pool).reshape(-1, pool)
        table[table >= n] = n
    R = table.shape[0]
    if k > K * R:
        raise ValueError(
            f"k={k} must be <= the number of pooling regions K * {R} = {K * R} "
            f"(pool={pool!r} on shift grid {tuple(shape)})"
        )
    return k, pool, table


def model_project(h, k, *, pool=None):
    """Structured approximation M(h, k): pool by max ``|.|``, keep the k largest region winners.

    Parameters
    ----------
    h : array_like of shape (..., K, n), or (..., K, OH, OW) with a window `pool`
        Filter-major layer outputs: block ``h[..., i, :]`` holds the shifts of filter i
        (for a flat output of a :class:`ConvOperator`, ``h.reshape(op.dimsd)``).
    k : int
        Number of entries kept, ``1 <= k <=`` K times the number of regions per block.
    pool : int, pair of int or None, default=None
        Pooling regions of a block. ``None``: the whole block, one region per filter (the
        paper's 1-D model). An int: consecutive runs of that length along the last axis (the
        last run may be shorter). A pair ``(ph, pw)``: ``ph x pw`` windows tiling the last two
        axes (an ``(OH, OW)`` output map of a :class:`ConvOperator2D`), as max pooling with
        stride equal to the window; windows at the bottom and right edges may be cut.

    Returns
    -------
    z : ndarray, same shape and dtype as `h`
        In each region only its entry of largest ``|h|`` (first in C order on ties) survives;
        of those region winners the k of largest ``|h|`` (stable order: first on ties) are
        kept at their switch positions, everything else is zero. This is the Euclidean
        projection onto the model set (at most one nonzero per region, k in all). The
        kept positions are :func:`model_support`.
    """
    return _model_project(h, k, pool)[0]


def model_support(h, k, *, pool=None):
    """The k positions kept by :func:`model_project` (same arguments).

    Returns
    -------
    support : ndarray of bool, same shape as `h`
        Exactly k True per input (a kept winner may be 0); ``model_project(h, k) ==
        np.where(support, h, 0)``.
    """
    return _model_project(h, k, pool)[1]


def _model_project(h, k, pool):
    h = as_float_array(h, "h", ndim=None)
    n_shift_axes = len(pool) if _pool_windows(pool) else 1
    if h.ndim < n_shift_axes + 1:
        expected = ("(..., K, n)" if not _pool_windows(pool) else
                    f"(..., K) and {n_shift_axes} shift axes, one per window size in pool")
        raise ValueError(
            f"h must have shape {expected} with ndim >= {n_shift_axes + 1}; got shape {h.shape}"
        )
    shape = h.shape[h.ndim - n_shift_axes:]
    K, n = h.shape[h.ndim - n_shift_axes - 1], math.prod(shape)
    k, _, table = _regions(K, shape, k, pool)
    H = h.reshape(-1, K, n)
    B, R = H.shape[0], table.shape[0]
    A = np.full((B, K, n + 1), -1.0, dtype=h.dtype)   # column n: the sentinel, never a winner
    np.abs(H, out=A[:, :, :n])
    A = np.take(A, table, axis=2).reshape(B, K * R, -1)
    loc = A.argmax(axis=2)
    win = np.take_along_axis(A, loc[:, :, None], axis=2)[:, :, 0]
    regions = np.argsort(-win, axis=1, kind="stable")[:, :k]
    blocks = regions // R
    pos = table[regions % R, np.take_along_axis(loc, regions, axis=1)]
    rows = np.arange(B)[:, None]
    support = np.zeros(H.shape, dtype=bool)
    support[rows, blocks, pos] = True
    z = np.where(support, H, 0).astype(h.dtype, copy=False).reshape(h.shape)
    return z, support.reshape(h.shape)


def sample_model_sparse(K, n, k, *, pool=None, size=None, seed=None, dtype=np.float64):
    """Random model-k-sparse vectors: support first, then values uniform on [-1, 1].

    Parameters
    ----------
    K : int
        Number of filter blocks.
    n : int or tuple of int
        Shifts per block: their number, or their grid (e.g. the ``(OH, OW)`` output map of a
        2-D operator, required when `pool` is a pair of window sizes).
    k : int
        Nonzeros per vector, ``1 <= k <=`` K times the number of regions per block.
    pool : int, pair of int or None, default=None
        Pooling regions, as in :func:`model_project` (``None``: the whole block). k distinct
        regions are drawn uniformly, then one position uniformly inside each region.
    size : int or None, default=None
        Number of vectors; None returns a single one.
    seed : None, int, SeedSequence or numpy Generator
    dtype : {float64, float32}, default=float64

    Returns
    -------
    z : ndarray of shape ``(K, *n)``, or ``(size, K, *n)``
    """
    dtype = check_float_dtype(dtype)
    K = check_positive_int(K, "K")
    shape = tuple(check_positive_int(d, "n") for d in (n if _pool_windows(n) else (n,)))
    k, _, table = _regions(K, shape, k, pool)
    B = 1 if size is None else check_positive_int(size, "size")
    gen = check_rng(seed)
    R = table.shape[0]
    cells = np.sort(table, axis=1)                  # the cells inside the grid first
    length = np.count_nonzero(cells < math.prod(shape), axis=1)
    regions = np.argsort(gen.random((B, K * R)), axis=1)[:, :k]
    offset = np.floor(gen.random((B, k)) * length[regions % R]).astype(np.intp)
    z = np.zeros((B, K, math.prod(shape)), dtype=dtype)
    z[np.arange(B)[:, None], regions // R, cells[regions % R, offset]] = gen.uniform(-1.0, 1.0,
                                                                                    (B, k))
    z = z.reshape((B, K) + shape)
    return z[0] if size is None else z


def _check_op(op):
    if not isinstance(op, _ConvBase):
        raise TypeError(
            f"op must be a ConvOperator or ConvOperator2D; got {type(op).__name__}"
        )


def _as_signal(op, x, name="x"):
    """x flat (N,) or nd (..., *dims) -> (batch of shape (B, *dims), function restoring shape)."""
    a = np.asarray(x)
    if a.ndim == 1:
        v = op._as_vector(a, op.shape[1], name)
        return v.reshape((1,) + tuple(op.dims)), lambda y: y.reshape(-1)
    Xb, batch = op._as_batch(a, op.dims, name)
    return Xb, lambda y: y.reshape(batch + y.shape[1:])


def _shift_grid(op, pool):
    """Shift grid of a filter block as model_project pools it: the (OH, OW) map of a 2-D
    operator for a window pair, else (number of shifts,)."""
    if _pool_windows(pool):
        if len(pool) != len(op.dimsd) - 1:
            raise ValueError(
                f"pool must be an int or have one window size per output axis of the "
                f"operator ({len(op.dimsd) - 1}); got {pool!r}"
            )
        return tuple(op.dimsd[1:])
    return (math.prod(op.dimsd[1:]),)


def _blocks(op, h, pool):
    """(B, *dimsd) -> (B, K, *shift grid) for model_project with `pool`."""
    return h.reshape((h.shape[0], op.dimsd[0]) + _shift_grid(op, pool))


def one_shot_reconstruct(op, x, k, *, pool=None, relu=False, n_threads=None):
    """One CNN layer with a tied decoder: ``x_hat = W.T M(W x, k)``.

    Parameters
    ----------
    op : ConvOperator or ConvOperator2D
        The layer ``W`` (rows = shifted filters = frame vectors). For the ReLU layer of the
        paper's Proposition 1 pass ``op.relu_pair()`` (``[W; -W]``) with ``relu=True``.
    x : ndarray of shape ``(M*D,)`` or ``(..., *op.dims)``
        Input(s), in the operator's dtype.
    k : int
        Sparsity budget of :func:`model_project`.
    pool : int, pair of int or None, default=None
        Pooling regions of :func:`model_project` (``None``: all shifts of a filter; a pair
        ``(ph, pw)``: max-pooling windows of a 2-D operator's output maps).
    relu : bool, default=False
        Apply ReLU before pooling: ``x_hat = W.T M(ReLU(W x), k)``.
    n_threads : int or None, default=None

    Returns
    -------
    x_hat : ndarray, same shape and dtype as `x`

    Notes
    -----
    The decoder inverts the layer only on signals that follow the model: for ``x = W.T z``
    with model-k-sparse ``z`` and a model-RIP ``W.T`` the error is bounded by
    :func:`theorem_3_3_bound`; a generic (off-model) input gives a relative error near 1.
    """
    _check_op(op)
    relu = check_bool(relu, "relu")
    X, restore = _as_signal(op, x)
    h = op.forward(X, n_threads=n_threads)
    if relu:
        np.maximum(h, 0, out=h)
    z = model_project(_blocks(op, h, pool), k, pool=pool).reshape(h.shape)
    return restore(op.adjoint(z, n_threads=n_threads))


def _squared_norm(op):
    """||W||_2^2: Lanczos (ARPACK ``svds``, fixed start vector) or a dense SVD for tiny W."""
    if min(op.shape) <= DENSE_NORM_MAX_DIM:
        return float(np.linalg.norm(op.todense().astype(np.float64), 2)) ** 2
    from scipy.sparse.linalg import svds  # lazy: keeps `import reluinj.cnn` lighter

    v0 = np.ones(min(op.shape), dtype=op.dtype)
    s = svds(op, k=1, return_singular_vectors=False, v0=v0)
    return float(s[0]) ** 2


@dataclass(frozen=True)
class IHTResult:
    """Result of :func:`iht`.

    Attributes
    ----------
    x : ndarray, same shape as the input signal
        The reconstruction ``W.T z``.
    z : ndarray of shape ``(K*n,)`` for a flat signal, else ``(..., *op.dimsd)``
        The model-k-sparse code.
    residuals : ndarray of shape (n_iter, ...)
        Relative residual ``||x - W.T z|| / ||x||`` after each iteration, per input.
    n_iter : int
        Iterations run (``<= max_iter``).
    converged : bool
        True if every relative residual reached `tol` (the loop stopped before or at
        `max_iter` because of it).
    """

    x: np.ndarray
    z: np.ndarray
    residuals: np.ndarray
    n_iter: int
    converged: bool


def iht(op, x, k, *, pool=None, relu=False, max_iter=50, step="auto", tol=1e-10,
        callback=None, n_threads=None):
    """Model-based iterative hard thresholding (the paper's Algorithm 1 with a step size).

    Starting from ``z = 0``: ``b = z + step * W d``, ``z = M(b, k)``, ``d = x - W.T z``.
    One iteration with ``step=1`` is :func:`one_shot_reconstruct`.

    Parameters
    ----------
    op : ConvOperator or ConvOperator2D
        The layer ``W``; ``W.T`` is the model-RIP synthesis matrix.
    x : ndarray of shape ``(M*D,)`` or ``(..., *op.dims)``
        Signal(s) to invert, in the operator's dtype.
    k : int
        Sparsity budget.
    pool : int, pair of int or None, default=None
    relu : bool, default=False
        Project onto non-negative model-sparse codes, ``z = M(ReLU(b), k)`` (use with
        ``op.relu_pair()``); still an exact projection, so the monotonicity below holds.
    max_iter : int, default=50
        Iteration cap (iterations run are ``result.n_iter``).
    step : "auto" or float, default="auto"
        ``"auto"`` = ``1 / ||W||^2`` (``||W||`` from ARPACK ``svds`` with a fixed start
        vector, or a dense SVD for tiny W, with a 1e-4 relative margin): with it the residual
        ``||x - W.T z||`` never increases (majorisation-minimisation, since M is the exact
        projection onto the model set). ``step=1`` is the paper's unit step, which diverges
        unless ``||W|| <= 1`` roughly.
    tol : float, default=1e-10
        Stop when every relative residual ``||x - W.T z|| / ||x||`` is <= tol.
    callback : callable or None, default=None
        Called as ``callback(iteration, x_hat, z)`` after each iteration.
    n_threads : int or None, default=None

    Returns
    -------
    result : IHTResult
        ``result.x`` (``W.T z``, same shape as `x`), ``result.z`` (the code),
        ``result.residuals`` (per iteration and input), ``result.n_iter``,
        ``result.converged``.
    """
    _check_op(op)
    relu = check_bool(relu, "relu")
    X, restore = _as_signal(op, x)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_positive_float(tol, "tol", allow_zero=True)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
    if isinstance(step, str):
        if step != "auto":
            raise ValueError(f"step must be 'auto' or a positive float; got {step!r}")
        sq = _squared_norm(op)
        step = 1.0 / (STEP_SAFETY * sq) if sq > 0 else 1.0
    else:
        step = check_positive_float(step, "step")
    B = X.shape[0]
    xnorm = np.linalg.norm(X.reshape(B, -1).astype(np.float64), axis=1)
    xnorm = np.where(xnorm > 0, xnorm, 1.0)
    z = np.zeros((B,) + tuple(op.dimsd), dtype=op.dtype)
    d = X
    history = []
    converged = False
    for it in range(max_iter):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            b = z + op.dtype.type(step) * op.forward(d, n_threads=n_threads)
        if not np.isfinite(b).all():
            raise _diverged(step, it)
        if relu:
            np.maximum(b, 0, out=b)
        z = model_project(_blocks(op, b, pool), k, pool=pool).reshape(b.shape)
        x_hat = op.adjoint(z, n_threads=n_threads)
        with np.errstate(over="ignore", invalid="ignore"):
            d = X - x_hat
            res = np.linalg.norm(d.reshape(B, -1).astype(np.float64), axis=1) / xnorm
        if not np.isfinite(res).all():
            raise _diverged(step, it)
        history.append(res)
        if callback is not None:
            callback(it, restore(x_hat), _restore_code(op, z, x))
        if np.all(res <= tol):
            converged = True
            break
    batch_shape = () if np.ndim(x) == 1 else np.shape(x)[: np.ndim(x) - len(op.dims)]
    residuals = np.array(history).reshape((len(history),) + tuple(batch_shape))
    return IHTResult(x=restore(x_hat), z=_restore_code(op, z, x), residuals=residuals,
                     n_iter=len(history), converged=converged)


def _diverged(step, it):
    return ValueError(f"step={step:.3g} is too large: IHT diverged (the iterate overflowed at "
                      f"iteration {it}); use step='auto' or a step below 2 / ||W||_2^2")


def _restore_code(op, z, x):
    """Shape a batch of codes (B, *dimsd) like the input `x` was shaped (flat or nd)."""
    if np.ndim(x) == 1:
        return z.reshape(-1)
    return z.reshape(np.shape(x)[: np.ndim(x) - len(op.dims)] + tuple(op.dimsd))


@dataclass(frozen=True)
class ModelRIPEstimate:
    """Sampled model-RIP constant of ``W.T`` (see :func:`estimate_model_rip`).

    Attributes
    ----------
    delta : float
        ``max |ratio - 1|``; a LOWER bound of the true model-RIP constant.
    ratios : ndarray of shape (n_samples,)
        ``||W.T z||^2 / ||z||^2`` for each sampled z.
    k, order, n_samples : int
    pool : int or tuple of int
        Pooling regions used (region length, or window sizes), clipped to the output map.
    """

    delta: float
    ratios: np.ndarray
    k: int
    order: int
    n_samples: int
    pool: Union[int, Tuple[int, ...]]

    @property
    def lower(self):
        """Smallest sampled ratio (estimates ``1 - delta`` from above)."""
        return float(self.ratios.min())

    @property
    def upper(self):
        """Largest sampled ratio (estimates ``1 + delta`` from below)."""
        return float(self.ratios.max())


def estimate_model_rip(op, k, *, order=1, n_samples=2000, pool=None, seed=None, n_threads=None):
    """Sampled model-RIP constant of the synthesis matrix ``W.T`` on model-k-sparse codes.

    Parameters
    ----------
    op : ConvOperator or ConvOperator2D
        The layer ``W``; the constant is that of ``Phi = W.T``.
    k : int
        Sparsity of the model set M_k.
    order : {1, 2}, default=1
        1: z drawn from M_k (:func:`sample_model_sparse`); 2: z = z1 + z2 with z1, z2
        drawn independently from M_k (the set M_k^2 of Theorem 3.3, constant delta_2k).
    n_samples : int, default=2000
    pool : int, pair of int or None, default=None
    seed : None, int, SeedSequence or numpy Generator
    n_threads : int or None, default=None

    Returns
    -------
    est : ModelRIPEstimate
        ``est.delta = max |(||W.T z||^2 / ||z||^2) - 1|`` over the samples.

    Notes
    -----
    delta is a maximum over finitely many samples, so it is a **lower bound** of the true
    constant ``sup_z |ratio - 1|`` (which is NP-hard to compute). The result is reproducible
    for a seed and independent of `n_threads` (the kernels are deterministic).
    """
    _check_op(op)
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    n_samples = check_positive_int(n_samples, "n_samples")
    K = op.dimsd[0]
    grid = _shift_grid(op, pool)
    k, pool, _ = _regions(K, grid, k, pool)
    gen = check_rng(seed)
    ratios = np.empty(n_samples)
    for start in range(0, n_samples, RIP_CHUNK):
        size = min(RIP_CHUNK, n_samples - start)
        z = sample_model_sparse(K, grid, k, pool=pool, size=size, seed=gen, dtype=op.dtype)
        if order == 2:
            z = z + sample_model_sparse(K, grid, k, pool=pool, size=size, seed=gen,
                                      dtype=op.dtype)
        x = op.adjoint(z.reshape((size,) + tuple(op.dimsd)), n_threads=n_threads)
        num = np.square(x.reshape(size, -1), dtype=np.float64).sum(axis=1)
        den = np.square(z.reshape(size, -1), dtype=np.float64).sum(axis=1)
        ratios[start:start + size] = num / den
    delta = float(np.abs(ratios - 1.0).max())
    return ModelRIPEstimate(delta=delta, ratios=ratios, k=k, order=order,
                            n_samples=n_samples, pool=pool)


def theorem_3_3_bound(delta_k, delta_2k):
    """Theorem 3.3's bound on ``||x_hat - x|| / ||x||`` for the one-shot reconstruction.

    ``5 delta_2k / (1 - delta_k) * sqrt((1 + delta_2k) / (1 - delta_2k))``, valid when ``W.T``
    has model-RIP constants ``delta_k <= delta_2k < 1`` and ``x = W.T z`` with z model-k-sparse.
    It is below 1 only for ``delta_k = delta_2k < 0.147`` or so.

    Parameters
    ----------
    delta_k, delta_2k : float
        Constants on M_k and M_k^2, ``0 <= delta_k <= delta_2k < 1``.

    Returns
    -------
    bound : float
    """
    dk = check_positive_float(delta_k, "delta_k", allow_zero=True)
    d2 = check_positive_float(delta_2k, "delta_2k", allow_zero=True)
    if not d2 < 1.0:
        raise ValueError(f"delta_2k must be < 1; got {d2}")
    if dk > d2:
        raise ValueError(f"delta_k must be <= delta_2k; got delta_k={dk} > delta_2k={d2}")
    return 5.0 * d2 / (1.0 - dk) * math.sqrt((1.0 + d2) / (1.0 - d2))


def filter_coherence(filters):
    """Largest ``|cos|`` between two distinct filters, each flattened to one vector.

    Parameters
    ----------
    filters : array_like of shape (K, ...)
        K >= 2 filters, e.g. (K, M, ell) or (K, M, kh, kw); no shifts are considered
        (the paper's Table 4 definition).

    Returns
    -------
    mu : float
        In [0, 1].
    """
    w = as_float_array(filters, "filters", ndim=None)
    if w.ndim < 2 or w.shape[0] < 2:
        raise ValueError(f"filters must have shape (K, ...) with K >= 2 and ndim >= 2; "
                         f"got shape {w.shape}")
    F = w.reshape(w.shape[0], -1).astype(np.float64)
    norms = np.linalg.norm(F, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"filters contains an all-zero filter (index {int(np.argmin(norms))})")
    F /= norms[:, None]
    G = np.abs(F @ F.T)
    np.fill_diagonal(G, 0.0)
    return float(min(G.max(), 1.0))
