"""Model-sparse projection, reconstruction and model-RIP (Gilbert et al., IJCAI 2017)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reluinj
from reluinj import (
    ConvOperator,
    ConvOperator2D,
    IHTResult,
    estimate_model_rip,
    filter_coherence,
    iht,
    model_project,
    model_support,
    one_shot_reconstruct,
    sample_model_sparse,
    theorem_3_3_bound,
)

RTOL64 = 1e-12
MONOTONE_SLACK = 1e-12  # relative round-off allowed in a non-increasing residual
SEC42 = dict(K=96, M=32, ell=5, D=32, k=10)  # the paper's Section 4.2 setup
N_INPUTS = 100


def _iht3(*args, **kwargs):
    """iht as (x, z, residuals), checking the result type on the way."""
    res = iht(*args, **kwargs)
    assert isinstance(res, IHTResult) and res.residuals.shape[0] == res.n_iter
    return res.x, res.z, res.residuals


def brute_model_project(h, k, pool):
    """Loop version of M(h, k) on one (K, n) array."""
    K, n = h.shape
    winners = []  # (|value|, region order, i, position)
    order = 0
    for i in range(K):
        for start in range(0, n, pool):
            best = start
            for p in range(start, min(start + pool, n)):
                if abs(h[i, p]) > abs(h[i, best]):
                    best = p
            winners.append((abs(h[i, best]), order, i, best))
            order += 1
    winners.sort(key=lambda w: (-w[0], w[1]))
    z = np.zeros_like(h)
    for _, _, i, p in winners[:k]:
        z[i, p] = h[i, p]
    return z


def in_model(z, k, pool):
    """At most one nonzero per region, at most k in all."""
    K, n = z.shape
    nnz_regions = [np.count_nonzero(z[i, s:s + pool]) for i in range(K) for s in range(0, n, pool)]
    return max(nnz_regions) <= 1 and sum(nnz_regions) <= k


# -- model_project ---------------------------------------------------------------------------

@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 5), n=st.integers(1, 9),
       pool=st.integers(1, 10), data=st.data())
def test_model_project_matches_loop(seed, K, n, pool, data):
    rng = np.random.default_rng(seed)
    R = math.ceil(n / min(pool, n))
    k = data.draw(st.integers(1, K * R))
    h = rng.integers(-3, 4, size=(K, n)).astype(float)  # integers: many ties
    z, support = model_project(h, k, pool=pool), model_support(h, k, pool=pool)
    np.testing.assert_array_equal(z, brute_model_project(h, k, min(pool, n)))
    assert support.sum() == k and np.all(z[~support] == 0)
    assert in_model(z, k, min(pool, n))


def test_model_project_is_the_euclidean_projection(rng):
    # brute force over every model-k-sparse support: M(h, k) has the least ||h - z||.
    K, n, k, pool = 3, 4, 2, 2
    h = rng.standard_normal((K, n))
    z = model_project(h, k, pool=pool)
    regions = [(i, s) for i in range(K) for s in range(0, n, pool)]
    best = np.inf
    for chosen in itertools.combinations(regions, k):
        for offs in itertools.product(range(pool), repeat=k):
            keep = np.zeros_like(h)
            for (i, s), o in zip(chosen, offs):
                keep[i, s + o] = h[i, s + o]
            best = min(best, np.linalg.norm(h - keep))
    assert np.linalg.norm(h - z) == pytest.approx(best, rel=RTOL64)
    np.testing.assert_array_equal(model_project(z, k, pool=pool), z)


def test_model_project_batched_and_float32(rng):
    h = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    z = model_project(h, 4, pool=3)
    assert z.dtype == np.float32 and z.shape == h.shape
    for a, b in itertools.product(range(2), range(3)):
        np.testing.assert_array_equal(z[a, b], brute_model_project(h[a, b], 4, 3))


def test_model_project_first_index_wins_ties():
    h = np.array([[0.0, 2.0, -2.0, 1.0], [2.0, 0.0, 0.0, -2.0]])
    z = model_project(h, 1)
    expected = np.zeros_like(h)
    expected[0, 1] = 2.0
    np.testing.assert_array_equal(z, expected)


def brute_window_project(h, k, ph, pw):
    """Loop version of M(h, k) with ph x pw pooling windows on one (K, OH, OW) array."""
    K, OH, OW = h.shape
    winners = []  # (|value|, region order, i, row, col)
    for i in range(K):
        for r0 in range(0, OH, ph):
            for c0 in range(0, OW, pw):
                cells = [(r, c) for r in range(r0, min(r0 + ph, OH)) for c in range(c0, min(c0 + pw, OW))]
                best = cells[0]
                for r, c in cells:
                    if abs(h[i, r, c]) > abs(h[i, best[0], best[1]]):
                        best = (r, c)
                winners.append((abs(h[i, best[0], best[1]]), len(winners), i) + best)
    winners.sort(key=lambda w: (-w[0], w[1]))
    z = np.zeros_like(h)
    for _, _, i, r, c in winners[:k]:
        z[i, r, c] = h[i, r, c]
    return z


def in_window_model(z, k, ph, pw):
    """At most one nonzero per ph x pw window, at most k in all."""
    K, OH, OW = z.shape
    counts = [np.count_nonzero(z[i, r:r + ph, c:c + pw])
              for i in range(K) for r in range(0, OH, ph) for c in range(0, OW, pw)]
    return max(counts) <= 1 and sum(counts) <= k


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 4), OH=st.integers(1, 7),
       OW=st.integers(1, 7), ph=st.integers(1, 4), pw=st.integers(1, 4), data=st.data())
def test_model_project_windows_match_loop(seed, K, OH, OW, ph, pw, data):
    h = np.random.default_rng(seed).standard_normal((K, OH, OW)).round(1)  # ties happen
    R = math.ceil(OH / min(ph, OH)) * math.ceil(OW / min(pw, OW))
    k = data.draw(st.integers(1, K * R))
    z, support = model_project(h, k, pool=(ph, pw)), model_support(h, k, pool=(ph, pw))
    np.testing.assert_array_equal(z, brute_window_project(h, k, min(ph, OH), min(pw, OW)))
    assert support.shape == h.shape and support.sum() == k
    assert in_window_model(z, k, ph, pw)
    np.testing.assert_array_equal(model_project(z, k, pool=(ph, pw)), z)


def test_model_project_full_width_windows_equal_runs_of_rows(rng):
    """Windows of ph full rows are the runs of ph * OW positions of the flattened map."""
    h = rng.standard_normal((3, 2, 7, 5))
    z = model_project(h, 6, pool=(2, 5))
    flat = model_project(h.reshape(3, 2, 35), 6, pool=10)
    np.testing.assert_array_equal(z, flat.reshape(h.shape))


# -- sampling ----------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", [None, 3], ids=["global", "pool3"])
def test_sample_model_sparse_structure(pool, rng):
    K, n, k = 6, 10, 5
    Z = sample_model_sparse(K, n, k, pool=pool, size=200, seed=rng)
    assert Z.shape == (200, K, n)
    p = n if pool is None else pool
    for z in Z:
        assert np.count_nonzero(z) == k and in_model(z, k, p)
    assert np.abs(Z).max() <= 1.0
    nz = Z[Z != 0]
    assert nz.min() < -0.9 and nz.max() > 0.9  # values spread over [-1, 1]
    hit = np.count_nonzero(Z, axis=0)
    assert np.all(hit > 0)  # every position reachable
    np.testing.assert_array_equal(sample_model_sparse(K, n, k, pool=pool, seed=3),
                                  sample_model_sparse(K, n, k, pool=pool, seed=3))
    assert sample_model_sparse(K, n, k, seed=3, dtype=np.float32).dtype == np.float32


def test_sample_model_sparse_windows(rng):
    K, grid, k = 4, (5, 7), 9
    Z = sample_model_sparse(K, grid, k, pool=(2, 3), size=300, seed=rng)
    assert Z.shape == (300, K) + grid
    for z in Z:
        assert np.count_nonzero(z) == k and in_window_model(z, k, 2, 3)
    assert np.all(np.count_nonzero(Z, axis=0) > 0)  # every cell reachable, cut windows too
    np.testing.assert_array_equal(sample_model_sparse(K, grid, k, pool=(2, 3), seed=3),
                                  sample_model_sparse(K, grid, k, pool=(2, 3), seed=3))


# -- Section 4.2 reproduction ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sec42():
    rng = np.random.default_rng(42)
    op = ConvOperator.random(SEC42["K"], SEC42["M"], SEC42["ell"], SEC42["D"], seed=rng)
    z = sample_model_sparse(op.K, op.n, SEC42["k"], size=N_INPUTS, seed=rng)
    return op, z, op.adjoint(z), rng


def rel_err(xh, x):
    B = x.shape[0]
    return np.linalg.norm((xh - x).reshape(B, -1), axis=1) / np.linalg.norm(x.reshape(B, -1),
                                                                              axis=1)


def _dense_conv_matrix(filters, D):
    """W[i*n + j, m*D + j + p] = filters[i, m, p] (stride 1), built from the definition."""
    K, M, ell = filters.shape
    n = D - ell + 1
    W = np.zeros((K * n, M * D))
    for i in range(K):
        for j in range(n):
            for m in range(M):
                W[i * n + j, m * D + j: m * D + j + ell] = filters[i, m]
    return W


def _dense_one_shot(W, K, x, k):
    """x_hat = W^T M(W x, k), the model projection written out: per filter block keep its entry
    of largest |h|, then keep the k largest of those K winners."""
    H = (x @ W.T).reshape(len(x), K, -1)
    rows = np.arange(len(x))[:, None]
    winner = np.abs(H).argmax(axis=2)                      # (B, K)
    vals = np.take_along_axis(H, winner[..., None], axis=2)[..., 0]
    keep = np.argsort(-np.abs(vals), axis=1, kind="stable")[:, :k]
    Z = np.zeros_like(H)
    Z[rows, keep, winner[rows, keep]] = vals[rows, keep]
    return Z.reshape(len(x), -1) @ W


def test_section_4_2_one_shot_error(sec42):
    """The one-shot error on the paper's Section 4.2 setup, against the same experiment done
    with a dense matrix and a dense model projection on 2,000 independent on-model inputs:
    the mean over the 100 inputs of the fixture lies within 4 standard errors of the dense
    mean, and the per-input errors share its range."""
    op, _, x, _ = sec42
    K, k = SEC42["K"], SEC42["k"]
    err = rel_err(one_shot_reconstruct(op, x, k), x)

    W = _dense_conv_matrix(np.asarray(op.filters, dtype=np.float64), op.D)
    assert W.shape == op.shape
    gen = np.random.default_rng(2024)
    n_ref = 2000
    Zs = np.zeros((n_ref, K, op.n))
    for b in range(n_ref):                                 # k filters, one shift in each
        blocks = gen.choice(K, size=k, replace=False)
        Zs[b, blocks, gen.integers(op.n, size=k)] = gen.uniform(-1, 1, size=k)
    Xs = Zs.reshape(n_ref, -1) @ W                         # on-model inputs x = W^T z
    ref = np.linalg.norm(_dense_one_shot(W, K, Xs, k) - Xs, axis=1) / np.linalg.norm(Xs, axis=1)

    se = np.hypot(ref.std(ddof=1) / np.sqrt(n_ref), ref.std(ddof=1) / np.sqrt(len(err)))
    assert abs(err.mean() - ref.mean()) <= 4 * se, (err.mean(), ref.mean(), se)
    assert err.max() <= ref.max() * 1.5 and err.min() >= ref.min() / 1.5


def test_one_shot_flat_input_and_dense_oracle(sec42):
    op, _, x, _ = sec42
    A = op.todense()
    x0 = x[0].ravel()
    xh = one_shot_reconstruct(op, x0, SEC42["k"])
    z = model_project((A @ x0).reshape(op.dimsd), SEC42["k"]).ravel()
    np.testing.assert_allclose(xh, A.T @ z, rtol=1e-10, atol=1e-12)
    assert xh.shape == x0.shape


def test_off_model_input_error_near_one(sec42):
    op, _, x, rng = sec42
    g = rng.standard_normal(x.shape)
    err = rel_err(one_shot_reconstruct(op, g, SEC42["k"]), g)
    assert 0.85 <= err.mean() <= 1.1


def test_relu_pair_one_shot_close_to_signed(sec42):
    op, _, x, _ = sec42
    signed = rel_err(one_shot_reconstruct(op, x, SEC42["k"]), x).mean()
    pair = op.relu_pair()
    paired = rel_err(one_shot_reconstruct(pair, x, SEC42["k"], relu=True), x).mean()
    assert abs(paired - signed) <= 0.05 * signed
    xh, z, res = _iht3(pair, x[:4], SEC42["k"], relu=True, max_iter=10)
    assert np.all(z >= 0) and np.all(np.diff(res, axis=0) <= MONOTONE_SLACK * res[:-1])


@pytest.mark.slow
def test_iht_auto_step_decreases_error_monotonically(sec42):
    op, _, x, _ = sec42
    xh, z, res = _iht3(op, x[:8], SEC42["k"], max_iter=60)
    assert res.shape[1:] == (8,)
    assert np.all(np.diff(res, axis=0) <= MONOTONE_SLACK * res[:-1])
    np.testing.assert_allclose(res[-1], rel_err(xh, x[:8]), rtol=1e-10)
    assert np.all(res[-1] < 0.5 * res[0])
    assert z.shape == (8,) + op.dimsd
    for zi in z:
        assert in_model(zi, SEC42["k"], op.n)


def test_iht_unit_step_one_iteration_is_one_shot(sec42):
    op, _, x, _ = sec42
    xh, z, res = _iht3(op, x[:4], SEC42["k"], max_iter=1, step=1.0)
    np.testing.assert_array_equal(xh, one_shot_reconstruct(op, x[:4], SEC42["k"]))
    assert res.shape == (1, 4)


def test_iht_recovers_exactly_in_good_regime_and_calls_back(rng):
    op = ConvOperator.random(8, 6, 3, 12, normalize="unit", seed=rng)
    z0 = sample_model_sparse(op.K, op.n, 1, seed=rng)
    x = op.adjoint(z0).ravel()
    calls = []
    result = iht(op, x, 1, max_iter=300, tol=1e-10,
                 callback=lambda it, xh_, z_: calls.append(it))
    assert isinstance(result, IHTResult) and result.converged
    xh, z, res = result.x, result.z, result.residuals
    assert res[-1] <= 1e-10 and len(calls) == len(res) == result.n_iter < 300
    assert z.shape == (op.shape[0],)
    np.testing.assert_allclose(xh, x, atol=1e-9)


def test_iht_2d_operator(rng):
    op = ConvOperator2D.random(6, 2, 3, (8, 8), seed=rng)
    z0 = sample_model_sparse(op.K, 36, 2, seed=rng).reshape(op.dimsd)
    x = op.adjoint(z0)
    xh, z, res = _iht3(op, x, 2, max_iter=20)
    assert xh.shape == x.shape and z.shape == op.dimsd
    assert np.all(np.diff(res, axis=0) <= MONOTONE_SLACK * res[:-1])


def test_iht_2d_operator_with_2x2_max_pooling(rng):
    op = ConvOperator2D.random(6, 2, 3, (9, 9), seed=rng)
    z0 = sample_model_sparse(op.K, op.dimsd[1:], 3, pool=(2, 2), seed=rng)
    x = op.adjoint(z0)
    xh, z, res = _iht3(op, x, 3, pool=(2, 2), max_iter=30)
    assert z.shape == op.dimsd and in_window_model(z, 3, 2, 2)
    assert np.all(np.diff(res, axis=0) <= MONOTONE_SLACK * res[:-1])
    x1 = one_shot_reconstruct(op, x, 3, pool=(2, 2))
    np.testing.assert_allclose(x1, op.adjoint(model_project(op.forward(x), 3, pool=(2, 2))),
                               rtol=RTOL64, atol=1e-14)
    est = estimate_model_rip(op, 3, pool=(2, 2), n_samples=50, seed=1)
    assert est.pool == (2, 2) and est.ratios.shape == (50,)
    np.testing.assert_array_equal(est.ratios,
                                  estimate_model_rip(op, 3, pool=(2, 2), n_samples=50, seed=1).ratios)


# -- model-RIP ---------------------------------------------------------------------------------

def true_model_rip(op, k):
    """Exact constant on M_k (pool = n): extreme eigenvalues of every k-block Gram."""
    A = op.todense()
    worst = 0.0
    for blocks in itertools.combinations(range(op.K), k):
        for shifts in itertools.product(range(op.n), repeat=k):
            rows = [i * op.n + j for i, j in zip(blocks, shifts)]
            ev = np.linalg.eigvalsh(A[rows] @ A[rows].T)
            worst = max(worst, abs(ev[0] - 1), abs(ev[-1] - 1))
    return worst


def test_model_rip_is_a_lower_bound_of_the_exact_constant(rng):
    op = ConvOperator.random(4, 2, 3, 6, normalize="unit", seed=rng)
    exact = true_model_rip(op, 2)
    est = estimate_model_rip(op, 2, n_samples=3000, seed=1)
    assert est.delta <= exact + 1e-12
    assert est.delta >= 0.5 * exact
    assert est.lower >= 1 - exact - 1e-12 and est.upper <= 1 + exact + 1e-12


def test_model_rip_ratios_match_dense(rng):
    op = ConvOperator.random(5, 2, 3, 9, seed=rng)
    est = estimate_model_rip(op, 3, order=2, n_samples=300, seed=7)
    gen = np.random.default_rng(7)
    z = sample_model_sparse(5, 7, 3, size=256, seed=gen)
    z = z + sample_model_sparse(5, 7, 3, size=256, seed=gen)
    z = z.reshape(256, -1)
    ratios = np.linalg.norm(z @ op.todense(), axis=1) ** 2 / np.linalg.norm(z, axis=1) ** 2
    np.testing.assert_allclose(est.ratios[:256], ratios, rtol=1e-10)
    assert est.delta == pytest.approx(np.abs(est.ratios - 1).max(), rel=RTOL64)
    assert est.order == 2 and est.n_samples == 300 and est.pool == 7


def test_model_rip_reproducible_and_thread_independent(sec42, n_threads):
    op = sec42[0]
    a = estimate_model_rip(op, SEC42["k"], n_samples=300, seed=11, n_threads=n_threads)
    b = estimate_model_rip(op, SEC42["k"], n_samples=300, seed=11, n_threads=1)
    np.testing.assert_array_equal(a.ratios, b.ratios)
    assert a.delta == b.delta
    c = estimate_model_rip(op, SEC42["k"], n_samples=300, seed=12)
    assert c.delta != a.delta


def test_theorem_3_3_bound_values():
    # values quoted in the spec note (delta_k = delta_2k = delta)
    for delta, ref in [(0.02, 0.104), (0.05, 0.277), (0.10, 0.614), (0.15, 1.03)]:
        assert theorem_3_3_bound(delta, delta) == pytest.approx(ref, abs=6e-3)
    assert theorem_3_3_bound(0.0, 0.0) == 0.0
    assert theorem_3_3_bound(0.1, 0.2) == pytest.approx(5 * 0.2 / 0.9 * math.sqrt(1.2 / 0.8),
                                                        rel=RTOL64)


def test_filter_coherence(rng):
    Q = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    assert filter_coherence(Q[:5].reshape(5, 3, 4)) == pytest.approx(0.0, abs=1e-12)
    w = rng.standard_normal((6, 2, 3, 3))
    F = w.reshape(6, -1)
    brute = max(abs(F[i] @ F[j]) / np.linalg.norm(F[i]) / np.linalg.norm(F[j])
                for i in range(6) for j in range(6) if i != j)
    assert filter_coherence(w) == pytest.approx(brute, rel=RTOL64)
    assert filter_coherence(np.stack([w[0], -3 * w[0]])) == pytest.approx(1.0, rel=RTOL64)


# -- bad input ---------------------------------------------------------------------------------

def test_model_project_bad_input():
    h = np.ones((3, 4))
    with pytest.raises(ValueError, match="k must be >= 1"):
        model_project(h, 0)
    with pytest.raises(ValueError, match=r"k=4 must be <= the number of pooling regions"):
        model_project(h, 4)
    with pytest.raises(ValueError, match="pool must be >= 1"):
        model_project(h, 1, pool=0)
    with pytest.raises(ValueError, match="pool must be >= 1"):
        model_project(np.ones((2, 3, 3)), 1, pool=(2, 0))
    with pytest.raises(ValueError, match="one window size per shift axis"):
        sample_model_sparse(2, (3, 3), 1, pool=(2, 2, 2))
    with pytest.raises(ValueError, match=r"h must have shape \(\.\.\., K\) and 2 shift axes"):
        model_project(np.ones((3, 3)), 1, pool=(2, 2))
    with pytest.raises(ValueError, match="one window size per output axis"):
        one_shot_reconstruct(ConvOperator.random(2, 1, 3, 8, seed=0), np.ones(8), 1, pool=(2, 2))
    with pytest.raises(ValueError, match=r"h must have shape \(\.\.\., K, n\)"):
        model_project(np.ones(4), 1)
    with pytest.raises(ValueError, match="h contains NaN"):
        model_project(np.full((2, 2), np.nan), 1)
    with pytest.raises(ValueError, match="k=9 must be <="):
        sample_model_sparse(2, 4, 9, pool=1)
    with pytest.raises(ValueError, match="size must be >= 1"):
        sample_model_sparse(2, 4, 1, size=0)


def test_reconstruction_bad_input(sec42):
    op = sec42[0]
    x = np.zeros(op.shape[1])
    with pytest.raises(TypeError, match="op must be a ConvOperator"):
        one_shot_reconstruct(op.todense(), x, 3)
    with pytest.raises(ValueError, match=f"x must have {op.shape[1]} entries"):
        one_shot_reconstruct(op, np.ones(op.shape[1] - 1), 3)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 32, 32\)"):
        one_shot_reconstruct(op, np.ones((2, 31, 32)), 3)
    bad = x.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        iht(op, bad, 3)
    with pytest.raises(TypeError, match="operator has dtype float64"):
        iht(op, x.astype(np.float32), 3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        one_shot_reconstruct(op, x, 0)
    with pytest.raises(ValueError, match="step must be 'auto' or a positive float"):
        iht(op, x, 3, step="big")
    with pytest.raises(ValueError, match="step must be finite and > 0"):
        iht(op, x, 3, step=-1.0)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        iht(op, x, 3, max_iter=0)
    with pytest.raises(TypeError, match="callback must be callable"):
        iht(op, x, 3, callback=1)


def test_rip_bound_coherence_bad_input(sec42):
    op = sec42[0]
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        estimate_model_rip(op, 3, order=3)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        estimate_model_rip(op, 3, n_samples=0)
    with pytest.raises(ValueError, match="k=97 must be <="):
        estimate_model_rip(op, 97)
    with pytest.raises(ValueError, match="delta_2k must be < 1"):
        theorem_3_3_bound(0.1, 1.0)
    with pytest.raises(ValueError, match="delta_k must be <= delta_2k"):
        theorem_3_3_bound(0.3, 0.2)
    with pytest.raises(ValueError, match="delta_k must be finite"):
        theorem_3_3_bound(-0.1, 0.2)
    with pytest.raises(ValueError, match="K >= 2"):
        filter_coherence(np.ones((1, 3)))
    with pytest.raises(ValueError, match="all-zero filter"):
        filter_coherence(np.zeros((2, 3)))


def test_public_names_exported():
    for name in ["ConvOperator", "ConvOperator2D", "model_project", "sample_model_sparse",
                 "one_shot_reconstruct", "iht", "estimate_model_rip", "theorem_3_3_bound",
                 "filter_coherence", "ModelRIPEstimate"]:
        assert name in reluinj.__all__ and hasattr(reluinj, name)
    assert "dottest" in reluinj.testing.__all__


# -- CLI and demo ------------------------------------------------------------------------------

def test_cli_rip_reports_constants(tmp_path, capsys):
    from reluinj._cli.main import main

    path = tmp_path / "filters.npy"
    np.save(path, ConvOperator.random(12, 3, 4, 16, seed=0).filters)
    assert main(["rip", "--filters", str(path), "--input-length", "16", "--k", "3",
                 "--samples", "200"]) == 0
    out = capsys.readouterr().out
    assert "sampled delta_k" in out and "sampled delta_2k" in out and "coherence" in out
    np.save(path, np.ones((4, 2, 3, 3)))
    assert main(["rip", "--filters", str(path), "--input-length", "6x7", "--k", "2",
                 "--samples", "50"]) == 0
    capsys.readouterr()
    assert main(["rip", "--filters", str(path), "--input-length", "6x7", "--k", "2",
                 "--samples", "50", "--pool", "2,2"]) == 0
    assert "pool=(2, 2)" in capsys.readouterr().out


def test_cli_rip_errors_exit_2(tmp_path, capsys):
    from reluinj._cli.main import main

    path = tmp_path / "filters.npy"
    np.save(path, np.ones((4, 2)))
    assert main(["rip", "--filters", str(path), "--input-length", "6", "--k", "2"]) == 2
    assert "must be 3-D (K, M, ell) or 4-D" in capsys.readouterr().err
    assert main(["rip", "--filters", str(tmp_path / "missing.npy"), "--input-length", "6",
                 "--k", "2"]) == 2
    np.save(path, np.ones((4, 2, 3)))
    assert main(["rip", "--filters", str(path), "--input-length", "9", "--k", "99"]) == 2
    assert "k=99 must be <=" in capsys.readouterr().err


def test_demo_section_prints_reconstruction_and_rip():
    import io

    from reluinj._cli.demo import SECTIONS, _section_cnn

    assert _section_cnn in SECTIONS
    out = io.StringIO()
    _section_cnn(out, np.random.default_rng(0))
    text = out.getvalue()
    assert "relative error mean 0." in text and "delta_2k" in text
