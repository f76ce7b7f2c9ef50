"""Type stub of the private pybind11 module reluinj._core (generated from its signatures)."""
from typing import Any

import numpy.typing as npt

HAS_OPENMP: bool
COMPILER: str

# Boolean (k, m) mask <X[s], W[i]> >= alpha[i].
def active_mask(W: npt.NDArray[Any], alpha: npt.NDArray[Any], X: npt.NDArray[Any], n_threads: int) -> npt.NDArray[Any]: ...

# CG on the active normal equations: (X, injective, residual, n_iter).
def cg_inverse(W: npt.NDArray[Any], alpha: npt.NDArray[Any], Y: npt.NDArray[Any], tol: float, max_iter: int, rank_tol: float, n_threads: int) -> tuple[Any, ...]: ...

# Adjoint of conv_forward: Z (B, K, OH, OW) -> (B, M, H, W).
def conv_adjoint(Z: npt.NDArray[Any], filters: npt.NDArray[Any], H: int, W: int, stride_h: int, stride_w: int, n_threads: int, *, dilation_h: int = 1, dilation_w: int = 1, pad_top: int = 0, pad_bottom: int = 0, pad_left: int = 0, pad_right: int = 0, groups: int = 1) -> npt.NDArray[Any]: ...

# Zero-padded, strided, dilated, grouped cross-correlation (torch conv2d): X (B, M, H, W), filters (K, M/groups, kh, kw) -> (B, K, OH, OW).
def conv_forward(X: npt.NDArray[Any], filters: npt.NDArray[Any], stride_h: int, stride_w: int, n_threads: int, *, dilation_h: int = 1, dilation_w: int = 1, pad_top: int = 0, pad_bottom: int = 0, pad_left: int = 0, pad_right: int = 0, groups: int = 1) -> npt.NDArray[Any]: ...

# Least squares on the active rows of each output: (X, injective, residual, y_valid); y_valid is False when Y has NaN, inf or negative entries.
def dual_inverse(W: npt.NDArray[Any], alpha: npt.NDArray[Any], Y: npt.NDArray[Any], rank_tol: float, n_threads: int) -> tuple[Any, ...]: ...

# First fully active facet per output: (X, injective, residual, facet).
def facet_inverse(W: npt.NDArray[Any], alpha: npt.NDArray[Any], Y: npt.NDArray[Any], indptr: npt.NDArray[Any], indices: npt.NDArray[Any], rank_tol: float, n_threads: int) -> tuple[Any, ...]: ...

# Polytope bias over CSR facets: (alpha (m,), beta (nnz,), min_F sigma_min(Wn[F])).
def facet_traversal(Wn: npt.NDArray[Any], indptr: npt.NDArray[Any], indices: npt.NDArray[Any], variant: int, n_threads: int) -> tuple[Any, ...]: ...

# Boolean (n_facets,): cone(F) meets R^n_+ outside 0.

# ReLU frame algorithm: (X, injective, residual, n_iter).
def frame_inverse(W: npt.NDArray[Any], alpha: npt.NDArray[Any], Y: npt.NDArray[Any], relu_variant: bool, lambda_full: float, frame_upper: float, tol: float, max_iter: int, rank_tol: float, n_threads: int) -> tuple[Any, ...]: ...

# Per-sample test that the active rows of W span R^n (optionally with their rank).
def injective_at(W: npt.NDArray[Any], alpha: npt.NDArray[Any], X: npt.NDArray[Any], rank_tol: float, return_rank: bool, n_threads: int) -> Any: ...

# Exact rank profile along rays t U[s]/||U[s]||: (indptr, starts, ranks, first_failure, failure_row).
def radial_profile(W: npt.NDArray[Any], alpha: npt.NDArray[Any], U: npt.NDArray[Any], rank_tol: float, t_max: float, first_only: bool, n_threads: int) -> tuple[Any, ...]: ...

# 1/sqrt(lambda_min(W_I^T W_I)) per input point (inf if not spanning).
def inverse_stability(W: npt.NDArray[Any], alpha: npt.NDArray[Any], X: npt.NDArray[Any], rank_tol: float, n_threads: int) -> npt.NDArray[Any]: ...

# omp_get_max_threads() (1 without OpenMP); honours OMP_NUM_THREADS and threadpoolctl.
def max_threads() -> int: ...

# Widest hand-written SIMD path in use: 'avx512', 'avx2' or 'generic' (CPU support capped by RELUINJ_SIMD).
def simd_level() -> str: ...

# X @ Wn.T computed by the MCB kernel's correlation engine (for tests).
def most_correlated_basis_correlations(Wn: npt.NDArray[Any], X: npt.NDArray[Any], isa: str, n_threads: int) -> npt.NDArray[Any]: ...

# Instruction set of the MCB correlation engine on this CPU.
def most_correlated_basis_isa() -> str: ...

# (J (k, n) int64 in correlation order, -1 padded; size (k,)): J*(x) of each point.
def most_correlated_basis_sets(Wn: npt.NDArray[Any], X: npt.NDArray[Any], rank_tol: float, n_threads: int) -> tuple[Any, ...]: ...

# (min, hits) over the points X of <x, Wn_i> for i in the most correlated basis J*(x).
def most_correlated_basis_partial(Wn: npt.NDArray[Any], X: npt.NDArray[Any], check_rank: bool, rank_tol: float, n_threads: int, isa: str = ...) -> tuple[Any, ...]: ...

# Lawson-Hanson NNLS: (x, rnorm) minimising ||A x - b|| subject to x >= 0.
def nnls(A: npt.NDArray[Any], b: npt.NDArray[Any], maxiter: int) -> tuple[Any, ...]: ...
