"""ebmlib.solvers: shrinkage, ISTA and FISTA for E(z, y) = ‖y − W z‖² + λ‖z‖₁.

The reference optimum comes from scikit-learn. Its ``Lasso`` fits one sample y (n,) with
the design matrix W (n, m), i.e. n rows, and minimises 1/(2n)‖y − W z‖² + α‖z‖₁: multiplied
by 2n this is our energy with λ = 2nα, so α = λ/(2n). ``SparseCoder`` divides its
``transform_alpha`` by n itself, so there transform_alpha = λ/2.
:func:`test_sklearn_reference_minimises_our_energy` checks both scalings numerically.
"""

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import SparseCoder
from sklearn.linear_model import Lasso

from ebmlib import InvalidArgumentError, solvers
from ebmlib.energy import sparse_coding_energy
from ebmlib.solvers import (
    SparseCode,
    _solve,
    _use_precomputed,
    fista,
    ista,
    iterations_to,
    lasso,
    lipschitz,
    shrink,
)

SOLVERS = [ista, fista]
PATHS = ["precomputed", "direct"]


def sklearn_codes(y, W, lam):
    """argmin_z ‖y − W z‖² + λ‖z‖₁ per sample, by scikit-learn's coordinate descent, float64."""
    Wn = W.detach().cpu().double().numpy()
    n = Wn.shape[0]
    lasso = Lasso(alpha=lam / (2 * n), fit_intercept=False, tol=1e-12, max_iter=100000)
    codes = [lasso.fit(Wn, row).coef_.copy() for row in y.detach().cpu().double().numpy()]
    return torch.from_numpy(np.stack(codes))


def energy64(y, W, z, lam):
    return sparse_coding_energy(y.detach().cpu().double(), W.detach().cpu().double(),
                                z.detach().cpu().double(), lam)


def orthonormal_columns(n, m, *, seed=0, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, m, generator=g, dtype=torch.float64))
    return Q.to(device, dtype)


def ill_conditioned(n, *, seed=3, cond=100.0):
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    W = U @ torch.diag(torch.logspace(0, -math.log10(cond), n, dtype=torch.float64)) @ V.T
    return W / W.norm(dim=0), torch.randn(4, n, generator=g, dtype=torch.float64)


# -- shrink ----------------------------------------------------------------------------

def test_shrink_with_a_scalar_threshold(device):
    x = torch.linspace(-2, 2, 101, device=device).reshape(1, -1)
    expected = torch.nn.functional.softshrink(x, 0.5)
    torch.testing.assert_close(shrink(x, 0.5), expected)
    torch.testing.assert_close(shrink(x, torch.tensor(0.5)), expected)
    assert shrink(x, 0.0).equal(x)


def test_shrink_with_one_threshold_per_component(device):
    x = torch.tensor([[3.0, -0.5, -2.0], [-3.0, 0.9, 0.25]], device=device)
    theta = torch.tensor([1.0, 1.0, 0.5], device=device)
    expected = torch.tensor([[2.0, 0.0, -1.5], [-2.0, 0.0, 0.0]], device=device)
    torch.testing.assert_close(shrink(x, theta), expected)


@pytest.mark.parametrize("theta", [-0.1, math.nan, math.inf, torch.tensor(-1.0),
                                   torch.tensor([0.5, -0.1, 0.2]), torch.tensor([0.5, math.nan, 0.2])])
def test_shrink_rejects_negative_or_non_finite_theta(theta):
    with pytest.raises(ValueError, match="'theta'"):
        shrink(torch.ones(2, 3), theta)


def test_shrink_rejects_a_threshold_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"'theta'.*\(3,\).*\(4,\)"):
        shrink(torch.ones(2, 3), torch.ones(4))
    with pytest.raises(ValueError, match="'theta'"):
        shrink(torch.ones(2, 3), torch.ones(2, 3))


# -- lipschitz and the energy ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lipschitz_is_twice_the_largest_eigenvalue_of_the_gram_matrix(device, dtype, sparse_problem,
                                                                       float64_or_skip):
    float64_or_skip(device, dtype)
    _, W = sparse_problem(1, 7, 11, device=device, dtype=dtype)
    L = lipschitz(W)
    assert isinstance(L, float)
    top = torch.linalg.eigvalsh(W.cpu().double().T @ W.cpu().double())[-1].item()
    assert L == pytest.approx(2 * top, rel=1e-5)
    # the gradient 2Wᵀ(Wz − y) changes by at most L‖Δz‖, with equality along the top direction
    Wd = W.cpu().double()
    _, _, Vh = torch.linalg.svd(Wd)
    for dz in (Vh[0], torch.randn(11, dtype=torch.float64)):
        ratio = (2 * Wd.T @ (Wd @ dz)).norm() / dz.norm()
        assert ratio.item() <= L * (1 + 1e-5)
    assert (2 * Wd.T @ (Wd @ Vh[0])).norm().item() == pytest.approx(L, rel=1e-5)


