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


N_BIAS = 200_000


def _section_sampled_bias(out, rng):
    from .sampled import sampled_bias

    print("== Maximal bias, Approach A: most-correlated-basis search "
          f"({N_BIAS:,} unit-sphere samples) ==", file=out)
    seed = int(rng.integers(2**31))
    for name, W in demo_frames().items():
        t0 = time.perf_counter()
        est = sampled_bias(W, n_samples=N_BIAS, rng=seed)
        dt = time.perf_counter() - t0
        a = est.alpha_normalized
        print(f"  {name}: alpha (normalized) min={a.min():.4f} median={np.median(a):.4f} "
              f"max={a.max():.4f}  [{dt * 1e3:.1f} ms]", file=out)
        if name.startswith("icosahedron"):
            print(f"    exact value 1/sqrt(5) = {5 ** -0.5:.4f}; estimate - exact <= "
                  f"{np.max(a - 5 ** -0.5):.2e} (converges from above)", file=out)
        X = sphere_samples(N_SPHERE, W.shape[1], rng)
        rate = ReLULayer(W, est.alpha - 1e-3).injectivity_rate(X)
        print(f"    layer with bias alpha - 1e-3 injective at {100 * rate:.3f}% of "
              f"{N_SPHERE:,} fresh samples", file=out)


SECTIONS = [_section_injectivity, _section_sampled_bias]


def run_demo(out, seed=0):
    """Print every section of the demo report to the text stream `out`."""
    rng = np.random.default_rng(seed)
    for section in SECTIONS:
        section(out, rng)
        print(file=out)
