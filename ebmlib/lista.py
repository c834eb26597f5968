r"""LISTA: ISTA unrolled for K layers and learned (Gregor & LeCun, 2010).

ISTA for the sparse-coding energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ (no ½ factor, so
L = 2 σ_max(W_d)², see :mod:`ebmlib.solvers`) repeats one update,

.. math::  z(t+1) = h_\theta\bigl(W_e^\top y + S z(t)\bigr), \qquad z(0) = 0,

with W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d and θ = λ/L. Read as a recurrent network,
K steps of it are a K-layer feed-forward network: :class:`LISTA` keeps W_e, S and θ as
parameters and :func:`train_lista` learns them by back-propagation through time.
``tied=True`` shares them across the K layers (the lecture's recurrent network);
``tied=False`` gives every layer its own (W_e, S, θ), as in Chen et al. (2018) and
Liu et al. (2019). The depth K is the argument ``layers``.

Three variants from the literature (the argument ``variant``) reach a much lower error on
compressed sensing with fewer learned weights; they keep the dictionary W_d (called A in
those papers) as a fixed buffer ``A`` and learn around it:

* ``"cp"``, LISTA-CP (weight coupling, Chen et al. 2018): S is tied to the dictionary,
  S_k = I − W_kᵀW_d, so that each layer is z ← h_θk(z + W_kᵀ(y − W_d z)); W_k (``W_e``)
  and θ_k are learned.
* ``"cpss"``, LISTA-CPSS: LISTA-CP with support selection: at layer k (1-based) the
  largest p_k = min(p·k, p_max) percent of the entries of each code, by magnitude, pass
  without shrinkage (when they are above θ_k); the others are soft-thresholded.
* ``"alista"``, ALISTA (Liu et al. 2019): the weight is computed once from the dictionary
  by :func:`analytic_weight` (a fixed buffer ``W_e``), and only a step size γ_k and a scalar
  threshold θ_k per layer are learned: z ← h^ss_θk(z − γ_k W̃ᵀ(W_d z − y)), with support
  selection as in ``"cpss"``.

:func:`synthetic_problem` draws the compressed-sensing problem on which those papers
measure the variants (a random dictionary, Bernoulli-Gaussian codes, y = W_d z).

Shapes: a batch y is (B, n), the training data Y (N, n), codes z are (B, m); W_e is
(n, m) (so that W_eᵀy is ``y @ W_e`` for row samples), S is (m, m) and θ is (m,), one
threshold per component; untied parameters get a leading dimension K. Everything
follows the device and dtype of the parameters, which follow those of the dictionary in
:meth:`LISTA.from_dictionary`; a network made by the constructor is on the CPU unless
given ``device``, and moves with ``.to(device)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from . import _validate as check
from ._saving import Saveable
from ._training import History, Run
from .energy import _sparse_coding_energy
from .solvers import _lipschitz, _shrink

__all__ = ["LISTA", "analytic_weight", "relative_error", "synthetic_problem", "train_lista"]

LOSSES = ("code", "energy")
VARIANTS = ("lista", "cp", "cpss", "alista")
SUPPORT_SELECTION = ("cpss", "alista")

Batch = Callable[[int], tuple[Tensor, Tensor | None]]


def relative_error(z: Tensor, z_star: Tensor) -> float:
    """Σ_b ‖z_b − z*_b‖² / Σ_b ‖z*_b‖² over a batch (the NMSE), as a float.

    The prediction comes first and the target second (unlike the energies, whose target
    ``y`` comes first): the denominator is the target's norm, so swapping the two
    arguments changes the result.

    Args:
        z: the predicted codes, (B, m).
        z_star: the target codes z*, (B, m), e.g. FISTA's after many iterations.
    """
    check.tensor("z", z, ndim=2, shape_doc="(B, m)")
    check.tensor("z_star", z_star, ndim=2, shape_doc="(B, m)")
    check.require(z.shape == z_star.shape, "z' and 'z_star", "the same shape",
                  f"{tuple(z.shape)} and {tuple(z_star.shape)}")
    return _relative_error(z, z_star)


def _relative_error(z: Tensor, z_star: Tensor) -> float:
    z, z_star = z.detach().double(), z_star.detach().to(z.device).double()
    return float((z - z_star).pow(2).sum() / z_star.pow(2).sum().clamp(min=1e-300))


def synthetic_problem(n: int, m: int, batch: int, *, p: float = 0.1, snr_db: float | None = None,
                      A: Tensor | None = None, seed: int | torch.Generator = 0
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """The compressed-sensing problem of Chen et al. (2018) and Liu et al. (2019): (A, y, z).

    The dictionary (their A, our W_d) has entries A_ij ~ N(0, 1/n) and its columns are then
    normalised to unit norm. Each true code z has a Bernoulli(p) support with N(0, 1)
    values, and y = A z, noiseless or with white Gaussian noise of variance σ² = mean(y²) ·
    10^(−snr_db/10) (the mean over the batch), i.e. ‖noise‖² = ‖A z‖² · 10^(−snr_db/10) on
    average. Their papers use n = 250, m = 500, p = 0.1.

    The random draws come from one generator, in this order: A (when not given), the
    values of z, its support, the noise. Pass a ``torch.Generator`` as ``seed`` to draw
    fresh batches for the same A from one stream (as a training loop does).

    Args:
        n: size of an observation y (the number of measurements).
        m: size of a code z (the number of atoms), usually m > n.
        batch: the number of samples B.
        p: the probability that an entry of z is non-zero, in [0, 1].
        snr_db: the signal-to-noise ratio in dB; None: noiseless.
        A: the dictionary (n, m) to use instead of drawing one; its device and dtype
            become those of y and z (the draws are made on the CPU, then moved).
        seed: an integer or a ``torch.Generator``.

    Returns:
        A (n, m), y (B, n) and the true codes z (B, m); drawn A has torch's default dtype
        and is on the CPU.
    """
    n, m, batch = (check.positive_int(name, value)
                   for name, value in (("n", n), ("m", m), ("batch", batch)))
    p = check.interval("p", p, 0, 1)
    if snr_db is not None:
        snr_db = check.real("snr_db", snr_db)
    if A is not None:
        check.tensor("A", A, ndim=2, shape_doc=f"({n}, {m})")
        check.shape("A", A, (n, m))
    g = check.generator("seed", seed)
    if A is None:
        A = torch.randn(n, m, generator=g) / math.sqrt(n)
        A = A / A.norm(dim=0)
    A_cpu = A.detach().cpu()
    z = torch.randn(batch, m, generator=g, dtype=A.dtype) * (
        torch.rand(batch, m, generator=g, dtype=A.dtype) < p)
    y = z @ A_cpu.T
    if snr_db is not None:
        sigma = math.sqrt(float(y.pow(2).mean()) * 10 ** (-snr_db / 10))
        y = y + sigma * torch.randn(y.shape, generator=g, dtype=A.dtype)
    return A, y.to(A.device), z.to(A.device)


def analytic_weight(W: Tensor) -> Tensor:
    r"""ALISTA's analytic weight W̃ (n, m) of a dictionary W_d (n, m) (Liu et al. 2019).

    W̃ minimises the coherence ‖W̃ᵀW_d‖_F² subject to diag(W̃ᵀW_d) = 1 (each w_i has
    w_iᵀa_i = 1 with the atom a_i). The problem separates over the columns, and the
    Lagrange conditions W_d W_dᵀ w_i = μ_i a_i give the closed form

    .. math::  \tilde W = (W_d W_d^\top)^{+} W_d\, D, \qquad
               D_{ii} = 1 / \bigl(a_i^\top (W_d W_d^\top)^{+} a_i\bigr),

    one n × n pseudo-inverse (computed in float64) instead of the paper's iterative solve.
    It is the minimiser when W_d has full row rank n <= m (compressed sensing); otherwise
    it is the minimiser among the w_i in the span of the atoms.

    Args:
        W: the dictionary W_d, (n, m), with no atom outside the span of the others'
            Gram matrix (every a_iᵀ(W_dW_dᵀ)⁺a_i > 0, true for non-zero atoms).

    Returns:
        W̃, (n, m), with W's device and dtype.
    """
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    return _analytic_weight(W)


def _analytic_weight(W: Tensor) -> Tensor:
    A = W.detach().double()
    X = torch.linalg.pinv(A @ A.T, hermitian=True) @ A  # (W_d W_dᵀ)⁺ a_i, column by column
    d = (A * X).sum(0)
    check.require(bool((d > 1e-12).all()), "W", "a dictionary without zero atoms",
                  f"{int((d <= 1e-12).sum())} atom(s) with a_iᵀ(W_dW_dᵀ)⁺a_i = 0")
    return (X / d).to(W)


def _shrink_ss(v: Tensor, theta: Tensor, count: int) -> Tensor:
    """Soft threshold with support selection: the ``count`` largest |v_i| of each row pass
    unchanged when above θ (their gradient w.r.t. θ is 0), the others are shrunk."""
    shrunk = _shrink(v, theta)
    if count <= 0:
        return shrunk
    magnitude = v.detach().abs()
    kth = magnitude.topk(count, dim=1).values[:, -1:]
    keep = (magnitude >= kth) & (magnitude > theta.detach())
    return torch.where(keep, v, shrunk)


class LISTA(Saveable, nn.Module):
    """K unrolled layers z ← h_θ(W_eᵀy + S z), starting from z = 0.

    Args:
        n: size of an observation y.
        m: size of a code z (the number of atoms).
        layers: the depth K, the number of unrolled ISTA steps.
        tied: share W_e (n, m), S (m, m) and θ (m,) across the layers; otherwise each of
            the K layers has its own: W_e (K, n, m), S (K, m, m), θ (K, m). (Starting from
            z = 0, the first layer's S multiplies zero and gets no gradient.)
        variant: ``"lista"`` (the parameters above), ``"cp"`` (weight coupling: W_e (n, m)
            and θ (m,) learned, per layer when untied, and the dictionary a buffer ``A``
            (n, m)), ``"cpss"`` (``"cp"`` with support selection) or ``"alista"`` (buffers
            ``A`` and ``W_e`` (n, m), the analytic weight; learned step ``gamma`` and
            threshold ``theta``, one number per layer, shape (K,), or () when tied). See
            the module's docstring.
        p: the support-selection percentage added per layer (``"cpss"``, ``"alista"``):
            layer k keeps the largest min(p·k, p_max) % of the entries, in [0, 100].
        p_max: the largest percentage kept, in [0, 100].
        dtype: of the parameters (default: torch's default dtype).
        device: of the parameters (default: the CPU).

    The parameters (and buffers) start at zero; use :meth:`from_dictionary` for ISTA's values.
    ``save(path)`` and ``LISTA.load(path, *, map_location=None)`` write and read the
    network with its configuration (:class:`ebmlib._saving.Saveable`).
    """

    def __init__(self, n: int, m: int, layers: int, *, tied: bool = True, variant: str = "lista",
                 p: float = 1.2, p_max: float = 13.0, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        n, m, layers = (check.positive_int(name, value)
                        for name, value in (("n", n), ("m", m), ("layers", layers)))
        self.n, self.m, self.layers, self.tied = n, m, layers, check.flag("tied", tied)
        self.variant = check.choice("variant", variant, VARIANTS)
        self.p, self.p_max = check.interval("p", p, 0, 100), check.interval("p_max", p_max, 0, 100)
        lead = () if self.tied else (layers,)
        options = {"dtype": dtype, "device": device}
        if self.variant == "lista":
            self.W_e = nn.Parameter(torch.zeros(*lead, n, m, **options))
            self.S = nn.Parameter(torch.zeros(*lead, m, m, **options))
            self.theta = nn.Parameter(torch.zeros(*lead, m, **options))
            return
        self.register_buffer("A", torch.zeros(n, m, **options))
        if self.variant == "alista":
            self.register_buffer("W_e", torch.zeros(n, m, **options))
            self.gamma = nn.Parameter(torch.zeros(lead, **options))
            self.theta = nn.Parameter(torch.zeros(lead, **options))
        else:
            self.W_e = nn.Parameter(torch.zeros(*lead, n, m, **options))
            self.theta = nn.Parameter(torch.zeros(*lead, m, **options))

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments: n, m, layers, tied and the parameters' dtype; and
        variant, p and p_max for a variant other than ``"lista"``."""
        config = {"n": self.n, "m": self.m, "layers": self.layers, "tied": self.tied,
                  "dtype": self.theta.dtype}
        if self.variant != "lista":
            config.update(variant=self.variant, p=self.p, p_max=self.p_max)
        return config

    @classmethod
    def from_dictionary(cls, W: Tensor, lam: float, layers: int, *, tied: bool = True,
                        L: float | None = None, variant: str = "lista", p: float = 1.2,
                        p_max: float = 13.0) -> LISTA:
        """The network that computes exactly ``layers`` ISTA iterations for a dictionary.

        W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d and θ = λ/L for every component (and every
        layer when untied). ``"cp"``: W_k = (2/L) W_d and θ_k = λ/L (exactly ISTA again);
        ``"cpss"``: the same with support selection (ISTA but for the entries kept);
        ``"alista"``: W̃ = :func:`analytic_weight` (W_d), γ_k = 2/L and θ_k = λ/L.

        Args:
            W: the dictionary W_d, (n, m); its device and dtype become the network's.
            lam: λ >= 0, the sparsity weight of the energy.
            layers: the depth K.
            tied: share the parameters across the layers (see :class:`LISTA`).
            L: the Lipschitz constant, > 0 (default 2 σ_max(W_d)², as
                :func:`ebmlib.solvers.lipschitz`).
            variant, p, p_max: as in :class:`LISTA`.
        """
        check.tensor("W", W, ndim=2, shape_doc="(n, m)")
        lam = check.nonnegative("lam", lam)
        layers = check.positive_int("layers", layers)
        if L is None:
            L = _lipschitz(W)
            check.require(L > 0, "W", "a non-zero dictionary (L > 0)", "an all-zero matrix")
        else:
            L = check.positive("L", L)
        W = W.detach()
        n, m = W.shape
        model = cls(n, m, layers, tied=tied, variant=variant, p=p, p_max=p_max, dtype=W.dtype,
                    device=W.device)
        with torch.no_grad():
            model.theta.fill_(lam / L)
            if model.variant == "lista":
                model.W_e.copy_(2.0 / L * W)  # broadcasts over K when untied
                model.S.copy_(torch.eye(m, dtype=W.dtype, device=W.device) - 2.0 / L * (W.T @ W))
                return model
            model.A.copy_(W)
            if model.variant == "alista":
                model.W_e.copy_(_analytic_weight(W))
                model.gamma.fill_(2.0 / L)
            else:
                model.W_e.copy_(2.0 / L * W)
        return model

    def extra_repr(self) -> str:
        variant = "" if self.variant == "lista" else (
            f", variant={self.variant!r}" + (f", p={self.p}, p_max={self.p_max}"
                                             if self.variant in SUPPORT_SELECTION else ""))
        return f"n={self.n}, m={self.m}, layers={self.layers}, tied={self.tied}{variant}"

    def layer(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """(W_e, S, θ) of layer k (0-based): (n, m), (m, m), (m,), such that the layer
        computes h_θ(W_eᵀy + S z) (with support selection for ``"cpss"`` and ``"alista"``).

        For ``"cp"``/``"cpss"`` W_e = W_k and S = I − W_kᵀW_d; for ``"alista"``
        W_e = γ_k W̃, S = I − γ_k W̃ᵀW_d and θ = θ_k for every component.
        """
        pick = (lambda t: t) if self.tied else (lambda t: t[k])
        if self.variant == "lista":
            return pick(self.W_e), pick(self.S), pick(self.theta)
        theta = pick(self.theta)
        W_e = pick(self.gamma) * self.W_e if self.variant == "alista" else pick(self.W_e)
        if self.variant == "alista":
            theta = theta.expand(self.m)
        eye = torch.eye(self.m, dtype=self.A.dtype, device=self.A.device)
        return W_e, eye - W_e.T @ self.A, theta

    def kept(self, k: int) -> int:
        """The number of entries that support selection lets through at layer k (0-based):
        ⌊min(p·(k+1), p_max) · m / 100⌋ for ``"cpss"`` and ``"alista"``, else 0."""
        if self.variant not in SUPPORT_SELECTION:
            return 0
        return int(min(self.p * (k + 1), self.p_max) * self.m / 100)

    def forward(self, y: Tensor, *, layers: int | None = None, all_layers: bool = False
                ) -> Tensor | list[Tensor]:
        """The codes after the first ``layers`` layers: y (B, n) → z (B, m).

        Args:
            y: a batch of observations, (B, n), on the network's device and dtype.
            layers: run only the first this many layers (default: all K).
            all_layers: return the list [z(1), …, z(layers)] instead of the last code.
        """
        self._check_rows("y", y, "B")
        return self._unrolled(y, self._check_layers(layers), check.flag("all_layers", all_layers))

    @torch.no_grad()
    def encode(self, Y: Tensor, *, batch_size: int = 4096) -> Tensor:
        """z(K) for many observations, without a graph, in batches.

        Args:
            Y: observations, (N, n), on the network's device and dtype.
            batch_size: rows per forward pass.

        Returns:
            the codes, (N, m).
        """
        self._check_rows("Y", Y, "N")
        batch_size = check.positive_int("batch_size", batch_size)
        return torch.cat([self._unrolled(Y[i:i + batch_size], self.layers, False)
                          for i in range(0, len(Y), batch_size)])

    def evaluate(self, Y: Tensor, Z_star: Tensor, *, layers: int | None = None) -> float:
        """The held-out relative error Σ‖z(layers) − z*‖² / Σ‖z*‖² (:func:`relative_error`).

        Args:
            Y: observations, (N, n), on the network's device and dtype.
            Z_star: their target codes z*, (N, m).
            layers: evaluate the network cut to its first this many layers (default: all).
        """
        self._check_rows("Y", Y, "N")
        self._check_codes("Z_star", Z_star, "Y", Y)
        return self._evaluate(Y, Z_star, self._check_layers(layers))

    # -- implementation ---------------------------------------------------------------

    def _unrolled(self, y: Tensor, layers: int, all_layers: bool) -> Tensor | list[Tensor]:
        if self.variant != "lista":
            return self._coupled(y, layers, all_layers)
        z = None
        out = []
        shared = y @ self.W_e if self.tied else None  # W_eᵀy, computed once when tied
        for k in range(layers):
            W_e, S, theta = self.layer(k)
            b = shared if self.tied else y @ W_e
            v = b if z is None else torch.addmm(b, z, S.T)  # W_eᵀy + S z, row by row
            z = _shrink(v, theta.clamp(min=0))  # a learned θ < 0 acts as 0
            out.append(z)
        return out if all_layers else z

    def _coupled(self, y: Tensor, layers: int, all_layers: bool) -> Tensor | list[Tensor]:
        """The layers of "cp", "cpss" and "alista": z ← h(z + W_kᵀ(y − W_d z))."""
        z = None
        out = []
        for k in range(layers):
            theta = (self.theta if self.tied else self.theta[k]).clamp(min=0)
            residual = y if z is None else torch.addmm(y, z, self.A.T, alpha=-1)  # y − W_d z
            if self.variant == "alista":
                step = residual @ self.W_e * (self.gamma if self.tied else self.gamma[k])
            else:
                step = residual @ (self.W_e if self.tied else self.W_e[k])
            v = step if z is None else z + step
            z = _shrink_ss(v, theta, self.kept(k))
            out.append(z)
        return out if all_layers else z

    @torch.no_grad()
    def _evaluate(self, Y: Tensor, Z_star: Tensor, layers: int) -> float:
        return _relative_error(self._unrolled(Y, layers, False), Z_star)

    def _check_layers(self, layers: int | None) -> int:
        if layers is None:
            return self.layers
        layers = check.positive_int("layers", layers)
        check.require(layers <= self.layers, "layers", f"an integer <= {self.layers} (the "
                      "network's layers)", layers)
        return layers

    def _check_rows(self, name: str, y: Tensor, rows: str) -> None:
        check.tensor(name, y, ndim=2, shape_doc=f"({rows}, {self.n})")
        check.shape(name, y, (None, self.n), f"({rows}, n) with n = {self.n}")
        ref = self.theta
        check.require(y.device == ref.device and y.dtype == ref.dtype, name,
                      f"device {ref.device} and dtype {ref.dtype} (those of the network)",
                      f"{y.device} and {y.dtype}")

    def _check_codes(self, name: str, z: Tensor, rows_name: str, Y: Tensor) -> None:
        check.tensor(name, z, ndim=2, shape_doc=f"(N, {self.m})")
        check.shape(name, z, (None, self.m), f"(N, m) with m = {self.m}")
        check.same_rows(rows_name, Y, name, z)


# -- training ---------------------------------------------------------------------------

def train_lista(model: LISTA, Y: Tensor | Batch, Z_star: Tensor | None = None, *,
                steps: int = 1000, batch_size: int = 256, lr: float = 1e-3,
                milestones: Sequence[int] = (), gamma: float = 0.2, loss: str = "code",
                W: Tensor | None = None, lam: float | None = None, layers: int | None = None,
                params: list[nn.Parameter] | None = None, Y_val: Tensor | None = None,
                Z_val: Tensor | None = None, every: int = 100, seed: int | torch.Generator = 0,
                progress: bool | None = None) -> History:
    """Train a :class:`LISTA` network (any variant) in place by back-propagation through time with Adam.

    The loss is computed on z(layers), averaged over a minibatch:

    * ``loss="code"``: ‖z − z*‖², the code-prediction loss of Gregor & LeCun, against
      target codes z* (FISTA codes, or the true sparse codes of a synthetic problem);
    * ``loss="energy"``: the sparse-coding energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ itself
      (unsupervised; needs ``W`` and ``lam``).

    Args:
        model: the network, trained in place.
        Y: training observations (N, n) on the network's device and dtype; or a function
            ``batch(step) -> (y, z_star)`` that draws a fresh minibatch (z_star may be None
            for the energy loss), for synthetic data.
        Z_star: the target codes (N, m) of the rows of Y, for the code loss.
        steps: the number of Adam steps.
        batch_size: the minibatch size B, drawn with replacement from the rows of Y.
        lr: Adam's learning rate, > 0.
        milestones: the learning rate is multiplied by ``gamma`` after each of these step
            numbers (increasing, within 1 … steps), by ``torch.optim.lr_scheduler.MultiStepLR``;
            e.g. ``milestones=(6000, 9000), gamma=0.2`` ends at lr/25 (the decay of Chen
            et al. 2018 is 0.2 then 0.02). One Adam runs through the whole schedule: train
            once rather than in chunks, since every call starts a new Adam.
        gamma: the factor of the learning rate at each milestone, >= 0.
        loss: ``"code"`` or ``"energy"``.
        W: the dictionary W_d (n, m) of the energy loss.
        lam: λ >= 0 of the energy loss.
        layers: train the network cut to its first this many layers (stage-wise training;
            default: all).
        params: the parameters to train (default: all), e.g. only the newest layer's.
        Y_val: held-out observations (N_val, n), with ``Z_val``.
        Z_val: their target codes (N_val, m); the held-out value recorded is
            :meth:`LISTA.evaluate` on them.
        every: record every this many steps (and at the last step).
        seed: an integer or a ``torch.Generator`` for the minibatch draws; the same call
            draws the same minibatches.
        progress: show a progress bar (None: :func:`ebmlib.set_progress`'s switch).

    Returns:
        a :class:`ebmlib.History`: step 0 (the network before training) then every
        ``every`` steps, the cumulative training seconds, the mean loss since the previous
        record (NaN at step 0) and the held-out relative error (None without held-out data).
    """
    steps, batch_size, every, layers = _check_train(model, Y, Z_star, steps=steps, batch_size=batch_size,
                                                    every=every, layers=layers, loss=loss, W=W, lam=lam,
                                                    Y_val=Y_val, Z_val=Z_val)
    lr, gamma = check.positive("lr", lr), check.nonnegative("gamma", gamma)
    milestones = _check_milestones(milestones, steps)
    objective = _loss_fn(model, loss, W, lam)
    optimizer = torch.optim.Adam(list(model.parameters()) if params is None else params, lr=lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(milestones), gamma=gamma)
    evaluate = None if Y_val is None else (lambda: model._evaluate(Y_val, Z_val, layers))
    run = Run(steps, seed=seed, progress=progress, desc="LISTA", every=every, evaluate=evaluate)
    draw = Y if _is_sampler(Y) else _sampler(Y, Z_star, batch_size, run.generator)
    for step in run:
        y, z_star = draw(step)
        y = y.to(model.theta)
        value = objective(model._unrolled(y, layers, False), y, z_star)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        schedule.step()
        run.log(step, value.detach())
    return run.history


def _is_sampler(Y: object) -> bool:
    return callable(Y) and not isinstance(Y, Tensor)


def _check_train(model: LISTA, Y: Tensor | Batch, Z_star: Tensor | None, *, steps: int, batch_size: int,
                 every: int, layers: int | None, loss: str, W: Tensor | None, lam: float | None,
                 Y_val: Tensor | None, Z_val: Tensor | None) -> tuple[int, int, int, int]:
    """Every check of :func:`train_lista` but lr, gamma and the milestones."""
    check.require(isinstance(model, LISTA), "model", "a LISTA network", type(model).__name__)
    steps = check.positive_int("steps", steps)
    batch_size = check.positive_int("batch_size", batch_size)
    every = check.positive_int("every", every)
    layers = model._check_layers(layers)
    check.choice("loss", loss, LOSSES)
    if loss == "energy":
        check.require(W is not None and lam is not None, "W' and 'lam",
                      "the dictionary W_d (n, m) and λ for loss='energy'",
                      f"W={'None' if W is None else 'a tensor'} and lam={lam!r}")
        check.tensor("W", W, ndim=2, shape_doc=f"({model.n}, {model.m})")
        check.shape("W", W, (model.n, model.m))
        check.nonnegative("lam", lam)
    if not _is_sampler(Y):
        model._check_rows("Y", Y, "N")
        if loss == "code":
            check.require(Z_star is not None, "Z_star", f"target codes (N, {model.m}) for "
                          "loss='code'", None)
        if Z_star is not None:
            model._check_codes("Z_star", Z_star, "Y", Y)
    check.require((Y_val is None) == (Z_val is None), "Y_val' and 'Z_val", "both or neither",
                  f"{'None' if Y_val is None else 'a tensor'} and {'None' if Z_val is None else 'a tensor'}")
    if Y_val is not None:
        model._check_rows("Y_val", Y_val, "N_val")
        model._check_codes("Z_val", Z_val, "Y_val", Y_val)
    return steps, batch_size, every, layers


def _check_milestones(milestones: Sequence[int], steps: int) -> tuple[int, ...]:
    values = tuple(milestones)
    ok = (all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in values)
          and list(values) == sorted(set(values)) and all(1 <= s <= steps for s in values))
    check.require(ok, "milestones", f"increasing step numbers in 1 … steps = {steps}", repr(milestones))
    return tuple(int(s) for s in values)


def _sampler(Y: Tensor, Z_star: Tensor | None, batch_size: int, generator: torch.Generator) -> Batch:
    """Minibatches of rows of Y (and Z_star) drawn with replacement from ``generator``."""
    size = min(batch_size, len(Y))

    def draw(step: int) -> tuple[Tensor, Tensor | None]:
        pick = torch.randint(len(Y), (size,), generator=generator).to(Y.device)
        return Y[pick], None if Z_star is None else Z_star[pick]

    return draw


def _loss_fn(model: LISTA, loss: str, W: Tensor | None, lam: float | None
             ) -> Callable[[Tensor, Tensor, Tensor | None], Tensor]:
    """The minibatch loss (z, y, z*) → 0-d tensor: the code-prediction error or the energy."""
    if loss == "code":
        return lambda z, y, z_star: (z - z_star.to(z)).pow(2).sum(1).mean()
    W_d, lam = W.detach().to(model.theta), float(lam)
    return lambda z, y, z_star: _sparse_coding_energy(y, W_d, z, lam).mean()
