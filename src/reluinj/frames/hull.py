"""Facets of the polytope inscribed by a frame: a thin layer over ``scipy.spatial.ConvexHull``.

The rows of ``W`` (shape ``(m, n)``) are the frame vectors φ_i. The polytope is
``P = conv{φ_i / ||φ_i||}``; its facets split R^n into the cones ``cone(F)``, on which the
polytope bias (:func:`reluinj.polytope_bias`) is computed.

Qhull always triangulates (option ``Qt``): a non-simplicial facet (a square of the cube)
comes back as several simplices sharing one hyperplane. :func:`facets` merges them back into
true facets by default (``merge=True``).
"""
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .. import _core
from .._lib.validation import as_float_array, as_weights, INT32_MAX, check_bool, check_positive_int
from .._lib.exceptions import HullError
from .._lib.interrupt import call_interruptibly
from ._toolkit import is_omnidirectional, omnidirectional_margin

__all__ = ["Facets", "facets", "nnls", "max_facet_count", "estimate_facet_count", "MERGE_TOL",
           "DUPLICATE_TOL", "INTERIOR_TOL", "MAX_FACETS"]

MAX_FACETS = 1_000_000
"""Default ``max_facets`` of :func:`facets` and :func:`reluinj.polytope_bias`: above this many
(estimated) facets Qhull would need gigabytes and minutes, so the polytope method refuses to start
(measured for random frames: 1.2e5 facets of a 120x8 frame take 1.9 s; in dimension 10 Qhull
needs about 40 µs and 1 kB per facet)."""

MERGE_TOL = 1e-9
"""Adjacent Qhull simplices whose hyperplanes (unit normal and offset) differ by at most
this (max-norm) are merged into one facet."""

DUPLICATE_TOL = 1e-12
"""Normalized rows with ``1 - <φ̃_i, φ̃_j> <= DUPLICATE_TOL`` (angle below ~1.4e-6 rad) are
duplicates."""

INTERIOR_TOL = 1e-9
"""The origin must be at distance > INTERIOR_TOL from every facet hyperplane."""


@dataclass(frozen=True)
class Facets:
    """Facets of ``P = conv{φ_i / ||φ_i||}`` with their incidence and adjacency.

    The facet/vertex incidence is stored once in compressed form (`indptr`, `indices`, as
    in ``scipy.sparse.csr_matrix``); the list views are built on first access.

    Attributes
    ----------
    indptr : ndarray of int64, shape (n_facets + 1,)
    indices : ndarray of int64, shape (indptr[-1],)
        Facet ``f`` has the vertices ``indices[indptr[f]:indptr[f + 1]]`` (sorted row indices
        of `W`).
    equations : ndarray of shape (n_facets, n + 1)
        Hyperplane ``[normal, offset]`` of each facet as in Qhull: ``normal @ y + offset <= 0``
        on P, unit normal, offset = minus the distance of the hyperplane to the origin.
    neighbor_indptr, neighbor_indices : ndarray of int64
        Facet adjacency in the same compressed form (facets sharing a ridge).
    n_rows : int
        m, the number of rows of `W`.
    merged : bool
        True if coplanar Qhull simplices were merged into true facets.
    inradius : float
        Distance from the origin to the boundary of P, ``min(-equations[:, -1])`` (> 0 for an
        omnidirectional frame).
    """

    indptr: np.ndarray
    indices: np.ndarray
    equations: np.ndarray
    neighbor_indptr: np.ndarray = field(repr=False)
    neighbor_indices: np.ndarray = field(repr=False)
    n_rows: int
    merged: bool
    inradius: float

    @property
    def n_facets(self):
        """Number of facets."""
        return len(self.indptr) - 1

    @cached_property
    def vertices(self):
        """list of n_facets sorted int64 arrays: the rows of `W` forming each facet."""
        return _split(self.indices, self.indptr)

    @cached_property
    def neighbors(self):
        """list of n_facets sorted int64 arrays: the facets adjacent to each facet."""
        return _split(self.neighbor_indices, self.neighbor_indptr)

    @cached_property
    def vertex_facets(self):
        """list of m sorted int64 arrays: for each row index, the facets containing it."""
        counts = np.diff(self.indptr)
        facet_of = np.repeat(np.arange(self.n_facets, dtype=np.int64), counts)
        order = np.lexsort((facet_of, self.indices))
        bounds = np.searchsorted(self.indices[order], np.arange(1, self.n_rows))
        return np.split(facet_of[order], bounds)


