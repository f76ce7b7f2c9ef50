"""Radon forward + adjoint (backprojection) of a 256x256 float32 image at 100 angles.

reluinj's explicit bilinear sparse operator (SciPy CSR on NumPy input, torch sparse CSR inside an
autograd Function on tensors; built once, outside the timed call) against its peers on the same
input: scipy.ndimage.rotate per angle (forward) + rotate back (adjoint-like backprojection),
skimage.transform.radon + iradon(filter_name=None), and torch grid_sample (forward + autograd
backward, the kornia-style implementation the authors use).
"""
import numpy as np
import pytest

import reluinj

N, N_ANGLES = 256, 100


@pytest.fixture(scope="module")
def setup(bench_rng):
    R = reluinj.RadonTransform(N, n_angles=N_ANGLES)
    R.matrix  # build outside the timed calls
    yy, xx = np.mgrid[:N, :N] - (N - 1) / 2
    img = (bench_rng.random((N, N)) * (xx**2 + yy**2 < (N / 2 - 2) ** 2)).astype(np.float32)
    return R, img


def test_radon_reluinj_numpy(benchmark, setup):
    R, img = setup
    s, back = benchmark(lambda: (lambda s: (s, R.adjoint(s)))(R(img)))
    assert s.shape == (N_ANGLES, N) and back.shape == (N, N)
    np.testing.assert_allclose(s[0], img.sum(axis=0), rtol=1e-5, atol=1e-3)


def test_radon_reluinj_torch(benchmark, setup):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    R, img = setup
    x = torch.from_numpy(img).requires_grad_(True)
    R(x)

    def run():
        x.grad = None
        s = R(x)
        s.backward(torch.ones_like(s))
        return s

    s = benchmark(run)
    np.testing.assert_allclose(s.detach().numpy(), R(img), rtol=1e-4, atol=1e-3)


def _grid_sample_radon(x, angles):
    import torch
    F = torch.nn.functional
    th = torch.deg2rad(torch.tensor(angles, dtype=x.dtype))
    c, s, z = torch.cos(th), torch.sin(th), torch.zeros_like(th)
    theta = torch.stack([torch.stack([c, -s, z], 1), torch.stack([s, c, z], 1)], 1)
    grid = F.affine_grid(theta, (len(angles), 1, N, N), align_corners=True)
    rot = F.grid_sample(x.expand(len(angles), 1, N, N), grid, mode="bilinear",
                        padding_mode="zeros", align_corners=True)
    return rot.sum(2)[:, 0]


def test_radon_torch_grid_sample(benchmark, setup):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    R, img = setup
    x = torch.from_numpy(img).requires_grad_(True)

    def run():
        x.grad = None
        s = _grid_sample_radon(x[None, None], R.angles)
        s.backward(torch.ones_like(s))
        return s

    s = benchmark(run)
    np.testing.assert_allclose(s.detach().numpy(), R(img), rtol=1e-4, atol=2e-3)


def test_radon_scipy_csr_product(benchmark, setup):
    """The same CSR matrices through SciPy's serial product: the direct peer of csr_matmat."""
    R, img = setup
    M = R._numpy_matrix(np.float32, False)
    Mt = R._numpy_matrix(np.float32, True)
    x = img.reshape(-1, 1)
    back = benchmark(lambda: Mt @ (M @ x))
    np.testing.assert_allclose(back.reshape(N, N), R.adjoint(R(img)), rtol=1e-4, atol=1e-2)


def test_radon_scipy_rotate(benchmark, setup):
    from scipy.ndimage import rotate
    R, img = setup

    def run():
        s = np.stack([rotate(img, a, reshape=False, order=1).sum(axis=0) for a in R.angles])
        back = sum(rotate(np.broadcast_to(row, (N, N)), -a, reshape=False, order=1)
                   for a, row in zip(R.angles, s))
        return s, back

    s, back = benchmark.pedantic(run, rounds=1, iterations=1)
    assert s.shape == (N_ANGLES, N) and back.shape == (N, N)


def test_radon_skimage(benchmark, setup):
    skt = pytest.importorskip("skimage.transform")
    R, img = setup

    def run():
        s = skt.radon(img, R.angles, circle=True)
        return s, skt.iradon(s, R.angles, circle=True, filter_name=None)

    s, back = benchmark.pedantic(run, rounds=2, iterations=1)
    assert s.shape == (N, N_ANGLES)
