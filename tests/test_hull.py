"""Tests of reluinj.hull: facets of the inscribed polytope and the NNLS kernel."""
import dataclasses

import numpy as np
import pytest
import scipy.optimize
import scipy.spatial
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.spatial import QhullError

import reluinj
from reluinj import hull
from reluinj._lib.exceptions import HullError, NotAFrameError

EXACT = 1e-12  # direct float64 identities
NNLS_RTOL = 1e-9  # two different NNLS solvers on well-conditioned random problems
KKT_TOL = 1e-10


def _check_incidence(fac, m):
    """vertices / vertex_facets / neighbors are consistent with each other."""
    assert len(fac.vertices) == fac.n_facets == len(fac.equations) == len(fac.neighbors)
    assert len(fac.vertex_facets) == m
    pairs_v = {(f, int(i)) for f, vs in enumerate(fac.vertices) for i in vs}
    pairs_f = {(int(f), i) for i, fs in enumerate(fac.vertex_facets) for f in fs}
    assert pairs_v == pairs_f
    for f, nb in enumerate(fac.neighbors):
        assert f not in nb
        for g in nb:
            assert f in fac.neighbors[g]
    for vs in fac.vertices + fac.vertex_facets + fac.neighbors:
        assert vs.dtype == np.int64
        assert np.all(np.diff(vs) > 0)


def test_facets_cube_true_and_triangulated():
    W = reluinj.cube()
    true = hull.facets(W)
    assert true.n_facets == 6 and true.merged
    assert all(len(v) == 4 for v in true.vertices)
    assert all(len(nb) == 4 for nb in true.neighbors)
    assert all(len(fs) == 3 for fs in true.vertex_facets)
    np.testing.assert_allclose(true.equations[:, -1], -1 / np.sqrt(3), rtol=EXACT)
    assert true.inradius == pytest.approx(1 / np.sqrt(3), rel=EXACT)
    _check_incidence(true, 8)
    tri = hull.facets(W, merge=False)
    assert tri.n_facets == 12 and not tri.merged
    assert all(len(v) == 3 for v in tri.vertices)
    assert all(len(nb) == 3 for nb in tri.neighbors)
    _check_incidence(tri, 8)
    # Every triangle lies in exactly one square.
    squares = [set(v.tolist()) for v in true.vertices]
    for v in tri.vertices:
        assert sum(set(v.tolist()) <= s for s in squares) == 1


@pytest.mark.parametrize(
    "W, n_facets, per_vertex",
    [(reluinj.icosahedron(), 20, 5), (reluinj.tetrahedron(), 4, 3),
     (reluinj.cross_polytope(4), 16, 8)],
    ids=["icosahedron", "tetrahedron", "cross4"],
)
def test_facets_regular_polytopes(W, n_facets, per_vertex):
    fac = hull.facets(W)
    assert fac.n_facets == n_facets
    assert all(len(fs) == per_vertex for fs in fac.vertex_facets)
    _check_incidence(fac, len(W))


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5), extra=st.integers(2, 14))
def test_facets_random_frame_geometry(seed, n, extra):
    W = reluinj.random_frame(3 * n + extra, n, seed=seed)
    assume(reluinj.is_omnidirectional(W))
    fac = hull.facets(W)
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    normals, offsets = fac.equations[:, :-1], fac.equations[:, -1]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, rtol=1e-10)
    side = Wn @ normals.T + offsets
    assert side.max() <= 1e-10  # every row is inside every facet's half-space
    for f, vs in enumerate(fac.vertices):
        np.testing.assert_allclose(side[vs, f], 0.0, atol=1e-10)
        assert len(vs) == n  # random frames are simplicial
        for g in fac.neighbors[f]:
            assert len(np.intersect1d(vs, fac.vertices[g])) == n - 1  # share a ridge
    _check_incidence(fac, len(W))
    tri = hull.facets(W, merge=False)
    assert tri.n_facets == fac.n_facets


