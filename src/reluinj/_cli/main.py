"""Command-line interface of reluinj: ``reluinj demo|info|bias|invert|rip|inr``."""
import argparse
import os
import sys

__all__ = ["main", "build_parser"]


def _cmd_demo(args):
    from .demo import run_demo

    run_demo(sys.stdout, seed=args.seed)
    return 0


def _cmd_info(args):
    from .._lib.config import show_config

    show_config()
    return 0


def _int_or_pair(option):
    """argparse type for "N" or "A,B" / "AxB": a tuple of one or two ints."""
    def parse(text):
        parts = text.lower().replace("x", ",").split(",")
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} must be an int or a pair A,B; got {text!r}") from None
        if len(values) not in (1, 2):
            raise argparse.ArgumentTypeError(f"{option} must be an int or a pair A,B; got {text!r}")
        return values
    return parse


def _cmd_rip(args):
    import numpy as np

    from .. import estimate_model_rip, filter_coherence, theorem_3_3_bound
    from .. import ConvOperator, ConvOperator2D

    filters = np.load(args.filters, allow_pickle=False)
    if filters.ndim == 3:
        if len(args.input_length) != 1:
            raise ValueError("--input-length must be a single int D for 3-D (K, M, ell) filters")
        op = ConvOperator(filters, args.input_length[0], args.stride,
                          allow_truncation=args.allow_truncation)
    elif filters.ndim == 4:
        shape = args.input_length * (3 - len(args.input_length))
        op = ConvOperator2D(filters, shape, args.stride, allow_truncation=args.allow_truncation)
    else:
        raise ValueError(f"filters in {args.filters} must be 3-D (K, M, ell) or 4-D "
                         f"(K, M, kh, kw); got shape {filters.shape}")
    pool = args.pool[0] if args.pool is not None and len(args.pool) == 1 else args.pool
    est = [estimate_model_rip(op, args.k, order=order, n_samples=args.samples, pool=pool,
                              seed=args.seed) for order in (1, 2)]
    print(f"operator: {op!r}, W of shape {op.shape}")
    if op.K >= 2:
        print(f"filter coherence (max |cos| between filters): {filter_coherence(filters):.4f}")
    for e, name in zip(est, ("delta_k  (M_k)  ", "delta_2k (M_k^2)")):
        print(f"sampled {name}: {e.delta:.4f}  (||W^T z||^2/||z||^2 in "
              f"[{e.lower:.4f}, {e.upper:.4f}], {e.n_samples} samples, k={e.k}, pool={e.pool}; "
              "a lower bound of the true constant)")
    dk, d2 = est[0].delta, max(est[0].delta, est[1].delta)
    if d2 < 1:
        print(f"Theorem 3.3 bound on one-shot relative error: {theorem_3_3_bound(dk, d2):.4f}"
              " (evaluated at the sampled delta_k and max(delta_k, delta_2k))")
    else:
        print("Theorem 3.3 does not apply: sampled delta_2k >= 1")
    return 0


def _cmd_inr(args):
    from .inr import run_inr_cli

    return run_inr_cli(args, sys.stdout)


def _load_layer_file(path):
    """(W, alpha) from a .npy file (W; alpha None) or a .npz file holding "W" and optionally
    "alpha" (the layer convention ReLU(W x - alpha)) or "b" (ReLU(W x + b), alpha = -b)."""
    import numpy as np

    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        return data, None
    with data:
        if "W" not in data:
            raise ValueError(f"{path}: the .npz must hold an array 'W' (and optionally 'alpha' "
                             f"or 'b'); found {sorted(data.files)}")
        if "alpha" in data and "b" in data:
            raise ValueError(f"{path}: give either 'alpha' or 'b', not both")
        if "alpha" in data:
            return data["W"], data["alpha"]
        if "b" in data:
            return data["W"], -data["b"]
        return data["W"], None


def _cmd_invert(args):
    import numpy as np

    from .. import relu_inverse

    W, alpha = _load_layer_file(args.weights)
    Y = np.load(args.outputs, allow_pickle=False)
    res = relu_inverse(W, 0.0 if alpha is None else alpha, Y, method=args.method,
                       n_threads=args.n_threads)
    total = np.atleast_1d(res.injective).size
    if args.out:
        np.save(args.out, res.x)
        print(f"reconstructed {total} inputs -> {args.out}")
    else:
        np.savetxt(sys.stdout, np.atleast_2d(res.x), fmt="%.17g")
    print(f"non-injective samples: {res.n_failed} of {total}; "
          f"max output residual {np.nanmax(np.atleast_1d(res.residual)):.3g}", file=sys.stderr)
    return 0


_ARCH_MODULES = ("Conv1d", "Conv2d", "Linear", "ReLU", "MaxPool1d", "MaxPool2d", "AvgPool1d",
                 "AvgPool2d", "Flatten", "Identity", "BatchNorm1d", "BatchNorm2d")


