"""Frame toolkit: analysis, synthesis, frame operator, bounds, duals and standard frames.

Convention throughout reluinj: the **rows** of ``W`` (shape ``(m, n)``) are the frame vectors
φ_1, …, φ_m ∈ R^n. Analysis is ``c = W @ x`` (``c_i = <x, φ_i>``); synthesis is
``x = W.T @ c``; the frame operator is ``S = W.T @ W``.
"""
import numpy as np

from .._lib.validation import (
    as_float_array,
    as_points,
    as_weights,
    check_bool,
    check_positive_float,
    check_positive_int,
    check_rng,
    frame_rank,
)

__all__ = [
    "frana",
    "frsyn",
    "frame_operator",
    "framebounds",
    "framedual",
    "framered",
    "normalize_rows",
    "is_omnidirectional",
    "omnidirectional_margin",
    "icosahedron",
    "tetrahedron",
    "cube",
    "cross_polytope",
    "random_frame",
]


def frana(W, X):
    """Analysis operator: correlations of points with the frame vectors.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Frame; its rows are the frame vectors.
    X : array_like of shape (n,) or (k, n)
        One point or a batch of points.

    Returns
    -------
    C : ndarray of shape (m,) or (k, m)
        ``C[..., i] = <X[...], W[i]>``.
    """
    W = as_weights(W, require_frame=False)
    X2, was_1d = as_points(X, W.shape[1])
    C = X2 @ W.T
    return C[0] if was_1d else C


def frsyn(W, C):
    """Synthesis operator: linear combinations of the frame vectors.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Frame; its rows are the frame vectors.
    C : array_like of shape (m,) or (k, m)
        Coefficients, one row per synthesized point.

    Returns
    -------
    X : ndarray of shape (n,) or (k, n)
        ``X[...] = sum_i C[..., i] W[i]``.
    """
    W = as_weights(W, require_frame=False)
    C2, was_1d = as_points(C, W.shape[0], name="C")
    X = C2 @ W
    return X[0] if was_1d else X


def frame_operator(W):
    """Frame operator ``S = W.T @ W`` of shape (n, n) (rows of `W` are the frame vectors)."""
    W = as_weights(W, require_frame=False)
    return W.T @ W


def framebounds(W):
    """Optimal frame bounds (A, B): the extreme eigenvalues of ``S = W.T @ W``.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Frame; its rows are the frame vectors.

    Returns
    -------
    A, B : float
        ``A ||x||^2 <= ||W x||^2 <= B ||x||^2`` for all x, with A > 0 for a frame.

    Raises
    ------
    NotAFrameError
        If the rows of `W` do not span R^n.
    """
    W = as_weights(W)
    ev = np.linalg.eigvalsh(W.T.astype(np.float64) @ W.astype(np.float64))
    return float(ev[0]), float(ev[-1])


def framedual(W):
    """Canonical dual frame ``W @ S^{-1}`` of shape (m, n).

    Its rows are the dual vectors S^{-1} φ_i, so ``frsyn(framedual(W), frana(W, x)) == x``.

    Raises
    ------
    NotAFrameError
        If the rows of `W` do not span R^n.
    """
    W = as_weights(W)
    # Solve S D^T = W^T with S symmetric positive definite (no explicit inverse).
    S = W.T @ W
    return np.linalg.solve(S, W.T).T


def framered(W):
    """Redundancy m / n of the frame (rows of `W` are the frame vectors)."""
    W = as_weights(W)
    return W.shape[0] / W.shape[1]


def normalize_rows(W):
    """Rows of `W` scaled to unit Euclidean norm, and the norms.

    Returns
    -------
    Wn : ndarray of shape (m, n)
    norms : ndarray of shape (m,)

    Raises
    ------
    ValueError
        If a row of `W` is zero.
    """
    W = as_float_array(W, "W", ndim=2)
    norms = np.linalg.norm(W, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"W has zero rows at indices {zero[:10].tolist()}; rows must be nonzero")
    return W / norms[:, None], norms


def omnidirectional_margin(W):
    """The margin ``t*`` of the omnidirectionality LP of :func:`is_omnidirectional`.

    Solves ``max t  s.t.  Wn.T c = 0, sum(c) = 1, c_i >= t`` (HiGHS) on the normalized rows
    ``Wn``.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Rows are the frame vectors.

    Returns
    -------
    margin : float
        The optimum ``t*``; ``-inf`` when ``0`` is not even in the affine hull constraint set;
        ``1/m`` for antipodally symmetric frames, e.g. 1/12 for the icosahedron.

    Examples
    --------
    >>> import reluinj
    >>> round(reluinj.omnidirectional_margin(reluinj.icosahedron()), 6)
    0.083333
    """
    W = as_weights(W, require_frame=False)
    return _omni_lp(W)[1]


