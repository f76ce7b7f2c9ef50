"""The command-line interface: `reluinj demo`, `reluinj info`, `python -m reluinj`."""
import subprocess
import sys

import pytest

from reluinj._cli.main import main


def test_demo_prints_report(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "icosahedron 12x3" in out and "random 40x5" in out
    assert "A=4.0000 B=4.0000" in out  # closed form of the icosahedron
    assert "margin 0.0833" in out     # 1/12
    assert "injective at bias 0: 100.00%" in out


def test_info_prints_config(capsys):
    assert main(["info"]) == 0
    assert "openmp:" in capsys.readouterr().out


def test_unknown_command_exits_nonzero():
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2


def test_python_dash_m():
    res = subprocess.run([sys.executable, "-m", "reluinj", "info"], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert "effective_n_threads:" in res.stdout


def test_console_script_entry_point_resolves():
    """The `reluinj` command installed by pip must point at the real main()."""
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "reluinj"]
    assert ep.load() is main


def test_closed_pipe_is_not_an_error():
    """``reluinj demo | head -1``: the reader leaves early; no traceback, no error message, rc 0."""
    proc = subprocess.Popen([sys.executable, "-m", "reluinj", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()                      # as head does after its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Broken pipe" not in err and "Traceback" not in err, err
