"""The command-line interface: `reluinj demo`, `reluinj info`, `python -m reluinj`."""
import re
import subprocess
import sys

import numpy as np
import pytest

import reluinj
from reluinj._cli.main import main


def _brute_force_non_injective_share(W, alpha, n_points, seed):
    """Share of unit-sphere points whose active rows (W x > alpha) do not span R^n: an
    independent oracle (batched SVD in NumPy, no reluinj kernel)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_points, W.shape[1]))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    active = (X @ W.T) > alpha
    s = np.linalg.svd(W[None, :, :] * active[:, :, None], compute_uv=False)
    return float(np.mean(s[:, -1] <= 1e-9 * s[:, 0]))


def test_demo_tells_the_story(capsys):
    """The demo's claims checked against closed forms and independent computations."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "icosahedron" in out and "injective on the whole unit sphere" in out
    # the proof: 1/sqrt(5) for every neuron of the icosahedron layer (closed form)
    m = re.search(r"alpha = ([\d.]+) for all 12 \(the exact value is 1/sqrt\(5\) = ([\d.]+)\)", out)
    assert m and float(m.group(1)) == float(m.group(2)) == round(5 ** -0.5, 4), out
    assert "At bias 0: 100.00%" in out and "100.00% certified" in out
    # the injectivity radius next to the bias: inf at bias 0, 0 at bias 0.1 (issue 18)
    m = re.search(r"At bias 0 its radius is (\S+) \(certified: every ball\); at bias 0.1 it is (\S+),", out)
    assert m and float(m.group(1)) == np.inf and float(m.group(2)) == 0.0, out
    W = reluinj.icosahedron()
    X = reluinj.testing.sphere_samples(2000, 3, seed=5) * np.logspace(-6, 6, 2000)[:, None]
    assert np.all(np.linalg.matrix_rank(np.stack([W * (W @ x >= 0)[:, None] for x in X])) == 3)
    short = reluinj.testing.sphere_samples(200, 3, seed=6) * 0.0999  # |<x, phi_i>| < 0.1
    assert not np.any(short @ W.T - 0.1 >= 0)
    # the input comes back to rounding error
    err = float(re.search(r"with max error ([\d.e+-]+)", out).group(1))
    assert err < 1e-14 and "(0 failures)" in out
    # past the limit: the printed share matches a brute-force count on fresh points
    share = float(re.search(r"At bias 0.6 \(above the proven 0.4472\), ([\d.]+)%", out).group(1))
    oracle = _brute_force_non_injective_share(reluinj.icosahedron(), 0.6, 20_000, seed=99)
    sigma = np.sqrt(oracle * (1 - oracle) / 20_000) + np.sqrt(oracle * (1 - oracle) / 100_000)
    assert abs(share / 100 - oracle) < 5 * sigma + 1e-3, (share, oracle)
    # every section ends in a plain-words conclusion
    assert out.count("=>") >= 5
    assert "BW-ReLU features" in out and "2.247" in out  # bounded Gram conditioning (Thm 3.5)


def test_demo_sections_are_listed_in_order():
    from reluinj._cli.demo import SECTIONS

    names = [f.__name__ for f in SECTIONS]
    assert names[:5] == ["_section_layer", "_section_polytope_bias", "_section_sampled_bias",
                         "_section_reconstruction", "_section_too_large"]


def test_info_prints_config(capsys):
    assert main(["info"]) == 0
    assert "openmp:" in capsys.readouterr().out


def test_unknown_command_exits_2(capsys):
    assert main(["nonsense"]) == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


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


# -- one grammar ---------------------------------------------------------------------------

def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"reluinj {reluinj.__version__}"


