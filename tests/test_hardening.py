"""Regression tests for the reproducers of issue 16: each used to kill the interpreter, return a
silent wrong answer, or give an unclear error."""
import math
import subprocess
import sys
import textwrap
from math import comb

import numpy as np
import pytest
import scipy.optimize
from numpy.random import default_rng
from scipy.spatial import ConvexHull

import reluinj
import reluinj.hull
from reluinj._lib.threads import max_n_threads


# ---- kills the interpreter -------------------------------------------------------------------
def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_huge_n_threads_is_a_value_error_not_an_abort():
    """Formerly ``libgomp: Out of memory`` (abort) or a pybind11 dump: run in a subprocess so a
    regression shows as a failed test, not a dead test run."""
    proc = _run("""
        import numpy as np, reluinj
        W = reluinj.random_frame(8, 3, seed=0)
        op = reluinj.ConvOperator(np.ones((1, 1, 2)), 4)
        calls = [lambda nt: reluinj.bwrelu(np.zeros(10**6), n_threads=nt),
                 lambda nt: reluinj.relu_inverse(W, 0.0, np.ones((1, 8)), n_threads=nt),
                 lambda nt: op.forward(np.ones((1, 4)), n_threads=nt)]
        for nt in (2**31 - 1, 2**31, 2**40, 100000, 5000):
            for call in calls:
                try:
                    call(nt)
                except ValueError as err:
                    assert "n_threads" in str(err), err
                else:
                    raise SystemExit(f"n_threads={nt} accepted")
        print("ok")
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_n_threads_cap_is_documented_bound():
    cap = max_n_threads()
    assert cap >= 64
    assert reluinj.effective_n_threads(cap) in (cap, 1)  # 1 without OpenMP
    with pytest.raises(ValueError, match=r"n_threads=\d+ is too large"):
        reluinj.effective_n_threads(cap + 1)
    # A huge negative count means "all but k cores" and never drops below one thread.
    assert reluinj.effective_n_threads(-(2**40)) == 1


def test_max_facet_count_is_the_upper_bound_theorem():
    # Cyclic polytopes attain the bound; closed forms: n = 3 -> 2m - 4, n = 4 -> m(m - 3)/2.
    for m in range(4, 20):
        assert reluinj.hull.max_facet_count(m, 3) == 2 * m - 4
    for m in range(5, 20):
        assert reluinj.hull.max_facet_count(m, 4) == m * (m - 3) // 2
    # and a random frame never exceeds it
    W = default_rng(0).standard_normal((30, 5))
    count = len(ConvexHull(W / np.linalg.norm(W, axis=1, keepdims=True)).simplices)
    assert count <= reluinj.hull.max_facet_count(30, 5) == comb(27, 2) + comb(27, 2)


def test_facet_estimate_bounds_the_true_count_from_above():
    """The estimate drives a refusal: for random frames it must not under-estimate badly."""
    for m, n in [(60, 6), (120, 8)]:
        W = default_rng(m).standard_normal((m, n))
        est = reluinj.hull.estimate_facet_count(W, limit=10**6)
        true = reluinj.hull.facets(W, merge=False).n_facets
        assert true <= est <= reluinj.hull.max_facet_count(m, n)


def test_polytope_refuses_a_huge_hull_quickly():
    W = default_rng(0).standard_normal((300, 10))
    with pytest.raises(ValueError, match="max_facets") as info:
        reluinj.polytope_bias(W)
    assert "sampled" in str(info.value)
    with pytest.raises(ValueError, match="max_facets"):
        reluinj.hull.facets(W, max_facets=10**5)
    # a small budget refuses even a modest frame; None lifts the limit
    W2 = reluinj.random_frame(40, 5, seed=1)
    with pytest.raises(ValueError, match="max_facets"):
        reluinj.polytope_bias(W2, max_facets=10)
    est = reluinj.polytope_bias(W2, max_facets=None)
    assert np.isfinite(est.alpha).all()


# ---- silent wrong answers --------------------------------------------------------------------
def _inf_case():
    W = default_rng(1).standard_normal((20, 5))
    a = np.zeros(20)
    a[-1] = np.inf
    X = default_rng(2).standard_normal((4, 5))
    return W, a, X, np.maximum(X @ W.T, 0)


@pytest.mark.parametrize("method", reluinj.frames._reconstruct.INVERSE_METHODS)
def test_infinite_alpha_with_positive_output_is_rejected(method):
    W, a, X, Y = _inf_case()
    with pytest.raises(ValueError, match=r"alpha\[19\] = \+inf .* Y\[0, 19\]"):
        reluinj.relu_inverse(W, a, Y, method=method)


@pytest.mark.parametrize("method", reluinj.frames._reconstruct.INVERSE_METHODS)
def test_infinite_alpha_where_output_is_zero_is_exact(method):
    """+inf is allowed where Y == 0: the row is off, the others reconstruct x."""
    W, a, X, Y = _inf_case()
    Y[:, -1] = 0.0
    res = reluinj.relu_inverse(W, a, Y, method=method)
    ok = res.injective
    assert ok.any()
    np.testing.assert_allclose(res.x[ok], X[ok], atol=1e-8)


@pytest.mark.parametrize("method", ["dual", "frame", "cg"])
def test_overflowing_reconstruction_is_never_injective(method):
    W, _, X, _ = _inf_case()
    Y = np.maximum(X @ W.T, 0) * 1e300
    res = reluinj.relu_inverse(W, 0.0, Y, method=method)
    bad = ~(np.isfinite(res.residual) & np.isfinite(res.x).all(axis=1))
    assert bad.any()  # the reproducer still overflows ...
    assert not res.injective[bad].any()  # ... but is never reported as the unique preimage


def test_partly_overlapping_out_is_rejected_exact_alias_allowed():
    a = np.linspace(-1, 4, 101)
    want = reluinj.bwrelu(a.copy())
    for out, x in [(a[1:], a[:-1]), (a[:-1], a[1:])]:
        with pytest.raises(ValueError, match="out partly overlaps x"):
            reluinj.bwrelu(x, out=out)
        with pytest.raises(ValueError, match="out partly overlaps x"):
            reluinj.bwrelu_grad(x, out=out)
    b = a.copy()
    assert reluinj.bwrelu(b, out=b) is b
    np.testing.assert_array_equal(b, want)
    # an int input is converted first: the output cannot alias it
    i = np.arange(6)
    np.testing.assert_array_equal(reluinj.bwrelu(i), reluinj.bwrelu(i.astype(float)))


@pytest.mark.parametrize("facet, match", [
    ([0, 0, 0, 0, 0], "repeated indices"),
    ([0, 1, 2], "at least n=5"),
    ([0, 1, 2, 3, 40], r"outside \[0, 20\)"),
    ([0, 1, 2, 3, -1], r"outside \[0, 20\)"),
    ([0.0, 1.0, 2.0, 3.0, 4.0], "integer"),
])
def test_bad_facet_lists_are_errors(facet, match):
    W, _, X, _ = _inf_case()
    Y = np.maximum(X @ W.T, 0)
    with pytest.raises(ValueError, match=r"facet_vertices\[0\].*" + match):
        reluinj.relu_inverse(W, 0.0, Y, method="facet", options={"facet_vertices": [facet]})


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float16, np.complex128])
def test_sample_model_sparse_rejects_non_float_dtypes(dtype):
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        reluinj.sample_model_sparse(2, 10, 3, dtype=dtype)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        reluinj.ConvOperator.random(2, 1, 3, input_length=8, dtype=dtype)


def test_sample_model_sparse_float32_has_k_nonzeros():
    z = reluinj.sample_model_sparse(2, 10, 3, pool=2, size=4, seed=0, dtype=np.float32)
    assert z.dtype == np.float32
    assert (np.count_nonzero(z.reshape(4, -1), axis=1) == 3).all()


# ---- unclear errors --------------------------------------------------------------------------
def test_huge_weights_name_w():
    W, _, X, _ = _inf_case()
    with pytest.raises(ValueError, match="W has entries up to .* rescale W"):
        reluinj.relu_inverse(W * 1e200, 0.0, np.maximum(X @ W.T, 0))
    with pytest.raises(ValueError, match="rescale W"):
        reluinj.framebounds(W * 1e200)
    # a large but safe scale still works: the rank test is scale-invariant
    assert reluinj.ReLULayer(W * 1e100, 0.0).is_injective_at(X).all()


@pytest.mark.parametrize("tol", [math.nan, math.inf, -1.0])
def test_is_omnidirectional_tol(tol):
    with pytest.raises(ValueError, match="tol"):
        reluinj.is_omnidirectional(reluinj.cube(), tol=tol)


def test_certify_margin():
    est = reluinj.sampled_bias(reluinj.cube(), n_samples=100, seed=0)
    X = reluinj.testing.sphere_samples(5, 3, seed=0)
    with pytest.raises(TypeError, match="margin"):
        est.certify(X, margin="1")
    with pytest.raises(ValueError, match="margin"):
        est.certify(X, margin=math.nan)


@pytest.mark.parametrize("call, name", [
    (lambda: reluinj.hull.facets(reluinj.cube(), merge="x"), "merge"),
    (lambda: reluinj.one_shot_reconstruct(reluinj.ConvOperator(np.ones((1, 1, 2)), 4),
                                          np.ones(4), 1, relu="x"), "relu"),
    (lambda: reluinj.Sphere(nonnegative="x"), "nonnegative"),
    (lambda: reluinj.random_frame(4, 2, normalize="x"), "normalize"),
])
def test_non_bool_flags(call, name):
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        call()


def test_psnr_tiny_data_range_has_no_domain_error():
    a, b = np.zeros(4), np.full(4, 1e-150)
    # closed form: 20 log10(1e-300) - 10 log10(1e-300) = -3000 dB
    assert reluinj.psnr(a, b, data_range=1e-300) == pytest.approx(-3000.0)


@pytest.mark.parametrize("shape", [(2**63, 4), (2**40, 2**40)])
def test_coordinate_grid_huge_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        reluinj.coordinate_grid(shape)


def test_iht_huge_step_names_step():
    op = reluinj.ConvOperator(default_rng(0).standard_normal((2, 1, 3)), 8)
    x = default_rng(1).standard_normal(op.shape[1])
    with pytest.raises(ValueError, match="step=1e\\+300 is too large"):
        reluinj.iht(op, x, 2, step=1e300, max_iter=5)


def test_matvec_float16_is_converted_not_refused():
    op = reluinj.ConvOperator(default_rng(0).standard_normal((2, 1, 3)), 8)
    x = default_rng(1).standard_normal(op.shape[1]).astype(np.float16)
    np.testing.assert_array_equal(op.matvec(x), op.matvec(x.astype(np.float64)))
    with pytest.raises(TypeError, match="float32"):
        op.matvec(x.astype(np.float32))  # a kept float dtype that differs: explicit conversion


@pytest.mark.parametrize("call, name", [
    (lambda: reluinj.sampled_bias(reluinj.cube(), n_samples=2**63), "n_samples"),
    (lambda: reluinj.sampled_bias(reluinj.cube(), n_samples=1e30), "n_samples"),
    (lambda: reluinj.iht(reluinj.ConvOperator(np.ones((1, 1, 2)), 4), np.ones(4), 1,
                         max_iter=1e30), "max_iter"),
    (lambda: reluinj.relu_inverse(reluinj.cube(), 0.0, np.ones(8), method="cg",
                                  options={"max_iter": 2**31}), "max_iter"),
    (lambda: reluinj.hull.nnls(np.eye(2), np.ones(2), max_iter=2**40), "max_iter"),
])
def test_counts_that_would_run_for_years(call, name):
    with pytest.raises(ValueError, match=f"{name} must be <="):
        call()


# ---- nnls: scipy's answer, at scipy's speed class ----------------------------------------------
def _nnls_problems():
    rng = default_rng(7)
    for trial in range(60):
        M, N = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        A = rng.standard_normal((M, N))
        if trial % 3 == 0:
            A[:, : N // 2] = np.abs(A[:, : N // 2])  # many active constraints
        if trial % 5 == 1 and N > 2:
            A[:, 1] = A[:, 0]  # dependent columns
        yield A, rng.standard_normal(M)
    A = rng.standard_normal((300, 80))
    yield A, A @ np.abs(rng.standard_normal(80)) + 0.1 * rng.standard_normal(300)


def test_nnls_equals_scipy_on_random_problems():
    for A, b in _nnls_problems():
        x, rnorm = reluinj.hull.nnls(A, b, max_iter=10 * A.shape[1] + 10)
        xs, rs = scipy.optimize.nnls(A, b)
        assert (x >= 0).all()
        # both are minimisers: same residual; the minimiser is unique when A has full column
        # rank, and then the x agree.
        assert rnorm == pytest.approx(rs, rel=1e-9, abs=1e-12)
        assert rnorm == pytest.approx(np.linalg.norm(A @ x - b), rel=1e-12, abs=1e-12)
        if np.linalg.matrix_rank(A) == A.shape[1]:
            np.testing.assert_allclose(x, xs, atol=1e-9)


def test_nnls_kkt_conditions():
    """Independent oracle: x >= 0, w = A^T (b - A x) <= 0, and w_j = 0 where x_j > 0."""
    rng = default_rng(3)
    A = rng.standard_normal((200, 120))
    b = rng.standard_normal(200)
    x, _ = reluinj.hull.nnls(A, b)
    w = A.T @ (b - A @ x)
    scale = np.linalg.norm(A, 1) * np.linalg.norm(b)
    assert (x >= 0).all()
    assert (w <= 1e-10 * scale).all()
    assert np.abs(w[x > 0]).max() <= 1e-10 * scale
