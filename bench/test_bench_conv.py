"""ConvOperator forward/adjoint against the dense matrix, a scipy.signal.correlate loop and torch.

Shapes (batch of B inputs, float64 unless said otherwise):
- sec42  : the paper's Section 4.2 layer, K=96, M=32, ell=5, D=32, t=1, B=1024
- d256   : K=16, M=8, ell=9, D=256, t=2 (n=124), B=1024 (dense baseline: W is 1984 x 2048)
- large  : K=128, M=64, ell=9, D=1024, t=2 (n=508), B=64 (B=1024 would be 77 GFLOP per
           call, over the bench budget; the dense W would be 4.3 GB, so it is skipped)
- vgg    : 2-D, K=M=64, 3x3, 56x56, B=8, float32 and float64, against torch conv2d only
The scipy baseline loops over filters (forward) / channels (adjoint) with one batched
``scipy.signal.correlate`` / ``convolve`` call each; it is so slow (about 15 s for the 1024
sec42 inputs) that it runs on the first B_scipy inputs only, in one round: compare times
per input (``extra_info["batch"]``). torch runs with torch.set_num_threads
equal to the kernel's n_threads.
"""
import numpy as np
import pytest
import scipy.signal

import reluinj

RTOL = 1e-9
ATOL = 1e-9
RTOL32 = 2e-4
ATOL32 = 2e-4

SHAPES_1D = {
    "sec42": dict(K=96, M=32, ell=5, D=32, t=1, B=1024, B_scipy=64, rounds=5),
    "d256": dict(K=16, M=8, ell=9, D=256, t=2, B=1024, B_scipy=64, rounds=5),
    "large": dict(K=128, M=64, ell=9, D=1024, t=2, B=64, B_scipy=2, rounds=3),
}
DENSE_SHAPES = ("sec42", "d256")


@pytest.fixture(scope="module", params=list(SHAPES_1D), ids=list(SHAPES_1D))
def case1d(request):
    s = SHAPES_1D[request.param]
    rng = np.random.default_rng(7)
    op = reluinj.ConvOperator.random(s["K"], s["M"], s["ell"], s["D"], s["t"], seed=rng,
                                     allow_truncation=True)
    X = rng.standard_normal((s["B"],) + op.dims)
    Z = rng.standard_normal((s["B"],) + op.dimsd)
    ref_fwd = op.forward(X, n_threads=1)
    ref_adj = op.adjoint(Z, n_threads=1)
    return dict(name=request.param, op=op, X=X, Z=Z, fwd=ref_fwd, adj=ref_adj,
                rounds=s["rounds"], B_scipy=s["B_scipy"])


def _run(benchmark, case, fn, *args, rounds=None, batch=None):
    benchmark.extra_info["shape"] = case["name"]
    benchmark.extra_info["batch"] = batch or case["X"].shape[0]
    return benchmark.pedantic(fn, args=args, rounds=rounds or case["rounds"], iterations=1)


