"""ConvNetwork from PyTorch: forward against model(x), analysis against dense oracles built in
the test (torch's Jacobian / weight matrices and np.linalg.matrix_rank of their active rows,
torch's own max-pool switches), inversion against the true inputs."""
import importlib.util
import pathlib

import numpy as np
import pytest

import reluinj

torch = pytest.importorskip("torch")
nn = torch.nn

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "digits_cnn_analysis.py"


def _randomize_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model:
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model.eval()


def test_forward_matches_torch_2d():
    torch.manual_seed(0)
    model = _randomize_bn(nn.Sequential(
        nn.Conv2d(2, 6, 3, padding="same"), nn.BatchNorm2d(6), nn.ReLU(), nn.Identity(),
        nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=3, bias=False), nn.ReLU(),
        nn.MaxPool2d(2, stride=1, padding=1), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(6 * 3 * 3, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3)).double())
    net = reluinj.ConvNetwork.from_torch(model, (2, 9, 10))
    X = torch.randn(5, 2, 9, 10, dtype=torch.float64)
    with torch.no_grad():
        ref = model(X).numpy()
    np.testing.assert_allclose(net(X.numpy()), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(net(X.numpy()[0]), ref[0], rtol=0, atol=1e-12)
    assert [s.kind for s in net.stages] == ["conv", "conv", "maxpool", "avgpool", "flatten",
                                            "dense", "dense"]
    assert net.stages[0].modules == (0, 1, 2)


def test_forward_matches_torch_1d_list():
    torch.manual_seed(1)
    mods = [nn.Conv1d(3, 8, 5, padding=2, dilation=1), nn.ReLU(), nn.MaxPool1d(3, stride=2),
            nn.Conv1d(8, 8, 3, dilation=2, groups=8), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(),
            nn.Linear(8 * 2, 4)]
    model = nn.Sequential(*mods).double().eval()
    net = reluinj.ConvNetwork.from_torch(mods, (3, 20))
    X = torch.randn(4, 3, 20, dtype=torch.float64)
    with torch.no_grad():
        ref = model(X).numpy()
    np.testing.assert_allclose(net(X.numpy()), ref, rtol=0, atol=1e-12)


def test_relu_after_maxpool_commutes():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU()).double().eval()
    net = reluinj.ConvNetwork.from_torch(model, (1, 7, 7))
    assert [s.kind for s in net.stages] == ["conv", "maxpool"] and net.stages[0].relu
    X = torch.randn(3, 1, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(net(X.numpy()), model(X).numpy(), rtol=0, atol=1e-12)


def test_bad_models():
    with pytest.raises(TypeError, match=r"module\[2\] \(Tanh\) is not supported"):
        reluinj.ConvNetwork.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), (3,))
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    with pytest.raises(ValueError, match=r"module\[1\] \(BatchNorm2d\) is in training mode"):
        reluinj.ConvNetwork.from_torch(bn.train(), (1, 5, 5))
    with pytest.raises(ValueError, match=r"module\[0\] \(Conv2d\) expects inputs"):
        reluinj.ConvNetwork.from_torch(nn.Sequential(nn.Conv2d(3, 2, 3)), (1, 5, 5))
    with pytest.raises(ValueError, match="add nn.Flatten"):
        reluinj.ConvNetwork.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)),
                                       (1, 5, 5))
    lin = nn.Linear(3, 3)
    with torch.no_grad():
        lin.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        reluinj.ConvNetwork.from_torch([lin], (3,))
    with pytest.raises(TypeError, match=r"module\[1\] \(ReLU\) must follow"):
        reluinj.ConvNetwork.from_torch([nn.Flatten(), nn.ReLU()], (3,))
    net = reluinj.ConvNetwork.from_torch([nn.Conv2d(1, 2, 3)], (1, 5, 5))
    with pytest.raises(ValueError, match=r"X must have shape \(B, 1, 5, 5\)"):
        net(np.ones((2, 1, 5, 4)))
    with pytest.raises(TypeError, match="X must hold real numbers"):
        net.analyze(np.ones((2, 1, 5, 5), dtype=np.complex64))
    with pytest.raises(ValueError, match="NaN"):
        net.analyze(np.full((2, 1, 5, 5), np.nan))
    with pytest.raises(ValueError, match="start must be a stage index"):
        net.inverse(np.ones((2, 2, 3, 3)), start=3)


