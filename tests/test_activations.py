"""BW-ReLU kernels and exact ReLU <-> BW-ReLU conversions against independent oracles."""
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reluinj
from reluinj import bwrelu, bwrelu_grad

RTOL64 = 1e-12
ATOL64 = 1e-14
RTOL32 = 1e-5
ATOL32 = 1e-6
KNOTS = np.arange(7) / 2.0
KNOT_VALUES = np.array([0, 1 / 12, -1 / 2, 5 / 6, -1 / 2, 1 / 12, 0])
SLOPES = np.array([1 / 6, -7 / 6, 8 / 3, -8 / 3, 7 / 6, -1 / 6])


def psi_seven_relus(y):
    """Oracle 1: the 7-ReLU expression of eq. 31."""
    t, a = reluinj.bwrelu_relu_expansion()
    return sum(am * np.maximum(y - tm, 0.0) for tm, am in zip(t, a))


def psi_hat_functions(y):
    """Oracle 2: (1/12)[N2(2y) - 6N2(2y-1) + 10N2(2y-2) - 6N2(2y-3) + N2(2y-4)], N2 = hat."""
    def hat(u):
        return np.maximum(0.0, 1.0 - np.abs(u - 1.0))
    return (hat(2 * y) - 6 * hat(2 * y - 1) + 10 * hat(2 * y - 2) - 6 * hat(2 * y - 3)
            + hat(2 * y - 4)) / 12


def dpsi_left(y):
    """Oracle for psi': sum of a_m over knots strictly left of y (autograd's convention)."""
    t, a = reluinj.bwrelu_relu_expansion()
    return sum(am * (y > tm) for tm, am in zip(t, a))


def test_expansion_is_exact_rationals():
    t, a = reluinj.bwrelu_relu_expansion()
    np.testing.assert_array_equal(t, KNOTS)
    assert [Fraction(v).limit_denominator(6) for v in a] == [
        Fraction(n, 6) for n in (1, -8, 23, -32, 23, -8, 1)]
    assert np.abs(a).sum() == pytest.approx(16.0, rel=RTOL64)
    t[0] = 99.0
    assert reluinj.bwrelu_relu_expansion()[0][0] == 0.0


