"""Bad-input suite that walks the whole public API (issue 16).

Every public callable of ``reluinj`` (top level), ``reluinj.hull`` and ``reluinj.testing`` --
functions, classes, and the public methods of the classes users build -- must have a *recipe*
below: a small valid call, given as keyword arguments. ``test_every_public_callable_has_a_recipe``
fails when a new public name has neither a recipe nor a justified entry in ``NOT_CALLED``, so new
functions are covered without anyone remembering to.

From each recipe the suite derives the bad calls, one argument at a time:

* an ndarray argument gets a wrong ndim, an empty array, NaN, inf, complex, object and str
  arrays: each must raise ``ValueError``/``TypeError`` whose message names the argument;
* float16 and bool arrays are converted by the dtype policy (``reluinj._lib.validation``): the
  call must then return what it returns for the same values in float64 (an oracle, not a band);
* a numeric option gets 0, -1, NaN, inf, a huge value (``2**63``) and a string;
* a flag (bool) gets ``"x"`` and ``2``; a string choice gets ``"nope"`` and ``1``.

Each recipe must itself be a valid call (``test_every_recipe_is_a_valid_call``), so that a bad
call fails because of the one bad argument. Values accepted on purpose are listed in
``ACCEPTED`` with the reason. Everything runs in
process (the former interpreter crashes have their own subprocess tests in test_hardening.py).
"""
import dataclasses
import inspect
import math
import re
import types
import warnings

import numpy as np
import pytest

import reluinj
import reluinj.hull
import reluinj.testing

rng = np.random.default_rng(0)
W = reluinj.random_frame(12, 3, seed=1)
ALPHA = np.full(12, -0.1)
X = reluinj.testing.sphere_samples(4, 3, seed=2)
Y = np.maximum(X @ W.T - ALPHA, 0.0)
LAYER = reluinj.ReLULayer(W, ALPHA)
NET = reluinj.ReLUNetwork([reluinj.ReLULayer(W, ALPHA),
                           reluinj.ReLULayer(reluinj.random_frame(30, 12, seed=3), -0.1)])
EST = reluinj.sampled_bias(W, n_samples=200, seed=0)
OP = reluinj.ConvOperator(rng.standard_normal((2, 1, 3)), 8)
OP2 = reluinj.ConvOperator2D(rng.standard_normal((2, 1, 2, 2)), (4, 4))
SIG = rng.standard_normal(OP.shape[1])
FEAT = reluinj.relu_features(np.linspace(-1, 0.5, 4))
A_NNLS = rng.standard_normal((6, 4))
B_NNLS = rng.standard_normal(6)


def _torch_net():
    pytest.importorskip("torch")
    return reluinj.INR(2, 4, 1, 1, activation="relu")


def _torch_linear():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Linear(3, 12)


def _torch_tensor():
    torch = pytest.importorskip("torch")
    return torch.linspace(-1, 4, 11, dtype=torch.float64)


def _torch_sequential():
    torch = pytest.importorskip("torch")
    return torch.nn.Sequential(_torch_linear(), torch.nn.ReLU())


def _torch_conv1d():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Conv1d(1, 2, 3)


