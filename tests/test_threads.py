"""Thread-count resolution and thread-count independence of kernels."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import reluinj
from reluinj import effective_n_threads

needs_openmp = pytest.mark.skipif(not reluinj.openmp_enabled(), reason="built without OpenMP")


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_n_threads_type_error(bad):
    with pytest.raises(TypeError, match="n_threads"):
        effective_n_threads(bad)


def test_n_threads_zero_is_value_error():
    with pytest.raises(ValueError, match="n_threads=0"):
        effective_n_threads(0)


@needs_openmp
def test_explicit_positive_wins():
    assert effective_n_threads(3) == 3


@needs_openmp
def test_minus_one_is_all_cores():
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert effective_n_threads(-1) == cpus


@needs_openmp
def test_env_cap(monkeypatch):
    monkeypatch.setenv("RELUINJ_NUM_THREADS", "1")
    assert effective_n_threads() == 1
    monkeypatch.setenv("RELUINJ_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="RELUINJ_NUM_THREADS"):
        effective_n_threads()


@needs_openmp
def test_threadpoolctl_limits_default():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1


def _layer_and_points():
    W = reluinj.random_frame(64, 8, seed=3)
    alpha = np.full(64, 0.45)
    X = reluinj.testing.sphere_samples(5000, 8, seed=4)
    return reluinj.ReLULayer(W, alpha), X


def test_injectivity_independent_of_threads(n_threads):
    layer, X = _layer_and_points()
    ref_inj, ref_rank = (layer.is_injective_at(X, n_threads=1),
                        layer.active_rank(X, n_threads=1))
    inj, rank = (layer.is_injective_at(X, n_threads=n_threads),
                layer.active_rank(X, n_threads=n_threads))
    np.testing.assert_array_equal(inj, ref_inj)
    np.testing.assert_array_equal(rank, ref_rank)
    np.testing.assert_array_equal(layer.active_mask(X, n_threads=n_threads),
                                  layer.active_mask(X, n_threads=1))
    np.testing.assert_array_equal(layer(X, n_threads=n_threads), layer(X, n_threads=1))
    assert 0 < ref_inj.mean() < 1  # the test case exercises both outcomes


def test_concurrent_calls_from_threads():
    layer, X = _layer_and_points()
    expected = layer.is_injective_at(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: layer.is_injective_at(X, n_threads=2), range(8)))
    for res in results:
        np.testing.assert_array_equal(res, expected)
