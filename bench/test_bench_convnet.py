"""ConvNetwork stage analysis and inversion against dense NumPy baselines (issue 17).

Stage: Conv2d 16 -> 32 channels, 3x3, padding 1, on 8x8 inputs (n_in = 1024, 2048 rows), ReLU.
- rank test of the active rows at one input: reluinj's active Gram from the sparse rows
  (eigvalsh 1024 x 1024) vs np.linalg.matrix_rank of the dense active rows;
- inversion of one sample from its ReLU output: reluinj.ConvNetwork.inverse vs np.linalg.lstsq
  on the dense active rows.
Both sides run with one BLAS thread (threadpoolctl): on a shared 2-core machine a 2-thread
OpenBLAS eigensolver can be 40x slower than its 1-thread run, which would swamp the comparison.
"""
import numpy as np
import pytest

import reluinj

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    import threadpoolctl

    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def stage(one_blas_thread):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU())
    model = model.double().eval()
    net = reluinj.ConvNetwork.from_torch(model, (16, 8, 8))
    X = np.random.default_rng(0).standard_normal((2, 16, 8, 8))
    A = net.stages[0].op.todense()
    pre = X.reshape(2, -1) @ A.T + net.stages[0].bias
    return dict(net=net, X=X, A=A, rows=pre > 0, Y=net(X))


def test_bench_convnet_rank_reluinj(benchmark, stage):
    benchmark.group = "convnet-rank-1024"
    rep = benchmark.pedantic(lambda: stage["net"].analyze(stage["X"][:1], with_data_bias=False),
                             rounds=3, iterations=1)
    dense = np.linalg.matrix_rank(stage["A"][stage["rows"][0]]) == 1024
    assert rep.stages[0].injective[0] == dense


def test_bench_convnet_rank_numpy(benchmark, stage):
    benchmark.group = "convnet-rank-1024"
    benchmark.pedantic(lambda: np.linalg.matrix_rank(stage["A"][stage["rows"][0]]), rounds=3,
                       iterations=1)


def test_bench_convnet_inverse_reluinj(benchmark, stage):
    benchmark.group = "convnet-inverse-1024"
    res = benchmark.pedantic(lambda: stage["net"].inverse(stage["Y"][:1], x_true=stage["X"][:1]),
                             rounds=3, iterations=1)
    if res.ok[0]:
        assert res.rel_error[0] <= 1e-8


def test_bench_convnet_inverse_numpy(benchmark, stage):
    benchmark.group = "convnet-inverse-1024"
    r = stage["rows"][0]
    b = stage["net"].stages[0].bias
    benchmark.pedantic(lambda: np.linalg.lstsq(stage["A"][r], stage["Y"][0].ravel()[r] - b[r],
                                               rcond=None), rounds=3, iterations=1)