def _torch_cnn():
    """Conv1d -> ReLU -> MaxPool1d -> Flatten on inputs of shape (1, 8): outputs (8,)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten())


def _conv_net():
    return reluinj.ConvNetwork.from_torch(_torch_cnn(), (1, 8))


def _inr_factory(c=None):
    """A zero-argument ReLU INR factory (c None), or a BW-ReLU INR with scale c and a K -> K
    hidden layer (the shape code_variation_norm's "ct" rule needs)."""
    pytest.importorskip("torch")
    if c is None:
        return lambda: reluinj.INR(2, 4, 1, 1, activation="relu")
    return reluinj.INR(2, 4, 2, 1, c=c)


# name -> (callable, valid keyword arguments). Lambdas expose methods under their argument names.
RECIPES = {
    "show_config": (lambda file=None: reluinj.show_config(file=file), {}),
    "effective_n_threads": (reluinj.effective_n_threads, {"n_threads": 1}),
    "openmp_enabled": (reluinj.openmp_enabled, {}),
    "frana": (reluinj.frana, {"W": W, "X": X}),
    "frsyn": (reluinj.frsyn, {"W": W, "C": Y}),
    "frame_operator": (reluinj.frame_operator, {"W": W}),
    "framebounds": (reluinj.framebounds, {"W": W}),
    "framedual": (reluinj.framedual, {"W": W}),
    "framered": (reluinj.framered, {"W": W}),
    "normalize_rows": (reluinj.normalize_rows, {"W": W}),
    "is_omnidirectional": (reluinj.is_omnidirectional, {"W": W, "tol": 1e-9}),
    "omnidirectional_margin": (reluinj.omnidirectional_margin, {"W": W}),
    "icosahedron": (reluinj.icosahedron, {}),
    "tetrahedron": (reluinj.tetrahedron, {}),
    "cube": (reluinj.cube, {}),
    "cross_polytope": (reluinj.cross_polytope, {"n": 3}),
    "random_frame": (reluinj.random_frame, {"m": 6, "n": 3, "seed": 1, "normalize": True}),
    "ReLULayer": (reluinj.ReLULayer, {"W": W, "alpha": ALPHA}),
    "ReLULayer.__call__": (lambda X, n_threads=1: LAYER(X, n_threads=n_threads),
                           {"X": X, "n_threads": 1}),
    "ReLULayer.active_mask": (lambda X, n_threads=1: LAYER.active_mask(X, n_threads=n_threads),
                              {"X": X, "n_threads": 1}),
    "ReLULayer.is_injective_at": (
        lambda X, rank_tol=1e-10, n_threads=1: LAYER.is_injective_at(
            X, rank_tol=rank_tol, n_threads=n_threads),
        {"X": X, "rank_tol": 1e-10, "n_threads": 1}),
    "ReLULayer.active_rank": (
        lambda X, rank_tol=1e-10, n_threads=1: LAYER.active_rank(
            X, rank_tol=rank_tol, n_threads=n_threads),
        {"X": X, "rank_tol": 1e-10, "n_threads": 1}),
    "ReLULayer.injectivity_rate": (
        lambda X, rank_tol=1e-10: LAYER.injectivity_rate(X, rank_tol=rank_tol),
        {"X": X, "rank_tol": 1e-10}),
    "ReLULayer.inverse": (
        lambda Y, method="dual", rank_tol=1e-10, n_threads=1: LAYER.inverse(
            Y, method=method, rank_tol=rank_tol, n_threads=n_threads),
        {"Y": Y, "method": "dual", "rank_tol": 1e-10, "n_threads": 1}),
    "ReLULayer.from_affine": (reluinj.ReLULayer.from_affine, {"W": W, "b": -ALPHA}),
    "ReLULayer.from_torch": (lambda linear=None: reluinj.ReLULayer.from_torch(
        _torch_linear() if linear is None else linear), {"linear": None}),
    # The argument is `params`; its messages name the pair: "params[0] W", "params[0] b".
    "ReLUNetwork.from_affine": (lambda W, b, final_linear=False: reluinj.ReLUNetwork.from_affine(
        [(W, b)], final_linear=final_linear), {"W": W, "b": -ALPHA, "final_linear": False}),
    "ReLUNetwork.from_torch": (lambda module=None: reluinj.ReLUNetwork.from_torch(
        _torch_sequential() if module is None else module), {"module": None}),
    "Sphere": (reluinj.Sphere, {"radius": 1.0, "nonnegative": False}),
    "Ball": (reluinj.Ball, {"radius": 1.0, "nonnegative": False}),
    "Annulus": (reluinj.Annulus, {"inner": 0.5, "outer": 1.0, "nonnegative": False}),
    "BiasEstimate.certify": (lambda X, margin=0.0, n_threads=1: EST.certify(
        X, margin=margin, n_threads=n_threads), {"X": X, "margin": 0.0, "n_threads": 1}),
    "polytope_bias": (reluinj.polytope_bias,
                      {"W": W, "facet_mode": "true", "variant": "vertex", "max_facets": 10**6,
                       "n_threads": 1}),
    "ConvOperator": (reluinj.ConvOperator,
                     {"filters": rng.standard_normal((2, 1, 3)), "input_length": 8, "stride": 1,
                      "allow_truncation": False, "n_threads": 1}),
    "ConvOperator.random": (reluinj.ConvOperator.random,
                            {"K": 2, "M": 1, "ell": 3, "input_length": 8, "seed": 0}),
    "ConvOperator.forward": (lambda X, n_threads=1: OP.forward(X, n_threads=n_threads),
                             {"X": SIG.reshape(OP.dims), "n_threads": 1}),
    "ConvOperator.adjoint": (lambda Z, n_threads=1: OP.adjoint(Z, n_threads=n_threads),
                             {"Z": rng.standard_normal(OP.dimsd), "n_threads": 1}),
    "ConvOperator.matvec": (lambda x: OP.matvec(x), {"x": SIG}),
    "ConvOperator.relu_pair": (lambda: OP.relu_pair(), {}),
    "ConvOperator2D": (reluinj.ConvOperator2D,
                       {"filters": rng.standard_normal((2, 1, 2, 2)), "input_shape": (4, 4),
                        "stride": 1, "allow_truncation": False, "n_threads": 1}),
    "ConvOperator2D.forward": (lambda X, n_threads=1: OP2.forward(X, n_threads=n_threads),
                               {"X": rng.standard_normal(OP2.dims), "n_threads": 1}),
    "model_project": (reluinj.model_project, {"h": rng.standard_normal((2, 6)), "k": 2, "pool": 3}),
    "model_support": (reluinj.model_support, {"h": rng.standard_normal((2, 6)), "k": 2, "pool": 3}),
    "sample_model_sparse": (reluinj.sample_model_sparse,
                            {"K": 2, "n": 6, "k": 2, "pool": 3, "size": 2, "seed": 0}),
    "one_shot_reconstruct": (reluinj.one_shot_reconstruct,
                             {"op": OP, "x": SIG, "k": 2, "relu": False, "n_threads": 1}),
    "iht": (reluinj.iht, {"op": OP, "x": SIG, "k": 2, "relu": False, "max_iter": 3, "step": 0.01,
                          "tol": 1e-10, "n_threads": 1}),
    "estimate_model_rip": (reluinj.estimate_model_rip,
                           {"op": OP, "k": 2, "order": 1, "n_samples": 20, "seed": 0,
                            "n_threads": 1}),
    "theorem_3_3_bound": (reluinj.theorem_3_3_bound, {"delta_k": 0.1, "delta_2k": 0.2}),
    "filter_coherence": (reluinj.filter_coherence, {"filters": rng.standard_normal((3, 1, 4))}),
    "bwrelu": (reluinj.bwrelu, {"x": np.linspace(-1, 4, 11), "c": 1.0, "n_threads": 1}),
    "bwrelu_grad": (reluinj.bwrelu_grad, {"x": np.linspace(-1, 4, 11), "c": 1.0, "n_threads": 1}),
    "bwrelu_relu_expansion": (reluinj.bwrelu_relu_expansion, {}),
    "bwrelu_relu_composition": (lambda x=None, c=1.0: reluinj.bwrelu_relu_composition(
        _torch_tensor() if x is None else x, c), {"x": None, "c": 1.0}),
    "bwrelu_to_relu": (reluinj.bwrelu_to_relu,
                       {"input_weights": rng.standard_normal((3, 2)), "biases": rng.standard_normal(3),
                        "output_weights": rng.standard_normal(3), "c": 1.0}),
    "relu_to_bwrelu": (reluinj.relu_to_bwrelu,
                       {"input_weights": rng.standard_normal((3, 2)), "biases": rng.standard_normal(3),
                        "output_weights": rng.standard_normal(3), "radius": 1.0, "c": 1.0}),
    "relu_features": (reluinj.relu_features,
                      {"biases": np.linspace(-1, 0.5, 4), "weights": np.ones(4)}),
    "dyadic_bwrelu_features": (reluinj.dyadic_bwrelu_features, {"J": 2}),
    "bwrelu_features": (reluinj.bwrelu_features,
                        {"weights": np.ones(3), "biases": np.linspace(-1, 0, 3), "c": 1.0}),
    "FeatureSet.kinks": (lambda: FEAT.kinks(), {}),
    "Interval": (reluinj.Interval, {"lo": -1.0, "hi": 1.0}),
    "gram_matrix": (reluinj.gram_matrix, {"features": FEAT}),
    "condition_number": (reluinj.condition_number, {"G": np.eye(3) + 0.1}),
    "variation_norm": (reluinj.variation_norm,
                       {"input_weights": rng.standard_normal((3, 2)),
                        "output_weights": rng.standard_normal(3), "c": 1.0,
                        "activation": "bwrelu"}),
    "deep_variation_norm": (reluinj.deep_variation_norm,
                            {"weights": [rng.standard_normal((3, 2)), rng.standard_normal((1, 3))],
                             "c": 1.0, "activation": "bwrelu"}),
    "coordinate_grid": (reluinj.coordinate_grid, {"shape": (3, 4)}),
    "psnr": (reluinj.psnr, {"a": np.linspace(0, 1, 5), "b": np.linspace(0, 1, 5) ** 2,
                            "data_range": 1.0}),
    "load_image": (reluinj.load_image, {"source": rng.random((6, 6))}),
    "relu_inverse": (reluinj.relu_inverse,
                     {"W": W, "alpha": ALPHA, "Y": Y, "method": "dual", "rank_tol": 1e-10,
                      "n_threads": 1}),
    "stability_constant": (reluinj.stability_constant,
                           {"W": W, "alpha": ALPHA, "X": X, "rank_tol": 1e-10, "n_threads": 1}),
    "ReLUNetwork": (reluinj.ReLUNetwork, {"layers": [LAYER]}),
    "ReLUNetwork.activations": (lambda X: NET.activations(X), {"X": X}),
    "ReLUNetwork.analyze": (lambda X, with_data_bias=False, rank_tol=1e-10, n_threads=1:
                            NET.analyze(X, with_data_bias=with_data_bias, rank_tol=rank_tol,
                                        n_threads=n_threads),
                            {"X": X, "with_data_bias": False, "rank_tol": 1e-10, "n_threads": 1}),
    "ReLUNetwork.inverse": (lambda Y, rank_tol=1e-10, zero_tol=1e-8, n_threads=1:
                            NET.inverse(Y, rank_tol=rank_tol, zero_tol=zero_tol,
                                        n_threads=n_threads),
                            {"Y": NET(X) if callable(NET) else NET.activations(X)[-1],
                             "rank_tol": 1e-10, "zero_tol": 1e-8, "n_threads": 1}),
    "sampled_bias": (reluinj.sampled_bias,
                     {"W": W, "n_samples": 100, "seed": 0, "batch_size": 50, "init": "none",
                      "n_threads": 1, "progress": False}),
    "data_bias": (reluinj.data_bias, {"W": W, "X": X, "n_threads": 1}),
    "hull.facets": (reluinj.hull.facets, {"W": W, "merge": True, "max_facets": 10**6}),
    "hull.nnls": (reluinj.hull.nnls, {"A": A_NNLS, "b": B_NNLS, "max_iter": 50}),
    "hull.max_facet_count": (reluinj.hull.max_facet_count, {"m": 12, "n": 3}),
    "hull.estimate_facet_count": (reluinj.hull.estimate_facet_count, {"W": W, "limit": 1000}),
    "testing.sphere_samples": (reluinj.testing.sphere_samples, {"k": 3, "n": 2, "seed": 0}),
    "testing.ball_samples": (reluinj.testing.ball_samples, {"k": 3, "n": 2, "seed": 0}),
    "testing.dottest": (reluinj.testing.dottest, {"op": OP, "rtol": 1e-10, "n_pairs": 2,
                                                  "seed": 0}),
    "BWReLU": (lambda c=1.0, learn_c=False: (pytest.importorskip("torch"),
                                             reluinj.BWReLU(c, learn_c=learn_c))[1],
               {"c": 1.0, "learn_c": False}),
    "INR": (lambda in_features=2, hidden_features=4, hidden_layers=1, out_features=1:
            (pytest.importorskip("torch"),
             reluinj.INR(in_features, hidden_features, hidden_layers, out_features))[1],
            {"in_features": 2, "hidden_features": 4, "hidden_layers": 1, "out_features": 1}),
    "fit_image": (lambda image, epochs=1, lr=4e-3, decay=0.1, progress=False: reluinj.fit_image(
        image, _torch_net(), epochs=epochs, lr=lr, decay=decay, progress=progress),
        {"image": rng.random((3, 3)), "epochs": 1, "lr": 4e-3, "decay": 0.1, "progress": False}),
}

W2 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [0.6, -0.8]])
POOL = reluinj.AveragePool((4, 4), 2)
RADON = reluinj.RadonTransform((5, 5), n_angles=3)
CNN_X = rng.standard_normal((2, 1, 8))
IMG = rng.random((7, 7))
RECIPES.update({
    # frames: injectivity regions, radii and sampling rules
    "radial_profile": (reluinj.radial_profile,
                       {"W": W, "alpha": ALPHA, "U": X, "t_max": 10.0, "first_only": False,
                        "rank_tol": 1e-10, "n_threads": 1}),
    "injectivity_radius": (reluinj.injectivity_radius,
                           {"W": W, "alpha": ALPHA, "nonnegative": False, "method": "sampled",
                            "n_directions": 64, "n_refine": 2, "certify": True, "seed": 0,
                            "rank_tol": 1e-10, "n_threads": 1}),
    "injectivity_radius(sweep)": (reluinj.injectivity_radius,
                                  {"W": W2, "alpha": np.full(4, -0.5), "nonnegative": False,
                                   "method": "sweep", "certify": False, "rank_tol": 1e-10,
                                   "n_threads": 1}),
    "InjectivityRegion": (reluinj.InjectivityRegion, {"W": W, "alpha": ALPHA, "rank_tol": 1e-10}),
    "InjectivityRegion.contains": (
        lambda X, n_threads=1: reluinj.InjectivityRegion(W, ALPHA).contains(
            X, n_threads=n_threads), {"X": X, "n_threads": 1}),
    "InjectivityRegion.profile": (
        lambda U, t_max=10.0, n_threads=1: reluinj.InjectivityRegion(W, ALPHA).profile(
            U, t_max=t_max, n_threads=n_threads), {"U": X, "t_max": 10.0, "n_threads": 1}),
    "most_correlated_basis": (reluinj.most_correlated_basis,
                              {"W": W, "X": X, "rank_tol": 1e-10, "n_threads": 1}),
    "sampling_error": (reluinj.sampling_error, {"n_samples": 100, "n": 3, "rule": "sound"}),
    "samples_needed": (reluinj.samples_needed, {"eps": 0.5, "n": 3, "rule": "sound"}),
    # INR inverse problems: forward operators, metrics, fitting
    "AveragePool": (reluinj.AveragePool, {"shape": (4, 4), "factor": 2}),
    "AveragePool.__call__": (lambda image: POOL(image), {"image": rng.random((4, 4))}),
    "AveragePool.adjoint": (lambda low: POOL.adjoint(low), {"low": rng.random((2, 2))}),
    "RadonTransform": (reluinj.RadonTransform, {"shape": (5, 5), "n_angles": 3}),
    "RadonTransform(angles)": (lambda shape, angles: reluinj.RadonTransform(shape, angles=angles),
                               {"shape": (5, 5), "angles": np.array([0.0, 45.0, 90.0])}),
    "RadonTransform.__call__": (lambda image: RADON(image), {"image": rng.random((5, 5))}),
    "RadonTransform.adjoint": (lambda sinogram: RADON.adjoint(sinogram),
                               {"sinogram": rng.random((3, 5))}),
    "radon": (reluinj.radon, {"image": rng.random((5, 5)), "n_angles": 3}),
    "psnr_minmax": (reluinj.psnr_minmax, {"target": rng.random((3, 3)),
                                          "output": rng.random((3, 3))}),
    "ssim": (lambda target, output, data_range=1.0: (
        pytest.importorskip("skimage"), reluinj.ssim(target, output, data_range=data_range))[1],
        {"target": IMG, "output": np.clip(IMG + 0.1 * rng.standard_normal((7, 7)), 0, 1),
         "data_range": 1.0}),
    "torch_variation_norm": (lambda model=None: reluinj.torch_variation_norm(
        _torch_net() if model is None else model), {"model": None}),
    "code_variation_norm": (lambda model=None, script="ct": reluinj.code_variation_norm(
        _inr_factory(c=1.0) if model is None else model, script=script),
        {"model": None, "script": "ct"}),
    "fit_inr": (lambda measurements, target, epochs=1, lr=4e-3, decay=0.1, trials=1, seed=0,
                weight=0.0, psnr_mode="plain", device="cpu", progress=False: reluinj.fit_inr(
                    measurements, _inr_factory(), target=target, epochs=epochs, lr=lr,
                    decay=decay, trials=trials, seed=seed, weight=weight, psnr_mode=psnr_mode,
                    device=device, progress=progress),
                {"measurements": rng.random((7, 7)), "target": rng.random((7, 7)), "epochs": 1,
                 "lr": 4e-3, "decay": 0.1, "trials": 1, "seed": 0, "weight": 0.0,
                 "psnr_mode": "plain", "device": "cpu", "progress": False}),
    "fit_inr(operator)": (lambda measurements, decay_epochs=5, stop_loss=1e-3: reluinj.fit_inr(
        measurements, _inr_factory(), operator=POOL, epochs=1, decay_epochs=decay_epochs,
        stop_loss=stop_loss), {"measurements": rng.random((2, 2)), "decay_epochs": 5,
                               "stop_loss": 1e-3}),
    "select_c": (lambda measurements, c_values, stop_loss=1e-3, script="ct", epochs=1:
                 reluinj.select_c(measurements, _inr_factory, c_values, stop_loss=stop_loss,
                                  script=script, epochs=epochs),
                 {"measurements": rng.random((3, 3)), "c_values": np.array([1.0]),
                  "stop_loss": 1e-3, "script": "ct", "epochs": 1}),
    # CNN from torch
    "ConvOperator.from_torch": (lambda module=None, input_shape=(1, 8), n_threads=1:
                                reluinj.ConvOperator.from_torch(
                                    _torch_conv1d() if module is None else module, input_shape,
                                    n_threads=n_threads),
                                {"module": None, "input_shape": (1, 8), "n_threads": 1}),
    "ConvNetwork.from_torch": (lambda model=None, input_shape=(1, 8):
                               reluinj.ConvNetwork.from_torch(
                                   _torch_cnn() if model is None else model, input_shape),
                               {"model": None, "input_shape": (1, 8)}),
    "ConvNetwork": (lambda input_shape=(1, 8): reluinj.ConvNetwork(_conv_net().stages, input_shape),
                    {"input_shape": (1, 8)}),
    "ConvNetwork.__call__": (lambda X: _conv_net()(X), {"X": CNN_X}),
    "ConvNetwork.activations": (lambda X: _conv_net().activations(X), {"X": CNN_X}),
    "ConvNetwork.analyze": (
        lambda X, with_data_bias=True, rank_tol=1e-10, with_model_rip=True, seed=0, n_threads=1:
        _conv_net().analyze(X, with_data_bias=with_data_bias, rank_tol=rank_tol,
                            with_model_rip=with_model_rip, seed=seed, n_threads=n_threads),
        {"X": CNN_X, "with_data_bias": True, "rank_tol": 1e-10, "with_model_rip": True,
         "seed": 0, "n_threads": 1}),
    "ConvNetwork.inverse": (
        lambda Y, x_true, start=1, method="lstsq", pool_method="one-shot", zero_tol=1e-8,
        rank_tol=1e-10, max_iter=10, n_threads=1: _conv_net().inverse(
            Y, x_true=x_true, start=start, method=method, pool_method=pool_method,
            zero_tol=zero_tol, rank_tol=rank_tol, max_iter=max_iter, n_threads=n_threads),
        {"Y": rng.random((2, 4, 3)), "x_true": CNN_X, "start": 1, "method": "lstsq",
         "pool_method": "one-shot", "zero_tol": 1e-8, "rank_tol": 1e-10, "max_iter": 10,
         "n_threads": 1}),
})



