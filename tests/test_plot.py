"""The pictures of the frame theory (extra ``plot``): what is drawn is checked against
independent computations written here (brute-force ranks of the active rows, Qhull facets of
the normalized rows, cones solved point by point, correlations sorted by hand)."""
import sys

import numpy as np
import pytest

import reluinj

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402
from scipy.spatial import ConvexHull  # noqa: E402

PENTAGON = np.column_stack([np.cos(np.deg2rad([0, 80, 150, 215, 290])),
                            np.sin(np.deg2rad([0, 80, 150, 215, 290]))])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _grid_points(data):
    xx, yy = np.meshgrid(data["x"], data["y"])
    return np.column_stack([xx.ravel(), yy.ravel()])


def _brute_force(W, alpha, X):
    """Active sets by <x, phi_i> >= alpha_i and injectivity by np.linalg.matrix_rank of the
    active rows, one point at a time; `clear` marks points off every line by > 1e-9."""
    G = X @ W.T - alpha
    active = G >= 0
    rank2 = np.array([np.linalg.matrix_rank(W[a]) == 2 if a.any() else False for a in active])
    clear = np.min(np.abs(G), axis=1) > 1e-9
    return active, rank2, clear


def _mesh(ax):
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    return np.asarray(meshes[0].get_array()).reshape(-1)


def _png(fig, name):
    fig.savefig(f"/tmp/reluinj_test_plot_{name}.png", dpi=60)


# --- plot_injectivity_region_2d -----------------------------------------------------------------
# A frame with two parallel rows (0 and 1) and one antiparallel pair: counting active rows would
# call cells with rows {0, 1} only injective; the rank rule does not.
W_PAR = np.array([[1.0, 0.2], [2.0, 0.4], [-0.3, 1.0], [0.1, -1.0], [-1.0, -0.2]])
ALPHA_PAR = np.array([0.3, -0.5, 0.2, -0.4, 0.35])


@pytest.mark.parametrize("W, alpha", [(PENTAGON, 0.4), (W_PAR, ALPHA_PAR),
                                      (reluinj.random_frame(9, 2, seed=4), -0.2)],
                         ids=["pentagon", "parallel-rows", "random9"])
def test_injective_grid_is_the_brute_force_rank(W, alpha):
    fig = reluinj.plot_injectivity_region_2d(W, alpha, resolution=73, extent=(-2.5, 2, -2, 3))
    data = fig.reluinj_data
    X = _grid_points(data)
    active, rank2, clear = _brute_force(W, np.broadcast_to(alpha, (len(W),)), X)
    assert clear.mean() > 0.95
    inj = data["injective"].reshape(-1)
    np.testing.assert_array_equal(inj[clear], rank2[clear])
    np.testing.assert_array_equal(data["active"].reshape(-1, len(W))[clear], active[clear])
    # what is drawn is that grid: the colour mesh holds injective (1) / not injective (0)
    np.testing.assert_array_equal(_mesh(fig.axes[0]), inj.astype(float))
    assert data["x"][0] == -2.5 and data["x"][-1] == 2 and data["y"][0] == -2
    assert fig.axes[0].get_xlim() == (-2.5, 2.0) and fig.axes[0].get_ylim() == (-2.0, 3.0)
    assert fig.axes[0].get_aspect() == 1.0
    _png(fig, "injective")


def test_the_rank_rule_is_not_a_count():
    # rows 0 and 1 are parallel: where exactly they are active, two rows are active but the
    # layer is not injective (the brute-force rank says so, and so must the picture)
    data = reluinj.plot_injectivity_region_2d(W_PAR, ALPHA_PAR, resolution=101).reluinj_data
    act = data["active"]
    only01 = act[..., 0] & act[..., 1] & ~act[..., 2:].any(axis=-1)
    assert only01.any()
    assert not data["injective"][only01].any()


@pytest.mark.parametrize("W, alpha", [(PENTAGON, 0.4), (W_PAR, ALPHA_PAR)],
                         ids=["pentagon", "parallel-rows"])
