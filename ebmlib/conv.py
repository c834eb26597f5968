r"""Convolutional sparse coding and the convolutional sparse auto-encoder.

The dictionary is a set of M kernels K_i and the code a set of M sparse feature maps
Z_i; an image y with C channels is reconstructed as y ≈ Σ_i K_i * Z_i, and the energy is

.. math::  E(Z, y) = \tfrac12 \bigl\lVert y - \textstyle\sum_i K_i * Z_i \bigr\rVert^2
           + \lambda \textstyle\sum_i \lVert Z_i \rVert_1 .

Note the **½** in front of the squared error, unlike :mod:`ebmlib.energy` and
:mod:`ebmlib.solvers`, whose dense energy ‖y − W_d z‖² + λ‖z‖₁ has none: here the
gradient of the smooth part is Dᵀ(D Z − y) and the Lipschitz constant is L = ‖D‖², the
convention of the convolutional sparse-coding literature (and of sporco's ``ConvBPDN``).

Shapes: images y are (B, C, H, W) (C = 1 for grey, 3 for colour); kernels K are
(M, C, k_h, k_w), kernel i holding one k_h × k_w filter per channel; feature maps Z are
(B, M, H_z, W_z). ``*`` is a true convolution (the kernel is flipped), summed over the
maps for every channel: y_c = Σ_i K_{i,c} * Z_i.

Boundary (the ``boundary`` argument, the same for every function of this module):

* ``"full"`` (default): the maps are larger than the image, H_z = H + k_h − 1 and
  W_z = W + k_w − 1, and the reconstruction keeps only the "valid" part of each
  convolution. Every pixel of y is then covered by the same number (k_h·k_w) of map
  positions (a pixel near the border has as many kernel placements to draw on as one in
  the middle), and no padding value is invented. The adjoint Dᵀ is the "full" correlation
  of y with the kernels (y padded with zeros).
* ``"circular"``: H_z = H and W_z = W, and the convolution wraps around (periodic
  boundary), as in sporco's ``ConvBPDN``; the adjoint is the circular correlation.

Both are computed in the Fourier domain (``torch.fft.rfft2``) on the maps' grid: the
"full" operator is the circular convolution on the (H_z, W_z) grid followed by a crop,
and its adjoint zero-pads y back onto that grid. Everything follows the device and the
dtype of the inputs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional
from tqdm.auto import tqdm

from . import _validate as check

__all__ = ["BOUNDARIES", "ConvSparseAutoEncoder", "ConvTrainingCurve", "conv_energy", "conv_fista",
           "conv_lipschitz", "conv_lipschitz_power", "decode", "decode_adjoint", "highpass",
           "learn_conv_dictionary", "map_size", "normalize_kernels", "random_crops", "train_conv_autoencoder"]

BOUNDARIES = ("full", "circular")


# -- argument checks ------------------------------------------------------------------

def _boundary(boundary: str) -> str:
    if boundary not in BOUNDARIES:
        raise ValueError(f"argument 'boundary': expected 'full' or 'circular', received {boundary!r}")
    return boundary


def _kernels(K: Tensor, name: str = "K") -> Tensor:
    check.tensor(name, K, ndim=4, shape_doc="(M, C, k_h, k_w)")
    if min(K.shape) == 0:
        raise ValueError(f"argument '{name}': expected non-empty kernels (M, C, k_h, k_w), "
                         f"received shape {tuple(K.shape)}")
    return K


def _images(y: Tensor, K: Tensor, name: str = "y") -> Tensor:
    check.tensor(name, y, ndim=4, shape_doc="(B, C, H, W)")
    if y.shape[1] != K.shape[1]:
        raise ValueError(f"arguments '{name}' and 'K': expected {name} with C = {K.shape[1]} channels "
                         f"(K has shape {tuple(K.shape)}), received {name} of shape {tuple(y.shape)}")
    if y.device != K.device or y.dtype != K.dtype:
        raise ValueError(f"arguments '{name}' and 'K': expected the same device and dtype, received "
                         f"{y.device}/{y.dtype} and {K.device}/{K.dtype}")
    return y


def map_size(image_size: tuple[int, int], kernel_size: tuple[int, int],
             boundary: str = "full") -> tuple[int, int]:
    """(H_z, W_z) of the feature maps of an (H, W) image: (H + k_h − 1, W + k_w − 1) for
    ``"full"``, (H, W) for ``"circular"``."""
    (H, W), (kh, kw) = image_size, kernel_size
    if _boundary(boundary) == "full":
        return H + kh - 1, W + kw - 1
    if kh > H or kw > W:
        raise ValueError(f"argument 'K': with boundary='circular' the kernels ({kh} × {kw}) must "
                         f"not be larger than the image ({H} × {W})")
    return H, W


def _image_size(z_size: tuple[int, int], kernel_size: tuple[int, int], boundary: str) -> tuple[int, int]:
    (Hz, Wz), (kh, kw) = z_size, kernel_size
    return (Hz - kh + 1, Wz - kw + 1) if boundary == "full" else (Hz, Wz)


# -- the operator D: Z ↦ Σ_i K_i * Z_i, and its adjoint ------------------------------

class _Operator:
    """D and Dᵀ for fixed kernels on a fixed grid, with the kernels' spectrum computed once."""

    def __init__(self, K: Tensor, z_size: tuple[int, int], boundary: str) -> None:
        self.kh, self.kw = K.shape[-2:]
        self.z_size = z_size
        self.boundary = boundary
        self.K_hat = torch.fft.rfft2(K, s=z_size)  # (M, C, H_z, W_z // 2 + 1)
        self.M, self.C = K.shape[:2]

    def apply(self, z: Tensor) -> Tensor:
        """D z: (B, M, H_z, W_z) → (B, C, H, W)."""
        z_hat = torch.fft.rfft2(z)
        if self.C == 1:
            s_hat = (z_hat * self.K_hat[:, 0]).sum(1, keepdim=True)
        else:
            s_hat = torch.einsum("bmhw,mchw->bchw", z_hat, self.K_hat)
        s = torch.fft.irfft2(s_hat, s=self.z_size)
        if self.boundary == "full":
            s = s[..., self.kh - 1:, self.kw - 1:]
        return s

    def adjoint(self, r: Tensor) -> Tensor:
        """Dᵀ r: (B, C, H, W) → (B, M, H_z, W_z)."""
        if self.boundary == "full":
            r = functional.pad(r, (self.kw - 1, 0, self.kh - 1, 0))
        r_hat = torch.fft.rfft2(r)
        if self.C == 1:
            g_hat = r_hat * self.K_hat[:, 0].conj()
        else:
            g_hat = torch.einsum("bchw,mchw->bmhw", r_hat, self.K_hat.conj())
        return torch.fft.irfft2(g_hat, s=self.z_size)

    def lipschitz(self) -> float:
        """‖D‖² on this grid: max over frequencies of σ_max(K̂(f))² (exact for "circular";
        an upper bound for "full", whose crop can only shrink the norm)."""
        K_hat = self.K_hat.detach()
        if K_hat.dtype == torch.complex32:
            K_hat = K_hat.to(torch.complex64)
        if self.C == 1:
            return float(K_hat.abs().pow(2).sum(0).max())
        G = torch.einsum("mchw,mdhw->hwcd", K_hat, K_hat.conj())  # (…, C, C) Hermitian
        try:
            top = torch.linalg.eigvalsh(G)[..., -1]
        except (RuntimeError, NotImplementedError):  # no eigvalsh on this device
            top = torch.linalg.eigvalsh(G.cpu())[..., -1]
        return float(top.max())


