"""Batched point-wise injectivity test (C++ kernel) vs NumPy rank computations.

Same input for kernel and baselines: a 256x32 layer, 4 000 unit-sphere samples (the NumPy
baselines cost ~0.2 ms per sample). A separate bench runs the kernel on 10^6 samples.
"""
import numpy as np
import pytest

import reluinj

M, N = 256, 32
BIAS = 0.05


@pytest.fixture(scope="session")
def layer():
    return reluinj.ReLULayer(reluinj.random_frame(M, N, seed=0), BIAS)


@pytest.fixture(scope="session")
def points_small():
    return reluinj.testing.sphere_samples(4_000, N, seed=1)


@pytest.fixture(scope="session")
def points_million():
    return reluinj.testing.sphere_samples(1_000_000, N, seed=2)


def _numpy_batched_rank(layer, X, chunk=500):
    """Best NumPy approach: mask rows, batched SVD via np.linalg.matrix_rank on stacks."""
    out = np.empty(X.shape[0], dtype=bool)
    W = layer.W
    for s in range(0, X.shape[0], chunk):
        mask = X[s:s + chunk] @ W.T >= layer.alpha
        out[s:s + chunk] = np.linalg.matrix_rank(W[None] * mask[..., None]) == W.shape[1]
    return out


def _numpy_loop_rank(layer, X):
    W = layer.W
    return np.array([np.linalg.matrix_rank(W[x @ W.T >= layer.alpha]) == W.shape[1] for x in X])


@pytest.mark.benchmark(group="is_injective_at 256x32, 4k samples")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_kernel(benchmark, layer, points_small, n_threads):
    benchmark.extra_info["n_threads"] = n_threads
    res = benchmark(layer.is_injective_at, points_small, n_threads=n_threads)
    np.testing.assert_array_equal(res[:200], _numpy_batched_rank(layer, points_small[:200]))


@pytest.mark.benchmark(group="is_injective_at 256x32, 4k samples")
def test_bench_numpy_batched_svd(benchmark, layer, points_small):
    res = benchmark(_numpy_batched_rank, layer, points_small)
    assert res.mean() > 0.5


@pytest.mark.benchmark(group="is_injective_at 256x32, 4k samples")
def test_bench_numpy_matrix_rank_loop(benchmark, layer, points_small):
    res = benchmark.pedantic(_numpy_loop_rank, args=(layer, points_small), rounds=1)
    assert res.mean() > 0.5


@pytest.mark.benchmark(group="is_injective_at 256x32, 10^6 samples")
def test_bench_kernel_million(benchmark, layer, points_million):
    benchmark.extra_info["n_threads"] = reluinj.effective_n_threads()
    res = benchmark.pedantic(layer.is_injective_at, args=(points_million,), rounds=1)
    assert res.shape == (1_000_000,)
