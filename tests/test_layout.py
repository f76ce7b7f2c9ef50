"""The package layout: dependencies point one way and there are no import cycles.

``_lib`` <- the papers (``frames``, ``inr``, ``cnn``) <- ``distributed`` / ``_cli``; no module
imports a private name of another subpackage; no module-level import cycle.
"""
import ast
import importlib.util
import pathlib

import pytest

import reluinj

ROOT = pathlib.Path(reluinj.__file__).parent
PAPERS = ("frames", "inr", "cnn")


def _module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name):
    """A package, a pure-Python module or a compiled extension (found by its ``.pyi`` stub)."""
    stem = ROOT.parent / pathlib.Path(*name.split("."))
    return (stem / "__init__.py").exists() or any(
        stem.with_name(stem.name + ext).exists() for ext in (".py", ".pyi"))


def _imports(path):
    """(imported module, imported names) of every module-level import of reluinj modules."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in tree.body:      # module level only: imports inside functions are lazy
        if isinstance(node, ast.ImportFrom):
            base = (importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                    if node.level else node.module)
            if not base.startswith("reluinj"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((sub if _is_module(sub) else base, alias.name))
        elif isinstance(node, ast.Import):
            out.extend((a.name, None) for a in node.names if a.name.startswith("reluinj"))
    return name, out


MODULES = dict(_imports(p) for p in sorted(ROOT.rglob("*.py")))


COMPILED = {"_core", "_cykern"}


def _subpackage(name):
    """The room a module lives in: a subpackage, a compiled extension, or "" for the top level.

    Top-level single-file modules (``__main__``, ``hull``, ``distributed``, ``testing``) are public
    entry points and count as the top level.
    """
    parts = name.split(".")
    if len(parts) == 1 or (len(parts) == 2 and not (ROOT / parts[1] / "__init__.py").exists()
                           and parts[1] not in COMPILED):
        return ""
    return parts[1]


def test_walk_finds_the_layout():
    """The checks below would pass vacuously if the walk found nothing."""
    rooms = {_subpackage(m) for m in MODULES}
    assert {"", "_lib", "_cli", *PAPERS} <= rooms
    assert ("reluinj._core", "_core") in MODULES["reluinj._lib.config"]


def test_no_module_level_import_cycle():
    graph = {m: {t for t, _ in deps if t in MODULES and t != m} for m, deps in MODULES.items()}
    # A package's __init__ re-exporting its children is not a cycle with them.
    for m in graph:
        graph[m] = {t for t in graph[m] if not t.startswith(m + ".")}
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for t in graph[m]:
            if state.get(t) == "open":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_lib_imports_no_paper_and_papers_import_no_cli():
    for m, deps in MODULES.items():
        for target, _ in deps:
            if _subpackage(m) == "_lib":
                assert _subpackage(target) in {"_lib", *COMPILED}, f"{m} imports {target}"
            if _subpackage(m) in PAPERS:
                assert _subpackage(target) not in {"_cli", "distributed"}, f"{m} imports {target}"


def test_no_private_name_across_subpackages():
    for m, deps in MODULES.items():
        for target, name in deps:
            src, dst = _subpackage(m), _subpackage(target)
            if dst in ("", "_lib", src, *COMPILED) or src == "":
                continue                       # the top level, the core and the extensions may
            private = any(part.startswith("_") for part in target.split(".")[1:])
            assert not private and not (name or "").startswith("_"), \
                f"{m} imports private {target}:{name} of another subpackage"


def test_every_subpackage_name_is_public_at_the_top_level():
    import reluinj.cnn
    import reluinj.frames
    import reluinj.inr

    for sub in (reluinj.frames, reluinj.inr, reluinj.cnn):
        for name in sub.__all__:
            if name in ("hull",):
                continue                       # a module, reached as reluinj.hull
            assert name in reluinj.__all__, f"{sub.__name__}.{name} missing from reluinj.__all__"
            assert getattr(reluinj, name) is getattr(sub, name)