def decode(z: Tensor, K: Tensor, boundary: str = "full") -> Tensor:
    """The reconstruction D Z = Σ_i K_i * Z_i, per channel.

    Args:
        z: feature maps, (B, M, H_z, W_z); with ``"full"`` the image is
            (H_z − k_h + 1) × (W_z − k_w + 1), with ``"circular"`` it is H_z × W_z.
        K: kernels, (M, C, k_h, k_w).
        boundary: ``"full"`` or ``"circular"`` (see the module docstring).

    Returns:
        The images, (B, C, H, W). Differentiable in z and K.
    """
    _kernels(K)
    check.tensor("z", z, ndim=4, shape_doc="(B, M, H_z, W_z)")
    if z.shape[1] != K.shape[0]:
        raise ValueError(f"arguments 'z' and 'K': expected z with M = {K.shape[0]} maps (K has shape "
                         f"{tuple(K.shape)}), received z of shape {tuple(z.shape)}")
    if z.device != K.device or z.dtype != K.dtype:
        raise ValueError("arguments 'z' and 'K': expected the same device and dtype, received "
                         f"{z.device}/{z.dtype} and {K.device}/{K.dtype}")
    boundary = _boundary(boundary)
    H, W = _image_size(tuple(z.shape[-2:]), tuple(K.shape[-2:]), boundary)
    if H < 1 or W < 1 or (boundary == "circular" and (K.shape[-2] > H or K.shape[-1] > W)):
        raise ValueError(f"argument 'z': maps of size {tuple(z.shape[-2:])} are too small for "
                         f"{tuple(K.shape[-2:])} kernels with boundary={boundary!r}")
    return _Operator(K, tuple(z.shape[-2:]), boundary).apply(z)


def decode_adjoint(y: Tensor, K: Tensor, boundary: str = "full") -> Tensor:
    """The adjoint Dᵀ y: the correlation of y with every kernel, summed over channels.

    Satisfies ⟨D z, y⟩ = ⟨z, Dᵀ y⟩ for every z and y.

    Args:
        y: images, (B, C, H, W).
        K: kernels, (M, C, k_h, k_w).
        boundary: ``"full"`` or ``"circular"``.

    Returns:
        Maps, (B, M, H_z, W_z) with (H_z, W_z) = :func:`map_size` ((H, W), (k_h, k_w)).
    """
    _images(y, _kernels(K))
    z_size = map_size(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary)
    return _Operator(K, z_size, boundary).adjoint(y)


