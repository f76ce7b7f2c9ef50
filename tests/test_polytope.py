"""Tests of reluinj.polytope_bias (approach B) against closed forms and independent oracles."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.optimize
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

import reluinj
from reluinj import Annulus, Ball, Sphere, _core, hull
from reluinj._lib.exceptions import NotAFrameError
from reluinj.testing import ball_samples, sphere_samples

EXACT = 1e-12  # closed forms, float64
ORACLE = 1e-9  # our NNLS against scipy's NNLS
FLOAT32 = 1e-5
SAMPLED_SLACK = 0.05  # brute-force minimum over dense cone samples vs the exact minimum

VARIANT_CODES = {"vertex": 0, "facet": 1, "authors": 2}


def _reference_bias(W, variant="vertex"):
    """Straightforward NumPy/scipy implementation on Qhull's simplices (unit sphere)."""
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    simplices = ConvexHull(Wn).simplices
    m = len(Wn)

    def min_on_cone(G, v):
        g = G @ v
        if g.min() >= 0:
            return g.min()
        c, _ = scipy.optimize.nnls(G.T, -v)
        return -np.linalg.norm(G.T @ c)

    alpha = np.full(m, np.inf)
    if variant == "authors":
        for i in range(m):
            hood = np.unique(simplices[(simplices == i).any(axis=1)])
            G = Wn[hood]
            g = G @ Wn[i]
            if g.min() >= 0:
                alpha[i] = g.min()
            else:
                alpha[i] = min(-np.linalg.norm(G.T @ scipy.optimize.nnls(G.T, -Wn[k])[0])
                               for k in hood)
        return alpha
    for F in simplices:
        betas = [min_on_cone(Wn[F], Wn[i]) for i in F]
        if variant == "facet":
            betas = [min(betas)] * len(F)
        for i, b in zip(F, betas):
            alpha[i] = min(alpha[i], b)
    return alpha


def _omni_frame(m, n, seed):
    W = reluinj.random_frame(m, n, seed=seed)
    assert reluinj.is_omnidirectional(W)
    return W


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("variant", ["vertex", "facet", "authors"])
@pytest.mark.parametrize("facets", ["true", "triangulated"])
def test_polytope_bias_icosahedron(variant, facets):
    W = reluinj.icosahedron()
    est = reluinj.polytope_bias(W, facet_mode=facets, variant=variant)
    np.testing.assert_allclose(est.alpha, 1 / np.sqrt(5), rtol=EXACT)
    np.testing.assert_allclose(est.alpha_normalized, est.alpha, rtol=EXACT)
    assert est.method == f"polytope:{variant}"
    assert len(est.facet_vertices) == 20 and est.n_samples is None
    ball = reluinj.polytope_bias(W, Ball(), facet_mode=facets, variant=variant)
    np.testing.assert_array_equal(ball.alpha, 0.0)


@pytest.mark.parametrize("domain", [Sphere(), Ball()], ids=["sphere", "ball"])
@pytest.mark.parametrize("variant", ["vertex", "facet"])
def test_polytope_bias_tetrahedron(domain, variant):
    est = reluinj.polytope_bias(reluinj.tetrahedron(), domain, variant=variant)
    np.testing.assert_allclose(est.alpha, -1 / np.sqrt(3), rtol=EXACT)


def test_polytope_bias_tetrahedron_authors_rule_is_minus_one():
    # Cone(N(i)) = R^3 for the tetrahedron, so the authors' rule gives -1 (spec §9).
    est = reluinj.polytope_bias(reluinj.tetrahedron(), variant="authors")
    np.testing.assert_allclose(est.alpha, -1.0, rtol=EXACT)


def test_polytope_bias_cube_true_facets():
    est = reluinj.polytope_bias(reluinj.cube())
    np.testing.assert_allclose(est.alpha, -1 / 3, rtol=EXACT)
    assert len(est.facet_vertices) == 6


