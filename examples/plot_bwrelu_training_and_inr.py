"""
BW-ReLU in training: conditioning along the way, and an image fit
=================================================================

Two experiments of Shenouda, Zhou & Nowak (ICML 2024), shortened to run in seconds. First the
trend of their Figure 2: a one-hidden-layer network with 100 neurons is fitted by Adam to 20
samples of a 1-D target, and every few steps we record the condition number of its hidden
feature matrix ``Phi`` (20 x 100, :func:`reluinj.condition_number`). Then a small image is fitted
by a BW-ReLU and a ReLU implicit neural representation (:class:`reluinj.INR`,
:func:`reluinj.fit_image`). ``examples/conditioning_during_training.py`` is the full-length
version of the first experiment.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

import reluinj

torch.set_num_threads(2)


def target(x):
    return np.tanh(8 * x) * 0.5 + np.maximum(x - 0.3, 0)


def condition_history(activation, *, steps=300, every=15, seed=0):
    torch.manual_seed(seed)
    model = reluinj.INR(1, 100, 1, 1, activation=activation,
                        c=1.0 if activation == "bwrelu" else None).double()
    x = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    y = torch.from_numpy(target(x.numpy()))
    hidden = model.net[:-1]                          # the feature map x -> Phi(x)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    steps_rec, kappa = [], []
    for t in range(steps + 1):
        if t % every == 0:
            with torch.no_grad():
                kappa.append(reluinj.condition_number(hidden(x).numpy()))
            steps_rec.append(t)
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
    return np.array(steps_rec), np.array(kappa), loss.item()


runs = {act: condition_history(act) for act in ("relu", "bwrelu")}
for act, (_, kappa, mse) in runs.items():
    print(f"{act:7s}: cond(Phi) from {kappa[0]:.3g} to {kappa[-1]:.3g}; final MSE {mse:.2e}")

fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
for act, (step, kappa, _) in runs.items():
    ax.semilogy(step, kappa, label="BW-ReLU" if act == "bwrelu" else "ReLU")
ax.set_xlabel("Adam step")
ax.set_ylabel("cond(hidden feature matrix)")
ax.set_title("conditioning during training (trend of the paper's Fig. 2)")
ax.legend()
plt.show()

# %%
# An image fit
# ------------
# A 32x32 synthetic image (no download needed), 3 hidden layers of width 48, 200 full-batch
# Adam steps each; PSNR in dB (:func:`reluinj.psnr`).
yy, xx = np.mgrid[0:32, 0:32] / 31
image = (0.5 + 0.4 * np.sin(8 * xx) * np.cos(5 * yy)
         + 0.3 * ((xx - 0.6) ** 2 + (yy - 0.4) ** 2 < 0.05)).clip(0, 1)
fits = {}
for act, c in [("bwrelu", 6.0), ("relu", None)]:
    torch.manual_seed(0)
    model = reluinj.INR(2, 48, 3, 1, activation=act, c=c)
    fits[act] = reluinj.fit_image(image, model, epochs=200, lr=4e-3, progress=False)
    print(f"{act:7s}: PSNR {fits[act].psnr[-1]:.1f} dB")

fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), constrained_layout=True)
axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
axes[0].set_title("target")
for ax, act in zip(axes[1:3], fits):
    ax.imshow(np.squeeze(fits[act].image), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{'BW-ReLU' if act == 'bwrelu' else 'ReLU'} INR: {fits[act].psnr[-1]:.1f} dB")
for a in axes[:3]:
    a.set_axis_off()
for act, res in fits.items():
    axes[3].plot(res.psnr, label="BW-ReLU" if act == "bwrelu" else "ReLU")
axes[3].set_xlabel("epoch")
axes[3].set_ylabel("PSNR (dB)")
axes[3].legend()
plt.show()
