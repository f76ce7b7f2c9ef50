"""Maximal bias by inscribing polytopes (approach B): :func:`polytope_bias`."""
from itertools import combinations

import numpy as np

from .. import _core
from .._lib.threads import effective_n_threads
from ._domains import Sphere, check_domain, scale_to_domain
from ._estimate import BiasEstimate
from .._lib.exceptions import HullError
from .._lib.validation import as_weights
from .hull import (DUPLICATE_TOL, INTERIOR_TOL, MAX_FACETS, MERGE_TOL, _check_facet_budget,
                   _hull_facets, _normalized_frame, _not_omnidirectional)
from ._toolkit import is_omnidirectional

__all__ = ["polytope_bias", "POLYTOPE_VARIANTS", "ORTHANT_TOL"]

POLYTOPE_VARIANTS = ("vertex", "facet", "authors")
"""Aggregation rules of :func:`polytope_bias`, by the integer code of the C++ kernel."""

ORTHANT_TOL = 1e-10
"""A facet cone counts as meeting R^n_+ when the NNLS feasibility residual is <= this."""

_FACET_MODES = {"true": True, "triangulated": False}


def polytope_bias(W, domain=Sphere(), *, facet_mode="true", variant="vertex",
                  max_facets=MAX_FACETS, n_threads=None):
    """Bias bound making ``x -> ReLU(W x - alpha)`` injective on `domain`, from the facets
    of the polytope inscribed by the normalized frame (approach B).

    For every facet F of ``P = conv{φ̃_i}`` (φ̃_i = φ_i / ||φ_i||) and every vertex i of F,
    ``beta(i, F) = min{<x, φ̃_i> : x in cone(F), ||x|| = 1}`` is computed exactly: the
    smallest correlation ``min_j <φ̃_i, φ̃_j>`` over F if that is >= 0, otherwise
    ``-||Proj_cone(F)(-φ̃_i)||`` by Lawson–Hanson NNLS. With any ``b <= alpha`` every
    point of ``cone(F)`` in the domain activates all vertices of F, which span R^n, so the
    layer is injective there.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors φ_i. Needs n >= 2, m >= n + 1, rank
        n, rows of distinct directions, and an omnidirectional frame (0 in the interior of
        the convex hull of the normalized rows).
    domain : Sphere, Ball or Annulus, default=Sphere()
        Input domain (radius 1 by default). ``nonnegative=True`` uses only the facets whose
        cones meet R^n_+, and beta(i, F) minimises exactly over ``cone(F) ∩ R^n_+ ∩ S``
        (see Notes); the frame then only needs to be *non-negatively omnidirectional*.
    facet_mode : {"true", "triangulated"}, default="true"
        ``"true"`` merges Qhull's coplanar simplices into the true facets of P;
        ``"triangulated"`` uses Qhull's simplices as they come (the result then depends on
        how Qhull splits non-simplicial facets, e.g. the squares of the cube).
    variant : {"vertex", "facet", "authors"}, default="vertex"
        Aggregation of the ``beta(i, F)``:

        - ``"vertex"`` (least conservative): ``a_i = min_{F ∋ i} beta(i, F)``.
        - ``"facet"``: ``a_F = min_{k in F} beta(k, F)``; ``a_i = min_{F ∋ i} a_F``.
        - ``"authors"``: the reference implementation's rule over the union N(i) of the
          facets containing i: ``min_{j in N(i)} <φ̃_i, φ̃_j>`` if that is >= 0, else
          ``min_{k in N(i)} min{<x, φ̃_k> : x in cone(N(i)), ||x|| <= 1}`` (valid, very
          conservative; for compatibility only).
    max_facets : int or None, default=reluinj.hull.MAX_FACETS (1e6)
        Refuse to start when the facet count estimated by
        :func:`reluinj.hull.estimate_facet_count` exceeds this (the error points to
        :func:`reluinj.sampled_bias`); ``None`` removes the limit.
    n_threads : int or None, default=None
        OpenMP threads of the facet traversal; None follows OMP_NUM_THREADS /
        RELUINJ_NUM_THREADS / threadpoolctl, -1 = all cores. Results do not depend on it.

    Returns
    -------
    BiasEstimate
        ``alpha`` (m,) float64 in the layer convention ``alpha_i = ||φ_i|| * a_i`` after
        the exact domain scaling (sphere ``r * a``, ball ``r * min(a, 0)``, annulus
        ``r1 * a`` / ``r2 * a``); ``alpha_normalized`` the same for the normalized rows;
        ``method = "polytope:<variant>"``; ``facet_vertices`` the list of vertex index arrays of the
        facets used; ``stability_constant = max_F 1 / sigma_min(W̃_F)`` over the facets used
        (W̃_F the normalized rows of F): the reconstruction error per unit output error of
        the normalized layer under this bias. ``+inf`` marks elements in no facet used
        (possible only with ``nonnegative=True``; 0 on a ball).

    Raises
    ------
    ValueError
        Bad `W` (see :func:`reluinj.hull.facets`), not omnidirectional (the message
        reports the margin), an unknown `facet_mode` / `variant`, or more than `max_facets`
        facets (estimated).
    TypeError
        If `domain` is not a Sphere, Ball or Annulus.
    NotAFrameError
        If the rows of `W` do not span R^n.
    HullError
        If Qhull fails.

    See Also
    --------
    reluinj.hull.facets : the facets and their incidence.

    Notes
    -----
    Non-negative domains: the facets are those of ``conv({φ̃_i} ∪ {0})`` not containing 0
    (the facets of P when the frame is omnidirectional), and only those whose cone meets
    R^n_+ are used; R^n_+ must be covered by their cones, i.e. every e_j must lie in the
    conic hull of the rows (checked by NNLS: residual <= ``ORTHANT_TOL``, else ValueError).
    For each simplex S of a facet, ``C = cone(S) ∩ R^n_+`` is generated by its extreme rays
    (enumerated exactly); ``min{<x, φ̃_i> : x in C, ||x|| = 1}`` is the smallest ray
    correlation when all are >= 0, otherwise ``-||Proj_C(-φ̃_i)||`` (NNLS on the rays). The
    standard basis of R^2 is 0-rectifying on R^2_+ in this sense. The variant ``"authors"``
    is not defined there.

    The number of facets grows like ``m ** (n // 2)``: measured for random frames, 536
    facets for 40x5, 3.1e3 for 60x6, 2.4e4 for 100x7 and 1.2e5 for 120x8, where Qhull
    alone needs seconds. Beyond n of about 8 the sampled (most-correlated-basis) method is
    the practical choice.

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> est = reluinj.polytope_bias(reluinj.icosahedron())
    >>> bool(np.allclose(est.alpha, 1 / np.sqrt(5)))
    True
    >>> est.method
    'polytope:vertex'
    """
    domain = check_domain(domain)
    if facet_mode not in _FACET_MODES:
        raise ValueError(f"facet_mode must be 'true' or 'triangulated'; got {facet_mode!r}")
    if variant not in POLYTOPE_VARIANTS:
        raise ValueError(f"variant must be one of {POLYTOPE_VARIANTS}; got {variant!r}")
    n_threads = effective_n_threads(n_threads)
    if domain.nonnegative:
        return _polytope_bias_nonnegative(W, domain, facet_mode, variant)
    W, Wn, norms = _normalized_frame(W)
    _check_facet_budget(Wn, max_facets)
    fac = _hull_facets(Wn, _FACET_MODES[facet_mode])
    if not fac.inradius > INTERIOR_TOL:
        raise _not_omnidirectional(W)
    a, _, sigma_min = _core.facet_traversal(Wn, fac.indptr, fac.indices,
                                            POLYTOPE_VARIANTS.index(variant), n_threads)
    alpha_normalized = scale_to_domain(a, domain)
    return BiasEstimate(
        alpha=norms * alpha_normalized,
        alpha_normalized=alpha_normalized,
        domain=domain,
        method=f"polytope:{variant}",
        W=W,
        facet_vertices=fac.vertices,
        stability_constant=1.0 / sigma_min if sigma_min > 0 else np.inf,
    )


