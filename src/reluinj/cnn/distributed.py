"""Scale-out of :meth:`ConvNetwork.analyze` and :meth:`ConvNetwork.inverse` on Dask.

Requires the optional ``dask`` extra (``pip install "reluinj[dask]"``); dask and distributed
are imported only when a function here is called. The public home is
:mod:`reluinj.distributed`.

The inputs are cut into chunks of samples (axis 0 only); each chunk is one task that calls the
local method, and the per-chunk results are merged into the local result type
(:class:`ConvNetworkAnalysis`, :class:`ConvNetworkInverseResult`).

Equality with the local call
----------------------------
Every per-sample computation of :class:`ConvNetwork` depends only on that sample: the
convolution kernels work sample by sample, a dense stage runs one BLAS product per sample
(``gemv``; :meth:`ConvNetworkStage.linear`) so that a sample's
rounding does not depend on the size of its batch, and the batched CGLS of large stages
reduces row by row. The merged results therefore equal those of the
local call on the whole array **bitwise** (on the same machine and BLAS build; different CPUs
may select different BLAS kernels). The aggregates are merged exactly: means are rebuilt
from the exact integer counts of every chunk, the data-driven bias is an element-wise minimum,
and the model-RIP constant is computed once from the median over all samples (see
:func:`analyze`).
"""
import dataclasses
import numbers

import numpy as np

from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.scaleout import (as_sample_chunked, check_task_threads, chunk_bounds, compute,
                             current_client, import_dask)
from .._lib.validation import (check_bool, check_positive_float, check_positive_int,
                               check_rank_tol, check_rng)
from ._network import (ConvNetwork, ConvNetworkAnalysis, ConvNetworkInverseResult,
                       _ZERO_TOL)

__all__ = ["analyze", "inverse", "DEFAULT_CHUNK_SAMPLES"]

DEFAULT_CHUNK_SAMPLES = 64
"""Samples per task of :func:`analyze` and :func:`inverse` for a NumPy input without `chunks`."""

# StageReport fields and how the chunks are merged (any other field must agree across chunks)
_PER_SAMPLE = ("injective", "stability")
_MERGED = _PER_SAMPLE + ("exact", "active_fraction", "data_bias", "n_bias_ok",
                         "model_sparse_rate", "mean_k", "model_rip")


def _check_net(net):
    if not isinstance(net, ConvNetwork):
        raise TypeError(f"net must be a reluinj.ConvNetwork; got {type(net).__name__}")
    return net


def _check_seed(seed):
    """An int or SeedSequence that gives every chunk the same stream (as the local call)."""
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be None, an int or a SeedSequence: a Generator's state "
                        "cannot be shared by the chunks (pass an int to reproduce a local run)")
    check_rng(seed)
    return np.random.SeedSequence() if seed is None else seed


def _net_arg(dask, client, net):
    # hash=False: a fresh key per call (re-scattering the same network under its content key
    # while the previous call's future is being released cancels the new tasks)
    if client is not None:
        return client.scatter(net, broadcast=True, hash=False)
    return dask.delayed(net)


def _rip_stages(net, with_model_rip):
    """Max-pool stages whose report gets a model-RIP constant (the rule of the local call)."""
    if not with_model_rip:
        return ()
    out = []
    for k, st in enumerate(net.stages):
        prev = net.stages[k - 1] if k > 0 else None
        if (st.kind == "maxpool" and prev is not None and prev.affine and prev.relu
                and prev.kind == "conv" and st.pool["padding"] == (0,) * len(st.pool["kernel"])
                and st.pool["stride"] == st.pool["kernel"]):
            out.append(k)
    return tuple(out)


def _analyze_chunk(net, X, kwargs, rip_stages, bounds):
    try:
        rep = net.analyze(X, with_model_rip=False, **kwargs)
    except ValueError as err:
        raise ValueError(f"X[{bounds[0]}:{bounds[1]}] (samples of chunk): {err}") from err
    kcount = {}
    if rip_stages:
        hs = net.activations(X)
        for k in rip_stages:  # nonzero pooled outputs per sample, as analyze counts them
            kcount[k] = np.count_nonzero(hs[k + 1] > 0, axis=1)
    return rep, kcount


def _exact_mean(values, counts, size):
    """The local ``mean`` of a 0/1 or integer array from per-chunk means of `counts` samples.

    Each chunk's sum is recovered exactly (an integer, ``round(mean * samples * size)``, exact
    below 2**51); the division is then the local one.
    """
    total = sum(int(round(v * c * size)) for v, c in zip(values, counts))
    return float(np.float64(total) / (sum(counts) * size))


