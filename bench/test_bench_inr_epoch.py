"""One full-batch training epoch (forward + backward + Adam step) of a 3x256 BW-ReLU INR on
128x128 coordinates: reluinj's fused BW-ReLU against the same network built from the seven
``torch.relu`` composition (same weights, same seed)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import reluinj  # noqa: E402
from reluinj.inr import bwrelu_relu_composition  # noqa: E402


class _Seven(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return bwrelu_relu_composition(x, self.c)


def _epoch_fn(model, coords, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(coords) - y) ** 2)
        loss.backward()
        opt.step()
        return loss.item()

    return step


@pytest.fixture(scope="module")
def problem():
    torch.set_num_threads(2)
    coords = torch.from_numpy(reluinj.coordinate_grid((128, 128)))
    y = torch.rand(128 * 128, 1, generator=torch.Generator().manual_seed(0))
    return coords, y


def _model(seven):
    torch.manual_seed(0)
    m = reluinj.INR(2, 256, 3, 1, c=3.0)
    if seven:
        act = _Seven(3.0)
        m.net = torch.nn.Sequential(*[act if isinstance(l, reluinj.BWReLU) else l for l in m.net])
    return m


def test_bench_inr_epoch_fused(benchmark, problem):
    coords, y = problem
    a, b = _model(False), _model(True)
    torch.testing.assert_close(a(coords), b(coords), rtol=1e-5, atol=1e-6)
    loss = benchmark(_epoch_fn(a, coords, y))
    assert np.isfinite(loss)


def test_bench_inr_epoch_seven_relus(benchmark, problem):
    coords, y = problem
    loss = benchmark(_epoch_fn(_model(True), coords, y))
    assert np.isfinite(loss)
