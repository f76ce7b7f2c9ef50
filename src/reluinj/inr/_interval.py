"""The 1-D input domain of univariate features: a closed interval ``[lo, hi]``."""
from dataclasses import dataclass

import numbers

import numpy as np

__all__ = ["Interval"]


@dataclass(frozen=True)
class Interval:
    """The closed interval ``[lo, hi]`` of the real line (the domain of :func:`gram_matrix`).

    Parameters
    ----------
    lo, hi : float
        Finite endpoints, ``lo < hi``.

    Examples
    --------
    >>> import reluinj
    >>> reluinj.Interval(-1.0, 1.0).length
    2.0
    """

    lo: float = -1.0
    hi: float = 1.0

    def __post_init__(self):
        for name in ("lo", "hi"):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                raise TypeError(f"Interval endpoints must be real numbers; got {name}={v!r}")
        lo, hi = float(self.lo), float(self.hi)
        if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
            raise ValueError(f"domain must be a finite interval with lo < hi; got "
                             f"Interval(lo={lo}, hi={hi})")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def length(self):
        """``hi - lo``."""
        return self.hi - self.lo
