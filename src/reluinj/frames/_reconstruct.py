"""Reconstruction of the input of a ReLU layer ``y = ReLU(W x - alpha)`` from its output.

The rows of ``W`` (shape ``(m, n)``) are the frame vectors φ_i. For an output y the active set is
``I = {i : y_i > 0}``; its rows satisfy ``<x, φ_i> = y_i + alpha_i`` and x is recovered exactly
when they span R^n. Rows with ``y_i = 0`` only say ``<x, φ_i> <= alpha_i``.
"""
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import _core
from .._lib.threads import effective_n_threads
from .._lib.validation import (
    INT32_MAX,
    as_bias,
    as_float_array,
    as_points,
    as_weights,
    check_positive_float,
    check_method_options,
    check_positive_int,
    check_rank_tol,
)
from .._lib.exceptions import ConvergenceWarning
from .._lib.constants import DEFAULT_RANK_TOL

__all__ = ["relu_inverse", "InverseResult", "StabilityEstimate", "stability_constant",
           "INVERSE_METHODS", "INVERSE_OPTIONS"]

INVERSE_METHODS = ("dual", "facet", "frame", "cg")
"""Reconstruction methods accepted by :func:`relu_inverse`."""

INVERSE_OPTIONS = {
    "dual": {},
    "facet": {"facet_vertices": None},
    "frame": {"variant": "relu", "step": "full", "tol": 1e-10, "max_iter": 1000},
    "cg": {"tol": 1e-10, "max_iter": 1000},
}
"""The keys accepted in ``options`` by each method of :func:`relu_inverse`, with their defaults."""

CHOLESKY_PIVOT_TOL = 1e-8
"""Threshold of the Cholesky fast path of ``method="dual"`` (mirrors ``kCholPivotTol`` in C++).

The normal matrix ``G_I = W_I^T W_I`` is factorised by Cholesky; when a pivot has
``L_kk^2 <= CHOLESKY_PIVOT_TOL * G_kk`` (column k of ``W_I`` has a sine below 1e-4 to the span
of the previous columns) the sample is solved by a one-sided Jacobi SVD of ``W_I`` instead.
"""


@dataclass(frozen=True)
class InverseResult:
    """Inputs reconstructed by :func:`relu_inverse`, with per-sample diagnostics.

    Attributes
    ----------
    x : ndarray of shape (B, n) (or (n,) for a single output)
        Reconstructed inputs; float32 if `Y` was float32, else float64. NaN rows for
        ``method="facet"`` samples with no fully active facet.
    injective : ndarray of bool, shape (B,) (0-d for a single output)
        True where the active rows span R^n (rank test of
        :meth:`ReLULayer.is_injective_at` with tolerance `rank_tol`), so that `x` is the unique
        preimage. False samples get the minimum-norm least-squares solution on the rows used
        (for "frame" and "cg" the limit of the iteration from 0), except "facet" samples with
        no fully active facet, which get NaN.
    residual : ndarray of float64, shape (B,)
        Output misfit ``||ReLU(W x - alpha) - y||_2`` of the reconstruction.
    n_iter : ndarray of int32, shape (B,), or None
        Iterations used per sample ("frame", "cg"); None for the direct methods.
    facet_index : ndarray of int64, shape (B,), or None
        Index (into the facet list ``facet_vertices``) of the facet used per sample, -1 when
        none is fully active; only for ``method="facet"``.
    method : str
        The method that produced the result.
    """

    x: np.ndarray
    injective: np.ndarray
    residual: np.ndarray
    n_iter: Optional[np.ndarray]
    facet_index: Optional[np.ndarray]
    method: str

    @property
    def n_failed(self):
        """Number of samples that were not reconstructed uniquely (``~injective``)."""
        return int(np.count_nonzero(~np.atleast_1d(self.injective)))


def _check_layer_bias(alpha, m):
    a = as_bias(alpha, m, finite=False)
    if np.isnan(a).any() or np.isneginf(a).any():
        raise ValueError("alpha contains NaN or -inf")
    return np.ascontiguousarray(a, dtype=np.float64)


