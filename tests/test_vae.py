"""ebmlib.vae: the closed-form KL, the reparameterisation, the loss reductions, training."""

import math

import pytest
import torch
import torch.nn.functional as F

from ebmlib import History, InvalidArgumentError
from ebmlib.vae import (
    VAE,
    HeldOut,
    VAELoss,
    evaluate,
    gaussian_kl,
    kl_per_dimension,
    prior_coverage,
    reparameterize,
    train_vae,
    vae_loss,
)


def codes(B=6, d=3, *, seed=0, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(B, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(B, d, generator=g, dtype=torch.float64)
    return mu.to(device, dtype), logvar.to(device, dtype)


def toy_data(N=600, n=20, *, seed=0):
    """Noisy binary patterns from three prototypes: data a 2-D code can explain."""
    g = torch.Generator().manual_seed(seed)
    protos = (torch.rand(3, n, generator=g) > 0.5).float()
    pick = torch.randint(3, (N,), generator=g)
    flips = (torch.rand(N, n, generator=g) < 0.05).float()
    return (protos[pick] - flips).abs()


# -- the KL ----------------------------------------------------------------------------

def test_closed_form_kl_agrees_with_monte_carlo(device):
    dtype = torch.float32 if device.type == "mps" else torch.float64
    mu, logvar = codes(device=device, dtype=dtype)
    kl = gaussian_kl(mu, logvar)
    assert kl.shape == (6, 3) and kl.device.type == device.type and kl.dtype == dtype
    g = torch.Generator(device).manual_seed(1)
    S = 200_000
    eps = torch.randn(S, *mu.shape, generator=g, device=device, dtype=dtype)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * eps
    log_q = -0.5 * eps.pow(2) - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    log_p = -0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)
    mc = (log_q - log_p).mean(0)
    stderr = (log_q - log_p).std(0) / math.sqrt(S)
    assert bool(((mc - kl).abs() < 5 * stderr + 1e-6).all()), (mc - kl) / stderr


def test_kl_is_zero_only_at_the_prior():
    zero = gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4))
    assert zero.abs().max() == 0
    mu, logvar = codes()
    assert bool((gaussian_kl(mu, logvar) > 0).all())


# -- the reparameterisation --------------------------------------------------------------

def test_gradients_pass_through_the_reparameterisation(device):
    mu, logvar = codes(device=device, dtype=torch.float32)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    g = torch.Generator(device).manual_seed(0)
    z = reparameterize(mu, logvar, seed=g)
    (z * torch.arange(1.0, 4.0, device=device)).sum().backward()
    weights = torch.arange(1.0, 4.0, device=device).expand_as(mu)
    torch.testing.assert_close(mu.grad, weights)  # ∂z/∂μ = 1
    sigma = torch.exp(0.5 * logvar.detach())
    eps = (z.detach() - mu.detach()) / sigma
    torch.testing.assert_close(logvar.grad, weights * 0.5 * sigma * eps)  # ∂z/∂logσ² = σε/2


