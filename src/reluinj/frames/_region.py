"""Where is a layer with a given bias injective? Exact radial profiles, the injectivity
radius (largest injective ball) and the injectivity region.

Along a ray ``t u`` the active set of ``x -> ReLU(W x - alpha)`` changes only at the
breakpoints ``t_i = alpha_i / <u, φ_i>``, so the radii at which the active rows span R^n form
a finite union of intervals, computed exactly by the compiled kernel ``_core.radial_profile``
(see csrc/include/reluinj/radial.hpp). On an open convex set, point-wise spanning everywhere is
necessary and sufficient for injectivity (frames-spec §3), so the largest open ball B_r on which
the layer is injective has ``r = min_u rho(u)``, ``rho(u)`` the first failure radius along u.
"""
import numbers
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import _core
from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.exceptions import NotAFrameError
from .._lib.threads import effective_n_threads
from .._lib.validation import (as_bias, as_float_array, as_weights, check_bool,
                               check_positive_int, check_rank_tol, check_rng, result_dtype)

__all__ = ["RadialProfile", "InjectivityRadius", "InjectivityRegion", "radial_profile",
           "injectivity_radius"]

_RADIUS_METHODS = ("auto", "sweep", "sampled")

ANGLE_MERGE_TOL = 1e-10
"""Critical angles of the 2-D sweep closer than this (radians) are one angle."""


def _layer_arrays(W, alpha):
    """Validated C-contiguous (W, alpha) in their common float dtype."""
    W = as_weights(W)
    alpha = as_bias(alpha, W.shape[0])
    dtype = result_dtype(W, alpha)
    return (np.ascontiguousarray(W, dtype=dtype), np.ascontiguousarray(alpha, dtype=dtype))


def _directions(U, n, dtype):
    """Validated directions: shape (k, n), finite, nonzero rows (a 1-D U is one direction)."""
    U = as_float_array(U, "U", ndim=(1, 2), allow_empty=True)
    was_1d = U.ndim == 1
    U2 = U[None, :] if was_1d else U
    if U2.shape[1] != n:
        raise ValueError(f"U must have {n} columns (directions in R^{n}); got shape {U.shape}")
    norms = np.sqrt(np.einsum("ij,ij->i", U2, U2, dtype=np.float64))
    bad = np.flatnonzero(~(norms > 0))
    if bad.size:
        raise ValueError(f"U must contain nonzero directions; row {int(bad[0])} has norm 0")
    U2 = np.ascontiguousarray(U2, dtype=np.result_type(U2.dtype, dtype))
    return U2, norms, was_1d


