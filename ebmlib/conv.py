r"""Convolutional sparse coding and the convolutional sparse auto-encoder.

The dictionary is a set of m kernels K_i and the code a set of m sparse feature maps
Z_i; an image y with C channels is reconstructed as y ≈ Σ_i K_i * Z_i, and the energy is

.. math::  E(Z, y) = \tfrac12 \bigl\lVert y - \textstyle\sum_i K_i * Z_i \bigr\rVert^2
           + \lambda \textstyle\sum_i \lVert Z_i \rVert_1 .

Note the **½** in front of the squared error, unlike :mod:`ebmlib.energy` and
:mod:`ebmlib.solvers`, whose dense energy ‖y − W_d z‖² + λ‖z‖₁ has none: here the
gradient of the smooth part is Dᵀ(D Z − y) and the Lipschitz constant is L = ‖D‖², the
convention of the convolutional sparse-coding literature (and of sporco's ``ConvBPDN``).

Shapes: images y are (B, C, H, W) (C = 1 for grey, 3 for colour); kernels K are
(M, C, k_h, k_w), kernel i holding one k_h × k_w filter per channel (M = m, the number of
kernels and maps); feature maps Z are (B, M, H_z, W_z). ``*`` is a true convolution (the
kernel is flipped), summed over the maps for every channel: y_c = Σ_i K_{i,c} * Z_i.
The training photographs ``Y`` are a sequence of (C, H, W) images (or an (N, C, H, W)
tensor); :func:`ebmlib.data.highpass_images` prepares them and
:func:`ebmlib.data.random_crops` cuts batches out of them.

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
and its adjoint zero-pads y back onto that grid. Inference (:func:`conv_fista`) runs on
the library's one proximal-gradient loop, :func:`ebmlib.solvers._proximal_gradient`, with
this operator in place of the dense dictionary. Everything follows the device and the
dtype of the inputs; the auto-encoder is made on the CPU and moves with ``.to(device)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

from . import _validate as check
from ._saving import Saveable
from ._training import History, Run
from .data import _image_list, _random_crops
from .solvers import SparseCode, _proximal_gradient, _shrink

__all__ = ["BOUNDARIES", "ConvSparseAutoEncoder", "conv_energy", "conv_fista", "conv_lipschitz",
           "conv_lipschitz_power", "decode", "decode_adjoint", "learn_conv_dictionary", "map_size",
           "normalize_kernels", "train_conv_autoencoder"]

BOUNDARIES = ("full", "circular")

_PER_IMAGE = (1, 2, 3)  # the dimensions an energy sums over: (C, H, W) of an image, (M, H_z, W_z) of maps


# -- argument checks ------------------------------------------------------------------

def _kernels(K: object, name: str = "K") -> Tensor:
    """Kernels (M, C, k_h, k_w), finite and non-empty."""
    check.tensor(name, K, ndim=4, shape_doc="(M, C, k_h, k_w)")
    check.require(min(K.shape) > 0, name, "non-empty kernels (M, C, k_h, k_w)", f"shape {tuple(K.shape)}")
    return K


def _images(y: object, K: Tensor) -> Tensor:
    """Images y (B, C, H, W) with the kernels K's C, device and dtype."""
    check.tensor("y", y, ndim=4, shape_doc="(B, C, H, W)")
    check.require(y.shape[1] == K.shape[1], "y' and 'K", f"y with C = {K.shape[1]} channels (K has shape "
                  f"{tuple(K.shape)})", f"y of shape {tuple(y.shape)}")
    check.same_device_dtype("y", y, "K", K)
    return y


def _pair(name: str, value: object) -> tuple[int, int]:
    """A size (rows, columns): two integers >= 1."""
    check.require(isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2, name,
                  "a pair of integers (rows, columns)", repr(value))
    return check.positive_int(name, value[0]), check.positive_int(name, value[1])


def _grid(image_size: tuple[int, int], kernel_size: tuple[int, int], boundary: str,
          name: str) -> tuple[int, int]:
    """The maps' (H_z, W_z), after checking that the kernels fit a circular image; ``name`` is
    the argument that holds the kernels (or their size)."""
    (H, W), (kh, kw) = image_size, kernel_size
    check.require(boundary == "full" or (kh <= H and kw <= W), name,
                  f"kernels no larger than the image ({H} × {W}) with boundary='circular'",
                  f"{kh} × {kw} kernels")
    return _map_size(image_size, kernel_size, boundary)


