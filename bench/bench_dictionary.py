"""Benchmark: dictionary learning, ebmlib against scikit-learn's MiniBatchDictionaryLearning.

    python bench/bench_dictionary.py            (or: make bench)

Setup: 4,000 training digits (the offline set's training split when full MNIST is absent),
256 atoms, λ = 0.5, energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁; scikit-learn minimises the same
energy up to a factor ½ with alpha = λ/2. Both learners see the same data in minibatches
of 256. The held-out energy (mean free energy of 500 held-out digits, inferred with
ebmlib's FISTA for both dictionaries) is measured at checkpoints against the training
wall time (evaluation time excluded). The table gives both curves, then the time each
method needs to reach scikit-learn's final held-out energy. A PNG of the curves is written
to bench/dictionary.png.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from common import digits

from ebmlib.dictionary import learn_dictionary, mean_free_energy

LAM, M, BATCH = 0.5, 256, 256


def sklearn_curve(Y, Y_val, steps_per_epoch, epochs):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X = Y.double().numpy()
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
        W = torch.as_tensor(model.components_.T.copy(), dtype=torch.float32)
        seconds.append(train_time)
        energies.append(mean_free_energy(Y_val, W, LAM))
    return seconds, energies


def ebmlib_curve(Y, Y_val, n_steps, eval_every):
    W0 = torch.randn(Y.shape[1], M, generator=torch.Generator().manual_seed(0))
    _, curve = learn_dictionary(Y, M, LAM, n_steps=n_steps, batch_size=BATCH, W0=W0, inner_iter=10,
                                step_scale=1.5, resample_unused=False, Y_val=Y_val,
                                eval_every=eval_every, progress=False)
    return curve.seconds, curve.val_energy


def time_to(seconds, energies, target):
    for s, e in zip(seconds, energies, strict=True):
        if e <= target:
            return s
    return None


def main() -> None:
    train, test, source = digits()
    Y, Y_val = train[:4000], test[:500]
    print(f"data: {source}, {len(Y)} training digits, {len(Y_val)} held out; {M} atoms, λ = {LAM}; "
          f"{torch.get_num_threads()} threads")
    steps_per_epoch = len(Y) // BATCH
    sk_s, sk_e = sklearn_curve(Y, Y_val, steps_per_epoch, epochs=8)
    eb_s, eb_e = ebmlib_curve(Y, Y_val, n_steps=1500, eval_every=100)

    print("\nscikit-learn MiniBatchDictionaryLearning (one row per epoch)")
    print(" | ".join(f"{h:>12}" for h in ("seconds", "held-out E")))
    for s, e in zip(sk_s, sk_e, strict=True):
        print(f"{s:>12.2f} | {e:>12.3f}")
    print("\nebmlib.dictionary.learn_dictionary (one row per 100 steps)")
    print(" | ".join(f"{h:>12}" for h in ("seconds", "held-out E")))
    for s, e in zip(eb_s, eb_e, strict=True):
        print(f"{s:>12.2f} | {e:>12.3f}")
    target = sk_e[-1]
    t_sk, t_eb = time_to(sk_s, sk_e, target), time_to(eb_s, eb_e, target)
    print(f"\ntime to scikit-learn's final held-out energy {target:.3f}: "
          f"scikit-learn {t_sk:.2f} s, ebmlib "
          + (f"{t_eb:.2f} s (ratio {t_eb / t_sk:.2f}; goal <= 0.20)" if t_eb is not None
             else f"not reached (best {min(eb_e):.3f})"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(sk_s, sk_e, "-o", label="scikit-learn")
    ax.plot(eb_s, eb_e, "-s", label="ebmlib")
    ax.set(xlabel="training time (s)", ylabel="held-out energy")
    ax.legend()
    fig.tight_layout()
    fig.savefig("bench/dictionary.png", dpi=100)


if __name__ == "__main__":
    main()
