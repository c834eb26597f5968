"""The checkers of the convolutional chapter accept right answers and name the wrong ones."""

import math

import pytest
import torch
from torch.nn import functional as F

from ebmlib.checks import (
    check_conv_adjoint,
    check_conv_energy,
    check_conv_fista_step,
    check_conv_lipschitz,
    check_lambda_kernels,
)
from ebmlib.conv import conv_energy, decode, decode_adjoint, normalize_kernels


def said(feedback):
    """The feedback's text in English and in French."""
    return feedback.text["en"], feedback.text["fr"]


# -- the energy (implementation) -----------------------------------------------------------

def energy_by_hand(y, K, z, lam, *, half=0.5, lam_half=1.0, reduce="sum"):
    """The energy, with knobs that reproduce the classic mistakes (defaults: right)."""
    sq, l1 = (y - decode(z, K)).pow(2), z.abs()
    if reduce == "mean":
        sq, l1 = sq.mean((1, 2, 3)), l1.mean((1, 2, 3))
    else:
        sq, l1 = sq.sum((1, 2, 3)), l1.sum((1, 2, 3))
    return half * sq + lam_half * lam * l1


def energy_image_by_image(y, K, z, lam):
    """Another right answer: one image at a time, with the library's energy."""
    return torch.stack([conv_energy(y[b:b + 1], K, z[b:b + 1], lam)[0] for b in range(len(y))])


@pytest.mark.parametrize("right", [energy_by_hand, conv_energy, energy_image_by_image])
def test_energy_accepts_right_answers(right):
    assert check_conv_energy(right)


@pytest.mark.parametrize("knobs, en, fr", [
    (dict(half=1.0), "You forgot the ½", "Vous avez oublié le ½"),
    (dict(lam_half=0.5), "you halved λ Σ_i ‖Z_i‖₁ too", "vous avez aussi divisé λ Σ_i ‖Z_i‖₁ par deux"),
    (dict(reduce="mean"), "You averaged both terms", "Vous avez pris la moyenne des deux termes"),
    (dict(lam_half=0.0), "the reconstruction term alone", "le terme de reconstruction seul"),
    (dict(half=0.3), "Wrong value: for image", "Valeur fausse : pour l'image"),
])
def test_energy_names_the_mistake(knobs, en, fr):
    feedback = check_conv_energy(lambda *args: energy_by_hand(*args, **knobs))
    assert not feedback
    text_en, text_fr = said(feedback)
    assert en in text_en, text_en
    assert fr in text_fr, text_fr
    if "Wrong value" in text_en:
        assert "." in text_en.split("give")[1] and "," in text_fr.split("donnez")[1]  # 1.5 / 1,5


def test_energy_names_a_mean_of_the_squared_error():
    def mean_error(y, K, z, lam):
        return 0.5 * (y - decode(z, K)).pow(2).mean((1, 2, 3)) + lam * z.abs().sum((1, 2, 3))

    text_en, text_fr = said(check_conv_energy(mean_error))
    assert "You averaged the squared error over the pixels" in text_en
    assert "Vous avez pris la moyenne de l'erreur quadratique sur les pixels" in text_fr


# -- the Lipschitz constant in the Fourier domain (derivation) ------------------------------

def lipschitz_by_fft(K, size):
    return float(torch.fft.fft2(K[:, 0], s=size).abs().pow(2).sum(0).max())


def lipschitz_by_rfft(K, size):
    """Another right answer: the half spectrum of a real signal holds every gain."""
    return torch.fft.rfft2(K, s=size).abs().pow(2).sum((0, 1)).max()  # a tensor, accepted


def lipschitz_by_power_iteration(K, size):
    """Another right answer: ‖D‖² measured on the circular operator itself."""
    z = torch.randn(1, K.shape[0], *size, generator=torch.Generator().manual_seed(0), dtype=K.dtype)
    for _ in range(3000):
        z = decode_adjoint(decode(z, K, "circular"), K, "circular")
        z = z / z.norm()
    return float(decode(z, K, "circular").pow(2).sum())


@pytest.mark.parametrize("right", [lipschitz_by_fft, lipschitz_by_rfft])
def test_lipschitz_accepts_right_answers(right):
    assert check_conv_lipschitz(right)


