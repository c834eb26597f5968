"""ebmlib: the models of the lecture "Regularized latent-variable energy-based models".

NYU Deep Learning, spring 2020, week 8, part 2 (Yann LeCun). One concept per module:

* :mod:`ebmlib.energy`  – E(x,y,z) = C(y, Dec(Pred(x), z)) + λR(z) and the free energy
* :mod:`ebmlib.solvers` – shrinkage, the Lipschitz constant, ISTA and FISTA
* :mod:`ebmlib.dictionary` – dictionary learning with column renormalisation
* :mod:`ebmlib.lista`   – LISTA: ISTA unrolled for K steps and learned
* :mod:`ebmlib.vae`     – the variational auto-encoder: fuzzy balls, the KL spring, C + βR
* :mod:`ebmlib.data`    – MNIST offline-first, natural-image patches, ZCA whitening
* :mod:`ebmlib.toy`     – the 2-D curve data and decoder of the first chapter
* :mod:`ebmlib.plot`    – figures the book draws more than once
* :mod:`ebmlib.checks`  – exercise checkers that answer in English or French
* :mod:`ebmlib.interactive` – sliders for live notebooks that are safe in headless runs
* :mod:`ebmlib.device`  – the default device (CUDA, then MPS, then CPU)
"""

from .device import available_devices, default_device
from .energy import L1, FreeEnergy, LatentEnergy, Regularizer, SquaredL2, squared_error

__all__ = ["L1", "FreeEnergy", "LatentEnergy", "Regularizer", "SquaredL2", "available_devices",
           "default_device", "squared_error"]
__version__ = "0.1.0"