def scipy_forward(X, w, t):
    out = np.empty((X.shape[0], w.shape[0], (X.shape[2] - w.shape[2]) // t + 1))
    for i in range(w.shape[0]):
        out[:, i] = scipy.signal.correlate(X, w[i][None], mode="valid")[:, 0, ::t]
    return out


def scipy_adjoint(Z, w, D, t):
    B, K, n = Z.shape
    ell = w.shape[2]
    up = np.zeros((B, K, (n - 1) * t + 1 + 2 * (ell - 1)))
    up[:, :, ell - 1: ell - 1 + (n - 1) * t + 1: t] = Z
    out = np.zeros((B, w.shape[1], D))
    for m in range(w.shape[1]):
        full = scipy.signal.convolve(up, w[::-1, m, :][None], mode="valid")[:, 0]
        out[:, m, : full.shape[1]] = full
    return out


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_forward(benchmark, case1d, n_threads):
    benchmark.group = f"conv1d-{case1d['name']}-forward"
    benchmark.extra_info["n_threads"] = n_threads
    out = _run(benchmark, case1d, lambda X: case1d["op"].forward(X, n_threads=n_threads),
               case1d["X"])
    np.testing.assert_array_equal(out, case1d["fwd"])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_adjoint(benchmark, case1d, n_threads):
    benchmark.group = f"conv1d-{case1d['name']}-adjoint"
    benchmark.extra_info["n_threads"] = n_threads
    out = _run(benchmark, case1d, lambda Z: case1d["op"].adjoint(Z, n_threads=n_threads),
               case1d["Z"])
    np.testing.assert_array_equal(out, case1d["adj"])


def test_bench_conv1d_forward_dense_baseline(benchmark, case1d):
    if case1d["name"] not in DENSE_SHAPES:
        pytest.skip("dense W would not fit in memory")
    benchmark.group = f"conv1d-{case1d['name']}-forward"
    A = case1d["op"].todense()
    B = case1d["X"].shape[0]
    out = _run(benchmark, case1d, lambda X: X.reshape(B, -1) @ A.T, case1d["X"])
    np.testing.assert_allclose(out, case1d["fwd"].reshape(B, -1), rtol=RTOL, atol=ATOL)


def test_bench_conv1d_adjoint_dense_baseline(benchmark, case1d):
    if case1d["name"] not in DENSE_SHAPES:
        pytest.skip("dense W would not fit in memory")
    benchmark.group = f"conv1d-{case1d['name']}-adjoint"
    A = case1d["op"].todense()
    B = case1d["Z"].shape[0]
    out = _run(benchmark, case1d, lambda Z: Z.reshape(B, -1) @ A, case1d["Z"])
    np.testing.assert_allclose(out, case1d["adj"].reshape(B, -1), rtol=RTOL, atol=ATOL)


def test_bench_conv1d_forward_scipy_baseline(benchmark, case1d):
    benchmark.group = f"conv1d-{case1d['name']}-forward"
    op, b = case1d["op"], case1d["B_scipy"]
    out = _run(benchmark, case1d, scipy_forward, case1d["X"][:b], op.filters, op.stride,
               rounds=1, batch=b)
    np.testing.assert_allclose(out, case1d["fwd"][:b], rtol=RTOL, atol=ATOL)


def test_bench_conv1d_adjoint_scipy_baseline(benchmark, case1d):
    benchmark.group = f"conv1d-{case1d['name']}-adjoint"
    op, b = case1d["op"], case1d["B_scipy"]
    out = _run(benchmark, case1d, scipy_adjoint, case1d["Z"][:b], op.filters, op.D, op.stride,
               rounds=1, batch=b)
    np.testing.assert_allclose(out, case1d["adj"][:b], rtol=RTOL, atol=ATOL)


@pytest.fixture
def torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_forward_torch(benchmark, case1d, torch_threads, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv1d-{case1d['name']}-forward"
    benchmark.extra_info["n_threads"] = n_threads
    op = case1d["op"]
    w = torch.from_numpy(op.filters.copy())
    X = torch.from_numpy(case1d["X"])
    with torch.no_grad():
        out = _run(benchmark, case1d, lambda: torch.nn.functional.conv1d(X, w, stride=op.stride))
    np.testing.assert_allclose(out.numpy(), case1d["fwd"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_adjoint_torch(benchmark, case1d, torch_threads, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv1d-{case1d['name']}-adjoint"
    benchmark.extra_info["n_threads"] = n_threads
    op = case1d["op"]
    w = torch.from_numpy(op.filters.copy())
    Z = torch.from_numpy(case1d["Z"])
    pad = (op.D - op.ell) % op.stride
    with torch.no_grad():
        out = _run(benchmark, case1d, lambda: torch.nn.functional.conv_transpose1d(
            Z, w, stride=op.stride, output_padding=pad))
    np.testing.assert_allclose(out.numpy(), case1d["adj"], rtol=RTOL, atol=ATOL)


# -- 2-D VGG-like layer --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["f32", "f64"])
def vgg(request):
    rng = np.random.default_rng(8)
    op = reluinj.ConvOperator2D.random(64, 64, 3, 56, seed=rng, dtype=request.param)
    X = rng.standard_normal((8,) + op.dims).astype(request.param)
    Z = rng.standard_normal((8,) + op.dimsd).astype(request.param)
    return dict(name="vgg", op=op, X=X, Z=Z, fwd=op.forward(X, n_threads=1),
                adj=op.adjoint(Z, n_threads=1), rounds=5,
                tol=(RTOL32, ATOL32) if request.param == np.float32 else (RTOL, ATOL))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vgg_forward(benchmark, vgg, n_threads):
    benchmark.group = f"conv2d-vgg-{vgg['op'].dtype}-forward"
    benchmark.extra_info["n_threads"] = n_threads
    out = _run(benchmark, vgg, lambda X: vgg["op"].forward(X, n_threads=n_threads), vgg["X"])
    np.testing.assert_array_equal(out, vgg["fwd"])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vgg_adjoint(benchmark, vgg, n_threads):
    benchmark.group = f"conv2d-vgg-{vgg['op'].dtype}-adjoint"
    benchmark.extra_info["n_threads"] = n_threads
    out = _run(benchmark, vgg, lambda Z: vgg["op"].adjoint(Z, n_threads=n_threads), vgg["Z"])
    np.testing.assert_array_equal(out, vgg["adj"])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vgg_forward_torch(benchmark, vgg, torch_threads, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv2d-vgg-{vgg['op'].dtype}-forward"
    benchmark.extra_info["n_threads"] = n_threads
    w = torch.from_numpy(vgg["op"].filters.copy())
    X = torch.from_numpy(vgg["X"])
    with torch.no_grad():
        out = _run(benchmark, vgg, lambda: torch.nn.functional.conv2d(X, w))
    np.testing.assert_allclose(out.numpy(), vgg["fwd"], rtol=vgg["tol"][0], atol=vgg["tol"][1])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vgg_adjoint_torch(benchmark, vgg, torch_threads, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv2d-vgg-{vgg['op'].dtype}-adjoint"
    benchmark.extra_info["n_threads"] = n_threads
    w = torch.from_numpy(vgg["op"].filters.copy())
    Z = torch.from_numpy(vgg["Z"])
    with torch.no_grad():
        out = _run(benchmark, vgg, lambda: torch.nn.functional.conv_transpose2d(Z, w))
    np.testing.assert_allclose(out.numpy(), vgg["adj"], rtol=vgg["tol"][0], atol=vgg["tol"][1])


# -- 2-D VGG-like layer with zero padding 1 (issue 17), against torch with padding=1 ---------------

@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["f32", "f64"])
def vggpad(request):
    rng = np.random.default_rng(9)
    op = reluinj.ConvOperator2D.random(64, 64, 3, 56, padding=1, seed=rng, dtype=request.param)
    X = rng.standard_normal((8,) + op.dims).astype(request.param)
    Z = rng.standard_normal((8,) + op.dimsd).astype(request.param)
    return dict(name="vggpad", op=op, X=X, Z=Z, fwd=op.forward(X, n_threads=1),
                adj=op.adjoint(Z, n_threads=1), rounds=5,
                tol=(RTOL32, ATOL32) if request.param == np.float32 else (RTOL, ATOL))


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vggpad(benchmark, vggpad, direction, n_threads):
    benchmark.group = f"conv2d-vggpad-{vggpad['op'].dtype}-{direction}"
    benchmark.extra_info["n_threads"] = n_threads
    fn = getattr(vggpad["op"], direction)
    arg = vggpad["X"] if direction == "forward" else vggpad["Z"]
    out = _run(benchmark, vggpad, lambda a: fn(a, n_threads=n_threads), arg)
    np.testing.assert_array_equal(out, vggpad["fwd" if direction == "forward" else "adj"])


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv2d_vggpad_torch(benchmark, vggpad, torch_threads, direction, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv2d-vggpad-{vggpad['op'].dtype}-{direction}"
    benchmark.extra_info["n_threads"] = n_threads
    w = torch.from_numpy(vggpad["op"].filters.copy())
    F = torch.nn.functional
    if direction == "forward":
        a, fn, ref = torch.from_numpy(vggpad["X"]), lambda a: F.conv2d(a, w, padding=1), "fwd"
    else:
        a, fn, ref = (torch.from_numpy(vggpad["Z"]),
                      lambda a: F.conv_transpose2d(a, w, padding=1), "adj")
    with torch.no_grad():
        out = _run(benchmark, vggpad, fn, a)
    np.testing.assert_allclose(out.numpy(), vggpad[ref], rtol=vggpad["tol"][0],
                               atol=vggpad["tol"][1])


# -- 1-D float32, the cases issue 17 names: K=64, M=32, ell=9, D=512, batch 256, t = 1 and 2 ----

@pytest.fixture(scope="module", params=[1, 2], ids=["t1", "t2"])
def f32_1d(request):
    rng = np.random.default_rng(10)
    op = reluinj.ConvOperator.random(64, 32, 9, 512, request.param, seed=rng, dtype=np.float32,
                                     allow_truncation=True)
    X = rng.standard_normal((256,) + op.dims).astype(np.float32)
    Z = rng.standard_normal((256,) + op.dimsd).astype(np.float32)
    return dict(name=f"f32-t{request.param}", op=op, X=X, Z=Z, fwd=op.forward(X, n_threads=1),
                adj=op.adjoint(Z, n_threads=1), rounds=5)


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_f32(benchmark, f32_1d, direction, n_threads):
    benchmark.group = f"conv1d-{f32_1d['name']}-{direction}"
    benchmark.extra_info["n_threads"] = n_threads
    fn = getattr(f32_1d["op"], direction)
    arg = f32_1d["X"] if direction == "forward" else f32_1d["Z"]
    out = _run(benchmark, f32_1d, lambda a: fn(a, n_threads=n_threads), arg)
    np.testing.assert_array_equal(out, f32_1d["fwd" if direction == "forward" else "adj"])


@pytest.mark.parametrize("direction", ["forward", "adjoint"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_conv1d_f32_torch(benchmark, f32_1d, torch_threads, direction, n_threads):
    torch = torch_threads
    torch.set_num_threads(n_threads)
    benchmark.group = f"conv1d-{f32_1d['name']}-{direction}"
    benchmark.extra_info["n_threads"] = n_threads
    op = f32_1d["op"]
    w = torch.from_numpy(op.filters.copy())
    F = torch.nn.functional
    if direction == "forward":
        a, fn, ref = torch.from_numpy(f32_1d["X"]), lambda a: F.conv1d(a, w, stride=op.stride), "fwd"
    else:
        pad = (op.D - op.ell) % op.stride
        a, fn, ref = (torch.from_numpy(f32_1d["Z"]), lambda a: F.conv_transpose1d(
            a, w, stride=op.stride, output_padding=pad), "adj")
    with torch.no_grad():
        out = _run(benchmark, f32_1d, fn, a)
    np.testing.assert_allclose(out.numpy(), f32_1d[ref], rtol=RTOL32, atol=ATOL32)
