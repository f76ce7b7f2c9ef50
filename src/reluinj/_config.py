"""Build and runtime configuration report (``reluinj.show_config``)."""
import platform
import sys

from . import _core, _cykern
from ._threads import effective_n_threads

__all__ = ["show_config", "config_info"]


def config_info():
    """Build and runtime facts as a dict (what :func:`show_config` prints)."""
    from threadpoolctl import threadpool_info

    import numpy
    import scipy

    from . import __version__

    return {
        "reluinj": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "compiler": str(_core.COMPILER),
        "openmp": bool(_core.HAS_OPENMP),
        "openmp_cython": bool(_cykern.HAS_OPENMP),
        "effective_n_threads": effective_n_threads(None),
        "threadpools": [
            {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for info in threadpool_info()
        ],
    }


def show_config(file=None):
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
