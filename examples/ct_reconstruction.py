"""
CT reconstruction with INRs (Shenouda, Zhou & Nowak, ICML 2024, Sec. 5.1 / Fig. 4)
==================================================================================

The Shepp–Logan phantom (scikit-image) is measured by the parallel-beam Radon transform of the
authors' code (:class:`reluinj.RadonTransform`, angles ``linspace(0, 180, n)``); INRs are fitted
to the sinogram through the transform with :func:`reluinj.fit_inr` (full-batch Adam,
η(t) = η₀·0.1^{min(t/T, 1)}), and compared with filtered backprojection
(``skimage.transform.iradon``) from the same angles. PSNR = 10·log10(1/MSE) (the CT
convention), SSIM from scikit-image; mean ± standard error over the trials.

Small CPU default (about a minute on 2 cores)::

    python examples/ct_reconstruction.py

``--select-c 1,2,3,5`` adds the c-sweep of Sec. 5.4 / Fig. 7: one BW-ReLU network per c trained
to the same stopping loss, with the exact eq. 53 variation norm and the "path norm" the
authors' script prints (``code norm``); the smallest eq. 53 norm picks c.

Paper-scale settings (GPU; the paper uses the 326x435 chest image of its Drive folder)::

    python examples/ct_reconstruction.py --size 256 --angles 100 --width 300 \
        --epochs 10000 --decay-epochs 5000 --trials 5 --device cuda

Needs the ``torch`` extra and scikit-image.
"""
import argparse

import numpy as np

from reluinj import INR, RadonTransform, fit_inr, psnr, select_c, ssim

#: (activation, c or ω₀, η₀) from the paper's CT script (bwrelu-spec.md §5.4).
METHODS = [("bwrelu", 3.0, 2e-3), ("siren", 25.0, 1e-3), ("wire", 7.0, 5e-3),
           ("relu_pe", None, 3e-3), ("relu", None, 3e-3)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--angles", type=int, default=30)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--decay-epochs", type=int, default=None,
                    help="T of the schedule (the authors' CT script: 5000); default --epochs")
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default=",".join(m for m, _, _ in METHODS))
    ap.add_argument("--select-c", default=None, metavar="C1,C2,...",
                    help="also run the c-sweep of Sec. 5.4 / Fig. 7 (reluinj.select_c)")
    ap.add_argument("--stop-loss", type=float, default=None,
                    help="stopping loss of the c-sweep (default 1e-3 * mean(sinogram^2))")
    args = ap.parse_args(argv)

    from skimage.data import shepp_logan_phantom
    from skimage.transform import iradon, resize

    gt = resize(shepp_logan_phantom(), (args.size, args.size), anti_aliasing=True)
    gt = (gt - gt.min()) / (gt.max() - gt.min())
    R = RadonTransform(gt.shape, n_angles=args.angles)
    sino = R(gt)
    # filtered backprojection; skimage's angle convention is the opposite sign (see RadonTransform)
    fbp = iradon(sino.T, -R.angles, circle=False, output_size=args.size, filter_name="ramp")
    rows = [("FBP (skimage iradon)", psnr(gt, fbp), 0.0, ssim(gt, np.clip(fbp, 0, 1)))]
    wanted = args.methods.split(",")
    for act, c, lr in METHODS:
        if act not in wanted:
            continue
        fit = fit_inr(sino, lambda act=act, c=c: INR(2, args.width, 3, 1, activation=act, c=c,
                                                     sidelength=args.angles),
                      operator=R, target=gt, epochs=args.epochs, lr=lr,
                      decay_epochs=args.decay_epochs, trials=args.trials, seed=40,
                      device=args.device)
        rows.append((act, fit.psnr_mean, fit.psnr_sem,
                     float(np.mean([t.ssim for t in fit.trials]))))
    print(f"CT {args.size}x{args.size}, {args.angles} angles, {args.epochs} epochs, "
          f"{args.trials} trial(s), device={args.device}")
    print(f"{'method':22s} {'PSNR (dB)':>16s} {'SSIM':>6s}")
    for name, p, se, s in rows:
        print(f"{name:22s} {p:8.2f} ± {se:5.2f} {s:6.3f}")
    if args.select_c:
        cs = [float(v) for v in args.select_c.split(",")]
        stop = args.stop_loss or 1e-3 * float(np.mean(sino ** 2))
        sel = select_c(sino, lambda c: INR(2, args.width, 3, 1, c=c), cs, operator=R,
                       stop_loss=stop, target=gt, epochs=args.epochs, lr=3e-3, seed=35,
                       device=args.device)
        print(f"c-sweep to stopping loss {stop:.3g} (cap {args.epochs} epochs)")
        print(f"{'c':>6s} {'epochs':>7s} {'PSNR':>7s} {'eq.53 norm':>11s} {'code norm':>10s}")
        for k, c in enumerate(sel.c):
            print(f"{c:6.2f} {sel.n_epochs[k]:7d} {sel.psnr[k]:7.2f} "
                  f"{sel.variation_norm[k]:11.1f} {sel.code_norm[k]:10.1f}"
                  f"{'' if sel.reached[k] else '  (not reached)'}")
        print(f"smallest eq. 53 norm: c = {sel.best_c:g}")
    return rows


if __name__ == "__main__":
    main()
