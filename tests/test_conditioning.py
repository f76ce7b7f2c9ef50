"""Exact Gram matrices, conditioning claims of the paper (§3) and variation norms (§4)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reluinj
from reluinj import (
    Interval,
    bwrelu_features,
    condition_number,
    deep_variation_norm,
    dyadic_bwrelu_features,
    gram_matrix,
    relu_features,
    variation_norm,
)

RTOL = 1e-12
ATOL = 1e-14
QUAD_RTOL = 1e-6
CANCEL_ATOL = 1e-13  # exact zeros come out as sums of cancelling cell integrals
C1, C2 = 5 / 162, -1 / 324
GERSHGORIN_KAPPA = (1 / 6 + 2 * (abs(C1) + abs(C2))) / (1 / 6 - 2 * (abs(C1) + abs(C2)))
KAPPA_LIMIT = 2.25
# Oracle condition numbers (exact-integration oracle, rational/mpmath cross-checked).
RELU_KAPPA = {8: 1.797e4, 16: 2.781e5, 32: 4.292e6, 64: 6.704e7, 128: 1.058e9}
DYADIC_KAPPA = {3: 1.877068, 4: 2.118242, 5: 2.211080, 6: 2.239484, 7: 2.247273}


def evenly_spaced_relu(K):
    return relu_features(-1 + 2 * np.arange(K) / K)


def relu_gram_closed_form(b):
    """G_ij = L^3/3 + d L^2/2, L = 1 - max(b_i, b_j), d = |b_i - b_j| (Theorem 3.1 setup)."""
    L = 1 - np.maximum.outer(b, b)
    d = np.abs(np.subtract.outer(b, b))
    return L**3 / 3 + d * L**2 / 2


def midpoint_gram(features, lo, hi, n=200_000):
    x = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    F = features(x)
    return F.T @ F * (hi - lo) / n


def test_relu_gram_matches_closed_form():
    b = -1 + 2 * np.arange(16) / 16
    np.testing.assert_allclose(gram_matrix(relu_features(b)), relu_gram_closed_form(b),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("K", sorted(RELU_KAPPA))
def test_relu_condition_number_matches_oracle(K):
    kappa = condition_number(gram_matrix(evenly_spaced_relu(K)))
    assert kappa == pytest.approx(RELU_KAPPA[K], rel=1e-3)


def test_relu_condition_grows_at_least_cubically():
    Ks = np.array([8, 16, 32, 64, 128])
    kappas = [condition_number(gram_matrix(evenly_spaced_relu(K))) for K in Ks]
    slope = np.polyfit(np.log(Ks), np.log(kappas), 1)[0]
    assert slope >= 3.0
    assert np.all(np.diff(np.log(kappas)) / np.log(2) >= 3.0)


@pytest.mark.parametrize("J", [1, 2, 3, 4, 5, 6, 7])
def test_dyadic_gram_structure(J):
    G = gram_matrix(dyadic_bwrelu_features(J))
    K = 2**J - 1
    assert G.shape == (K, K)
    scale = np.concatenate([np.full(2**j, j) for j in range(J)])
    pos = np.concatenate([np.arange(2**j) for j in range(J)])
    same = scale[:, None] == scale[None, :]
    gap = np.abs(pos[:, None] - pos[None, :])
    expect = np.where(same & (gap == 0), 1 / 6, 0.0)
    expect = np.where(same & (gap == 1), C1, expect)
    expect = np.where(same & (gap == 2), C2, expect)
    np.testing.assert_allclose(G, expect, rtol=0, atol=CANCEL_ATOL)


@pytest.mark.parametrize("J", sorted(DYADIC_KAPPA))
def test_dyadic_condition_bounded(J):
    kappa = condition_number(gram_matrix(dyadic_bwrelu_features(J)))
    assert kappa == pytest.approx(DYADIC_KAPPA[J], rel=1e-6)
    assert kappa <= KAPPA_LIMIT <= GERSHGORIN_KAPPA == pytest.approx(2.375, rel=1e-12)


def test_dyadic_kappa_stays_bounded_for_large_J():
    kappa = condition_number(gram_matrix(dyadic_bwrelu_features(10)))
    assert 2.24 < kappa <= KAPPA_LIMIT


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 6))
def test_bwrelu_gram_matches_quadrature(seed, K):
    g = np.random.default_rng(seed)
    w = g.uniform(-4, 4, K)
    b = g.uniform(-2, 2, K)
    c = float(g.uniform(0.5, 3))
    lo, hi = sorted(g.uniform(-2, 2, 2))
    hi = hi + 0.1
    f = bwrelu_features(w, b, c)
    G = gram_matrix(f, domain=Interval(lo, hi))
    Q = midpoint_gram(f, lo, hi)
    np.testing.assert_allclose(G, Q, rtol=QUAD_RTOL, atol=1e-7 * max(1.0, np.abs(Q).max()))
    assert np.allclose(G, G.T, rtol=0, atol=0)


def test_feature_set_evaluation():
    f = relu_features([0.5, -0.25], weights=[2.0, -1.0])
    x = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(f(x), np.maximum(np.outer(x, [2, -1]) - [0.5, -0.25], 0))
    assert len(f) == 2
    d = dyadic_bwrelu_features(2)
    np.testing.assert_allclose(d(np.array([0.0]))[0, 0], reluinj.bwrelu(1.5), rtol=RTOL)


def test_condition_number_rectangular_and_singular():
    A = np.diag([4.0, 2.0, 1.0])
    assert condition_number(A) == pytest.approx(4.0, rel=RTOL)
    assert condition_number(np.vstack([A, A])) == pytest.approx(4.0, rel=RTOL)
    assert condition_number(np.diag([1.0, 0.0])) == np.inf


def test_gram_bad_input():
    with pytest.raises(ValueError, match="biases must not be empty"):
        relu_features(np.zeros(0))
    empty = reluinj.FeatureSet("relu", np.zeros(0), np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="features must not be empty"):
        gram_matrix(empty)
    with pytest.raises(ValueError, match="domain must be a finite interval"):
        Interval(1.0, 1.0)
    with pytest.raises(ValueError, match="domain must be a finite interval"):
        Interval(0.0, np.inf)
    with pytest.raises(TypeError, match="Interval endpoints must be real numbers"):
        Interval("a", 1.0)
    with pytest.raises(TypeError, match="domain must be a reluinj.Interval"):
        gram_matrix(relu_features([0.0]), domain=(-1.0, 1.0))
    with pytest.raises(TypeError, match="domain must be a reluinj.Interval"):
        gram_matrix(relu_features([0.0]), domain=3.0)
    with pytest.raises(TypeError, match="features must be a FeatureSet"):
        gram_matrix(np.eye(2))
    with pytest.raises(ValueError, match=r"biases must have shape \(2,\)"):
        bwrelu_features([1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="c must be finite and > 0"):
        bwrelu_features([1.0], [0.0], c=0.0)
    with pytest.raises(ValueError, match="J must be >= 1"):
        dyadic_bwrelu_features(0)
    with pytest.raises(ValueError, match="G must be 2-D"):
        condition_number(np.ones(3))


def exact_tv_of_derivative(w, b, v, c):
    """TV of g' for g(x) = sum_k v_k psi(c(w_k x - b_k)), from g' on each side of every kink."""
    t = np.arange(7) / 2.0
    kinks = np.sort(((t[None, :] / c + b[:, None]) / w[:, None]).ravel())
    probes = np.concatenate([[kinks[0] - 1], 0.5 * (kinks[:-1] + kinks[1:]), [kinks[-1] + 1]])
    slope = (c * reluinj.bwrelu_grad(c * (np.outer(probes, w) - b)) * w) @ v
    return float(np.abs(np.diff(slope)).sum())


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 12))
def test_variation_norm_equals_tv_of_derivative_1d(seed, K):
    g = np.random.default_rng(seed)
    w = g.uniform(0.5, 3, K) * g.choice([-1, 1], K)
    b, v = g.standard_normal(K), g.standard_normal(K)
    c = float(g.uniform(0.5, 4))
    expect = exact_tv_of_derivative(w, b, v, c)
    assert variation_norm(w, v, c) == pytest.approx(expect, rel=1e-9)


def test_variation_norm_relu_and_multivariate(rng):
    W, V = rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
    brute = sum(np.linalg.norm(W[k]) * np.linalg.norm(V[:, k]) for k in range(5))
    assert variation_norm(W, V, 2.0) == pytest.approx(16 * 2.0 * brute, rel=RTOL)
    assert variation_norm(W, V, 2.0, activation="relu") == pytest.approx(brute, rel=RTOL)


def test_deep_variation_norm_eq53(rng):
    W0, W1, W2, W3 = (rng.standard_normal(s) for s in [(6, 2), (6, 6), (6, 6), (1, 6)])
    c = 3.0
    expect = 16 * c * (
        sum(np.linalg.norm(W1[:, k]) * np.linalg.norm(W0[k, :]) for k in range(6))
        + sum(np.linalg.norm(W2[:, k]) for k in range(6))
        + sum(np.linalg.norm(W3[:, k]) for k in range(6)))
    assert deep_variation_norm([W0, W1, W2, W3], c) == pytest.approx(expect, rel=RTOL)
    assert deep_variation_norm([W0, W1], c) == pytest.approx(variation_norm(W0, W1, c), rel=RTOL)


def test_variation_norm_bad_input():
    with pytest.raises(ValueError, match="at least 2 matrices"):
        deep_variation_norm([np.ones((2, 2))])
    with pytest.raises(ValueError, match="weights\\[1\\] must have 3 columns"):
        deep_variation_norm([np.ones((3, 2)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="weights\\[2\\] must have 4 columns"):
        deep_variation_norm([np.ones((4, 2)), np.ones((4, 4)), np.ones((1, 3))])
    with pytest.raises(TypeError, match="sequence of weight matrices"):
        deep_variation_norm(np.ones((2, 2)))
    with pytest.raises(ValueError, match="output_weights is required"):
        variation_norm(np.ones((2, 2)))
    with pytest.raises(ValueError, match="activation must be one of"):
        variation_norm(np.ones(2), np.ones(2), activation="tanh")
    with pytest.raises(ValueError, match="c must be finite and > 0"):
        variation_norm(np.ones(2), np.ones(2), c=0.0)