def _check_outputs(Y, m, *, check_values=True):
    """Y as a C-contiguous (B, m) float array; with `check_values`, reject NaN, inf and
    negative entries (``method="dual"`` leaves that to its kernel, which checks Y in the same
    pass that reads it, and calls :func:`_check_output_values` when the check fails)."""
    Y2 = as_float_array(Y, "Y", ndim=(1, 2), finite=False, allow_empty=True)
    was_1d = Y2.ndim == 1
    if was_1d:
        Y2 = Y2[None, :]
    if Y2.shape[1] != m:
        raise ValueError(f"Y must have {m} columns (outputs of a layer with m={m} rows); "
                         f"got shape {Y2.shape}")
    if check_values:
        _check_output_values(Y2)
    return Y2, was_1d


def _check_output_values(Y2):
    # min and max find NaN, inf and negative entries in two passes without a temporary mask
    # (the batches can be large).
    if Y2.size:
        lo, hi = Y2.min(), Y2.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("Y contains NaN or inf")
        if lo < 0:
            raise ValueError("Y has negative entries; it is not the output of a ReLU layer")


def _check_infinite_bias(a, Y2):
    """``alpha_i = +inf`` switches row i off for good: reject outputs with ``Y[:, i] > 0``."""
    off = np.flatnonzero(np.isposinf(a))
    if off.size and Y2.size:
        hit = np.nonzero(Y2[:, off] > 0)
        if hit[0].size:
            b, i = int(hit[0][0]), int(off[hit[1][0]])
            raise ValueError(
                f"alpha[{i}] = +inf (row {i} is never active) but Y[{b}, {i}] = {Y2[b, i]:.6g} > 0: "
                f"Y is not an output of this layer (+inf in alpha is allowed only where Y == 0)"
            )


def _facets_csr(facet_vertices, m, n):
    from .hull import Facets

    if isinstance(facet_vertices, Facets):
        if facet_vertices.n_rows != m:
            raise ValueError(f"facet_vertices is a Facets of a frame with {facet_vertices.n_rows} "
                             f"rows; W has m={m}")
        return facet_vertices.indptr, facet_vertices.indices
    if isinstance(facet_vertices, np.ndarray) and facet_vertices.ndim == 2:
        facet_vertices = list(facet_vertices)
    try:
        parts = [np.asarray(f) for f in facet_vertices]
    except TypeError:
        raise TypeError("facet_vertices must be a Facets or a list of integer index arrays") from None
    if not parts:
        raise ValueError("facet_vertices must contain at least one facet")
    for k, f in enumerate(parts):
        if f.ndim != 1 or f.size == 0 or f.dtype.kind not in "iu":
            raise ValueError(f"facet_vertices[{k}] must be a non-empty 1-D array of integer "
                             f"indices; got dtype {f.dtype}, shape {f.shape}")
        if f.min() < 0 or f.max() >= m:
            raise ValueError(f"facet_vertices[{k}] has indices outside [0, {m}): "
                             f"min {int(f.min())}, max {int(f.max())}")
        distinct = np.unique(f)
        if distinct.size != f.size:
            raise ValueError(f"facet_vertices[{k}] has repeated indices: {f.tolist()[:12]}")
        if f.size < n:
            raise ValueError(f"facet_vertices[{k}] has {f.size} indices; a facet of a frame in "
                             f"R^{n} needs at least n={n} distinct rows")
    indptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([f.size for f in parts], out=indptr[1:])
    indices = np.concatenate(parts).astype(np.int64)
    return indptr, indices


def check_inverse_options(method, options):
    """The options of `method` (defaults filled in) from the ``options`` argument.

    Raises
    ------
    ValueError
        If `method` is unknown, or a key of `options` does not belong to `method` (the message
        names the key, the method and, if any, the methods the key belongs to).
    TypeError
        If `options` is not a mapping with string keys.
    """
    return check_method_options(method, options, INVERSE_OPTIONS)


