"""BW-ReLU kernels vs the NumPy 7-ReLU expression and the np.copyto bandwidth floor; torch
module forward+backward vs the 7-F.relu composition."""
import numpy as np
import pytest

import reluinj

N_VALUES = 10**7
C = 9.0
TORCH_SHAPE = (16384, 128)  # one hidden layer of the 128x128-image INR
RTOL64, ATOL64 = 1e-12, 1e-13
RTOL32, ATOL32 = 1e-5, 1e-5


def numpy_seven_relus(x, c):
    """The best plain-NumPy form: sum_m a_m max(c x - t_m, 0) with in-place buffers."""
    t, a = reluinj.bwrelu_relu_expansion()
    z = c * x
    out = np.zeros_like(x)
    tmp = np.empty_like(x)
    for tm, am in zip(t, a):
        np.subtract(z, tm, out=tmp)
        np.maximum(tmp, 0, out=tmp)
        tmp *= am
        out += tmp
    return out


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["f64", "f32"])
def values(request, bench_rng):
    x = (bench_rng.uniform(-1, 4, N_VALUES) / C).astype(request.param)
    return x, np.empty_like(x)


def _check(y, x):
    tol = (RTOL64, ATOL64) if x.dtype == np.float64 else (RTOL32, ATOL32)
    head = x[:100_000]
    np.testing.assert_allclose(y[:100_000], numpy_seven_relus(head.astype(np.float64), C),
                               rtol=tol[0], atol=tol[1])


@pytest.mark.benchmark(group="bwrelu 1e7")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_bwrelu_kernel(benchmark, values, n_threads):
    x, out = values
    benchmark.extra_info.update(n_threads=n_threads, dtype=str(x.dtype))
    y = benchmark(reluinj.bwrelu, x, C, out=out, n_threads=n_threads)
    _check(y, x)


@pytest.mark.benchmark(group="bwrelu 1e7")
def test_bench_bwrelu_numpy_seven_relus(benchmark, values):
    x, _ = values
    benchmark.extra_info["dtype"] = str(x.dtype)
    y = benchmark(numpy_seven_relus, x, C)
    _check(y, x)


@pytest.mark.benchmark(group="bwrelu 1e7")
def test_bench_bwrelu_copyto_floor(benchmark, values):
    x, out = values
    benchmark.extra_info["dtype"] = str(x.dtype)
    benchmark(np.copyto, out, x)
    np.testing.assert_array_equal(out[:1000], x[:1000])


@pytest.mark.benchmark(group="bwrelu_grad 1e7")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_bwrelu_grad_kernel(benchmark, values, n_threads):
    x, out = values
    benchmark.extra_info.update(n_threads=n_threads, dtype=str(x.dtype))
    g = benchmark(reluinj.bwrelu_grad, x, C, out=out, n_threads=n_threads)
    assert set(np.unique(np.round(g[:10_000] / C * 6)).tolist()) <= {-16, -7, -1, 0, 1, 7, 16}


@pytest.fixture(scope="module")
def torch_input():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(TORCH_SHAPE, generator=g) * 5 - 1) / C
    return torch, x.requires_grad_()


def _forward_backward(torch, f, x):
    x.grad = None
    f(x).sum().backward()
    return x.grad


@pytest.mark.benchmark(group="torch bwrelu fwd+bwd")
def test_bench_torch_bwrelu_module(benchmark, torch_input):
    torch, x = torch_input
    module = reluinj.BWReLU(C)
    grad = benchmark(_forward_backward, torch, module, x)
    ref = _forward_backward(torch, lambda v: reluinj.inr._torch.bwrelu_relu_composition(v, C), x)
    torch.testing.assert_close(grad, ref, rtol=RTOL32, atol=ATOL32 * C)


@pytest.mark.benchmark(group="torch bwrelu fwd+bwd")
def test_bench_torch_seven_relu_composition(benchmark, torch_input):
    torch, x = torch_input
    grad = benchmark(_forward_backward, torch,
                     lambda v: reluinj.inr._torch.bwrelu_relu_composition(v, C), x)
    assert torch.isfinite(grad).all()


@pytest.mark.benchmark(group="torch bwrelu fwd+bwd")
def test_bench_torch_relu_reference(benchmark, torch_input):
    torch, x = torch_input
    grad = benchmark(_forward_backward, torch, torch.relu, x)
    assert torch.equal(grad, (x > 0).to(grad.dtype))
