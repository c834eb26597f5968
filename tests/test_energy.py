"""ebmlib.energy: the regularized latent-variable energy and its free energy."""

import math

import numpy as np
import pytest
import torch

from ebmlib import L1, InvalidArgumentError, LatentEnergy, Regularizer, SquaredL2, squared_error
from ebmlib.energy import _sparse_coding_energy, sparse_coding_energy
from ebmlib.solvers import shrink
from ebmlib.toy import CurveDecoder, curve_energy, distance_to_curve, plane_grid


def linear_decoder(W):
    return lambda h, z: z @ W.T


def test_energy_is_cost_plus_lambda_times_regularizer(device):
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 8, generator=g).to(device)
    y = torch.randn(4, 5, generator=g).to(device)
    z = torch.randn(4, 8, generator=g).to(device)
    E = LatentEnergy(linear_decoder(W), 8, lam=0.3)
    expected = ((y - z @ W.T) ** 2).sum(1) + 0.3 * z.abs().sum(1)
    out = E(y, z)
    assert out.shape == (4,) and out.device.type == device.type
    torch.testing.assert_close(out, expected)


def test_regularizers_and_their_prox():
    z = torch.tensor([[1.0, -2.0, 0.5]])
    w = torch.tensor([0.0, 1.0, 2.0])
    assert L1(w)(z).item() == pytest.approx(2.0 + 1.0)
    assert SquaredL2(w)(z).item() == pytest.approx(4.0 + 0.5)
    tau = torch.tensor([[0.6]])
    torch.testing.assert_close(L1(w).prox(z, tau), torch.tensor([[1.0, -1.4, 0.0]]))
    torch.testing.assert_close(SquaredL2().prox(z, tau), z / 2.2)
    # the prox really minimises ½‖z − v‖² + τR(z): compare with a fine grid, per component
    grid = torch.linspace(-3, 3, 60001, dtype=torch.float64)
    for v in (-2.0, -0.3, 0.2, 1.5):
        for reg in (L1(), SquaredL2()):
            obj = 0.5 * (grid - v) ** 2 + 0.6 * reg(grid[:, None])
            best = grid[obj.argmin()]
            got = reg.prox(torch.tensor([[v]], dtype=torch.float64), tau).item()
            assert got == pytest.approx(best.item(), abs=2e-4)


def test_the_l1_prox_is_the_librarys_shrink():
    v = torch.linspace(-2, 2, 101)[None]
    torch.testing.assert_close(L1().prox(v, 0.5), shrink(v, 0.5))
    torch.testing.assert_close(L1().prox(v, 0.5), torch.nn.functional.softshrink(v, 0.5))


def test_the_regularizer_base_class_is_abstract():
    with pytest.raises(TypeError):
        Regularizer()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_free_energy_reaches_the_lasso_optimum(device, dtype):
    """For a linear decoder, F(y) is a lasso problem: check the optimality conditions."""
    g = torch.Generator().manual_seed(1)
    W = torch.randn(6, 10, generator=g, dtype=torch.float64)
    W = (W / W.norm(dim=0)).to(device, dtype)
    y = torch.randn(16, 6, generator=g, dtype=torch.float64).to(device, dtype)
    lam = 0.4
    E = LatentEnergy(linear_decoder(W), 10, lam=lam)
    F, z, n_iter = E.free_energy(y, max_iter=5000, ftol=0.0)
    assert n_iter <= 5000  # ftol = 0 stops once no energy decreases at all
    assert F.dtype == dtype and F.device.type == device.type and z.shape == (16, 10)
    # subgradient optimality: grad of the cost = -λ sign(z) on the support, |grad| ≤ λ off it
    grad = 2 * (z @ W.T - y) @ W
    atol = 1e-3 if dtype == torch.float32 else 1e-5
    on = z != 0
    torch.testing.assert_close(grad[on], -lam * torch.sign(z[on]), atol=atol, rtol=0)
    assert bool((grad[~on].abs() <= lam + atol).all())
    torch.testing.assert_close(F, E(y, z))


def test_unregularized_latent_makes_the_free_energy_flat(device):
    dec = CurveDecoder(displacement=True)
    grid, _ = plane_grid(num=15, device=device)
    F = LatentEnergy(dec, 3, lam=0.0).free_energy(grid, z0=dec.starts(grid)).F
    assert float(F.max()) < 1e-6


