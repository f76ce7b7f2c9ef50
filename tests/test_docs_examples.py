"""Every ``.. code-block:: python`` of the guide pages runs as written, in a fresh process.

The blocks of one page continue one another (as a reader runs them): they are written, in
order, to one script that runs with ``python page.py`` in an empty folder under a time limit,
so that a guard such as ``if __name__ == "__main__":`` (needed by Dask's worker processes) is
exercised exactly as a user would. The ``>>>`` examples of the docs pages are doctested by
tests/test_docs.py, the docstrings' by tests/test_doctests.py and the README's blocks by
tests/test_readme.py; this file runs only the guide's script-style code blocks.
"""
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
GUIDE = DOCS / "guide"
PAGES = sorted(GUIDE.glob("*.rst")) if GUIDE.is_dir() else []
# Optional extras a page's examples need: the page is skipped, with the reason, without them.
EXTRAS = {"bwrelu.rst": ("torch", "skimage"), "cnn.rst": ("torch",),
          "distributed.rst": ("dask", "distributed", "torch")}
TIME_LIMIT_S = 120   # generous for a loaded 2-core machine; each page runs in seconds

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode)::[ \t]*python3?[ \t]*$")


def code_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives of an rst text, dedented.

    A body starts after the directive's option lines (``:caption: ...``) and the blank line
    that follows them, and ends before the first non-blank line indented no deeper than the
    directive itself or less than the body's first line.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        i += 1
        if not m:
            continue
        base = len(m.group("indent").expandtabs())
        # option lines (":linenos:", ":caption: x") directly under the directive
        while i < len(lines) and re.match(r"^[ \t]+:[\w-]+:", lines[i]):
            i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines):
            break
        first = lines[i]
        indent = len(first) - len(first.lstrip())
        if indent <= base:               # a directive with no body
            continue
        body = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) < indent:
                break
            body.append(line)
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    return blocks


def _env():
    """The environment with relative PYTHONPATH entries made absolute: the scripts run in an
    empty folder, where ``PYTHONPATH=src`` would no longer find the package."""
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else p
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    return env


def _blocks(page):
    return code_blocks(page.read_text(encoding="utf-8"))


def test_the_guide_has_examples():
    if not DOCS.is_dir():
        pytest.skip("docs/ is not beside the tests (tests run from an installed wheel)")
    assert PAGES, f"no guide pages (*.rst) found in {GUIDE}"
    counts = {p.name: len(_blocks(p)) for p in PAGES}
    assert sum(counts.values()) >= 8, f"too few python code blocks in the guide: {counts}"
    for name in EXTRAS:
        assert name in counts, f"EXTRAS names {name}, which is not a guide page"


def test_code_blocks_parser():
    """The parser dedents, skips options, keeps inner blank lines and stops at the dedent."""
    text = textwrap.dedent("""\
        Text.

        .. code-block:: python
           :caption: demo

           import math
           if True:
               x = 1

           print(x)
        After the block.

        - item

          .. code-block:: python

             y = 2
          continued item text
        .. code-block:: bash

           echo no
        .. code-block:: python
        """)
    assert code_blocks(text) == ["import math\nif True:\n    x = 1\n\nprint(x)\n", "y = 2\n"]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_guide_examples_run_as_written(page, tmp_path):
    for module in EXTRAS.get(page.name, ()):
        pytest.importorskip(module)
    # not "<page>.py": a script named distributed.py would shadow the distributed package
    script = tmp_path / f"guide_{page.stem.replace('-', '_')}.py"
    script.write_text("\n\n".join(_blocks(page)), encoding="utf-8")
    try:
        res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page.name}: the examples ran for more than {TIME_LIMIT_S} s")
    assert res.returncode == 0, f"{page.name}:\n{res.stdout}\n{res.stderr}"
