"""The LISTA chapter's checkers accept right answers and name the mistakes a student makes."""

import pytest
import torch

from ebmlib.checks import check_amortisation_prediction, check_lista_bptt, check_lista_gradients
from ebmlib.solvers import shrink as h

# -- K = 1: the gradients of the code-prediction loss (derivation) ------------------------

def gradients_by_hand(y, z_star, W_e, theta, *, mask=True, sign=True, factor=2.0, mean=True,
                      theta_sign=-1.0):
    B = len(y) if mean else 1
    b = y @ W_e
    z = h(b, theta)
    delta = factor * (z - z_star) / B
    if mask:
        delta = delta * (b.abs() > theta).to(y.dtype)
    along = torch.sign(b) if sign else torch.ones_like(b)
    return y.T @ delta, theta_sign * (delta * along).sum(0)


def gradients_by_autograd(y, z_star, W_e, theta):
    W_e, theta = W_e.requires_grad_(), theta.requires_grad_()
    loss = (h(y @ W_e, theta) - z_star).pow(2).sum(1).mean()
    return torch.autograd.grad(loss, (W_e, theta))


def gradients_mean_twice(y, z_star, W_e, theta):
    """θ's gradient averaged over the batch although δ already holds the 1/B."""
    b = y @ W_e
    delta = 2 * (h(b, theta) - z_star) / len(y) * (b.abs() > theta)
    return y.T @ delta, -(delta * torch.sign(b)).mean(0)


def gradients_mse_loss(y, z_star, W_e, theta):
    """Autograd on F.mse_loss, which averages over the m components too."""
    W_e, theta = W_e.requires_grad_(), theta.requires_grad_()
    loss = torch.nn.functional.mse_loss(h(y @ W_e, theta), z_star)
    return torch.autograd.grad(loss, (W_e, theta))


def gradients_per_sample(y, z_star, W_e, theta):
    """θ's gradient left with one row per sample."""
    b = y @ W_e
    delta = 2 * (h(b, theta) - z_star) / len(y) * (b.abs() > theta)
    return y.T @ delta, -delta * torch.sign(b)


@pytest.mark.parametrize("right", [gradients_by_hand, gradients_by_autograd])
@pytest.mark.parametrize("lang", ["en"], indirect=True)
def test_gradients_accept_two_right_answers(lang, right):
    feedback = check_lista_gradients(right)
    assert feedback, feedback
    assert "S gets no gradient" in str(feedback)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda *a: gradients_by_hand(*a, theta_sign=1.0), "wrong sign: raising θ_j",
     "mauvais signe : augmenter θ_j"),
    (lambda *a: gradients_by_hand(*a, sign=False), "misses sign(b)", "Il manque sign(b)"),
    (lambda *a: gradients_by_hand(*a, mask=False), "grad_W_e lets the gradient through the "
     "inactive units", "grad_W_e laisse passer le gradient par les unités inactives"),
    (lambda *a: gradients_by_hand(*a, factor=1.0), "half the right value",
     "la moitié de la bonne valeur"),
    (lambda *a: gradients_by_hand(*a, mean=False), "the mean over the batch, not the sum",
     "la moyenne sur le lot, pas la somme"),
    (lambda *a: (gradients_by_hand(*a)[0].T, gradients_by_hand(*a)[1]), "shape of W_eᵀ",
     "la forme de W_eᵀ"),
    (lambda *a: (gradients_by_hand(*a)[0], gradients_by_hand(*a)[1] + 0.01),
     "grad_theta is wrong at 8 of its 8 entries", "grad_theta est faux en 8 de ses 8"),
    (lambda *a: gradients_by_hand(*a)[0], "Return 2 things", "Renvoyez 2 objets"),
    (gradients_mean_twice, "grad_theta is B = 6 times too small: the 1/B of the mean is already",
     "grad_theta est B = 6 fois trop petit : le 1/B de la moyenne est déjà"),
    (gradients_mse_loss, "grad_W_e is m = 8 times too small", "grad_W_e est m = 8 fois trop petit"),
    (gradients_per_sample, "grad_theta has one row per sample", "grad_theta a une ligne pour chaque"),
])
def test_gradients_name_the_mistake(lang, wrong, en, fr):
    feedback = check_lista_gradients(wrong)
    assert not feedback
    assert (en if lang == "en" else fr) in str(feedback), str(feedback)


