"""BW-ReLU: the linear B-spline wavelet ψ written as seven ReLUs, and exact net conversions.

ψ(y) = Σ_m a_m σ(y − t_m) with knots t = (0, ½, 1, 3/2, 2, 5/2, 3), coefficients
a = (1, −8, 23, −32, 23, −8, 1)/6 and σ(z) = max(z, 0) (Shenouda, Zhou, Nowak, ICML 2024).
ψ is supported on [0, 3], symmetric about 3/2, has two vanishing moments and ‖ψ‖²_{L2} = 1/4.
"""
import numbers

import numpy as np

from .. import _cykern
from .._lib.threads import effective_n_threads
from .._lib.validation import as_float_array, check_positive_float

__all__ = [
    "PSI_KNOTS",
    "PSI_COEFFICIENTS",
    "bwrelu",
    "bwrelu_grad",
    "bwrelu_relu_expansion",
    "bwrelu_to_relu",
    "relu_to_bwrelu",
]

#: Knots t_m of ψ(y) = Σ_m a_m ReLU(y − t_m).
PSI_KNOTS = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
#: Coefficients a_m of ψ(y) = Σ_m a_m ReLU(y − t_m).
PSI_COEFFICIENTS = np.array([1.0, -8.0, 23.0, -32.0, 23.0, -8.0, 1.0]) / 6.0
PSI_KNOTS.flags.writeable = False
PSI_COEFFICIENTS.flags.writeable = False

#: Largest pre-activation z for which ReLU(z) = 24 ψ(z / 4) (Proposition 3.2).
RELU_IDENTITY_LIMIT = 2.0


def _check_scale(c):
    if isinstance(c, bool) or not isinstance(c, numbers.Real):
        raise TypeError(f"c must be a real number; got {type(c).__name__}")
    return check_positive_float(c, "c")


def _elementwise_input(x, out):
    """Validate x (any shape) and out; return (x, out) with out allocated if needed."""
    x = as_float_array(x, "x", finite=False, allow_empty=True)
    if out is None:
        return x, np.empty_like(x)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy ndarray; got {type(out).__name__}")
    if out.shape != x.shape:
        raise ValueError(f"out must have the shape of x {x.shape}; got {out.shape}")
    if out.dtype != x.dtype:
        raise ValueError(f"out must have dtype {x.dtype} (the dtype of x); got {out.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be a writeable C-contiguous array")
    same = out.ctypes.data == x.ctypes.data  # same shape, dtype and layout: element-wise in place
    if not same and np.shares_memory(out, x):
        raise ValueError("out partly overlaps x; pass out=x for an in-place update or a "
                         "separate array")
    return x, out


def bwrelu(x, c=1.0, *, out=None, n_threads=None):
    """BW-ReLU activation ψ(c·x), element-wise, in one pass over memory.

    Parameters
    ----------
    x : array_like of any shape
        Pre-activations. float32 stays float32; integers and other real dtypes become float64;
        complex is rejected.
    c : float, default=1.0
        Scale (> 0, finite); the support of ψ(c·x) is x ∈ [0, 3/c].
    out : ndarray, optional
        C-contiguous array of the shape and (converted) dtype of `x` receiving the result;
        may be `x` itself for an in-place update, but must not otherwise overlap `x`.
    n_threads : int or None, default=None
        OpenMP threads; None follows OMP_NUM_THREADS / RELUINJ_NUM_THREADS / threadpoolctl,
        -1 = all cores. The result does not depend on it.

    Returns
    -------
    y : ndarray of the shape of `x`
        ψ(c·x); NaN stays NaN and ψ(±inf) = 0 (ψ vanishes outside [0, 3]).

    Raises
    ------
    TypeError
        If `x` is complex or non-numeric, or `c` is not a real number.
    ValueError
        If `c` ≤ 0 or is not finite, or `out` has the wrong shape/dtype/layout or partly
        overlaps `x`.

    See Also
    --------
    bwrelu_grad : derivative c·ψ′(c·x).
    bwrelu_relu_expansion : the seven (knot, coefficient) pairs of ψ.

    Notes
    -----
    ψ(y) = Σ_m a_m ReLU(y − t_m), knots t = 0, ½, …, 3, a = (1, −8, 23, −32, 23, −8, 1)/6;
    knot values (0, 1/12, −1/2, 5/6, −1/2, 1/12, 0). The kernel evaluates the linear piece
    of the half-unit interval containing c·x instead of the seven ReLUs.

    Examples
    --------
    >>> import reluinj
    >>> reluinj.bwrelu([0.5, 1.0, 1.5])
    array([ 0.08333333, -0.5       ,  0.83333333])
    """
    c = _check_scale(c)
    x, out = _elementwise_input(x, out)
    nt = effective_n_threads(n_threads)
    _cykern.bwrelu(x.reshape(-1), x.dtype.type(c), out.reshape(-1), nt)
    return out


