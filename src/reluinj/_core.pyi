"""Type stub of the private pybind11 module reluinj._core (topics add their kernels here)."""
from typing import Tuple, Union

import numpy as np
import numpy.typing as npt

HAS_OPENMP: bool
COMPILER: str

def max_threads() -> int: ...
def active_mask(
    W: npt.NDArray[np.floating], alpha: npt.NDArray[np.floating], X: npt.NDArray[np.floating],
    n_threads: int,
) -> npt.NDArray[np.bool_]: ...
def injective_at(
    W: npt.NDArray[np.floating], alpha: npt.NDArray[np.floating], X: npt.NDArray[np.floating],
    rank_tol: float, return_rank: bool, n_threads: int,
) -> Union[npt.NDArray[np.bool_], Tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]]]: ...
