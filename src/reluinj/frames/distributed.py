"""Scale-out on Dask: the same computations as the local functions, chunked into tasks.

Requires the optional ``dask`` extra (``pip install "reluinj[dask]"``); dask and distributed
are imported only when a function here is called.

Reproducibility
---------------
:func:`sampled_bias` evaluates exactly the batches of :func:`reluinj.sampled_bias` — batch
``b`` draws its samples from the ``b``-th child of the root ``SeedSequence``
(:func:`reluinj.sampled.draw_batch`) — one task per batch, and combines the per-batch minima
and hit counts by a tree reduction (element-wise ``min`` and ``+``, both exact). For the same
`seed` and `batch_size` the result equals the local one **bitwise**, whatever the number of
workers, threads or the order in which tasks finish.

Threads inside tasks
--------------------
A worker with T threads runs up to T tasks at once. Each task calls the compiled kernel with
``n_threads=n_threads_per_task`` (default 1) OpenMP threads, so a worker uses at most T
cores; raise it only for workers started with fewer threads than cores
(``dask worker --nthreads 1`` and ``n_threads_per_task=cores``).
"""
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .._lib.validation import as_bias, as_weights, check_positive_float, check_positive_int
from ._coverage import sampling_error
from ._domains import Sphere, check_domain
from .._lib.constants import DEFAULT_RANK_TOL
from ._layer import ReLULayer
from .._lib.validation import check_rank_tol
from .._lib.scaleout import (check_task_threads as _check_task_threads, compute as _compute,
                              current_client as _current_client, import_dask as _import_dask,
                              import_distributed as _import_distributed,
                              tree_reduce as _tree_reduce)
from ._reconstruct import check_inverse_options, relu_inverse as _local_relu_inverse
from ._sampled import (
    DEFAULT_BATCH_SIZE,
    batch_partial_bias,
    combine_partials,
    draw_batch,
    finalize_sampled_bias,
    normalized_frame,
    resolve_check_rank,
    seed_sequence,
)

