"""Ctrl-C stops long work: SIGINT is sent to a child process in the middle of a long call.

The compiled loops (polytope facet traversal, facet inversion) check for a pending signal
between blocks of work with the GIL released in between; Qhull, which never checks, is waited
for from the main thread. Each test sends SIGINT and requires a KeyboardInterrupt (or the
command line's exit status 130 with one line) well before the work could have finished.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import reluinj

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")

# Generous bound on the time from SIGINT to the child's exit on a loaded 2-core machine; the
# kernels poll every ~0.05 s, and each call below would run for 10 s or more uninterrupted.
MAX_STOP_SECONDS = 5.0

# The child builds a long compiled call from a small hull: the facets of a 16x10 frame
# (509 facets) repeated, so the call is long while the input stays small (~100 MB; the
# inverse case at 200 repetitions fits in cache and ends in 0.4 s, at 2000 it runs 15 s).
CHILD = textwrap.dedent(
    """
    import sys, threading, time
    import numpy as np
    import reluinj
    from reluinj import _core
    from reluinj.frames.hull import facets

    W = reluinj.random_frame(16, 10, seed=2)  # an omnidirectional draw
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    fac = facets(W, merge=True)
    reps = int(sys.argv[2])
    indices = np.tile(fac.indices, reps)
    indptr = np.concatenate([[0], np.cumsum(np.tile(np.diff(fac.indptr), reps))]).astype(np.int64)
    print("started", flush=True)
    t0 = time.perf_counter()
    try:
        if sys.argv[1] == "traversal":
            result = _core.facet_traversal(Wn, indptr, indices, 0, 2)
        else:  # zero outputs: no facet is active, every sample scans every facet
            Y = np.zeros((int(sys.argv[3]), W.shape[0]))
            result = _core.facet_inverse(W, np.zeros(W.shape[0]), Y, indptr, indices, 1e-10, 2)
        print("finished", time.perf_counter() - t0, flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.perf_counter() - t0, threading.active_count(), flush=True)
    """
)


def _interrupt_after_start(argv, ready, delay=0.5):
    """Start argv, wait for the line `ready` on the given stream, SIGINT after `delay` s;
    return (returncode, stdout, stderr, seconds from SIGINT to exit)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stream = proc.stdout if ready[0] == "stdout" else proc.stderr
    first = stream.readline()
    assert ready[1] in first, (first, proc.communicate(timeout=60))
    time.sleep(delay)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 60 s after SIGINT: {out} {err}")
    stopped = time.perf_counter() - t0
    if stream is proc.stdout:
        out = first + out
    else:
        err = first + err
    return proc.returncode, out, err, stopped


@pytest.mark.parametrize("kernel, args", [("traversal", ["400"]), ("inverse", ["2000", "4000"])])
def test_sigint_stops_compiled_loop(kernel, args):
    rc, out, err, stopped = _interrupt_after_start(
        [sys.executable, "-c", CHILD, kernel, *args], ("stdout", "started"))
    assert rc == 0, err
    assert "finished" not in out, f"the call ended before SIGINT; make it longer: {out}"
    words = out.split()
    assert "interrupted" in words, (out, err)
    ran, threads = float(words[words.index("interrupted") + 1]), int(words[-1])
    assert stopped < MAX_STOP_SECONDS, f"{stopped:.2f} s from SIGINT to exit"
    assert ran < 0.5 + MAX_STOP_SECONDS
    assert threads == 1          # no thread left running, no result returned


@pytest.mark.parametrize("command", [["bias", "--method", "polytope"],
                                     ["invert", "--method", "facet"]])
def test_cli_ctrl_c_exits_130_with_one_line(tmp_path, command):
    """A 100x10 layer: Qhull alone runs for minutes; Ctrl-C must end the command at once."""
    W = reluinj.random_frame(100, 10, seed=0)
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "Y.npy", np.maximum(W @ np.ones(10) / np.sqrt(10), 0))
    argv = [sys.executable, "-m", "reluinj", command[0], str(tmp_path / "W.npy")]
    if command[0] == "invert":
        argv.append(str(tmp_path / "Y.npy"))
    rc, out, err, stopped = _interrupt_after_start(argv + command[1:], ("stderr", "note:"))
    assert rc == 130, (out, err)
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"reluinj {command[0]}: interrupted", err
    assert stopped < MAX_STOP_SECONDS, f"{stopped:.2f} s from SIGINT to exit"
