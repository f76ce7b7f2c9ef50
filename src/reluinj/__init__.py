"""reluinj: injectivity, maximal bias and inversion of ReLU layers.

Frame vectors are the **rows** of a weight matrix ``W`` of shape ``(m, n)``; a ReLU layer is
``x -> ReLU(W x - alpha)``.
"""
__version__ = "0.1.0"

from importlib.util import find_spec as _find_spec

try:
    from . import _core, _cykern  # noqa: F401
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "reluinj's compiled extensions (_core, _cykern) could not be imported; "
        "install the package with `pip install .` (it builds them) instead of importing "
        f"the source tree. Original error: {err}"
    ) from err

from . import hull, testing
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
from .polytope import polytope_bias
from .operators import ConvOperator, ConvOperator2D
from .cnn import (
    ModelRIPEstimate,
    estimate_model_rip,
    filter_coherence,
    iht,
    model_project,
    one_shot_reconstruct,
    sample_model_sparse,
    theorem_3_3_bound,
)
from .activations import bwrelu, bwrelu_grad, bwrelu_relu_expansion, bwrelu_to_relu, relu_to_bwrelu
from .conditioning import (
    FeatureSet,
    bwrelu_features,
    condition_number,
    deep_variation_norm,
    dyadic_bwrelu_features,
    gram_matrix,
    relu_features,
    variation_norm,
)
from .network import ReLUNetwork
from .reconstruct import InverseResult, relu_inverse, stability_constant
from .sampled import data_bias, sampled_bias

__all__ = [
    "__version__",
    "show_config",
    "effective_n_threads",
    "openmp_enabled",
    "testing",
    "hull",
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
    "polytope_bias",
    "ConvOperator",
    "ConvOperator2D",
    "model_project",
    "sample_model_sparse",
    "one_shot_reconstruct",
    "iht",
    "estimate_model_rip",
    "ModelRIPEstimate",
    "theorem_3_3_bound",
    "filter_coherence",
    "bwrelu",
    "bwrelu_grad",
    "bwrelu_relu_expansion",
    "bwrelu_to_relu",
    "relu_to_bwrelu",
    "FeatureSet",
    "relu_features",
    "dyadic_bwrelu_features",
    "bwrelu_features",
    "gram_matrix",
    "condition_number",
    "variation_norm",
    "deep_variation_norm",
    "coordinate_grid",
    "psnr",
    "fit_image",
    "relu_inverse",
    "InverseResult",
    "stability_constant",
    "ReLUNetwork",
    "sampled_bias",
    "data_bias",
]

# torch-based names live in reluinj.nn and are resolved on first access, so that
# ``import reluinj`` never imports torch; the torch classes join __all__ only when torch is
# installed, so that ``from reluinj import *`` works without it.
_NN_NAMES = ("BWReLU", "INR", "coordinate_grid", "psnr", "fit_image")
if _find_spec("torch") is not None:
    __all__ += ["BWReLU", "INR"]


def __getattr__(name):
    if name in _NN_NAMES:
        from . import nn

        return getattr(nn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