def test_polytope_bias_cube_triangulated_depends_on_qhull_diagonals():
    """Qhull splits each square along one diagonal; the diagonals it picks all join
    vertices of one of the two inscribed tetrahedra (rows 0-3 or rows 4-7 of cube()).
    Those vertices see only triangles with correlations >= 1/3 (+1/3), the others -1/3."""
    est = reluinj.polytope_bias(reluinj.cube(), facet_mode="triangulated")
    positive = set(np.flatnonzero(est.alpha > 0).tolist())
    assert positive in ({0, 1, 2, 3}, {4, 5, 6, 7})
    np.testing.assert_allclose(np.abs(est.alpha), 1 / 3, rtol=EXACT)
    # Triangulated values are never below the true-facet ones (smaller cones).
    assert np.all(est.alpha >= reluinj.polytope_bias(reluinj.cube()).alpha - EXACT)
    facet_rule = reluinj.polytope_bias(reluinj.cube(), facet_mode="triangulated", variant="facet")
    np.testing.assert_allclose(facet_rule.alpha, -1 / 3, rtol=EXACT)


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(3, 12))
def test_polytope_bias_2d_polygon(seed, m):
    """In R^2 the facets are the edges between angularly adjacent vectors; on an edge of
    angle theta < pi, the minimum of <x, phi_i> over the arc is cos(theta)."""
    gen = np.random.default_rng(seed)
    theta = np.sort(gen.uniform(0, 2 * np.pi, m))
    gaps = np.diff(np.append(theta, theta[0] + 2 * np.pi))
    assume(gaps.max() < np.pi - 1e-3 and gaps.min() > 1e-3)
    W = np.column_stack([np.cos(theta), np.sin(theta)]) * gen.uniform(0.5, 2.0, m)[:, None]
    expected = np.cos(np.maximum(gaps, np.roll(gaps, 1)))  # edges after and before i
    for variant in ("vertex", "facet"):
        est = reluinj.polytope_bias(W, variant=variant)
        np.testing.assert_allclose(est.alpha_normalized, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(est.alpha, np.linalg.norm(W, axis=1) * expected,
                                   rtol=1e-10, atol=1e-12)


# ------------------------------------------------------- oracles, random frames

@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5), extra=st.integers(0, 8))
def test_polytope_bias_matches_scipy_reference(seed, n, extra):
    W = reluinj.random_frame(3 * n + extra, n, seed=seed)
    assume(reluinj.is_omnidirectional(W))
    for variant in ("vertex", "facet", "authors"):
        est = reluinj.polytope_bias(W, variant=variant)
        np.testing.assert_allclose(est.alpha_normalized, _reference_bias(W, variant),
                                   rtol=ORACLE, atol=ORACLE)


def _dense_cone_samples(G, gen, k):
    """Unit vectors of cone(rows of G): Dirichlet weights concentrated on faces, plus the
    normalized midpoints of every pair of generators."""
    C = gen.dirichlet(np.full(len(G), 0.15), size=k)
    i, j = np.triu_indices(len(G), k=1)
    X = np.vstack([C @ G, G[i] + G[j]])
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("m, n, seed", [(15, 3, 0), (20, 4, 1), (14, 3, 5)])
def test_polytope_beta_against_brute_force(m, n, seed):
    W = _omni_frame(m, n, seed)
    fac = hull.facets(W)
    _, beta, _ = _core.facet_traversal(W, fac.indptr, fac.indices, 0, 1)
    gen = np.random.default_rng(seed)
    n_negative = 0
    for f, vs in enumerate(fac.vertices[:25]):
        X = _dense_cone_samples(W[vs], gen, 20_000)
        sampled = (X @ W[vs].T).min(axis=0)
        b = beta[fac.indptr[f]:fac.indptr[f + 1]]
        assert np.all(b <= sampled + EXACT)  # beta is a true lower bound ...
        assert np.all(sampled - b <= SAMPLED_SLACK)  # ... and it is attained
        n_negative += int((b < 0).sum())
    assert n_negative > 0  # the NNLS branch was exercised