def _load_torch_model(path, arch):
    """An nn.Sequential from a torch.save'd module, or a state dict plus an architecture."""
    import warnings

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickled module: weights_only=True refuses it
        warnings.warn(f"{path} holds a pickled torch module, not only tensors; loading it with "
                      "torch.load(weights_only=False) runs code stored in the file: use it only "
                      "for files you trust (or save a state dict and pass --arch)",
                      UserWarning, stacklevel=2)
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict):
        if not arch:
            raise ValueError(f"{path} holds a state dict: pass --arch, e.g. "
                             "'Conv2d(1,8,3,padding=1), ReLU(), Flatten(), Linear(512,10)'")
        namespace = {name: getattr(torch.nn, name) for name in _ARCH_MODULES}
        try:  # only the listed module classes and literals are reachable
            mods = eval(f"[{arch}]", {"__builtins__": {}}, namespace)  # noqa: S307
        except Exception as err:
            raise ValueError(f"--arch could not be parsed ({err}); use the modules "
                             f"{', '.join(_ARCH_MODULES)}") from None
        model = torch.nn.Sequential(*mods)
        model.load_state_dict(obj)
        obj = model
    if not isinstance(obj, torch.nn.Module):
        raise TypeError(f"{path} must hold a torch.nn.Sequential or a state dict; "
                        f"got {type(obj).__name__}")
    return obj.eval().double()


def _cmd_analyze(args):
    import numpy as np

    from .. import ConvNetwork

    model = _load_torch_model(args.model, args.arch)
    X = np.load(args.data, allow_pickle=False)
    if args.limit:
        X = X[: args.limit]
    net = ConvNetwork.from_torch(model, X.shape[1:])
    print(net.analyze(X, with_data_bias=args.data_bias, seed=args.seed,
                      n_threads=args.n_threads).summary())
    return 0


