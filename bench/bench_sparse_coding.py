"""Benchmark: sparse-coding inference, ebmlib FISTA against SPAMS and scikit-learn.

    .venv/bin/python bench/bench_sparse_coding.py [--device cpu] [--threads N] [--repeats 3] [--quick]
    (or: make bench)

Setup: the held-out digits (1,000 with the offline set), a 256-atom dictionary learned by
ebmlib on the training digits (the chapter's recipe, bench/common.py), λ ∈ {0.1, 0.5, 1.0},
energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁. For each λ a tight reference optimum E* (FISTA,
float64, 20,000 iterations) is computed, and every method is timed (best of ``--repeats``)
to reach a relative gap (ΣE − ΣE*)/ΣE* ≤ 1e-4:
ebmlib's FISTA in float32 and float64 (and in float32 with adaptive restart) runs exactly
the number of iterations it needs for that gap (found from its energy trace with
``ebmlib.solvers.iterations_to``, then timed with ``trace=False``: codes only, as the other
tools return); SPAMS (``spams.lasso``, lambda1 = λ/2, mode=2: LARS, exact, ``--threads``
threads) and scikit-learn (``SparseCoder``, lasso_cd, transform_alpha = λ/2, one run) run
with their defaults, and their gap is reported. ISTA's and FISTA's iteration counts to the
same gap are reported too. ``--quick``: 200 held-out digits, a 200-step dictionary, a
2,000-iteration reference.
Everything runs in this process, on the CPU unless a GPU is given (--device cuda).
"""

from __future__ import annotations

import numpy as np
import torch
from common import arguments, best_time, digits, mnist_dictionary, print_table, setup, sync, threads_line

from ebmlib.energy import sparse_coding_energy
from ebmlib.solvers import fista, ista, iterations_to

GAP = 1e-4


def iterations_to_gap(solver, y, W, lam, E_star, max_iter, **options):
    """The first iteration at which the batch's total energy is within GAP of E* (None: not reached)."""
    trace = solver(y, W, lam, max_iter=max_iter, tol=0, **options).trace
    return iterations_to(trace.double().sum(1), E_star, GAP)


def gap_of(y64, W64, z, lam, E_star):
    z = torch.as_tensor(np.asarray(z), dtype=torch.float64)
    return float((sparse_coding_energy(y64, W64, z, lam).sum() - E_star) / E_star)


def main() -> None:
    args = arguments(__doc__).parse_args()
    device = setup(args)
    threads = torch.get_num_threads()
    train, test, source = digits()
    ref_iter = 2000 if args.quick else 20000
    if args.quick:
        test = test[:200]
    print(f"data: {source}, {len(test)} held-out digits; dictionary learned on {len(train)}; "
          f"device {device}, {threads} threads")
    W32 = mnist_dictionary(train, steps=200 if args.quick else None).to(device)
    W64, y64 = W32.double(), test.double().to(device)
    y32 = test.to(device)

    import spams
    from sklearn.decomposition import SparseCoder

    X_f = np.asfortranarray(test.double().numpy().T)
    D_f = np.asfortranarray(W64.cpu().numpy())
    rows = []
    for lam in (0.1, 0.5, 1.0):
        E_star = float(fista(y64, W64, lam, max_iter=ref_iter, tol=0).trace[-1].sum())
        k32 = iterations_to_gap(fista, y32, W32, lam, E_star, ref_iter) or ref_iter
        k64 = iterations_to_gap(fista, y64, W64, lam, E_star, ref_iter) or ref_iter
        k_ista = iterations_to_gap(ista, y64, W64, lam, E_star, ref_iter)
        k_rs = iterations_to_gap(fista, y32, W32, lam, E_star, ref_iter, restart=True) or ref_iter

        def run(y, W, k, restart=False):  # codes only, as SPAMS and scikit-learn return
            fista(y, W, lam, max_iter=k, tol=0, restart=restart, trace=False)
            sync(device)

        t32 = best_time(lambda: run(y32, W32, k32), args.repeats)
        t64 = best_time(lambda: run(y64, W64, k64), args.repeats)
        t_rs = best_time(lambda: run(y32, W32, k_rs, restart=True), args.repeats)
        z32 = fista(y32, W32, lam, max_iter=k32, tol=0).z
        t_spams = best_time(lambda: spams.lasso(X_f, D=D_f, lambda1=lam / 2, mode=2,
                                                numThreads=threads), args.repeats)
        alpha = spams.lasso(X_f, D=D_f, lambda1=lam / 2, mode=2, numThreads=threads)
        coder = SparseCoder(dictionary=D_f.T, transform_algorithm="lasso_cd", transform_alpha=lam / 2)
        t_sk = best_time(lambda: coder.transform(test.double().numpy()), 1)
        z_sk = coder.transform(test.double().numpy())
        rows.append((lam, k_ista, k64, t32, t64, t_rs, t_spams, t_sk,
                     gap_of(y64.cpu(), W64.cpu(), z32.double().cpu(), lam, E_star),
                     gap_of(y64.cpu(), W64.cpu(), alpha.toarray().T, lam, E_star),
                     gap_of(y64.cpu(), W64.cpu(), z_sk, lam, E_star)))

    head = ("λ", "ISTA it", "FISTA it", "it ratio", "FISTA f32", "FISTA f64", "f32+restart",
            "SPAMS", "sklearn", "best/SPAMS", "sklearn/best", "gap f32", "gap SPAMS", "gap sklearn")
    table = []
    for lam, ki, kf, t32, t64, trs, ts, tk, g32, gs, gk in rows:
        best = min(t32, trs)
        table.append((f"{lam:g}", ki or f">{ref_iter}", kf, f"{ki / kf:.1f}" if ki and kf else "-",
                      f"{t32:.4f}", f"{t64:.4f}", f"{trs:.4f}", f"{ts:.4f}", f"{tk:.3f}",
                      f"{best / ts:.2f}", f"{tk / best:.1f}", f"{g32:.1e}", f"{gs:.1e}", f"{gk:.1e}"))
    print_table(head, table, title=f"Time to a relative energy gap <= {GAP:g} (seconds, best of "
                                   f"{args.repeats}; scikit-learn: 1 run)")
    print("\nbest = the faster of FISTA f32 and FISTA f32 with adaptive restart")
    print("goals: best/SPAMS <= 1.0, sklearn/best >= 3, ISTA it / FISTA it >= 5")
    print(threads_line())


if __name__ == "__main__":
    main()
