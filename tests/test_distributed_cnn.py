"""reluinj.distributed.analyze / inverse: ConvNetwork over chunks of a dask array, bitwise equal
to the local call on the whole array; batch-independence of the forward; bad input."""
import dataclasses
import sys

import numpy as np
import pytest

import reluinj

torch = pytest.importorskip("torch")
dask = pytest.importorskip("dask", reason="dask extra not installed")
da = pytest.importorskip("dask.array", reason="dask extra not installed")
import reluinj.distributed as rd  # noqa: E402  (after the dask skips)

nn = torch.nn
CHUNKS = (7, 13, 10)   # three uneven chunks of the 30 samples


@pytest.fixture(autouse=True)
def synchronous():
    """Tasks run in this process, one after the other: no worker processes."""
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 160), nn.ReLU()).double().eval()
    return reluinj.ConvNetwork.from_torch(model, (1, 8, 8))


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(1).standard_normal((30, 1, 8, 8))


def _dask(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


def _assert_same_analysis(got, ref):
    assert got.n_samples == ref.n_samples
    assert len(got.stages) == len(ref.stages)
    for g, r in zip(got.stages, ref.stages):
        for f in dataclasses.fields(r):
            a, b = getattr(g, f.name), getattr(r, f.name)
            if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b, err_msg=f"stage {r.index}: {f.name}")
                assert np.asarray(a).dtype == np.asarray(b).dtype, f.name
            else:
                assert a == b and type(a) is type(b), (r.index, f.name, a, b)
    assert len(got.switches) == len(ref.switches)
    for g, r in zip(got.switches, ref.switches):
        if r is None:
            assert g is None
        else:
            np.testing.assert_array_equal(g, r)
    assert got.summary() == ref.summary()


def _assert_same_inverse(got, ref):
    for f in dataclasses.fields(ref):
        a, b = getattr(got, f.name), getattr(ref, f.name)
        if b is None:
            assert a is None, f.name
        else:
            np.testing.assert_array_equal(a, b, err_msg=f.name)
            assert a.dtype == b.dtype and a.shape == b.shape, f.name


def test_analyze_over_uneven_chunks_is_bitwise_local(net, X):
    ref = net.analyze(X)
    got = rd.analyze(net, _dask(X))
    _assert_same_analysis(got, ref)
    # the test has teeth: every kind of merged field is present and the chunks differ
    kinds = {r.kind for r in ref.stages}
    assert kinds == {"conv", "maxpool", "flatten", "dense"}
    conv, pool, dense = ref.stages[0], ref.stages[1], ref.stages[3]
    assert conv.active_fraction is not None and conv.data_bias is not None
    assert pool.model_rip is not None and pool.mean_k is not None
    assert dense.data_bias is not None and dense.n_bias_ok is not None
    parts = [net.analyze(X[a:b]) for a, b in ((0, 7), (7, 20), (20, 30))]
    assert len({p.stages[0].active_fraction for p in parts}) > 1
    assert not all(np.array_equal(p.stages[3].data_bias, dense.data_bias) for p in parts)


def test_analyze_options_are_passed_on(net, X):
    ref = net.analyze(X, with_data_bias=False, with_model_rip=False, seed=3, rank_tol=1e-9)
    got = rd.analyze(net, X, chunks=CHUNKS, with_data_bias=False, with_model_rip=False,
                     seed=3, rank_tol=1e-9)
    _assert_same_analysis(got, ref)
    assert got.stages[0].data_bias is None and got.stages[1].model_rip is None


def test_inverse_over_uneven_chunks_is_bitwise_local(net, X):
    ana = net.analyze(X, with_data_bias=False, with_model_rip=False)
    Y = net(X)
    ref = net.inverse(Y, switches=ana.switches, x_true=X)
    assert ref.ok.any()
    # switches and x_true given as NumPy and as dask arrays in other chunks
    got = rd.inverse(net, _dask(Y), switches=ana.switches, x_true=X)
    _assert_same_inverse(got, ref)
    sw_dask = [None if s is None else _dask(s, (15, 15)) for s in ana.switches]
    got = rd.inverse(net, _dask(Y), switches=sw_dask, x_true=_dask(X, (30,)))
    _assert_same_inverse(got, ref)


def test_inverse_without_switches_and_from_a_stage(net, X):
    Y = net(X)
    _assert_same_inverse(rd.inverse(net, _dask(Y)), net.inverse(Y))
    H = net.activations(X)[2].reshape((30,) + net.stages[1].out_shape)   # after the max-pool
    ref = net.inverse(H, start=1, x_true=X)
    _assert_same_inverse(rd.inverse(net, H, chunks=CHUNKS, start=1, x_true=X), ref)