def _n_bias_ok(st, alpha):
    """Neurons (dense) or filters (conv) whose bias satisfies alpha, as the local analysis."""
    cur = -st.bias
    if st.kind == "dense":
        return int(np.count_nonzero(cur <= alpha))
    cur_f = cur.reshape(st.out_shape[0], -1)[:, 0]
    return int(np.count_nonzero(cur_f <= alpha))


def _same(values):
    first = values[0]
    for v in values[1:]:
        if isinstance(first, np.ndarray) or isinstance(v, np.ndarray):
            if not (isinstance(first, np.ndarray) and isinstance(v, np.ndarray)
                    and np.array_equal(first, v)):
                return False
        elif v != first:
            return False
    return True


def _merge_analysis(net, parts, kcounts, rip_stages, seed, nt):
    counts = [p.n_samples for p in parts]
    B = sum(counts)
    stages, switches = [], []
    for k, r0 in enumerate(parts[0].stages):
        rs = [p.stages[k] for p in parts]
        st = net.stages[k]
        new = {}
        for f in dataclasses.fields(r0):
            vals = [getattr(r, f.name) for r in rs]
            if f.name not in _MERGED and not _same(vals):
                raise RuntimeError(f"StageReport.{f.name} differs between chunks and has no "
                                   "merge rule in reluinj.distributed.analyze")
        for name in _PER_SAMPLE:
            vals = [getattr(r, name) for r in rs]
            new[name] = None if vals[0] is None else np.concatenate(vals)
        new["exact"] = all(r.exact for r in rs)
        if r0.active_fraction is not None:
            new["active_fraction"] = _exact_mean([r.active_fraction for r in rs], counts,
                                                 st.n_out)
        if r0.model_sparse_rate is not None:
            new["model_sparse_rate"] = _exact_mean([r.model_sparse_rate for r in rs], counts, 1)
        if r0.mean_k is not None:
            new["mean_k"] = _exact_mean([r.mean_k for r in rs], counts, 1)
        if r0.data_bias is not None:
            alpha = np.minimum.reduce([r.data_bias for r in rs])
            new["data_bias"], new["n_bias_ok"] = alpha, _n_bias_ok(st, alpha)
        new["model_rip"] = None
        if k in rip_stages:
            kc = np.concatenate([c[k] for c in kcounts])
            new["model_rip"] = ConvNetwork._model_rip(net.stages[k - 1], st,
                                                      int(np.median(kc)), seed, nt)
        stages.append(dataclasses.replace(r0, **new))
        sws = [p.switches[k] for p in parts]
        switches.append(None if sws[0] is None else np.concatenate(sws))
    return ConvNetworkAnalysis(tuple(stages), B, tuple(switches))