def _dense_weight(module, in_shape):
    """The matrix of a conv/linear module from unit impulses through torch (no bias)."""
    n = int(np.prod(in_shape))
    eye = torch.eye(n, dtype=torch.float64).reshape((n,) + tuple(in_shape))
    with torch.no_grad():
        out = module(eye) - module(torch.zeros((1,) + tuple(in_shape), dtype=torch.float64))
    return out.reshape(n, -1).T.numpy()


def test_pool_switch_inversion_against_torch_indices():
    torch.manual_seed(2)
    conv = nn.Conv2d(1, 12, 3, padding=1).double()
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2)).eval()
    net = reluinj.ConvNetwork.from_torch(model, (1, 6, 6))
    X = torch.randn(6, 1, 6, 6, dtype=torch.float64)
    an = net.analyze(X.numpy(), with_model_rip=False)
    with torch.no_grad():
        pre = conv(X)
        pooled, idx = nn.functional.max_pool2d(torch.relu(pre), 2, return_indices=True)
    np.testing.assert_array_equal(an.switches[1], idx.reshape(6, -1).numpy())
    Wd = _dense_weight(conv, (1, 6, 6))
    for b in range(6):  # oracle: rank of the dense rows at the switches with positive value
        rows = np.zeros(Wd.shape[0], dtype=bool)
        flat = (np.arange(12)[:, None] * 36 + idx[b].reshape(12, -1).numpy()).ravel()
        rows[flat[pooled[b].reshape(-1).numpy() > 0]] = True
        assert an.stages[1].injective[b] == (np.linalg.matrix_rank(Wd[rows]) == 36)
    assert an.stages[1].injective.any()
    res = net.inverse(pooled.numpy(), switches=an.switches, x_true=X.numpy())
    ok = res.ok
    np.testing.assert_array_equal(ok, an.stages[1].injective)
    assert np.all(res.rel_error[ok] <= 1e-8)
    assert np.all(res.residual[ok] <= 1e-8)
    assert np.all(res.failed_stage[~ok] >= 0)
    # without switches: fixed unpooling, never counted as unique
    res2 = net.inverse(pooled.numpy())
    assert not res2.ok.any() and np.all(res2.failed_stage == 1)


def test_matrix_free_estimate_matches_exact(monkeypatch):
    from reluinj.cnn import _network

    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.ReLU()).double().eval()
    net = reluinj.ConvNetwork.from_torch(model, (2, 5, 5))
    X = np.random.default_rng(0).standard_normal((3, 2, 5, 5))
    exact = net.analyze(X, with_data_bias=False).stages[0]
    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)       # no banded exact path
    est = net.analyze(X, with_data_bias=False).stages[0]
    assert exact.exact and not est.exact
    np.testing.assert_array_equal(est.injective, exact.injective)
    ok = exact.injective
    np.testing.assert_allclose(est.stability[ok], exact.stability[ok], rtol=1e-3)
    res = net.inverse(net(X), x_true=X, max_iter=2000)
    assert np.all(res.rel_error[res.ok] <= 1e-6)
    assert "estimate" in net.analyze(X, with_data_bias=False).summary()


def test_dense_stage_data_bias_matches_frames():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 2)).double().eval()
    net = reluinj.ConvNetwork.from_torch(model, (3,))
    X = np.random.default_rng(1).standard_normal((40, 3))
    rep = net.analyze(X).stages[0]
    W = model[0].weight.detach().numpy()
    b = model[0].bias.detach().numpy()
    ref = np.asarray(reluinj.data_bias(W, X).alpha)
    np.testing.assert_array_equal(rep.data_bias, ref)
    assert rep.n_bias_ok == np.count_nonzero(-b <= ref)
    pre = X @ W.T + b
    for i in range(5):
        assert rep.injective[i] == (np.linalg.matrix_rank(W[pre[i] > 0]) == 3)
    assert rep.active_fraction == pytest.approx((pre > 0).mean())