@pytest.mark.parametrize("variant", ["vertex", "facet", "authors"])
def test_polytope_bias_variant_order(variant):
    W = _omni_frame(40, 5, 3)
    vertex = reluinj.polytope_bias(W).alpha
    other = reluinj.polytope_bias(W, variant=variant).alpha
    if variant == "facet":
        assert np.all(other <= vertex)
        assert np.any(other < vertex)
    elif variant == "authors":
        assert np.all(other[vertex < 0] <= vertex[vertex < 0] + EXACT)
    else:
        np.testing.assert_array_equal(other, vertex)


@pytest.mark.parametrize(
    "W",
    [_omni_frame(30, 4, 2) * np.linspace(0.5, 3.0, 30)[:, None], _omni_frame(40, 5, 9),
     reluinj.cube(), reluinj.cross_polytope(4), reluinj.icosahedron()],
    ids=["random30x4-scaled", "random40x5", "cube", "cross4", "icosahedron"],
)
def test_polytope_bias_stability_constant_and_facets(W):
    """max_F 1/sigma_min(W̃_F) against numpy's SVD of every facet (the kernel prunes facets
    by cheap bounds before its exact Jacobi SVD; the maximum must not change)."""
    est = reluinj.polytope_bias(W)
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    fac = hull.facets(W)
    expected = max(1 / np.linalg.svd(Wn[v], compute_uv=False).min() for v in fac.vertices)
    assert est.stability_constant == pytest.approx(expected, rel=1e-10)
    assert len(est.facet_vertices) == fac.n_facets
    for a, b in zip(est.facet_vertices, fac.vertices):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------- domains and row norms

def test_polytope_bias_domain_scaling_and_row_norms():
    W0 = _omni_frame(25, 4, 7)
    scale = np.linspace(0.2, 5.0, 25)
    W = W0 * scale[:, None]
    a = reluinj.polytope_bias(W0).alpha
    assert np.any(a > 0) and np.any(a < 0)
    cases = [
        (Sphere(2.5), 2.5 * a),
        (Ball(3.0), 3.0 * np.minimum(a, 0)),
        (Annulus(0.5, 2.0), np.where(a >= 0, 0.5 * a, 2.0 * a)),
    ]
    for domain, expected in cases:
        est = reluinj.polytope_bias(W, domain)
        np.testing.assert_allclose(est.alpha_normalized, expected, rtol=EXACT, atol=EXACT)
        np.testing.assert_allclose(est.alpha, scale * expected, rtol=EXACT, atol=EXACT)
        assert est.domain == domain


def test_polytope_bias_float32_input():
    W = _omni_frame(30, 4, 11)
    est64 = reluinj.polytope_bias(W)
    est32 = reluinj.polytope_bias(W.astype(np.float32))
    assert est32.alpha.dtype == np.float64
    np.testing.assert_allclose(est32.alpha, est64.alpha, rtol=FLOAT32, atol=FLOAT32)


def test_polytope_bias_nonnegative_domain():
    W = _omni_frame(25, 3, 6)
    full = reluinj.polytope_bias(W)
    est = reluinj.polytope_bias(W, Sphere(nonnegative=True))
    assert len(est.facet_vertices) < len(full.facet_vertices)
    assert np.all(est.alpha >= full.alpha - 1e-12)  # fewer points: never smaller (rounding)
    assert est.n_unbounded > 0  # rows in no facet touching R^n_+ are never needed
    X = np.abs(sphere_samples(200_000, 3, seed=0))
    assert est.certify(X).all()
    ball = reluinj.polytope_bias(W, Ball(nonnegative=True))
    np.testing.assert_array_equal(ball.alpha, np.minimum(est.alpha, 0))
    assert reluinj.polytope_bias(W, Ball(nonnegative=True)).certify(
        np.abs(ball_samples(100_000, 3, seed=1))).all()


# ----------------------------------------------------------------- certification