def _relu_inverse(W, alpha, Y, *, method, options, rank_tol, n_threads, require_frame):
    """Implementation of :func:`relu_inverse`; ``require_frame=False`` admits any W (networks)."""
    opts = check_inverse_options(method, options)
    W = as_weights(W, require_frame=require_frame)
    m, n = W.shape
    W64 = np.ascontiguousarray(W, dtype=np.float64)
    a = _check_layer_bias(alpha, m)
    Y2, was_1d = _check_outputs(Y, m, check_values=method != "dual")
    _check_infinite_bias(a, Y2)
    rank_tol = check_rank_tol(rank_tol)
    nt = effective_n_threads(n_threads)
    n_iter = facet_index = None
    if method == "dual":
        X, inj, res, y_valid = _core.dual_inverse(W64, a, Y2, rank_tol, nt)
        if not y_valid:
            _check_output_values(Y2)
            raise RuntimeError("dual_inverse rejected outputs Y that pass the value check")
    elif method == "facet":
        facet_vertices = opts["facet_vertices"]
        if facet_vertices is None:
            from .hull import facets as hull_facets

            facet_vertices = hull_facets(W64, merge=True)
        indptr, indices = _facets_csr(facet_vertices, m, n)
        X, inj, res, facet_index = _core.facet_inverse(W64, a, Y2, indptr, indices, rank_tol, nt)
    else:
        tol = check_positive_float(opts["tol"], "tol", allow_zero=True)
        max_iter = check_positive_int(opts["max_iter"], "max_iter", maximum=INT32_MAX)
        if method == "frame":
            variant, step = opts["variant"], opts["step"]
            if variant not in ("relu", "naive"):
                raise ValueError(f"variant must be 'relu' or 'naive'; got {variant!r}")
            if step not in ("full", "subframe"):
                raise ValueError(f"step must be 'full' or 'subframe'; got {step!r}")
            ev = np.linalg.eigvalsh(W64.T @ W64)
            lam = 2.0 / (ev[0] + ev[-1]) if step == "full" else 0.0
            X, inj, res, n_iter = _core.frame_inverse(W64, a, Y2, variant == "relu", lam, ev[-1],
                                                      tol, max_iter, rank_tol, nt)
        else:
            X, inj, res, n_iter = _core.cg_inverse(W64, a, Y2, tol, max_iter, rank_tol, nt)
        stuck = int(np.count_nonzero(n_iter >= max_iter)) if tol > 0 else 0
        if stuck:
            warnings.warn(f"relu_inverse(method={method!r}) reached max_iter={max_iter} on "
                          f"{stuck} of {Y2.shape[0]} samples before tol={tol}",
                          ConvergenceWarning, stacklevel=3)
    # A non-finite reconstruction or misfit (e.g. an overflow for outputs near the float
    # range) is never reported as the unique preimage.
    bad = ~(np.isfinite(res) & np.isfinite(X).all(axis=1))
    if bad.any() and inj[bad].any():
        inj = np.array(inj, copy=True)
        inj[bad] = False
    if was_1d:
        X, inj, res = X[0], inj[0], res[0]
        n_iter = None if n_iter is None else n_iter[0]
        facet_index = None if facet_index is None else facet_index[0]
    return InverseResult(x=X, injective=inj, residual=res, n_iter=n_iter,
                         facet_index=facet_index, method=method)


