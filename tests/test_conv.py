"""ebmlib.conv: the convolution operator, its adjoint and norm, FISTA on feature maps, learning."""

import pytest
import torch
from torch.nn import functional

from ebmlib.conv import (
    ConvSparseAutoEncoder,
    _kernel_gradient,
    conv_energy,
    conv_fista,
    conv_lipschitz,
    conv_lipschitz_power,
    decode,
    decode_adjoint,
    highpass,
    learn_conv_dictionary,
    map_size,
    normalize_kernels,
    random_crops,
    train_conv_autoencoder,
)

BOUNDARIES = ["full", "circular"]


def skip_unsupported(device, dtype):
    if device.type == "mps" and dtype == torch.float64:
        pytest.skip("MPS has no float64")


def problem(B=2, C=1, M=3, H=11, W=13, k=(4, 3), *, boundary="full", seed=0, device="cpu",
            dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    K = normalize_kernels(torch.randn(M, C, *k, generator=g, dtype=torch.float64))
    y = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    z = torch.randn(B, M, *map_size((H, W), k, boundary), generator=g, dtype=torch.float64)
    return y.to(device, dtype), K.to(device, dtype), z.to(device, dtype)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("C", [1, 3])
def test_adjoint_identity(device, boundary, C):
    dtype = torch.float32 if device.type == "mps" else torch.float64
    y, K, z = problem(C=C, boundary=boundary, device=device, dtype=dtype)
    lhs = (decode(z, K, boundary) * y).sum()
    rhs = (z * decode_adjoint(y, K, boundary)).sum()
    assert abs(float(lhs - rhs)) <= 1e-4 * float(lhs.abs() + 1)
    assert decode_adjoint(y, K, boundary).shape == z.shape


@pytest.mark.parametrize("C", [1, 3])
def test_full_boundary_matches_spatial_convolution(C):
    y, K, z = problem(C=C)
    # valid convolution of the maps with the (flipped) kernels, summed over maps
    reference = functional.conv_transpose2d(z, K, padding=(K.shape[2] - 1, K.shape[3] - 1))
    assert reference.shape == y.shape
    assert torch.allclose(decode(z, K), reference, atol=1e-10)
    # every pixel is covered by k_h · k_w map positions: Dᵀ of a ones image on a ones kernel
    ones = torch.ones(1, 1, 4, 3, dtype=torch.float64)
    cover = decode(torch.ones(1, 1, *map_size((11, 13), (4, 3)), dtype=torch.float64), ones)
    assert torch.all(cover == 12)


def test_circular_boundary_wraps_around():
    K = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    K[0, 0, 1, 2] = 1.0  # a shift by (1, 2)
    z = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    z[0, 0, 4, 5] = 1.0
    y = decode(z, K, "circular")
    assert y.shape == (1, 1, 5, 6)
    assert float(y[0, 0, 0, 1]) == pytest.approx(1.0)  # (4 + 1, 5 + 2) mod (5, 6)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("C", [1, 3])
def test_lipschitz_is_the_operator_norm(boundary, C):
    y, K, z = problem(C=C, boundary=boundary, seed=1)
    L = conv_lipschitz(K, tuple(y.shape[-2:]), boundary)
    n = z[0].numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *z.shape[1:])
    D = decode(basis, K, boundary).reshape(n, -1)  # the operator as a dense matrix
    sigma2 = float(torch.linalg.matrix_norm(D, ord=2)) ** 2
    assert sigma2 <= L * (1 + 1e-9)
    tight = 1e-9 if boundary == "circular" else 0.25  # "full": an upper bound
    assert sigma2 >= L * (1 - tight), (sigma2, L)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_fista_lowers_the_energy_and_reaches_the_optimality_conditions(device, boundary):
    skip_unsupported(device, torch.float64)
    y, K, _ = problem(C=3, M=4, boundary=boundary, device=device)
    lam = 0.2
    z, trace = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary)
    assert trace.shape == (1000, 2)
    start = 0.5 * y.pow(2).sum((1, 2, 3))
    assert bool((trace[0] < start).all())
    assert bool((trace[-1] <= trace[0]).all())
    assert torch.allclose(conv_energy(y, K, z, lam, boundary), trace[-1])
    # subgradient conditions: |Dᵀ(y − D z)| <= λ, with equality and the sign of z where z ≠ 0
    g = decode_adjoint(y - decode(z, K, boundary), K, boundary)
    assert float(g.abs().max()) <= lam * (1 + 1e-4)
    on = z != 0
    assert bool(on.any())
    assert torch.allclose(g[on], lam * torch.sign(z[on]), atol=1e-4)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_power_iteration_brackets_the_operator_norm(boundary):
    y, K, z = problem(C=3, boundary=boundary, seed=4)
    size = tuple(y.shape[-2:])
    n = z[0].numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *z.shape[1:])
    sigma2 = float(torch.linalg.matrix_norm(decode(basis, K, boundary).reshape(n, -1), ord=2)) ** 2
    power = conv_lipschitz_power(K, size, boundary, n_iter=500)
    assert power <= sigma2 * (1 + 1e-9)  # a Rayleigh quotient: a lower bound ...
    assert power == pytest.approx(sigma2, rel=1e-4)  # ... that converges to ‖D‖²
    assert power <= conv_lipschitz(K, size, boundary) * (1 + 1e-9)
    assert conv_lipschitz_power(K, size, boundary, n_iter=3) <= power * (1 + 1e-9)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_fista_with_the_prediction_term(boundary):
    y, K, _ = problem(C=3, M=4, boundary=boundary, seed=6)
    target = problem(C=3, M=4, boundary=boundary, seed=7)[2]
    lam, alpha = 0.2, 0.7
    z, trace = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary, target=target,
                          alpha=alpha)
    energy = conv_energy(y, K, z, lam, boundary) + 0.5 * alpha * (z - target).pow(2).sum((1, 2, 3))
    assert torch.allclose(trace[-1], energy)
    assert bool((trace[-1] <= trace[0]).all())
    # optimality of ½‖y − Dz‖² + λ‖z‖₁ + (α/2)‖z − T‖²: |Dᵀ(y − Dz) − α(z − T)| <= λ,
    # with equality and the sign of z where z ≠ 0
    g = decode_adjoint(y - decode(z, K, boundary), K, boundary) - alpha * (z - target)
    assert float(g.abs().max()) <= lam * (1 + 1e-4)
    on = z != 0
    assert bool(on.any())
    assert torch.allclose(g[on], lam * torch.sign(z[on]), atol=1e-4)
    # the term pulls the maps towards the target; alpha = 0 ignores it
    z_plain, t_plain = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary)
    assert float((z - target).norm()) < float((z_plain - target).norm())
    _, t0 = conv_fista(y, K, lam, max_iter=50, tol=0, boundary=boundary, target=target, alpha=0.0)
    assert torch.equal(t0, t_plain[:50])
    with pytest.raises(ValueError, match="argument 'target'"):
        conv_fista(y, K, lam, alpha=1.0)
    with pytest.raises(ValueError, match="argument 'target': expected shape"):
        conv_fista(y, K, lam, alpha=1.0, target=target[:, :2])


