"""ReLUNetwork: forward pass, per-stage analysis and layer-by-layer inversion vs brute force."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import reluinj
from reluinj import ReLULayer, ReLUNetwork

RECON_RTOL = 1e-9         # through several stages the error of each inversion compounds
STABILITY_RTOL = 1e-10


def brute_force_injective(W, alpha, H):
    """Per-sample rank of the active rows {<h, w_i> >= alpha_i} with numpy.matrix_rank."""
    n = W.shape[1]
    # One BLAS thread: thousands of small SVDs are much slower with contended BLAS threads.
    with threadpool_limits(limits=1, user_api="blas"):
        return np.array([np.linalg.matrix_rank(W[W @ h >= alpha]) == n
                         if (W @ h >= alpha).sum() else False for h in H])


def brute_force_stability(W, alpha, H):
    worst = 0.0
    for h in H:
        WI = W[W @ h >= alpha]
        if WI.shape[0] < W.shape[1] or np.linalg.matrix_rank(WI) < W.shape[1]:
            return np.inf
        worst = max(worst, 1 / np.sqrt(np.linalg.eigvalsh(WI.T @ WI)[0]))
    return worst


@pytest.fixture
def net3():
    # 5 -> 20 -> 60 (ReLU) -> 3 (ReLU, m < n: never injective)
    return ReLUNetwork.from_affine([(reluinj.random_frame(20, 5, seed=1), -0.3),
                                    (reluinj.random_frame(60, 20, seed=2), -0.1),
                                    (np.random.default_rng(3).standard_normal((3, 60)), 0.0)])


def test_forward_matches_manual_composition(net3, rng):
    X = rng.standard_normal((50, 5))
    h = X
    for st in net3.stages:
        h = np.maximum(h @ st.W.T - st.alpha, 0.0)
    np.testing.assert_allclose(net3(X), h, rtol=1e-14)
    assert net3(X[0]).shape == (3,)
    assert [s.is_frame for s in net3.stages] == [True, True, False]
    assert repr(net3) == "ReLUNetwork(5 -> 20 -> 60 -> 3)"


def test_from_layers_and_dimension_check():
    L1 = ReLULayer(reluinj.random_frame(10, 4, seed=0), 0.0)
    L2 = ReLULayer(reluinj.random_frame(30, 10, seed=1), 0.0)
    net = ReLUNetwork([L1, L2])
    assert (net.n_in, net.n_out, len(net)) == (4, 30, 2)
    with pytest.raises(ValueError, match="layer 0 has 30 outputs but layer 1 expects 4"):
        ReLUNetwork([L2, L1])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a ReLULayer"):
        ReLUNetwork([L1, np.eye(3)])
    with pytest.raises(ValueError, match="at least one layer"):
        ReLUNetwork([])
    with pytest.raises(TypeError, match=r"params\[0\] must be a pair"):
        ReLUNetwork.from_affine([np.eye(3)])


def test_analyze_matches_brute_force(net3, rng):
    X = rng.standard_normal((300, 5))
    report = net3.analyze(X, with_data_bias=False)
    hs = net3.activations(X)
    for k, (st, r) in enumerate(zip(net3.stages[:2], report.layers[:2])):
        inj = brute_force_injective(st.W, st.alpha, hs[k])
        assert r.injectivity_rate == pytest.approx(inj.mean(), abs=1e-15)
        expected = brute_force_stability(st.W, st.alpha, hs[k])
        if np.isinf(expected):
            assert np.isinf(r.stability)
        else:
            assert r.stability == pytest.approx(expected, rel=STABILITY_RTOL)
    last = report.layers[2]
    assert not last.is_frame and last.injectivity_rate == 0.0 and np.isinf(last.stability)
    text = report.summary()
    assert "60 x 20" in text and "NO" in text and text.count("\n") == 5


def test_inverse_recovers_inputs_and_flags_failing_stage(rng):
    net = ReLUNetwork.from_affine([(reluinj.random_frame(20, 5, seed=1), 0.2),
                                   (reluinj.random_frame(60, 20, seed=2), 0.1)])
    X = rng.standard_normal((2000, 5))
    res = net.inverse(net(X))
    hs = net.activations(X)
    inj = np.stack([brute_force_injective(s.W, s.alpha, hs[k])
                    for k, s in enumerate(net.stages)], axis=1)
    ok = inj.all(axis=1)
    assert ok.any() and (~ok).any()
    np.testing.assert_array_equal(res.ok, ok)
    np.testing.assert_array_equal(res.injective[:, 1], inj[:, 1])
    expected_fail = np.where(~inj[:, 1], 1, np.where(~inj[:, 0], 0, -1))
    # Where stage 1 failed, stage 0 ran on a min-norm guess: only the first failure is reliable.
    np.testing.assert_array_equal(res.failed_layer, expected_fail)
    err = np.linalg.norm(res.x - X, axis=1) / np.linalg.norm(X, axis=1)
    assert err[ok].max() <= RECON_RTOL


def test_inverse_through_non_frame_stage_flags_every_sample(net3, rng):
    X = rng.standard_normal((100, 5))
    res = net3.inverse(net3(X))
    assert (res.failed_layer == 2).all() and not res.ok.any()
    assert not res.injective[:, 2].any()


def test_final_linear_stage_inverted_by_least_squares(rng):
    W1 = reluinj.random_frame(12, 4, seed=4)
    W2 = rng.standard_normal((15, 12))            # full column rank
    net = ReLUNetwork.from_affine([(W1, 0.5), (W2, rng.standard_normal(15))], final_linear=True)
    assert not net.stages[-1].relu
    X = rng.standard_normal((500, 4))
    Y = net(X)
    assert (Y < 0).any()                          # a linear output, not a ReLU output
    res = net.inverse(Y)
    assert res.injective[:, 1].all()
    ok = res.ok
    assert ok.mean() > 0.5
    np.testing.assert_allclose(res.x[ok], X[ok], rtol=0, atol=1e-9)
    narrow = ReLUNetwork.from_affine([(W1, 0.5), (rng.standard_normal((3, 12)), 0.0)],
                                     final_linear=True)
    assert (narrow.inverse(narrow(X)).failed_layer == 1).all()


def test_inverse_bad_input(net3):
    with pytest.raises(ValueError, match="Y must have 3 columns"):
        net3.inverse(np.ones((2, 4)))
    with pytest.raises(ValueError, match="Y has negative entries"):
        net3.inverse(-np.ones((2, 3)))
    with pytest.raises(ValueError, match="zero_tol must be finite"):
        net3.inverse(np.ones((2, 3)), zero_tol=-1.0)
    with pytest.raises(ValueError, match="X must have 5 columns"):
        net3.analyze(np.ones((2, 4)), with_data_bias=False)


def test_inverse_identical_for_1_and_2_threads(n_threads, rng):
    net = ReLUNetwork.from_affine([(reluinj.random_frame(20, 5, seed=1), 0.2),
                                   (reluinj.random_frame(60, 20, seed=2), 0.1)])
    Y = net(rng.standard_normal((1000, 5)))
    a = net.inverse(Y, n_threads=1)
    b = net.inverse(Y, n_threads=n_threads)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.failed_layer, b.failed_layer)


def test_analyze_reports_data_bias(rng):
    net = ReLUNetwork.from_affine([(reluinj.random_frame(20, 5, seed=1), -0.3),
                                   (reluinj.random_frame(60, 20, seed=2), 0.1)])
    X = rng.standard_normal((500, 5))
    report = net.analyze(X)
    for k, (st, r) in enumerate(zip(net.stages, report.layers)):
        expected = reluinj.data_bias(st.W, net.activations(X)[k]).alpha
        np.testing.assert_array_equal(r.data_bias, expected)
        assert r.n_below_data_bias == int(np.count_nonzero(st.alpha <= expected))


def test_from_torch_sequential():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.ReLU(),
                                torch.nn.Linear(12, 30), torch.nn.ReLU(),
                                torch.nn.Linear(30, 2)).double()
    net = ReLUNetwork.from_torch(model)
    assert [s.relu for s in net.stages] == [True, True, False]
    X = np.random.default_rng(0).standard_normal((20, 4))
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net(X), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="must be a torch.nn.Sequential"):
        ReLUNetwork.from_torch(model[0])
    with pytest.raises(TypeError, match=r"module\[1\] must be a torch.nn.ReLU"):
        ReLUNetwork.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh()))


@pytest.mark.slow
def test_trained_mlp_on_digits():
    torch = pytest.importorskip("torch")
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X = (digits.data / 16.0).astype(np.float64)
    y = digits.target
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10)).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model(Xt).argmax(1) == yt).double().mean().item()
    assert accuracy > 0.9

    X = X[::3]  # 599 samples keep the brute-force oracles short
    # The feature extractor (64 -> 128 -> 256) with the trained biases.
    features = ReLUNetwork.from_torch(model[:4])
    report = features.analyze(X, with_data_bias=False)
    hs = features.activations(X)
    inj = np.stack([brute_force_injective(s.W, s.alpha, hs[k])
                    for k, s in enumerate(features.stages)], axis=1)
    for k, r in enumerate(report.layers):
        assert r.injectivity_rate == pytest.approx(inj[:, k].mean(), abs=1e-15)
    res = features.inverse(features(X))
    ok = inj.all(axis=1)
    np.testing.assert_array_equal(res.ok, ok)
    if ok.any():
        err = np.linalg.norm(res.x - X, axis=1) / np.linalg.norm(X, axis=1)
        assert err[ok].max() <= 1e-6

    # Biases lowered to a value certified on the data: every neuron active at every sample.
    params = []
    for k, st in enumerate(features.stages):
        alpha = (hs[k] @ st.W.T).min(axis=0) - 1e-3
        params.append((st.W, -alpha))
    certified = ReLUNetwork.from_affine(params)
    report = certified.analyze(X, with_data_bias=False)
    assert all(r.injectivity_rate == 1.0 for r in report.layers)
    res = certified.inverse(certified(X))
    assert res.ok.all()
    err = np.linalg.norm(res.x - X, axis=1) / np.linalg.norm(X, axis=1)
    assert err.max() <= 1e-6

    # The full classifier ends with a 256 -> 10 linear map: never invertible, flagged there.
    full = ReLUNetwork.from_torch(model)
    with torch.no_grad():
        logits = model(Xt).numpy()
    assert (full.inverse(logits).failed_layer == 2).all()