def _closed_figure(plot):
    """A plot recipe: the figure is closed after the call (the walker makes hundreds), and a
    missing matplotlib skips the valid calls (the bad ones fail validation before the import)."""
    def call(**kw):
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError:
            pass
        try:
            fig = plot(**kw)
        except ImportError as err:
            pytest.skip(f"matplotlib is not installed (extra plot): {err}")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return fig
    return call


RECIPES.update({
    "plot_injectivity_region_2d": (
        _closed_figure(reluinj.plot_injectivity_region_2d),
        {"W": W2, "alpha": np.array([-0.5, -0.4, -0.3, -0.2]), "extent": (-2.0, 2.0, -2.0, 2.0),
         "resolution": 16, "color_by": "active_set", "certify": True, "rank_tol": 1e-10,
         "n_threads": 1}),
    "plot_sphere_facets_3d": (
        _closed_figure(reluinj.plot_sphere_facets_3d),
        {"W": W, "domain": reluinj.Sphere(), "resolution": 12, "rank_tol": 1e-10,
         "n_threads": 1}),
})

# Public names that are not called with user data, with the reason.
NOT_CALLED = {
    "NotAFrameError": "exception class",
    "HullError": "exception class",
    "ConvergenceWarning": "warning class",
    "SamplingWarning": "warning class",
    "BiasEstimate": "result container built by the library (its certify method has a recipe)",
    "InverseResult": "result container built by the library",
    "StabilityEstimate": "result container built by the library",
    "IHTResult": "result container built by the library",
    "ModelRIPEstimate": "result container built by the library",
    "FitResult": "result container built by the library",
    "FeatureSet": "built by relu_features / bwrelu_features (which have recipes)",
    "hull.Facets": "result container built by hull.facets",
    "RadialProfile": "result container built by radial_profile",
    "InjectivityRadius": "result container built by injectivity_radius",
    "TrialFit": "result container built by fit_inr (one trial)",
    "InverseFit": "result container built by fit_inr",
    "CSelection": "result container built by select_c",
    "ConvNetworkStage": "built by ConvNetwork.from_torch from the torch modules",
    "StageReport": "result container built by ConvNetwork.analyze",
    "ConvNetworkAnalysis": "result container built by ConvNetwork.analyze",
    "ConvNetworkInverseResult": "result container built by ConvNetwork.inverse",
}