def relu_inverse(W, alpha, Y, *, method="dual", options=None, rank_tol=DEFAULT_RANK_TOL,
                 n_threads=None):
    """Reconstruct the inputs x of the ReLU layer ``y = ReLU(W x - alpha)`` from outputs Y.

    The active rows ``I = {i : y_i > 0}`` satisfy ``<x, φ_i> = y_i + alpha_i``; x is unique
    iff they span R^n. The whole batch is validated before any result is returned (for
    ``method="dual"`` the values of `Y` are checked in the kernel's own pass over them, which
    saves a pass over large batches), and every sample is solved independently in a compiled
    kernel (OpenMP over samples, GIL released); one ill-posed sample never aborts or
    contaminates the others, and results are bitwise independent of `n_threads`. With
    ``method="dual"`` on AVX2 or AVX-512 CPUs, four or eight samples are solved at once, one
    per vector lane (for n > 16 all but the Gram matrices), each with exactly the operations
    it would get alone.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Must have rank n (m >= n).
    alpha : float or array_like of shape (m,)
        Bias thresholds (the layer computes ``ReLU(W x - alpha)``); ``+inf`` marks a row that
        is never active.
    Y : array_like of shape (m,) or (B, m)
        Layer outputs: finite and non-negative. float32 outputs give float32 inputs.
    method : {"dual", "facet", "frame", "cg"}, default="dual"
        * ``"dual"``: ``x = S_I^{-1} sum_{i in I} (y_i + alpha_i) φ_i``, the canonical dual
          frame of the active sub-frame (least squares on the active rows). Per sample:
          normal matrix (built from the active rows, or as ``S - W_{I^c}^T W_{I^c}`` when
          fewer rows are inactive), Cholesky and one step of iterative refinement; when a
          pivot fails :data:`CHOLESKY_PIVOT_TOL` a one-sided Jacobi SVD of ``W_I``
          truncated to the numerical rank (minimum-norm solution when it is < n).
        * ``"facet"``: the first facet (in the order of ``facet_vertices``) whose vertices
          are all active; least squares on its rows (the facet-specific left inverse, an
          n x n solve for a simplicial facet). Samples without a fully active facet get NaN,
          ``facet_index=-1`` and ``injective=False``; no other facet is ever used.
        * ``"frame"``: the ReLU frame algorithm, gradient descent from ``y_0 = 0``:
          ``y_{k+1} = y_k + λ [sum_{i in I} (y_i + alpha_i - <y_k, φ_i>) φ_i
          + sum_{j not in I, <y_k, φ_j> >= alpha_j} (alpha_j - <y_k, φ_j>) φ_j]``.
        * ``"cg"``: conjugate gradients on ``W_I^T W_I x = W_I^T (y_I + alpha_I)`` from 0.
    options : dict or None, default=None
        Options of the chosen `method` (as ``scipy.optimize.minimize(method=...,
        options=...)``); a key that belongs to another method, or to none, is a
        ``ValueError`` naming the key and the method. Keys and defaults
        (:data:`INVERSE_OPTIONS`):

        =========  =====================================================================
        method     options
        =========  =====================================================================
        "dual"     none
        "facet"    ``facet_vertices=None``
        "frame"    ``variant="relu"``, ``step="full"``, ``tol=1e-10``, ``max_iter=1000``
        "cg"       ``tol=1e-10``, ``max_iter=1000``
        =========  =====================================================================

        * ``facet_vertices`` : Facets or list of array_like of int — the facets of the
          convex hull of the normalized rows (vertex index sets), e.g.
          ``reluinj.hull.facets(W)``; None computes ``reluinj.hull.facets(W, merge=True)``.
        * ``variant`` : {"relu", "naive"} — ``"naive"`` drops the second sum (the classical
          frame algorithm on the active sub-frame).
        * ``step`` : {"full", "subframe"} — ``λ = 2 / (A + B)`` with the optimal frame
          bounds of the whole frame (rate ``1 - 2 A_I / (A + B)``, as in the reference
          implementation), or a step from the active sub-frame: ``λ = 2 / (A_I + B_I)`` for
          ``variant="naive"`` (rate ``(B_I - A_I) / (B_I + A_I)``) and ``λ = 2 / (A_I + B)``
          for ``variant="relu"``, whose gradient also involves violated inactive rows and is
          only B-Lipschitz (always convergent, rate ``1 - 2 A_I / (A_I + B)``); ``1 / B_I``
          resp. ``1 / B`` when the active rows do not span.
        * ``tol`` : float — convergence tolerance: "frame" stops when
          ``||y_{k+1} - y_k|| <= tol ||y_{k+1}||``, "cg" when the normal-equation residual is
          ``<= tol ||W_I^T (y_I + alpha_I)||``. ``tol=0`` runs exactly `max_iter`
          iterations ("frame") or until the residual is 0.
        * ``max_iter`` : int — iteration cap; reaching it with ``tol > 0`` emits a
          :class:`ConvergenceWarning`. Iterations used are ``result.n_iter``.
    rank_tol : float, default=1e-10
        Relative tolerance of the rank test deciding whether the active rows span, in
        (0, 1): a row raises the rank iff the sine of its angle to the span of the rows
        accepted before it exceeds `rank_tol` (as in :meth:`ReLULayer.is_injective_at`);
        the default is :data:`reluinj.DEFAULT_RANK_TOL`.
    n_threads : int or None, default=None
        OpenMP threads; None follows OMP_NUM_THREADS / RELUINJ_NUM_THREADS / threadpoolctl,
        -1 = all cores (see :func:`reluinj.effective_n_threads`).

    Returns
    -------
    result : InverseResult
        ``result.x`` of shape (B, n) (or (n,)), ``result.injective``, ``result.residual``,
        ``result.n_iter`` and ``result.facet_index``.

    Raises
    ------
    ValueError
        If `Y` has negative, NaN or inf entries or a width other than m, `alpha` has the
        wrong length or NaN, `method` is unknown, or `options` holds a key that is not an
        option of `method`.
    TypeError
        If `options` is not a mapping.
    NotAFrameError
        If the rows of `W` do not span R^n.

    See Also
    --------
    ReLULayer.inverse : the same, as a method of a layer.
    stability_constant : error amplification of the "dual" reconstruction.

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> W = reluinj.icosahedron()
    >>> x = np.array([0.3, -0.5, 0.8])
    >>> y = np.maximum(W @ x, 0.0)
    >>> res = reluinj.relu_inverse(W, 0.0, y)
    >>> bool(res.injective), bool(np.allclose(res.x, x))
    (True, True)
    >>> res = reluinj.relu_inverse(W, 0.0, y, method="cg", options={"max_iter": 50})
    >>> int(res.n_iter) <= 50
    True
    """
    return _relu_inverse(W, alpha, Y, method=method, options=options, rank_tol=rank_tol,
                         n_threads=n_threads, require_frame=True)


