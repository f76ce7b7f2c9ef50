"""Render the docs' math to SVG with matplotlib's mathtext, so pages need no JavaScript or network.

MathJax loads from a CDN and shows raw TeX offline; LaTeX (for ``sphinx.ext.imgmath``) is not a
dependency of the ``docs`` extra. matplotlib is, and its mathtext covers the TeX subset used here
(fractions, Greek, ``\\mathbb``, ``\\langle``, sub/superscripts). A formula mathtext cannot parse
fails the build with its error, like any other warning under ``-W``.
"""
import hashlib
import pathlib

from docutils import nodes

_SIZE = {"inline": 12.5, "block": 14.0}
#: TeX spellings mathtext lacks, and their mathtext equivalents
_ALIASES = [(r"\ge ", r"\geq "), (r"\le ", r"\leq "), (r"\tfrac", r"\frac"),
            (r"\dfrac", r"\frac"), (r"\ne ", r"\neq ")]


def _render(self, latex, kind):
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    latex = " ".join(latex.split())
    tex = latex + " "
    for old, new in _ALIASES:
        tex = tex.replace(old, new)
    key = hashlib.sha1(f"{kind}:{latex}".encode()).hexdigest()[:20]
    outdir = pathlib.Path(self.builder.outdir) / "_images" / "math"
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{key}.svg"
    with matplotlib.rc_context({"svg.fonttype": "path", "mathtext.fontset": "dejavuserif"}):
        try:
            depth = mathtext.math_to_image(f"${tex.strip()}$", str(path),
                                           prop=FontProperties(size=_SIZE[kind]), format="svg")
        except ValueError as err:
            raise ValueError(f"mathtext cannot render {latex!r}: {err}") from None
    uri = self.builder.get_relative_uri(self.builder.current_docname, "index")
    prefix = uri.rsplit("/", 1)[0] + "/" if "/" in uri else ""
    return f"{prefix}_images/math/{key}.svg", depth


def visit_math(self, node):
    src, depth = _render(self, node.astext(), "inline")
    alt = self.encode(node.astext())
    self.body.append(f'<img class="math" src="{src}" alt="{alt}" '
                     f'style="vertical-align: -{depth:.1f}pt"/>')
    raise nodes.SkipNode


def visit_displaymath(self, node):
    src, _depth = _render(self, node.astext(), "block")
    alt = self.encode(node.astext())
    self.body.append(f'<div class="math"><img src="{src}" alt="{alt}"/></div>')
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("reluinj_mathtext", (visit_math, None),
                               (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