@pytest.mark.parametrize("lang", ["fr"], indirect=True)
def test_gradients_report_the_stub(lang):
    def stub(y, z_star, W_e, theta):
        raise NotImplementedError

    feedback = check_lista_gradients(stub)
    assert not feedback and "Pas encore implémenté" in str(feedback)


# -- K = 2: back-propagation through time by hand (implementation) -------------------------

def bptt_by_hand(y, z_star, W_e, S, theta, *, layer1=True, layer2=True, S_T=False,
                 theta_layers=(1, 2), loss_layers=2):
    B = len(y)
    b = y @ W_e
    z1 = h(b, theta)
    a1 = (b.abs() > theta).to(y.dtype)
    v2 = b + z1 @ S.T
    z2 = h(v2, theta)
    a2 = (v2.abs() > theta).to(y.dtype)
    loss = ((z2 if loss_layers == 2 else z1) - z_star).pow(2).sum(1).mean()
    d2 = 2 * (z2 - z_star) / B * a2  # ∂ℓ/∂v(2)
    d1 = (d2 @ (S.T if S_T else S)) * a1  # ∂ℓ/∂b through z(1)
    g_W = y.T @ ((d2 if layer2 else 0) + (d1 if layer1 else 0))
    g_t = torch.zeros_like(theta)
    if 2 in theta_layers:
        g_t = g_t - (d2 * torch.sign(v2)).sum(0)
    if 1 in theta_layers:
        g_t = g_t - (d1 * torch.sign(b)).sum(0)
    return loss, g_W, d2.T @ z1, g_t


def bptt_by_autograd(y, z_star, W_e, S, theta):
    params = [p.requires_grad_() for p in (W_e, S, theta)]
    b = y @ params[0]
    z = h(b + h(b, params[2]) @ params[1].T, params[2])
    loss = (z - z_star).pow(2).sum(1).mean()
    return (loss.detach(), *torch.autograd.grad(loss, params))


def bptt_mse_loss(y, z_star, W_e, S, theta):
    """Autograd on F.mse_loss: the loss is averaged over the m components too."""
    params = [p.requires_grad_() for p in (W_e, S, theta)]
    b = y @ params[0]
    loss = torch.nn.functional.mse_loss(h(b + h(b, params[2]) @ params[1].T, params[2]), z_star)
    return (loss.detach(), *torch.autograd.grad(loss, params))


@pytest.mark.parametrize("right", [bptt_by_hand, bptt_by_autograd])
@pytest.mark.parametrize("lang", ["en"], indirect=True)
def test_bptt_accepts_two_right_answers(lang, right):
    feedback = check_lista_bptt(right)
    assert feedback, feedback
    assert "20 steps of gradient descent" in str(feedback)


def transpose(i):
    def wrong(*a):
        out = list(bptt_by_hand(*a))
        out[i] = out[i].T
        return tuple(out)
    return wrong


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda *a: bptt_by_hand(*a, layer1=False), "grad_W_e has only layer 2's share",
     "grad_W_e ne contient que la part de la couche 2"),
    (lambda *a: bptt_by_hand(*a, layer2=False), "grad_W_e has only layer 1's share",
     "grad_W_e ne contient que la part de la couche 1"),
    (lambda *a: bptt_by_hand(*a, S_T=True), "goes back through S the wrong way",
     "remonte à travers S dans le mauvais sens"),
    (lambda *a: bptt_by_hand(*a, theta_layers=(2,)), "grad_theta has only layer 2's share",
     "grad_theta ne contient que la part de la couche 2"),
    (lambda *a: bptt_by_hand(*a, theta_layers=(1,)), "grad_theta has only layer 1's share",
     "grad_theta ne contient que la part de la couche 1"),
    (transpose(2), "grad_S is transposed", "grad_S est transposé"),
    (lambda *a: bptt_by_hand(*a, loss_layers=1), "loss is that of one layer",
     "perte est celle d'une seule couche"),
    (lambda *a: (bptt_by_hand(*a)[0] * len(a[0]), *bptt_by_hand(*a)[1:]), "sum over the batch",
     "somme sur le lot"),
    (lambda *a: bptt_by_hand(*a)[1:], "Return 4 things", "Renvoyez 4 objets"),
    (bptt_mse_loss, "mean over all B·m entries", "moyenne sur les B·m composantes"),
])
def test_bptt_names_the_mistake(lang, wrong, en, fr):
    feedback = check_lista_bptt(wrong)
    assert not feedback
    assert (en if lang == "en" else fr) in str(feedback), str(feedback)