# (recipe, argument, bad value label) -> why the value is accepted. A label "*" covers all.
ACCEPTED = {
    ("show_config", "file", "*"): "any writable object; None prints to stdout",
    ("effective_n_threads", "n_threads", "-1"): "-1 means all cores (scikit-learn rule)",
    ("is_omnidirectional", "tol", "0"): "tol=0 asks for a strictly positive margin",
    ("random_frame", "seed", "0"): "seed 0 is a valid seed",
    ("bwrelu", "x", "nan"): "element-wise: NaN stays NaN (documented)",
    ("bwrelu", "x", "inf"): "element-wise: psi(+-inf) = 0 (documented)",
    ("bwrelu", "x", "ndim"): "element-wise: any shape",
    ("bwrelu", "x", "empty"): "element-wise: an empty array maps to an empty array",
    ("bwrelu_grad", "x", "nan"): "element-wise: NaN stays NaN",
    ("bwrelu_grad", "x", "inf"): "element-wise: the slope at +-inf is 0",
    ("bwrelu_grad", "x", "ndim"): "element-wise: any shape",
    ("bwrelu_grad", "x", "empty"): "element-wise: an empty array maps to an empty array",
    ("bwrelu_relu_composition", "x", "ndim"): "element-wise: any shape",
    ("bwrelu_relu_composition", "x", "empty"): "element-wise: empty in, empty out",
    ("bwrelu", "n_threads", "-1"): "-1 means all cores",
    ("bwrelu_grad", "n_threads", "-1"): "-1 means all cores",
}
ACCEPTED.update({
    ("ReLULayer", "alpha", "inf"): "alpha_i = +inf switches row i off for good (documented)",
    ("stability_constant", "alpha", "inf"): "alpha_i = +inf switches row i off (documented)",
    ("Annulus", "inner", "0"): "inner radius 0: the annulus is the ball",
    ("theorem_3_3_bound", "delta_k", "0"): "a restricted isometry constant may be 0",
    ("Interval", "lo", "0"): "[0, 1] is a valid interval",
    ("Interval", "lo", "-1"): "[-1, 1] is the default interval",
    ("Interval", "hi", "0"): "[-1, 0] is a valid interval",
    ("ReLUNetwork.inverse", "zero_tol", "0"): "exact zeros only (allowed, documented)",
})
ACCEPTED.update({
    ("radial_profile", "t_max", "inf"): "t_max=inf (the default) follows the rays to infinity",
    ("InjectivityRegion.profile", "t_max", "inf"): "t_max=inf (the default): rays to infinity",
    ("injectivity_radius", "n_refine", "0"): "no local refinement of the worst directions",
    ("fit_inr", "weight", "0"): "no regulariser (the default)",
    ("fit_inr", "device", "int"): "an int is a CUDA device index (torch's rule); without CUDA "
                                  "it is the RuntimeError test_inr_inverse checks",
    ("ConvNetwork.inverse", "start", "0"): "stage 0 is a valid start (invert the first stage)",
    ("ConvNetwork.inverse", "zero_tol", "0"): "exact zeros only (allowed, documented)",
})
# Leading batch axes are part of the documented shape (..., *dims) of these arguments.
for _key in [("ConvOperator.forward", "X"), ("ConvOperator.adjoint", "Z"),
             ("ConvOperator2D.forward", "X"), ("model_project", "h"), ("model_support", "h"),
             ("one_shot_reconstruct", "x"), ("iht", "x")]:
    ACCEPTED[_key + ("ndim",)] = "leading batch axes: shape (..., *dims)"
