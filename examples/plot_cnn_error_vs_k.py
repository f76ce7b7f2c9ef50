"""
CNN layers: one-shot and IHT reconstruction error against the sparsity k
========================================================================

Gilbert et al. (IJCAI 2017) model one convolution + max-pooling layer as a *model-k-sparse*
code ``z = M(W x, k)`` (max-``|.|`` pooling per filter, then the ``k`` largest winners) and
reconstruct ``x`` from it by one step, ``x_hat = W^T M(W x, k)``
(:func:`reluinj.one_shot_reconstruct`), or by iterative hard thresholding (:func:`reluinj.iht`).
We measure both on signals that follow the model (``x = W^T z`` with ``z`` model-k-sparse,
:func:`reluinj.sample_model_sparse`) for the paper's Section 4.2 construction, and the sampled
model-RIP constant of :func:`reluinj.estimate_model_rip` that governs the error bound.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

op = reluinj.ConvOperator.random(96, 32, 5, 32, seed=0)       # K filters, M channels, ell, D
ks = [2, 5, 10, 15, 20, 30]
one_shot, iht_err, delta = [], [], []
for k in ks:
    z = reluinj.sample_model_sparse(op.K, op.n, k, size=30, seed=1)
    x = op.adjoint(z)                                          # (30, M, D)
    rel = lambda xh: np.median(np.linalg.norm((xh - x).reshape(30, -1), axis=1)
                               / np.linalg.norm(x.reshape(30, -1), axis=1))
    one_shot.append(rel(reluinj.one_shot_reconstruct(op, x, k)))
    iht_err.append(rel(reluinj.iht(op, x, k, max_iter=30).x))
    delta.append(reluinj.estimate_model_rip(op, k, n_samples=200, seed=2).delta)
for k, a, b, d in zip(ks, one_shot, iht_err, delta):
    print(f"k = {k:>2}: one-shot {a:.3f}  IHT(30) {b:.3f}  sampled model-RIP delta {d:.3f}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
ax1.plot(ks, one_shot, "o-", label="one shot  W^T M(W x, k)")
ax1.plot(ks, iht_err, "s-", label="IHT, 30 iterations")
ax1.set_xlabel("sparsity k (pooled winners kept)")
ax1.set_ylabel("median relative error ||x_hat - x|| / ||x||")
ax1.set_ylim(bottom=0)
ax1.legend()
ax1.set_title("96 filters, 32 channels, width 5, length 32")
ax2.plot(ks, delta, "o-", color="tab:green")
ax2.set_xlabel("sparsity k")
ax2.set_ylabel("sampled model-RIP constant delta_k (lower bound)")
ax2.set_title("estimate_model_rip")
plt.show()

# %%
# An image through one 2-D conv + 2x2 pooling layer
# -------------------------------------------------
# A :class:`reluinj.ConvOperator2D` with 32 random 5x5 filters on a 32x32 image; the code keeps
# the k largest 2x2-pooled winners; the image is recovered by IHT. A smooth image does not follow
# the model exactly, so the error is larger than above and decreases as k grows.
yy, xx = np.mgrid[0:32, 0:32] / 31
image = (np.exp(-((xx - 0.35) ** 2 + (yy - 0.4) ** 2) / 0.02)
         + 0.7 * ((xx - 0.7) ** 2 + (yy - 0.65) ** 2 < 0.03)
         + 0.3 * np.sin(6 * xx))[None]                        # (M=1, 32, 32)
op2 = reluinj.ConvOperator2D.random(32, 1, (5, 5), (32, 32), seed=0)
fig, axes = plt.subplots(1, 4, figsize=(11, 3), constrained_layout=True)
axes[0].imshow(image[0], cmap="gray")
axes[0].set_title("image")
for ax, k in zip(axes[1:], [50, 200, 800]):
    res = reluinj.iht(op2, image, k, pool=(2, 2), max_iter=30)
    e = np.linalg.norm(res.x - image) / np.linalg.norm(image)
    ax.imshow(res.x[0], cmap="gray")
    ax.set_title(f"IHT, k = {k}: error {e:.2f}")
for ax in axes:
    ax.set_axis_off()
plt.show()
