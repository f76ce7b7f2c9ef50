"""ConvNetwork.inverse(pool_method=...): the CNN paper's reconstructions of max-pool stages
(one-shot tied decoder, model-based IHT, Algorithm 2), each against an oracle built here:

* closed forms where the conv operator is orthogonal (a 1x1 convolution with an orthogonal
  channel mixing, so ``W W^T = I``) and the hidden activation is exactly model-k-sparse;
* dense computations from the layer's matrix (torch impulses), with torch's own max-pool
  indices for the known switches and the top-left cell of each window for M_fixed;
* the majorisation property of IHT (its measurement residual never exceeds the one-shot's);
* the KKT conditions of the l1 least-squares problem of Algorithm 2.
"""
import numpy as np
import pytest

import reluinj

torch = pytest.importorskip("torch")
nn = torch.nn


def _inv(net, Y, **kw):
    """net.inverse on one thread (the kernels are deterministic in the thread count; tiny
    stages iterated hundreds of times run faster without OpenMP)."""
    return net.inverse(Y, n_threads=1, **kw)


def _dense_weight(module, in_shape):
    """The matrix of a conv module from unit impulses through torch (no bias)."""
    n = int(np.prod(in_shape))
    eye = torch.eye(n, dtype=torch.float64).reshape((n,) + tuple(in_shape))
    with torch.no_grad():
        out = module(eye) - module(torch.zeros((1,) + tuple(in_shape), dtype=torch.float64))
    return out.reshape(n, -1).T.numpy()


def _orthogonal_net(M, H, W, seed):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((M, M)))[0]
    conv = nn.Conv2d(M, M, 1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(Q.reshape(M, M, 1, 1)))
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2)).eval()
    return reluinj.ConvNetwork.from_torch(model, (M, H, W)), Q