def test_position_only_latent_gives_squared_distance(device):
    dec = CurveDecoder(displacement=False)
    grid, _ = plane_grid(num=15, device=device)
    E = LatentEnergy(dec, 1, regularizer=L1(dec.regularizer_weight()))
    F = E.free_energy(grid, z0=dec.starts(grid)).F
    torch.testing.assert_close(F, distance_to_curve(grid) ** 2, atol=1e-4, rtol=0)


def test_squared_l2_regularizer_has_the_closed_form(device):
    dec = CurveDecoder()
    grid, _ = plane_grid(num=11, device=device)
    for lam in (0.5, 2.0):
        E = LatentEnergy(dec, 3, regularizer=SquaredL2(dec.regularizer_weight()), lam=lam)
        F = E.free_energy(grid, z0=dec.starts(grid, 16), max_iter=3000, ftol=1e-10).F
        expected = lam / (1 + lam) * distance_to_curve(grid) ** 2
        torch.testing.assert_close(F, expected, atol=2e-4, rtol=0)


def test_restarts_keep_the_best_start():
    dec = CurveDecoder(displacement=False)
    y = torch.tensor([[-1.3, 0.0]])  # the curve passes through (-0.7, 0) and (1.3, 0) ...
    E = LatentEnergy(dec, 1, regularizer=L1(torch.zeros(1)))
    bad_start = torch.zeros(1, 1)  # ... t = 0 starts at (1.3, 0), on the far side
    F_one = E.free_energy(y, z0=bad_start).F
    F_many = E.free_energy(y, z0=dec.starts(y, 8)).F
    assert float(F_many) < float(F_one)
    assert float(F_many) == pytest.approx(float(distance_to_curve(y) ** 2), abs=1e-4)


def test_predictor_conditions_the_decoder():
    """E(x, y, z) with Pred(x) = x: the decoder adds the prediction to z."""
    E = LatentEnergy(lambda h, z: h + z, 2, predictor=lambda x: 2 * x, lam=1.0,
                     regularizer=SquaredL2())
    x = torch.tensor([[1.0, 0.0]])
    y = torch.tensor([[2.0, 1.0]])  # Pred(x) = (2, 0): the residual (0, 1) is split in two
    F, z, _ = E.free_energy(y, x)
    torch.testing.assert_close(z, torch.tensor([[0.0, 0.5]]), atol=1e-5, rtol=0)
    assert float(F) == pytest.approx(0.5, abs=1e-5)


def test_gradients_reach_the_decoder_through_the_optimal_latent():
    W = torch.randn(3, 4, requires_grad=True)
    E = LatentEnergy(lambda h, z: z @ W.T, 4, lam=0.1)
    y = torch.randn(5, 3)
    z_star = E.free_energy(y).z
    E(y, z_star).sum().backward()
    assert W.grad is not None and torch.isfinite(W.grad).all() and W.grad.abs().sum() > 0


def test_squared_error_sums_all_but_the_batch():
    y = torch.ones(2, 3, 4)
    assert squared_error(y, torch.zeros_like(y)).tolist() == [12.0, 12.0]


# -- bad input fails loudly, naming the argument ------------------------------------

@pytest.fixture
def energy():
    return LatentEnergy(lambda h, z: z, 2, lam=0.5)


@pytest.mark.parametrize("lam", [-0.1, math.nan, math.inf])
def test_rejects_bad_lambda(lam):
    with pytest.raises(ValueError, match="'lam'"):
        LatentEnergy(lambda h, z: z, 2, lam=lam)


def test_rejects_non_number_lambda():
    with pytest.raises(TypeError, match="'lam'"):
        LatentEnergy(lambda h, z: z, 2, lam="0.1")


@pytest.mark.parametrize("bad", [torch.tensor([[math.nan, 0.0]]), torch.tensor([[math.inf, 0.0]])])
def test_rejects_non_finite_y(energy, bad):
    with pytest.raises(ValueError, match="'y'.*finite"):
        energy(bad, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="'y'.*finite"):
        energy.free_energy(bad)


def test_rejects_wrong_shapes(energy):
    with pytest.raises(ValueError, match=r"'y'.*2-D.*received shape \(3,\)"):
        energy(torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"'z'.*\(B, 2\).*\(3, 5\)"):
        energy(torch.zeros(3, 2), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="'y' and 'z'.*batch size"):
        energy(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"'z0'.*\(3, 2\) or \(R, 3, 2\).*\(3, 3\)"):
        energy.free_energy(torch.zeros(3, 2), z0=torch.zeros(3, 3))


