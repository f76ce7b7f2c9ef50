"""Convolutional ReLU networks from PyTorch: forward, per-stage analysis on data, inversion.

A :class:`ConvNetwork` is a list of stages built from the modules of a ``torch.nn.Sequential``
(or a plain list of modules):

- **affine** stages ``h -> W h + b`` (optionally followed by ReLU): ``Conv1d``/``Conv2d`` as a
  :class:`ConvOperator`/:class:`ConvOperator2D` (rows = every filter at every shift),
  ``Linear`` as a dense matrix, ``AvgPool1d/2d`` as a depthwise convolution with constant
  filters; an eval-mode ``BatchNorm`` right after an affine layer is folded into it;
- **max-pool** stages (``MaxPool1d``/``MaxPool2d``), which record their switches;
- **flatten** stages; ``Identity`` modules are dropped.

The analysis works on the activations the data produces. At an input ``h`` the ReLU stage
keeps the rows ``I = {r : (W h + b)_r > 0}``; it is injective there iff ``W_I`` has full
column rank, and its stability constant is ``1 / sigma_min(W_I)``. A max-pool stage after a
convolution keeps, of the convolution's outputs, only the entries at its switches; the
inversion of the convolution then uses the active rows at the switches.
"""
import numbers
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.threads import effective_n_threads
from .._lib.validation import (as_float_array, check_bool, check_method_options,
                               check_positive_float, check_positive_int, check_rank_tol,
                               check_rng)
from ._operators import ConvOperator, ConvOperator2D

__all__ = ["ConvNetwork", "ConvNetworkStage", "StageReport", "ConvNetworkAnalysis",
           "ConvNetworkInverseResult", "DENSE_RANK_LIMIT"]

DENSE_RANK_LIMIT = 4096
"""Largest stage input size for which the rank test is exact with a dense active Gram matrix.

Above it the test stays exact where the active Gram matrix is a band that fits in memory (a
convolution: only neighbouring shifts interact; a band of at most 2**24 entries, e.g. 16
channels of 28x28); otherwise the report gives a matrix-free estimate of ``sigma_min`` (LOBPCG
on ``W_I^T W_I`` applied through the convolution kernels) and the inverse a batched CGLS,
marked ``exact=False``.
"""

_GRAM_ENTRY_LIMIT = 1 << 24   # stored entries of an active Gram (band or dense): 128 MiB

_ZERO_TOL = 1e-8





def _rowwise_matmul(h, M):
    """``h @ M`` for h of shape (B, n), computed so that each row is batch-independent.

    A BLAS ``gemm`` rounds a row differently depending on the number of rows of the call
    (OpenBLAS: the tail rows of its micro-kernel, ``gemv`` for one row) and, on AVX-512 CPUs,
    even on the other rows of the block (seen with OpenBLAS 0.3 on Zen 4: a padded 64-row block
    gave other last bits than the same rows among real ones), so ``(h @ M)[b]`` could change with
    B and a chunked (Dask) run would differ from the local one. Here each row is its own BLAS
    call (``gemv``), so its rounding depends on that row and the stage only (checked by
    tests/test_distributed_cnn.py). Cost: memory-bound gemv instead of one gemm.
    """
    h = np.ascontiguousarray(h, dtype=np.float64)
    B = h.shape[0]
    out = np.empty((B, M.shape[1]))
    for b in range(B):
        np.dot(h[b], M, out=out[b])
    return out


@dataclass(frozen=True)
class ConvNetworkStage:
    """One stage of a :class:`ConvNetwork`.

    Attributes
    ----------
    index : int
    kind : {"conv", "dense", "avgpool", "maxpool", "flatten"}
    modules : tuple of int
        Indices of the torch modules folded into this stage.
    in_shape, out_shape : tuple of int
        Shape of one input / output sample (channels first).
    relu : bool
        The stage ends with a ReLU (affine stages only).
    op : ConvOperator, ConvOperator2D, ndarray of shape (m, n) or None
        The linear part (float64) of an affine stage.
    bias : ndarray of shape (m,) or None
        Bias of an affine stage, flattened like the outputs.
    pool : dict or None
        ``kernel``, ``stride``, ``padding`` (per spatial axis) of a max-pool stage.
    """

    index: int
    kind: str
    modules: tuple
    in_shape: tuple
    out_shape: tuple
    relu: bool = False
    op: object = None
    bias: Optional[np.ndarray] = None
    pool: Optional[dict] = None

    @property
    def affine(self):
        return self.kind in ("conv", "dense", "avgpool")

    @property
    def n_in(self):
        return int(np.prod(self.in_shape))

    @property
    def n_out(self):
        return int(np.prod(self.out_shape))

    def linear(self, h):
        """``W h`` for a batch ``h`` of shape (B, n_in); returns (B, n_out).

        Row ``b`` of the result depends only on row ``b`` of `h`, bitwise, whatever B (dense
        stages: see :func:`_rowwise_matmul`), so chunking the samples changes no result.
        """
        if self.kind == "dense":
            return _rowwise_matmul(h, self.op.T)
        return self.op.forward(h.reshape((-1,) + self.in_shape)).reshape(h.shape[0], -1)

    def linear_t(self, z):
        """``W^T z`` for a batch ``z`` of shape (B, n_out); returns (B, n_in), row-wise as
        :meth:`linear`."""
        if self.kind == "dense":
            return _rowwise_matmul(z, self.op)
        return self.op.adjoint(z.reshape((-1,) + self.out_shape)).reshape(z.shape[0], -1)

    def sparse(self):
        """The matrix of the linear part as scipy.sparse CSR (dense stages: from the array)."""
        if self.kind == "dense":
            return scipy.sparse.csr_matrix(self.op)
        return self.op.tosparse("csr")


# -- building from torch ---------------------------------------------------------------------

def _np64(t, what):
    a = t.detach().cpu().double().numpy().copy()
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or inf")
    return a


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _build_stages(modules, input_shape):
    import torch
    nn = torch.nn
    shape = tuple(int(s) for s in input_shape)
    stages = []
    pending = None  # the affine stage being assembled: dict

    def close():
        nonlocal pending
        if pending is not None:
            b = pending["b"]
            full = b if pending["kind"] == "dense" else np.repeat(
                b, int(np.prod(pending["out"][1:])))
            stages.append(ConvNetworkStage(len(stages), pending["kind"], tuple(pending["mods"]),
                                           pending["in"], pending["out"], pending["relu"],
                                           pending["op"], np.ascontiguousarray(full)))
            pending = None

    for idx, mod in enumerate(modules):
        name = f"module[{idx}] ({type(mod).__name__})"
        if isinstance(mod, nn.Identity):
            continue
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            close()
            nd = 1 if isinstance(mod, nn.Conv1d) else 2
            if len(shape) != nd + 1 or shape[0] != mod.in_channels:
                raise ValueError(f"{name} expects inputs of shape (C={mod.in_channels}, "
                                 f"{nd} spatial sizes); the activations there have shape {shape}")
            if mod.padding_mode != "zeros":
                raise ValueError(f"{name}: padding_mode={mod.padding_mode!r} is not supported "
                                 "(only zero padding)")
            w = _np64(mod.weight, f"{name} weight")
            b = (np.zeros(mod.out_channels) if mod.bias is None
                 else _np64(mod.bias, f"{name} bias"))
            cls = ConvOperator if nd == 1 else ConvOperator2D
            pad = mod.padding if isinstance(mod.padding, str) else (
                mod.padding[0] if nd == 1 else mod.padding)
            try:
                op = cls(w, shape[1] if nd == 1 else shape[1:], mod.stride[0] if nd == 1
                         else mod.stride, padding=pad, dilation=mod.dilation[0] if nd == 1
                         else mod.dilation, groups=mod.groups, bias=b, allow_truncation=True)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name} on inputs of shape {shape}: {err}") from None
            out = tuple(op.dimsd)
            pending = dict(kind="conv", mods=[idx], op=op, w=w, b=b, nd=nd, relu=False,
                           **{"in": shape, "out": out})
            shape = out
        elif isinstance(mod, nn.Linear):
            close()
            if len(shape) != 1 or shape[0] != mod.in_features:
                raise ValueError(f"{name} expects flat inputs of {mod.in_features} features; "
                                 f"the activations there have shape {shape} (add nn.Flatten)")
            W = _np64(mod.weight, f"{name} weight")
            b = (np.zeros(mod.out_features) if mod.bias is None
                 else _np64(mod.bias, f"{name} bias"))
            pending = dict(kind="dense", mods=[idx], op=W, w=W, b=b, relu=False,
                           **{"in": shape, "out": (mod.out_features,)})
            shape = (mod.out_features,)
        elif isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d)):
            close()
            nd = 1 if isinstance(mod, nn.AvgPool1d) else 2
            if len(shape) != nd + 1:
                raise ValueError(f"{name} expects inputs with {nd} spatial axes; got shape {shape}")
            k = _tuple(mod.kernel_size, nd)
            s = _tuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
            p = _tuple(mod.padding, nd)
            if mod.ceil_mode:
                raise ValueError(f"{name}: ceil_mode=True is not supported")
            if any(p) and not mod.count_include_pad:
                raise ValueError(f"{name}: count_include_pad=False with padding is not linear "
                                 "in the form of a convolution; not supported")
            if nd == 2 and getattr(mod, "divisor_override", None):
                raise ValueError(f"{name}: divisor_override is not supported")
            C = shape[0]
            w = np.full((C, 1) + k, 1.0 / np.prod(k))
            cls = ConvOperator if nd == 1 else ConvOperator2D
            op = cls(w, shape[1] if nd == 1 else shape[1:],
                     s[0] if nd == 1 else s, padding=p[0] if nd == 1 else p, groups=C,
                     allow_truncation=True)
            out = tuple(op.dimsd)
            stages.append(ConvNetworkStage(len(stages), "avgpool", (idx,), shape, out, False,
                                           op, np.zeros(int(np.prod(out)))))
            shape = out
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if pending is None or pending["relu"]:
                raise TypeError(f"{name} must directly follow a Conv or Linear layer to be "
                                "folded into it")
            if mod.training:
                raise ValueError(f"{name} is in training mode; call model.eval() so that its "
                                 "running statistics are used (they are folded into the "
                                 "preceding layer)")
            if mod.running_mean is None:
                raise ValueError(f"{name} has no running statistics "
                                 "(track_running_stats=False); cannot be folded")
            C = pending["out"][0]
            if mod.num_features != C:
                raise ValueError(f"{name} has {mod.num_features} features but the layer before "
                                 f"it has {C} output channels")
            mean = _np64(mod.running_mean, f"{name} running_mean")
            var = _np64(mod.running_var, f"{name} running_var")
            gamma = (_np64(mod.weight, f"{name} weight") if mod.weight is not None
                     else np.ones(C))
            beta = _np64(mod.bias, f"{name} bias") if mod.bias is not None else np.zeros(C)
            scale = gamma / np.sqrt(var + mod.eps)
            w = pending["w"] * scale.reshape((-1,) + (1,) * (pending["w"].ndim - 1))
            b = (pending["b"] - mean) * scale + beta
            pending["w"], pending["b"] = w, b
            if pending["kind"] == "dense":
                pending["op"] = w
            else:
                old = pending["op"]
                cls = ConvOperator if pending["nd"] == 1 else ConvOperator2D
                op = cls(w, old.dims[1] if pending["nd"] == 1 else old.dims[1:], old.stride,
                         padding=old.padding, dilation=old.dilation, groups=old.groups,
                         bias=b, allow_truncation=True)
                pending["op"] = op
            pending["mods"].append(idx)
        elif isinstance(mod, nn.ReLU):
            if (pending is None and len(stages) >= 2 and stages[-1].kind == "maxpool"
                    and stages[-2].affine and not stages[-2].relu):
                # Conv -> MaxPool -> ReLU: max pooling and ReLU commute (both monotone), so
                # the ReLU moves before the pooling
                stages[-2] = replace(stages[-2], relu=True, modules=stages[-2].modules + (idx,))
                continue
            if pending is None or pending["relu"]:
                raise TypeError(f"{name} must follow a Conv, Linear or BatchNorm layer "
                                "(one ReLU per affine layer)")
            pending["relu"] = True
            pending["mods"].append(idx)
        elif isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d)):
            close()
            nd = 1 if isinstance(mod, nn.MaxPool1d) else 2
            if len(shape) != nd + 1:
                raise ValueError(f"{name} expects inputs with {nd} spatial axes; got shape {shape}")
            k = _tuple(mod.kernel_size, nd)
            s = _tuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
            p = _tuple(mod.padding, nd)
            if any(d != 1 for d in _tuple(mod.dilation, nd)) or mod.ceil_mode:
                raise ValueError(f"{name}: dilation != 1 and ceil_mode=True are not supported")
            if any(2 * pp > kk for pp, kk in zip(p, k)):
                raise ValueError(f"{name}: padding must be at most half the kernel size")
            out_sp = tuple((n + 2 * pp - kk) // ss + 1
                           for n, kk, ss, pp in zip(shape[1:], k, s, p))
            if any(o < 1 for o in out_sp):
                raise ValueError(f"{name}: input of shape {shape} is smaller than the window")
            out = (shape[0],) + out_sp
            stages.append(ConvNetworkStage(len(stages), "maxpool", (idx,), shape, out,
                                           pool=dict(kernel=k, stride=s, padding=p)))
            shape = out
        elif isinstance(mod, nn.Flatten):
            close()
            if mod.start_dim != 1 or mod.end_dim != -1:
                raise ValueError(f"{name}: only Flatten(start_dim=1, end_dim=-1) is supported")
            out = (int(np.prod(shape)),)
            stages.append(ConvNetworkStage(len(stages), "flatten", (idx,), shape, out))
            shape = out
        else:
            raise TypeError(f"{name} is not supported; supported modules: Conv1d, Conv2d, "
                            "Linear, ReLU, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, Flatten, "
                            "Identity, eval-mode BatchNorm1d/BatchNorm2d")
    close()
    if not stages:
        raise ValueError("the model has no layers")
    # freeze the op references of folded stages
    return tuple(stages)


