"""``reluinj inr``: fit an INR to an image and write the pictures."""
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
                    progress=args.progress)
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
