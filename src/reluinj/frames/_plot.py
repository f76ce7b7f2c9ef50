"""Pictures of the frame theory (extra ``plot``): the paper's Figures 3 and 4.

matplotlib is imported inside the functions, never by ``import reluinj``. Each function returns
the :class:`matplotlib.figure.Figure` it drew on and attaches the arrays behind the picture to
it as ``fig.reluinj_data`` (a dict), so that what is drawn can be checked against an independent
computation.
"""
import numbers

import numpy as np

from .._lib.constants import DEFAULT_RANK_TOL
from .._lib.exceptions import HullError
from .._lib.threads import effective_n_threads
from .._lib.validation import as_bias, as_weights, check_bool, check_positive_int, check_rank_tol
from ._domains import Sphere, check_domain

__all__ = ["plot_injectivity_region_2d", "plot_sphere_facets_3d"]

_COLOR_BY = ("injective", "active_set")
MAX_RESOLUTION = 4096
"""Largest grid `resolution` the plot functions accept (4096^2 points take ~1 GB of masks)."""

_INJECTIVE_COLORS = ("#f4c7c3", "#c6e5c1")   # not injective (red), injective (green)


def _pyplot(func):
    """Import matplotlib.pyplot, or raise an ImportError naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            f"reluinj.{func} needs matplotlib, which is not installed: "
            "pip install 'reluinj[plot]' (or pip install matplotlib)"
        ) from err
    return plt


def _distinct_colors(k):
    """k RGBA colours, neighbours in index order far apart in hue (golden-ratio hue steps)."""
    from matplotlib.colors import hsv_to_rgb

    i = np.arange(k)
    hsv = np.column_stack([(0.05 + 0.618033988749895 * i) % 1.0,
                           0.35 + 0.2 * (i % 2),
                           0.97 - 0.12 * (i % 3 == 1)])
    return np.column_stack([hsv_to_rgb(hsv), np.ones(k)])


def _check_extent(extent):
    """(xmin, xmax, ymin, ymax): four finite reals with xmin < xmax and ymin < ymax."""
    if isinstance(extent, (str, bytes)) or not hasattr(extent, "__len__") or len(extent) != 4:
        raise TypeError(f"extent must be None or (xmin, xmax, ymin, ymax); got {extent!r}")
    out = []
    for v in extent:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"extent must hold four real numbers; got {extent!r}")
        v = float(v)
        if not np.isfinite(v):
            raise ValueError(f"extent must be finite; got {extent!r}")
        out.append(v)
    x0, x1, y0, y1 = out
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"extent must have xmin < xmax and ymin < ymax; got {extent!r}")
    # grid spacing must stay representable (not 2**63 wide boxes of identical floats)
    if max(abs(v) for v in out) > 1e150:
        raise ValueError(f"extent is too large to draw; got {extent!r}")
    return tuple(out)


def _certified_radii(W, alpha):
    """The radii r of the circles on which ``alpha <= r * polytope_bias(W).alpha`` (an
    interval ``(lo, hi)``, possibly with ``hi = inf``), or None when the polytope bias does
    not apply to W (not omnidirectional, duplicate directions) or certifies no circle."""
    from ._polytope import polytope_bias

    try:
        a = polytope_bias(W).alpha
    except (ValueError, HullError):
        return None
    lo, hi = 0.0, np.inf
    for ai, bi in zip(a, alpha):
        if ai > 0:
            lo = max(lo, bi / ai)
        elif ai < 0:
            hi = min(hi, bi / ai)       # r * ai >= bi  <=>  r <= bi / ai (needs bi < 0)
        elif bi > 0:
            return None
    if not hi > lo or hi <= 0:
        return None
    return float(lo), float(hi)


def _default_extent(W, alpha, radii):
    norms = np.linalg.norm(W, axis=1)
    scale = max(float(norms.max()), float(np.max(np.abs(alpha) / norms)))
    finite = [r for r in radii if np.isfinite(r) and r > 0]
    half = max(2.0 * scale, 1.25 * max(finite, default=0.0))
    return (-half, half, -half, half)


def plot_injectivity_region_2d(W, alpha, *, ax=None, extent=None, resolution=400,
                               color_by="injective", certify=True, rank_tol=DEFAULT_RANK_TOL,
                               n_threads=None):
    """Where the 2-D layer ``x -> ReLU(W x - alpha)`` is injective (the paper's Figure 3).

    The plane (the box `extent`) is sampled on a ``resolution x resolution`` grid and each
    grid cell is coloured by the exact rule of :meth:`ReLULayer.is_injective_at`: the layer is
    injective at ``x`` iff the rows active at ``x`` (``<x, φ_i> >= alpha_i``) span R^2 (a
    numerical rank test with `rank_tol`). With ``color_by="active_set"`` each cell is coloured
    by its set of active rows instead (the cells of the arrangement of the lines
    ``<x, φ_i> = alpha_i``), the non-injective cells hatched and the larger cells labelled with
    their active rows (1-based, as the arrows). Drawn on top: the frame vectors φ_i as arrows
    from the origin, the lines ``<x, φ_i> = alpha_i``, the exact injectivity radius of
    :func:`injectivity_radius` (the largest open disc on which the layer is injective; drawn
    when it is positive and finite) and, with ``certify=True``, the circles on which
    :func:`polytope_bias` certifies `alpha` (``alpha <= r * polytope_bias(W).alpha``).

    Parameters
    ----------
    W : array_like of shape (m, 2)
        Weight matrix; its rows are the frame vectors φ_i (rank 2).
    alpha : float or array_like of shape (m,)
        Finite bias.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; None creates a new figure (``matplotlib.pyplot.subplots``).
    extent : (xmin, xmax, ymin, ymax) or None, default=None
        The box drawn; None picks a square around the origin that holds the arrows, the lines'
        closest points to the origin and the radii drawn.
    resolution : int, default=400
        Grid points per axis (2 to 4096).
    color_by : {"injective", "active_set"}, default="injective"
        Colour the cells by injective / not injective, or by their active set.
    certify : bool, default=True
        Draw the circles certified by :func:`polytope_bias` (skipped when the polytope bias
        does not apply: a frame that is not omnidirectional, duplicate directions, or a bias
        certified on no circle).
    rank_tol : float, default=1e-10
        Relative tolerance of the rank test, in (0, 1).
    n_threads : int or None, default=None
        See :func:`reluinj.effective_n_threads`; the picture does not depend on it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of `ax` (or the new one). ``fig.reluinj_data`` holds the arrays of this
        call: ``x`` and ``y`` (the grid coordinates, shape (resolution,)), ``active`` (bool,
        (resolution, resolution, m): ``active[j, k]`` is the active set at ``(x[k], y[j])``),
        ``injective`` (bool, (resolution, resolution)), ``labels`` (int,
        (resolution, resolution): index into ``active_sets``), ``active_sets`` (bool, (p, m):
        the distinct active sets, in lexicographic order), ``radius`` (the
        :class:`InjectivityRadius`), ``certified_radii`` (``(lo, hi)`` or None) and
        ``extent``. The colour mesh drawn holds ``injective`` or ``labels``.

    Raises
    ------
    ValueError
        If `W` is not of shape (m, 2) or not finite, `alpha` is not finite or of the wrong
        shape, or `extent`, `resolution`, `color_by`, `rank_tol` are out of range.
    TypeError
        If `ax` is not a matplotlib Axes, or an argument has the wrong type.
    NotAFrameError
        If the rows of `W` do not span R^2.
    ImportError
        If matplotlib is not installed (the ``plot`` extra: ``pip install 'reluinj[plot]'``).

    See Also
    --------
    InjectivityRegion, injectivity_radius, plot_sphere_facets_3d

    Examples
    --------
    >>> import numpy as np, reluinj
    >>> angles = np.deg2rad([0, 80, 150, 215, 290])
    >>> W = np.column_stack([np.cos(angles), np.sin(angles)])
    >>> fig = reluinj.plot_injectivity_region_2d(W, 0.4, resolution=101)  # doctest: +SKIP
    >>> fig.reluinj_data["injective"].mean()                             # doctest: +SKIP
    """
    W = as_weights(W)
    if W.shape[1] != 2:
        raise ValueError(f"W must have 2 columns (a frame of R^2); got shape {W.shape}")
    W = W.astype(np.float64)
    alpha = as_bias(alpha, W.shape[0]).astype(np.float64)
    if color_by not in _COLOR_BY:
        raise ValueError(f"color_by must be one of {_COLOR_BY}; got {color_by!r}")
    resolution = check_positive_int(resolution, "resolution", minimum=2, maximum=MAX_RESOLUTION)
    certify = check_bool(certify, "certify")
    rank_tol = check_rank_tol(rank_tol)
    nt = effective_n_threads(n_threads)
    if extent is not None:
        extent = _check_extent(extent)
    plt = _pyplot("plot_injectivity_region_2d")
    from matplotlib.axes import Axes

    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")

    from ._layer import ReLULayer
    from ._region import injectivity_radius

    radius = injectivity_radius(W, alpha, method="sweep", certify=False, rank_tol=rank_tol,
                                n_threads=nt)
    certified = _certified_radii(W, alpha) if certify else None
    if extent is None:
        extent = _default_extent(W, alpha, [radius.radius, *(certified or ())])
    x0, x1, y0, y1 = extent
    x = np.linspace(x0, x1, resolution)
    y = np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(x, y)
    X = np.column_stack([xx.ravel(), yy.ravel()])
    layer = ReLULayer(W, alpha)
    m = W.shape[0]
    active = layer.active_mask(X, n_threads=nt)
    injective = layer.is_injective_at(X, rank_tol=rank_tol, n_threads=nt)
    active_sets, labels = np.unique(active, axis=0, return_inverse=True)
    labels = labels.reshape(xx.shape)
    injective = injective.reshape(xx.shape)
    active = active.reshape(resolution, resolution, m)

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 6.4), constrained_layout=True)
    else:
        fig = ax.figure
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle, FancyArrowPatch, Patch
    from matplotlib.lines import Line2D

    handles = []
    if color_by == "injective":
        ax.pcolormesh(x, y, injective.astype(np.int8), cmap=ListedColormap(_INJECTIVE_COLORS),
                      vmin=-0.5, vmax=1.5, shading="nearest", rasterized=True)
        handles += [Patch(facecolor=_INJECTIVE_COLORS[1], edgecolor="0.5",
                          label="injective: active rows span $\\mathbb{R}^2$"),
                    Patch(facecolor=_INJECTIVE_COLORS[0], edgecolor="0.5",
                          label="not injective")]
    else:
        p = len(active_sets)
        ax.pcolormesh(x, y, labels, cmap=ListedColormap(_distinct_colors(p)), vmin=-0.5,
                      vmax=p - 0.5, shading="nearest", rasterized=True)
        if not injective.all():
            cs = ax.contourf(x, y, (~injective).astype(float), levels=[0.5, 1.5],
                             colors="none", hatches=["////"])
            cs.set_edgecolor("0.25")
            cs.set_linewidth(0)
            handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="////",
                                 label="not injective"))
        counts = np.bincount(labels.ravel(), minlength=p)
        for lab in np.flatnonzero(counts >= 0.01 * labels.size):
            jj, kk = np.nonzero(labels == lab)
            rows = np.flatnonzero(active_sets[lab]) + 1
            text = "{" + ",".join(map(str, rows)) + "}" if rows.size else "$\\emptyset$"
            ax.text(x[kk].mean(), y[jj].mean(), text, ha="center", va="center", fontsize=7,
                    color="0.15", zorder=4)
    # the lines <x, phi_i> = alpha_i, clipped to the box
    diag = float(np.hypot(x1 - x0, y1 - y0)) + float(np.hypot(max(abs(x0), abs(x1)),
                                                               max(abs(y0), abs(y1))))
    for i, (phi, ai) in enumerate(zip(W, alpha)):
        nrm = float(np.linalg.norm(phi))
        p0 = ai * phi / nrm**2
        d = np.array([-phi[1], phi[0]]) / nrm
        seg = np.array([p0 - diag * d, p0 + diag * d])
        ax.plot(seg[:, 0], seg[:, 1], color="0.35", lw=0.8, zorder=2)
    handles.append(Line2D([], [], color="0.35", lw=0.8,
                          label="$\\langle x, \\varphi_i\\rangle = \\alpha_i$"))
    for i, phi in enumerate(W):
        ax.add_patch(FancyArrowPatch((0.0, 0.0), tuple(phi), arrowstyle="-|>",
                                     mutation_scale=14, color="k", lw=1.5, zorder=5))
        ax.annotate(f"$\\varphi_{{{i + 1}}}$", xy=tuple(phi), xytext=tuple(phi * 1.12 + 0.0),
                    ha="center", va="center", fontsize=11, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.1", fc="w", ec="none", alpha=0.7))
    r = radius.radius
    if np.isfinite(r) and r > 0:
        ax.add_patch(Circle((0, 0), r, fill=False, color="tab:purple", lw=1.8, zorder=3))
        handles.append(Line2D([], [], color="tab:purple", lw=1.8,
                              label=f"injectivity radius {r:.3g} (exact)"))
    if certified is not None:
        lo, hi = certified
        for rr in (lo, hi):
            if np.isfinite(rr) and rr > 0:
                ax.add_patch(Circle((0, 0), rr, fill=False, ls="--", color="tab:blue", lw=1.5,
                                    zorder=3))
        if np.isfinite(hi):
            text = f"circles of radius {lo:.3g} to {hi:.3g}"
        else:
            text = f"every circle of radius $\\geq$ {lo:.3g}"
        handles.append(Line2D([], [], color="tab:blue", ls="--", lw=1.5,
                              label=f"certified by polytope_bias:\n{text}"))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    what = "injectivity" if color_by == "injective" else "active sets"
    if np.unique(alpha).size == 1:
        bias = f"$\\alpha = {alpha[0]:.3g}$"
    else:
        bias = f"$\\alpha \\in [{alpha.min():.3g}, {alpha.max():.3g}]$"
    ax.set_title(f"{what} of ReLU$(Wx - \\alpha)$, m = {m}, {bias}", fontsize=11)
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.92)
    fig.reluinj_data = {"x": x, "y": y, "active": active, "injective": injective,
                        "labels": labels, "active_sets": active_sets, "radius": radius,
                        "certified_radii": certified, "extent": extent}
    return fig


def _domain_label(domain):
    """A short name of a domain for the colour bar, e.g. ``the unit sphere``."""
    from ._domains import Annulus, Ball

    plus = r" $\cap\ \mathbb{R}^3_+$" if domain.nonnegative else ""
    if isinstance(domain, Annulus):
        return f"the annulus {domain.inner:g} $\\leq \\|x\\| \\leq$ {domain.outer:g}{plus}"
    kind = "ball" if isinstance(domain, Ball) else "sphere"
    if domain.radius == 1.0:
        return f"the unit {kind}{plus}"
    return f"the {kind} of radius {domain.radius:g}{plus}"


def _sphere_grid(resolution):
    lat = np.linspace(-90.0, 90.0, resolution)
    lon = np.linspace(-180.0, 180.0, 2 * resolution - 1)
    la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
    P = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    return lon, lat, P


def plot_sphere_facets_3d(W, *, domain=Sphere(), resolution=181, rank_tol=DEFAULT_RANK_TOL,
                          n_threads=None):
    """Facets, spherical caps and most-correlated bases of a frame of R^3 (the paper's
    Figure 4), with the polytope bias at each vertex.

    Three panels: the polytope ``P = conv{φ_i / ||φ_i||}`` with its facets
    (:func:`reluinj.hull.facets`) and its vertices coloured by :func:`polytope_bias` on
    `domain`; a longitude/latitude map of the sphere coloured by the *spherical cap*
    ``cone(F) ∩ S`` each point lies in (the colours of the facets in the first panel); and the
    same map coloured by the *most correlated basis* ``J*(x)`` (:func:`most_correlated_basis`,
    as :func:`sampled_bias` uses it), with the polytope bias written at each vertex.

    Parameters
    ----------
    W : array_like of shape (m, 3)
        Weight matrix; its rows are the frame vectors φ_i. The frame must be omnidirectional
        with rows of distinct directions (as for :func:`polytope_bias`).
    domain : Sphere, Ball or Annulus, default=Sphere()
        Domain of the polytope bias shown at the vertices.
    resolution : int, default=181
        Latitude samples of the map (from -90 to 90 degrees; ``2 * resolution - 1`` longitude
        samples), 2 to 4096.
    rank_tol : float, default=1e-10
        Rank tolerance of :func:`most_correlated_basis`.
    n_threads : int or None, default=None
        See :func:`reluinj.effective_n_threads`; the picture does not depend on it.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure; its first axes is the 3-D one (turn it with ``fig.axes[0].view_init``).
        ``fig.reluinj_data`` holds ``lon`` and ``lat`` (degrees, the map's grid), ``points``
        (the unit vectors of the grid, shape (len(lat), len(lon), 3)), ``cap`` (int, the facet
        whose cone holds each grid point: index into ``facets``), ``basis`` (int, index into
        ``bases`` of each grid point's most correlated basis), ``bases`` (int64, (p, 3): the
        distinct sets J*(x) as sorted row indices), ``facets`` (the :class:`reluinj.hull.Facets`),
        ``polygons`` (the vertex coordinates of each facet drawn, in facet order) and
        ``estimate`` (the :class:`BiasEstimate` of :func:`polytope_bias`).

    Raises
    ------
    ValueError
        If `W` is not of shape (m, 3) or not finite, is not omnidirectional, has duplicate
        directions, or `resolution`, `rank_tol` are out of range.
    NotAFrameError
        If the rows of `W` do not span R^3.
    ImportError
        If matplotlib is not installed (the ``plot`` extra: ``pip install 'reluinj[plot]'``).

    See Also
    --------
    polytope_bias, sampled_bias, most_correlated_basis, plot_injectivity_region_2d

    Examples
    --------
    >>> import reluinj
    >>> fig = reluinj.plot_sphere_facets_3d(reluinj.random_frame(14, 3, seed=3))  # doctest: +SKIP
    >>> fig.reluinj_data["facets"].n_facets                                     # doctest: +SKIP
    24
    """
    W = as_weights(W)
    if W.shape[1] != 3:
        raise ValueError(f"W must have 3 columns (a frame of R^3); got shape {W.shape}")
    W = W.astype(np.float64)
    domain = check_domain(domain)
    resolution = check_positive_int(resolution, "resolution", minimum=2, maximum=MAX_RESOLUTION)
    rank_tol = check_rank_tol(rank_tol)
    nt = effective_n_threads(n_threads)
    from . import hull
    from ._basis import most_correlated_basis
    from ._polytope import polytope_bias

    F = hull.facets(W)
    est = polytope_bias(W, domain, n_threads=nt)
    plt = _pyplot("plot_sphere_facets_3d")

    Wn = W / np.linalg.norm(W, axis=1)[:, None]
    lon, lat, P = _sphere_grid(resolution)
    Xs = P.reshape(-1, 3)
    normals, offsets = F.equations[:, :3], -F.equations[:, 3]
    cap = np.argmax((Xs @ normals.T) / offsets, axis=1).reshape(P.shape[:2])
    J = np.sort(most_correlated_basis(W, Xs, rank_tol=rank_tol, n_threads=nt), axis=1)
    bases, basis = np.unique(J, axis=0, return_inverse=True)
    basis = basis.reshape(P.shape[:2])
    polygons = [Wn[v] for v in F.vertices]

    from matplotlib.colors import ListedColormap, Normalize
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    fig = plt.figure(figsize=(12, 10), constrained_layout=True)
    gs = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.0])
    alpha = est.alpha
    finite = np.isfinite(alpha)
    vmin, vmax = (float(alpha[finite].min()), float(alpha[finite].max())) if finite.any() \
        else (0.0, 1.0)
    if vmax - vmin <= 1e-9 * max(1.0, abs(vmax)):       # one bias value (up to rounding)
        vmin, vmax = vmin - 0.5, vmax + 0.5
    norm = Normalize(vmin, vmax)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")   # +inf: element never needed

    ax0 = fig.add_subplot(gs[0, 0], projection="3d")
    face = _distinct_colors(F.n_facets)
    face[:, 3] = 0.6
    ax0.add_collection3d(Poly3DCollection(polygons, facecolors=face, edgecolors="k",
                                          linewidths=0.6))
    sc = ax0.scatter(*Wn.T, c=np.where(finite, alpha, np.nan), cmap=cmap, norm=norm, s=60,
                     edgecolor="k", depthshade=False, plotnonfinite=True)
    for i, v in enumerate(Wn):
        ax0.text(*(1.12 * v), str(i + 1), fontsize=8, ha="center", va="center")
    ax0.set_xlim(-1, 1)
    ax0.set_ylim(-1, 1)
    ax0.set_zlim(-1, 1)
    ax0.set_box_aspect((1, 1, 1))
    ax0.view_init(elev=20, azim=-50)
    ax0.set_axis_off()
    ax0.set_title(f"polytope conv$\\{{\\varphi_i\\}}$: {F.n_facets} facets, m = {W.shape[0]}")

    v_lon = np.degrees(np.arctan2(Wn[:, 1], Wn[:, 0]))
    v_lat = np.degrees(np.arcsin(np.clip(Wn[:, 2], -1.0, 1.0)))
    ax1 = fig.add_subplot(gs[0, 1])
    ax1.pcolormesh(lon, lat, cap, cmap=ListedColormap(_distinct_colors(F.n_facets)),
                   vmin=-0.5, vmax=F.n_facets - 0.5, shading="nearest", rasterized=True)
    ax1.set_title("spherical caps cone$(F_j) \\cap \\mathbb{S}$ (colours of the facets)")
    ax2 = fig.add_subplot(gs[1, :])
    p = len(bases)
    ax2.pcolormesh(lon, lat, basis, cmap=ListedColormap(_distinct_colors(p)[::-1]),
                   vmin=-0.5, vmax=p - 0.5, shading="nearest", rasterized=True)
    ax2.set_title(f"most-correlated-basis patches $J^*(x)$ ({p} bases) and the polytope bias "
                  f"$\\alpha_i$ per vertex")
    for ax in (ax1, ax2):
        ax.scatter(v_lon, v_lat, c=np.where(finite, alpha, np.nan), cmap=cmap, norm=norm,
                   s=45, edgecolor="k", zorder=3, plotnonfinite=True)
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xticks(np.arange(-180, 181, 60))
        ax.set_yticks(np.arange(-90, 91, 30))
        ax.set_xlabel("longitude (degrees)")
        ax.set_ylabel("latitude (degrees)")
        ax.set_aspect("equal")
    for i in range(W.shape[0]):
        ax1.annotate(str(i + 1), (v_lon[i], v_lat[i]), xytext=(5, 5), textcoords="offset points",
                     fontsize=8)
        label = f"{alpha[i]:+.2f}" if finite[i] else "$\\infty$"
        ax2.annotate(label, (v_lon[i], v_lat[i]), xytext=(6, 6), textcoords="offset points",
                     fontsize=8, bbox=dict(boxstyle="round,pad=0.15", fc="w", alpha=0.8))
    fig.colorbar(sc, ax=[ax0, ax1], shrink=0.8,
                 label=f"polytope bias $\\alpha_i$ on {_domain_label(domain)}")
    fig.reluinj_data = {"lon": lon, "lat": lat, "points": P, "cap": cap, "basis": basis,
                        "bases": bases, "facets": F, "polygons": polygons, "estimate": est}
    return fig