def _cmd_bias(args):
    import time

    import numpy as np

    from .._lib.validation import as_bias, check_positive_int
    from .domains import parse_domain
    from .. import polytope_bias
    from .. import sampled_bias

    W, current = _load_layer_file(args.weights)
    domain = parse_domain(args.domain)
    t0 = time.perf_counter()
    if args.scheduler and args.method != "sampled":
        raise ValueError("--scheduler works with --method sampled only")
    if args.scheduler:
        from .. import distributed

        samples = check_positive_int(float(args.samples), "--samples")
        with distributed.connect(args.scheduler, timeout=args.connect_timeout) as client:
            print(f"scheduler: {args.scheduler} ({len(client.scheduler_info()['workers'])} "
                  "workers)")
            est = distributed.sampled_bias(W, domain, n_samples=samples, seed=args.seed,
                                           client=client, progress=args.progress)
    elif args.method == "sampled":
        samples = check_positive_int(float(args.samples), "--samples")
        est = sampled_bias(W, domain, n_samples=samples, seed=args.seed, n_threads=args.threads)
    else:
        est = polytope_bias(W, domain, n_threads=args.threads)
    dt = time.perf_counter() - t0
    alpha = est.alpha
    print(f"method={est.method} domain={domain} W shape={tuple(np.shape(W))} ({dt:.3f} s)")
    print(f"alpha: min={np.min(alpha):.6g} median={np.median(alpha):.6g} max={np.max(alpha):.6g}"
          f" (+inf entries: {est.n_unbounded})")
    if est.sampling_error is not None:
        from .. import samples_needed

        n = np.shape(W)[1]
        try:
            need = f"{samples_needed(0.05, n):,}"
        except ValueError:
            need = "more than 2^62"
        print(f"sampling error (covering-radius estimate, N={est.n_samples:,} in R^{n}): "
              f"{est.sampling_error:.4g}; N for 0.05: {need}")
        ca = est.convergence_alpha
        fin = np.isfinite(ca[-1])
        steps = " ".join(
            f"{k:,}:{np.max(np.abs(np.where(fin, row, np.nan) - ca[-1])[fin], initial=0):.3g}"
            for k, row in zip(est.convergence_n, ca))
        print(f"convergence (N: max change to the final estimate): {steps}")
    if current is not None:
        current = as_bias(current, alpha.shape[0], name="alpha")
        ok = int(np.count_nonzero(current <= alpha))
        print(f"current bias: {ok} of {alpha.shape[0]} entries certified (alpha_current <= alpha)")
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
    p.add_argument("--scheduler", default=None,
                   help="run the sampled method on Dask: tcp://HOST:PORT of a running scheduler, "
                   "or local:N for a local cluster of N worker processes (needs the 'dask' extra)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the scheduler (default 10)")
    p.add_argument("--progress", action="store_true", help="show a progress bar (with --scheduler)")
    p.set_defaults(func=_cmd_bias)
    p = sub.add_parser("info", help="print build and thread configuration")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("rip", help="sampled model-RIP constants of a convolution layer's W^T")
    p.add_argument("--filters", required=True,
                   help=".npy file of filters, (K, M, ell) or (K, M, kh, kw) (torch layout)")
    p.add_argument("--input-length", required=True, type=_int_or_pair("--input-length"),
                   help="input length D (1-D) or H,W (2-D)")
    p.add_argument("--k", required=True, type=int, help="model sparsity k")
    p.add_argument("--stride", type=int, default=1, help="stride (default 1)")
    p.add_argument("--samples", type=int, default=2000, help="samples per constant (2000)")
    p.add_argument("--pool", type=_int_or_pair("--pool"), default=None,
                   help="pooling-region length along the shifts, or PH,PW max-pooling windows "
                        "on the output maps of 4-D filters (default: all shifts)")
    p.add_argument("--allow-truncation", action="store_true",
                   help="accept (D - ell) not divisible by the stride (PyTorch floor rule)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples")
    p.set_defaults(func=_cmd_rip)
    p = sub.add_parser("inr", help="fit an implicit neural representation to an image "
                       "(needs the 'torch' extra)")
    p.add_argument("image", help="PNG/TIFF/NPY file, or 'camera' (scikit-image's cameraman)")
    p.add_argument("--size", type=int, default=128, help="resize to SIZE x SIZE (default 128)")
    p.add_argument("--epochs", type=int, default=300, help="full-batch Adam steps (default 300)")
    p.add_argument("--activation", choices=["bwrelu", "relu", "siren", "wire", "relu_pe"],
                   default="bwrelu")
    p.add_argument("--c", type=float, default=None,
                   help="BW-ReLU scale c (default 9) or SIREN/WIRE omega_0 (default 30/20)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu; e.g. cuda)")
    p.add_argument("--width", type=int, default=128, help="hidden width (default 128)")
    p.add_argument("--layers", type=int, default=3, help="hidden layers (default 3)")
    p.add_argument("--lr", type=float, default=4e-3, help="initial learning rate (default 4e-3)")
    p.add_argument("--decay", type=float, default=0.1, help="final/initial lr ratio (default 0.1)")
    p.add_argument("--seed", type=int, default=40, help="torch seed of the initialisation")
    p.add_argument("--out", default="inr", help="output prefix: OUT.png, OUT_psnr.png (or .csv)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_cmd_inr)
    p = sub.add_parser("invert", help="reconstruct layer inputs from ReLU outputs",
                       description="Reconstruct x from y = ReLU(W x - alpha).")
    p.add_argument("weights", help=".npy with W, or .npz with W and alpha (or b = -alpha)")
    p.add_argument("outputs", help=".npy with outputs Y of shape (m,) or (B, m)")
    p.add_argument("--method", default="dual", choices=["dual", "facet", "frame", "cg"])
    p.add_argument("--out", help="save the inputs (B, n) to this .npy instead of printing them")
    p.add_argument("--n-threads", type=int, default=None, dest="n_threads")
    p.set_defaults(func=_cmd_invert)
    p = sub.add_parser("analyze", help="per-stage injectivity of a trained torch CNN on data",
                       description="Analyse a torch nn.Sequential (Conv, Linear, ReLU, pooling, "
                       "Flatten, eval BatchNorm) stage by stage on the inputs in DATA.npy.")
    p.add_argument("model", help="torch.save'd nn.Sequential, or a state dict with --arch")
    p.add_argument("data", help=".npy with inputs of shape (B, *input_shape)")
    p.add_argument("--arch", help="architecture of a state dict, e.g. "
                   "'Conv2d(1,8,3,padding=1), ReLU(), Flatten(), Linear(512,10)'")
    p.add_argument("--limit", type=int, default=None, help="analyse only the first N inputs")
    p.add_argument("--data-bias", action="store_true", dest="data_bias",
                   help="also compute the data-driven biases (slow on large stages)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-threads", type=int, default=None, dest="n_threads")
    p.set_defaults(func=_cmd_analyze)
    return parser


def main(argv=None):
    """Entry point of the ``reluinj`` command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) >= 2 and argv[0] == "inr" and argv[1] in ("fit", "ct", "sr", "select-c"):
        if argv[1] == "fit":                       # reluinj inr fit IMAGE = reluinj inr IMAGE
            argv = ["inr"] + argv[2:]
        else:
            from .inr import run_task_cli
            try:
                return run_task_cli(argv[1:], sys.stdout)
            except (ValueError, TypeError, OSError, ImportError) as err:
                print(f"reluinj inr {argv[1]}: error: {err}", file=sys.stderr)
                return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (``reluinj demo | head``): not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, ImportError) as err:
        print(f"reluinj {args.command}: error: {err}", file=sys.stderr)
        return 2
