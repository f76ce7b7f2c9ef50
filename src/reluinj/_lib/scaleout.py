"""Dask plumbing shared by the scale-out modules (``reluinj.frames.distributed``,
``reluinj.cnn.distributed``; public home :mod:`reluinj.distributed`).

dask and distributed are imported only when a helper is called, so importing this module
costs nothing without the ``dask`` extra.

Conventions
-----------
- ``client=None`` uses the current ``distributed`` client if there is one, else the
  scheduler named in ``dask.config`` (``dask.config.set(scheduler="synchronous")``), else
  dask's local threaded scheduler (:func:`compute`);
- ``retries`` re-runs a task whose worker died (distributed client only);
- ``progress`` shows dask's progress bar;
- ``n_threads_per_task`` is the OpenMP thread count of the kernels inside each task
  (:func:`check_task_threads`).
"""
import numbers

import numpy as np

from .validation import check_positive_int

__all__ = ["import_dask", "import_distributed", "current_client", "compute", "tree_reduce",
           "check_task_threads", "as_sample_chunked", "chunk_bounds"]


def import_dask():
    """The ``dask`` module (and ``dask.array``); ImportError with the install hint if missing."""
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "reluinj.distributed needs dask: pip install 'reluinj[dask]'"
        ) from err
    return dask


def import_distributed():
    """The ``distributed`` module; ImportError with the install hint if missing."""
    import_dask()
    try:
        import distributed
    except ImportError as err:
        raise ImportError(
            "reluinj.distributed needs dask.distributed: pip install 'reluinj[dask]'"
        ) from err
    return distributed


def current_client(client):
    """`client`, else the current distributed client if there is one, else None."""
    if client is not None:
        return client
    try:
        distributed = import_distributed()
    except ImportError:
        return None
    try:
        return distributed.get_client()
    except ValueError:
        return None


def _local_scheduler(dask):
    """The scheduler set in ``dask.config`` when it is a local one, else ``"threads"``."""
    name = dask.config.get("scheduler", None)
    if isinstance(name, str) and name in ("sync", "synchronous", "single-threaded", "threads",
                                          "threading", "processes", "multiprocessing"):
        return name
    return "threads"


def compute(obj, client, progress, retries):
    """Evaluate a dask collection or delayed object (or a list of them) on `client`.

    Without a client, on the local scheduler named in ``dask.config`` (default
    ``"threads"``).
    """
    dask = import_dask()
    if client is None:
        scheduler = _local_scheduler(dask)
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar():
                return dask.compute(obj, scheduler=scheduler)[0]
        return dask.compute(obj, scheduler=scheduler)[0]
    future = client.compute(obj, retries=retries)   # a list of futures for a list
    if progress:
        import_distributed().progress(future)
    if isinstance(future, (list, tuple)):
        return client.gather(future)
    return future.result()


def tree_reduce(delayed, parts, combine):
    """Pairwise tree of `combine` over delayed parts: depth ceil(log2(len(parts)))."""
    while len(parts) > 1:
        nxt = [delayed(combine)(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def check_task_threads(n_threads_per_task):
    """Validate ``n_threads_per_task`` (a positive int)."""
    return check_positive_int(n_threads_per_task, "n_threads_per_task")


def _check_chunks(chunks, n, name):
    """`chunks` as dask accepts it along the sample axis: None, a positive int or sizes."""
    if chunks is None:
        return None
    if isinstance(chunks, numbers.Integral) and not isinstance(chunks, bool):
        return check_positive_int(chunks, "chunks")
    try:
        sizes = tuple(chunks)
    except TypeError:
        raise TypeError(f"chunks must be None, a positive int or a tuple of chunk sizes along "
                        f"the sample axis of {name}; got {type(chunks).__name__}") from None
    sizes = tuple(check_positive_int(s, "chunks") for s in sizes)
    if sum(sizes) != n:
        raise ValueError(f"chunks must add up to the {n} samples of {name}; got {sizes} "
                         f"(sum {sum(sizes)})")
    return sizes


def as_sample_chunked(X, sample_shape, name, chunks, *, default_chunk):
    """A dask array of shape ``(B, *sample_shape)``, chunked along axis 0 only.

    Parameters
    ----------
    X : numpy.ndarray, dask.array.Array or array_like
        A dask array must already be in one chunk along every axis but the first (a
        ValueError naming `name` says how to rechunk otherwise).
    sample_shape : tuple of int
    name : str
        Argument name for the messages.
    chunks : None, int or tuple of int
        Samples per chunk (or the chunk sizes) along axis 0. None keeps a dask array's
        chunks and cuts other inputs into chunks of `default_chunk` samples.
    default_chunk : int

    Returns
    -------
    X : dask.array.Array

    Raises
    ------
    ValueError
        Wrong shape, no sample, other axes in several chunks, or bad `chunks`.
    TypeError
        Not an array of real numbers.
    """
    import_dask()
    import dask.array as da

    sample_shape = tuple(sample_shape)
    want = f"(B, {', '.join(map(str, sample_shape))})"
    if not isinstance(X, da.Array):
        if not isinstance(X, np.ndarray):
            try:
                X = np.asarray(X)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be array_like of real numbers; {err}") from None
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
        if X.ndim != len(sample_shape) + 1 or X.shape[1:] != sample_shape:
            raise ValueError(f"{name} must have shape {want}; got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name} must contain at least one sample; got shape {X.shape}")
        c = _check_chunks(chunks, X.shape[0], name)
        c = default_chunk if c is None else c
        return da.from_array(X, chunks=(c,) + sample_shape)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    if X.ndim != len(sample_shape) + 1 or tuple(X.shape[1:]) != sample_shape:
        raise ValueError(f"{name} must have shape {want}; got {X.shape}")
    if any(_unknown(s) for s in X.shape):
        raise ValueError(f"{name} must have known chunk sizes; call {name}.compute_chunk_sizes()")
    if X.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one sample; got shape {X.shape}")
    for axis in range(1, X.ndim):
        if len(X.chunks[axis]) != 1:
            raise ValueError(
                f"{name} must be chunked along the sample axis (axis 0) only; axis {axis} is in "
                f"{len(X.chunks[axis])} chunks {X.chunks[axis]}: rechunk with "
                f"{name}.rechunk({{{', '.join(f'{a}: -1' for a in range(1, X.ndim))}}})")
    c = _check_chunks(chunks, X.shape[0], name)
    return X if c is None else X.rechunk({0: c})


def _unknown(v):
    """True for dask's unknown chunk size (NaN)."""
    return isinstance(v, float) and v != v


def chunk_bounds(chunks0):
    """``[(start, stop), ...]`` of the chunks along axis 0 (``X.chunks[0]``)."""
    out, s = [], 0
    for c in chunks0:
        out.append((s, s + int(c)))
        s += int(c)
    return out
