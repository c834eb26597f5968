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

Shapes: a batch of observations y (B, n), the data matrix Y (N, n) (held-out data
Y_val), codes μ, log σ², z (B, d).

Randomness: the initialisation (``VAE(seed=0)``), the training (``train_vae(seed=0)``) and
the held-out evaluation are seeded, so the same call gives the same numbers. The sampling
functions used inside training (:func:`reparameterize`, :meth:`VAE.forward`,
:meth:`VAE.sample`) take ``seed=None`` (torch's global generator), an integer (a new
generator on the device of the draw, seeded with it) or a ``torch.Generator`` on that
device (to continue its stream).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _validate as check
from ._saving import Saveable
from ._training import History, Run

LIKELIHOODS = ("bernoulli", "gaussian")
REDUCTIONS = ("sum", "batchmean", "none")
_EVAL_BATCH = 1024  # rows of held-out data per evaluation batch inside train_vae

_Seed = int | torch.Generator | None


def _generator(seed: object, device: torch.device, *, allow_none: bool = True) -> torch.Generator | None:
    """The generator of a draw on ``device``: None (torch's global generator), the caller's
    ``torch.Generator`` (it must live on that device), or a new one seeded with an integer."""
    if seed is None and allow_none:
        return None
    if isinstance(seed, torch.Generator):
        check.require(seed.device.type == device.type, "seed", f"a torch.Generator on {device.type}, "
                      "where the draw happens", f"one on {seed.device.type}")
        return seed
    return torch.Generator(device).manual_seed(check.integer("seed", seed, low=0))


def _check_ball(mu: Tensor, logvar: Tensor) -> None:
    """μ and log σ² of a batch of fuzzy balls: two finite (B, d) tensors of the same shape."""
    check.tensor("mu", mu, ndim=2, shape_doc="(B, d)")
    check.tensor("logvar", logvar, ndim=2, shape_doc="(B, d)")
    check.require(mu.shape == logvar.shape, "mu' and 'logvar", "the same shape (B, d)",
                  f"{tuple(mu.shape)} and {tuple(logvar.shape)}")


def _check_unit_interval(name: str, y: Tensor) -> None:
    lo, hi = float(y.min()), float(y.max())
    check.require(lo >= 0 and hi <= 1, name, "values in [0, 1] (pixel intensities) for the Bernoulli "
                  "likelihood; rescale the data or use likelihood='gaussian'",
                  f"values in [{lo:.4g}, {hi:.4g}]")


_MEAN_WHY = ("'mean' would average C over the n pixels but R over the d code dimensions, which "
             "multiplies β by n/d; use 'batchmean' for the per-sample loss")


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""KL(N(μ, diag σ²) ‖ N(0, I)) for every code dimension, in closed form: (B, d).

    ½ (μ² + σ² − log σ² − 1) with σ² = exp(logvar). Sum over dim 1 for the KL of each
    sample; average over the batch for the KL per dimension (≈ 0 when the posterior
    collapses onto the prior).

    Args:
        mu: the centres μ of the balls, (B, d).
        logvar: their log-variances log σ², (B, d).

    Returns:
        The KL of each sample and dimension, (B, d), in nats.
    """
    _check_ball(mu, logvar)
    return _kl(mu, logvar)


def _kl(mu: Tensor, logvar: Tensor) -> Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def reparameterize(mu: Tensor, logvar: Tensor, *, seed: _Seed = None) -> Tensor:
    """A code drawn from each fuzzy ball, z = μ + σ ⊙ ε with ε ~ N(0, I): (B, d).

    The noise ε carries no parameter, so gradients flow to μ and log σ².

    Args:
        mu: the centres μ, (B, d).
        logvar: the log-variances log σ², (B, d).
        seed: the noise's generator: None (torch's global one), an integer (a new generator
            on the device of ``mu``, seeded with it: the same call draws the same codes) or a
            ``torch.Generator`` on that device (its stream continues).

    Returns:
        z, (B, d).
    """
    _check_ball(mu, logvar)
    return _reparameterize(mu, logvar, _generator(seed, mu.device))


def _reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class VAELoss(NamedTuple):
    """The loss C + βR and its two terms, each reduced over the batch as asked (tensors), or, in
    a :class:`~ebmlib.History` of :func:`train_vae`, an epoch's means per sample (floats)."""

    loss: Any
    reconstruction: Any  # C: −log p(y | z), summed over the n pixels
    kl: Any  # R: KL(q(z | y) ‖ N(0, I)), summed over the d code dimensions


