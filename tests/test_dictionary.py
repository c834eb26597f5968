"""ebmlib.dictionary: minibatch dictionary learning with column renormalisation."""

import pytest
import torch

from ebmlib.dictionary import learn_dictionary, mean_free_energy, normalize_columns


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


def test_normalize_columns_gives_unit_columns(device):
    W = torch.randn(5, 7, device=device) * torch.arange(1, 8, device=device)
    norms = normalize_columns(W).norm(dim=0)
    torch.testing.assert_close(norms, torch.ones(7, device=device))


def test_recovers_a_planted_dictionary(device):
    Y, W_true = planted_problem()
    Y, W_true = Y.to(device), W_true.to(device)
    W, curve = learn_dictionary(Y, 30, 0.1, n_steps=600, batch_size=256, Y_val=Y[:300],
                                eval_every=100, progress=False, seed=1)
    assert W.shape == (20, 30) and W.device.type == device.type and W.dtype == Y.dtype
    torch.testing.assert_close(W.norm(dim=0), torch.ones(30, device=device, dtype=Y.dtype))
    best = (W_true.T @ W).abs().max(dim=1).values  # best |cosine| for every true atom
    assert float((best > 0.95).float().mean()) >= 0.9, best
    assert curve.val_energy[-1] < curve.val_energy[0]
    assert curve.step[-1] == 600 and curve.seconds == sorted(curve.seconds)


def test_without_normalisation_the_columns_grow_and_the_penalty_fades():
    """The lecture's warning: scale W_d up and z down, and λ‖z‖₁ loses its grip."""
    Y, _ = planted_problem(N=1000)
    lam = 0.5
    W_free, _ = learn_dictionary(Y, 30, lam, n_steps=400, normalize=False, resample_unused=False,
                                 progress=False)
    W_norm, _ = learn_dictionary(Y, 30, lam, n_steps=400, normalize=True, resample_unused=False,
                                 progress=False)
    assert float(W_free.norm(dim=0).mean()) > 1.5
    from ebmlib.solvers import fista
    z_free, _ = fista(Y[:200], W_free, lam, max_iter=300)
    z_norm, _ = fista(Y[:200], W_norm, lam, max_iter=300)
    assert float(z_free.abs().sum(1).mean()) < 0.7 * float(z_norm.abs().sum(1).mean())


def test_progress_bar_can_be_switched_off(capsys):
    Y, _ = planted_problem(N=200)
    learn_dictionary(Y, 30, 0.1, n_steps=3, progress=False)
    assert "dictionary" not in capsys.readouterr().err
    learn_dictionary(Y, 30, 0.1, n_steps=3, progress=True)
    assert "dictionary" in capsys.readouterr().err


def test_is_reproducible_with_a_seed():
    Y, _ = planted_problem(N=300)
    W1, _ = learn_dictionary(Y, 30, 0.1, n_steps=20, progress=False, seed=3)
    W2, _ = learn_dictionary(Y, 30, 0.1, n_steps=20, progress=False, seed=3)
    torch.testing.assert_close(W1, W2)


def test_mean_free_energy_is_the_mean_of_the_fista_energies():
    Y, W = planted_problem(N=50)
    from ebmlib.solvers import fista
    _, trace = fista(Y, W, 0.2, max_iter=200, tol=1e-5)
    assert mean_free_energy(Y, W, 0.2, batch_size=7) == pytest.approx(float(trace[-1].mean()), rel=1e-6)


