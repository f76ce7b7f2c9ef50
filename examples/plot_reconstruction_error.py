"""
Reconstruction error against bias and noise
===========================================

Inverting ``y = ReLU(W x - alpha)`` by the dual frame of the active rows
(:func:`reluinj.relu_inverse`, ``method="dual"``) is exact wherever the layer is injective. We
scale the proven polytope bias by a factor ``t``: for ``t <= 1`` every point of the sphere is
recovered to rounding error; beyond, more and more points lose rank and are recovered only
partially. With noise on the outputs the error grows linearly with the noise level, at most by
the stability constant of :func:`reluinj.stability_constant` (the worst ``1/sqrt(A_I)`` over
the data, ``A_I`` the lower frame bound of the active rows).
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

W = reluinj.random_frame(40, 5, seed=0)
alpha0 = reluinj.polytope_bias(W).alpha
X = reluinj.testing.sphere_samples(5_000, 5, seed=1)

# %%
# Noise-free: error against the bias scale t.
ts = np.linspace(0, 2.5, 26)
err, rate = [], []
for t in ts:
    layer = reluinj.ReLULayer(W, t * alpha0)
    res = layer.inverse(layer(X))
    err.append(np.median(np.linalg.norm(res.x - X, axis=1)))
    rate.append(res.injective.mean())
err = np.array(err)

# %%
# With noise: outputs ``max(y + e, 0)`` with ``e ~ N(0, sigma^2 I)`` on the active rows, at t = 1.
layer = reluinj.ReLULayer(W, alpha0)
Y = layer(X)
stab = reluinj.stability_constant(W, alpha0, X)
sigmas = np.logspace(-8, -1, 8)
rng = np.random.default_rng(2)
noisy_err = []
for s in sigmas:
    Y_noisy = np.maximum(Y + s * rng.standard_normal(Y.shape) * (Y > 0), 0.0)
    E = Y_noisy - Y
    res = layer.inverse(Y_noisy)
    noisy_err.append(np.max(np.linalg.norm(res.x - X, axis=1) / np.linalg.norm(E, axis=1)))
print(f"stability constant (max 1/sqrt(A_I) over the data): {stab.constant:.3f}")
print("worst error amplification ||x_hat - x|| / ||e|| per noise level:",
      np.round(noisy_err, 3))

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
ax1.semilogy(ts, np.maximum(err, 1e-17), "o-", label="median ||x_hat - x||")
ax1.axvline(1.0, color="k", ls="--", lw=0.8)
ax1.text(1.03, 1e-3, "t = 1: the proven\npolytope bias", fontsize=9)
ax1.set_xlabel("bias = t * polytope_bias(W)")
ax1.set_ylabel("reconstruction error")
ax1b = ax1.twinx()
ax1b.plot(ts, rate, "s-", color="tab:orange", ms=3, label="injective fraction")
ax1b.set_ylabel("fraction of points where the layer is injective", color="tab:orange")
ax1.set_title("noise-free outputs, 5000 points of the sphere")
ax2.loglog(sigmas, noisy_err, "o-", label="worst ||x_hat - x|| / ||e||")
ax2.axhline(stab.constant, color="tab:red", ls="--", label="stability constant")
ax2.set_xlabel("noise level sigma")
ax2.set_ylabel("error amplification")
ax2.set_ylim(0.05, 5 * stab.constant)
ax2.legend()
ax2.set_title("noisy outputs, bias t = 1")
plt.show()