@dataclass(frozen=True)
class RadialProfile:
    """Exact injectivity profile of ``x -> ReLU(W x - alpha)`` along rays ``t u``, t >= 0.

    For direction s the ray is cut into the segments ``(starts[j], starts[j+1])`` for
    ``j in range(indptr[s], indptr[s+1])`` (the last one ends at `t_max`): ``starts`` holds 0
    and the distinct breakpoints ``alpha_i / <u, φ_i>`` in (0, t_max]; rows whose breakpoints
    are equal change together, so ties never create spurious segments. ``ranks[j]`` is the
    rank of the active rows on that open segment, decided exactly as
    :meth:`ReLULayer.is_injective_at` decides it at a point of the segment (same `rank_tol`).
    A breakpoint itself activates the rows of both neighbouring segments, so it is injective
    whenever a neighbour is.

    Attributes
    ----------
    directions : ndarray of shape (k, n), float64
        The unit directions u.
    indptr : ndarray of int64, shape (k + 1,)
        CSR pointers into `starts` / `ranks` (empty segments when computed with
        ``first_only=True``).
    starts : ndarray of float64, shape (nnz,)
        Left ends of the segments (radii).
    ranks : ndarray of int32, shape (nnz,)
        Rank of the active rows on each segment.
    first_failure : ndarray of float64, shape (k,)
        ``rho(u)``: the left end of the first segment of rank < n (0 when the layer fails
        arbitrarily close to the origin, ``inf`` when it never fails up to `t_max`). The layer
        is injective on ``{t u : 0 <= t < rho(u)}`` and not on ``(rho, rho + eps)``.
    failure_row : ndarray of int64, shape (k,)
        Smallest index of a row whose breakpoint is ``first_failure`` (-1 when it is 0 or inf).
    n : int
        Input dimension (full rank).
    t_max : float
        Radius up to which the rays were followed.
    rank_tol : float
    """

    directions: np.ndarray
    indptr: np.ndarray = field(repr=False)
    starts: np.ndarray = field(repr=False)
    ranks: np.ndarray = field(repr=False)
    first_failure: np.ndarray
    failure_row: np.ndarray = field(repr=False)
    n: int
    t_max: float
    rank_tol: float

    @property
    def n_directions(self):
        """Number of directions k."""
        return self.directions.shape[0]

    def segments(self, s):
        """Segments of direction `s`: ``(lo, hi, rank)``, arrays of shape (L + 1,)."""
        if self.starts.size == 0 and self.n_directions:
            raise ValueError("this profile was computed with first_only=True (no segments)")
        b, e = int(self.indptr[s]), int(self.indptr[s + 1])
        lo = self.starts[b:e]
        hi = np.append(lo[1:], self.t_max)
        return lo, hi, self.ranks[b:e]

    def intervals(self, s):
        """Maximal intervals of radii where the layer is injective along direction `s`.

        Returns
        -------
        ndarray of shape (p, 2)
            Rows ``(lo, hi)``: injective on the open interval (and at its inner
            breakpoints); a ``lo`` of 0 includes the origin when the first segment spans.
        """
        lo, hi, rank = self.segments(s)
        full = rank == self.n
        if not full.any():
            return np.empty((0, 2))
        edges = np.diff(np.concatenate(([0], full.view(np.int8), [0])))
        first = np.flatnonzero(edges == 1)
        last = np.flatnonzero(edges == -1) - 1
        return np.column_stack([lo[first], hi[last]])


def radial_profile(W, alpha, U, *, t_max=np.inf, first_only=False, rank_tol=DEFAULT_RANK_TOL,
                   n_threads=None):
    """Exact radial injectivity profile of ``x -> ReLU(W x - alpha)`` along rays ``t u``.

    Compiled kernel: OpenMP over directions, GIL released (Ctrl-C is honoured between blocks
    of 4096 directions), results bitwise independent of `n_threads`. Cost per direction:
    ``O(m n)`` correlations, a sort of the m breakpoints, and incremental rank updates
    (a row change that cannot alter the index-order greedy rank test is skipped exactly).

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i (rank n).
    alpha : float or array_like of shape (m,)
        Finite bias of the layer ``ReLU(W x - alpha)``.
    U : array_like of shape (k, n) or (n,)
        Directions (nonzero, any norm; they are normalized, so t is the Euclidean radius).
    t_max : float, default=inf
        Follow the rays up to this radius (> 0).
    first_only : bool, default=False
        Only compute ``first_failure`` / ``failure_row`` (stop at the first failing segment,
        store no segments): the fast path of :func:`injectivity_radius`.
    rank_tol : float, default=1e-10
        Rank tolerance, as in :meth:`ReLULayer.is_injective_at`.
    n_threads : int or None, default=None
        See :func:`reluinj.effective_n_threads`.

    Returns
    -------
    RadialProfile

    Raises
    ------
    ValueError
        NaN/inf in `W`, `alpha` or `U`, `alpha` of the wrong length, a direction of zero
        norm, or a bad `t_max` / `rank_tol`.

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    >>> prof = reluinj.radial_profile(W, [-1.0, -1.0, -1.0, -1.0], [[1.0, 0.0]])
    >>> prof.first_failure          # -e1 stops being active at t = 1, leaving e1, e2, -e2
    array([inf])
    >>> prof = reluinj.radial_profile(W, [0.5, 0.5, 0.5, 0.5], [[1.0, 0.0]])
    >>> prof.first_failure          # no row is active on (0, 0.5)
    array([0.])
    """
    rank_tol = check_rank_tol(rank_tol)
    t_max = _check_t_max(t_max)
    first_only = check_bool(first_only, "first_only")
    Wc, alpha_c = _layer_arrays(W, alpha)
    U2, norms, _ = _directions(U, Wc.shape[1], Wc.dtype)
    dtype = result_dtype(Wc, U2)
    Wk = Wc.astype(dtype, copy=False)
    ak = alpha_c.astype(dtype, copy=False)
    indptr, starts, ranks, first, row = _core.radial_profile(
        Wk, ak, U2, rank_tol, t_max, first_only, effective_n_threads(n_threads))
    dirs = U2.astype(np.float64) / norms[:, None]
    return RadialProfile(directions=dirs, indptr=indptr, starts=starts, ranks=ranks,
                         first_failure=first, failure_row=row, n=Wc.shape[1], t_max=t_max,
                         rank_tol=rank_tol)


