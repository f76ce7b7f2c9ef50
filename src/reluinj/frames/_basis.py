"""The most correlated basis J*(x) of approach A, as a public function."""
import numpy as np

from .. import _core
from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.threads import effective_n_threads
from .._lib.validation import as_points, check_rank_tol, result_dtype
from ._sampled import normalized_frame

__all__ = ["most_correlated_basis"]


def most_correlated_basis(W, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
    """The greedy most correlated basis J*(x) of each point, as the sampled-bias kernel
    computes it.

    The normalized rows φ̃_i = φ_i / ||φ_i|| are ordered by correlation ``<x, φ̃_i>``
    (descending, ties by ascending index) and an element is kept iff it raises the rank of
    the elements kept before it (relative tolerance `rank_tol`, as in
    :meth:`ReLULayer.is_injective_at`), until n are kept. Approach A's bias is the minimum of
    ``<x, φ̃_i>`` over the points x with ``i in J*(x)`` (:func:`reluinj.sampled_bias`).

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; rows are the frame vectors (rank n).
    X : array_like of shape (k, n) or (n,)
        Finite points (not normalized: only the order of the correlations matters).
    rank_tol : float, default=1e-10
    n_threads : int or None, default=None
        See :func:`reluinj.effective_n_threads`; results do not depend on it.

    Returns
    -------
    J : ndarray of int64, shape (k, n) (or (n,) for a single point)
        Row indices of J*(x) in correlation order (most correlated first); ``-1`` pads a set
        with fewer than n elements (only for numerically rank-deficient frames).

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> reluinj.most_correlated_basis(np.eye(2), [0.2, 1.0]).tolist()
    [1, 0]
    >>> W = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])   # rows 0 and 1 are parallel
    >>> reluinj.most_correlated_basis(W, [1.0, 0.5]).tolist()
    [0, 2]
    """
    rank_tol = check_rank_tol(rank_tol)
    W, Wn, _ = normalized_frame(W)
    X2, was_1d = as_points(X, W.shape[1])
    dtype = result_dtype(Wn, X2)
    J, _ = _core.most_correlated_basis_sets(np.ascontiguousarray(Wn, dtype=dtype),
                                            np.ascontiguousarray(X2, dtype=dtype), rank_tol,
                                            effective_n_threads(n_threads))
    return J[0] if was_1d else J