def test_matrix_free_paths_are_bitwise_local(monkeypatch, net, X):
    """Above DENSE_RANK_LIMIT: LOBPCG rank tests in analyze, batched CGLS in inverse (whose
    active set shrinks differently in every chunk)."""
    from reluinj.cnn import _network

    monkeypatch.setattr(_network, "DENSE_RANK_LIMIT", 10)
    monkeypatch.setattr(_network, "_GRAM_ENTRY_LIMIT", 0)   # no banded exact path either
    Xs = X[:9]
    ana = net.analyze(Xs, with_data_bias=False)
    assert not ana.stages[0].exact
    _assert_same_analysis(rd.analyze(net, _dask(Xs, (2, 4, 3)), with_data_bias=False), ana)
    Y = net(Xs)
    ref = net.inverse(Y, switches=ana.switches, x_true=Xs, max_iter=300)
    assert not ref.exact[0]
    got = rd.inverse(net, _dask(Y, (2, 4, 3)), switches=ana.switches, x_true=Xs, max_iter=300)
    _assert_same_inverse(got, ref)


def test_numpy_input_chunks_argument_and_threads_scheduler(net, X):
    ref = net.analyze(X, with_data_bias=False)
    _assert_same_analysis(rd.analyze(net, X, chunks=8, with_data_bias=False), ref)
    _assert_same_analysis(rd.analyze(net, _dask(X), chunks=(10, 20), with_data_bias=False),
                          ref)
    with dask.config.set(scheduler="threads"):   # tasks in concurrent threads
        _assert_same_analysis(rd.analyze(net, X, chunks=5, with_data_bias=False), ref)
    Y = net(X)
    _assert_same_inverse(rd.inverse(net, Y), net.inverse(Y))   # default chunks: one chunk


