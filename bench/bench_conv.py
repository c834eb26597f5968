"""Benchmark: convolutional sparse coding, ebmlib's conv_fista against sporco's ConvBPDN.

    .venv/bin/python bench/bench_conv.py [--device cpu] [--threads N] [--repeats 3] [--quick]
    (or: make bench)

Setup (sporco's own example, ``examples/scripts/sc/cbpdn_gry.py``): the 256 × 256 grey crop
of ``kodim23.png`` that ships with sporco, high-pass filtered with
``sporco.signal.tikhonov_filter(img, 5.0, 16)``; sporco's dictionary ``'G:12x12x36'``
(36 kernels 12 × 12); λ = 0.05. Both solvers minimise the same objective,
½‖Σ_m d_m * x_m − s‖² + λ Σ_m ‖x_m‖₁ with a circular boundary (ebmlib:
``boundary="circular"``), and both objectives are computed with ebmlib's
``conv_energy`` in float64 from the maps each solver returns.

1. sporco ConvBPDN runs with its example's options (rho = 50λ + 1, RelStopTol 5e-3,
   AuxVarObj False) and MaxMainIter 500; its final objective is the target.
2. ebmlib's FISTA (float32, and float32 with adaptive restart) runs exactly the number of
   iterations it needs to reach an objective <= the target (the first one in its energy
   trace, ``ebmlib.solvers.iterations_to``, confirmed in float64); that run is timed, codes
   only (``trace=False``).
Times are the best of ``--repeats`` runs, in this process, on ``--threads`` CPU threads
(sporco's FFTs use pyFFTW with as many threads where it is installed).

Then the time of the chapter's filter progression (1, 2, 4, 8, 16, 32 maps, learned on the
photographs of ``ebmlib.data.sample_images`` prepared by ``ebmlib.data.highpass_images``)
is reported, on ``--device``. ``--quick``: 50 sporco iterations, and the progression with
1, 2 and 4 maps for 20 steps.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import arguments, best_time, print_table, setup, sync, threads_line

from ebmlib.conv import conv_energy, conv_fista, decode, learn_conv_dictionary
from ebmlib.data import highpass_images, sample_images
from ebmlib.solvers import iterations_to

# The chapter's progression settings (book/en/conv-sparse-coding.md)
PROGRESSION = {"kernel_size": 9, "lam": 2.0, "steps": 250, "batch_size": 8, "crop": 32, "max_iter": 10,
               "step_scale": 1.8}


def sporco_problem():
    from sporco import signal, util

    img = util.ExampleImages().image("kodim23.png", scaled=True, gray=True,
                                     idxexp=np.s_[160:416, 60:316])
    _, sh = signal.tikhonov_filter(img, 5.0, 16)
    D = util.convdicts()["G:12x12x36"]
    return sh.astype(np.float32), D.astype(np.float32), 0.05


def objective(s, D, x, lam) -> float:
    """½‖Σ d_m * x_m − s‖² + λ‖x‖₁ (circular), float64, with x in sporco's layout (H, W, 1, 1, M)."""
    y = torch.from_numpy(np.asarray(s, dtype=np.float64))[None, None]
    K = torch.from_numpy(np.asarray(D, dtype=np.float64).transpose(2, 0, 1))[:, None]
    z = torch.from_numpy(np.asarray(x, dtype=np.float64).reshape(*s.shape, -1).transpose(2, 0, 1))[None]
    return float(conv_energy(y, K, z, lam, "circular")[0])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--max-iter", type=int, default=None, help="sporco's MaxMainIter (default 500)")
    parser.add_argument("--fista-max", type=int, default=1500, help="most FISTA iterations tried")
    parser.add_argument("--skip-progression", action="store_true")
    args = parser.parse_args()
    device = setup(args)
    max_iter = args.max_iter or (50 if args.quick else 500)

    import sporco
    from sporco.admm import cbpdn

    s, D, lam = sporco_problem()
    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": max_iter,
                                  "RelStopTol": 5e-3, "AuxVarObj": False})

    def run_sporco():
        solver = cbpdn.ConvBPDN(D, s, lam, opt, dimK=0)
        return solver, solver.solve()

    solver, x = run_sporco()
    t_sporco = best_time(run_sporco, args.repeats)
    target = objective(s, D, x, lam)
    iters_sporco = solver.k

    y = torch.from_numpy(s)[None, None].to(device)
    K = torch.from_numpy(np.ascontiguousarray(D.transpose(2, 0, 1)))[:, None].to(device)
    # same operator: ebmlib's circular decoder reproduces sporco's reconstruction
    z_sp = torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(*s.shape, -1).transpose(2, 0, 1))[None]
    same = float((decode(z_sp.to(device), K, "circular").cpu()[0, 0]
                  - torch.from_numpy(np.asarray(solver.reconstruct()).reshape(s.shape))).abs().max())

    rows = [("sporco ConvBPDN (ADMM)", iters_sporco, t_sporco, target)]
    for name, restart in (("ebmlib conv_fista", False), ("ebmlib conv_fista, restart", True)):
        trace = conv_fista(y, K, lam, max_iter=args.fista_max, tol=0, boundary="circular",
                           restart=restart).trace
        k = iterations_to(trace[:, 0].double().cpu(), target, 0.0) or args.fista_max  # E_k <= target
        while True:  # the float32 trace may be optimistic: confirm in float64
            z = conv_fista(y, K, lam, max_iter=k, tol=0, boundary="circular", restart=restart).z
            E = objective(s, D, z[0].permute(1, 2, 0).cpu().numpy(), lam)
            if E <= target or k >= args.fista_max:
                break
            k += 5

        def run():
            conv_fista(y, K, lam, max_iter=k, tol=0, boundary="circular", restart=restart, trace=False)
            sync(device)

        rows.append((name, k, best_time(run, args.repeats), E))

    print(f"sporco {sporco.__version__}, torch {torch.__version__}, device {device}, "
          f"{torch.get_num_threads()} threads")
    print(f"image 256 × 256 (kodim23, Tikhonov high-pass), dictionary G:12x12x36, λ = {lam}; "
          f"ebmlib's decoder vs sporco's reconstruct: max |difference| {same:.2e}")
    print_table(("method", "iterations", "seconds", "objective", "time ratio"),
                [(name, k, f"{t:.3f}", f"{E:.5f}", f"{t / t_sporco:.2f}") for name, k, t, E in rows],
                title=f"time to sporco's objective (best of {args.repeats})")

    if not args.skip_progression:
        images = [im.to(device) for im in highpass_images(sample_images(), 2.0)]  # (1, H, W) each
        settings = {**PROGRESSION, "steps": 20} if args.quick else PROGRESSION
        table, total = [], 0.0
        for m in (1, 2, 4) if args.quick else (1, 2, 4, 8, 16, 32):
            start = time.perf_counter()
            learn_conv_dictionary(images, m, seed=0, **settings)
            sync(device)
            seconds = time.perf_counter() - start
            total += seconds
            table.append((m, f"{seconds:.2f}"))
        table.append(("total", f"{total:.2f}"))
        print_table(("maps", "seconds"), table, title=f"filter progression on {device}: {settings}")
    print(threads_line())


if __name__ == "__main__":
    main()
