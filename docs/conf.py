"""Sphinx configuration of the reluinj documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (needs the ``docs`` extra).
The API reference pages are generated from the packages' ``__all__`` at every build
(``docs/_ext/reluinj_apigen.py``); the gallery runs every ``examples/plot_*.py``.
"""
import os
import pathlib
import sys
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import reluinj  # noqa: E402
import reluinj_apigen  # noqa: E402
import reluinj_md2rst  # noqa: E402

project = "reluinj"
author = "reluinj developers"
copyright = "reluinj developers"
release = reluinj.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "reluinj_mathtext",                   # math as SVG by matplotlib: no JavaScript, works offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "reluinj_apigen",                     # constants show their own docstrings (see the module)
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md", "generated"]
templates_path = ["_templates"]

# --- API reference: generated from __all__ (one page per paper + shared) ---------------------
reluinj_apigen.write_pages(HERE / "api" / "generated")
# the performance page's tables come from bench/README.md (one source of truth)
reluinj_md2rst.convert_file(HERE.parent / "bench" / "README.md",
                            HERE / "generated" / "performance-tables.rst")
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

default_role = "py:obj"
html_math_renderer = "reluinj_mathtext"

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
}
# The CI machine may have no network: intersphinx inventories are optional.
intersphinx_disabled_reftypes = ["*"]
if os.environ.get("RELUINJ_DOCS_INTERSPHINX", "0") != "1":
    intersphinx_mapping = {}

# --- gallery ------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",          # only plot_*.py run at build time
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 1,
}
os.environ.setdefault("RELUINJ_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# --- HTML ---------------------------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401
    html_theme = "pydata_sphinx_theme"
except ImportError:
    html_theme = "alabaster"
    html_theme_options = {
        "description": "Injectivity, maximal bias and inversion of ReLU layers",
        "fixed_sidebar": True,
        "page_width": "1180px",
        "sidebar_width": "240px",
        "show_relbars": True,
    }
html_title = f"reluinj {release}"
html_static_path = ["_static"]
html_css_files = ["reluinj.css"]
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
