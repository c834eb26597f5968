"""ebmlib.checks: the exercise checkers accept right answers and explain wrong ones."""

import pytest
import torch

from ebmlib.checks import (
    Feedback,
    check_l1_free_energy,
    check_l2_free_energy,
    check_toy_energy,
    page_language,
)
from ebmlib.toy import curve, distance_to_curve

# the `lang` fixture (tests/conftest.py) runs a test in both languages; these narrow it to one
english = pytest.mark.parametrize("lang", ["en"], indirect=True)
french = pytest.mark.parametrize("lang", ["fr"], indirect=True)


def right_energy(y, z, lam):
    return (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum(1) + lam * z[:, 1:].abs().sum(1)


def test_language_follows_the_environment_then_the_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("EBMLIB_LANG", raising=False)
    (tmp_path / "fr").mkdir()
    monkeypatch.chdir(tmp_path / "fr")
    assert page_language() == "fr"
    monkeypatch.chdir(tmp_path)
    assert page_language() == "en"
    monkeypatch.setenv("EBMLIB_LANG", "fr")
    assert page_language() == "fr"


def test_toy_energy_accepts_the_right_answer():
    assert check_toy_energy(right_energy)


@pytest.mark.parametrize("wrong, hint", [
    (lambda y, z, lam: (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum(1), "cost C alone"),
    (lambda y, z, lam: right_energy(y, z, lam) + lam * z[:, 0].abs(), "position t"),
    (lambda y, z, lam: (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum(1)
     + lam * z[:, 1:].pow(2).sum(1), "squared L2"),
    (lambda y, z, lam: (y - curve(z[:, 0]) - z[:, 1:]).norm(dim=1)
     + lam * z[:, 1:].abs().sum(1), "not its square"),
    (lambda y, z, lam: (y - curve(z[:, 0])).pow(2).sum(1) + lam * z[:, 1:].abs().sum(1),
     "forgot the offset"),
    (lambda y, z, lam: right_energy(y, z, lam) + 0.01, "Wrong value"),
    (lambda y, z, lam: right_energy(y, z, lam)[:, None], "Expected shape"),
    (lambda y, z, lam: 3.0, "Expected a torch.Tensor"),
    (lambda y, z, lam: 1 / 0, "ZeroDivisionError"),
])
@english
def test_toy_energy_explains_wrong_answers(lang, wrong, hint):
    feedback = check_toy_energy(wrong)
    assert not feedback
    assert hint in str(feedback)


def test_not_implemented_is_reported_in_both_languages(lang):
    def stub(y, z, lam):
        raise NotImplementedError

    feedback = check_toy_energy(stub)
    assert {"en": "Not implemented yet", "fr": "Pas encore implémenté"}[lang] in str(feedback)


def test_l2_free_energy_accepts_the_closed_form():
    assert check_l2_free_energy(lambda y, lam: lam / (1 + lam) * distance_to_curve(y) ** 2)


@pytest.mark.parametrize("wrong, hint", [
    (lambda y, lam: distance_to_curve(y) ** 2, "d(y)²"),
    (lambda y, lam: lam * distance_to_curve(y) ** 2, "λ·d(y)²"),
    (lambda y, lam: 1 / (1 + lam) * distance_to_curve(y) ** 2, "inference finds"),
])
@english
def test_l2_free_energy_explains_wrong_answers(lang, wrong, hint):
    feedback = check_l2_free_energy(wrong)
    assert not feedback and hint in str(feedback)


def l1_free_energy(y, lam):
    t = torch.linspace(0, 2 * torch.pi, 4097, dtype=y.dtype)[:-1]
    r = y[:, None, :] - curve(t)  # (B, T, 2): the offset each position t needs
    return torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 4).sum(2).min(1).values


def test_l1_free_energy_accepts_the_coordinatewise_huber():
    assert check_l1_free_energy(l1_free_energy)


def _huber_of_distance(y, lam):
    d = distance_to_curve(y)
    return torch.where(d <= lam / 2, d**2, lam * d - lam**2 / 4)


@pytest.mark.parametrize("wrong, hint", [
    (_huber_of_distance, "along an axis"),
    (lambda y, lam: distance_to_curve(y) ** 2, "without offset"),
    (lambda y, lam: l1_free_energy(y, lam / 2), "inference finds"),
    (lambda y, lam: l1_free_energy(y, lam)[:10], "shape"),
])
@english
def test_l1_free_energy_explains_wrong_answers(lang, wrong, hint):
    feedback = check_l1_free_energy(wrong)
    assert not feedback and hint in str(feedback)


def test_html_holds_both_languages_and_shows_the_page_language(lang):
    text = {"en": "wrong", "fr": "faux"}
    other = "fr" if lang == "en" else "en"
    html = Feedback(False, text["en"], text["fr"])._repr_html_()
    assert f'lang="{other}" style="display:none">{text[other]}' in html
    assert f'lang="{lang}">{text[lang]}' in html
    assert "✘" in html and "✔" in Feedback(True, "ok", "ok")._repr_html_()


def test_checkers_do_not_need_float64_answers():
    assert check_toy_energy(lambda y, z, lam: right_energy(y.float(), z.float(), lam))


def test_feedback_is_false_for_a_float32_answer_that_is_wrong():
    assert not check_toy_energy(lambda y, z, lam: right_energy(y, z, lam).float() * 1.1)


def test_checker_inputs_are_float64_tensors():
    seen = {}

    def spy(y, z, lam):
        seen["dtype"] = (y.dtype, z.dtype)
        return right_energy(y, z, lam)

    check_toy_energy(spy)
    assert seen["dtype"] == (torch.float64, torch.float64)


@english
def test_lambda_for_k_checker(lang):
    from ebmlib.checks import check_lambda_for_k
    from ebmlib.solvers import fista

    def bisect(y, W, k):
        low, high = 0.0, 2 * float((W.T @ y).abs().max())
        for _ in range(100):
            lam = (low + high) / 2
            count = int((fista(y[None], W, lam, max_iter=20000, tol=1e-12)[0].abs() > 1e-9).sum())
            if count == k:
                return lam
            low, high = (lam, high) if count > k else (low, lam)
        return lam

    assert check_lambda_for_k(bisect)
    too_small = check_lambda_for_k(lambda y, W, k: 1e-6)
    assert not too_small and "increase λ" in str(too_small)
    assert not check_lambda_for_k(lambda y, W, k: -1.0)


@english
def test_shrink_and_ista_step_checkers(lang):
    from ebmlib.checks import check_ista_step, check_shrink

    def h(v, t):
        return torch.sign(v) * torch.clamp(v.abs() - t, min=0)

    assert check_shrink(h)
    hard = check_shrink(lambda v, t: torch.where(v.abs() > t, v, torch.zeros_like(v)))
    assert not hard and "hard thresholding" in str(hard)
    assert check_ista_step(lambda z, y, W, lam, L: h(z - 2 * (z @ W.T - y) @ W / L, lam / L))
    no_shrink = check_ista_step(lambda z, y, W, lam, L: z - 2 * (z @ W.T - y) @ W / L)
    assert not no_shrink and "forgot the shrinkage" in str(no_shrink)
    wrong_threshold = check_ista_step(lambda z, y, W, lam, L: h(z - 2 * (z @ W.T - y) @ W / L, lam))
    assert not wrong_threshold and "λ/L" in str(wrong_threshold)


# -- VAE: the Gaussian KL and the reparameterisation ------------------------------------

def vae_kl(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)


def test_gaussian_kl_accepts_the_closed_form_in_both_languages(lang):
    from ebmlib.checks import check_gaussian_kl

    feedback = check_gaussian_kl(vae_kl)
    assert feedback
    assert str(feedback).startswith({"en": "Right", "fr": "Juste"}[lang])


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda mu, lv: 2 * vae_kl(mu, lv), "factor ½", "facteur ½"),
    (lambda mu, lv: -vae_kl(mu, lv), "Wrong sign", "Mauvais signe"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(1), "averaged", "moyenné"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(1), "− 1", "− 1"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() ** 2 - 2 * lv - 1).sum(1), "not exp(logvar)²", "exp(logvar)²"),
    (lambda mu, lv: vae_kl(mu, lv)[:, None], "one KL per sample", "une pour chaque exemple"),
    (lambda mu, lv: vae_kl(mu, lv) + 1e-3, "Wrong value", "Valeur fausse"),
])
def test_gaussian_kl_explains_wrong_answers(lang, wrong, en, fr):
    from ebmlib.checks import check_gaussian_kl

    feedback = check_gaussian_kl(wrong)
    assert not feedback
    assert {"en": en, "fr": fr}[lang] in str(feedback)


