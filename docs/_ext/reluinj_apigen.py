"""Generate the API reference pages of the reluinj docs from the packages' ``__all__``.

One page per paper (``frames``, ``inr``, ``cnn``) lists every name of that subpackage's
``__all__``; the ``shared`` page lists the rest of ``reluinj.__all__`` (configuration, threads,
exceptions, constants, :mod:`reluinj.testing`). Public modules (``reluinj.hull``,
``reluinj.testing``, ``reluinj.distributed``) get their own section listing their ``__all__``.
A name added to an ``__all__`` therefore appears in the reference at the next build, without
editing any ``.rst`` file. ``tests/test_docs.py`` checks that every name of ``reluinj.__all__``
is listed.

Constants (``reluinj.DENSE_RANK_LIMIT``, ``reluinj.hull.MERGE_TOL``, ...) are re-exported from
the module that defines them, so autodoc, which looks for an attribute docstring in the module
it documents, would show the docstring of ``int`` or ``float`` instead. As a Sphinx extension
(``setup``) this module replaces it by the docstring written under the assignment in the
defining module (:func:`constant_docs`); a public constant without one is a build warning.
Stub pages of names that left the ``__all__`` lists are removed by :func:`write_pages`.
"""
import importlib
import importlib.util
import inspect
import pathlib
import types

#: (page, title, subpackage, one-line description)
PAPERS = [
    ("frames", "Frame theory of ReLU layers", "reluinj.frames",
     "Haider, Ehler & Balazs, *Injectivity of ReLU-layers: Tools from Frame Theory*. "
     "See the :doc:`user guide </guide/frames>`."),
    ("inr", "BW-ReLU activations and implicit neural representations", "reluinj.inr",
     "Shenouda, Zhou & Nowak, *ReLUs Are Sufficient for Learning Implicit Neural "
     "Representations* (ICML 2024). See the :doc:`user guide </guide/bwrelu>`."),
    ("cnn", "Invertibility of convolutional layers", "reluinj.cnn",
     "Gilbert, Zhang, Lee, Zhang & Lee, *Towards understanding the invertibility of "
     "convolutional neural networks* (IJCAI 2017). See the :doc:`user guide </guide/cnn>`."),
]
#: public modules documented as a section of a page, with the page they belong to
MODULES = {"reluinj.hull": "frames", "reluinj.distributed": "shared",
           "reluinj.testing": "shared"}
#: optional dependency a module needs before it can be imported (else it is listed unimported)
OPTIONAL = {"reluinj.distributed": "dask", "BWReLU": "torch", "INR": "torch"}
#: names of reluinj.__all__ that are not objects with their own page
SUBPACKAGES = {"frames", "inr", "cnn"}


def _kind(obj):
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return "exception"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _module_all(modname):
    mod = importlib.import_module(modname)
    return list(mod.__all__)


def _torch_names(modname):
    """Lazily resolved torch classes of a subpackage (documented only when torch is installed)."""
    mod = importlib.import_module(modname)
    names = list(getattr(mod, "_TORCH_CLASSES", ()))
    if importlib.util.find_spec("torch") is None:
        return []
    return names


def sections():
    """The reference as ``{page: [(heading, currentmodule, [names...], kinds), ...]}``.

    Every object is documented under its top-level name ``reluinj.NAME`` (all public names are
    re-exported there), except the members of a public module (``reluinj.hull.facets``).
    """
    import reluinj

    top = list(reluinj.__all__)
    pages = {page: [] for page, *_ in PAPERS}
    pages["shared"] = []
    claimed = set(SUBPACKAGES) | {"__version__"}  # documented by the page headers
    for page, _title, modname, _desc in PAPERS:
        names = [n for n in _module_all(modname) if n not in MODULES and
                 f"reluinj.{n}" not in MODULES]
        for extra in _torch_names(modname):
            if extra not in names:
                names.append(extra)
        groups = {}
        for n in names:
            groups.setdefault(_kind(getattr(reluinj, n)), []).append(n)
            claimed.add(n)
        for kind, heading in [("class", "Classes"), ("function", "Functions"),
                              ("exception", "Exceptions"), ("data", "Constants")]:
            if groups.get(kind):
                pages[page].append((heading, "reluinj", groups[kind], kind))
    for modname, page in MODULES.items():
        short = modname.split(".", 1)[1]
        claimed.add(short)
        dep = OPTIONAL.get(modname)
        if dep and importlib.util.find_spec(dep) is None:
            continue
        mod = importlib.import_module(modname)
        members = list(mod.__all__)
        pages[page].append((f"Module ``{modname}``", modname, members, "module"))
    rest = [n for n in top if n not in claimed]
    groups = {}
    for n in rest:
        groups.setdefault(_kind(getattr(reluinj, n)), []).append(n)
    order = [("function", "Configuration and threads"), ("class", "Classes"),
             ("exception", "Exceptions and warnings"), ("data", "Constants")]
    shared = [(heading, "reluinj", groups[kind], kind) for kind, heading in order
              if groups.get(kind)]
    pages["shared"] = shared + pages["shared"]
    return pages


