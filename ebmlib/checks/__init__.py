"""Exercise checkers: they run the student's function and say what is right or wrong.

A checker returns a :class:`Feedback`, true when the answer is right. It speaks the
page's language: ``EBMLIB_LANG`` if set, else the notebook's folder (``book/en`` or
``book/fr``), else English. In the built site both languages are stored and the
page's own language is shown, because one execution serves both editions.

One module a chapter; each lists its checkers in ``__all__`` and this package exports them all.
"""

from . import conv, ista_fista, latent_ebm, lista, sparse_coding, vae
from ._feedback import LANGUAGES, Feedback, page_language
from .conv import *  # noqa: F403
from .ista_fista import *  # noqa: F403
from .latent_ebm import *  # noqa: F403
from .lista import *  # noqa: F403
from .sparse_coding import *  # noqa: F403
from .vae import *  # noqa: F403

__all__ = ["LANGUAGES", "Feedback", "page_language"] + [
    name for module in (latent_ebm, sparse_coding, ista_fista, lista, conv, vae) for name in module.__all__
]
