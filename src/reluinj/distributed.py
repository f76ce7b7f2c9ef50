"""Dask scale-out (extra ``dask``): the local computations chunked into tasks, same results.

- frame theory (:mod:`reluinj.frames.distributed`): :func:`sampled_bias`,
  :func:`is_injective_at`, :func:`injectivity_rate`, :func:`relu_inverse`, :func:`connect`;
- convolutional networks (:mod:`reluinj.cnn.distributed`): :func:`analyze` and
  :func:`inverse` run :meth:`ConvNetwork.analyze` / :meth:`ConvNetwork.inverse` over the
  chunks of samples of a NumPy or dask array and merge the results.

The shared Dask plumbing (client and scheduler choice, progress, retries) lives in
``reluinj._lib.scaleout``; this module is the public home of both.
"""
from .frames.distributed import *  # noqa: F401,F403
from .frames.distributed import __all__ as _frames_all
from .cnn.distributed import *  # noqa: F401,F403
from .cnn.distributed import __all__ as _cnn_all

__all__ = list(_frames_all) + list(_cnn_all)