def test_warm_start_restart_and_tolerance():
    y, K, _ = problem(M=4, seed=2)
    lam = 0.1
    z_ref, t_ref = conv_fista(y, K, lam, max_iter=800, tol=0)
    _, t_warm = conv_fista(y, K, lam, z0=z_ref, max_iter=5, tol=0)
    assert float(t_warm[0].sum()) <= float(t_ref[10].sum())
    _, t_rs = conv_fista(y, K, lam, max_iter=800, tol=0, restart=True)
    assert float(t_rs[-1].sum()) == pytest.approx(float(t_ref[-1].sum()), rel=1e-5)
    _, t_tol = conv_fista(y, K, lam, max_iter=2000, tol=1e-3)
    assert 1 <= len(t_tol) < 2000


def test_float32_follows_the_inputs(device):
    y, K, _ = problem(device=device, dtype=torch.float32)
    z, trace = conv_fista(y, K, 0.1, max_iter=20)
    assert z.dtype == trace.dtype == torch.float32
    assert z.device.type == trace.device.type == device.type
    assert z.shape == (2, 3, 11 + 3, 13 + 2)
    zc, _ = conv_fista(y, K, 0.1, max_iter=20, boundary="circular")
    assert zc.shape == (2, 3, 11, 13)


def test_kernel_gradient_matches_autograd():
    for boundary in BOUNDARIES:
        y, K, z = problem(C=3, boundary=boundary, seed=3)
        K = K.clone().requires_grad_(True)
        r = decode(z, K, boundary) - y
        (0.5 * r.pow(2).sum()).backward()
        assert torch.allclose(K.grad, _kernel_gradient(z, r.detach(), (4, 3), boundary), atol=1e-10)


