"""
Facets, spherical caps and most-correlated bases of a 3-D frame
===============================================================

The paper's Figure 4: a frame of ``m = 14`` unit vectors in R^3 inscribes a polytope
``P = conv{phi_i}``. The cones over its facets cover R^3; on the sphere they cut out the
*spherical caps*. The polytope bias of :func:`reluinj.polytope_bias` is computed facet by
facet and shown at each vertex. The bottom panel colours the sphere by the *most-correlated
basis* ``J*(x)`` (:func:`reluinj.most_correlated_basis`) — the patches on which
:func:`reluinj.sampled_bias` takes its minima. :func:`reluinj.plot_sphere_facets_3d` draws all
three; the maps are in longitude and latitude.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

W = reluinj.random_frame(14, 3, seed=3)                    # unit rows
fig = reluinj.plot_sphere_facets_3d(W)
data = fig.reluinj_data
print(f"{data['facets'].n_facets} facets; polytope bias per vertex:",
      np.round(data["estimate"].alpha, 3))
print(f"{len(data['bases'])} distinct most-correlated bases on the sphere")

# %%
# The icosahedron is regular: every cap is the patch of one most-correlated basis (the
# paper's Figure 5, left), and all vertices get the same bias.
fig = reluinj.plot_sphere_facets_3d(reluinj.icosahedron())
data = fig.reluinj_data
print(f"{data['facets'].n_facets} facets, {len(data['bases'])} most-correlated bases")
plt.show()
