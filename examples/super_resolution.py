"""
4x super-resolution with INRs (Shenouda, Zhou & Nowak, ICML 2024, Sec. 5.3 / Fig. 6)
====================================================================================

An RGB scikit-image picture (``chelsea`` by default) is resized to the high-resolution size;
the low-resolution input is made with anti-aliased resizing by 1/4, as the authors do. INRs are
evaluated on the high-resolution grid and fitted through 4x average pooling
(:class:`reluinj.AveragePool`, the authors' ``AvgPool2d(4)``) with :func:`reluinj.fit_inr`;
bicubic upsampling of the low-resolution image is the classical baseline.
PSNR = 10·log10(1/MSE) on the high-resolution image, mean ± standard error over the trials.

Small CPU default (well under a minute on 2 cores)::

    python examples/super_resolution.py

Paper-scale settings (GPU; the paper's butterfly image is in the authors' Drive folder)::

    python examples/super_resolution.py --size 256 --width 256 --epochs 2000 --trials 5 \
        --device cuda

Needs the ``torch`` extra and scikit-image.
"""
import argparse

import numpy as np

from reluinj import INR, AveragePool, fit_inr, psnr, ssim

#: (activation, c or ω₀, η₀) from the paper's SR script (bwrelu-spec.md §5.5).
METHODS = [("bwrelu", 3.0, 3e-3), ("siren", 12.0, 2e-3), ("wire", 8.0, 3e-3),
           ("relu_pe", None, 4e-3), ("relu", None, 4e-3)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--image", default="chelsea", help="scikit-image name (chelsea, astronaut)")
    ap.add_argument("--size", type=int, default=48, help="high-resolution side (multiple of 4)")
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--decay", type=float, default=0.2, help="r (paper 0.2, code default 0.1)")
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default=",".join(m for m, _, _ in METHODS))
    args = ap.parse_args(argv)

    from skimage import data
    from skimage.transform import resize

    img = getattr(data, args.image)().astype(float)
    img = (img - img.min()) / (img.max() - img.min())
    hr = resize(img, (args.size, args.size), anti_aliasing=True)
    low_shape = (args.size // args.factor, args.size // args.factor)
    lr_img = resize(hr, low_shape, anti_aliasing=True)
    bicubic = np.clip(resize(lr_img, hr.shape, order=3), 0, 1)
    rows = [("bicubic", psnr(hr, bicubic), 0.0, ssim(hr, bicubic))]
    P = AveragePool(hr.shape[:2], args.factor)
    wanted = args.methods.split(",")
    for act, c, lr in METHODS:
        if act not in wanted:
            continue
        fit = fit_inr(lr_img, lambda act=act, c=c: INR(2, args.width, 3, 3, activation=act, c=c,
                                                       sidelength=args.size),
                      operator=P, target=hr, epochs=args.epochs, lr=lr, decay=args.decay,
                      trials=args.trials, seed=40, device=args.device)
        rows.append((act, fit.psnr_mean, fit.psnr_sem,
                     float(np.mean([t.ssim for t in fit.trials]))))
    print(f"SR x{args.factor}: {args.image} {args.size}x{args.size} RGB, {args.epochs} epochs, "
          f"{args.trials} trial(s), device={args.device}")
    print(f"{'method':10s} {'PSNR (dB)':>16s} {'SSIM':>6s}")
    for name, p, se, s in rows:
        print(f"{name:10s} {p:8.2f} ± {se:5.2f} {s:6.3f}")
    return rows


if __name__ == "__main__":
    main()