def _split(values, indptr):
    """The CSR rows ``values[indptr[k]:indptr[k + 1]]`` as a list of views."""
    counts = np.diff(indptr)
    if counts.size and (counts == counts[0]).all() and counts[0] > 0:
        return list(values.reshape(-1, counts[0]))
    return np.split(values, indptr[1:-1])


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False


def _csr_from_pairs(rows, cols, n_rows):
    """Sorted, de-duplicated CSR (indptr, indices) of the pairs (rows[k], cols[k])."""
    width = int(cols.max()) + 1 if cols.size else 1
    keys = np.unique(rows.astype(np.int64) * width + cols.astype(np.int64))
    r, c = np.divmod(keys, width)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
    return indptr, c.astype(np.int64)


def _normalized_frame(W):
    """Validate W for the polytope method; return (W, Wn, norms)."""
    W = as_float_array(W, "W", ndim=2)
    m, n = W.shape
    if n < 2:
        raise ValueError(f"the polytope method needs n >= 2 columns; got W of shape {W.shape}")
    if m < n + 1:
        raise ValueError(
            f"W needs at least n + 1 = {n + 1} rows to have 0 inside the convex hull of its "
            f"rows; got shape {W.shape}"
        )
    W = as_weights(W)
    W64 = W.astype(np.float64, copy=False)
    norms = np.linalg.norm(W64, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"W has zero rows at indices {zero[:10].tolist()}; rows must be nonzero")
    Wn = W64 / norms[:, None]
    gram = Wn @ Wn.T
    i, j = np.nonzero(np.triu(gram >= 1.0 - DUPLICATE_TOL, k=1))
    if i.size:
        pairs = ", ".join(f"({a}, {b})" for a, b in zip(i[:5].tolist(), j[:5].tolist()))
        raise ValueError(
            f"W has {i.size} pair(s) of rows with the same direction (duplicates after "
            f"normalization), e.g. rows {pairs}; remove them first"
        )
    return W, np.ascontiguousarray(Wn), norms


def _not_omnidirectional(W):
    margin = omnidirectional_margin(W)
    return ValueError(
        "the rows of W are not omnidirectional: 0 is not in the interior of the convex hull "
        f"of the normalized rows (LP margin t* = {margin:.3g}); the polytope method needs an "
        "omnidirectional frame (every open half-space must contain a row of W)"
    )


def _hull_facets(Wn, merge):
    """Facets of conv(rows of Wn) (Wn already validated and normalized)."""
    from scipy.spatial import ConvexHull, QhullError  # lazy: keeps `import reluinj` fast

    m, n = Wn.shape
    try:
        # Qhull never checks for signals: wait for it so that Ctrl-C still interrupts.
        hull = call_interruptibly(ConvexHull, Wn)
    except QhullError as err:
        # A flat hull (rows on one affine hyperplane) means 0 is outside: say so.
        if not is_omnidirectional(Wn):
            raise _not_omnidirectional(Wn) from err
        raise HullError(f"Qhull failed on the normalized rows of W (shape {Wn.shape}): "
                        f"{str(err).splitlines()[0]}") from err
    simplices = hull.simplices.astype(np.int64)
    equations = hull.equations
    neighbors = hull.neighbors.astype(np.int64)
    n_simplices = len(simplices)
    src = np.repeat(np.arange(n_simplices, dtype=np.int64), n)
    dst = neighbors.ravel()
    same = np.max(np.abs(equations[src] - equations[dst]), axis=1) <= MERGE_TOL
    if merge and same.any():
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix((np.ones(int(same.sum())), (src[same], dst[same])),
                           shape=(n_simplices, n_simplices))
        n_facets, label = connected_components(graph, directed=False)
        label = label.astype(np.int64)
        first = np.full(n_facets, n_simplices, dtype=np.int64)
        np.minimum.at(first, label, np.arange(n_simplices, dtype=np.int64))
        equations = equations[first]
        indptr, indices = _csr_from_pairs(np.repeat(label, n), simplices.ravel(), n_facets)
        across = label[src] != label[dst]
        nb_indptr, nb_indices = _csr_from_pairs(label[src[across]], label[dst[across]], n_facets)
    else:
        # Every simplex is a facet: n vertices and n neighbours each.
        indptr = np.arange(0, n * n_simplices + 1, n, dtype=np.int64)
        indices = np.sort(simplices, axis=1).ravel()
        nb_indptr = indptr.copy()
        nb_indices = np.sort(neighbors, axis=1).ravel()
    equations = np.ascontiguousarray(equations)
    _readonly(indptr, indices, equations, nb_indptr, nb_indices)
    return Facets(indptr=indptr, indices=indices, equations=equations,
                  neighbor_indptr=nb_indptr, neighbor_indices=nb_indices, n_rows=m,
                  merged=bool(merge), inradius=float(np.min(-equations[:, -1])))