def test_facets_is_frozen_and_read_only():
    fac = hull.facets(reluinj.icosahedron())
    with pytest.raises(dataclasses.FrozenInstanceError):
        fac.merged = False
    with pytest.raises(ValueError, match="read-only"):
        fac.indices[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        fac.vertices[0][0] = 1


def _half_space_frame():
    W = reluinj.random_frame(10, 3, seed=1)
    W[:, 0] = np.abs(W[:, 0]) + 0.1  # all rows in the open half-space x_0 > 0
    return W


def _circle_frame():
    # Rows on a circle of the sphere: coplanar, so Qhull alone would fail on a flat hull.
    t = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    return np.column_stack([np.cos(t), np.sin(t), np.full(7, 0.5)])


def _boundary_frame():
    # 0 on the boundary of the hull: the cross-polytope without -e_0.
    return np.delete(reluinj.cross_polytope(3), 3, axis=0)


@pytest.mark.parametrize(
    "W, exc, match",
    [
        (_half_space_frame(), ValueError, r"not omnidirectional.*margin t\* = "),
        (_boundary_frame(), ValueError, r"not omnidirectional.*margin t\* = "),
        (_circle_frame(), ValueError, r"not omnidirectional.*margin t\* = "),
        (np.vstack([reluinj.cross_polytope(2), [[1.0, 1.0]]]) @ np.array([[1.0, 0, 0],
                                                                          [0, 1.0, 0]]),
         NotAFrameError, r"rank 2 < n=3"),
        (np.vstack([reluinj.icosahedron(), 2 * reluinj.icosahedron()[3]]), ValueError,
         r"same direction.*\(3, 12\)"),
        (reluinj.random_frame(3, 3, seed=0), ValueError, r"at least n \+ 1 = 4 rows"),
        (np.array([[1.0], [-1.0]]), ValueError, r"n >= 2"),
        (np.ones(3), ValueError, r"W must be 2-D"),
        (np.where(np.eye(4, 3) > 0, np.nan, 1.0), ValueError, r"W contains NaN"),
        (np.vstack([reluinj.icosahedron(), np.zeros(3)]), ValueError, r"zero rows at indices \[12\]"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), TypeError, r"W must hold real numbers"),
    ],
    ids=["half-space", "boundary", "coplanar", "rank-deficient", "duplicate", "m<n+1", "n=1", "1-D",
         "nan", "zero-row", "strings"],
)
def test_facets_bad_input(W, exc, match):
    with pytest.raises(exc, match=match):
        hull.facets(W)


def test_facets_wraps_qhull_error(monkeypatch):
    def failing(points):
        raise QhullError("QH6154 Qhull precision error: initial simplex is flat")

    # reluinj.frames.hull imports ConvexHull when it is called (lazy SciPy): patch it at the source.
    monkeypatch.setattr(scipy.spatial, "ConvexHull", failing)  # on an omnidirectional frame
    with pytest.raises(HullError, match="Qhull failed.*QH6154") as info:
        hull.facets(reluinj.icosahedron())
    assert isinstance(info.value.__cause__, QhullError)


def _check_kkt(A, b, x):
    w = A.T @ (b - A @ x)
    scale = np.abs(A).sum() * max(1.0, np.linalg.norm(b))
    assert np.all(x >= 0)
    assert w.max() <= KKT_TOL * scale
    np.testing.assert_allclose(w[x > 0], 0.0, atol=KKT_TOL * scale)


@given(seed=st.integers(0, 2**32 - 1), M=st.integers(1, 12), N=st.integers(1, 12))
def test_nnls_matches_scipy(seed, M, N):
    gen = np.random.default_rng(seed)
    A = gen.standard_normal((M, N))
    b = gen.standard_normal(M)
    x, rnorm = hull.nnls(A, b)
    x_ref, rnorm_ref = scipy.optimize.nnls(A, b)
    assert rnorm == pytest.approx(np.linalg.norm(A @ x - b), rel=EXACT, abs=EXACT)
    assert rnorm == pytest.approx(rnorm_ref, rel=NNLS_RTOL, abs=NNLS_RTOL)
    _check_kkt(A, b, x)
    if M >= N:  # unique minimiser (A has full column rank almost surely)
        np.testing.assert_allclose(x, x_ref, rtol=NNLS_RTOL, atol=NNLS_RTOL)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 8), k=st.integers(2, 16))
def test_nnls_cone_projection_matches_scipy(seed, n, k):
    """The polytope-bias use: project -v onto the cone of unit generators."""
    gen = np.random.default_rng(seed)
    G = gen.standard_normal((k, n))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    v = G[0]
    x, rnorm = hull.nnls(G.T, -v)
    x_ref, rnorm_ref = scipy.optimize.nnls(G.T, -v)
    assert np.linalg.norm(G.T @ x) == pytest.approx(np.linalg.norm(G.T @ x_ref),
                                                    rel=NNLS_RTOL, abs=NNLS_RTOL)
    assert rnorm == pytest.approx(rnorm_ref, rel=NNLS_RTOL, abs=NNLS_RTOL)
    _check_kkt(G.T, -v, x)


def test_nnls_closed_forms():
    # Orthonormal A: x = max(b, 0).
    x, rnorm = hull.nnls(np.eye(3), np.array([1.0, -2.0, 3.0]))
    np.testing.assert_array_equal(x, [1.0, 0.0, 3.0])
    assert rnorm == pytest.approx(2.0, rel=EXACT)
    x, rnorm = hull.nnls(np.ones((2, 2)), np.zeros(2))
    np.testing.assert_array_equal(x, 0.0)
    assert rnorm == 0.0


def test_nnls_bad_input():
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        hull.nnls(np.eye(3), np.ones(2))
    with pytest.raises(ValueError, match="A must be 2-D"):
        hull.nnls(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="b contains NaN"):
        hull.nnls(np.eye(2), [np.nan, 1.0])
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        hull.nnls(np.eye(2), np.ones(2), max_iter=0)
    with pytest.raises(RuntimeError, match="iteration limit"):
        hull.nnls(np.eye(5), np.ones(5), max_iter=2)
    with pytest.raises(TypeError):
        reluinj._core.nnls(np.eye(2, dtype=np.float32), np.ones(2), 10)
