"""Command-line interface: ``reluinj demo``, ``reluinj bias``, ``reluinj info``."""
import argparse
import sys

__all__ = ["main", "build_parser"]


def _cmd_demo(args):
    from .demo import run_demo

    run_demo(sys.stdout, seed=args.seed)
    return 0


def _cmd_info(args):
    from ._config import show_config

    show_config()
    return 0


def _load_weights(path):
    """W (and the bias b or None) from a .npy file (W) or a .npz file (keys "W" and "b")."""
    import numpy as np

    if str(path).endswith(".npz"):
        with np.load(path) as data:
            if "W" not in data:
                raise ValueError(f"{path}: .npz file must hold an array 'W' (and optionally 'b'); "
                                 f"found {sorted(data.files)}")
            return data["W"], (data["b"] if "b" in data else None)
    if str(path).endswith(".npy"):
        return np.load(path), None
    raise ValueError(f"WEIGHTS must be a .npy or .npz file; got {path!r}")


def _cmd_bias(args):
    import time

    import numpy as np

    from ._validation import as_bias, check_positive_int
    from .domains import parse_domain

    W, b = _load_weights(args.weights)
    domain = parse_domain(args.domain)
    t0 = time.perf_counter()
    if args.method == "sampled":
        from .sampled import sampled_bias

        samples = check_positive_int(float(args.samples), "--samples")
        est = sampled_bias(W, domain, n_samples=samples, rng=args.seed, n_threads=args.threads)
    else:
        try:
            from .polytope import polytope_bias
        except ImportError as err:
            raise ValueError(f"--method polytope is not available in this build ({err})") from None
        est = polytope_bias(W, domain, n_threads=args.threads)
    dt = time.perf_counter() - t0
    alpha = est.alpha
    print(f"method={est.method} domain={domain} W shape={tuple(np.shape(W))} ({dt:.3f} s)")
    print(f"alpha: min={np.min(alpha):.6g} median={np.median(alpha):.6g} max={np.max(alpha):.6g}"
          f" (+inf entries: {est.n_unbounded})")
    if b is not None:
        current = -as_bias(b, alpha.shape[0], name="b")
        ok = int(np.count_nonzero(current <= alpha))
        print(f"current bias (alpha = -b): {ok} of {alpha.shape[0]} entries certified (-b <= alpha)")
    if args.out:
        np.save(args.out, alpha)
        print(f"alpha written to {args.out}")
    return 0


def build_parser():
    """The argparse parser of the ``reluinj`` command."""
    parser = argparse.ArgumentParser(
        prog="reluinj",
        description="Injectivity, maximal bias and inversion of ReLU layers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the built-in examples and print a report")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo's samples")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("bias", help="maximal bias of a ReLU layer ReLU(W x - alpha)")
    p.add_argument("weights", metavar="WEIGHTS",
                   help=".npy file with W (m, n), or .npz with 'W' and optional 'b' (layer ReLU(W x + b))")
    p.add_argument("--method", choices=["sampled", "polytope"], default="sampled")
    p.add_argument("--domain", default="sphere:1",
                   help="'sphere[:r]', 'ball[:r]' or 'annulus:r1:r2', optional ':+' (default sphere:1)")
    p.add_argument("--samples", default="1e5", help="samples of the sampled method (default 1e5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    p.add_argument("--out", default=None, help="write alpha (m,) to this .npy file")
    p.set_defaults(func=_cmd_bias)
    p = sub.add_parser("info", help="print build and thread configuration")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv=None):
    """Entry point of the ``reluinj`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"reluinj {args.command}: error: {err}", file=sys.stderr)
        return 2
