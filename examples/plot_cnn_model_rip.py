"""
CNN layers: the sampled model-RIP constant, and an image through conv + max pooling
===================================================================================

Theorem 3.3 of Gilbert et al. (IJCAI 2017) bounds the one-shot reconstruction error
``||W^T M(W x, k) - x|| / ||x||`` of a conv + pooling layer on model-k-sparse signals
``x = W^T z`` by ``5 delta_2k / (1 - delta_k) * sqrt((1 + delta_2k) / (1 - delta_2k))``
(:func:`reluinj.theorem_3_3_bound`), where ``delta_k`` and ``delta_2k`` are the model-RIP
constants of ``W^T`` on the model set ``M_k`` and on ``M_k^2 = M_k + M_k``.

:func:`reluinj.estimate_model_rip` samples codes ``z`` and returns the largest deviation
``|(||W^T z||^2 / ||z||^2) - 1|`` it saw: a **lower bound** of the true constant. Two facts
sharpen it for free: the model set only grows with k (``M_j`` is inside ``M_k`` for ``j <= k``,
codes have *at most* k nonzeros) and ``M_k`` is inside ``M_k^2``, so the true constants are
non-decreasing and ``delta_k <= delta_2k``; the running maximum of the samples is still a lower
bound. The Theorem 3.3 bound grows with both constants, so plugging these lower bounds in gives
a value the true bound is **at least**: where it exceeds 1, the theorem says nothing.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

ks = [1, 2, 3, 5, 10, 20, 40, 80]
layers = {
    "Gaussian, fan-in scaled": reluinj.ConvOperator.random(96, 32, 5, 32, seed=0),
    "unit-norm filters": reluinj.ConvOperator.random(96, 32, 5, 32, normalize="unit", seed=0),
}
results = {}
for name, op in layers.items():
    dk = np.array([reluinj.estimate_model_rip(op, k, n_samples=1000, seed=2).delta for k in ks])
    d2k = np.array([reluinj.estimate_model_rip(op, k, order=2, n_samples=1000, seed=3).delta
                    for k in ks])
    lo_k = np.maximum.accumulate(dk)                        # M_j inside M_k for j <= k
    lo_2k = np.maximum(lo_k, np.maximum.accumulate(d2k))    # and M_k inside M_k^2
    bound = np.array([reluinj.theorem_3_3_bound(a, b) if b < 1 else np.nan
                      for a, b in zip(lo_k, lo_2k)])
    err = []
    for k in ks:                                            # one-shot on model signals
        z = reluinj.sample_model_sparse(op.K, op.n, k, size=30, seed=1)
        x = op.adjoint(z)
        xh = reluinj.one_shot_reconstruct(op, x, k)
        err.append(np.median(np.linalg.norm((xh - x).reshape(30, -1), axis=1)
                             / np.linalg.norm(x.reshape(30, -1), axis=1)))
    results[name] = dk, lo_k, lo_2k, bound, np.array(err)
    print(name)
    print("   k  sampled delta_k  lower bd delta_k  lower bd delta_2k  Thm 3.3 bound >=  "
          "one-shot error")
    for row in zip(ks, dk, lo_k, lo_2k, bound, err):
        print("  {:>2}  {:15.3f}  {:16.3f}  {:17.3f}  {:16.2f}  {:14.3f}".format(*row))

# %%
# Both layers (blue: Gaussian filters scaled by ``1 / sqrt(fan-in)``, orange: the same filters
# rescaled to unit norm) have 96 filters of width 5 on 32 channels of length 32 (``W`` is
# 2688 x 1024).
# With fan-in scaling the row norms of ``W`` scatter around 1, so already ``delta_1`` is about
# 0.32. The sampled ``delta_k`` then *falls*, to about 0.17 at k = 80, because the ratio of a
# random code with many nonzeros averages over many rows: a property of random sampling, not
# of the constant, whose lower bound (the running maximum, solid line) stays at 0.32. With
# unit-norm filters a single atom keeps its norm, so ``delta_1 = 0``; the overlap between
# shifted filters gives about 0.24 from k = 2 on (and ``delta_2k`` is about 0.22 at k = 1).
#
# The bound is below 1 only if ``delta_2k`` is under 0.169 (reached with ``delta_k = 0``), and
# under 0.147 when ``delta_k = delta_2k`` (grey line in the left panel). No k gets there, since
# the lower bound of ``delta_2k`` is at least 0.22 everywhere: the bound is at least 3.3
# (fan-in) and at least 1.4 to 2.1 (unit norm) at every k, so Theorem 3.3 certifies none of
# these reconstructions. (A value below 1 would not have certified anything either: the true
# constants may be larger than the sampled ones.) The measured median one-shot error is well
# below the bound and grows with k for both layers: from 0.06 at k = 1 for the fan-in layer
# (0.000 at k = 1 and 2 for the unit-norm one) to about 0.7 at k = 80.
colors = {"Gaussian, fan-in scaled": "tab:blue", "unit-norm filters": "tab:orange"}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
for name, (dk, lo_k, lo_2k, bound, err) in results.items():
    c = colors[name]
    ax1.plot(ks, dk, "o", color=c)
    ax1.plot(ks, lo_k, "-", color=c)
    ax1.plot(ks, lo_2k, "--", color=c)
    ax2.plot(ks, bound, "s-", color=c, label=f"{name}: Thm 3.3 bound is at least")
    ax2.plot(ks, np.maximum(err, 1e-3), "o:", color=c, label=f"{name}: one-shot error")
ax1.axhline(0.147, color="gray", lw=0.8)
ax1.text(1.05, 0.152, "0.147", ha="left", va="bottom", color="gray")
ax1.set_xscale("log")
ax1.set_xlabel("sparsity k")
ax1.set_ylabel("model-RIP constant of W^T")
ax1.set_ylim(0, 0.45)
ax1.set_title("estimate_model_rip, 1000 samples per k")
ax1.legend([plt.Line2D([], [], color="k", ls=ls, marker=m) for ls, m in
            [("none", "o"), ("-", ""), ("--", "")]],
           ["sampled delta_k", "lower bound of delta_k (running max)",
            "lower bound of delta_2k"], fontsize=8, loc="upper right")
ax2.axhline(1.0, color="gray", lw=0.8)
ax2.set_xscale("log")
ax2.set_yscale("log")
ax2.set_xlabel("sparsity k")
ax2.set_ylabel("relative error ||x_hat - x|| / ||x||  (0 drawn at 1e-3)")
ax2.set_title("theorem_3_3_bound vs median one-shot error")
ax2.legend(fontsize=7, loc="lower right")
plt.show()

# %%
# An image through one 2-D conv + 2x2 max-pooling layer
# -----------------------------------------------------
# The 512 x 512 ``camera`` image of scikit-image, resized to 32 x 32, goes through a
# :class:`reluinj.ConvOperator2D` with 32 random 5 x 5 filters (``W`` is 25088 x 1024, output
# maps 28 x 28) and 2 x 2 max pooling (14 x 14 windows per filter); the code keeps the k
# largest pooled winners. We reconstruct the image by the one-shot decoder
# ``W^T M(W x, k)`` and by 30 iterations of IHT (step ``1 / ||W||^2``).
#
# An image is not a model signal ``W^T z``, and ``W^T W`` scales a generic input up by about
# the number of filters, so the raw one-shot error *grows* with k (more winners, more
# amplification): from 0.93 at k = 50 to 6.2 at k = 3200. Rescaled by its best scalar
# ``c = <x_hat, x> / ||x_hat||^2`` it falls from 0.84 to about 0.6 at k = 800 and then stalls.
# The IHT error falls from 0.85 at k = 50 (the rescaled one shot is as good there) to 0.30 at
# k = 3200 (3200 code entries for 1024 pixels); from k = 200 on IHT is the better decoder.
from scipy.sparse.linalg import svds  # noqa: E402
from skimage import data, transform  # noqa: E402

image = transform.resize(data.camera() / 255.0, (32, 32), anti_aliasing=True)[None]  # (1, 32, 32)
op2 = reluinj.ConvOperator2D.random(32, 1, (5, 5), (32, 32), seed=0)
# step="auto" of iht is 1 / ||W||^2 (ARPACK, start vector of ones, 1e-4 margin), recomputed at
# every call; computed once here, it gives the same iterates.
norm2 = svds(op2, k=1, return_singular_vectors=False, v0=np.ones(op2.shape[1]))[0] ** 2
step = 1.0 / ((1.0 + 1e-4) * norm2)
rel = lambda xh: np.linalg.norm(xh - image) / np.linalg.norm(image)
print("     k  one-shot  one-shot rescaled  IHT(30)")
recon = {}
for k in [50, 200, 800, 3200]:
    xo = reluinj.one_shot_reconstruct(op2, image, k, pool=(2, 2))
    c = np.vdot(xo, image) / np.vdot(xo, xo)
    xi = reluinj.iht(op2, image, k, pool=(2, 2), max_iter=30, step=step).x
    recon[k] = c * xo, xi
    print(f"  {k:>4}  {rel(xo):8.3f}  {rel(c * xo):17.3f}  {rel(xi):7.3f}")

# %%
# Each row is one k: the original, the rescaled one-shot reconstruction, the IHT
# reconstruction (all three on the grey scale [0, 1], values outside clipped) and the IHT error
# ``|x_hat - x|`` (same colour scale in both rows). At k = 200 both decoders recover mostly the
# bright sky and a speckled ground; at k = 3200 IHT shows the cameraman, with pixel noise,
# while the rescaled one shot is still patchy. The IHT error is largest along the border,
# where fewer filter shifts reach a pixel (valid convolution, no padding).
shown = [200, 3200]
fig, axes = plt.subplots(len(shown), 4, figsize=(11, 5.6), constrained_layout=True)
emax = max(np.abs(recon[k][1] - image).max() for k in shown)
for row, k in zip(axes, shown):
    xo, xi = recon[k]
    row[0].imshow(image[0], cmap="gray", vmin=0, vmax=1)
    row[0].set_title("original, 32 x 32")
    row[1].imshow(xo[0], cmap="gray", vmin=0, vmax=1)
    row[1].set_title(f"one shot (rescaled), k = {k}\nerror {rel(xo):.2f}")
    row[2].imshow(xi[0], cmap="gray", vmin=0, vmax=1)
    row[2].set_title(f"IHT, 30 iterations, k = {k}\nerror {rel(xi):.2f}")
    im = row[3].imshow(np.abs(xi - image)[0], cmap="magma", vmin=0, vmax=emax)
    row[3].set_title(f"|IHT - original|, k = {k}")
    for ax in row:
        ax.set_axis_off()
fig.colorbar(im, ax=axes[:, 3], shrink=0.8)
plt.show()
