"""``reluinj inr``: fit an INR to an image and write the pictures."""
import numpy as np

from .. import INR, fit_image, load_image, psnr


def run_inr_cli(args, out):
    """Body of ``reluinj inr``: fit, then write OUT.png and the PSNR curve."""
    import torch

    img = load_image(args.image, size=args.size)
    if args.activation == "bwrelu" and args.c is None:
        args.c = 9.0
    torch.manual_seed(args.seed)
    model = INR(2, args.width, args.layers, 1, activation=args.activation, c=args.c)
    res = fit_image(img, model, epochs=args.epochs, lr=args.lr, decay=args.decay,
                    device=getattr(args, "device", "cpu"), progress=not args.no_progress)
    final = psnr(res.image, img)
    recon = f"{args.out}.png"
    try:
        import matplotlib
    except ImportError:
        matplotlib = None
    if matplotlib is None:
        from skimage import io

        io.imsave(recon, (np.clip(res.image, 0, 1) * 255).round().astype(np.uint8))
        curve = f"{args.out}_psnr.csv"
        np.savetxt(curve, np.column_stack([np.arange(1, res.psnr.size + 1), res.psnr]),
                   delimiter=",", header="epoch,psnr_db", comments="")
        print("matplotlib is not installed: PSNR curve written as CSV", file=out)
    else:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.imsave(recon, np.clip(res.image, 0, 1), cmap="gray", vmin=0, vmax=1)
        curve = f"{args.out}_psnr.png"
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
