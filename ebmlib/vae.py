r"""The variational auto-encoder as a regularized latent-variable EBM.

The encoder maps an observation y (n,) to a *fuzzy ball* in the code space: a Gaussian
q(z | y) = N(μ(y), diag σ²(y)) with μ and log σ² of size d. A code is drawn from the ball
with the reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I), decoded to ȳ = Dec(z), and the
energy of y is

.. math::  E(y) = C(y, \mathrm{Dec}(z)) + \beta\, R(y),
           \qquad R(y) = \mathrm{KL}\bigl(q(z \mid y) \,\Vert\, N(0, I)\bigr)
           = \tfrac12 \sum_j \bigl(\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1\bigr).

The μ² term is the spring that pulls the balls to the origin; σ² − log σ², smallest at
σ = 1, pulls each σ towards 1 from both sides: a ball costs more the smaller it is (and
costs without bound as it shrinks to a point), and more too as it grows past the prior.
With β = 1, E averaged over ε is the negative ELBO (for the Bernoulli likelihood on grey
levels in [0, 1], only up to the normalising constant that the binary cross-entropy
lacks there; see the continuous Bernoulli of Loaiza-Ganem & Cunningham, 2019).

Reductions, stated once because they are the most common VAE bug: every loss here is
*summed over the pixels and over the code dimensions*; ``reduction`` only says what is done
over the batch: ``"sum"`` (pytorch/examples' VAE), ``"batchmean"`` (per sample, the
negative ELBO in nats) or ``"none"`` ((B,)). Averaging over the pixels as well (the
default ``reduction="mean"`` of PyTorch's losses) divides C by n and R by d (each term
averaged over its own entries), which silently multiplies β by n / d (and the whole loss
by 1 / n). That is refused with an error.

Shapes: observations y (B, n), codes μ, log σ², z (B, d).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import _validate as check

LIKELIHOODS = ("bernoulli", "gaussian")
REDUCTIONS = ("sum", "batchmean", "none")


def _check_choice(name: str, value: object, choices: Sequence[str], why: str = "") -> str:
    if value not in choices:
        raise ValueError(f"argument '{name}': expected one of {list(choices)}, received {value!r}{why}")
    return value  # type: ignore[return-value]


def _check_reduction(reduction: object) -> str:
    why = ""
    if reduction == "mean":
        why = (" ('mean' would average C over the n pixels but R over the d code dimensions, "
               "which multiplies β by n/d; use 'batchmean' for the per-sample loss)")
    return _check_choice("reduction", reduction, REDUCTIONS, why)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""KL(N(μ, diag σ²) ‖ N(0, I)) for every code dimension, in closed form: (B, d).

    ½ (μ² + σ² − log σ² − 1) with σ² = exp(logvar). Sum over dim 1 for the KL of each
    sample; average over the batch for the KL per dimension (≈ 0 when the posterior
    collapses onto the prior).
    """
    check.tensor("mu", mu, ndim=2, shape_doc="(B, d)")
    check.tensor("logvar", logvar, ndim=2, shape_doc="(B, d)")
    if mu.shape != logvar.shape:
        raise ValueError(f"arguments 'mu' and 'logvar': expected the same shape (B, d), "
                         f"received {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return _kl(mu, logvar)


def _kl(mu: Tensor, logvar: Tensor) -> Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def reparameterize(mu: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """A code drawn from each fuzzy ball, z = μ + σ ⊙ ε with ε ~ N(0, I): (B, d).

    The noise ε carries no parameter, so gradients flow to μ and log σ².
    ``generator`` (on the device of ``mu``) makes the draw reproducible.
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class VAELoss(NamedTuple):
    """The loss C + βR and its two terms, each reduced over the batch as asked."""

    loss: Tensor
    reconstruction: Tensor  # C: −log p(y | z), summed over the n pixels
    kl: Tensor  # R: KL(q(z | y) ‖ N(0, I)), summed over the d code dimensions


def vae_loss(y: Tensor, decoded: Tensor, mu: Tensor, logvar: Tensor, *, beta: float = 1.0,
             likelihood: str = "bernoulli", sigma: float = 1.0, reduction: str = "sum") -> VAELoss:
    r"""C(y, Dec(z)) + β KL(q(z | y) ‖ N(0, I)), summed over pixels and code dimensions.

    Args:
        y: observations (B, n); in [0, 1] for the Bernoulli likelihood.
        decoded: the decoder's raw output (B, n): *logits* for ``"bernoulli"`` (the binary
            cross-entropy is computed from logits, which is stable), the mean ȳ for
            ``"gaussian"``.
        mu, logvar: the encoder's μ and log σ², (B, d).
        beta: β >= 0, the weight of the KL term (β = 1: the negative ELBO).
        likelihood: ``"bernoulli"`` (C = binary cross-entropy) or ``"gaussian"``
            (C = ‖y − ȳ‖² / (2σ²), the negative log-likelihood of N(ȳ, σ²I) without its
            constant).
        sigma: σ > 0 of the Gaussian likelihood.
        reduction: over the batch only: ``"sum"``, ``"batchmean"`` (per sample) or ``"none"``
            ((B,)); ``"mean"`` is refused (see the module's docstring).

    Returns:
        :class:`VAELoss` (loss, reconstruction, kl), scalars or (B,) for ``"none"``.
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("decoded", decoded, ndim=2, shape_doc=f"({y.shape[0]}, {y.shape[1]})")
    if decoded.shape != y.shape:
        raise ValueError(f"argument 'decoded': expected the shape of y, {tuple(y.shape)}, "
                         f"received {tuple(decoded.shape)}")
    check.tensor("mu", mu, ndim=2, shape_doc="(B, d)")
    check.tensor("logvar", logvar, ndim=2, shape_doc="(B, d)")
    if mu.shape != logvar.shape:
        raise ValueError(f"arguments 'mu' and 'logvar': expected the same shape (B, d), "
                         f"received {tuple(mu.shape)} and {tuple(logvar.shape)}")
    check.same_rows("y", y, "mu", mu)
    beta = check.nonnegative("beta", beta)
    likelihood = _check_choice("likelihood", likelihood, LIKELIHOODS)
    reduction = _check_reduction(reduction)
    if likelihood == "bernoulli":
        _check_unit_interval("y", y)
    if check.nonnegative("sigma", sigma) == 0:
        raise ValueError("argument 'sigma': expected a number > 0, received 0")
    return _loss(y, decoded, mu, logvar, beta, likelihood, sigma, reduction)


def _check_unit_interval(name: str, y: Tensor) -> None:
    lo, hi = float(y.min()), float(y.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"argument '{name}': expected values in [0, 1] for the Bernoulli likelihood "
                         f"(pixel intensities), received values in [{lo:.4g}, {hi:.4g}]; "
                         f"rescale the data or use likelihood='gaussian'")


def _loss(y: Tensor, decoded: Tensor, mu: Tensor, logvar: Tensor, beta: float, likelihood: str,
          sigma: float, reduction: str) -> VAELoss:
    """vae_loss without the checks (the training loop calls it once per minibatch)."""
    if reduction == "sum":  # one fused reduction per term: the fast path of the training loop
        if likelihood == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(decoded, y, reduction="sum")
        else:
            rec = F.mse_loss(decoded, y, reduction="sum") / (2 * sigma**2)
        kl = _kl(mu, logvar).sum()
        return VAELoss(rec + beta * kl, rec, kl)
    if likelihood == "bernoulli":
        rec = F.binary_cross_entropy_with_logits(decoded, y, reduction="none").sum(1)
    else:
        rec = (decoded - y).pow(2).sum(1) / (2 * sigma**2)
    kl = _kl(mu, logvar).sum(1)
    if reduction == "batchmean":
        rec, kl = rec.mean(), kl.mean()
    return VAELoss(rec + beta * kl, rec, kl)


def _hidden_sizes(hidden: int | Sequence[int]) -> tuple[int, ...]:
    sizes = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    for i, h in enumerate(sizes):
        check.positive_int(f"hidden[{i}]", h)
    return sizes


class VAE(nn.Module):
    r"""A multilayer-perceptron VAE: y (B, n) → μ, log σ² (B, d) → z → Dec(z) (B, n).

    Encoder: n → hidden… (ReLU) → two heads, μ and log σ² (d each). Decoder: d →
    reversed hidden… (ReLU) → n, whose output is logits (Bernoulli) or the mean (Gaussian).
    With ``hidden=400, latent_dim=20`` the layers are those of pytorch/examples' VAE
    (fc1, fc21, fc22, fc3, fc4), created in the same order, so the same seed gives the
    same initial weights. Weights use PyTorch's default initialisation (the global RNG:
    seed it with ``torch.manual_seed`` for a reproducible model).

    Args:
        n: size of an observation (784 for MNIST).
        hidden: width of the hidden layer(s), an int or a sequence.
        latent_dim: d, the size of the code.
        likelihood: ``"bernoulli"`` (pixels in [0, 1]) or ``"gaussian"``.
    """

    def __init__(self, n: int = 784, hidden: int | Sequence[int] = 400, latent_dim: int = 20,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        check.positive_int("n", n)
        check.positive_int("latent_dim", latent_dim)
        sizes = _hidden_sizes(hidden)
        self.config = {"n": n, "hidden": list(sizes), "latent_dim": latent_dim,
                       "likelihood": _check_choice("likelihood", likelihood, LIKELIHOODS)}
        layers: list[nn.Module] = []
        for a, b in zip((n, *sizes[:-1]), sizes, strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.mu = nn.Linear(sizes[-1], latent_dim)
        self.logvar = nn.Linear(sizes[-1], latent_dim)
        back = sizes[::-1]
        layers = []
        for a, b in zip((latent_dim, *back[:-1]), back, strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*layers, nn.Linear(back[-1], n))

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    @property
    def likelihood(self) -> str:
        return self.config["likelihood"]

    def _check_y(self, y: Tensor) -> None:
        n = self.config["n"]
        check.tensor("y", y, ndim=2, shape_doc=f"(B, {n})")
        if y.shape[1] != n:
            raise ValueError(f"argument 'y': expected shape (B, {n}), received {tuple(y.shape)}")

    def encode(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """The fuzzy ball of each observation: μ and log σ², each (B, d)."""
        h = self.encoder(y)
        return self.mu(h), self.logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """The decoded mean ȳ (B, n): in [0, 1] (sigmoid of the logits) for Bernoulli."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def forward(self, y: Tensor, *, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """(decoded, μ, log σ²): the decoder's raw output (logits for Bernoulli) at a code drawn
        from each fuzzy ball, and the ball itself. Feed them to :func:`vae_loss`."""
        mu, logvar = self.encode(y)
        return self.decoder(reparameterize(mu, logvar, generator=generator)), mu, logvar

    @torch.no_grad()
    def sample(self, num: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``num`` new observations (num, n): codes drawn from the prior N(0, I), decoded."""
        check.positive_int("num", num)
        p = next(self.parameters())
        z = torch.randn(num, self.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        return self.decode(z)

    @torch.no_grad()
    def interpolate(self, y_a: Tensor, y_b: Tensor, steps: int = 8) -> Tensor:
        """Decoded means along the straight line between the codes μ(y_a) and μ(y_b).

        y_a, y_b: two observations (n,); returns (steps, n), from y_a's code to y_b's.
        """
        n = self.config["n"]
        for name, y in (("y_a", y_a), ("y_b", y_b)):
            check.tensor(name, y, ndim=1, shape_doc=f"({n},)")
            if y.shape[0] != n:
                raise ValueError(f"argument '{name}': expected shape ({n},), received {tuple(y.shape)}")
        if check.positive_int("steps", steps) < 2:
            raise ValueError(f"argument 'steps': expected an integer >= 2, received {steps}")
        mu, _ = self.encode(torch.stack([y_a, y_b]))
        t = torch.linspace(0, 1, steps, device=mu.device, dtype=mu.dtype)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the configuration and the weights to ``path`` (a ``torch.save`` file)."""
        torch.save({"config": self.config, "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], map_location: str | torch.device | None = None) -> VAE:
        """A model saved by :meth:`save` (``map_location`` as in ``torch.load``)."""
        state = torch.load(path, map_location=map_location, weights_only=True)
        model = cls(**state["config"])
        model.load_state_dict(state["state_dict"])
        return model.to(next(iter(state["state_dict"].values())).device)


class VAEHistory(NamedTuple):
    """One entry per epoch; losses are per sample (summed over pixels and code dims)."""

    epoch: list[int]
    seconds: list[float]  # training time of each epoch (the held-out evaluation not counted)
    train_loss: list[float]  # mean of C + βR over the epoch's minibatches
    val_loss: list[float]  # held-out C + βR (NaN without Y_val)
    val_reconstruction: list[float]  # held-out C
    val_kl: list[float]  # held-out R = KL summed over the d dimensions (kl_per_dimension splits it)
    val_mu_norm: list[float]  # held-out mean ‖μ‖: how far the balls are from the origin
    val_sigma: list[float]  # held-out mean σ: the size of the balls


class HeldOut(NamedTuple):
    """Per-sample means over a held-out set."""

    loss: float
    reconstruction: float
    kl: float
    mu_norm: float
    sigma: float


@torch.no_grad()
def evaluate(model: VAE, Y: Tensor, *, beta: float = 1.0, batch_size: int = 1024, seed: int = 0,
             sigma: float = 1.0) -> HeldOut:
    """Held-out C + βR per sample (β = 1: the negative ELBO), with a code drawn from each
    ball by a generator seeded with ``seed`` (the same noise at every call), and the mean
    ‖μ‖ and σ of the balls."""
    model._check_y(Y)
    beta = check.nonnegative("beta", beta)
    check.positive_int("batch_size", batch_size)
    return _evaluate(model, Y, beta, batch_size, seed, sigma)


@torch.no_grad()
def _evaluate(model: VAE, Y: Tensor, beta: float, batch_size: int, seed: int, sigma: float) -> HeldOut:
    was_training = model.training
    model.eval()
    g = torch.Generator(Y.device).manual_seed(seed)
    sums = torch.zeros(4, device=Y.device, dtype=torch.float64)
    for start in range(0, Y.shape[0], batch_size):
        y = Y[start:start + batch_size]
        decoded, mu, logvar = model(y, generator=g)
        out = _loss(y, decoded, mu, logvar, beta, model.likelihood, sigma, "sum")
        sums += torch.stack([out.reconstruction, out.kl, mu.norm(dim=1).sum(),
                             torch.exp(0.5 * logvar).mean(1).sum()]).double()
    model.train(was_training)
    rec, kl, mu_norm, sig = (sums / Y.shape[0]).tolist()
    return HeldOut(rec + beta * kl, rec, kl, mu_norm, sig)


def train_vae(model: VAE, Y: Tensor, *, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
              beta: float = 1.0, sigma: float = 1.0, Y_val: Tensor | None = None, seed: int = 0,
              optimizer: torch.optim.Optimizer | None = None, progress: bool = True) -> VAEHistory:
    r"""Train ``model`` on Y (N, n) by minimising the summed C + βR with Adam.

    Each epoch visits the rows of Y in a random order (``torch.randperm`` with a CPU
    generator seeded with ``seed``, one permutation per epoch) in minibatches of
    ``batch_size``; the reparameterisation noise comes from a generator on Y's device
    seeded with ``seed + 1``; the held-out evaluation uses its own generator
    (``seed + 2``), so it does not change the training. The loop syncs with the device
    once per epoch only. The model must already be on Y's device and dtype.

    Args:
        model: a :class:`VAE`.
        Y: training observations (N, n), in [0, 1] for the Bernoulli likelihood.
        epochs, batch_size, lr: as in pytorch/examples' VAE (10, 128, Adam 1e-3).
        beta: β >= 0, the weight of the KL term (0: a plain noisy auto-encoder).
        sigma: σ of the Gaussian likelihood (ignored for Bernoulli).
        Y_val: held-out observations (N_val, n) evaluated after each epoch.
        seed: seed of the data order and of the noise.
        optimizer: default ``torch.optim.Adam(model.parameters(), lr)``.
        progress: show a tqdm progress bar over the epochs.

    Returns:
        :class:`VAEHistory`, losses per sample.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"argument 'model': expected an ebmlib.vae.VAE, received {type(model).__name__}")
    model._check_y(Y)
    check.positive_int("epochs", epochs)
    check.positive_int("batch_size", batch_size)
    if check.nonnegative("lr", lr) == 0:
        raise ValueError("argument 'lr': expected a number > 0, received 0")
    beta = check.nonnegative("beta", beta)
    if check.nonnegative("sigma", sigma) == 0:
        raise ValueError("argument 'sigma': expected a number > 0, received 0")
    if model.likelihood == "bernoulli":
        _check_unit_interval("Y", Y)
    if Y_val is not None:
        model._check_y(Y_val)
        if model.likelihood == "bernoulli":
            _check_unit_interval("Y_val", Y_val)
    p = next(model.parameters())
    if p.device != Y.device or p.dtype != Y.dtype:
        raise ValueError(f"argument 'model': expected its weights on Y's device and dtype "
                         f"({Y.device}, {Y.dtype}), received ({p.device}, {p.dtype}); "
                         f"call model.to(Y.device, Y.dtype)")
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    noise = torch.Generator(Y.device).manual_seed(seed + 1)
    N = Y.shape[0]
    likelihood = model.likelihood
    nan = float("nan")
    history = VAEHistory([], [], [], [], [], [], [], [])
    bar = tqdm(range(1, epochs + 1), disable=not progress, desc="VAE", unit="epoch")
    for epoch in bar:
        model.train()
        start = time.perf_counter()
        total = torch.zeros((), device=Y.device, dtype=Y.dtype)
        perm = torch.randperm(N, generator=order).to(Y.device)
        for i in range(0, N, batch_size):
            y = Y[perm[i:i + batch_size]]
            decoded, mu, logvar = model(y, generator=noise)
            loss = _loss(y, decoded, mu, logvar, beta, likelihood, sigma, "sum").loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        train_loss = float(total) / N  # the one sync of the epoch
        history.epoch.append(epoch)
        history.seconds.append(time.perf_counter() - start)
        history.train_loss.append(train_loss)
        held = (_evaluate(model, Y_val, beta, 1024, seed + 2, sigma) if Y_val is not None
                else HeldOut(nan, nan, nan, nan, nan))
        history.val_loss.append(held.loss)
        history.val_reconstruction.append(held.reconstruction)
        history.val_kl.append(held.kl)
        history.val_mu_norm.append(held.mu_norm)
        history.val_sigma.append(held.sigma)
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{held.loss:.4g}")
    model.eval()
    return history


def kl_per_dimension(model: VAE, Y: Tensor, *, batch_size: int = 1024) -> Tensor:
    r"""R̄_j, the mean over the rows of Y (N, n) of the KL of code dimension j: (d,), in nats.

    R̄_j = E_y KL(q(z_j | y) ‖ N(0, 1)) = I(y; z_j) + KL(q(z_j) ‖ N(0, 1)), where q(z_j) is
    the aggregate posterior (the mixture of the balls over y): R̄_j is an *upper bound* on
    the information z_j carries about y, not that information itself. A dimension whose
    R̄_j is ≈ 0 carries none: its ball is the prior N(0, 1) for every y (posterior
    collapse). The sum over j is the mean R of :func:`evaluate`: R depends only on μ and σ,
    not on the code drawn from the ball, so the two agree whatever the seed.
    """
    model._check_y(Y)
    check.positive_int("batch_size", batch_size)
    total = torch.zeros(model.latent_dim, device=Y.device, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, Y.shape[0], batch_size):
            mu, logvar = model.encode(Y[start:start + batch_size])
            total += _kl(mu, logvar).sum(0).double()
    return total / Y.shape[0]


@torch.no_grad()
def prior_coverage(mu: Tensor, logvar: Tensor, *, num: int = 4000, radius: float = 2.0,
                   generator: torch.Generator | None = None) -> float:
    r"""The fraction of codes drawn from the prior N(0, I) that lie inside at least one ball.

    ``num`` codes z (num, d) are drawn from N(0, I) (with ``generator``, on the device of
    ``mu``); z is inside the ball N(μ_i, diag σ_i²) of sample i when its distance to the
    centre in units of the ball's own radii, ‖(z − μ_i) / σ_i‖, is at most ``radius``. A
    value near 1 says that the balls (μ, log σ² of shape (B, d)) cover the region where the
    prior puts its codes; a low value says that many prior codes fall in gaps between them.
    Depends on B: more balls cover more.
    """
    check.tensor("mu", mu, ndim=2, shape_doc="(B, d)")
    check.tensor("logvar", logvar, ndim=2, shape_doc="(B, d)")
    if mu.shape != logvar.shape:
        raise ValueError(f"arguments 'mu' and 'logvar': expected the same shape (B, d), "
                         f"received {tuple(mu.shape)} and {tuple(logvar.shape)}")
    check.positive_int("num", num)
    if check.nonnegative("radius", radius) == 0:
        raise ValueError("argument 'radius': expected a number > 0, received 0")
    z = torch.randn(num, mu.shape[1], generator=generator, device=mu.device, dtype=mu.dtype)
    inv_sigma = torch.exp(-0.5 * logvar)
    inside = 0
    for start in range(0, num, 256):  # (256, B, d) at a time
        scaled = (z[start:start + 256, None, :] - mu) * inv_sigma
        inside += int((scaled.pow(2).sum(-1).min(1).values <= radius**2).sum())
    return inside / num


__all__ = ["VAE", "HeldOut", "VAEHistory", "VAELoss", "evaluate", "gaussian_kl",
           "kl_per_dimension", "prior_coverage", "reparameterize", "train_vae", "vae_loss"]

