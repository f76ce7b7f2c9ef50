"""Conditioning of ReLU vs BW-ReLU features (paper §3) and variation norms (paper §4).

Univariate features are continuous piecewise-linear functions, so their L² Gram matrices are
integrals of piecewise quadratics: :func:`gram_matrix` merges all kinks into one grid and
integrates each cell with Simpson's rule, which is exact for quadratics (no quadrature error).
"""
from dataclasses import dataclass

import numpy as np

from ._interval import Interval
from ._activation import PSI_COEFFICIENTS, PSI_KNOTS, _check_scale, bwrelu
from .._lib.validation import as_float_array, check_positive_int

__all__ = [
    "FeatureSet",
    "relu_features",
    "dyadic_bwrelu_features",
    "bwrelu_features",
    "gram_matrix",
    "condition_number",
    "variation_norm",
    "deep_variation_norm",
]

#: Total variation of ψ′, Σ_m |a_m| = 16: the variation norm of one BW-ReLU neuron per ‖v‖‖w‖.
PSI_DERIVATIVE_VARIATION = float(np.abs(PSI_COEFFICIENTS).sum())

_ACTIVATIONS = ("relu", "bwrelu")


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """K univariate features f_k(x) = scales[k] · φ(c·(weights[k]·x − biases[k])).

    Build it with :func:`relu_features`, :func:`dyadic_bwrelu_features` or
    :func:`bwrelu_features`.

    Attributes
    ----------
    activation : {"relu", "bwrelu"}
        φ = ReLU or the BW-ReLU wavelet ψ.
    weights, biases, scales : ndarray of shape (K,)
    c : float
        Scale inside φ.
    """

    activation: str
    weights: np.ndarray
    biases: np.ndarray
    scales: np.ndarray
    c: float = 1.0

    def __len__(self):
        return self.weights.shape[0]

    def __call__(self, x):
        """Evaluate the features: ndarray of shape (len(x), K) (the feature matrix Φᵀ)."""
        x = as_float_array(x, "x", ndim=(0, 1), dtype=np.float64)
        z = self.c * (np.multiply.outer(np.atleast_1d(x), self.weights) - self.biases)
        phi = np.maximum(z, 0.0, out=z) if self.activation == "relu" else bwrelu(z, out=z)
        return phi * self.scales

    def kinks(self):
        """Sorted points where some feature has a kink, ndarray of shape (k,)."""
        knots = np.array([0.0]) if self.activation == "relu" else PSI_KNOTS
        moving = self.weights != 0
        pts = (knots[None, :] / self.c + self.biases[moving, None]) / self.weights[moving, None]
        return np.unique(pts)


def _features(activation, weights, biases, scales, c):
    return FeatureSet(activation, weights, biases, scales, float(c))


def _feature_vector(a, name, K=None):
    a = as_float_array(a, name, ndim=1, dtype=np.float64)
    if K is not None and a.shape != (K,):
        raise ValueError(f"{name} must have shape ({K},); got {a.shape}")
    return a.copy()


def relu_features(biases, *, weights=None):
    """ReLU features σ(w_k·x − b_k) on the real line (default w_k = 1: σ(x − b_k)).

    Parameters
    ----------
    biases : array_like of shape (K,)
        Kink positions b_k (for unit weights).
    weights : array_like of shape (K,), optional
        Input weights w_k; default all ones.

    Returns
    -------
    features : FeatureSet
        Theorem 3.1's system when ``biases = -1 + 2*arange(K)/K``.
    """
    b = _feature_vector(biases, "biases")
    w = np.ones_like(b) if weights is None else _feature_vector(weights, "weights", b.shape[0])
    return _features("relu", w, b, np.ones_like(b), 1.0)


def dyadic_bwrelu_features(J):
    """Theorem 3.3's dyadic wavelet system on [−1, 1]: ψ_{j,k}(x) = 2^{j/2} ψ(2^j·(3/2)(x+1) − k).

    Parameters
    ----------
    J : int
        Number of scales (≥ 1); j = 0..J−1, k = 0..2^j − 1, so K = 2^J − 1 features ordered
        by scale then position.

    Returns
    -------
    features : FeatureSet
        Its Gram on [−1, 1] is block diagonal by scale with diagonal 1/6, neighbour products
        5/162 and −1/324 and zeros elsewhere.
    """
    J = check_positive_int(J, "J")
    if J > 24:
        raise ValueError(f"J must be <= 24 (2^J - 1 features); got {J}")
    j = np.concatenate([np.full(2**s, s) for s in range(J)])
    k = np.concatenate([np.arange(2**s) for s in range(J)])
    w = 1.5 * 2.0**j
    return _features("bwrelu", w, k - w, 2.0 ** (j / 2.0), 1.0)


