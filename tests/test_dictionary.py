"""ebmlib.dictionary: minibatch dictionary learning with column renormalisation."""

import inspect
import math

import numpy as np
import pytest
import torch

import ebmlib._validate as validate
from ebmlib import History, InvalidArgumentError, dictionary, set_progress
from ebmlib.dictionary import dictionary_step, learn_dictionary, mean_free_energy, normalize_columns
from ebmlib.solvers import fista


def planted_problem(n=20, m=30, k=3, N=3000, seed=0, dtype=torch.float64):
    """Data made of k atoms of a known dictionary each, plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    W = normalize_columns(torch.randn(n, m, generator=g, dtype=dtype))
    Z = torch.zeros(N, m, dtype=dtype)
    for i in range(N):
        idx = torch.randperm(m, generator=g)[:k]
        Z[i, idx] = (1 + torch.rand(k, generator=g, dtype=dtype)) * torch.sign(
            torch.randn(k, generator=g, dtype=dtype))
    Y = Z @ W.T + 0.01 * torch.randn(N, n, generator=g, dtype=dtype)
    return Y, W


def gaussian_start(n, m, seed, dtype=torch.float64):
    """The book's recipe for a starting dictionary, which is learn_dictionary's default."""
    return torch.randn(n, m, generator=torch.Generator().manual_seed(seed)).to(dtype)


def test_normalize_columns_gives_unit_columns(device):
    W = torch.randn(5, 7, device=device) * torch.arange(1, 8, device=device)
    norms = normalize_columns(W).norm(dim=0)
    torch.testing.assert_close(norms, torch.ones(7, device=device))


def test_recovers_a_planted_dictionary(device):
    Y, W_true = planted_problem()
    Y, W_true = Y.to(device), W_true.to(device)
    W, history = learn_dictionary(Y, 30, 0.1, steps=600, Y_val=Y[:300], seed=1)
    assert W.shape == (20, 30) and W.device.type == device.type and W.dtype == Y.dtype
    torch.testing.assert_close(W.norm(dim=0), torch.ones(30, device=device, dtype=Y.dtype))
    best = (W_true.T @ W).abs().max(dim=1).values  # best |cosine| for every true atom
    assert float((best > 0.95).float().mean()) >= 0.9, best
    assert isinstance(history, History) and len(history) == 7
    assert history.step == [0, 100, 200, 300, 400, 500, 600]
    assert history.val[-1] < history.val[0] and history.loss[-1] < history.loss[1]


def test_history_records_step_0_cumulative_seconds_and_the_mean_loss_since_the_last_record():
    """Step 0 is the start (loss NaN, val the start's free energy); the seconds never go
    back; each loss is the mean minibatch energy over the steps since the previous record."""
    Y, _ = planted_problem(N=400)
    Y_val = Y[:50]
    W0 = gaussian_start(20, 30, 5)
    W, history = learn_dictionary(Y, 30, 0.2, steps=7, batch_size=32, W0=W0, max_iter=8, step_scale=1.2,
                                  Y_val=Y_val, every=3, seed=4)
    assert history.step == [0, 3, 6, 7]
    assert history.seconds[0] == 0.0 and history.seconds == sorted(history.seconds)
    assert math.isnan(history.loss[0])
    assert history.val[0] == pytest.approx(mean_free_energy(Y_val, normalize_columns(W0), 0.2), rel=1e-12)
    assert history.val[-1] == pytest.approx(mean_free_energy(Y_val, W, 0.2), rel=1e-12)
    # The same steps by hand: each minibatch's mean energy at its codes.
    g = torch.Generator().manual_seed(4)
    codes, W_hand, energies = torch.zeros(400, 30, dtype=Y.dtype), normalize_columns(W0), []
    for _ in range(7):
        idx = torch.randint(400, (32,), generator=g)
        z, trace, _ = fista(Y[idx], W_hand, 0.2, z0=codes[idx], max_iter=8, tol=1e-4)
        codes[idx] = z
        energies.append(float(trace[-1].mean()))
        W_hand = normalize_columns(dictionary_step(Y[idx], z, W_hand, step_scale=1.2, normalize=False))
    torch.testing.assert_close(W, W_hand)
    expected = [sum(energies[0:3]) / 3, sum(energies[3:6]) / 3, energies[6]]
    assert history.loss[1:] == pytest.approx(expected, rel=1e-12)
    # Without held-out data, val is None.
    _, quiet = learn_dictionary(Y, 30, 0.2, steps=2, batch_size=32, seed=4)
    assert quiet.val == [None, None] and quiet.step == [0, 2]


def test_defaults_are_the_books_recipe():
    """A Gaussian start drawn from ``seed``, no resampling, minibatches of 256."""
    parameters = inspect.signature(learn_dictionary).parameters
    assert parameters["resample_unused"].default is False and parameters["W0"].default is None
    assert parameters["batch_size"].default == 256 and parameters["progress"].default is None
    assert parameters["seed"].default == 0
    Y, _ = planted_problem(N=500)
    W_default, _ = learn_dictionary(Y, 30, 0.2, steps=20, seed=3)
    W_given, _ = learn_dictionary(Y, 30, 0.2, steps=20, W0=gaussian_start(20, 30, 3), seed=3)
    torch.testing.assert_close(W_default, W_given)
    # A Generator as the seed: one stream, the start first and then the minibatches.
    W_stream, _ = learn_dictionary(Y, 30, 0.2, steps=20, seed=torch.Generator().manual_seed(3))
    assert W_stream.shape == (20, 30) and not torch.allclose(W_stream, W_default)


def test_accepts_numpy_scalars():
    Y, _ = planted_problem(N=200)
    W_np, history = learn_dictionary(Y, np.int64(30), np.float32(0.25), steps=np.int64(4),
                                     batch_size=np.int32(64), max_iter=np.int64(5),
                                     step_scale=np.float64(1.5), every=np.int64(2), seed=np.int64(1))
    W_py, _ = learn_dictionary(Y, 30, 0.25, steps=4, batch_size=64, max_iter=5, step_scale=1.5, seed=1)
    torch.testing.assert_close(W_np, W_py)
    assert history.step == [0, 2, 4]
    assert mean_free_energy(Y, W_py, np.float64(0.25), max_iter=np.int64(20)) > 0


def test_without_normalisation_the_columns_grow_and_the_penalty_fades():
    """The lecture's warning: scale W_d up and z down, and λ‖z‖₁ loses its grip."""
    Y, _ = planted_problem(N=1000)
    lam = 0.5
    W_free, _ = learn_dictionary(Y, 30, lam, steps=400, normalize=False)
    W_norm, _ = learn_dictionary(Y, 30, lam, steps=400)
    assert float(W_free.norm(dim=0).mean()) > 1.5
    z_free = fista(Y[:200], W_free, lam, max_iter=300).z
    z_norm = fista(Y[:200], W_norm, lam, max_iter=300).z
    assert float(z_free.abs().sum(1).mean()) < 0.7 * float(z_norm.abs().sum(1).mean())


def test_resample_unused_replaces_dead_atoms_by_training_rows():
    """With λ so large that every code is zero, every atom is unused: after one step each
    is a training row plus a little noise, renormalised."""
    Y, _ = planted_problem(N=300)
    W, _ = learn_dictionary(Y, 30, 1e6, steps=1, resample_unused=True)
    cosines = (normalize_columns(Y.T).T @ W).abs().max(dim=0).values
    assert bool((cosines > 0.999).all()), cosines
    W_kept, _ = learn_dictionary(Y, 30, 1e6, steps=1)
    torch.testing.assert_close(W_kept, normalize_columns(gaussian_start(20, 30, 0)))


def test_progress_bar_follows_the_switch(capsys):
    Y, _ = planted_problem(N=200)
    learn_dictionary(Y, 30, 0.1, steps=3)
    assert "dictionary" not in capsys.readouterr().err
    learn_dictionary(Y, 30, 0.1, steps=3, progress=True)
    assert "dictionary" in capsys.readouterr().err
    set_progress(True)
    try:
        learn_dictionary(Y, 30, 0.1, steps=3)
        assert "dictionary" in capsys.readouterr().err
        learn_dictionary(Y, 30, 0.1, steps=3, progress=False)
        assert "dictionary" not in capsys.readouterr().err
    finally:
        set_progress(False)


def test_is_reproducible_with_a_seed():
    Y, _ = planted_problem(N=300)
    W1, _ = learn_dictionary(Y, 30, 0.1, steps=20, seed=3)
    W2, _ = learn_dictionary(Y, 30, 0.1, steps=20, seed=3)
    W3, _ = learn_dictionary(Y, 30, 0.1, steps=20, seed=4)
    torch.testing.assert_close(W1, W2)
    assert not torch.allclose(W1, W3)


def test_mean_free_energy_is_the_mean_of_the_fista_energies():
    Y, W = planted_problem(N=50)
    trace = fista(Y, W, 0.2, max_iter=200, tol=1e-5).trace
    assert mean_free_energy(Y, W, 0.2, batch_size=7) == pytest.approx(float(trace[-1].mean()), rel=1e-6)
    assert mean_free_energy(Y, W, 0.2, batch_size=7, max_iter=3, tol=0) > mean_free_energy(Y, W, 0.2)


@pytest.mark.parametrize("kwargs, name", [
    ({"W": torch.randn(5, 4)}, "'W'"),
    ({"W": torch.randn(20, 4, dtype=torch.float32)}, "'W' and 'Y'"),
    ({"W": torch.zeros(20, 4, dtype=torch.float64)}, "'W'"),
    ({"Y": torch.randn(7, 20, dtype=torch.float64)[:0]}, "'Y'"),
    ({"lam": -1.0}, "'lam'"),
    ({"max_iter": 0}, "'max_iter'"),
    ({"tol": -1.0}, "'tol'"),
    ({"batch_size": 2.5}, "'batch_size'"),
])
def test_mean_free_energy_names_the_bad_argument(kwargs, name):
    Y, W = planted_problem(N=10)
    args = {"Y": Y, "W": W, "lam": 0.2, **kwargs}
    with pytest.raises(InvalidArgumentError, match=name):
        mean_free_energy(**args)


@pytest.mark.parametrize("kwargs, name", [
    ({"lam": -1.0}, "'lam'"),
    ({"m": 0}, "'m'"),
    ({"steps": 0}, "'steps'"),
    ({"batch_size": 0}, "'batch_size'"),
    ({"max_iter": 0}, "'max_iter'"),
    ({"step_scale": 0.0}, "'step_scale'"),
    ({"every": 0}, "'every'"),
    ({"W0": torch.randn(3, 3)}, "'W0'"),
    ({"W0": torch.zeros(5, 4)}, "'W0'"),
    ({"Y_val": torch.zeros(4, 3)}, "'Y_val'"),
    ({"Y_val": torch.zeros(4, 5, dtype=torch.float64)}, "'Y_val' and 'Y'"),
    ({"normalize": 1}, "'normalize'"),
    ({"resample_unused": "no"}, "'resample_unused'"),
    ({"warm_start": None}, "'warm_start'"),
    ({"seed": -1}, "'seed'"),
    ({"seed": 1.5}, "'seed'"),
    ({"progress": "yes"}, "'progress'"),
    ({"Y": torch.randn(10)}, "'Y'"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"Y": torch.randn(10, 5), "m": 4, "lam": 0.1, "steps": 2, **kwargs}
    with pytest.raises(InvalidArgumentError, match=name):
        learn_dictionary(**args)


def test_rejects_nan_data():
    Y = torch.randn(10, 5)
    Y[3, 2] = float("nan")
    with pytest.raises(ValueError, match="'Y'.*finite"):
        learn_dictionary(Y, 4, 0.1)


def test_validates_once_not_at_every_step(monkeypatch):
    """The loop calls the unchecked solver and step: the number of tensor checks does not
    grow with the number of steps, and the public fista is never called."""
    import ebmlib.solvers as solvers

    Y, _ = planted_problem(N=200)
    checked = []
    tensor = validate.tensor

    def counting(name, value, **kwargs):
        checked.append(name)
        return tensor(name, value, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("learn_dictionary called the public fista")

    monkeypatch.setattr(validate, "tensor", counting)
    monkeypatch.setattr(solvers, "fista", forbidden)
    counts = []
    for steps in (2, 20):
        checked.clear()
        learn_dictionary(Y, 30, 0.2, steps=steps, Y_val=Y[:20], every=1)
        counts.append(len(checked))
    assert counts[0] == counts[1] == 2, checked  # 'Y' and 'Y_val', once each


def test_one_step_of_learn_dictionary_is_dictionary_step():
    """learn_dictionary(steps=1) = FISTA on its minibatch, then dictionary_step."""
    Y, _ = planted_problem(N=500)
    W0 = normalize_columns(gaussian_start(20, 30, 7))
    W1, _ = learn_dictionary(Y, 30, 0.2, steps=1, batch_size=64, W0=W0, max_iter=15, step_scale=1.5, seed=3)
    idx = torch.randint(500, (64,), generator=torch.Generator().manual_seed(3))
    z = fista(Y[idx], W0, 0.2, z0=torch.zeros(64, 30, dtype=Y.dtype), max_iter=15, tol=1e-4).z
    torch.testing.assert_close(W1, dictionary_step(Y[idx], z, W0, step_scale=1.5))


def test_dictionary_step_lowers_the_minibatch_energy_below_step_scale_2():
    Y, _ = planted_problem(N=64)
    g = torch.Generator().manual_seed(8)
    W = normalize_columns(torch.randn(20, 30, generator=g, dtype=Y.dtype))
    z = torch.randn(64, 30, generator=g, dtype=Y.dtype) * (torch.rand(64, 30, generator=g) < 0.2)

    def fit(W):
        return float(((Y - z @ W.T) ** 2).sum(1).mean())

    for s in (0.5, 1.0, 1.9, np.float32(1.2)):
        assert fit(dictionary_step(Y, z, W, step_scale=s, normalize=False)) < fit(W)
    torch.testing.assert_close(dictionary_step(Y, z, W).norm(dim=0), torch.ones(30, dtype=Y.dtype))
    assert torch.equal(dictionary_step(Y, torch.zeros_like(z), W), normalize_columns(W))
    # The step is s / L_W with L_W = 2 ‖zᵀz / B‖₂, the spectral norm.
    G = -(2 / 64) * (Y - z @ W.T).T @ z
    L_W = 2 * torch.linalg.matrix_norm(z.T @ z / 64, ord=2)
    torch.testing.assert_close(dictionary_step(Y, z, W, step_scale=0.7, normalize=False), W - 0.7 / L_W * G)


@pytest.mark.parametrize("args, kwargs, name", [
    (("Y", "z5", "W"), {}, "'z'"),
    (("Y", "z", "W.T"), {}, "'y' and 'W'"),
    (("Y", "z32", "W"), {}, "'z' and 'y'"),
    (("Y", "z", "W"), {"step_scale": 0}, "'step_scale'"),
    (("Y", "z", "W"), {"normalize": "yes"}, "'normalize'"),
])
def test_dictionary_step_names_the_bad_argument(args, kwargs, name):
    Y, W = planted_problem(N=64)
    z = torch.zeros(64, 30, dtype=Y.dtype)
    values = {"Y": Y, "W": W, "W.T": W.T, "z": z, "z5": z[:, :5], "z32": z.float()}
    with pytest.raises(InvalidArgumentError, match=name):
        dictionary_step(*(values[a] for a in args), **kwargs)


def test_learn_dictionary_takes_its_steps_with_the_dictionary_step(monkeypatch):
    """Every step of learn_dictionary is the dictionary step (normalize=False), then the
    resampling and the renormalisation."""
    Y, _ = planted_problem(N=400)
    calls = []
    step = dictionary._dictionary_step

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return step(*args, **kwargs)

    monkeypatch.setattr(dictionary, "_dictionary_step", counting)
    W_counted, _ = learn_dictionary(Y, 30, 0.2, steps=7, batch_size=32, seed=4)
    assert len(calls) == 7 and all(kw["normalize"] is False for kw in calls)
    monkeypatch.undo()
    torch.testing.assert_close(W_counted, learn_dictionary(Y, 30, 0.2, steps=7, batch_size=32, seed=4)[0])


def test_check_dictionary_step_accepts_the_rule_and_names_mistakes():
    from ebmlib.checks import check_dictionary_step

    def right(y, z, W, s):
        B = y.shape[0]
        G = -(2 / B) * (y - z @ W.T).T @ z
        L = 2 * torch.linalg.matrix_norm(z.T @ z / B, ord=2)
        W = W - s / L * G
        return W / W.norm(dim=0)

    def no_norm(y, z, W, s):
        B = y.shape[0]
        G = -(2 / B) * (y - z @ W.T).T @ z
        return W - s / (2 * torch.linalg.matrix_norm(z.T @ z / B, ord=2)) * G

    def todo(y, z, W, s):
        raise NotImplementedError

    assert check_dictionary_step(right)
    bad = check_dictionary_step(no_norm)
    assert not bad and "renormalised" in bad.text["en"] and "renormalisés" in bad.text["fr"]
    assert not check_dictionary_step(todo)