def vae_loss(y: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor, *, beta: float = 1.0,
             likelihood: str = "bernoulli", sigma: float = 1.0, reduction: str = "sum") -> VAELoss:
    r"""C(y, Dec(z)) + β KL(q(z | y) ‖ N(0, I)), summed over pixels and code dimensions.

    Args:
        y: observations (B, n); in [0, 1] for the Bernoulli likelihood.
        logits: the decoder's raw output (B, n), as :meth:`VAE.forward` returns it: *logits*
            for ``"bernoulli"`` (the binary cross-entropy is computed from logits, which is
            stable; :meth:`VAE.decode` returns their sigmoid), the mean ȳ for ``"gaussian"``.
        mu: the encoder's centres μ, (B, d).
        logvar: the encoder's log-variances log σ², (B, d).
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
    check.tensor("logits", logits, ndim=2, shape_doc=f"({y.shape[0]}, {y.shape[1]})")
    check.shape("logits", logits, tuple(y.shape), f"{tuple(y.shape)}, that of y")
    _check_ball(mu, logvar)
    check.same_rows("y", y, "mu", mu)
    beta = check.nonnegative("beta", beta)
    likelihood = check.choice("likelihood", likelihood, LIKELIHOODS)
    reduction = check.choice("reduction", reduction, REDUCTIONS, _MEAN_WHY if reduction == "mean" else "")
    if likelihood == "bernoulli":
        _check_unit_interval("y", y)
    sigma = check.positive("sigma", sigma)
    return _loss(y, logits, mu, logvar, beta, likelihood, sigma, reduction)


def _loss(y: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor, beta: float, likelihood: str,
          sigma: float, reduction: str) -> VAELoss:
    """vae_loss without the checks (the training loop calls it once per minibatch)."""
    if reduction == "sum":  # one fused reduction per term: the fast path of the training loop
        if likelihood == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        else:
            rec = F.mse_loss(logits, y, reduction="sum") / (2 * sigma**2)
        kl = _kl(mu, logvar).sum()
        return VAELoss(rec + beta * kl, rec, kl)
    if likelihood == "bernoulli":
        rec = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
    else:
        rec = (logits - y).pow(2).sum(1) / (2 * sigma**2)
    kl = _kl(mu, logvar).sum(1)
    if reduction == "batchmean":
        rec, kl = rec.mean(), kl.mean()
    return VAELoss(rec + beta * kl, rec, kl)


def _hidden_sizes(hidden: object) -> tuple[int, ...]:
    sizes = (hidden,) if isinstance(hidden, numbers.Integral) else hidden
    check.require(isinstance(sizes, Sequence), "hidden", "an integer or a sequence of integers",
                  type(hidden).__name__)
    check.require(len(sizes) > 0, "hidden", "at least one hidden layer", "an empty sequence")
    return tuple(check.positive_int(f"hidden[{i}]", h) for i, h in enumerate(sizes))


class VAE(Saveable, nn.Module):
    r"""A multilayer-perceptron VAE: y (B, n) → μ, log σ² (B, d) → z → Dec(z) (B, n).

    Encoder: n → hidden… (ReLU) → two heads, μ and log σ² (d each). Decoder: d →
    reversed hidden… (ReLU) → n, whose output is logits (Bernoulli) or the mean (Gaussian).
    With ``hidden=400, latent_dim=20`` the layers are those of pytorch/examples' VAE
    (fc1, fc21, fc22, fc3, fc4), created in the same order with PyTorch's default
    initialisation. ``VAE(seed=s)`` has the weights that ``torch.manual_seed(s)`` followed by
    the creation of these layers gives (with the sizes above, pytorch/examples' weights), and
    it leaves torch's global generator as it was.
    The weights are on the CPU; move the model with ``.to(device)``. :meth:`save` and
    :meth:`load` come from :class:`ebmlib._saving.Saveable`.

    Args:
        n: size of an observation (784 for MNIST).
        hidden: width of the hidden layer(s), an int or a sequence of ints.
        latent_dim: d, the size of the code.
        likelihood: ``"bernoulli"`` (pixels in [0, 1]) or ``"gaussian"``.
        seed: seed of the initial weights, an integer >= 0 (the same seed gives the same
            weights) or a ``torch.Generator`` (a seed is drawn from it).
    """

    def __init__(self, n: int = 784, hidden: int | Sequence[int] = 400, latent_dim: int = 20, *,
                 likelihood: str = "bernoulli", seed: int | torch.Generator = 0) -> None:
        super().__init__()
        n = check.positive_int("n", n)
        latent_dim = check.positive_int("latent_dim", latent_dim)
        sizes = _hidden_sizes(hidden)
        likelihood = check.choice("likelihood", likelihood, LIKELIHOODS)
        if isinstance(seed, torch.Generator):
            seed = int(torch.randint(2**62, (1,), generator=seed, device=seed.device))
        seed = check.integer("seed", seed, low=0)
        self._config = {"n": n, "hidden": list(sizes), "latent_dim": latent_dim,
                        "likelihood": likelihood, "seed": seed}
        with torch.random.fork_rng(devices=[]):  # seed the initialisation, not the caller's stream
            torch.manual_seed(seed)
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
    def config(self) -> dict[str, Any]:
        """The constructor's arguments: n, hidden (a list), latent_dim, likelihood, seed."""
        return {**self._config, "hidden": list(self._config["hidden"])}

    @property
    def latent_dim(self) -> int:
        """d, the size of the code."""
        return self._config["latent_dim"]

    @property
    def likelihood(self) -> str:
        """``"bernoulli"`` or ``"gaussian"``."""
        return self._config["likelihood"]

    def _check_data(self, name: str, Y: object) -> Tensor:
        """Y, a finite (N, n) tensor; errors name the caller's argument ``name``."""
        n = self._config["n"]
        check.tensor(name, Y, ndim=2, shape_doc=f"(N, {n})")
        return check.shape(name, Y, (None, n), f"(N, {n})")

    def encode(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """The fuzzy ball of each observation y (B, n): μ and log σ², each (B, d)."""
        h = self.encoder(y)
        return self.mu(h), self.logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """The decoded mean ȳ (B, n) of codes z (B, d): in [0, 1] (the sigmoid of the
        logits) for Bernoulli."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def forward(self, y: Tensor, *, seed: _Seed = None) -> tuple[Tensor, Tensor, Tensor]:
        """(logits, μ, log σ²): the decoder's raw output (logits for Bernoulli, the mean for
        Gaussian) at a code drawn from each fuzzy ball, and the ball itself. Feed them to
        :func:`vae_loss`.

        Args:
            y: observations (B, n).
            seed: the noise's generator, as in :func:`reparameterize` (None: torch's global
                generator).
        """
        mu, logvar = self.encode(y)
        return self.decoder(_reparameterize(mu, logvar, _generator(seed, y.device))), mu, logvar

    @torch.no_grad()
    def sample(self, num: int, *, seed: _Seed = None) -> Tensor:
        """``num`` new observations (num, n): codes drawn from the prior N(0, I), decoded.

        Args:
            num: how many observations.
            seed: the codes' generator, as in :func:`reparameterize` (on the model's device).
        """
        num = check.positive_int("num", num)
        p = next(self.parameters())
        z = torch.randn(num, self.latent_dim, generator=_generator(seed, p.device), device=p.device,
                        dtype=p.dtype)
        return self.decode(z)

    @torch.no_grad()
    def interpolate(self, y_a: Tensor, y_b: Tensor, num: int = 8) -> Tensor:
        """Decoded means along the straight line between the codes μ(y_a) and μ(y_b).

        Args:
            y_a: the first observation, (n,).
            y_b: the last observation, (n,).
            num: the number of points, >= 2, both ends included.

        Returns:
            (num, n), from y_a's code to y_b's.
        """
        n = self._config["n"]
        for name, y in (("y_a", y_a), ("y_b", y_b)):
            check.tensor(name, y, ndim=1, shape_doc=f"({n},)")
            check.shape(name, y, (n,), f"({n},)")
        num = check.integer("num", num, low=2)
        mu, _ = self.encode(torch.stack([y_a, y_b]))
        t = torch.linspace(0, 1, num, device=mu.device, dtype=mu.dtype)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1])


class HeldOut(NamedTuple):
    """Per-sample means over a held-out set."""

    loss: float  # C + βR
    reconstruction: float  # C
    kl: float  # R, the KL summed over the d code dimensions (kl_per_dimension splits it)
    mu_norm: float  # mean ‖μ‖: how far the balls are from the origin
    sigma: float  # mean σ: the size of the balls


def _check_model(model: object) -> VAE:
    check.require(isinstance(model, VAE), "model", "an ebmlib.vae.VAE", type(model).__name__)
    return model  # type: ignore[return-value]


@torch.no_grad()
def evaluate(model: VAE, Y: Tensor, *, beta: float = 1.0, batch_size: int = 1024,
             seed: int | torch.Generator = 0, sigma: float = 1.0) -> HeldOut:
    """Held-out C + βR per sample (β = 1: the negative ELBO) and the mean ‖μ‖ and σ of the balls.

    Args:
        model: a :class:`VAE`, on Y's device.
        Y: held-out observations (N, n).
        beta: β >= 0, the weight of the KL term.
        batch_size: rows evaluated at a time (the result does not depend on it, up to rounding).
        seed: the generator of the code drawn from each ball: an integer (a new generator on
            Y's device: the same call draws the same noise) or a ``torch.Generator`` on
            Y's device.
        sigma: σ > 0 of the Gaussian likelihood (ignored for Bernoulli).

    Returns:
        :class:`HeldOut` (loss, reconstruction, kl, mu_norm, sigma), means per sample.
    """
    model = _check_model(model)
    model._check_data("Y", Y)
    beta = check.nonnegative("beta", beta)
    batch_size = check.positive_int("batch_size", batch_size)
    sigma = check.positive("sigma", sigma)
    return _evaluate(model, Y, beta, batch_size, _generator(seed, Y.device, allow_none=False), sigma)


@torch.no_grad()
def _evaluate(model: VAE, Y: Tensor, beta: float, batch_size: int, generator: torch.Generator | None,
              sigma: float) -> HeldOut:
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, device=Y.device, dtype=torch.float64)
    for start in range(0, Y.shape[0], batch_size):
        y = Y[start:start + batch_size]
        logits, mu, logvar = model(y, seed=generator)
        out = _loss(y, logits, mu, logvar, beta, model.likelihood, sigma, "sum")
        sums += torch.stack([out.reconstruction, out.kl, mu.norm(dim=1).sum(),
                             torch.exp(0.5 * logvar).mean(1).sum()]).double()
    model.train(was_training)
    rec, kl, mu_norm, sig = (sums / Y.shape[0]).tolist()
    return HeldOut(rec + beta * kl, rec, kl, mu_norm, sig)


def train_vae(model: VAE, Y: Tensor, *, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
              beta: float = 1.0, sigma: float = 1.0, Y_val: Tensor | None = None,
              optimizer: torch.optim.Optimizer | None = None, seed: int | torch.Generator = 0,
              progress: bool | None = None) -> History:
    r"""Train ``model`` in place on Y (N, n) by minimising the summed C + βR with Adam.

    Each epoch visits the rows of Y in a random order (``torch.randperm`` with the run's CPU
    generator, seeded with ``seed``, one permutation per epoch) in minibatches of
    ``batch_size``; the reparameterisation noise comes from a generator on Y's device
    seeded with ``seed + 1``; the held-out evaluation uses its own generator, seeded with
    ``seed + 2`` at every evaluation (the same noise each time), so it does not change the
    training. The loop syncs with the device once per epoch only. The model must already be
    on Y's device and dtype.

    Args:
        model: a :class:`VAE`.
        Y: training observations (N, n), in [0, 1] for the Bernoulli likelihood.
        epochs: passes over Y (pytorch/examples' VAE: 10).
        batch_size: rows per minibatch (pytorch/examples: 128).
        lr: the learning rate > 0 of the default Adam optimizer (pytorch/examples: 1e-3).
        beta: β >= 0, the weight of the KL term (0: a plain noisy auto-encoder).
        sigma: σ > 0 of the Gaussian likelihood (ignored for Bernoulli).
        Y_val: held-out observations (N_val, n), evaluated before training and after each epoch.
        optimizer: default ``torch.optim.Adam(model.parameters(), lr)``.
        seed: an integer >= 0 (the same call gives the same training) or a CPU
            ``torch.Generator`` (the order is drawn from it, and the seeds of the noise and
            of the evaluation).
        progress: show a progress bar over the epochs (None: :func:`ebmlib.set_progress`).

    Returns:
        A :class:`~ebmlib.History` with one record per epoch, epoch 0 being the untrained
        model: ``step`` the epoch, ``seconds`` the cumulative training time (evaluation
        excluded), ``loss`` the epoch's mean training loss per sample, a :class:`VAELoss` of
        floats (NaN at epoch 0), ``val`` a :class:`HeldOut` (None without ``Y_val``); e.g.
        ``history.values("kl")`` is the held-out KL at each epoch.
    """
    model = _check_model(model)
    model._check_data("Y", Y)
    epochs = check.positive_int("epochs", epochs)
    batch_size = check.positive_int("batch_size", batch_size)
    lr = check.positive("lr", lr)
    beta = check.nonnegative("beta", beta)
    sigma = check.positive("sigma", sigma)
    check.same_device_dtype("model", next(model.parameters()), "Y", Y)
    bernoulli = model.likelihood == "bernoulli"
    if bernoulli:
        _check_unit_interval("Y", Y)
    if Y_val is not None:
        model._check_data("Y_val", Y_val)
        check.same_device_dtype("Y", Y, "Y_val", Y_val)
        if bernoulli:
            _check_unit_interval("Y_val", Y_val)
    check.require(optimizer is None or isinstance(optimizer, torch.optim.Optimizer), "optimizer",
                  "a torch.optim.Optimizer or None", type(optimizer).__name__)
    order = check.generator("seed", seed)
    check.require(order.device.type == "cpu", "seed", "an integer or a CPU torch.Generator",
                  f"a torch.Generator on {order.device}")
    if isinstance(seed, torch.Generator):
        noise_seed, eval_seed = torch.randint(2**62, (2,), generator=order).tolist()
    else:
        noise_seed, eval_seed = int(seed) + 1, int(seed) + 2
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    held_out: Callable[[], HeldOut] | None = None
    if Y_val is not None:
        def held_out() -> HeldOut:
            g = torch.Generator(Y_val.device).manual_seed(eval_seed)
            return _evaluate(model, Y_val, beta, _EVAL_BATCH, g, sigma)

    run = Run(epochs, seed=order, progress=progress, desc="VAE", evaluate=held_out)
    noise = torch.Generator(Y.device).manual_seed(noise_seed)
    N, likelihood = Y.shape[0], model.likelihood
    for epoch in run:
        model.train()
        rec_sum = torch.zeros((), device=Y.device, dtype=Y.dtype)
        kl_sum = torch.zeros((), device=Y.device, dtype=Y.dtype)
        perm = torch.randperm(N, generator=run.generator).to(Y.device)
        for i in range(0, N, batch_size):
            y = Y[perm[i:i + batch_size]]
            logits, mu, logvar = model(y, seed=noise)
            out = _loss(y, logits, mu, logvar, beta, likelihood, sigma, "sum")
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            rec_sum += out.reconstruction.detach()
            kl_sum += out.kl.detach()
        rec, kl = (torch.stack([rec_sum, kl_sum]) / N).tolist()  # the one sync of the epoch
        run.log(epoch, VAELoss(rec + beta * kl, rec, kl))
    model.eval()
    return run.history


def kl_per_dimension(model: VAE, Y: Tensor, *, batch_size: int = 1024) -> Tensor:
    r"""R̄_j, the mean over the rows of Y (N, n) of the KL of code dimension j: (d,), in nats.

    R̄_j = E_y KL(q(z_j | y) ‖ N(0, 1)) = I(y; z_j) + KL(q(z_j) ‖ N(0, 1)), where q(z_j) is
    the aggregate posterior (the mixture of the balls over y): R̄_j is an *upper bound* on
    the information z_j carries about y, not that information itself. A dimension whose
    R̄_j is ≈ 0 carries none: its ball is the prior N(0, 1) for every y (posterior
    collapse). The sum over j is the mean R of :func:`evaluate`: R depends only on μ and σ,
    not on the code drawn from the ball, so the two agree whatever the seed.

    Args:
        model: a :class:`VAE`, on Y's device.
        Y: observations (N, n).
        batch_size: rows encoded at a time.

    Returns:
        R̄ (d,), float64.
    """
    model = _check_model(model)
    model._check_data("Y", Y)
    batch_size = check.positive_int("batch_size", batch_size)
    total = torch.zeros(model.latent_dim, device=Y.device, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, Y.shape[0], batch_size):
            mu, logvar = model.encode(Y[start:start + batch_size])
            total += _kl(mu, logvar).sum(0).double()
    return total / Y.shape[0]


@torch.no_grad()
def prior_coverage(mu: Tensor, logvar: Tensor, *, num: int = 4000, radius: float = 2.0,
                   seed: int | torch.Generator = 0) -> float:
    r"""The fraction of codes drawn from the prior N(0, I) that lie inside at least one ball.

    ``num`` codes z (num, d) are drawn from N(0, I); z is inside the ball N(μ_i, diag σ_i²) of
    sample i when its distance to the centre in units of the ball's own radii,
    ‖(z − μ_i) / σ_i‖, is at most ``radius``. A value near 1 says that the balls cover the
    region where the prior puts its codes; a low value says that many prior codes fall in
    gaps between them. Depends on B: more balls cover more.

    Args:
        mu: the centres μ of the balls, (B, d).
        logvar: their log-variances log σ², (B, d).
        num: the number of prior codes drawn.
        radius: > 0, in units of each ball's radii.
        seed: the codes' generator: an integer (a new generator on the device of ``mu``: the
            same call draws the same codes) or a ``torch.Generator`` on that device.

    Returns:
        The fraction in [0, 1].
    """
    _check_ball(mu, logvar)
    num = check.positive_int("num", num)
    radius = check.positive("radius", radius)
    generator = _generator(seed, mu.device, allow_none=False)
    z = torch.randn(num, mu.shape[1], generator=generator, device=mu.device, dtype=mu.dtype)
    inv_sigma = torch.exp(-0.5 * logvar)
    inside = 0
    for start in range(0, num, 256):  # (256, B, d) at a time
        scaled = (z[start:start + 256, None, :] - mu) * inv_sigma
        inside += int((scaled.pow(2).sum(-1).min(1).values <= radius**2).sum())
    return inside / num


__all__ = ["VAE", "HeldOut", "VAELoss", "evaluate", "gaussian_kl", "kl_per_dimension", "prior_coverage",
           "reparameterize", "train_vae", "vae_loss"]