def bwrelu_features(weights, biases, c=1.0):
    """BW-ReLU features ψ(c·(w_k·x − b_k)).

    Parameters
    ----------
    weights : array_like of shape (K,)
    biases : array_like of shape (K,)
    c : float, default=1.0
        Scale (> 0).

    Returns
    -------
    features : FeatureSet
    """
    c = _check_scale(c)
    w = _feature_vector(weights, "weights")
    b = _feature_vector(biases, "biases", w.shape[0])
    return _features("bwrelu", w, b, np.ones_like(w), c)


def _check_domain(domain):
    if not isinstance(domain, Interval):
        raise TypeError(f"domain must be a reluinj.Interval (e.g. Interval(-1.0, 1.0)); got "
                        f"{type(domain).__name__}")
    return domain.lo, domain.hi


def gram_matrix(features, domain=Interval(-1.0, 1.0)):
    """Exact L² Gram matrix G_ij = ∫_domain f_i(x) f_j(x) dx of univariate features.

    Parameters
    ----------
    features : FeatureSet
        From :func:`relu_features`, :func:`dyadic_bwrelu_features` or :func:`bwrelu_features`.
    domain : Interval, default=Interval(-1.0, 1.0)
        Integration interval ``[domain.lo, domain.hi]``.

    Returns
    -------
    G : ndarray of shape (K, K)
        Symmetric positive semi-definite.

    Raises
    ------
    TypeError
        If `features` is not a FeatureSet or `domain` is not an :class:`Interval`.
    ValueError
        If `features` is empty.

    Notes
    -----
    Every f_k is linear between consecutive merged kinks, so f_i f_j is quadratic there and
    Simpson's rule h/6·(p(a) + 4p(m) + p(b)) integrates it exactly; the only error is rounding.
    """
    if not isinstance(features, FeatureSet):
        raise TypeError(f"features must be a FeatureSet; got {type(features).__name__}")
    if len(features) == 0:
        raise ValueError("features must not be empty (K >= 1)")
    lo, hi = _check_domain(domain)
    kinks = features.kinks()
    nodes = np.unique(np.concatenate([[lo, hi], kinks[(kinks > lo) & (kinks < hi)]]))
    h = np.diff(nodes)
    F = features(nodes)
    Fm = features(0.5 * (nodes[:-1] + nodes[1:]))
    Fa, Fb = F[:-1] * (h / 6.0)[:, None], F[1:] * (h / 6.0)[:, None]
    G = Fa.T @ F[:-1] + Fb.T @ F[1:] + (4.0 * Fm * (h / 6.0)[:, None]).T @ Fm
    return 0.5 * (G + G.T)


def condition_number(G):
    """2-norm condition number σ_max/σ_min of a matrix (λ_max/λ_min for an SPD Gram).

    Parameters
    ----------
    G : array_like of shape (p, q)
        A Gram matrix or a (rectangular) feature matrix.

    Returns
    -------
    kappa : float
        ``inf`` when the smallest singular value is 0.
    """
    G = as_float_array(G, "G", ndim=2, dtype=np.float64)
    s = np.linalg.svd(G, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def _activation_factor(activation):
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}; got {activation!r}")
    return PSI_DERIVATIVE_VARIATION if activation == "bwrelu" else 1.0


def variation_norm(input_weights, output_weights=None, c=1.0, *, activation="bwrelu"):
    """Variation norm of a shallow net x ↦ Σ_k v_k φ(c(w_k·x − b_k)) (paper eq. 22, 25, 30).

    For BW-ReLU: ‖g‖_V = 16·c·Σ_k ‖w_k‖₂‖v_k‖₂; for ReLU: Σ_k ‖w_k‖₂‖v_k‖₂ (c ignored).
    Biases do not count. In 1-D this equals the total variation of g′ when no kinks of
    different neurons coincide (an upper bound otherwise).

    Parameters
    ----------
    input_weights : array_like of shape (K, d) or (K,), or a torch ``nn.Module``
        Row k is w_k (PyTorch ``Linear.weight`` layout). A :class:`reluinj.INR` (or any
        module) is passed to :func:`deep_variation_norm` with its own `c` and activation.
    output_weights : array_like of shape (K,) or (out_features, K)
        Column k is v_k (PyTorch layout). Required for arrays, must be None for a module.
    c : float, default=1.0
        Scale of ψ(c·z).
    activation : {"bwrelu", "relu"}, default="bwrelu"

    Returns
    -------
    norm : float
    """
    if _is_torch_module(input_weights):
        if output_weights is not None:
            raise ValueError("output_weights must be None when a torch module is given")
        return deep_variation_norm(input_weights)
    if output_weights is None:
        raise ValueError("output_weights is required when input_weights is an array")
    return _deep_norm([input_weights, output_weights], c, activation,
                      names=("input_weights", "output_weights"))