@dataclass(frozen=True)
class InjectivityRadius:
    """The largest open ball (or its non-negative part) on which the layer is injective.

    Attributes
    ----------
    radius : float
        ``min_u rho(u)`` over the directions examined: exact (up to rounding) when
        ``exact`` is True (2-D angular sweep), otherwise an **upper bound** (the true radius
        is <= it: some point at radius just above it is not injective). ``inf`` when no
        failure was found.
    exact : bool
        True for the 2-D sweep over all breakpoint angles.
    lower_bound : float or None
        A certified lower bound from the polytope bias (``alpha <= r * polytope ball bias``
        entry-wise certifies B_r), or None when the polytope method does not apply (n > 6,
        a frame that is not (non-negatively) omnidirectional, ...). 0 when it certifies
        nothing (e.g. some ``alpha_i > 0``).
    directions : ndarray of shape (p, n)
        Unit directions attaining `radius` (within a relative 1e-9).
    nonnegative : bool
        Whether only directions in R^n_+ (the non-negative part of the ball) were used.
    method : str
        ``"sweep"`` or ``"sampled"``.
    n_evaluated : int
        Number of directions whose profile was computed.
    """

    radius: float
    exact: bool
    lower_bound: Optional[float]
    directions: np.ndarray
    nonnegative: bool
    method: str
    n_evaluated: int


def _check_t_max(t_max):
    """A real radius > 0; +inf (follow the rays to infinity) is allowed."""
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real):
        raise TypeError(f"t_max must be a real number; got {type(t_max).__name__}")
    t_max = float(t_max)
    if not t_max > 0:
        raise ValueError(f"t_max must be > 0; got {t_max}")
    return t_max


def _unit(theta):
    return np.column_stack([np.cos(theta), np.sin(theta)])


def _sweep_angles(W, alpha, nonnegative):
    """Critical angles of the 2-D sweep: every pairwise crossing of the lines
    ``<x, φ_i> = alpha_i`` (seen from the origin), the feet ±φ_i of the perpendiculars and
    the angles where ``<u, φ_i>`` changes sign; sorted, unique, in [0, 2π) (or [0, π/2])."""
    w0, w1 = W[:, 0], W[:, 1]
    th = np.arctan2(w1, w0)
    crit = [th, th + np.pi, th + np.pi / 2, th - np.pi / 2]
    m = W.shape[0]
    for i in range(m - 1):  # one row against all later rows: O(m) memory per step
        det = w0[i] * w1[i + 1:] - w1[i] * w0[i + 1:]
        x0 = alpha[i] * w1[i + 1:] - alpha[i + 1:] * w1[i]
        x1 = w0[i] * alpha[i + 1:] - w0[i + 1:] * alpha[i]
        ok = (det != 0) & ((x0 != 0) | (x1 != 0))
        # The crossing point is (x0, x1) / det: its angle is that of sign(det) * (x0, x1).
        sgn = np.sign(det[ok])
        crit.append(np.arctan2(sgn * x1[ok], sgn * x0[ok]))
    ang = np.mod(np.concatenate(crit), 2 * np.pi)
    if nonnegative:
        ang = np.concatenate([ang[ang <= np.pi / 2], [0.0, np.pi / 2]])
    ang = np.unique(ang)
    # Angles equal in exact arithmetic (symmetric frames: a perpendicular of one row along
    # another row) differ by rounding: merge those closer than ANGLE_MERGE_TOL, so that no
    # midpoint falls on a critical ray, where a zero correlation may round to either sign.
    keep = np.concatenate(([True], np.diff(ang) > ANGLE_MERGE_TOL))
    if not nonnegative and ang.size > 1 and ang[0] + 2 * np.pi - ang[-1] <= ANGLE_MERGE_TOL:
        keep[-1] = False
    return ang[keep]