def analyze(net, X, *, chunks=None, with_data_bias=True, rank_tol=DEFAULT_RANK_TOL,
            with_model_rip=True, seed=0, client=None, n_threads_per_task=1, retries=1,
            progress=False):
    """:meth:`ConvNetwork.analyze` with one Dask task per chunk of samples.

    Parameters
    ----------
    net : ConvNetwork
    X : numpy.ndarray, dask.array.Array or array_like of shape ``(B, *net.input_shape)``
        Network inputs, B >= 1, finite. A dask array must be chunked along axis 0 only (one
        chunk along every other axis, else a ValueError naming `X`); every chunk is checked
        for NaN/inf when its task runs (the error names its samples).
    chunks : int, tuple of int or None, default=None
        Samples per task, or the chunk sizes along axis 0 (they add up to B). None keeps the
        chunks of a dask array and cuts other inputs into :data:`DEFAULT_CHUNK_SAMPLES`.
    with_data_bias, rank_tol, with_model_rip
        As in :meth:`ConvNetwork.analyze`.
    seed : None, int or SeedSequence, default=0
        As in :meth:`ConvNetwork.analyze`; every chunk uses the same seed, as the local call
        does for every sample. A Generator is refused (its state would advance differently
        chunk by chunk); None draws one fresh SeedSequence for all chunks.
    client : distributed.Client or None, default=None
        None uses the current distributed client if there is one, else the local scheduler
        set in ``dask.config`` (e.g. ``dask.config.set(scheduler="synchronous")``), else
        dask's threaded scheduler.
    n_threads_per_task : int, default=1
        ``n_threads`` of the local call inside each task (and of the model-RIP estimate).
    retries : int, default=1
        Times the scheduler re-runs a task whose worker died (distributed client only).
    progress : bool, default=False
        Show dask's progress bar.

    Returns
    -------
    analysis : ConvNetworkAnalysis
        Equal, field by field, to ``net.analyze(X, ...)`` on the whole array (bitwise; see
        the module notes). How the chunks are merged, per :class:`StageReport` field:

        - ``injective``, ``stability`` (shape (B,)) and the max-pool ``switches``
          (shape (B, n_out)): concatenated in sample order;
        - ``active_fraction``, ``model_sparse_rate``, ``mean_k``: means over all B samples,
          rebuilt from each chunk's exact count (each chunk weighs by its samples);
        - ``exact``: True iff it is True in every chunk;
        - ``data_bias`` (shape (m,) dense, (K,) per filter for conv): it is a minimum over
          the data, so the element-wise minimum over the chunks; ``n_bias_ok`` is recounted
          from it;
        - ``model_rip``: computed once, after the chunks, at the median nonzero count over
          all samples (one 200-sample estimate, as in the local call, not one per chunk);
        - every other field (index, kind, shapes, relu) is data-independent and must agree
          across chunks (a RuntimeError otherwise).

    Raises
    ------
    ValueError
        `X` of the wrong shape, with no sample, chunked along another axis than the samples,
        or with NaN/inf; bad `chunks` or options (named in the message).
    TypeError
        `net` not a ConvNetwork, `X` not real, `seed` a Generator.
    ImportError
        dask is not installed.
    """
    dask = import_dask()
    net = _check_net(net)
    kwargs = dict(with_data_bias=check_bool(with_data_bias, "with_data_bias"),
                  rank_tol=check_rank_tol(rank_tol), seed=_check_seed(seed),
                  n_threads=check_task_threads(n_threads_per_task))
    with_model_rip = check_bool(with_model_rip, "with_model_rip")
    retries = check_positive_int(retries, "retries", minimum=0)
    progress = check_bool(progress, "progress")
    Xd = as_sample_chunked(X, net.input_shape, "X", chunks, default_chunk=DEFAULT_CHUNK_SAMPLES)
    rip_stages = _rip_stages(net, with_model_rip)
    client = current_client(client)
    net_arg = _net_arg(dask, client, net)
    blocks = Xd.to_delayed().ravel()
    tasks = [dask.delayed(_analyze_chunk, pure=True)(net_arg, blk, kwargs, rip_stages, b)
             for blk, b in zip(blocks, chunk_bounds(Xd.chunks[0]))]
    results = compute(tasks, client, progress, retries)
    parts = [r[0] for r in results]
    kcounts = [r[1] for r in results]
    return _merge_analysis(net, parts, kcounts, rip_stages, kwargs["seed"],
                           kwargs["n_threads"])


def _aligned(a, chunks0, shape_rest, name):
    """`a` (NumPy or dask) of shape ``(B, *shape_rest)`` in the sample chunks `chunks0`."""
    import dask.array as da

    B = sum(chunks0)
    if not isinstance(a, da.Array):
        a = np.asarray(a)
    if tuple(a.shape) != (B,) + tuple(shape_rest):
        raise ValueError(f"{name} must have shape {(B,) + tuple(shape_rest)} (one row per "
                         f"sample of Y); got {tuple(a.shape)}")
    if isinstance(a, da.Array):
        return a.rechunk((chunks0,) + tuple((s,) for s in shape_rest))
    return da.from_array(a, chunks=(chunks0,) + tuple(shape_rest))


def _inverse_chunk(net, Y, switches, x_true, kwargs, bounds):
    try:
        return net.inverse(Y, switches=switches, x_true=x_true, **kwargs)
    except ValueError as err:
        raise ValueError(f"Y[{bounds[0]}:{bounds[1]}] (samples of chunk): {err}") from err


def _merge_inverse(parts):
    cat = [np.concatenate([getattr(p, f) for p in parts])
           for f in ("x", "injective", "failed_stage")]
    rel = (None if parts[0].rel_error is None
           else np.concatenate([p.rel_error for p in parts]))
    residual = np.concatenate([p.residual for p in parts])
    exact = (None if parts[0].exact is None
             else np.logical_and.reduce([p.exact for p in parts]))
    per_stage = [None if getattr(parts[0], f) is None
                 else np.concatenate([getattr(p, f) for p in parts])
                 for f in ("stage_rel_error", "stage_residual")]
    return ConvNetworkInverseResult(cat[0], cat[1], cat[2], rel, residual, exact, *per_stage)