def test_bwrelu_knot_values():
    np.testing.assert_allclose(bwrelu(KNOTS), KNOT_VALUES, rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("c", [1.0, 0.3, 9.0])
def test_bwrelu_matches_both_oracles(rng, dtype, c):
    x = rng.uniform(-2, 5, size=(200, 37)) / c
    x = x.astype(dtype)
    got = bwrelu(x, c)
    assert got.dtype == dtype and got.shape == x.shape
    y = c * x.astype(np.float64)
    tol = dict(rtol=RTOL64, atol=ATOL64) if dtype == np.float64 else dict(rtol=RTOL32, atol=ATOL32)
    np.testing.assert_allclose(got, psi_seven_relus(y), **tol)
    np.testing.assert_allclose(got, psi_hat_functions(y), **tol)


def test_bwrelu_support_symmetry_moments(rng):
    y = rng.uniform(-5, 8, 10_000)
    v = bwrelu(y)
    assert np.all(v[(y <= 0) | (y >= 3)] == 0)
    np.testing.assert_allclose(bwrelu(3 - y), v, rtol=RTOL64, atol=1e-13)
    # piecewise linear: Simpson on every half-unit cell is exact for psi, y psi and psi^2
    nodes = np.linspace(0, 3, 7)
    mids = nodes[:-1] + 0.25
    f, fm = bwrelu(nodes), bwrelu(mids)

    def simpson(g, gm):
        return float(np.sum(0.5 / 6 * (g[:-1] + 4 * gm + g[1:])))
    assert simpson(f, fm) == pytest.approx(0.0, abs=ATOL64)
    assert simpson(nodes * f, mids * fm) == pytest.approx(0.0, abs=ATOL64)
    assert simpson(f**2, fm**2) == pytest.approx(0.25, rel=RTOL64)
    assert bwrelu(1.5) == pytest.approx(5 / 6) and v.max() <= 5 / 6 + ATOL64
    assert v.min() >= -0.5 - ATOL64


def test_bwrelu_grad_slopes_and_left_convention():
    mids = KNOTS[:-1] + 0.25
    np.testing.assert_allclose(bwrelu_grad(mids), SLOPES, rtol=RTOL64)
    left = np.concatenate([[0.0], SLOPES])
    np.testing.assert_allclose(bwrelu_grad(KNOTS), left, rtol=RTOL64, atol=0)
    assert bwrelu_grad(np.array([-1.0, 3.5]))[0] == 0 and bwrelu_grad(np.array([3.5]))[0] == 0


@pytest.mark.parametrize("c", [1.0, 2.5])
def test_bwrelu_grad_matches_finite_differences_and_oracle(rng, c):
    x = rng.uniform(-1, 4, 5000) / c
    h = 1e-7
    y = c * x
    away = np.min(np.abs(y[:, None] - KNOTS[None, :]), axis=1) > 1e-3
    fd = (bwrelu(x + h, c) - bwrelu(x - h, c)) / (2 * h)
    g = bwrelu_grad(x, c)
    np.testing.assert_allclose(g[away], fd[away], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, c * dpsi_left(y), rtol=RTOL64, atol=ATOL64)


def test_nan_and_inf():
    x = np.array([np.nan, np.inf, -np.inf, 1.5])
    v, g = bwrelu(x), bwrelu_grad(x)
    assert np.isnan(v[0]) and np.isnan(g[0])
    np.testing.assert_array_equal(v[1:3], 0.0)
    np.testing.assert_array_equal(g[1:3], 0.0)


def test_out_and_in_place(rng):
    x = rng.uniform(-1, 4, (64, 3))
    expect = bwrelu(x, 2.0)
    out = np.empty_like(x)
    assert bwrelu(x, 2.0, out=out) is out
    np.testing.assert_array_equal(out, expect)
    y = x.copy()
    bwrelu(y, 2.0, out=y)
    np.testing.assert_array_equal(y, expect)
    g = bwrelu_grad(x, 2.0)
    bwrelu_grad(x, 2.0, out=x)
    np.testing.assert_array_equal(x, g)


def test_dtype_policy_and_shapes():
    assert bwrelu(np.array([1, 2], dtype=np.int64)).dtype == np.float64
    assert bwrelu(np.float32(0.5)).shape == ()
    assert bwrelu(np.zeros((0, 3))).shape == (0, 3)
    x32 = np.linspace(0, 3, 11, dtype=np.float32)
    assert bwrelu_grad(x32).dtype == np.float32
    strided = np.linspace(-1, 4, 40)[::2]
    np.testing.assert_allclose(bwrelu(strided), psi_seven_relus(strided), rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("func", [bwrelu, bwrelu_grad], ids=["bwrelu", "bwrelu_grad"])
def test_threads_bitwise_identical(rng, func, n_threads):
    x = rng.uniform(-1, 4, 100_003)
    np.testing.assert_array_equal(func(x, 1.7, n_threads=n_threads), func(x, 1.7, n_threads=1))


def test_concurrent_calls(rng):
    xs = [rng.uniform(-1, 4, 50_000) for _ in range(8)]
    expect = [psi_seven_relus(x) for x in xs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda x: bwrelu(x, n_threads=2), xs))
    for g, e in zip(got, expect):
        np.testing.assert_allclose(g, e, rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("c, exc, match", [
    (0.0, ValueError, "c must be finite and > 0"),
    (-1.0, ValueError, "c must be finite and > 0"),
    (np.inf, ValueError, "c must be finite and > 0"),
    (np.nan, ValueError, "c must be finite and > 0"),
    ("2", TypeError, "c must be a real number"),
    (1j, TypeError, "c must be a real number"),
])
def test_bad_scale(c, exc, match):
    with pytest.raises(exc, match=match):
        bwrelu([1.0], c)
    with pytest.raises(exc, match=match):
        bwrelu_grad([1.0], c)


def test_bad_x_and_out():
    with pytest.raises(TypeError, match="x must hold real numbers"):
        bwrelu(np.array([1 + 1j]))
    x = np.zeros(4)
    with pytest.raises(ValueError, match="out must have the shape of x"):
        bwrelu(x, out=np.zeros(5))
    with pytest.raises(ValueError, match="out must have dtype float64"):
        bwrelu(x, out=np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="out must be a writeable C-contiguous"):
        bwrelu(x, out=np.zeros(8)[::2])
    with pytest.raises(TypeError, match="out must be a numpy ndarray"):
        bwrelu(x, out=[0.0] * 4)
    with pytest.raises(ValueError, match="n_threads=0"):
        bwrelu(x, n_threads=0)


def _bw_net(x, W, b, V, c):
    return bwrelu(c * (x @ W.T - b)) @ V.T if V.ndim == 2 else bwrelu(c * (x @ W.T - b)) @ V


def _relu_net(x, W, b, V):
    return np.maximum(x @ W.T - b, 0) @ (V.T if V.ndim == 2 else V)


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 8), d=st.integers(1, 4),
       out=st.integers(0, 3))
