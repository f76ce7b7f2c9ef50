"""Fitting an INR through a linear forward operator y ≈ A(f), and choosing c by the variation norm.

Torch is imported when a function is called (extra ``torch``).
"""
import copy
import math
from dataclasses import dataclass

import numpy as np

from .._lib.validation import (as_float_array, check_bool, check_positive_float,
                               check_positive_int)
from ._conditioning import deep_variation_norm
from ._torch import _torch, coordinate_grid

__all__ = ["TrialFit", "InverseFit", "fit_inr", "CSelection", "select_c",
           "torch_variation_norm", "code_variation_norm", "ssim", "psnr_minmax"]

_PSNR_MODES = ("plain", "minmax")
_SSIM_WIN = 7  # scikit-image's default window: images must be at least 7 x 7


def psnr_minmax(target, output):
    """PSNR −10·log10(mean((target − minmax(output))²)) in dB, the signal-representation
    convention of the paper's code (the output is min-max normalised to [0, 1] first).

    Parameters
    ----------
    target : array_like, values in [0, 1]
    output : array_like of the shape of `target`

    Returns
    -------
    psnr : float
    """
    t = as_float_array(target, "target", dtype=np.float64)
    o = as_float_array(output, "output", dtype=np.float64)
    if t.shape != o.shape:
        raise ValueError(f"target and output must have the same shape; got {t.shape}, {o.shape}")
    span = o.max() - o.min()
    o = (o - o.min()) / span if span > 0 else np.zeros_like(o)
    mse = float(np.mean((t - o) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def ssim(target, output, *, data_range=1.0):
    """Structural similarity (scikit-image's ``structural_similarity``; needs scikit-image).

    Parameters
    ----------
    target, output : array_like of shape (H, W) or (H, W, C)
    data_range : float, default=1.0

    Returns
    -------
    ssim : float in [−1, 1]

    Raises
    ------
    ValueError
        Shapes that differ or are smaller than the 7 × 7 window, NaN/inf, a `data_range`
        that is not finite and > 0.
    """
    t = as_float_array(target, "target", ndim=(2, 3), dtype=np.float64)
    o = as_float_array(output, "output", ndim=(2, 3), dtype=np.float64)
    if t.shape != o.shape:
        raise ValueError(f"target and output must have the same shape; got {t.shape}, {o.shape}")
    if min(t.shape[:2]) < _SSIM_WIN:
        raise ValueError(f"target and output must be at least {_SSIM_WIN} x {_SSIM_WIN} (the SSIM "
                         f"window); got shape {t.shape}")
    data_range = check_positive_float(data_range, "data_range")
    from skimage.metrics import structural_similarity

    return float(structural_similarity(t, o, data_range=data_range,
                                       channel_axis=2 if t.ndim == 3 else None))


def torch_variation_norm(model):
    """Differentiable eq. 53 variation norm of a BW-ReLU/ReLU MLP (a regulariser).

    16·c·(Σ_k ‖W1[:, k]‖·‖W0[k, :]‖ + Σ_{l≥2} Σ_k ‖W_l[:, k]‖) for BW-ReLU, the same with
    factor 1 and c = 1 for ReLU; equals :func:`reluinj.deep_variation_norm` of the module.

    Parameters
    ----------
    model : torch.nn.Module
        Its ``nn.Linear`` layers in registration order (input layer first), ``c`` and
        ``activation`` attributes as on :class:`reluinj.INR` ("bwrelu" or "relu").

    Returns
    -------
    norm : 0-d torch.Tensor (differentiable in the weights and a learnable c)
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    activation = getattr(model, "activation", "bwrelu")
    if activation not in ("bwrelu", "relu"):
        raise ValueError(f"the variation norm needs a 'bwrelu' or 'relu' model; got {activation!r}")
    Ws = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if len(Ws) < 2:
        raise ValueError("model must have at least two nn.Linear layers")
    total = (Ws[1].norm(dim=0) * Ws[0].norm(dim=1)).sum()
    for W in Ws[2:]:
        total = total + W.norm(dim=0).sum()
    if activation == "relu":
        return total
    return 16.0 * getattr(model, "c", 1.0) * total


def code_variation_norm(model, *, script="ct"):
    """The "path norm" the authors' scripts print (``bwrelu-spec.md`` §3.2), not eq. 53.

    ``script="ct"``: c·(Σ_k ‖W0[k, :]‖·‖W1[k, :]‖ + Σ_k ‖W2[:, k]‖) (W1 *row* norms);
    ``script="sr"``: the same with W1 column norms. No factor 16, no output-layer term.
    Offered so that numbers can be compared with the paper's Figs 7–9.

    Parameters
    ----------
    model : torch.nn.Module
        A BW-ReLU MLP (at least two ``nn.Linear``), e.g. :class:`reluinj.INR`.
    script : {"ct", "sr"}, default="ct"

    Returns
    -------
    norm : float
    """
    if script not in ("ct", "sr"):
        raise ValueError(f"script must be 'ct' or 'sr'; got {script!r}")
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    weights = [m.weight.detach().cpu().double().numpy()
               for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if len(weights) < 2:
        raise ValueError("model must have at least two nn.Linear layers")
    c = float(getattr(model, "c", 1.0))
    W0, W1 = weights[0], weights[1]
    if script == "ct" and W1.shape[0] != W0.shape[0]:
        raise ValueError(f"script='ct' multiplies the row norms of the first two nn.Linear "
                         f"layers of model, which needs as many rows in both (a hidden layer "
                         f"K -> K, i.e. hidden_layers >= 2); got weights of shapes {W0.shape} "
                         f"and {W1.shape}")
    n1 = np.linalg.norm(W1, axis=1 if script == "ct" else 0)
    total = float(np.dot(np.linalg.norm(W0, axis=1), n1))
    if len(weights) > 2:
        total += float(np.linalg.norm(weights[2], axis=0).sum())
    return c * total


@dataclass(frozen=True)
class TrialFit:
    """One training run of :func:`fit_inr`.

    Attributes
    ----------
    loss : ndarray of shape (n_epochs,)
        Data loss mean((A(f_t) − y)²) at each epoch t, evaluated before that epoch's step.
    psnr : ndarray of shape (n_epochs,)
        PSNR of f_t against `target` (NaN without a target).
    lr : ndarray of shape (n_epochs,)
        Learning rate of each epoch's step.
    image : ndarray of shape (H, W) or (H, W, C)
        Final iterate: the network after the last step.
    best_image : ndarray
        The iterate f_t with the highest PSNR (with a target) or the lowest loss.
    best_epoch : int
    n_epochs : int
        Epochs run (fewer than asked when `stop_loss` or the callback stopped training).
    final_psnr : float
        PSNR of `image` (NaN without a target).
    ssim : float
        SSIM of `image` against the target (NaN without a target or scikit-image, or for
        images smaller than the 7 × 7 SSIM window).
    model : torch.nn.Module
        The trained network.
    seed : int or None
    """

    loss: np.ndarray
    psnr: np.ndarray
    lr: np.ndarray
    image: np.ndarray
    best_image: np.ndarray
    best_epoch: int
    n_epochs: int
    final_psnr: float
    ssim: float
    model: object
    seed: object


@dataclass(frozen=True)
class InverseFit:
    """Result of :func:`fit_inr` over several trials.

    Attributes
    ----------
    trials : tuple of TrialFit
    psnr_mean, psnr_sem : float
        Mean and standard error (std with ddof=1 over √n; 0 for one trial) of the final PSNR.
    """

    trials: tuple
    psnr_mean: float
    psnr_sem: float

    @property
    def image(self):
        """Final iterate of the first trial."""
        return self.trials[0].image

    @property
    def loss(self):
        """Loss history of the first trial."""
        return self.trials[0].loss


def _check_device(device):
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must name a torch device ('cpu', 'cuda', 'cuda:0'); "
                         f"got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} but torch has no CUDA here "
                           f"(torch {torch.__version__}); use device='cpu'")
    return dev


def _psnr(target, image, mode):
    if mode == "minmax":
        return psnr_minmax(target, image)
    mse = float(np.mean((target - image) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def fit_inr(measurements, model, *, operator=None, shape=None, target=None, epochs=300,
            lr=4e-3, decay=0.1, decay_epochs=None, trials=1, seed=0, device="cpu",
            stop_loss=None, callback=None, weight=0.0, psnr_mode="plain", progress=False):
    """Fit an INR f_θ on the pixel grid to measurements y ≈ A(f_θ) (full-batch Adam).

    Minimises mean((A(f_θ) − y)²) + weight·‖f_θ‖_V (eq. 53, :func:`torch_variation_norm`)
    with Adam at η(t) = lr·decay^{min(t / T, 1)}: T = `epochs` is the paper's schedule,
    a fixed T (`decay_epochs`, 5000 in the authors' CT script) their CT variant.

    Parameters
    ----------
    measurements : array_like
        y, of the shape `operator` returns for an image of shape (H, W) (grayscale,
        ``out_features = 1``) or (H, W, C).
    model : torch.nn.Module or callable
        The INR mapping (H·W, 2) coordinates (:func:`coordinate_grid`) to (H·W, C), or a
        zero-argument factory returning a fresh one (needed for ``trials > 1``; trial k calls
        it after ``torch.manual_seed(seed + k)``, so initialisations are reproducible).
    operator : callable, optional
        A: image tensor (H, W) or (H, W, C) → measurement tensor, differentiable in torch.
        None is the identity (signal representation); :class:`RadonTransform` (CT),
        :class:`AveragePool` (super-resolution) or any callable.
    shape : (int, int), optional
        Image grid (H, W). Default: ``operator.input_shape`` when it has one, else the first
        two axes of `measurements` (identity).
    target : array_like of shape (H, W) or (H, W, C), optional
        Ground truth for the PSNR history, best iterate and SSIM (SSIM only for images of at
        least 7 × 7, the SSIM window; NaN below).
    epochs : int, default=300
    lr : float, default=4e-3
        η₀.
    decay : float, default=0.1
        r in (0, 1].
    decay_epochs : int, optional
        T of the schedule; default `epochs`.
    trials : int, default=1
    seed : int or None, default=0
        Trial k seeds torch with ``seed + k`` (``seed >= 0``); None leaves torch's global state
        alone.
    device : str or torch.device, default="cpu"
        Where to train ("cuda" needs a CUDA build of torch); results come back as NumPy.
    stop_loss : float, optional
        Stop a trial once its data loss is ≤ `stop_loss`.
    callback : callable, optional
        ``callback(epoch, loss, image)`` after each epoch's evaluation (image: a detached
        tensor); returning True stops the trial.
    weight : float, default=0.0
        Weight of the variation-norm regulariser (BW-ReLU or ReLU models).
    psnr_mode : {"plain", "minmax"}, default="plain"
        10·log10(1/MSE) (CT, SR) or with the output min-max normalised (signal
        representation).
    progress : bool, default=False
        tqdm progress bar.

    Returns
    -------
    result : InverseFit
    """
    torch = _torch()
    dev = _check_device(device)
    y_np = as_float_array(measurements, "measurements", dtype=np.float32)
    if not np.all(np.isfinite(y_np)):
        raise ValueError("measurements must be finite (found NaN or inf)")
    if operator is None and y_np.ndim not in (2, 3):
        raise ValueError(f"measurements must be an image (H, W) or (H, W, C); got {y_np.shape}")
    if operator is not None and not callable(operator):
        raise TypeError(f"operator must be callable; got {type(operator).__name__}")
    if shape is None:
        if operator is None:
            shape = y_np.shape[:2]
        elif hasattr(operator, "input_shape"):
            shape = operator.input_shape
        else:
            raise ValueError("shape=(H, W) is needed for an operator without input_shape")
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"shape must be (H, W); got {shape!r}")
    H, W = (check_positive_int(n, "shape") for n in shape)
    tgt = None
    if target is not None:
        tgt = as_float_array(target, "target", ndim=(2, 3), dtype=np.float64)
        if tgt.shape[:2] != (H, W):
            raise ValueError(f"target must have shape ({H}, {W}[, C]); got {tgt.shape}")
    epochs = check_positive_int(epochs, "epochs")
    trials = check_positive_int(trials, "trials")
    lr = check_positive_float(lr, "lr")
    decay = check_positive_float(decay, "decay")
    if decay > 1:
        raise ValueError(f"decay must be in (0, 1]; got {decay}")
    T = epochs if decay_epochs is None else check_positive_int(decay_epochs, "decay_epochs")
    if stop_loss is not None:
        stop_loss = check_positive_float(stop_loss, "stop_loss")
    weight = check_positive_float(weight, "weight", allow_zero=True)
    progress = check_bool(progress, "progress")
    if psnr_mode not in _PSNR_MODES:
        raise ValueError(f"psnr_mode must be one of {_PSNR_MODES}; got {psnr_mode!r}")
    is_module = isinstance(model, torch.nn.Module)
    if not is_module and not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or a factory; got {type(model).__name__}")
    if is_module and trials > 1:
        raise ValueError("trials > 1 needs model to be a factory (a callable returning a module)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    if seed is not None and not (0 <= seed and seed + trials <= 2**64):
        raise ValueError(f"seed must be >= 0 and seed + trials <= 2**64 (torch.manual_seed); "
                         f"got {seed}")
    op = (lambda f: f) if operator is None else operator
    coords = torch.from_numpy(coordinate_grid((H, W))).to(dev)
    y = torch.from_numpy(y_np).to(dev)
    from tqdm import tqdm

    runs = []
    for k in range(trials):
        trial_seed = None if seed is None else int(seed) + k
        if trial_seed is not None:
            torch.manual_seed(trial_seed)
        net = model if is_module else model()
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"the model factory must return a torch.nn.Module; "
                            f"got {type(net).__name__}")
        net = net.to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: decay ** min(t / T, 1.0))
        losses, psnrs, lrs = [], [], []
        best = (math.inf, None, -1)          # (key to minimise, image, epoch)
        bar = tqdm(range(epochs), disable=not progress, desc=f"fit_inr trial {k + 1}/{trials}")
        for t in bar:
            opt.zero_grad(set_to_none=True)
            out = net(coords)
            if out.ndim != 2 or out.shape[0] != H * W:
                raise ValueError(f"model must map ({H * W}, 2) coordinates to ({H * W}, C); "
                                 f"got output shape {tuple(out.shape)}")
            f = out.reshape(H, W) if out.shape[1] == 1 else out.reshape(H, W, out.shape[1])
            pred = op(f)
            if tuple(pred.shape) != tuple(y.shape):
                raise ValueError(f"operator output shape {tuple(pred.shape)} does not match "
                                 f"measurements shape {tuple(y.shape)}")
            data = torch.mean((pred - y) ** 2)
            loss = data + weight * torch_variation_norm(net) if weight > 0 else data
            loss.backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
            lv = float(data.detach())
            losses.append(lv)
            fimg = f.detach()
            if tgt is not None:
                img_np = fimg.cpu().double().numpy()
                if img_np.shape != tgt.shape:
                    raise ValueError(f"target must have the image shape {img_np.shape}; "
                                     f"got {tgt.shape}")
                p = _psnr(tgt, img_np, psnr_mode)
                psnrs.append(p)
                key = -p
            else:
                psnrs.append(math.nan)
                key = lv
            if key < best[0]:
                best = (key, fimg.clone(), t)
            if progress and (t % 10 == 0 or t == epochs - 1):
                bar.set_postfix(loss=f"{lv:.3g}", psnr=f"{psnrs[-1]:.2f}")
            stop = callback is not None and callback(t, lv, fimg) is True
            if stop or (stop_loss is not None and lv <= stop_loss):
                break
        bar.close()
        with torch.no_grad():
            out = net(coords)
            final = out.reshape((H, W) if out.shape[1] == 1 else (H, W, out.shape[1]))
            final = final.cpu().double().numpy()
        final_psnr = math.nan if tgt is None else _psnr(tgt, final, psnr_mode)
        s = math.nan
        if tgt is not None and min(H, W) >= _SSIM_WIN:
            try:
                s = ssim(tgt, final, data_range=1.0)
            except ImportError:
                pass
        runs.append(TrialFit(loss=np.asarray(losses), psnr=np.asarray(psnrs),
                             lr=np.asarray(lrs), image=final,
                             best_image=best[1].cpu().double().numpy(), best_epoch=best[2],
                             n_epochs=len(losses), final_psnr=final_psnr, ssim=s, model=net,
                             seed=trial_seed))
    finals = np.array([r.final_psnr for r in runs])
    sem = float(np.std(finals, ddof=1) / math.sqrt(trials)) if trials > 1 else 0.0
    return InverseFit(trials=tuple(runs), psnr_mean=float(np.mean(finals)), psnr_sem=sem)


@dataclass(frozen=True)
class CSelection:
    """Result of :func:`select_c`.

    Attributes
    ----------
    c : ndarray of shape (n_c,)
    n_epochs : ndarray of int, shape (n_c,)
        Epochs each run needed to reach the stopping loss (or the cap).
    psnr : ndarray of shape (n_c,)
        Final PSNR (NaN without a target).
    variation_norm : ndarray of shape (n_c,)
        Eq. 53 of the trained network (:func:`reluinj.deep_variation_norm`).
    code_norm : ndarray of shape (n_c,)
        The "path norm" the authors' CT (``script="ct"``) or SR script prints
        (``bwrelu-spec.md`` §3.2: W1 row/column norms, no 16, no output layer) — the quantity
        that Figs 7–9 presumably show; not eq. 53.
    reached : ndarray of bool, shape (n_c,)
        Whether the stopping loss was reached.
    best_c : float
        The c of smallest eq. 53 norm among the runs that reached the stopping loss (among all
        runs when none did).
    fits : tuple of InverseFit
    """

    c: np.ndarray
    n_epochs: np.ndarray
    psnr: np.ndarray
    variation_norm: np.ndarray
    code_norm: np.ndarray
    reached: np.ndarray
    best_c: float
    fits: tuple


def select_c(measurements, model, c_values, *, stop_loss, operator=None, script="ct", **options):
    """Choose the BW-ReLU scale c by the variation norm (paper §4, §5.4).

    Trains one BW-ReLU INR per c to the same stopping loss and picks the c whose network has
    the smallest eq. 53 norm.

    Parameters
    ----------
    measurements : array_like
        As for :func:`fit_inr`.
    model : callable
        ``model(c)`` returns a fresh BW-ReLU module with scale c (e.g.
        ``lambda c: INR(2, 300, 3, 1, c=c)``).
    c_values : sequence of float
        Scales to try (each > 0).
    stop_loss : float
        Data loss at which each run stops (the authors use 4.73e-2 on their CT task).
    operator : callable, optional
    script : {"ct", "sr"}, default="ct"
        Which script's printed norm `code_norm` reproduces.
    **options
        Further keyword options of :func:`fit_inr` (``epochs`` is the cap, ``seed``,
        ``target``, ``lr``, ``device``, ...); ``trials`` is 1.

    Returns
    -------
    selection : CSelection
    """
    if not callable(model):
        raise TypeError("model must be a callable c -> torch module")
    cs = as_float_array(c_values, "c_values", ndim=(0, 1), dtype=np.float64).reshape(-1)
    if (cs <= 0).any():
        raise ValueError(f"c_values must be > 0; got {cs[cs <= 0][0]}")
    if script not in ("ct", "sr"):
        raise ValueError(f"script must be 'ct' or 'sr'; got {script!r}")
    if "trials" in options:
        raise ValueError("select_c runs one trial per c; do not pass trials")
    fits, n_ep, ps, vn, cn, reached = [], [], [], [], [], []
    for c in cs:
        fit = fit_inr(measurements, lambda c=c: model(float(c)), operator=operator,
                      stop_loss=stop_loss, **options)
        run = fit.trials[0]
        fits.append(fit)
        n_ep.append(run.n_epochs)
        ps.append(run.final_psnr)
        vn.append(deep_variation_norm(copy.deepcopy(run.model).cpu()))
        cn.append(code_variation_norm(run.model, script=script))
        reached.append(bool(run.loss[-1] <= stop_loss))
    vn, reached = np.array(vn), np.array(reached)
    pool = np.flatnonzero(reached) if reached.any() else np.arange(cs.size)
    best = float(cs[pool[np.argmin(vn[pool])]])
    return CSelection(c=cs, n_epochs=np.array(n_ep), psnr=np.array(ps), variation_norm=vn,
                      code_norm=np.array(cn), reached=reached, best_c=best, fits=tuple(fits))
