"""PyTorch modules for BW-ReLU networks and implicit neural representations (extra ``torch``).

``import reluinj.inr`` works without torch: the torch-based classes (:class:`BWReLU`, :class:`INR`)
are built on first attribute access, and the torch-based functions import torch when called.
:func:`coordinate_grid` and :func:`psnr` need only NumPy.
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import _cykern
from .._lib.threads import effective_n_threads
from .._lib.validation import as_float_array, check_bool, check_positive_float, check_positive_int
from ._activation import PSI_COEFFICIENTS, PSI_KNOTS, _check_scale

__all__ = [
    "BWReLU",
    "INR",
    "FitResult",
    "bwrelu",
    "bwrelu_relu_composition",
    "coordinate_grid",
    "psnr",
    "fit_image",
    "load_image",
]

_LAZY_CLASSES = ("BWReLU", "INR")
_KERNEL_DTYPES = ("torch.float32", "torch.float64")
_INR_ACTIVATIONS = ("bwrelu", "relu", "siren", "wire", "relu_pe")
#: Default scale c (BW-ReLU) and frequency ω₀ (SIREN, WIRE) of :class:`INR`.
DEFAULT_SCALE = {"bwrelu": 1.0, "siren": 30.0, "wire": 20.0}


def _torch():
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            "reluinj.inr needs PyTorch: pip install 'reluinj[torch]'") from err
    return torch


def _uses_kernel(x):
    return x.device.type == "cpu" and str(x.dtype) in _KERNEL_DTYPES and not x.is_complex()


def bwrelu_relu_composition(x, c=1.0):
    """ψ(c·x) as the seven-``F.relu`` composition (the authors' form; autograd differentiates it).

    Parameters
    ----------
    x : torch.Tensor
    c : float or torch.Tensor, default=1.0

    Returns
    -------
    y : torch.Tensor of the shape of `x`
    """
    torch = _torch()
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor (use reluinj.bwrelu for arrays); got "
                        f"{type(x).__name__}")
    if not isinstance(c, torch.Tensor):
        c = _check_scale(c)
    F = torch.nn.functional
    z = c * x
    y = PSI_COEFFICIENTS[0] * F.relu(z - PSI_KNOTS[0])
    for t, a in zip(PSI_KNOTS[1:], PSI_COEFFICIENTS[1:]):
        y = y + a * F.relu(z - t)
    return y


def _autograd_function():
    torch = _torch()
    cached = globals().get("_BWReLUFunction")
    if cached is not None:
        return cached

    class _BWReLUFunction(torch.autograd.Function):
        """ψ(c·x) with one fused forward pass and a piecewise-constant fused backward pass."""

        @staticmethod
        def forward(ctx, x, c):
            xc = x.detach().contiguous()
            out = torch.empty_like(xc)
            cv = float(c.detach())
            _cykern.bwrelu(xc.view(-1).numpy(), cv, out.view(-1).numpy(),
                           effective_n_threads(None))
            ctx.save_for_backward(xc, c)
            return out

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad_out):
            xc, c = ctx.saved_tensors
            g = grad_out.contiguous().to(xc.dtype)
            grad_x = torch.empty_like(xc)
            _cykern.bwrelu_backward(xc.view(-1).numpy(), g.view(-1).numpy(), float(c.detach()),
                                    grad_x.view(-1).numpy(), effective_n_threads(None))
            grad_c = None
            if ctx.needs_input_grad[1]:
                grad_c = ((grad_x * xc).sum() / c).reshape(c.shape).to(c.dtype)
            return grad_x, grad_c

    globals()["_BWReLUFunction"] = _BWReLUFunction
    return _BWReLUFunction


def bwrelu(x, c=1.0):
    """Differentiable BW-ReLU ψ(c·x) on a torch tensor (functional form of :class:`BWReLU`).

    On CPU float32/float64 tensors it runs the fused Cython kernels (one pass forward, one
    pass backward: grad·c·ψ′(c·x) with the left slope at knots); other devices/dtypes use
    :func:`bwrelu_relu_composition`. Values and gradients equal those of the composition.

    Parameters
    ----------
    x : torch.Tensor
    c : float or 0-d torch.Tensor, default=1.0
        Scale > 0; a tensor with ``requires_grad`` receives a gradient.

    Returns
    -------
    y : torch.Tensor of the shape and dtype of `x`
    """
    torch = _torch()
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if isinstance(c, torch.Tensor):
        if c.numel() != 1:
            raise ValueError(f"c must be a scalar; got a tensor of shape {tuple(c.shape)}")
        _check_scale(float(c.detach()))
    else:
        c = _check_scale(c)
    if not _uses_kernel(x):
        return bwrelu_relu_composition(x, c)
    c_t = c if isinstance(c, torch.Tensor) else torch.tensor(c, dtype=x.dtype)
    return _autograd_function().apply(x, c_t.to(x.dtype) if c_t.dtype != x.dtype else c_t)


def _build_classes():
    torch = _torch()
    nn = torch.nn

    class BWReLU(nn.Module):
        """BW-ReLU activation module y = ψ(c·x) (shared scale c, optionally learnable).

        Parameters
        ----------
        c : float, default=1.0
            Scale > 0; ψ(c·x) is supported on x ∈ [0, 3/c].
        learn_c : bool, default=False
            Make c a trainable ``nn.Parameter``.
        """

        def __init__(self, c=1.0, *, learn_c=False):
            learn_c = check_bool(learn_c, "learn_c")
            super().__init__()
            c = _check_scale(c)
            if learn_c:
                self.c = nn.Parameter(torch.tensor(c))
            else:
                self.c = c

        def forward(self, x):
            return bwrelu(x, self.c)

        def extra_repr(self):
            return f"c={float(self.c):g}, learn_c={isinstance(self.c, nn.Parameter)}"

    class _Sine(nn.Module):
        def __init__(self, omega):
            super().__init__()
            self.omega = omega

        def forward(self, x):
            return torch.sin(self.omega * x)

    class _Gabor(nn.Module):
        """WIRE's complex Gabor wavelet exp(j·ω₀·z − |σ₀·z|²)."""

        def __init__(self, omega, sigma):
            super().__init__()
            self.omega, self.sigma = omega, sigma

        def forward(self, z):
            return torch.exp(1j * self.omega * z - (self.sigma * z).abs().square())

    class _PosEncoding(nn.Module):
        """NeRF features [x, sin(2^i·π·x), cos(2^i·π·x)]_{i<F}, as WIRE's PosEncodingNeRF."""

        def __init__(self, in_features, n_frequencies):
            super().__init__()
            self.n_frequencies = n_frequencies
            self.out_features = in_features * (1 + 2 * n_frequencies)

        def forward(self, x):
            feats = [x]
            for i in range(self.n_frequencies):
                z = (2.0 ** i) * math.pi * x
                # WIRE order: for each frequency, for each coordinate, (sin, cos)
                feats.append(torch.stack([torch.sin(z), torch.cos(z)], dim=-1).flatten(-2))
            return torch.cat(feats, dim=-1)

    class INR(nn.Module):
        """Implicit neural representation: an MLP from coordinates to signal values.

        Layout (paper §2 / authors' code): ``Linear(in, K) → act`` then
        ``hidden_layers − 1`` times ``Linear(K, K) → act``, then a linear output
        ``Linear(K, out)``. For ``"bwrelu"`` act(z) = ψ(c·z) with one scale c shared by all
        layers (c multiplies the whole pre-activation, bias included); PyTorch default
        initialisation. ``"relu"`` is the plain ReLU MLP; ``"siren"`` uses sin(c·z) with
        SIREN initialisation (first layer U(±1/in), others U(±√(6/K)/c)).

        Parameters
        ----------
        in_features : int
            Coordinate dimension (2 for images).
        hidden_features : int
            Width K.
        hidden_layers : int
            Number of hidden (activated) layers.
        out_features : int
            Number of channels.
        activation : {"bwrelu", "relu", "siren", "wire", "relu_pe"}, default="bwrelu"
        c : float, optional
            Scale c of ψ(c·z) (default 1) or the frequency ω₀ of SIREN (default 30) and WIRE
            (default 20); must be None for ``"relu"`` and ``"relu_pe"``.
        learn_c : bool, default=False
            Learn the shared BW-ReLU scale.
        sigma : float, default=10.0
            WIRE's spread σ₀ (``"wire"`` only).
        sidelength : int, default=512
            Sets F = ⌊log2(sidelength / 4)⌋ for ``"relu_pe"`` (the authors' default 512 gives
            F = 7; CT passes the number of angles, SR the larger high-resolution side).

        Attributes
        ----------
        net : nn.Sequential
        activation : str
        c : float or nn.Parameter
        """

        def __init__(self, in_features, hidden_features, hidden_layers, out_features,
                     *, activation="bwrelu", c=None, learn_c=False, sigma=10.0, sidelength=512):
            learn_c = check_bool(learn_c, "learn_c")
            super().__init__()
            sizes = [check_positive_int(v, name) for v, name in (
                (in_features, "in_features"), (hidden_features, "hidden_features"),
                (hidden_layers, "hidden_layers"), (out_features, "out_features"))]
            n_in, width, depth, n_out = sizes
            if activation not in _INR_ACTIVATIONS:
                raise ValueError(f"activation must be one of {_INR_ACTIVATIONS}; "
                                 f"got {activation!r}")
            if activation in ("relu", "relu_pe") and c is not None:
                raise ValueError(f"c must be None for activation={activation!r}")
            if learn_c and activation != "bwrelu":
                raise ValueError("learn_c=True needs activation='bwrelu'")
            self.activation = activation
            first_in = n_in
            layers = []
            if activation == "bwrelu":
                self.act = BWReLU(DEFAULT_SCALE["bwrelu"] if c is None else c, learn_c=learn_c)
            elif activation == "siren":
                self.act = _Sine(_check_scale(DEFAULT_SCALE["siren"] if c is None else c))
            elif activation == "wire":
                self.act = _Gabor(_check_scale(DEFAULT_SCALE["wire"] if c is None else c),
                                  check_positive_float(sigma, "sigma"))
            else:
                self.act = nn.ReLU()
            if activation == "relu_pe":
                sidelength = check_positive_int(sidelength, "sidelength")
                pe = _PosEncoding(n_in, max(int(math.floor(math.log2(sidelength / 4))), 0))
                layers.append(pe)
                first_in = pe.out_features
            if activation == "wire":
                width = int(width / math.sqrt(2))
                layers += [nn.Linear(first_in, width), self.act]
                for _ in range(depth - 1):
                    layers += [nn.Linear(width, width, dtype=torch.cfloat), self.act]
                layers.append(nn.Linear(width, n_out, dtype=torch.cfloat))
            else:
                for i in range(depth):
                    layers += [nn.Linear(first_in if i == 0 else width, width), self.act]
                layers.append(nn.Linear(width, n_out))
            self.net = nn.Sequential(*layers)
            if activation == "siren":
                self._siren_init(n_in, width)

        @property
        def c(self):
            """The shared scale c (BW-ReLU) or ω₀ (SIREN, WIRE); 1.0 for ReLU."""
            return getattr(self.act, "c", getattr(self.act, "omega", 1.0))

        def _siren_init(self, n_in, width):
            with torch.no_grad():
                linears = [m for m in self.net if isinstance(m, nn.Linear)]
                linears[0].weight.uniform_(-1.0 / n_in, 1.0 / n_in)
                bound = math.sqrt(6.0 / width) / self.act.omega
                for lin in linears[1:]:
                    lin.weight.uniform_(-bound, bound)

        def forward(self, coords):
            if self.activation == "wire":
                return self.net(coords.to(self.net[0].weight.dtype)).real
            return self.net(coords)

    return {"BWReLU": BWReLU, "INR": INR}


def _classes():
    """The torch classes, built once on first use."""
    if "INR" not in globals():
        globals().update(_build_classes())
    return {name: globals()[name] for name in _LAZY_CLASSES}


def __getattr__(name):
    if name in _LAZY_CLASSES:
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_GRID_ENTRIES = 2**34
"""Largest ``prod(shape) * len(shape)`` of :func:`coordinate_grid` (64 GiB of float32)."""


def coordinate_grid(shape, *, dtype=np.float32):
    """Pixel coordinates on [−1, 1]^d in the order of ``signal.reshape(-1)``.

    Parameters
    ----------
    shape : tuple of int
        Signal shape (n_0, …, n_{d−1}); for an image (H, W).
    dtype : numpy dtype, default=float32

    Returns
    -------
    coords : ndarray of shape (prod(shape), d)
        Column 0 is the coordinate along the last axis (x, ``linspace(-1, 1, W)``), column 1
        along the one before (y), … — the ``meshgrid(indexing="xy")`` convention of the paper.
    """
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = tuple(check_positive_int(n, "shape") for n in shape)
    if not shape:
        raise ValueError("shape must have at least one dimension")
    if math.prod(shape) * len(shape) > MAX_GRID_ENTRIES:
        raise ValueError(f"shape {shape} has {math.prod(shape)} pixels, too many for a "
                         f"coordinate array (at most {MAX_GRID_ENTRIES} entries)")
    axes = [np.linspace(-1.0, 1.0, n) for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.reshape(-1) for g in grids[::-1]], axis=1).astype(dtype)