# An empty batch of points (shape (0, n)) gives an empty result in every batch API.
for _key in [("frana", "X"), ("frsyn", "C"), ("ReLULayer.__call__", "X"),
             ("ReLULayer.active_mask", "X"), ("ReLULayer.is_injective_at", "X"),
             ("ReLULayer.active_rank", "X"), ("ReLULayer.inverse", "Y"),
             ("BiasEstimate.certify", "X"), ("relu_inverse", "Y"),
             ("ReLUNetwork.activations", "X"), ("ReLUNetwork.inverse", "Y"),
             ("radial_profile", "U"), ("InjectivityRegion.contains", "X"),
             ("InjectivityRegion.profile", "U"), ("most_correlated_basis", "X")]:
    ACCEPTED[_key + ("empty",)] = "an empty batch of points gives an empty result"
for _name, (_f, _kw) in RECIPES.items():
    if "n_threads" in _kw:
        ACCEPTED[(_name, "n_threads", "-1")] = "-1 means all cores"
    if "seed" in _kw:
        ACCEPTED[(_name, "seed", "0")] = "seed 0 is a valid seed"
    if "tol" in _kw and _name != "is_omnidirectional":
        ACCEPTED[(_name, "tol", "0")] = "tol=0 runs to max_iter (documented)"
    for _arg, _v in _kw.items():
        if isinstance(_v, float) or _arg == "seed":
            # 2**63 is a finite real (or a valid numpy seed): the exact answer for it is returned.
            ACCEPTED[(_name, _arg, "huge")] = "a huge finite value is a valid value"
    if "margin" in _kw:
        ACCEPTED[(_name, "margin", "0")] = "no safety margin (the default)"


