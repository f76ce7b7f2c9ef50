"""Command-line interface of reluinj: ``reluinj demo|info|bias|invert|rip|inr``.

One grammar for every subcommand: ``--n-threads`` (``--threads`` is accepted as a hidden
alias), ``--seed``, ``--out``, ``--progress``, ``--domain``; errors name the CLI flag and exit
with status 2 without a traceback; Ctrl-C exits with status 130 and one line; outputs that exist
are only overwritten with ``--force``.
"""
import argparse
import os
import re
import sys

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2          # bad input (argparse's own status for usage errors)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C

# Python argument names that library errors may mention -> the CLI flag that sets them.
_FLAG_OF_ARGUMENT = {
    "allow_truncation": "--allow-truncation",
    "n_threads": "--n-threads",
    "n_samples": "--samples",
    "input_length": "--input-length",
    "input_shape": "--input-length",
    "stride": "--stride",
    "pool": "--pool",
    "seed": "--seed",
    "epochs": "--epochs",
    "size": "--size",
    "width": "--width",
    "layers": "--layers",
    "lr": "--lr",
    "decay": "--decay",
}


def _cli_message(message):
    """A library error message with Python argument names replaced by the CLI flags.

    ``allow_truncation=True`` becomes ``--allow-truncation``, ``n_threads=0`` becomes
    ``--n-threads 0``; a bare name is replaced only when it cannot be an ordinary word (it has
    an underscore), so "input size" stays as it is.
    """
    names = "|".join(sorted(_FLAG_OF_ARGUMENT, key=len, reverse=True))

    def flag(match):
        name, value = match.group(1), match.group(2)
        if not value and "_" not in name:
            return match.group(0)
        cli = _FLAG_OF_ARGUMENT[name]
        if not value or value == "=True":
            return cli
        return f"{cli} {value[1:]}"
    return re.sub(rf"(?<![-\w])({names})\b(=True\b|=[^\s,;:)]+)?", flag, str(message))


def _n_threads_arg(text):
    """argparse type of --n-threads: a positive int, or -1 (all cores), -2 (all but one)..."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer, got {text!r}; omit --n-threads to use every core") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            "0 threads cannot run anything: give a positive count, -1 for all cores (-2 for "
            "all but one), or omit --n-threads for the default (all usable cores)")
    return value


def _positive_int_arg(option):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
        return value
    parse.__name__ = option
    return parse


def _count_arg(text):
    """argparse type of --samples: a positive integer, also written as 1e5 or 100_000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer such as 100000 or 1e5; got {text!r}") from None
    if not (value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(
            f"expected a positive integer such as 100000 or 1e5; got {text!r}")
    return int(value)


class CLIError(ValueError):
    """A bad command-line input, reported as ``reluinj CMD: error: ...`` with exit status 2."""


def _npy_path(path):
    """The file that np.save(path, ...) writes: it appends .npy when missing."""
    path = os.fspath(path)
    return path if path.endswith(".npy") else path + ".npy"


def _check_writable(paths, force, flag="--out"):
    """Refuse to overwrite existing outputs unless --force (checked before any work)."""
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not force:
        raise CLIError(f"{', '.join(existing)} already exists; pass --force to overwrite it "
                       f"or choose another {flag}")


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


# Filters drawn as ConvOperator.random does (N(0, 1) / sqrt(M * ell), "fan_in") have a
# Frobenius norm close to 1; far outside this band the sampled constants mostly measure scale.
_FILTER_NORM_BAND = (0.5, 2.0)


def _cmd_rip(args):
    import numpy as np

    from .. import estimate_model_rip, filter_coherence, theorem_3_3_bound
    from .. import ConvOperator, ConvOperator2D

    filters = _load_array(args.filters, "--filters")
    if filters.ndim == 3:
        if len(args.input_length) != 1:
            raise CLIError("--input-length must be a single int D for 3-D (K, M, ell) filters")
        op = ConvOperator(filters, args.input_length[0], args.stride,
                          allow_truncation=args.allow_truncation)
    elif filters.ndim == 4:
        shape = args.input_length * (3 - len(args.input_length))
        op = ConvOperator2D(filters, shape, args.stride, allow_truncation=args.allow_truncation)
    else:
        raise CLIError(f"--filters {args.filters}: filters must be 3-D (K, M, ell) or 4-D "
                       f"(K, M, kh, kw); got shape {filters.shape}")
    pool = args.pool[0] if args.pool is not None and len(args.pool) == 1 else args.pool
    est = [estimate_model_rip(op, args.k, order=order, n_samples=args.samples, pool=pool,
                              seed=args.seed, n_threads=args.n_threads) for order in (1, 2)]
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
    norms = np.linalg.norm(filters.reshape(filters.shape[0], -1), axis=1)
    median = float(np.median(norms))
    lo, hi = _FILTER_NORM_BAND
    if not lo <= median <= hi:
        ell = int(np.prod(filters.shape[2:]))
        print(f"hint: the filters are not normalised (median Frobenius norm {median:.3g}). "
              "delta_k measures how far ||W^T z||^2/||z||^2 strays from 1, so it grows with the "
              "squared filter norm; filters are normally scaled to norm about 1, e.g. Gaussian "
              f"entries divided by sqrt(M * ell) = {np.sqrt(filters.shape[1] * ell):.3g} "
              "(ConvOperator.random's 'fan_in') or each filter divided by its norm.")
    return 0


def _cmd_inr(args):
    from .inr import run_inr_cli

    return run_inr_cli(args, sys.stdout)


def _load_array(path, flag):
    """np.load of a .npy file, with the CLI flag or argument named in the errors."""
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CLIError(f"{flag} {path}: no such file") from None
    except (OSError, ValueError) as err:
        raise CLIError(f"{flag} {path}: not a NumPy .npy/.npz file ({err})") from None
    if not isinstance(data, np.ndarray):
        data.close()
        raise CLIError(f"{flag} {path}: expected a .npy array, got a .npz archive")
    if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.complexfloating):
        raise CLIError(f"{flag} {path}: expected a real numeric array; got dtype {data.dtype}")
    return data