def bwrelu_grad(x, c=1.0, *, out=None, n_threads=None):
    """Derivative of x ↦ ψ(c·x): c·ψ′(c·x), element-wise.

    ψ′ is piecewise constant (1/6, −7/6, 8/3, −8/3, 7/6, −1/6 on the six half-unit intervals of
    [0, 3], 0 outside). At a knot the **left** slope is returned, which is what autograd of the
    7-ReLU expression gives (ReLU′(0) = 0).

    Parameters
    ----------
    x : array_like of any shape
        Pre-activations (float32 stays float32, integers become float64, complex rejected).
    c : float, default=1.0
        Scale (> 0, finite).
    out : ndarray, optional
        C-contiguous output of the shape and dtype of `x` (may be `x`).
    n_threads : int or None, default=None
        OpenMP threads (see :func:`bwrelu`).

    Returns
    -------
    g : ndarray of the shape of `x`
        c·ψ′(c·x).

    Raises
    ------
    TypeError, ValueError
        As :func:`bwrelu`.
    """
    c = _check_scale(c)
    x, out = _elementwise_input(x, out)
    nt = effective_n_threads(n_threads)
    _cykern.bwrelu(x.reshape(-1), x.dtype.type(c), out.reshape(-1), nt, True)
    return out


def bwrelu_relu_expansion():
    """Knots and coefficients of ψ(y) = Σ_m a_m ReLU(y − t_m).

    Returns
    -------
    knots : ndarray of shape (7,)
        t = (0, 0.5, 1, 1.5, 2, 2.5, 3).
    coefficients : ndarray of shape (7,)
        a = (1, −8, 23, −32, 23, −8, 1)/6; Σ|a_m| = 16 is the factor of the variation norm.
    """
    return PSI_KNOTS.copy(), PSI_COEFFICIENTS.copy()


def _shallow_net(input_weights, biases, output_weights):
    """Validate a shallow net x ↦ V·φ(W x − b): W (K, d) or (K,), b (K,), V (K,) or (out, K)."""
    W = as_float_array(input_weights, "input_weights", ndim=(1, 2), dtype=np.float64)
    K = W.shape[0]
    b = as_float_array(biases, "biases", ndim=1, dtype=np.float64)
    if b.shape != (K,):
        raise ValueError(f"biases must have shape ({K},) (one per neuron); got {b.shape}")
    V = as_float_array(output_weights, "output_weights", ndim=(1, 2), dtype=np.float64)
    if V.shape[-1] != K:
        raise ValueError(
            f"output_weights must have shape ({K},) or (out_features, {K}); got {V.shape}")
    return W, b, V


def bwrelu_to_relu(input_weights, biases, output_weights, c=1.0):
    """Rewrite a shallow BW-ReLU net exactly as a ReLU net with 7× as many neurons.

    The BW-ReLU net is x ↦ Σ_k v_k ψ(c(w_k·x − b_k)); the result is
    x ↦ Σ_j v'_j ReLU(w'_j·x − b'_j) with neuron j = 7k + m:
    w'_j = c·w_k, b'_j = c·b_k + t_m, v'_j = a_m·v_k.

    Parameters
    ----------
    input_weights : array_like of shape (K, d) or (K,)
        Rows w_k are the input weights of the K neurons (PyTorch ``Linear.weight`` layout).
    biases : array_like of shape (K,)
    output_weights : array_like of shape (K,) or (out_features, K)
        Column k is v_k (PyTorch layout).
    c : float, default=1.0
        Scale of ψ(c·z).

    Returns
    -------
    input_weights : ndarray of shape (7K, d) or (7K,)
    biases : ndarray of shape (7K,)
    output_weights : ndarray of shape (7K,) or (out_features, 7K)
    """
    c = _check_scale(c)
    W, b, V = _shallow_net(input_weights, biases, output_weights)
    W7 = np.repeat(c * W, 7, axis=0)
    b7 = (c * b[:, None] + PSI_KNOTS[None, :]).reshape(-1)
    V7 = (V[..., :, None] * PSI_COEFFICIENTS).reshape(*V.shape[:-1], -1)
    return W7, b7, V7


def relu_to_bwrelu(input_weights, biases, output_weights, *, radius=1.0, c=1.0):
    """Rewrite a shallow ReLU net as a BW-ReLU net of the same width, exactly on a ball.

    Uses Proposition 3.2, ReLU(z) = 24 ψ(z/4) for z ≤ 2, with a per-neuron rescaling
    ReLU(z) = s·ReLU(z/s) (s ≥ 1) so that z/s ≤ 2 on the ball ‖x‖ ≤ `radius`:
    ReLU(w·x − b) = 24 s ψ(c(w'·x − b')) with w' = w/(4sc), b' = b/(4sc), v' = 24 s v.

    Parameters
    ----------
    input_weights : array_like of shape (K, d) or (K,)
        Rows w_k are the input weights (PyTorch ``Linear.weight`` layout).
    biases : array_like of shape (K,)
        The net is x ↦ Σ_k v_k ReLU(w_k·x − b_k).
    output_weights : array_like of shape (K,) or (out_features, K)
    radius : float, default=1.0
        The identity holds for every x with ‖x‖₂ ≤ radius (for d = 1: ``|x| <= radius``).
    c : float, default=1.0
        Scale of the resulting BW-ReLU net ψ(c·z).

    Returns
    -------
    input_weights : ndarray of shape (K, d) or (K,)
    biases : ndarray of shape (K,)
    output_weights : ndarray of shape (K,) or (out_features, K)
    """
    c = _check_scale(c)
    radius = check_positive_float(radius, "radius")
    W, b, V = _shallow_net(input_weights, biases, output_weights)
    norms = np.abs(W) if W.ndim == 1 else np.linalg.norm(W, axis=1)
    z_max = norms * radius - b
    s = np.maximum(1.0, z_max / RELU_IDENTITY_LIMIT)
    scale = 1.0 / (4.0 * s * c)
    Wb = W * (scale if W.ndim == 1 else scale[:, None])
    return Wb, b * scale, V * (24.0 * s)