# ---------------------------------------------------------------------------------------------
def _public_callables():
    names = {}
    for modname, mod in (("", reluinj), ("hull.", reluinj.hull), ("testing.", reluinj.testing)):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if isinstance(obj, types.ModuleType) or not callable(obj):
                continue
            if modname and getattr(reluinj, name, None) is obj:
                continue
            names[modname + name] = obj
            if inspect.isclass(obj) and not issubclass(obj, BaseException) and \
                    not dataclasses.is_dataclass(obj):
                for attr, val in vars(obj).items():
                    if not attr.startswith("_") and (callable(val) or isinstance(
                            val, (classmethod, staticmethod))):
                        names[f"{modname}{name}.{attr}"] = getattr(obj, attr)
    return names


def test_every_public_callable_has_a_recipe():
    names = set(_public_callables())
    missing = sorted(n for n in names if n not in RECIPES and n not in NOT_CALLED)
    # Methods inherited from scipy's LinearOperator (matvec, ...) are covered by the recipes above.
    missing = [n for n in missing if not n.startswith(("ConvOperator2D.", "BWReLU.", "INR."))]
    assert not missing, f"public callables without a bad-input recipe: {missing}"


def test_every_recipe_is_a_valid_call():
    """The bad calls are derived from the recipes: each recipe itself must succeed."""
    for name, (func, kw) in RECIPES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                func(**kw)
            except pytest.skip.Exception:
                continue
            except Exception as err:  # pragma: no cover - the failure message
                pytest.fail(f"recipe {name} fails: {type(err).__name__}: {err}")