@pytest.mark.parametrize("kwargs, name", [
    ({"lam": -1.0}, "'lam'"),
    ({"m": 0}, "'m'"),
    ({"n_steps": 0}, "'n_steps'"),
    ({"batch_size": 0}, "'batch_size'"),
    ({"step_scale": 0.0}, "'step_scale'"),
    ({"W0": torch.zeros(3, 3)}, "'W0'"),
    ({"Y_val": torch.zeros(4, 3)}, "'Y_val'"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"Y": torch.randn(10, 5), "m": 4, "lam": 0.1, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=name):
        learn_dictionary(**args)


def test_rejects_nan_data():
    Y = torch.randn(10, 5)
    Y[3, 2] = float("nan")
    with pytest.raises(ValueError, match="'Y'.*finite"):
        learn_dictionary(Y, 4, 0.1, progress=False)


def test_one_step_of_learn_dictionary_is_dictionary_step():
    """learn_dictionary(n_steps=1) = FISTA on its minibatch, then dictionary_step."""
    from ebmlib.dictionary import dictionary_step
    from ebmlib.solvers import fista

    Y, _ = planted_problem(N=500)
    W0 = normalize_columns(torch.randn(20, 30, generator=torch.Generator().manual_seed(7), dtype=Y.dtype))
    W1, _ = learn_dictionary(Y, 30, 0.2, n_steps=1, batch_size=64, W0=W0, inner_iter=15, step_scale=1.5,
                             resample_unused=False, progress=False, seed=3)
    idx = torch.randint(500, (64,), generator=torch.Generator().manual_seed(3))
    z, _ = fista(Y[idx], W0, 0.2, z0=torch.zeros(64, 30, dtype=Y.dtype), max_iter=15, tol=1e-4)
    torch.testing.assert_close(W1, dictionary_step(Y[idx], z, W0, step_scale=1.5))


def test_dictionary_step_lowers_the_minibatch_energy_below_step_scale_2():
    from ebmlib.dictionary import dictionary_step

    Y, _ = planted_problem(N=64)
    g = torch.Generator().manual_seed(8)
    W = normalize_columns(torch.randn(20, 30, generator=g, dtype=Y.dtype))
    z = torch.randn(64, 30, generator=g, dtype=Y.dtype) * (torch.rand(64, 30, generator=g) < 0.2)

    def fit(W):
        return float(((Y - z @ W.T) ** 2).sum(1).mean())

    for s in (0.5, 1.0, 1.9):
        assert fit(dictionary_step(Y, z, W, step_scale=s, normalize=False)) < fit(W)
    torch.testing.assert_close(dictionary_step(Y, z, W).norm(dim=0), torch.ones(30, dtype=Y.dtype))
    assert torch.equal(dictionary_step(Y, torch.zeros_like(z), W), normalize_columns(W))
    with pytest.raises(ValueError, match="'z'"):
        dictionary_step(Y, z[:, :5], W)


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


def test_learn_dictionary_takes_its_steps_with_dictionary_step(monkeypatch):
    """Every step of learn_dictionary is dictionary_step (normalize=False), then the
    resampling and the renormalisation: a hand-written loop gives the same dictionary."""
    import ebmlib.dictionary as dictionary
    from ebmlib.solvers import fista

    Y, _ = planted_problem(N=400)
    W0 = normalize_columns(torch.randn(20, 30, generator=torch.Generator().manual_seed(5), dtype=Y.dtype))
    W_lib, _ = learn_dictionary(Y, 30, 0.2, n_steps=5, batch_size=32, W0=W0, inner_iter=8, step_scale=1.2,
                                resample_unused=False, progress=False, seed=4)
    g = torch.Generator().manual_seed(4)
    codes, W = torch.zeros(400, 30, dtype=Y.dtype), W0.clone()
    for _ in range(5):
        idx = torch.randint(400, (32,), generator=g)
        z, _ = fista(Y[idx], W, 0.2, z0=codes[idx], max_iter=8, tol=1e-4)
        codes[idx] = z
        W = normalize_columns(dictionary.dictionary_step(Y[idx], z, W, step_scale=1.2, normalize=False))
    torch.testing.assert_close(W_lib, W)

    calls = []
    step = dictionary.dictionary_step

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return step(*args, **kwargs)

    monkeypatch.setattr(dictionary, "dictionary_step", counting)
    W_counted, _ = learn_dictionary(Y, 30, 0.2, n_steps=7, batch_size=32, progress=False, seed=4)
    assert len(calls) == 7 and all(kw["normalize"] is False for kw in calls)
    monkeypatch.undo()
    torch.testing.assert_close(W_counted, learn_dictionary(Y, 30, 0.2, n_steps=7, batch_size=32,
                                                           progress=False, seed=4)[0])