def _sparse_code(rng, B, M, H, W, k, *, fixed):
    """Non-negative model-k-sparse codes (B, M, H, W) over 2x2 windows: k (channel, window)
    pairs, one nonzero in each, at the top-left cell when `fixed`, else anywhere inside."""
    z = np.zeros((B, M, H, W))
    n_win = (H // 2) * (W // 2)
    for b in range(B):
        for r in rng.choice(M * n_win, size=k, replace=False):
            c, w = divmod(int(r), n_win)
            i, j = divmod(w, W // 2)
            di, dj = (0, 0) if fixed else rng.integers(0, 2, size=2)
            z[b, c, 2 * i + di, 2 * j + dj] = rng.uniform(0.2, 1.0)
    return z


# -- (a) exact recovery in the orthogonal, exactly model-sparse case -------------------------

@pytest.mark.parametrize("fixed", [True, False])
def test_orthogonal_model_sparse_recovered_exactly(fixed):
    M, H, W, B, k = 3, 6, 6, 4, 5
    net, Q = _orthogonal_net(M, H, W, seed=1)
    z = _sparse_code(np.random.default_rng(2), B, M, H, W, k, fixed=fixed)
    x = np.einsum("dc,bdhw->bchw", Q, z)            # x = W^T z  (W = Q per pixel)
    Y = net(x)
    an = net.analyze(x, with_data_bias=False, with_model_rip=False)
    # the theory: W x = z, so the pooled values are the nonzeros of z
    np.testing.assert_allclose(np.sort(Y.reshape(B, -1), axis=1)[:, -k:],
                               np.sort(z.reshape(B, -1), axis=1)[:, -k:], atol=1e-14)
    switches = None if fixed else an.switches       # M_fixed needs the cells it assumes
    for method in ("one-shot", "iht"):
        res = _inv(net, Y, x_true=x, pool_method=method, switches=switches)
        np.testing.assert_allclose(res.x, x, rtol=0, atol=1e-10)
        assert np.all(res.rel_error <= 1e-10)
        # approximations by construction: never a uniqueness verdict
        assert not res.injective.any() and not res.exact.any()
        assert np.all(res.failed_stage == 1) and not res.ok.any()
    # Algorithm 2 with Phi = S (orthonormal rows): both l1 problems are solved by
    # soft-thresholding the measurements, so x = W^T soft(z, lam)
    lam = 0.05
    res = _inv(net, Y, x_true=x, pool_method="sparse", switches=switches,
                      pool_options={"l1_weight": lam, "tol": 1e-15})
    ref = np.einsum("dc,bdhw->bchw", Q, np.sign(z) * np.maximum(np.abs(z) - lam, 0.0))
    np.testing.assert_allclose(res.x, ref, rtol=0, atol=1e-10)


def test_orthogonal_fixed_switches_move_the_code():
    """M_fixed on a code off the fixed cells: the pooled values go to the top-left cells, so
    one-shot returns W^T of the moved code (closed form), not x."""
    M, H, W, B, k = 2, 4, 6, 3, 4
    net, Q = _orthogonal_net(M, H, W, seed=3)
    z = _sparse_code(np.random.default_rng(4), B, M, H, W, k, fixed=False)
    x = np.einsum("dc,bdhw->bchw", Q, z)
    moved = np.zeros_like(z)
    for i in range(0, H, 2):
        for j in range(0, W, 2):
            moved[:, :, i, j] = z[:, :, i:i + 2, j:j + 2].max(axis=(2, 3))
    res = _inv(net, net(x), x_true=x, pool_method="one-shot")
    np.testing.assert_allclose(res.x, np.einsum("dc,bdhw->bchw", Q, moved), rtol=0, atol=1e-12)


# -- (b) network-level results against the single layer, computed densely -------------------

def _model_proj_dense(u, K, grid, win, k):
    """Euclidean projection onto model-k-sparse codes, by loops: in each window of each filter
    map keep the entry of largest |u| (first on ties), then the k largest of those."""
    u = u.reshape((K,) + grid)
    cand = []
    if len(grid) == 2:
        for c in range(K):
            for i in range(0, grid[0], win[0]):
                for j in range(0, grid[1], win[1]):
                    blk = np.abs(u[c, i:i + win[0], j:j + win[1]])
                    a, bb = np.unravel_index(np.argmax(blk), blk.shape)
                    cand.append((blk[a, bb], (c, i + a, j + bb)))
    else:
        for c in range(K):
            for i in range(0, grid[0], win[0]):
                blk = np.abs(u[c, i:i + win[0]])
                a = int(np.argmax(blk))
                cand.append((blk[a], (c, i + a)))
    order = sorted(range(len(cand)), key=lambda t: -cand[t][0])[:k]
    out = np.zeros_like(u)
    for t in order:
        out[cand[t][1]] = u[cand[t][1]]
    return out.ravel()


def _measurements(pooled, idx, bias, K, plane):
    """y (n_code,) and mask: p - b at the switch of every window with p > 0."""
    y = np.zeros(K * plane)
    mask = np.zeros(K * plane, dtype=bool)
    p = pooled.reshape(K, -1)
    s = idx.reshape(K, -1)
    for c in range(K):
        for w in range(p.shape[1]):
            if p[c, w] > 1e-8 * max(1.0, np.abs(pooled).max()):
                y[c * plane + s[c, w]] = p[c, w] - bias[c]
                mask[c * plane + s[c, w]] = True
    return y, mask


def _fixed_idx(K, shape, win):
    """Flat index in the filter map of the top-left cell of every window (M_fixed)."""
    if len(shape) == 2:
        cells = [i * shape[1] + j for i in range(0, shape[0] - win[0] + 1, win[0])
                 for j in range(0, shape[1] - win[1] + 1, win[1])]
    else:
        cells = list(range(0, shape[0] - win[0] + 1, win[0]))
    return np.tile(np.array(cells), (K, 1))


CASES = {
    "2d": (lambda: nn.Conv2d(2, 6, 3, padding=1), (2, 6, 6), nn.MaxPool2d(2), (2, 2)),
    "1d": (lambda: nn.Conv1d(2, 5, 3), (2, 14), nn.MaxPool1d(3), (3,)),
}


def _case(name, seed=0):
    make, in_shape, pool, win = CASES[name]
    torch.manual_seed(seed)
    conv = make().double()
    model = nn.Sequential(conv, nn.ReLU(), pool).eval()
    net = reluinj.ConvNetwork.from_torch(model, in_shape)
    X = np.random.default_rng(seed).standard_normal((5,) + in_shape)
    Xt = torch.from_numpy(X)
    with torch.no_grad():
        h = torch.relu(conv(Xt))
        fn = nn.functional.max_pool2d if len(win) == 2 else nn.functional.max_pool1d
        pooled, idx = fn(h, win, return_indices=True)
    grid = tuple(h.shape[2:])
    Wd = _dense_weight(conv, in_shape)
    return (net, conv, X, pooled.numpy(), idx.numpy(), Wd, conv.bias.detach().numpy(),
            grid, win)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("known", [False, True])
@pytest.mark.parametrize("k", [None, 4])
def test_one_shot_and_iht_match_dense_layer(name, known, k):
    net, conv, X, pooled, idx, Wd, bias, grid, win = _case(name)
    K, plane = pooled.shape[1], int(np.prod(grid))
    an = net.analyze(X, with_data_bias=False, with_model_rip=False)
    np.testing.assert_array_equal(an.switches[1], idx.reshape(5, -1))
    switches = an.switches if known else None
    step = 0.5 / np.linalg.norm(Wd @ Wd.T, 2) ** 2
    T = 25
    opts = {} if k is None else {"k": k}
    one = _inv(net, pooled, x_true=X, switches=switches, pool_method="one-shot",
                      pool_options=opts)
    ih = _inv(net, pooled, x_true=X, switches=switches, pool_method="iht",
                     pool_options={**opts, "step": step, "tol": 0.0, "max_iter": T})
    G = Wd @ Wd.T
    for b in range(5):
        s = idx[b] if known else _fixed_idx(K, grid, win)
        y, mask = _measurements(pooled[b], s, bias, K, plane)
        kb = int(mask.sum()) if k is None else k
        z = _model_proj_dense(y, K, grid, win, min(kb, int(mask.sum())))
        np.testing.assert_allclose(one.x[b].ravel(), Wd.T @ z, rtol=0, atol=1e-12)
        Phi = G * mask[:, None]                 # S W W^T (rows outside the mask zero)
        for _ in range(T):
            z = _model_proj_dense(z + step * Phi.T @ (y - Phi @ z), K, grid, win, kb)
        np.testing.assert_allclose(ih.x[b].ravel(), Wd.T @ z, rtol=0,
                                   atol=1e-10 * max(1.0, np.abs(Wd.T @ z).max()))
    for res in (one, ih):
        assert not res.injective.any() and not res.exact.any() and np.all(res.failed_stage == 1)
        # per-stage fields from the definitions: stage 0's input is x, its output is the
        # forward of x (residual 0); stage 1 fits the pooled output like residual does
        np.testing.assert_allclose(res.stage_rel_error[:, 0], res.rel_error, rtol=1e-12)
        np.testing.assert_allclose(res.stage_residual[:, 0], 0.0, atol=1e-14)
        np.testing.assert_allclose(res.stage_residual[:, 1], res.residual, rtol=1e-12)
        with torch.no_grad():
            h_true = torch.relu(conv(torch.from_numpy(X))).numpy().reshape(5, -1)
            h_rec = torch.relu(conv(torch.from_numpy(res.x))).numpy().reshape(5, -1)
        np.testing.assert_allclose(res.stage_rel_error[:, 1],
                                   np.linalg.norm(h_rec - h_true, axis=1)
                                   / np.linalg.norm(h_true, axis=1), rtol=1e-10)


def test_one_shot_with_known_switches_is_one_shot_reconstruct():
    """No bias, known switches: the network's one-shot is the single-layer
    one_shot_reconstruct(op, x, k, pool=(2, 2), relu=True) = W^T M_known(ReLU(W x), k)."""
    torch.manual_seed(7)
    conv = nn.Conv2d(2, 8, 3, padding=1, bias=False).double()
    net = reluinj.ConvNetwork.from_torch(nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2)).eval(),
                                         (2, 6, 6))
    X = np.random.default_rng(8).standard_normal((4, 2, 6, 6))
    Y = net(X)
    an = net.analyze(X, with_data_bias=False, with_model_rip=False)
    op = reluinj.ConvOperator2D.from_torch(conv, (6, 6))
    k = int((Y.reshape(4, -1) > 0).sum(axis=1).min())
    res = _inv(net, Y, switches=an.switches, pool_method="one-shot", pool_options={"k": k})
    for b in range(4):
        ref = reluinj.one_shot_reconstruct(op, X[b], k, pool=(2, 2), relu=True)
        np.testing.assert_allclose(res.x[b], ref, rtol=0, atol=1e-12)


