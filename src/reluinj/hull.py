"""Facets of the convex hull of the normalised frame vectors (Qhull through ``scipy.spatial``).

The implementation lives in :mod:`reluinj.frames.hull`; this module is its public home, so that
``import reluinj.hull`` works as written in the documentation.
"""
from .frames.hull import *  # noqa: F401,F403
from .frames.hull import __all__  # noqa: F401
