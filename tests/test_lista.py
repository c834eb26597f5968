"""ebmlib.lista: the unrolled network equals ISTA at initialisation and learns."""

import pytest
import torch

from ebmlib.lista import LISTA, relative_error, sparse_coding_loss
from ebmlib.solvers import fista, ista


def problem(B, n, m, *, seed=0, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n, m, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    y = torch.randn(B, n, generator=g, dtype=torch.float64)
    return y.to(device, dtype), W.to(device, dtype)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("K", [1, 3, 12])
def test_initialised_from_a_dictionary_it_computes_ista(device, tied, K):
    if device.type == "mps":
        pytest.skip("MPS has no float64")
    y, W = problem(32, 20, 40, device=device)
    lam = 0.3
    model = LISTA.from_dictionary(W, lam, K, tied=tied)
    z_ista, _ = ista(y, W, lam, max_iter=K, tol=0)
    z = model(y)
    assert z.device.type == device.type and z.dtype == torch.float64
    assert torch.allclose(z, z_ista, atol=1e-6, rtol=0)
    assert int((z != 0).sum()) > 0  # not the trivial all-zero code
    steps = model(y, all_steps=True)
    assert len(steps) == K and torch.allclose(steps[-1], z)


def test_float32_follows_the_dictionary():
    y, W = problem(8, 10, 16, dtype=torch.float32)
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


def test_untied_layers_can_differ_and_the_forward_uses_each():
    y, W = problem(16, 10, 20)
    model = LISTA.from_dictionary(W, 0.1, 3, tied=False)
    before2, before = model(y, steps=2).clone(), model(y).clone()
    assert int((before != 0).sum()) > 0
    with torch.no_grad():
        model.theta[2].fill_(10.0)  # only the last layer: its output is now zero
    assert torch.equal(model(y, steps=2), before2)
    assert int((model(y) != 0).sum()) == 0


@pytest.mark.parametrize("tied", [True, False])
def test_gradients_reach_every_step(tied):
    y, W = problem(16, 10, 20)
    K = 4
    model = LISTA.from_dictionary(W, 0.1, K, tied=tied)
    # a target away from ISTA's output, so that the loss has a gradient
    target = torch.randn(16, 20, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    zs = model(y, all_steps=True)
    if tied:
        # the contribution of step k: differentiate through z(k) alone
        for k in range(K - 1):
            g = torch.autograd.grad((zs[-1] - target).pow(2).sum(), zs[k], retain_graph=True)[0]
            assert float(g.abs().sum()) > 0, f"no gradient reaches step {k + 1}"
        (zs[-1] - target).pow(2).sum().backward()
        for name, p in model.named_parameters():
            assert float(p.grad.abs().sum()) > 0, name
    else:
        (zs[-1] - target).pow(2).sum().backward()
        for k in range(K):
            assert float(model.W_e.grad[k].abs().sum()) > 0, f"W_e of step {k + 1}"
            assert float(model.theta.grad[k].abs().sum()) > 0, f"θ of step {k + 1}"
            if k > 0:  # the first step multiplies S by z(0) = 0
                assert float(model.S.grad[k].abs().sum()) > 0, f"S of step {k + 1}"


@pytest.mark.parametrize("tied", [True, False])
def test_training_on_fista_codes_lowers_the_held_out_error(device, tied):
    if device.type == "mps":
        pytest.skip("MPS has no float64")
    y, W = problem(600, 20, 40, device=device)
    lam = 0.3
    z_star, _ = fista(y, W, lam, max_iter=500, tol=1e-8)
    model = LISTA.from_dictionary(W, lam, 3, tied=tied)
    before = model.evaluate(y[500:], z_star[500:])
    curve = model.fit(y[:500], z_star[:500], n_steps=120, batch_size=100, lr=3e-3,
                      y_val=y[500:], z_val=z_star[500:], eval_every=30, progress=False)
    after = model.evaluate(y[500:], z_star[500:])
    assert curve.step == [30, 60, 90, 120] and len(curve.val_error) == 4
    assert curve.loss[-1] < curve.loss[0]
    assert after < 0.7 * before, (before, after)
    assert curve.val_error[-1] == pytest.approx(after)
    # ISTA with the same 3 steps is worse than the trained network
    z3, _ = ista(y[500:], W, lam, max_iter=3, tol=0)
    assert after < relative_error(z3, z_star[500:])


def test_unsupervised_energy_training_lowers_the_energy():
    y, W = problem(400, 20, 40)
    lam = 0.3
    model = LISTA.from_dictionary(W, lam, 2)
    with torch.no_grad():
        before = float(sparse_coding_loss(model(y), y, W, lam))
    model.fit(y, loss="energy", W_d=W, lam=lam, n_steps=150, batch_size=100, lr=3e-3,
              progress=False)
    with torch.no_grad():
        after = float(sparse_coding_loss(model(y), y, W, lam))
    assert after < before - 0.05 * abs(before), (before, after)


def test_fresh_batches_from_a_function_and_stage_wise_parameters():
    _, W = problem(64, 10, 20)
    gen = torch.Generator().manual_seed(0)
    x_true = torch.randn(64, 20, generator=gen, dtype=torch.float64)
    x_true *= torch.rand(64, 20, generator=gen, dtype=torch.float64) < 0.2

    def batch(step):
        return x_true @ W.T, x_true

    model = LISTA.from_dictionary(W, 0.05, 3, tied=False)
    frozen = model.W_e[0].detach().clone()
    model.fit(batch, n_steps=20, lr=1e-2, steps=2, progress=False)
    assert not torch.equal(model.W_e[0], frozen)
    # training only the last layer leaves the others unchanged
    first = model.W_e.detach().clone()
    only = [model.theta]
    model.fit(batch, n_steps=5, lr=1e-2, params=only, progress=False)
    assert torch.equal(model.W_e.detach(), first)


def test_learning_rate_schedule_multiplies_the_rate_at_each_milestone():
    y, W = problem(200, 10, 20)
    z, _ = fista(y, W, 0.1, max_iter=300)
    # gamma = 0: the rate is zero after step 3, so 10 steps end where 3 steps end ...
    a = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    a.fit(y, z, n_steps=10, batch_size=50, lr=1e-2, milestones=(3,), gamma=0.0, progress=False)
    b = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    b.fit(y, z, n_steps=3, batch_size=50, lr=1e-2, progress=False)
    assert torch.equal(a.W_e, b.W_e) and torch.equal(a.S, b.S)
    # ... and without the drop they go on
    c = LISTA.from_dictionary(W, 0.1, 2, tied=False)
    c.fit(y, z, n_steps=10, batch_size=50, lr=1e-2, progress=False)
    assert not torch.equal(c.W_e, b.W_e)


@pytest.mark.parametrize("milestones", [(5, 3), (0,), (11,), (2.5,), (4, 4)])
def test_bad_milestones_are_refused(milestones):
    y, W = problem(20, 10, 20)
    z, _ = fista(y, W, 0.1, max_iter=50)
    model = LISTA.from_dictionary(W, 0.1, 2)
    with pytest.raises(ValueError, match="argument 'milestones': expected increasing step "
                                         "numbers in 1 … n_steps = 10"):
        model.fit(y, z, n_steps=10, milestones=milestones, progress=False)


def test_save_and_load_round_trip(tmp_path):
    y, W = problem(8, 10, 16)
    model = LISTA.from_dictionary(W, 0.2, 3, tied=False)
    with torch.no_grad():
        model.S.add_(0.01)
    model.save(tmp_path / "lista.pt")
    again = LISTA.load(tmp_path / "lista.pt")
    assert again.tied is False and again.K == 3
    assert torch.equal(again(y), model(y))


def test_progress_bar_can_be_switched_off(capsys):
    y, W = problem(50, 10, 16)
    z, _ = fista(y, W, 0.2, max_iter=500)
    LISTA.from_dictionary(W, 0.2, 2).fit(y, z, n_steps=3, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.parametrize("call, message", [
    (lambda m, y, W: m(y[:, :5]), "argument 'y': expected shape (B, n) with n = 10"),
    (lambda m, y, W: m(y.float()), "argument 'y': expected device"),
    (lambda m, y, W: m(y, steps=9), "argument 'steps': expected at most K = 3"),
    (lambda m, y, W: m(y[0]), "argument 'y': expected a 2-D tensor"),
    (lambda m, y, W: m(y * float("nan")), "argument 'y': expected finite values"),
    (lambda m, y, W: LISTA.from_dictionary(W, -1.0, 3), "argument 'lam'"),
    (lambda m, y, W: LISTA.from_dictionary(W, 0.1, 0), "argument 'K'"),
    (lambda m, y, W: LISTA.from_dictionary(W[0], 0.1, 3), "argument 'W_d'"),
    (lambda m, y, W: LISTA.from_dictionary(W * 0, 0.1, 3), "argument 'W_d'"),
    (lambda m, y, W: LISTA(10, 16, 3, tied="yes"), "argument 'tied'"),
    (lambda m, y, W: m.fit(y, loss="l2"), "argument 'loss'"),
    (lambda m, y, W: m.fit(y), "argument 'z_star'"),
    (lambda m, y, W: m.fit(y, torch.zeros(8, 5, dtype=torch.float64)), "argument 'z_star'"),
    (lambda m, y, W: m.fit(y, loss="energy"), "'W_d' and 'lam'"),
    (lambda m, y, W: m.fit(y, loss="energy", W_d=W[:, :3], lam=0.1), "argument 'W_d'"),
    (lambda m, y, W: m.evaluate(y, torch.zeros(7, 16, dtype=torch.float64)), "batch size"),
])
def test_bad_input_gets_a_clear_error(call, message):
    y, W = problem(8, 10, 16)
    model = LISTA.from_dictionary(W, 0.2, 3)
    with pytest.raises((ValueError, TypeError)) as err:
        call(model, y, W)
    assert message in str(err.value)
