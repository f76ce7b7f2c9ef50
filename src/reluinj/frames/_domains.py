"""Input domains K on which injectivity and maximal biases are assessed.

Every bias method computes the unit-sphere value ``a_i`` (for the normalized rows) and maps it
to the domain exactly (:func:`scale_to_domain`):

==========================  =====================================================
domain                      bias of the normalized frame
==========================  =====================================================
``Sphere(r)``               ``r * a``
``Ball(r)``                 ``r * min(a, 0)``  (x = 0 needs alpha <= 0)
``Annulus(r1, r2)``         ``r1 * a`` where ``a >= 0``, ``r2 * a`` where ``a < 0``
``nonnegative=True``        same rules, ``a`` computed on the sphere ∩ R^n_+
==========================  =====================================================
"""
from dataclasses import dataclass

import numpy as np

from .._lib.validation import check_bool, check_positive_float

__all__ = ["Sphere", "Ball", "Annulus", "Domain", "scale_to_domain"]


@dataclass(frozen=True)
class _RadialDomain:
    """Shared fields and validation of Sphere and Ball."""

    radius: float = 1.0
    nonnegative: bool = False

    def __post_init__(self):
        object.__setattr__(self, "radius", check_positive_float(self.radius, "radius"))
        object.__setattr__(self, "nonnegative", check_bool(self.nonnegative, "nonnegative"))


@dataclass(frozen=True)
class Sphere(_RadialDomain):
    """The sphere ``{x : ||x|| = radius}`` (optionally only its part in R^n_+).

    Parameters
    ----------
    radius : float, default=1.0
        Positive radius.
    nonnegative : bool, default=False
        Restrict to points with all coordinates >= 0.
    """


@dataclass(frozen=True)
class Ball(_RadialDomain):
    """The closed ball ``{x : ||x|| <= radius}``; parameters as for :class:`Sphere`."""


@dataclass(frozen=True)
class Annulus:
    """The shell ``{x : inner <= ||x|| <= outer}`` with ``0 <= inner <= outer``, outer > 0."""

    inner: float
    outer: float
    nonnegative: bool = False

    def __post_init__(self):
        inner = check_positive_float(self.inner, "inner", allow_zero=True)
        outer = check_positive_float(self.outer, "outer")
        if inner > outer:
            raise ValueError(f"Annulus needs inner <= outer; got inner={inner}, outer={outer}")
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "outer", outer)
        object.__setattr__(self, "nonnegative", check_bool(self.nonnegative, "nonnegative"))


Domain = (Sphere, Ball, Annulus)


def check_domain(domain):
    """Return `domain` if it is a Sphere, Ball or Annulus, else raise TypeError."""
    if not isinstance(domain, Domain):
        raise TypeError(
            f"domain must be reluinj.Sphere, reluinj.Ball or reluinj.Annulus; got {domain!r}"
        )
    return domain


def scale_to_domain(a, domain):
    """Map unit-sphere biases `a` (normalized frame, shape (m,)) to `domain` exactly.

    ``+inf`` entries (elements never needed) stay ``+inf`` except on a ball, where they
    become 0 (the point x = 0 needs alpha <= 0).
    """
    domain = check_domain(domain)
    a = np.asarray(a, dtype=np.float64)
    if isinstance(domain, Sphere):
        return domain.radius * a
    if isinstance(domain, Ball):
        return domain.radius * np.minimum(a, 0.0)
    with np.errstate(invalid="ignore"):
        return np.where(a >= 0, domain.inner * a, domain.outer * a)