def _to_numpy(a, name):
    if hasattr(a, "detach"):
        a = a.detach().cpu().double().numpy()
    return as_float_array(a, name, dtype=np.float64)


def psnr(a, b, *, data_range=1.0):
    """Peak signal-to-noise ratio 10·log10(data_range² / mean((a − b)²)) in dB.

    Parameters
    ----------
    a, b : array_like or torch.Tensor of the same shape
    data_range : float, default=1.0
        Peak-to-peak range of the signal (1 for images in [0, 1]).

    Returns
    -------
    psnr : float
        ``inf`` when a == b.
    """
    a, b = _to_numpy(a, "a"), _to_numpy(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    data_range = check_positive_float(data_range, "data_range")
    mse = float(np.mean((a - b) ** 2))
    # 20 log10(range) - 10 log10(mse): no underflow of range**2 for a tiny data_range.
    return math.inf if mse == 0 else 20.0 * math.log10(data_range) - 10.0 * math.log10(mse)


@dataclass(frozen=True)
class FitResult:
    """History of :func:`fit_image`.

    Attributes
    ----------
    loss : ndarray of shape (epochs,)
        Mean squared error at each epoch (before that epoch's step).
    psnr : ndarray of shape (epochs,)
        PSNR in dB (data range 1) at each epoch.
    image : ndarray
        Final reconstruction, shape of the input image.
    """

    loss: np.ndarray
    psnr: np.ndarray
    image: np.ndarray


def fit_image(image, model, *, epochs=300, lr=4e-3, decay=0.1, device="cpu", progress=True):
    """Fit an INR to an image with full-batch Adam and the paper's exponential schedule.

    Parameters
    ----------
    image : array_like of shape (H, W) or (H, W, C)
        Target values (typically in [0, 1]); coordinates from :func:`coordinate_grid`.
    model : torch.nn.Module
        Maps (H·W, 2) coordinates to (H·W, C) values, e.g. ``INR(2, 128, 3, C)``.
    epochs : int, default=300
        Number of full-batch Adam steps T.
    lr : float, default=4e-3
        Initial learning rate η₀; η(t) = η₀·decay^{t/T}.
    decay : float, default=0.1
        Ratio r of the final to the initial learning rate (0 < r ≤ 1).
    device : str or torch.device, default="cpu"
        Where to train (the model is moved there); "cuda" needs a CUDA build of torch.
    progress : bool, default=True
        Show a tqdm progress bar with the current PSNR.

    Returns
    -------
    result : FitResult
        Loss and PSNR per epoch and the final reconstruction.

    See Also
    --------
    fit_inr : the general routine (forward operators, trials, device, stopping loss, ...).
    """
    torch = _torch()
    target = as_float_array(image, "image", ndim=(2, 3), dtype=np.float32)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    progress = check_bool(progress, "progress")
    epochs = check_positive_int(epochs, "epochs")
    lr = check_positive_float(lr, "lr")
    decay = check_positive_float(decay, "decay")
    if decay > 1:
        raise ValueError(f"decay must be in (0, 1]; got {decay}")
    from ._fit import fit_inr     # the identity case of the general routine

    run = fit_inr(target, model, epochs=epochs, lr=lr, decay=decay, seed=None, device=device,
                  progress=progress).trials[0]
    with np.errstate(divide="ignore"):
        curve = -10.0 * np.log10(run.loss)
    return FitResult(loss=run.loss, psnr=curve, image=run.image)


def load_image(source, *, size=None):
    """Load a grayscale image as float64 in [0, 1] (min-max normalised), optionally resized.

    Parameters
    ----------
    source : str or path-like or array_like
        A PNG/TIFF file, an ``.npy`` file, ``"camera"`` (scikit-image's 512×512 cameraman) or
        an array of shape (H, W) or (H, W, C); colour images are converted to gray.
    size : int, optional
        Resize (anti-aliased, scikit-image) to size × size.

    Returns
    -------
    image : ndarray of shape (H, W)
    """
    import os

    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name == "camera":
            from skimage import data

            img = data.camera()
        elif name.lower().endswith(".npy"):
            img = np.load(name)
        else:
            from skimage import io

            img = io.imread(name)
        img = as_float_array(img, f"image read from source {name!r}", ndim=(2, 3),
                             dtype=np.float64)
    else:
        img = as_float_array(source, "source image", ndim=(2, 3), dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    if size is not None:
        from skimage import transform

        size = check_positive_int(size, "size")
        img = transform.resize(img, (size, size), anti_aliasing=True)
    span = img.max() - img.min()
    if span == 0:
        raise ValueError("image is constant; nothing to fit (source has one value)")
    return (img - img.min()) / span
