"""How many samples does the sampled bias need? Covering-radius estimates for N uniform
points on the unit sphere S^{n-1} of R^n.

The sampled (approach A) estimate converges from above: its error at element i is at most
the distance from the minimiser x* to the nearest sample (``<., φ_i>`` is 1-Lipschitz), so
the covering radius of the samples sizes the error. For N i.i.d. uniform points on the
(n-1)-dimensional sphere, the covering radius is of order ``(log N / N)^(1/(n-1))``.
"""
import math

from .._lib.validation import check_positive_float, check_positive_int

__all__ = ["sampling_error", "samples_needed", "SAMPLING_RULES"]

SAMPLING_RULES = ("sound", "authors")


def _cap_fraction(theta, n):
    """Normalized surface measure of a cap of angular radius theta <= pi/2 on S^{n-1}."""
    from scipy.special import betainc  # lazy: keeps `import reluinj` fast

    return 0.5 * betainc(0.5 * (n - 1), 0.5, math.sin(theta) ** 2)


def _authors_kappa(d):
    from scipy.special import gammaln

    return math.exp(gammaln((d + 1) / 2) - gammaln(d / 2)) / (d * math.sqrt(math.pi))


def _check(n, rule):
    n = check_positive_int(n, "n", minimum=2)
    if rule not in SAMPLING_RULES:
        raise ValueError(f"rule must be one of {SAMPLING_RULES}; got {rule!r}")
    return n


def sampling_error(n_samples, n, *, rule="sound"):
    """Covering-radius estimate of the sampling error of N uniform points on S^{n-1}.

    Parameters
    ----------
    n_samples : int
        Number of uniform sample points N (>= 2).
    n : int
        Dimension of R^n (>= 2).
    rule : {"sound", "authors"}, default="sound"
        ``"sound"``: the chord ``2 sin(θ/2)`` of the cap radius θ with
        ``N * cap_fraction(θ) = log N`` (the expected number of samples in a cap of radius θ
        is log N, the threshold at which N random caps cover the sphere), computed with the
        exact cap measure on the (n-1)-dimensional sphere, so it scales like
        ``(log N / N)^(1/(n-1))``. ``"authors"``: the reference code's heuristic
        ``(log N / (N κ_n))^(1/n)`` with ``κ_d = Γ((d+1)/2) / (d √π Γ(d/2))``, whose exponent
        1/n (instead of 1/(n-1)) is doubtful (frames-spec §5); for comparison only.

    Returns
    -------
    eps : float
        Estimated bound on ``alpha_sampled - alpha_true`` (normalized rows, unit sphere).
        An estimate of the typical covering radius, not a guaranteed bound.

    Examples
    --------
    >>> import reluinj
    >>> round(reluinj.sampling_error(2000, 3, rule="authors"), 12)
    0.261632745434
    """
    n = _check(n, rule)
    N = check_positive_int(n_samples, "n_samples", minimum=2)
    if rule == "authors":
        return (math.log(N) / (N * _authors_kappa(n))) ** (1.0 / n)
    target = math.log(N) / N
    if target >= 0.5:
        return math.sqrt(2.0)  # no cap smaller than a hemisphere holds log N points
    from scipy.optimize import brentq

    theta = brentq(lambda t: _cap_fraction(t, n) - target, 0.0, math.pi / 2, xtol=1e-15)
    return 2.0 * math.sin(theta / 2)


def samples_needed(eps, n, *, rule="sound"):
    """Smallest N with ``sampling_error(N, n, rule=rule) <= eps``.

    Examples
    --------
    >>> import reluinj
    >>> reluinj.samples_needed(0.25, 3, rule="authors")
    2340
    """
    n = _check(n, rule)
    eps = check_positive_float(eps, "eps")
    lo, hi = 2, 4
    while sampling_error(hi, n, rule=rule) > eps:
        lo, hi = hi, hi * 2
        if hi > 2 ** 62:
            raise ValueError(f"eps={eps} needs more than 2^62 samples in n={n}")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sampling_error(mid, n, rule=rule) <= eps:
            hi = mid
        else:
            lo = mid
    return hi if sampling_error(lo, n, rule=rule) > eps else lo
