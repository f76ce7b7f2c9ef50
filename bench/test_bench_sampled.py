"""Benches of the most-correlated-basis kernel against NumPy baselines.

Groups:
* ``mcb-200x10``: kernel (1 and 2 threads) vs the vectorized NumPy implementation (block GEMM
  + argpartition + ``np.minimum.at``) on the same 20 000 unit-sphere samples;
* ``mcb-1024x64``: kernel with ``check_rank=False`` vs the GEMM alone (``X @ Wn.T`` in
  blocks of 8192 rows, BLAS limited to the same thread count), 1 and 2 threads, on the same
  200 000 samples;
* ``mcb-1024x64-rank``: the cost of ``check_rank=True`` on 20 000 of those samples;
* ``sampled_bias-200x10``: the public function end to end (sampling included).
"""
import numpy as np
import pytest

import reluinj
from reluinj.frames._sampled import batch_partial_bias, draw_batch, seed_sequence

MATCH_ATOL = 1e-12   # kernel vs NumPy GEMM rounding


def numpy_partial(Wn, X, block=4096):
    """Vectorized NumPy Approach-A minimum (top n per point, no rank check)."""
    m, n = Wn.shape
    mins = np.full(m, np.inf)
    hits = np.zeros(m, dtype=np.int64)
    for s in range(0, X.shape[0], block):
        C = X[s:s + block] @ Wn.T
        top = np.argpartition(-C, n - 1, axis=1)[:, :n]
        np.minimum.at(mins, top.ravel(), np.take_along_axis(C, top, axis=1).ravel())
        hits += np.bincount(top.ravel(), minlength=m)
    return mins, hits


def blocked_gemm(Wn, X, out, block=8192):
    for s in range(0, X.shape[0], block):
        np.matmul(X[s:s + block], Wn.T, out=out[: min(block, X.shape[0] - s)])
    return out


def _samples(n, N, seed):
    return draw_batch(reluinj.Sphere(), n, seed_sequence(seed), 0, N, N)


@pytest.fixture(scope="module")
def small_case():
    Wn = reluinj.random_frame(200, 10, seed=1)
    return Wn, _samples(10, 20_000, 2)


@pytest.fixture(scope="module")
def large_case():
    Wn = reluinj.random_frame(1024, 64, seed=3)
    return Wn, _samples(64, 200_000, 4)


@pytest.fixture(scope="module")
def small_reference(small_case):
    return numpy_partial(*small_case)


@pytest.mark.benchmark(group="mcb-200x10")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_mcb_small_kernel(benchmark, small_case, small_reference, n_threads):
    Wn, X = small_case
    benchmark.extra_info["n_threads"] = n_threads
    mins, hits = benchmark(batch_partial_bias, Wn, X, check_rank=False, n_threads=n_threads)
    np.testing.assert_allclose(mins, small_reference[0], rtol=0, atol=MATCH_ATOL)
    np.testing.assert_array_equal(hits, small_reference[1])


@pytest.mark.benchmark(group="mcb-200x10")
def test_bench_mcb_small_numpy_baseline(benchmark, small_case):
    Wn, X = small_case
    mins, hits = benchmark(numpy_partial, Wn, X)
    assert hits.sum() == 10 * X.shape[0] and np.isfinite(mins).all()


@pytest.mark.benchmark(group="mcb-1024x64")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_mcb_large_kernel(benchmark, large_case, n_threads):
    Wn, X = large_case
    benchmark.extra_info["n_threads"] = n_threads
    mins, hits = benchmark.pedantic(batch_partial_bias, args=(Wn, X),
                                    kwargs=dict(check_rank=False, n_threads=n_threads),
                                    rounds=3, iterations=1)
    assert hits.sum() == 64 * X.shape[0]
    ref = numpy_partial(Wn, X[:5000])[0]
    assert np.all(mins <= ref + MATCH_ATOL)     # more samples can only lower the minimum


@pytest.mark.benchmark(group="mcb-1024x64")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_mcb_large_gemm_alone(benchmark, large_case, n_threads):
    from threadpoolctl import threadpool_limits

    Wn, X = large_case
    benchmark.extra_info["n_threads"] = n_threads
    out = np.empty((8192, Wn.shape[0]))
    with threadpool_limits(limits=n_threads, user_api="blas"):
        C = benchmark.pedantic(blocked_gemm, args=(Wn, X, out), rounds=3, iterations=1)
    np.testing.assert_allclose(C[0], X[-(X.shape[0] % 8192 or 8192)] @ Wn.T, rtol=0, atol=MATCH_ATOL)


@pytest.mark.benchmark(group="mcb-1024x64-rank")
@pytest.mark.parametrize("check_rank", [False, True], ids=["no-rank", "rank"])
def test_bench_mcb_large_rank_cost(benchmark, large_case, check_rank):
    Wn, X = large_case
    Xs = np.ascontiguousarray(X[:20_000])
    mins, hits = benchmark.pedantic(batch_partial_bias, args=(Wn, Xs),
                                    kwargs=dict(check_rank=check_rank, n_threads=2),
                                    rounds=2, iterations=1)
    assert hits.sum() == 64 * Xs.shape[0]


@pytest.mark.benchmark(group="sampled_bias-200x10")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_sampled_bias_end_to_end(benchmark, small_case, n_threads):
    Wn, _ = small_case
    est = benchmark(reluinj.sampled_bias, Wn, n_samples=20_000, seed=0, n_threads=n_threads)
    assert np.isfinite(est.alpha).all() and est.hits.sum() == 10 * 20_000
