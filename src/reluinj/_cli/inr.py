"""``reluinj inr``: fit an INR to an image (``inr [fit] IMAGE``) or solve an inverse problem
(``inr ct|sr|select-c``), and write the pictures and numbers."""
import os

import numpy as np

from .. import INR, fit_image, load_image, psnr

# Smallest side of an input accepted as an image: a weight matrix such as 50x6 is not one.
MIN_IMAGE_SIDE = 8


def _check_image_file(source):
    """Refuse inputs that are not images (checked before torch starts). Returns None."""
    from .main import CLIError

    if source == "camera":
        return
    if not os.path.exists(source):
        raise CLIError(f"IMAGE {source}: no such file (give a PNG/TIFF/NPY image or 'camera')")
    if not source.lower().endswith(".npy"):
        return  # decoded by scikit-image, which refuses what is not an image
    try:
        arr = np.load(source, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise CLIError(f"IMAGE {source}: not a NumPy .npy file ({err})") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise CLIError(f"IMAGE {source}: expected a numeric (H, W) or (H, W, C) array")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise CLIError(f"IMAGE {source}: expected an image of shape (H, W) or (H, W, C) with "
                       f"C in (1, 3, 4); got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_IMAGE_SIDE:
        raise CLIError(f"IMAGE {source}: an image needs at least {MIN_IMAGE_SIDE} pixels per "
                       f"side; got shape {arr.shape} (is this a weight matrix?)")
    if not np.isfinite(arr).all():
        raise CLIError(f"IMAGE {source}: has NaN or inf pixels")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 255:
        raise CLIError(f"IMAGE {source}: pixel values must lie in [0, 1] or [0, 255]; got "
                       f"[{lo:.3g}, {hi:.3g}] (is this a weight matrix?)")


def _output_paths(prefix, have_matplotlib):
    return f"{prefix}.png", f"{prefix}_psnr.png" if have_matplotlib else f"{prefix}_psnr.csv"


def run_inr_cli(args, out):
    """Body of ``reluinj inr``: check the inputs, fit, then write OUT.png and the PSNR curve."""
    from importlib.util import find_spec

    from .main import _check_writable

    _check_image_file(args.image)
    have_matplotlib = find_spec("matplotlib") is not None
    recon, curve = _output_paths(args.out, have_matplotlib)
    _check_writable([recon, curve], args.force)
    import torch

    img = load_image(args.image, size=args.size)
    if args.activation == "bwrelu" and args.c is None:
        args.c = 9.0
    torch.manual_seed(args.seed)
    model = INR(2, args.width, args.layers, 1, activation=args.activation, c=args.c)
    res = fit_image(img, model, epochs=args.epochs, lr=args.lr, decay=args.decay,
                    device=getattr(args, "device", "cpu"), progress=args.progress)
    final = psnr(res.image, img)
    if not have_matplotlib:
        from skimage import io

        io.imsave(recon, (np.clip(res.image, 0, 1) * 255).round().astype(np.uint8))
        np.savetxt(curve, np.column_stack([np.arange(1, res.psnr.size + 1), res.psnr]),
                   delimiter=",", header="epoch,psnr_db", comments="")
        print("matplotlib is not installed: PSNR curve written as CSV", file=out)
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.imsave(recon, np.clip(res.image, 0, 1), cmap="gray", vmin=0, vmax=1)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(np.arange(1, res.psnr.size + 1), res.psnr)
        ax.set_xlabel("epoch")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"INR {args.layers}x{args.width}, {args.activation}")
        fig.tight_layout()
        fig.savefig(curve, dpi=100)
        plt.close(fig)
    print(f"{args.activation}: {img.shape[0]}x{img.shape[1]}, {args.epochs} epochs, "
          f"final PSNR {final:.2f} dB; wrote {recon} and {curve}", file=out)
    return 0


# ------------------------------------------------------------------ reluinj inr ct|sr|select-c

TASKS = ("fit", "ct", "sr", "select-c")
#: (c or ω₀, η₀) per activation, from the authors' CT and SR scripts (bwrelu-spec.md §5.4–5.5).
_SETTINGS = {
    "ct": {"bwrelu": (3.0, 2e-3), "siren": (25.0, 1e-3), "wire": (7.0, 5e-3),
           "relu_pe": (None, 3e-3), "relu": (None, 3e-3)},
    "sr": {"bwrelu": (3.0, 3e-3), "siren": (12.0, 2e-3), "wire": (8.0, 3e-3),
           "relu_pe": (None, 4e-3), "relu": (None, 4e-3)},
}


def build_task_parser():
    """Parser of ``reluinj inr ct|sr|select-c`` (``reluinj inr fit IMAGE`` = ``reluinj inr IMAGE``)."""
    import argparse

    p = argparse.ArgumentParser(prog="reluinj inr", description="INR inverse problems "
                                "(CT, 4x super-resolution, choosing c by the variation norm)")
    p.add_argument("task", choices=TASKS[1:])
    p.add_argument("--image", default=None, help="scikit-image name or PNG/TIFF/NPY path "
                   "(default: shepp_logan_phantom for ct/select-c, chelsea for sr)")
    p.add_argument("--activation", default="bwrelu,relu_pe,relu",
                   help="comma-separated: bwrelu, relu, siren, wire, relu_pe")
    p.add_argument("--c", default=None, help="scale c (BW-ReLU) / omega_0; for select-c a "
                   "comma-separated list (default 1,2,3,5)")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--trials", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=48, help="image side (default 48)")
    p.add_argument("--angles", type=int, default=30, help="CT angles (default 30)")
    p.add_argument("--width", type=int, default=96, help="hidden width (default 96)")
    p.add_argument("--stop-loss", type=float, default=None, help="select-c stopping loss "
                   "(default 1e-3 * mean(y^2))")
    p.add_argument("--seed", type=int, default=40)
    p.add_argument("--out", default="inr", help="output prefix: OUT.png, OUT.json")
    p.add_argument("--no-progress", action="store_true")
    return p


def _load_task_image(name, size, rgb):
    import os

    from skimage import data
    from skimage.transform import resize

    if os.path.exists(name):
        img = load_image(name, size=size) if not rgb else None
        if img is not None:
            return img
        from skimage import io
        img = io.imread(name)
    else:
        if not hasattr(data, name):
            raise ValueError(f"--image must be a file or a scikit-image picture; got {name!r}")
        img = getattr(data, name)()
    img = np.asarray(img, dtype=float)
    if not rgb and img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    if rgb and img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    img = resize(img[..., :3] if rgb else img, (size, size), anti_aliasing=True)
    return (img - img.min()) / (img.max() - img.min())


def _save_panels(path, panels, out):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no PNG written", file=out)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9))
    for ax, (title, img) in zip(np.atleast_1d(axes), panels):
        ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_task_cli(argv, out):
    """Body of ``reluinj inr ct|sr|select-c``: fit, print the table, write OUT.json / OUT.png."""
    import json

    from .. import AveragePool, RadonTransform, fit_inr, select_c, ssim

    args = build_task_parser().parse_args(argv)
    rgb = args.task == "sr"
    name = args.image or ("chelsea" if rgb else "shepp_logan_phantom")
    gt = _load_task_image(name, args.size, rgb)
    rows, panels = [], [("ground truth", gt)]
    if args.task == "sr":
        from skimage.transform import resize

        size = args.size - args.size % 4
        gt = gt[:size, :size]
        low = resize(gt, (size // 4, size // 4), anti_aliasing=True)
        op, y = AveragePool((size, size), 4), low
        base = np.clip(resize(low, gt.shape, order=3), 0, 1)
        rows.append({"method": "bicubic", "psnr": psnr(gt, base), "psnr_sem": 0.0,
                     "ssim": ssim(gt, base)})
        panels += [("low resolution", low), ("bicubic", base)]
    else:
        from skimage.transform import iradon

        op = RadonTransform(gt.shape, n_angles=args.angles)
        y = op(gt)
        base = iradon(y.T, -op.angles, circle=False, output_size=args.size)
        rows.append({"method": "FBP", "psnr": psnr(gt, base), "psnr_sem": 0.0,
                     "ssim": ssim(gt, np.clip(base, 0, 1))})
        panels += [("sinogram", y / y.max()), ("FBP", base)]
    channels = 3 if rgb else 1
    if args.task == "select-c":
        cs = [float(v) for v in (args.c or "1,2,3,5").split(",")]
        stop = args.stop_loss or 1e-3 * float(np.mean(y ** 2))
        sel = select_c(y, lambda c: INR(2, args.width, 3, 1, c=c), cs, operator=op,
                       stop_loss=stop, target=gt, epochs=args.epochs, lr=3e-3, seed=args.seed,
                       device=args.device, progress=not args.no_progress)
        for k, c in enumerate(sel.c):
            rows.append({"method": f"bwrelu c={c:g}", "c": float(c), "psnr": float(sel.psnr[k]),
                         "epochs": int(sel.n_epochs[k]), "reached": bool(sel.reached[k]),
                         "variation_norm_eq53": float(sel.variation_norm[k]),
                         "code_norm": float(sel.code_norm[k])})
            panels.append((f"c={c:g}", sel.fits[k].image))
        print(f"stopping loss {stop:.3g}; smallest eq. 53 norm: c = {sel.best_c:g}", file=out)
    else:
        for act in args.activation.split(","):
            if act not in _SETTINGS[args.task]:
                raise ValueError(f"--activation must list names from "
                                 f"{tuple(_SETTINGS[args.task])}; got {act!r}")
            c, lr = _SETTINGS[args.task][act]
            if args.c is not None and c is not None:
                c = float(args.c)
            side = args.angles if args.task == "ct" else args.size
            fit = fit_inr(y, lambda act=act, c=c: INR(2, args.width, 3, channels,
                                                      activation=act, c=c, sidelength=side),
                          operator=op, target=gt, epochs=args.epochs, lr=lr, trials=args.trials,
                          seed=args.seed, device=args.device, progress=not args.no_progress,
                          decay=0.2 if rgb else 0.1)
            rows.append({"method": act, "psnr": fit.psnr_mean, "psnr_sem": fit.psnr_sem,
                         "ssim": float(np.mean([t.ssim for t in fit.trials]))})
            panels.append((f"{act} {fit.psnr_mean:.1f} dB", fit.image))
    for r in rows:
        extra = "".join(f"  {k}={v:.4g}" if isinstance(v, float) else f"  {k}={v}"
                        for k, v in r.items() if k not in ("method", "psnr"))
        print(f"{r['method']:16s} PSNR {r['psnr']:7.2f} dB{extra}", file=out)
    with open(f"{args.out}.json", "w") as fh:
        json.dump({"task": args.task, "size": args.size, "epochs": args.epochs,
                   "device": args.device, "rows": rows}, fh, indent=1)
    png = _save_panels(f"{args.out}.png", panels, out)
    print(f"wrote {args.out}.json" + (f" and {png}" if png else ""), file=out)
    return 0
