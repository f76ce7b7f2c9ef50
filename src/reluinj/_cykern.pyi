"""Type stub of the private Cython module reluinj._cykern (use the public reluinj API)."""
from typing import TypeVar

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", np.float32, np.float64)

HAS_OPENMP: bool

def max_threads() -> int: ...
def shifted_relu(
    Z: npt.NDArray[_F], alpha: npt.NDArray[_F], out: npt.NDArray[_F], n_threads: int
) -> None: ...
def bwrelu(
    x: npt.NDArray[_F], c: float, out: npt.NDArray[_F], n_threads: int, derivative: bool = ...
) -> None: ...
def bwrelu_backward(
    x: npt.NDArray[_F], grad_out: npt.NDArray[_F], c: float, out: npt.NDArray[_F], n_threads: int
) -> None: ...
def csr_matmat(
    data: npt.NDArray[_F], indices: npt.NDArray[np.integer], indptr: npt.NDArray[np.integer],
    X: npt.NDArray[_F], out: npt.NDArray[_F], n_threads: int
) -> None: ...
