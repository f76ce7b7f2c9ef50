"""Distributed sampled_bias (Dask) vs the local function: W = 1024x64, 10^6 samples.

Groups compare equal core counts: the local kernel with 1 thread against 1 worker process
(1 thread), and 2 threads against 2 worker processes. The clusters are started outside the
timed call; the result is checked bitwise against the local one.
"""
import numpy as np
import pytest

import reluinj

rd = pytest.importorskip("reluinj.frames.distributed")
pytest.importorskip("distributed", reason="dask extra not installed")

KW = dict(n_samples=1_000_000, seed=0, batch_size=65_536, check_rank=False)


@pytest.fixture(scope="module")
def frame_1024x64():
    return reluinj.random_frame(1024, 64, seed=0)


@pytest.fixture(scope="module")
def reference(frame_1024x64):
    return reluinj.sampled_bias(frame_1024x64, **KW)


@pytest.mark.benchmark(group="sampled_bias 1024x64, 1e6 samples")
@pytest.mark.parametrize("cores", [1, 2])
def test_bench_local(benchmark, frame_1024x64, reference, cores):
    benchmark.extra_info["cores"] = cores
    est = benchmark.pedantic(reluinj.sampled_bias, args=(frame_1024x64,),
                             kwargs=dict(KW, n_threads=cores), rounds=1)
    np.testing.assert_array_equal(est.alpha, reference.alpha)


@pytest.mark.benchmark(group="sampled_bias 1024x64, 1e6 samples")
@pytest.mark.parametrize("cores", [1, 2])
def test_bench_dask_workers(benchmark, frame_1024x64, reference, cores):
    benchmark.extra_info["cores"] = cores
    with rd.connect(f"local:{cores}", timeout=60) as client:
        est = benchmark.pedantic(rd.sampled_bias, args=(frame_1024x64,),
                                 kwargs=dict(KW, client=client), rounds=1)
    np.testing.assert_array_equal(est.alpha, reference.alpha)