# -- (c) what can be proven about IHT against one-shot ---------------------------------------

@pytest.mark.parametrize("known", [False, True])
def test_iht_residual_never_above_one_shot(known):
    """IHT starts at the one-shot code and, with step <= 1 / ||S W W^T||^2, majorises
    ||y - S W W^T z||^2 over the model set, so its measurement residual (computed here from the
    dense matrix) is at most the one-shot's, on every sample."""
    net, conv, X, pooled, idx, Wd, bias, grid, win = _case("2d", seed=11)
    K, plane = pooled.shape[1], int(np.prod(grid))
    an = net.analyze(X, with_data_bias=False, with_model_rip=False)
    switches = an.switches if known else None
    one = _inv(net, pooled, pool_method="one-shot", switches=switches)
    ih = _inv(net, pooled, pool_method="iht", switches=switches,
                     pool_options={"max_iter": 200})
    for b in range(5):
        s = idx[b] if known else _fixed_idx(K, grid, win)
        y, mask = _measurements(pooled[b], s, bias, K, plane)
        r_one = np.linalg.norm((Wd @ one.x[b].ravel())[mask] - y[mask])
        r_iht = np.linalg.norm((Wd @ ih.x[b].ravel())[mask] - y[mask])
        assert r_iht <= r_one * (1 + 1e-12) + 1e-14


