"""Benchmark: LISTA against ISTA and FISTA, on MNIST codes and on the standard synthetic problem.

    flock /tmp/ebm-heavy.lock python bench/bench_lista.py          (or: make bench)
    options: --part mnist|synthetic|all, --device cpu|cuda, --quick (a short smoke run)

MNIST (the chapter's setting): the 256-atom dictionary W_d learned on the training digits
(bench/common.py:mnist_dictionary), λ = 0.5, energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ (no ½).
Held-out targets z* are FISTA codes (float64, 4,000 iterations); LISTA trains on the
training digits and their shifts by up to two pixels (13×), with FISTA codes (1,000
iterations) as targets, 6,000 Adam steps of 256 digits (learning rate 1e-3, divided by 5
after 65 % of the steps and again after 90 %). For K = 1, 2, 4, 8, 16 it measures
‖z_K − z*‖² / ‖z*‖² (summed over the held-out digits) for ISTA and FISTA run K and 10·K
iterations, and for LISTA with K steps (untied, initialised from ISTA, trained by
back-propagation through time on the code-prediction loss ‖z_K − z*‖² with Adam).
Goal: LISTA(K) <= FISTA(10·K) for every K <= 8. Then the time to encode 1,000 digits at
equal error: FISTA runs the smallest number of iterations that reaches LISTA's error.
Goal: LISTA at least 10× faster.

Synthetic (Chen et al. 2018, Liu et al. 2019): A (250, 500), A_ij ~ N(0, 1/250), columns
normalised; x has a Bernoulli(0.1) support with N(0, 1) values; y = A x (noiseless);
K = 16; NMSE = 10 log10(Σ‖x̂ − x‖² / Σ‖x‖²) on 1,000 held-out samples. Convention: those
papers minimise ½‖y − A x‖² + λ'‖x‖₁ with λ' = 0.1; multiplied by 2 this is our
‖y − A x‖² + λ‖x‖₁ with λ = 2λ' = 0.2 (same minimiser, same ISTA iterates: our L is
2σ_max², theirs σ_max², and the threshold λ/L = λ'/σ_max² is the same). The LISTA target
is the true x, not a lasso code; training draws a fresh batch of 256 every step. Every
training is one Adam run whose learning rate is divided by 5 after 65 % of its steps and by
25 after 90 % (in one 3,000-step end-to-end run, the error was −15.7 dB just before the
first decay and −20.6 dB at the end). Two trainings, sizes set
by --steps: end-to-end (all 16 layers from the start, lr 5e-4), and stage-wise (for
k = 1 … 16 the network cut to its first k layers is trained, lr 5e-4, then all layers are
fine-tuned at lr 1e-4).
Goals: LISTA <= −20 dB; stage-wise toward −30 dB.

Everything runs in this process; training times are wall clock on this machine's threads.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
from common import best_time, digits, mnist_dictionary

from ebmlib.lista import LISTA, relative_error
from ebmlib.solvers import fista, ista

KS = (1, 2, 4, 8, 16)


def schedule(n_steps: int) -> tuple[int, ...]:
    """Adam's learning rate is divided by 5 after 65 % of the steps and again after 90 %."""
    return (max(int(0.65 * n_steps), 1), max(int(0.9 * n_steps), 2))


def db(x: float) -> float:
    return 10 * math.log10(max(x, 1e-30))


def first_reaching(error, target: float, limit: int = 20000) -> int:
    """The smallest k with error(k) <= target, by doubling then bisection (error ~ decreasing)."""
    high = 1
    while high < limit and error(high) > target:
        high *= 2
    low = high // 2  # error(low) > target, or low = 0
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if error(mid) <= target else (mid, high)
    return high