# -- The amortisation gap under noise (exploration) -----------------------------------------

# What the chapter measures with σ = 0.2 (LISTA's error, FISTA's error with K iterations):
DEEPER_LOSES_MORE = {1: (0.36, 0.85), 2: (0.44, 0.77), 4: (0.67, 0.64), 8: (1.04, 0.45)}
DEEPER_RESISTS = {1: (0.80, 0.85), 2: (0.50, 0.77), 4: (0.30, 0.64), 8: (0.15, 0.45)}
ALL_ALIKE = {1: (0.40, 0.85), 2: (0.37, 0.77), 4: (0.33, 0.64), 8: (0.22, 0.45)}


@pytest.mark.parametrize("errors, answer", [
    (DEEPER_LOSES_MORE, "c"), (DEEPER_RESISTS, "a"), (ALL_ALIKE, "b"),
])
def test_prediction_is_judged_by_the_measurement(lang, errors, answer):
    assert check_amortisation_prediction(answer, 0.2, errors)
    assert check_amortisation_prediction(f"({answer.upper()})", 0.2, errors)
    for other in {"a", "b", "c"} - {answer}:
        feedback = check_amortisation_prediction(other, 0.2, errors)
        assert not feedback
        assert ("Not what you measured" if lang == "en" else "Ce n'est pas ce que") in str(feedback)


def test_prediction_names_the_networks_worse_than_fista(lang):
    feedback = check_amortisation_prediction("a", 0.2, DEEPER_LOSES_MORE)
    assert not feedback
    text = str(feedback)
    if lang == "en":
        assert "more of its advantage" in text and "With K = 4 and 8, LISTA even does worse" in text
        assert "0.42 (K = 1)" in text
    else:
        assert "plus il perd de son avantage" in text and "Avec K = 4 et 8, LISTA fait même" in text
        assert "0,42 (K = 1)" in text


# The errors on the clean test digits (the student forgot to add the noise)
CLEAN = {1: (0.175, 0.839), 2: (0.125, 0.762), 4: (0.112, 0.622), 8: (0.115, 0.430)}


@pytest.mark.parametrize("prediction, sigma, errors, en, fr", [
    (None, 0.2, DEEPER_LOSES_MORE, "Choose your prediction first", "Choisissez d'abord"),
    ("d", 0.2, DEEPER_LOSES_MORE, 'The answer for "prediction" must be "a", "b" or "c"; received \'d\'',
     'La réponse pour "prediction" doit être "a", "b" ou "c" ; reçue : \'d\''),
    ("(ab)", 0.2, DEEPER_LOSES_MORE, 'must be "a", "b" or "c"', 'doit être "a", "b" ou "c"'),
    (3, 0.2, DEEPER_LOSES_MORE, 'must be "a", "b" or "c"', 'doit être "a", "b" ou "c"'),
    ("c", 0.2, None, "Now measure", "Mesurez maintenant"),
    ("c", 0.05, DEEPER_LOSES_MORE, "too weak", "trop faible"),
    ("c", 0.2, {1: (0.4, 0.8)}, "at least two depths", "au moins deux"),
    ("c", 0.2, [0.4, 0.8], "must be the dictionary", "doit être le dictionnaire"),
    ("c", 0.2, {1: (0.4, 0.8), 4: (0.8, 0.8), 8: (0.5, 0.8)}, "does not decide", "ne tranche pas"),
    ("c", 0.2, CLEAN, "measured on the noisy digits", "mesuré sur les chiffres bruités"),
])
def test_prediction_explains_what_is_missing(lang, prediction, sigma, errors, en, fr):
    feedback = check_amortisation_prediction(prediction, sigma, errors)
    assert not feedback
    assert (en if lang == "en" else fr) in str(feedback), str(feedback)