def test_sparse_coding_energy_is_reconstruction_plus_lambda_l1(device, sparse_problem):
    y, W = sparse_problem(3, 4, 6, device=device, dtype=torch.float32)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(5)).to(device)
    out = sparse_coding_energy(y, W, z, 0.7)
    assert out.shape == (3,) and out.device.type == device.type
    for b in range(3):
        rec = sum((y[b, i] - sum(W[i, j] * z[b, j] for j in range(6))) ** 2 for i in range(4))
        l1 = sum(abs(z[b, j]) for j in range(6))
        assert out[b].item() == pytest.approx((rec + 0.7 * l1).item(), rel=1e-5)


def test_sparse_coding_energy_rejects_bad_input():
    y, W = torch.zeros(3, 4), torch.ones(4, 6)
    with pytest.raises(ValueError, match="'y' and 'W'.*n = 4"):
        sparse_coding_energy(torch.zeros(3, 5), W, torch.zeros(3, 6), 0.1)
    with pytest.raises(ValueError, match="'z' and 'W'.*m = 6"):
        sparse_coding_energy(y, W, torch.zeros(3, 5), 0.1)
    with pytest.raises(ValueError, match="'y' and 'z'.*batch size"):
        sparse_coding_energy(y, W, torch.zeros(2, 6), 0.1)
    with pytest.raises(ValueError, match="'lam'"):
        sparse_coding_energy(y, W, torch.zeros(3, 6), -1.0)
    with pytest.raises(ValueError, match="'y' and 'W'.*dtype"):
        sparse_coding_energy(y, W.double(), torch.zeros(3, 6), 0.1)


# -- the optimum -------------------------------------------------------------------------