def conv_lipschitz(K: Tensor, image_size: tuple[int, int], boundary: str = "full") -> float:
    """L = ‖D‖², the Lipschitz constant of Z ↦ Dᵀ(D Z − y), computed in the Fourier domain:
    the largest σ_max(K̂(f))² over the frequencies f of the maps' grid, K̂(f) being the
    C × M matrix of the kernels' transforms. Exact for ``"circular"``; for ``"full"`` it is
    the norm of the circular operator on the larger grid, which the crop to the image can
    only shrink: an upper bound (:func:`conv_lipschitz_power` measures how close). No
    gradient flows through it.

    Args:
        K: kernels, (M, C, k_h, k_w).
        image_size: (H, W) of the images.
        boundary: ``"full"`` or ``"circular"``.
    """
    _kernels(K)
    z_size = map_size(image_size, tuple(K.shape[-2:]), boundary)
    return _Operator(K.detach(), z_size, boundary).lipschitz()


def conv_lipschitz_power(K: Tensor, image_size: tuple[int, int], boundary: str = "full", *,
                         n_iter: int = 100, seed: int = 0) -> float:
    """‖D‖² estimated by power iteration on DᵀD, from random maps: the Rayleigh quotient
    ‖D z‖² / ‖z‖² after ``n_iter`` iterations. It is a lower bound of ‖D‖² that rises towards
    it, so with :func:`conv_lipschitz` (an upper bound for ``"full"``) it brackets ‖D‖².
    Computed in the kernels' dtype; no gradient flows through it.

    Args:
        K: kernels, (M, C, k_h, k_w).
        image_size: (H, W) of the images.
        boundary: ``"full"`` or ``"circular"``.
        n_iter: number of iterations (>= 1).
        seed: seed of the random start.
    """
    _kernels(K)
    check.positive_int("n_iter", n_iter)
    z_size = map_size(image_size, tuple(K.shape[-2:]), boundary)
    op = _Operator(K.detach(), z_size, boundary)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(1, K.shape[0], *z_size, generator=g, dtype=K.dtype).to(K.device)
    z = z / torch.linalg.vector_norm(z)
    with torch.no_grad():
        for _ in range(n_iter):
            z = op.adjoint(op.apply(z))
            z = z / torch.linalg.vector_norm(z)
        return float(op.apply(z).pow(2).sum())


def conv_energy(y: Tensor, K: Tensor, z: Tensor, lam: float, boundary: str = "full") -> Tensor:
    r"""E(Z, y) = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ for every image of a batch.

    Args:
        y: images, (B, C, H, W); K: kernels, (M, C, k_h, k_w); z: maps, (B, M, H_z, W_z);
        lam: λ >= 0; boundary: ``"full"`` or ``"circular"``.

    Returns:
        The energies, (B,).
    """
    _images(y, _kernels(K))
    lam = check.nonnegative("lam", lam)
    want = map_size(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary)
    check.tensor("z", z, ndim=4, shape_doc="(B, M, H_z, W_z)")
    if tuple(z.shape) != (y.shape[0], K.shape[0], *want):
        raise ValueError(f"argument 'z': expected shape (B, M, H_z, W_z) = "
                         f"{(y.shape[0], K.shape[0], *want)} for boundary={boundary!r}, "
                         f"received {tuple(z.shape)}")
    r = y - decode(z, K, boundary)
    return 0.5 * r.pow(2).sum((1, 2, 3)) + lam * z.abs().sum((1, 2, 3))


# -- inference: FISTA on the feature maps ---------------------------------------------

def _check_maps(name: str, maps: object, shape: tuple[int, ...], boundary: str, y: Tensor) -> None:
    """Feature maps given with y: a finite (B, M, H_z, W_z) tensor of ``shape``, y's device and dtype."""
    check.tensor(name, maps, ndim=4, shape_doc="(B, M, H_z, W_z)")
    if tuple(maps.shape) != shape:
        raise ValueError(f"argument '{name}': expected shape (B, M, H_z, W_z) = {shape} "
                         f"for boundary={boundary!r}, received {tuple(maps.shape)}")
    if maps.device != y.device or maps.dtype != y.dtype:
        raise ValueError(f"arguments '{name}' and 'y': expected the same device and dtype, "
                         f"received {maps.device}/{maps.dtype} and {y.device}/{y.dtype}")


