"""The report printed by ``reluinj demo``: one section per part of the library.

Each section is a function ``section(out, rng)`` that prints a few readable lines; the
sections run in the order of :data:`SECTIONS`.
"""
import time

import numpy as np

from .frames import framebounds, icosahedron, is_omnidirectional, random_frame
from .layer import ReLULayer
from .testing import sphere_samples

__all__ = ["run_demo", "SECTIONS", "demo_frames"]

N_SPHERE = 100_000


def demo_frames():
    """The built-in example frames: name -> W (rows are frame vectors)."""
    return {"icosahedron 12x3": icosahedron(), "random 40x5 (seed 0)": random_frame(40, 5, rng=0)}


def _section_injectivity(out, rng):
    print("== Frames and point-wise injectivity "
          f"({N_SPHERE:,} uniform unit-sphere samples) ==", file=out)
    for name, W in demo_frames().items():
        A, B = framebounds(W)
        omni, margin = is_omnidirectional(W, return_margin=True)
        X = sphere_samples(N_SPHERE, W.shape[1], rng)
        t0 = time.perf_counter()
        rate0 = ReLULayer(W, 0.0).injectivity_rate(X)
        dt = time.perf_counter() - t0
        rate_big = ReLULayer(W, 0.9).injectivity_rate(X)
        print(f"  {name}: frame bounds A={A:.4f} B={B:.4f}; omnidirectional={omni} "
              f"(margin {margin:.4f})", file=out)
        print(f"    injective at bias 0: {100 * rate0:.2f}% of samples "
              f"({dt * 1e3:.1f} ms); at too-large bias 0.9: {100 * rate_big:.2f}%", file=out)


def _section_bwrelu(out, rng):
    from .activations import bwrelu, bwrelu_relu_expansion
    from .conditioning import condition_number, dyadic_bwrelu_features, gram_matrix, relu_features

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


SECTIONS = [_section_injectivity, _section_bwrelu]


def run_demo(out, seed=0):
    """Print every section of the demo report to the text stream `out`."""
    rng = np.random.default_rng(seed)
    for section in SECTIONS:
        section(out, rng)
        print(file=out)
