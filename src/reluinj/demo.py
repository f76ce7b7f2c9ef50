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


N_RECONSTRUCT = 10_000


def _section_reconstruction(out, rng):
    from .reconstruct import relu_inverse

    print(f"== Reconstruction from ReLU outputs ({N_RECONSTRUCT:,} unit-sphere inputs, "
          "method='dual') ==", file=out)
    for (name, W), alpha in zip(demo_frames().items(), (0.0, -0.3)):
        X = sphere_samples(N_RECONSTRUCT, W.shape[1], rng)
        Y = ReLULayer(W, alpha)(X)
        t0 = time.perf_counter()
        res = relu_inverse(W, alpha, Y)
        dt = time.perf_counter() - t0
        err = np.linalg.norm(res.x - X, axis=1).max()
        print(f"  {name} at bias {alpha}: max error {err:.2e}, "
              f"{res.n_failed} non-injective samples, {dt / N_RECONSTRUCT * 1e6:.2f} us per sample",
              file=out)


SECTIONS = [_section_injectivity, _section_reconstruction]


def run_demo(out, seed=0):
    """Print every section of the demo report to the text stream `out`."""
    rng = np.random.default_rng(seed)
    for section in SECTIONS:
        section(out, rng)
        print(file=out)