def _check_maps(name: str, maps: object, shape: tuple[int, ...], boundary: str, y: Tensor) -> Tensor:
    """Feature maps given with y: a finite (B, M, H_z, W_z) tensor of ``shape``, y's device and dtype."""
    check.tensor(name, maps, ndim=4, shape_doc="(B, M, H_z, W_z)")
    check.shape(name, maps, shape, f"(B, M, H_z, W_z) = {shape} for boundary={boundary!r}")
    check.same_device_dtype(name, maps, "y", y)
    return maps


def map_size(image_size: tuple[int, int], kernel_size: tuple[int, int],
             boundary: str = "full") -> tuple[int, int]:
    """(H_z, W_z) of the feature maps of an (H, W) image.

    Args:
        image_size: (H, W) of the images.
        kernel_size: (k_h, k_w) of the kernels.
        boundary: ``"full"``, maps (H + k_h − 1, W + k_w − 1), or ``"circular"``, maps (H, W),
            which needs kernels no larger than the image.

    Returns:
        (H_z, W_z).
    """
    image_size = _pair("image_size", image_size)
    kernel_size = _pair("kernel_size", kernel_size)
    return _grid(image_size, kernel_size, check.choice("boundary", boundary, BOUNDARIES), "kernel_size")


def _map_size(image_size: tuple[int, int], kernel_size: tuple[int, int], boundary: str) -> tuple[int, int]:
    (H, W), (kh, kw) = image_size, kernel_size
    return (H + kh - 1, W + kw - 1) if boundary == "full" else (H, W)


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


