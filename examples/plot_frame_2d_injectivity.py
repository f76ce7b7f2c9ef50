"""
Where a 2-D ReLU layer is injective
===================================

The paper's Figure 3 (Haider, Ehler & Balazs): for a frame of five vectors in the plane and a
given bias, the layer ``x -> ReLU(W x - alpha)`` is injective at ``x`` exactly when the rows of
``W`` that are active at ``x`` (``<x, phi_i> >= alpha_i``) still span R^2.
:func:`reluinj.plot_injectivity_region_2d` evaluates :meth:`reluinj.ReLULayer.is_injective_at`
on a grid and colours the plane by it (left), or by the active set itself, the non-injective
cells hatched (right). The dashed circle bounds the circles on which
:func:`reluinj.polytope_bias` *proves* injectivity for this bias.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

angles = np.deg2rad([0, 80, 150, 215, 290])
W = np.column_stack([np.cos(angles), np.sin(angles)])      # rows = the frame vectors
alpha = np.full(5, 0.4)                                    # the bias under study

# %%
# The polytope bias of this frame on the unit sphere: for a sphere of radius r the admissible
# bias scales with r, so ``alpha`` is certified on every circle of radius ``>= max(alpha / a)``.
est = reluinj.polytope_bias(W)
print("polytope bias on the unit circle:", np.round(est.alpha, 3))
print(f"alpha = 0.4 is certified on every circle of radius >= {np.max(alpha / est.alpha):.3f}")

# %%
# Injectivity and active sets on a grid
# -------------------------------------
# Both panels share the box ``[-3, 3]^2``; the arrays behind each picture come back as
# ``fig.reluinj_data``.
fig, axes = plt.subplots(1, 2, figsize=(12, 6), constrained_layout=True)
reluinj.plot_injectivity_region_2d(W, alpha, ax=axes[0], extent=(-3, 3, -3, 3))
data = fig.reluinj_data
print(f"fraction of the grid where the layer is injective: {data['injective'].mean():.3f}")
print("certified radii (lo, hi):", data["certified_radii"])
reluinj.plot_injectivity_region_2d(W, alpha, ax=axes[1], extent=(-3, 3, -3, 3),
                                   color_by="active_set")
print(f"{len(fig.reluinj_data['active_sets'])} distinct active sets in the box")

# %%
# A negative bias: the rows of this frame leave no gap of 90 degrees, so every point activates
# two independent rows and the layer is injective on the whole plane (injectivity radius inf).
fig = reluinj.plot_injectivity_region_2d(W, -0.3, color_by="active_set")
print("injectivity radius for alpha = -0.3:", fig.reluinj_data["radius"].radius)
plt.show()
