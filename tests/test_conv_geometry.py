"""ConvOperator / ConvOperator2D with zero padding, stride, dilation, groups and bias.

Oracles: torch.nn.functional.conv1d/conv2d (forward, with bias via ``affine``),
conv_transpose1d/2d (adjoint; torch's autograd VJP where the padding is asymmetric and
conv_transpose cannot express it), the dense matrix assembled in the test from unit impulses
through torch, and the adjoint identity <W x, z> = <x, W^T z>.
"""
import itertools

import numpy as np
import pytest

import reluinj

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
F = torch.nn.functional

PADDINGS = [0, 1, "same"]
STRIDES = [1, 2]
DILATIONS = [1, 2]
GROUPS = ["one", "two", "depthwise"]
M_IN = 4


def _groups(kind):
    return {"one": 1, "two": 2, "depthwise": M_IN}[kind]


def _combos():
    for pad, stride, dil, g in itertools.product(PADDINGS, STRIDES, DILATIONS, GROUPS):
        if pad == "same" and stride != 1:
            continue  # rejected by PyTorch and by reluinj (tested below)
        yield pad, stride, dil, g


COMBOS = list(_combos())
IDS = [f"pad{p}-s{s}-d{d}-{g}" for p, s, d, g in COMBOS]


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)


def _torch_adjoint(Z, w, x_shape, stride, padding, dilation, groups, nd):
    """The VJP of torch's conv (the exact transpose) at Z, in float64."""
    x = torch.zeros(x_shape, dtype=torch.float64, requires_grad=True)
    conv = F.conv1d if nd == 1 else F.conv2d
    out = conv(x, torch.from_numpy(w).double(), stride=stride, padding=padding,
               dilation=dilation, groups=groups)
    out.backward(torch.from_numpy(Z).double())
    return x.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("pad,stride,dil,gk", COMBOS, ids=IDS)
