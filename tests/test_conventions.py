"""The conventions every ebmlib module follows (issue "one library, one way"), checked on the source.

A module that writes its own argument check, its own soft threshold or FISTA loop, its own
training record or its own seed argument fails here, with the place named.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import ebmlib
from ebmlib import History
from ebmlib._saving import Saveable
from ebmlib.conv import ConvSparseAutoEncoder, learn_conv_dictionary, train_conv_autoencoder
from ebmlib.dictionary import learn_dictionary
from ebmlib.lista import LISTA, train_lista
from ebmlib.vae import VAE, train_vae

PACKAGE = Path(ebmlib.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "_validate.py")
# Errors that are not about an argument: I/O, a missing optional package, a missing
# diagram node (a mapping lookup), an abstract method, a bare re-raise after a clean-up.
NOT_ARGUMENT_ERRORS = {"DownloadError", "IDXFormatError", "RuntimeError", "KeyError",
                       "NotImplementedError", "(re-raise)"}
TRAINERS = [learn_dictionary, learn_conv_dictionary, train_lista, train_conv_autoencoder, train_vae]


def _raised(node: ast.Raise) -> str:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return getattr(exc, "id", getattr(exc, "attr", "")) if exc is not None else "(re-raise)"


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_argument_errors_come_only_from_validate():
    """Every raise outside _validate.py is an I/O or lookup error, never a hand-written check."""
    found = [f"{path.relative_to(PACKAGE)}:{node.lineno} raises {_raised(node)}"
             for path in MODULES for node in ast.walk(ast.parse(_source(path)))
             if isinstance(node, ast.Raise) and _raised(node) not in NOT_ARGUMENT_ERRORS]
    assert not found, found


def test_fewer_than_25_raise_statements_outside_validate():
    count = sum(isinstance(node, ast.Raise) for path in MODULES
                for node in ast.walk(ast.parse(_source(path))))
    assert count < 25, count


@pytest.mark.parametrize("needle, home, what", [
    ("softshrink", "solvers.py", "a soft threshold"),
    ("t_next", "solvers.py", "a FISTA momentum loop"),
    ("matrix_norm(", "solvers.py", "a Lipschitz constant (checks may name wrong ones)"),
])
def test_one_implementation_of(needle, home, what):
    elsewhere = [str(p.relative_to(PACKAGE)) for p in MODULES
                 if p.name != home and "checks" not in p.parts and needle in _source(p)]
    assert not elsewhere, f"{what} ({needle}) outside {home}: {elsewhere}"


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda f: f.__name__)
def test_every_trainer_returns_one_history_and_follows_the_progress_switch(trainer):
    signature = inspect.signature(trainer)
    assert "History" in str(signature.return_annotation)
    assert signature.parameters["progress"].default is None
    assert "seed" in signature.parameters
    assert trainer.__name__.startswith("learn_") == ("tuple" in str(signature.return_annotation))


def test_no_public_function_takes_a_generator_argument():
    """Every function that draws takes ``seed`` (an integer or a torch.Generator)."""
    found = []
    for name in ("energy", "solvers", "dictionary", "lista", "conv", "vae", "data", "toy", "plot",
                 "analysis"):
        module = __import__(f"ebmlib.{name}", fromlist=["*"])
        for attr, obj in vars(module).items():
            functions = [obj] if inspect.isfunction(obj) else (
                [m for m in vars(obj).values() if inspect.isfunction(m)] if inspect.isclass(obj) else [])
            for f in functions:
                if attr.startswith("_") or getattr(f, "__module__", "") != module.__name__:
                    continue
                if f.__name__.startswith("_"):
                    continue
                if "generator" in inspect.signature(f).parameters:
                    found.append(f"{name}.{attr}.{f.__name__}")
    assert not found, found


@pytest.mark.parametrize("model", [VAE, LISTA, ConvSparseAutoEncoder], ids=lambda c: c.__name__)
def test_every_learned_model_saves_and_loads_the_same_way(model):
    assert issubclass(model, Saveable)
    assert "save" not in vars(model) and "load" not in vars(model)


def test_the_one_history_is_exported():
    assert ebmlib.History is History
    assert {"step", "seconds", "loss", "val"} <= set(inspect.signature(History).parameters)
