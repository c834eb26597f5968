"""Benchmark: dictionary learning, ebmlib against scikit-learn's MiniBatchDictionaryLearning.

    .venv/bin/python bench/bench_dictionary.py [--device cpu] [--threads N] [--quick]
    (or: make bench)

Setup: 4,000 training digits (the offline set's training split when full MNIST is absent),
256 atoms, λ = 0.5, energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁; scikit-learn minimises the same
energy up to a factor ½ with alpha = λ/2. Both learners see the same data in minibatches
of 256. ebmlib runs the chapter's recipe (bench/common.py: learn_dictionary's defaults,
10 FISTA iterations per minibatch, step scale 1.5) on ``--device``; scikit-learn runs on
the CPU. The held-out energy (mean free energy of 500 held-out digits, inferred with
ebmlib's FISTA for both dictionaries) is measured at checkpoints against the training
wall time (evaluation time excluded). The table gives both curves, then the time each
method needs to reach scikit-learn's final held-out energy. A PNG of the curves is written
next to this script, bench/dictionary.png. ``--quick``: 1,000 training digits, 2 epochs of
scikit-learn and 200 steps of ebmlib.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import DICTIONARY_RECIPE, arguments, digits, print_table, setup, threads_line

from ebmlib.dictionary import learn_dictionary, mean_free_energy
from ebmlib.solvers import iterations_to

LAM, M, BATCH = 0.5, 256, 256


def sklearn_curve(Y, Y_val, steps_per_epoch, epochs):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X = Y.double().cpu().numpy()
    model = MiniBatchDictionaryLearning(n_components=M, alpha=LAM / 2, batch_size=BATCH,
                                        random_state=0, transform_algorithm="lasso_cd")
    rng = np.random.default_rng(0)
    seconds, energies, train_time = [], [], 0.0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for k in range(steps_per_epoch):
            batch = X[order[k * BATCH:(k + 1) * BATCH]]
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.partial_fit(batch)
            train_time += time.perf_counter() - start
        W = torch.as_tensor(model.components_.T.copy(), dtype=torch.float32).to(Y_val.device)
        seconds.append(train_time)
        energies.append(mean_free_energy(Y_val, W, LAM))
    return seconds, energies


def ebmlib_curve(Y, Y_val, steps, every):
    _, history = learn_dictionary(Y, M, LAM, **{**DICTIONARY_RECIPE, "steps": steps}, batch_size=BATCH,
                                  Y_val=Y_val, every=every)
    return history.seconds, history.val


def time_to(seconds, energies, target):
    """The training time of the first checkpoint whose held-out energy is <= target (None: never)."""
    k = iterations_to(torch.tensor(energies, dtype=torch.float64), target, 0.0)
    return None if k is None else seconds[k - 1]


def main() -> None:
    args = arguments(__doc__, repeats=None).parse_args()
    device = setup(args)
    train, test, source = digits(device)
    Y, Y_val = train[:1000 if args.quick else 4000], test[:500]
    print(f"data: {source}, {len(Y)} training digits, {len(Y_val)} held out; {M} atoms, λ = {LAM}; "
          f"ebmlib on {device}; {torch.get_num_threads()} threads")
    steps_per_epoch = len(Y) // BATCH
    sk_s, sk_e = sklearn_curve(Y, Y_val, steps_per_epoch, epochs=2 if args.quick else 8)
    every = 50 if args.quick else 100
    eb_s, eb_e = ebmlib_curve(Y, Y_val, steps=200 if args.quick else 1500, every=every)

    def curve(seconds, energies):
        return [(f"{s:.2f}", f"{e:.3f}") for s, e in zip(seconds, energies, strict=True)]

    print_table(("seconds", "held-out E"), curve(sk_s, sk_e),
                title="scikit-learn MiniBatchDictionaryLearning (one row per epoch)")
    print_table(("seconds", "held-out E"), curve(eb_s, eb_e),
                title=f"ebmlib.dictionary.learn_dictionary (step 0, then one row per {every} steps)")
    target = sk_e[-1]
    t_sk, t_eb = time_to(sk_s, sk_e, target), time_to(eb_s, eb_e, target)
    print(f"\ntime to scikit-learn's final held-out energy {target:.3f}: "
          f"scikit-learn {t_sk:.2f} s, ebmlib "
          + (f"{t_eb:.2f} s (ratio {t_eb / t_sk:.2f}; goal <= 0.20)" if t_eb is not None
             else f"not reached (best {min(eb_e):.3f})"))
    print(threads_line())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(sk_s, sk_e, "-o", label="scikit-learn")
    ax.plot(eb_s, eb_e, "-s", label="ebmlib")
    ax.set(xlabel="training time (s)", ylabel="held-out energy")
    ax.legend()
    fig.tight_layout()
    out = Path(__file__).with_name("dictionary.png")
    fig.savefig(out, dpi=100)
    print(f"curves: {out}")


if __name__ == "__main__":
    main()
