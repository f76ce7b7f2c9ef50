"""Linear forward operators for INR inverse problems: parallel-beam Radon transform, average pooling.

Both act on NumPy arrays and on torch tensors of shape (H, W) or (H, W, C) (channel last, as the
images of :func:`reluinj.fit_inr`) and have an exact adjoint. The Radon transform is an explicit
sparse matrix of bilinear-interpolation weights (SciPy CSR for NumPy input and for CPU tensors,
a torch sparse CSR tensor on other devices, inside a ``torch.autograd.Function`` whose backward
applies the transpose), so the adjoint is the transpose of the very matrix the forward applies.
"""
import math
import numbers
import warnings

import numpy as np

from .. import _cykern
from .._lib.threads import effective_n_threads
from .._lib.validation import as_float_array, check_positive_int

__all__ = ["RadonTransform", "AveragePool", "radon"]


def _is_tensor(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _check_image_shape(shape, name="shape"):
    if isinstance(shape, numbers.Integral):
        shape = (shape, shape)
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be (H, W); got {shape!r}")
    return tuple(check_positive_int(n, name) for n in shape)


def _check_input(x, shape, name):
    """Validate an (H, W) or (H, W, C) input; returns (x, n_channels or None)."""
    if _is_tensor(x):
        if x.ndim not in (2, 3) or tuple(x.shape[:2]) != shape:
            raise ValueError(f"{name} must have shape {shape} or {shape} + (C,); "
                             f"got {tuple(x.shape)}")
        return x, (x.shape[2] if x.ndim == 3 else None)
    x = as_float_array(x, name, ndim=(2, 3))
    if x.shape[:2] != shape:
        raise ValueError(f"{name} must have shape {shape} or {shape} + (C,); got {x.shape}")
    return x, (x.shape[2] if x.ndim == 3 else None)


def _rotation_sum_matrix(shape, angles_deg):
    """CSR matrix R of shape (n_angles·W, H·W): row a·W + j of R·vec(img) is column j of the
    image rotated by angles_deg[a] (bilinear, zero padding, about ((W−1)/2, (H−1)/2)), summed
    over rows."""
    import scipy.sparse as sp

    H, W = shape
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(H, dtype=np.float64) - cy,
                         np.arange(W, dtype=np.float64) - cx, indexing="ij")
    col_of_dst = np.broadcast_to(np.arange(W), (H, W)).ravel()
    blocks = []
    for theta in np.deg2rad(angles_deg):
        c, s = math.cos(theta), math.sin(theta)
        # kornia / OpenCV getRotationMatrix2D(center, θ): dst(p) = src(M⁻¹ p)
        sx = (c * xx - s * yy + cx).ravel()
        sy = (s * xx + c * yy + cy).ravel()
        x0 = np.floor(sx)
        y0 = np.floor(sy)
        fx, fy = sx - x0, sy - y0
        x0 = x0.astype(np.int64)
        y0 = y0.astype(np.int64)
        rows, cols, vals = [], [], []
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H) & (w != 0)
            rows.append(col_of_dst[ok])
            cols.append(yi[ok] * W + xi[ok])
            vals.append(w[ok])
        blocks.append(sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(W, H * W)))
    R = sp.vstack(blocks, format="csr")
    R.sum_duplicates()
    return R


def _csr_apply(M, X):
    """M @ X for a SciPy CSR matrix M and X of shape (n, C) in M's dtype, on the OpenMP threads
    (SciPy's CSR product is serial; this one sums each row in the same order, so the result does
    not depend on the thread count). X is copied only when it is not already C-contiguous in
    M's dtype."""
    X = np.ascontiguousarray(X, dtype=M.dtype)
    if X.shape[0] != M.shape[1]:
        raise ValueError(f"operator input has {X.shape[0]} rows; expected {M.shape[1]}")
    out = np.empty((M.shape[0], X.shape[1]), dtype=M.dtype)
    _cykern.csr_matmat(M.data, M.indices, M.indptr, X, out, effective_n_threads(None))
    return out


def _sparse_function():
    import torch

    cached = globals().get("_SparseApply")
    if cached is not None:
        return cached

    class _SparseApply(torch.autograd.Function):
        """y = A·x with backward Aᵀ·g (A, Aᵀ torch sparse CSR tensors; x of shape (n, C))."""

        @staticmethod
        def forward(ctx, x, A, At):
            ctx.At = At
            return A @ x

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            return ctx.At @ g.contiguous(), None, None

    class _ScipyApply(torch.autograd.Function):
        """The same on CPU tensors through SciPy CSR (faster than torch's CPU sparse matmul)."""

        @staticmethod
        def forward(ctx, x, A, At):
            ctx.At = At
            return torch.from_numpy(_csr_apply(A, x.detach().numpy()))

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            return torch.from_numpy(_csr_apply(ctx.At, g.detach().numpy())), None, None

    globals()["_SparseApply"] = _SparseApply
    globals()["_ScipyApply"] = _ScipyApply
    return _SparseApply