@dataclass(frozen=True)
class StabilityEstimate:
    """Result of :func:`stability_constant`.

    Attributes
    ----------
    constant : float
        ``max_x 1 / sqrt(A_{I_x})`` over the given points (``inf`` if some point is not
        injective); a lower bound of the supremum over the whole domain.
    pointwise : ndarray of float64, shape (k,)
        ``1 / sqrt(A_{I_x})`` at each point.
    """

    constant: float
    pointwise: np.ndarray


def stability_constant(W, alpha, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
    """Worst error amplification ``max_x 1 / sqrt(A_{I_x})`` of the dual reconstruction.

    At an input x with active set ``I_x = {i : <x, φ_i> >= alpha_i}``, output noise e that
    does not change the active set moves the "dual" reconstruction by at most
    ``||e_I|| / sqrt(A_I)``, where ``A_I`` is the lower frame bound (smallest eigenvalue of
    ``W_I^T W_I``) of the active sub-frame. Compiled kernel, OpenMP over points.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors. Must have rank n.
    alpha : float or array_like of shape (m,)
        Bias thresholds of ``ReLU(W x - alpha)``.
    X : array_like of shape (n,) or (k, n)
        Input points at which the active sub-frames are taken.
    rank_tol : float, default=1e-10
        Rank-test tolerance (see :func:`relu_inverse`); points whose active rows do not span
        have constant ``inf``.
    n_threads : int or None, default=None
        See :func:`reluinj.effective_n_threads`.

    Returns
    -------
    est : StabilityEstimate
        ``est.constant`` (float) and ``est.pointwise`` (ndarray of shape (k,)).

    Examples
    --------
    >>> import reluinj
    >>> est = reluinj.stability_constant(reluinj.icosahedron(), 0.0, [[0.0, 0.0, 1.0]])
    >>> est.pointwise.shape
    (1,)
    """
    W = as_weights(W)
    return _stability(W, alpha, X, rank_tol=rank_tol, n_threads=n_threads)


def _stability(W, alpha, X, *, rank_tol, n_threads):
    m, n = W.shape
    a = _check_layer_bias(alpha, m)
    X2, _ = as_points(X, n)
    if X2.shape[0] == 0:
        raise ValueError("X must contain at least one point")
    rank_tol = check_rank_tol(rank_tol)
    per_point = _core.inverse_stability(np.ascontiguousarray(W, dtype=np.float64), a, X2,
                                        rank_tol, effective_n_threads(n_threads))
    return StabilityEstimate(constant=float(per_point.max()), pointwise=per_point)
