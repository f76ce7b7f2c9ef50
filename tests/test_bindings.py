"""The compiled entry points (reluinj._core) check their own arguments.

The public functions validate everything before they call the extension, so these guards only
protect a direct caller of ``_core`` (tests, benches, a contributor's script) from a crash or a
silent wrong answer; each must name the argument. Also the documented iteration limit of the
NNLS solver, counted exactly on a problem whose active-set steps are known in closed form.
"""
import numpy as np
import pytest

import reluinj
from reluinj import _core, hull


def _layer(m=12, n=3):
    W = reluinj.random_frame(m, n, seed=0)
    return W, np.zeros(m)


@pytest.mark.parametrize("call, message", [
    (lambda: _core.nnls(np.ones(3), np.ones(3), 10), r"A must be 2-D; got ndim=1"),
    (lambda: _core.nnls(np.ones((3, 2)), np.ones((3, 1)), 10), r"b must be 1-D; got ndim=2"),
    (lambda: _core.facet_traversal(np.ones(3), np.zeros(2, np.int64), np.zeros(3, np.int64), 0, 1),
     r"Wn must be 2-D"),
    (lambda: _core.radial_profile(np.ones(3), np.zeros(3), np.ones((2, 3)), 1e-10, 1.0, False, 1),
     r"W must be 2-D"),
])
def test_wrong_ndim_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("rank_tol", [0.0, 1.0, -1e-3, np.nan])
def test_rank_tol_outside_0_1_is_rejected(rank_tol):
    W, alpha = _layer()
    X = reluinj.testing.sphere_samples(4, 3, seed=1)
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    for call in (lambda: _core.injective_at(W, alpha, X, rank_tol, False, 1),
                 lambda: _core.most_correlated_basis_sets(Wn, X, rank_tol, 1),
                 lambda: _core.radial_profile(W, alpha, X, rank_tol, 1.0, False, 1)):
        with pytest.raises(ValueError, match=r"rank_tol must be in \(0, 1\)"):
            call()


@pytest.mark.parametrize("N", [1, 4, 9])
def test_nnls_iteration_limit_is_exact(N):
    # A = I, b = 1: every column enters once (the largest gradient first) and none ever leaves,
    # so the solve takes exactly N active-set steps.
    A, b = np.eye(N), np.ones(N)
    x, rnorm = hull.nnls(A, b, max_iter=N)
    np.testing.assert_array_equal(x, np.ones(N))
    assert rnorm == 0.0
    if N > 1:
        with pytest.raises(RuntimeError, match="iteration limit"):
            hull.nnls(A, b, max_iter=N - 1)