def test_rejects_x_mismatch(energy):
    with pytest.raises(ValueError, match="'x'.*no predictor"):
        energy(torch.zeros(1, 2), torch.zeros(1, 2), x=torch.zeros(1, 2))
    conditional = LatentEnergy(lambda h, z: h + z, 2, predictor=lambda x: x)
    with pytest.raises(ValueError, match="'x'.*needs x"):
        conditional(torch.zeros(1, 2), torch.zeros(1, 2))


def test_rejects_bad_inference_settings(energy):
    y = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="'max_iter'"):
        energy.free_energy(y, max_iter=0)
    with pytest.raises(ValueError, match="'step'"):
        energy.free_energy(y, step=0.0)
    with pytest.raises(ValueError, match="'ftol'"):
        energy.free_energy(y, ftol=-1.0)
    with pytest.raises(TypeError):  # tol is the relative change of z in ebmlib's solvers
        energy.free_energy(y, tol=1e-6)


def test_rejects_negative_regularizer_weight():
    with pytest.raises(ValueError, match="'weight'.*>= 0"):
        L1(torch.tensor([1.0, -1.0]))


def test_rejects_integer_tensors(energy):
    with pytest.raises(ValueError, match="'y'.*floating"):
        energy(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2))


def test_rejects_a_regularizer_weight_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"'regularizer'.*\(3,\).*\(2,\)"):
        LatentEnergy(lambda h, z: z, 3, regularizer=L1(torch.ones(2)))


def test_errors_are_both_value_and_type_errors(energy):
    with pytest.raises(InvalidArgumentError) as info:
        energy.free_energy(torch.zeros(2, 2), step=0)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert "argument 'step': expected a finite number > 0, received 0.0" in str(info.value)


def test_numpy_scalars_are_accepted(energy):
    y = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    E = LatentEnergy(lambda h, z: z, 2, lam=np.float32(0.5))
    assert E.lam == 0.5 and isinstance(E.lam, float)
    F, _, n_iter = E.free_energy(y, max_iter=np.int64(7), ftol=np.float64(0.0), step=np.float32(1.0))
    assert n_iter == 7
    torch.testing.assert_close(F, energy.free_energy(y, max_iter=7, ftol=0.0).F)


# -- ftol: the stop on the energy's decrease -------------------------------------------

def test_ftol_stops_when_no_energy_falls_by_more_than_ftol():
    """n_iter counts the iterations; the run stops at the first whose relative decrease is <= ftol."""
    dec = CurveDecoder()
    E = curve_energy(0.5)
    y = torch.tensor([[1.6, 0.1], [0.2, -0.9], [-1.2, 0.7]])
    z0 = dec.starts(y)
    runs = {ftol: E.free_energy(y, z0=z0, max_iter=2000, ftol=ftol) for ftol in (1e-3, 1e-6, 0.0)}
    assert runs[1e-3].n_iter < runs[1e-6].n_iter < runs[0.0].n_iter <= 2000
    # a stop after k iterations is the same as a run of max_iter = k
    k = runs[1e-3].n_iter
    same = E.free_energy(y, z0=z0, max_iter=k, ftol=0.0)
    torch.testing.assert_close(same.F, runs[1e-3].F, rtol=0, atol=0)
    # and the energy is within ftol-ish of the converged one
    assert bool((runs[1e-3].F - runs[0.0].F <= 1e-2).all())
    assert bool((runs[1e-6].F - runs[0.0].F <= 1e-4).all())


# -- the sparse-coding energy: one formula, checked and unchecked ---------------------------

def test_the_unchecked_sparse_coding_energy_is_the_same_formula():
    g = torch.Generator().manual_seed(3)
    y, W, z = torch.randn(4, 5, generator=g), torch.randn(5, 7, generator=g), torch.randn(4, 7, generator=g)
    expected = ((y - z @ W.T) ** 2).sum(1) + 0.2 * z.abs().sum(1)
    torch.testing.assert_close(sparse_coding_energy(y, W, z, 0.2), expected)
    torch.testing.assert_close(_sparse_coding_energy(y, W, z, 0.2), expected)
    assert sparse_coding_energy(y, W, z, np.float32(0.2)).shape == (4,)
