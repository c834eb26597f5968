"""ebmlib.conv: the convolution operator, its adjoint and norm, FISTA on feature maps, learning;
and the image preparation of ebmlib.data that it trains on (highpass, highpass_images, random_crops)."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional

from ebmlib import History, InvalidArgumentError
from ebmlib.conv import (
    ConvSparseAutoEncoder,
    _kernel_gradient,
    conv_energy,
    conv_fista,
    conv_lipschitz,
    conv_lipschitz_power,
    decode,
    decode_adjoint,
    learn_conv_dictionary,
    map_size,
    normalize_kernels,
    train_conv_autoencoder,
)
from ebmlib.data import highpass, highpass_images, random_crops
from ebmlib.solvers import SparseCode

BOUNDARIES = ["full", "circular"]


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
def test_fista_lowers_the_energy_and_reaches_the_optimality_conditions(device, boundary, float64_or_skip):
    y, K, _ = problem(C=3, M=4, boundary=boundary, device=device, dtype=float64_or_skip(device))
    lam = 0.2
    result = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary)
    assert isinstance(result, SparseCode) and result.n_iter == 1000
    z, trace, _ = result
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
    z, trace, _ = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary, target=target,
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
    z_plain, t_plain, _ = conv_fista(y, K, lam, max_iter=1000, tol=0, boundary=boundary)
    assert float((z - target).norm()) < float((z_plain - target).norm())
    t0 = conv_fista(y, K, lam, max_iter=50, tol=0, boundary=boundary, target=target, alpha=0.0).trace
    assert torch.equal(t0, t_plain[:50])
    with pytest.raises(ValueError, match="argument 'target': expected maps .* when alpha > 0, received None"):
        conv_fista(y, K, lam, alpha=1.0)
    with pytest.raises(ValueError, match="argument 'target': expected shape"):
        conv_fista(y, K, lam, alpha=1.0, target=target[:, :2])


def test_warm_start_restart_and_tolerance():
    y, K, _ = problem(M=4, seed=2)
    lam = 0.1
    z_ref, t_ref, _ = conv_fista(y, K, lam, max_iter=800, tol=0)
    t_warm = conv_fista(y, K, lam, z0=z_ref, max_iter=5, tol=0).trace
    assert float(t_warm[0].sum()) <= float(t_ref[10].sum())
    t_rs = conv_fista(y, K, lam, max_iter=800, tol=0, restart=True).trace
    assert float(t_rs[-1].sum()) == pytest.approx(float(t_ref[-1].sum()), rel=1e-5)
    stopped = conv_fista(y, K, lam, max_iter=2000, tol=1e-3)
    assert 1 <= stopped.n_iter == len(stopped.trace) < 2000


def test_trace_false_keeps_the_maps_and_the_iteration_count():
    y, K, _ = problem(M=4, seed=2)
    for kwargs in (dict(max_iter=40, tol=0), dict(max_iter=2000, tol=1e-3),
                   dict(max_iter=60, tol=0, restart=True)):
        full = conv_fista(y, K, 0.1, **kwargs)
        bare = conv_fista(y, K, 0.1, trace=False, **kwargs)
        assert bare.trace is None and full.trace is not None
        assert bare.n_iter == full.n_iter == len(full.trace)
        assert torch.equal(bare.z, full.z)
    assert conv_fista(y, K, 0.1, max_iter=40, tol=0).n_iter == 40


def test_conv_fista_matches_the_dense_solver_on_its_operator():
    """conv_fista runs the library's one FISTA loop: with D written as a matrix, fista on
    ‖y − D z‖² + 2λ‖z‖₁ (the dense convention, no ½) gives the same maps and twice the energies."""
    from ebmlib.solvers import fista

    y, K, z = problem(M=2, H=6, W=5, k=(3, 3), seed=8)
    n = z[0].numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *z.shape[1:])
    D = decode(basis, K).reshape(n, -1).T  # (pixels, map entries)
    L = conv_lipschitz(K, (6, 5))
    conv = conv_fista(y, K, 0.3, max_iter=50, tol=0, L=L)
    dense = fista(y.flatten(1), D, 0.6, max_iter=50, tol=0, L=2 * L)
    assert torch.allclose(conv.z.flatten(1), dense.z, atol=1e-10)
    assert torch.allclose(2 * conv.trace, dense.trace, rtol=1e-10)


def test_float32_follows_the_inputs(device):
    y, K, _ = problem(device=device, dtype=torch.float32)
    z, trace, _ = conv_fista(y, K, 0.1, max_iter=20)
    assert z.dtype == trace.dtype == torch.float32
    assert z.device.type == trace.device.type == device.type
    assert z.shape == (2, 3, 11 + 3, 13 + 2)
    zc = conv_fista(y, K, 0.1, max_iter=20, boundary="circular").z
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
    crops = random_crops([img[0], 2 * img[0]], 5, 16, seed=1)
    assert crops.shape == (5, 1, 16, 16) and crops.dtype == torch.float64


def test_random_crops_seed():
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(2, 30, 40, generator=g), torch.rand(2, 50, 35, generator=g)]
    same = random_crops(images, 6, 12, seed=3), random_crops(images, 6, 12, seed=3)
    assert torch.equal(*same)  # the same seed draws the same crops
    assert torch.equal(random_crops(images, 6, 12), random_crops(images, 6, 12, seed=0))  # default 0
    assert not torch.equal(same[0], random_crops(images, 6, 12, seed=4))  # another seed, other crops
    # a generator continues its stream: two calls draw what one call of twice as many draws
    # when each crop's draws are made in turn (the image index first, for all crops at once)
    stream = torch.Generator().manual_seed(7)
    first, second = random_crops(images, 6, 12, seed=stream), random_crops(images, 6, 12, seed=stream)
    assert not torch.equal(first, second)
    assert torch.equal(first, random_crops(images, 6, 12, seed=torch.Generator().manual_seed(7)))
    assert torch.equal(random_crops(images, 6, 12, seed=np.int64(3)), same[0])  # numpy integers
    stacked = torch.stack([images[0][:, :30, :35], images[1][:, :30, :35]])  # (N, C, H, W)
    assert random_crops(stacked, 4, 12, seed=1).shape == (4, 2, 12, 12)
    with pytest.raises(InvalidArgumentError, match="argument 'seed': expected an integer >= 0"):
        random_crops(images, 6, 12, seed=-1)
    with pytest.raises(InvalidArgumentError, match="argument 'seed'"):
        random_crops(images, 6, 12, seed=1.5)


def test_highpass_images_is_the_chapter_recipe():
    from ebmlib.data import sample_images

    photos = sample_images()
    grey = highpass_images(photos)
    by_hand = [highpass(p[None, None], 2.0)[0] for p in photos]
    scale = torch.cat([g.flatten() for g in by_hand]).std()
    assert all(torch.equal(a, b / scale) for a, b in zip(grey, by_hand, strict=True))
    assert [tuple(g.shape) for g in grey] == [(1, *p.shape) for p in photos]
    assert float(torch.cat([g.flatten() for g in grey]).std()) == pytest.approx(1.0)
    raw = highpass_images(photos, 1.0, scale=None)
    assert torch.equal(raw[0], highpass(photos[0][None, None], 1.0)[0])
    colour = highpass_images([torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(1))])
    assert colour[0].shape == (3, 20, 24)
    with pytest.raises(InvalidArgumentError, match="argument 'scale'"):
        highpass_images(photos, scale="max")
    with pytest.raises(InvalidArgumentError, match=r"argument 'images\[0\]': expected an image larger "
                                                   r"than 6"):
        highpass_images([torch.zeros(5, 40)])
    with pytest.raises(InvalidArgumentError, match="argument 'sigma': expected a finite number > 0"):
        highpass(torch.zeros(1, 1, 20, 20), 0)


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
        out.append(img)
    return highpass_images(out, 1.5, scale=None)


def test_dictionary_learning_lowers_the_energy():
    images = structured_images()
    lam = 0.1
    y = random_crops(images, 6, 24, seed=5)
    K0 = normalize_kernels(torch.randn(4, 1, 5, 5, generator=torch.Generator().manual_seed(0)))
    K, history = learn_conv_dictionary(images, 4, 5, lam, steps=60, batch_size=4, crop=24,
                                       max_iter=20, step_scale=1.0, K0=K0, every=20)
    assert K.shape == (4, 1, 5, 5)
    assert torch.allclose(K.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    assert isinstance(history, History) and history.step == [0, 20, 40, 60]
    assert math.isnan(history.loss[0]) and history.val == [None] * 4
    assert history.seconds == sorted(history.seconds) and history.loss[-1] < history.loss[1]

    def free_energy(K):
        return float(conv_fista(y, K, lam, max_iter=300, tol=0).trace[-1].mean())

    assert free_energy(K) < 0.9 * free_energy(K0)


def test_dictionary_learning_checks_the_photographs_once(monkeypatch):
    """The photographs are validated once, not at every step (each step draws unchecked crops)."""
    import ebmlib.data as data

    images = structured_images()
    calls = []
    real = data._image_list

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "_image_list", spy)
    import ebmlib.conv as conv

    monkeypatch.setattr(conv, "_image_list", spy)
    learn_conv_dictionary(images, 2, 3, 0.1, steps=5, batch_size=2, crop=16, max_iter=3)
    assert calls == ["Y"]


def test_dictionary_learning_seed():
    images = structured_images(seed=4)
    settings = dict(steps=3, batch_size=2, crop=16, max_iter=3)
    K_a, h_a = learn_conv_dictionary(images, 3, 5, 0.1, **settings)
    K_b, _ = learn_conv_dictionary(images, 3, 5, 0.1, seed=0, **settings)
    K_c, _ = learn_conv_dictionary(images, 3, 5, 0.1, seed=np.int32(1), **settings)
    K_g, _ = learn_conv_dictionary(images, 3, 5, 0.1, seed=torch.Generator().manual_seed(1), **settings)
    assert torch.equal(K_a, K_b) and not torch.equal(K_a, K_c) and torch.equal(K_c, K_g)
    assert len(h_a) == 4


@pytest.mark.parametrize("prediction_weight", [0.0, 1.0])
def test_autoencoder_trains(prediction_weight):
    images = structured_images(seed=1)
    model = ConvSparseAutoEncoder(1, 4, 5, nonlinearity="tanh", seed=0)
    y = random_crops(images, 6, 24, seed=5)
    z, y_hat = model(y)
    assert z.shape == (6, 4, 28, 28) and y_hat.shape == y.shape
    before = float(model.loss(y, 0.05).detach())
    history = train_conv_autoencoder(model, images, 0.05, prediction_weight=prediction_weight,
                                     steps=40, batch_size=4, crop=24, max_iter=10, lr=0.02, every=10)
    assert isinstance(history, History) and history.step == [0, 10, 20, 30, 40]
    assert torch.allclose(model.W_d.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    assert float(model.loss(y, 0.05).detach()) < before


def test_autoencoder_loss_is_the_energy():
    """The auto-encoder's loss is conv_energy's formula at the encoder's maps (one formula)."""
    model = ConvSparseAutoEncoder(2, 3, 4, seed=1)
    y = torch.randn(5, 2, 10, 9, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        z = model.encode(y)
        assert torch.allclose(model.loss(y, 0.3), conv_energy(y, model.W_d, z, 0.3).mean())
        z_star = z + 0.1
        psd = conv_energy(y, model.W_d, z_star, 0.3) + 0.5 * 2.0 * (z_star - z).pow(2).sum((1, 2, 3))
        assert torch.allclose(model.loss(y, 0.3, z_star=z_star, prediction_weight=2.0), psd.mean())


def test_psd_training_takes_the_dictionary_step_on_the_decoder():
    images = structured_images(seed=2)
    lam = 0.1
    y = random_crops(images, 6, 24, seed=5)
    model = ConvSparseAutoEncoder(1, 4, 5, seed=0)
    K0 = model.W_d.detach().clone()

    def free_energy(K):
        return float(conv_fista(y, K, lam, max_iter=300, tol=0).trace[-1].mean())

    def encoder_energy():
        with torch.no_grad():
            return float(conv_energy(y, model.W_d, model.encode(y), lam).mean())

    before = encoder_energy()
    train_conv_autoencoder(model, images, lam, prediction_weight=1.0, steps=60, batch_size=4,
                           crop=24, max_iter=20, lr=0.02, step_scale=1.5)
    # the decoder is a better dictionary (the same test as dictionary learning) ...
    assert free_energy(model.W_d.detach()) < 0.9 * free_energy(K0)
    assert torch.allclose(model.W_d.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)
    # ... and the encoder's maps have a lower energy for it than they had at the start
    assert encoder_energy() < before
    with pytest.raises(ValueError, match="argument 'step_scale': expected a finite number > 0"):
        train_conv_autoencoder(model, images, lam, prediction_weight=1.0, step_scale=0.0, crop=24)


def test_encoder_and_decoder_start_independent():
    model = ConvSparseAutoEncoder(1, 16, 9, seed=0)
    We, Wd = model.W_e.detach().flatten(1), model.W_d.detach().flatten(1)
    assert torch.allclose(We.norm(dim=1), torch.ones(16)) and torch.allclose(Wd.norm(dim=1), torch.ones(16))
    assert float((We * Wd).sum(1).abs().max()) < 0.5  # 81-dim white noise: |corr| ~ 0.1
    again = ConvSparseAutoEncoder(1, 16, 9)
    assert torch.equal(again.W_d, model.W_d)  # seed=0 by default: the same call, the same weights
    assert not torch.equal(ConvSparseAutoEncoder(1, 16, 9, seed=np.int64(1)).W_d, model.W_d)


def test_psd_inference_includes_the_prediction_term(monkeypatch):
    import ebmlib.conv as conv

    calls = []
    real = conv._conv_fista

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(conv, "_conv_fista", spy)
    model = ConvSparseAutoEncoder(1, 3, 5, nonlinearity="shrink", seed=0)
    train_conv_autoencoder(model, structured_images(seed=3), 0.1, prediction_weight=0.5, steps=2,
                           batch_size=2, crop=16, max_iter=3)
    assert len(calls) == 2
    assert all(c["alpha"] == 0.5 and c["target"] is c["z0"] and c["trace"] is False for c in calls)


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


@pytest.mark.parametrize("nonlinearity", ["shrink", "tanh"])
def test_autoencoder_save_and_load(tmp_path, nonlinearity):
    model = ConvSparseAutoEncoder(3, 4, 5, boundary="circular", nonlinearity=nonlinearity, seed=2)
    with torch.no_grad():
        model.W_e.mul_(1.5)  # weights that the constructor would not draw
        model.b.add_(0.25)
    path = tmp_path / "ae.pt"
    model.save(path)
    loaded = ConvSparseAutoEncoder.load(path)
    assert loaded.config == model.config == {"in_channels": 3, "m": 4, "kernel_size": 5,
                                             "boundary": "circular", "nonlinearity": nonlinearity,
                                             "seed": 2}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    y = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.encode(y), loaded.encode(y))
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(InvalidArgumentError, match="argument 'path': expected a model saved by "
                                                   "ConvSparseAutoEncoder.save"):
        ConvSparseAutoEncoder.load(tmp_path / "other.pt")


