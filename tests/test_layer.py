"""ReLULayer: forward pass, active sets and the batched rank-based injectivity test."""
import numpy as np
import pytest

import reluinj
from reluinj import ReLULayer


def _rank_oracle(W, alpha, X):
    """Brute force: numpy's matrix_rank of the active rows, per sample."""
    out = []
    for x in X:
        active = X.dtype.type(0) + (W @ x) >= alpha
        rows = W[active]
        out.append(rows.shape[0] > 0 and np.linalg.matrix_rank(rows) == W.shape[1])
    return np.array(out, dtype=bool)


@pytest.mark.parametrize("m, n, bias", [(20, 3, 0.7), (40, 5, 0.55), (64, 8, 0.45)],
                         ids=["20x3", "40x5", "64x8"])
def test_is_injective_at_matches_matrix_rank(m, n, bias):
    W = reluinj.random_frame(m, n, seed=m + n)
    alpha = np.full(m, bias)
    X = reluinj.testing.sphere_samples(3000, n, seed=1)
    layer = ReLULayer(W, alpha)
    got, rank = (layer.is_injective_at(X),
                layer.active_rank(X))
    expected = _rank_oracle(W, alpha, X)
    np.testing.assert_array_equal(got, expected)
    ranks = [np.linalg.matrix_rank(W[a]) if a.any() else 0 for a in layer.active_mask(X)]
    np.testing.assert_array_equal(rank, ranks)
    assert 0.02 < got.mean() < 0.98  # both outcomes occur


def test_icosahedron_where_counting_active_rows_is_wrong():
    W = reluinj.icosahedron()
    x = np.array([1.0, 0.0, 0.0])
    plane = np.flatnonzero(W[:, 0] == 0.0)  # the 4 vertices (0, ±1, ±phi) / norm
    assert plane.size == 4
    alpha = np.full(12, 10.0)
    alpha[plane] = 0.0
    layer = ReLULayer(W, alpha)
    mask = layer.active_mask(x)
    assert mask.sum() == 4 >= W.shape[1]  # a count test would say "injective"
    inj, rank = (layer.is_injective_at(x),
                layer.active_rank(x))
    assert not inj and rank == 2 == np.linalg.matrix_rank(W[mask])


def test_icosahedron_zero_bias_injective_everywhere():
    layer = ReLULayer(reluinj.icosahedron(), 0.0)
    X = reluinj.testing.sphere_samples(20000, 3, seed=5)
    assert layer.injectivity_rate(X) == 1.0


def test_forward_and_mask_match_numpy(rng):
    W = rng.standard_normal((15, 4))
    alpha = rng.standard_normal(15)
    X = rng.standard_normal((50, 4))
    layer = ReLULayer(W, alpha)
    np.testing.assert_allclose(layer(X), np.maximum(X @ W.T - alpha, 0), rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(layer.active_mask(X), X @ W.T >= alpha)
    np.testing.assert_allclose(layer(X[3]), np.maximum(W @ X[3] - alpha, 0), rtol=1e-13)


def test_float32_is_kept(rng):
    W = rng.standard_normal((12, 3)).astype(np.float32)
    X = rng.standard_normal((100, 3)).astype(np.float32)
    layer = ReLULayer(W, np.float32(0.1))
    assert layer.dtype == np.float32
    assert layer(X).dtype == np.float32
    np.testing.assert_allclose(layer(X), np.maximum(X @ W.T - np.float32(0.1), 0), rtol=1e-5,
                               atol=1e-6)
    inj = layer.is_injective_at(X)
    ref = ReLULayer(W.astype(np.float64), 0.1).is_injective_at(X.astype(np.float64))
    assert (inj == ref).mean() > 0.99  # boundary ties may differ by rounding only


def test_from_affine_flips_sign(rng):
    W = rng.standard_normal((6, 2))
    b = rng.standard_normal(6)
    layer = ReLULayer.from_affine(W, b)
    np.testing.assert_array_equal(layer.alpha, -b)
    x = rng.standard_normal(2)
    np.testing.assert_allclose(layer(x), np.maximum(W @ x + b, 0), rtol=1e-14)


def test_from_torch_linear():
    torch = pytest.importorskip("torch", reason="torch extra not installed")
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 8).double()
    layer = ReLULayer.from_torch(lin)
    x = torch.randn(5, 3, dtype=torch.float64)
    expected = torch.relu(lin(x)).detach().numpy()
    np.testing.assert_allclose(layer(x.numpy()), expected, rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        ReLULayer.from_torch(torch.nn.ReLU())


def test_infinite_alpha_means_never_active():
    W = reluinj.cross_polytope(2)
    layer = ReLULayer(W, [0.0, 0.0, np.inf, 0.0])
    x = np.array([[-1.0, 0.5]])
    assert not layer.active_mask(x)[0, 2]
    np.testing.assert_array_equal(layer(x)[0], [0.0, 0.5, 0.0, 0.0])


def test_injectivity_rate_and_empty_batch():
    layer = ReLULayer(reluinj.cross_polytope(2), 0.5)
    X = np.array([[1.0, 1.0], [1.0, 0.0]])
    assert layer.injectivity_rate(X) == 0.5
    assert layer.is_injective_at(np.empty((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match="at least one point"):
        layer.injectivity_rate(np.empty((0, 2)))


@pytest.mark.parametrize("W, bias", [
    (reluinj.random_frame(64, 8, seed=11), 0.45),
    (reluinj.icosahedron(), 0.0),
    (np.vstack([reluinj.icosahedron()] * 3), 0.3),  # repeated rows: exact dependence
], ids=["random64x8", "icosahedron", "icosahedron-x3"])
def test_cholesky_fast_path_agrees_with_gram_schmidt(W, bias):
    # Batches of k >= m/4 samples use the Gram-Cholesky fast path; single samples do not.
    layer = ReLULayer(W, bias)
    X = reluinj.testing.sphere_samples(2000, W.shape[1], seed=2)
    batched, rank_b = (layer.is_injective_at(X),
                      layer.active_rank(X))
    single = np.array([layer.is_injective_at(x) for x in X[:300]])
    np.testing.assert_array_equal(batched[:300], single)
    np.testing.assert_array_equal(batched, _rank_oracle(layer.W, layer.alpha, X))
    np.testing.assert_array_equal(batched, rank_b == W.shape[1])
