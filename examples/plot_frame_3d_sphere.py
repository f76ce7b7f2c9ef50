"""
Facets, spherical caps and most-correlated bases of a 3-D frame
===============================================================

The paper's Figure 4: a frame of ``m = 14`` unit vectors in R^3 inscribes a polytope
``P = conv{phi_i}``. The cones over its facets cover R^3; on the sphere they cut out the
*spherical caps* (left). The polytope bias of :func:`reluinj.polytope_bias` is computed facet by
facet and shown at each vertex. The right panel colours the sphere by the *most-correlated
basis* ``J*(x)``, the three rows with the largest correlation ``<x, phi_i>`` — the patches on
which :func:`reluinj.sampled_bias` takes its minima.
"""
import matplotlib.pyplot as plt
import numpy as np
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

import reluinj
import reluinj.hull

W = reluinj.random_frame(14, 3, seed=3)                    # unit rows
F = reluinj.hull.facets(W)
est = reluinj.polytope_bias(W)
print(f"{len(F.indptr) - 1} facets; polytope bias per vertex:", np.round(est.alpha, 3))

# %%
# Which cap and which most-correlated basis does each point of the sphere belong to?
# The ray through ``x`` leaves ``P`` through the facet maximising ``<n_F, x> / d_F``
# (``n_F`` the unit normal, ``d_F`` the distance of its hyperplane to the origin). We evaluate
# both on a longitude/latitude grid and draw the sphere as a map.
lon, lat = np.meshgrid(np.linspace(-np.pi, np.pi, 721), np.linspace(-np.pi / 2, np.pi / 2, 361))
X = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1).reshape(-1, 3)
normals, offsets = F.equations[:, :3], -F.equations[:, 3]
cap = np.argmax((X @ normals.T) / offsets, axis=1).reshape(lon.shape)
top3 = np.sort(np.argsort(-(X @ W.T), axis=1)[:, :3], axis=1)
_, mcb = np.unique(top3, axis=0, return_inverse=True)
mcb = mcb.reshape(lon.shape)
print(f"{mcb.max() + 1} distinct most-correlated bases on the sphere")
v_lon, v_lat = np.arctan2(W[:, 1], W[:, 0]), np.arcsin(np.clip(W[:, 2], -1, 1))

# %%
rng = np.random.default_rng(1)
fig = plt.figure(figsize=(12, 8.5), constrained_layout=True)
gs = fig.add_gridspec(2, 2)
ax0 = fig.add_subplot(gs[0, 0], projection="3d")
polys = [W[F.indices[F.indptr[f]:F.indptr[f + 1]]] for f in range(len(F.indptr) - 1)]
face = plt.cm.tab20(rng.permutation(len(polys)) % 20)
face[:, 3] = 0.55
ax0.add_collection3d(Poly3DCollection(polys, facecolor=face, edgecolor="k", lw=0.6))
sc = ax0.scatter(*W.T, c=est.alpha, cmap="viridis", s=70, edgecolor="k", depthshade=False)
ax0.view_init(elev=20, azim=-50)
ax0.set_box_aspect((1, 1, 1))
ax0.set_axis_off()
ax0.set_title("the polytope P = conv{phi_i} and its facets")
fig.colorbar(sc, ax=ax0, shrink=0.7, label="polytope bias alpha_i")

ax1 = fig.add_subplot(gs[0, 1])
ax1.pcolormesh(np.degrees(lon), np.degrees(lat), rng.permutation(cap.max() + 1)[cap] % 20,
               cmap="tab20", shading="auto")
ax1.set_title("spherical caps: the cones over the facets")
ax2 = fig.add_subplot(gs[1, :])
ax2.pcolormesh(np.degrees(lon), np.degrees(lat), rng.permutation(mcb.max() + 1)[mcb] % 20,
               cmap="tab20b", shading="auto")
ax2.set_title("most-correlated-basis patches J*(x), vertices coloured by their polytope bias")
for ax in (ax1, ax2):
    ax.scatter(np.degrees(v_lon), np.degrees(v_lat), c=est.alpha, cmap="viridis", s=60,
               edgecolor="k", zorder=3)
    ax.set_xlabel("longitude (degrees)")
    ax.set_ylabel("latitude (degrees)")
    ax.set_aspect("equal")
for i, (a, b) in enumerate(zip(np.degrees(v_lon), np.degrees(v_lat))):
    ax2.annotate(f"{est.alpha[i]:+.2f}", (a, b), xytext=(6, 6), textcoords="offset points",
                 fontsize=8, bbox=dict(boxstyle="round,pad=0.15", fc="w", alpha=0.8))
plt.show()
