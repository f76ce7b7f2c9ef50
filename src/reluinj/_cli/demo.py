"""The report printed by ``reluinj demo``: one section per part of the library.

Each section is a function ``section(out, rng)`` that prints a few readable lines; the
sections run in the order of :data:`SECTIONS`.
"""
import time

import numpy as np

from .. import Ball
from .. import framebounds, icosahedron, is_omnidirectional, omnidirectional_margin, random_frame
from .. import ReLULayer
from .. import injectivity_radius, polytope_bias
from .. import sampled_bias
from ..testing import sphere_samples

__all__ = ["run_demo", "SECTIONS", "demo_frames"]

N_SPHERE = 100_000
N_BIAS = 200_000  # samples of the sampled (approach A) bias estimates
TOO_LARGE_BIAS = 0.6  # above 1/sqrt(5) = 0.447, the maximal bias of the icosahedron


def demo_frames():
    """The built-in example frames: name -> W (rows are frame vectors)."""
    return {"icosahedron 12x3": icosahedron(), "random 40x5 (seed 0)": random_frame(40, 5, seed=0)}


def _section_injectivity(out, rng):
    print("== Frames and point-wise injectivity "
          f"({N_SPHERE:,} uniform unit-sphere samples) ==", file=out)
    for name, W in demo_frames().items():
        A, B = framebounds(W)
        omni, margin = is_omnidirectional(W), omnidirectional_margin(W)
        X = sphere_samples(N_SPHERE, W.shape[1], seed=rng)
        t0 = time.perf_counter()
        rate0 = ReLULayer(W, 0.0).injectivity_rate(X)
        dt = time.perf_counter() - t0
        rate_big = ReLULayer(W, TOO_LARGE_BIAS).injectivity_rate(X)
        print(f"  {name}: frame bounds A={A:.4f} B={B:.4f}; omnidirectional={omni} "
              f"(margin {margin:.4f})", file=out)
        print(f"    injective at bias 0: {100 * rate0:.2f}% of samples "
              f"({dt * 1e3:.1f} ms); at too-large bias {TOO_LARGE_BIAS}: {100 * rate_big:.2f}%", file=out)


def _section_polytope_bias(out, rng):
    print("== Polytope bias (approach B: exact per-facet minima over the hull of the "
          "normalized rows) ==", file=out)
    for name, W in demo_frames().items():
        t0 = time.perf_counter()
        est = polytope_bias(W)
        dt = time.perf_counter() - t0
        ball = polytope_bias(W, Ball())
        X = sphere_samples(N_SPHERE, W.shape[1], seed=rng)
        rate = est.certify(X).mean()
        print(f"  {name}: {len(est.facet_vertices)} facets, {dt * 1e3:.1f} ms; sphere alpha "
              f"min {est.alpha.min():+.4f} mean {est.alpha.mean():+.4f}; ball alpha min "
              f"{ball.alpha.min():+.4f}; stability constant {est.stability_constant:.3g}",
              file=out)
        print(f"    injective at this bias on {100 * rate:.2f}% of {N_SPHERE:,} sphere samples",
              file=out)
        rad = injectivity_radius(W, ball.alpha, n_directions=2048, seed=0)
        print(f"    at the ball bias: injectivity radius <= {rad.radius:.4f} (rays, upper bound), "
              f">= {rad.lower_bound:.4f} (polytope certificate)", file=out)
        sampled = sampled_bias(W, n_samples=N_BIAS, seed=0).alpha
        print(f"    side by side with approach A ({N_BIAS:,} samples): mean alpha polytope "
              f"{est.alpha.mean():+.4f} vs sampled {sampled.mean():+.4f}; polytope <= sampled "
              f"for {np.count_nonzero(est.alpha <= sampled + 1e-12)} of {W.shape[0]} elements "
              "(B is a proof, A an estimate from above)", file=out)


def _section_cnn(out, rng):
    from .. import estimate_model_rip, one_shot_reconstruct, sample_model_sparse
    from .. import theorem_3_3_bound
    from .. import ConvOperator

    K, M, ell, D, k, n_inputs = 96, 32, 5, 32, 10, 100
    print("== CNN layer inversion (Gilbert et al. 2017, Section 4.2): "
          f"K={K} filters, M={M} channels, ell={ell}, D={D}, stride 1, k={k} ==", file=out)
    op = ConvOperator.random(K, M, ell, D, seed=rng)
    z = sample_model_sparse(K, op.n, k, size=n_inputs, seed=rng)
    x = op.adjoint(z)
    t0 = time.perf_counter()
    x_hat = one_shot_reconstruct(op, x, k)
    dt = time.perf_counter() - t0
    err = (np.linalg.norm((x_hat - x).reshape(n_inputs, -1), axis=1)
           / np.linalg.norm(x.reshape(n_inputs, -1), axis=1))
    g = rng.standard_normal(x.shape)
    g_err = (np.linalg.norm((one_shot_reconstruct(op, g, k) - g).reshape(n_inputs, -1), axis=1)
             / np.linalg.norm(g.reshape(n_inputs, -1), axis=1))
    print(f"  one-shot x_hat = W^T M(W x, k) over {n_inputs} model inputs x = W^T z: relative "
          f"error mean {err.mean():.3f}, median {np.median(err):.3f}, max {err.max():.3f} "
          f"({dt * 1e3:.1f} ms); off-model Gaussian inputs: mean {g_err.mean():.3f}", file=out)
    est_k = estimate_model_rip(op, k, n_samples=2000, seed=rng)
    est_2k = estimate_model_rip(op, k, order=2, n_samples=2000, seed=rng)
    d2 = max(est_k.delta, est_2k.delta)
    bound = theorem_3_3_bound(est_k.delta, d2) if d2 < 1 else float("inf")
    print(f"  sampled model-RIP of W^T (2000 samples, lower bounds): delta_k = {est_k.delta:.3f}, "
          f"delta_2k = {est_2k.delta:.3f}; Theorem 3.3 bound at delta_k and "
          f"max(delta_k, delta_2k): {bound:.2f} (vacuous above 1)", file=out)