# -- Algorithm 2: KKT conditions of its second l1 problem ------------------------------------

def test_sparse_satisfies_l1_kkt_on_model_support():
    from reluinj.cnn._network import _pool_reconstruct

    net, conv, X, pooled, idx, Wd, bias, grid, win = _case("2d", seed=5)
    K, plane = pooled.shape[1], int(np.prod(grid))
    lam = 0.02
    opts = {"k": None, "l1_weight": lam, "tol": 1e-14, "max_iter": 3000}
    res = _inv(net, pooled, x_true=X, pool_method="sparse", pool_options=opts)
    st, prev = net.stages[1], net.stages[0]
    h = pooled.reshape(5, -1)
    x, z = _pool_reconstruct(prev, st, h, np.ones_like(h, dtype=bool),
                             net._fixed_switches(st, 5), "sparse", opts, 1e-8, n_threads=1)
    np.testing.assert_allclose(res.x.reshape(5, -1), x, rtol=0, atol=1e-12)
    G = Wd @ Wd.T
    for b in range(5):
        y, mask = _measurements(pooled[b], _fixed_idx(K, grid, win), bias, K, plane)
        np.testing.assert_allclose(x[b], Wd.T @ z[b], rtol=0, atol=1e-12)
        zb = z[b].reshape((K,) + grid)
        # model-sparse: at most one nonzero per 2x2 window, at most k = #measurements in all
        nnz_win = (zb.reshape(K, grid[0] // 2, 2, grid[1] // 2, 2) != 0).sum(axis=(2, 4))
        assert nnz_win.max() <= 1 and np.count_nonzero(zb) <= mask.sum()
        g = (G * mask[:, None]).T @ (y - (G * mask[:, None]) @ z[b])   # Phi^T (y - Phi z)
        on = z[b] != 0
        assert on.any()
        np.testing.assert_allclose(g[on], lam * np.sign(z[b][on]), rtol=0, atol=1e-8)


# -- (d) bad input --------------------------------------------------------------------------

def test_bad_pool_method_and_options():
    net, *_ = _case("2d")
    Y = np.random.default_rng(0).random((2,) + net.stages[1].out_shape)
    for bad in ("nope", "one_shot", 1, None):
        with pytest.raises(ValueError, match="pool_method"):
            _inv(net, Y, pool_method=bad)
    with pytest.raises(ValueError, match="pool_options"):
        _inv(net, Y, pool_method="one-shot", pool_options={"step": 0.1})
    with pytest.raises(ValueError, match="pool_options"):
        _inv(net, Y, pool_method="iht", pool_options={"k": 0})
    with pytest.raises(ValueError, match="pool_options"):
        _inv(net, Y, pool_method="iht", pool_options={"step": "big"})
    with pytest.raises(TypeError, match="pool_options"):
        _inv(net, Y, pool_method="iht", pool_options=[("k", 2)])


@pytest.mark.parametrize("modules,shape", [
    ([nn.MaxPool2d(2)], (1, 4, 4)),                                        # no stage before
    ([nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(1), nn.MaxPool2d(2)], (1, 4, 4)),
    ([nn.Flatten(), nn.Linear(16, 16), nn.ReLU()], (1, 4, 4)),             # no max-pool: fine
    ([nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=1)], (1, 5, 5)),
])
def test_pool_method_needs_a_conv_before_the_max_pool(modules, shape):
    net = reluinj.ConvNetwork.from_torch([m.double() for m in modules], shape)
    X = np.random.default_rng(1).standard_normal((2,) + shape)
    Y = net(X)
    if not any(s.kind == "maxpool" for s in net.stages):
        ref = _inv(net, Y, x_true=X)
        res = _inv(net, Y, x_true=X, pool_method="iht")
        np.testing.assert_array_equal(res.x, ref.x)
        np.testing.assert_array_equal(res.injective, ref.injective)
        return
    with pytest.raises(ValueError, match="pool_method"):
        _inv(net, Y, pool_method="one-shot")
    _inv(net, Y, pool_method="switches")          # the default still works
