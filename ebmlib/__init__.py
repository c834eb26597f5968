"""ebmlib: the models of the lecture "Regularized latent-variable energy-based models".

NYU Deep Learning, spring 2020, week 8, part 2 (Yann LeCun). One concept per module:

* :mod:`ebmlib.energy`  – E(x,y,z) = C(y, Dec(Pred(x), z)) + λR(z) and the free energy
* :mod:`ebmlib.solvers` – shrinkage, the Lipschitz constant, ISTA and FISTA, the exact lasso
* :mod:`ebmlib.dictionary` – dictionary learning with column renormalisation
* :mod:`ebmlib.conv`    – convolutional sparse coding and the convolutional sparse auto-encoder
* :mod:`ebmlib.lista`   – LISTA: ISTA unrolled into a fixed number of layers and learned
* :mod:`ebmlib.vae`     – the variational auto-encoder: fuzzy balls, the KL spring, C + βR
* :mod:`ebmlib.data`    – MNIST offline-first, natural images: patches, crops, high-pass, ZCA
* :mod:`ebmlib.analysis` – measurements of learned atoms (orientation selectivity)
* :mod:`ebmlib.toy`     – the 2-D curve data and decoder of the first chapter
* :mod:`ebmlib.plot`    – figures the book draws more than once
* :mod:`ebmlib.checks`  – exercise checkers that answer in English or French
* :mod:`ebmlib.interactive` – sliders for live notebooks that are safe in headless runs
* :mod:`ebmlib.device`  – the default device (CUDA, then MPS, then CPU)

Conventions shared by every module: arguments are checked once at the public entry
point and a bad one raises :class:`InvalidArgumentError` (a ValueError and a TypeError);
the sparse-coding solvers return a :class:`~ebmlib.solvers.SparseCode`; every trainer
returns a :class:`History` and shows a progress bar only after :func:`set_progress`;
every learned model has ``save`` and ``load``.
"""

from ._training import History, set_progress
from ._validate import InvalidArgumentError
from .device import default_device
from .energy import L1, FreeEnergy, LatentEnergy, Regularizer, SquaredL2, squared_error

__all__ = ["L1", "FreeEnergy", "History", "InvalidArgumentError", "LatentEnergy", "Regularizer",
           "SquaredL2", "default_device", "set_progress", "squared_error"]
__version__ = "0.1.0"
