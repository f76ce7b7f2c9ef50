"""Frame toolkit against dense NumPy oracles and closed forms."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reluinj

RTOL = 1e-10  # direct float64 identities through solves/eigendecompositions
ATOL = 1e-12


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), extra=st.integers(0, 12))
def test_framedual_matches_pinv_and_reconstructs(seed, n, extra):
    W = reluinj.random_frame(n + extra, n, seed=seed, normalize=False)
    D = reluinj.framedual(W)
    # Both sides are backward stable: they may differ by about eps * cond(W)^2 relative to
    # ||D|| (a square Gaussian W is occasionally ill-conditioned), and x by eps * cond(W).
    cond = np.linalg.cond(W)
    eps = np.finfo(float).eps
    D_ref = np.linalg.pinv(W).T
    tol = max(RTOL, 100 * eps * cond**2)
    assert np.abs(D - D_ref).max() <= tol * np.abs(D_ref).max()
    x = np.random.default_rng(seed).standard_normal(n)
    x_rec = reluinj.frsyn(D, reluinj.frana(W, x))
    assert np.abs(x_rec - x).max() <= max(1e-10, 100 * eps * cond**2) * np.abs(x).max()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), extra=st.integers(0, 12))
def test_framebounds_are_extreme_eigenvalues(seed, n, extra):
    W = reluinj.random_frame(n + extra, n, seed=seed, normalize=False)
    A, B = reluinj.framebounds(W)
    ev = np.linalg.eigvalsh(W.T @ W)
    np.testing.assert_allclose([A, B], [ev[0], ev[-1]], rtol=RTOL)
    x = np.random.default_rng(seed + 1).standard_normal(n)
    energy = np.sum((W @ x) ** 2)
    assert A * (x @ x) * (1 - 1e-12) <= energy <= B * (x @ x) * (1 + 1e-12)


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5))
def test_frana_frsyn_batched_match_matmul(seed, k):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((7, 3))
    X = rng.standard_normal((k, 3))
    C = rng.standard_normal((k, 7))
    np.testing.assert_allclose(reluinj.frana(W, X), X @ W.T, rtol=1e-14)
    np.testing.assert_allclose(reluinj.frsyn(W, C), C @ W, rtol=1e-14)
    assert reluinj.frana(W, X[0]).shape == (7,)
    assert reluinj.frsyn(W, C[0]).shape == (3,)
    np.testing.assert_allclose(reluinj.frame_operator(W), W.T @ W, rtol=1e-14)


def test_framered():
    assert reluinj.framered(reluinj.icosahedron()) == 4.0


def test_icosahedron_closed_form():
    V = reluinj.icosahedron()
    assert V.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, rtol=1e-15)
    G = V @ V.T
    off = np.sort(np.abs(G[~np.eye(12, dtype=bool)]).round(12))
    # every vertex: 5 neighbours at 1/sqrt5, 5 at -1/sqrt5, one antipode at -1
    np.testing.assert_allclose(np.unique(off), [1 / np.sqrt(5), 1.0], rtol=1e-12)
    np.testing.assert_allclose(reluinj.framebounds(V), (4.0, 4.0), rtol=1e-12)


def test_tetrahedron_cube_cross_polytope():
    T = reluinj.tetrahedron()
    G = T @ T.T
    np.testing.assert_allclose(G[~np.eye(4, dtype=bool)], -1 / 3, rtol=1e-14)
    C = reluinj.cube()
    np.testing.assert_allclose(C[4:], -T)
    P = reluinj.cross_polytope(3)
    np.testing.assert_array_equal(P, np.vstack([np.eye(3), -np.eye(3)]))


@pytest.mark.parametrize(
    "W, margin",
    [
        (reluinj.icosahedron(), 1 / 12),
        (reluinj.cross_polytope(2), 1 / 4),
        (reluinj.cross_polytope(5), 1 / 10),
        (reluinj.cube(), 1 / 8),
    ],
    ids=["icosahedron", "cross2", "cross5", "cube"],
)
def test_omnidirectional_margins(W, margin):
    omni, t = reluinj.is_omnidirectional(W), reluinj.omnidirectional_margin(W)
    assert omni
    np.testing.assert_allclose(t, margin, rtol=1e-7)


def test_half_space_frame_is_not_omnidirectional():
    W = reluinj.random_frame(30, 4, seed=1)
    W[:, 0] = np.abs(W[:, 0]) + 0.01  # all rows in the open half-space x_0 > 0
    omni, t = reluinj.is_omnidirectional(W), reluinj.omnidirectional_margin(W)
    assert not omni
    assert t <= 0 or t == -np.inf


def test_boundary_frame_is_not_omnidirectional():
    # 0 on the boundary of the hull: rows in a closed half-space, with an antipodal pair
    W = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    omni, t = reluinj.is_omnidirectional(W), reluinj.omnidirectional_margin(W)
    assert not omni
    assert abs(t) < 1e-9


def test_tetrahedron_is_omnidirectional():
    assert reluinj.is_omnidirectional(reluinj.tetrahedron())


def test_random_frame_reproducible_and_normalized():
    a = reluinj.random_frame(10, 3, seed=7)
    b = reluinj.random_frame(10, 3, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-14)
    with pytest.raises(ValueError, match="m >= n"):
        reluinj.random_frame(2, 3)
