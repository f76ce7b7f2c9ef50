"""Maximal bias by inscribing polytopes (approach B): :func:`polytope_bias`."""
import numpy as np

from .. import _core
from .._lib.threads import effective_n_threads
from ._domains import Sphere, check_domain, scale_to_domain
from ._estimate import BiasEstimate
from .hull import (
    INTERIOR_TOL,
    MAX_FACETS,
    _check_facet_budget,
    _hull_facets,
    _normalized_frame,
    _not_omnidirectional,
)

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
        cones meet R^n_+ (with the same beta: valid, slightly conservative there).
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
    W, Wn, norms = _normalized_frame(W)
    _check_facet_budget(Wn, max_facets)
    fac = _hull_facets(Wn, _FACET_MODES[facet_mode])
    if not fac.inradius > INTERIOR_TOL:
        raise _not_omnidirectional(W)
    used = None
    if domain.nonnegative:
        used = _core.facets_meeting_orthant(Wn, fac.indptr, fac.indices, ORTHANT_TOL, n_threads)
    a, _, sigma_min = _core.facet_traversal(Wn, fac.indptr, fac.indices, used,
                                            POLYTOPE_VARIANTS.index(variant), n_threads)
    if used is None:
        used_vertices = fac.vertices
    else:
        used_vertices = [v for v, u in zip(fac.vertices, used) if u]
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