def _bad_arrays(a):
    a = np.asarray(a)
    f = a.astype(np.float64)
    nan, inf = f.copy(), f.copy()
    nan.flat[0] = np.nan
    inf.flat[0] = np.inf
    return {
        "ndim": f[None, None],
        "empty": f[:0] if f.ndim else np.zeros(0),
        "nan": nan,
        "inf": inf,
        "complex": f.astype(np.complex128) + 1j,
        "object": f.astype(object),
        "str": f.astype(str),
    }


def _bad_scalars(v):
    if isinstance(v, (bool, np.bool_)):
        return {"str": "x", "2": 2}
    if isinstance(v, str):
        return {"nope": "nope", "int": 1}
    if isinstance(v, tuple):
        return {"str": ("x",) * len(v), "0": (0,) * len(v), "-1": (-1,) * len(v),
                "huge": (2**63,) * len(v)}
    return {"0": 0, "-1": -1, "nan": math.nan, "inf": math.inf, "huge": 2**63, "str": "1"}


def _cases():
    for name, (func, kw) in RECIPES.items():
        for arg, value in kw.items():
            if isinstance(value, np.ndarray):
                bad = _bad_arrays(value)
            elif isinstance(value, (bool, np.bool_, int, float, str, tuple)):
                bad = _bad_scalars(value)
            else:
                continue
            for label, badval in bad.items():
                key = (name, arg, label)
                if key in ACCEPTED or (name, arg, "*") in ACCEPTED:
                    continue
                yield pytest.param(name, arg, label, badval, id=f"{name}-{arg}-{label}")


