"""Ctrl-C during a long call into a library that never checks for signals (Qhull).

reluinj's own compiled loops check for a pending signal between blocks of work (``run_blocks``
in ``csrc/include/reluinj/parallel.hpp``). SciPy's Qhull does not: it releases the GIL and runs
to the end, so a KeyboardInterrupt would only be raised once it returns (minutes later for a
large hull). :func:`call_interruptibly` runs such a call in a worker thread and waits for it in
short slices, so that the main thread sees Ctrl-C within ``poll_seconds``.
"""
import threading

__all__ = ["call_interruptibly"]


def call_interruptibly(func, *args, poll_seconds=0.05, **kwargs):
    """Return ``func(*args, **kwargs)``, raising KeyboardInterrupt promptly on Ctrl-C.

    Parameters
    ----------
    func : callable
        A call that releases the GIL while it works (otherwise waiting gains nothing).
    poll_seconds : float, default=0.05
        How often the main thread wakes up to let a pending signal raise.

    Notes
    -----
    Off the main thread (where Python never delivers signals) `func` is called directly. When
    the wait is interrupted, the KeyboardInterrupt propagates at once and the result is
    discarded; the worker thread (a daemon) cannot be cancelled and finishes the call in the
    background, or is ended with the process (the command line exits at once).
    """
    if threading.current_thread() is not threading.main_thread():
        return func(*args, **kwargs)
    box = {}

    def target():
        try:
            box["value"] = func(*args, **kwargs)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, name="reluinj-interruptible", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(poll_seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]
