"""ebmlib.lista: the unrolled network equals ISTA at initialisation and learns."""

import math

import numpy as np
import pytest
import torch

from ebmlib import History, InvalidArgumentError
from ebmlib.energy import sparse_coding_energy
from ebmlib.lista import LISTA, analytic_weight, relative_error, synthetic_problem, train_lista
from ebmlib.solvers import fista, ista, lipschitz, shrink


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("layers", [1, 3, 12])
def test_initialised_from_a_dictionary_it_computes_ista(device, sparse_problem, float64_or_skip,
                                                        tied, layers):
    y, W = sparse_problem(32, 20, 40, device=device, dtype=float64_or_skip(device))
    lam = 0.3
    model = LISTA.from_dictionary(W, lam, layers, tied=tied)
    z_ista = ista(y, W, lam, max_iter=layers, tol=0).z
    z = model(y)
    assert z.device.type == device.type and z.dtype == torch.float64
    assert torch.allclose(z, z_ista, atol=1e-6, rtol=0)
    assert int((z != 0).sum()) > 0  # not the trivial all-zero code
    every = model(y, all_layers=True)
    assert len(every) == layers and torch.allclose(every[-1], z)
    assert torch.allclose(model.encode(y, batch_size=5), z.detach(), atol=1e-12, rtol=0)


def test_float32_follows_the_dictionary(sparse_problem):
    y, W = sparse_problem(8, 10, 16, dtype=torch.float32)
    model = LISTA.from_dictionary(W, 0.2, 4)
    assert model.W_e.dtype == torch.float32
    assert model(y).dtype == torch.float32


@pytest.mark.parametrize("tied, shapes", [
    (True, {"W_e": (7, 11), "S": (11, 11), "theta": (11,)}),
    (False, {"W_e": (5, 7, 11), "S": (5, 11, 11), "theta": (5, 11)}),
])
def test_tied_and_untied_shapes(tied, shapes):
    model = LISTA(7, 11, 5, tied=tied)
    assert {name: tuple(p.shape) for name, p in model.named_parameters()} == shapes
    out = model(torch.randn(3, 7))
    assert out.shape == (3, 11)
    W = torch.randn(7, 11)
    assert {name: tuple(p.shape) for name, p in
            LISTA.from_dictionary(W, 0.1, 5, tied=tied).named_parameters()} == shapes


def test_untied_layers_can_differ_and_the_forward_uses_each(sparse_problem):
    y, W = sparse_problem(16, 10, 20)
    model = LISTA.from_dictionary(W, 0.1, 3, tied=False)
    before2, before = model(y, layers=2).clone(), model(y).clone()
    assert int((before != 0).sum()) > 0
    with torch.no_grad():
        model.theta[2].fill_(10.0)  # only the last layer: its output is now zero
    assert torch.equal(model(y, layers=2), before2)
    assert int((model(y) != 0).sum()) == 0