def test_numpy_scalars_are_numbers():
    y, K, z = problem()
    lam = np.float32(0.1)
    reference = conv_fista(y, K, 0.1, max_iter=np.int64(12), tol=0)
    result = conv_fista(y, K, lam, max_iter=np.int64(12), tol=np.float64(0.0), L=np.float64(reference_L(K)))
    assert result.n_iter == 12 and torch.allclose(result.z, reference.z)
    assert torch.allclose(conv_energy(y, K, z, lam), conv_energy(y, K, z, 0.1))
    assert map_size((np.int64(11), 13), (4, np.int32(3))) == (14, 15)
    model = ConvSparseAutoEncoder(np.int64(1), np.int64(2), np.int64(3))
    assert model.config["m"] == 2 and isinstance(model.config["m"], int)


def reference_L(K):
    return conv_lipschitz(K, (11, 13))


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
    with pytest.raises(ValueError, match="argument 'L': expected a finite number > 0"):
        conv_fista(y, K, 0.1, L=0)
    with pytest.raises(ValueError, match="argument 'trace': expected True or False"):
        conv_fista(y, K, 0.1, trace="no")
    with pytest.raises(ValueError, match="argument 'nonlinearity'"):
        ConvSparseAutoEncoder(1, 2, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match="argument 'm': expected an integer >= 1"):
        ConvSparseAutoEncoder(1, 0, 3)


