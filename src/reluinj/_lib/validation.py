"""Input validation used by every public function (one place for the dtype policy).

dtype policy: float32 and float64 arrays are kept as they are; any other real numeric
dtype (integers, bool, float16, longdouble) becomes float64; complex, object and string
arrays are a TypeError. Arrays already C-contiguous in an accepted dtype are never copied.
"""
import numbers
from collections.abc import Mapping

import numpy as np

from .exceptions import NotAFrameError

__all__ = [
    "as_float_array",
    "as_weights",
    "as_points",
    "as_bias",
    "check_rng",
    "check_positive_int",
    "check_positive_float",
    "result_dtype",
    "check_rank_tol",
    "check_float_dtype",
    "check_bool",
    "MAX_COUNT",
    "INT32_MAX",
]

INT32_MAX = 2**31 - 1
"""Largest iteration limit the compiled kernels take (a C ``int``)."""

MAX_COUNT = 2**40
"""Upper bound of sample/iteration counts (``n_samples``, ``max_iter``, ...): larger counts would
run for years, and Python ints this large would overflow the compiled kernels' int64."""

_KEPT = (np.dtype(np.float32), np.dtype(np.float64))


def _float_dtype(dtype, name):
    dtype = np.dtype(dtype)
    if dtype in _KEPT:
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    raise TypeError(
        f"{name} must hold real numbers (float32/float64, or integers converted to float64); "
        f"got dtype {dtype}"
    )


def result_dtype(*arrays):
    """The common float dtype of already-validated float arrays (float32 only if all are)."""
    return np.result_type(*[a.dtype for a in arrays])


def as_float_array(a, name, *, ndim=None, dtype=None, finite=True, allow_empty=False):
    """Validate `a` and return it as a C-contiguous float32/float64 ndarray.

    Parameters
    ----------
    a : array_like
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Accepted numbers of dimensions.
    dtype : numpy dtype, optional
        Force this float dtype instead of applying the dtype policy.
    finite : bool, default=True
        Reject NaN and inf.
    allow_empty : bool, default=False
        Accept arrays with zero elements.
    """
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be array_like of real numbers; {err}") from None
    target = _float_dtype(arr.dtype, name) if dtype is None else np.dtype(dtype)
    if dtype is not None:
        _float_dtype(arr.dtype, name)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got ndim={arr.ndim} (shape {arr.shape})")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    arr = np.asarray(arr, dtype=target, order="C")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def frame_rank(W):
    """``np.linalg.matrix_rank(W)`` of an (m, n) matrix, usually without an SVD of W.

    The eigenvalues of ``W^T W`` (an n x n problem) decide the common case: when
    ``lambda_min > 1e-6 * lambda_max`` the smallest singular value exceeds ``1e-3 * sigma_max``,
    far above matrix_rank's threshold ``sigma_max * m * eps`` and far above the eigenvalue
    error ``~ n * eps * lambda_max``, so the rank is n. Otherwise the SVD decides, exactly as
    ``matrix_rank`` does.
    """
    W64 = W.astype(np.float64, copy=False)
    ev = np.linalg.eigvalsh(W64.T @ W64)
    if ev[-1] > 0 and ev[0] > 1e-6 * ev[-1]:
        return W.shape[1]
    return int(np.linalg.matrix_rank(W64))


def as_weights(W, name="W", *, dtype=None, require_frame=True):
    """Validate a weight matrix of shape (m, n) whose rows are frame vectors.

    Raises
    ------
    ValueError
        If `W` is not 2-D, contains NaN/inf, or has fewer rows than columns.
    NotAFrameError
        If the rows of `W` do not span R^n (numerical rank < n).
    """
    W = as_float_array(W, name, ndim=2, dtype=dtype)
    m, n = W.shape
    big = float(np.max(np.abs(W))) if W.size else 0.0
    limit = np.sqrt(np.finfo(W.dtype).max) / max(m, n)
    if big > limit:
        raise ValueError(
            f"{name} has entries up to {big:.3g}, too large for {W.dtype} arithmetic (W^T W would "
            f"overflow above {limit:.3g}); rescale {name}"
        )
    if require_frame:
        if m < n:
            raise NotAFrameError(
                f"{name} must have at least as many rows as columns (m >= n) to be a frame; "
                f"got shape {W.shape}"
            )
        rank = frame_rank(W)
        if rank < n:
            raise NotAFrameError(f"rows of {name} span rank {rank} < n={n}; not a frame")
    return W


