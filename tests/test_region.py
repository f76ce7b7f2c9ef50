"""Tests of the radial profile, the injectivity radius / region and J*(x), each against an
independent oracle: dense sampling of is_injective_at along rays (strictly inside the
segments, away from the breakpoints), NumPy matrix_rank of the active rows, brute-force 2-D
grids, closed forms, and the polytope bias."""
import numpy as np
import pytest

import reluinj
from reluinj import Ball, ReLULayer

THREADS = 2


def _layer(m, n, seed):
    """Random frame with alternating negative / larger positive biases: rows leave and enter
    along the rays, so many rays fail at a positive finite radius."""
    rng = np.random.default_rng(seed)
    W = reluinj.random_frame(m, n, seed=seed)
    alpha = np.where(np.arange(m) % 2 == 1, 2.0, -1.0) * rng.uniform(0.2, 1.0, m)
    return W, alpha


def _interior_radii(W, alpha, u, t_max, per_segment=3):
    """Radii strictly inside the segments of the ray t u (computed here from the definition
    t_i = alpha_i / <u, φ_i>), relative distance >= 1e-4 from every breakpoint."""
    c = W @ u
    with np.errstate(divide="ignore", invalid="ignore"):
        t = alpha / c
    t = np.unique(t[np.isfinite(t) & (t > 0) & (t < t_max)])
    edges = np.concatenate(([0.0], t, [t_max]))
    fr = (np.arange(per_segment) + 1.0) / (per_segment + 1.0)
    pts = (edges[:-1, None] + fr[None, :] * np.diff(edges)[:, None]).ravel()
    near = np.min(np.abs(pts[:, None] - t[None, :]), axis=1, initial=np.inf) if t.size else np.inf
    return pts[near > 1e-4 * np.maximum(pts, 1e-300)]


@pytest.mark.parametrize("m,n,seed", [(8, 2, 4), (6, 3, 1), (16, 5, 2), (24, 8, 3)])
def test_profile_matches_dense_ray_sampling(m, n, seed):
    W, alpha = _layer(m, n, seed)
    U = reluinj.testing.sphere_samples(40, n, seed=seed + 10)
    prof = reluinj.radial_profile(W, alpha, U, n_threads=THREADS)
    layer = ReLULayer(W, alpha)
    n_checked = 0
    for s, u in enumerate(U):
        lo, hi, rank = prof.segments(s)
        assert np.all(np.diff(lo) > 0)  # distinct breakpoints, no empty segment
        t_max = 2.0 * (lo[-1] + 1.0)
        t = _interior_radii(W, alpha, u, t_max)
        X = t[:, None] * u[None, :]
        j = np.searchsorted(lo, t, side="right") - 1
        # Same rank as the point-wise test, and as NumPy's matrix_rank of the active rows.
        np.testing.assert_array_equal(rank[j], layer.active_rank(X))
        ref = [np.linalg.matrix_rank(W[x @ W.T >= alpha]) if (x @ W.T >= alpha).any() else 0
               for x in X]
        np.testing.assert_array_equal(rank[j], ref)
        inj = layer.is_injective_at(X)
        rho = prof.first_failure[s]
        assert inj[t < rho].all()
        if np.isfinite(rho):
            assert not inj[(t > rho)][0]  # the first sample past rho is in the failing segment
            n_checked += rho > 0
        # intervals() agree with the samples.
        iv = prof.intervals(s)
        inside = ((t[:, None] > iv[:, 0]) & (t[:, None] < iv[:, 1])).any(axis=1)
        np.testing.assert_array_equal(inside, inj)
    assert n_checked >= 5
    assert (prof.failure_row >= 0).sum() >= 5


def test_profile_thread_count_independent_and_first_only_agrees():
    W, alpha = _layer(24, 8, 4)
    U = reluinj.testing.sphere_samples(3000, 8, seed=5)
    p1 = reluinj.radial_profile(W, alpha, U, n_threads=1)
    p2 = reluinj.radial_profile(W, alpha, U, n_threads=2)
    for f in ("indptr", "starts", "ranks", "first_failure", "failure_row"):
        np.testing.assert_array_equal(getattr(p1, f), getattr(p2, f))
    q = reluinj.radial_profile(W, alpha, U, first_only=True, n_threads=2)
    np.testing.assert_array_equal(q.first_failure, p1.first_failure)
    np.testing.assert_array_equal(q.failure_row, p1.failure_row)
    assert q.starts.size == 0
    # The failing row's breakpoint is the failure radius.
    s = np.flatnonzero(p1.failure_row >= 0)
    r = p1.failure_row[s]
    c = np.einsum("ij,ij->i", W[r], U[s] / np.linalg.norm(U[s], axis=1, keepdims=True))
    np.testing.assert_allclose(alpha[r] / c, p1.first_failure[s], rtol=1e-12)


