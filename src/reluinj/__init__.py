"""reluinj: injectivity, maximal bias and inversion of ReLU layers.

Frame vectors are the **rows** of a weight matrix ``W`` of shape ``(m, n)``; a ReLU layer is
``x -> ReLU(W x - alpha)``.
"""
__version__ = "0.1.0"

try:
    from . import _core, _cykern  # noqa: F401
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "reluinj's compiled extensions (_core, _cykern) could not be imported; "
        "install the package with `pip install .` (it builds them) instead of importing "
        f"the source tree. Original error: {err}"
    ) from err

from . import testing
from ._config import show_config
from ._threads import effective_n_threads, openmp_enabled
from .domains import Annulus, Ball, Sphere
from .estimate import BiasEstimate
from .exceptions import ConvergenceWarning, HullError, NotAFrameError, SamplingWarning
from .frames import (
    cross_polytope,
    cube,
    frame_operator,
    framebounds,
    framedual,
    framered,
    frana,
    frsyn,
    icosahedron,
    is_omnidirectional,
    normalize_rows,
    random_frame,
    tetrahedron,
)
from .layer import DEFAULT_RANK_TOL, ReLULayer
from .sampled import data_bias, sampled_bias

__all__ = [
    "__version__",
    "show_config",
    "effective_n_threads",
    "openmp_enabled",
    "testing",
    "NotAFrameError",
    "HullError",
    "ConvergenceWarning",
    "SamplingWarning",
    "frana",
    "frsyn",
    "frame_operator",
    "framebounds",
    "framedual",
    "framered",
    "normalize_rows",
    "is_omnidirectional",
    "icosahedron",
    "tetrahedron",
    "cube",
    "cross_polytope",
    "random_frame",
    "ReLULayer",
    "Sphere",
    "Ball",
    "Annulus",
    "BiasEstimate",
    "DEFAULT_RANK_TOL",
    "sampled_bias",
    "data_bias",
]