@pytest.fixture(scope="module")
def digits_example():
    spec = importlib.util.spec_from_file_location("digits_cnn_analysis", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_cnn_end_to_end(digits_example):
    """Train the example's CNN briefly, analyse held-out digits, check against dense ranks."""
    pytest.importorskip("sklearn")
    Xtr, ytr, Xte, _ = digits_example.load_digits_split(n_test=30)
    model = digits_example.train_cnn(Xtr[:600], ytr[:600], epochs=2)
    net = reluinj.ConvNetwork.from_torch(model, (1, 8, 8))
    X = Xte[:8].astype(np.float64)
    an = net.analyze(X, with_data_bias=False, with_model_rip=False)
    text = an.summary()
    assert "conv+relu" in text and "maxpool" in text
    with torch.no_grad():
        Xt = torch.from_numpy(X)
        np.testing.assert_allclose(net(X), model(Xt).numpy(), rtol=0, atol=1e-12)
        h0 = torch.relu(model[0](Xt))
        pre = [model[0](Xt).reshape(8, -1).numpy(), model[2](h0).reshape(8, -1).numpy()]
    shapes = [(1, 8, 8), (8, 8, 8)]
    for k in (0, 1):
        Wd = _dense_weight(model[2 * k], shapes[k])
        for b in range(8):
            dense_ok = np.linalg.matrix_rank(Wd[pre[k][b] > 0]) == Wd.shape[1]
            assert an.stages[k].injective[b] == dense_ok, (k, b)
    H1 = net.activations(X)[2].reshape((-1,) + net.stages[1].out_shape)
    res = net.inverse(H1, start=1, x_true=X)
    inj = an.stages[0].injective & an.stages[1].injective
    np.testing.assert_array_equal(res.ok, inj)
    assert inj.any()
    assert np.all(res.rel_error[inj] <= 1e-8)


def test_cli_analyze(tmp_path, capsys):
    from reluinj._cli.main import main

    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(6 * 3 * 3, 4))
    X = np.random.default_rng(0).standard_normal((4, 1, 6, 6))
    np.save(tmp_path / "x.npy", X)
    torch.save(model, tmp_path / "m.pt")
    with pytest.warns(UserWarning, match=r"weights_only=False\) runs code"):
        assert main(["analyze", str(tmp_path / "m.pt"), str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "ConvNetwork analysis on 4 samples" in out and "maxpool" in out
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    arch = "Conv2d(1, 6, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(54, 4)"
    assert main(["analyze", str(tmp_path / "sd.pt"), str(tmp_path / "x.npy"), "--arch", arch]) == 0
    assert capsys.readouterr().out == out
    assert main(["analyze", str(tmp_path / "sd.pt"), str(tmp_path / "x.npy")]) == 2
    assert "pass --arch" in capsys.readouterr().err


# -- the matrix-free (batched CGLS) inversion of large stages -----------------------------------

def _dense_lstsq(Wd, bias, y, rows):
    return np.linalg.lstsq(Wd[rows], (y - bias)[rows], rcond=None)[0]


def test_matrix_free_inverse_matches_dense_lstsq(monkeypatch):
    from reluinj.cnn import _network

    torch.manual_seed(5)
    conv = nn.Conv2d(3, 8, 3, padding=1).double()
    net = reluinj.ConvNetwork.from_torch(nn.Sequential(conv, nn.ReLU()).eval(), (3, 6, 6))
    X = np.random.default_rng(3).standard_normal((7, 3, 6, 6))
    Y = net(X)
    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)  # 108 inputs: the CGLS path
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)       # no banded exact path
    res = net.inverse(Y, x_true=X)
    assert not res.exact[0]
    Wd = _dense_weight(conv, (3, 6, 6))
    b = conv.bias.detach().numpy().repeat(36)
    for i in range(7):
        rows = Y[i].ravel() > 0
        ref = _dense_lstsq(Wd, b, Y[i].ravel(), rows)
        np.testing.assert_allclose(res.x[i].ravel(), ref, rtol=0, atol=1e-9 * np.abs(ref).max())
        assert res.injective[i, 0] == (np.linalg.matrix_rank(Wd[rows]) == 108)
    assert res.ok.any() and np.all(res.rel_error[res.ok] <= 1e-9)