def test_profile_large_layer_fallback_path_matches_point_test():
    # m > 2048: no Gram matrix, IncrementalBasis only.
    W, alpha = _layer(2100, 3, 6)
    U = reluinj.testing.sphere_samples(5, 3, seed=7)
    prof = reluinj.radial_profile(W, alpha, U, t_max=3.0)
    layer = ReLULayer(W, alpha)
    for s, u in enumerate(U):
        lo, _, rank = prof.segments(s)
        t = _interior_radii(W, alpha, u, 3.0, per_segment=1)[::50]
        j = np.searchsorted(lo, t, side="right") - 1
        np.testing.assert_array_equal(rank[j], layer.active_rank(t[:, None] * u))


def test_ties_at_equal_breakpoints_are_one_event():
    # Along u = (1, 1)/sqrt(2): the leaving rows -e1, -e2 (indices 0, 1) and the entering rows
    # e1, e2 all switch at t = sqrt(2). Processing the leaving rows first, one at a time,
    # would report a spurious rank-0 segment; the layer is injective on the whole ray.
    W = np.array([[-1.0, 0.0], [0.0, -1.0], [1.0, 0.0], [0.0, 1.0]])
    alpha = np.array([-1.0, -1.0, 1.0, 1.0])
    prof = reluinj.radial_profile(W, alpha, [1.0, 1.0])
    lo, _, rank = prof.segments(0)
    assert lo.size == 2 and lo[0] == 0.0
    np.testing.assert_allclose(lo[1], np.sqrt(2), rtol=1e-15)
    np.testing.assert_array_equal(rank, [2, 2])
    assert prof.first_failure[0] == np.inf
    # Duplicated rows (the same hyperplane twice): one breakpoint, one event.
    W2 = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    a2 = np.array([0.5, 1.0, -1.0, -1.0])
    lo2, _, _ = reluinj.radial_profile(W2, a2, [1.0, 0.0]).segments(0)
    np.testing.assert_allclose(lo2, [0.0, 0.5, 1.0])


def test_cross_polytope_closed_forms():
    # e_i active iff x_i >= -a, -e_i active iff x_i <= -b: with b > a the layer fails
    # exactly where some -b < x_i < -a, so the injectivity radius is a (n = 2 and 3).
    for n in (2, 3):
        a, b = 0.3, 0.7
        W = reluinj.cross_polytope(n)  # rows e_1, -e_1, e_2, -e_2, ... (checked below)
        alpha = np.where(W.sum(axis=1) > 0, -a, b)
        prof = reluinj.radial_profile(W, alpha, -np.eye(n))
        np.testing.assert_allclose(prof.first_failure, a, rtol=1e-15)
        np.testing.assert_allclose(np.vstack([prof.intervals(s) for s in range(n)]),
                                   np.tile([[0.0, a], [b, np.inf]], (n, 1)))
        res = reluinj.injectivity_radius(W, alpha, seed=0)
        assert res.radius == pytest.approx(a, rel=1e-12)
        assert res.exact == (n == 2)
        # Only the negative half-axes fail: the non-negative part of the ball never does.
        assert reluinj.injectivity_radius(W, alpha, nonnegative=True, seed=0).radius == np.inf


def test_standard_basis_closed_forms():
    # W = I: injective iff every x_i >= alpha_i... with alpha = -a: radius a, on R^n_+ inf.
    for n in (2, 4):
        res = reluinj.injectivity_radius(np.eye(n), np.full(n, -0.25), seed=1)
        assert res.radius == pytest.approx(0.25, rel=1e-12)
        att = res.directions  # attained on the negative half-axes
        assert att.shape[1] == n and np.allclose(att.min(axis=1), -1.0)
        nn = reluinj.injectivity_radius(np.eye(n), np.full(n, -0.25), nonnegative=True, seed=1)
        assert nn.radius == np.inf
        zero = reluinj.injectivity_radius(np.eye(n), np.full(n, 0.1), nonnegative=True, seed=1)
        assert zero.radius == 0.0


def _grid_min_failure(W, alpha, R, k=500):
    """Smallest norm of a non-injective point of a k x k grid of [-R, R]^2 (inf if none)."""
    g = np.linspace(-R, R, k)
    X = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    bad = ~ReLULayer(W, alpha).is_injective_at(X)
    return np.linalg.norm(X[bad], axis=1).min(initial=np.inf)


