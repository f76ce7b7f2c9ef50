"""Command-line interface: ``reluinj demo``, ``reluinj info``, ``reluinj invert``."""
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


def _load_layer(path):
    """(W, alpha) from a .npy (W, alpha = 0) or a .npz with W and alpha (or b, alpha = -b)."""
    import numpy as np

    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        return data, 0.0
    with data:
        if "W" not in data:
            raise ValueError(f"{path}: the .npz must contain an array named 'W'")
        if "alpha" in data and "b" in data:
            raise ValueError(f"{path}: give either 'alpha' or 'b', not both")
        W = data["W"]
        if "alpha" in data:
            return W, data["alpha"]
        if "b" in data:
            return W, -data["b"]
        return W, 0.0


def _cmd_invert(args):
    import numpy as np

    from .reconstruct import relu_inverse

    W, alpha = _load_layer(args.weights)
    Y = np.load(args.outputs, allow_pickle=False)
    res = relu_inverse(W, alpha, Y, method=args.method, n_threads=args.n_threads)
    n_failed = res.n_failed
    total = np.atleast_1d(res.injective).size
    if args.out:
        np.save(args.out, res.x)
        print(f"reconstructed {total} inputs -> {args.out}")
    else:
        np.savetxt(sys.stdout, np.atleast_2d(res.x), fmt="%.17g")
    print(f"non-injective samples: {n_failed} of {total}; "
          f"max output residual {np.nanmax(np.atleast_1d(res.residual)):.3g}", file=sys.stderr)
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
    p = sub.add_parser("info", help="print build and thread configuration")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("invert", help="reconstruct layer inputs from ReLU outputs",
                       description="Reconstruct x from y = ReLU(W x - alpha).")
    p.add_argument("weights", help=".npy with W, or .npz with W and alpha (or b = -alpha)")
    p.add_argument("outputs", help=".npy with outputs Y of shape (m,) or (B, m)")
    p.add_argument("--method", default="dual", choices=["dual", "facet", "frame", "cg"])
    p.add_argument("--out", help="save the inputs (B, n) to this .npy instead of printing them")
    p.add_argument("--n-threads", type=int, default=None, dest="n_threads")
    p.set_defaults(func=_cmd_invert)
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