def test_matrix_free_inverse_with_switches_uses_rows_at_switches(monkeypatch):
    from reluinj.cnn import _network

    torch.manual_seed(6)
    conv = nn.Conv2d(1, 12, 3, padding=1).double()
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2)).eval()
    net = reluinj.ConvNetwork.from_torch(model, (1, 6, 6))
    X = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    an = net.analyze(X.numpy(), with_model_rip=False, with_data_bias=False)
    with torch.no_grad():
        pooled, idx = nn.functional.max_pool2d(torch.relu(conv(X)), 2, return_indices=True)
    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)       # no banded exact path
    res = net.inverse(pooled.numpy(), switches=an.switches, x_true=X.numpy())
    Wd = _dense_weight(conv, (1, 6, 6))
    b = conv.bias.detach().numpy().repeat(36)
    for i in range(5):
        rows = np.zeros(Wd.shape[0], dtype=bool)
        flat = (np.arange(12)[:, None] * 36 + idx[i].reshape(12, -1).numpy()).ravel()
        rows[flat[pooled[i].reshape(-1).numpy() > 0]] = True
        y = np.zeros(Wd.shape[0])
        y[flat] = pooled[i].reshape(-1).numpy()
        ref = _dense_lstsq(Wd, b, y, rows)
        np.testing.assert_allclose(res.x[i].ravel(), ref, rtol=0, atol=1e-8 * np.abs(ref).max())
        assert res.injective[i, 0] == (np.linalg.matrix_rank(Wd[rows]) == 36)


def test_matrix_free_verdict_sees_unseen_inputs(monkeypatch):
    """Enough active rows but one input entry no active row reads: a null vector that CG from
    the data never excites; the column check must refuse it (dense oracle: rank)."""
    from reluinj.cnn import _network

    rng = np.random.default_rng(7)
    W = rng.standard_normal((40, 12))
    W[4:, 0] = 0.0                       # input 0 is read by rows 0..3 only
    bias = np.full(40, 100.0)
    bias[:4] = -100.0                    # ... which are never active
    lin = nn.Linear(12, 40).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W))
        lin.bias.copy_(torch.from_numpy(bias))
    net = reluinj.ConvNetwork.from_torch(nn.Sequential(lin, nn.ReLU()).eval(), (12,))
    X = rng.standard_normal((3, 12))
    Y = net(X)
    rows = Y[0] > 0
    assert rows.sum() >= 12 and np.linalg.matrix_rank(W[rows]) < 12
    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 5)
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)       # no banded exact path
    res = net.inverse(Y, x_true=X)
    assert not res.injective.any() and not res.exact[0]
    # and with every row active the same solver calls it injective and recovers x
    W2 = rng.standard_normal((40, 12))
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W2))
    net2 = reluinj.ConvNetwork.from_torch(nn.Sequential(lin, nn.ReLU()).eval(), (12,))
    res2 = net2.inverse(net2(X), x_true=X)
    assert res2.injective.all() and np.all(res2.rel_error <= 1e-10)


def test_matrix_free_verdict_too_few_rows(monkeypatch):
    from reluinj.cnn import _network

    torch.manual_seed(8)
    conv = nn.Conv2d(4, 4, 3, padding=1).double()   # 144 inputs, 144 rows: ~half active
    net = reluinj.ConvNetwork.from_torch(nn.Sequential(conv, nn.ReLU()).eval(), (4, 6, 6))
    X = np.random.default_rng(9).standard_normal((4, 4, 6, 6))
    Y = net(X)
    assert np.all((Y.reshape(4, -1) > 0).sum(axis=1) < 144)
    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)       # no banded exact path
    res = net.inverse(Y)
    assert not res.injective.any() and np.all(res.failed_stage == 0)


# -- the exact rank test's machinery (banded / dense Gram plans) against dense SVD -----------

def _stage(model, shape):
    return reluinj.ConvNetwork.from_torch(model.double().eval(), shape).stages[0]


@pytest.mark.parametrize("case", ["conv", "conv-stride-groups", "conv1d", "dense"])
def test_exact_rank_test_matches_dense_svd(case):
    from reluinj.cnn._network import _gram_plan, _rank_test

    torch.manual_seed(3)
    if case == "conv":
        st = _stage(nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU()), (3, 12, 12))
    elif case == "conv-stride-groups":
        st = _stage(nn.Sequential(nn.Conv2d(4, 16, 3, padding=2, stride=1, groups=2,
                                            dilation=2), nn.ReLU()), (4, 6, 6))
    elif case == "conv1d":
        st = _stage(nn.Sequential(nn.Conv1d(3, 8, 5, padding=2), nn.ReLU()), (3, 30))
    else:
        st = _stage(nn.Sequential(nn.Linear(40, 90), nn.ReLU()), (40,))
    A = st.sparse()
    Wd = A.toarray()
    n = Wd.shape[1]
    plan = _gram_plan(st, A)
    assert plan.banded == (case in ("conv", "conv1d"))    # band: neighbouring shifts only
    rng = np.random.default_rng(0)
    verdicts = set()
    factored = 0
    for trial in range(40):
        p = rng.uniform(0.45, 0.95)
        rows = rng.random(Wd.shape[0]) < p
        if trial % 5 == 0:          # an input entry no active row reads: rank-deficient
            rows &= Wd[:, trial % n] == 0
        ok, smin, exact = _rank_test(A, rows, reluinj.DEFAULT_RANK_TOL, plan=plan)
        sv = np.linalg.svd(Wd[rows], compute_uv=False) if rows.any() else np.zeros(1)
        dense_ok = rows.sum() >= n and sv[-1] > reluinj.DEFAULT_RANK_TOL * sv[0]
        assert exact and ok == dense_ok
        verdicts.add(ok)
        if ok:
            assert abs(smin - sv[-1]) <= 1e-12 * sv[0]
            fac = plan.factor(rows)
            if fac is None:         # lambda_min <= 1e-6 ||G||: decided by the SVD
                continue
            factored += 1
            y = rng.standard_normal(rows.sum())
            x = fac.lstsq(A[np.flatnonzero(rows)], y)
            x_ref = np.linalg.lstsq(Wd[rows], y, rcond=None)[0]
            assert np.linalg.norm(x - x_ref) <= 1e-11 * np.linalg.norm(x_ref)
    assert verdicts == {True, False} and factored >= 5