def test_lipschitz_is_the_norm_of_the_operator():
    # The checker's value is ‖D‖², which power iteration reaches from below.
    g = torch.Generator().manual_seed(7)
    K = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64)
    K = K - K.mean((-2, -1), keepdim=True)
    for size in ((16, 12), (9, 14)):
        assert abs(lipschitz_by_power_iteration(K, size) / lipschitz_by_fft(K, size) - 1) < 1e-4


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda K, size: float(torch.fft.fft2(K[:, 0]).abs().pow(2).sum(0).max()),
     "Pad the kernels to the image size (s=size)", "Complétez les noyaux par des zéros"),
    (lambda K, size: lipschitz_by_fft(K, size) ** 0.5, "This is ‖D‖, the largest gain",
     "C'est ‖D‖, le plus grand gain"),
    (lambda K, size: float(torch.fft.fft2(K[:, 0], s=size, norm="ortho").abs().pow(2).sum(0).max()),
     "With norm='ortho'", "Avec norm='ortho'"),
    (lambda K, size: float(torch.fft.fft2(K[:, 0], s=size).abs().pow(2).sum()),
     "sum of Σ_i |K̂_i(f)|² over all frequencies", "somme de Σ_i |K̂_i(f)|² sur toutes les fréquences"),
    (lambda K, size: float(torch.fft.fft2(K[:, 0], s=size).abs().pow(2).amax(0).max()),
     "Sum over the kernels at each frequency", "Sommez sur les noyaux à chaque fréquence"),
    (lambda K, size: float(torch.fft.fft2(K[:, 0], s=size).sum(0).abs().pow(2).max()),
     "not the transforms themselves", "et non les transformées elles-mêmes"),
    (lambda K, size: 1.1 * lipschitz_by_fft(K, size), "For images of 16 × 12 you give",
     "Pour des images de 16 × 12, vous donnez"),
    (lambda K, size: lipschitz_by_fft(K, size) if size == (16, 12) else 0.0, "For images of 9 × 14",
     "Pour des images de 9 × 14"),
])
def test_lipschitz_names_the_mistake(wrong, en, fr):
    feedback = check_conv_lipschitz(wrong)
    assert not feedback
    text_en, text_fr = said(feedback)
    assert en in text_en, text_en
    assert fr in text_fr, text_fr


def test_lipschitz_stub_is_not_implemented():
    def stub(K, size):
        raise NotImplementedError

    text_en, text_fr = said(check_conv_lipschitz(stub))
    assert "Not implemented" in text_en and "Pas encore implémenté" in text_fr


# -- the adjoint (derivation) -----------------------------------------------------------

def adjoint_by_correlation(r, K):
    return F.conv2d(r, K, padding=K.shape[-1] - 1)  # conv2d is a correlation


def adjoint_by_autograd(r, K):
    """Dᵀ r is the gradient in z of ⟨D z, r⟩."""
    k = K.shape[-1]
    z = torch.zeros(r.shape[0], K.shape[0], r.shape[-2] + k - 1, r.shape[-1] + k - 1,
                    dtype=r.dtype, requires_grad=True)
    (decode(z, K) * r).sum().backward()
    return z.grad


@pytest.mark.parametrize("right", [adjoint_by_correlation, adjoint_by_autograd, decode_adjoint])
def test_adjoint_accepts_right_answers(right):
    assert check_conv_adjoint(right)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda r, K: F.conv2d(r, K.flip(-2, -1), padding=K.shape[-1] - 1),
     "You convolved r", "Vous avez convolué r"),
    (lambda r, K: F.conv2d(r, K.transpose(-2, -1), padding=K.shape[-1] - 1),
     "You transposed every kernel", "Vous avez transposé chaque noyau"),
    (lambda r, K: F.conv2d(r, K, padding=(K.shape[-1] - 1) // 2),
     "the size of the image", "la taille de l'image"),
    (lambda r, K: F.conv2d(r, K), "without padding ('valid')", "sans remplissage (« valid »)"),
    (lambda r, K: adjoint_by_correlation(r, K) / 9.0, "wrong scale", "mauvaise échelle"),
    (lambda r, K: F.conv2d(F.pad(r, (0, 2 * K.shape[-1] - 2, K.shape[-1] - 1, K.shape[-1] - 1)), K),
     "shifted by (0, −4)", "décalées de (0, −4)"),
    (lambda r, K: F.conv2d(r.sum(1, keepdim=True), K.sum(1, keepdim=True), padding=K.shape[-1] - 1)
     + 0.01 * r.mean(), "Keep going: for random maps z", "Pas encore : pour des cartes z aléatoires"),
    (lambda r, K: torch.cat([F.conv2d(r[:, c:c + 1], K[:, c:c + 1], padding=K.shape[-1] - 1)
                             for c in range(r.shape[1])], dim=1),  # one map per (kernel, channel)
     "one map per kernel", "une carte par noyau"),
])
def test_adjoint_names_the_mistake(wrong, en, fr):
    feedback = check_conv_adjoint(wrong)
    assert not feedback
    text_en, text_fr = said(feedback)
    assert en in text_en, text_en
    assert fr in text_fr, text_fr


