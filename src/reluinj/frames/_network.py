"""Stacks of ReLU layers: layer-by-layer injectivity analysis and inversion.

A network is a list of stages ``h_{k+1} = ReLU(W_k h_k - alpha_k)`` (rows of each ``W_k`` are
frame vectors), optionally ending with a plain linear stage ``h_L = W_L h_{L-1} + b_L``. A
ReLU stage whose rows cannot span its input space (``m < n`` or rank < n) is kept and
reported as never injective: it is inverted by minimum-norm least squares and every sample
is flagged there.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .._lib.threads import effective_n_threads
from .._lib.validation import (
    as_bias,
    as_float_array,
    as_points,
    as_weights,
    check_bool,
    check_positive_float,
    check_rank_tol,
    frame_rank,
)
from .._lib.constants import DEFAULT_RANK_TOL
from ._layer import ReLULayer
from ._reconstruct import _relu_inverse, _stability

__all__ = ["ReLUNetwork", "NetworkStage", "LayerReport", "NetworkAnalysis",
           "NetworkInverseResult", "DEFAULT_ZERO_TOL"]

DEFAULT_ZERO_TOL = 1e-8
"""Relative threshold below which a reconstructed hidden activation counts as exactly 0.

A hidden activation rebuilt by the next layer's inverse carries rounding errors, so a neuron
that was off can come back as 1e-17 and would wrongly enter the active set. Entries with
``h_i <= DEFAULT_ZERO_TOL * max(1, max_j |h_j|)`` are set to 0 before inverting a ReLU stage.
"""


@dataclass(frozen=True)
class NetworkStage:
    """One stage of a :class:`ReLUNetwork`.

    Attributes
    ----------
    W : ndarray of shape (m, n)
        Weights (rows are frame vectors), float64.
    alpha : ndarray of shape (m,)
        Bias thresholds: the stage computes ``ReLU(W h - alpha)`` (or ``W h - alpha`` when
        `relu` is False, i.e. a linear stage with ``b = -alpha``).
    relu : bool
    is_frame : bool
        The rows of `W` span R^n (``m >= n`` and rank n); required for injectivity.
    """

    W: np.ndarray
    alpha: np.ndarray
    relu: bool
    is_frame: bool

    @property
    def shape(self):
        return self.W.shape


@dataclass(frozen=True)
class LayerReport:
    """What :meth:`ReLUNetwork.analyze` found for one stage, on the activations of the data.

    Attributes
    ----------
    index : int
    shape : tuple (m, n)
    relu : bool
    is_frame : bool
    injectivity_rate : float
        Fraction of the data at which the stage is injective (rank test).
    data_bias : ndarray of shape (m,) or None
        ``reluinj.data_bias(W, H).alpha`` for ReLU frame stages (None otherwise or when not
        requested).
    n_below_data_bias : int or None
        Number of neurons whose current bias is ``<=`` the data-driven bias.
    stability : float
        ``max 1 / sqrt(A_I)`` over the data (``1 / sigma_min(W)`` for a linear stage);
        ``inf`` if the stage is not injective somewhere.
    """

    index: int
    shape: tuple
    relu: bool
    is_frame: bool
    injectivity_rate: float
    data_bias: Optional[np.ndarray]
    n_below_data_bias: Optional[int]
    stability: float


@dataclass(frozen=True)
class NetworkAnalysis:
    """Per-stage reports of :meth:`ReLUNetwork.analyze`; ``summary()`` formats them."""

    layers: tuple
    n_samples: int

    def summary(self):
        """A readable fixed-width table, one line per stage."""
        head = (f"{'layer':>5} {'shape (m x n)':>14} {'kind':>6} {'frame':>5} "
                f"{'injective':>9} {'bias<=data':>11} {'stability':>10}")
        lines = [f"ReLUNetwork analysis on {self.n_samples} samples", head, "-" * len(head)]
        for r in self.layers:
            shape = f"{r.shape[0]} x {r.shape[1]}"
            kind = "relu" if r.relu else "linear"
            bias = ("-" if r.n_below_data_bias is None
                    else f"{r.n_below_data_bias}/{r.shape[0]}")
            lines.append(f"{r.index:>5} {shape:>14} {kind:>6} {'yes' if r.is_frame else 'NO':>5} "
                         f"{100 * r.injectivity_rate:>8.2f}% {bias:>11} {r.stability:>10.4g}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


@dataclass(frozen=True)
class NetworkInverseResult:
    """Result of :meth:`ReLUNetwork.inverse`.

    Attributes
    ----------
    x : ndarray of shape (B, n_in)
        Reconstructed network inputs (minimum-norm guesses where a stage failed).
    injective : ndarray of bool, shape (B, n_stages)
        Per sample and stage: the stage was inverted uniquely.
    failed_layer : ndarray of int64, shape (B,)
        The first stage (counting from the output, as inversion proceeds) that failed,
        -1 when every stage was inverted uniquely.
    """

    x: np.ndarray
    injective: np.ndarray
    failed_layer: np.ndarray

    @property
    def ok(self):
        """Samples inverted uniquely through every stage, shape (B,)."""
        return self.failed_layer < 0


def _is_frame(W):
    m, n = W.shape
    return m >= n and frame_rank(W) == n


class ReLUNetwork:
    """A feed-forward stack of ReLU layers ``h_{k+1} = ReLU(W_k h_k - alpha_k)``.

    Parameters
    ----------
    layers : sequence of ReLULayer
        The layers in forward order; ``layers[k].m`` must equal ``layers[k+1].n``.

    Attributes
    ----------
    stages : tuple of NetworkStage
        All stages in forward order (ReLU stages, and possibly a final linear one).

    See Also
    --------
    ReLUNetwork.from_affine : from ``(W, b)`` pairs in the convention ``ReLU(W h + b)``,
        admitting stages with ``m < n`` and a final linear stage.
    ReLUNetwork.from_torch : from an ``nn.Sequential`` of ``Linear`` / ``ReLU``.
    """

    def __init__(self, layers):
        layers = list(layers)
        for k, layer in enumerate(layers):
            if not isinstance(layer, ReLULayer):
                raise TypeError(f"layers[{k}] must be a ReLULayer; got {type(layer).__name__}")
        stages = [NetworkStage(np.asarray(layer.W, dtype=np.float64),
                               np.asarray(layer.alpha, dtype=np.float64), True, True)
                  for layer in layers]
        self._set_stages(stages)

    def _set_stages(self, stages):
        if not stages:
            raise ValueError("layers must contain at least one layer")
        for k in range(len(stages) - 1):
            if stages[k].W.shape[0] != stages[k + 1].W.shape[1]:
                raise ValueError(f"layer {k} has {stages[k].W.shape[0]} outputs but layer {k + 1} "
                                 f"expects {stages[k + 1].W.shape[1]} inputs")
        for k, st in enumerate(stages[:-1]):
            if not st.relu:
                raise ValueError(f"only the last stage may be linear; stage {k} is linear")
        self.stages = tuple(stages)

    @classmethod
    def from_affine(cls, params, *, final_linear=False):
        """Network from ``[(W1, b1), (W2, b2), ...]`` with stages ``ReLU(W h + b)``.

        Parameters
        ----------
        params : sequence of (W, b)
            ``W`` of shape (m, n) (rows are frame vectors), ``b`` scalar or shape (m,).
            ``alpha = -b``. Stages whose rows do not span (e.g. ``m < n``) are accepted and
            reported as never injective.
        final_linear : bool, default=False
            The last pair is a linear stage ``W h + b`` without ReLU (inverted by least
            squares when W has full column rank).
        """
        final_linear = check_bool(final_linear, "final_linear")
        params = list(params)
        stages = []
        for k, pair in enumerate(params):
            try:
                W, b = pair
            except (TypeError, ValueError):
                raise TypeError(f"params[{k}] must be a pair (W, b)") from None
            W = np.ascontiguousarray(as_weights(W, name=f"params[{k}] W", require_frame=False),
                                     dtype=np.float64)
            b = np.ascontiguousarray(as_bias(b, W.shape[0], name=f"params[{k}] b"), dtype=np.float64)
            relu = not (final_linear and k == len(params) - 1)
            stages.append(NetworkStage(W, -b, relu, bool(_is_frame(W))))
        net = cls.__new__(cls)
        net._set_stages(stages)
        return net

    @classmethod
    def from_torch(cls, module):
        """Network from a ``torch.nn.Sequential`` of ``Linear`` layers each followed by ``ReLU``.

        A final ``Linear`` without ReLU becomes a linear stage. Requires the optional
        ``torch`` extra; weights are copied to float64.
        """
        try:
            import torch
        except ImportError as err:  # pragma: no cover - exercised only without torch
            raise ImportError("ReLUNetwork.from_torch needs PyTorch: "
                              "pip install 'reluinj[torch]'") from err
        if not isinstance(module, torch.nn.Sequential):
            raise TypeError(f"module must be a torch.nn.Sequential; got {type(module).__name__}")
        mods = list(module)
        params = []
        k = 0
        while k < len(mods):
            lin = mods[k]
            if not isinstance(lin, torch.nn.Linear):
                raise TypeError(f"module[{k}] must be a torch.nn.Linear; got {type(lin).__name__} "
                                "(convolutional models: reluinj.ConvNetwork.from_torch)")
            W = lin.weight.detach().cpu().double().numpy()
            b = (lin.bias.detach().cpu().double().numpy() if lin.bias is not None
                 else np.zeros(W.shape[0]))
            has_relu = k + 1 < len(mods) and isinstance(mods[k + 1], torch.nn.ReLU)
            if not has_relu and k + 1 < len(mods):
                raise TypeError(f"module[{k + 1}] must be a torch.nn.ReLU; "
                                f"got {type(mods[k + 1]).__name__}")
            params.append((W, b))
            k += 2 if has_relu else 1
        last_is_linear = not isinstance(mods[-1], torch.nn.ReLU)
        return cls.from_affine(params, final_linear=last_is_linear)

    @property
    def n_in(self):
        """Input dimension."""
        return self.stages[0].W.shape[1]

    @property
    def n_out(self):
        """Output dimension."""
        return self.stages[-1].W.shape[0]

    def __len__(self):
        return len(self.stages)

    def __repr__(self):
        dims = " -> ".join([str(self.n_in)] + [str(s.W.shape[0]) + ("" if s.relu else " (linear)")
                                               for s in self.stages])
        return f"ReLUNetwork({dims})"

    def activations(self, X):
        """Inputs of every stage and the output: ``[X, h_1, ..., h_L]``, each (k, width)."""
        X2, _ = as_points(X, self.n_in)
        hs = [np.asarray(X2, dtype=np.float64)]
        for st in self.stages:
            z = hs[-1] @ st.W.T - st.alpha
            hs.append(np.maximum(z, 0.0) if st.relu else z)
        return hs

    def __call__(self, X):
        """Forward pass; X of shape (n_in,) or (k, n_in) → output (n_out,) or (k, n_out)."""
        X2, was_1d = as_points(X, self.n_in)
        out = self.activations(X2)[-1]
        return out[0] if was_1d else out

    def analyze(self, X, *, with_data_bias=True, rank_tol=DEFAULT_RANK_TOL, n_threads=None):
        """Injectivity of every stage on the activations that the data X produces there.

        Parameters
        ----------
        X : array_like of shape (k, n_in)
            Network inputs (e.g. the training set).
        with_data_bias : bool, default=True
            Compute the data-driven bias ``reluinj.data_bias`` of each ReLU frame stage on
            its input activations, and count the neurons whose bias is already below it.
        rank_tol : float, default=1e-10
            Rank-test tolerance in (0, 1) (:data:`reluinj.DEFAULT_RANK_TOL`).
        n_threads : int or None, default=None
            See :func:`reluinj.effective_n_threads`.

        Returns
        -------
        analysis : NetworkAnalysis
            ``analysis.layers[k]`` is a :class:`LayerReport`; ``analysis.summary()`` is a table.
        """
        with_data_bias = check_bool(with_data_bias, "with_data_bias")
        X2, _ = as_points(X, self.n_in)
        if X2.shape[0] == 0:
            raise ValueError("X must contain at least one point")
        rank_tol = check_rank_tol(rank_tol)
        nt = effective_n_threads(n_threads)
        hs = self.activations(X2)
        reports = []
        for k, st in enumerate(self.stages):
            H = hs[k]
            dbias = n_below = None
            if not st.relu:
                rate = 1.0 if st.is_frame else 0.0
                sv = np.linalg.svd(st.W, compute_uv=False)
                stab = 1.0 / sv[-1] if st.is_frame else np.inf
            elif not st.is_frame:
                rate, stab = 0.0, np.inf
            else:
                layer = ReLULayer(st.W, st.alpha)
                rate = layer.injectivity_rate(H, rank_tol=rank_tol, n_threads=nt)
                stab = _stability(st.W, st.alpha, H, rank_tol=rank_tol, n_threads=nt).constant
                if with_data_bias:
                    from ._sampled import data_bias

                    dbias = np.asarray(data_bias(st.W, H, n_threads=nt).alpha)
                    n_below = int(np.count_nonzero(st.alpha <= dbias))
            reports.append(LayerReport(k, st.W.shape, st.relu, st.is_frame, float(rate), dbias,
                                       n_below, float(stab)))
        return NetworkAnalysis(tuple(reports), X2.shape[0])

    def inverse(self, Y, *, rank_tol=DEFAULT_RANK_TOL, zero_tol=DEFAULT_ZERO_TOL, n_threads=None):
        """Reconstruct network inputs from outputs, stage by stage from the last one.

        ReLU stages use :func:`reluinj.relu_inverse` (``method="dual"``); a final linear stage
        uses least squares (unique when W has full column rank). Reconstructed hidden
        activations are cleaned with `zero_tol` (see :data:`DEFAULT_ZERO_TOL`) and clipped at
        0 before the previous stage is inverted.

        Parameters
        ----------
        Y : array_like of shape (n_out,) or (B, n_out)
            Network outputs (non-negative when the last stage is a ReLU).
        rank_tol : float, default=1e-10
            Rank-test tolerance of the ReLU stages (see :func:`reluinj.relu_inverse`).
        zero_tol : float, default=1e-8
            Relative threshold under which a reconstructed activation is set to 0.
        n_threads : int or None, default=None
            See :func:`reluinj.effective_n_threads`.

        Returns
        -------
        result : NetworkInverseResult
            ``result.x`` of shape (B, n_in), ``result.injective`` (B, n_stages),
            ``result.failed_layer`` (B,), ``result.ok`` (B,).
        """
        zero_tol = check_positive_float(zero_tol, "zero_tol", allow_zero=True)
        Y2 = as_float_array(Y, "Y", ndim=(1, 2), allow_empty=True)
        was_1d = Y2.ndim == 1
        h = np.atleast_2d(Y2).astype(np.float64, copy=False)
        if h.shape[1] != self.n_out:
            raise ValueError(f"Y must have {self.n_out} columns (network outputs); "
                             f"got shape {Y2.shape}")
        B, L = h.shape[0], len(self.stages)
        injective = np.zeros((B, L), dtype=bool)
        failed = np.full(B, -1, dtype=np.int64)
        for k in range(L - 1, -1, -1):
            st = self.stages[k]
            if st.relu:
                if k < L - 1:
                    scale = np.maximum(1.0, np.abs(h).max(axis=1, initial=0.0, keepdims=True))
                    h = np.where(h > zero_tol * scale, h, 0.0)
                res = _relu_inverse(st.W, st.alpha, h, method="dual", options=None,
                                    rank_tol=rank_tol, n_threads=n_threads,
                                    require_frame=False)
                inj, h = res.injective, res.x
            else:
                h = np.linalg.lstsq(st.W, (h + st.alpha).T, rcond=None)[0].T
                inj = np.full(B, st.is_frame)
            injective[:, k] = inj
            failed[(failed < 0) & ~inj] = k
        x = h[0] if was_1d else h
        return NetworkInverseResult(x=x, injective=injective[0] if was_1d else injective,
                                    failed_layer=failed[0] if was_1d else failed)