def _load_layer_file(path):
    """(W, alpha) from a .npy file (W; alpha None) or a .npz file holding "W" and optionally
    "alpha" (the layer convention ReLU(W x - alpha)) or "b" (ReLU(W x + b), alpha = -b).

    Everything is checked here, before any work: W is a finite real 2-D array, and alpha / b
    is a scalar or has one entry per row of W."""
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CLIError(f"WEIGHTS {path}: no such file") from None
    except (OSError, ValueError) as err:
        raise CLIError(f"WEIGHTS {path}: not a NumPy .npy/.npz file ({err})") from None
    if isinstance(data, np.ndarray):
        W, bias, key = data, None, None
    else:
        with data:
            if "W" not in data:
                raise CLIError(f"WEIGHTS {path}: the .npz must hold an array 'W' (and optionally "
                               f"'alpha' or 'b'); found {sorted(data.files)}")
            if "alpha" in data and "b" in data:
                raise CLIError(f"WEIGHTS {path}: give either 'alpha' or 'b', not both")
            key = "alpha" if "alpha" in data else "b" if "b" in data else None
            W = data["W"]
            bias = None if key is None else data[key]
    what = f"WEIGHTS {path}" + ("" if key is None and not path.endswith(".npz") else ": 'W'")
    if not np.issubdtype(W.dtype, np.number) or np.issubdtype(W.dtype, np.complexfloating):
        raise CLIError(f"{what} must be a real numeric array; got dtype {W.dtype}")
    if W.ndim != 2 or 0 in W.shape:
        raise CLIError(f"{what} must be a 2-D matrix (m, n) with m, n >= 1; got shape {W.shape}")
    if not np.isfinite(W).all():
        raise CLIError(f"{what} has NaN or inf entries")
    if bias is None:
        return W, None
    m = W.shape[0]
    if not np.issubdtype(bias.dtype, np.number) or np.issubdtype(bias.dtype, np.complexfloating):
        raise CLIError(f"WEIGHTS {path}: {key!r} must be a real numeric array; got dtype "
                       f"{bias.dtype}")
    if bias.ndim > 1 or (bias.ndim == 1 and bias.shape[0] != m):
        raise CLIError(f"WEIGHTS {path}: {key!r} must be a scalar or have one entry per row of "
                       f"W, shape ({m},); got shape {bias.shape}")
    if not np.isfinite(bias).all():
        raise CLIError(f"WEIGHTS {path}: {key!r} has NaN or inf entries")
    alpha = bias if key == "alpha" else -bias
    return W, np.broadcast_to(np.asarray(alpha, dtype=np.float64), (m,)).copy()


def _margin_arg(text):
    """argparse type of --margin: a finite float >= 0 or the word 'covering'."""
    if text == "covering":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0 or 'covering'; got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0; got {text!r}")
    return value


