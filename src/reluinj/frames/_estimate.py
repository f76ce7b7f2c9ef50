"""`BiasEstimate`: the result type shared by every maximal-bias method."""
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

__all__ = ["BiasEstimate"]


@dataclass(frozen=True)
class BiasEstimate:
    """A bias bound for the layer ``x -> ReLU(W x - alpha)`` on a domain.

    Attributes
    ----------
    alpha : ndarray of shape (m,)
        Bias in the layer convention: every ``b <= alpha`` (entry-wise) keeps the layer
        injective on `domain` (for the sampled method, up to its sampling error). Equals
        ``row_norms * alpha_normalized``. ``+inf`` marks elements that are never needed.
    alpha_normalized : ndarray of shape (m,)
        The same bound for the normalized rows φ_i / ||φ_i||.
    domain : Sphere, Ball or Annulus
    method : str
        ``"sampled"``, ``"data"`` or ``"polytope"`` (with the variant, e.g. ``"polytope:vertex"``).
    n_samples : int or None
        Samples (or data points) behind a Monte-Carlo/data estimate; None for polytope.
    hits : ndarray of int64, shape (m,), or None
        How often each element was in some most-correlated basis J*(x).
    facet_vertices : list of ndarray of int, or None
        Facets (vertex index sets) used by the polytope method; can be passed on as
        ``relu_inverse(..., method="facet", options={"facet_vertices": ...})``.
    stability_constant : float or None
        ``max_F 1 / sigma_min(W_F)`` over the facets used (polytope method).
    W : ndarray of shape (m, n)
        The weights the estimate was computed for (used by :meth:`certify`).
    sampling_error : float or None
        Sampled method: the covering-radius estimate of the sampling error for its N points
        (:func:`reluinj.sampling_error`, rule "sound"); an estimate, not a bound.
    margin : float
        Amount subtracted from the unit-sphere estimate before the domain scaling
        (``sampled_bias(..., margin=...)``); 0 otherwise.
    convergence_n : ndarray of int64, shape (p,), or None
        Sampled method: sample counts N/32, N/16, ..., N at which the estimate was recorded.
    convergence_alpha : ndarray of shape (p, m), or None
        The unit-sphere estimate (normalized rows, no margin, no init) after each of those
        counts: it only decreases; a last rows that still move means N is too small.
    """

    alpha: np.ndarray
    alpha_normalized: np.ndarray
    domain: Any
    method: str
    W: np.ndarray = field(repr=False)
    n_samples: Optional[int] = None
    hits: Optional[np.ndarray] = field(default=None, repr=False)
    facet_vertices: Optional[list] = field(default=None, repr=False)
    stability_constant: Optional[float] = None
    sampling_error: Optional[float] = None
    margin: float = 0.0
    convergence_n: Optional[np.ndarray] = field(default=None, repr=False)
    convergence_alpha: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def n_unbounded(self):
        """Number of elements whose bound is +inf (never needed, or never sampled)."""
        return int(np.count_nonzero(np.isposinf(self.alpha)))

    def certify(self, X, *, margin=0.0, n_threads=None):
        """Check point-wise injectivity of ``ReLU(W x - (alpha - margin))`` at points X.

        Parameters
        ----------
        X : array_like of shape (k, n)
        margin : float, default=0.0
            Subtracted from every finite entry of alpha first (a safety margin; finite, >= 0).
        n_threads : int or None, default=None

        Returns
        -------
        injective : ndarray of bool, shape (k,)
        """
        from ._layer import ReLULayer

        from .._lib.validation import check_positive_float

        margin = check_positive_float(margin, "margin", allow_zero=True)
        alpha = np.where(np.isfinite(self.alpha), self.alpha - margin, self.alpha)
        return ReLULayer(self.W, alpha).is_injective_at(X, n_threads=n_threads)