def _omni_lp(W):
    Wn, _ = normalize_rows(W)
    m, n = Wn.shape
    full_rank = frame_rank(Wn) == n
    # Variables z = (c_1..c_m, t); maximize t <=> minimize -t.
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    A_eq = np.zeros((n + 1, m + 1))
    A_eq[:n, :m] = Wn.T
    A_eq[n, :m] = 1.0
    b_eq = np.zeros(n + 1)
    b_eq[n] = 1.0
    A_ub = np.zeros((m, m + 1))
    A_ub[:, :m] = -np.eye(m)
    A_ub[:, -1] = 1.0  # t - c_i <= 0
    from scipy.optimize import linprog  # lazy: keeps `import reluinj` fast

    res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(m), A_eq=A_eq, b_eq=b_eq,
                  bounds=[(None, None)] * (m + 1), method="highs")
    if res.status == 0:
        margin = float(res.x[-1])
    elif res.status == 2:  # infeasible: no affine combination of the rows gives 0
        margin = -np.inf
    else:
        raise RuntimeError(f"omnidirectionality LP failed with status {res.status}: {res.message}")
    return full_rank, margin


def is_omnidirectional(W, *, tol=1e-9):
    """Test whether 0 lies in the interior of the convex hull of the normalized rows.

    The frame is omnidirectional iff ``rank(W) = n`` and the optimum ``t*`` of the linear
    program of :func:`omnidirectional_margin` exceeds `tol`; equivalently every open
    half-space contains a frame vector.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Rows are the frame vectors.
    tol : float, default=1e-9
        Margin threshold (a threshold on ``t*``, not a rank tolerance).

    Returns
    -------
    omni : bool
        The margin itself is :func:`omnidirectional_margin`.
    """
    tol = check_positive_float(tol, "tol", allow_zero=True)
    W = as_weights(W, require_frame=False)
    full_rank, margin = _omni_lp(W)
    return bool(full_rank and margin > tol)


_GOLDEN = (1.0 + np.sqrt(5.0)) / 2.0


def icosahedron():
    """The 12 unit vertices of the regular icosahedron, shape (12, 3).

    Vertices are the cyclic permutations of (0, ±1, ±φ) normalized, φ the golden ratio.
    Frame bounds A = B = 4; the maximal bias on the unit sphere is 1/√5 for every element.
    """
    p = _GOLDEN
    rows = []
    for s1 in (1.0, -1.0):
        for s2 in (1.0, -1.0):
            rows += [(0.0, s1, s2 * p), (s1, s2 * p, 0.0), (s2 * p, 0.0, s1)]
    V = np.array(rows)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def tetrahedron():
    """The 4 unit vertices of a regular tetrahedron, shape (4, 3); pairwise products −1/3."""
    V = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    return V / np.sqrt(3.0)


def cube():
    """The 8 unit vertices of the cube as tetrahedron ∪ −tetrahedron, shape (8, 3)."""
    T = tetrahedron()
    return np.vstack([T, -T])


def cross_polytope(n):
    """The 2n vectors ±e_i of R^n, shape (2n, n): first the +e_i, then the −e_i."""
    n = check_positive_int(n, "n")
    eye = np.eye(n)
    return np.vstack([eye, -eye])


def random_frame(m, n, *, seed=None, normalize=True):
    """A random frame of m Gaussian rows in R^n, shape (m, n).

    Parameters
    ----------
    m, n : int
        Number of frame vectors and dimension, ``m >= n >= 1``.
    seed : None, int, SeedSequence or numpy.random.Generator, default=None
        Source of randomness (an int seed gives reproducible frames).
    normalize : bool, default=True
        Scale every row to unit norm.
    """
    m = check_positive_int(m, "m")
    n = check_positive_int(n, "n")
    normalize = check_bool(normalize, "normalize")
    if m < n:
        raise ValueError(f"a frame needs m >= n rows; got m={m}, n={n}")
    W = check_rng(seed).standard_normal((m, n))
    if normalize:
        W /= np.linalg.norm(W, axis=1, keepdims=True)
    return W