def _orthant_nnls_residuals(Wn):
    """max_j dist(e_j, cone(rows of Wn)) by NNLS: 0 iff R^n_+ is in the conic hull."""
    n = Wn.shape[1]
    import scipy.optimize  # lazy: keeps `import reluinj` fast

    return max(scipy.optimize.nnls(Wn.T, e)[1] for e in np.eye(n))


def _orthant_rays(Ws):
    """Unit extreme rays (rows) of ``cone(rows of Ws) ∩ R^n_+`` for an invertible (n, n) Ws."""
    n = Ws.shape[0]
    A = np.vstack([np.linalg.inv(Ws.T), np.eye(n)])  # x in C  <=>  A x >= 0
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    combo = np.array(list(combinations(range(2 * n), n - 1)), dtype=np.int64)
    sub = A[combo]  # (K, n-1, n): n-1 tight constraints
    _, sv, vt = np.linalg.svd(sub)
    ok = sv[:, -1] > 1e-10 * sv[:, 0]
    r = vt[ok, -1, :]
    Ar = r @ A.T
    tol = 1e-12
    pos = (Ar >= -tol).all(axis=1)
    neg = (Ar <= tol).all(axis=1)
    r = np.where((neg & ~pos)[:, None], -r, r)[pos | neg]
    if r.shape[0] == 0:
        return r
    # Deduplicate rays met by several constraint subsets (degenerate vertices).
    keep = np.ones(r.shape[0], dtype=bool)
    G = r @ r.T
    for a in range(r.shape[0]):
        if keep[a]:
            keep[a + 1:] &= ~(G[a, a + 1:] >= 1.0 - DUPLICATE_TOL)
    return r[keep]