def _max_facets_arg(text):
    """argparse type of --max-facets: a count >= 0 (0: no limit), also written as 1e7."""
    if text.strip() in ("0", "0.0"):
        return 0
    return _count_arg(text)


def _warn_if_long_polytope(W, out=sys.stderr):
    """Say before the hull is built that the polytope method can take very long."""
    m, n = W.shape
    rough = float(m) ** (n // 2)
    if n >= 9 or rough > 1e6:
        print(f"note: the polytope of {m} rows in R^{n} may have on the order of "
              f"m^(n/2) = {rough:.1e} facets; this can take minutes or more (Ctrl-C stops it). "
              "--method sampled scales to any n.", file=out)


def _cmd_invert(args):
    import numpy as np

    from .. import relu_inverse

    W, alpha = _load_layer_file(args.weights)
    m = W.shape[0]
    Y = _load_array(args.outputs, "OUTPUTS")
    if Y.ndim not in (1, 2) or Y.shape[-1] != m:
        raise CLIError(f"OUTPUTS {args.outputs}: expected shape ({m},) or (B, {m}) for a W with "
                       f"{m} rows; got shape {Y.shape}")
    if not np.isfinite(Y).all():
        raise CLIError(f"OUTPUTS {args.outputs}: Y has NaN or inf entries")
    if (Y < 0).any():
        raise CLIError(f"OUTPUTS {args.outputs}: Y has negative entries (ReLU outputs are >= 0)")
    out = None
    if args.out:
        out = _npy_path(args.out)
        _check_writable([out], args.force)
    if args.method == "facet":
        _warn_if_long_polytope(W)
    res = relu_inverse(W, 0.0 if alpha is None else alpha, Y, method=args.method,
                       n_threads=args.n_threads)
    total = np.atleast_1d(res.injective).size
    if out:
        np.save(out, res.x)
        print(f"reconstructed {total} inputs -> {out}")
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

    from .domains import parse_domain
    from .. import polytope_bias
    from .. import sampled_bias

    W, current = _load_layer_file(args.weights)
    try:
        domain = parse_domain(args.domain)
    except ValueError as err:
        raise CLIError(f"--domain: {err}") from None
    if args.scheduler and args.method != "sampled":
        raise CLIError("--scheduler works with --method sampled only")
    if args.margin is not None and args.method != "sampled":
        raise CLIError("--margin is subtracted from the sampled estimate; --method polytope is "
                       "exact and takes no margin")
    if args.max_facets is not None and args.method != "polytope":
        raise CLIError("--max-facets limits the polytope method; use it with --method polytope")
    out = None
    if args.out:
        out = _npy_path(args.out)
        _check_writable([out], args.force)
    m, n = W.shape
    if args.progress and args.method != "sampled":
        raise CLIError("--progress shows the sampled method's progress; --method polytope has "
                       "no progress bar")
    if args.progress:
        from importlib.util import find_spec

        if find_spec("tqdm") is None:
            print("note: --progress needs tqdm (pip install tqdm); running without a bar",
                  file=sys.stderr)
    t0 = time.perf_counter()
    if args.method == "sampled":
        print(f"sampling {args.samples:,} points of {domain} for W of shape ({m}, {n})",
              file=sys.stderr)
    if args.scheduler:
        from .. import distributed

        with distributed.connect(args.scheduler, timeout=args.connect_timeout) as client:
            print(f"scheduler: {args.scheduler} ({len(client.scheduler_info()['workers'])} "
                  "workers)")
            est = distributed.sampled_bias(W, domain, n_samples=args.samples, seed=args.seed,
                                           margin=0.0 if args.margin is None else args.margin,
                                           client=client, progress=args.progress)
    elif args.method == "sampled":
        est = sampled_bias(W, domain, n_samples=args.samples, seed=args.seed,
                           margin=0.0 if args.margin is None else args.margin,
                           n_threads=args.n_threads, progress=args.progress)
    else:
        from ..hull import MAX_FACETS

        _warn_if_long_polytope(W)
        limit = MAX_FACETS if args.max_facets is None else args.max_facets
        try:
            est = polytope_bias(W, domain, max_facets=None if limit == 0 else limit,
                                n_threads=args.n_threads)
        except ValueError as err:
            if "max_facets" not in str(err):
                raise
            raise CLIError(f"--max-facets: {err} (--max-facets 0 removes the limit)") from None
    dt = time.perf_counter() - t0
    alpha = est.alpha
    print(f"method={est.method} domain={domain} W shape={(m, n)} ({dt:.3f} s)")
    print(f"alpha: min={np.min(alpha):.6g} median={np.median(alpha):.6g} max={np.max(alpha):.6g}"
          f" (+inf entries: {est.n_unbounded})")
    if getattr(est, "margin", 0.0):
        print(f"safety margin subtracted from every finite alpha: {est.margin:.6g}")
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
        ok = int(np.count_nonzero(current <= alpha))
        print(f"current bias: {ok} of {m} entries certified (alpha_current <= alpha)")
    if isinstance(domain, _ball_type()) and np.all(alpha <= 0):
        print("(on a ball every admissible bias is <= 0: the centre x = 0 gives W x = 0, so it "
              "keeps its n active rows only when alpha_i <= 0)")
    if out:
        np.save(out, alpha)
        print(f"alpha written to {out}")
    return 0


def _ball_type():
    from .. import Ball

    return Ball


_BIAS_METHODS = {
    "sampled": "most-correlated-basis estimate from --samples random points: any size, an "
               "estimate from above (default)",
    "polytope": "exact bias over the facets of the polytope of the normalised rows: a proof, "
                "but the facet count grows like m^(n/2) (practical up to n of about 8)",
}
_INVERT_METHODS = {
    "dual": "least squares on the active rows (dual frame): direct and fastest (default)",
    "facet": "least squares on the first fully active facet of the polytope: needs the "
             "convex hull, so small n only",
    "frame": "the ReLU frame algorithm (iterative)",
    "cg": "conjugate gradients on the active normal equations (iterative)",
}


def _choices_help(intro, choices):
    return intro + "; ".join(f"{name}: {text}" for name, text in choices.items())


def _add_threads(p):
    p.add_argument("--n-threads", type=_n_threads_arg, default=None, dest="n_threads",
                   metavar="N", help="OpenMP threads: a positive count, -1 for all cores, -2 "
                   "for all but one (default: all usable cores, honouring OMP_NUM_THREADS)")
    p.add_argument("--threads", type=_n_threads_arg, dest="n_threads", help=argparse.SUPPRESS)


def _add_force(p):
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def build_parser():
    """The argparse parser of the ``reluinj`` command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="reluinj",
        description="Injectivity, maximal bias and inversion of ReLU layers.",
    )
    parser.add_argument("--version", action="version", version=f"reluinj {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="a short guided tour: a layer, its bias, its inverse")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo's samples (default 0)")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("bias", help="maximal bias of a ReLU layer ReLU(W x - alpha)")
    p.add_argument("weights", metavar="WEIGHTS",
                   help=".npy file with W (m, n), or .npz with 'W' and optional 'alpha' (layer "
                   "ReLU(W x - alpha)) or 'b' (layer ReLU(W x + b)) to check against the result")
    p.add_argument("--method", choices=list(_BIAS_METHODS), default="sampled",
                   help=_choices_help("", _BIAS_METHODS))
    p.add_argument("--domain", default="sphere:1",
                   help="'sphere[:r]', 'ball[:r]' or 'annulus:r1:r2', optional ':+' for the "
                   "non-negative part (default sphere:1)")
    p.add_argument("--samples", type=_count_arg, default=100_000, metavar="N",
                   help="points of the sampled method, e.g. 1e6 (default 1e5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    p.add_argument("--margin", type=_margin_arg, default=None, metavar="EPS|covering",
                   help="subtract this safety margin from the sampled estimate, or 'covering' "
                   "for the sampling-error estimate (default 0)")
    p.add_argument("--max-facets", type=_max_facets_arg, default=None, metavar="N",
                   help="polytope method: refuse to start above this estimated facet count "
                   "(default 1e6; 0 removes the limit)")
    _add_threads(p)
    p.add_argument("--out", default=None, help="write alpha (m,) to this .npy file")
    _add_force(p)
    p.add_argument("--scheduler", default=None,
                   help="run the sampled method on Dask: tcp://HOST:PORT of a running scheduler, "
                   "or local:N for a local cluster of N worker processes (needs the 'dask' extra)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the scheduler (default 10)")
    p.add_argument("--progress", action="store_true",
                   help="show a progress bar of the sampled method (needs tqdm)")
    p.set_defaults(func=_cmd_bias)
    p = sub.add_parser("info", help="print build and thread configuration")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("rip", help="sampled model-RIP constants of a convolution layer's W^T")
    p.add_argument("--filters", required=True,
                   help=".npy file of filters, (K, M, ell) or (K, M, kh, kw) (torch layout)")
    p.add_argument("--input-length", required=True, type=_int_or_pair("--input-length"),
                   help="input length D (1-D) or H,W (2-D)")
    p.add_argument("--k", required=True, type=_positive_int_arg("--k"), help="model sparsity k")
    p.add_argument("--stride", type=_positive_int_arg("--stride"), default=1,
                   help="stride (default 1)")
    p.add_argument("--samples", type=_count_arg, default=2000, metavar="N",
                   help="samples per constant (default 2000)")
    p.add_argument("--pool", type=_int_or_pair("--pool"), default=None,
                   help="pooling-region length along the shifts, or PH,PW max-pooling windows "
                        "on the output maps of 4-D filters (default: all shifts)")
    p.add_argument("--allow-truncation", action="store_true",
                   help="accept (D - ell) not divisible by the stride (PyTorch floor rule)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    _add_threads(p)
    p.set_defaults(func=_cmd_rip)
    p = sub.add_parser("inr", help="fit an implicit neural representation to an image "
                       "(needs the 'torch' extra)")
    p.add_argument("image", help="PNG/TIFF file, .npy of a (H, W) or (H, W, 3) image with values "
                   "in [0, 1] or [0, 255], or 'camera' (scikit-image's cameraman)")
    p.add_argument("--size", type=_positive_int_arg("--size"), default=128,
                   help="resize to SIZE x SIZE (default 128)")
    p.add_argument("--epochs", type=_positive_int_arg("--epochs"), default=300,
                   help="full-batch Adam steps (default 300)")
    p.add_argument("--activation", choices=["bwrelu", "relu", "siren", "wire", "relu_pe"],
                   default="bwrelu",
                   help="bwrelu: the B-spline wavelet written as 7 ReLUs (the paper's); relu: "
                   "plain ReLU (the baseline); siren: sin(omega_0 x); wire: Gabor wavelet; "
                   "relu_pe: ReLU with positional encoding (default bwrelu)")
    p.add_argument("--c", type=float, default=None,
                   help="BW-ReLU scale c (default 9) or SIREN/WIRE omega_0 (default 30/20)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu; e.g. cuda)")
    p.add_argument("--width", type=_positive_int_arg("--width"), default=128,
                   help="hidden width (default 128)")
    p.add_argument("--layers", type=_positive_int_arg("--layers"), default=3,
                   help="hidden layers (default 3)")
    p.add_argument("--lr", type=float, default=4e-3, help="initial learning rate (default 4e-3)")
    p.add_argument("--decay", type=float, default=0.1, help="final/initial lr ratio (default 0.1)")
    p.add_argument("--seed", type=int, default=40, help="torch seed of the initialisation")
    p.add_argument("--out", default="inr", help="output prefix: OUT.png, OUT_psnr.png (or .csv)")
    _add_force(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show the training progress bar (default on)")
    p.set_defaults(func=_cmd_inr)
    p = sub.add_parser("invert", help="reconstruct layer inputs from ReLU outputs",
                       description="Reconstruct x from y = ReLU(W x - alpha).")
    p.add_argument("weights", metavar="WEIGHTS",
                   help=".npy with W, or .npz with W and alpha (or b = -alpha)")
    p.add_argument("outputs", metavar="OUTPUTS",
                   help=".npy with outputs Y of shape (m,) or (B, m)")
    p.add_argument("--method", default="dual", choices=list(_INVERT_METHODS),
                   help=_choices_help("", _INVERT_METHODS))
    p.add_argument("--out", help="save the inputs (B, n) to this .npy instead of printing them")
    _add_force(p)
    _add_threads(p)
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
    """Entry point of the ``reluinj`` command; returns the exit code.

    Called as the command (`argv` None), Ctrl-C ends the process at once with status 130 after
    the one-line message (``os._exit``): a worker thread left in Qhull cannot be cancelled, and
    an interrupt that landed inside an import would make Python report a death by SIGINT
    instead of the status. With an explicit `argv` (tests, scripts) 130 is returned.
    """
    called_as_command = argv is None
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error (already printed)
        return done.code
    try:
        return args.func(args)
    except KeyboardInterrupt:
        # Ctrl-C: the compiled loops stop between blocks; one line, the shell's status 130.
        print(f"reluinj {args.command}: interrupted", file=sys.stderr)
        if called_as_command:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``reluinj demo | head``): not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, ImportError, RuntimeError) as err:
        print(f"reluinj {args.command}: error: {_cli_message(err)}", file=sys.stderr)
        return EXIT_USAGE