class _SparseOperator:
    """Shared machinery: an explicit SciPy CSR matrix with cached torch copies per device/dtype."""

    def _matrix(self):
        raise NotImplementedError

    @property
    def matrix(self):
        """The operator as a SciPy CSR matrix of shape (prod(output_shape), H·W), float64."""
        if self._csr is None:
            self._csr = self._matrix()
        return self._csr

    def _torch_pair(self, device, dtype):
        import torch

        key = (str(device), str(dtype))
        if key not in self._cache:
            R = self.matrix
            Rt = R.T.tocsr()

            def conv(M):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)   # "sparse CSR is beta"
                    return torch.sparse_csr_tensor(
                        torch.from_numpy(M.indptr.astype(np.int64)),
                        torch.from_numpy(M.indices.astype(np.int64)),
                        torch.from_numpy(M.data).to(dtype), size=M.shape, device=device,
                        check_invariants=False)

            self._cache[key] = (conv(R), conv(Rt))
        return self._cache[key]

    def _apply(self, x, C, n_in, out_shape, transpose):
        if _is_tensor(x):
            import torch

            dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
            X = x.to(dtype).reshape(n_in, C or 1)
            if x.device.type == "cpu":
                np_dtype = np.float32 if dtype == torch.float32 else np.float64
                A = self._numpy_matrix(np_dtype, transpose)
                At = self._numpy_matrix(np_dtype, not transpose)
                _sparse_function()
                Y = globals()["_ScipyApply"].apply(X, A, At)
            else:
                A, At = self._torch_pair(x.device, dtype)
                if transpose:
                    A, At = At, A
                Y = _sparse_function().apply(X, A, At)
        else:
            M = self._numpy_matrix(x.dtype, transpose)
            Y = _csr_apply(M, x.reshape(n_in, C or 1))
        return Y.reshape(out_shape + ((C,) if C else ()))

    def _numpy_matrix(self, dtype, transpose):
        """The CSR matrix (or its transpose, as CSR) in the input's float dtype, cached."""
        key = ("numpy", np.dtype(dtype).str, transpose)
        if key not in self._cache:
            M = self.matrix.T.tocsr() if transpose else self.matrix
            M = M.astype(dtype) if M.dtype != dtype else M
            if M.indices.dtype != M.indptr.dtype:   # one index type for csr_matmat (new object:
                M = type(M)((M.data, M.indices.astype(np.int64),   # self.matrix stays as it is)
                             M.indptr.astype(np.int64)), shape=M.shape)
            self._cache[key] = M
        return self._cache[key]


