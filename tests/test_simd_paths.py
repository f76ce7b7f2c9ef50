"""The portable and AVX2 kernels, forced with RELUINJ_SIMD on any CPU, against the default path.

Every hand-written SIMD kernel has a portable C++ twin (and some an AVX2 one) that only runs on
CPUs without AVX-512. A fresh interpreter with ``RELUINJ_SIMD=<level>`` computes the same
problems; its results must agree with this process's to rounding, and must themselves be
thread-count independent.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import reluinj

SCRIPT = r"""
import json, sys
import numpy as np
import reluinj
from reluinj import ReLULayer, relu_inverse
from reluinj.testing import sphere_samples

out = {"simd": reluinj._core.simd_level()}
for m, n in [(200, 10), (60, 20)]:
    W = reluinj.random_frame(m, n, seed=n)
    alpha = np.zeros(m)
    Y = ReLULayer(W, alpha)(sphere_samples(203, n, seed=1))
    Y[7, : m // 2] = 0.0
    for method, kw in [("dual", {}), ("cg", {"tol": 1e-13}), ("frame", {"tol": 1e-13, "step": "subframe"})]:
        for nt in (1, 2):
            r = relu_inverse(W, alpha, Y, method=method, n_threads=nt, options=kw)
            out[f"{method}-{m}x{n}-{nt}"] = [r.x.tolist(), r.injective.tolist(), r.residual.tolist()]
    r = relu_inverse(W, alpha, Y.astype(np.float32))
    out[f"dual32-{m}x{n}"] = [r.x.tolist(), r.injective.tolist(), r.residual.tolist()]
for m, n in [(200, 10), (100, 24)]:
    W = reluinj.random_frame(m, n, seed=3)
    for nt in (1, 2):
        est = reluinj.sampled_bias(W, n_samples=5000, seed=4, n_threads=nt)
        out[f"sampled-{m}x{n}-{nt}"] = [est.alpha.tolist(), est.hits.tolist()]
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    for stride in (1, 2):
        op = reluinj.ConvOperator2D(rng.standard_normal((9, 3, 3, 3)).astype(dtype), (21, 23), stride)
        X = rng.standard_normal((2,) + tuple(op.dims)).astype(dtype)
        Z = rng.standard_normal((2,) + tuple(op.dimsd)).astype(dtype)
        for nt in (1, 2):
            key = f"conv-{np.dtype(dtype).name}-{stride}-{nt}"
            out[key] = [op.forward(X, n_threads=nt).tolist(), op.adjoint(Z, n_threads=nt).tolist()]
json.dump(out, sys.stdout)
"""


def _run(level):
    env = dict(os.environ)
    if level is None:
        env.pop("RELUINJ_SIMD", None)
    else:
        env["RELUINJ_SIMD"] = level
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def default_results():
    return _run(None)


@pytest.mark.parametrize("level", ["generic", "avx2"])
def test_forced_simd_level_matches_default_path(level, default_results):
    got = _run(level)
    ref = default_results
    order = reluinj._lib.config.SIMD_LEVELS
    assert order.index(got["simd"]) <= order.index(level)
    for key, value in ref.items():
        if key == "simd":
            continue
        for g, r in zip(got[key], value):
            g, r = np.asarray(g), np.asarray(r)
            if g.dtype == bool:
                np.testing.assert_array_equal(g, r, err_msg=key)
            else:
                tol = 1e-4 if "32" in key else 1e-10
                np.testing.assert_allclose(g, r, rtol=0, atol=tol * max(1.0, np.abs(r).max()),
                                           err_msg=key)
        if key.endswith("-2"):   # thread-count independence within the forced path
            for g, r in zip(got[key], got[key[:-1] + "1"]):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(r), err_msg=key)


def test_unknown_simd_level_rejected_at_import():
    env = dict(os.environ, RELUINJ_SIMD="sse9")
    proc = subprocess.run([sys.executable, "-c", "import reluinj"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "RELUINJ_SIMD must be one of" in proc.stderr


def test_empty_simd_level_means_unset(default_results):
    """``RELUINJ_SIMD=""`` is auto-detection on both the Python and the C++ side."""
    env = dict(os.environ, RELUINJ_SIMD="")
    proc = subprocess.run([sys.executable, "-c", "import reluinj; print(reluinj._core.simd_level())"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == default_results["simd"]
