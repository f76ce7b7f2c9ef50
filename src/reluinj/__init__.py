"""reluinj: injectivity, maximal bias and inversion of ReLU layers.

Frame vectors are the **rows** of a weight matrix ``W`` of shape ``(m, n)``; a ReLU layer is
``x -> ReLU(W x - alpha)``.
"""
__version__ = "0.1.0"

from importlib import import_module as _import_module
from importlib.util import find_spec as _find_spec

try:
    from . import _core, _cykern  # noqa: F401
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "reluinj's compiled extensions (_core, _cykern) could not be imported; "
        "install the package with `pip install .` (it builds them) instead of importing "
        f"the source tree. Original error: {err}"
    ) from err

from . import testing
from ._lib.config import show_config
from ._lib.constants import DEFAULT_RANK_TOL
from ._lib.exceptions import ConvergenceWarning, HullError, NotAFrameError, SamplingWarning
from ._lib.threads import effective_n_threads, openmp_enabled
from . import hull  # public home of reluinj.frames.hull
from .frames import (
    Annulus,
    Ball,
    BiasEstimate,
    InjectivityRadius,
    InjectivityRegion,
    InverseResult,
    RadialProfile,
    ReLULayer,
    ReLUNetwork,
    Sphere,
    StabilityEstimate,
    cross_polytope,
    cube,
    data_bias,
    frame_operator,
    framebounds,
    framedual,
    framered,
    frana,
    frsyn,
    icosahedron,
    injectivity_radius,
    is_omnidirectional,
    most_correlated_basis,
    omnidirectional_margin,
    normalize_rows,
    plot_injectivity_region_2d,
    plot_sphere_facets_3d,
    polytope_bias,
    radial_profile,
    random_frame,
    relu_inverse,
    sampled_bias,
    samples_needed,
    sampling_error,
    stability_constant,
    tetrahedron,
)
from .inr import (
    AveragePool,
    CSelection,
    InverseFit,
    RadonTransform,
    TrialFit,
    code_variation_norm,
    fit_inr,
    psnr_minmax,
    radon,
    select_c,
    ssim,
    torch_variation_norm,
    FeatureSet,
    FitResult,
    Interval,
    bwrelu,
    bwrelu_features,
    bwrelu_grad,
    bwrelu_relu_composition,
    bwrelu_relu_expansion,
    bwrelu_to_relu,
    condition_number,
    coordinate_grid,
    deep_variation_norm,
    dyadic_bwrelu_features,
    fit_image,
    gram_matrix,
    load_image,
    psnr,
    relu_features,
    relu_to_bwrelu,
    variation_norm,
)

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
    "omnidirectional_margin",
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
    "ConvNetwork",
    "ConvNetworkStage",
    "StageReport",
    "ConvNetworkAnalysis",
    "ConvNetworkInverseResult",
    "DENSE_RANK_LIMIT",
    "model_project",
    "model_support",
    "sample_model_sparse",
    "one_shot_reconstruct",
    "iht",
    "IHTResult",
    "estimate_model_rip",
    "ModelRIPEstimate",
    "theorem_3_3_bound",
    "filter_coherence",
    "bwrelu",
    "bwrelu_grad",
    "bwrelu_relu_expansion",
    "bwrelu_relu_composition",
    "bwrelu_to_relu",
    "relu_to_bwrelu",
    "FeatureSet",
    "relu_features",
    "dyadic_bwrelu_features",
    "bwrelu_features",
    "Interval",
    "gram_matrix",
    "condition_number",
    "variation_norm",
    "deep_variation_norm",
    "coordinate_grid",
    "psnr",
    "fit_image",
    "load_image",
    "FitResult",
    "AveragePool",
    "CSelection",
    "InverseFit",
    "RadonTransform",
    "TrialFit",
    "code_variation_norm",
    "fit_inr",
    "psnr_minmax",
    "radon",
    "select_c",
    "ssim",
    "torch_variation_norm",
    "frames",
    "inr",
    "cnn",
    "relu_inverse",
    "InverseResult",
    "stability_constant",
    "StabilityEstimate",
    "ReLUNetwork",
    "sampled_bias",
    "data_bias",
    "radial_profile",
    "RadialProfile",
    "injectivity_radius",
    "InjectivityRadius",
    "InjectivityRegion",
    "most_correlated_basis",
    "sampling_error",
    "samples_needed",
    "plot_injectivity_region_2d",
    "plot_sphere_facets_3d",
]

# BWReLU and INR subclass torch.nn.Module: they are resolved on first access, so that
# ``import reluinj`` never imports torch; they join __all__ only when torch is installed, so that
# ``from reluinj import *`` works without it.
_TORCH_CLASSES = ("BWReLU", "INR")
if _find_spec("torch") is not None:
    __all__ += list(_TORCH_CLASSES)


# The CNN part (paper 3) subclasses scipy.sparse.linalg.LinearOperator, whose import costs
# more than all of NumPy: ``reluinj.cnn`` and its names are imported on first access (the lazy
# loading of scikit-image and SciPy), so that ``import reluinj`` stays fast.
_CNN_NAMES = (
    "DENSE_RANK_LIMIT",
    "ConvNetwork",
    "ConvNetworkAnalysis",
    "ConvNetworkInverseResult",
    "ConvNetworkStage",
    "StageReport",
    "ConvOperator",
    "ConvOperator2D",
    "IHTResult",
    "ModelRIPEstimate",
    "estimate_model_rip",
    "filter_coherence",
    "iht",
    "model_project",
    "model_support",
    "one_shot_reconstruct",
    "sample_model_sparse",
    "theorem_3_3_bound",
)


def __getattr__(name):
    if name in _TORCH_CLASSES:
        from . import inr

        return getattr(inr, name)
    if name == "cnn" or name in _CNN_NAMES:
        # import_module, not ``from . import cnn``: the latter asks this __getattr__ for "cnn".
        cnn = _import_module(".cnn", __name__)
        return cnn if name == "cnn" else getattr(cnn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