class RadonTransform(_SparseOperator):
    """Parallel-beam Radon transform of (H, W) images, the convention of the BW-ReLU / WIRE code.

    For each angle θ the image is rotated by θ degrees counter-clockwise (as displayed, rows
    downward) about its centre ((W − 1)/2, (H − 1)/2) with bilinear interpolation and zero
    padding — no padding to the diagonal, so the corners leave the field of view — and summed
    over its rows: sinogram[a, j] = Σ_i rot_θa(img)[i, j]. This is ``kornia.geometry.rotate``
    followed by ``.sum(rows)`` as in the authors' ``lin_inverse.radon``.

    Relation to :func:`skimage.transform.radon` (``circle=True``): for an odd side length N
    and an image supported in the inscribed disc, ``RadonTransform(N, angles=θ)(img)`` equals
    ``skimage.transform.radon(img, -θ, circle=True).T`` (skimage rotates the other way and
    centres at N // 2, which is (N − 1)/2 only for odd N).

    Parameters
    ----------
    shape : int or (int, int)
        Image shape (H, W); an int means a square image.
    n_angles : int, default=100
        Number of angles ``np.linspace(0, 180, n_angles)`` degrees, both ends included.
    angles : array_like of shape (n_angles,), optional
        Explicit angles in degrees (overrides `n_angles`).

    Attributes
    ----------
    input_shape : (int, int)
    output_shape : (int, int)
        (n_angles, W).
    angles : ndarray of shape (n_angles,)
        Degrees.

    Notes
    -----
    Calling the operator on an array of shape (H, W) or (H, W, C) returns (n_angles, W) or
    (n_angles, W, C) in the input's float dtype (float32 input uses a float32 copy of the
    matrix); :meth:`adjoint` is the exact transpose (backprojection, no filter). On a
    torch tensor it is differentiable, on the tensor's device, with the adjoint as backward.
    """

    def __init__(self, shape, *, n_angles=100, angles=None):
        self.input_shape = self._in_shape = _check_image_shape(shape)
        if angles is None:
            n_angles = check_positive_int(n_angles, "n_angles")
            angles = np.linspace(0.0, 180.0, n_angles)
        else:
            angles = as_float_array(angles, "angles", ndim=1, dtype=np.float64)
            if angles.size == 0:
                raise ValueError("angles must not be empty")
        self.angles = angles
        self.output_shape = (angles.size, self.input_shape[1])
        self._csr = None
        self._cache = {}

    def _matrix(self):
        return _rotation_sum_matrix(self.input_shape, self.angles)

    def __call__(self, image):
        image, C = _check_input(image, self.input_shape, "image")
        H, W = self.input_shape
        return self._apply(image, C, H * W, self.output_shape, False)

    def adjoint(self, sinogram):
        """Backprojection Rᵀ: (n_angles, W[, C]) → (H, W[, C])."""
        s = sinogram if _is_tensor(sinogram) else as_float_array(sinogram, "sinogram", ndim=(2, 3))
        if s.ndim not in (2, 3) or tuple(s.shape[:2]) != self.output_shape:
            raise ValueError(f"sinogram must have shape {self.output_shape} or "
                             f"{self.output_shape} + (C,); got {tuple(s.shape)}")
        C = s.shape[2] if s.ndim == 3 else None
        return self._apply(s, C, s.shape[0] * s.shape[1], self.input_shape, True)

    def __repr__(self):
        return f"RadonTransform(shape={self.input_shape}, n_angles={self.angles.size})"


def radon(image, *, n_angles=100, angles=None):
    """Parallel-beam sinogram of an image (see :class:`RadonTransform` for the convention).

    Parameters
    ----------
    image : array_like or torch.Tensor of shape (H, W) or (H, W, C)
    n_angles : int, default=100
        Angles ``np.linspace(0, 180, n_angles)`` degrees, both ends included.
    angles : array_like, optional
        Explicit angles in degrees.

    Returns
    -------
    sinogram : ndarray or torch.Tensor of shape (n_angles, W) or (n_angles, W, C)
    """
    if not _is_tensor(image):
        image = as_float_array(image, "image", ndim=(2, 3))
    return RadonTransform(tuple(image.shape[:2]), n_angles=n_angles, angles=angles)(image)


class AveragePool:
    """Average pooling by an integer factor f (super-resolution forward model, ``AvgPool2d(f)``).

    Parameters
    ----------
    shape : int or (int, int)
        High-resolution shape (H, W), both multiples of `factor`.
    factor : int
        Pooling factor f ≥ 1; the output has shape (H / f, W / f).

    Attributes
    ----------
    input_shape, output_shape : (int, int)

    Notes
    -----
    Works on NumPy arrays and torch tensors of shape (H, W) or (H, W, C); the adjoint spreads
    each low-resolution value over its f × f block divided by f².
    """

    def __init__(self, shape, factor):
        self.input_shape = _check_image_shape(shape)
        self.factor = check_positive_int(factor, "factor")
        H, W = self.input_shape
        if H % self.factor or W % self.factor:
            raise ValueError(f"shape {self.input_shape} must be a multiple of factor {factor}")
        self.output_shape = (H // self.factor, W // self.factor)

    def __call__(self, image):
        x, C = _check_input(image, self.input_shape, "image")
        h, w = self.output_shape
        f = self.factor
        y = x.reshape(h, f, w, f, *(() if C is None else (C,)))
        return y.mean(axis=(1, 3)) if not _is_tensor(y) else y.mean(dim=(1, 3))

    def adjoint(self, low):
        """Adjoint: (H / f, W / f[, C]) → (H, W[, C])."""
        x, C = _check_input(low, self.output_shape, "low")
        f = self.factor
        tail = () if C is None else (C,)
        if _is_tensor(x):
            up = x.repeat_interleave(f, 0).repeat_interleave(f, 1)
        else:
            up = np.repeat(np.repeat(x, f, axis=0), f, axis=1)
        return up.reshape(self.input_shape + tail) / (f * f)

    def __repr__(self):
        return f"AveragePool(shape={self.input_shape}, factor={self.factor})"
