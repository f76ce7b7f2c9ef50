"""Helpers for tests and for users checking their own operators and frames."""
import numpy as np

from ._validation import check_rng, check_positive_int

__all__ = ["sphere_samples", "ball_samples"]


def sphere_samples(k, n, rng=None, dtype=np.float64):
    """k points drawn uniformly from the unit sphere of R^n, shape (k, n)."""
    k = check_positive_int(k, "k")
    n = check_positive_int(n, "n")
    X = check_rng(rng).standard_normal((k, n))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(dtype, copy=False)


def ball_samples(k, n, rng=None, dtype=np.float64):
    """k points drawn uniformly from the closed unit ball of R^n, shape (k, n)."""
    gen = check_rng(rng)
    X = sphere_samples(k, n, gen)
    X *= gen.random(k)[:, None] ** (1.0 / n)
    return X.astype(dtype, copy=False)
