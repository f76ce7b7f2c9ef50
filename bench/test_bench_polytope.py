"""Benchmarks of polytope_bias (approach B) against a straightforward NumPy/scipy-nnls version.

Groups:

* ``polytope_bias-<m>x<n>``: the whole ``polytope_bias`` (validation, Qhull, facet merge,
  C++ traversal) with 1 and 2 threads, and the NumPy/scipy baseline of the same "vertex"
  rule on Qhull's simplices (one ``scipy.optimize.nnls`` per (vertex, facet) pair with a
  negative correlation).
* ``traversal-<m>x<n>``: the C++ facet traversal alone next to Qhull alone
  (``scipy.spatial.ConvexHull``) on the same normalized frame.
"""
import numpy as np
import pytest
import scipy.optimize
from scipy.spatial import ConvexHull

import reluinj
from reluinj import _core, hull

SIZES = [(40, 5), (60, 6), (100, 7), (120, 8)]
IDS = [f"{m}x{n}" for m, n in SIZES]
AGREE = 1e-9


def _numpy_vertex_bias(W):
    """Reference: loop over Qhull simplices and their vertices, scipy NNLS when needed."""
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    alpha = np.full(len(Wn), np.inf)
    for F in ConvexHull(Wn).simplices:
        G = Wn[F]
        corr = G @ G.T
        for col, i in enumerate(F):
            g = corr[:, col]
            if g.min() >= 0:
                beta = g.min()
            else:
                c, _ = scipy.optimize.nnls(G.T, -Wn[i])
                beta = -np.linalg.norm(G.T @ c)
            alpha[i] = min(alpha[i], beta)
    return alpha


@pytest.fixture(scope="session", params=SIZES, ids=IDS)
def frame(request):
    m, n = request.param
    seed = 0
    while not reluinj.is_omnidirectional(W := reluinj.random_frame(m, n, seed=seed)):
        seed += 1
    return W


@pytest.fixture(scope="session")
def frame_facets(frame):
    return hull.facets(frame)


def _group(W, kind):
    return f"{kind}-{W.shape[0]}x{W.shape[1]}"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_polytope_bias(benchmark, frame, n_threads):
    benchmark.group = _group(frame, "polytope_bias")
    benchmark.extra_info["n_threads"] = n_threads
    est = benchmark(reluinj.polytope_bias, frame, n_threads=n_threads)
    benchmark.extra_info["n_facets"] = len(est.facet_vertices)
    X = reluinj.testing.sphere_samples(5_000, frame.shape[1], seed=0)
    assert est.certify(X).all()


def test_bench_polytope_bias_numpy_baseline(benchmark, frame, frame_facets):
    benchmark.group = _group(frame, "polytope_bias")
    rounds = 1 if frame.shape[1] >= 7 else 3
    alpha = benchmark.pedantic(_numpy_vertex_bias, args=(frame,), rounds=rounds, iterations=1)
    expected, _, _ = _core.facet_traversal(frame, frame_facets.indptr, frame_facets.indices, 0, 1)
    np.testing.assert_allclose(alpha, expected, rtol=AGREE, atol=AGREE)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bench_facet_traversal(benchmark, frame, frame_facets, n_threads):
    benchmark.group = _group(frame, "traversal")
    benchmark.extra_info["n_threads"] = n_threads
    benchmark.extra_info["n_facets"] = frame_facets.n_facets
    alpha, beta, sigma = benchmark(_core.facet_traversal, frame, frame_facets.indptr,
                                   frame_facets.indices, 0, n_threads)
    assert np.isfinite(alpha).all() and np.all(beta <= 1.0) and 0 < sigma <= 1


def test_bench_qhull_alone(benchmark, frame, frame_facets):
    benchmark.group = _group(frame, "traversal")
    rounds = 1 if frame.shape[1] >= 8 else 5
    h = benchmark.pedantic(ConvexHull, args=(frame,), rounds=rounds, iterations=1)
    assert len(h.simplices) == frame_facets.n_facets