def _fails_near(W, alpha, x, delta, k=4000, seed=0):
    """Is there a non-injective point within `delta` of x (dense random disc)?"""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((k, 2))
    v *= (delta * np.sqrt(rng.random(k)) / np.linalg.norm(v, axis=1))[:, None]
    return not ReLULayer(W, alpha).is_injective_at(x + v).all()


@pytest.mark.parametrize("nonnegative", [False, True])
def test_sweep_2d_agrees_with_dense_rays_and_grid(nonnegative):
    checked = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        m = int(rng.integers(3, 6))
        W = reluinj.random_frame(m, 2, seed=200 + seed)
        alpha = rng.uniform(-1.0, 0.3, m)
        res = reluinj.injectivity_radius(W, alpha, nonnegative=nonnegative)
        r = res.radius
        # Dense ray oracle: 3600 angles, radii inside the segments: no failure below r.
        lo, hi = (0.0, np.pi / 2) if nonnegative else (0.0, 2 * np.pi)
        th = np.linspace(lo, hi, 3601)
        U = np.column_stack([np.cos(th), np.sin(th)])
        layer = ReLULayer(W, alpha)
        rho_dense = np.inf
        for u in U[::18]:
            t = _interior_radii(W, alpha, u, 50.0, per_segment=4)
            inj = layer.is_injective_at(t[:, None] * u)
            if not inj.all():
                rho_dense = min(rho_dense, t[~inj][0])
        assert rho_dense >= r * (1 - 1e-12)
        prof = reluinj.radial_profile(W, alpha, U)
        assert prof.first_failure.min() >= r * (1 - 1e-12)
        if not np.isfinite(r):
            assert rho_dense == np.inf
            continue
        # The radius is attained: a failing point within 1e-6 of r u* (u* in the domain).
        u = res.directions[0]
        assert np.isclose(np.linalg.norm(u), 1.0)
        if nonnegative:
            assert (u >= -1e-15).all()
        assert _fails_near(W, alpha, r * u, 1e-6 * max(r, 1.0), seed=seed)
        # Brute-force grid: no non-injective grid point inside the open ball.
        if not nonnegative:
            assert _grid_min_failure(W, alpha, 2.0 * r + 0.5, k=300) >= r * (1 - 1e-12)
        checked += r > 0
    assert checked >= 4


def test_polytope_ball_bias_certifies_the_injectivity_radius():
    # Property: with alpha = polytope_bias(W, Ball(r)).alpha the radius is >= r (exact sweep
    # in 2-D, sampled upper bound in 3-D), and the certified lower bound equals r.
    count = 0
    for n, seeds in ((2, range(30)), (3, range(30))):
        for seed in seeds:
            rng = np.random.default_rng(seed)
            m = int(rng.integers(n + 2, 3 * n + 3))
            W = reluinj.random_frame(m, n, seed=1000 * n + seed)
            if not reluinj.is_omnidirectional(W):
                continue
            r = float(rng.uniform(0.5, 2.0))
            alpha = reluinj.polytope_bias(W, Ball(r)).alpha
            res = reluinj.injectivity_radius(W, alpha, n_directions=256, n_refine=2, seed=seed)
            assert res.radius >= r * (1 - 1e-9), (n, seed, res.radius, r)
            assert res.lower_bound >= r * (1 - 1e-9)
            if (reluinj.polytope_bias(W, Ball(1.0)).alpha < 0).any():
                assert res.lower_bound == pytest.approx(r, rel=1e-9)
            count += 1
    assert count >= 50


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_sweep_vs_grid_just_above_regular_polygon_bias(k):
    # Regular k-gon, alpha = its ball bias for B_1: radius >= 1. Raising one alpha_i by 1e-3:
    # the sweep agrees with a brute-force grid and a local disc search; for k = 4, 5 a closed
    # half-plane through 0 may hold only φ_i and one neighbour, so removing φ_i breaks
    # injectivity arbitrarily close to the origin: the radius drops below 1.
    th = 2 * np.pi * np.arange(k) / k + 0.1
    W = np.column_stack([np.cos(th), np.sin(th)])
    alpha = reluinj.polytope_bias(W, Ball(1.0)).alpha
    assert reluinj.injectivity_radius(W, alpha).radius >= 1.0 - 1e-12
    for i in range(k):
        a2 = alpha.copy()
        a2[i] += 1e-3
        res = reluinj.injectivity_radius(W, a2)
        assert _grid_min_failure(W, a2, 1.5, k=300) >= res.radius * (1 - 1e-12)
        if k in (4, 5):
            assert res.radius < 1e-2
        if res.radius < 1.0:
            x = (res.radius + 1e-4) * res.directions[0]
            assert _fails_near(W, a2, x, 1e-4)


