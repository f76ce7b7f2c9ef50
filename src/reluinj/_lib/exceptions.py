"""Exception and warning classes of reluinj."""

__all__ = ["NotAFrameError", "HullError", "ConvergenceWarning", "SamplingWarning"]


class NotAFrameError(ValueError):
    """The rows of a weight matrix do not span R^n (so they are not a frame)."""


class HullError(RuntimeError):
    """Qhull could not build the convex hull of the normalized frame."""


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at its iteration limit before reaching its tolerance."""


class SamplingWarning(UserWarning):
    """A Monte-Carlo estimate saw too few samples to bound every entry."""
