"""The compiled extensions import and report their configuration."""
import io

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