@pytest.mark.parametrize("command", ["bias", "invert", "rip"])
def test_n_threads_is_the_flag_and_threads_a_hidden_alias(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--n-threads N" in text and "--threads" not in text


def test_threads_alias_and_n_threads_agree(tmp_path, capsys):
    np.save(tmp_path / "W.npy", reluinj.random_frame(20, 4, seed=0))
    outs = []
    for flag in ("--n-threads", "--threads"):
        assert main(["bias", str(tmp_path / "W.npy"), "--samples", "2000", flag, "1"]) == 0
        outs.append(capsys.readouterr().out.splitlines()[1])  # the alpha line
    assert outs[0] == outs[1]


def test_zero_threads_is_explained(tmp_path, capsys):
    np.save(tmp_path / "W.npy", np.eye(3))
    assert main(["bias", str(tmp_path / "W.npy"), "--n-threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "--n-threads" in err and "-1 for all cores" in err and "None" not in err


def test_method_choices_are_described(capsys):
    assert main(["bias", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "sampled: most-correlated-basis estimate" in text and "polytope: exact bias" in text
    assert main(["invert", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("dual:", "facet:", "frame:", "cg:"):
        assert name in text


def test_errors_name_the_cli_flag(tmp_path, capsys):
    np.save(tmp_path / "F.npy", np.ones((2, 1, 4)) / 2)
    argv = ["rip", "--filters", str(tmp_path / "F.npy"), "--input-length", "9", "--stride", "2",
            "--k", "1", "--samples", "10"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--allow-truncation" in err and "allow_truncation" not in err
    assert "Traceback" not in err
    assert main(argv + ["--allow-truncation"]) == 0


def test_npz_checked_before_the_work(tmp_path, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the estimate ran before the input was checked")

    monkeypatch.setattr(reluinj, "sampled_bias", must_not_run)
    W = reluinj.random_frame(40, 5, seed=0)
    np.savez(tmp_path / "layer.npz", W=W, b=np.zeros(7))
    assert main(["bias", str(tmp_path / "layer.npz")]) == 2
    err = capsys.readouterr().err
    assert "'b' must be a scalar or have one entry per row of W, shape (40,); got shape (7,)" in err
    np.savez(tmp_path / "nan.npz", W=np.full((4, 2), np.nan))
    assert main(["bias", str(tmp_path / "nan.npz")]) == 2
    assert "NaN or inf" in capsys.readouterr().err
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "Y.npy", np.ones((3, 39)))
    assert main(["invert", str(tmp_path / "W.npy"), str(tmp_path / "Y.npy")]) == 2
    assert "expected shape (40,) or (B, 40)" in capsys.readouterr().err


def test_out_reports_the_real_file_and_refuses_to_overwrite(tmp_path, capsys):
    W = reluinj.random_frame(12, 3, seed=0)
    np.save(tmp_path / "W.npy", W)
    X = reluinj.testing.sphere_samples(5, 3, seed=1)
    np.save(tmp_path / "Y.npy", np.maximum(X @ W.T, 0))
    argv = ["invert", str(tmp_path / "W.npy"), str(tmp_path / "Y.npy"), "--out",
            str(tmp_path / "xout")]
    assert main(argv) == 0
    assert f"-> {tmp_path / 'xout.npy'}" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(tmp_path / "xout.npy"), X, atol=1e-12)
    assert main(argv) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(argv + ["--force"]) == 0
    bias = ["bias", str(tmp_path / "W.npy"), "--samples", "1000", "--out", str(tmp_path / "a")]
    assert main(bias) == 0 and f"alpha written to {tmp_path / 'a.npy'}" in capsys.readouterr().out
    assert main(bias) == 2


def test_progress_without_scheduler(tmp_path, capsys):
    pytest.importorskip("tqdm")
    np.save(tmp_path / "W.npy", reluinj.random_frame(12, 3, seed=0))
    assert main(["bias", str(tmp_path / "W.npy"), "--samples", "3000", "--progress"]) == 0
    assert "3000/3000" in capsys.readouterr().err


def test_margin_is_subtracted_from_the_sampled_estimate(tmp_path, capsys):
    W = reluinj.random_frame(12, 3, seed=0)
    np.save(tmp_path / "W.npy", W)
    base = ["bias", str(tmp_path / "W.npy"), "--samples", "2000", "--seed", "3"]
    assert main(base + ["--out", str(tmp_path / "a0.npy")]) == 0
    assert main(base + ["--margin", "0.05", "--out", str(tmp_path / "a1.npy")]) == 0
    assert "safety margin subtracted from every finite alpha: 0.05" in capsys.readouterr().out
    # the oracle: the same estimate from the library, minus the margin
    want = reluinj.sampled_bias(W, n_samples=2000, seed=3).alpha - 0.05
    np.testing.assert_allclose(np.load(tmp_path / "a1.npy"), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.load(tmp_path / "a0.npy") - 0.05, want, rtol=0, atol=1e-15)
    assert main(base + ["--margin", "covering", "--out", str(tmp_path / "a2.npy")]) == 0
    est = reluinj.sampled_bias(W, n_samples=2000, seed=3)
    np.testing.assert_allclose(np.load(tmp_path / "a2.npy"), est.alpha - est.sampling_error,
                               rtol=0, atol=1e-15)
    capsys.readouterr()
    for bad in (["--margin", "-1"], ["--margin", "nan"], ["--margin", "x"]):
        assert main(base + bad) == 2
        assert "argument --margin" in capsys.readouterr().err
    assert main(base + ["--method", "polytope", "--margin", "0.1"]) == 2
    assert "--margin" in capsys.readouterr().err


def test_max_facets_limits_the_polytope_method(tmp_path, capsys):
    W = reluinj.random_frame(40, 5, seed=0)
    np.save(tmp_path / "W.npy", W)
    n_facets = reluinj.hull.facets(W, merge=False).n_facets
    cmd = ["bias", str(tmp_path / "W.npy"), "--method", "polytope"]
    assert main(cmd + ["--max-facets", str(n_facets // 4)]) == 2
    err = capsys.readouterr().err
    assert "--max-facets" in err and "Traceback" not in err
    assert main(cmd + ["--max-facets", "0", "--out", str(tmp_path / "a.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), reluinj.polytope_bias(W).alpha)
    assert main(["bias", str(tmp_path / "W.npy"), "--max-facets", "10"]) == 2
    assert "--method polytope" in capsys.readouterr().err


def test_ball_explains_the_zero_bias(tmp_path, capsys):
    np.save(tmp_path / "W.npy", reluinj.icosahedron())
    assert main(["bias", str(tmp_path / "W.npy"), "--method", "polytope", "--domain", "ball"]) == 0
    out = capsys.readouterr().out
    assert "max=0 " in out and "every admissible bias is <= 0" in out


def test_rip_hints_at_unnormalised_filters(tmp_path, capsys):
    raw = np.random.default_rng(0).standard_normal((8, 2, 5))     # Frobenius norm ~ sqrt(10)
    np.save(tmp_path / "raw.npy", raw)
    argv = ["rip", "--filters", str(tmp_path / "raw.npy"), "--input-length", "16", "--k", "2",
            "--samples", "50"]
    assert main(argv) == 0
    assert "hint: the filters are not normalised" in capsys.readouterr().out
    np.save(tmp_path / "raw.npy", raw / np.sqrt(2 * 5))                  # fan-in scaled
    assert main(argv) == 0
    assert "hint" not in capsys.readouterr().out


def test_keyboard_interrupt_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reluinj, "sampled_bias", interrupted)
    np.save(tmp_path / "W.npy", np.eye(3))
    assert main(["bias", str(tmp_path / "W.npy")]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "reluinj bias: interrupted"