def mnist(device: torch.device, quick: bool) -> None:
    train, test, source = digits()
    start = time.perf_counter()
    W = mnist_dictionary(train).to(device)
    t_dict = time.perf_counter() - start
    lam = 0.5
    train, test = train.to(device), test.to(device)
    start = time.perf_counter()
    ref_iter = 500 if quick else 4000
    z_test = fista(test.double(), W.double(), lam, max_iter=ref_iter, tol=0)[0].float()
    # training set: the digits and their shifts by up to 2 pixels (|dx| + |dy| <= 2: 13 × 4,000
    # with the offline set), with FISTA codes of 1,000 iterations (float32) as targets. With
    # one-pixel shifts only (5 ×), the untied networks overfit: held-out error 0.033 at
    # K = 4 and 8 for a training error of 0.006.
    images = train.reshape(-1, 28, 28)
    shifted = [torch.roll(images, (a, b), (1, 2)) for a in range(-2, 3) for b in range(-2, 3)
               if abs(a) + abs(b) <= 2]
    train = torch.cat(shifted).reshape(-1, 784)
    z_train = fista(train, W, lam, max_iter=200 if quick else 1000, tol=0)[0]
    t_codes = time.perf_counter() - start
    print(f"MNIST: {source}, {len(train)} training digits (with shifts of up to 2 pixels) and "
          f"{len(test)} held-out digits, device {device}, {torch.get_num_threads()} threads; "
          f"dictionary {t_dict:.0f} s, FISTA targets (held-out: {ref_iter} iterations, float64) "
          f"{t_codes:.0f} s")

    def err(solver, k):
        return relative_error(solver(test, W, lam, max_iter=k, tol=0)[0], z_test)

    n_train = 300 if quick else 6000
    rows, models = [], {}
    for K in KS:
        model = LISTA.from_dictionary(W, lam, K, tied=False)
        start = time.perf_counter()
        model.fit(train, z_train, n_steps=n_train, batch_size=256, lr=1e-3,
                  milestones=schedule(n_train), progress=False, seed=K)
        seconds = time.perf_counter() - start
        tied = LISTA.from_dictionary(W, lam, K, tied=True)
        tied.fit(train, z_train, n_steps=n_train // 2, batch_size=256, lr=1e-3,
                 milestones=schedule(n_train // 2), progress=False, seed=K)
        models[K] = model
        rows.append((K, err(ista, K), err(fista, K), err(ista, 10 * K), err(fista, 10 * K),
                     tied.evaluate(test, z_test), model.evaluate(test, z_test), seconds))
    print("\nHeld-out ‖z_K − z*‖² / ‖z*‖² (summed over the digits)")
    head = ("K", "ISTA K", "FISTA K", "ISTA 10K", "FISTA 10K", "LISTA tied", "LISTA",
            "≤ FISTA 10K", "train s")
    print(" | ".join(f"{h:>11}" for h in head))
    for K, ei, ef, ei10, ef10, et, el, s in rows:
        ok = "yes" if el <= ef10 else "NO"
        print(" | ".join(f"{c:>11}" for c in (K, f"{ei:.4f}", f"{ef:.4f}", f"{ei10:.4f}",
                                              f"{ef10:.4f}", f"{et:.4f}", f"{el:.4f}", ok,
                                              f"{s:.0f}")))
    met = all(el <= ef10 for K, _, _, _, ef10, _, el, _ in rows if K <= 8)
    print(f"goal LISTA(K) <= FISTA(10K) for every K <= 8: {'met' if met else 'MISSED'}")

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    y = test[:1000]
    print("\nTime to encode 1,000 digits at equal error (best of 3)")
    head = ("K", "LISTA err", "FISTA it", "FISTA err", "LISTA s", "FISTA s", "speed-up")
    print(" | ".join(f"{h:>10}" for h in head))
    for K in [K for K in (1, 4, 8, 16) if K in models]:
        model = models[K]
        target = model.evaluate(y, z_test[:1000])
        k = first_reaching(lambda k: relative_error(fista(y, W, lam, max_iter=k, tol=0)[0],
                                                    z_test[:1000]), target)
        ek = relative_error(fista(y, W, lam, max_iter=k, tol=0)[0], z_test[:1000])

        def run_lista():
            model.encode(y)
            sync()

        def run_fista():
            fista(y, W, lam, max_iter=k, tol=0)
            sync()

        t_l, t_f = best_time(run_lista), best_time(run_fista)
        print(" | ".join(f"{c:>10}" for c in (K, f"{target:.4f}", k, f"{ek:.4f}", f"{t_l:.4f}",
                                              f"{t_f:.4f}", f"{t_f / t_l:.1f}×")))
    print("goal: at least 10× faster")


def synthetic(device: torch.device, quick: bool, steps: tuple[int, int, int]) -> None:
    n, m, K, p = 250, 500, 16, 0.1
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(n, m, generator=gen) / math.sqrt(n)
    A = (A / A.norm(dim=0)).to(device)

    def sample(B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(B, m, generator=g) * (torch.rand(B, m, generator=g) < p)
        x = x.to(device)
        return x @ A.T, x

    y_test, x_test = sample(1000, torch.Generator().manual_seed(1))
    y_val, x_val = sample(1000, torch.Generator().manual_seed(2))
    lam = 0.2  # = 2 × 0.1 in the ½‖y − A x‖² + 0.1‖x‖₁ convention of the papers
    e_ista = relative_error(ista(y_test, A, lam, max_iter=K, tol=0)[0], x_test)
    e_fista = relative_error(fista(y_test, A, lam, max_iter=K, tol=0)[0], x_test)
    print(f"\nSynthetic: A (250, 500), Bernoulli({p}) × N(0, 1), noiseless, K = {K}, λ = {lam} "
          f"(λ' = 0.1 with ½), device {device}, {torch.get_num_threads()} threads")
    results = [("ISTA", db(e_ista), 0.0), ("FISTA", db(e_fista), 0.0)]

    def draw(seed: int):
        g = torch.Generator().manual_seed(seed)
        return lambda step: sample(256, g)

    scale = 0.05 if quick else 1.0
    n_e2e, n_stage, n_tune = (max(int(scale * s), 4) for s in steps)

    # end to end: all layers from the start, one Adam through the whole schedule
    model = LISTA.from_dictionary(A, lam, K, tied=False)
    start = time.perf_counter()
    model.fit(draw(10_000), n_steps=n_e2e, lr=5e-4, milestones=schedule(n_e2e), progress=False)
    t_e2e = time.perf_counter() - start
    results.append((f"LISTA, end to end ({n_e2e} steps)", db(model.evaluate(y_test, x_test)),
                    t_e2e))

    # stage-wise (Chen et al. 2018): the network cut to its first k layers is trained, with
    # the same schedule, for k = 1 … K; then all layers are fine-tuned at a lower rate
    model = LISTA.from_dictionary(A, lam, K, tied=False)
    start = time.perf_counter()
    history = []
    for k in range(1, K + 1):
        model.fit(draw(100 + k), n_steps=n_stage, lr=5e-4, milestones=schedule(n_stage), steps=k,
                  progress=False)
        history.append(db(model.evaluate(y_val, x_val, steps=k)))
    stagewise_layers = time.perf_counter() - start
    model.fit(draw(20_000), n_steps=n_tune, lr=1e-4, milestones=schedule(n_tune), progress=False)
    t_stage = time.perf_counter() - start
    results.append((f"LISTA, stage-wise ({K}×{n_stage} + {n_tune} steps)",
                    db(model.evaluate(y_test, x_test)), t_stage))
    print("validation NMSE (dB) after each stage: " + ", ".join(f"{h:.1f}" for h in history)
          + f" ({stagewise_layers:.0f} s)")
    print("\nNMSE on 1,000 held-out samples, K = 16")
    print(f"{'method':>40} | {'NMSE dB':>8} | {'train s':>8}")
    for name, value, s in results:
        print(f"{name:>40} | {value:8.1f} | {s:8.0f}")
    print("published reproductions: ISTA −5.3 dB, FISTA −11.0 dB, LISTA about −20 dB")
    best = min(value for name, value, _ in results[2:])
    print(f"goal LISTA <= −20 dB: {'met' if best <= -20 else 'MISSED'}; "
          f"stage-wise toward −30 dB: {results[-1][1]:.1f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--part", choices=("mnist", "synthetic", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--steps", type=int, nargs=3, default=(4000, 400, 2000),
                        metavar=("E2E", "STAGE", "TUNE"),
                        help="synthetic problem: Adam steps (batches of 256) of the end-to-end "
                             "training, of each of the 16 stages, and of the final fine-tuning")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.part in ("mnist", "all"):
        mnist(device, args.quick)
    if args.part in ("synthetic", "all"):
        synthetic(device, args.quick, tuple(args.steps))
    print(f"\nthreads: torch {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")


if __name__ == "__main__":
    main()
