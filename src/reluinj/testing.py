"""Helpers for tests and for users checking their own operators and frames."""
import numpy as np

from ._lib.validation import check_positive_float, check_positive_int, check_rng

__all__ = ["sphere_samples", "ball_samples", "dottest"]


def sphere_samples(k, n, *, seed=None, dtype=np.float64):
    """k points drawn uniformly from the unit sphere of R^n, shape (k, n)."""
    k = check_positive_int(k, "k")
    n = check_positive_int(n, "n")
    X = check_rng(seed).standard_normal((k, n))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(dtype, copy=False)


def ball_samples(k, n, *, seed=None, dtype=np.float64):
    """k points drawn uniformly from the closed unit ball of R^n, shape (k, n)."""
    gen = check_rng(seed)
    X = sphere_samples(k, n, seed=gen)
    X *= gen.random(k)[:, None] ** (1.0 / n)
    return X.astype(dtype, copy=False)


def dottest(op, *, rtol=1e-10, n_pairs=3, seed=None):
    """Adjoint (dot) test of a linear operator: ``<op x, z> == <x, op.T z>``.

    Parameters
    ----------
    op : scipy.sparse.linalg.LinearOperator
        Any operator with ``matvec`` and ``rmatvec`` (e.g. :class:`reluinj.ConvOperator`), of
        shape (m, n) and a real float dtype; random vectors are drawn in that dtype.
    rtol : float, default=1e-10
        Allowed ``|<op x, z> - <x, op.T z>|`` relative to ``||op x|| ||z|| + ||x|| ||op.T z||``
        (use about 1e-5 for float32 operators).
    n_pairs : int, default=3
        Number of random (x, z) pairs, x ~ N(0, I_n), z ~ N(0, I_m).
    seed : None, int, SeedSequence or numpy Generator

    Returns
    -------
    passed : bool
        True if every pair satisfies the tolerance.
    """
    rtol = check_positive_float(rtol, "rtol")
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    m, n = op.shape
    dtype = np.dtype(op.dtype)
    gen = check_rng(seed)
    for _ in range(n_pairs):
        x = gen.standard_normal(n).astype(dtype)
        z = gen.standard_normal(m).astype(dtype)
        y = np.asarray(op.matvec(x), dtype=np.float64).ravel()
        w = np.asarray(op.rmatvec(z), dtype=np.float64).ravel()
        lhs = float(y @ z.astype(np.float64))
        rhs = float(x.astype(np.float64) @ w)
        scale = np.linalg.norm(y) * np.linalg.norm(z) + np.linalg.norm(x) * np.linalg.norm(w)
        if abs(lhs - rhs) > rtol * max(scale, np.finfo(np.float64).tiny):
            return False
    return True