def _decode(z: Tensor, K: Tensor, boundary: str) -> Tensor:
    """D z, unchecked (differentiable in z and K)."""
    return _Operator(K, tuple(z.shape[-2:]), boundary).apply(z)


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
    check.require(z.shape[1] == K.shape[0], "z' and 'K", f"z with M = {K.shape[0]} maps (K has shape "
                  f"{tuple(K.shape)})", f"z of shape {tuple(z.shape)}")
    check.same_device_dtype("z", z, "K", K)
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    H, W = _image_size(tuple(z.shape[-2:]), tuple(K.shape[-2:]), boundary)
    check.require(H >= 1 and W >= 1 and (boundary == "full" or (K.shape[-2] <= H and K.shape[-1] <= W)),
                  "z", f"maps large enough for {tuple(K.shape[-2:])} kernels with boundary={boundary!r}",
                  f"maps of size {tuple(z.shape[-2:])}")
    return _decode(z, K, boundary)


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
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    z_size = _grid(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary, "K")
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

    Returns:
        L as a Python float.
    """
    _kernels(K)
    image_size = _pair("image_size", image_size)
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    z_size = _grid(image_size, tuple(K.shape[-2:]), boundary, "K")
    return _Operator(K.detach(), z_size, boundary).lipschitz()


def conv_lipschitz_power(K: Tensor, image_size: tuple[int, int], boundary: str = "full", *,
                         n_iter: int = 100, seed: int | torch.Generator = 0) -> float:
    """‖D‖² estimated by power iteration on DᵀD, from random maps: the Rayleigh quotient
    ‖D z‖² / ‖z‖² after ``n_iter`` iterations. It is a lower bound of ‖D‖² that rises towards
    it, so with :func:`conv_lipschitz` (an upper bound for ``"full"``) it brackets ‖D‖².
    Computed in the kernels' dtype; no gradient flows through it.

    Args:
        K: kernels, (M, C, k_h, k_w).
        image_size: (H, W) of the images.
        boundary: ``"full"`` or ``"circular"``.
        n_iter: the number of iterations (>= 1), all of which are run.
        seed: the random start's seed, an integer (the same call draws the same start) or a
            ``torch.Generator`` (drawn from, continuing its stream).

    Returns:
        The estimate of ‖D‖² as a Python float.
    """
    _kernels(K)
    image_size = _pair("image_size", image_size)
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    n_iter = check.positive_int("n_iter", n_iter)
    g = check.generator("seed", seed)
    z_size = _grid(image_size, tuple(K.shape[-2:]), boundary, "K")
    op = _Operator(K.detach(), z_size, boundary)
    z = torch.randn(1, K.shape[0], *z_size, generator=g, dtype=K.dtype).to(K.device)
    z = z / torch.linalg.vector_norm(z)
    with torch.no_grad():
        for _ in range(n_iter):
            z = op.adjoint(op.apply(z))
            z = z / torch.linalg.vector_norm(z)
        return float(op.apply(z).pow(2).sum())


# -- the energy -----------------------------------------------------------------------

def _energy(y: Tensor, s: Tensor, z: Tensor, lam: float) -> Tensor:
    """½‖y − s‖² + λ‖z‖₁ per image, with s = D z the reconstruction: the module's one formula
    of the energy, (B,)."""
    return 0.5 * (y - s).pow(2).sum(_PER_IMAGE) + lam * z.abs().sum(_PER_IMAGE)


def conv_energy(y: Tensor, K: Tensor, z: Tensor, lam: float, boundary: str = "full") -> Tensor:
    r"""E(Z, y) = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ for every image of a batch.

    Args:
        y: images, (B, C, H, W).
        K: kernels, (M, C, k_h, k_w).
        z: feature maps, (B, M, H_z, W_z) with (H_z, W_z) = :func:`map_size`.
        lam: λ >= 0.
        boundary: ``"full"`` or ``"circular"``.

    Returns:
        The energies, (B,). Differentiable in y, K and z.
    """
    _images(y, _kernels(K))
    lam = check.nonnegative("lam", lam)
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    want = _grid(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary, "K")
    _check_maps("z", z, (y.shape[0], K.shape[0], *want), boundary, y)
    return _energy(y, _decode(z, K, boundary), z, lam)


# -- inference: FISTA on the feature maps ---------------------------------------------

def conv_fista(y: Tensor, K: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int = 200,
               tol: float = 1e-4, L: float | None = None, boundary: str = "full",
               restart: bool = False, target: Tensor | None = None, alpha: float = 0.0,
               trace: bool = True) -> SparseCode:
    """FISTA for the feature maps: minimise E(Z, y) = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁,
    plus (α/2)‖Z − T‖² when a ``target`` T and a weight ``alpha`` α > 0 are given.

    x_k = h_{λ/L}(v_k − Dᵀ(D v_k − y)/L), t_{k+1} = (1 + √(1 + 4 t_k²))/2,
    v_{k+1} = x_k + (t_k − 1)/t_{k+1} (x_k − x_{k−1}): the loop of :func:`ebmlib.solvers.fista`
    (the library's one) with the convolution operator D (in the Fourier domain) in place of
    W_d. D v is a combination of D x_k and D x_{k−1}, so an iteration costs one transform of
    the maps each way.

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
        L: a Lipschitz constant >= ‖D‖², > 0; default :func:`conv_lipschitz`. With the
            prediction term, α is added to it.
        boundary: ``"full"`` (maps (H + k_h − 1) × (W + k_w − 1)) or ``"circular"`` (H × W).
        restart: reset the momentum of an image when its last step went against the
            previous one (adaptive restart, O'Donoghue & Candès 2015).
        target: T, maps (B, M, H_z, W_z) that the prediction term pulls Z towards; needed
            when ``alpha`` > 0.
        alpha: α >= 0, the weight of the prediction term (α/2)‖Z − T‖²; 0 (the default)
            leaves it out.
        trace: record the energy of every image after every iteration (default); False
            skips that work when only the maps are needed, and the trace returned is None.

    Returns:
        A :class:`~ebmlib.solvers.SparseCode` ``(z, trace, n_iter)``: the maps,
        (B, M, H_z, W_z); the energy of every image after every iteration (prediction term
        included), (T, B), detached, or None with ``trace=False``; and T, the number of
        iterations done.
    """
    _images(y, _kernels(K))
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    lam = check.nonnegative("lam", lam)
    max_iter = check.positive_int("max_iter", max_iter)
    tol = check.nonnegative("tol", tol)
    restart = check.flag("restart", restart)
    trace = check.flag("trace", trace)
    zero = (K.detach() == 0).flatten(1).all(1).nonzero()
    if len(zero):
        check.fail("K", "no kernel all zeros (normalise the kernels)",
                   f"kernel {int(zero[0, 0])} is all zeros")
    B, M = y.shape[0], K.shape[0]
    z_size = _grid(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary, "K")
    if z0 is not None:
        _check_maps("z0", z0, (B, M, *z_size), boundary, y)
    alpha = check.nonnegative("alpha", alpha)
    check.require(alpha == 0 or target is not None, "target",
                  "maps (B, M, H_z, W_z) when alpha > 0", "None")
    if target is not None:
        _check_maps("target", target, (B, M, *z_size), boundary, y)
    if L is not None:
        L = check.positive("L", L)
    return _conv_fista(y, K, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, boundary=boundary,
                       restart=restart, target=target, alpha=alpha, trace=trace)


def _conv_fista(y: Tensor, K: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int,
                tol: float, L: float | None = None, boundary: str, restart: bool = False,
                target: Tensor | None = None, alpha: float = 0.0, trace: bool = True,
                op: _Operator | None = None) -> SparseCode:
    """:func:`conv_fista` with its arguments unchecked, for the library's loops; ``op`` is the
    operator of K on the maps' grid if the caller has made it already."""
    B = y.shape[0]
    if op is None:
        op = _Operator(K, _map_size(tuple(y.shape[-2:]), tuple(K.shape[-2:]), boundary), boundary)
    if L is None:
        L = op.lipschitz()
    L = float(L) + alpha  # the smooth part's Lipschitz constant, prediction term included
    z0 = y.new_zeros(B, op.M, *op.z_size) if z0 is None else z0
    yd = y.detach()
    predicting = alpha > 0

    def pre_shrink(v: Tensor, s_v: Tensor) -> Tensor:  # v − ∇f(v)/L, with s_v = D v
        grad = op.adjoint(s_v - y)
        if predicting:
            grad = grad + alpha * (v - target)
        return v - grad / L

    def energy(z: Tensor, s: Tensor) -> Tensor:
        e = _energy(yd, s, z, lam)
        if predicting:
            e += 0.5 * alpha * (z - target.detach()).pow(2).sum(_PER_IMAGE)
        return e

    return _proximal_gradient(op.apply, pre_shrink, energy, z0, eta=lam / L, max_iter=max_iter,
                              tol=tol, fast=True, restart=restart, trace=trace)


# -- dictionary learning --------------------------------------------------------------

def normalize_kernels(K: Tensor, eps: float = 1e-12) -> Tensor:
    """Every kernel divided by its Euclidean norm over (C, k_h, k_w).

    Args:
        K: kernels, (M, C, k_h, k_w).
        eps: the smallest norm divided by (> 0), so that an all-zero kernel stays zero.

    Returns:
        The kernels, (M, C, k_h, k_w), each of unit norm.
    """
    _kernels(K)
    return _normalize_kernels(K, check.positive("eps", eps))


def _normalize_kernels(K: Tensor, eps: float = 1e-12) -> Tensor:
    return K / K.flatten(1).norm(dim=1).clamp(min=eps).view(-1, 1, 1, 1)


def _training_photographs(Y: object, crop: object) -> tuple[list[Tensor], int]:
    """Check the photographs and the crop size once: ((C, H, W) images, crop)."""
    crop = check.positive_int("crop", crop)
    return _image_list("Y", Y, ndim=3, min_size=crop, size_name="crop"), crop


def _training_sizes(**sizes: object) -> tuple[int, ...]:
    """The trainers' integer arguments (steps, batch_size, max_iter, every), checked, as ints."""
    return tuple(check.positive_int(name, value) for name, value in sizes.items())


def learn_conv_dictionary(Y: Sequence[Tensor] | Tensor, m: int, kernel_size: int, lam: float, *,
                          steps: int = 250, batch_size: int = 8, crop: int = 32, max_iter: int = 10,
                          step_scale: float = 1.8, K0: Tensor | None = None, boundary: str = "full",
                          seed: int | torch.Generator = 0, progress: bool | None = None,
                          every: int = 1) -> tuple[Tensor, History]:
    """Learn m normalised kernels by alternating inference and a kernel step.

    Each step draws ``batch_size`` random ``crop`` × ``crop`` crops y of the photographs,
    infers their maps Z* with FISTA (:func:`conv_fista`, kernels fixed, ``max_iter``
    iterations), takes a gradient step on the kernels down the mean of
    ½‖y − Σ_i K_i * Z*_i‖² (maps fixed), of size ``step_scale`` / L_K with
    L_K = max_f λ_max(Σ_b Ẑ_b(f) Ẑ_b(f)ᴴ) / B an upper bound of that gradient's Lipschitz
    constant (Ẑ_b(f) the M-vector of the maps' transforms at frequency f), then renormalises
    every kernel to unit norm, for the same reason as the dense dictionary's columns:
    otherwise growing K and shrinking Z lowers λ‖Z‖₁ for free. The defaults are the book's
    recipe.

    Args:
        Y: the photographs, (C, H, W) tensors with the same C (or one (N, C, H, W) tensor),
            each at least ``crop`` × ``crop``; checked once, not at every step.
        m: M, the number of kernels and feature maps.
        kernel_size: k, the kernels are k × k.
        lam: λ >= 0.
        steps: the number of steps.
        batch_size: B, the number of crops per step.
        crop: the crops' side, in pixels.
        max_iter: the FISTA iterations of each step's inference.
        step_scale: the kernel step, in units of 1 / L_K (> 0; 2 is the limit of a safe step).
        K0: starting kernels (M, C, k, k); default: Gaussian white noise drawn from ``seed``,
            normalised. (Random crops of the images, tried first, start every kernel on one
            particular edge and end at a 40 % higher energy.)
        boundary: ``"full"`` or ``"circular"``.
        seed: an integer (the same call draws the same start and crops) or a
            ``torch.Generator`` (drawn from, continuing its stream): the starting kernels,
            then the crops.
        progress: show a progress bar (None: :func:`ebmlib.set_progress`'s switch).
        every: record the History every that many steps (and at the last).

    Returns:
        ``(K, history)``: the kernels (M, C, k, k) on the photographs' device and dtype, and a
        :class:`~ebmlib.History` whose ``loss`` is the mean energy per crop after the step's
        inference (``val`` is None: there is no held-out data).
    """
    images, crop = _training_photographs(Y, crop)
    C = images[0].shape[0]
    m = check.positive_int("m", m)
    kernel_size = check.positive_int("kernel_size", kernel_size)
    lam = check.nonnegative("lam", lam)
    steps, batch_size, max_iter, every = _training_sizes(steps=steps, batch_size=batch_size,
                                                         max_iter=max_iter, every=every)
    step_scale = check.positive("step_scale", step_scale)
    boundary = check.choice("boundary", boundary, BOUNDARIES)
    _grid((crop, crop), (kernel_size, kernel_size), boundary, "kernel_size")
    if K0 is not None:
        _kernels(K0, "K0")
        shape = (m, C, kernel_size, kernel_size)
        check.shape("K0", K0, shape, f"(m, C, k, k) = {shape}")
    run = Run(steps, seed=seed, progress=progress, desc="kernels", every=every)
    g = run.generator
    # white noise: image crops as a start got stuck at a 40 % higher energy
    K = torch.randn(m, C, kernel_size, kernel_size, generator=g) if K0 is None else K0.detach().cpu()
    K = _normalize_kernels(K.to(images[0].device, images[0].dtype))
    z_size = _map_size((crop, crop), (kernel_size, kernel_size), boundary)
    for step in run:
        y = _random_crops(images, batch_size, crop, g)
        op = _Operator(K, z_size, boundary)
        z = _conv_fista(y, K, lam, max_iter=max_iter, tol=0, boundary=boundary, trace=False, op=op).z
        s = op.apply(z)
        loss = _energy(y, s, z, lam).mean()
        grad = _kernel_gradient(z, s - y, K.shape[-2:], boundary) / batch_size
        L_K = _kernel_lipschitz(z) / batch_size
        if L_K > 0:
            K = _normalize_kernels(K - (step_scale / L_K) * grad)
        run.log(step, loss)
    return K, run.history


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

class ConvSparseAutoEncoder(Saveable, nn.Module):
    r"""The lecture's convolutional sparse auto-encoder (Kavukcuoglu et al., 2010).

    * Encoder: a convolution, a nonlinearity, then a learned per-map diagonal scaling,
      Enc(y)_i = g_i · h_{θ_i}(W_{e,i} ⋆ y + b_i) (⋆ a correlation summed over channels, the
      same geometry as Dᵀ, so the maps have the size :func:`map_size` gives), with the
      shrinkage h_θ of ISTA and a learned threshold θ_i >= 0 per map (the book's choice: it
      outputs exact zeros); ``nonlinearity="tanh"`` uses the paper's tanh instead.
    * Decoder: the linear convolution D Z = Σ_i K_i * Z_i with K = W_d, whose kernels are
      kept at unit norm by :func:`train_conv_autoencoder`.

    W_e and W_d start as independent draws of white noise (each kernel at unit norm), so
    that whatever likeness the trained encoder and decoder show comes from training.
    The model is made on the CPU (move it with ``.to(device)``); :meth:`save` and
    :meth:`load` write and read it with its configuration.

    Parameters: ``W_e`` (M, C, k, k), ``b`` (M,), ``g`` (M,), ``W_d`` (M, C, k, k) and, for
    ``"shrink"``, ``theta`` (M,).

    Args:
        in_channels: C, the images' channels (1 for grey, 3 for colour).
        m: M, the number of kernels and feature maps.
        kernel_size: k, the encoder's filters and the decoder's kernels are k × k.
        boundary: ``"full"`` or ``"circular"`` (see the module docstring).
        nonlinearity: ``"shrink"`` (default) or ``"tanh"``.
        seed: an integer (the same call draws the same weights) or a ``torch.Generator``
            (drawn from, continuing its stream) for the starting W_d and W_e. The saved
            configuration records an integer seed, and 0 for a generator: a loaded model
            takes its weights from the file anyway.
    """

    def __init__(self, in_channels: int, m: int, kernel_size: int, *, boundary: str = "full",
                 nonlinearity: str = "shrink", seed: int | torch.Generator = 0) -> None:
        super().__init__()
        self.in_channels = check.positive_int("in_channels", in_channels)
        self.m = check.positive_int("m", m)
        kernel_size = check.positive_int("kernel_size", kernel_size)
        self.boundary = check.choice("boundary", boundary, BOUNDARIES)
        self.nonlinearity = check.choice("nonlinearity", nonlinearity, ("shrink", "tanh"))
        g = check.generator("seed", seed)
        self._seed = 0 if isinstance(seed, torch.Generator) else int(seed)
        shape = (self.m, self.in_channels, kernel_size, kernel_size)
        self.W_d = nn.Parameter(_normalize_kernels(torch.randn(*shape, generator=g)))
        # drawn independently of W_d: any likeness between the two is learned
        self.W_e = nn.Parameter(_normalize_kernels(torch.randn(*shape, generator=g)))
        self.b = nn.Parameter(torch.zeros(self.m))
        self.g = nn.Parameter(torch.full((self.m,), 0.1))
        self.theta = nn.Parameter(torch.full((self.m,), 0.1)) if self.nonlinearity == "shrink" else None

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments, saved with the weights by :meth:`save`."""
        return {"in_channels": self.in_channels, "m": self.m, "kernel_size": self.kernel_size,
                "boundary": self.boundary, "nonlinearity": self.nonlinearity, "seed": self._seed}

    @property
    def kernel_size(self) -> int:
        """k, the side of the filters and kernels."""
        return self.W_d.shape[-1]

    def encode(self, y: Tensor) -> Tensor:
        """Enc(y): images (B, C, H, W) → maps (B, M, H_z, W_z)."""
        self._check_images(y)
        return self._encode(y)

    def _check_images(self, y: object) -> tuple[int, int]:
        """y, images (B, C, H, W) with the model's C, device and dtype; returns the maps' (H_z, W_z)."""
        C = self.in_channels
        check.tensor("y", y, ndim=4, shape_doc=f"(B, {C}, H, W)")
        check.require(y.shape[1] == C and y.device == self.W_e.device and y.dtype == self.W_e.dtype, "y",
                      f"C = {C} channels, device {self.W_e.device} and dtype {self.W_e.dtype} (the model's)",
                      f"shape {tuple(y.shape)} on {y.device} in {y.dtype}")
        return _grid(tuple(y.shape[-2:]), tuple(self.W_e.shape[-2:]), self.boundary, "y")

    def _encode(self, y: Tensor) -> Tensor:
        k = self.kernel_size
        if self.boundary == "full":
            u = functional.conv2d(y, self.W_e, self.b, padding=k - 1)
        else:
            u = functional.conv2d(functional.pad(y, (0, k - 1, 0, k - 1), mode="circular"), self.W_e, self.b)
        if self.nonlinearity == "tanh":
            u = torch.tanh(u)
        else:
            u = _shrink(u, self.theta.clamp(min=0).view(1, -1, 1, 1))
        return self.g.view(1, -1, 1, 1) * u

    def decode(self, z: Tensor) -> Tensor:
        """D Z = Σ_i W_{d,i} * Z_i: maps (B, M, H_z, W_z) → images (B, C, H, W)."""
        return decode(z, self.W_d, self.boundary)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """(Enc(y), Dec(Enc(y))): images y (B, C, H, W) → the predicted maps (B, M, H_z, W_z) and
        the reconstruction (B, C, H, W)."""
        z = self.encode(y)
        return z, _decode(z, self.W_d, self.boundary)

    def loss(self, y: Tensor, lam: float, *, z_star: Tensor | None = None,
             prediction_weight: float = 0.0) -> Tensor:
        r"""The mean loss per image of a batch.

        Without ``z_star``: the sparse auto-encoder's E(Enc(y), y) = ½‖y − Dec(Enc(y))‖² +
        λ‖Enc(y)‖₁ (:func:`conv_energy` at the encoder's maps). With the optimal maps
        ``z_star``, as in predictive sparse decomposition: E(Z*, y) + α·½‖Z* − Enc(y)‖²,
        α = ``prediction_weight``; Z* is treated as a constant.

        Args:
            y: images, (B, C, H, W).
            lam: λ >= 0.
            z_star: Z*, maps (B, M, H_z, W_z), or None.
            prediction_weight: α >= 0 (used with ``z_star``).

        Returns:
            The mean over the batch, a 0-d tensor that gradients flow back from.
        """
        z_size = self._check_images(y)
        lam = check.nonnegative("lam", lam)
        alpha = check.nonnegative("prediction_weight", prediction_weight)
        if z_star is not None:
            _check_maps("z_star", z_star, (y.shape[0], self.m, *z_size), self.boundary, y)
        return self._loss(y, lam, z_star, alpha)

    def _loss(self, y: Tensor, lam: float, z_star: Tensor | None, alpha: float) -> Tensor:
        z_enc = self._encode(y)
        if z_star is None:
            return _energy(y, _decode(z_enc, self.W_d, self.boundary), z_enc, lam).mean()
        z_star = z_star.detach()
        energy = _energy(y, _decode(z_star, self.W_d, self.boundary), z_star, lam)
        return (energy + alpha * 0.5 * (z_star - z_enc).pow(2).sum(_PER_IMAGE)).mean()


def train_conv_autoencoder(model: ConvSparseAutoEncoder, Y: Sequence[Tensor] | Tensor, lam: float, *,
                           prediction_weight: float = 1.0, steps: int = 400, batch_size: int = 8,
                           crop: int = 32, max_iter: int = 10, lr: float = 0.01, step_scale: float = 1.8,
                           seed: int | torch.Generator = 0, progress: bool | None = None,
                           every: int = 1) -> History:
    """Train ``model`` in place on random crops; keeps the decoder's kernels at unit norm.

    With ``prediction_weight`` α = 0 the loss is the sparse auto-encoder's
    ½‖y − Dec(Enc(y))‖² + λ‖Enc(y)‖₁, and Adam (``lr``) trains every parameter. With α > 0
    (predictive sparse decomposition, Kavukcuoglu, Ranzato & LeCun 2008; the default, the
    book's recipe), each step first infers maps Z* that approximately minimise the whole
    energy ½‖y − Dec(Z)‖² + λ‖Z‖₁ + α·½‖Z − Enc(y)‖², prediction term included: only
    ``max_iter`` iterations of :func:`conv_fista` (``target`` = Enc(y), warm-started at
    Enc(y)), so Z* is not the exact minimiser. Then the decoder learns to reconstruct from Z*
    and the encoder to predict Z*, each taking one step downhill on that energy at Z*, as PSD
    alternates them: Adam (``lr``) trains the encoder on the prediction term, and the
    decoder takes the kernel step of :func:`learn_conv_dictionary` (size ``step_scale`` /
    L_K, then unit norm). Adam's per-entry step sizes move every entry of a unit-norm kernel
    by about ``lr``, which keeps the decoder's kernels noisy; the gradient step does not.

    Args:
        model: a :class:`ConvSparseAutoEncoder`, already on the photographs' device and dtype.
        Y: the photographs, (C, H, W) tensors with the model's C (or one (N, C, H, W) tensor),
            each at least ``crop`` × ``crop``; checked once, not at every step.
        lam: λ >= 0.
        prediction_weight: α >= 0, the weight of the prediction term (0: no inference).
        steps: the number of steps.
        batch_size: B, the number of crops per step.
        crop: the crops' side, in pixels.
        max_iter: the FISTA iterations of each step's inference (with α > 0).
        lr: Adam's learning rate (> 0).
        step_scale: the decoder's kernel step with α > 0, in units of 1 / L_K (> 0).
        seed: an integer (the same call draws the same crops) or a ``torch.Generator``
            (drawn from, continuing its stream).
        progress: show a progress bar (None: :func:`ebmlib.set_progress`'s switch).
        every: record the History every that many steps (and at the last).

    Returns:
        A :class:`~ebmlib.History` whose ``loss`` is the mean training loss per crop
        (:meth:`ConvSparseAutoEncoder.loss`) since the previous record (``val`` is None).
    """
    check.require(isinstance(model, ConvSparseAutoEncoder), "model", "a ConvSparseAutoEncoder",
                  type(model).__name__)
    images, crop = _training_photographs(Y, crop)
    check.require(images[0].shape[0] == model.in_channels, "Y' and 'model",
                  f"photographs with the model's C = {model.in_channels} channels",
                  f"Y[0] of shape {tuple(images[0].shape)}")
    check.same_device_dtype("Y", images[0], "model", model.W_d)
    lam = check.nonnegative("lam", lam)
    alpha = check.nonnegative("prediction_weight", prediction_weight)
    steps, batch_size, max_iter, every = _training_sizes(steps=steps, batch_size=batch_size,
                                                         max_iter=max_iter, every=every)
    lr = check.positive("lr", lr)
    step_scale = check.positive("step_scale", step_scale)
    _grid((crop, crop), tuple(model.W_d.shape[-2:]), model.boundary, "crop")
    run = Run(steps, seed=seed, progress=progress, desc="auto-encoder", every=every)
    g = run.generator
    params = [p for name, p in model.named_parameters() if alpha == 0 or name != "W_d"]
    optimizer = torch.optim.Adam(params, lr=lr)
    for step in run:
        y = _random_crops(images, batch_size, crop, g)
        z_star = None
        if alpha > 0:
            with torch.no_grad():
                z0 = model._encode(y)
            z_star = _conv_fista(y, model.W_d.detach(), lam, z0=z0, max_iter=max_iter, tol=0,
                                 boundary=model.boundary, target=z0, alpha=alpha, trace=False).z
        loss = model._loss(y, lam, z_star, alpha)
        optimizer.zero_grad()
        model.W_d.grad = None
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            if z_star is not None:  # PSD: the dictionary step on the decoder
                residual = _decode(z_star, model.W_d, model.boundary) - y
                grad = _kernel_gradient(z_star, residual, model.W_d.shape[-2:], model.boundary)
                L_K = _kernel_lipschitz(z_star)
                if L_K > 0:
                    model.W_d.sub_((step_scale / L_K) * grad)
            model.W_d.copy_(_normalize_kernels(model.W_d))
            if model.theta is not None:
                model.theta.clamp_(min=0)
        run.log(step, loss.detach())
    return run.history
