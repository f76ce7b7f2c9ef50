"""Every fenced Python block of the guide pages runs as written, in a fresh process.

The blocks of one page continue one another (as a reader runs them): they are written, in
order, to one script that runs with ``python page.py`` in an empty folder under a time limit,
so that a guard such as ``if __name__ == "__main__":`` (needed by Dask's worker processes) is
exercised exactly as a user would. The README's blocks are run by tests/test_readme.py.
"""
import pathlib
import re
import subprocess
import sys

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md")) if GUIDE.is_dir() else []
# Optional extras a page's examples need: the page is skipped, with the reason, without them.
EXTRAS = {"bwrelu.md": ("torch", "skimage"), "distributed.md": ("dask", "distributed")}
TIME_LIMIT_S = 120   # generous for a loaded 2-core machine; each page runs in seconds


def _blocks(page):
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)


def test_the_guide_has_examples():
    if not PAGES:
        pytest.skip("docs/guide is not beside the tests")
    assert sum(len(_blocks(p)) for p in PAGES) >= 6


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_guide_examples_run_as_written(page, tmp_path):
    for module in EXTRAS.get(page.name, ()):
        pytest.importorskip(module)
    script = tmp_path / page.name.replace(".md", ".py")
    script.write_text("\n\n".join(_blocks(page)), encoding="utf-8")
    try:
        res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page.name}: the examples ran for more than {TIME_LIMIT_S} s")
    assert res.returncode == 0, f"{page.name}:\n{res.stdout}\n{res.stderr}"
