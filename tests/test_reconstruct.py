"""relu_inverse / stability_constant against dense NumPy oracles (lstsq, eigvalsh, brute force)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

import reluinj
from reluinj import ConvergenceWarning, NotAFrameError, ReLULayer, relu_inverse, stability_constant
from reluinj.testing import ball_samples, sphere_samples

RECON_RTOL = 1e-10        # issue: relative reconstruction error on injective layers
DIRECT_RTOL = 1e-12       # direct float64 identities (vs lstsq / eigvalsh oracles)
ITERATE_ATOL = 1e-12      # frame-algorithm iterates vs the NumPy transcription
FLOAT32_RTOL = 1e-5
TIGHT_TOL = 1e-14         # stopping tolerance of the iterative methods in accuracy tests
N_INPUTS = 10_000


def relative_errors(Xhat, X):
    return np.linalg.norm(Xhat - X, axis=1) / np.linalg.norm(X, axis=1)


def hull_facets_oracle(W, decimals=10):
    """Facets of conv(normalized rows): Qhull simplices merged by equal hyperplane equations."""
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    hull = ConvexHull(Wn)
    groups = {}
    for simplex, eq in zip(hull.simplices, np.round(hull.equations, decimals)):
        groups.setdefault(tuple(eq), set()).update(simplex.tolist())
    return [np.array(sorted(v), dtype=np.int64) for v in groups.values()]


def lstsq_oracle(W, alpha, Y):
    """Per-sample minimum-norm least squares on the rows with y_i > 0."""
    out = np.zeros((Y.shape[0], W.shape[1]))
    for s, y in enumerate(Y):
        act = y > 0
        if act.any():
            out[s] = np.linalg.lstsq(W[act], y[act] + alpha[act], rcond=None)[0]
    return out


def frame_iteration_oracle(W, alpha, y, lam, n_iter, variant):
    """Direct transcription of the ReLU frame algorithm; returns the iterates y_1..y_n_iter."""
    act = y > 0
    z = np.zeros(W.shape[1])
    iterates = []
    for _ in range(n_iter):
        c = W @ z
        grad = W[act].T @ (y[act] + alpha[act] - c[act])
        if variant == "relu":
            extra = ~act & (c >= alpha)
            grad = grad + W[extra].T @ (alpha[extra] - c[extra])
        z = z + lam * grad
        iterates.append(z.copy())
    return iterates


# Layers of the issue, each with a bias whose injectivity on the test inputs is checked.
def _ico():
    return reluinj.icosahedron(), np.zeros(12), ball_samples(N_INPUTS, 3, seed=1)


def _rand40():
    # The certified polytope bias on the unit sphere (issue #4), also checked point-wise below.
    W = reluinj.random_frame(40, 5, seed=0)
    return W, reluinj.polytope_bias(W).alpha, sphere_samples(N_INPUTS, 5, seed=2)


def _rand200():
    return reluinj.random_frame(200, 10, seed=0), np.zeros(200), sphere_samples(N_INPUTS, 10, seed=3)


LAYERS = {"icosahedron": _ico, "random40x5": _rand40, "random200x10": _rand200}


@pytest.fixture(scope="module", params=list(LAYERS), ids=list(LAYERS))
def injective_layer(request):
    W, alpha, X = LAYERS[request.param]()
    layer = ReLULayer(W, alpha)
    assert layer.is_injective_at(X).all()
    return request.param, layer, X


INJECTIVE_METHODS = [
    ("dual", {}),
    ("cg", {"tol": TIGHT_TOL}),
    ("frame", {"tol": TIGHT_TOL, "step": "subframe", "max_iter": 5000}),
    ("frame", {"tol": TIGHT_TOL, "step": "full", "variant": "naive", "max_iter": 20000}),
]


@pytest.mark.parametrize("method,kw", INJECTIVE_METHODS,
                         ids=["dual", "cg", "frame-subframe", "frame-full-naive"])
def test_relu_inverse_recovers_inputs_of_injective_layers(injective_layer, method, kw):
    name, layer, X = injective_layer
    if method == "frame" and kw["step"] == "full" and name == "random200x10":
        X = X[:1000]  # the full-frame step converges slowly there; 1000 inputs suffice
    res = layer.inverse(layer(X), method=method, options=kw)
    assert res.injective.all()
    assert relative_errors(res.x, X).max() <= RECON_RTOL
    assert res.residual.max() <= RECON_RTOL * np.abs(layer(X)).max() * 10


DATA_BIAS_ROUNDING_MARGIN = 1e-12


@pytest.mark.parametrize("m,n", [(40, 5), (200, 10)])
def test_recovers_inputs_at_certified_data_bias(m, n):
    # The data-driven bias of issue #3 keeps every given point's most-correlated basis active.
    W = reluinj.random_frame(m, n, seed=0)
    X = sphere_samples(N_INPUTS, n, seed=11)
    # The bias is attained with equality at some data point; a margin at rounding level keeps
    # that point active whatever the summation order of <x, phi_i> (see data_bias Notes).
    layer = ReLULayer(W, reluinj.data_bias(W, X).alpha - DATA_BIAS_ROUNDING_MARGIN)
    assert layer.is_injective_at(X).all()
    # Only the direct method: at this (largest) bias some active sub-frames are badly
    # conditioned (stability constant ~1e3), and CG or gradient iterations on the normal
    # equations lose accuracy like its square.
    res = layer.inverse(layer(X), method="dual")
    assert res.injective.all()
    assert relative_errors(res.x, X).max() <= RECON_RTOL


@pytest.mark.parametrize("name", ["icosahedron", "random40x5"])
def test_facet_method_recovers_inputs(name):
    W, alpha, X = LAYERS[name]()
    facets = hull_facets_oracle(W)
    res = relu_inverse(W, alpha, ReLULayer(W, alpha)(X), method="facet",
                       options={"facet_vertices": facets})
    assert (res.facet_index >= 0).all() and res.injective.all()
    assert relative_errors(res.x, X).max() <= RECON_RTOL


def test_facet_method_uses_first_fully_active_facet_and_reports_missing(rng):
    W = reluinj.random_frame(40, 5, seed=0)
    alpha = np.full(40, 0.2)
    facets = hull_facets_oracle(W)
    X = sphere_samples(2000, 5, seed=rng)
    Y = ReLULayer(W, alpha)(X)
    res = relu_inverse(W, alpha, Y, method="facet", options={"facet_vertices": facets})
    fully_active = np.stack([(Y[:, v] > 0).all(axis=1) for v in facets], axis=1)
    expected = np.where(fully_active.any(axis=1), fully_active.argmax(axis=1), -1)
    np.testing.assert_array_equal(res.facet_index, expected)
    missing = res.facet_index < 0
    assert missing.any() and (~missing).any()
    assert np.isnan(res.x[missing]).all() and not res.injective[missing].any()
    ok = ~missing
    np.testing.assert_allclose(res.x[ok], X[ok], rtol=0, atol=1e-9)


def test_dual_matches_lstsq_oracle_on_arbitrary_outputs(rng):
    W = reluinj.random_frame(30, 6, seed=4)
    alpha = rng.uniform(-0.2, 0.6, 30)
    X = sphere_samples(500, 6, seed=rng)
    Y = ReLULayer(W, alpha)(X)
    res = relu_inverse(W, alpha, Y)
    np.testing.assert_allclose(res.x, lstsq_oracle(W, alpha, Y), rtol=0, atol=DIRECT_RTOL * 100)
    rank_ok = np.array([np.linalg.matrix_rank(W[y > 0]) == 6 if (y > 0).sum() else False
                        for y in Y])
    np.testing.assert_array_equal(res.injective, rank_ok)
    assert (~res.injective).any()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), extra=st.integers(0, 12),
       shift=st.floats(-0.5, 0.5))
def test_dual_equals_minimum_norm_least_squares(seed, n, extra, shift):
    W = reluinj.random_frame(n + extra, n, seed=seed)
    X = sphere_samples(20, n, seed=seed)
    alpha = np.full(n + extra, shift)
    Y = ReLULayer(W, alpha)(X)
    res = relu_inverse(W, alpha, Y)
    np.testing.assert_allclose(res.x, lstsq_oracle(W, alpha, Y), rtol=0, atol=1e-10)
    Z = np.maximum(res.x @ W.T - alpha, 0.0)
    np.testing.assert_allclose(res.residual, np.linalg.norm(Z - Y, axis=1), rtol=0, atol=1e-12)


def test_frame_full_step_halves_error_on_icosahedron():
    W = reluinj.icosahedron()
    X = sphere_samples(50, 3, seed=5)
    Y = ReLULayer(W, 0.0)(X)
    prev = np.linalg.norm(X, axis=1)
    for k in range(1, 11):
        res = relu_inverse(W, 0.0, Y, method="frame",
                           options={"step": "full", "tol": 0.0, "max_iter": k})
        err = np.linalg.norm(res.x - X, axis=1)
        np.testing.assert_allclose(err / prev, 0.5, rtol=1e-9)
        assert (res.n_iter == k).all()
        prev = err
    np.testing.assert_allclose(prev, 2.0**-10, rtol=1e-9)


@pytest.mark.parametrize("variant", ["relu", "naive"])
def test_frame_iterates_match_numpy_transcription(variant, rng):
    W = reluinj.random_frame(20, 3, seed=6)
    alpha = np.full(20, -0.2)
    X = sphere_samples(5, 3, seed=rng)
    Y = ReLULayer(W, alpha)(X)
    ev = np.linalg.eigvalsh(W.T @ W)
    lam = 2.0 / (ev[0] + ev[-1])
    for s in range(5):
        iterates = frame_iteration_oracle(W, alpha, Y[s], lam, 10, variant)
        for k, expected in enumerate(iterates, start=1):
            got = relu_inverse(W, alpha, Y[s], method="frame",
                               options={"variant": variant, "step": "full", "tol": 0.0,
                                        "max_iter": k}).x
            np.testing.assert_allclose(got, expected, rtol=0, atol=ITERATE_ATOL)


def test_frame_relu_variant_uses_inactive_constraints(rng):
    # Early iterates of the relu variant differ from the naive ones when y_k violates an
    # inactive constraint; both converge to x.
    W = reluinj.random_frame(20, 3, seed=6)
    alpha = np.full(20, 0.3)
    X = sphere_samples(200, 3, seed=rng)
    layer = ReLULayer(W, alpha)
    keep = layer.is_injective_at(X)
    Y = layer(X[keep])
    a = relu_inverse(W, alpha, Y, method="frame",
                     options={"variant": "relu", "tol": 0.0, "max_iter": 3}).x
    b = relu_inverse(W, alpha, Y, method="frame",
                     options={"variant": "naive", "tol": 0.0, "max_iter": 3}).x
    assert np.abs(a - b).max() > 1e-6


def test_frame_warns_when_max_iter_reached():
    W = reluinj.random_frame(40, 5, seed=0)
    Y = ReLULayer(W, -0.3)(sphere_samples(10, 5, seed=0))
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        relu_inverse(W, -0.3, Y, method="frame", options={"tol": 1e-14, "max_iter": 3})


def test_non_injective_samples_flagged_with_minimum_norm_solution():
    W = reluinj.cross_polytope(3)             # rows e1, e2, e3, -e1, -e2, -e3
    alpha = np.array([0.0, 0.0, 0.1, 0.0, 0.0, 0.1])
    X = np.array([[1.0, 2.0, 0.05],           # e3 rows inactive: active rows span e1, e2 only
                  [0.5, -1.0, 0.7],           # injective
                  [-0.3, 0.4, -0.02]])        # e3 rows inactive again
    Y = ReLULayer(W, alpha)(X)
    for method, kw in [("dual", {}), ("cg", {"tol": TIGHT_TOL}),
                       ("frame", {"tol": TIGHT_TOL, "step": "subframe"})]:
        res = relu_inverse(W, alpha, Y, method=method, options=kw)
        np.testing.assert_array_equal(res.injective, [False, True, False])
        np.testing.assert_allclose(res.x, [[1.0, 2.0, 0.0], X[1], [-0.3, 0.4, 0.0]],
                                   rtol=0, atol=1e-12)


def test_dual_fallback_on_rank_deficient_active_rows():
    # Four active rows (>= n) that only span a plane: Cholesky pivot fails, SVD min-norm.
    W = np.array([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0], [0, 0, 1], [0, 0, -1]])
    alpha = np.array([-5.0, -5, -5, -5, 5, 5])
    X = np.array([[0.3, -0.2, 0.4], [0.1, 0.7, -0.9]])
    Y = ReLULayer(W, alpha)(X)
    res = relu_inverse(W, alpha, Y)
    assert not res.injective.any()
    np.testing.assert_allclose(res.x, lstsq_oracle(W, alpha, Y), rtol=0, atol=DIRECT_RTOL * 10)


def test_dual_fallback_on_ill_conditioned_full_rank_rows():
    # Columns 1 and 2 of W_I are nearly parallel (sine ~ 4e-6): SVD path, still full rank.
    W = np.array([[1.0, 1.0, 0], [1.0, 1.0 + 1e-5, 0], [0, 0, 1], [-1, -1, -1]])
    alpha = np.array([-5.0, -5, -5, 5])
    X = np.array([[0.2, 0.3, -0.1], [-0.6, 0.1, 0.5]])
    Y = ReLULayer(W, alpha)(X)
    res = relu_inverse(W, alpha, Y)
    assert res.injective.all()
    np.testing.assert_allclose(res.x, X, rtol=0, atol=1e-9)


def test_injective_flag_agrees_with_layer_rank_test(rng):
    W = reluinj.random_frame(25, 4, seed=7)
    layer = ReLULayer(W, 0.35)
    X = sphere_samples(3000, 4, seed=rng)
    res = layer.inverse(layer(X))
    np.testing.assert_array_equal(res.injective, layer.is_injective_at(X))
    assert res.injective.any() and (~res.injective).any()
    ok = res.injective
    assert relative_errors(res.x[ok], X[ok]).max() <= RECON_RTOL


@pytest.mark.parametrize("method,kw", [("dual", {}), ("cg", {"tol": 1e-12}),
                                       ("frame", {"tol": 1e-12, "step": "subframe"}),
                                       ("facet", {})], ids=["dual", "cg", "frame", "facet"])
def test_results_identical_for_1_and_2_threads(method, kw, n_threads):
    W = reluinj.random_frame(40, 5, seed=0)
    alpha = np.full(40, 0.1)
    if method == "facet":
        kw = {"facet_vertices": hull_facets_oracle(W)}
    Y = ReLULayer(W, alpha)(sphere_samples(3000, 5, seed=8))
    ref = relu_inverse(W, alpha, Y, method=method, n_threads=1, options=kw)
    got = relu_inverse(W, alpha, Y, method=method, n_threads=n_threads, options=kw)
    np.testing.assert_array_equal(got.x, ref.x)
    np.testing.assert_array_equal(got.injective, ref.injective)
    np.testing.assert_array_equal(got.residual, ref.residual)
    if ref.n_iter is not None:
        np.testing.assert_array_equal(got.n_iter, ref.n_iter)


def test_concurrent_calls_from_threads_match_serial():
    W = reluinj.random_frame(200, 10, seed=0)
    batches = [ReLULayer(W, 0.0)(sphere_samples(2000, 10, seed=s)) for s in range(4)]
    serial = [relu_inverse(W, 0.0, Y, n_threads=1).x for Y in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda Y: relu_inverse(W, 0.0, Y, n_threads=2).x, batches))
    for got, ref in zip(results, serial):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("n", [*range(1, 17), 17, 40], ids=lambda n: f"n={n}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dual_result_of_each_sample_independent_of_its_batch(n, dtype):
    # With AVX2 or AVX-512 samples are solved four or eight at a time: entirely in SIMD lanes
    # for n <= 16 (one compiled kernel per n, so every n is run here), and for larger n (Gram
    # matrices by the per-sample SYRK) with the Cholesky factors, right-hand sides, refinement
    # step and residuals of the group computed together; samples that fail
    # the Cholesky test take a per-sample fallback. Every sample must come out exactly as when
    # solved alone, wherever it sits in the batch (B = 61 leaves a partial group), and the
    # fallback samples (rank-deficient active rows, some with fewer than n active rows) must be
    # flagged and solved by minimum-norm least squares.
    m = 4 * n
    W = reluinj.random_frame(m, n, seed=n)
    alpha = np.zeros(m)
    X = sphere_samples(61, n, seed=n + 1)
    Y = ReLULayer(W, alpha)(X)
    Y[5, : m // 2] = 0.0                       # at most 2n active rows left in generic position
    Y[12, :] = 0.0                             # nothing active
    Y[13, n - 1:] = 0.0                        # n - 1 active rows
    Y[60, 1:] = 0.0
    Y = Y.astype(dtype)
    res = relu_inverse(W, alpha, Y)
    assert res.x.dtype == dtype
    for s in range(Y.shape[0]):
        alone = relu_inverse(W, alpha, Y[s])
        np.testing.assert_array_equal(res.x[s], alone.x)
        assert res.injective[s] == alone.injective and res.residual[s] == alone.residual
    Y64 = Y.astype(np.float64)
    np.testing.assert_allclose(res.x, lstsq_oracle(W, alpha, Y64).astype(dtype), rtol=0,
                               atol=1e-10 if dtype == np.float64 else 1e-5)
    rank_ok = np.array([np.linalg.matrix_rank(W[y > 0]) == n if (y > 0).any() else False
                        for y in Y64])
    np.testing.assert_array_equal(res.injective, rank_ok)
    assert not res.injective[[12, 13, 60] if n > 1 else [12, 13]].any()  # row 60: one active
    Z = np.maximum(res.x.astype(np.float64) @ W.T - alpha, 0.0)
    np.testing.assert_allclose(res.residual, np.linalg.norm(Z - Y64, axis=1), rtol=0,
                               atol=1e-12 if dtype == np.float64 else 1e-5)


def test_float32_outputs_give_float32_inputs():
    W, alpha, X = _rand40()
    Y = ReLULayer(W, alpha)(X).astype(np.float32)
    res = relu_inverse(W, alpha, Y)
    assert res.x.dtype == np.float32
    assert relative_errors(res.x.astype(np.float64), X).max() <= FLOAT32_RTOL * 10


def test_single_output_returns_vector():
    W = reluinj.icosahedron()
    x = np.array([0.3, -0.5, 0.8])
    res = relu_inverse(W, 0.0, np.maximum(W @ x, 0.0))
    assert res.x.shape == (3,) and res.injective.shape == () and bool(res.injective)
    np.testing.assert_allclose(res.x, x, rtol=DIRECT_RTOL)
    assert res.n_failed == 0


def test_stability_constant_matches_eigvalsh_oracle(rng):
    W = reluinj.random_frame(30, 4, seed=9)
    alpha = np.full(30, 0.5)
    X = sphere_samples(400, 4, seed=rng)
    est = stability_constant(W, alpha, X)
    const, per = est.constant, est.pointwise
    expected = np.empty(400)
    for s, x in enumerate(X):
        act = W @ x >= alpha
        WI = W[act]
        full = WI.shape[0] >= 4 and np.linalg.matrix_rank(WI) == 4
        expected[s] = 1 / np.sqrt(np.linalg.eigvalsh(WI.T @ WI)[0]) if full else np.inf
    np.testing.assert_allclose(per, expected, rtol=1e-10)
    assert const == per.max()
    assert np.isinf(per).any()  # bias 0.5 is not injective everywhere: the constant says so


def test_stability_constant_of_icosahedron_at_zero_bias():
    # One element of each antipodal pair is active, S_I = 2 Id: constant 1/sqrt(2).
    X = sphere_samples(500, 3, seed=10)
    assert stability_constant(reluinj.icosahedron(), 0.0, X).constant == pytest.approx(2**-0.5, rel=1e-12)


# ---------------------------------------------------------------- bad input


@pytest.fixture
def small():
    W = reluinj.random_frame(8, 3, seed=0)
    return W, np.zeros(8), ReLULayer(W, 0.0)(sphere_samples(5, 3, seed=0))


@pytest.mark.parametrize("mutate,exc,match", [
    (lambda Y: -Y - 1.0, ValueError, "Y has negative entries"),
    (lambda Y: np.where(np.arange(8) == 2, np.nan, Y), ValueError, "Y contains NaN or inf"),
    (lambda Y: np.where(np.arange(8) == 2, np.inf, Y), ValueError, "Y contains NaN or inf"),
    (lambda Y: Y[:, :7], ValueError, "Y must have 8 columns"),
    (lambda Y: Y[None], ValueError, "Y must be 1-D or 2-D"),
    (lambda Y: Y.astype(complex), TypeError, "Y must hold real numbers"),
], ids=["negative", "nan", "inf", "width", "ndim", "complex"])
def test_bad_outputs_rejected(small, mutate, exc, match):
    W, alpha, Y = small
    for method in reluinj.frames._reconstruct.INVERSE_METHODS:
        with pytest.raises(exc, match=match):
            relu_inverse(W, alpha, mutate(Y), method=method)


@pytest.mark.parametrize("n", [10, 20, 40], ids=lambda n: f"n={n}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad,match", [(-1e-30, "Y has negative entries"),
                                       (np.nan, "Y contains NaN or inf"),
                                       (np.inf, "Y contains NaN or inf")])
def test_dual_rejects_one_bad_entry_anywhere_in_a_large_batch(n, dtype, bad, match, n_threads):
    # method="dual" checks Y inside its kernel pass: one bad entry in one sample of any chunk
    # (here the last entry of the last sample, and one in the middle) rejects the whole batch.
    W = reluinj.random_frame(3 * n, n, seed=0)
    Y = ReLULayer(W, 0.0)(sphere_samples(1003, n, seed=1)).astype(dtype)
    for s, i in [(1002, 3 * n - 1), (517, 7)]:
        Z = Y.copy()
        Z[s, i] = bad
        with pytest.raises(ValueError, match=match):
            relu_inverse(W, 0.0, Z, n_threads=n_threads)


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"alpha": np.zeros(7)}, ValueError, r"alpha must be a scalar or have shape \(8,\)"),
    ({"alpha": np.full(8, np.nan)}, ValueError, "alpha contains NaN"),
    ({"method": "svd"}, ValueError, "method must be one of"),
    ({"method": "frame", "options": {"variant": "fast"}}, ValueError, "variant must be"),
    ({"method": "frame", "options": {"step": "optimal"}}, ValueError, "step must be"),
    ({"method": "frame", "options": {"tol": -1.0}}, ValueError, "tol must be finite"),
    ({"method": "cg", "options": {"max_iter": 0}}, ValueError, "max_iter must be >= 1"),
    ({"method": "dual", "options": {"variant": "relu"}}, ValueError,
     r"option 'variant' belongs to method='frame', not method='dual'"),
    ({"method": "dual", "options": {"max_iter": 5}}, ValueError,
     r"option 'max_iter' belongs to method='frame' or method='cg', not method='dual'"),
    ({"method": "cg", "options": {"step": "full"}}, ValueError,
     r"option 'step' belongs to method='frame', not method='cg'"),
    ({"method": "cg", "options": {"facet_vertices": None}}, ValueError, "'facet_vertices'"),
    ({"method": "frame", "options": {"maxiter": 5}}, ValueError, r"unknown option 'maxiter'"),
    ({"options": [("tol", 1.0)]}, TypeError, "options must be a mapping"),
    ({"variant": "relu"}, TypeError, "unexpected keyword argument 'variant'"),
    ({"rank_tol": 1.5}, ValueError, r"rank_tol must be in \(0, 1\)"),
    ({"rank_tol": 0.0}, ValueError, "rank_tol must be finite and > 0"),
    ({"n_threads": 0}, ValueError, "n_threads=0 is invalid"),
    ({"n_threads": 1.5}, TypeError, "n_threads must be an int"),
    ({"method": "facet", "options": {"facet_vertices": [np.array([0, 1, 9])]}}, ValueError,
     r"facet_vertices\[0\] has indices"),
    ({"method": "facet", "options": {"facet_vertices": [np.array([0.0, 1.0])]}}, ValueError,
     r"facet_vertices\[0\] must be"),
    ({"method": "facet", "options": {"facet_vertices": []}}, ValueError,
     "facet_vertices must contain"),
], ids=lambda v: str(v)[:30])
def test_bad_options_rejected(small, kwargs, exc, match):
    W, alpha, Y = small
    kwargs = dict(kwargs)
    a = kwargs.pop("alpha", alpha)
    with pytest.raises(exc, match=match):
        relu_inverse(W, a, Y, **kwargs)


def test_weights_that_are_not_a_frame_rejected():
    with pytest.raises(NotAFrameError, match="m >= n"):
        relu_inverse(np.ones((2, 3)), 0.0, np.zeros(2))
    with pytest.raises(NotAFrameError, match="span rank"):
        relu_inverse(np.ones((5, 3)), 0.0, np.zeros(5))


def test_stability_constant_bad_input():
    W = reluinj.icosahedron()
    with pytest.raises(ValueError, match="X must have 3 columns"):
        stability_constant(W, 0.0, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        stability_constant(W, np.zeros(3), np.ones((4, 3)))
    with pytest.raises(ValueError, match="X must contain at least one point"):
        stability_constant(W, 0.0, np.zeros((0, 3)))


def test_kernel_rechecks_sizes():
    from reluinj import _core

    W = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"Y.shape\[1\] must be 4"):
        _core.dual_inverse(W, np.zeros(4), np.zeros((3, 5)), 1e-10, 1)
    with pytest.raises(ValueError, match="facet vertex indices"):
        _core.facet_inverse(W, np.zeros(4), np.zeros((3, 4)), np.array([0, 2]),
                            np.array([0, 7]), 1e-10, 1)
    with pytest.raises(TypeError):
        _core.dual_inverse(W.astype(np.float32), np.zeros(4), np.zeros((3, 4)), 1e-10, 1)


# ---------------------------------------------------------------- CLI and demo


def test_cli_invert_roundtrip(tmp_path, capsys):
    from reluinj._cli.main import main

    W = reluinj.random_frame(40, 5, seed=0)
    X = sphere_samples(20, 5, seed=12)
    np.save(tmp_path / "Y.npy", ReLULayer(W, -0.3)(X))
    np.savez(tmp_path / "layer_b.npz", W=W, b=np.full(40, 0.3))
    np.savez(tmp_path / "layer_alpha.npz", W=W, alpha=np.full(40, -0.3))
    for name in ("layer_b.npz", "layer_alpha.npz"):
        out = tmp_path / f"X_{name}.npy"
        argv = ["invert", str(tmp_path / name), str(tmp_path / "Y.npy"), "--out", str(out)]
        assert main(argv) == 0
        np.testing.assert_allclose(np.load(out), X, rtol=0, atol=1e-12)
    assert "reconstructed 20 inputs" in capsys.readouterr().out
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "Y0.npy", ReLULayer(W, 0.0)(X))
    argv = ["invert", str(tmp_path / "W.npy"), str(tmp_path / "Y0.npy"), "--method", "cg"]
    assert main(argv) == 0
    printed = np.loadtxt(capsys.readouterr().out.splitlines())
    assert printed.shape == (20, 5)


def test_cli_invert_errors_exit_2(tmp_path, capsys):
    from reluinj._cli.main import main

    W = reluinj.random_frame(8, 3, seed=0)
    np.savez(tmp_path / "noW.npz", V=W)
    np.savez(tmp_path / "both.npz", W=W, b=np.zeros(8), alpha=np.zeros(8))
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "bad.npy", -np.ones((2, 8)))
    assert main(["invert", str(tmp_path / "noW.npz"), str(tmp_path / "bad.npy")]) == 2
    assert "must hold an array 'W'" in capsys.readouterr().err
    assert main(["invert", str(tmp_path / "both.npz"), str(tmp_path / "bad.npy")]) == 2
    assert "either 'alpha' or 'b'" in capsys.readouterr().err
    assert main(["invert", str(tmp_path / "W.npy"), str(tmp_path / "bad.npy")]) == 2
    assert "Y has negative entries" in capsys.readouterr().err


def test_demo_reconstruction_section():
    import io
    import re

    from reluinj._cli.demo import _section_reconstruction

    out = io.StringIO()
    _section_reconstruction(out, np.random.default_rng(0))
    text = out.getvalue()
    errors = [float(e) for e in re.findall(r"max error ([0-9.e+-]+)", text)]
    assert len(errors) == 1 and max(errors) <= RECON_RTOL
    assert "(0 failures)" in text