def test_inprocess_cluster_is_bitwise_local(net, X):
    distributed = pytest.importorskip("distributed")
    ref = net.analyze(X[:12], with_data_bias=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = rd.analyze(net, _dask(X[:12], (5, 7)), with_data_bias=False, client=client)
        inv = rd.inverse(net, net(X[:12]), chunks=(4, 8), client=client)
    _assert_same_analysis(got, ref)
    _assert_same_inverse(inv, net.inverse(net(X[:12])))


# -- batch independence of the forward -------------------------------------------------------

def test_dense_stage_rows_do_not_depend_on_the_batch():
    """Row b of a batch-of-64 forward is the sample alone, bitwise (a plain BLAS matmul rounds
    tail rows and single rows differently)."""
    torch.manual_seed(2)
    dnet = reluinj.ConvNetwork.from_torch(nn.Sequential(nn.Linear(1024, 512), nn.ReLU()),
                                          (1024,))
    st = dnet.stages[0]
    rng = np.random.default_rng(4)
    H = rng.standard_normal((64, 1024))
    Z = rng.standard_normal((64, 512))
    full, full_t, out = st.linear(H), st.linear_t(Z), dnet(H)
    for b in range(64):
        np.testing.assert_array_equal(st.linear(H[b:b + 1])[0], full[b])
        np.testing.assert_array_equal(st.linear_t(Z[b:b + 1])[0], full_t[b])
        np.testing.assert_array_equal(dnet(H[b]), out[b])
    for lo, hi in ((3, 10), (5, 64), (0, 33), (1, 17), (47, 64)):
        np.testing.assert_array_equal(st.linear(H[lo:hi]), full[lo:hi])
        np.testing.assert_array_equal(st.linear_t(Z[lo:hi]), full_t[lo:hi])
    # a larger batch of several blocks, F-ordered input: still row by row the same
    H2 = np.asfortranarray(np.vstack([H, H, H[:7]]))
    np.testing.assert_array_equal(st.linear(H2), np.vstack([full, full, full[:7]]))
    np.testing.assert_allclose(full, H @ st.op.T, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("n,m", [(513, 257), (7, 300), (3000, 17)])
def test_rowwise_matmul_odd_shapes(n, m):
    """Each row the same bits alone, in any slice of the batch and in the whole batch."""
    from reluinj.cnn._network import _rowwise_matmul

    rng = np.random.default_rng(n)
    W = rng.standard_normal((m, n))
    H = rng.standard_normal((150, n))
    full = _rowwise_matmul(H, W.T)
    alone = np.vstack([_rowwise_matmul(H[b:b + 1], W.T) for b in range(150)])
    np.testing.assert_array_equal(full, alone)
    for lo, hi in ((0, 64), (64, 150), (10, 91), (149, 150)):
        np.testing.assert_array_equal(_rowwise_matmul(H[lo:hi], W.T), full[lo:hi])


def test_network_forward_is_per_sample(net, X):
    out = net(X)
    for b in range(X.shape[0]):
        np.testing.assert_array_equal(net(X[b]), out[b])


# -- bad input ---------------------------------------------------------------------------------

def test_bad_chunking_shape_and_values(net, X):
    Xd = da.from_array(X, chunks=(10, 1, 4, 8))      # axis 2 in two chunks
    with pytest.raises(ValueError, match=r"X must be chunked along the sample axis .*axis 2"):
        rd.analyze(net, Xd)
    Y = net(X)
    with pytest.raises(ValueError, match=r"Y must be chunked along the sample axis"):
        rd.inverse(net, da.from_array(Y, chunks=(10, 80)))
    with pytest.raises(ValueError, match=r"X must have shape \(B, 1, 8, 8\)"):
        rd.analyze(net, X[:, :, :7])
    with pytest.raises(ValueError, match=r"X must have shape"):
        rd.analyze(net, X[0])                         # no sample axis
    with pytest.raises(ValueError, match=r"Y must have shape \(B, 160\)"):
        rd.inverse(net, X)
    with pytest.raises(ValueError, match="X must contain at least one sample"):
        rd.analyze(net, X[:0])
    bad = X.copy()
    bad[12, 0, 3, 3] = np.nan                          # in the second chunk
    with pytest.raises(ValueError, match=r"X\[7:20\].*X contains NaN"):
        rd.analyze(net, _dask(bad))
    badY = Y.copy()
    badY[25, 0] = np.inf
    with pytest.raises(ValueError, match=r"Y\[20:30\].*Y contains NaN or inf"):
        rd.inverse(net, _dask(badY))
    with pytest.raises(TypeError, match="X must hold real numbers"):
        rd.analyze(net, X.astype(complex))


def test_bad_options(net, X):
    Y = net(X)
    with pytest.raises(ValueError, match="chunks must add up to the 30 samples of X"):
        rd.analyze(net, X, chunks=(10, 10))
    with pytest.raises(ValueError, match="chunks"):
        rd.analyze(net, X, chunks=0)
    with pytest.raises(TypeError, match="chunks"):
        rd.analyze(net, X, chunks="auto")
    with pytest.raises(TypeError, match="net must be a reluinj.ConvNetwork"):
        rd.analyze("net", X)
    with pytest.raises(TypeError, match="seed must be None, an int or a SeedSequence"):
        rd.analyze(net, X, seed=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rank_tol"):
        rd.analyze(net, X, rank_tol=-1.0)
    with pytest.raises(ValueError, match="n_threads_per_task"):
        rd.analyze(net, X, n_threads_per_task=0)
    sw = net.analyze(X[:2], with_data_bias=False, with_model_rip=False).switches
    with pytest.raises(ValueError, match=r"switches\[1\] must have shape \(30, 64\)"):
        rd.inverse(net, Y, switches=sw)
    with pytest.raises(ValueError, match="switches must have one entry per stage"):
        rd.inverse(net, Y, switches=sw[:2])
    with pytest.raises(ValueError, match=r"x_true must have shape \(30, 1, 8, 8\)"):
        rd.inverse(net, Y, x_true=X[:5])
    with pytest.raises(ValueError, match="start must be a stage index"):
        rd.inverse(net, Y, start=7)
    with pytest.raises(ValueError, match="method must be 'lstsq'"):
        rd.inverse(net, Y, method="cg")
    with pytest.raises(ValueError, match="max_iter"):
        rd.inverse(net, Y, max_iter=0)


def test_missing_dask_gives_the_install_hint(monkeypatch, net, X):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'reluinj\[dask\]'"):
        rd.analyze(net, X)
    with pytest.raises(ImportError, match=r"pip install 'reluinj\[dask\]'"):
        rd.inverse(net, net(X))


def test_public_names():
    for name in ("analyze", "inverse", "DEFAULT_CHUNK_SAMPLES"):
        assert name in rd.__all__
    for name in ("sampled_bias", "relu_inverse", "connect"):
        assert name in rd.__all__
    for name in rd.__all__:
        obj = getattr(rd, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
    assert "Returns" in rd.analyze.__doc__ and "(B," in rd.inverse.__doc__


@pytest.mark.parametrize("pool_method", ["one-shot", "iht"])
def test_inverse_with_a_paper_pool_method_is_bitwise_local(net, X, pool_method):
    Y = net(X)
    ref = net.inverse(Y, x_true=X, pool_method=pool_method, n_threads=1)
    got = rd.inverse(net, _dask(Y, CHUNKS), x_true=X, pool_method=pool_method)
    _assert_same_inverse(got, ref)
