"""Benchmark: exact sparse coding over problem families, ebmlib against SPAMS and scikit-learn.

    .venv/bin/python bench/bench_sparse_coding.py [--device cpu] [--threads N] [--repeats 3] [--quick]
    (or: make bench)

Energy E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ for every sample y of a batch. Problem families
(1,000 samples each; ``--quick``: 200 and shorter dictionary learning):

* ``mnist``: the held-out digits and a 256-atom dictionary learned by ebmlib on the training
  digits with the chapter's recipe (bench/common.py), λ ∈ {0.1, 0.5, 1.0} (today's setting);
* ``patches``: 12 × 12 natural-image patches (``ebmlib.data.image_patches``, mean removed,
  ⟨‖y‖⟩ = 1) and a 2× overcomplete dictionary (288 atoms) learned on other patches;
* ``gaussian``: a random Gaussian dictionary (128 × 256, unit columns), y = W z₀ + noise with
  16-sparse z₀;
* ``coherent``: 8 × 8 patches and a 4× overcomplete dictionary whose 256 atoms are other
  (normalised) patches: strongly correlated atoms.

For the last three, λ = ρ · mean_y ‖2 W_dᵀ y‖_∞ with ρ ∈ {0.05, 0.2, 0.5} (from dense to very
sparse codes; at ρ = 1 every code is 0). The reference optimum E* of a cell is, per sample, the
lower of the energies of ebmlib's exact solver in float64 and of SPAMS. Each method is timed
(best of ``--repeats``; scikit-learn: one run) to a relative gap (ΣE − ΣE*)/ΣE* ≤ 1e-4:

* ``exact f32`` / ``exact f64``: ``ebmlib.solvers.lasso`` as a user calls it (``method="auto"``:
  on the CPU the homotopy, compiled with numba, each code exact and checked by the optimality
  conditions; it runs to the end; compilation excluded: it happens once, at the first call);
* ``active set``: ``lasso(method="active-set")`` in float64, the batched method that ``auto``
  takes on a GPU (corrections, then FISTA rounds where they fail, each code solved exactly on
  its support and checked);
* ``FISTA f32``: ``ebmlib.solvers.fista`` run exactly the number of iterations it needs for the
  gap (found from its energy trace, at most 5,000; 500 with ``--quick``), timed with
  ``trace=False``; ``>cap`` when the cap does not reach the gap (then the time of the cap);
* ``SPAMS``: ``spams.lasso(mode=2, lambda1=λ/2)``, LARS, exact, ``--threads`` threads, float64;
* ``sklearn``: ``SparseCoder(transform_algorithm="lasso_cd", transform_alpha=λ/2)``, float64.

Columns ``it``: the iterations of the slowest sample (``exact``: the homotopy's steps, each an
atom joining or leaving the support, on the CPU; ``AS``: FISTA iterations of the active set)
or FISTA's iterations to the gap;
``nnz``: mean non-zeros per optimal code; ``gap``: each method's relative gap;
``exact/SPAMS``: the faster of the exact solver's two dtypes over SPAMS (the goal is ≤ 1);
``AS/SPAMS``: the same for the active set;
``FISTA/SPAMS``: the same for FISTA f32 (not exact: stopped at the gap);
``sklearn/exact``: scikit-learn's time over that (the goal is ≥ 3).
Everything runs in this process, ebmlib on ``--device`` (SPAMS and scikit-learn on the CPU).
"""

from __future__ import annotations

import numpy as np
import torch
from common import arguments, best_time, digits, mnist_dictionary, print_table, setup, sync, threads_line

from ebmlib.data import image_patches
from ebmlib.dictionary import learn_dictionary
from ebmlib.energy import sparse_coding_energy
from ebmlib.solvers import fista, iterations_to, lasso

GAP = 1e-4
RHO = (0.05, 0.2, 0.5)


def unit_columns(W: torch.Tensor) -> torch.Tensor:
    return W / W.norm(dim=0)


def families(quick: bool) -> list[tuple[str, torch.Tensor, torch.Tensor, tuple[float, ...] | None]]:
    """(name, y (B, n), W (n, m), λ values or None for ρ · mean λ_max), float32 on the CPU."""
    B = 200 if quick else 1000
    train, test, _ = digits()
    W_mnist = mnist_dictionary(train, steps=200 if quick else None)
    out = [("mnist", test[:B], W_mnist, (0.1, 0.5, 1.0))]

    train_p = image_patches(20000, 12, seed=1, scale="mean_norm")
    W_p, _ = learn_dictionary(train_p, 288, 0.1, steps=100 if quick else 400, max_iter=20, step_scale=1.5,
                              seed=2)
    out.append(("patches", image_patches(B, 12, seed=3, scale="mean_norm"), W_p, None))

    g = torch.Generator().manual_seed(4)
    W_g = unit_columns(torch.randn(128, 256, generator=g))
    z0 = torch.zeros(B, 256)
    for i in range(B):
        z0[i, torch.randperm(256, generator=g)[:16]] = torch.randn(16, generator=g)
    y_g = z0 @ W_g.T + 0.05 * torch.randn(B, 128, generator=g)
    out.append(("gaussian", y_g, W_g, None))

    atoms = image_patches(4000, 8, seed=5)
    atoms = atoms[atoms.norm(dim=1) > 1e-3 * atoms.norm(dim=1).max()][:256]
    out.append(("coherent", image_patches(B, 8, seed=6, scale="mean_norm"), unit_columns(atoms.T), None))
    return out