def test_conv2d_matches_torch(pad, stride, dil, gk, dtype):
    G = _groups(gk)
    K = 2 * G if gk == "depthwise" else 6
    rng = np.random.default_rng(COMBOS.index((pad, stride, dil, gk)))
    w = rng.standard_normal((K, M_IN // G, 3, 2)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    H, W = 7, 9
    op = reluinj.ConvOperator2D(w, (H, W), stride, padding=pad, dilation=dil, groups=G,
                                bias=b, allow_truncation=True)
    X = rng.standard_normal((3, M_IN, H, W)).astype(dtype)
    ref = F.conv2d(torch.from_numpy(X), torch.from_numpy(w), torch.from_numpy(b),
                   stride=stride, padding=pad, dilation=dil, groups=G).numpy()
    got = op.affine(X)
    assert got.shape == ref.shape and got.dtype == dtype
    np.testing.assert_allclose(got, ref, **_tol(dtype))
    Z = rng.standard_normal(ref.shape).astype(dtype)
    adj = op.adjoint(Z)
    if isinstance(pad, int):
        oph = H - ((op.output_shape[0] - 1) * stride - 2 * pad + dil * 2 + 1)
        opw = W - ((op.output_shape[1] - 1) * stride - 2 * pad + dil * 1 + 1)
        ref_adj = F.conv_transpose2d(torch.from_numpy(Z), torch.from_numpy(w), stride=stride,
                                     padding=pad, output_padding=(oph, opw), groups=G,
                                     dilation=dil).numpy()
    else:
        ref_adj = _torch_adjoint(Z, w, X.shape, stride, pad, dil, G, 2)
    np.testing.assert_allclose(adj, ref_adj, **_tol(dtype))
    # bitwise independent of the thread count
    assert np.array_equal(op.forward(X, n_threads=1), op.forward(X, n_threads=2))
    assert np.array_equal(op.adjoint(Z, n_threads=1), op.adjoint(Z, n_threads=2))
    if dtype == np.float64:
        # adjoint identity and the explicit sparse matrix against torch's unit impulses
        x, z = X[0].ravel(), Z[0].ravel()
        assert abs(np.dot(op.matvec(x), z) - np.dot(x, op.rmatvec(z))) <= 1e-12 * (
            np.linalg.norm(op.matvec(x)) * np.linalg.norm(z) + 1)
        dense_out = X.reshape(3, -1) @ op.todense().T + np.repeat(b, np.prod(ref.shape[2:]))
        np.testing.assert_allclose(dense_out, ref.reshape(3, -1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("B,M,H,W,G", [(2, 1, 2, 2, 1), (3, 1, 2, 3, 1), (2, 2, 2, 2, 2),
                                       (2, 4, 3, 2, 2), (1, 2, 2, 2, 1)])
def test_conv2d_float32_planes_smaller_than_a_vector(B, M, H, W, G):
    # The float32 unit-stride kernel reads whole vectors (16 floats with AVX-512) past a
    # block's last position where the input has room after it; planes of 4-6 floats put that
    # read across several later blocks and past the end of x (tools/sanitize.sh runs this
    # under AddressSanitizer).
    rng = np.random.default_rng(B * 100 + M * 10 + H)
    w = rng.standard_normal((2 * G, M // G, 2, 1)).astype(np.float32)
    op = reluinj.ConvOperator2D(w, (H, W), groups=G)
    X = rng.standard_normal((B, M, H, W)).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(X), torch.from_numpy(w), groups=G).numpy()
    np.testing.assert_allclose(op.forward(X), ref, **_tol(np.float32))
    Z = rng.standard_normal(ref.shape).astype(np.float32)
    ref_adj = F.conv_transpose2d(torch.from_numpy(Z), torch.from_numpy(w), groups=G).numpy()
    np.testing.assert_allclose(op.adjoint(Z), ref_adj, **_tol(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("pad,stride,dil,gk", COMBOS, ids=IDS)
def test_conv1d_matches_torch(pad, stride, dil, gk, dtype):
    G = _groups(gk)
    K = 2 * G if gk == "depthwise" else 6
    rng = np.random.default_rng(100 + COMBOS.index((pad, stride, dil, gk)))
    w = rng.standard_normal((K, M_IN // G, 4)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    D = 70  # > one 64-byte tile of float32, so full and tail tiles are both exercised
    op = reluinj.ConvOperator(w, D, stride, padding=pad, dilation=dil, groups=G, bias=b,
                              allow_truncation=True)
    X = rng.standard_normal((5, M_IN, D)).astype(dtype)
    ref = F.conv1d(torch.from_numpy(X), torch.from_numpy(w), torch.from_numpy(b),
                   stride=stride, padding=pad, dilation=dil, groups=G).numpy()
    np.testing.assert_allclose(op.affine(X), ref, **_tol(dtype))
    Z = rng.standard_normal(ref.shape).astype(dtype)
    if isinstance(pad, int):
        opad = D - ((op.n - 1) * stride - 2 * pad + dil * 3 + 1)
        ref_adj = F.conv_transpose1d(torch.from_numpy(Z), torch.from_numpy(w), stride=stride,
                                     padding=pad, output_padding=opad, groups=G,
                                     dilation=dil).numpy()
    else:
        ref_adj = _torch_adjoint(Z, w, X.shape, stride, pad, dil, G, 1)
    np.testing.assert_allclose(op.adjoint(Z), ref_adj, **_tol(dtype))
    assert np.array_equal(op.forward(X, n_threads=1), op.forward(X, n_threads=2))
    assert np.array_equal(op.adjoint(Z, n_threads=1), op.adjoint(Z, n_threads=2))
    if dtype == np.float64:
        x, z = X[0].ravel(), Z[0].ravel()
        assert abs(np.dot(op.matvec(x), z) - np.dot(x, op.rmatvec(z))) <= 1e-12 * (
            np.linalg.norm(op.matvec(x)) * np.linalg.norm(z) + 1)
        dense_out = X.reshape(5, -1) @ op.todense().T + np.repeat(b, op.n)
        np.testing.assert_allclose(dense_out, ref.reshape(5, -1), rtol=1e-12, atol=1e-12)


def test_unit_geometry_unchanged_bitwise():
    """Without padding/dilation/groups the results equal the explicit sum order of before:
    the dense matrix product is an independent check, and relu_pair keeps Proposition 1."""
    rng = np.random.default_rng(3)
    op = reluinj.ConvOperator2D.random(8, 3, 3, (10, 12), 1, seed=rng)
    X = rng.standard_normal((2,) + op.dims)
    np.testing.assert_allclose(op.forward(X).reshape(2, -1), X.reshape(2, -1) @ op.todense().T,
                               rtol=1e-12, atol=1e-12)
    pair = reluinj.ConvOperator2D.random(4, 4, 3, (9, 9), padding="same", groups=2,
                                         seed=1).relu_pair()
    x = rng.standard_normal(pair.shape[1])
    Wd = pair.todense()
    np.testing.assert_allclose(pair.rmatvec(np.maximum(pair.matvec(x), 0)),
                               0.5 * Wd.T @ Wd @ x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd", [1, 2])
def test_from_torch(nd):
    torch.manual_seed(0)
    if nd == 1:
        mod = torch.nn.Conv1d(4, 6, 3, stride=1, padding="same", dilation=2, groups=2).double()
        shape, x = (4, 33), torch.randn(2, 4, 33, dtype=torch.float64)
        op = reluinj.ConvOperator.from_torch(mod, shape)
    else:
        mod = torch.nn.Conv2d(4, 8, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                              groups=4)
        shape, x = (4, 8, 9), torch.randn(2, 4, 8, 9)
        op = reluinj.ConvOperator2D.from_torch(mod, shape[1:])
    with torch.no_grad():
        ref = mod(x).numpy()
    assert op.dtype == ref.dtype
    np.testing.assert_allclose(op.affine(x.numpy()), ref, **_tol(ref.dtype))
    cls = reluinj.ConvOperator if nd == 1 else reluinj.ConvOperator2D
    with pytest.raises(TypeError, match="torch.nn.Conv"):
        cls.from_torch(torch.nn.Linear(3, 3), shape)
    with pytest.raises(ValueError, match="channels"):
        cls.from_torch(mod, (5,) + shape[1:])


def test_from_torch_rejects_other_padding_modes():
    mod = torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        reluinj.ConvOperator2D.from_torch(mod, (6, 6))


def test_bad_geometry():
    w = np.ones((4, 2, 3, 3))
    ref = reluinj.ConvOperator2D(w, (8, 8))
    assert reluinj.ConvOperator2D(w, (8, 8), padding="valid").shape == ref.shape
    assert reluinj.ConvOperator2D(w, (8, 8), padding=(0, 0, 1, 1)).output_shape == (6, 8)
    assert reluinj.ConvOperator(w[:, :, 0], 8, padding=(2, 1)).n == 9
    with pytest.raises(ValueError, match="strided"):
        reluinj.ConvOperator2D(w, (8, 8), 2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        reluinj.ConvOperator2D(w, (8, 8), padding="full")
    with pytest.raises(TypeError, match="padding must be a non-negative int"):
        reluinj.ConvOperator2D(w, (8, 8), padding=-1)
    with pytest.raises(ValueError, match="groups=3 must divide"):
        reluinj.ConvOperator2D(w, (8, 8), groups=3)
    with pytest.raises(ValueError, match="dilated"):
        reluinj.ConvOperator2D(w, (4, 4), dilation=2)
    with pytest.raises(ValueError, match="bias must have shape"):
        reluinj.ConvOperator(np.ones((4, 2, 3)), 8, bias=np.ones(3))
    with pytest.raises(ValueError, match="bias contains NaN"):
        reluinj.ConvOperator(np.ones((4, 2, 3)), 8, bias=np.full(4, np.nan))
    op = reluinj.ConvOperator2D(w.astype(np.float32), (8, 8), padding=1)
    # float16 (like integers) is converted, per the package's dtype policy; float64 is refused.
    x16 = np.ones((2, 8, 8), dtype=np.float16)
    np.testing.assert_array_equal(op.forward(x16), op.forward(x16.astype(np.float32)))
    with pytest.raises(TypeError, match="X has dtype float64"):
        op.forward(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="X contains NaN"):
        op.forward(np.full((2, 8, 8), np.nan, dtype=np.float32))