def test_sklearn_reference_minimises_our_energy(sparse_problem):
    """The reference satisfies our energy's optimality conditions: the scaling α = λ/(2n) is right."""
    lam = 0.3
    y, W = sparse_problem(3, 8, 20, seed=1)
    z = sklearn_codes(y, W, lam)
    grad = 2 * (z @ W.T - y) @ W  # gradient of ‖y − W z‖²
    on = z != 0
    assert 0 < int(on.sum()) < z.numel()  # a genuinely sparse, non-trivial solution
    torch.testing.assert_close(grad[on], -lam * torch.sign(z[on]), atol=1e-8, rtol=0)
    assert bool((grad[~on].abs() <= lam + 1e-8).all())
    # SparseCoder with transform_alpha = λ/2 solves the same problem
    coder = SparseCoder(W.T.numpy(), transform_algorithm="lasso_cd", transform_alpha=lam / 2,
                        transform_max_iter=100000)
    torch.testing.assert_close(torch.from_numpy(coder.transform(y.numpy())), z, atol=1e-6, rtol=0)
    # while α = λ/2 in Lasso itself (n_samples = n rows of W) solves another problem
    wrong = Lasso(alpha=lam / 2, fit_intercept=False, tol=1e-12).fit(W.numpy(), y[0].numpy()).coef_
    assert energy64(y[:1], W, torch.from_numpy(wrong)[None], lam) > energy64(y[:1], W, z[:1], lam) + 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("B, n, m", [(1, 8, 20), (5, 8, 20), (5, 8, 12), (5, 12, 6)],
                         ids=["B1-m>2n", "m>2n", "n<m<2n", "m<n"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_solvers_reach_the_lasso_optimum(device, solver, B, n, m, dtype, sparse_problem, float64_or_skip):
    """Relative energy gap ≤ 1e-6 to scikit-learn's optimum, the energy evaluated in float64.

    The float32 codes are the fixed point of a float32 iteration; at the optimum the energy
    is flat to first order, so their rounding (~1e-7 relative) costs ~1e-12 in energy and
    the float32 runs meet the same 1e-6 bound. They use tol = 0: FISTA's float32 iterates
    keep moving by about 1e-7 (relative) and would not trigger a smaller tol.
    """
    float64_or_skip(device, dtype)
    lam = 0.3
    y, W = sparse_problem(B, n, m, seed=2, device=device, dtype=dtype)
    z_ref = sklearn_codes(y, W, lam)
    assert 0 < int((z_ref != 0).sum()) < z_ref.numel()
    tol = 1e-12 if dtype == torch.float64 else 0.0
    z, trace, _ = solver(y, W, lam, max_iter=20000 if dtype == torch.float64 else 8000, tol=tol)
    assert z.shape == (B, m) and z.dtype == dtype and z.device.type == device.type
    assert trace.shape[1] == B and trace.dtype == dtype and trace.device.type == device.type
    E_ref = energy64(y, W, z_ref, lam)
    gap = (energy64(y, W, z, lam) - E_ref) / E_ref
    assert float(gap.max()) <= 1e-6
    torch.testing.assert_close(z.cpu().double(), z_ref, atol=1e-3 if dtype == torch.float32 else 1e-6,
                               rtol=0)


@pytest.mark.parametrize("n, m", [(6, 6), (9, 4)], ids=["square", "tall"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_orthonormal_dictionary_is_solved_by_one_shrink(device, solver, path, n, m, sparse_problem):
    """With WᵀW = I, L = 2: one step from z = 0 gives z* = h_{λ/2}(Wᵀy), the exact optimum."""
    W = orthonormal_columns(n, m, device=device, dtype=torch.float32)
    y, _ = sparse_problem(3, n, m, device=device, dtype=torch.float32)
    lam = 0.8
    assert lipschitz(W) == pytest.approx(2.0, rel=1e-5)
    expected = torch.nn.functional.softshrink(y @ W, lam / 2)
    assert 0 < int((expected != 0).sum()) < expected.numel()
    z, trace, _ = _solve(y, W, lam, z0=None, max_iter=1, tol=1e-6, L=None, fast=solver is fista, path=path)
    torch.testing.assert_close(z, expected)
    assert trace.shape == (1, 3)
    # and it is optimal: scikit-learn agrees
    torch.testing.assert_close(z.cpu().double(), sklearn_codes(y, W, lam), atol=1e-5, rtol=0)


# -- the trace ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("path", PATHS)
def test_ista_energy_never_increases(device, path, dtype, sparse_problem, float64_or_skip):
    float64_or_skip(device, dtype)
    y, W = sparse_problem(6, 8, 14, seed=4, device=device, dtype=dtype)
    _, trace, _ = _solve(y, W, 0.2, z0=None, max_iter=300, tol=0, L=None, fast=False, path=path)
    assert trace.shape == (300, 6)
    slack = 50 * torch.finfo(dtype).eps * trace[0]
    assert bool((trace[1:] <= trace[:-1] + slack).all())
    assert bool((trace[-1] < trace[0]).all())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_trace_holds_the_energy_of_every_iterate(device, solver, path, sparse_problem):
    y, W = sparse_problem(3, 5, 9, seed=6, device=device, dtype=torch.float32)
    z0 = torch.randn(3, 9, generator=torch.Generator().manual_seed(7)).to(device)
    lam = 0.4
    kw = {"z0": z0, "tol": 0.0, "L": None, "fast": solver is fista, "path": path}
    _, trace, _ = _solve(y, W, lam, max_iter=6, **kw)
    for k in range(1, 7):
        z_k, _, _ = _solve(y, W, lam, max_iter=k, **kw)
        torch.testing.assert_close(trace[k - 1], sparse_coding_energy(y, W, z_k, lam), rtol=1e-5, atol=1e-5)


def test_fista_needs_fewer_iterations_than_ista_on_an_ill_conditioned_problem():
    W, y = ill_conditioned(20, cond=50.0)
    assert torch.linalg.cond(W) > 25
    lam = 0.05
    z_star, _, _ = fista(y, W, lam, max_iter=6000, tol=0)  # within ~1e-9 of the optimum
    F_star = sparse_coding_energy(y, W, z_star, lam)

    def iterations_to(solver, gap, max_iter):
        _, trace, _ = solver(y, W, lam, max_iter=max_iter, tol=0)
        reached = (((trace - F_star) / F_star).max(1).values <= gap).nonzero()
        assert len(reached) > 0, f"{solver.__name__} never reached the gap {gap}"
        return int(reached[0]) + 1

    n_ista, n_fista = iterations_to(ista, 1e-3, 5000), iterations_to(fista, 1e-3, 1000)
    assert 3 * n_fista < n_ista


# -- the two code paths --------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(10, 5), (6, 9), (4, 15)])
@pytest.mark.parametrize("solver", SOLVERS)
def test_precomputed_and_direct_paths_agree(device, solver, n, m, sparse_problem, float64_or_skip):
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(4, n, m, seed=8, device=device)
    z0 = torch.randn(4, m, generator=torch.Generator().manual_seed(9), dtype=torch.float64).to(device)
    out = {p: _solve(y, W, 0.25, z0=z0, max_iter=150, tol=0, L=None, fast=solver is fista, path=p)
           for p in PATHS}
    torch.testing.assert_close(out["precomputed"][0], out["direct"][0], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(out["precomputed"][1], out["direct"][1], rtol=1e-9, atol=1e-10)
    assert bool((out["direct"][0] != z0).any())


def test_the_path_follows_the_flop_count():
    assert _use_precomputed(B=64, n=100, m=50, max_iter=1000)  # m < n: S is smaller than W
    assert _use_precomputed(B=64, n=100, m=190, max_iter=1000)  # m ≤ 2n: B·m² ≤ 2·B·n·m
    assert not _use_precomputed(B=64, n=100, m=210, max_iter=1000)  # m > 2n
    assert not _use_precomputed(B=1, n=100, m=150, max_iter=1)  # WᵀW is not worth one iteration


def test_unknown_path_is_rejected(sparse_problem):
    y, W = sparse_problem(2, 3, 4)
    with pytest.raises(ValueError, match="'path'"):
        _solve(y, W, 0.1, z0=None, max_iter=5, tol=0, L=None, fast=False, path="fast")


# -- stopping ------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_from_the_optimum_stops_at_once(device, solver, sparse_problem, float64_or_skip):
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(5, 12, 6, seed=10, device=device)
    lam = 0.3
    z_star, _, _ = fista(y, W, lam, max_iter=3000, tol=0)
    z, trace, _ = solver(y, W, lam, z0=z_star, tol=1e-10)
    assert trace.shape == (1, 5)
    torch.testing.assert_close(z, z_star)
    _, cold, _ = solver(y, W, lam, tol=1e-10)
    assert cold.shape[0] > 10


@pytest.mark.parametrize("solver", SOLVERS)
def test_tol_stops_at_the_first_small_relative_change(device, solver, sparse_problem, float64_or_skip):
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(4, 6, 10, seed=11, device=device)
    lam, tol = 0.3, 1e-4
    z, trace, n_iter = solver(y, W, lam, max_iter=5000, tol=tol)
    T = trace.shape[0]
    assert 3 < T < 5000 and trace.shape == (T, 4)
    assert n_iter == T  # the iterations done, fewer than max_iter when tol stops the run
    assert solver(y, W, lam, max_iter=5000, tol=tol, trace=False).n_iter == T

    def iterate(k):
        return solver(y, W, lam, max_iter=k, tol=0)[0]

    def change(a, b):
        return float((a - b).norm() / b.norm())

    torch.testing.assert_close(z, iterate(T))
    assert change(iterate(T), iterate(T - 1)) <= tol
    assert change(iterate(T - 1), iterate(T - 2)) > tol


@pytest.mark.parametrize("solver", SOLVERS)
def test_tol_zero_runs_every_iteration(solver, sparse_problem):
    W = orthonormal_columns(5, 5)
    y, _ = sparse_problem(2, 5, 5)
    _, trace, n_iter = solver(y, W, 0.5, max_iter=7, tol=0)  # converged after 1, still runs 7
    assert trace.shape == (7, 2) and n_iter == 7
    _, trace, n_iter = solver(y, W, 0.5, max_iter=7, tol=1e-6)
    assert trace.shape == (2, 2) and n_iter == 2


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("restart", [False, True])
@pytest.mark.parametrize("solver", SOLVERS)
def test_without_trace_the_codes_and_the_stop_are_the_same(device, solver, path, restart, sparse_problem,
                                                           float64_or_skip):
    float64_or_skip(device, torch.float64)
    if restart and solver is ista:
        pytest.skip("restart is a FISTA option")
    options = {"restart": True} if restart else {}
    y, W = sparse_problem(5, 8, 12, seed=4, device=device)
    z, trace, n_iter = _solve(y, W, 0.4, z0=None, max_iter=3000, tol=1e-7, L=None,
                              fast=solver is fista, path=path, **options)
    z_fast, none, n_fast = _solve(y, W, 0.4, z0=None, max_iter=3000, tol=1e-7, L=None,
                                  fast=solver is fista, path=path, trace=False, **options)
    assert none is None and trace.shape[0] == n_iter < 3000
    assert n_fast == n_iter  # the count is kept without the trace
    torch.testing.assert_close(z_fast, z, rtol=0, atol=0)
    # the same number of iterations: one more or one fewer would change z
    assert not torch.equal(_solve(y, W, 0.4, z0=None, max_iter=trace.shape[0] - 1, tol=0, L=None,
                                  fast=solver is fista, path=path, **options)[0], z)


# -- gradients -----------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_gradient_of_the_energy_at_the_returned_codes(device, solver, sparse_problem, float64_or_skip):
    """∂E/∂W at z* is the derivative of the free energy F(W) = min_z E (envelope theorem)."""
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(3, 12, 6, seed=12, device=device)
    lam = 0.3
    W.requires_grad_(True)
    y.requires_grad_(True)
    z, _, _ = solver(y, W, lam, max_iter=1000, tol=0)
    assert z.requires_grad
    gW, gy = torch.autograd.grad(sparse_coding_energy(y, W, z.detach(), lam).sum(), (W, y))
    assert gW.shape == W.shape and gy.shape == y.shape
    torch.autograd.grad(sparse_coding_energy(y, W, z, lam).sum(), (W, y))  # through the iterations
    D = torch.randn(W.shape, generator=torch.Generator().manual_seed(13), dtype=W.dtype).to(device)
    h = 1e-5

    def F(Wp):
        zp, _, _ = solver(y.detach(), Wp, lam, max_iter=1000, tol=0)
        return sparse_coding_energy(y.detach(), Wp, zp, lam).sum()

    with torch.no_grad():
        fd = (F(W + h * D) - F(W - h * D)) / (2 * h)
    assert (gW * D).sum().item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_gradients_flow_through_the_unrolled_iterations(solver, path, sparse_problem):
    """A few iterations form a differentiable network (LISTA's starting point): check by gradcheck."""
    y, W = sparse_problem(2, 5, 7, seed=14)
    L = 1.5 * lipschitz(W)  # fixed, so that L does not move with W in the finite differences

    def codes(yy, WW):
        return _solve(yy, WW, 0.2, z0=None, max_iter=4, tol=0, L=L, fast=solver is fista, path=path)[0]

    y.requires_grad_(True)
    W.requires_grad_(True)
    assert torch.autograd.gradcheck(codes, (y, W))
    gW, gy = torch.autograd.grad(codes(y, W).pow(2).sum(), (W, y))
    assert gW.abs().sum() > 0 and gy.abs().sum() > 0


# -- bad input fails loudly, naming the argument ---------------------------------------------

@pytest.fixture(params=SOLVERS, ids=lambda f: f.__name__)
def solver(request):
    return request.param


def test_rejects_y_that_is_not_2d(solver):
    with pytest.raises(ValueError, match=r"'y'.*2-D.*\(B, n\).*\(4,\)"):
        solver(torch.ones(4), torch.ones(4, 3), 0.1)


def test_rejects_W_that_is_not_2d(solver):
    with pytest.raises(ValueError, match=r"'W'.*2-D.*\(n, m\).*\(4, 3, 1\)"):
        solver(torch.ones(2, 4), torch.ones(4, 3, 1), 0.1)


def test_rejects_y_and_W_of_mismatched_shapes(solver):
    with pytest.raises(ValueError, match=r"'y' and 'W'.*n = 4.*\(2, 5\)"):
        solver(torch.ones(2, 5), torch.ones(4, 3), 0.1)


@pytest.mark.parametrize("lam", [-0.1, math.nan, math.inf])
def test_rejects_bad_lambda(solver, lam):
    with pytest.raises(ValueError, match="'lam'.*>= 0"):
        solver(torch.ones(2, 4), torch.ones(4, 3), lam)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_rejects_non_finite_y(solver, bad):
    y = torch.ones(2, 4)
    y[1, 2] = bad
    with pytest.raises(ValueError, match="'y'.*finite"):
        solver(y, torch.ones(4, 3), 0.1)


@pytest.mark.parametrize("bad", [math.nan, -math.inf])
def test_rejects_non_finite_W(solver, bad):
    W = torch.ones(4, 3)
    W[0, 1] = bad
    with pytest.raises(ValueError, match="'W'.*finite"):
        solver(torch.ones(2, 4), W, 0.1)


def test_rejects_z0_of_the_wrong_shape(solver):
    with pytest.raises(ValueError, match=r"'z0'.*\(2, 3\).*\(2, 4\)"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, z0=torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"'z0'.*2-D"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, z0=torch.zeros(6))


def test_rejects_a_zero_column(solver):
    W = torch.ones(4, 3)
    W[:, 2] = 0
    with pytest.raises(ValueError, match="'W': expected non-zero columns.*column 2"):
        solver(torch.ones(2, 4), W, 0.1)


@pytest.mark.parametrize("max_iter", [0, -3, 2.5])
def test_rejects_bad_max_iter(solver, max_iter):
    with pytest.raises(ValueError, match="'max_iter'"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, max_iter=max_iter)


def test_rejects_negative_tol(solver):
    with pytest.raises(ValueError, match="'tol'"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, tol=-1e-6)


@pytest.mark.parametrize("L", [0.0, -2.0, math.nan])
def test_rejects_bad_L(solver, L):
    with pytest.raises(ValueError, match="'L'"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, L=L)


def test_rejects_mismatched_dtypes(solver):
    with pytest.raises(ValueError, match="'y' and 'W'.*float32.*float64"):
        solver(torch.ones(2, 4), torch.ones(4, 3, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="'z0' and 'y'.*float64.*float32"):
        solver(torch.ones(2, 4), torch.ones(4, 3), 0.1, z0=torch.zeros(2, 3, dtype=torch.float64))


def test_rejects_mismatched_devices(solver, device):
    if device.type == "cpu":
        pytest.skip("needs a second device")
    with pytest.raises(ValueError, match="'y' and 'W'.*expected the same device"):
        solver(torch.ones(2, 4), torch.ones(4, 3, device=device), 0.1)


def test_fista_with_adaptive_restart_reaches_the_same_optimum_in_fewer_iterations(device):
    """restart=True (O'Donoghue & Candès) resets the momentum per sample; same optimum."""
    g = torch.Generator().manual_seed(11)
    W = torch.randn(30, 60, generator=g, dtype=torch.float64)
    W = (W + 2 * W[:, :1]) / (W + 2 * W[:, :1]).norm(dim=0)  # correlated atoms
    W, y = W.to(device), torch.randn(8, 30, generator=g, dtype=torch.float64).to(device)
    lam = 0.8
    _, ref, _ = fista(y, W, lam, max_iter=20000, tol=0)
    E_star = ref[-1].sum()

    def needed(restart):
        _, trace, _ = fista(y, W, lam, max_iter=5000, tol=0, restart=restart)
        gap = (trace.sum(1) - E_star) / E_star
        return int(torch.nonzero(gap <= 1e-8)[0]) + 1

    assert needed(True) < needed(False)
    _, trace, _ = fista(y, W, lam, max_iter=5000, tol=0, restart=True)
    assert float((trace[-1].sum() - E_star) / E_star) < 1e-10


# -- the result, iterations_to, numpy scalars, the error type ------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_solvers_return_a_sparse_code(solver, sparse_problem):
    y, W = sparse_problem(3, 6, 9, seed=15)
    out = solver(y, W, 0.2, max_iter=40, tol=0)
    assert isinstance(out, SparseCode) and out.n_iter == 40
    assert out.z.shape == (3, 9) and out.trace.shape == (40, 3)
    z, trace, n_iter = out
    assert z is out.z and trace is out.trace and n_iter == out.n_iter
    none = solver(y, W, 0.2, max_iter=40, tol=0, trace=False)
    assert none.trace is None and none.n_iter == 40
    torch.testing.assert_close(none.z, out.z, rtol=0, atol=0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_numpy_scalars_are_accepted(solver, sparse_problem):
    y, W = sparse_problem(3, 6, 9, seed=16)
    out = solver(y, W, np.float32(0.25), max_iter=np.int64(30), tol=np.float64(0.0),
                 L=np.float64(lipschitz(W)), trace=np.bool_(True))
    ref = solver(y, W, 0.25, max_iter=30, tol=0.0, L=lipschitz(W))
    assert out.n_iter == 30 and isinstance(out.n_iter, int)
    torch.testing.assert_close(out.z, ref.z, rtol=0, atol=0)
    torch.testing.assert_close(out.trace, ref.trace, rtol=0, atol=0)
    torch.testing.assert_close(shrink(y, np.float32(0.5)), shrink(y, 0.5))
    # a 0-d tensor is a number too, also one that requires grad (its value is read)
    lam = torch.tensor(0.25, dtype=y.dtype, requires_grad=True)
    out = solver(y, W, lam, max_iter=30, tol=0.0, L=lipschitz(W))
    torch.testing.assert_close(out.z, ref.z, rtol=0, atol=0)


def test_errors_are_both_value_and_type_errors(solver):
    for bad in ({"lam": -1.0}, {"lam": "0.1"}, {"max_iter": 2.5}, {"trace": "yes"}):
        kwargs = {"lam": 0.1, **bad}
        with pytest.raises(InvalidArgumentError) as info:
            solver(torch.ones(2, 4), torch.ones(4, 3), kwargs.pop("lam"), **kwargs)
        assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
        assert str(info.value).startswith(f"argument '{next(iter(bad))}': expected ")


def test_iterations_to_finds_the_first_iteration_below_the_gap():
    E_star = torch.tensor([1.0, 2.0], dtype=torch.float64)
    trace = torch.tensor([[3.0, 6.0], [1.5, 2.2], [1.01, 2.01], [1.0, 2.0]], dtype=torch.float64)
    # mean relative gaps: 2, 0.3, 0.0075, 0
    assert iterations_to(trace, E_star, 1.0) == 2
    assert iterations_to(trace, E_star, 0.31) == 2 and iterations_to(trace, E_star, 0.29) == 3
    assert iterations_to(trace, E_star, 0.01) == 3
    assert iterations_to(trace, E_star, 0.0) == 4
    assert iterations_to(trace[:2], E_star, 0.01) is None
    # the gap of the batch's total energy: pass the totals and the total E*
    assert iterations_to(trace.sum(1), 3.0, 0.01) == 3
    assert iterations_to(trace.sum(1), torch.tensor(3.0), np.float32(0.3)) == 2


def test_iterations_to_reads_a_solver_trace(device, sparse_problem, float64_or_skip):
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(4, 8, 16, seed=17, device=device)
    lam = 0.3
    _, ref, _ = fista(y, W, lam, max_iter=3000, tol=0, restart=True)
    E_star = ref[-1]
    trace = fista(y, W, lam, max_iter=500, tol=0).trace
    k = iterations_to(trace, E_star, 1e-4)
    assert k is not None and 1 < k < 500
    gaps = ((trace - E_star) / E_star).mean(dim=1)
    assert float(gaps[k - 1]) <= 1e-4 < float(gaps[: k - 1].min())


def test_iterations_to_rejects_bad_input():
    trace = torch.ones(5, 3)
    with pytest.raises(ValueError, match=r"'trace'.*\(T, B\) or \(T,\).*NoneType"):
        iterations_to(None, torch.ones(3), 0.1)
    with pytest.raises(ValueError, match=r"'E_star'.*one optimal energy per column"):
        iterations_to(trace, torch.ones(4), 0.1)
    with pytest.raises(ValueError, match=r"'E_star'.*> 0"):
        iterations_to(trace, torch.tensor([1.0, 0.0, 1.0]), 0.1)
    with pytest.raises(ValueError, match=r"'E_star'.*> 0"):
        iterations_to(trace, -1.0, 0.1)
    with pytest.raises(ValueError, match=r"'gap'.*>= 0"):
        iterations_to(trace, torch.ones(3), -0.1)


# -- lasso: the exact solver ------------------------------------------------------------------

def relative_gap(y, W, z, lam, z_ref):
    """Per-sample relative energy gap of z to the reference codes z_ref, float64."""
    E, E_ref = energy64(y, W, z, lam), energy64(y, W, z_ref, lam)
    return (E - E_ref) / E_ref


def kkt_violation(y, W, z, lam):
    """The largest violation of the optimality conditions, relative to λ_max, float64."""
    y, W, z = y.cpu().double(), W.cpu().double(), z.cpu().double()
    g = 2 * (y - z @ W.T) @ W
    active = z != 0
    off = torch.where(active, 0.0, g.abs() - lam).amax(1)
    on = torch.where(active, (g - lam * torch.sign(z)).abs(), 0.0).amax(1)
    return float((torch.maximum(off, on) / (2 * (y @ W).abs().amax(1))).max())


@pytest.mark.parametrize("method", ["auto", "homotopy", "active-set"])
@pytest.mark.parametrize(("B", "n", "m", "lam"), [(6, 20, 12, 0.3), (6, 20, 40, 0.1), (6, 20, 40, 0.6),
                                                  (8, 16, 64, 1.0), (5, 30, 90, 0.05)])
def test_lasso_reaches_the_sklearn_optimum(device, B, n, m, lam, method, sparse_problem, float64_or_skip):
    float64_or_skip(device, torch.float64)
    y, W = sparse_problem(B, n, m, seed=20 + m, device=device)
    out = lasso(y, W, lam, method=method)
    assert isinstance(out, SparseCode) and out.z.shape == (B, m) and out.trace is None
    assert out.z.device == y.device and out.z.dtype == torch.float64
    gap = relative_gap(y, W, out.z, lam, sklearn_codes(y, W, lam))
    assert float(gap.max()) <= 1e-6
    assert kkt_violation(y, W, out.z, lam) <= 1e-9  # exact: the optimality conditions hold


def test_lasso_accepts_a_correct_support_at_once(sparse_problem):
    """Started from the optimum's support and signs, the first check accepts: no iteration."""
    y, W = sparse_problem(6, 20, 40, seed=21)
    lam = 0.4
    z_ref = sklearn_codes(y, W, lam)
    out = lasso(y, W, lam, method="active-set", z0=0.5 * z_ref, trace=True)
    assert out.n_iter == 0 and out.trace.shape == (1, 6)
    torch.testing.assert_close(out.z, z_ref, rtol=0, atol=1e-8)
    torch.testing.assert_close(out.trace[0], energy64(y, W, out.z, lam))


def test_lasso_corrects_a_wrong_support(sparse_problem, monkeypatch):
    """A wrong start (wrong signs, spurious atoms) is corrected: by the active-set corrections, or,
    without them, by FISTA rounds started from the current point, then a new exact solve."""
    y, W = sparse_problem(6, 20, 40, seed=22)
    lam = 0.4
    z_ref = sklearn_codes(y, W, lam)
    wrong = -z_ref + 0.1 * (z_ref == 0)  # every sign wrong, every inactive atom active
    out = lasso(y, W, lam, method="active-set", z0=wrong, trace=True)
    assert float(relative_gap(y, W, out.z, lam, z_ref).max()) <= 1e-6
    monkeypatch.setattr(solvers, "_NEWTON", 0)
    out = lasso(y, W, lam, method="active-set", z0=wrong, first=5, trace=True)
    assert out.n_iter > 0 and out.trace.shape[0] >= 2
    assert float(relative_gap(y, W, out.z, lam, z_ref).max()) <= 1e-6
    assert kkt_violation(y, W, out.z, lam) <= 1e-9


@pytest.mark.parametrize("method", ["homotopy", "active-set"])
def test_lasso_gives_zero_codes_when_lambda_exceeds_lambda_max(device, method, sparse_problem,
                                                                float64_or_skip):
    dtype = float64_or_skip(device, torch.float64)
    y, W = sparse_problem(5, 10, 30, seed=23, device=device, dtype=dtype)
    lam_max = float((2 * y @ W).abs().max())
    for lam in (lam_max, 2 * lam_max):
        out = lasso(y, W, lam, method=method, trace=True)
        assert out.n_iter == 0 and out.trace.shape == (1, 5)
        assert bool((out.z == 0).all())


def test_lasso_batch_mixing_converged_and_unconverged_samples(sparse_problem, monkeypatch):
    """Per-sample stopping: a sample accepted early keeps its code while the others go on, and
    every code is the one the sample gets alone."""
    monkeypatch.setattr(solvers, "_NEWTON", 0)  # the zero codes pass the first check, the others need FISTA
    y, W = sparse_problem(6, 20, 40, seed=24)
    lam = 0.5
    y[::2] *= lam / float((2 * y[::2] @ W).abs().max()) / 2  # λ ≥ λ_max: zero codes for even rows
    out = lasso(y, W, lam, method="active-set", first=5, trace=True)
    assert out.n_iter > 0 and out.trace.shape[0] >= 2
    assert bool((out.z[::2] == 0).all()) and bool((out.z[1::2] != 0).any(1).all())
    torch.testing.assert_close(out.trace[:, ::2], out.trace[:1, ::2].expand(out.trace.shape[0], -1))
    z_ref = sklearn_codes(y, W, lam)
    assert float(relative_gap(y[1::2], W, out.z[1::2], lam, z_ref[1::2]).max()) <= 1e-6
    for i in (1, 3):
        alone = lasso(y[i:i + 1], W, lam, method="active-set", first=5).z
        torch.testing.assert_close(alone[0], out.z[i], rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["homotopy", "active-set"])
def test_lasso_in_float32(device, method, sparse_problem):
    y, W = sparse_problem(6, 20, 40, seed=25, device=device, dtype=torch.float32)
    lam = 0.3
    out = lasso(y, W, lam, method=method)
    assert out.z.dtype == torch.float32 and out.z.device == y.device
    assert float(relative_gap(y, W, out.z, lam, sklearn_codes(y, W, lam)).max()) <= 1e-6


def test_lasso_at_lambda_zero_with_more_atoms_than_rows(sparse_problem):
    """λ = 0, more atoms than rows: the optimum is not unique. The homotopy ends on a basic
    minimiser (y reconstructed by at most n atoms, exactly); the active set finds no support with an
    invertible Gram block and stops at max_iter with FISTA's last point."""
    y, W = sparse_problem(3, 5, 12, seed=26)
    out = lasso(y, W, 0.0, method="homotopy")
    assert out.n_iter >= 5 and bool(((out.z != 0).sum(1) <= 5).all())  # at least a step per atom
    assert float(energy64(y, W, out.z, 0.0).max()) < 1e-20 * float(y.pow(2).sum(1).min())
    out = lasso(y, W, 0.0, method="active-set", max_iter=300)
    assert out.n_iter == 300 and bool(torch.isfinite(out.z).all())
    assert float(energy64(y, W, out.z, 0.0).max()) < 1e-3 * float(y.pow(2).sum(1).min())


def test_lasso_rejects_bad_input():
    y, W = torch.ones(2, 4), torch.ones(4, 3)
    with pytest.raises(ValueError, match=r"'y'.*2-D"):
        lasso(torch.ones(4), W, 0.1)
    with pytest.raises(ValueError, match=r"'y' and 'W'.*n = 4"):
        lasso(torch.ones(2, 5), W, 0.1)
    with pytest.raises(ValueError, match="'lam'.*>= 0"):
        lasso(y, W, -0.1)
    W0 = W.clone()
    W0[:, 1] = 0
    with pytest.raises(ValueError, match="'W': expected non-zero columns.*column 1"):
        lasso(y, W0, 0.1)
    with pytest.raises(ValueError, match=r"'z0'.*\(2, 3\)"):
        lasso(y, W, 0.1, z0=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="'y' and 'W'.*float32.*float64"):
        lasso(y, W.double(), 0.1)
    for bad in ({"max_iter": 0}, {"kkt_tol": -1e-9}, {"first": 0}, {"trace": "yes"}, {"method": "lars"}):
        with pytest.raises(InvalidArgumentError, match=f"argument '{next(iter(bad))}': expected "):
            lasso(y, W, 0.1, **bad)


def test_homotopy_follows_departures_and_stays_exact(sparse_problem):
    """On a coherent dictionary the path has departures (more events than atoms in the final
    support); the factor is updated through them, and the codes are still optimal."""
    from ebmlib import _lars

    y, W = sparse_problem(40, 20, 60, seed=27)
    W = W + 0.8 * W[:, :1]  # every atom leans on the first: strongly correlated atoms
    W = W / W.norm(dim=0)
    lam = 0.02
    G, b = (W.T @ W).numpy(), (y @ W).numpy()
    z, ok, events = _lars.lars(G, b, lam / 2, 1e-9 * np.abs(b).max(1), 1000, 20, 1)
    assert ok.all()
    assert (events > (z != 0).sum(1)).any()  # some atom left the support on the way
    z = torch.from_numpy(z)
    assert kkt_violation(y, W, z, lam) <= 1e-9
    assert float(relative_gap(y, W, z, lam, sklearn_codes(y, W, lam)).max()) <= 1e-6
    out = lasso(y, W, lam)
    torch.testing.assert_close(out.z, z, rtol=0, atol=0)  # what lasso returns on the CPU
    assert out.n_iter == events.max()  # its iterations: the steps of the slowest sample
    # the final check is real: with no slack at all, rounding rejects codes; with 1 step, no code ends
    assert not _lars.lars(G, b, lam / 2, np.zeros(40), 1000, 20, 1)[1].all()
    assert not _lars.lars(G, b, lam / 2, 1e-9 * np.abs(b).max(1), 1, 20, 1)[1].any()


def test_homotopy_hands_rejected_samples_to_the_active_set(sparse_problem, monkeypatch):
    """A sample the homotopy rejects continues with the active set from the homotopy's point; the
    others keep their codes, and the trace records both."""
    from ebmlib import _lars

    y, W = sparse_problem(6, 20, 40, seed=28)
    lam = 0.3
    real = _lars.lars

    def reject_odd(*args):
        z, ok, events = real(*args)
        z[1::2] *= -1  # a wrong point, and rejected
        ok[1::2] = False
        return z, ok, events

    monkeypatch.setattr(_lars, "lars", reject_odd)
    out = lasso(y, W, lam, method="homotopy", trace=True)
    z_ref = sklearn_codes(y, W, lam)
    assert float(relative_gap(y, W, out.z, lam, z_ref).max()) <= 1e-6
    assert kkt_violation(y, W, out.z, lam) <= 1e-9
    assert out.trace.shape[0] >= 2  # the homotopy's row, then the active set's
    torch.testing.assert_close(out.trace[:, ::2], out.trace[:1, ::2].expand(out.trace.shape[0], -1))
    assert bool((out.trace[0, 1::2] > out.trace[-1, 1::2]).all())


def test_lasso_without_numba(sparse_problem, monkeypatch):
    """Without numba, "auto" takes the active set and "homotopy" is refused by name."""
    from ebmlib import _lars

    monkeypatch.setattr(_lars, "AVAILABLE", False)
    monkeypatch.setattr(_lars, "lars", None)  # would fail if called
    y, W = sparse_problem(4, 20, 40, seed=29)
    out = lasso(y, W, 0.3)
    assert float(relative_gap(y, W, out.z, 0.3, sklearn_codes(y, W, 0.3)).max()) <= 1e-6
    with pytest.raises(InvalidArgumentError, match="argument 'method'.*numba"):
        lasso(y, W, 0.3, method="homotopy")