# -- max pooling ---------------------------------------------------------------------------

def _maxpool(h, st):
    """Max pooling of h (B, *in_shape): values (B, *out_shape) and switches (flat input index
    within each channel plane, as torch's ``return_indices``)."""
    k, s, p = st.pool["kernel"], st.pool["stride"], st.pool["padding"]
    x = h.reshape((-1,) + st.in_shape)
    if len(k) == 1:
        x, k, s, p = x[:, :, None, :], (1,) + k, (1,) + s, (0,) + p
    B, C, H, W = x.shape
    xp = np.full((B, C, H + 2 * p[0], W + 2 * p[1]), -np.inf)
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]
    OH, OW = st.out_shape[-2] if len(st.out_shape) == 3 else 1, st.out_shape[-1]
    win = win[:, :, :OH, :OW].reshape(B, C, OH, OW, -1)
    arg = win.argmax(axis=-1)
    vals = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    oy = np.arange(OH)[:, None] * s[0] - p[0] + arg // k[1]
    ox = np.arange(OW)[None, :] * s[1] - p[1] + arg % k[1]
    switches = oy * W + ox
    return vals.reshape(B, -1), switches.reshape(B, -1)


def _unpool(vals, switches, st):
    """Entries of the pool input known from the pooled values: (values, known mask)."""
    B = vals.shape[0]
    C = st.in_shape[0]
    plane = int(np.prod(st.in_shape[1:]))
    per = vals.shape[1] // C
    h = np.zeros((B, C, plane))
    known = np.zeros((B, C, plane), dtype=bool)
    v = vals.reshape(B, C, per)
    sw = switches.reshape(B, C, per)
    bi, ci = np.meshgrid(np.arange(B), np.arange(C), indexing="ij")
    for j in range(per):
        h[bi, ci, sw[:, :, j]] = v[:, :, j]
        known[bi, ci, sw[:, :, j]] = True
    return h.reshape(B, -1), known.reshape(B, -1)


# -- rank test -----------------------------------------------------------------------------