def as_points(X, n, name="X", *, dtype=None):
    """Validate points of width n; returns (X2d of shape (k, n), was_1d)."""
    X = as_float_array(X, name, ndim=(1, 2), dtype=dtype, allow_empty=True)
    was_1d = X.ndim == 1
    if was_1d:
        X = X[None, :]
    if X.shape[1] != n:
        raise ValueError(f"{name} must have {n} columns (points in R^{n}); got shape {X.shape}")
    return X, was_1d


def as_bias(alpha, m, name="alpha", *, dtype=None, finite=True):
    """Validate a bias: a scalar (broadcast) or an array of shape (m,)."""
    a = as_float_array(alpha, name, ndim=(0, 1), dtype=dtype, finite=finite)
    if a.ndim == 0:
        a = np.full(m, a, dtype=a.dtype)
    if a.shape != (m,):
        raise ValueError(f"{name} must be a scalar or have shape ({m},); got shape {a.shape}")
    return a


def check_rng(seed):
    """Return a numpy Generator from a `seed`: None, an int, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, bool):
            raise TypeError("seed must be None, an int, a SeedSequence or a Generator; got bool")
        if isinstance(seed, numbers.Integral) and seed < 0:
            raise ValueError(f"seed must be non-negative; got {seed}")
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be None, an int, a SeedSequence or a numpy Generator; got {type(seed).__name__}"
    )


def check_positive_int(value, name, *, minimum=1, maximum=None):
    """Validate an integer in ``[minimum, maximum]`` (accepts integral floats such as 1e6).

    `maximum` defaults to :data:`MAX_COUNT` (2**40): every size, count and iteration limit of
    the library is checked here before it reaches a compiled kernel, so that a Python int too
    large for C++ (``2**63``) or a count that would run for years (``1e30``) is a ValueError
    naming the argument.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int; got bool")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        out = int(value)
    else:
        raise TypeError(f"{name} must be an int; got {value!r}")
    if out < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {out}")
    maximum = MAX_COUNT if maximum is None else maximum
    if out > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {out}")
    return out


def check_positive_float(value, name, *, allow_zero=False):
    """Validate a finite real number > 0 (or >= 0 with allow_zero)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value}")
    return value


def check_rank_tol(rank_tol):
    """Validate a rank-test tolerance: a real number in (0, 1)."""
    rank_tol = check_positive_float(rank_tol, "rank_tol")
    if rank_tol >= 1:
        raise ValueError(f"rank_tol must be in (0, 1); got {rank_tol}")
    return rank_tol


def check_float_dtype(dtype, name="dtype"):
    """Validate a requested result dtype: float32 or float64 (the same rule in every constructor)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64; got {dtype!r}") from None
    if dt not in _KEPT:
        raise TypeError(f"{name} must be float32 or float64; got {dt}")
    return dt


def check_bool(value, name):
    """Validate a flag: a Python or NumPy bool (strings such as ``"x"`` are a TypeError)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")



def check_method_options(method, options, table, *, method_arg="method", options_arg="options"):
    """The options of `method` with the defaults of ``table[method]`` filled in.

    `table` maps each method name to ``{option: default}``. Raises ValueError for an unknown
    `method`, or a key of `options` that is not one of `method`'s (the message names the key,
    the method and, if any, the methods the key belongs to); TypeError if `options` is not a
    mapping or None.
    """
    if not isinstance(method, str) or method not in table:
        raise ValueError(f"{method_arg} must be one of {tuple(table)}; got {method!r}")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise TypeError(f"{options_arg} must be a mapping (dict) of {method_arg} options or "
                        f"None; got {type(options).__name__}")
    allowed = table[method]
    valid = ", ".join(repr(k) for k in allowed) or "none"
    for key in options:
        if key in allowed:
            continue
        owners = [m for m, keys in table.items() if key in keys]
        if owners:
            where = " or ".join(f"{method_arg}={o!r}" for o in owners)
            raise ValueError(f"{options_arg}: option {key!r} belongs to {where}, not "
                             f"{method_arg}={method!r} (options of {method_arg}={method!r}: "
                             f"{valid})")
        raise ValueError(f"{options_arg}: unknown option {key!r} for {method_arg}={method!r} "
                         f"(options of {method_arg}={method!r}: {valid})")
    return {**allowed, **options}