def test_adjoint_stub_is_not_implemented():
    def stub(r, K):
        raise NotImplementedError

    text_en, text_fr = said(check_conv_adjoint(stub))
    assert "Not implemented" in text_en and "Pas encore implémenté" in text_fr


# -- one step of FISTA on feature maps (implementation) -----------------------------------

def h(v, theta):
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)


def fista_step(x_prev, v, t, y, K, lam, L, *, threshold=None, sign=1.0, step=None, momentum=True,
               weight=None, t_rule=None, adjoint=True, start="v", residual_y=True, shrink=h):
    """A FISTA step with knobs that reproduce the classic mistakes (defaults: right)."""
    base = v if start == "v" else x_prev
    residual = decode(base, K) - (y if residual_y else 0)
    grad = decode_adjoint(residual, K) if adjoint else residual
    step = 1 / L if step is None else step
    x = shrink(base - sign * step * grad, lam / L if threshold is None else threshold)
    t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2 if t_rule is None else t_rule(t)
    beta = (t - 1) / t_next if weight is None else weight(t, t_next)
    return x, (x + beta * (x - x_prev)) if momentum else x, t_next


def fista_step_with_conv2d(x_prev, v, t, y, K, lam, L):
    """Another right answer: D with conv2d on flipped kernels, Dᵀ a correlation, torch's softshrink."""
    k = K.shape[-1]
    Dv = F.conv2d(v, K.transpose(0, 1).flip(-2, -1))
    x = F.softshrink(v - F.conv2d(Dv - y, K, padding=k - 1) / L, lam / L)
    t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
    return x, torch.lerp(x_prev, x, 1 + (t - 1) / t_next), torch.tensor(t_next)


@pytest.mark.parametrize("right", [fista_step, fista_step_with_conv2d])
def test_fista_step_accepts_right_answers(right):
    assert check_conv_fista_step(right)


@pytest.mark.parametrize("knobs, en, fr", [
    (dict(threshold=1.0), "Iteration 1: Shrink by λ/L, not by λ", "Itération 1 : rétrécissez de λ/L"),
    (dict(sign=-1.0), "Step down the gradient", "le pas descend le gradient"),
    (dict(step=1.0), "The gradient step has size 1/L", "le pas de gradient a pour taille 1/L"),
    (dict(step=None, sign=2.0), "has a ½", "a un ½"),
    (dict(residual_y=False), "you forgot y", "vous avez oublié y"),
    (dict(adjoint=False), "apply decode_adjoint to the residual", "appliquez decode_adjoint au résidu"),
    (dict(start="x_prev"), "starts from the extrapolated point v", "part du point extrapolé v"),
    (dict(momentum=False), "no momentum. This is ISTA", "pas d'inertie. C'est ISTA"),
    (dict(weight=lambda t, t_next: (t - 1) / t), "not (t − 1)/t", "et non (t − 1)/t"),
    (dict(weight=lambda t, t_next: -(t - 1) / t_next), "the wrong way", "du mauvais côté"),
    (dict(t_rule=lambda t: t), "t does not change", "t ne change pas"),
    (dict(t_rule=lambda t: t + 1), "you give 2.0000", "vous donnez 2,0000"),
    (dict(shrink=lambda u, theta: torch.clamp(u - theta, min=0)), "keeps only the positive part (a ReLU)",
     "votre rétrécissement ne garde que la partie positive (une ReLU)"),
    (dict(shrink=lambda u, theta: torch.clamp(u.abs() - theta, min=0)), "Your shrinkage lost the sign",
     "votre rétrécissement a perdu le signe"),
])
def test_fista_step_names_the_mistake(knobs, en, fr):
    feedback = check_conv_fista_step(lambda *args: fista_step(*args, **knobs))
    assert not feedback
    text_en, text_fr = said(feedback)
    assert en in text_en, text_en
    assert fr in text_fr, text_fr


def test_fista_step_points_at_the_wrong_entries():
    def off(*args):
        x, v, t = fista_step(*args)
        x = x.clone()
        x[1, 2, 3, 4] += 0.5
        return x, v, t

    text_en, text_fr = said(check_conv_fista_step(off))
    assert "at iteration 1 your x differs from conv_fista's at 1 of" in text_en
    assert "image 1, map 2, at (3, 4)" in text_en
    assert "l'image 1, carte 2, en (3, 4)" in text_fr


def test_fista_step_wants_three_values():
    text_en, text_fr = said(check_conv_fista_step(lambda *args: fista_step(*args)[0]))
    assert "(x, v_next, t_next)" in text_en and "Renvoyez les trois valeurs" in text_fr


# -- how λ shapes the kernels (exploration) -----------------------------------------------