def conv_fista(y: Tensor, K: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int = 200,
               tol: float = 1e-4, L: float | None = None, boundary: str = "full",
               restart: bool = False, target: Tensor | None = None,
               alpha: float = 0.0) -> tuple[Tensor, Tensor]:
    """FISTA for the feature maps: minimise E(Z, y) = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁,
    plus (α/2)‖Z − T‖² when a ``target`` T and a weight ``alpha`` α > 0 are given.

    x_k = h_{λ/L}(v_k − Dᵀ(D v_k − y)/L), t_{k+1} = (1 + √(1 + 4 t_k²))/2,
    v_{k+1} = x_k + (t_k − 1)/t_{k+1} (x_k − x_{k−1}), as in :func:`ebmlib.solvers.fista`
    but with the convolution operator D (in the Fourier domain). D v is a combination of
    D x_k and D x_{k−1}, so an iteration costs one transform of the maps each way.

    With the prediction term (the inference of predictive sparse decomposition, where T is
    the encoder's prediction Enc(y)), the smooth part gains the gradient α(Z − T) and its
    Lipschitz constant becomes L + α, so the step is
    x_k = h_{λ/(L+α)}(v_k − (Dᵀ(D v_k − y) + α(v_k − T))/(L + α)).

    Args:
        y: images, (B, C, H, W).
        K: kernels, (M, C, k_h, k_w); no kernel may be all zeros.
        lam: λ >= 0.
        z0: warm start, (B, M, H_z, W_z); default zeros.
        max_iter: maximum number of iterations (>= 1).
        tol: stop when ‖Z_{k+1} − Z_k‖_F / ‖Z_k‖_F <= tol over the batch; 0 runs exactly
            ``max_iter`` iterations (and synchronises nothing between iterations).
        L: a Lipschitz constant >= ‖D‖²; default :func:`conv_lipschitz`. With the
            prediction term, α is added to it.
        boundary: ``"full"`` (maps (H + k_h − 1) × (W + k_w − 1)) or ``"circular"`` (H × W).
        restart: reset the momentum of an image when its last step went against the
            previous one (adaptive restart, O'Donoghue & Candès 2015).
        target: T, maps (B, M, H_z, W_z) that the prediction term pulls Z towards; needed
            when ``alpha`` > 0.
        alpha: α >= 0, the weight of the prediction term (α/2)‖Z − T‖²; 0 (the default)
            leaves it out.

    Returns:
        ``(z, trace)``: the maps, (B, M, H_z, W_z), and the energy of every image after every
        iteration (prediction term included), (T, B), detached.
    """
    _images(y, _kernels(K))
    boundary = _boundary(boundary)
    lam = check.nonnegative("lam", lam)
    check.positive_int("max_iter", max_iter)
    tol = check.nonnegative("tol", tol)
    zero = (K.detach() == 0).flatten(1).all(1)
    if bool(zero.any()):
        raise ValueError(f"argument 'K': kernel {int(zero.nonzero()[0, 0])} is all zeros; "
                         "normalise the kernels")
    B, M = y.shape[0], K.shape[0]
    z_size = map_size(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary)
    if z0 is not None:
        _check_maps("z0", z0, (B, M, *z_size), boundary, y)
    alpha = check.nonnegative("alpha", alpha)
    if alpha > 0:
        if target is None:
            raise ValueError("argument 'target': expected maps (B, M, H_z, W_z) when alpha > 0, "
                             "received None")
        _check_maps("target", target, (B, M, *z_size), boundary, y)
    op = _Operator(K, z_size, boundary)
    if L is None:
        L = op.lipschitz()
    elif check.nonnegative("L", L) == 0:
        raise ValueError("argument 'L': expected a number > 0, received 0")
    L = float(L) + alpha  # the smooth part's Lipschitz constant, prediction term included
    eta = lam / L

    x_prev = y.new_zeros(B, M, *z_size) if z0 is None else z0
    s_prev = op.apply(x_prev)
    v, s_v = x_prev, s_prev
    t = y.new_ones(B, 1, 1, 1) if restart else 1.0
    trace = y.new_empty(max_iter, B)
    tiny = torch.finfo(y.dtype).tiny
    done = 0
    for _ in range(max_iter):
        grad = op.adjoint(s_v - y)
        if alpha > 0:
            grad = grad + alpha * (v - target)
        step = v - grad / L
        x = functional.softshrink(step, eta) if eta > 0 and not step.requires_grad else \
            torch.sign(step) * torch.clamp(step.abs() - eta, min=0)
        s_x = op.apply(x)
        with torch.no_grad():
            trace[done] = 0.5 * (y - s_x).pow(2).sum((1, 2, 3)) + lam * x.abs().sum((1, 2, 3))
            if alpha > 0:
                trace[done] += 0.5 * alpha * (x - target).pow(2).sum((1, 2, 3))
        done += 1
        if tol > 0:
            change = torch.linalg.vector_norm(x.detach() - x_prev.detach()) / \
                torch.linalg.vector_norm(x_prev.detach()).clamp(min=tiny)
            if float(change) <= tol:
                x_prev = x
                break
        if restart:
            against = ((v - x) * (x - x_prev)).detach().sum((1, 2, 3), keepdim=True) > 0
            t = torch.where(against, torch.ones_like(t), t)
            t_next = (1.0 + torch.sqrt(1.0 + 4.0 * t * t)) / 2.0
        else:
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        weight = 1.0 + (t - 1.0) / t_next  # v = x + β(x − x_prev) = lerp(x_prev, x, 1 + β)
        v = torch.lerp(x_prev, x, weight)
        s_v = torch.lerp(s_prev, s_x, weight)
        t = t_next
        x_prev, s_prev = x, s_x
    return x_prev, trace[:done]