def test_reparameterize_accepts_the_trick():
    from ebmlib.checks import check_reparameterize

    assert check_reparameterize(lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * eps)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda mu, lv, eps: mu + lv.exp() * eps, "variance", "variance"),
    (lambda mu, lv, eps: mu + lv * eps, "not σ", "pas σ"),
    (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "add μ", "ajoutez μ"),
    (lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach(), "no gradient", "aucun gradient"),
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv.detach()) * eps, "gradients are not",
     "pas les gradients"),
    (lambda mu, lv, eps: mu.T, "one code per sample", "un pour chaque exemple"),
])
def test_reparameterize_explains_wrong_answers(lang, wrong, en, fr):
    from ebmlib.checks import check_reparameterize

    feedback = check_reparameterize(wrong)
    assert not feedback
    assert {"en": en, "fr": fr}[lang] in str(feedback)


def test_conv_checkers(lang):
    from ebmlib.checks import check_conv_energy, check_conv_lipschitz
    from ebmlib.conv import decode

    def energy(y, K, z, lam, half=0.5):
        return half * (y - decode(z, K)).pow(2).sum((1, 2, 3)) + lam * z.abs().sum((1, 2, 3))

    assert check_conv_energy(energy)
    no_half = check_conv_energy(lambda y, K, z, lam: energy(y, K, z, lam, half=1.0))
    assert not no_half and ("½" in str(no_half))
    assert ("forgot" in str(no_half)) == (lang == "en")
    assert not check_conv_energy(lambda y, K, z, lam: energy(y, K, z, lam).sum())

    def lipschitz(K, size, square=True):
        K_hat = torch.fft.fft2(K[:, 0], s=size).abs()
        return float((K_hat**2 if square else K_hat).sum(0).max())

    assert check_conv_lipschitz(lipschitz)
    unsquared = check_conv_lipschitz(lambda K, size: lipschitz(K, size, square=False))
    assert not unsquared and ("|K̂_i(f)|²" in str(unsquared))
    assert ("Square" in str(unsquared)) == (lang == "en")
    assert not check_conv_lipschitz(lambda K, size: float(K.pow(2).sum()))