def test_active_set_colours_are_the_active_sets(W, alpha):
    fig = reluinj.plot_injectivity_region_2d(W, alpha, resolution=81, color_by="active_set")
    data = fig.reluinj_data
    X = _grid_points(data)
    active, _, clear = _brute_force(W, np.broadcast_to(alpha, (len(W),)), X)
    labels = data["labels"].reshape(-1)
    sets = data["active_sets"]
    assert len(np.unique(sets, axis=0)) == len(sets)          # one colour index per set
    np.testing.assert_array_equal(sets[labels][clear], active[clear])
    np.testing.assert_array_equal(_mesh(fig.axes[0]), labels.astype(float))
    # the pentagon's arrangement of 5 lines in general position has 1 + 5 + 10 = 16 cells
    if W is PENTAGON:
        assert len(sets) == 16
    _png(fig, "active_set")


@pytest.mark.parametrize("color_by", ["injective", "active_set"])
@pytest.mark.parametrize("m", [3, 5, 8])
def test_one_arrow_per_frame_vector(m, color_by):
    W = reluinj.random_frame(m, 2, seed=m)
    fig = reluinj.plot_injectivity_region_2d(W, 0.1, resolution=20, color_by=color_by)
    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == m
    # each arrow runs from the origin to phi_i
    for arrow, phi in zip(arrows, W):
        path = arrow._posA_posB
        np.testing.assert_allclose(path, [(0.0, 0.0), tuple(phi)])


def test_injectivity_radius_circle_is_the_grid_radius():
    # docstring example of injectivity_radius: r = sqrt(2) exactly (the corner (-1, -1))
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    fig = reluinj.plot_injectivity_region_2d(W, -1.0, resolution=241, extent=(-3, 3, -3, 3))
    data = fig.reluinj_data
    assert data["radius"].exact
    assert data["radius"].radius == pytest.approx(np.sqrt(2), rel=1e-12)
    circles = [p for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert any(c.get_radius() == pytest.approx(np.sqrt(2)) for c in circles)
    # brute force: the nearest non-injective grid point is at distance ~sqrt(2)
    X = _grid_points(data)
    _, rank2, _ = _brute_force(W, np.full(3, -1.0), X)
    nearest = np.linalg.norm(X[~rank2], axis=1).min()
    h = data["x"][1] - data["x"][0]
    assert np.sqrt(2) - 1e-9 <= nearest <= np.sqrt(2) + 2 * h


@pytest.mark.parametrize("alpha", [0.4, np.array([0.2, 0.5, 0.3, 0.1, 0.45])])
def test_certified_circles_are_injective_on_the_grid(alpha):
    fig = reluinj.plot_injectivity_region_2d(PENTAGON, alpha, resolution=161)
    data = fig.reluinj_data
    lo, hi = data["certified_radii"]
    # closed form from the polytope bias: alpha_i <= r a_i for all i iff r >= max alpha_i / a_i
    a = reluinj.polytope_bias(PENTAGON).alpha
    assert lo == pytest.approx(np.max(alpha / a)) and hi == np.inf
    X = _grid_points(data)
    r = np.linalg.norm(X, axis=1)
    _, rank2, _ = _brute_force(PENTAGON, np.broadcast_to(alpha, (5,)), X)
    on = r >= lo
    assert on.sum() > 100 and rank2[on].all()
    # the default box shows the certified circle
    x0, x1, y0, y1 = data["extent"]
    assert min(-x0, x1, -y0, y1) > lo
    circles = [p.get_radius() for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert any(c == pytest.approx(lo) for c in circles)


def test_certify_false_and_not_omnidirectional_draw_no_certified_circle():
    data = reluinj.plot_injectivity_region_2d(PENTAGON, 0.4, resolution=10,
                                              certify=False).reluinj_data
    assert data["certified_radii"] is None
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])       # all in one half-plane
    fig = reluinj.plot_injectivity_region_2d(W, 0.0, resolution=10)
    assert fig.reluinj_data["certified_radii"] is None
    assert not [p for p in fig.axes[0].patches if isinstance(p, Circle)]