def test_highpass_and_crops():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 40, 50, generator=g, dtype=torch.float64)
    flat = torch.full((1, 1, 40, 50), 0.7, dtype=torch.float64)
    assert float(highpass(flat, 2.0).abs().max()) < 1e-12  # constant images vanish
    assert float(highpass(img + 3.0, 2.0).sub(highpass(img, 2.0)).abs().max()) < 1e-12
    crops = random_crops([img[0], 2 * img[0]], 5, 16, generator=torch.Generator().manual_seed(1))
    assert crops.shape == (5, 1, 16, 16)
    again = random_crops([img[0], 2 * img[0]], 5, 16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(crops, again)


def structured_images(n=3, size=40, seed=0):
    """Sparse random edges (steps along random directions) blurred a little, high-passed."""
    g = torch.Generator().manual_seed(seed)
    i, j = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = []
    for _ in range(n):
        img = torch.zeros(size, size)
        for _ in range(6):
            a = float(torch.rand(1, generator=g)) * 3.1416
            c = float(torch.rand(1, generator=g)) * size
            img += ((i * torch.cos(torch.tensor(a)) + j * torch.sin(torch.tensor(a))) > c).float()
        out.append(highpass(img[None, None], 1.5)[0])
    return out


def test_dictionary_learning_lowers_the_energy():
    images = structured_images()
    lam = 0.1
    y = random_crops(images, 6, 24, generator=torch.Generator().manual_seed(5))
    K0 = normalize_kernels(torch.randn(4, 1, 5, 5, generator=torch.Generator().manual_seed(0)))
    K, curve = learn_conv_dictionary(images, 4, 5, lam, n_steps=60, batch_size=4, crop=24,
                                     inner_iter=20, K0=K0, progress=False)
    assert K.shape == (4, 1, 5, 5)
    assert torch.allclose(K.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    assert len(curve.loss) == 60

    def free_energy(K):
        return float(conv_fista(y, K, lam, max_iter=300, tol=0)[1][-1].mean())

    assert free_energy(K) < 0.9 * free_energy(K0)


@pytest.mark.parametrize("prediction_weight", [0.0, 1.0])
def test_autoencoder_trains(prediction_weight):
    images = structured_images(seed=1)
    model = ConvSparseAutoEncoder(1, 4, 5, seed=0)
    y = random_crops(images, 6, 24, generator=torch.Generator().manual_seed(5))
    z, y_hat = model(y)
    assert z.shape == (6, 4, 28, 28) and y_hat.shape == y.shape
    before = float(model.loss(y, 0.05).detach())
    curve = train_conv_autoencoder(model, images, 0.05, prediction_weight=prediction_weight,
                                   n_steps=40, batch_size=4, crop=24, inner_iter=10, lr=0.02,
                                   progress=False)
    assert len(curve.loss) == 40
    assert torch.allclose(model.W_d.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    assert float(model.loss(y, 0.05).detach()) < before


def test_psd_training_takes_the_dictionary_step_on_the_decoder():
    images = structured_images(seed=2)
    lam = 0.1
    y = random_crops(images, 6, 24, generator=torch.Generator().manual_seed(5))
    model = ConvSparseAutoEncoder(1, 4, 5, nonlinearity="shrink", seed=0)
    K0 = model.W_d.detach().clone()

    def free_energy(K):
        return float(conv_fista(y, K, lam, max_iter=300, tol=0)[1][-1].mean())

    def encoder_energy():
        with torch.no_grad():
            return float(conv_energy(y, model.W_d, model.encode(y), lam).mean())

    before = encoder_energy()
    train_conv_autoencoder(model, images, lam, prediction_weight=1.0, n_steps=60, batch_size=4,
                           crop=24, inner_iter=20, lr=0.02, step_scale=1.5, progress=False)
    # the decoder is a better dictionary (the same test as dictionary learning) ...
    assert free_energy(model.W_d.detach()) < 0.9 * free_energy(K0)
    assert torch.allclose(model.W_d.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    # ... and the encoder's maps have a lower energy for it than they had at the start
    assert encoder_energy() < before
    with pytest.raises(ValueError, match="argument 'step_scale'"):
        train_conv_autoencoder(model, images, lam, prediction_weight=1.0, step_scale=0.0,
                               crop=24, progress=False)


def test_encoder_and_decoder_start_independent():
    model = ConvSparseAutoEncoder(1, 16, 9, seed=0)
    We, Wd = model.W_e.detach().flatten(1), model.W_d.detach().flatten(1)
    assert torch.allclose(We.norm(dim=1), torch.ones(16)) and torch.allclose(Wd.norm(dim=1), torch.ones(16))
    assert float((We * Wd).sum(1).abs().max()) < 0.5  # 81-dim white noise: |corr| ~ 0.1


def test_psd_inference_includes_the_prediction_term(monkeypatch):
    import ebmlib.conv as conv

    calls = []
    real = conv.conv_fista

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(conv, "conv_fista", spy)
    model = ConvSparseAutoEncoder(1, 3, 5, nonlinearity="shrink", seed=0)
    train_conv_autoencoder(model, structured_images(seed=3), 0.1, prediction_weight=0.5, n_steps=2,
                           batch_size=2, crop=16, inner_iter=3, progress=False)
    assert len(calls) == 2
    assert all(c["alpha"] == 0.5 and c["target"] is c["z0"] for c in calls)


def test_autoencoder_prediction_term():
    model = ConvSparseAutoEncoder(3, 2, 3, boundary="circular", nonlinearity="shrink")
    y = torch.randn(2, 3, 8, 8)
    z = model.encode(y)
    assert z.shape == (2, 2, 8, 8)
    z = z.detach()
    base = float(model.loss(y, 0.1, z_star=z, prediction_weight=5.0).detach())
    moved = float(model.loss(y, 0.1, z_star=z + 1.0, prediction_weight=0.0).detach())
    with_term = float(model.loss(y, 0.1, z_star=z + 1.0, prediction_weight=5.0).detach())
    assert with_term == pytest.approx(moved + 5.0 * 0.5 * z.numel() / 2, rel=1e-5)
    assert base < with_term


def test_bad_input_gets_a_clear_error():
    y, K, z = problem()
    with pytest.raises(ValueError, match="arguments 'y' and 'K': expected y with C = 1"):
        conv_fista(torch.randn(2, 2, 11, 13, dtype=torch.float64), K, 0.1)
    with pytest.raises(ValueError, match="argument 'y': expected a 4-D tensor"):
        conv_fista(y[0], K, 0.1)
    with pytest.raises(ValueError, match="argument 'lam'"):
        conv_fista(y, K, -1.0)
    with pytest.raises(ValueError, match="argument 'boundary'"):
        decode(z, K, "same")
    with pytest.raises(ValueError, match="argument 'z0': expected shape"):
        conv_fista(y, K, 0.1, z0=torch.zeros(2, 3, 11, 13, dtype=torch.float64))
    with pytest.raises(ValueError, match="kernel 1 is all zeros"):
        K0 = K.clone()
        K0[1] = 0
        conv_fista(y, K0, 0.1)
    with pytest.raises(ValueError, match="argument 'z': expected shape"):
        conv_energy(y, K, z[:, :, 1:], 0.1)
    with pytest.raises(ValueError, match="expected finite values"):
        bad = y.clone()
        bad[0, 0, 0, 0] = float("nan")
        conv_fista(bad, K, 0.1)
    with pytest.raises(ValueError, match="same device and dtype"):
        conv_fista(y.float(), K, 0.1)
    with pytest.raises(TypeError, match="argument 'K'"):
        decode_adjoint(y, K.numpy(), "full")
    with pytest.raises(ValueError, match="argument 'nonlinearity'"):
        ConvSparseAutoEncoder(1, 2, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match="at least crop × crop"):
        learn_conv_dictionary([torch.zeros(1, 10, 10)], 2, 3, 0.1, crop=16, progress=False)