@pytest.mark.slow
@pytest.mark.parametrize("m, n, seed", [(20, 3, 0), (40, 5, 1), (60, 6, 2)])
def test_polytope_bias_certifies_injectivity(m, n, seed):
    W = _omni_frame(m, n, seed)
    gen = np.random.default_rng(seed)
    sphere = reluinj.polytope_bias(W)
    assert sphere.certify(sphere_samples(1_000_000, n, seed=gen)).all()
    ball = reluinj.polytope_bias(W, Ball())
    assert ball.certify(ball_samples(100_000, n, seed=gen)).all()


def test_polytope_bias_too_large_bias_breaks_injectivity():
    """The bound is not vacuous: doubling the positive icosahedron bias loses injectivity."""
    W = reluinj.icosahedron()
    est = reluinj.polytope_bias(W)
    X = sphere_samples(100_000, 3, seed=0)
    assert est.certify(X).all()
    assert not reluinj.ReLULayer(W, 2 * est.alpha).is_injective_at(X).all()


# --------------------------------------------------------------------- threads

@pytest.mark.parametrize("variant", ["vertex", "facet", "authors"])
def test_polytope_bias_thread_count_invariant(variant, n_threads):
    W = _omni_frame(60, 6, 8)
    ref = reluinj.polytope_bias(W, variant=variant, n_threads=1)
    est = reluinj.polytope_bias(W, variant=variant, n_threads=n_threads)
    np.testing.assert_array_equal(est.alpha, ref.alpha)
    assert est.stability_constant == ref.stability_constant
    fac = hull.facets(W)
    outs = [_core.facet_traversal(W, fac.indptr, fac.indices, VARIANT_CODES[variant], t)
            for t in (1, n_threads)]
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    assert 1 / outs[0][2] == pytest.approx(est.stability_constant, rel=EXACT)


def test_polytope_bias_concurrent_calls():
    # 60x6 frames have ~3000 facets, enough for the kernel to use 2 threads.
    frames = [_omni_frame(60, 6, s) for s in range(4)]
    expected = [reluinj.polytope_bias(W).alpha for W in frames]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda W: reluinj.polytope_bias(W, n_threads=2).alpha, frames))
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"domain": "sphere"}, TypeError, r"domain must be reluinj.Sphere"),
        ({"facet_mode": "merged"}, ValueError, r"facet_mode must be 'true' or 'triangulated'"),
        ({"variant": "v1"}, ValueError, r"variant must be one of"),
        ({"n_threads": 0}, ValueError, r"n_threads=0 is invalid"),
        ({"n_threads": 1.5}, TypeError, r"n_threads must be an int"),
    ],
    ids=["domain", "facet_mode", "variant", "n_threads0", "n_threads-float"],
)
def test_polytope_bias_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reluinj.polytope_bias(reluinj.icosahedron(), **kwargs)


def test_polytope_bias_bad_frames():
    W = reluinj.random_frame(10, 3, seed=1)
    W[:, 0] = np.abs(W[:, 0]) + 0.1
    with pytest.raises(ValueError, match=r"not omnidirectional.*margin t\* = "):
        reluinj.polytope_bias(W)
    with pytest.raises(NotAFrameError, match=r"rank 2 < n=3"):
        reluinj.polytope_bias(np.column_stack([reluinj.icosahedron()[:, :2], np.zeros(12)]))
    with pytest.raises(ValueError, match=r"same direction"):
        reluinj.polytope_bias(np.vstack([reluinj.icosahedron(), reluinj.icosahedron()[:1]]))
    with pytest.raises(ValueError, match=r"at least n \+ 1 = 4 rows"):
        reluinj.polytope_bias(np.eye(3))