def test_draws_on_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    got = reluinj.plot_injectivity_region_2d(PENTAGON, 0.4, ax=axes[1], resolution=10)
    assert got is fig
    assert not axes[0].collections and axes[1].collections
    assert fig.reluinj_data["injective"].shape == (10, 10)


def test_bad_input_2d():
    f = reluinj.plot_injectivity_region_2d
    with pytest.raises(ValueError, match=r"\bW\b.*2 columns"):
        f(reluinj.icosahedron(), 0.1)
    with pytest.raises(ValueError, match=r"\bW\b"):
        f(np.array([[np.nan, 0.0], [0.0, 1.0], [-1.0, -1.0]]), 0.1)
    with pytest.raises(ValueError, match=r"\balpha\b"):
        f(PENTAGON, [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\balpha\b"):
        f(PENTAGON, np.nan)
    with pytest.raises(ValueError, match=r"\bcolor_by\b"):
        f(PENTAGON, 0.1, color_by="rank")
    with pytest.raises(ValueError, match=r"\bextent\b"):
        f(PENTAGON, 0.1, extent=(1, 0, 0, 1))
    with pytest.raises(TypeError, match=r"\bextent\b"):
        f(PENTAGON, 0.1, extent=(0, 1))
    with pytest.raises(ValueError, match=r"\bresolution\b"):
        f(PENTAGON, 0.1, resolution=1)
    with pytest.raises(TypeError, match=r"\bax\b"):
        f(PENTAGON, 0.1, ax="left")
    with pytest.raises(reluinj.NotAFrameError):
        f([[1.0, 0.0], [2.0, 0.0]], 0.1)


# --- plot_sphere_facets_3d ----------------------------------------------------------------------
W14 = reluinj.random_frame(14, 3, seed=3)


@pytest.fixture(scope="module")
def sphere14():
    fig = reluinj.plot_sphere_facets_3d(W14, resolution=181)
    fig.canvas.draw()
    _png(fig, "sphere")
    yield fig, fig.reluinj_data
    plt.close(fig)


def test_facets_are_the_convex_hull_of_the_normalized_rows(sphere14):
    fig, data = sphere14
    Wn = W14 / np.linalg.norm(W14, axis=1)[:, None]
    hull = ConvexHull(Wn)
    want = {tuple(sorted(s)) for s in hull.simplices}          # a random frame is simplicial
    got = {tuple(v.tolist()) for v in data["facets"].vertices}
    assert got == want and len(got) == len(hull.simplices)
    for v, poly in zip(data["facets"].vertices, data["polygons"]):
        np.testing.assert_allclose(poly, Wn[v])
    (coll,) = [c for c in fig.axes[0].collections if isinstance(c, Poly3DCollection)]
    assert len(coll.get_paths()) == len(want)                  # one polygon drawn per facet


def test_caps_are_the_cones_solved_point_by_point(sphere14):
    _, data = sphere14
    Wn = W14 / np.linalg.norm(W14, axis=1)[:, None]
    X = data["points"].reshape(-1, 3)
    cap = data["cap"].reshape(-1)
    # x in cone(F) iff x = V^T c with c >= 0 (V the facet's three vertices): solve for every facet
    coef = np.stack([np.linalg.solve(Wn[v].T, X.T).T for v in data["facets"].vertices], axis=1)
    inside = coef.min(axis=2)                                   # (points, facets)
    best = np.argmax(inside, axis=1)
    clear = np.sort(inside, axis=1)[:, -2] < -1e-6              # one cone only, clearly
    assert clear.mean() > 0.95
    assert (inside[np.arange(len(X)), best] >= -1e-12).all()
    np.testing.assert_array_equal(cap[clear], best[clear])


def test_basis_patches_are_the_most_correlated_rows(sphere14):
    fig, data = sphere14
    Wn = W14 / np.linalg.norm(W14, axis=1)[:, None]
    X = data["points"].reshape(-1, 3)
    C = X @ Wn.T
    top3 = np.sort(np.argsort(-C, axis=1, kind="stable")[:, :3], axis=1)
    srt = np.sort(C, axis=1)
    clear = srt[:, -3] - srt[:, -4] > 1e-9                      # no tie for the third place
    got = data["bases"][data["basis"].reshape(-1)]
    np.testing.assert_array_equal(got[clear], top3[clear])
    np.testing.assert_array_equal(_mesh(fig.axes[2]), data["basis"].reshape(-1).astype(float))
    np.testing.assert_array_equal(_mesh(fig.axes[1]), data["cap"].reshape(-1).astype(float))


def test_vertex_bias_is_the_minimum_correlation_over_its_caps(sphere14):
    fig, data = sphere14
    alpha = data["estimate"].alpha
    # the vertices are drawn in the colours of the polytope bias
    for ax in fig.axes[:3]:
        (sc,) = [c for c in ax.collections if c.get_array() is not None
                 and len(np.asarray(c.get_array())) == len(W14)]
        np.testing.assert_array_equal(np.asarray(sc.get_array()), alpha)
    # brute force on the grid: alpha_i = min over the caps of the facets containing i of
    # <x, phi_i>; the grid minimum is >= alpha_i and within the grid spacing of it
    X = data["points"].reshape(-1, 3)
    cap = data["cap"].reshape(-1)
    Wn = W14 / np.linalg.norm(W14, axis=1)[:, None]
    h = np.radians(data["lat"][1] - data["lat"][0])            # grid spacing on the sphere
    for i in range(len(W14)):
        mine = np.isin(cap, data["facets"].vertex_facets[i])
        low = (X[mine] @ Wn[i]).min()
        assert alpha[i] <= low + 1e-12
        assert low - alpha[i] < 2 * h


def test_icosahedron_caps_are_the_basis_patches():
    # paper, Figure 5 (left): for the icosahedron x in cone(F) <=> J*(x) = vertices of F
    fig = reluinj.plot_sphere_facets_3d(reluinj.icosahedron(), resolution=61)
    data = fig.reluinj_data
    assert data["facets"].n_facets == 20 and len(data["bases"]) == 20
    np.testing.assert_allclose(data["estimate"].alpha, data["estimate"].alpha[0])
    verts = np.array([v for v in data["facets"].vertices])
    X = data["points"].reshape(-1, 3)
    Wn = reluinj.icosahedron()
    C = np.sort(X @ Wn.T, axis=1)
    clear = C[:, -3] - C[:, -4] > 1e-6
    got = data["bases"][data["basis"].reshape(-1)]
    np.testing.assert_array_equal(got[clear], verts[data["cap"].reshape(-1)][clear])


def test_domain_scales_the_vertex_bias():
    fig = reluinj.plot_sphere_facets_3d(W14, domain=reluinj.Sphere(2.0), resolution=10)
    unit = reluinj.plot_sphere_facets_3d(W14, resolution=10)
    np.testing.assert_allclose(fig.reluinj_data["estimate"].alpha,
                               2.0 * unit.reluinj_data["estimate"].alpha, rtol=1e-12)


def test_bad_input_3d():
    f = reluinj.plot_sphere_facets_3d
    with pytest.raises(ValueError, match=r"\bW\b.*3 columns"):
        f(PENTAGON)
    with pytest.raises(ValueError, match=r"\bW\b"):
        f(np.vstack([W14[:-1], [np.inf, 0, 0]]))
    with pytest.raises(ValueError, match=r"omnidirectional"):
        f(np.abs(W14))
    with pytest.raises(TypeError, match=r"\bdomain\b"):
        f(W14, domain="sphere")
    with pytest.raises(ValueError, match=r"\bresolution\b"):
        f(W14, resolution=10**6)


# --- the extra ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, args", [("plot_injectivity_region_2d", (PENTAGON, 0.4)),
                                        ("plot_sphere_facets_3d", (W14,))])
def test_missing_matplotlib_names_the_extra(monkeypatch, name, args):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"reluinj\[plot\]") as info:
        getattr(reluinj, name)(*args)
    assert name in str(info.value)


def test_exported_once():
    import reluinj.frames

    for name in ("plot_injectivity_region_2d", "plot_sphere_facets_3d"):
        assert getattr(reluinj, name) is getattr(reluinj.frames, name)
        assert name in reluinj.__all__ and name in reluinj.frames.__all__