@english
def test_vae_loss_names_the_missing_half_of_the_kl_apart_from_a_missing_beta(lang):
    import torch.nn.functional as F

    from ebmlib.checks import check_vae_loss
    from ebmlib.vae import gaussian_kl

    def no_half(y, logits, mu, logvar, beta):
        C = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
        return (C + beta * 2 * gaussian_kl(mu, logvar).sum(1)).mean()

    def no_beta(y, logits, mu, logvar, beta):
        C = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
        return (C + gaussian_kl(mu, logvar).sum(1)).mean()

    assert "factor ½" in str(check_vae_loss(no_half))
    assert "forgot β" in str(check_vae_loss(no_beta))


def test_dictionary_step_names_its_classic_mistakes(lang):
    from ebmlib.checks import check_dictionary_step
    from ebmlib.dictionary import dictionary_step, normalize_columns

    def right(y, z, W, s):
        return dictionary_step(y, z, W, step_scale=s)

    def uphill(y, z, W, s):
        B = y.shape[0]
        grad = -(2.0 / B) * (y - z @ W.T).T @ z
        L_W = 2.0 * float(torch.linalg.matrix_norm(z.T @ z / B, ord=2))
        return normalize_columns(W + (s / L_W) * grad)

    assert check_dictionary_step(right)
    climbed = {"en": "climbed the energy", "fr": "faites monter"}[lang]
    assert climbed in str(check_dictionary_step(uphill))
    assert "W[" in str(check_dictionary_step(lambda y, z, W, s: W))


# -- French wording (review G5 b, c) -------------------------------------------------------

def _french_literals():
    """Every string literal of the ebmlib.checks modules, f-strings included (their literal parts)."""
    import ast
    from pathlib import Path

    import ebmlib.checks

    for module in sorted(Path(ebmlib.checks.__file__).parent.glob("*.py")):
        yield from _literals(ast.parse(module.read_text(encoding="utf-8")))


def _literals(tree):
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_no_checker_message_says_par_exemple_for_per_sample():
    # « par exemple » reads as "for instance": a French message says « pour chaque exemple ».
    offending = [text for text in _french_literals() if "par exemple" in text.lower()]
    assert offending == []


@pytest.mark.parametrize("check, wrong", [
    ("check_toy_energy", lambda y, z, lam: right_energy(y, z, lam)[:, None]),
    ("check_gaussian_kl", lambda mu, lv: vae_kl(mu, lv)[:, None]),
    ("check_reparameterize", lambda mu, lv, eps: mu.T),
])
@french
def test_french_shape_messages_say_pour_chaque_exemple(lang, check, wrong):
    import ebmlib.checks

    text = str(getattr(ebmlib.checks, check)(wrong))
    assert text.startswith("Forme attendue pour ") and "pour chaque exemple" in text
    assert "par exemple" not in text


def test_run_french_shape_message_needs_no_agreement():
    from ebmlib.checks._feedback import _run

    _, bad = _run(lambda: torch.zeros(3), (), (2,), "the code", "le code")
    assert bad.text["fr"] == "Forme attendue pour le code : (2,) ; reçue : (3,)."
    assert bad.text["en"] == "Expected the code, (2,), received (3,)."


@french
def test_french_wording_of_the_common_messages(lang):
    raised = str(check_toy_energy(lambda y, z, lam: 1 / 0))
    assert raised.startswith("Votre fonction a levé l'exception ZeroDivisionError")
    not_tensor = str(check_toy_energy(lambda y, z, lam: [0.0]))
    assert not_tensor == ("Un torch.Tensor était attendu ; la fonction a renvoyé un objet de "
                          "type list.")
    off = str(check_toy_energy(lambda y, z, lam: right_energy(y, z, lam) + 0.01))
    assert off.startswith("Valeur fausse : pour l'exemple ") and " au lieu de " in off
    assert "attendu" not in off


def test_not_implemented_shows_code_in_html_and_backticks_in_text(lang):
    def stub(y, z, lam):
        raise NotImplementedError

    feedback = check_toy_energy(stub)
    html = feedback._repr_html_()
    assert "`" not in html
    assert html.count("<code>raise NotImplementedError</code>") == 2  # both languages
    assert "`raise NotImplementedError`" in str(feedback)


def test_html_escapes_before_marking_code():
    html = Feedback(False, "use `a < b`", "utilisez `a < b`")._repr_html_()
    assert "<code>a &lt; b</code>" in html