# -- data ---------------------------------------------------------------------------

def highpass(images: Tensor, sigma: float = 2.0) -> Tensor:
    """The image minus its Gaussian blur of standard deviation ``sigma`` pixels, per channel.

    Removes the strong low frequencies of natural images (what a whitening does for patches)
    so that the kernels spend their energy on edges. The blur reflects the image at its
    borders. Input and output (B, C, H, W).
    """
    check.tensor("images", images, ndim=4, shape_doc="(B, C, H, W)")
    if check.nonnegative("sigma", sigma) == 0:
        raise ValueError("argument 'sigma': expected a number > 0, received 0")
    r = max(1, math.ceil(3 * sigma))
    x = torch.arange(-r, r + 1, device=images.device, dtype=images.dtype)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    B, C, H, W = images.shape
    if r >= H or r >= W:
        raise ValueError(f"argument 'images': expected images larger than {r} pixels for sigma = "
                         f"{sigma}, received shape {tuple(images.shape)}")
    flat = images.reshape(B * C, 1, H, W)
    blur = functional.conv2d(functional.pad(flat, (r, r, 0, 0), mode="reflect"), g.view(1, 1, 1, -1))
    blur = functional.conv2d(functional.pad(blur, (0, 0, r, r), mode="reflect"), g.view(1, 1, -1, 1))
    return images - blur.reshape(B, C, H, W)


def random_crops(images: Sequence[Tensor] | Tensor, n: int, size: int, *,
                 generator: torch.Generator | None = None) -> Tensor:
    """n random size × size crops of (C, H, W) images drawn uniformly: (n, C, size, size).

    ``images`` is a list of (C, H, W) tensors or one (N, C, H, W) tensor; the output follows
    the first image's device and dtype.
    """
    check.positive_int("n", n)
    check.positive_int("size", size)
    images = _training_images(images, size, "size")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    which = torch.randint(len(images), (n,), generator=g).tolist()
    out = []
    for k in which:
        _, H, W = images[k].shape
        i = int(torch.randint(H - size + 1, (1,), generator=g))
        j = int(torch.randint(W - size + 1, (1,), generator=g))
        out.append(images[k][:, i:i + size, j:j + size])
    return torch.stack(out).to(images[0].device, images[0].dtype)


# -- dictionary learning --------------------------------------------------------------

class ConvTrainingCurve(NamedTuple):
    """One entry per recorded step: step, seconds since the start, mean loss per image."""

    step: list[int]
    seconds: list[float]
    loss: list[float]


def normalize_kernels(K: Tensor, eps: float = 1e-12) -> Tensor:
    """Every kernel divided by its Euclidean norm over (C, k_h, k_w): (M, C, k_h, k_w) → same."""
    _kernels(K)
    return K / K.flatten(1).norm(dim=1).clamp(min=eps).view(-1, 1, 1, 1)


def _training_images(images: Sequence[Tensor] | Tensor, crop: int, name: str = "crop"
                     ) -> list[Tensor]:
    """The images as a list of (C, H, W) tensors with the same C, each at least crop × crop."""
    if isinstance(images, Tensor):
        check.tensor("images", images, ndim=(3, 4), shape_doc="(N, C, H, W)")
        images = [images] if images.dim() == 3 else list(images)
    if not isinstance(images, Sequence) or len(images) == 0:
        raise TypeError("argument 'images': expected a non-empty list of (C, H, W) tensors or an "
                        f"(N, C, H, W) tensor, received {type(images).__name__}")
    for i, img in enumerate(images):
        check.tensor(f"images[{i}]", img, ndim=3, shape_doc="(C, H, W)")
        if img.shape[0] != images[0].shape[0]:
            raise ValueError(f"argument 'images[{i}]': expected {images[0].shape[0]} channels like "
                             f"images[0], received shape {tuple(img.shape)}")
        if min(img.shape[1:]) < crop:
            raise ValueError(f"argument 'images[{i}]': expected an image at least {name} × {name} = "
                             f"{crop} × {crop}, received shape {tuple(img.shape)}")
    return list(images)