@pytest.mark.parametrize("tied", [True, False])
def test_gradients_reach_every_layer(sparse_problem, tied):
    y, W = sparse_problem(16, 10, 20)
    K = 4
    model = LISTA.from_dictionary(W, 0.1, K, tied=tied)
    # a target away from ISTA's output, so that the loss has a gradient
    target = torch.randn(16, 20, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    zs = model(y, all_layers=True)
    if tied:
        # the contribution of layer k: differentiate through z(k) alone
        for k in range(K - 1):
            g = torch.autograd.grad((zs[-1] - target).pow(2).sum(), zs[k], retain_graph=True)[0]
            assert float(g.abs().sum()) > 0, f"no gradient reaches layer {k + 1}"
        (zs[-1] - target).pow(2).sum().backward()
        for name, p in model.named_parameters():
            assert float(p.grad.abs().sum()) > 0, name
    else:
        (zs[-1] - target).pow(2).sum().backward()
        for k in range(K):
            assert float(model.W_e.grad[k].abs().sum()) > 0, f"W_e of layer {k + 1}"
            assert float(model.theta.grad[k].abs().sum()) > 0, f"θ of layer {k + 1}"
            if k > 0:  # the first layer multiplies S by z(0) = 0
                assert float(model.S.grad[k].abs().sum()) > 0, f"S of layer {k + 1}"


@pytest.mark.parametrize("tied", [True, False])
def test_training_on_fista_codes_lowers_the_held_out_error(device, sparse_problem, float64_or_skip,
                                                           tied):
    y, W = sparse_problem(600, 20, 40, device=device, dtype=float64_or_skip(device))
    lam = 0.3
    z_star = fista(y, W, lam, max_iter=500, tol=1e-8).z
    model = LISTA.from_dictionary(W, lam, 3, tied=tied)
    before = model.evaluate(y[500:], z_star[500:])
    history = train_lista(model, y[:500], z_star[:500], steps=120, batch_size=100, lr=3e-3,
                          Y_val=y[500:], Z_val=z_star[500:], every=30)
    after = model.evaluate(y[500:], z_star[500:])
    assert isinstance(history, History) and len(history) == 5
    assert history.step == [0, 30, 60, 90, 120]
    # step 0 is the network before training: no loss yet, its held-out error
    assert math.isnan(history.loss[0]) and history.val[0] == pytest.approx(before)
    assert history.seconds[0] == 0 and history.seconds == sorted(history.seconds)
    assert history.loss[-1] < history.loss[1]
    assert after < 0.7 * before, (before, after)
    assert history.val[-1] == pytest.approx(after)
    # ISTA with the same 3 steps is worse than the trained network
    assert after < relative_error(ista(y[500:], W, lam, max_iter=3, tol=0).z, z_star[500:])


def test_the_recorded_loss_is_the_mean_since_the_previous_record(sparse_problem):
    y, W = sparse_problem(200, 10, 20)
    z = fista(y, W, 0.1, max_iter=300).z
    histories = {}
    for every in (1, 3):
        model = LISTA.from_dictionary(W, 0.1, 2)
        histories[every] = train_lista(model, y, z, steps=7, batch_size=50, lr=1e-2, every=every)
    each, grouped = histories[1], histories[3]
    assert each.step == list(range(8)) and grouped.step == [0, 3, 6, 7]
    assert grouped.loss[1] == pytest.approx(np.mean(each.loss[1:4]))
    assert grouped.loss[2] == pytest.approx(np.mean(each.loss[4:7]))
    assert grouped.loss[3] == pytest.approx(each.loss[7])  # the last step is always recorded
    assert each.val == [None] * 8  # no held-out data


def test_the_same_seed_draws_the_same_minibatches(sparse_problem):
    y, W = sparse_problem(200, 10, 20)
    z = fista(y, W, 0.1, max_iter=300).z
    trained = []
    for seed in (5, 5, torch.Generator().manual_seed(5), 6):
        model = LISTA.from_dictionary(W, 0.1, 2)
        train_lista(model, y, z, steps=5, batch_size=20, lr=1e-2, seed=seed)
        trained.append(model.W_e.detach())
    assert torch.equal(trained[0], trained[1]) and torch.equal(trained[0], trained[2])
    assert not torch.equal(trained[0], trained[3])


def test_unsupervised_energy_training_lowers_the_energy(sparse_problem):
    y, W = sparse_problem(400, 20, 40)
    lam = 0.3
    model = LISTA.from_dictionary(W, lam, 2)
    with torch.no_grad():
        before = float(sparse_coding_energy(y, W, model(y), lam).mean())
    history = train_lista(model, y, loss="energy", W=W, lam=lam, steps=150, batch_size=100, lr=3e-3)
    with torch.no_grad():
        after = float(sparse_coding_energy(y, W, model(y), lam).mean())
    assert after < before - 0.05 * abs(before), (before, after)
    assert history.step == [0, 100, 150] and history.loss[-1] < history.loss[1]


def test_fresh_batches_from_a_function_and_stage_wise_parameters(sparse_problem):
    _, W = sparse_problem(64, 10, 20)
    gen = torch.Generator().manual_seed(0)
    x_true = torch.randn(64, 20, generator=gen, dtype=torch.float64)
    x_true *= torch.rand(64, 20, generator=gen, dtype=torch.float64) < 0.2

    def batch(step):
        return x_true @ W.T, x_true

    model = LISTA.from_dictionary(W, 0.05, 3, tied=False)
    frozen = model.W_e[0].detach().clone()
    third = model.W_e[2].detach().clone()
    train_lista(model, batch, steps=20, lr=1e-2, layers=2)
    assert not torch.equal(model.W_e[0], frozen)
    assert torch.equal(model.W_e[2], third)  # the third layer was cut off
    # training only the thresholds leaves the other parameters unchanged
    first = model.W_e.detach().clone()
    theta = model.theta.detach().clone()
    train_lista(model, batch, steps=5, lr=1e-2, params=[model.theta])
    assert torch.equal(model.W_e.detach(), first) and not torch.equal(model.theta.detach(), theta)


def test_the_learning_rate_schedule_is_applied(sparse_problem, monkeypatch):
    y, W = sparse_problem(200, 10, 20)
    z = fista(y, W, 0.1, max_iter=300).z
    rates = []

    class RecordingAdam(torch.optim.Adam):
        def step(self, closure=None):
            rates.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    train_lista(LISTA.from_dictionary(W, 0.1, 2), y, z, steps=8, batch_size=50, lr=1e-2,
                milestones=(3, 6), gamma=0.5)
    # the rate of each step: after step 3 it is halved, after step 6 halved again
    assert rates == pytest.approx([1e-2] * 3 + [5e-3] * 3 + [2.5e-3] * 2)


def test_a_zero_rate_after_a_milestone_stops_training(sparse_problem):
    y, W = sparse_problem(200, 10, 20)
    z = fista(y, W, 0.1, max_iter=300).z
    # gamma = 0: the rate is zero after step 3, so 10 steps end where 3 steps end ...
    a = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    train_lista(a, y, z, steps=10, batch_size=50, lr=1e-2, milestones=(3,), gamma=0.0)
    b = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    train_lista(b, y, z, steps=3, batch_size=50, lr=1e-2)
    assert torch.equal(a.W_e, b.W_e) and torch.equal(a.S, b.S)
    # ... and without the drop they go on
    c = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    train_lista(c, y, z, steps=10, batch_size=50, lr=1e-2)
    assert not torch.equal(c.W_e, b.W_e)


@pytest.mark.parametrize("milestones", [(5, 3), (0,), (11,), (2.5,), (4, 4), (True,)])
def test_bad_milestones_are_refused(sparse_problem, milestones):
    y, W = sparse_problem(20, 10, 20)
    z = fista(y, W, 0.1, max_iter=50).z
    model = LISTA.from_dictionary(W, 0.1, 2)
    with pytest.raises(InvalidArgumentError, match="argument 'milestones': expected increasing step "
                                                   "numbers in 1 … steps = 10"):
        train_lista(model, y, z, steps=10, milestones=milestones)


def test_numpy_scalars_are_accepted(sparse_problem):
    y, W = sparse_problem(40, 10, 16)
    z = fista(y, W, 0.2, max_iter=100).z
    model = LISTA(np.int64(10), np.int64(16), np.int64(3), tied=False, dtype=torch.float64)
    assert (model.n, model.m, model.layers, model.tied) == (10, 16, 3, False)
    assert type(model.layers) is int
    model = LISTA.from_dictionary(W, np.float64(0.2), np.int64(3), L=np.float32(8.0))
    history = train_lista(model, y, z, steps=np.int64(4), batch_size=np.int64(10), lr=np.float32(1e-3),
                          milestones=(np.int64(2),), gamma=np.float64(0.5), every=np.int64(2),
                          layers=np.int64(2))
    assert history.step == [0, 2, 4]
    assert model(y, layers=np.int64(2)).shape == (40, 16)
    assert model.encode(y, batch_size=np.int64(7)).shape == (40, 16)
    assert isinstance(model.evaluate(y, z, layers=np.int64(1)), float)


# -- the variants: LISTA-CP, LISTA-CPSS and ALISTA ----------------------------------------

def _compressed_sensing(B, n=20, m=40, *, seed=0, p=0.1, dtype=torch.float64):
    """x Bernoulli(p)-Gaussian (B, m), A (n, m) with unit columns, y = A x: (y, A, x)."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, m, generator=g, dtype=dtype)
    A = A / A.norm(dim=0)
    x = torch.randn(B, m, generator=g, dtype=dtype) * (torch.rand(B, m, generator=g, dtype=dtype) < p)
    return x @ A.T, A, x


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("variant", ["cp", "alista"])
def test_weight_coupled_variants_at_initialisation(device, sparse_problem, float64_or_skip, tied, variant):
    y, W = sparse_problem(32, 20, 40, device=device, dtype=float64_or_skip(device))
    lam, K = 0.3, 6
    model = LISTA.from_dictionary(W, lam, K, tied=tied, variant=variant, p=0)
    assert torch.equal(model.A, W)
    zs = model(y, all_layers=True)
    assert zs[-1].device.type == device.type and zs[-1].dtype == torch.float64
    if variant == "cp":  # W_k = (2/L) W_d, θ = λ/L: ISTA again
        assert torch.allclose(zs[-1], ista(y, W, lam, max_iter=K, tol=0).z, atol=1e-10, rtol=0)
    # every variant is h_θ(W_eᵀy + S z) with the (W_e, S, θ) that layer(k) reports
    z = torch.zeros_like(zs[0])
    for k in range(K):
        W_e, S, theta = model.layer(k)
        assert W_e.shape == (20, 40) and S.shape == (40, 40) and theta.shape == (40,)
        z = shrink(y @ W_e + z @ S.T, theta)
        assert torch.allclose(z, zs[k], atol=1e-10, rtol=0), k
    assert int((z != 0).sum()) > 0


def test_analytic_weight_minimises_the_coherence_under_the_diagonal_constraint(sparse_problem):
    _, A = sparse_problem(1, 20, 40)
    Wt = analytic_weight(A)
    assert Wt.shape == A.shape and Wt.dtype == A.dtype
    assert torch.allclose((Wt * A).sum(0), torch.ones(40, dtype=A.dtype), atol=1e-10)
    best = float((Wt.T @ A).norm())
    assert best < float((A.T @ A).norm())  # less coherent than the dictionary itself
    g = torch.Generator().manual_seed(1)
    for scale in (1e-3, 1e-1, 1.0):
        # any other feasible weight: a perturbation orthogonal to each column's atom
        D = torch.randn(20, 40, generator=g, dtype=A.dtype) * scale
        D -= A * (D * A).sum(0)
        assert float(((Wt + D).T @ A).norm()) > best
    assert torch.allclose(analytic_weight(A.float()).double(), Wt, atol=1e-4)
    with pytest.raises(InvalidArgumentError, match="argument 'W': expected a dictionary without zero atoms"):
        analytic_weight(torch.cat([A[:, :5], torch.zeros(20, 1, dtype=A.dtype)], 1))
    with pytest.raises(InvalidArgumentError, match="argument 'W': expected a 2-D tensor"):
        analytic_weight(A[0])


def test_support_selection_lets_the_largest_entries_through(sparse_problem):
    y, W = sparse_problem(16, 20, 40)
    lam = 0.8
    model = LISTA.from_dictionary(W, lam, 12, tied=False, variant="cpss", p=5, p_max=20)
    # p_k = min(p·k, p_max) % of m = 40 entries
    assert [model.kept(k) for k in range(6)] == [2, 4, 6, 8, 8, 8]
    assert LISTA(20, 40, 3, variant="cp").kept(2) == 0
    L = lipschitz(W)
    v = y @ (2 / L * W)  # the first layer's input W_1ᵀy
    z = model(y, layers=1)
    magnitude = v.abs()
    top = magnitude >= magnitude.topk(2, dim=1).values[:, -1:]
    kept = top & (magnitude > lam / L)
    assert int(kept.sum()) > 0
    assert torch.equal(z[kept], v[kept])  # not shrunk
    assert torch.allclose(z[~kept], shrink(v, lam / L)[~kept], atol=0, rtol=0)
    # with p = 0 it is LISTA-CP, i.e. ISTA at initialisation
    plain = LISTA.from_dictionary(W, lam, 4, variant="cpss", p=0)
    assert torch.allclose(plain(y), ista(y, W, lam, max_iter=4, tol=0).z, atol=1e-10, rtol=0)
    # gradients reach the thresholds (through the shrunk entries) and every layer's weight
    model(y)[:, :].pow(2).sum().backward()
    assert all(float(model.W_e.grad[k].abs().sum()) > 0 for k in range(12))
    assert float(model.theta.grad.abs().sum()) > 0


@pytest.mark.parametrize("tied, shapes", [(True, {"gamma": (), "theta": ()}),
                                          (False, {"gamma": (5,), "theta": (5,)})])
def test_alista_learns_only_step_sizes_and_thresholds(tied, shapes):
    y, A, x = _compressed_sensing(64)
    model = LISTA.from_dictionary(A, 0.1, 5, tied=tied, variant="alista")
    assert {name: tuple(p.shape) for name, p in model.named_parameters()} == shapes
    assert {name: tuple(b.shape) for name, b in model.named_buffers()} == {"A": (20, 40), "W_e": (20, 40)}
    assert torch.equal(model.W_e, analytic_weight(A))
    L = lipschitz(A)
    assert torch.allclose(model.gamma, torch.full(shapes["gamma"], 2 / L, dtype=A.dtype))
    (model(y) - x).pow(2).sum().backward()
    assert bool((model.gamma.grad != 0).all()) and bool((model.theta.grad != 0).all())


@pytest.mark.parametrize("variant", ["cp", "cpss", "alista"])
def test_each_variant_trains_on_true_codes(variant):
    y, A, x = _compressed_sensing(1200, seed=2)
    model = LISTA.from_dictionary(A, 0.1, 4, tied=False, variant=variant)
    before = model.evaluate(y[1000:], x[1000:])
    history = train_lista(model, y[:1000], x[:1000], steps=150, batch_size=100,
                          lr=1e-2 if variant == "alista" else 3e-3, Y_val=y[1000:], Z_val=x[1000:], every=50)
    after = model.evaluate(y[1000:], x[1000:])
    assert history.step == [0, 50, 100, 150] and history.val[-1] == pytest.approx(after)
    assert after < 0.5 * before, (variant, before, after)
    assert torch.equal(model.A, A)  # the dictionary is not trained


def test_synthetic_problem_draws_the_papers_compressed_sensing_problem():
    n, m, B, p = 50, 100, 4000, 0.1
    A, y, z = synthetic_problem(n, m, B, p=p, seed=3)
    assert A.shape == (n, m) and y.shape == (B, n) and z.shape == (B, m)
    assert A.dtype == y.dtype == z.dtype == torch.get_default_dtype() and A.device.type == "cpu"
    assert torch.allclose(A.norm(dim=0), torch.ones(m), atol=1e-6)  # unit atoms
    assert abs(float(A.pow(2).mean()) * n - 1) < 1e-5  # every entry ~ 1/sqrt(n) in size
    assert abs(float(A.mean())) < 3 / math.sqrt(n * m)  # centred (N(0, 1/n) before normalising)
    assert torch.allclose(y, z @ A.T, atol=1e-5)  # noiseless: y = A z
    support = z != 0
    assert abs(float(support.float().mean()) - p) < 0.005  # Bernoulli(p)
    values = z[support]
    assert abs(float(values.mean())) < 0.03 and abs(float(values.std()) - 1) < 0.03  # N(0, 1)
    again = synthetic_problem(n, m, B, p=p, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((A, y, z), again, strict=True))
    assert not torch.equal(synthetic_problem(n, m, B, p=p, seed=4)[0], A)
    assert int((synthetic_problem(n, m, 10, p=0, seed=3)[2] != 0).sum()) == 0


def test_synthetic_problem_with_a_given_dictionary_noise_and_a_stream(device, float64_or_skip):
    dtype = float64_or_skip(device)
    A = synthetic_problem(30, 60, 1, seed=0)[0].to(device, dtype)
    g = torch.Generator().manual_seed(5)
    A_1, y_1, z_1 = synthetic_problem(30, 60, 3000, A=A, seed=g)
    assert A_1 is A and y_1.device.type == z_1.device.type == device.type and y_1.dtype == dtype
    assert torch.allclose(y_1, z_1 @ A.T, atol=1e-12)
    _, _, z_2 = synthetic_problem(30, 60, 3000, A=A, seed=g)  # the stream goes on: a fresh batch
    assert not torch.equal(z_1, z_2)
    _, y_n, z_n = synthetic_problem(30, 60, 3000, A=A, snr_db=20, seed=6)
    clean = z_n @ A.T
    snr = 10 * math.log10(float(clean.pow(2).sum() / (y_n - clean).pow(2).sum()))
    assert abs(snr - 20) < 0.2, snr
    assert torch.equal(synthetic_problem(30, 60, 3000, A=A, seed=6)[2], z_n)  # noise is drawn last


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "argument 'n': expected an integer >= 1"),
    ({"batch": 2.5}, "argument 'batch'"),
    ({"p": 1.5}, "argument 'p': expected a number in [0, 1]"),
    ({"snr_db": float("inf")}, "argument 'snr_db': expected a finite number"),
    ({"A": torch.zeros(5, 9)}, "argument 'A': expected shape (10, 20)"),
    ({"A": torch.zeros(10, 20, dtype=torch.int64)}, "argument 'A': expected a floating-point tensor"),
    ({"seed": -1}, "argument 'seed'"),
])
def test_synthetic_problem_names_a_bad_argument(kwargs, message):
    args = {"n": 10, "m": 20, "batch": 4, **kwargs}
    with pytest.raises(InvalidArgumentError) as err:
        synthetic_problem(args.pop("n"), args.pop("m"), args.pop("batch"), **args)
    assert message in str(err.value), str(err.value)


@pytest.mark.parametrize("variant", ["cp", "cpss", "alista"])
def test_variants_save_and_load(tmp_path, variant):
    y, A, _ = _compressed_sensing(8)
    model = LISTA.from_dictionary(A, 0.1, 3, tied=False, variant=variant, p=2.0, p_max=10.0)
    with torch.no_grad():
        model.theta.add_(0.01)
    assert model.config == {"n": 20, "m": 40, "layers": 3, "tied": False, "dtype": torch.float64,
                            "variant": variant, "p": 2.0, "p_max": 10.0}
    assert variant in repr(model)
    model.save(tmp_path / "variant.pt")
    again = LISTA.load(tmp_path / "variant.pt")
    assert again.config == model.config
    assert torch.equal(again(y), model(y)) and torch.equal(again.A, A)


def test_a_variant_from_the_constructor_starts_at_zero():
    model = LISTA(7, 11, 4, tied=False, variant="cpss", dtype=torch.float64)
    assert {name: tuple(p.shape) for name, p in model.named_parameters()} == {"W_e": (4, 7, 11),
                                                                            "theta": (4, 11)}
    assert torch.equal(model(torch.randn(3, 7, dtype=torch.float64)), torch.zeros(3, 11, dtype=torch.float64))


def test_save_and_load_round_trip_with_the_configuration(sparse_problem, tmp_path):
    y, W = sparse_problem(8, 10, 16)
    model = LISTA.from_dictionary(W, 0.2, 3, tied=False)
    with torch.no_grad():
        model.S.add_(0.01)
    assert model.config == {"n": 10, "m": 16, "layers": 3, "tied": False, "dtype": torch.float64}
    model.save(tmp_path / "lista.pt")
    saved = torch.load(tmp_path / "lista.pt", weights_only=True)
    assert saved["ebmlib"] == "LISTA" and saved["config"] == model.config
    again = LISTA.load(tmp_path / "lista.pt")
    assert again.config == model.config and again.W_e.dtype == torch.float64
    assert torch.equal(again(y), model(y))
    there = LISTA.load(tmp_path / "lista.pt", map_location="cpu")
    assert there.W_e.device.type == "cpu" and torch.equal(there(y), model(y))
    with pytest.raises(TypeError):
        LISTA.load(tmp_path / "lista.pt", "cpu")  # map_location is keyword-only


def test_loading_a_file_that_is_not_a_model_gets_a_clear_error(tmp_path):
    torch.save({"n": 10, "m": 16, "K": 3, "tied": True, "state": {}}, tmp_path / "old.pt")
    with pytest.raises(InvalidArgumentError, match="argument 'path': expected a model saved by "
                                                   "LISTA.save, received .*holds a dict with keys"):
        LISTA.load(tmp_path / "old.pt")
    (tmp_path / "notes.pt").write_text("not a model")
    with pytest.raises(InvalidArgumentError, match="argument 'path'.*torch.load cannot read"):
        LISTA.load(tmp_path / "notes.pt")


def test_progress_bar_is_off_by_default(sparse_problem, capsys):
    y, W = sparse_problem(50, 10, 16)
    z = fista(y, W, 0.2, max_iter=500).z
    train_lista(LISTA.from_dictionary(W, 0.2, 2), y, z, steps=3)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_relative_error_puts_the_target_second(sparse_problem):
    z, _ = sparse_problem(8, 10, 16)
    assert relative_error(2 * z, z) == pytest.approx(1.0)
    assert relative_error(z, 2 * z) == pytest.approx(0.25)  # the order matters
    with pytest.raises(InvalidArgumentError, match="arguments 'z' and 'z_star': expected the same shape"):
        relative_error(z, z[:, :5])


def _fit(model, y, **kw):
    return train_lista(model, y, **{"steps": 2, **kw})


@pytest.mark.parametrize("call, message", [
    (lambda m, y, W: m(y[:, :5]), "argument 'y': expected shape (B, n) with n = 10"),
    (lambda m, y, W: m(y.float()), "argument 'y': expected device cpu and dtype torch.float64"),
    (lambda m, y, W: m(y, layers=9), "argument 'layers': expected an integer <= 3"),
    (lambda m, y, W: m(y, layers=0), "argument 'layers': expected an integer >= 1"),
    (lambda m, y, W: m(y, all_layers="yes"), "argument 'all_layers': expected True or False"),
    (lambda m, y, W: m(y[0]), "argument 'y': expected a 2-D tensor"),
    (lambda m, y, W: m(y * float("nan")), "argument 'y': expected finite values"),
    (lambda m, y, W: m.encode(y[:, :5]), "argument 'Y': expected shape (N, n) with n = 10"),
    (lambda m, y, W: m.encode(y, batch_size=0), "argument 'batch_size'"),
    (lambda m, y, W: LISTA.from_dictionary(W, -1.0, 3), "argument 'lam'"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 0), "argument 'layers'"),
    (lambda m, y, W: LISTA.from_dictionary(W[0], 0.1, 3), "argument 'W': expected a 2-D tensor"),
    (lambda m, y, W: LISTA.from_dictionary(W * 0, 0.1, 3), "argument 'W': expected a non-zero"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 3, L=0.0), "argument 'L': expected a finite number > 0"),
    (lambda m, y, W: LISTA(10, 16, 3, tied="yes"), "argument 'tied': expected True or False"),
    (lambda m, y, W: LISTA(10, 0, 3), "argument 'm'"),
    (lambda m, y, W: LISTA(10, 16, 3, variant="ista"),
     "argument 'variant': expected 'lista', 'cp', 'cpss' or 'alista', received 'ista'"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 3, variant="cpss", p=150),
     "argument 'p': expected a number in"),
    (lambda m, y, W: LISTA(10, 16, 3, variant="alista", p_max=-1), "argument 'p_max'"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 3, variant="alista")(y[:, :5]),
     "argument 'y': expected shape (B, n) with n = 10"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 3, variant="cp")(y.float()),
     "argument 'y': expected device cpu and dtype torch.float64"),
    (lambda m, y, W: _fit(m, y, loss="l2"), "argument 'loss': expected 'code' or 'energy'"),
    (lambda m, y, W: _fit(m, y), "argument 'Z_star': expected target codes"),
    (lambda m, y, W: _fit(m, y, Z_star=torch.zeros(8, 5, dtype=torch.float64)),
     "argument 'Z_star': expected shape (N, m) with m = 16"),
    (lambda m, y, W: _fit(m, y, Z_star=torch.zeros(7, 16, dtype=torch.float64)),
     "arguments 'Y' and 'Z_star': expected the same batch size"),
    (lambda m, y, W: _fit(m, y[:, :5], loss="energy", W=W, lam=0.1), "argument 'Y'"),
    (lambda m, y, W: _fit(m, y, loss="energy"), "arguments 'W' and 'lam'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W[:, :3], lam=0.1), "argument 'W': expected shape"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=-0.1), "argument 'lam'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, lr=0), "argument 'lr': expected a finite "
                                                                          "number > 0"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, gamma=-1), "argument 'gamma'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, steps=0), "argument 'steps'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, every=0), "argument 'every'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, batch_size=1.5), "argument 'batch_size'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, layers=4), "argument 'layers'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, seed=-1), "argument 'seed'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, progress="no"), "argument 'progress'"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, Y_val=y),
     "arguments 'Y_val' and 'Z_val': expected both or neither"),
    (lambda m, y, W: _fit(m, y, loss="energy", W=W, lam=0.1, Y_val=y,
                          Z_val=torch.zeros(7, 16, dtype=torch.float64)),
     "arguments 'Y_val' and 'Z_val': expected the same batch size"),
    (lambda m, y, W: train_lista(torch.nn.Linear(2, 2), y, steps=2), "argument 'model'"),
    (lambda m, y, W: m.evaluate(y, torch.zeros(7, 16, dtype=torch.float64)),
     "arguments 'Y' and 'Z_star': expected the same batch size"),
])
def test_bad_input_names_the_argument(sparse_problem, call, message):
    y, W = sparse_problem(8, 10, 16)
    model = LISTA.from_dictionary(W, 0.2, 3)
    with pytest.raises(InvalidArgumentError) as err:
        call(model, y, W)
    assert message in str(err.value), str(err.value)
