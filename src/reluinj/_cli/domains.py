"""Parsing of the command line's ``--domain`` text into a domain object."""
from .. import Annulus, Ball, Sphere


def parse_domain(text):
    """Parse a CLI domain spec: ``sphere[:r]``, ``ball[:r]``, ``annulus:r1:r2``, each
    optionally followed by ``:+`` for the non-negative part (e.g. ``ball:1:+``)."""
    parts = [p.strip() for p in str(text).split(":") if p.strip()]
    if not parts:
        raise ValueError("domain spec is empty; expected e.g. 'sphere:1', 'ball:2', 'annulus:1:2'")
    nonneg = parts[-1] == "+"
    if nonneg:
        parts = parts[:-1]
    kind, args = parts[0].lower(), parts[1:]
    try:
        values = [float(v) for v in args]
    except ValueError:
        raise ValueError(f"domain spec {text!r}: radii must be numbers") from None
    if kind in ("sphere", "ball") and len(values) <= 1:
        cls = Sphere if kind == "sphere" else Ball
        return cls(values[0] if values else 1.0, nonnegative=nonneg)
    if kind == "annulus" and len(values) == 2:
        return Annulus(values[0], values[1], nonnegative=nonneg)
    raise ValueError(
        f"domain spec {text!r} not understood; expected 'sphere[:r]', 'ball[:r]' or "
        "'annulus:r1:r2', optionally ending in ':+'"
    )