def learn_conv_dictionary(images: Sequence[Tensor] | Tensor, n_maps: int, kernel_size: int,
                          lam: float, *, n_steps: int = 200, batch_size: int = 8, crop: int = 48,
                          inner_iter: int = 30, step_scale: float = 1.0, K0: Tensor | None = None,
                          boundary: str = "full", seed: int = 0, progress: bool = True
                          ) -> tuple[Tensor, ConvTrainingCurve]:
    """Learn M = ``n_maps`` normalised kernels by alternating inference and a kernel step.

    Each step draws ``batch_size`` random ``crop`` × ``crop`` crops y, infers their maps
    Z* with :func:`conv_fista` (kernels fixed, ``inner_iter`` iterations), takes a
    gradient step on the kernels down the mean of ½‖y − Σ_i K_i * Z*_i‖² (maps fixed),
    of size ``step_scale`` / L_K with L_K = max_f λ_max(Σ_b Ẑ_b(f) Ẑ_b(f)ᴴ) / B an upper
    bound of that gradient's Lipschitz constant (Ẑ_b(f) the M-vector of the maps'
    transforms at frequency f), then renormalises every kernel to unit norm,
    for the same reason as the dense dictionary's columns: otherwise growing K and
    shrinking Z lowers λ‖Z‖₁ for free.

    Args:
        images: (C, H, W) tensors (or one (N, C, H, W) tensor), each at least crop × crop.
        n_maps: M, the number of kernels and feature maps.
        kernel_size: k, the kernels are k × k.
        lam: λ >= 0.
        n_steps, batch_size, crop, inner_iter, step_scale: as above.
        K0: initial kernels (M, C, k, k); default: Gaussian white noise, normalised. (Random
            crops of the images, tried first, start every kernel on one particular edge and
            end at a higher energy.)
        boundary: ``"full"`` or ``"circular"``.
        seed: seed of the crops and of the initial kernels.
        progress: show a tqdm progress bar.

    Returns:
        ``(K, curve)``: kernels (M, C, k, k) on the images' device and dtype, and the mean
        energy per crop at every step.
    """
    images = _training_images(images, crop)
    C = images[0].shape[0]
    check.positive_int("n_maps", n_maps)
    check.positive_int("kernel_size", kernel_size)
    lam = check.nonnegative("lam", lam)
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size), ("crop", crop),
                        ("inner_iter", inner_iter)):
        check.positive_int(name, value)
    if check.nonnegative("step_scale", step_scale) == 0:
        raise ValueError("argument 'step_scale': expected a number > 0, received 0")
    boundary = _boundary(boundary)
    g = torch.Generator().manual_seed(seed)
    if K0 is None:  # white noise: image crops as a start got stuck at a 40 % higher energy
        K = torch.randn(n_maps, C, kernel_size, kernel_size, generator=g)
    else:
        _kernels(K0, "K0")
        if tuple(K0.shape) != (n_maps, C, kernel_size, kernel_size):
            raise ValueError(f"argument 'K0': expected shape {(n_maps, C, kernel_size, kernel_size)}, "
                             f"received {tuple(K0.shape)}")
        K = K0.detach().cpu()
    K = normalize_kernels(K.to(images[0].device, images[0].dtype))
    curve = ConvTrainingCurve([], [], [])
    start = time.perf_counter()
    for step in tqdm(range(1, n_steps + 1), disable=not progress, desc="kernels", unit="step"):
        y = random_crops(images, batch_size, crop, generator=g)
        z, trace = conv_fista(y, K, lam, max_iter=inner_iter, tol=0, boundary=boundary)
        op = _Operator(K, tuple(z.shape[-2:]), boundary)
        residual = op.apply(z) - y  # (B, C, H, W)
        grad = _kernel_gradient(z, residual, K.shape[-2:], boundary) / batch_size
        L_K = _kernel_lipschitz(z) / batch_size
        if L_K > 0:
            K = normalize_kernels(K - (step_scale / L_K) * grad)
        curve.step.append(step)
        curve.seconds.append(time.perf_counter() - start)
        curve.loss.append(float(trace[-1].mean()))
    return K, curve


def _kernel_gradient(z: Tensor, residual: Tensor, kernel_size: tuple[int, int], boundary: str) -> Tensor:
    """∂/∂K of ½‖D_K z − y‖² summed over the batch, with residual = D_K z − y: (M, C, k_h, k_w)."""
    kh, kw = kernel_size
    if boundary == "full":
        residual = functional.pad(residual, (kw - 1, 0, kh - 1, 0))
    z_size = tuple(z.shape[-2:])
    g_hat = torch.einsum("bchw,bmhw->mchw", torch.fft.rfft2(residual), torch.fft.rfft2(z).conj())
    return torch.fft.irfft2(g_hat, s=z_size)[..., :kh, :kw]


