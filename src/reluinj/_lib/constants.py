"""Numerical constants shared by more than one part of reluinj."""

__all__ = ["DEFAULT_RANK_TOL"]

DEFAULT_RANK_TOL = 1e-10
"""Default tolerance of the rank test in :meth:`ReLULayer.is_injective_at`.

An active row φ_i raises the rank iff its distance to the span of the active rows accepted
before it, divided by ‖φ_i‖, exceeds this value (the sine of the angle to that span).
"""