def _names_arg(msg, arg):
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(arg)}(?![A-Za-z0-9_])", msg) is not None


@pytest.mark.parametrize("name, arg, label, badval", list(_cases()))
def test_bad_value_is_a_clear_error(name, arg, label, badval):
    func, kw = RECIPES[name]
    call = {**kw, arg: badval}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            func(**call)
    assert _names_arg(str(info.value), arg), (
        f"{name}({arg}={label}) raised {type(info.value).__name__} without naming {arg!r}: "
        f"{info.value}")


def _same(a, b):
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, (np.ndarray, float, int, np.number)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        assert type(a) is type(b)


def _policy_cases():
    for name, (func, kw) in RECIPES.items():
        for arg, value in kw.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                yield pytest.param(name, arg, "float16", id=f"{name}-{arg}-float16")
                yield pytest.param(name, arg, "bool", id=f"{name}-{arg}-bool")


# Recipes whose result is not a function of the array values alone (a fresh object).
_NO_VALUE_ORACLE = {"ReLULayer", "ConvOperator", "ConvOperator2D", "load_image", "fit_image"}


@pytest.mark.parametrize("name, arg, dtype", list(_policy_cases()))
def test_converted_dtypes_give_the_float64_answer(name, arg, dtype):
    """float16 and bool arrays become float64 (dtype policy): same answer as that float64 array,
    or a clear error naming the argument (e.g. a bool W that is not a frame)."""
    func, kw = RECIPES[name]
    value = kw[arg]
    converted = value.astype(np.float16) if dtype == "float16" else value > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = func(**{**kw, arg: converted})
        except (ValueError, TypeError) as err:
            assert _names_arg(str(err), arg), f"{name}({arg}={dtype}): {err}"
            return
        if name in _NO_VALUE_ORACLE:
            return
        want = func(**{**kw, arg: converted.astype(np.float64)})
    _same(got, want)
