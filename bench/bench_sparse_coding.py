"""Benchmark: sparse-coding inference, ebmlib FISTA against SPAMS and scikit-learn.

    python bench/bench_sparse_coding.py            (or: make bench)

Setup: the held-out digits (1,000 with the offline set), a 256-atom dictionary learned by
ebmlib on the training digits, λ ∈ {0.1, 0.5, 1.0}, energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁.
For each λ a tight reference optimum E* (FISTA, float64, 20,000 iterations) is computed,
and every method is timed (best of 3) to reach a relative gap (ΣE − ΣE*)/ΣE* ≤ 1e-4:
ebmlib's FISTA in float32 and float64 (and in float32 with adaptive restart) runs exactly
the number of iterations it needs for that gap (found from its energy trace, then timed
with ``trace=False``: codes only, as the other tools return); SPAMS (``spams.lasso``, lambda1 = λ/2,
mode=2: LARS, exact) and scikit-learn (``SparseCoder``, lasso_cd, transform_alpha = λ/2)
run with their defaults, and their gap is reported. ISTA's and FISTA's iteration counts
to the same gap are reported too.
Everything runs in this process, on the CPU unless a GPU is given (--device cuda).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from common import best_time, digits, mnist_dictionary

from ebmlib.energy import sparse_coding_energy
from ebmlib.solvers import fista, ista

GAP = 1e-4


def iterations_to_gap(solver, y, W, lam, E_star, max_iter=20000, **options):
    _, trace = solver(y, W, lam, max_iter=max_iter, tol=0, **options)
    gap = (trace.double().sum(1) - E_star) / E_star
    below = torch.nonzero(gap <= GAP)
    return int(below[0]) + 1 if len(below) else None


def gap_of(y64, W64, z, lam, E_star):
    z = torch.as_tensor(np.asarray(z), dtype=torch.float64)
    return float((sparse_coding_energy(y64, W64, z, lam).sum() - E_star) / E_star)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    threads = torch.get_num_threads()
    train, test, source = digits()
    print(f"data: {source}, {len(test)} held-out digits; dictionary learned on {len(train)}; "
          f"device {device}, {threads} threads")
    W32 = mnist_dictionary(train).to(device)
    W64, y64 = W32.double(), test.double().to(device)
    y32 = test.to(device)

    import spams
    from sklearn.decomposition import SparseCoder

    X_f = np.asfortranarray(test.double().numpy().T)
    D_f = np.asfortranarray(W64.cpu().numpy())
    rows = []
    for lam in (0.1, 0.5, 1.0):
        _, ref = fista(y64, W64, lam, max_iter=20000, tol=0)
        E_star = float(ref[-1].sum())
        k32 = iterations_to_gap(fista, y32, W32, lam, E_star)
        k64 = iterations_to_gap(fista, y64, W64, lam, E_star)
        k_ista = iterations_to_gap(ista, y64, W64, lam, E_star)
        k_rs = iterations_to_gap(fista, y32, W32, lam, E_star, restart=True)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

        def run(y, W, k, restart=False):  # codes only, as SPAMS and scikit-learn return
            fista(y, W, lam, max_iter=k, tol=0, restart=restart, trace=False)
            sync()

        t32, t64 = best_time(lambda: run(y32, W32, k32)), best_time(lambda: run(y64, W64, k64))
        t_rs = best_time(lambda: run(y32, W32, k_rs, restart=True))
        z32, _ = fista(y32, W32, lam, max_iter=k32, tol=0)
        t_spams = best_time(lambda: spams.lasso(X_f, D=D_f, lambda1=lam / 2, mode=2,
                                                numThreads=threads))
        alpha = spams.lasso(X_f, D=D_f, lambda1=lam / 2, mode=2, numThreads=threads)
        coder = SparseCoder(dictionary=D_f.T, transform_algorithm="lasso_cd", transform_alpha=lam / 2)
        t_sk = best_time(lambda: coder.transform(test.double().numpy()), repeat=1)
        z_sk = coder.transform(test.double().numpy())
        rows.append((lam, k_ista, k64, t32, t64, t_rs, t_spams, t_sk,
                     gap_of(y64.cpu(), W64.cpu(), z32.double().cpu(), lam, E_star),
                     gap_of(y64.cpu(), W64.cpu(), alpha.toarray().T, lam, E_star),
                     gap_of(y64.cpu(), W64.cpu(), z_sk, lam, E_star)))

    print(f"\nTime to a relative energy gap <= {GAP:g} (seconds, best of 3; scikit-learn: 1 run)")
    head = ("λ", "ISTA it", "FISTA it", "it ratio", "FISTA f32", "FISTA f64", "f32+restart",
            "SPAMS", "sklearn", "best/SPAMS", "sklearn/best", "gap f32", "gap SPAMS", "gap sklearn")
    print(" | ".join(f"{h:>10}" for h in head))
    for lam, ki, kf, t32, t64, trs, ts, tk, g32, gs, gk in rows:
        best = min(t32, trs)
        cells = (f"{lam:g}", str(ki), str(kf), f"{ki / kf:.1f}" if ki and kf else "-",
                 f"{t32:.4f}", f"{t64:.4f}", f"{trs:.4f}", f"{ts:.4f}", f"{tk:.3f}",
                 f"{best / ts:.2f}", f"{tk / best:.1f}", f"{g32:.1e}", f"{gs:.1e}", f"{gk:.1e}")
        print(" | ".join(f"{c:>10}" for c in cells))
    print("\nbest = the faster of FISTA f32 and FISTA f32 with adaptive restart")
    print("goals: best/SPAMS <= 1.0, sklearn/best >= 3, ISTA it / FISTA it >= 5")
    print(f"OMP/MKL threads: torch {threads}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")


if __name__ == "__main__":
    main()