def _sweep_2d(W, alpha, nonnegative, rank_tol, n_threads):
    """Exact 2-D injectivity radius by an angular sweep (see injectivity_radius)."""
    Wd, ad = W.astype(np.float64), alpha.astype(np.float64)
    ang = _sweep_angles(Wd, ad, nonnegative)
    if nonnegative:
        lo, hi = ang[:-1], ang[1:]
    else:
        lo, hi = ang, np.append(ang[1:], ang[0] + 2 * np.pi)
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    mid = 0.5 * (lo + hi)
    # Every non-injective point lies in the closure of an open non-injective cell of the line
    # arrangement (a point on a line activates the rows of all neighbouring cells), so only
    # the open angular intervals matter; the profile is computed at their midpoints. (Rays
    # exactly at a critical angle are not evaluated: there a correlation that is 0 in exact
    # arithmetic may round to either sign.) On an open interval the combinatorics of the ray
    # are fixed, so rho(θ) = t_r(θ) = alpha_r / <u(θ), φ_r> for the midpoint's failing row r,
    # monotone there (the feet of the perpendiculars are critical): the infimum over the
    # interval is the smaller limit at its ends (or 0 when the midpoint fails at 0).
    prof = radial_profile(W, alpha, _unit(mid), first_only=True, rank_tol=rank_tol,
                          n_threads=n_threads)
    values = [prof.first_failure]
    angles = [mid]
    row = prof.failure_row
    has = row >= 0
    for end in (lo, hi):
        e = end[has]
        r = row[has]
        den = np.cos(e) * Wd[r, 0] + np.sin(e) * Wd[r, 1]
        den_mid = np.cos(mid[has]) * Wd[r, 0] + np.sin(mid[has]) * Wd[r, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ad[r] / den
        t = np.where((np.sign(den) == np.sign(den_mid)) & (t >= 0), t, np.inf)
        values.append(t)
        angles.append(e)
    values = np.concatenate(values)
    angles = np.concatenate(angles)
    radius = float(values.min())
    if np.isfinite(radius):
        att = np.unique(np.mod(angles[values <= radius * (1 + 1e-9)], 2 * np.pi))
    else:
        att = np.empty(0)
    return radius, _unit(att), mid.size


def _sphere_directions(k, n, rng, nonnegative):
    U = rng.standard_normal((k, n))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    return np.abs(U) if nonnegative else U


def _sampled_radius(W, alpha, nonnegative, n_directions, n_refine, rng, rank_tol, n_threads):
    """Upper bound from many directions plus a local random search around the worst."""
    n = W.shape[1]
    Wd = W.astype(np.float64)
    norms = np.linalg.norm(Wd, axis=1, keepdims=True)
    keep = norms[:, 0] > 0  # a zero row has no hyperplane (and no foot)
    feet = Wd[keep] / norms[keep]
    feet = np.concatenate([feet, -feet])  # nearest points of the hyperplanes lie on ±φ_i
    if nonnegative:
        feet = feet[(feet >= 0).all(axis=1)]
        feet = np.concatenate([feet, np.eye(n)])
    U = np.concatenate([_sphere_directions(n_directions, n, rng, nonnegative), feet])

    def rho(V):
        return radial_profile(W, alpha, V, first_only=True, rank_tol=rank_tol,
                              n_threads=n_threads).first_failure

    r = rho(U)
    n_eval = U.shape[0]
    worst = np.argsort(r, kind="stable")[:n_refine]
    best_u, best_r = U[worst].copy(), r[worst].copy()
    step = np.full(best_u.shape[0], 0.2)
    n_try = 32
    for _ in range(40):
        active = np.isfinite(best_r) & (best_r > 0) & (step > 1e-7)
        if not active.any():
            break
        idx = np.flatnonzero(active)
        cand = (best_u[idx, None, :]
                + step[idx, None, None] * rng.standard_normal((idx.size, n_try, n)))
        if nonnegative:
            cand = np.abs(cand)
        cand /= np.linalg.norm(cand, axis=2, keepdims=True)
        rc = rho(cand.reshape(-1, n)).reshape(idx.size, n_try)
        n_eval += rc.size
        j = np.argmin(rc, axis=1)
        better = rc[np.arange(idx.size), j] < best_r[idx]
        upd = idx[better]
        best_u[upd] = cand[better, j[better]]
        best_r[upd] = rc[better, j[better]]
        step[idx[~better]] *= 0.5
    radius = float(min(r.min(initial=np.inf), best_r.min(initial=np.inf)))
    allu = np.concatenate([U, best_u])
    allr = np.concatenate([r, best_r])
    att = allu[allr <= radius * (1 + 1e-9)] if np.isfinite(radius) else np.empty((0, n))
    return radius, att, n_eval


def _polytope_lower_bound(W, alpha, nonnegative):
    """Radius certified by the polytope ball bias, or None where the method does not apply."""
    from ._domains import Ball
    from ._polytope import polytope_bias
    from .._lib.exceptions import HullError

    try:
        b = polytope_bias(W, Ball(1.0, nonnegative=nonnegative)).alpha  # <= 0 entry-wise
    except (ValueError, NotAFrameError, HullError):
        return None
    a = np.asarray(alpha, dtype=np.float64)
    if (a > 0).any():
        return 0.0
    neg = b < 0
    if (a[~neg] > 0).any():
        return 0.0
    # alpha_i <= r * b_i for b_i < 0  <=>  r <= alpha_i / b_i.
    return float(np.min(a[neg] / b[neg], initial=np.inf))


def injectivity_radius(W, alpha, *, nonnegative=False, method="auto", n_directions=4096,
                       n_refine=8, certify=True, seed=None, rank_tol=DEFAULT_RANK_TOL,
                       n_threads=None):
    """Largest r such that ``x -> ReLU(W x - alpha)`` is injective on the open ball B_r.

    On an open convex set point-wise spanning of the active rows everywhere is necessary
    and sufficient for injectivity (frames-spec §3), so the radius is ``min_u rho(u)``, with
    ``rho(u)`` the first failure radius along the ray ``t u`` (:func:`radial_profile`).
    With ``nonnegative=True`` the same for ``B_r ∩ R^n_+`` (directions u >= 0; also open in
    the relative sense needed there, the set being convex). On domains that are neither open
    nor convex, such as spheres, point-wise spanning is not sufficient by itself (a
    sufficient condition uses the strictly active rows); this function does not treat them.

    Methods:

    - ``"sweep"`` (n = 2, exact): the critical angles are all pairwise crossings of the lines
      ``<x, φ_i> = alpha_i``, the perpendicular feet ±φ_i and the angles where ``<u, φ_i>``
      changes sign; the profile is computed at the midpoint of every interval between two
      consecutive ones, and on each interval the failing row's breakpoint
      ``alpha_r / <u(θ), φ_r>`` is minimised in closed form (its infimum is a limit at an
      end of the interval). ``O(m^2)`` directions.
    - ``"sampled"`` (any n): `n_directions` uniform directions plus ±φ_i, then a local random
      search around the `n_refine` worst. The result is an **upper bound**; where the
      polytope bias applies (n <= 6) ``lower_bound`` is a certified lower bound beside it.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; rows are the frame vectors.
    alpha : float or array_like of shape (m,)
        Finite bias.
    nonnegative : bool, default=False
        Restrict to the non-negative part of the ball.
    method : {"auto", "sweep", "sampled"}, default="auto"
        ``"auto"`` is ``"sweep"`` for n = 2, else ``"sampled"``.
    n_directions : int, default=4096
        Random directions of the sampled method.
    n_refine : int, default=8
        Worst directions refined locally (sampled method).
    certify : bool, default=True
        Compute the polytope-bias lower bound (n <= 6 only; it needs Qhull).
    seed : None, int, SeedSequence or Generator, default=None
        Seed of the sampled method's directions.
    rank_tol : float, default=1e-10
    n_threads : int or None, default=None

    Returns
    -------
    InjectivityRadius

    Raises
    ------
    ValueError
        Bad `W` / `alpha` (NaN, inf, shape), ``method="sweep"`` with n != 2, an unknown
        `method`.

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    >>> res = reluinj.injectivity_radius(W, [-1.0, -1.0, -1.0])
    >>> res.exact, round(res.radius ** 2, 10)   # the corner (-1, -1) activates one row only
    (True, 2.0)
    >>> res.lower_bound                          # certified by the polytope bias
    1.0
    """
    if method not in _RADIUS_METHODS:
        raise ValueError(f"method must be one of {_RADIUS_METHODS}; got {method!r}")
    nonnegative = check_bool(nonnegative, "nonnegative")
    certify = check_bool(certify, "certify")
    Wc, alpha_c = _layer_arrays(W, alpha)
    n = Wc.shape[1]
    if method == "sweep" and n != 2:
        raise ValueError(f"method='sweep' needs W with n=2 columns; got shape {Wc.shape}")
    if method == "auto":
        method = "sweep" if n == 2 else "sampled"
    rank_tol = check_rank_tol(rank_tol)
    nt = effective_n_threads(n_threads)
    if method == "sweep":
        radius, att, n_eval = _sweep_2d(Wc, alpha_c, bool(nonnegative), rank_tol, nt)
        exact = True
    else:
        n_directions = check_positive_int(n_directions, "n_directions")
        n_refine = check_positive_int(n_refine, "n_refine", minimum=0)
        radius, att, n_eval = _sampled_radius(Wc, alpha_c, bool(nonnegative), n_directions,
                                              n_refine, check_rng(seed), rank_tol, nt)
        exact = False
    lower = _polytope_lower_bound(Wc, alpha_c, bool(nonnegative)) if certify and n <= 6 else None
    if lower is not None and exact:
        lower = min(lower, radius)
    return InjectivityRadius(radius=radius, exact=exact, lower_bound=lower,
                             directions=np.asarray(att, dtype=np.float64).reshape(-1, n),
                             nonnegative=bool(nonnegative), method=method,
                             n_evaluated=int(n_eval))


@dataclass(frozen=True)
class InjectivityRegion:
    """The set ``{x : the active rows of W at x span R^n}`` of a layer with a fixed bias.

    Parameters
    ----------
    W : array_like of shape (m, n)
    alpha : float or array_like of shape (m,)
    rank_tol : float, default=1e-10

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> reg = reluinj.InjectivityRegion(reluinj.cross_polytope(2), 0.5)
    >>> reg.contains([[0.0, 0.0], [10.0, 10.0]]).tolist()
    [False, True]
    """

    W: np.ndarray
    alpha: np.ndarray
    rank_tol: float = DEFAULT_RANK_TOL

    def __post_init__(self):
        Wc, a = _layer_arrays(self.W, self.alpha)
        Wc.flags.writeable = False
        a.flags.writeable = False
        object.__setattr__(self, "W", Wc)
        object.__setattr__(self, "alpha", a)
        object.__setattr__(self, "rank_tol", check_rank_tol(self.rank_tol))

    def contains(self, X, *, n_threads=None):
        """Point-wise membership (:meth:`ReLULayer.is_injective_at`), shape (k,) or 0-d."""
        from ._layer import ReLULayer

        return ReLULayer(self.W, self.alpha).is_injective_at(X, rank_tol=self.rank_tol,
                                                             n_threads=n_threads)

    def profile(self, U, *, t_max=np.inf, n_threads=None):
        """:func:`radial_profile` of the region along the directions `U`."""
        return radial_profile(self.W, self.alpha, U, t_max=t_max, rank_tol=self.rank_tol,
                              n_threads=n_threads)

    def radius(self, **options):
        """:func:`injectivity_radius` of the region (keyword options passed on)."""
        return injectivity_radius(self.W, self.alpha, rank_tol=self.rank_tol, **options)