def max_facet_count(m, n):
    """Upper bound theorem: the most facets a polytope with m vertices in R^n can have.

    McMullen's bound, attained by the cyclic polytope:
    ``C(m - ceil(n/2), floor(n/2)) + C(m - floor(n/2) - 1, ceil(n/2) - 1)``.

    Parameters
    ----------
    m, n : int
        Number of vertices (``m >= n + 1``) and dimension (``n >= 2``).

    Returns
    -------
    int
    """
    m = check_positive_int(m, "m", minimum=1)
    n = check_positive_int(n, "n", minimum=2)
    if m < n + 1:
        raise ValueError(f"m must be >= n + 1 = {n + 1}; got m={m}")
    lo, hi = n // 2, (n + 1) // 2
    return math.comb(m - hi, lo) + math.comb(m - lo - 1, hi - 1)


_SAMPLE_GROWTH = 1.5  # subset sizes 2n, 3n, 4.5n, ...


def estimate_facet_count(W, *, limit=None):
    """Cheap estimate of the number of facets of ``conv{φ_i / ||φ_i||}`` before Qhull runs on it.

    Qhull is run on nested random subsets of 2n, 3n, 4.5n, ... rows (fixed seed). The facet
    count f(s) of s points grows at least linearly in s (linearly for many points spread over
    the sphere) and at most like ``s ** (n // 2)`` (upper bound theorem); between two subset
    sizes it is fitted by a power law ``f(s) ~ s**e``, whose extrapolation to all m rows
    over-estimates (the exponent falls as s grows). Sampling stops as soon as the answer
    relative to `limit` is known: the linear extrapolation ``f(s) m / s`` (an under-estimate)
    already exceeds `limit`, or the power-law one is below it, or the next subset would cost
    more than ``limit / 4`` facets itself (then the power-law estimate is returned).

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors.
    limit : int or None, default=None
        The facet budget to decide against (None: sample up to all rows, which costs more
        than the full hull; meant for diagnostics).

    Returns
    -------
    int
        The estimated facet count, never above the upper bound theorem's
        (:func:`max_facet_count`), which is returned at once when it is at most `limit`.
    """
    W = as_float_array(W, "W", ndim=2)
    m, n = W.shape
    if n < 2 or m < n + 1:
        raise ValueError(f"W must have n >= 2 columns and m >= n + 1 rows; got shape {W.shape}")
    bound = max_facet_count(m, n)
    if limit is not None:
        limit = check_positive_int(limit, "limit")
        if bound <= limit:
            return bound
    from scipy.spatial import ConvexHull, QhullError  # lazy: keeps `import reluinj` fast

    norms = np.linalg.norm(W.astype(np.float64), axis=1, keepdims=True)
    Wn = W / np.where(norms > 0, norms, 1.0)
    order = np.random.default_rng(0).permutation(m)
    prev = None
    s = 2 * n
    while True:
        s = min(s, m)
        try:
            f = len(ConvexHull(Wn[order[:s]]).simplices)
        except QhullError:  # a flat subset: try a larger one
            if s == m:
                return 1
            s = int(np.ceil(s * _SAMPLE_GROWTH))
            continue
        if s == m:
            return f
        linear = f * m / s
        if limit is not None and linear > limit:
            return min(bound, int(linear))
        e = n // 2
        if prev is not None:
            e = float(np.clip(np.log(f / prev[1]) / np.log(s / prev[0]), 1.0, n // 2))
        power = min(float(bound), f * (m / s) ** e)
        if limit is not None and (power <= limit or f * _SAMPLE_GROWTH**e > limit / 4):
            return int(power)
        prev = (s, f)
        s = int(np.ceil(s * _SAMPLE_GROWTH))


def _check_facet_budget(Wn, max_facets):
    """Refuse a hull whose estimated facet count exceeds max_facets (None: no limit)."""
    if max_facets is None:
        return
    max_facets = check_positive_int(max_facets, "max_facets")
    est = estimate_facet_count(Wn, limit=max_facets)
    if est > max_facets:
        m, n = Wn.shape
        raise ValueError(
            f"the polytope of W (shape {Wn.shape}) has an estimated {est:.3g} facets, more than "
            f"max_facets={max_facets}: Qhull would need about {est * 1e-6 * n / 10:.3g} GB and "
            "minutes or more. Use the sampled method (reluinj.sampled_bias, or "
            "`reluinj bias --method sampled`), or pass a larger max_facets (None: no limit)"
        )


def facets(W, *, merge=True, max_facets=MAX_FACETS):
    """Facets of the polytope ``P = conv{φ_i / ||φ_i||}`` inscribed in the unit sphere.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Needs ``n >= 2``, ``m >= n + 1``,
        rank n, no two rows with the same direction, and an omnidirectional frame (0 in the
        interior of P).
    merge : bool, default=True
        Merge the coplanar simplices of Qhull's triangulation into the true facets of P.
        With False every Qhull simplex is a facet (the result then depends on how Qhull
        triangulates non-simplicial facets).
    max_facets : int or None, default=MAX_FACETS (1e6)
        Refuse to start Qhull when :func:`estimate_facet_count` exceeds this (``None``: no
        limit). The estimate runs only when the upper bound theorem allows more facets.

    Returns
    -------
    Facets
        ``.vertices`` (list of sorted int64 arrays of row indices), ``.equations``
        (n_facets, n + 1), ``.neighbors`` (facet adjacency), ``.vertex_facets`` (for each
        row index the facets containing it), ``.n_facets``.

    Raises
    ------
    ValueError
        If `W` is not 2-D or not finite, has n < 2 or m < n + 1 rows, a zero row, two rows
        with the same direction, or is not omnidirectional (the message reports the margin
        of :func:`reluinj.omnidirectional_margin`), or has more than `max_facets` facets
        (estimated).
    NotAFrameError
        If the rows of `W` do not span R^n.
    HullError
        If Qhull fails.

    Notes
    -----
    The number of facets grows like ``m ** (n // 2)`` (upper bound theorem); for random
    frames it is about 540 for 40x5, 3.1e3 for 60x6, 2.4e4 for 100x7 and 1.2e5 for 120x8.

    Examples
    --------
    >>> import reluinj, reluinj.hull
    >>> reluinj.hull.facets(reluinj.cube()).n_facets
    6
    >>> reluinj.hull.facets(reluinj.cube(), merge=False).n_facets
    12
    """
    merge = check_bool(merge, "merge")
    _, Wn, _ = _normalized_frame(W)
    _check_facet_budget(Wn, max_facets)
    fac = _hull_facets(Wn, merge)
    if not fac.inradius > INTERIOR_TOL:
        raise _not_omnidirectional(W)
    return fac


def nnls(A, b, *, max_iter=None):
    """Non-negative least squares ``min ||A x - b||_2`` subject to ``x >= 0`` (Lawson–Hanson).

    The compiled active-set solver used by :func:`reluinj.polytope_bias`; same interface as
    ``scipy.optimize.nnls``.

    Parameters
    ----------
    A : array_like of shape (M, N)
    b : array_like of shape (M,)
    max_iter : int or None, default=None
        Iteration limit (outer + inner active-set steps); None means ``3 * N + 10``.

    Returns
    -------
    x : ndarray of shape (N,)
        The solution, float64, all entries >= 0.
    rnorm : float
        ``||A x - b||_2``.

    Raises
    ------
    ValueError
        If the shapes disagree or the inputs are not finite.
    RuntimeError
        If the iteration limit is reached.
    """
    A = as_float_array(A, "A", ndim=2, dtype=np.float64)
    b = as_float_array(b, "b", ndim=1, dtype=np.float64)
    if b.shape[0] != A.shape[0]:
        raise ValueError(f"b must have shape ({A.shape[0]},) to match A; got {b.shape}")
    max_iter = (3 * A.shape[1] + 10 if max_iter is None
                else check_positive_int(max_iter, "max_iter", maximum=INT32_MAX))
    x, rnorm = _core.nnls(A, b, max_iter)
    return x, float(rnorm)
