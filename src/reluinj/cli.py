"""Command-line interface: ``reluinj demo``, ``reluinj info``, ``reluinj inr``."""
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


def _cmd_inr(args):
    from .nn import run_inr_cli

    return run_inr_cli(args, sys.stdout)


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
    p = sub.add_parser("inr", help="fit an implicit neural representation to an image "
                       "(needs the 'torch' extra)")
    p.add_argument("image", help="PNG/TIFF/NPY file, or 'camera' (scikit-image's cameraman)")
    p.add_argument("--size", type=int, default=128, help="resize to SIZE x SIZE (default 128)")
    p.add_argument("--epochs", type=int, default=300, help="full-batch Adam steps (default 300)")
    p.add_argument("--activation", choices=["bwrelu", "relu", "siren"], default="bwrelu")
    p.add_argument("--c", type=float, default=None,
                   help="BW-ReLU scale c (default 9) or SIREN omega_0 (default 30)")
    p.add_argument("--width", type=int, default=128, help="hidden width (default 128)")
    p.add_argument("--layers", type=int, default=3, help="hidden layers (default 3)")
    p.add_argument("--lr", type=float, default=4e-3, help="initial learning rate (default 4e-3)")
    p.add_argument("--decay", type=float, default=0.1, help="final/initial lr ratio (default 0.1)")
    p.add_argument("--seed", type=int, default=40, help="torch seed of the initialisation")
    p.add_argument("--out", default="inr", help="output prefix: OUT.png, OUT_psnr.png (or .csv)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_cmd_inr)
    return parser


def main(argv=None):
    """Entry point of the ``reluinj`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as err:
        print(f"reluinj {args.command}: error: {err}", file=sys.stderr)
        return 2