def test_facet_traversal_rechecks_sizes():
    W = reluinj.icosahedron()
    fac = hull.facets(W)
    indptr, indices = fac.indptr, fac.indices
    with pytest.raises(ValueError, match=r"out of range"):
        _core.facet_traversal(W, indptr, np.where(indices == 0, 12, indices), 0, 1)
    with pytest.raises(ValueError, match=r"indptr\[-1\] must equal len\(indices\)"):
        _core.facet_traversal(W, indptr, indices[:-1].copy(), 0, 1)
    with pytest.raises(ValueError, match=r"at least n vertices"):
        _core.facet_traversal(W, np.array([0, 2], dtype=np.int64), indices[:2].copy(), 0, 1)
    with pytest.raises(ValueError, match=r"need at least one facet"):
        _core.facet_traversal(W, np.zeros(1, np.int64), np.zeros(0, np.int64), 0, 1)
    with pytest.raises(ValueError, match=r"variant must be"):
        _core.facet_traversal(W, indptr, indices, 3, 1)
    with pytest.raises(ValueError, match=r"n_threads must be >= 1"):
        _core.facet_traversal(W, indptr, indices, 0, 0)
    with pytest.raises(TypeError):
        _core.facet_traversal(W, indptr.astype(np.int32), indices, 0, 1)


# ----------------------------------------------------------------- non-negative domains (exact)

def test_nonnegative_standard_basis_is_zero_rectifying():
    # W = I is not omnidirectional, but R^2_+ = cone(I): accepted, bias 0 exactly (x = e_2
    # has <x, e_1> = 0), and injective there; the cross polytope gives 0 as well.
    for W in (np.eye(2), reluinj.cross_polytope(2), np.eye(3)):
        est = reluinj.polytope_bias(W, Sphere(nonnegative=True))
        np.testing.assert_array_equal(est.alpha, np.zeros(W.shape[0]))
        X = np.abs(sphere_samples(5000, W.shape[1], seed=0))
        assert est.certify(X).all()
        if W.shape[0] == W.shape[1]:  # W = I: tight, any larger bias fails at x = e_n
            e_n = np.eye(W.shape[1])[-1]
            assert not reluinj.ReLULayer(W, est.alpha + 1e-3).is_injective_at(e_n)
    # The negatives of the standard basis do not cover R^2_+: a clear error.
    with pytest.raises(ValueError, match="non-negatively omnidirectional"):
        reluinj.polytope_bias(-np.eye(2), Sphere(nonnegative=True))
    with pytest.raises(ValueError, match="authors"):
        reluinj.polytope_bias(np.eye(2), Sphere(nonnegative=True), variant="authors")


def _dense_orthant_bias(W, facet_vertices, k=4000, seed=0):
    """Brute force of the vertex rule: min over dense samples of cone(F) ∩ R^n_+ ∩ S."""
    rng = np.random.default_rng(seed)
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    a = np.full(len(W), np.inf)
    for F in facet_vertices:
        c = rng.exponential(size=(k, len(F))) ** 3  # heavy tails reach the cone's edges
        X = c @ Wn[F]
        X = X[(X >= 0).all(axis=1)]
        if not len(X):
            continue
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        a[F] = np.minimum(a[F], (X @ Wn[F].T).min(axis=0))
    return a


@pytest.mark.parametrize("m, n, seed", [(12, 2, 0), (20, 3, 1), (30, 3, 2), (25, 4, 3)])
def test_nonnegative_bias_against_dense_sampling(m, n, seed):
    W = _omni_frame(m, n, seed)
    est = reluinj.polytope_bias(W, Sphere(nonnegative=True))
    full = reluinj.polytope_bias(W)
    assert np.all(est.alpha >= full.alpha - 1e-12)  # fewer points: never smaller
    dense = _dense_orthant_bias(W, est.facet_vertices)
    fin = np.isfinite(est.alpha_normalized)
    assert np.all(est.alpha_normalized[fin] <= dense[fin] + 1e-12)  # exact <= any sample
    assert np.all(dense[fin] - est.alpha_normalized[fin] <= SAMPLED_SLACK)
    X = np.abs(sphere_samples(50_000, n, seed=seed))
    assert est.certify(X).all()
    # The exact orthant minimum is >= the unrestricted one and reaches it when the
    # unrestricted minimiser is itself non-negative (then both rules agree).
    assert (est.alpha[fin] > full.alpha[fin] + 1e-9).any() or n == 2
