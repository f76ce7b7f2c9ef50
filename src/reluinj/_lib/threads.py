"""Thread-count resolution shared by every parallel public function."""
import numbers
import os

from .. import _core

__all__ = ["effective_n_threads", "openmp_enabled", "max_n_threads"]

THREADS_PER_CPU = 8
"""An explicit ``n_threads`` may oversubscribe the usable CPUs by at most this factor."""

MIN_THREAD_CAP = 64
"""... but at least this many threads are always allowed (small machines, tests)."""


def openmp_enabled():
    """Return True when the compiled kernels were built with OpenMP."""
    return bool(_core.HAS_OPENMP)


def _available_cpus():
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def max_n_threads():
    """The largest explicit ``n_threads`` accepted: ``max(64, 8 * usable CPUs, omp_get_max_threads())``.

    OpenMP runtimes abort the process (``libgomp: Thread creation failed`` or an out-of-memory
    abort) when asked for thousands of threads, so a larger request is a ``ValueError`` in
    :func:`effective_n_threads`, before it reaches the compiled kernels.
    """
    return max(MIN_THREAD_CAP, THREADS_PER_CPU * _available_cpus(), int(_core.max_threads()))


def effective_n_threads(n_threads=None):
    """Resolve the ``n_threads`` argument of a parallel function to a positive int.

    Parameters
    ----------
    n_threads : int or None, default=None
        ``None`` uses ``omp_get_max_threads()`` — which honours ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits(user_api="openmp")`` — capped by the number of
        usable CPUs (unless ``OMP_NUM_THREADS`` is set) and by ``RELUINJ_NUM_THREADS``.
        A positive int is used as given, up to :func:`max_n_threads` (at least 64, or 8 per
        usable CPU); ``-1`` means all usable cores, ``-2`` all but one, and so on (never fewer
        than 1). ``0`` is invalid.

    Returns
    -------
    n : int
        At least 1; always 1 when the kernels were built without OpenMP.

    Raises
    ------
    TypeError
        If `n_threads` is not an int or None.
    ValueError
        If `n_threads` is 0, larger than :func:`max_n_threads`, or ``RELUINJ_NUM_THREADS`` is
        not a positive integer.
    """
    if n_threads is not None and (
        isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)
    ):
        raise TypeError(f"n_threads must be an int or None; got {type(n_threads).__name__}")
    if n_threads is not None and n_threads == 0:
        raise ValueError("n_threads=0 is invalid; use None, a positive int, or -1 for all cores")
    if n_threads is not None and n_threads > 0:
        cap = max_n_threads()
        if n_threads > cap:
            raise ValueError(
                f"n_threads={int(n_threads)} is too large: at most {cap} threads "
                f"({THREADS_PER_CPU} per usable CPU, at least {MIN_THREAD_CAP}); "
                "use None or -1 for all cores"
            )
    if not _core.HAS_OPENMP:
        return 1
    if n_threads is not None and n_threads > 0:
        return int(n_threads)
    cpus = _available_cpus()
    if n_threads is not None:
        return max(1, cpus + 1 + int(n_threads))
    limit = _core.max_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        limit = min(limit, cpus)
    env = os.environ.get("RELUINJ_NUM_THREADS", "").strip()
    if env:
        try:
            cap = int(env)
        except ValueError:
            raise ValueError(f"RELUINJ_NUM_THREADS must be a positive integer; got {env!r}") from None
        if cap < 1:
            raise ValueError(f"RELUINJ_NUM_THREADS must be a positive integer; got {env!r}")
        limit = min(limit, cap)
    return max(1, int(limit))