__all__ = [
    "sampled_bias",
    "is_injective_at",
    "injectivity_rate",
    "relu_inverse",
    "DaskInverseResult",
    "connect",
    "DEFAULT_CONNECT_TIMEOUT",
]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds :func:`connect` waits for a scheduler before it gives up."""


def connect(scheduler, *, timeout=DEFAULT_CONNECT_TIMEOUT):
    """A ``dask.distributed.Client`` for a scheduler address or a new local cluster.

    Parameters
    ----------
    scheduler : str
        ``"tcp://HOST:PORT"`` (any address ``distributed.Client`` accepts) for an existing
        cluster, or ``"local:N"`` to start a ``LocalCluster`` with N worker processes of one
        thread each on this machine.
    timeout : float, default=DEFAULT_CONNECT_TIMEOUT (10 s)
        Seconds to wait for the scheduler.

    Returns
    -------
    client : distributed.Client
        Close it when done (``client.close()`` also stops a ``local:N`` cluster); it is a
        context manager.

    Raises
    ------
    ConnectionError
        If no scheduler answers at `scheduler` within `timeout` seconds.
    ValueError
        If `scheduler` is not a string or ``local:N`` has no positive N.
    """
    distributed = _import_distributed()
    timeout = check_positive_float(timeout, "timeout")
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler must be 'tcp://HOST:PORT' or 'local:N'; got {scheduler!r}")
    scheduler = scheduler.strip()
    if scheduler.startswith("local:"):
        try:
            n_workers = int(scheduler.split(":", 1)[1])
        except ValueError:
            n_workers = 0
        if n_workers < 1:
            raise ValueError(f"scheduler 'local:N' needs a positive worker count; got {scheduler!r}")
        # A Client that starts its own LocalCluster also shuts it down on close().
        return distributed.Client(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, timeout=timeout)
    try:
        return distributed.Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise ConnectionError(
            f"could not reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {err}"
        ) from err


def _sampled_batch(Wn, domain, n, seq, b, batch_size, n_total, check, n_threads):
    try:
        X = draw_batch(domain, n, seq, b, batch_size, n_total, dtype=Wn.dtype)
        return batch_partial_bias(Wn, X, check_rank=check, n_threads=n_threads)
    except Exception as err:
        raise RuntimeError(f"reluinj.distributed.sampled_bias: batch {b} failed: {err}") from err


def sampled_bias(W, domain=Sphere(), *, n_samples, batch_size=None, seed=None, init="none",
                 check_rank="auto", margin=0.0, client=None, n_threads_per_task=1, retries=1,
                 progress=False):
    """:func:`reluinj.sampled_bias` with one Dask task per batch of samples.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors. Validated here, before any task.
    domain : Sphere, Ball or Annulus, default=Sphere()
    n_samples : int
        Total number of samples (integral floats such as ``1e9`` are accepted).
    batch_size : int or None, default=None
        Samples per task; None means :data:`reluinj.sampled.DEFAULT_BATCH_SIZE`. Part of the
        reproducibility contract: the same `seed` and `batch_size` give the local result.
    seed : None, int, SeedSequence or numpy.random.Generator, default=None
        See :func:`reluinj.sampled.seed_sequence`.
    init, check_rank, margin
        As in :func:`reluinj.sampled_bias` (``margin="covering"`` subtracts
        :func:`reluinj.sampling_error`).
    client : distributed.Client or None, default=None
        None uses the current distributed client if there is one, else the local scheduler
        set in ``dask.config`` (e.g. ``"synchronous"``), else dask's threaded scheduler.
    n_threads_per_task : int, default=1
        OpenMP threads of the kernel inside each task (see the module notes).
    retries : int, default=1
        Times the scheduler re-runs a task whose worker died (distributed client only).
    progress : bool, default=False
        Show dask's progress bar (``distributed.progress`` with a client).

    Returns
    -------
    est : BiasEstimate
        `alpha`, `sampling_error` and `margin` bitwise equal to those of
        ``reluinj.sampled_bias(W, domain, n_samples=..., seed=..., batch_size=...)``. The
        convergence record (`convergence_n`, `convergence_alpha`) is left None: the tasks are
        reduced as a tree, not in sample order.

    Notes
    -----
    W is sent to the workers once (``client.scatter(..., broadcast=True)``), not with every
    task; each task returns two length-m arrays; the reduction is a binary tree of depth
    ``ceil(log2(batches))``, so the scheduler's work is O(batches) and the data moved
    O(m * batches).
    """
    dask = _import_dask()
    W, Wn, norms = normalized_frame(W)
    domain = check_domain(domain)
    n_samples = check_positive_int(n_samples, "n_samples")
    batch_size = (DEFAULT_BATCH_SIZE if batch_size is None
                  else check_positive_int(batch_size, "batch_size"))
    if init not in ("none", "authors"):
        raise ValueError(f"init must be 'none' or 'authors'; got {init!r}")
    err = sampling_error(max(n_samples, 2), W.shape[1])
    if isinstance(margin, str):
        if margin != "covering":
            raise ValueError(f"margin must be a float >= 0 or 'covering'; got {margin!r}")
        margin = err
    margin = check_positive_float(margin, "margin", allow_zero=True)
    check = resolve_check_rank(Wn, check_rank)
    nt = _check_task_threads(n_threads_per_task)
    retries = check_positive_int(retries, "retries", minimum=0)
    seq = seed_sequence(seed)
    client = _current_client(client)
    n = W.shape[1]
    W_arg = client.scatter(Wn, broadcast=True) if client is not None else dask.delayed(Wn)
    parts = [
        dask.delayed(_sampled_batch, pure=True)(W_arg, domain, n, seq, b, batch_size, n_samples,
                                                check, nt)
        for b in range(math.ceil(n_samples / batch_size))
    ]
    partial = _compute(_tree_reduce(dask.delayed, parts, combine_partials), client, progress,
                       retries)
    est = finalize_sampled_bias(W, Wn, norms, partial, domain, init, n_samples, margin=margin)
    return dataclasses.replace(est, sampling_error=err)


def _as_dask_points(X, width, name):
    """A 2-D dask array of `width` columns in one chunk along axis 1 (rows stay chunked)."""
    import dask.array as da

    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (k, {width}); got ndim={X.ndim}")
    if X.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns; got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    return X.rechunk({1: -1})


def _injective_block(block, layer, rank_tol, n_threads, block_info=None):
    where = (block_info or {}).get(0, {}).get("array-location", [("?", "?")])[0]
    try:
        return np.asarray(layer.is_injective_at(block, rank_tol=rank_tol, n_threads=n_threads))
    except ValueError as err:
        raise ValueError(f"rows {where[0]}:{where[1]} of X: {err}") from err


def is_injective_at(layer, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads_per_task=1):
    """Lazy :meth:`ReLULayer.is_injective_at` over a chunked ``dask.array`` of points.

    Parameters
    ----------
    layer : ReLULayer
    X : dask.array.Array or array_like of shape (k, n)
        Points, chunked along axis 0 (columns are merged into one chunk).
    rank_tol : float, default=1e-10
    n_threads_per_task : int, default=1

    Returns
    -------
    injective : dask.array.Array of bool, shape (k,)
        Chunked like the rows of X. A block with NaN/inf raises a ValueError naming its rows
        when computed.
    """
    _import_dask()
    if not isinstance(layer, ReLULayer):
        raise TypeError(f"layer must be a reluinj.ReLULayer; got {type(layer).__name__}")
    rank_tol = check_positive_float(rank_tol, "rank_tol")
    nt = _check_task_threads(n_threads_per_task)
    X = _as_dask_points(X, layer.n, "X")
    return X.map_blocks(_injective_block, layer, rank_tol, nt, drop_axis=1, dtype=bool)


def injectivity_rate(layer, X, *, rank_tol=DEFAULT_RANK_TOL, n_threads_per_task=1):
    """Lazy fraction of the points of a dask array at which `layer` is injective.

    Returns
    -------
    rate : dask.array.Array (0-d, float64)
        Call ``.compute()`` (or ``float(...)``) to evaluate; equals
        ``layer.injectivity_rate(X.compute())``.
    """
    inj = is_injective_at(layer, X, rank_tol=rank_tol, n_threads_per_task=n_threads_per_task)
    if inj.shape[0] == 0:
        raise ValueError("X must contain at least one point")
    return inj.mean(dtype=np.float64)


@dataclass(frozen=True)
class DaskInverseResult:
    """Lazy result of :func:`relu_inverse`: dask arrays chunked like the rows of Y.

    Attributes
    ----------
    x : dask.array.Array of shape (B, n)
    injective : dask.array.Array of bool, shape (B,)
    residual : dask.array.Array of float64, shape (B,)
    """

    x: object
    injective: object
    residual: object


def _inverse_block(block, W, alpha, method, kwargs, block_info=None):
    where = (block_info or {}).get(0, {}).get("array-location", [("?", "?")])[0]
    try:
        res = _local_relu_inverse(W, alpha, block, method=method, **kwargs)
    except ValueError as err:
        raise ValueError(f"rows {where[0]}:{where[1]} of Y: {err}") from err
    out = np.empty((block.shape[0], W.shape[1] + 2), dtype=np.float64)
    out[:, :-2] = res.x
    out[:, -2] = res.injective
    out[:, -1] = res.residual
    return out


def relu_inverse(W, alpha, Y, *, method="dual", options=None, rank_tol=DEFAULT_RANK_TOL,
                 n_threads_per_task=1):
    """Lazy :func:`reluinj.relu_inverse` over a chunked ``dask.array`` of layer outputs.

    Parameters
    ----------
    W : array_like of shape (m, n)
        Weight matrix; its rows are the frame vectors. Validated here.
    alpha : float or array_like of shape (m,)
    Y : dask.array.Array or array_like of shape (B, m)
        Non-negative layer outputs, chunked along axis 0. Each block is validated (and a
        bad block reported with its rows) when it is computed.
    method : {"dual", "facet", "frame", "cg"}, default="dual"
    options : dict or None, default=None
        Options of `method`, validated here as by :func:`reluinj.relu_inverse`.
    rank_tol : float, default=1e-10
        Rank-test tolerance (see :func:`reluinj.relu_inverse`).
    n_threads_per_task : int, default=1

    Returns
    -------
    result : DaskInverseResult
        ``x`` (float64), ``injective`` and ``residual``, equal to the in-memory results.
    """
    _import_dask()
    W = as_weights(W)
    a = as_bias(alpha, W.shape[0], finite=False)
    opts = check_inverse_options(method, options)
    if method == "facet" and opts["facet_vertices"] is None:
        from .hull import facets as hull_facets

        opts["facet_vertices"] = hull_facets(W)
    kwargs = dict(options=opts, rank_tol=check_rank_tol(rank_tol),
                  n_threads=_check_task_threads(n_threads_per_task))
    Y = _as_dask_points(Y, W.shape[0], "Y")
    n = W.shape[1]
    packed = Y.map_blocks(_inverse_block, W, a, method, kwargs, chunks=(Y.chunks[0], (n + 2,)),
                          dtype=np.float64)
    return DaskInverseResult(x=packed[:, :n], injective=packed[:, n].astype(bool),
                             residual=packed[:, n + 1])