def _kernel_lipschitz(z: Tensor) -> float:
    """An upper bound of the Lipschitz constant of that gradient: max_f λ_max(Σ_b ẑ_b(f) ẑ_b(f)ᴴ).

    With A(f) the M × B matrix of the maps' transforms, λ_max(A Aᴴ) = λ_max(Aᴴ A): the
    smaller of the two Gram matrices is decomposed (in double precision, on the CPU where
    the device has no float64).
    """
    z_hat = torch.fft.rfft2(z.detach())
    B, M = z.shape[:2]
    G = torch.einsum("bmhw,cmhw->hwbc", z_hat, z_hat.conj()) if B <= M else \
        torch.einsum("bmhw,bnhw->hwmn", z_hat, z_hat.conj())
    G = G.cpu().to(torch.complex128)
    try:
        return float(torch.linalg.eigvalsh(G)[..., -1].max())
    except RuntimeError:  # did not converge: the trace is a (looser) bound
        return float(torch.diagonal(G, dim1=-2, dim2=-1).real.sum(-1).max())


# -- the convolutional sparse auto-encoder --------------------------------------------

class ConvSparseAutoEncoder(nn.Module):
    r"""The lecture's convolutional sparse auto-encoder (Kavukcuoglu et al., 2010).

    * Encoder: a convolution, a nonlinearity, then a learned per-map diagonal scaling,
      Enc(y)_i = g_i · tanh(W_{e,i} ⋆ y + b_i) (⋆ a correlation summed over channels, the
      same geometry as Dᵀ, so the maps have the size :func:`map_size` gives);
      ``nonlinearity="shrink"`` uses h_θ with a learned threshold θ_i >= 0 per map instead
      of tanh.
    * Decoder: the linear convolution D Z = Σ_i K_i * Z_i with K = W_d, whose kernels are
      kept at unit norm by :func:`train_conv_autoencoder`.

    W_e and W_d start as independent draws of white noise (each kernel at unit norm), so
    that whatever likeness the trained encoder and decoder show comes from training.

    Parameters: ``W_e`` (M, C, k, k), ``b`` (M,), ``g`` (M,), ``W_d`` (M, C, k, k) and, for
    ``"shrink"``, ``theta`` (M,).
    """

    def __init__(self, in_channels: int, n_maps: int, kernel_size: int, *, boundary: str = "full",
                 nonlinearity: str = "tanh", seed: int = 0) -> None:
        super().__init__()
        check.positive_int("in_channels", in_channels)
        check.positive_int("n_maps", n_maps)
        check.positive_int("kernel_size", kernel_size)
        self.boundary = _boundary(boundary)
        if nonlinearity not in ("tanh", "shrink"):
            raise ValueError(f"argument 'nonlinearity': expected 'tanh' or 'shrink', received "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        g = torch.Generator().manual_seed(seed)
        shape = (n_maps, in_channels, kernel_size, kernel_size)
        self.W_d = nn.Parameter(normalize_kernels(torch.randn(*shape, generator=g)))
        # drawn independently of W_d: any likeness between the two is learned
        self.W_e = nn.Parameter(normalize_kernels(torch.randn(*shape, generator=g)))
        self.b = nn.Parameter(torch.zeros(n_maps))
        self.g = nn.Parameter(torch.full((n_maps,), 0.1))
        self.theta = nn.Parameter(torch.full((n_maps,), 0.1)) if nonlinearity == "shrink" else None

    @property
    def kernel_size(self) -> int:
        return self.W_d.shape[-1]

    def encode(self, y: Tensor) -> Tensor:
        """Enc(y): images (B, C, H, W) → maps (B, M, H_z, W_z)."""
        _images(y, self.W_e)
        k = self.kernel_size
        if self.boundary == "full":
            u = functional.conv2d(y, self.W_e, self.b, padding=k - 1)
        else:
            u = functional.conv2d(functional.pad(y, (0, k - 1, 0, k - 1), mode="circular"), self.W_e, self.b)
        if self.nonlinearity == "tanh":
            u = torch.tanh(u)
        else:
            theta = self.theta.clamp(min=0).view(1, -1, 1, 1)
            u = torch.sign(u) * torch.clamp(u.abs() - theta, min=0)
        return self.g.view(1, -1, 1, 1) * u

    def decode(self, z: Tensor) -> Tensor:
        """D Z = Σ_i W_{d,i} * Z_i: maps (B, M, H_z, W_z) → images (B, C, H, W)."""
        return decode(z, self.W_d, self.boundary)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """(Enc(y), Dec(Enc(y))): the predicted maps and the reconstruction."""
        z = self.encode(y)
        return z, self.decode(z)

    def loss(self, y: Tensor, lam: float, *, z_star: Tensor | None = None,
             prediction_weight: float = 0.0) -> Tensor:
        r"""The mean loss per image of a batch y (B, C, H, W).

        Without ``z_star``: the sparse auto-encoder's ½‖y − Dec(Enc(y))‖² + λ‖Enc(y)‖₁.
        With the optimal maps ``z_star`` (B, M, H_z, W_z), as in predictive sparse
        decomposition: ½‖y − Dec(Z*)‖² + λ‖Z*‖₁ + α·½‖Z* − Enc(y)‖², α =
        ``prediction_weight``; Z* is treated as a constant.
        """
        lam = check.nonnegative("lam", lam)
        alpha = check.nonnegative("prediction_weight", prediction_weight)
        z_enc = self.encode(y)
        B = y.shape[0]
        if z_star is None:
            r = y - self.decode(z_enc)
            return (0.5 * r.pow(2).sum() + lam * z_enc.abs().sum()) / B
        check.tensor("z_star", z_star, ndim=4, shape_doc="(B, M, H_z, W_z)")
        if z_star.shape != z_enc.shape:
            raise ValueError(f"argument 'z_star': expected shape {tuple(z_enc.shape)}, received "
                             f"{tuple(z_star.shape)}")
        z_star = z_star.detach()
        r = y - self.decode(z_star)
        total = 0.5 * r.pow(2).sum() + lam * z_star.abs().sum()
        return (total + alpha * 0.5 * (z_star - z_enc).pow(2).sum()) / B


def train_conv_autoencoder(model: ConvSparseAutoEncoder, images: Sequence[Tensor] | Tensor,
                           lam: float, *, prediction_weight: float = 0.0, n_steps: int = 200,
                           batch_size: int = 8, crop: int = 48, inner_iter: int = 20,
                           lr: float = 0.01, step_scale: float = 1.0, seed: int = 0,
                           progress: bool = True) -> ConvTrainingCurve:
    """Train ``model`` in place with Adam on random crops; keeps the decoder kernels at unit norm.

    With ``prediction_weight`` α = 0 the loss is the sparse auto-encoder's
    ½‖y − Dec(Enc(y))‖² + λ‖Enc(y)‖₁. With α > 0 (predictive sparse decomposition,
    Kavukcuoglu, Ranzato & LeCun 2008), each step first infers maps Z* that approximately
    minimise the whole energy ½‖y − Dec(Z)‖² + λ‖Z‖₁ + α·½‖Z − Enc(y)‖², prediction term
    included: only ``inner_iter`` iterations of :func:`conv_fista` (``target`` = Enc(y),
    warm-started at Enc(y)), so Z* is not the exact minimiser. Then the decoder learns to
    reconstruct from Z* and the encoder to predict Z*, each taking one step downhill on that
    energy at Z*.
    In that case the two halves are updated as PSD alternates them: Adam (``lr``) trains
    the encoder on the prediction term, and the decoder takes the kernel step of
    :func:`learn_conv_dictionary` (size ``step_scale`` / L_K, then unit norm). Adam's
    per-entry step sizes move every entry of a unit-norm kernel by about ``lr``, which
    keeps the decoder's kernels noisy; the gradient step does not.
    The curve records the mean loss per crop at every step. The model must already be on
    the images' device and dtype.
    """
    if not isinstance(model, ConvSparseAutoEncoder):
        raise TypeError(f"argument 'model': expected a ConvSparseAutoEncoder, received "
                        f"{type(model).__name__}")
    images = _training_images(images, crop)
    lam = check.nonnegative("lam", lam)
    alpha = check.nonnegative("prediction_weight", prediction_weight)
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size), ("crop", crop),
                        ("inner_iter", inner_iter)):
        check.positive_int(name, value)
    if check.nonnegative("lr", lr) == 0:
        raise ValueError("argument 'lr': expected a number > 0, received 0")
    if check.nonnegative("step_scale", step_scale) == 0:
        raise ValueError("argument 'step_scale': expected a number > 0, received 0")
    g = torch.Generator().manual_seed(seed)
    params = [p for name, p in model.named_parameters() if alpha == 0 or name != "W_d"]
    optimizer = torch.optim.Adam(params, lr=lr)
    curve = ConvTrainingCurve([], [], [])
    start = time.perf_counter()
    for step in tqdm(range(1, n_steps + 1), disable=not progress, desc="auto-encoder", unit="step"):
        y = random_crops(images, batch_size, crop, generator=g)
        z_star = None
        if alpha > 0:
            with torch.no_grad():
                z0 = model.encode(y)
            z_star, _ = conv_fista(y, model.W_d.detach(), lam, z0=z0, max_iter=inner_iter, tol=0,
                                   boundary=model.boundary, target=z0, alpha=alpha)
        loss = model.loss(y, lam, z_star=z_star, prediction_weight=alpha)
        optimizer.zero_grad()
        model.W_d.grad = None
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            if z_star is not None:  # PSD: the dictionary step on the decoder
                residual = model.decode(z_star) - y
                grad = _kernel_gradient(z_star, residual, model.W_d.shape[-2:], model.boundary)
                L_K = _kernel_lipschitz(z_star)
                if L_K > 0:
                    model.W_d.sub_((step_scale / L_K) * grad)
            model.W_d.copy_(normalize_kernels(model.W_d))
            if model.theta is not None:
                model.theta.clamp_(min=0)
        curve.step.append(step)
        curve.seconds.append(time.perf_counter() - start)
        curve.loss.append(float(loss.detach()))
    return curve
