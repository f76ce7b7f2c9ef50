"""ConvOperator / ConvOperator2D against explicit loops, scipy.signal and torch."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.signal
from scipy.sparse.linalg import LinearOperator, lsqr

import reluinj
from reluinj import _core
from reluinj.testing import dottest

RTOL64 = 1e-12
ATOL64 = 1e-12
RTOL32 = 1e-5
ATOL32 = 1e-5
DOT_RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# (K, M, ell, D, stride, allow_truncation)
CONFIGS_1D = [
    (3, 1, 4, 16, 1, False),
    (4, 3, 5, 21, 2, False),
    (5, 2, 3, 12, 2, True),
    (2, 4, 6, 30, 3, False),
    (3, 2, 1, 7, 1, False),
    (2, 2, 5, 5, 1, False),
]
IDS_1D = [f"K{c[0]}M{c[1]}l{c[2]}D{c[3]}t{c[4]}{'trunc' if c[5] else ''}" for c in CONFIGS_1D]

# (K, M, (kh, kw), (H, W), (sh, sw), allow_truncation)
CONFIGS_2D = [
    (3, 2, (3, 3), (6, 7), (1, 1), False),
    (4, 3, (2, 3), (7, 9), (1, 2), False),
    (2, 2, (3, 2), (8, 9), (2, 3), True),
    (2, 1, (1, 1), (3, 4), (1, 1), False),
]
IDS_2D = [f"K{c[0]}M{c[1]}k{c[2][0]}x{c[2][1]}s{c[4][0]}{c[4][1]}" for c in CONFIGS_2D]


def make_1d(cfg, rng, dtype=np.float64):
    K, M, ell, D, t, trunc = cfg
    return reluinj.ConvOperator.random(K, M, ell, D, t, seed=rng, dtype=dtype,
                                       allow_truncation=trunc)


def make_2d(cfg, rng, dtype=np.float64):
    K, M, ks, shape, s, trunc = cfg
    return reluinj.ConvOperator2D.random(K, M, ks, shape, s, seed=rng, dtype=dtype,
                                         allow_truncation=trunc)


def loop_matrix_1d(w, D, t):
    """W[i*n + j, m*D + j*t + p] = w[i, m, p], built entry by entry."""
    K, M, ell = w.shape
    n = (D - ell) // t + 1
    A = np.zeros((K * n, M * D))
    for i in range(K):
        for j in range(n):
            for m in range(M):
                for p in range(ell):
                    A[i * n + j, m * D + j * t + p] = w[i, m, p]
    return A


def loop_matrix_2d(w, H, W, sh, sw):
    K, M, kh, kw = w.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    A = np.zeros((K * OH * OW, M * H * W))
    for i in range(K):
        for oy in range(OH):
            for ox in range(OW):
                r = (i * OH + oy) * OW + ox
                for m in range(M):
                    for ph in range(kh):
                        for pw in range(kw):
                            A[r, (m * H + oy * sh + ph) * W + ox * sw + pw] = w[i, m, ph, pw]
    return A


# -- explicit matrices -----------------------------------------------------------------------

@pytest.mark.parametrize("cfg", CONFIGS_1D, ids=IDS_1D)
def test_todense_matches_loop_construction_1d(cfg, rng):
    op = make_1d(cfg, rng)
    A = loop_matrix_1d(op.filters, op.D, op.stride)
    np.testing.assert_array_equal(op.todense(), A)
    assert op.shape == A.shape == (op.K * op.n, op.M * op.D)
    assert op.tosparse().nnz == op.K * op.n * op.M * op.ell


@pytest.mark.parametrize("cfg", CONFIGS_2D, ids=IDS_2D)
def test_todense_matches_loop_construction_2d(cfg, rng):
    op = make_2d(cfg, rng)
    A = loop_matrix_2d(op.filters, *op.input_shape, *op.stride)
    np.testing.assert_array_equal(op.todense(), A)
    np.testing.assert_array_equal(op.toarray(), A)


@pytest.mark.parametrize("cfg", CONFIGS_1D, ids=IDS_1D)
def test_matvec_matches_dense_and_scipy_correlate(cfg, rng):
    op = make_1d(cfg, rng)
    x = rng.standard_normal(op.shape[1])
    xs = x.reshape(op.M, op.D)
    ref = np.zeros((op.K, op.n))
    for i in range(op.K):
        acc = sum(scipy.signal.correlate(xs[m], op.filters[i, m], mode="valid")
                  for m in range(op.M))
        ref[i] = acc[:: op.stride][: op.n]
    np.testing.assert_allclose(op.matvec(x), ref.ravel(), rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(op.matvec(x), op.todense() @ x, rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("cfg", CONFIGS_1D, ids=IDS_1D)
def test_rmatvec_and_batches_match_dense(cfg, rng):
    op = make_1d(cfg, rng)
    A = op.todense()
    z = rng.standard_normal(op.shape[0])
    np.testing.assert_allclose(op.rmatvec(z), A.T @ z, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(op.H @ z, A.T @ z, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(op.T @ z, A.T @ z, rtol=RTOL64, atol=ATOL64)
    X = rng.standard_normal((op.shape[1], 5))
    Z = rng.standard_normal((op.shape[0], 4))
    np.testing.assert_allclose(op.matmat(X), A @ X, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(op.rmatmat(Z), A.T @ Z, rtol=RTOL64, atol=ATOL64)
    col = op.matvec(X[:, :1])
    assert col.shape == (op.shape[0], 1)
    np.testing.assert_allclose(col[:, 0], A @ X[:, 0], rtol=RTOL64, atol=ATOL64)
    Xnd = rng.standard_normal((2, 3) + op.dims)
    Y = op.forward(Xnd)
    assert Y.shape == (2, 3) + op.dimsd
    np.testing.assert_allclose(Y.reshape(6, -1), Xnd.reshape(6, -1) @ A.T, rtol=RTOL64,
                               atol=ATOL64)
    Znd = rng.standard_normal((4,) + op.dimsd)
    np.testing.assert_allclose(op.adjoint(Znd).reshape(4, -1), Znd.reshape(4, -1) @ A,
                               rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("cfg", CONFIGS_2D, ids=IDS_2D)
def test_2d_forward_adjoint_match_dense(cfg, rng):
    op = make_2d(cfg, rng)
    A = loop_matrix_2d(op.filters, *op.input_shape, *op.stride)
    X = rng.standard_normal((3,) + op.dims)
    Z = rng.standard_normal((3,) + op.dimsd)
    np.testing.assert_allclose(op.forward(X).reshape(3, -1), X.reshape(3, -1) @ A.T,
                               rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(op.adjoint(Z).reshape(3, -1), Z.reshape(3, -1) @ A,
                               rtol=RTOL64, atol=ATOL64)


def test_adjoint_without_argument_is_scipy_adjoint(rng):
    op = make_1d(CONFIGS_1D[1], rng)
    adj = op.adjoint()
    assert isinstance(adj, LinearOperator) and adj.shape == op.shape[::-1]
    z = rng.standard_normal(op.shape[0])
    np.testing.assert_allclose(adj @ z, op.todense().T @ z, rtol=RTOL64, atol=ATOL64)


# -- dot tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS_1D, ids=IDS_1D)
def test_dottest_1d(cfg, dtype, rng):
    op = make_1d(cfg, rng, dtype)
    assert dottest(op, rtol=DOT_RTOL[dtype], seed=1)
    assert dottest(op.relu_pair(), rtol=DOT_RTOL[dtype], seed=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS_2D, ids=IDS_2D)
def test_dottest_2d(cfg, dtype, rng):
    op = make_2d(cfg, rng, dtype)
    assert dottest(op, rtol=DOT_RTOL[dtype], seed=1)
    assert dottest(op.relu_pair(), rtol=DOT_RTOL[dtype], seed=2)


def test_dottest_detects_a_wrong_adjoint():
    class WrongAdjoint(LinearOperator):
        def __init__(self):
            super().__init__(np.float64, (4, 3))
            self.A = np.arange(12.0).reshape(4, 3)

        def _matvec(self, x):
            return self.A @ x

        def _rmatvec(self, z):
            return 1.5 * (self.A.T @ z)

    assert not dottest(WrongAdjoint(), seed=0)


# -- dtype policy ------------------------------------------------------------------------------

def test_float32_stays_float32_and_matches_float64(rng):
    op64 = make_1d(CONFIGS_1D[1], rng)
    op32 = reluinj.ConvOperator(op64.filters.astype(np.float32), op64.D, op64.stride)
    assert op32.dtype == np.float32
    x = rng.standard_normal(op64.shape[1])
    z = rng.standard_normal(op64.shape[0])
    y = op32.matvec(x.astype(np.float32))
    w = op32.rmatvec(z.astype(np.float32))
    assert y.dtype == np.float32 and w.dtype == np.float32
    assert op32.forward(x.astype(np.float32).reshape(op32.dims)).dtype == np.float32
    np.testing.assert_allclose(y, op64.matvec(x), rtol=RTOL32, atol=ATOL32)
    np.testing.assert_allclose(w, op64.rmatvec(z), rtol=RTOL32, atol=ATOL32)


def test_integer_input_is_converted_to_operator_dtype(rng):
    op = make_1d(CONFIGS_1D[0], rng, np.float32)
    x = np.arange(op.shape[1])
    np.testing.assert_allclose(op.matvec(x), op.matvec(x.astype(np.float32)))


@pytest.mark.parametrize("op_dtype,x_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_mixed_dtype_is_type_error_naming_operator_dtype(op_dtype, x_dtype, rng):
    op = make_1d(CONFIGS_1D[0], rng, op_dtype)
    x = np.ones(op.shape[1], dtype=x_dtype)
    name = np.dtype(op_dtype).name
    with pytest.raises(TypeError, match=f"operator has dtype {name}"):
        op.matvec(x)
    with pytest.raises(TypeError, match=f"operator has dtype {name}"):
        op.rmatvec(np.ones(op.shape[0], dtype=x_dtype))
    with pytest.raises(TypeError, match=f"operator has dtype {name}"):
        op.forward(x.reshape(op.dims))


# -- torch -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS_1D + [(5, 3, 5, 60, 1, False), (6, 2, 4, 71, 3, True)],
                         ids=IDS_1D + ["K5M3l5D60t1", "K6M2l4D71t3trunc"])
def test_matches_torch_conv1d_and_conv_transpose1d(cfg, dtype, rng):
    torch = pytest.importorskip("torch")
    op = make_1d(cfg, rng, dtype)
    X = rng.standard_normal((3,) + op.dims).astype(dtype)
    Z = rng.standard_normal((3,) + op.dimsd).astype(dtype)
    tol = (RTOL64, ATOL64) if dtype == np.float64 else (RTOL32, ATOL32)
    w = torch.from_numpy(op.filters.copy())
    ref = torch.nn.functional.conv1d(torch.from_numpy(X), w, stride=op.stride).numpy()
    np.testing.assert_allclose(op.forward(X), ref, rtol=tol[0], atol=tol[1])
    refT = torch.nn.functional.conv_transpose1d(
        torch.from_numpy(Z), w, stride=op.stride, output_padding=(op.D - op.ell) % op.stride
    ).numpy()
    np.testing.assert_allclose(op.adjoint(Z), refT, rtol=tol[0], atol=tol[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS_2D, ids=IDS_2D)
def test_matches_torch_conv2d_and_conv_transpose2d(cfg, dtype, rng):
    torch = pytest.importorskip("torch")
    op = make_2d(cfg, rng, dtype)
    X = rng.standard_normal((2,) + op.dims).astype(dtype)
    Z = rng.standard_normal((2,) + op.dimsd).astype(dtype)
    w = torch.from_numpy(op.filters.copy())
    (H, W), (kh, kw), (sh, sw) = op.input_shape, op.kernel_size, op.stride
    ref = torch.nn.functional.conv2d(torch.from_numpy(X), w, stride=op.stride).numpy()
    refT = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(Z), w, stride=op.stride, output_padding=((H - kh) % sh, (W - kw) % sw)
    ).numpy()
    tol = (RTOL64, ATOL64) if dtype == np.float64 else (RTOL32, ATOL32)
    np.testing.assert_allclose(op.forward(X), ref, rtol=tol[0], atol=tol[1])
    np.testing.assert_allclose(op.adjoint(Z), refT, rtol=tol[0], atol=tol[1])



# float32 with unit strides has its own kernel on AVX-512 CPUs (flattened planes, 48-position
# register tiles, runs of source planes): several tile groups plus a masked tail, full and
# partial blocks of filters/channels, 1x1 and non-square filters, and planes large enough
# that the terms are split into several runs.
@pytest.mark.parametrize("K,M,ks,shape", [
    (11, 9, (3, 3), (40, 45)),
    (8, 16, (1, 1), (7, 50)),
    (19, 3, (2, 5), (9, 13)),
    (9, 5, (3, 3), (130, 130)),
], ids=["tiles", "1x1", "2x5", "runs"])
def test_float32_unit_stride_matches_torch_and_threads(K, M, ks, shape, rng):
    torch = pytest.importorskip("torch")
    op = reluinj.ConvOperator2D.random(K, M, ks, shape, 1, seed=rng, dtype=np.float32)
    X = rng.standard_normal((3,) + op.dims).astype(np.float32)
    Z = rng.standard_normal((3,) + op.dimsd).astype(np.float32)
    w = torch.from_numpy(op.filters.copy())
    ref = torch.nn.functional.conv2d(torch.from_numpy(X), w).numpy()
    refT = torch.nn.functional.conv_transpose2d(torch.from_numpy(Z), w).numpy()
    out, adj = op.forward(X, n_threads=1), op.adjoint(Z, n_threads=1)
    np.testing.assert_allclose(out, ref, rtol=RTOL32, atol=ATOL32)
    np.testing.assert_allclose(adj, refT, rtol=RTOL32, atol=ATOL32)
    np.testing.assert_array_equal(op.forward(X, n_threads=2), out)
    np.testing.assert_array_equal(op.adjoint(Z, n_threads=2), adj)

# -- ReLU pair (Proposition 1) -------------------------------------------------------------------

def test_relu_pair_identities(rng):
    op = reluinj.ConvOperator.random(6, 3, 5, 24, seed=rng)
    pair = op.relu_pair()
    assert pair.K == 2 * op.K and pair.shape == (2 * op.shape[0], op.shape[1])
    np.testing.assert_array_equal(pair.todense(), np.vstack([op.todense(), -op.todense()]))
    x = rng.standard_normal(op.shape[1])
    h = np.maximum(pair.matvec(x), 0.0)
    h_plus, h_minus = h[: op.shape[0]], h[op.shape[0]:]
    np.testing.assert_allclose(h_plus - h_minus, op.matvec(x), rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(pair.rmatvec(h), op.rmatvec(op.matvec(x)), rtol=RTOL64,
                               atol=ATOL64)


@pytest.mark.parametrize("two_d", [False, True], ids=["1d", "2d"])
def test_relu_pair_inverts_orthonormal_layer_exactly(two_d, rng):
    # Non-overlapping patches (stride = filter size) whose K = M * patch filters form an
    # orthogonal matrix: W is orthonormal, so W_pm.T ReLU(W_pm x) = x (Proposition 1).
    if two_d:
        M, kh, kw = 2, 2, 3
        Q = np.linalg.qr(rng.standard_normal((M * kh * kw,) * 2))[0]
        op = reluinj.ConvOperator2D(Q.reshape(-1, M, kh, kw), (6, 9), (kh, kw))
    else:
        M, ell = 3, 4
        Q = np.linalg.qr(rng.standard_normal((M * ell,) * 2))[0]
        op = reluinj.ConvOperator(Q.reshape(-1, M, ell), 20, ell)
    A = op.todense()
    np.testing.assert_allclose(A.T @ A, np.eye(A.shape[1]), atol=ATOL64)
    x = rng.standard_normal(op.shape[1])
    pair = op.relu_pair()
    np.testing.assert_allclose(pair.rmatvec(np.maximum(pair.matvec(x), 0.0)), x, rtol=RTOL64,
                               atol=ATOL64)


# -- solvers, random construction --------------------------------------------------------------

def test_lsqr_recovers_input_of_injective_layer(rng):
    op = reluinj.ConvOperator.random(8, 2, 3, 16, seed=rng)
    x = rng.standard_normal(op.shape[1])
    sol = lsqr(op, op.matvec(x), atol=1e-14, btol=1e-14, iter_lim=1000)[0]
    np.testing.assert_allclose(sol, x, rtol=1e-8, atol=1e-8)


def test_random_normalizations(rng):
    op = reluinj.ConvOperator.random(2000, 4, 5, 10, normalize="fan_in", seed=rng)
    assert op.filters.std() == pytest.approx(1 / np.sqrt(4 * 5), rel=0.02)
    unit = reluinj.ConvOperator.random(7, 3, 4, 12, normalize="unit", seed=rng)
    np.testing.assert_allclose(np.linalg.norm(unit.todense(), axis=1), 1.0, rtol=RTOL64)
    op2 = reluinj.ConvOperator2D.random(5, 2, 3, 6, normalize="unit", seed=rng,
                                        dtype=np.float32)
    assert op2.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(op2.todense(), axis=1), 1.0, rtol=RTOL32)
    a = reluinj.ConvOperator.random(3, 2, 4, 9, seed=5).filters
    np.testing.assert_array_equal(a, reluinj.ConvOperator.random(3, 2, 4, 9, seed=5).filters)


def test_truncated_layer_leaves_tail_uncovered(rng):
    op = reluinj.ConvOperator.random(3, 2, 3, 12, 2, allow_truncation=True, seed=rng)
    assert op.n == 5
    A = op.todense().reshape(op.shape[0], op.M, op.D)
    assert np.all(A[:, :, -1] == 0) and np.all(np.any(A[:, :, :-1] != 0, axis=0))


def test_filters_are_copied_read_only(rng):
    w = rng.standard_normal((2, 1, 3))
    op = reluinj.ConvOperator(w, 5)
    w[:] = 0
    assert np.any(op.filters != 0)
    with pytest.raises(ValueError):
        op.filters[0, 0, 0] = 1.0


# -- threads -----------------------------------------------------------------------------------

def test_bitwise_identical_for_any_thread_count(n_threads, rng):
    # 40 inputs = 3 batch chunks of the kernels' work grid; strided and stride-1 paths
    ops = [reluinj.ConvOperator.random(10, 5, 7, 64, 3, allow_truncation=True, seed=rng),
           reluinj.ConvOperator.random(19, 3, 5, 50, 1, seed=rng, dtype=np.float32),
           reluinj.ConvOperator2D.random(6, 5, 3, (9, 10), (2, 1), allow_truncation=True,
                                         seed=rng)]
    for o in ops:
        X = rng.standard_normal((40,) + o.dims).astype(o.dtype)
        Z = rng.standard_normal((40,) + o.dimsd).astype(o.dtype)
        np.testing.assert_array_equal(o.forward(X, n_threads=n_threads),
                                      o.forward(X, n_threads=1))
        np.testing.assert_array_equal(o.adjoint(Z, n_threads=n_threads),
                                      o.adjoint(Z, n_threads=1))


def test_concurrent_calls_from_threadpool(rng):
    op = reluinj.ConvOperator.random(16, 4, 5, 64, 1, seed=rng, n_threads=2)
    X = rng.standard_normal((8, 32) + op.dims)
    expected = [op.forward(x) for x in X]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(op.forward, X))
        adjoints = list(pool.map(op.adjoint, results))
    for r, e, a in zip(results, expected, adjoints):
        np.testing.assert_array_equal(r, e)
        np.testing.assert_array_equal(a, op.adjoint(e))


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        ((np.ones((2, 3)), 5), {}, ValueError, "filters must be 3-D"),
        ((np.ones((2, 1, 3)), 2), {}, ValueError, "input_length=2 must be >= the filter length"),
        ((np.ones((2, 1, 3)), 5, 0), {}, ValueError, "stride must be >= 1"),
        ((np.ones((2, 1, 3)), 6, 2), {}, ValueError, "not divisible by stride 2"),
        ((np.full((2, 1, 3), np.nan), 5), {}, ValueError, "filters contains NaN"),
        ((np.ones((2, 1, 3)), 0), {}, ValueError, "input_length must be >= 1"),
        ((np.ones((2, 1, 3)), 5.5), {}, TypeError, "input_length must be an int"),
        ((np.ones((2, 1, 3), dtype=complex), 5), {}, TypeError, "filters must hold real"),
        ((np.ones((2, 1, 3)), 5), {"n_threads": 0}, ValueError, "n_threads=0"),
    ],
    ids=["ndim", "D<ell", "stride0", "divisible", "nan", "D0", "Dfloat", "complex", "threads0"],
)
def test_conv_operator_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reluinj.ConvOperator(*args, **kwargs)


@pytest.mark.parametrize(
    "args,exc,match",
    [
        ((np.ones((2, 1, 3)), (5, 5)), ValueError, "filters must be 4-D"),
        ((np.ones((2, 1, 3, 3)), (2, 5)), ValueError, "input_shape=.* must be at least"),
        ((np.ones((2, 1, 3, 3)), (5, 5), (1, 0)), ValueError, "stride must be >= 1"),
        ((np.ones((2, 1, 3, 3)), (5, 6), 2), ValueError, r"\(width\).*not divisible"),
        ((np.ones((2, 1, 3, 3)), "a"), TypeError, "input_shape must be an int or a pair"),
    ],
    ids=["ndim", "small", "stride0", "divisible", "shape-type"],
)
def test_conv_operator_2d_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        reluinj.ConvOperator2D(*args)


def test_random_bad_normalize_and_dtype():
    with pytest.raises(ValueError, match="normalize must be one of"):
        reluinj.ConvOperator.random(2, 1, 3, 5, normalize="l1")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        reluinj.ConvOperator.random(2, 1, 3, 5, dtype=np.int64)


def test_operator_input_checks(rng):
    op = make_1d(CONFIGS_1D[1], rng)
    with pytest.raises(ValueError, match="x must have"):
        op._matvec(np.ones(op.shape[1] + 1))
    with pytest.raises(ValueError):
        op.matvec(np.ones(op.shape[1] + 1))
    bad = np.ones(op.shape[1])
    bad[3] = np.inf
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        op.matvec(bad)
    with pytest.raises(ValueError, match=r"X must have shape \(\.\.\., 3, 21\)"):
        op.forward(np.ones((3, 20)))
    with pytest.raises(ValueError, match=r"Z must have shape \(\.\.\., 4, 9\)"):
        op.adjoint(np.ones((2, 4, 8)))
    with pytest.raises(TypeError, match="X must hold real numbers"):
        op.forward(np.full(op.dims, "a"))


def test_compiled_kernels_recheck_sizes():
    X = np.ones((1, 2, 1, 8))
    w = np.ones((3, 2, 1, 3))
    with pytest.raises(ValueError, match="X.shape\\[1\\] must be 3"):
        _core.conv_forward(X, np.ones((3, 3, 1, 3)), 1, 1, 1)
    with pytest.raises(ValueError, match="at least the filter shape"):
        _core.conv_forward(np.ones((1, 2, 1, 2)), w, 1, 1, 1)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        _core.conv_forward(X, w, 1, 0, 1)
    with pytest.raises(ValueError, match="Z.shape\\[3\\] must be 6"):
        _core.conv_adjoint(np.ones((1, 3, 1, 5)), w, 1, 8, 1, 1, 1)
    with pytest.raises(ValueError, match="Z.shape\\[1\\] must be 3"):
        _core.conv_adjoint(np.ones((1, 2, 1, 6)), w, 1, 8, 1, 1, 1)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _core.conv_forward(X, w, 1, 1, 0)
    with pytest.raises(TypeError):
        _core.conv_forward(X.astype(np.float32), w, 1, 1, 1)
