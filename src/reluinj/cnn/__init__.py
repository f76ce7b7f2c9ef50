"""Paper 3 — invertibility of convolutional layers (Gilbert et al.).

Convolution as a structured operator with fast ``W x`` / ``W^T z`` (:class:`ConvOperator`,
:class:`ConvOperator2D`), model-k-sparse pooling, one-shot and iterative (IHT) reconstruction,
and model-RIP constants.
"""
from ._network import (
    DENSE_RANK_LIMIT,
    ConvNetwork,
    ConvNetworkAnalysis,
    ConvNetworkInverseResult,
    ConvNetworkStage,
    StageReport,
)
from ._operators import ConvOperator, ConvOperator2D
from ._pooling import (
    IHTResult,
    ModelRIPEstimate,
    estimate_model_rip,
    filter_coherence,
    iht,
    model_project,
    model_support,
    one_shot_reconstruct,
    sample_model_sparse,
    theorem_3_3_bound,
)

__all__ = [
    "ConvOperator", "ConvOperator2D",
    "ConvNetwork", "ConvNetworkStage", "StageReport", "ConvNetworkAnalysis",
    "ConvNetworkInverseResult", "DENSE_RANK_LIMIT",
    "model_project", "model_support", "sample_model_sparse", "one_shot_reconstruct", "iht",
    "IHTResult",
    "estimate_model_rip", "ModelRIPEstimate", "theorem_3_3_bound", "filter_coherence",
]
