"""Dask scale-out of the frame-theory computations (extra ``dask``).

The implementation lives in :mod:`reluinj.frames.distributed`; this module is its public home.
"""
from .frames.distributed import *  # noqa: F401,F403
from .frames.distributed import __all__  # noqa: F401
