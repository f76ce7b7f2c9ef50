"""Paper 1 — injectivity of ReLU layers via frame theory (Haider, Ehler, Balazs).

The rows of a weight matrix ``W`` of shape ``(m, n)`` are the frame vectors; the layer is
``x -> ReLU(W x - alpha)``. This subpackage holds the frame toolkit, the domains, the layer and
its point-wise injectivity test, both maximal-bias estimators (sampled most-correlated basis and
polytope bias), the convex-hull facets, reconstruction, networks, their Dask scale-out and
the pictures of the paper's figures (extra ``plot``).
"""
from . import hull
from ._basis import most_correlated_basis
from ._coverage import samples_needed, sampling_error
from ._domains import Annulus, Ball, Sphere
from ._estimate import BiasEstimate
from ._layer import ReLULayer
from ._network import ReLUNetwork
from ._plot import plot_injectivity_region_2d, plot_sphere_facets_3d
from ._polytope import polytope_bias
from ._region import (InjectivityRadius, InjectivityRegion, RadialProfile, injectivity_radius,
                      radial_profile)
from ._reconstruct import InverseResult, StabilityEstimate, relu_inverse, stability_constant
from ._sampled import data_bias, sampled_bias
from ._toolkit import (
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
    omnidirectional_margin,
    normalize_rows,
    random_frame,
    tetrahedron,
)

__all__ = [
    "hull",
    "Sphere", "Ball", "Annulus",
    "BiasEstimate",
    "ReLULayer",
    "ReLUNetwork",
    "polytope_bias",
    "sampled_bias", "data_bias",
    "radial_profile", "RadialProfile", "injectivity_radius", "InjectivityRadius",
    "InjectivityRegion", "most_correlated_basis", "sampling_error", "samples_needed",
    "relu_inverse", "InverseResult", "StabilityEstimate", "stability_constant",
    "frana", "frsyn", "frame_operator", "framebounds", "framedual", "framered",
    "normalize_rows", "is_omnidirectional", "omnidirectional_margin", "random_frame",
    "icosahedron", "tetrahedron", "cube", "cross_polytope",
    "plot_injectivity_region_2d", "plot_sphere_facets_3d",
]
