"""Dask scale-out: bitwise equality with the local functions, chunked inputs, faults."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import reluinj

dask = pytest.importorskip("dask", reason="dask extra not installed")
da = pytest.importorskip("dask.array", reason="dask extra not installed")
distributed = pytest.importorskip("distributed", reason="dask extra not installed")
import reluinj.frames.distributed as rd  # noqa: E402  (imported after the dask skips: it needs dask)

W40 = reluinj.random_frame(40, 5, seed=0)
SAMPLED_KW = dict(n_samples=60_000, seed=7, batch_size=7_000)  # 9 batches, the last partial


def _assert_same_estimate(a, b):
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_array_equal(a.alpha_normalized, b.alpha_normalized)
    np.testing.assert_array_equal(a.hits, b.hits)
    assert a.n_samples == b.n_samples and a.method == b.method and a.domain == b.domain


@pytest.fixture(scope="module")
def local_estimate():
    return reluinj.sampled_bias(W40, reluinj.Ball(2.0), **SAMPLED_KW)


def test_sampled_bias_threaded_scheduler_is_bitwise_local(local_estimate):
    est = rd.sampled_bias(W40, reluinj.Ball(2.0), **SAMPLED_KW)
    _assert_same_estimate(est, local_estimate)


def test_sampled_bias_inprocess_cluster_is_bitwise_local(local_estimate):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        est = rd.sampled_bias(W40, reluinj.Ball(2.0), client=client, **SAMPLED_KW)
    _assert_same_estimate(est, local_estimate)


@pytest.mark.parametrize("margin", [0.03, "covering"])
def test_sampled_bias_margin_and_sampling_error_are_the_local_ones(margin):
    est = rd.sampled_bias(W40, margin=margin, **SAMPLED_KW)
    local = reluinj.sampled_bias(W40, margin=margin, **SAMPLED_KW)
    _assert_same_estimate(est, local)
    assert est.sampling_error == local.sampling_error == reluinj.sampling_error(60_000, 5)
    want = 0.03 if margin == 0.03 else reluinj.sampling_error(60_000, 5)
    assert est.margin == local.margin == want
    # on the unit sphere the margin is subtracted from the normalised estimate without margin
    plain = rd.sampled_bias(W40, **SAMPLED_KW)
    np.testing.assert_array_equal(est.alpha_normalized, plain.alpha_normalized - want)
    with pytest.raises(ValueError, match="margin"):
        rd.sampled_bias(W40, n_samples=10, margin="nope")
    with pytest.raises(ValueError, match="margin"):
        rd.sampled_bias(W40, n_samples=10, margin=-1.0)


def test_sampled_bias_authors_init_and_generator_rng():
    seq = np.random.SeedSequence(99)
    local = reluinj.sampled_bias(W40, n_samples=20_000, seed=seq, batch_size=3000, init="authors")
    dist = rd.sampled_bias(W40, n_samples=20_000, seed=seq, batch_size=3000, init="authors")
    _assert_same_estimate(dist, local)


def test_sampled_bias_validates_before_submitting():
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        rd.sampled_bias(W40, n_samples=0)
    with pytest.raises(reluinj.NotAFrameError):
        rd.sampled_bias(np.ones((4, 3)), n_samples=10)
    with pytest.raises(TypeError, match="domain must be"):
        rd.sampled_bias(W40, "ball", n_samples=10)
    with pytest.raises(ValueError, match="n_threads_per_task must be >= 1"):
        rd.sampled_bias(W40, n_samples=10, n_threads_per_task=0)


def test_failing_task_names_its_batch(monkeypatch):
    real = rd.draw_batch

    def flaky(domain, n, seq, b, *args, **kwargs):
        if b == 3:
            raise MemoryError("simulated failure")
        return real(domain, n, seq, b, *args, **kwargs)

    monkeypatch.setattr(rd, "draw_batch", flaky)
    with pytest.raises(RuntimeError, match="batch 3 failed: simulated failure"):
        rd.sampled_bias(W40, **SAMPLED_KW)


@pytest.fixture(scope="module")
def layer_and_points():
    layer = reluinj.ReLULayer(W40, 0.35)
    X = reluinj.testing.sphere_samples(10_000, 5, seed=3)
    return layer, X


def test_injectivity_on_chunked_array_equals_in_memory(layer_and_points):
    layer, X = layer_and_points
    Xd = da.from_array(X, chunks=(1_500, 5))
    inj = rd.is_injective_at(layer, Xd)
    assert isinstance(inj, da.Array)
    np.testing.assert_array_equal(inj.compute(), layer.is_injective_at(X))
    rate = rd.injectivity_rate(layer, Xd)
    assert float(rate.compute()) == layer.injectivity_rate(X)
    assert 0 < layer.injectivity_rate(X) < 1


def test_relu_inverse_on_chunked_array_equals_in_memory(layer_and_points):
    layer, X = layer_and_points
    Y = layer(X)
    res = rd.relu_inverse(layer.W, layer.alpha, da.from_array(Y, chunks=(2_500, 40)))
    local = reluinj.relu_inverse(layer.W, layer.alpha, Y)
    np.testing.assert_array_equal(res.x.compute(), local.x)
    np.testing.assert_array_equal(res.injective.compute(), local.injective)
    np.testing.assert_array_equal(res.residual.compute(), local.residual)


def test_chunked_inputs_validate(layer_and_points):
    layer, X = layer_and_points
    with pytest.raises(ValueError, match="X must have 5 columns"):
        rd.is_injective_at(layer, da.zeros((10, 4), chunks=5))
    with pytest.raises(TypeError, match="layer must be a reluinj.ReLULayer"):
        rd.is_injective_at(W40, da.zeros((10, 5), chunks=5))
    bad = X.copy()
    bad[7_000, 1] = np.nan
    with pytest.raises(ValueError, match="rows 6000:7500 of X: X contains NaN or inf"):
        rd.is_injective_at(layer, da.from_array(bad, chunks=(1_500, 5))).compute()
    with pytest.raises(ValueError, match="method must be one of"):
        rd.relu_inverse(layer.W, layer.alpha, da.zeros((4, 40), chunks=2), method="magic")
    neg = da.from_array(-np.ones((4, 40)), chunks=2)
    with pytest.raises(ValueError, match=r"rows [02]:[24] of Y: Y has negative entries"):
        rd.relu_inverse(layer.W, layer.alpha, neg).x.compute()


def test_unreachable_scheduler_fails_fast_naming_address():
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match="tcp://127.0.0.1:9"):
        rd.connect("tcp://127.0.0.1:9", timeout=1.5)
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize("bad", ["", "local:0", "local:x", 5])
def test_connect_rejects_bad_specs(bad):
    with pytest.raises(ValueError, match="scheduler"):
        rd.connect(bad)


@pytest.mark.slow
def test_two_process_cluster_is_bitwise_local_and_survives_a_killed_worker(local_estimate):
    W = reluinj.random_frame(200, 10, seed=1)
    kw = dict(n_samples=4_000_000, seed=5, batch_size=20_000)
    local = reluinj.sampled_bias(W, **kw)
    with rd.connect("local:2", timeout=60) as client:
        _assert_same_estimate(rd.sampled_bias(W40, reluinj.Ball(2.0), **SAMPLED_KW),
                              local_estimate)
        victim = sorted(client.scheduler_info()["workers"])[0]
        pid = client.run(os.getpid, workers=[victim])[victim]
        killed_at = []

        def kill():
            os.kill(pid, signal.SIGKILL)
            killed_at.append(time.perf_counter())

        killer = threading.Timer(0.3, kill)
        killer.start()
        try:
            est = rd.sampled_bias(W, client=client, retries=3, **kw)
        except Exception as err:  # a clear error naming the lost work is acceptable too
            assert "worker" in str(err).lower() or "batch" in str(err).lower()
        else:
            _assert_same_estimate(est, local)
        finally:
            killer.join()
        assert killed_at and time.perf_counter() > killed_at[0]
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_cli_bias_with_local_scheduler(tmp_path, capsys):
    from reluinj._cli.main import main

    path = tmp_path / "W.npy"
    np.save(path, W40)
    with pytest.raises(ValueError, match="--scheduler works with --method sampled only"):
        from reluinj._cli.main import _cmd_bias, build_parser

        _cmd_bias(build_parser().parse_args(["bias", str(path), "--method", "polytope",
                                             "--scheduler", "local:1"]))
    assert main(["bias", str(path), "--samples", "2e4", "--scheduler", "tcp://127.0.0.1:9",
                 "--connect-timeout", "1"]) == 2
    assert "could not reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
