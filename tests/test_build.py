"""The compiled extensions import and report their configuration."""
import ast
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