def main() -> None:
    args = arguments(__doc__).parse_args()
    device = setup(args)
    threads = torch.get_num_threads()
    cap = 500 if args.quick else 5000
    import spams
    from sklearn.decomposition import SparseCoder

    table = []
    for name, y32, W32, lams in families(args.quick):
        y64, W64 = y32.double(), W32.double()
        if lams is None:
            lam_max = float((2 * y64 @ W64).abs().amax(1).mean())
            lams = tuple(float(f"{rho * lam_max:.3g}") for rho in RHO)
        print(f"{name}: y {tuple(y32.shape)}, W {tuple(W32.shape)}, λ {lams}", flush=True)
        yd32, Wd32, yd64, Wd64 = (t.to(device) for t in (y32, W32, y64, W64))
        X_f = np.asfortranarray(y64.numpy().T)
        D_f = np.asfortranarray(W64.numpy())

        def spams_codes(lam):
            return spams.lasso(X_f, D=D_f, lambda1=lam / 2, mode=2, numThreads=threads)

        for lam in lams:
            def energy(z, lam=lam):
                return sparse_coding_energy(y64, W64, torch.as_tensor(np.asarray(z)).double().cpu(), lam)

            exact64 = lasso(yd64, Wd64, lam)
            E_spams = energy(spams_codes(lam).toarray().T)
            E_star = torch.minimum(energy(exact64.z), E_spams).sum()

            def gap(z, E_star=E_star, energy=energy):
                return float((energy(z).sum() - E_star) / E_star)

            def timed(fn):
                def run():
                    fn()
                    sync(device)
                return best_time(run, args.repeats)

            t64 = timed(lambda lam=lam: lasso(yd64, Wd64, lam))
            t32 = timed(lambda lam=lam: lasso(yd32, Wd32, lam))
            exact32 = lasso(yd32, Wd32, lam)
            t_as = timed(lambda lam=lam: lasso(yd64, Wd64, lam, method="active-set"))
            active = lasso(yd64, Wd64, lam, method="active-set")
            k, run_to = None, 250
            while k is None and run_to < 2 * cap:  # 250, 1000, 4000, then the cap: fresh runs from 0
                trace = fista(yd32, Wd32, lam, max_iter=min(run_to, cap), tol=0).trace
                k = iterations_to(trace.double().sum(1).cpu(), float(E_star), GAP)
                run_to = cap if run_to < cap <= 4 * run_to else 4 * run_to
            tf = timed(lambda lam=lam, k=k: fista(yd32, Wd32, lam, max_iter=k or cap, tol=0, trace=False))
            z_f = fista(yd32, Wd32, lam, max_iter=k or cap, tol=0, trace=False).z
            ts = best_time(lambda lam=lam: spams_codes(lam), args.repeats)
            coder = SparseCoder(dictionary=D_f.T, transform_algorithm="lasso_cd", transform_alpha=lam / 2)
            tk = best_time(lambda coder=coder: coder.transform(y64.numpy()), 1)
            z_k = coder.transform(y64.numpy())
            best = min(t32, t64)
            nnz = float((exact64.z != 0).sum(1).double().mean())
            gaps = (gap(exact32.z.cpu()), gap(exact64.z.cpu()), gap(active.z.cpu()), gap(z_f.cpu()),
                    float((E_spams.sum() - E_star) / E_star), gap(z_k))
            table.append((name, f"{lam:g}", f"{nnz:.1f}", exact64.n_iter, f"{t32:.4f}", f"{t64:.4f}",
                          active.n_iter,
                          f"{t_as:.4f}", k if k else f">{cap}", f"{tf:.4f}", f"{ts:.4f}", f"{tk:.3f}",
                          f"{best / ts:.2f}", f"{t_as / ts:.2f}", f"{tf / ts:.2f}", f"{tk / best:.1f}",
                          *(f"{max(g, 0):.0e}" for g in gaps)))

    head = ("family", "λ", "nnz", "exact it", "exact f32", "exact f64", "AS it", "active set", "FISTA it",
            "FISTA f32", "SPAMS", "sklearn", "exact/SPAMS", "AS/SPAMS", "FISTA/SPAMS", "sklearn/exact",
            "gap e32", "gap e64", "gap AS", "gap FISTA", "gap SPAMS", "gap sklearn")
    print_table(head, table, title=f"Time to a relative energy gap <= {GAP:g} (seconds, best of "
                                   f"{args.repeats}; scikit-learn: 1 run); device {device}")
    print("\nexact/SPAMS uses the faster of exact f32 and exact f64; AS = lasso(method='active-set'), f64")
    print("goals: exact/SPAMS <= 1.0, sklearn/exact >= 3")
    print(threads_line())


if __name__ == "__main__":
    main()