def _section_bwrelu(out, rng):
    from .. import bwrelu, bwrelu_relu_expansion
    from .. import condition_number, dyadic_bwrelu_features, gram_matrix, relu_features

    print("== BW-ReLU activation psi = sum of 7 ReLUs (Shenouda-Zhou-Nowak 2024) ==", file=out)
    knots, coefs = bwrelu_relu_expansion()
    vals = ", ".join(f"{12 * v:+.0f}/12" for v in bwrelu(knots))
    cells = np.linspace(0, 3, 7)
    mids = cells[:-1] + 0.25
    integral = float(np.sum((bwrelu(cells[:-1]) + 4 * bwrelu(mids) + bwrelu(cells[1:])) / 12))
    print(f"  psi at knots 0, 1/2, ..., 3: {vals}; integral of psi = {integral:.1e}", file=out)
    print("  Gram condition numbers on [-1, 1] (exact integration):", file=out)
    for J in (3, 5, 7):
        K = 2**J - 1
        k_relu = condition_number(gram_matrix(relu_features(-1 + 2 * np.arange(K) / K)))
        k_bw = condition_number(gram_matrix(dyadic_bwrelu_features(J)))
        print(f"    K={K:4d}: ReLU {k_relu:10.3e}   dyadic BW-ReLU {k_bw:6.3f}", file=out)
    x = rng.uniform(-1, 4, 2_000_000)
    buf = bwrelu(x)

    def best_of_3(f):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return min(times)
    dt_kernel = best_of_3(lambda: bwrelu(x, out=buf))
    dt_numpy = best_of_3(lambda: sum(a * np.maximum(x - t, 0) for t, a in zip(knots, coefs)))
    print(f"  bwrelu on 2e6 float64 (out= buffer, best of 3): kernel {dt_kernel * 1e3:.1f} ms, "
          f"NumPy 7-ReLU expression "
          f"{dt_numpy * 1e3:.1f} ms ({dt_numpy / dt_kernel:.1f}x)", file=out)


N_RECONSTRUCT = 10_000


def _section_reconstruction(out, rng):
    from .. import relu_inverse

    print(f"== Reconstruction from ReLU outputs ({N_RECONSTRUCT:,} unit-sphere inputs, "
          "method='dual') ==", file=out)
    for (name, W), alpha in zip(demo_frames().items(), (0.0, -0.3)):
        X = sphere_samples(N_RECONSTRUCT, W.shape[1], seed=rng)
        Y = ReLULayer(W, alpha)(X)
        t0 = time.perf_counter()
        res = relu_inverse(W, alpha, Y)
        dt = time.perf_counter() - t0
        err = np.linalg.norm(res.x - X, axis=1).max()
        print(f"  {name} at bias {alpha}: max error {err:.2e}, "
              f"{res.n_failed} non-injective samples, {dt / N_RECONSTRUCT * 1e6:.2f} us per sample",
              file=out)


def _section_sampled_bias(out, rng):
    from .. import sampled_bias

    print("== Maximal bias, Approach A: most-correlated-basis search "
          f"({N_BIAS:,} unit-sphere samples) ==", file=out)
    seed = int(rng.integers(2**31))
    for name, W in demo_frames().items():
        t0 = time.perf_counter()
        est = sampled_bias(W, n_samples=N_BIAS, seed=seed)
        dt = time.perf_counter() - t0
        a = est.alpha_normalized
        print(f"  {name}: alpha (normalized) min={a.min():.4f} median={np.median(a):.4f} "
              f"max={a.max():.4f}  [{dt * 1e3:.1f} ms]", file=out)
        if name.startswith("icosahedron"):
            print(f"    exact value 1/sqrt(5) = {5 ** -0.5:.4f}; estimate - exact <= "
                  f"{np.max(a - 5 ** -0.5):.2e} (converges from above)", file=out)
        X = sphere_samples(N_SPHERE, W.shape[1], seed=rng)
        rate = ReLULayer(W, est.alpha - 1e-3).injectivity_rate(X)
        print(f"    layer with bias alpha - 1e-3 injective at {100 * rate:.3f}% of "
              f"{N_SPHERE:,} fresh samples", file=out)


SECTIONS = [
    _section_injectivity,
    _section_sampled_bias,
    _section_polytope_bias,
    _section_reconstruction,
    _section_bwrelu,
    _section_cnn,
]


def run_demo(out, seed=0):
    """Print every section of the demo report to the text stream `out`."""
    rng = np.random.default_rng(seed)
    for section in SECTIONS:
        section(out, rng)
        print(file=out)