def test_errors_name_the_argument_the_user_passed():
    # map_size's kernels come as kernel_size
    with pytest.raises(InvalidArgumentError, match="argument 'kernel_size': expected kernels no larger "
                                                   "than the image"):
        map_size((5, 5), (7, 3), "circular")
    with pytest.raises(InvalidArgumentError, match="argument 'kernel_size': expected a pair"):
        map_size((5, 5), 3)
    # the photographs of the trainers are 'Y', each one 'Y[i]'
    with pytest.raises(InvalidArgumentError, match=r"argument 'Y\[0\]': expected an image at least "
                                                   r"crop × crop = 16 × 16"):
        learn_conv_dictionary([torch.zeros(1, 10, 10)], 2, 3, 0.1, crop=16)
    with pytest.raises(InvalidArgumentError, match=r"argument 'Y\[1\]': expected 1 channels like Y\[0\]"):
        learn_conv_dictionary([torch.zeros(1, 40, 40), torch.zeros(3, 40, 40)], 2, 3, 0.1)
    with pytest.raises(InvalidArgumentError, match="argument 'Y': expected a non-empty list"):
        learn_conv_dictionary([], 2, 3, 0.1)
    with pytest.raises(InvalidArgumentError, match="argument 'm'"):
        learn_conv_dictionary([torch.zeros(1, 40, 40)], 0, 3, 0.1)
    with pytest.raises(InvalidArgumentError, match="argument 'max_iter'"):
        learn_conv_dictionary([torch.zeros(1, 40, 40)], 2, 3, 0.1, max_iter=0)
    with pytest.raises(InvalidArgumentError, match="argument 'K0': expected shape"):
        learn_conv_dictionary([torch.zeros(1, 40, 40)], 2, 3, 0.1, K0=torch.randn(3, 1, 3, 3))
    model = ConvSparseAutoEncoder(1, 2, 3)
    with pytest.raises(InvalidArgumentError, match="argument 'model': expected a ConvSparseAutoEncoder"):
        train_conv_autoencoder(torch.nn.Linear(2, 2), [torch.zeros(1, 40, 40)], 0.1)
    with pytest.raises(InvalidArgumentError, match="arguments 'Y' and 'model': expected photographs "
                                                   "with the model's C = 1 channels"):
        train_conv_autoencoder(model, [torch.zeros(3, 40, 40)], 0.1)
    with pytest.raises(InvalidArgumentError, match="arguments 'Y' and 'model': expected the same device"):
        train_conv_autoencoder(model, [torch.zeros(1, 40, 40, dtype=torch.float64)], 0.1)
    with pytest.raises(InvalidArgumentError, match="argument 'lr': expected a finite number > 0"):
        train_conv_autoencoder(model, [torch.zeros(1, 40, 40)], 0.1, lr=0)
    # the model's own images are 'y' (W_e is not an argument)
    with pytest.raises(InvalidArgumentError, match=r"argument 'y': expected C = 1 channels"):
        model.encode(torch.zeros(2, 3, 8, 8))
    with pytest.raises(InvalidArgumentError, match=r"argument 'y': expected C = 1 channels, device cpu "
                                                   r"and dtype torch.float32"):
        model.loss(torch.zeros(2, 1, 8, 8, dtype=torch.float64), 0.1)
    with pytest.raises(InvalidArgumentError, match="argument 'size'"):
        random_crops([torch.zeros(1, 40, 40)], 2, 0)
    with pytest.raises(InvalidArgumentError, match="argument 'n_iter'"):
        conv_lipschitz_power(torch.ones(1, 1, 3, 3), (8, 8), n_iter=0)