def inverse(net, Y, *, chunks=None, start=None, switches=None, x_true=None, method="lstsq",
            pool_method="switches", pool_options=None, zero_tol=_ZERO_TOL, rank_tol=DEFAULT_RANK_TOL, max_iter=None, client=None,
            n_threads_per_task=1, retries=1, progress=False):
    """:meth:`ConvNetwork.inverse` with one Dask task per chunk of samples.

    Parameters
    ----------
    net : ConvNetwork
    Y : numpy.ndarray, dask.array.Array or array_like of shape ``(B, *out_shape)``
        Outputs of stage `start` (``out_shape = net.stages[start].out_shape``; by default the
        network outputs), B >= 1. A dask array must be chunked along axis 0 only (else a
        ValueError naming `Y`); each chunk is checked for NaN/inf when its task runs.
    chunks : int, tuple of int or None, default=None
        Samples per task, or the chunk sizes along axis 0; None keeps the chunks of a dask
        array and cuts other inputs into :data:`DEFAULT_CHUNK_SAMPLES`.
    start : int or None, default=None
        As in :meth:`ConvNetwork.inverse`.
    switches : sequence or None, default=None
        One entry per stage, as :attr:`ConvNetworkAnalysis.switches`: None or an array
        (NumPy or dask) of shape ``(B, n_out)`` for the max-pool stages. Cut into the sample
        chunks of `Y` (a dask array is rechunked to them).
    x_true : numpy.ndarray, dask.array.Array or None, shape ``(B, *net.input_shape)``
        The true inputs (gives ``rel_error``); cut into the sample chunks of `Y`.
    method, pool_method, pool_options, zero_tol, rank_tol, max_iter
        As in :meth:`ConvNetwork.inverse` (each chunk runs the same local method; the paper
        reconstructions of ``pool_method`` work per sample, so chunks give the local values).
    client : distributed.Client or None, default=None
        As in :func:`analyze`.
    n_threads_per_task : int, default=1
        ``n_threads`` of the local call inside each task.
    retries : int, default=1
    progress : bool, default=False

    Returns
    -------
    result : ConvNetworkInverseResult
        Equal to ``net.inverse(Y, ...)`` on the whole arrays, bitwise (see the module notes):
        ``x`` ``(B, *input_shape)``, ``injective`` (B, start+1), ``failed_stage``, ``residual``
        and ``rel_error`` (B,), ``stage_rel_error`` and ``stage_residual`` (B, start+1)
        concatenated in sample order; ``exact`` (per stage, data-
        independent) is True where it is True in every chunk. Large stages solved by the
        batched CGLS iterate per sample (a sample's iterates do not depend on the other
        samples of its batch), so they too give the local values.

    Raises
    ------
    ValueError
        `Y` of the wrong shape, with no sample, chunked along another axis than the samples,
        or with NaN/inf; `switches` or `x_true` of the wrong shape; bad `start`, `chunks` or
        options (named in the message).
    TypeError
        `net` not a ConvNetwork, `Y` not real.
    ImportError
        dask is not installed.
    """
    dask = import_dask()
    net = _check_net(net)
    if method != "lstsq":
        raise ValueError(f"method must be 'lstsq'; got {method!r}")
    kwargs = dict(method=method, pool_method=pool_method, pool_options=pool_options,
                  zero_tol=check_positive_float(zero_tol, "zero_tol",
                                                               allow_zero=True),
                  rank_tol=check_rank_tol(rank_tol),
                  max_iter=None if max_iter is None else check_positive_int(max_iter, "max_iter"),
                  n_threads=check_task_threads(n_threads_per_task))
    retries = check_positive_int(retries, "retries", minimum=0)
    progress = check_bool(progress, "progress")
    n_st = len(net.stages)
    if start is None:
        start = n_st - 1
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or not (
            0 <= start < n_st):
        raise ValueError(f"start must be a stage index in [0, {n_st - 1}]; got {start!r}")
    start = int(start)
    kwargs["start"] = start
    Yd = as_sample_chunked(Y, net.stages[start].out_shape, "Y", chunks,
                           default_chunk=DEFAULT_CHUNK_SAMPLES)
    c0 = Yd.chunks[0]
    n_chunks = len(c0)
    sw_blocks = None
    if switches is not None:
        switches = list(switches)
        if len(switches) != n_st:
            raise ValueError(f"switches must have one entry per stage ({n_st}); "
                             f"got {len(switches)}")
        sw_blocks = [[None] * n_st for _ in range(n_chunks)]
        for k, sw in enumerate(switches):
            if sw is None or k > start or net.stages[k].kind != "maxpool":
                continue  # entries the local call does not read
            blocks = _aligned(sw, c0, (net.stages[k].n_out,), f"switches[{k}]").to_delayed()
            for i, blk in enumerate(blocks.ravel()):
                sw_blocks[i][k] = blk
    xt_blocks = [None] * n_chunks
    if x_true is not None:
        xt_blocks = list(_aligned(x_true, c0, net.input_shape, "x_true").to_delayed().ravel())
    client = current_client(client)
    net_arg = _net_arg(dask, client, net)
    tasks = [dask.delayed(_inverse_chunk, pure=True)(
                 net_arg, blk, None if sw_blocks is None else sw_blocks[i], xt_blocks[i], kwargs,
                 b)
             for i, (blk, b) in enumerate(zip(Yd.to_delayed().ravel(), chunk_bounds(c0)))]
    return _merge_inverse(compute(tasks, client, progress, retries))
