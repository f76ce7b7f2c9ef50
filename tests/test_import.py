"""``import reluinj`` is fast: SciPy's heavy modules, torch, dask and matplotlib load only when
a function that needs them is called (lazy loading, as scikit-image and SciPy do)."""
import json
import subprocess
import sys

import pytest

# Modules that `import reluinj` must not load. scipy.spatial (Qhull) and scipy.optimize
# (linprog) cost more than NumPy itself; scipy.sparse.linalg comes with the CNN operators.
HEAVY = ("scipy.spatial", "scipy.optimize", "scipy.sparse", "scipy.sparse.linalg", "torch",
         "dask", "distributed", "matplotlib", "skimage", "reluinj.cnn")


def _modules_after(code):
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    return set(json.loads(res.stdout.splitlines()[-1]))


def test_import_reluinj_loads_no_heavy_module():
    loaded = _modules_after("import reluinj")
    assert "reluinj._core" in loaded                  # the probe did import the package
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_names_resolve_on_first_use():
    loaded = _modules_after("import reluinj\nop = reluinj.ConvOperator.random(2, 1, 3, 8, seed=0)\n"
                            "est = reluinj.polytope_bias(reluinj.icosahedron())")
    assert {"reluinj.cnn", "scipy.sparse.linalg", "scipy.spatial"} <= loaded


def test_lazy_names_are_the_subpackage_objects():
    import reluinj
    import reluinj.cnn

    for name in reluinj.cnn.__all__:
        assert getattr(reluinj, name) is getattr(reluinj.cnn, name)
        assert name in dir(reluinj)
    assert reluinj.cnn is sys.modules["reluinj.cnn"]
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        reluinj.not_a_name  # noqa: B018