class _GramPlan:
    """Assembles and factors the active Gram matrix ``G = A_I^T A_I`` of a fixed sparse ``A``
    for many row subsets ``I`` (one per sample), without forming the dense rows.

    Built once per stage. Rows with the same column pattern (for a convolution: every filter
    at one shift) form a group; per sample the groups' Grams ``V_g^T D_g V_g`` (``D_g`` the
    active rows of the group) come from one batched matmul and are scattered into ``G`` by one
    ``bincount``. ``G`` is stored in the candidate column ordering with the smallest bandwidth
    (for a convolution, spatial-major: only neighbouring shifts interact), as a band (LAPACK
    ``pbtrf``/``tbtrs``) when the bandwidth is below n/3, dense otherwise (a dense stage).
    """

    _CHUNK = 1 << 22                             # group-Gram entries per batched matmul

    def __init__(self, A, orders=()):
        A = scipy.sparse.csr_matrix(A, dtype=np.float64, copy=True)
        A.sum_duplicates()
        A.sort_indices()
        m, n = A.shape
        self.n = n
        lengths = np.diff(A.indptr)
        k = max(int(lengths.max(initial=0)), 1)
        row_of = np.repeat(np.arange(m), lengths)
        pos = np.arange(A.nnz) - np.repeat(A.indptr[:-1], lengths)
        P = np.full((m, k), n, dtype=np.int64)   # column n: padding (dropped at the end)
        P[row_of, pos] = A.indices
        vals = np.zeros((m, k))
        vals[row_of, pos] = A.data
        ids = {}                                 # column pattern -> group (exact, by bytes)
        group = np.fromiter((ids.setdefault(row.tobytes(), len(ids)) for row in P),
                            dtype=np.int64, count=m)
        first = np.full(len(ids), -1, dtype=np.int64)
        first[group[::-1]] = np.arange(m)[::-1]
        pats = P[first]
        ng = pats.shape[0]
        counts = np.bincount(group, minlength=ng)
        order = np.argsort(group, kind="stable")
        slot = np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)
        self.members = np.full((ng, int(counts.max())), m, dtype=np.int64)  # m: padding row
        self.members[group[order], slot] = order
        self.V = np.zeros((ng,) + self.members.shape[1:] + (k,))
        self.V[group[order], slot] = vals[order]
        # ordering: the one of the candidates (the given order; `orders`, e.g. spatial-major
        # for a convolution) with the smallest bandwidth over the group patterns
        best = None
        for perm in [np.arange(n)] + [np.asarray(o, dtype=np.int64) for o in orders]:
            iperm = np.empty(n + 1, dtype=np.int64)
            iperm[perm] = np.arange(n)
            iperm[n] = -1
            Q = iperm[pats]                      # permuted pattern, -1 for padding
            spread = np.max(np.where(Q >= 0, Q, -1), axis=1) - np.min(np.where(Q >= 0, Q, n),
                                                                      axis=1)
            bw = int(np.max(spread, initial=0))  # G[i, j] != 0 only within one pattern
            if best is None or bw < best[0]:
                best = (bw, perm, Q)
        bw, self.perm, Q = best
        self.banded = bw < n / 3
        self.bw = bw
        self.size = (bw + 1) * n if self.banded else n * n
        # exact (factorable) when the Gram and the stack of group Grams fit the entry budget
        self.feasible = (self.size <= _GRAM_ENTRY_LIMIT and ng * k * k <= 2 * _GRAM_ENTRY_LIMIT
                         and (n <= DENSE_RANK_LIMIT or self.banded))
        if not self.feasible:
            return
        # each group's pattern sorted by permuted index (padding last, V's columns alike): its
        # pairs in the lower triangle of the permuted G are then the pairs ti >= tj of
        # tril_indices(k) with ti inside the pattern. Flat targets in the lower band storage
        # ab[i - j, j] (shape (bw+1, n)) or in the dense G[i, j]; sources in the (ng, k, k)
        # stack of group Grams
        srt = np.argsort(np.where(Q >= 0, Q, n + 1), axis=1, kind="stable")
        Q = np.take_along_axis(Q, srt, axis=1)
        self.V = np.take_along_axis(self.V, srt[:, None, :], axis=2)
        length = np.count_nonzero(Q >= 0, axis=1)
        ti, tj = np.tril_indices(k)
        itype = np.int32 if max(self.size, ng * k * k) < 2 ** 31 else np.int64
        target, source = [], []
        step = max(1, (1 << 22) // ti.size)
        for g0 in range(0, ng, step):
            Qc = Q[g0:g0 + step]
            keep = ti[None, :] < length[g0:g0 + step, None]
            di, dj = Qc[:, ti][keep], Qc[:, tj][keep]
            target.append(((di - dj) * n + dj if self.banded else di * n + dj).astype(itype))
            g = np.arange(g0, g0 + Qc.shape[0])[:, None]
            source.append((((g * k + ti) * k + tj)[keep]).astype(itype))
        self.target = np.concatenate(target)
        self.source = np.concatenate(source)
        self.absA = abs(A)
        self.rowsum = np.asarray(self.absA.sum(axis=1)).ravel()

    def factor(self, rows, rank_tol=0.0):
        """The Cholesky factor of ``G - tau I`` for the active rows `rows` (bool, shape (m,)) as
        a :class:`_ShiftedFactor`, or None when the factorisation breaks down.

        ``tau = max(1e-9 g, 2 rank_tol^2 g, 2 e)`` with ``g = ||A_I^T||_inf ||A_I||_inf >=
        ||G||_inf >= lambda_max`` and ``e = (2w + 1)(w + 2) eps max_i G_ii`` the backward
        error bound of Cholesky on a band of half-width ``w`` (``|dG| <= gamma_{w+2} |L||L^T|``,
        ``(|L||L^T|)_ij <= (G_ii G_jj)^{1/2}``). A factor that exists therefore proves
        ``lambda_min(G) >= tau - e >= tau / 2``: full column rank, with
        ``sigma_min > rank_tol sigma_max``.
        """
        act = np.append(np.asarray(rows, dtype=np.float64), 0.0)[self.members]
        ng, _, k = self.V.shape
        B = np.empty((ng, k, k))
        step = max(1, self._CHUNK // (k * k))
        for g0 in range(0, ng, step):
            Vg = self.V[g0:g0 + step] * act[g0:g0 + step, :, None]
            np.matmul(Vg.transpose(0, 2, 1), Vg, out=B[g0:g0 + step])
        # ||G||_inf = ||A_I^T A_I||_inf <= ||A_I^T||_inf ||A_I||_inf
        mask = np.asarray(rows, dtype=np.float64)
        g = float((self.absA.T @ mask).max(initial=0.0)) * float(
            (self.rowsum * mask).max(initial=0.0))
        if not (g > 0 and np.isfinite(g)):
            return None
        G = np.bincount(self.target, weights=B.ravel()[self.source], minlength=self.size)
        n = self.n
        G = G.reshape(self.bw + 1, n) if self.banded else G.reshape(n, n)
        diag = G[0] if self.banded else np.diagonal(G)
        w = self.bw if self.banded else n - 1
        err = (2 * w + 1) * (w + 2) * np.finfo(np.float64).eps * float(diag.max())
        tau = max(1e-9 * g, 2.0 * rank_tol ** 2 * g, 2.0 * err)
        if self.banded:
            G[0] -= tau
            c, info = _lapack("dpbtrf")(G, lower=1, overwrite_ab=1)
        else:
            G[np.diag_indices(n)] -= tau
            c, info = _lapack("dpotrf")(G, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            return None
        return _ShiftedFactor(c, tau, self.banded, self.perm)


def _lapack(name):
    import scipy.linalg.lapack

    return getattr(scipy.linalg.lapack, name)


def _gram_plan(st, A):
    """The :class:`_GramPlan` of stage `st` (matrix A), offered the spatial-major ordering of
    its input (channel fastest) besides the given channel-major one; None where the exact
    path is out of reach (a dense Gram above DENSE_RANK_LIMIT, or more than the entry budget)."""
    if st.kind == "dense" and st.n_in > DENSE_RANK_LIMIT:
        return None
    c = st.in_shape[0]
    plan = _GramPlan(A, orders=[np.arange(st.n_in).reshape(c, -1).T.ravel()]
                     if len(st.in_shape) > 1 else [])
    return plan if plan.feasible else None


class _ShiftedFactor:
    """``P (G - tau I) P^T = L L^T`` (band or dense lower factor) with its solves."""

    def __init__(self, L, tau, banded, perm):
        self.L, self.tau, self.banded, self.perm = L, tau, banded, perm

    def _tri(self, v, trans):
        import scipy.linalg

        if self.banded:
            return _lapack("dtbtrs")(self.L, v[:, None], uplo="L", trans=trans)[0][:, 0]
        return scipy.linalg.solve_triangular(self.L, v, lower=True, trans=trans,
                                             check_finite=False)

    def solve(self, v):
        """``P^T (L L^T)^{-1} P v`` = ``(G - tau I)^{-1} v`` in the original ordering."""
        out = np.empty_like(v)
        out[self.perm] = self._tri(self._tri(v[self.perm], "N"), "T")
        return out

    def lambda_min(self, seed=0, max_iter=300):
        """``lambda_min(G) = tau + 1 / lambda_max((G - tau I)^{-1})``, the latter by Lanczos with
        full reorthogonalisation from a seeded random start, stopped when the error bound of
        the top Ritz value (residual squared over the Ritz gap) is below 1e-15 of it; None when `max_iter` steps do not reach that
        bound (the caller then falls back to a dense eigensolver rather than report an
        over-estimate)."""
        n = self.L.shape[1]
        k_max = min(n, max_iter)
        Q = np.zeros((k_max + 1, n))
        q = np.random.default_rng(seed).standard_normal(n)
        Q[0] = q / np.linalg.norm(q)
        a, b = [], []
        for k in range(k_max):
            w = self.solve(Q[k])
            a.append(Q[k] @ w)
            w -= Q[:k + 1].T @ (Q[:k + 1] @ w)  # full reorthogonalisation, twice
            w -= Q[:k + 1].T @ (Q[:k + 1] @ w)
            beta = float(np.linalg.norm(w))
            ev, vec = np.linalg.eigh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))
            theta = float(ev[-1])
            res = beta * abs(vec[-1, -1])        # ||M y - theta y|| of the top Ritz pair
            gap = theta - float(ev[-2]) if k > 0 else 0.0
            # |lambda_max(M) - theta| <= res^2 / gap (Kato-Temple; the gap to the rest of the
            # spectrum is estimated by the second Ritz value, hence also res <= 1e-7 theta);
            # or the residual alone at 1e-14
            if beta == 0.0 or res <= 1e-14 * theta or (
                    res <= 1e-7 * theta and gap > 0 and res * res <= 1e-15 * theta * gap):
                return self.tau + 1.0 / theta
            b.append(beta)
            Q[k + 1] = w / beta
        return None

    def lstsq(self, AI, y, max_iter=200):
        """``argmin_x ||A_I x - y||`` by CGLS on ``A_I C^{-T}`` (``C = P^T L``, ``C C^T = G - tau
        I``): its singular values lie in ``[1, (1 + tau / (lambda_min - tau))^{1/2}]``, so a few
        iterations reach rounding level with the accuracy of an orthogonal method (no squared
        condition number). None when `max_iter` iterations do not converge."""
        perm = self.perm

        def Kt(r):                               # C^{-1} A_I^T r (permuted ordering)
            return self._tri((AI.T @ r)[perm], "N")

        def K(z):                                # A_I C^{-T} z
            u = np.empty_like(z)
            u[perm] = self._tri(z, "T")
            return AI @ u
        z = np.zeros(self.L.shape[1])
        r = np.array(y, dtype=np.float64)
        s = Kt(r)
        p = s.copy()
        gamma = s @ s
        stop = 1e-15 * np.sqrt(gamma)
        for _ in range(max_iter):
            if np.sqrt(gamma) <= stop or gamma == 0.0:
                x = np.empty_like(z)
                x[perm] = self._tri(z, "T")
                return x
            q = K(p)
            alpha = gamma / (q @ q)
            z += alpha * p
            r -= alpha * q
            s = Kt(r)
            gamma_new = s @ s
            p = s + (gamma_new / gamma) * p
            gamma = gamma_new
        return None


def _rank_test(A, rows, rank_tol, *, st=None, plan=None, seed=0):
    """(injective, sigma_min, exact) of the rows `rows` (bool mask) of the sparse matrix A.

    Exact path (a feasible `plan`, a :class:`_GramPlan` of A; built here when not given and
    ``n <= DENSE_RANK_LIMIT``): the plan assembles the active Gram matrix ``A_I^T A_I``; a
    Cholesky factorisation of ``G - tau I`` (:meth:`_GramPlan.factor`, ``tau ~ 1e-9 ||G||``) that exists proves full
    column rank with ``sigma_min > rank_tol sigma_max``, and Lanczos on its inverse gives
    ``sigma_min`` (relative accuracy ~ ``eps (sigma_max / sigma_min)^2``, the Gram's); where it
    breaks down (``sigma_min / sigma_max`` below ~3e-5) the SVD of the active rows decides
    (``sigma_min > rank_tol * sigma_max``) and gives sigma_min.
    """
    n = A.shape[1]
    nI = int(rows.sum())
    if plan is None and n <= DENSE_RANK_LIMIT:
        plan = _GramPlan(A)
        plan = plan if plan.feasible else None
    if nI < n:
        return False, 0.0, True
    if plan is not None:
        fac = plan.factor(rows, rank_tol)
        lam = fac.lambda_min(seed) if fac is not None else None
        if lam is not None:
            return True, float(np.sqrt(lam)), True
        if n <= DENSE_RANK_LIMIT:
            sv = np.linalg.svd(A[np.flatnonzero(rows)].toarray(), compute_uv=False)
            ok = bool(sv[0] > 0 and sv[-1] > rank_tol * sv[0])
            return ok, float(sv[-1]) if ok else 0.0, True
        # a band past DENSE_RANK_LIMIT whose factor breaks down: the dense SVD is out of
        # reach (minutes and GBs), so the matrix-free estimate below decides
    # matrix-free estimate: smallest eigenvalue of W_I^T W_I through the stage's kernels
    mask = rows.astype(np.float64)

    def gram(V):
        V = np.atleast_2d(V.T).reshape(-1, n) if V.ndim == 2 else V.reshape(1, n)
        out = st.linear_t(st.linear(V) * mask)
        return out.T
    op = scipy.sparse.linalg.LinearOperator((n, n), matvec=lambda v: gram(v[:, None])[:, 0],
                                            matmat=gram, dtype=np.float64)
    X0 = np.random.default_rng(seed).standard_normal((n, 4))
    lam_lo = scipy.sparse.linalg.lobpcg(op, X0, largest=False, maxiter=200, tol=1e-6)[0]
    lam_hi = scipy.sparse.linalg.lobpcg(op, X0, largest=True, maxiter=50, tol=1e-6)[0]
    smin = float(np.sqrt(max(float(np.min(lam_lo)), 0.0)))
    smax = float(np.sqrt(max(float(np.max(lam_hi)), 0.0)))
    # an estimate: the iteration's accuracy (tol 1e-6 on eigenvalues) bounds what it can see
    return bool(smax > 0 and smin > 1e-3 * smax), smin, False


# -- results -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageReport:
    """What :meth:`ConvNetwork.analyze` found for one stage on the data.

    Attributes
    ----------
    index : int
    kind : str
        ``"conv"``, ``"dense"``, ``"avgpool"``, ``"maxpool"`` or ``"flatten"``.
    in_shape, out_shape : tuple
    relu : bool
    injective : ndarray of bool, shape (n_samples,) or None
        Per sample: the active sub-operator has full column rank (affine stages; for a
        max-pool stage: the convolution before it restricted to its active rows at the
        switches, i.e. the input of that convolution is determined by the pooled output).
    stability : ndarray of shape (n_samples,) or None
        ``1 / sigma_min`` of the active sub-operator per sample (``inf`` where not injective).
    active_fraction : float or None
        Mean fraction of rows with positive pre-activation (ReLU stages).
    exact : bool
        The rank test and sigma_min are exact (False: matrix-free estimate, see
        :data:`DENSE_RANK_LIMIT`).
    data_bias : ndarray or None
        Dense ReLU stages: ``reluinj.data_bias(W, H).alpha`` per neuron. Convolution stages:
        per filter, the minimum over its shifts of the data-driven alpha of every row.
    n_bias_ok : int or None
        Neurons (dense) or filters (conv) whose current ``alpha = -b`` is ``<=`` it.
    model_sparse_rate : float or None
        Max-pool stages: fraction of samples whose pool input is model-k-sparse (at most one
        nonzero per pooling window; then pooling loses nothing of it).
    mean_k : float or None
        Max-pool stages: mean number of nonzero pooled outputs (the k of the model).
    model_rip : float or None
        Max-pool stages after a convolution: sampled model-RIP constant delta_k of the
        convolution's ``W^T`` at k = the median nonzero count (reluinj.estimate_model_rip).
    """

    index: int
    kind: str
    in_shape: tuple
    out_shape: tuple
    relu: bool
    injective: Optional[np.ndarray] = None
    stability: Optional[np.ndarray] = None
    active_fraction: Optional[float] = None
    exact: bool = True
    data_bias: Optional[np.ndarray] = None
    n_bias_ok: Optional[int] = None
    model_sparse_rate: Optional[float] = None
    mean_k: Optional[float] = None
    model_rip: Optional[float] = None

    @property
    def injectivity_rate(self):
        """Fraction of samples at which the stage is injective (None if not applicable)."""
        return None if self.injective is None else float(np.mean(self.injective))

    def stability_quantiles(self, *, q=(0.0, 0.5, 0.9, 1.0)):
        """Quantiles of the finite stability constants (NaN when there are none)."""
        if self.stability is None:
            return None
        s = self.stability[np.isfinite(self.stability)]
        return np.quantile(s, q) if s.size else np.full(len(q), np.nan)


@dataclass(frozen=True)
class ConvNetworkAnalysis:
    """Per-stage reports of :meth:`ConvNetwork.analyze`; ``summary()`` formats them.

    Attributes
    ----------
    stages : tuple of StageReport
    n_samples : int
    switches : tuple
        One entry per stage: the max-pool switches of the data, shape (n_samples, n_out),
        for max-pool stages, None otherwise (pass to :meth:`ConvNetwork.inverse`).
    """

    stages: tuple
    n_samples: int
    switches: tuple = field(repr=False, default=())

    def summary(self):
        """A readable fixed-width table, one line per stage."""
        head = (f"{'stage':>5} {'kind':>8} {'in -> out':>22} {'active':>7} {'injective':>9} "
                f"{'stab med':>9} {'stab max':>9} {'bias ok':>8} {'notes'}")
        lines = [f"ConvNetwork analysis on {self.n_samples} samples", head, "-" * len(head)]
        for r in self.stages:
            kind = r.kind + ("+relu" if r.relu else "")
            shapes = f"{'x'.join(map(str, r.in_shape))}->{'x'.join(map(str, r.out_shape))}"
            act = "-" if r.active_fraction is None else f"{100 * r.active_fraction:.1f}%"
            inj = "-" if r.injective is None else f"{100 * r.injectivity_rate:.1f}%"
            if r.stability is None:
                smed = smax = "-"
            else:
                q = r.stability_quantiles(q=(0.5, 1.0))
                smed = f"{q[0]:.3g}"
                smax = "inf" if not np.all(np.isfinite(r.stability)) else f"{q[1]:.3g}"
            bias = "-" if r.n_bias_ok is None else f"{r.n_bias_ok}/{len(r.data_bias)}"
            notes = []
            if not r.exact:
                notes.append("estimate (matrix-free)")
            if r.model_sparse_rate is not None:
                notes.append(f"model-sparse {100 * r.model_sparse_rate:.0f}%, k~{r.mean_k:.1f}")
            if r.model_rip is not None:
                notes.append(f"model-RIP delta_k~{r.model_rip:.3g}")
            lines.append(f"{r.index:>5} {kind:>8} {shapes:>22} {act:>7} {inj:>9} {smed:>9} "
                         f"{smax:>9} {bias:>8} {'; '.join(notes)}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


@dataclass(frozen=True)
class ConvNetworkInverseResult:
    """Result of :meth:`ConvNetwork.inverse`.

    Attributes
    ----------
    x : ndarray of shape ``(B, *input_shape)``
        Reconstructed inputs (least-squares guesses where a stage is not injective).
    injective : ndarray of bool, shape (B, n_stages)
        Per sample and stage: that stage was inverted uniquely.
    failed_stage : ndarray of int64, shape (B,)
        The first stage, counting from the output as inversion proceeds, that was not
        inverted uniquely; -1 if none.
    rel_error : ndarray of shape (B,) or None
        ``||x - x_true|| / ||x_true||`` when `x_true` was given.
    residual : ndarray of shape (B,)
        ``||net(x) - Y|| / max(||Y||, tiny)``.
    exact : ndarray of bool, shape (n_stages,)
        Per stage: the ``injective`` verdicts are exact (False: an affine stage beyond the
        exact path, see :data:`DENSE_RANK_LIMIT`, decided from the Ritz values of the
        matrix-free CGLS solve; also False for a max-pool stage and the convolution before it
        reconstructed by ``pool_method`` "one-shot", "iht" or "sparse", which are
        approximations: ``injective`` is False there by construction, not by a test; stages
        that were not inverted are True).
    stage_rel_error : ndarray of shape (B, n_stages) or None
        When `x_true` was given: per sample and stage, ``||h_j - h_j^true|| / ||h_j^true||``
        for the reconstructed input ``h_j`` of stage j (column 0 is ``rel_error``). Where the
        backward pass knows only part of a stage input (a max-pool input at its switches) or
        skips it (the convolution output under a paper reconstruction), ``h_j`` is the
        forward of the reconstructed input of stage j - 1.
    stage_residual : ndarray of shape (B, n_stages) or None
        Per sample and stage: ``||f_j(h_j) - t_j|| / ||t_j||`` where ``t_j`` is the output
        stage j was inverted from (``Y`` for the last one), on its known entries; this says
        at which stage an approximate or non-unique inversion stopped fitting.
    """

    x: np.ndarray
    injective: np.ndarray
    failed_stage: np.ndarray
    rel_error: Optional[np.ndarray]
    residual: np.ndarray
    exact: Optional[np.ndarray] = None
    stage_rel_error: Optional[np.ndarray] = None
    stage_residual: Optional[np.ndarray] = None

    @property
    def ok(self):
        """Samples inverted uniquely through every stage."""
        return self.failed_stage < 0


# -- the network ---------------------------------------------------------------------------

def _check_input_shape(input_shape):
    """One sample's shape: a positive int or a non-empty tuple of positive ints."""
    if isinstance(input_shape, (numbers.Integral, str, bytes)):
        input_shape = (input_shape,)
    try:
        input_shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of ints; got {input_shape!r}") from None
    if not input_shape:
        raise ValueError("input_shape must be non-empty positive sizes; got ()")
    return tuple(check_positive_int(s, "input_shape") for s in input_shape)


class ConvNetwork:
    """A feed-forward convolutional ReLU network, stage by stage (see the module notes).

    Build it with :meth:`from_torch`. All computations are in float64.

    Attributes
    ----------
    stages : tuple of ConvNetworkStage
    input_shape : tuple of int
        Shape of one input sample, e.g. ``(C, H, W)``.
    """

    def __init__(self, stages, input_shape):
        stages = tuple(stages)
        if not stages or not all(isinstance(s, ConvNetworkStage) for s in stages):
            raise TypeError("stages must be a non-empty sequence of ConvNetworkStage "
                            "(build the network with ConvNetwork.from_torch)")
        input_shape = _check_input_shape(input_shape)
        if input_shape != tuple(stages[0].in_shape):
            raise ValueError(f"input_shape {input_shape} must be the input shape of the first "
                             f"stage, {tuple(stages[0].in_shape)}")
        self.stages = stages
        self.input_shape = input_shape

    @classmethod
    def from_torch(cls, model, input_shape):
        """Network from a ``torch.nn.Sequential`` or a list of modules.

        Parameters
        ----------
        model : torch.nn.Sequential or sequence of torch.nn.Module
            Modules among Conv1d, Conv2d, Linear, ReLU, MaxPool1d/2d, AvgPool1d/2d, Flatten,
            Identity and eval-mode BatchNorm1d/2d (folded into the preceding Conv/Linear).
        input_shape : tuple of int
            Shape of one input sample without the batch axis, e.g. ``(1, 8, 8)``.

        Raises
        ------
        TypeError
            A module is not supported (the message names it and its index), or misplaced.
        ValueError
            BatchNorm in training mode, a shape that does not match a layer, NaN/inf weights,
            an unsupported option (padding_mode, ceil_mode, ...).
        """
        try:
            import torch
        except ImportError as err:  # pragma: no cover - exercised only without torch
            raise ImportError("ConvNetwork.from_torch needs PyTorch: "
                              "pip install 'reluinj[torch]'") from err
        if isinstance(model, torch.nn.Module) and not isinstance(model, torch.nn.Sequential):
            model = [model]
        try:
            modules = list(model)
        except TypeError:
            raise TypeError("model must be a torch.nn.Sequential or a list of modules; got "
                            f"{type(model).__name__}") from None
        for i, m in enumerate(modules):
            if not isinstance(m, torch.nn.Module):
                raise TypeError(f"module[{i}] must be a torch.nn.Module; got {type(m).__name__}")
        input_shape = _check_input_shape(input_shape)
        return cls(_build_stages(modules, input_shape), input_shape)

    def __len__(self):
        return len(self.stages)

    def __repr__(self):
        parts = [f"{s.kind}{'+relu' if s.relu else ''}" for s in self.stages]
        return f"ConvNetwork({'x'.join(map(str, self.input_shape))}: {' -> '.join(parts)})"

    # -- forward ---------------------------------------------------------------------------
    def _as_input(self, X, name="X"):
        X = as_float_array(X, name)
        if X.dtype != np.float64:
            X = X.astype(np.float64)
        nd = len(self.input_shape)
        if X.shape[X.ndim - nd:] != self.input_shape or X.ndim not in (nd, nd + 1):
            raise ValueError(f"{name} must have shape (B, {', '.join(map(str, self.input_shape))})"
                             f" or one sample of shape {self.input_shape}; got {X.shape}")
        single = X.ndim == nd
        return X.reshape(-1, int(np.prod(self.input_shape))), single

    def _stage_forward(self, st, h):
        if st.affine:
            z = st.linear(h) + st.bias
            return np.maximum(z, 0.0) if st.relu else z, None
        if st.kind == "maxpool":
            return _maxpool(h, st)
        return h, None  # flatten

    def activations(self, X):
        """Inputs of every stage and the output, ``[X, h_1, ..., h_L]``, each (B, size)."""
        h, _ = self._as_input(X)
        hs = [h]
        for st in self.stages:
            hs.append(self._stage_forward(st, hs[-1])[0])
        return hs

    def __call__(self, X):
        """Forward pass: X of shape ``(B, *input_shape)`` -> ``(B, *output_shape)``, float64."""
        h, single = self._as_input(X)
        out = self.activations(h.reshape((-1,) + self.input_shape))[-1]
        out = out.reshape((-1,) + self.stages[-1].out_shape)
        return out[0] if single else out

    # -- analysis --------------------------------------------------------------------------
    def analyze(self, X, *, with_data_bias=True, rank_tol=DEFAULT_RANK_TOL, with_model_rip=True,
                seed=0, n_threads=None):
        """Per-stage injectivity, stability and pooling facts on the activations of X.

        Parameters
        ----------
        X : array_like of shape ``(B, *input_shape)``
            Network inputs (e.g. held-out data), finite.
        with_data_bias : bool, default=True
            ReLU stages with at most :data:`DENSE_RANK_LIMIT` inputs: the data-driven bias
            (``reluinj.data_bias`` on the stage's rows; per filter the minimum over its
            shifts for convolutions) and how many biases already satisfy it.
        rank_tol : float, default=1e-10
            Relative singular-value threshold of the rank test where the eigenvalues of the
            active Gram matrix do not decide it.
        with_model_rip : bool, default=True
            Max-pool stages after a convolution: sampled model-RIP constant (200 samples).
        seed : int, default=0
            Seed of the sampled model-RIP constant and of the matrix-free estimate.
        n_threads : int or None, default=None

        Returns
        -------
        analysis : ConvNetworkAnalysis
        """
        rank_tol = check_rank_tol(rank_tol)
        with_data_bias = check_bool(with_data_bias, "with_data_bias")
        with_model_rip = check_bool(with_model_rip, "with_model_rip")
        check_rng(seed)  # validated here: it is only used by some stages
        nt = effective_n_threads(n_threads)
        hs = self.activations(X)
        if hs[0].shape[0] == 0:
            raise ValueError("X must contain at least one sample")
        B = hs[0].shape[0]
        reports, switches = [], []
        plans = {}                               # stage index -> _GramPlan (built once)

        def plan_of(j, A):
            if j not in plans:
                plans[j] = _gram_plan(self.stages[j], A)
            return plans[j]
        for k, st in enumerate(self.stages):
            h = hs[k]
            if st.affine:
                A = st.sparse()
                pre = st.linear(h) + st.bias
                rows = pre > 0 if st.relu else np.ones_like(pre, dtype=bool)
                inj = np.zeros(B, dtype=bool)
                smin = np.zeros(B)
                exact = True
                if not st.relu:  # one test for all samples
                    ok, s, exact = _rank_test(A, rows[0], rank_tol, st=st, seed=seed,
                                              plan=plan_of(k, A))
                    inj[:], smin[:] = ok, s
                else:
                    for b in range(B):
                        inj[b], smin[b], ex = _rank_test(A, rows[b], rank_tol, st=st, seed=seed,
                                                         plan=plan_of(k, A))
                        exact &= ex
                with np.errstate(divide="ignore"):
                    stab = np.where(inj, 1.0 / np.where(smin > 0, smin, 1.0), np.inf)
                dbias = n_ok = None
                if with_data_bias and st.relu and st.n_in <= DENSE_RANK_LIMIT:
                    dbias, n_ok = self._data_bias(st, A, h, nt)
                reports.append(StageReport(k, st.kind, st.in_shape, st.out_shape, st.relu, inj,
                                           stab, float(rows.mean()) if st.relu else None, exact,
                                           dbias, n_ok))
                switches.append(None)
            elif st.kind == "maxpool":
                vals, sw = _maxpool(h, st)
                switches.append(sw)
                known_h, known = _unpool(vals, sw, st)
                # model-k-sparse: at most one nonzero per window, i.e. every nonzero is a switch
                nz = h > 0
                sparse_ok = ~np.any(nz & ~known, axis=1)
                kcount = np.count_nonzero(vals > 0, axis=1)
                inj = stab = rip = None
                exact = True
                prev = self.stages[k - 1] if k > 0 else None
                if prev is not None and prev.affine and prev.relu:
                    A = prev.sparse()
                    inj = np.zeros(B, dtype=bool)
                    smin = np.zeros(B)
                    for b in range(B):
                        inj[b], smin[b], ex = _rank_test(A, known[b] & (known_h[b] > 0), rank_tol,
                                                         st=prev, seed=seed,
                                                         plan=plan_of(k - 1, A))
                        exact &= ex
                    stab = np.where(inj, 1.0 / np.where(smin > 0, smin, 1.0), np.inf)
                    if (with_model_rip and prev.kind == "conv" and st.pool["padding"] == (0,) *
                            len(st.pool["kernel"]) and st.pool["stride"] == st.pool["kernel"]):
                        rip = self._model_rip(prev, st, int(np.median(kcount)), seed, nt)
                reports.append(StageReport(k, st.kind, st.in_shape, st.out_shape, False, inj,
                                           stab, None, exact, model_sparse_rate=float(
                                               sparse_ok.mean()), mean_k=float(kcount.mean()),
                                           model_rip=rip))
            else:
                reports.append(StageReport(k, st.kind, st.in_shape, st.out_shape, False))
                switches.append(None)
        return ConvNetworkAnalysis(tuple(reports), B, tuple(switches))

    @staticmethod
    def _data_bias(st, A, h, nt):
        import warnings

        from .._lib.exceptions import SamplingWarning
        from ..frames import data_bias

        W = A.toarray()
        if np.any(~np.any(W != 0, axis=1)):
            return None, None  # a row entirely on the padding: not a frame row
        try:
            with warnings.catch_warnings():  # rows in no basis of the data keep alpha = +inf
                warnings.simplefilter("ignore", SamplingWarning)
                est = data_bias(W, h, n_threads=nt)
        except ValueError:
            return None, None  # the rows do not span (not a frame): no data bias
        alpha = np.asarray(est.alpha, dtype=np.float64)
        cur = -st.bias
        if st.kind == "dense":
            return alpha, int(np.count_nonzero(cur <= alpha))
        K = st.out_shape[0]
        per_filter = alpha.reshape(K, -1).min(axis=1)
        cur_f = cur.reshape(K, -1)[:, 0]
        return per_filter, int(np.count_nonzero(cur_f <= per_filter))

    @staticmethod
    def _model_rip(prev, st, k, seed, nt):
        from ._pooling import estimate_model_rip

        if k < 1:
            return None
        pool = st.pool["kernel"] if len(prev.out_shape) == 3 else st.pool["kernel"][0]
        try:
            return float(estimate_model_rip(prev.op, k, n_samples=200, pool=pool, seed=seed,
                                            n_threads=nt).delta)
        except ValueError:
            return None

    # -- inversion -------------------------------------------------------------------------
    def inverse(self, Y, *, start=None, switches=None, x_true=None, method="lstsq",
                pool_method="switches", pool_options=None, zero_tol=_ZERO_TOL,
                rank_tol=DEFAULT_RANK_TOL, max_iter=None, n_threads=None):
        """Reconstruct inputs from outputs, stage by stage from the last one.

        Affine+ReLU stages: least squares on the rows active in the known output (exact: the
        Cholesky factor of the shifted active Gram proves full rank and preconditions CGLS on
        the active rows, where that Gram fits, see :data:`DENSE_RANK_LIMIT`; beyond, CGLS on
        the active normal equations through the stage's kernels, started at 0 and batched over all samples: one forward and one adjoint call per
        iteration for the whole batch; the verdict there is an estimate from the Ritz values
        of the iteration, see the ``exact`` attribute of the result). Linear stages:
        least squares on all rows.

        Max-pool stages depend on `pool_method`:

        - ``"switches"`` (default): the pooled values are put back at the `switches` (only
          those entries of the pool input are known; the affine stage before it then uses its
          active rows at the switches). Without switches the CNN paper's fixed unpooling is
          used (value at the first cell of each window); such a stage is never counted as
          injective.
        - ``"one-shot"``, ``"iht"``, ``"sparse"``: the CNN paper's reconstructions (Gilbert et
          al. 2017) of the **input x of the convolution stage before the max-pool stage**, in
          its model ``x = W^T z`` with a model-k-sparse code z (at most one nonzero per pooling
          window of each filter's output map, k in all). The max-pool stage and that
          convolution are inverted together. The measurements are the pooled values: at the
          switch ``s`` of every active window (pooled value > 0 after a ReLU; every window
          without one) the conv output is known, ``(W x)_s = p - b_s``; ``y`` holds these
          values on the code grid and ``S`` restricts to those positions. The switches are
          `switches` where given (the paper's M_known, its eq. (3)), else the fixed cells of
          M_fixed (first cell of each window, as for ``"switches"``). With the block-sparsify
          step ``M(., k)`` = :func:`reluinj.model_project` over the pooling windows:

          * ``"one-shot"``: ``x = W^T M(y, k)``, the tied decoder ``x_hat = W^T M(W x, k)`` of
            the paper's Theorem 3.3 (and of Sec. 4.2 with M_fixed), computed from the pooled
            values that ``M(W x, k)`` is made of.
          * ``"iht"``: model-based IHT (the paper's Algorithm 1) for the code, with
            ``Phi = S W W^T`` (code -> measured conv outputs) and measurements ``y``:
            ``z <- M(z + step Phi^T (y - Phi z), k)``, started at the one-shot code (not at
            0); then ``x = W^T z``. With ``step="auto"`` (``1 / ||W||^4 <= 1 / ||Phi||^2``) the
            measurement residual ``||y - S W x||`` never increases (M is the exact projection
            onto the model set), so it is at most the one-shot's.
          * ``"sparse"``: the paper's Algorithm 2 with the same ``Phi`` and ``y``:
            ``z_init = argmin ||y - Phi z||^2 / 2 + lam ||z||_1`` (FISTA from 0), ``z_model =
            M_known(z_init, k)``, then the same l1 least squares with z = 0 outside
            ``supp(z_model)`` (FISTA from z_model); ``x = W^T z``.

          These are approximations: both stages get ``injective = False`` and
          ``exact = False`` (no sample inverted this way is ``ok``; its ``failed_stage`` is the
          max-pool stage). They need the max-pool stage to follow a convolution stage and
          non-overlapping windows (stride = kernel, no padding).

        Parameters
        ----------
        Y : array_like of shape ``(B, *output_shape)``
            The outputs of stage `start` (by default the network outputs).
        start : int or None, default=None
            Invert stages ``start, start-1, ..., 0`` (None: all stages), e.g. only the
            convolution part of a network whose dense head is not injective.
        switches : sequence or None, default=None
            One entry per stage, as :attr:`ConvNetworkAnalysis.switches` (None entries for
            stages other than max-pool).
        x_true : array_like of shape ``(B, *input_shape)`` or None
            The true inputs; gives ``rel_error`` and ``stage_rel_error``.
        method : {"lstsq"}, default="lstsq"
        pool_method : {"switches", "one-shot", "iht", "sparse"}, default="switches"
            How max-pool stages are inverted (see above).
        pool_options : dict or None, default=None
            Options of `pool_method` (none for "switches"): ``k`` (int or None: the number
            of active windows of each sample) for all three; ``"iht"``: ``step`` ("auto" or a
            float), ``tol`` (relative measurement residual at which it stops, 1e-10),
            ``max_iter`` (500); ``"sparse"``: ``l1_weight`` (lambda; None: 1e-3 times
            ``||Phi^T y||_inf`` per sample), ``tol`` (relative change of z at which FISTA
            stops, 1e-10), ``max_iter`` (2000, per FISTA run).
        zero_tol : float, default=1e-8
            Relative threshold below which a reconstructed activation counts as 0.
        rank_tol : float, default=1e-10
        max_iter : int or None
            CGLS iterations on large stages (default ``2 * n_in``).
        n_threads : int or None

        Returns
        -------
        result : ConvNetworkInverseResult

        Raises
        ------
        ValueError
            Unknown `method` or `pool_method`, a key of `pool_options` that `pool_method` does
            not take, or a paper reconstruction for a max-pool stage that does not follow a
            convolution stage or has overlapping/padded windows.
        """
        if method != "lstsq":
            raise ValueError(f"method must be 'lstsq'; got {method!r}")
        pool_method, pool_opts = _check_pool_method(pool_method, pool_options)
        zero_tol = check_positive_float(zero_tol, "zero_tol", allow_zero=True)
        rank_tol = check_rank_tol(rank_tol)
        if max_iter is not None:
            max_iter = check_positive_int(max_iter, "max_iter")
        nt = effective_n_threads(n_threads)
        n_st = len(self.stages)
        if start is None:
            start = n_st - 1
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not (
                0 <= start < n_st):
            raise ValueError(f"start must be a stage index in [0, {n_st - 1}]; got {start!r}")
        start = int(start)
        out_shape = self.stages[start].out_shape
        Y = as_float_array(Y, "Y").astype(np.float64, copy=False)
        if Y.shape[1:] != out_shape:
            raise ValueError(f"Y must have shape (B, {', '.join(map(str, out_shape))}) (the "
                             f"output of stage {start}); got {Y.shape}")
        B, L = Y.shape[0], start + 1
        if switches is not None:
            switches = list(switches)
            if len(switches) != n_st:
                raise ValueError(f"switches must have one entry per stage ({n_st}); "
                                 f"got {len(switches)}")
        if pool_method != "switches":
            for k in range(L):
                if self.stages[k].kind == "maxpool":
                    _check_pool_stage(self.stages, k, pool_method)
        h = Y.reshape(B, -1)
        known = np.ones_like(h, dtype=bool)
        injective = np.zeros((B, L), dtype=bool)
        exact = np.ones(L, dtype=bool)
        failed = np.full(B, -1, dtype=np.int64)
        targets = [None] * L       # per stage: (output it was inverted from, known mask)
        inputs = [None] * L        # per stage: its reconstructed input (None: from the forward)
        k = L - 1
        while k >= 0:
            st = self.stages[k]
            targets[k] = (h, known)
            if st.kind == "flatten":
                inj = np.ones(B, dtype=bool)
            elif st.kind == "maxpool":
                sw = None
                if switches is not None and switches[k] is not None:
                    sw = np.asarray(switches[k])
                    if sw.shape != (B, st.n_out):
                        raise ValueError(f"switches[{k}] must have shape ({B}, {st.n_out}); "
                                         f"got {sw.shape}")
                if pool_method != "switches":
                    prev = self.stages[k - 1]
                    if sw is None:
                        sw = self._fixed_switches(st, B)
                    h, _ = _pool_reconstruct(prev, st, h, known, sw, pool_method, pool_opts,
                                             zero_tol, n_threads=nt)
                    known = np.ones_like(h, dtype=bool)
                    targets[k - 1] = None          # its output: the forward of its input
                    inputs[k - 1] = h
                    injective[:, k - 1:k + 1] = False
                    exact[k - 1:k + 1] = False
                    failed[failed < 0] = k
                    k -= 2
                    continue
                if sw is not None:
                    inj = np.ones(B, dtype=bool)
                else:
                    sw = self._fixed_switches(st, B)
                    inj = np.zeros(B, dtype=bool)
                vals = np.where(known, h, 0.0)
                h, known = _unpool(vals, sw, st)
            else:
                h, inj, exact[k] = self._invert_affine(st, h, known, zero_tol, rank_tol,
                                                       max_iter)
                known = np.ones_like(h, dtype=bool)
            if known.all():
                inputs[k] = h
            injective[:, k] = inj
            failed[(failed < 0) & ~inj] = k
            k -= 1
        x = h.reshape((B,) + self.input_shape)
        stage_res, stage_in = self._stage_residuals(h, inputs, targets)
        out = self.activations(x)[start + 1]
        ny = np.linalg.norm(Y.reshape(B, -1), axis=1)
        residual = np.linalg.norm(out - Y.reshape(B, -1), axis=1) / np.maximum(ny, 1e-300)
        rel = stage_rel = None
        if x_true is not None:
            xt, _ = self._as_input(x_true, "x_true")
            if xt.shape[0] != B:
                raise ValueError(f"x_true must have {B} samples; got {xt.shape[0]}")
            rel = (np.linalg.norm(x.reshape(B, -1) - xt, axis=1)
                   / np.maximum(np.linalg.norm(xt, axis=1), 1e-300))
            true_in = self.activations(xt.reshape((B,) + self.input_shape))
            stage_rel = np.stack([np.linalg.norm(stage_in[j] - true_in[j], axis=1)
                                  / np.maximum(np.linalg.norm(true_in[j], axis=1), 1e-300)
                                  for j in range(L)], axis=1)
        return ConvNetworkInverseResult(x, injective, failed, rel, residual, exact,
                                        stage_rel_error=stage_rel, stage_residual=stage_res)

    def _stage_residuals(self, x, inputs, targets):
        """Per stage j: its reconstructed input (the forward of the one below where the
        backward pass left it partial or skipped it) and the relative residual of its output
        against what it was inverted from, on the known entries."""
        L = len(inputs)
        B = x.shape[0]
        stage_in = []
        h = x if inputs[0] is None else inputs[0]
        for j in range(L):
            if j > 0:
                h = inputs[j] if inputs[j] is not None else self._stage_forward(
                    self.stages[j - 1], stage_in[j - 1])[0]
            stage_in.append(h)
        res = np.zeros((B, L))
        for j in range(L):
            out = self._stage_forward(self.stages[j], stage_in[j])[0]
            if targets[j] is None:
                tgt, mask = (stage_in[j + 1], None)
            else:
                tgt, mask = targets[j]
            d = out - tgt
            if mask is not None:
                d = np.where(mask, d, 0.0)
                tgt = np.where(mask, tgt, 0.0)
            res[:, j] = np.linalg.norm(d, axis=1) / np.maximum(np.linalg.norm(tgt, axis=1),
                                                               1e-300)
        return res, stage_in

    @staticmethod
    def _fixed_switches(st, B):
        k, s, p = st.pool["kernel"], st.pool["stride"], st.pool["padding"]
        sp_in, sp_out = st.in_shape[1:], st.out_shape[1:]
        if len(k) == 1:
            k, s, p, sp_in, sp_out = (1,) + k, (1,) + s, (0,) + p, (1,) + sp_in, (1,) + sp_out
        oy = np.clip(np.arange(sp_out[0]) * s[0] - p[0], 0, sp_in[0] - 1)
        ox = np.clip(np.arange(sp_out[1]) * s[1] - p[1], 0, sp_in[1] - 1)
        plane = (oy[:, None] * sp_in[1] + ox[None, :]).ravel()
        return np.broadcast_to(np.tile(plane, st.in_shape[0]), (B, st.n_out)).copy()

    def _invert_affine(self, st, h, known, zero_tol, rank_tol, max_iter):
        B = h.shape[0]
        n = st.n_in
        A = st.sparse()
        rhs_all = h - st.bias
        if st.relu:
            scale = np.maximum(1.0, np.abs(np.where(known, h, 0)).max(axis=1, keepdims=True,
                                                                        initial=0.0))
            rows = known & (h > zero_tol * scale)
        else:
            rows = known.copy()
        plan = _gram_plan(st, A)
        if plan is None:
            return _masked_cgls(st, rhs_all, rows, A=A, max_iter=max_iter or 2 * n) + (False,)
        # exact path: the Cholesky factor of the shifted active Gram both proves full column
        # rank and preconditions CGLS on the active rows (rounding level in a few iterations).
        # Where the factor does not exist (or CGLS does not converge): up to DENSE_RANK_LIMIT
        # inputs the dense SVD decides and lstsq gives the minimum-norm solution; beyond, those
        # samples go to the batched matrix-free CGLS (whose verdict, for nI >= n, is an
        # estimate: the stage is then not exact)
        dense = n <= DENSE_RANK_LIMIT
        x = np.zeros((B, n))
        inj = np.zeros(B, dtype=bool)
        factored = np.zeros(B, dtype=bool)
        left = []
        for b in range(B):
            r = rows[b]
            idx = np.flatnonzero(r)
            if idx.size == 0:
                continue
            AI = A[idx]
            fac = plan.factor(r, rank_tol) if idx.size >= n else None
            factored[b] = fac is not None
            xb = fac.lstsq(AI, rhs_all[b, idx]) if fac is not None else None
            if xb is not None:
                x[b], inj[b] = xb, True
            elif dense:
                inj[b] = factored[b] or _rank_test(A, r, rank_tol, plan=plan)[0]
                x[b] = np.linalg.lstsq(AI.toarray(), rhs_all[b, idx], rcond=None)[0]
            else:
                left.append(b)
        exact = True
        if left:
            xl, injl = _masked_cgls(st, rhs_all[left], rows[left], A=A,
                                    max_iter=max_iter or 2 * n)
            x[left] = xl
            inj[left] = factored[left] | injl
            undecided = ~factored[left] & (rows[left].sum(axis=1) >= n)
            exact = not undecided.any()
        return x, inj, exact


def _masked_cgls(st, rhs, rows, *, A=None, max_iter, atol=1e-14, btol=1e-14):
    """Batched least squares on the active rows of an affine stage, matrix-free (CGLS).

    For every sample ``b`` solves ``min_x || M_b (W x - rhs_b) ||`` where ``M_b`` keeps the rows
    ``rows[b]``, by conjugate gradients on the normal equations ``W^T M_b W x = W^T M_b rhs_b``
    started at 0. All samples still iterating share one call of the stage's forward and adjoint
    kernels per iteration (for convolution stages: the OpenMP kernels, GIL released), which is
    what makes this faster than one LSQR per sample. A sample stops with LSQR's rule:
    ``||r|| <= btol ||b|| + atol ||A_I||_F ||x||`` or ``||A_I^T r|| <= atol ||A_I||_F ||r||``.

    The verdict is an estimate, like the matrix-free rank test of :meth:`ConvNetwork.analyze`:
    a sample counts as injective when it has at least ``n`` active rows, every input entry
    meets an active row (both exact necessary conditions), the iteration converged, and the
    extreme Ritz values of ``W_I^T W_I`` from the CG coefficients (the Lanczos tridiagonal)
    satisfy ``sigma_min > 1e-3 sigma_max``. The Ritz values live in the Krylov space of the
    data, so a null direction of ``W_I`` that the data does not excite and that the two
    necessary conditions do not expose goes unseen; the exact test of the dense path has no
    such gap.

    Parameters
    ----------
    st : ConvNetworkStage
        An affine stage (``st.linear``/``st.linear_t`` apply ``W`` and ``W^T`` to batches).
    rhs : ndarray of shape (B, n_out)
        Right-hand sides (the known outputs minus the bias); entries outside `rows` are ignored.
    rows : ndarray of bool, shape (B, n_out)
    A : scipy.sparse matrix of shape (n_out, n_in) or None
        The stage's matrix, only for its row norms (built when None).
    max_iter : int
    atol, btol : float

    Returns
    -------
    x : ndarray of shape (B, n_in)
    injective : ndarray of bool, shape (B,)
    """
    import scipy.linalg

    B, n = rhs.shape[0], st.n_in
    mask = rows.astype(np.float64)
    if A is None:
        A = st.sparse()
    row_sq = np.asarray(A.multiply(A).sum(axis=1)).ravel()
    # row-wise reductions (not einsum/gemv, which round a row differently with the number of
    # rows): a sample's iterates do not depend on the other samples of the batch
    anorm = np.sqrt(np.add.reduce(mask * row_sq, axis=1))
    r = rhs * mask
    bnorm = np.linalg.norm(r, axis=1)
    x = np.zeros((B, n))
    s = st.linear_t(r)
    p = s.copy()
    gamma = np.add.reduce(s * s, axis=1)
    coef = []                                   # per iteration: (samples, alpha, beta)
    converged = gamma == 0.0                    # no active rows, or rhs orthogonal to them
    act = np.flatnonzero(~converged)
    for _ in range(max_iter):
        if act.size == 0:
            break
        pa = p[act]
        q = st.linear(pa) * mask[act]
        qq = np.add.reduce(q * q, axis=1)
        if not np.all(qq > 0):                  # breakdown (rounding): stop those samples
            keep = qq > 0
            act, pa, q, qq = act[keep], pa[keep], q[keep], qq[keep]
            if act.size == 0:
                break
        a = gamma[act] / qq
        x[act] += a[:, None] * pa
        r[act] -= a[:, None] * q
        sa = st.linear_t(r[act])
        g_new = np.add.reduce(sa * sa, axis=1)
        beta = g_new / gamma[act]
        p[act] = sa + beta[:, None] * pa
        gamma[act] = g_new
        coef.append((act, a, beta))
        rn = np.linalg.norm(r[act], axis=1)
        xn = np.linalg.norm(x[act], axis=1)
        an = anorm[act]
        done = (rn <= btol * bnorm[act] + atol * an * xn) | (np.sqrt(g_new) <= atol * an * rn)
        converged[act[done]] = True
        act = act[~done]
    # Ritz values of W_I^T W_I from the CG coefficients (Lanczos tridiagonal)
    alphas = [[] for _ in range(B)]
    betas = [[] for _ in range(B)]
    for idx, a, beta in coef:
        for j, b in enumerate(idx):
            alphas[b].append(a[j])
            betas[b].append(beta[j])
    # exact necessary conditions: at least n active rows, and every input entry seen by one
    covered = np.asarray(abs(A).T @ mask.T).T > 0          # (B, n)
    enough = (rows.sum(axis=1) >= n) & covered.all(axis=1)
    inj = np.zeros(B, dtype=bool)
    for b in np.flatnonzero(enough & converged):
        al, be = np.asarray(alphas[b]), np.asarray(betas[b])
        if al.size == 0 or not np.all(np.isfinite(al)) or np.any(al <= 0):
            continue
        d = 1.0 / al
        d[1:] += be[:-1] / al[:-1]
        e = np.sqrt(be[:-1]) / al[:-1]
        ev = scipy.linalg.eigvalsh_tridiagonal(d, e) if al.size > 1 else d
        inj[b] = bool(ev[-1] > 0 and ev[0] > 1e-6 * ev[-1])
    return x, inj


# -- max-pool stages without exact inversion: the CNN paper's reconstructions -----------------

POOL_METHODS = ("switches", "one-shot", "iht", "sparse")
"""Values of ``pool_method`` in :meth:`ConvNetwork.inverse`."""

POOL_OPTIONS = {
    "switches": {},
    "one-shot": {"k": None},
    "iht": {"k": None, "step": "auto", "tol": 1e-10, "max_iter": 500},
    "sparse": {"k": None, "l1_weight": None, "tol": 1e-10, "max_iter": 2000},
}
"""The keys accepted in ``pool_options`` by each ``pool_method``, with their defaults."""

L1_WEIGHT_DEFAULT = 1e-3
"""``pool_method="sparse"`` without ``l1_weight``: lambda = this times ``||Phi^T y||_inf``
per sample (``||Phi^T y||_inf`` is the smallest lambda whose l1 solution is 0)."""


def _check_pool_method(pool_method, pool_options):
    """Validated (pool_method, options with defaults filled in)."""
    opts = check_method_options(pool_method, pool_options, POOL_OPTIONS,
                                method_arg="pool_method", options_arg="pool_options")
    if opts.get("k") is not None:
        opts["k"] = check_positive_int(opts["k"], "pool_options['k']")
    if "step" in opts and not (isinstance(opts["step"], str) and opts["step"] == "auto"):
        if isinstance(opts["step"], str):
            raise ValueError(f"pool_options['step'] must be 'auto' or a positive float; got "
                             f"{opts['step']!r}")
        opts["step"] = check_positive_float(opts["step"], "pool_options['step']")
    if "tol" in opts:
        opts["tol"] = check_positive_float(opts["tol"], "pool_options['tol']", allow_zero=True)
    if "max_iter" in opts:
        opts["max_iter"] = check_positive_int(opts["max_iter"], "pool_options['max_iter']")
    if opts.get("l1_weight") is not None:
        opts["l1_weight"] = check_positive_float(opts["l1_weight"], "pool_options['l1_weight']",
                                                 allow_zero=True)
    return pool_method, opts


def _check_pool_stage(stages, k, pool_method):
    """The conv stage before max-pool stage k, checked for the paper's reconstructions."""
    st = stages[k]
    if k == 0 or stages[k - 1].kind != "conv":
        what = "nothing" if k == 0 else f"a {stages[k - 1].kind} stage"
        raise ValueError(f"pool_method={pool_method!r} reconstructs the input of the convolution "
                         f"before a max-pool stage; max-pool stage {k} follows {what} "
                         "(use pool_method='switches')")
    kern, stride, pad = st.pool["kernel"], st.pool["stride"], st.pool["padding"]
    if tuple(stride) != tuple(kern) or any(pad):
        raise ValueError(f"pool_method={pool_method!r} needs non-overlapping windows (stride = "
                         f"kernel, no padding: the model-k-sparse regions); max-pool stage {k} "
                         f"has kernel {kern}, stride {stride}, padding {pad} "
                         "(use pool_method='switches')")
    return stages[k - 1]


def _code_pool(prev, st):
    """(shape of one code for model_project, pool argument) of conv stage `prev` pooled by `st`."""
    if len(prev.out_shape) == 3:
        return tuple(prev.out_shape), tuple(st.pool["kernel"])
    return tuple(prev.out_shape), int(st.pool["kernel"][0])


def _project_codes(Z, kk, shape, pool):
    """Row b of Z (B, n_code) -> model_project(., kk[b]) with the stage's windows (0: zero)."""
    from ._pooling import model_project

    out = np.zeros_like(Z)
    for kv in np.unique(kk):
        idx = np.flatnonzero(kk == kv)
        if kv <= 0:
            continue
        out[idx] = model_project(Z[idx].reshape((idx.size,) + shape), int(kv),
                                 pool=pool).reshape(idx.size, -1)
    return out


def _pool_measurements(prev, st, h, known, sw, zero_tol):
    """The pooled values as measurements of the conv output ``u = W x``.

    Returns y (B, n_code): ``p - b`` at the switch of every active window (a window with a
    known, positive pooled value; every known window when the conv has no ReLU), 0 elsewhere;
    mask (B, n_code): those positions (the rows of S).
    """
    B = h.shape[0]
    C = st.in_shape[0]
    plane = int(np.prod(st.in_shape[1:]))
    per = st.n_out // C
    if prev.relu:
        scale = np.maximum(1.0, np.abs(np.where(known, h, 0)).max(axis=1, keepdims=True,
                                                                    initial=0.0))
        active = known & (h > zero_tol * scale)
    else:
        active = known
    rows = (np.arange(C)[None, :, None] * plane + sw.reshape(B, C, per)).reshape(B, -1)
    bi, ji = np.nonzero(active)
    r = rows[bi, ji]
    y = np.zeros((B, prev.n_out))
    mask = np.zeros((B, prev.n_out), dtype=bool)
    y[bi, r] = h[bi, ji] - prev.bias[r]
    mask[bi, r] = True
    return y, mask


def _pool_reconstruct(prev, st, h, known, sw, pool_method, opts, zero_tol, *, n_threads=None):
    """Input of conv stage `prev` from the output of max-pool stage `st` (see inverse()).

    Returns x (B, prev.n_in) and the code z (B, prev.n_out) with ``x = W^T z``.
    """
    from ._pooling import STEP_SAFETY, _regions, _squared_norm

    shape, pool = _code_pool(prev, st)
    y, mask = _pool_measurements(prev, st, h, known, sw, zero_tol)
    K = shape[0]
    n_regions = _regions(K, shape[1:] if isinstance(pool, tuple) else
                         (int(np.prod(shape[1:])),), 1, pool)[2].shape[0]
    n_obs = mask.sum(axis=1)
    kk = n_obs.copy() if opts["k"] is None else np.full(h.shape[0], min(opts["k"],
                                                                         K * n_regions))
    op, n_code = prev.op, prev.n_out

    def gram(v):                               # W W^T v on codes, (B, n_code) -> (B, n_code)
        xv = op.adjoint(v.reshape((-1,) + prev.out_shape), n_threads=n_threads)
        return op.forward(xv, n_threads=n_threads).reshape(-1, n_code)

    def synth(v):                              # W^T v, (B, n_code) -> (B, n_in)
        return op.adjoint(v.reshape((-1,) + prev.out_shape),
                          n_threads=n_threads).reshape(v.shape[0], -1)

    # one-shot: z = M(unpool(p - b, s), k), x = W^T z  (block-sparsify of eq. (2) / (3))
    z = _project_codes(y, np.minimum(kk, n_obs), shape, pool)
    if pool_method == "one-shot":
        return synth(z), z

    if pool_method == "iht":
        step = opts["step"]
        if step == "auto":                     # ||Phi||^2 <= ||W||^4
            sq = _squared_norm(op)
            step = 1.0 / (STEP_SAFETY * sq * sq) if sq > 0 else 1.0
        ny = np.linalg.norm(y, axis=1)
        ny = np.where(ny > 0, ny, 1.0)
        res = np.linalg.norm(y - gram(z) * mask, axis=1) / ny
        act = np.flatnonzero(res > opts["tol"])
        for _ in range(opts["max_iter"]):
            if act.size == 0:
                break
            za = z[act]
            with np.errstate(over="ignore", invalid="ignore"):
                b = za + step * gram(y[act] - gram(za) * mask[act])   # Phi^T (y - Phi z)
            if not np.isfinite(b).all():
                raise ValueError(f"pool_options['step']={step:.3g} is too large: IHT diverged; "
                                 "use 'auto' (1 / ||W||^4)")
            za = _project_codes(b, kk[act], shape, pool)
            z[act] = za
            res[act] = np.linalg.norm(y[act] - gram(za) * mask[act], axis=1) / ny[act]
            act = act[res[act] > opts["tol"]]
        return synth(z), z

    # sparse: the paper's Algorithm 2 with Phi = S W W^T
    sq = _squared_norm(op)
    step = 1.0 / (STEP_SAFETY * sq * sq) if sq > 0 else 1.0
    if opts["l1_weight"] is None:
        lam = L1_WEIGHT_DEFAULT * np.abs(gram(y)).max(axis=1, initial=0.0)
    else:
        lam = np.full(h.shape[0], opts["l1_weight"])
    z_init = _fista(gram, y, mask, np.zeros_like(y), None, lam, step, opts)
    z_model = _project_codes(z_init, kk, shape, pool)
    z = _fista(gram, y, mask, z_model, z_model != 0, lam, step, opts)
    return synth(z), z


def _fista(gram, y, mask, z0, support, lam, step, opts):
    """FISTA on ``1/2 ||y - S W W^T z||^2 + lam ||z||_1`` (per sample), optionally with z = 0
    outside `support`, with the gradient restart of O'Donoghue and Candes (momentum reset
    where it points uphill; linear convergence on strongly convex problems). Stops when every
    ``||z_t - z_{t-1}|| <= tol * ||z_t||`` or after ``max_iter`` iterations."""
    z = z0.copy()
    if support is not None:
        z *= support
    v = z.copy()
    t = np.ones(z.shape[0])
    thr = (step * lam)[:, None]
    tol = opts["tol"]
    for _ in range(opts["max_iter"]):
        g = gram(gram(v) * mask - y)           # Phi^T (Phi v - y); y is 0 outside the mask
        u = v - step * g
        z_new = np.sign(u) * np.maximum(np.abs(u) - thr, 0.0)
        if support is not None:
            z_new *= support
        dz = z_new - z
        restart = np.einsum("ij,ij->i", v - z_new, dz) > 0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = np.where(restart, 0.0, (t - 1.0) / t_new)
        t = np.where(restart, 1.0, t_new)
        v = z_new + beta[:, None] * dz
        z = z_new
        if np.all(np.linalg.norm(dz, axis=1) <= tol * np.linalg.norm(z, axis=1)):
            break
    return z
