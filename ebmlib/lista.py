r"""LISTA: ISTA unrolled for K steps and learned (Gregor & LeCun, 2010).

ISTA for the sparse-coding energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ (no ½ factor, so
L = 2 σ_max(W_d)², see :mod:`ebmlib.solvers`) repeats one update,

.. math::  z(t+1) = h_\theta\bigl(W_e^\top y + S z(t)\bigr), \qquad z(0) = 0,

with W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d and θ = λ/L. Read as a recurrent network,
K steps of it are a K-layer feed-forward network: :class:`LISTA` keeps W_e, S and θ as
parameters and learns them by back-propagation through time. ``tied=True`` shares them
across the K steps (the lecture's recurrent network); ``tied=False`` gives every step
its own (W_e, S, θ), as in Chen et al. (2018) and Liu et al. (2019).

Shapes: y is (B, n), codes z are (B, m); W_e is (n, m) (so that W_eᵀy is ``y @ W_e``
for row samples), S is (m, m) and θ is (m,), one threshold per component; untied
parameters get a leading dimension K. Everything follows the device and dtype of the
parameters, which follow those of the dictionary in :meth:`LISTA.from_dictionary`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import _validate as check
from .solvers import lipschitz

__all__ = ["LISTA", "TrainingCurve", "relative_error", "sparse_coding_loss"]

LOSSES = ("code", "energy")


class TrainingCurve(NamedTuple):
    """One entry per evaluation: step, seconds of training so far, losses."""

    step: list[int]
    seconds: list[float]  # training time only: the held-out evaluations are not counted
    loss: list[float]  # mean training loss over the steps since the previous entry
    val_error: list[float]  # held-out relative error Σ‖z_K − z*‖² / Σ‖z*‖² (NaN without it)


def relative_error(z: Tensor, z_star: Tensor) -> float:
    """Σ_b ‖z_b − z*_b‖² / Σ_b ‖z*_b‖² over a batch: (B, m), (B, m) → a float (NMSE)."""
    check.tensor("z", z, ndim=2, shape_doc="(B, m)")
    check.tensor("z_star", z_star, ndim=2, shape_doc="(B, m)")
    if z.shape != z_star.shape:
        raise ValueError(f"arguments 'z' and 'z_star': expected the same shape, received "
                         f"{tuple(z.shape)} and {tuple(z_star.shape)}")
    z, z_star = z.detach().double(), z_star.detach().to(z.device).double()
    return float((z - z_star).pow(2).sum() / z_star.pow(2).sum().clamp(min=1e-300))


def sparse_coding_loss(z: Tensor, y: Tensor, W_d: Tensor, lam: float) -> Tensor:
    """Mean over the batch of E(z, y) = ‖y − W_d z‖² + λ‖z‖₁: z (B, m), y (B, n) → 0-d."""
    return ((y - z @ W_d.T).pow(2).sum(1) + lam * z.abs().sum(1)).mean()


class LISTA(nn.Module):
    """K unrolled steps z ← h_θ(W_eᵀy + S z), starting from z = 0.

    Args:
        n: size of an observation y.
        m: size of a code z (the number of atoms).
        K: number of steps (layers).
        tied: share W_e (n, m), S (m, m) and θ (m,) across the steps; otherwise each of
            the K steps has its own: W_e (K, n, m), S (K, m, m), θ (K, m). (Starting from
            z = 0, the first step's S multiplies zero and gets no gradient.)
        dtype, device: of the parameters (default: torch's defaults).

    The parameters start at zero; use :meth:`from_dictionary` for ISTA's values.
    """

    def __init__(self, n: int, m: int, K: int, *, tied: bool = True,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        for name, value in (("n", n), ("m", m), ("K", K)):
            check.positive_int(name, value)
        if not isinstance(tied, bool):
            raise TypeError(f"argument 'tied': expected a bool, received {type(tied).__name__}")
        self.n, self.m, self.K, self.tied = n, m, K, tied
        lead = () if tied else (K,)
        options = {"dtype": dtype, "device": device}
        self.W_e = nn.Parameter(torch.zeros(*lead, n, m, **options))
        self.S = nn.Parameter(torch.zeros(*lead, m, m, **options))
        self.theta = nn.Parameter(torch.zeros(*lead, m, **options))

    @classmethod
    def from_dictionary(cls, W_d: Tensor, lam: float, K: int, *, tied: bool = True,
                        L: float | None = None) -> LISTA:
        """The network that computes exactly K ISTA iterations for the dictionary W_d (n, m).

        W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d and θ = λ/L for every component (and every
        step when untied), with L = 2 σ_max(W_d)² (:func:`ebmlib.solvers.lipschitz`)
        unless given. Device and dtype are those of W_d.
        """
        check.tensor("W_d", W_d, ndim=2, shape_doc="(n, m)")
        lam = check.nonnegative("lam", lam)
        check.positive_int("K", K)
        n, m = W_d.shape
        if L is None:
            L = lipschitz(W_d)
        L = check.nonnegative("L", L)
        if L == 0:
            raise ValueError("argument 'W_d': expected a non-zero dictionary (L > 0), received "
                             "an all-zero matrix")
        W = W_d.detach()
        model = cls(n, m, K, tied=tied, dtype=W.dtype, device=W.device)
        eye = torch.eye(m, dtype=W.dtype, device=W.device)
        with torch.no_grad():
            model.W_e.copy_(2.0 / L * W)  # broadcasts over K when untied
            model.S.copy_(eye - 2.0 / L * (W.T @ W))
            model.theta.fill_(lam / L)
        return model

    def extra_repr(self) -> str:
        return f"n={self.n}, m={self.m}, K={self.K}, tied={self.tied}"

    def layer(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """(W_e, S, θ) of step k (0-based): (n, m), (m, m), (m,)."""
        if self.tied:
            return self.W_e, self.S, self.theta
        return self.W_e[k], self.S[k], self.theta[k]

    def forward(self, y: Tensor, *, steps: int | None = None, all_steps: bool = False
                ) -> Tensor | list[Tensor]:
        """Codes after ``steps`` steps (default K): y (B, n) → z (B, m).

        With ``all_steps=True`` returns the list [z(1), …, z(steps)] instead.
        """
        self._check_input(y)
        steps = self.K if steps is None else steps
        check.positive_int("steps", steps)
        if steps > self.K:
            raise ValueError(f"argument 'steps': expected at most K = {self.K}, received {steps}")
        z = None
        out = []
        shared = y @ self.W_e if self.tied else None  # W_eᵀy, computed once when tied
        for k in range(steps):
            W_e, S, theta = self.layer(k)
            b = shared if self.tied else y @ W_e
            v = b if z is None else torch.addmm(b, z, S.T)  # W_eᵀy + S z, row by row
            z = torch.sign(v) * torch.relu(v.abs() - theta.clamp(min=0))
            out.append(z)
        return out if all_steps else z

    @torch.no_grad()
    def encode(self, y: Tensor, *, batch_size: int = 4096) -> Tensor:
        """z(K) for many observations, without a graph, in batches: (N, n) → (N, m)."""
        self._check_input(y)
        check.positive_int("batch_size", batch_size)
        return torch.cat([self(y[i:i + batch_size]) for i in range(0, len(y), batch_size)])

    def evaluate(self, y: Tensor, z_star: Tensor, *, steps: int | None = None) -> float:
        """Held-out relative error Σ‖z(steps) − z*‖² / Σ‖z*‖²: y (N, n), z_star (N, m)."""
        self._check_input(y)
        check.tensor("z_star", z_star, ndim=2, shape_doc=f"(N, {self.m})")
        check.same_rows("y", y, "z_star", z_star)
        if z_star.shape[1] != self.m:
            raise ValueError(f"argument 'z_star': expected {self.m} columns (m), received shape "
                             f"{tuple(z_star.shape)}")
        with torch.no_grad():
            return relative_error(self(y, steps=steps), z_star)

    def fit(self, y: Tensor | Callable[[int], tuple[Tensor, Tensor | None]],
            z_star: Tensor | None = None, *, loss: str = "code", W_d: Tensor | None = None,
            lam: float | None = None, n_steps: int = 1000, batch_size: int = 256, lr: float = 1e-3,
            milestones: tuple[int, ...] = (), gamma: float = 0.2, steps: int | None = None,
            params: list[nn.Parameter] | None = None,
            y_val: Tensor | None = None, z_val: Tensor | None = None, eval_every: int = 100,
            seed: int = 0, progress: bool = True) -> TrainingCurve:
        """Train by back-propagation through time with Adam.

        The loss is computed on z(steps) (default K), averaged over a minibatch:

        * ``loss="code"``: ‖z(steps) − z*‖², the code-prediction loss of Gregor & LeCun,
          against target codes z* (FISTA codes, or the true sparse codes of a synthetic
          problem);
        * ``loss="energy"``: E(z(steps), y) = ‖y − W_d z‖² + λ‖z‖₁ itself (unsupervised;
          needs ``W_d`` and ``lam``).

        Args:
            y: training observations (N, n), with ``z_star`` (N, m) for the code loss; or a
                function ``batch(step) -> (y, z_star)`` that draws a fresh minibatch (z_star
                may be None for the energy loss), for synthetic data.
            n_steps: number of Adam steps; batch_size: minibatch size (when y is a tensor).
            lr: Adam's learning rate.
            milestones, gamma: the learning rate is multiplied by ``gamma`` after each of these
                step numbers (increasing, within 1 … n_steps), as torch's ``MultiStepLR``;
                e.g. ``milestones=(6000, 9000), gamma=0.2`` ends at lr/25 (the decay of
                Chen et al. 2018 is 0.2 then 0.02). One Adam runs through the whole
                schedule: call :meth:`fit` once rather than in chunks, because every call
                starts a new Adam with fresh moment estimates.
            steps: train the network truncated to its first ``steps`` layers (stage-wise
                training).
            params: the parameters to train (default all), e.g. only the newest layer's.
            y_val, z_val: held-out data for :meth:`evaluate` every ``eval_every`` steps.
            seed: seeds the minibatch draws.
            progress: show a tqdm progress bar.

        Returns:
            a :class:`TrainingCurve`.
        """
        if loss not in LOSSES:
            raise ValueError(f"argument 'loss': expected one of {LOSSES}, received {loss!r}")
        check.positive_int("n_steps", n_steps)
        check.positive_int("batch_size", batch_size)
        check.positive_int("eval_every", eval_every)
        lr = check.nonnegative("lr", lr)
        gamma = check.nonnegative("gamma", gamma)
        milestones = tuple(milestones)
        if (any(not isinstance(s, int) or isinstance(s, bool) for s in milestones)
                or list(milestones) != sorted(set(milestones))
                or any(not 1 <= s <= n_steps for s in milestones)):
            raise ValueError(f"argument 'milestones': expected increasing step numbers in 1 … "
                             f"n_steps = {n_steps}, received {milestones!r}")
        steps = self.K if steps is None else steps
        check.positive_int("steps", steps)
        if steps > self.K:
            raise ValueError(f"argument 'steps': expected at most K = {self.K}, received {steps}")
        if loss == "energy":
            if W_d is None or lam is None:
                raise ValueError("arguments 'W_d' and 'lam': the energy loss needs the dictionary "
                                 "and λ, received None")
            check.tensor("W_d", W_d, ndim=2, shape_doc=f"({self.n}, {self.m})")
            if tuple(W_d.shape) != (self.n, self.m):
                raise ValueError(f"argument 'W_d': expected shape ({self.n}, {self.m}), received "
                                 f"{tuple(W_d.shape)}")
            lam = check.nonnegative("lam", lam)
            W_d = W_d.detach().to(self.W_e)
        if callable(y) and not isinstance(y, Tensor):
            draw = y
        else:
            self._check_input(y)
            if loss == "code":
                if z_star is None:
                    raise ValueError("argument 'z_star': the code loss needs target codes "
                                     f"(N, {self.m}), received None")
                check.tensor("z_star", z_star, ndim=2, shape_doc=f"(N, {self.m})")
                check.same_rows("y", y, "z_star", z_star)
                if z_star.shape[1] != self.m:
                    raise ValueError(f"argument 'z_star': expected {self.m} columns (m), "
                                     f"received shape {tuple(z_star.shape)}")
            gen = torch.Generator().manual_seed(seed)
            Y, Z = y, z_star

            def draw(step: int) -> tuple[Tensor, Tensor | None]:
                pick = torch.randint(len(Y), (min(batch_size, len(Y)),), generator=gen)
                pick = pick.to(Y.device)
                return Y[pick], None if Z is None else Z[pick]
        if (y_val is None) != (z_val is None):
            raise ValueError("arguments 'y_val' and 'z_val': give both or neither")

        optimizer = torch.optim.Adam(list(self.parameters()) if params is None else params, lr=lr)
        drops = set(milestones)
        curve = TrainingCurve([], [], [], [])
        seconds, running, count = 0.0, 0.0, 0
        bar = tqdm(range(1, n_steps + 1), disable=not progress, desc="LISTA", leave=False)
        for step in bar:
            start = time.perf_counter()
            yb, zb = draw(step)
            yb = yb.to(self.W_e)
            z = self(yb, steps=steps)
            if loss == "code":
                value = (z - zb.to(z)).pow(2).sum(1).mean()
            else:
                value = sparse_coding_loss(z, yb, W_d, lam)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            if step in drops:
                for group in optimizer.param_groups:
                    group["lr"] *= gamma
            seconds += time.perf_counter() - start
            running += float(value.detach())
            count += 1
            if step % eval_every == 0 or step == n_steps:
                val = float("nan") if y_val is None else self.evaluate(y_val, z_val, steps=steps)
                curve.step.append(step)
                curve.seconds.append(seconds)
                curve.loss.append(running / count)
                curve.val_error.append(val)
                running, count = 0.0, 0
                bar.set_postfix(loss=f"{curve.loss[-1]:.4g}", val=f"{val:.4g}")
        return curve

    def save(self, path: str | Path) -> None:
        """Write the shapes and the parameters to ``path`` (torch.save)."""
        torch.save({"n": self.n, "m": self.m, "K": self.K, "tied": self.tied,
                    "state": self.state_dict()}, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, map_location: torch.device | str | None = None) -> LISTA:
        """A network written by :meth:`save`, on ``map_location`` if given."""
        data = torch.load(Path(path), map_location=map_location, weights_only=True)
        W_e = data["state"]["W_e"]
        model = cls(data["n"], data["m"], data["K"], tied=data["tied"], dtype=W_e.dtype,
                    device=W_e.device)
        model.load_state_dict(data["state"])
        return model

    def _check_input(self, y: Tensor) -> None:
        check.tensor("y", y, ndim=2, shape_doc=f"(B, {self.n})")
        if y.shape[1] != self.n:
            raise ValueError(f"argument 'y': expected shape (B, n) with n = {self.n}, received "
                             f"{tuple(y.shape)}")
        if y.device != self.W_e.device or y.dtype != self.W_e.dtype:
            raise ValueError(f"argument 'y': expected device {self.W_e.device} and dtype "
                             f"{self.W_e.dtype} (those of the network), received {y.device} and "
                             f"{y.dtype}")
