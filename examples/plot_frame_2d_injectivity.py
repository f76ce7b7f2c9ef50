"""
Where a 2-D ReLU layer is injective
===================================

The paper's Figure 3 (Haider, Ehler & Balazs): for a frame of five vectors in the plane and a
given bias, the layer ``x -> ReLU(W x - alpha)`` is injective at ``x`` exactly when the rows of
``W`` that are active at ``x`` (``<x, phi_i> >= alpha_i``) still span R^2. We evaluate
:meth:`reluinj.ReLULayer.is_injective_at` on a grid and colour the plane by it (left), and by the
active set itself (right). The circle is the largest sphere on which
:func:`reluinj.polytope_bias` *proves* injectivity for this bias.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

angles = np.deg2rad([0, 80, 150, 215, 290])
W = np.column_stack([np.cos(angles), np.sin(angles)])      # rows = the frame vectors
alpha = np.full(5, 0.4)                                    # the bias under study
layer = reluinj.ReLULayer(W, alpha)

# %%
# Injectivity and active sets on a grid
# -------------------------------------
# ``is_injective_at`` runs a batched numerical rank test of the active rows, one sample per
# grid point.
t = np.linspace(-3, 3, 401)
xx, yy = np.meshgrid(t, t)
X = np.column_stack([xx.ravel(), yy.ravel()])
injective = layer.is_injective_at(X).reshape(xx.shape)
active = layer.active_mask(X)                              # (n_points, 5) bool
code = (active * (1 << np.arange(5))).sum(axis=1).reshape(xx.shape)

# %%
# The polytope bias of this frame on the unit sphere: for a sphere of radius r the admissible
# bias scales with r, so ``alpha`` is certified on the sphere of radius ``max(alpha / a)``.
est = reluinj.polytope_bias(W)
radius = float(np.max(alpha / est.alpha))
print("polytope bias on the unit circle:", np.round(est.alpha, 3))
print(f"alpha = 0.4 is certified on every circle of radius >= {radius:.3f}")
print(f"fraction of the grid where the layer is injective: {injective.mean():.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
ax = axes[0]
ax.contourf(xx, yy, injective, levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6e5c1"])
ax.set_title("injective (green) / not injective (red), alpha = 0.4")
ax2 = axes[1]
_, codes = np.unique(code, return_inverse=True)
ax2.pcolormesh(xx, yy, codes.reshape(xx.shape), cmap="tab20", shading="auto")
ax2.set_title("active-set regions (one colour per set of active rows)")
for a in axes:
    for i, (phi, ai) in enumerate(zip(W, alpha)):
        # the boundary line <x, phi_i> = alpha_i of neuron i
        p0 = ai * phi
        d = np.array([-phi[1], phi[0]])
        seg = np.array([p0 - 5 * d, p0 + 5 * d])
        a.plot(seg[:, 0], seg[:, 1], color="0.35", lw=0.8)
        a.annotate("", xy=phi, xytext=(0, 0),
                   arrowprops=dict(arrowstyle="->", color="k", lw=1.5))
        a.text(*(1.15 * phi), f"$\\varphi_{i + 1}$", ha="center", va="center")
    a.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--", color="tab:blue", lw=1.5))
    a.set_xlim(-3, 3)
    a.set_ylim(-3, 3)
    a.set_aspect("equal")
axes[0].text(-2.9, -2.85, f"dashed: radius {radius:.2f} (certified by polytope_bias)",
             color="tab:blue", fontsize=9)
plt.show()