def documented_names():
    """Fully qualified names listed in the generated reference (for the tests)."""
    out = {f"reluinj.{p}" for p in SUBPACKAGES} | {"reluinj.__version__"}
    for entries in sections().values():
        for _heading, module, names, _kind in entries:
            out.update(f"{module}.{n}" for n in names)
    return out


def public_constants():
    """Qualified names of the constants in the reference, e.g. ``reluinj.DEFAULT_RANK_TOL``."""
    out = []
    for entries in sections().values():
        for _heading, module, names, kind in entries:
            mod = importlib.import_module(module)
            out += [f"{module}.{n}" for n in names
                    if (kind == "data" or kind == "module") and _kind(getattr(mod, n)) == "data"]
    return out


def _source_modules():
    """(module name, path) of every ``.py`` file of the installed reluinj package."""
    import reluinj

    root = pathlib.Path(reluinj.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def constant_docs():
    """``{qualified name: docstring lines}`` for every public constant that has a docstring.

    The docstring is the string literal (or ``#:`` comment) under the assignment in the module
    that defines the constant, found by Sphinx's source analyzer in every module of the
    package. A name documented in two modules with different text is an error.
    """
    from sphinx.pycode import ModuleAnalyzer

    docs = {}
    for modname, path in _source_modules():
        analyzer = ModuleAnalyzer.for_file(str(path), modname)
        analyzer.analyze()
        for (scope, name), lines in analyzer.attr_docs.items():
            if scope == "" and any(line.strip() for line in lines):
                docs.setdefault(name, {})[modname] = list(lines)
    out = {}
    for qualname in public_constants():
        found = docs.get(qualname.rsplit(".", 1)[1], {})
        texts = {tuple(lines) for lines in found.values()}
        if len(texts) > 1:
            raise RuntimeError(f"{qualname}: documented differently in {sorted(found)}")
        if texts:
            out[qualname] = list(texts.pop())
    return out


def _page_text(page, title, intro, entries):
    lines = [f".. _api-{page}:", "", title, "=" * len(title), ""]
    if page in SUBPACKAGES:
        lines += [f".. automodule:: reluinj.{page}", "   :no-members:", ""]
    lines += [intro, ""]
    if page == "shared":
        lines += [".. currentmodule:: reluinj", "", ".. data:: __version__", "",
                  "   The version string of the installed package, e.g. ``'0.1.0'``.", ""]
    for heading, module, names, kind in entries:
        lines += [heading, "-" * len(heading), ""]
        if kind == "module":
            lines += [f".. automodule:: {module}", "   :no-members:", "   :no-index:", ""]
        lines += [f".. currentmodule:: {module}", "", ".. autosummary::",
                  "   :toctree: stubs", "   :nosignatures:", ""]
        lines += [f"   {n}" for n in names] + [""]
    return "\n".join(lines)


def write_pages(outdir):
    """Write ``frames.rst``, ``inr.rst``, ``cnn.rst`` and ``shared.rst`` into *outdir*."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pages = sections()
    meta = {page: (title, desc) for page, title, _m, desc in PAPERS}
    meta["shared"] = ("Shared: configuration, threads, exceptions, scale-out, testing helpers",
                      "Names of ``reluinj`` used by all three papers. The package version is "
                      "``reluinj.__version__``; the subpackages ``reluinj.frames``, "
                      "``reluinj.inr`` and ``reluinj.cnn`` re-export the names of their pages.")
    for page, entries in pages.items():
        title, desc = meta[page]
        text = _page_text(page, title, desc, entries)
        path = outdir / f"{page}.rst"
        if not path.exists() or path.read_text() != text:  # keep mtimes: incremental builds
            path.write_text(text)
    stubs = outdir / "stubs"                # autosummary writes them, but never removes one
    if stubs.is_dir():
        keep = documented_names()
        for path in stubs.glob("*.rst"):
            if path.stem not in keep:
                path.unlink()
    return sorted(pages)


_CONSTANTS = {}   # filled at builder-inited: {qualified name: docstring lines or None}


def _constant_docstring(app, what, name, obj, options, lines):
    """autodoc-process-docstring: a public constant shows its own docstring, not its type's."""
    if what != "data" or name not in _CONSTANTS:
        return
    doc = _CONSTANTS[name]
    if doc is None:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(
            "public constant %s has no docstring under its assignment", name)
        lines[:] = []
    else:
        lines[:] = list(doc) + [""]


def _collect_constants(app):
    docs = constant_docs()
    _CONSTANTS.clear()
    _CONSTANTS.update({name: docs.get(name) for name in public_constants()})


def setup(app):
    app.connect("builder-inited", _collect_constants)
    app.connect("autodoc-process-docstring", _constant_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
