"""The compiled extensions import and report their configuration."""
import ast
import re
import io
from pathlib import Path

import pytest

import reluinj
from reluinj import _core, _cykern


def test_extensions_import_and_agree_on_openmp():
    assert isinstance(_core.HAS_OPENMP, bool)
    assert _cykern.HAS_OPENMP == _core.HAS_OPENMP
    assert reluinj.openmp_enabled() == _core.HAS_OPENMP


def test_max_threads_positive():
    assert _core.max_threads() >= 1
    assert _cykern.max_threads() >= 1


def test_show_config_prints_required_fields():
    buf = io.StringIO()
    reluinj.show_config(file=buf)
    text = buf.getvalue()
    for key in ("reluinj: ", "compiler: ", "openmp: ", "effective_n_threads: ", "threadpools:"):
        assert key in text
    assert reluinj.__version__ in text


def test_every_public_name_is_importable():
    for name in reluinj.__all__:
        assert getattr(reluinj, name) is not None, name


def _stub_names(module):
    """Top-level functions and variables declared in the module's .pyi stub."""
    tree = ast.parse(Path(module.__file__).with_name(module.__name__.rsplit(".", 1)[1] + ".pyi")
                     .read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    names |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    return names


@pytest.mark.parametrize("module", [_core, _cykern], ids=["_core", "_cykern"])
def test_type_stub_declares_exactly_the_extension_api(module):
    public = {name for name in dir(module) if not name.startswith("_")}
    assert _stub_names(module) == public


def _pyproject():
    path = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not path.exists():                  # tests run from an installed wheel elsewhere
        pytest.skip("pyproject.toml is not beside the tests")
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads(path.read_text(encoding="utf-8")), path.parent


def test_release_metadata():
    """License file, project URLs, one classifier per supported Python, no pinned extra."""
    meta, root = _pyproject()
    project = meta["project"]
    assert project["license"] == "BSD-3-Clause" and project["license-files"] == ["LICENSE"]
    text = (root / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License") and "Neither the name" in text
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])
    minimum = int(project["requires-python"].removeprefix(">=3."))
    versions = sorted(int(c.rsplit(".", 1)[1]) for c in project["classifiers"]
                      if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert versions[0] == minimum and versions == list(range(minimum, versions[-1] + 1))
    for extra, reqs in project["optional-dependencies"].items():
        assert not any("==" in r for r in reqs), f"extra {extra!r} pins a version: {reqs}"


def test_torch_extra_admits_the_installed_torch():
    from packaging.requirements import Requirement

    torch = pytest.importorskip("torch")
    meta, _ = _pyproject()
    (req,) = [Requirement(r) for r in meta["project"]["optional-dependencies"]["torch"]
              if r.startswith("torch")]
    assert req.specifier.contains(torch.__version__.split("+")[0])
    assert not req.specifier.contains("2.0.1") and not req.specifier.contains("3.0")


def test_cibuildwheel_config_repairs_and_tests_every_wheel():
    meta, root = _pyproject()
    cibw = meta["tool"]["cibuildwheel"]
    assert cibw["environment"]["RELUINJ_OPENMP"] == "1"
    assert "tools/wheel_smoke.py" in cibw["test-command"]
    assert (root / "tools" / "wheel_smoke.py").exists()
    linux = cibw["linux"]
    assert "x86_64" in linux["archs"] and "auditwheel repair" in linux["repair-wheel-command"]
    assert linux["manylinux-x86_64-image"].startswith("manylinux")
    assert "libomp" in cibw["macos"]["before-all"]
