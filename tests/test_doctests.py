"""Every docstring example of the installed package runs and prints what it says.

The modules are found by walking the *imported* package (not the source tree), so this works
the same for an editable install and for a wheel, and a module that fails to import fails here.
"""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import reluinj

TORCH_MODULES = {"reluinj.inr._torch"}     # need the optional 'torch' extra


def _modules():
    names = [reluinj.__name__]
    for info in pkgutil.walk_packages(reluinj.__path__, prefix="reluinj."):
        if info.name.rsplit(".", 1)[-1] in {"__main__"}:
            continue
        names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_walk_finds_every_subpackage():
    for name in ("reluinj.frames", "reluinj.inr", "reluinj.cnn", "reluinj._lib", "reluinj._cli"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in TORCH_MODULES:
        pytest.importorskip("torch", reason="needs the 'torch' extra")
    if name == "reluinj.frames.distributed":
        pytest.importorskip("dask", reason="needs the 'dask' extra")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with np.printoptions(legacy=False):
        for test in finder.find(module, name, extraglobs={"np": np}):
            if test.examples and test.filename and "reluinj" in test.filename:
                runner.run(test, clear_globs=True)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed in {name}"
