"""Maximal bias by the most-correlated-basis search (Approach A): `sampled_bias`, `data_bias`.

For unit frame vectors φ̃_i (the normalized rows of ``W``) and an input direction x, the most
correlated basis J*(x) is the greedy maximum-weight basis of the ordering by ⟨x, φ̃_i⟩
(descending; ties broken by the smaller index): the top n elements when they are linearly
independent, otherwise an element is kept only if it raises the rank. The unit-sphere bias is

    a_i = inf { ⟨x, φ̃_i⟩ : ||x|| = 1, i ∈ J*(x) }        (+inf if i is in no J*(x)),

estimated from above by the minimum over samples; the domain rules of
:func:`reluinj.domains.scale_to_domain` map it to a domain, and the layer bias is
``alpha = ||φ_i|| * alpha_normalized``.

Reproducibility contract (shared with distributed runs)
-------------------------------------------------------
``sampled_bias(W, domain, n_samples=N, seed=r, batch_size=B)`` is the exact element-wise
minimum (and sum of hits) over batches ``b = 0 .. ceil(N / B) - 1`` of
``batch_partial_bias(Wn, draw_batch(domain, n, seed_sequence(r), b, B, N), check_rank=...)``,
with ``Wn, norms = normalized_frame(W)``. Any engine that evaluates the same batches and
combines the partials with :func:`combine_partials` reproduces the result bitwise, for any
thread count and in any batch order, on CPUs with the same instruction set (the kernel's GEMM
uses FMA on AVX2/AVX-512 machines, so last-bit values can differ from an SSE2-only machine;
``reluinj._core.most_correlated_basis_isa()`` names the path in use; ``RELUINJ_SIMD`` caps it).
"""
import dataclasses
import math
import numbers
import warnings

import numpy as np

from .. import _core
from .._lib.threads import effective_n_threads
from .._lib.validation import as_points, as_weights, check_positive_float, check_positive_int
from ._coverage import sampling_error
from ._domains import Sphere, check_domain, scale_to_domain
from ._estimate import BiasEstimate
from .._lib.exceptions import SamplingWarning
from ._toolkit import normalize_rows
from .._lib.constants import DEFAULT_RANK_TOL

__all__ = [
    "sampled_bias",
    "data_bias",
    "DEFAULT_BATCH_SIZE",
    "seed_sequence",
    "draw_batch",
    "normalized_frame",
    "resolve_check_rank",
    "batch_partial_bias",
    "combine_partials",
    "finalize_sampled_bias",
    "authors_init",
]

DEFAULT_BATCH_SIZE = 65536
"""Samples per batch of :func:`sampled_bias` (part of the reproducibility contract)."""

GENERIC_DISTINCT_FRACTION = 0.99
"""``check_rank="auto"`` treats ``W`` as in general position when it has no zero entry and at
least this fraction of its normalized entries have distinct absolute values."""


