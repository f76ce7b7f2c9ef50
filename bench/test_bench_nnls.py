"""Benchmarks of ``reluinj.hull.nnls`` against ``scipy.optimize.nnls`` on the same problems.

Group ``nnls-<M>x<N>``: Gaussian A and b (the sizes of issue 16, where the former solver, which
re-factorised every passive sub-problem, took 3.4 s at 1200x320 against SciPy's 0.1 s). Both
solvers are Lawson-Hanson with an updated QR factorisation; each bench first checks that the two
agree on this problem. Single-threaded (neither solver is parallel).
"""
import numpy as np
import pytest
import scipy.optimize

from reluinj import hull

SIZES = [(200, 60), (600, 160), (1200, 320)]
IDS = [f"{m}x{n}" for m, n in SIZES]


@pytest.fixture(scope="module", params=SIZES, ids=IDS)
def problem(request, bench_rng):
    M, N = request.param
    A = bench_rng.standard_normal((M, N))
    b = bench_rng.standard_normal(M)
    x_ref, r_ref = scipy.optimize.nnls(A, b)
    return request.param, A, b, x_ref, r_ref


def test_bench_nnls_reluinj(benchmark, problem):
    (M, N), A, b, x_ref, r_ref = problem
    benchmark.group = f"nnls-{M}x{N}"
    x, r = benchmark(hull.nnls, A, b)
    np.testing.assert_allclose(x, x_ref, atol=1e-9)
    assert r == pytest.approx(r_ref, rel=1e-9)


def test_bench_nnls_scipy(benchmark, problem):
    (M, N), A, b, x_ref, r_ref = problem
    benchmark.group = f"nnls-{M}x{N}"
    x, r = benchmark(scipy.optimize.nnls, A, b)
    assert r == pytest.approx(r_ref, rel=1e-12)