def gabors(n, frequency, sigma, phase=0.0):
    """n grey 9 × 9 Gabor kernels at n orientations, normalised: (n, 1, 9, 9)."""
    x = torch.arange(9, dtype=torch.float64) - 4
    yy, xx = torch.meshgrid(x, x, indexing="ij")
    out = []
    for i in range(n):
        a = math.pi * i / n
        u = xx * math.cos(a) + yy * math.sin(a)
        envelope = torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))
        out.append(envelope * torch.cos(2 * math.pi * frequency * u + phase))
    return normalize_kernels(torch.stack(out)[:, None])


NOISE = normalize_kernels(torch.randn(8, 1, 9, 9, generator=torch.Generator().manual_seed(0),
                                      dtype=torch.float64))
EDGES = gabors(8, 0.25, 1.5, phase=math.pi / 2)  # small, localised edges
BROAD = gabors(8, 0.12, 4.0, phase=math.pi / 2)  # long, smooth edges that fill the kernel
KERNELS = {0.1: NOISE, 2.0: EDGES, 8.0: BROAD}


def test_lambda_kernels_accepts_the_measured_answer():
    feedback = check_lambda_kernels({0.1: " b", 8: "(C)"}, KERNELS)  # 8 == 8.0; any case, parentheses
    assert feedback
    text_en, text_fr = said(feedback)
    assert "Right for λ = 0.1: the measurement says (b)" in text_en
    assert "Juste pour λ = 0,1 : la mesure dit (b)" in text_fr
    assert check_lambda_kernels({0.1: "b", 8.0: "c"}, KERNELS.get)  # a function λ ↦ kernels


@pytest.mark.parametrize("prediction, en, fr", [
    ({0.1: "a", 8.0: "c"}, "Not for λ = 0.1: you predicted (a), but the measurement says (b)",
     "Pas pour λ = 0,1 : vous aviez prédit (a), mais la mesure dit (b)"),
    ({0.1: "b", 8.0: "a"}, "Not for λ = 8: you predicted (a), but the measurement says (c)",
     "Pas pour λ = 8 : vous aviez prédit (a), mais la mesure dit (c)"),
    ({0.1: "?", 8.0: "c"}, "The answer for \"0.1\" must be one of the letters a, b, c, d; received '?'",
     "La réponse pour \"0.1\" doit être l'une des lettres a, b, c, d ; reçue : '?'"),
    ({8.0: "c"}, "Return a dict with two answers", "Renvoyez un dictionnaire de deux réponses"),
    ("b, c", "Return a dict with two answers", "Renvoyez un dictionnaire de deux réponses"),
])
def test_lambda_kernels_explains_a_wrong_prediction(prediction, en, fr):
    feedback = check_lambda_kernels(prediction, KERNELS)
    assert not feedback
    text_en, text_fr = said(feedback)
    assert en in text_en, text_en
    assert fr in text_fr, text_fr


def test_lambda_kernels_measures_what_it_is_given():
    same = normalize_kernels(EDGES[:1].repeat(8, 1, 1, 1))
    feedback = check_lambda_kernels({0.1: "b", 8.0: "c"}, {0.1: same, 2.0: EDGES, 8.0: EDGES})
    assert not feedback
    text_en, text_fr = said(feedback)
    assert "says (d)" in text_en and "says (a)" in text_en
    assert "dit (d)" in text_fr and "dit (a)" in text_fr


def test_lambda_kernels_wants_larger_as_well_as_smoother():
    fine_and_large = gabors(8, 0.3, 4.0, phase=math.pi / 2)  # fine stripes over the whole kernel
    # EDGES are smoother than these (by more than 0.1) but smaller: not (c), larger and smoother.
    feedback = check_lambda_kernels({0.1: "b", 8.0: "c"}, {0.1: NOISE, 2.0: fine_and_large, 8.0: EDGES})
    assert not feedback
    text_en, text_fr = said(feedback)
    assert "Not for λ = 8: you predicted (c), but the measurement says (a)" in text_en, text_en
    assert "their energy spreads over a radius of 1.52 pixels (3.09 at λ = 2)" in text_en, text_en
    assert "leur énergie s'étale sur un rayon de 1,52 pixels (3,09 avec λ = 2)" in text_fr, text_fr


def test_lambda_kernels_reports_a_missing_experiment():
    def stub(lam):
        raise NotImplementedError

    text_en, text_fr = said(check_lambda_kernels({0.1: "b", 8.0: "c"}, stub))
    assert "Not implemented" in text_en and "Pas encore implémenté" in text_fr
    text_en, text_fr = said(check_lambda_kernels({0.1: "b", 8.0: "c"}, {0.1: NOISE}))
    assert "no entry for λ = 2" in text_en and "pas d'entrée pour λ = 2" in text_fr