def test_shifted_factor_refuses_rank_deficient_gram():
    """Enough active rows (nI >= n) but a null vector: the factor must not exist, and the
    verdict comes from the SVD."""
    from reluinj.cnn._network import _gram_plan, _rank_test

    W = np.random.default_rng(1).standard_normal((30, 10))
    W[:, 9] = W[:, 8]                                   # columns 8 and 9 equal: rank 9
    st = reluinj.ConvNetwork.from_torch(
        [nn.Linear(10, 30).double()], (10,)).stages[0]
    st = type(st)(**{**st.__dict__, "op": W, "bias": np.zeros(30)})
    plan = _gram_plan(st, st.sparse())
    rows = np.ones(30, dtype=bool)
    assert plan.factor(rows) is None
    assert _rank_test(st.sparse(), rows, reluinj.DEFAULT_RANK_TOL, plan=plan)[:2] == (False, 0.0)


def test_banded_exact_path_past_dense_limit_never_goes_dense(monkeypatch):
    """Past DENSE_RANK_LIMIT the banded path stays exact where the factor exists and sends
    the other samples to the matrix-free CGLS: no dense SVD / lstsq of the active rows (which
    would take minutes and GBs at real sizes)."""
    from reluinj.cnn import _network

    torch.manual_seed(5)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    with torch.no_grad():
        conv.bias.fill_(0.5)
    net = reluinj.ConvNetwork.from_torch(nn.Sequential(conv, nn.ReLU()).double().eval(),
                                         (2, 12, 12))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2, 12, 12)) * np.array([0.01, 0.01, 0.01, 3, 3, 3])[:, None,
                                                                              None, None]
    Y = net(X)
    Wd = net.stages[0].op.todense()
    pre = X.reshape(6, -1) @ Wd.T + net.stages[0].bias
    dense_ok = [np.linalg.matrix_rank(Wd[p > 0]) == 288 for p in pre]
    assert dense_ok[:3] == [True] * 3 and not any(dense_ok[3:])

    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)
    assert _network._gram_plan(net.stages[0], net.stages[0].sparse()).banded

    def refuse(*a, **k):
        raise AssertionError("dense fallback reached")
    monkeypatch.setattr(np.linalg, "lstsq", refuse)
    monkeypatch.setattr(np.linalg, "svd", refuse)
    # decided by factors (samples 0-2) or by nI < n (3-5): exact, both ways
    assert all((pre[3:] > 0).sum(axis=1) < 288)
    res = net.inverse(Y, x_true=X)
    assert list(res.injective[:, 0]) == dense_ok and res.exact[0]
    assert np.all(res.rel_error[:3] <= 1e-12)
    an = net.analyze(X, with_data_bias=False)
    assert list(an.stages[0].injective) == dense_ok and an.stages[0].exact
    # nI = 420 >= n = 288 active rows, but the 12 rows that read input pixel (0, 0) of both
    # channels are off: rank-deficient, the factor breaks down, the matrix-free CGLS decides
    # (its exact necessary condition sees the unread input) and the stage says it is not exact
    Yc = Y[:1].copy()
    Yc[:, :, :2, :2] = 0.0
    res = net.inverse(Yc)
    assert not res.injective[0, 0] and not res.exact[0]
