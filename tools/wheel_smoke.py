"""Smoke test of an installed reluinj wheel (run by tools/build_wheel.sh and cibuildwheel).

Run it with the interpreter of the environment the wheel was installed into, from a folder
outside the source tree: ``python tools/wheel_smoke.py``. It checks that reluinj is imported
from that environment (not from a checkout), that the compiled kernels agree with closed forms,
that the OpenMP runtime is found (vendored into the wheel on Linux and macOS), and that the
``reluinj`` command runs the demo on the best and on the generic SIMD path. About 10 s.
"""
import os
import shutil
import subprocess
import sys
import sysconfig


def _run(argv, **env):
    res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env},
                         timeout=300, check=False)
    if res.returncode != 0:
        sys.exit(f"FAILED: {' '.join(argv)} (exit {res.returncode})\n{res.stdout}\n{res.stderr}")
    return res.stdout


def main():
    import numpy as np

    import reluinj

    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    where = os.path.realpath(reluinj.__file__)
    if not where.startswith(site):
        sys.exit(f"FAILED: reluinj imported from {where}, not from this environment ({site})")
    est = reluinj.polytope_bias(reluinj.icosahedron())
    assert np.allclose(est.alpha, 5 ** -0.5, rtol=0, atol=1e-12), est.alpha
    W = reluinj.random_frame(40, 5, seed=0)
    X = reluinj.testing.sphere_samples(1000, 5, seed=1)
    res = reluinj.relu_inverse(W, -0.3, reluinj.ReLULayer(W, -0.3)(X))
    assert np.abs(res.x - X).max() < 1e-12 and res.injective.all()
    if not reluinj.openmp_enabled():
        sys.exit("FAILED: the wheel was built without OpenMP")
    exe = shutil.which("reluinj", path=os.path.dirname(sys.executable)) or shutil.which("reluinj")
    if exe is None:
        sys.exit("FAILED: the reluinj command is not installed")
    version = _run([exe, "--version"]).strip()
    assert version == f"reluinj {reluinj.__version__}", version
    info = _run([exe, "info"])
    for simd in ("", "generic"):
        out = _run([exe, "demo"], **({"RELUINJ_SIMD": simd} if simd else {}))
        for expected in ("alpha = 0.4472 for all 12", "(0 failures)", "100.00% certified"):
            if expected not in out:
                sys.exit(f"FAILED: `reluinj demo` (RELUINJ_SIMD={simd or 'unset'}) lacks "
                         f"{expected!r}:\n{out}")
    print(f"wheel smoke test passed: {where}")
    print(info.strip())


if __name__ == "__main__":
    main()
