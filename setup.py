"""Build the compiled extensions of reluinj (metadata lives in pyproject.toml).

Environment knobs
-----------------
RELUINJ_OPENMP : {"auto", "0", "1"}, default "auto"
    ``auto`` probes the compiler for OpenMP (compile *and* link a tiny program) and builds
    serial with a warning when the probe fails; ``1`` makes a failed probe an error; ``0``
    forces a serial build.
RELUINJ_DEBUG : {"0", "1"}, default "0"
    ``1`` keeps the compiler's debug flag (``-g``); by default it is dropped.
"""
import os
import sys
import tempfile
import textwrap
from glob import glob

import pybind11
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.path.join("csrc", "include")
# setuptools does not scan #includes: list the headers so that editing one rebuilds.
HEADERS = sorted(glob(os.path.join(INCLUDE, "reluinj", "*.hpp"))
                 + glob(os.path.join("csrc", "bindings", "*.hpp")))

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main() {
        int s = 0;
        #pragma omp parallel for reduction(+:s)
        for (int i = 0; i < 8; ++i) s += i;
        return s == 28 ? 0 : 1;
    }
    """
)


def _openmp_flags(compiler_type):
    """Return (compile_args, link_args) that enable OpenMP for this compiler."""
    if sys.platform == "darwin":
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


class BuildExt(build_ext):
    """build_ext with an OpenMP probe, C++17 flags and a parallel compile."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def _probe_openmp(self, compile_args, link_args):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.cpp")
            with open(src, "w") as fh:
                fh.write(OPENMP_PROBE)
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=compile_args)
                self.compiler.link_executable(
                    objs, "probe", output_dir=tmp, extra_postargs=link_args,
                    target_lang="c++",
                )
            except Exception:  # any compiler or linker failure means "no OpenMP"
                return False
        return True

    def build_extensions(self):
        mode = os.environ.get("RELUINJ_OPENMP", "auto").strip().lower()
        if mode not in {"auto", "0", "1"}:
            raise ValueError(f"RELUINJ_OPENMP must be 'auto', '0' or '1'; got {mode!r}")
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            raise RuntimeError(
                "reluinj's kernels are written with GCC/Clang vector extensions, which MSVC does "
                "not have: build with GCC or Clang (e.g. under MSYS2 / MinGW-w64 on Windows)")
        compile_args, link_args = _openmp_flags(ctype)
        enabled = False
        if mode != "0":
            enabled = self._probe_openmp(compile_args, link_args)
            if not enabled and mode == "1":
                raise RuntimeError(
                    "RELUINJ_OPENMP=1 but the compiler cannot compile and link an OpenMP "
                    "program; install an OpenMP runtime or set RELUINJ_OPENMP=auto/0"
                )
            if not enabled:
                print("reluinj: WARNING: OpenMP probe failed; building serial kernels",
                      file=sys.stderr)
        print(f"reluinj: OpenMP {'enabled' if enabled else 'disabled'}")
        # Python's default CFLAGS carry -g: debug info triples the size of the modules and
        # slows the build; set RELUINJ_DEBUG=1 to keep it.
        if os.environ.get("RELUINJ_DEBUG", "0") != "1":
            for attr in ("compiler_so", "compiler_so_cxx"):
                flags = getattr(self.compiler, attr, None)
                if isinstance(flags, list):
                    setattr(self.compiler, attr, [f for f in flags if f != "-g"])
        base = ["-std=c++17", "-O3", "-fno-math-errno", "-fvisibility=hidden", "-Wno-unknown-pragmas"]
        for ext in self.extensions:
            ext.extra_compile_args = base + (compile_args if enabled else [])
            ext.extra_link_args = list(link_args if enabled else [])
        super().build_extensions()


core = Extension(
    "reluinj._core",
    sources=sorted(glob(os.path.join("csrc", "bindings", "*.cpp"))),
    include_dirs=[INCLUDE, pybind11.get_include()],
    depends=HEADERS,
    language="c++",
)

cykern = Extension(
    "reluinj._cykern",
    sources=[os.path.join("csrc", "cython", "_cykern.pyx")],
    include_dirs=[INCLUDE],
    depends=HEADERS + [os.path.join("csrc", "cython", "omp_compat.pxd")],
    language="c++",
)

setup(
    ext_modules=[core]
    + cythonize(
        [cykern],
        include_path=[os.path.join("csrc", "cython")],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
