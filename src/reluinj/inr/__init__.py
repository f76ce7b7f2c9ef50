"""Paper 2 — BW-ReLU activations for implicit neural representations (Shenouda, Zhou, Nowak).

ψ as seven ReLUs and its fused kernels, Gram conditioning of ReLU and BW-ReLU features, the
variation norm, and the PyTorch part (:class:`BWReLU`, :class:`INR`, :func:`fit_image`,
:func:`fit_inr` through a forward operator — :class:`RadonTransform`, :class:`AveragePool` —,
:func:`select_c`), which imports torch only when a torch class or function is used.
"""
from ._activation import bwrelu, bwrelu_grad, bwrelu_relu_expansion, bwrelu_to_relu, relu_to_bwrelu
from ._conditioning import (
    FeatureSet,
    bwrelu_features,
    condition_number,
    deep_variation_norm,
    dyadic_bwrelu_features,
    gram_matrix,
    relu_features,
    variation_norm,
)
from ._fit import (
    CSelection,
    InverseFit,
    TrialFit,
    code_variation_norm,
    fit_inr,
    psnr_minmax,
    select_c,
    ssim,
    torch_variation_norm,
)
from ._interval import Interval
from ._operators import AveragePool, RadonTransform, radon
from ._torch import FitResult, bwrelu_relu_composition, coordinate_grid, fit_image, load_image, psnr

_TORCH_CLASSES = ("BWReLU", "INR")

__all__ = [
    "bwrelu", "bwrelu_grad", "bwrelu_relu_expansion", "bwrelu_to_relu", "relu_to_bwrelu",
    "FeatureSet", "relu_features", "dyadic_bwrelu_features", "bwrelu_features",
    "Interval", "gram_matrix", "condition_number", "variation_norm", "deep_variation_norm",
    "coordinate_grid", "psnr", "fit_image", "load_image", "FitResult",
    "bwrelu_relu_composition",
    "fit_inr", "InverseFit", "TrialFit", "select_c", "CSelection", "torch_variation_norm",
    "code_variation_norm", "psnr_minmax", "ssim", "RadonTransform", "AveragePool", "radon",
]


def __getattr__(name):
    # BWReLU and INR subclass torch.nn.Module: built on first access so that importing
    # reluinj never imports torch.
    if name in _TORCH_CLASSES:
        from . import _torch

        return getattr(_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