def seed_sequence(seed):
    """The root `numpy.random.SeedSequence` of a sampled estimate.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        * ``None``: fresh OS entropy, ``SeedSequence()``.
        * int ``s >= 0``: ``SeedSequence(s)`` (reproducible).
        * SeedSequence: used as is (its spawn counter is not touched).
        * Generator: ``SeedSequence(seed.integers(0, 2**63, size=4))``; this draw advances the
          generator, so two calls with the same Generator give different samples.

    Returns
    -------
    seq : numpy.random.SeedSequence
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4, dtype=np.uint64).tolist())
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "seed must be None, an int, a SeedSequence or a numpy Generator; "
            f"got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed must be non-negative; got {seed}")
    return np.random.SeedSequence(int(seed))


def draw_batch(domain, n, seed_seq, b, batch_size, n_total, dtype=np.float64):
    """Samples of batch `b`: points uniform on the unit sphere of R^n (or on its part in R^n_+).

    Pure function: the points come from the `b`-th child of `seed_seq` (the SeedSequence with
    the same entropy and ``spawn_key + (b,)``, i.e. what ``seed_seq.spawn`` returns as child b
    when nothing was spawned before) through ``numpy.random.default_rng``: Gaussian vectors
    ``g`` of shape (size, n), ``|g|`` when ``domain.nonnegative``, divided by their norms.
    The radius of `domain` plays no role (the unit-sphere value is mapped to the domain
    exactly afterwards).

    Parameters
    ----------
    domain : Sphere, Ball or Annulus
    n : int
        Dimension.
    seed_seq : numpy.random.SeedSequence
        Root sequence, see :func:`seed_sequence`.
    b : int
        Batch index, ``0 <= b < ceil(n_total / batch_size)``.
    batch_size : int
    n_total : int
        Total number of samples; the last batch holds the remainder.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Samples are drawn in float64 and then cast.

    Returns
    -------
    X : ndarray of shape (size, n)
        ``size = min(batch_size, n_total - b * batch_size)``.
    """
    domain = check_domain(domain)
    n = check_positive_int(n, "n")
    batch_size = check_positive_int(batch_size, "batch_size")
    n_total = check_positive_int(n_total, "n_total")
    n_batches = -(-n_total // batch_size)
    if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 0 <= b < n_batches:
        raise ValueError(f"b must be an int in [0, {n_batches}); got {b!r}")
    size = min(batch_size, n_total - int(b) * batch_size)
    child = np.random.SeedSequence(seed_seq.entropy, spawn_key=tuple(seed_seq.spawn_key) + (int(b),),
                                   pool_size=seed_seq.pool_size)
    X = np.random.default_rng(child).standard_normal((size, n))
    if domain.nonnegative:
        np.abs(X, out=X)
    # Same operations as ``np.linalg.norm(X, axis=1, keepdims=True)`` (bitwise identical), with
    # one temporary fewer (no ``X.conj()`` copy) and the square root taken in place.
    norms = np.add.reduce(np.multiply(X, X), axis=1, keepdims=True)
    np.sqrt(norms, out=norms)
    X /= norms
    return X.astype(dtype, copy=False)


def normalized_frame(W):
    """Validate `W` (rows = frame vectors) and return ``(W, Wn, norms)``.

    ``Wn = W / norms[:, None]`` is C-contiguous in W's float dtype (float32 or float64).

    Raises
    ------
    NotAFrameError
        If the rows of `W` do not span R^n.
    ValueError
        If `W` is not 2-D, has NaN/inf, or has a zero row.
    """
    W = as_weights(W)
    Wn, norms = normalize_rows(W)
    return W, np.ascontiguousarray(Wn, dtype=W.dtype), norms.astype(np.float64)


def resolve_check_rank(Wn, check_rank):
    """Decide whether J*(x) needs the per-point rank check.

    Parameters
    ----------
    Wn : ndarray of shape (m, n)
        Normalized frame (rows = unit frame vectors).
    check_rank : {"auto", True, False}
        ``True``: always test the top n for independence (exact for every frame; O(n^3) per
        point). ``False``: take the top n as J*(x); exact when every n rows are linearly
        independent (frames in general position: random or trained weights).
        ``"auto"``: ``False`` iff `Wn` looks generic, i.e. it has no zero entry and at least
        :data:`GENERIC_DISTINCT_FRACTION` of its entries have distinct absolute values
        (structured frames — duplicated or sign-flipped rows, sparse or ±1 patterns,
        polytopes such as the icosahedron — fail this test); ``True`` otherwise.

    Returns
    -------
    check : bool
    """
    if isinstance(check_rank, (bool, np.bool_)):
        return bool(check_rank)
    if check_rank != "auto":
        raise ValueError(f"check_rank must be 'auto', True or False; got {check_rank!r}")
    A = np.abs(Wn).ravel()
    if A.size == 0 or not np.all(A > 0):
        return True
    return np.unique(A).size < GENERIC_DISTINCT_FRACTION * A.size


def batch_partial_bias(Wn, X, *, check_rank=True, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
    """Partial Approach-A result of the points X (compiled kernel, GIL released).

    Parameters
    ----------
    Wn : ndarray of shape (m, n)
        Normalized frame (rows = unit frame vectors), C-contiguous float32/float64.
    X : ndarray of shape (k, n)
        Points (same dtype, C-contiguous, finite).
    check_rank : bool, default=True
        See :func:`resolve_check_rank`.
    rank_tol : float, default=DEFAULT_RANK_TOL
        An element raises the rank iff its distance to the span of the elements kept before
        it exceeds `rank_tol` (unit vectors).
    margin : float or "covering", default=0.0
        Subtracted from every finite unit-sphere estimate before the domain scaling (a
        safety margin: the estimate converges from above, so it is not automatically safe).
        ``"covering"`` subtracts :func:`reluinj.sampling_error` of `n_samples` in R^n.
    n_threads : int or None, default=None

    Returns
    -------
    min_corr : ndarray of shape (m,)
        ``min ⟨x, Wn_i⟩`` over the points with ``i ∈ J*(x)`` (``+inf`` if none).
    hits : ndarray of int64, shape (m,)
        Number of points with ``i ∈ J*(x)``.

    Notes
    -----
    The result does not depend on `n_threads` (exact min/sum reductions); combine the
    partials of several batches with :func:`combine_partials`.
    """
    return _core.most_correlated_basis_partial(Wn, X, bool(check_rank), float(rank_tol),
                                               effective_n_threads(n_threads))


def combine_partials(p, q):
    """Exact combination of two partials ``(min_corr, hits)``: element-wise min and sum."""
    return np.minimum(p[0], q[0]), p[1] + q[1]


def authors_init(Wn):
    """The reference implementation's cross-correlation start (``init="authors"``).

    For i = 0, ..., m-1 in order, with ``g = Wn @ Wn[i]`` and ``j`` the index of the n-th
    largest entry of ``g`` (stable sort): ``a[i] = min(a[j], g[j])``, starting from
    ``a = +inf``. This reproduces the reference code, including its use of ``a[j]`` (not
    ``a[i]``), which makes it order dependent. The values are not samples of the Approach-A
    infimum and can undercut it: combined with sampling they give a valid but possibly
    smaller (more conservative) bias.

    Parameters
    ----------
    Wn : ndarray of shape (m, n)
        Normalized frame (rows = unit frame vectors).

    Returns
    -------
    a : ndarray of float64, shape (m,)
    """
    Wn = np.asarray(Wn, dtype=np.float64)
    m, n = Wn.shape
    a = np.full(m, np.inf)
    block = 1024
    for start in range(0, m, block):
        G = Wn[start:start + block] @ Wn.T
        idx = np.argsort(G, axis=1, kind="stable")[:, m - n]
        vals = G[np.arange(G.shape[0]), idx]
        for r in range(G.shape[0]):
            j = idx[r]
            a[start + r] = min(a[j], vals[r])
    return a


def _warn_unbounded(hits, a, what):
    never = int(np.count_nonzero((hits == 0) & np.isposinf(a)))
    if never:
        warnings.warn(
            f"{never} of {hits.size} frame elements were in no most correlated basis of the "
            f"{what}; their bound stays +inf (0 on a ball). Use more samples if they are needed.",
            SamplingWarning, stacklevel=3,
        )


def _progress_bar(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="sample", desc="sampled_bias")


def sampled_bias(W, domain=Sphere(), *, n_samples=100_000, seed=None, batch_size=None,
                 init="none", check_rank="auto", margin=0.0, n_threads=None, progress=False):
    """Maximal-bias estimate of Approach A (most correlated bases) by uniform sampling.

    Draws `n_samples` points uniformly on the unit sphere of R^n (on its part in R^n_+ when
    ``domain.nonnegative``), finds the most correlated basis J*(x) of each and takes, for each
    frame element, the minimum correlation over the points whose J*(x) contains it. The
    estimate decreases monotonically with the samples and converges to the Approach-A bias
    from above; it is then mapped to `domain` exactly (:func:`reluinj.domains.scale_to_domain`).

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Must have rank n, no zero row.
    domain : Sphere, Ball or Annulus, default=Sphere()
    n_samples : int, default=100_000
        Number of sample points N (>= 1; integral floats such as ``1e6`` are accepted).
    seed : None, int, SeedSequence or numpy.random.Generator, default=None
        Source of the samples; see :func:`seed_sequence` for how it becomes the root
        SeedSequence. Batch b uses the b-th child of that SeedSequence (:func:`draw_batch`).
    batch_size : int or None, default=None
        Samples per batch; None means :data:`DEFAULT_BATCH_SIZE` (65536). Memory is
        O(batch_size * n) for the samples plus O(n_threads * 64 * m) in the kernel. The
        samples, hence the result, depend on `seed` and `batch_size` but never on `n_threads`.
    init : {"none", "authors"}, default="none"
        ``"authors"`` also takes the minimum with the reference implementation's
        cross-correlation start (:func:`authors_init`), which can undercut the true infimum.
    check_rank : {"auto", True, False}, default="auto"
        Whether to test the top n of each point for linear independence (rank fallback);
        see :func:`resolve_check_rank`.
    n_threads : int or None, default=None
        OpenMP threads; None follows OMP_NUM_THREADS / RELUINJ_NUM_THREADS / threadpoolctl,
        -1 = all cores.
    progress : bool, default=False
        Show a tqdm progress bar when tqdm is installed (silent otherwise).

    Returns
    -------
    est : BiasEstimate
        ``alpha`` (shape (m,)) = ``||φ_i|| * alpha_normalized``; ``method="sampled"``,
        ``n_samples``, ``hits`` (points whose J*(x) contained each element).

    Raises
    ------
    NotAFrameError
        If the rows of `W` do not span R^n.
    ValueError
        If `n_samples` or `batch_size` < 1, `init`/`check_rank` are unknown, or `W` is bad.
    TypeError
        If `domain` is not a Sphere, Ball or Annulus.

    Warns
    -----
    SamplingWarning
        If some element was in no J*(x) of the samples (its bound stays +inf; on a ball 0).

    See Also
    --------
    data_bias : the same minimum over given data points.

    Notes
    -----
    Correlations are computed in blocks of 64 points by a packed, register-tiled GEMM inside
    the compiled kernel, the top n per point are selected exactly (order: correlation
    descending, index ascending), and per-thread minima are reduced exactly; no N x m
    matrix is materialized. With the rank check on, the top n are first proven independent
    by a Cholesky factorization of their Gram matrix (all pivots above 1e-5); only when that
    fails does the exact greedy Gram-Schmidt test (tolerance ``DEFAULT_RANK_TOL``) run, going
    down the ordering until n independent elements are found.

    Examples
    --------
    >>> import reluinj
    >>> est = reluinj.sampled_bias(reluinj.icosahedron(), n_samples=20_000, seed=0)
    >>> bool(abs(est.alpha.min() - 5 ** -0.5) < 0.05)
    True
    """
    W, Wn, norms = normalized_frame(W)
    domain = check_domain(domain)
    n_samples = check_positive_int(n_samples, "n_samples")
    err = sampling_error(max(n_samples, 2), W.shape[1])
    if isinstance(margin, str):
        if margin != "covering":
            raise ValueError(f"margin must be a float >= 0 or 'covering'; got {margin!r}")
        margin = err
    margin = check_positive_float(margin, "margin", allow_zero=True)
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else check_positive_int(batch_size, "batch_size")
    if init not in ("none", "authors"):
        raise ValueError(f"init must be 'none' or 'authors'; got {init!r}")
    check = resolve_check_rank(Wn, check_rank)
    nt = effective_n_threads(n_threads)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool; got {type(progress).__name__}")
    seq = seed_sequence(seed)
    m, n = W.shape
    partial = (np.full(m, np.inf, dtype=W.dtype), np.zeros(m, dtype=np.int64))
    # Convergence record at N/32, ..., N/2, N: a batch is cut at the checkpoints inside it
    # (min and hit counts combine exactly, so the estimate is bitwise the same).
    marks = sorted({max(1, n_samples >> j) for j in range(6)})
    conv = []
    done = 0
    bar = _progress_bar(n_samples, bool(progress))
    try:
        for b in range(math.ceil(n_samples / batch_size)):
            X = draw_batch(domain, n, seq, b, batch_size, n_samples, dtype=W.dtype)
            cuts = [k - done for k in marks if done < k <= done + X.shape[0]]
            start = 0
            for cut in cuts:
                if cut > start:
                    partial = combine_partials(partial, batch_partial_bias(
                        Wn, np.ascontiguousarray(X[start:cut]), check_rank=check,
                        n_threads=nt))
                conv.append(partial[0].astype(np.float64))
                start = cut
            if start < X.shape[0]:
                partial = combine_partials(partial, batch_partial_bias(
                    Wn, np.ascontiguousarray(X[start:]), check_rank=check, n_threads=nt))
            done += X.shape[0]
            if bar is not None:
                bar.update(X.shape[0])
    finally:
        if bar is not None:
            bar.close()
    est = finalize_sampled_bias(W, Wn, norms, partial, domain, init, n_samples, margin=margin)
    return dataclasses.replace(est, sampling_error=err,
                               convergence_n=np.asarray(marks, dtype=np.int64),
                               convergence_alpha=np.vstack(conv))


def finalize_sampled_bias(W, Wn, norms, partial, domain, init, n_samples, *, margin=0.0):
    """The :class:`BiasEstimate` of :func:`sampled_bias` from the combined partial of all batches.

    Shared by the local and the distributed (:mod:`reluinj.distributed`) engines, so that the
    same partial gives the same estimate bitwise.

    Parameters
    ----------
    W, Wn, norms
        As returned by :func:`normalized_frame`.
    partial : tuple (min_corr, hits)
        Combination (:func:`combine_partials`) of every batch's :func:`batch_partial_bias`.
    domain : Sphere, Ball or Annulus
    init : {"none", "authors"}
    n_samples : int
    """
    a = partial[0].astype(np.float64)
    hits = partial[1]
    if init == "authors":
        a = np.minimum(a, authors_init(Wn))
    _warn_unbounded(hits, a, f"{n_samples} samples")
    if margin:
        a = np.where(np.isfinite(a), a - margin, a)
    alpha_normalized = scale_to_domain(a, domain)
    return BiasEstimate(alpha=norms * alpha_normalized, alpha_normalized=alpha_normalized,
                        domain=domain, method="sampled", W=W, n_samples=n_samples, hits=hits,
                        margin=float(margin))


def data_bias(W, X, *, check_rank="auto", n_threads=None):
    """Data-driven bias: the Approach-A minimum over given data points.

    For every point x (used as given, not normalized) and every i in its most correlated basis
    J*(x) (computed with the normalized rows), ``alpha_normalized[i] = min ⟨x, φ_i/||φ_i||⟩``;
    this is the largest bias for which every given point keeps its whole J*(x) active.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Must have rank n, no zero row.
    X : array_like of shape (k, n) or (n,)
        Data points (finite), k >= 1.
    check_rank : {"auto", True, False}, default="auto"
        See :func:`resolve_check_rank`.
    n_threads : int or None, default=None
        OpenMP threads (the result does not depend on it).

    Returns
    -------
    est : BiasEstimate
        ``method="data"``, ``domain=None``, ``n_samples=k``; ``alpha = ||φ_i|| *
        alpha_normalized`` (``+inf`` for elements in no J*(x) of the data).

    Raises
    ------
    ValueError
        If `X` has the wrong width, no points, or NaN/inf; or `W` is not a valid frame.

    Warns
    -----
    SamplingWarning
        If some element was in no J*(x) of the data.

    Notes
    -----
    Each finite entry is attained with equality, ``alpha_i = <x, φ_i>`` at some data point x.
    Another computation of that correlation (``ReLULayer.active_mask``, a BLAS product) may
    round it one ulp lower and then reports the boundary point as inactive; subtract a
    rounding-level margin (``est.certify(X, margin=1e-12)``) before certifying the data
    points themselves.
    """
    W, Wn, norms = normalized_frame(W)
    X2, _ = as_points(X, W.shape[1])
    if X2.shape[0] == 0:
        raise ValueError("X must contain at least one point; got shape (0, n)")
    check = resolve_check_rank(Wn, check_rank)
    dtype = np.result_type(Wn.dtype, X2.dtype)
    Wd = Wn.astype(dtype, copy=False)
    Xd = np.ascontiguousarray(X2, dtype=dtype)
    mins, hits = batch_partial_bias(Wd, Xd, check_rank=check, n_threads=n_threads)
    a = mins.astype(np.float64)
    _warn_unbounded(hits, a, f"{Xd.shape[0]} data points")
    return BiasEstimate(alpha=norms * a, alpha_normalized=a, domain=None, method="data", W=W,
                        n_samples=int(Xd.shape[0]), hits=hits)
