"""The README is a front door: short, the two commands first, and every example runs as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _text():
    if not README.exists():                      # tests run from an installed wheel elsewhere
        pytest.skip("README.md is not beside the tests")
    return README.read_text(encoding="utf-8")


def test_readme_is_short_and_starts_with_the_two_commands():
    text = _text()
    assert len(text.splitlines()) <= 150
    shell = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert shell[0].strip() == "python -m pip install . && reluinj demo"
    assert shell[1].strip() == 'python -m pip install ".[test]" && python -m pytest'


def test_readme_python_examples_run_as_written():
    blocks = re.findall(r"```python\n(.*?)```", _text(), re.S)
    assert len(blocks) >= 4                      # one per paper, plus the reconstruction
    namespace = {"__name__": "readme"}
    for block in blocks:                         # the blocks continue one another, as a reader runs them
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["layer"].injectivity_rate(namespace["X"]) == 1.0
    assert 2.2 < namespace["reluinj"].condition_number(namespace["G"]) < 2.25
