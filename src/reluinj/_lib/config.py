"""Build and runtime configuration report (``reluinj.show_config``) and the SIMD cap."""
import os
import platform
import sys

from .. import _core, _cykern
from .threads import effective_n_threads

__all__ = ["show_config", "config_info", "SIMD_LEVELS"]

SIMD_LEVELS = ("generic", "avx2", "avx512")
"""Accepted values of the environment variable ``RELUINJ_SIMD``.

It caps the hand-written SIMD kernels at that instruction set (the CPU's own support is the
other cap), e.g. ``RELUINJ_SIMD=generic`` runs the portable C++ paths; read once per process,
when the first kernel runs. Unset or empty means the CPU's widest. Results of each path are deterministic, but differ between paths
in the last bits.
"""


def check_simd_env():
    """Raise ValueError when ``RELUINJ_SIMD`` is set to something other than SIMD_LEVELS.

    An empty value means unset (auto-detect), as in the C++ extension.
    """
    value = os.environ.get("RELUINJ_SIMD")
    if value and value not in SIMD_LEVELS:
        raise ValueError(f"environment variable RELUINJ_SIMD must be one of {SIMD_LEVELS}; "
                         f"got {value!r}")


check_simd_env()


def config_info():
    """Build and runtime facts as a dict (what :func:`show_config` prints)."""
    from threadpoolctl import threadpool_info

    import numpy
    import scipy

    from .. import __version__

    return {
        "reluinj": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "compiler": str(_core.COMPILER),
        "openmp": bool(_core.HAS_OPENMP),
        "openmp_cython": bool(_cykern.HAS_OPENMP),
        "simd": _core.simd_level(),
        "effective_n_threads": effective_n_threads(None),
        "threadpools": [
            {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for info in threadpool_info()
        ],
    }


def show_config(*, file=None):
    """Print version, compiler, OpenMP on/off, effective threads and threadpool info."""
    info = config_info()
    out = file or sys.stdout
    for key, value in info.items():
        if key == "threadpools":
            print("threadpools:", file=out)
            for pool in value:
                desc = ", ".join(f"{k}={v}" for k, v in pool.items())
                print(f"  - {desc}", file=out)
        else:
            print(f"{key}: {value}", file=out)