def test_reparameterisation_draws_from_the_ball():
    mu = torch.tensor([[2.0, -1.0]]).expand(100_000, 2)
    logvar = torch.log(torch.tensor([[0.25, 4.0]])).expand(100_000, 2)
    z = reparameterize(mu, logvar, seed=0)
    torch.testing.assert_close(z.mean(0), torch.tensor([2.0, -1.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([0.5, 2.0]), atol=0.02, rtol=0)


def test_an_integer_seed_is_a_new_generator_on_the_device_and_none_the_global_one(device):
    mu, logvar = codes(device=device, dtype=torch.float32)
    by_int = reparameterize(mu, logvar, seed=5)
    assert by_int.device.type == device.type
    same = reparameterize(mu, logvar, seed=torch.Generator(device).manual_seed(5))
    torch.testing.assert_close(by_int, same)
    torch.testing.assert_close(by_int, reparameterize(mu, logvar, seed=5))  # the same call, the same draw
    g = torch.Generator(device).manual_seed(5)
    first, second = reparameterize(mu, logvar, seed=g), reparameterize(mu, logvar, seed=g)
    assert not torch.equal(first, second)  # a generator's stream continues
    torch.manual_seed(3)
    a = reparameterize(mu, logvar)
    torch.manual_seed(3)
    torch.testing.assert_close(a, reparameterize(mu, logvar))  # None: torch's global generator
    with pytest.raises(InvalidArgumentError, match="argument 'seed': expected an integer >= 0"):
        reparameterize(mu, logvar, seed=-1)


def test_model_gradients_reach_the_encoder(device):
    model = VAE(20, 16, 2).to(device)
    y = toy_data(32).to(device)
    logits, mu, logvar = model(y, seed=0)
    vae_loss(y, logits, mu, logvar).loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


# -- the loss and its reductions ---------------------------------------------------------

def test_loss_reductions(device):
    g = torch.Generator().manual_seed(3)
    y = torch.rand(5, 12, generator=g).to(device)
    logits = torch.randn(5, 12, generator=g).to(device)
    mu, logvar = codes(5, 2, device=device, dtype=torch.float32)
    rec = F.binary_cross_entropy(torch.sigmoid(logits), y, reduction="none").sum(1)
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)
    none = vae_loss(y, logits, mu, logvar, beta=2.0, reduction="none")
    torch.testing.assert_close(none.reconstruction, rec, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(none.kl, kl)
    torch.testing.assert_close(none.loss, rec + 2.0 * kl, rtol=1e-5, atol=1e-5)
    total = vae_loss(y, logits, mu, logvar, beta=2.0, reduction="sum")
    per_sample = vae_loss(y, logits, mu, logvar, beta=2.0, reduction="batchmean")
    for field in ("loss", "reconstruction", "kl"):
        assert getattr(total, field).shape == ()
        torch.testing.assert_close(getattr(total, field), getattr(none, field).sum())
        torch.testing.assert_close(getattr(per_sample, field), getattr(none, field).mean())


def test_gaussian_likelihood_is_the_scaled_squared_error():
    g = torch.Generator().manual_seed(4)
    y, y_bar = torch.randn(4, 9, generator=g), torch.randn(4, 9, generator=g)
    mu, logvar = codes(4, 2, dtype=torch.float32)
    out = vae_loss(y, y_bar, mu, logvar, likelihood="gaussian", sigma=0.5, reduction="none")
    torch.testing.assert_close(out.reconstruction, (y - y_bar).pow(2).sum(1) / (2 * 0.25))
    out0 = vae_loss(y, y_bar, mu, logvar, beta=0.0, likelihood="gaussian", reduction="sum")
    torch.testing.assert_close(out0.loss, out0.reconstruction)


def test_mean_reduction_is_refused_with_the_reason():
    y = torch.rand(2, 4)
    mu, logvar = codes(2, 2, dtype=torch.float32)
    with pytest.raises(InvalidArgumentError, match="'reduction'.*'mean'.*n/d.*batchmean"):
        vae_loss(y, y, mu, logvar, reduction="mean")


def test_pytorch_mean_reduction_divides_c_by_n_and_r_by_d_so_beta_becomes_beta_n_over_d():
    g = torch.Generator().manual_seed(5)
    B, n, d, beta = 4, 12, 3, 0.7
    y, logits = torch.rand(B, n, generator=g), torch.randn(B, n, generator=g)
    mu, logvar = codes(B, d, dtype=torch.float32)
    mean_loss = F.binary_cross_entropy_with_logits(logits, y) + beta * gaussian_kl(mu, logvar).mean()
    implied = vae_loss(y, logits, mu, logvar, beta=beta * n / d, reduction="batchmean").loss
    torch.testing.assert_close(n * mean_loss, implied)
    asked = vae_loss(y, logits, mu, logvar, beta=beta, reduction="batchmean").loss
    assert not torch.allclose(n * mean_loss, asked)


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("change, match", [
    (dict(y=torch.full((3, 4), 2.0)), r"argument 'y': expected values in \[0, 1\].*received"),
    (dict(logits=torch.zeros(3, 5)), r"argument 'logits': expected shape \(3, 4\), that of y"),
    (dict(mu=torch.zeros(3, 3)), r"arguments 'mu' and 'logvar'.*\(3, 3\) and \(3, 2\)"),
    (dict(mu=torch.zeros(2, 2), logvar=torch.zeros(2, 2)), r"same batch size B.*3 and 2"),
    (dict(logvar=torch.full((3, 2), float("nan"))), r"argument 'logvar': expected finite.*NaN"),
    (dict(beta=-1.0), r"argument 'beta': expected a finite number >= 0, received -1"),
    (dict(likelihood="poisson"), r"argument 'likelihood': expected 'bernoulli' or 'gaussian', "
                                 r"received 'poisson'"),
    (dict(reduction="batch"), r"argument 'reduction': expected 'sum', 'batchmean' or 'none', "
                              r"received 'batch'"),
    (dict(likelihood="gaussian", sigma=0), r"argument 'sigma': expected a finite number > 0"),
    (dict(y=[[0.0]]), r"argument 'y': expected a torch.Tensor"),
])
def test_vae_loss_rejects_bad_input(change, match):
    args = dict(y=torch.rand(3, 4), logits=torch.zeros(3, 4), mu=torch.zeros(3, 2),
                logvar=torch.zeros(3, 2))
    args.update(change)
    options = {k: args.pop(k) for k in ("beta", "likelihood", "reduction", "sigma") if k in args}
    with pytest.raises(InvalidArgumentError, match=match):
        vae_loss(**args, **options)


@pytest.mark.parametrize("call, match", [
    (lambda m: VAE(784, 400, 0), "argument 'latent_dim'"),
    (lambda m: VAE(784, (400, -3), 2), r"argument 'hidden\[1\]'"),
    (lambda m: VAE(784, 400, 2, likelihood="poisson"), "argument 'likelihood'"),
    (lambda m: VAE(784, 400, 2, seed=-1), "argument 'seed'"),
    # errors name the argument the user passed: Y, not y
    (lambda m: train_vae(m, torch.rand(4, 19)),
     r"argument 'Y': expected shape \(N, 20\), received shape \(4, 19\)"),
    (lambda m: train_vae(m, torch.rand(4, 20), Y_val=torch.rand(3, 19)),
     r"argument 'Y_val': expected shape \(N, 20\)"),
    (lambda m: train_vae(m, torch.rand(4, 20) * 255), r"argument 'Y': expected values in \[0, 1\]"),
    (lambda m: train_vae(m, torch.rand(4, 20, dtype=torch.float64)),
     "arguments 'model' and 'Y': expected the same device and dtype"),
    (lambda m: train_vae(m, torch.rand(4, 20), lr=0), "argument 'lr': expected a finite number > 0"),
    (lambda m: train_vae(m, torch.rand(4, 20), epochs=0), "argument 'epochs'"),
    (lambda m: train_vae(m, torch.rand(4, 20), seed=-2), "argument 'seed'"),
    (lambda m: train_vae(torch.nn.Linear(20, 2), torch.rand(4, 20)),
     "argument 'model': expected an ebmlib.vae.VAE"),
    (lambda m: evaluate(m, torch.rand(4, 19)), r"argument 'Y': expected shape \(N, 20\)"),
    (lambda m: evaluate(m, [[0.5] * 20]), "argument 'Y': expected a torch.Tensor"),
    (lambda m: kl_per_dimension(m, torch.rand(19)),
     r"argument 'Y': expected a 2-D tensor of shape \(N, 20\)"),
    (lambda m: m.interpolate(torch.rand(20), torch.rand(20), num=1),
     "argument 'num': expected an integer >= 2"),
    (lambda m: m.interpolate(torch.rand(20), torch.rand(19)), r"argument 'y_b': expected shape \(20,\)"),
    (lambda m: m.sample(0), "argument 'num'"),
    (lambda m: m.sample(2, seed="a"), "argument 'seed'"),
])
def test_bad_input_names_the_argument(call, match):
    model = VAE(20, 8, 2)
    with pytest.raises(InvalidArgumentError, match=match):
        call(model)


# -- training, sampling, save/load -------------------------------------------------------

def test_training_lowers_the_held_out_loss_and_is_deterministic(device):
    Y = toy_data().to(device)
    histories, weights = [], []
    for _ in range(2):
        model = VAE(20, 32, 2, seed=0).to(device)
        h = train_vae(model, Y[100:], epochs=6, batch_size=32, lr=1e-2, Y_val=Y[:100])
        histories.append(h)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    h = histories[0]
    assert isinstance(h, History) and h.step == list(range(7)) and len(h) == 7
    assert all(isinstance(v, HeldOut) for v in h.val)
    assert h.val[-1].loss < 0.6 * h.val[0].loss, h.values("loss")
    assert math.isclose(h.val[-1].loss, h.val[-1].reconstruction + h.val[-1].kl, rel_tol=1e-9)
    assert h.values("kl") == [v.kl for v in h.val]
    assert histories[0].val == histories[1].val and histories[0].loss[1:] == histories[1].loss[1:]
    assert torch.equal(weights[0], weights[1])


def test_history_records_epoch_0_the_mean_training_loss_and_cumulative_seconds():
    Y = toy_data(300)
    model = VAE(20, 16, 2, seed=1)
    untrained = evaluate(model, Y[:50], seed=2 + 2)  # the evaluation's noise: seed + 2
    h = train_vae(model, Y[50:], epochs=3, batch_size=64, lr=1e-2, Y_val=Y[:50], seed=2)
    assert h.step == [0, 1, 2, 3]
    assert h.val[0] == untrained  # epoch 0: the untrained model
    assert h.seconds[0] == 0 and all(a <= b for a, b in zip(h.seconds, h.seconds[1:], strict=False))
    assert math.isnan(h.loss[0])
    for loss in h.loss[1:]:
        assert isinstance(loss, VAELoss) and all(isinstance(x, float) for x in loss)
        assert math.isclose(loss.loss, loss.reconstruction + loss.kl, rel_tol=1e-9)
    assert h.values("reconstruction", of="loss")[1] > h.values("reconstruction", of="loss")[-1]
    # the training loss of the last epoch is the mean over its minibatches of the summed loss, per
    # sample: without held-out data the same run records the same training losses, and val is None
    again = train_vae(VAE(20, 16, 2, seed=1), Y[50:], epochs=3, batch_size=64, lr=1e-2, seed=2)
    assert again.val == [None] * 4 and again.loss[1:] == h.loss[1:]


def test_beta_weights_the_recorded_loss():
    Y = toy_data(200)
    h = train_vae(VAE(20, 16, 2), Y, epochs=2, batch_size=50, beta=0.5, Y_val=Y[:40])
    for v in (*h.loss[1:], *h.val):
        assert math.isclose(v.loss, v.reconstruction + 0.5 * v.kl, rel_tol=1e-6)


def test_a_generator_as_seed_continues_its_stream():
    Y = toy_data(200)
    g = torch.Generator().manual_seed(0)
    first = train_vae(VAE(20, 16, 2), Y, epochs=1, batch_size=50, seed=g)
    second = train_vae(VAE(20, 16, 2), Y, epochs=1, batch_size=50, seed=g)
    assert first.loss[1] != second.loss[1]
    again = train_vae(VAE(20, 16, 2), Y, epochs=1, batch_size=50, seed=torch.Generator().manual_seed(0))
    assert again.loss[1] == first.loss[1]


def test_a_strong_kl_collapses_the_posterior_and_none_lets_the_balls_fly():
    Y = toy_data()
    stats = {}
    for beta in (0.0, 30.0):
        model = VAE(20, 32, 2)
        h = train_vae(model, Y, epochs=15, batch_size=64, lr=3e-3, beta=beta, Y_val=Y[:200])
        stats[beta] = (h, kl_per_dimension(model, Y[:200]))
    h0, _ = stats[0.0]
    h30, kl30 = stats[30.0]
    assert bool((kl30 < 0.01).all()), kl30
    assert h0.val[-1].mu_norm > 3 * h30.val[-1].mu_norm
    sigma0 = h0.values("sigma")
    assert sigma0[-1] < 0.2 * sigma0[1], sigma0


def test_kl_per_dimension_sums_to_the_held_out_kl_whatever_the_draw():
    model = VAE(20, 16, 3).double()
    Y = toy_data(50).double()
    kl = kl_per_dimension(model, Y)
    assert kl.shape == (3,) and bool((kl >= 0).all())
    held = [evaluate(model, Y, seed=seed) for seed in (0, 1)]
    for h in held:
        assert math.isclose(h.kl, float(kl.sum()), rel_tol=1e-9)
    assert held[0].reconstruction != held[1].reconstruction  # C depends on the draw, R does not


def test_sample_interpolate_save_load(tmp_path, device):
    model = VAE(20, (16, 8), 3).to(device)
    samples = model.sample(5, seed=0)
    assert samples.shape == (5, 20) and bool(((samples >= 0) & (samples <= 1)).all())
    torch.testing.assert_close(model.sample(5, seed=torch.Generator(device).manual_seed(0)), samples)
    y = toy_data(2).to(device)
    path = model.interpolate(y[0], y[1], num=4)
    assert path.shape == (4, 20)
    mu, _ = model.encode(y)
    torch.testing.assert_close(path[[0, -1]], model.decode(mu).detach())
    model.save(tmp_path / "vae.pt")
    loaded = VAE.load(tmp_path / "vae.pt", map_location=device)
    assert loaded.config == model.config == {"n": 20, "hidden": [16, 8], "latent_dim": 3,
                                             "likelihood": "bernoulli", "seed": 0}
    torch.testing.assert_close(loaded.encode(y)[0], mu)
    torch.testing.assert_close(loaded.sample(5, seed=0), samples)


def test_load_refuses_a_file_that_is_not_a_saved_vae(tmp_path):
    torch.save({"config": {"n": 20}, "state_dict": {}}, tmp_path / "old.pt")  # the old format
    with pytest.raises(InvalidArgumentError, match="argument 'path': expected a model saved by VAE.save"):
        VAE.load(tmp_path / "old.pt")
    (tmp_path / "text.pt").write_text("not a model")
    with pytest.raises(InvalidArgumentError, match="argument 'path'"):
        VAE.load(tmp_path / "text.pt")


def test_gaussian_model_saves_and_loads_its_likelihood(tmp_path):
    model = VAE(6, 4, 2, likelihood="gaussian", seed=3)
    model.save(tmp_path / "g.pt")
    loaded = VAE.load(tmp_path / "g.pt")
    assert loaded.likelihood == "gaussian" and loaded.config["seed"] == 3
    y = torch.randn(3, 6)
    torch.testing.assert_close(loaded.decode(loaded.encode(y)[0]), model.decode(model.encode(y)[0]))
    model.double().save(tmp_path / "g64.pt")  # the saved dtype comes back (no dtype in the config)
    assert VAE.load(tmp_path / "g64.pt").mu.weight.dtype == torch.float64


def test_same_layers_and_initialisation_as_pytorch_examples():
    torch.manual_seed(0)
    fc1, fc21, fc22 = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
    fc3, fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)
    model = VAE(784, 400, 20, seed=0)  # what torch.manual_seed(0) then the constructor gave
    ours = [model.encoder[0], model.mu, model.logvar, model.decoder[0], model.decoder[2]]
    for ref, layer in zip((fc1, fc21, fc22, fc3, fc4), ours, strict=True):
        assert torch.equal(ref.weight, layer.weight) and torch.equal(ref.bias, layer.bias)


def test_the_seed_makes_the_weights_and_leaves_the_global_generator_alone():
    def weights(model):
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b, c = VAE(20, 8, 2, seed=4), VAE(20, 8, 2, seed=4), VAE(20, 8, 2, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(weights(a), weights(b)) and not torch.equal(weights(a), weights(c))
    g = torch.Generator().manual_seed(0)
    d, e = VAE(20, 8, 2, seed=g), VAE(20, 8, 2, seed=g)  # a generator: a seed drawn from its stream
    assert not torch.equal(weights(d), weights(e))
    assert torch.equal(weights(VAE(20, 8, 2, seed=d.config["seed"])), weights(d))


# -- coverage of the prior by the balls --------------------------------------------------

def test_prior_coverage_counts_prior_codes_inside_some_ball(device):
    g = torch.Generator(device).manual_seed(0)
    # One ball equal to the prior, radius 2 in d = 2: P(χ²₂ ≤ 4) = 1 − e⁻².
    prior = torch.zeros(1, 2, device=device)
    covered = prior_coverage(prior, prior, num=20_000, radius=2.0, seed=g)
    assert abs(covered - (1 - math.exp(-2))) < 0.01, covered
    # Tiny balls far from the origin cover nothing; a huge ball covers everything.
    far = torch.full((5, 2), 50.0, device=device)
    assert prior_coverage(far, torch.full_like(far, -10.0), seed=g) == 0
    assert prior_coverage(prior, torch.full_like(prior, 6.0), seed=g) == 1
    # More balls cover more, and the answer is deterministic given the seed (0 by default).
    mu = torch.randn(200, 2, generator=torch.Generator().manual_seed(1)).to(device)
    small = torch.full_like(mu, math.log(0.1**2))
    few = prior_coverage(mu[:20], small[:20])
    many = prior_coverage(mu, small)
    assert few < many < 1
    assert many == prior_coverage(mu, small, seed=0)
    assert many == prior_coverage(mu, small, seed=torch.Generator(device).manual_seed(0))
    with pytest.raises(InvalidArgumentError, match="argument 'radius': expected a finite number > 0"):
        prior_coverage(mu, small, radius=0)
    with pytest.raises(InvalidArgumentError, match="arguments 'mu' and 'logvar': expected the same shape"):
        prior_coverage(mu, small[:3])
    with pytest.raises(InvalidArgumentError, match="argument 'seed'"):
        prior_coverage(mu, small, seed=None)


def test_check_vae_loss_accepts_the_batchmean_loss_and_names_the_reduction_mistakes():
    from ebmlib.checks import check_vae_loss

    def right(y, logits, mu, logvar, beta):
        return vae_loss(y, logits, mu, logvar, beta=beta, reduction="batchmean").loss

    def pytorch_mean(y, logits, mu, logvar, beta):
        return F.binary_cross_entropy_with_logits(logits, y) + beta * gaussian_kl(mu, logvar).mean()

    def summed(y, logits, mu, logvar, beta):
        return vae_loss(y, logits, mu, logvar, beta=beta, reduction="sum").loss

    def no_beta(y, logits, mu, logvar, beta):
        return vae_loss(y, logits, mu, logvar, beta=1.0, reduction="batchmean").loss

    def todo(y, logits, mu, logvar, beta):
        raise NotImplementedError

    assert check_vae_loss(right)
    for fn, words in ((pytorch_mean, "n/d"), (summed, "summed over the batch"),
                      (no_beta, "forgot β"), (todo, "Not implemented")):
        feedback = check_vae_loss(fn)
        assert not feedback and words in feedback.text["en"], feedback.text
        assert feedback.text["fr"] and feedback.text["fr"] != feedback.text["en"]
    assert "received (3,)" in check_vae_loss(lambda *a: torch.zeros(3)).text["en"]
