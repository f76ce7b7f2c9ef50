"""Command-line interface: ``reluinj demo``, ``reluinj info``."""
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
