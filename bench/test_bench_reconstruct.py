"""relu_inverse(method="dual") vs NumPy: a per-sample lstsq loop and batched normal equations.

Groups ``dual <m>x<n> B=<B>`` compare the kernel (1 and 2 threads) with the best batched NumPy
code on the same outputs; groups ``... lstsq loop`` compare it with a per-sample
``np.linalg.lstsq`` loop on the first samples of the same outputs (the loop is too slow for the
full batch; compare per-sample times). Both baselines run with 1 and 2 BLAS threads (which is
faster depends on the machine).
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import reluinj

ERR_ATOL = 1e-9
SIZES = {"200x10": (200, 10, 100_000, 2_000), "1024x64": (1024, 64, 10_000, 100)}


def _problem(m, n, B, seed):
    rng = np.random.default_rng(seed)
    W = reluinj.random_frame(m, n, seed=rng)
    X = reluinj.testing.sphere_samples(B, n, seed=rng)
    alpha = np.zeros(m)
    Y = np.maximum(X @ W.T - alpha, 0.0)
    return W, alpha, X, Y


@pytest.fixture(scope="module", params=list(SIZES), ids=list(SIZES))
def problem(request):
    m, n, B, B_loop = SIZES[request.param]
    W, alpha, X, Y = _problem(m, n, B, seed=2024)
    return request.param, W, alpha, X, Y, B_loop


def lstsq_loop(W, alpha, Y):
    """Per sample: least squares on the rows with y_i > 0."""
    out = np.empty((Y.shape[0], W.shape[1]))
    for s, y in enumerate(Y):
        act = y > 0
        out[s] = np.linalg.lstsq(W[act], y[act] + alpha[act], rcond=None)[0]
    return out


def batched_normal_equations(W, alpha, Y, chunk=4096):
    """Best batched NumPy: G_s = sum_i M_si w_i w_i^T as one GEMM with the packed outer
    products (upper triangle only), right-hand sides as a second GEMM, batched solve."""
    m, n = W.shape
    iu, ju = np.triu_indices(n)
    P = W[:, iu] * W[:, ju]                       # (m, n(n+1)/2)
    upper, lower = iu * n + ju, ju * n + iu
    out = np.empty((Y.shape[0], n))
    for b in range(0, Y.shape[0], chunk):
        Yc = Y[b:b + chunk]
        M = (Yc > 0).astype(np.float64)
        G = np.empty((Yc.shape[0], n * n))
        Gp = M @ P
        G[:, upper] = Gp
        G[:, lower] = Gp
        rhs = (M * (Yc + alpha)) @ W
        out[b:b + chunk] = np.linalg.solve(G.reshape(-1, n, n), rhs[:, :, None])[:, :, 0]
    return out


def _group(benchmark, name, B):
    benchmark.group = f"dual {name} B={B}"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_dual_kernel(benchmark, problem, n_threads):
    name, W, alpha, X, Y, _ = problem
    _group(benchmark, name, Y.shape[0])
    benchmark.extra_info["n_threads"] = n_threads
    res = benchmark(reluinj.relu_inverse, W, alpha, Y, n_threads=n_threads)
    assert res.injective.all()
    np.testing.assert_allclose(res.x, X, rtol=0, atol=ERR_ATOL)


@pytest.mark.parametrize("blas_threads", [1, 2], ids=["blas1", "blas2"])
def test_bench_dual_numpy_batched(benchmark, problem, blas_threads):
    # BLAS thread counts matching the kernel's, for per-thread comparisons.
    name, W, alpha, X, Y, _ = problem
    _group(benchmark, name, Y.shape[0])
    benchmark.extra_info["blas_threads"] = blas_threads
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        x = benchmark(batched_normal_equations, W, alpha, Y)
    np.testing.assert_allclose(x, X, rtol=0, atol=ERR_ATOL)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_dual_kernel_loop_subset(benchmark, problem, n_threads):
    name, W, alpha, X, Y, B_loop = problem
    benchmark.group = f"dual {name} B={B_loop} vs lstsq loop"
    benchmark.extra_info["n_threads"] = n_threads
    res = benchmark(reluinj.relu_inverse, W, alpha, Y[:B_loop], n_threads=n_threads)
    np.testing.assert_allclose(res.x, X[:B_loop], rtol=0, atol=ERR_ATOL)


@pytest.mark.parametrize("blas_threads", [1, 2], ids=["blas1", "blas2"])
def test_bench_dual_numpy_lstsq_loop(benchmark, problem, blas_threads):
    name, W, alpha, X, Y, B_loop = problem
    benchmark.group = f"dual {name} B={B_loop} vs lstsq loop"
    benchmark.extra_info["blas_threads"] = blas_threads
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        x = benchmark.pedantic(lstsq_loop, args=(W, alpha, Y[:B_loop]), rounds=3, iterations=1)
    np.testing.assert_allclose(x, X[:B_loop], rtol=0, atol=ERR_ATOL)