def _cone_orthant_min(rays, phi):
    """min{<x, phi> : x in cone(rays), ||x|| = 1} for a pointed cone given by unit rays."""
    vals = rays @ phi
    if vals.min() >= 0:
        return float(vals.min())
    import scipy.optimize

    c, _ = scipy.optimize.nnls(rays.T, -phi)
    return -float(np.linalg.norm(rays.T @ c))


def _nonnegative_facets(W, Wn, omni):
    """Simplices (n vertex rows each) of conv(Wn ∪ {0}) not containing 0, with a label of
    the true facet (coplanar simplices merged) of each."""
    m, n = Wn.shape
    from scipy.spatial import ConvexHull, QhullError  # lazy: keeps `import reluinj` fast

    pts = Wn if omni else np.vstack([Wn, np.zeros((1, n))])
    try:
        hull = ConvexHull(pts)
    except QhullError as err:
        raise HullError(f"Qhull failed on the normalized rows of W (shape {Wn.shape}): "
                        f"{str(err).splitlines()[0]}") from err
    simp = hull.simplices.astype(np.int64)
    eq = hull.equations
    keep = ~(simp == m).any(axis=1)
    simp, eq = simp[keep], eq[keep]
    # Label coplanar simplices (same hyperplane) as one true facet.
    label = np.full(len(simp), -1, dtype=np.int64)
    n_lab = 0
    for a in range(len(simp)):
        if label[a] < 0:
            same = (label < 0) & (np.max(np.abs(eq - eq[a]), axis=1) <= MERGE_TOL)
            label[same] = n_lab
            n_lab += 1
    return simp, label, n_lab


def _polytope_bias_nonnegative(W, domain, facet_mode, variant):
    """polytope_bias on ``domain ∩ R^n_+`` (see polytope_bias, Notes)."""
    if variant == "authors":
        raise ValueError("variant='authors' is not defined on non-negative domains; "
                         "use 'vertex' or 'facet'")
    W = as_weights(W)
    m, n = W.shape
    if n < 2:
        raise ValueError(f"the polytope method needs n >= 2 columns; got W of shape {W.shape}")
    W64 = W.astype(np.float64, copy=False)
    norms = np.linalg.norm(W64, axis=1)
    if (norms == 0).any():
        raise ValueError("W has zero rows; rows must be nonzero")
    Wn = W64 / norms[:, None]
    omni = m >= n + 1 and is_omnidirectional(Wn)
    if not omni:
        res = _orthant_nnls_residuals(Wn)
        if not res <= ORTHANT_TOL:
            raise ValueError(
                "the rows of W are not non-negatively omnidirectional: R^n_+ is not covered "
                f"by the cones of the facets (largest NNLS distance of a unit vector e_j to "
                f"the conic hull of the rows: {res:.3g} > {ORTHANT_TOL:g}); the polytope "
                "method on a non-negative domain needs every e_j in that conic hull")
    simp, label, n_lab = _nonnegative_facets(W, Wn, omni)
    if facet_mode == "triangulated":
        label = np.arange(len(simp), dtype=np.int64)
        n_lab = len(simp)
    facet_sets = [np.unique(simp[label == f]) for f in range(n_lab)]
    beta = {}  # (facet, vertex) -> min over the facet's simplices
    for s, f in zip(simp, label):
        rays = _orthant_rays(Wn[s])
        if rays.shape[0] == 0:
            continue  # this simplex's cone meets R^n_+ only at 0
        for i in facet_sets[f]:
            b = _cone_orthant_min(rays, Wn[i])
            key = (int(f), int(i))
            beta[key] = min(beta.get(key, np.inf), b)
    used = sorted({f for f, _ in beta})
    a = np.full(m, np.inf)
    for f in used:
        vals = {i: beta[(f, int(i))] for i in facet_sets[f]}
        if variant == "facet":
            low = min(vals.values())
            vals = {i: low for i in vals}
        for i, b in vals.items():
            a[i] = min(a[i], b)
    used_vertices = [facet_sets[f] for f in used]
    sig = [np.linalg.svd(Wn[v], compute_uv=False)[-1] for v in used_vertices]
    sigma_min = min(sig, default=0.0)
    alpha_normalized = scale_to_domain(a, domain)
    return BiasEstimate(
        alpha=norms * alpha_normalized,
        alpha_normalized=alpha_normalized,
        domain=domain,
        method=f"polytope:{variant}",
        W=W,
        facet_vertices=used_vertices,
        stability_constant=1.0 / sigma_min if sigma_min > 0 else np.inf,
    )