def test_region_object():
    W, alpha = _layer(10, 2, 8)
    reg = reluinj.InjectivityRegion(W, alpha)
    X = reluinj.testing.ball_samples(200, 2, seed=9) * 3
    np.testing.assert_array_equal(reg.contains(X), ReLULayer(W, alpha).is_injective_at(X))
    np.testing.assert_array_equal(reg.profile([[1.0, 0.0]]).ranks,
                                  reluinj.radial_profile(W, alpha, [[1.0, 0.0]]).ranks)
    assert reg.radius().radius == reluinj.injectivity_radius(W, alpha).radius
    with pytest.raises(Exception):
        reg.W[0, 0] = 1.0


def test_zero_row_changes_no_radius():
    """A zero row of W is active for alpha_i < 0 but adds no rank and has no breakpoint, so
    the radius is that of the frame without it (the sampled method once divided by its norm
    and failed with a NaN message about U)."""
    W, alpha = _layer(10, 3, 4)
    Wz, az = np.vstack([W, np.zeros(3)]), np.append(alpha, -1.0)
    want = reluinj.injectivity_radius(W, alpha, n_directions=256, seed=3, certify=False)
    got = reluinj.injectivity_radius(Wz, az, n_directions=256, seed=3, certify=False)
    assert got.radius == want.radius
    U = reluinj.testing.sphere_samples(50, 3, seed=5)
    np.testing.assert_array_equal(reluinj.radial_profile(Wz, az, U).first_failure,
                                  reluinj.radial_profile(W, alpha, U).first_failure)


def test_float32_profile():
    W, alpha = _layer(20, 3, 10)
    U = reluinj.testing.sphere_samples(20, 3, seed=11)
    p32 = reluinj.radial_profile(W.astype(np.float32), alpha.astype(np.float32),
                                 U.astype(np.float32))
    p64 = reluinj.radial_profile(W, alpha, U)
    np.testing.assert_allclose(p32.first_failure, p64.first_failure, rtol=1e-4)


def test_bad_input_names_the_argument():
    W, alpha = _layer(6, 2, 12)
    with pytest.raises(ValueError, match="U"):
        reluinj.radial_profile(W, alpha, [[0.0, 0.0]])
    with pytest.raises(ValueError, match="U"):
        reluinj.radial_profile(W, alpha, [[np.nan, 1.0]])
    with pytest.raises(ValueError, match="U"):
        reluinj.radial_profile(W, alpha, [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="alpha"):
        reluinj.radial_profile(W, alpha[:-1], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="alpha"):
        reluinj.radial_profile(W, np.where(np.arange(6) == 0, np.inf, alpha), [[1.0, 0.0]])
    Wbad = W.copy()
    Wbad[0, 0] = np.nan
    with pytest.raises(ValueError, match="W"):
        reluinj.radial_profile(Wbad, alpha, [[1.0, 0.0]])
    with pytest.raises(ValueError, match="t_max"):
        reluinj.radial_profile(W, alpha, [[1.0, 0.0]], t_max=0.0)
    with pytest.raises(ValueError, match="n=2"):
        reluinj.injectivity_radius(reluinj.random_frame(6, 3, seed=0), 0.0, method="sweep")
    with pytest.raises(ValueError, match="method"):
        reluinj.injectivity_radius(W, alpha, method="exact")
    with pytest.raises(ValueError, match="n_directions"):
        reluinj.injectivity_radius(reluinj.random_frame(6, 3, seed=0), 0.0, n_directions=0)


def _greedy_mcb(W, x):
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    c = Wn @ x
    order = sorted(range(len(c)), key=lambda i: (-c[i], i))
    J = []
    for i in order:
        if np.linalg.matrix_rank(Wn[J + [i]]) > len(J):
            J.append(i)
        if len(J) == W.shape[1]:
            break
    return J


@pytest.mark.parametrize("W", [reluinj.random_frame(15, 3, seed=3), reluinj.icosahedron(),
                               reluinj.cube(), reluinj.cross_polytope(4)],
                         ids=["random", "icosahedron", "cube", "cross4"])
def test_most_correlated_basis_matches_brute_force_greedy(W):
    X = reluinj.testing.sphere_samples(300, W.shape[1], seed=4)
    J = reluinj.most_correlated_basis(W, X, n_threads=THREADS)
    assert J.shape == (300, W.shape[1]) and J.dtype == np.int64
    for x, j in zip(X, J):
        assert j.tolist() == _greedy_mcb(W, x)
    np.testing.assert_array_equal(reluinj.most_correlated_basis(W, X, n_threads=1), J)
    np.testing.assert_array_equal(reluinj.most_correlated_basis(W, X[0]), J[0])