def test_bwrelu_to_relu_is_exact(seed, K, d, out):
    g = np.random.default_rng(seed)
    W, b = g.standard_normal((K, d)), g.standard_normal(K)
    V = g.standard_normal(K) if out == 0 else g.standard_normal((out, K))
    c = float(g.uniform(0.5, 5))
    W7, b7, V7 = reluinj.bwrelu_to_relu(W, b, V, c)
    assert W7.shape == (7 * K, d) and b7.shape == (7 * K,) and V7.shape[-1] == 7 * K
    x = g.uniform(-2, 2, (50, d))
    np.testing.assert_allclose(_relu_net(x, W7, b7, V7), _bw_net(x, W, b, V, c),
                               rtol=1e-10, atol=1e-10)


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 8), d=st.integers(1, 4))
def test_relu_to_bwrelu_is_exact_on_ball(seed, K, d):
    g = np.random.default_rng(seed)
    W, b, V = 3 * g.standard_normal((K, d)), g.standard_normal(K), g.standard_normal((2, K))
    radius, c = float(g.uniform(0.5, 3)), float(g.uniform(0.2, 4))
    Wb, bb, Vb = reluinj.relu_to_bwrelu(W, b, V, radius=radius, c=c)
    x = reluinj.testing.ball_samples(200, d, seed=g) * radius
    np.testing.assert_allclose(_bw_net(x, Wb, bb, Vb, c), _relu_net(x, W, b, V),
                               rtol=1e-10, atol=1e-10)


def test_proposition_3_2_unit_weights():
    """sigma(z) = 24 psi(z/4) for z <= 2 and fails beyond (z = 3: 24 psi(3/4) = -5)."""
    z = np.linspace(-3, 2, 501)
    np.testing.assert_allclose(24 * bwrelu(z / 4), np.maximum(z, 0), rtol=RTOL64, atol=1e-13)
    assert 24 * bwrelu(0.75) == pytest.approx(-5.0, rel=RTOL64)
    W, b, V = np.array([1.0, -1.0]), np.array([0.5, -0.3]), np.array([2.0, 1.0])
    Wb, bb, Vb = reluinj.relu_to_bwrelu(W, b, V)
    np.testing.assert_allclose(Wb, W / 4, rtol=RTOL64)
    np.testing.assert_allclose(Vb, 24 * V, rtol=RTOL64)


def test_conversion_bad_input():
    W, b, V = np.ones((3, 2)), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"biases must have shape \(3,\)"):
        reluinj.bwrelu_to_relu(W, np.zeros(2), V)
    with pytest.raises(ValueError, match="output_weights must have shape"):
        reluinj.relu_to_bwrelu(W, b, np.ones(4))
    with pytest.raises(ValueError, match="input_weights must be 1-D or 2-D"):
        reluinj.bwrelu_to_relu(np.ones((3, 2, 1)), b, V)
    with pytest.raises(ValueError, match="radius must be finite and > 0"):
        reluinj.relu_to_bwrelu(W, b, V, radius=0.0)
    with pytest.raises(ValueError, match="c must be finite and > 0"):
        reluinj.bwrelu_to_relu(W, b, V, c=-1.0)
