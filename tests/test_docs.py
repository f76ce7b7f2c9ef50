"""The documentation covers the public API, and its examples run.

* every name of ``reluinj.__all__`` (and of each public module's ``__all__``) is listed in the
  generated API reference, on the page of its paper; the check parses the written ``.rst``
  pages, independently of the generator's own bookkeeping;
* every listed name gets its own stub page, and every public constant shows the docstring
  under its assignment (not the one of ``int`` or ``float``); stale stub pages are removed;
* the ``>>>`` examples of the narrative pages (``docs/*.rst``, ``docs/guide/*.rst``) run and
  print what they say.

The full Sphinx build (``python -m sphinx -W -b html docs docs/_build/html``, with the gallery)
runs in ``.ci/run``; it is too slow for the unit tests.
"""
import doctest
import importlib
import pathlib
import re
import sys

import pytest

import reluinj

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _apigen():
    if not (DOCS / "conf.py").exists():          # tests run from an installed wheel elsewhere
        pytest.skip("docs/ is not beside the tests")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module("reluinj_apigen")
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def _listed(pages_dir):
    """{page: set of fully qualified names} read from the autosummary blocks of the pages."""
    out = {}
    for path in sorted(pathlib.Path(pages_dir).glob("*.rst")):
        names, module, in_block = set(), None, False
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\.\. currentmodule:: (\S+)", line)
            if m:
                module = m.group(1)
            m = re.match(r"\.\. (?:automodule|data):: (\S+)", line)
            if m:
                name = m.group(1)
                names.add(name if name.startswith("reluinj") else f"{module}.{name}")
            if line.startswith(".. autosummary::"):
                in_block = True
                continue
            if in_block:
                if line.startswith("   :") or not line.strip():
                    continue
                if line.startswith("   "):
                    names.add(f"{module}.{line.strip()}")
                else:
                    in_block = False
        out[path.stem] = names
    return out


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    _apigen().write_pages(out)
    return _listed(out)


def test_every_public_name_is_in_the_api_reference(listed):
    everything = set().union(*listed.values())
    missing = [n for n in reluinj.__all__ if f"reluinj.{n}" not in everything]
    assert not missing, f"names of reluinj.__all__ missing from the API reference: {missing}"


def test_every_public_module_member_is_in_the_api_reference(listed):
    everything = set().union(*listed.values())
    modules = ["reluinj.hull", "reluinj.testing"]
    if importlib.util.find_spec("dask") is not None:
        modules.append("reluinj.distributed")
    for modname in modules:
        mod = importlib.import_module(modname)
        missing = [n for n in mod.__all__ if f"{modname}.{n}" not in everything]
        assert not missing, f"{modname}: {missing} missing from the API reference"


@pytest.mark.parametrize("paper", ["frames", "inr", "cnn"])
def test_each_paper_page_lists_its_subpackage(listed, paper):
    sub = importlib.import_module(f"reluinj.{paper}")
    page = listed[paper]
    for name in sub.__all__:
        if isinstance(getattr(sub, name), type(reluinj)):   # a module: its own section
            assert any(n.startswith(f"reluinj.{name}.") for n in page), name
        else:
            assert f"reluinj.{name}" in page, f"reluinj.{name} is not on the {paper} page"


def test_every_listed_name_exists(listed):
    for page, names in listed.items():
        for qualname in names:
            modname, _, attr = qualname.rpartition(".")
            obj = importlib.import_module(modname)
            assert hasattr(obj, attr), f"{qualname} (page {page}) does not exist"


def test_a_name_missing_from_the_reference_is_caught(tmp_path):
    """The parser sees a name removed from a page (the check above can fail)."""
    _apigen().write_pages(tmp_path)
    page = tmp_path / "frames.rst"
    page.write_text(page.read_text().replace("   polytope_bias\n", ""))
    everything = set().union(*_listed(tmp_path).values())
    assert "reluinj.polytope_bias" not in everything
    assert "reluinj.sampled_bias" in everything


def test_every_listed_name_gets_its_own_page(tmp_path):
    """Each autosummary block writes a stub page per name (``:toctree:``); constants included."""
    _apigen().write_pages(tmp_path)
    for path in sorted(tmp_path.glob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.startswith(".. autosummary::"):
                options = []
                for opt in lines[i + 1:]:
                    if not opt.startswith("   :"):
                        break
                    options.append(opt.strip())
                assert any(o.startswith(":toctree:") for o in options), (path.name, i + 1)


def test_every_public_constant_has_its_own_docstring():
    """Constants are shown with the docstring under their assignment, not int's or float's."""
    apigen = _apigen()
    constants = apigen.public_constants()
    assert {"reluinj.DEFAULT_RANK_TOL", "reluinj.DENSE_RANK_LIMIT"} <= set(constants)
    for name in reluinj.__all__:
        obj = getattr(reluinj, name)
        if isinstance(obj, (int, float)) and not isinstance(obj, bool):
            assert f"reluinj.{name}" in constants, name
    docs = apigen.constant_docs()
    missing = [n for n in constants if n not in docs]
    assert not missing, f"public constants without a docstring: {missing}"
    for qualname in constants:
        modname, _, attr = qualname.rpartition(".")
        obj = getattr(importlib.import_module(modname), attr)
        text = "\n".join(docs[qualname])
        assert text.strip() and text.strip() != (type(obj).__doc__ or "").strip(), qualname
    # the Sphinx hook puts that docstring in place of the one autodoc found
    apigen._collect_constants(None)
    lines = [int.__doc__]
    apigen._constant_docstring(None, "data", "reluinj.DENSE_RANK_LIMIT", 4096, {}, lines)
    assert lines[:-1] == docs["reluinj.DENSE_RANK_LIMIT"]


def test_stale_stub_pages_are_removed(tmp_path):
    """A stub of a name that left ``__all__`` is deleted (it would be an orphan page)."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "reluinj.no_longer_public.rst").write_text("stale\n")
    (stubs / "reluinj.sampled_bias.rst").write_text("kept\n")
    _apigen().write_pages(tmp_path)
    assert not (stubs / "reluinj.no_longer_public.rst").exists()
    assert (stubs / "reluinj.sampled_bias.rst").read_text() == "kept\n"


EXAMPLES = DOCS.parent / "examples"


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")) if EXAMPLES.exists() else [],
                         ids=lambda p: p.name)
def test_example_scripts_compile(script):
    """sphinx-gallery shows a script that does not parse as a "SyntaxError" page, without
    failing the build; the scripts not run at build time are checked nowhere else."""
    compile(script.read_text(encoding="utf-8"), str(script), "exec")


def _pages_with_examples():
    if not DOCS.exists():
        return []
    return sorted(p for p in list(DOCS.glob("*.rst")) + list(DOCS.glob("guide/*.rst"))
                  if re.search(r"^\s*>>> ", p.read_text(encoding="utf-8"), re.M))


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.name)
def test_docs_page_examples(page):
    result = doctest.testfile(str(page), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) of {page.name} failed"
