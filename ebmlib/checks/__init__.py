"""Exercise checkers: they run the student's function and say what is right or wrong.

A checker returns a :class:`Feedback`, true when the answer is right. It speaks the
page's language: ``EBMLIB_LANG`` if set, else the notebook's folder (``book/en`` or
``book/fr``), else English. In the built site both languages are stored and the
page's own language is shown, because one execution serves both editions.
"""


from ._feedback import LANGUAGES, Feedback, page_language
from .conv import check_conv_energy, check_conv_lipschitz
from .ista_fista import check_ista_step, check_shrink
from .latent_ebm import check_l1_free_energy, check_l2_free_energy, check_toy_energy
from .lista import check_lista_layer, check_lista_matrices
from .sparse_coding import check_dictionary_step, check_lambda_for_k, check_normalize
from .vae import check_gaussian_kl, check_reparameterize, check_vae_loss

__all__ = [
    "LANGUAGES",
    "Feedback",
    "check_conv_energy",
    "check_conv_lipschitz",
    "check_dictionary_step",
    "check_gaussian_kl",
    "check_ista_step",
    "check_l1_free_energy",
    "check_l2_free_energy",
    "check_lambda_for_k",
    "check_lista_layer",
    "check_lista_matrices",
    "check_normalize",
    "check_reparameterize",
    "check_shrink",
    "check_toy_energy",
    "check_vae_loss",
    "page_language",
]