def _is_torch_module(obj):
    return any(f"{t.__module__}.{t.__name__}" == "torch.nn.modules.module.Module"
               for t in type(obj).__mro__)


def _module_weights(module):
    import torch

    weights = [m.weight.detach().cpu().double().numpy()
               for m in module.modules() if isinstance(m, torch.nn.Linear)]
    c = getattr(module, "c", 1.0)
    c = float(c.detach()) if isinstance(c, torch.Tensor) else float(c)
    return weights, c, getattr(module, "activation", "bwrelu")


def deep_variation_norm(weights, c=1.0, *, activation="bwrelu"):
    """Sum of the variation norms of the shallow pieces of a deep net (paper eq. 48–53).

    The net g = W_L φ(c(W_{L−1} … φ(c(W_0 x))…)) is split into g⁽¹⁾(x) = W_1 φ(c W_0 x) and
    g⁽ˡ⁾(z) = W_l φ(c z) for l ≥ 2, giving (for BW-ReLU)

        16·c·( Σ_k ‖W_1[:, k]‖·‖W_0[k, :]‖ + Σ_{l≥2} Σ_k ‖W_l[:, k]‖ ).

    For L = 1 this is :func:`variation_norm`. Biases do not count.

    Parameters
    ----------
    weights : sequence of array_like, or a torch ``nn.Module``
        Weight matrices in PyTorch layout (out_features, in_features), input layer first,
        output layer last (at least two). A module contributes its ``nn.Linear`` weights in
        registration order, and its attributes ``c`` and ``activation`` when present
        (as on :class:`reluinj.INR`).
    c : float, default=1.0
        Scale of ψ(c·z); ignored for a module that has a ``c``.
    activation : {"bwrelu", "relu"}, default="bwrelu"
        ReLU nets use the factor 1 and c = 1 instead of 16·c.

    Returns
    -------
    norm : float
    """
    if _is_torch_module(weights):
        weights, c, activation = _module_weights(weights)
    return _deep_norm(weights, c, activation)


def _deep_norm(weights, c, activation, names=None):
    """deep_variation_norm of a list of arrays; `names` overrides ``weights[i]`` in errors."""
    factor = _activation_factor(activation)
    c = _check_scale(c) if activation == "bwrelu" else 1.0
    if isinstance(weights, (np.ndarray, str)) or not hasattr(weights, "__len__"):
        raise TypeError("weights must be a sequence of weight matrices or a torch nn.Module")
    if len(weights) < 2:
        raise ValueError(f"weights must hold at least 2 matrices; got {len(weights)}")
    mats = []
    for i, W in enumerate(weights):
        ndim = (1, 2) if i in (0, len(weights) - 1) else 2
        W = as_float_array(W, names[i] if names else f"weights[{i}]", ndim=ndim,
                           dtype=np.float64)
        mats.append(W[:, None] if (W.ndim == 1 and i == 0) else W)
    if mats[1].shape[-1] != mats[0].shape[0]:
        raise ValueError(f"{names[1] if names else 'weights[1]'} must have {mats[0].shape[0]} "
                         "columns (one per neuron); "
                         f"got shape {mats[1].shape}")
    col_norm = [np.abs(W) if W.ndim == 1 else np.linalg.norm(W, axis=0) for W in mats]
    total = float(np.dot(col_norm[1], np.linalg.norm(mats[0], axis=1)))
    for i in range(2, len(mats)):
        if mats[i].shape[-1] != mats[i - 1].shape[0]:
            raise ValueError(f"weights[{i}] must have {mats[i - 1].shape[0]} columns; "
                             f"got shape {mats[i].shape}")
        total += float(col_norm[i].sum())
    return factor * c * total
