"""Every validation rule gives a ValueError/TypeError that names the argument."""
import numpy as np
import pytest

import reluinj
from reluinj import NotAFrameError, ReLULayer


def test_w_wrong_ndim():
    with pytest.raises(ValueError, match="W must be 2-D"):
        ReLULayer(np.ones(3))


def test_w_nan_and_inf():
    W = reluinj.icosahedron()
    for bad in (np.nan, np.inf):
        W2 = W.copy()
        W2[0, 0] = bad
        with pytest.raises(ValueError, match="W contains NaN or inf"):
            ReLULayer(W2)


def test_w_complex_and_object_dtype():
    with pytest.raises(TypeError, match="W must hold real numbers"):
        ReLULayer(np.ones((4, 2), dtype=complex))
    with pytest.raises(TypeError, match="W must hold real numbers"):
        ReLULayer(np.array([["a", "b"], ["c", "d"]]))


def test_integer_w_becomes_float64():
    layer = ReLULayer(np.array([[1, 0], [0, 1], [-1, -1]]))
    assert layer.dtype == np.float64


def test_w_fewer_rows_than_columns():
    with pytest.raises(NotAFrameError, match="m >= n"):
        ReLULayer(np.ones((2, 3)))


def test_w_rank_deficient():
    W = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 1.0]])
    with pytest.raises(NotAFrameError, match="rank 2 < n=3"):
        ReLULayer(W)
    assert issubclass(NotAFrameError, ValueError)


def test_alpha_shape_and_nan():
    W = reluinj.icosahedron()
    with pytest.raises(ValueError, match=r"alpha must be a scalar or have shape \(12,\)"):
        ReLULayer(W, np.zeros(5))
    with pytest.raises(ValueError, match="alpha contains NaN"):
        ReLULayer(W, np.full(12, np.nan))


def test_points_wrong_width_and_nan():
    layer = ReLULayer(reluinj.icosahedron())
    with pytest.raises(ValueError, match="X must have 3 columns"):
        layer.is_injective_at(np.ones((4, 2)))
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        layer.is_injective_at(np.array([[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match="X must be 1-D or 2-D"):
        layer(np.ones((2, 2, 3)))


def test_rank_tol_range():
    layer = ReLULayer(reluinj.icosahedron())
    with pytest.raises(ValueError, match="rank_tol"):
        layer.is_injective_at(np.ones(3), rank_tol=0.0)
    with pytest.raises(ValueError, match="rank_tol"):
        layer.is_injective_at(np.ones(3), rank_tol=1.5)


def test_frame_functions_reject_non_frames():
    with pytest.raises(NotAFrameError):
        reluinj.framebounds(np.zeros((4, 2)))
    with pytest.raises(NotAFrameError):
        reluinj.framedual(np.ones((3, 2)))


def test_normalize_rows_rejects_zero_rows():
    with pytest.raises(ValueError, match="zero rows at indices \\[1\\]"):
        reluinj.normalize_rows(np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_rng_validation():
    with pytest.raises(TypeError, match="seed must be"):
        reluinj.random_frame(4, 2, seed="seed")
    with pytest.raises(ValueError, match="seed must be non-negative"):
        reluinj.random_frame(4, 2, seed=-1)


def test_domains_validate():
    with pytest.raises(ValueError, match="radius must be finite and > 0"):
        reluinj.Sphere(0.0)
    with pytest.raises(ValueError, match="radius"):
        reluinj.Ball(-1.0)
    with pytest.raises(ValueError, match="inner <= outer"):
        reluinj.Annulus(2.0, 1.0)
    with pytest.raises(ValueError, match="inner must be finite and >= 0"):
        reluinj.Annulus(-1.0, 1.0)


def test_compiled_kernel_rechecks_sizes():
    from reluinj import _core

    W = np.ones((4, 2))
    with pytest.raises(ValueError, match="alpha.shape\\[0\\] must be 4"):
        _core.injective_at(W, np.zeros(3), np.ones((2, 2)), 1e-10, False, 1)
    with pytest.raises(ValueError, match="X.shape\\[1\\] must be 2"):
        _core.active_mask(W, np.zeros(4), np.ones((2, 3)), 1)
    with pytest.raises(TypeError):  # noconvert: no silent copies of mismatched dtypes
        _core.active_mask(W, np.zeros(4), np.ones((2, 2), dtype=np.float32), 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.active_mask(W, np.zeros(4), np.ones((2, 2)), 0)


@pytest.mark.parametrize("shape", [(40, 5), (5, 5), (3, 7), (1024, 64)])
@pytest.mark.parametrize("ratio", [1.0, 1e-2, 1e-4, 1e-7, 1e-10, 1e-13, 1e-15, 0.0])
def test_frame_rank_equals_matrix_rank(shape, ratio):
    # The eigenvalue fast path must take the same decision as the SVD of matrix_rank, also
    # for singular-value ratios around both thresholds (1e-3 of the fast path, m * eps of
    # matrix_rank).
    from reluinj._lib.validation import frame_rank

    m, n = shape
    rng = np.random.default_rng(m * n)
    U, _ = np.linalg.qr(rng.standard_normal((m, min(m, n))))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = min(m, n)
    s = np.geomspace(1.0, ratio, k) if ratio > 0 else np.r_[np.ones(k - 1), 0.0]
    W = (U * s) @ V[:k]
    assert frame_rank(W) == np.linalg.matrix_rank(W)
    W32 = W.astype(np.float32)
    assert frame_rank(W32) == np.linalg.matrix_rank(W32.astype(np.float64))
