"""Benchmark: ebmlib's VAE against a re-implementation of pytorch/examples' VAE training loop.

    .venv/bin/python bench/bench_vae.py [--epochs 10] [--repeats 3] [--device cpu] [--threads N]
                                        [--quick]        (or: make bench)

Reference: pytorch/examples, vae/main.py: fc1 784→400 (ReLU), fc21/fc22 400→20 (μ, log σ²),
fc3 20→400 (ReLU), fc4 400→784 (sigmoid); loss = BCE(sum) + KLD(sum); Adam 1e-3, batch 128;
train loss reported per sample (sum over the epoch / N), test loss averaged per sample.
The baseline below is that loop written out (``loss.item()`` every batch, sigmoid then
``binary_cross_entropy``); it leaves out the image files the example saves (no torchvision
here). ebmlib runs ``VAE(784, 400, 20, seed=seed)`` (the same layers, created in the same
order) with ``train_vae`` (logits and ``binary_cross_entropy_with_logits``, one device sync
per epoch), whose History records the held-out loss of epoch 0, before training.

Fairness: both start from the same weights (the reference: ``torch.manual_seed(seed)``
before the model; ``VAE(seed=seed)`` has the same weights),
visit the data in the same order (one ``torch.randperm`` per epoch from a CPU generator
seeded with ``seed``, batches of 128, the last one short, as DataLoader(shuffle=True)),
draw the same reparameterisation noise (a generator seeded with ``seed + 1``), and are
evaluated on the held-out set with the same noise (``seed + 2``) and the same loss. The
row t = 0 (before training) checks that: the two held-out losses must agree.
Times are training time per epoch (held-out evaluation excluded), best of ``--repeats``
runs, the two methods alternating. Everything runs in this one process. ``--quick``: 2 epochs.
"""

from __future__ import annotations

import time
from itertools import pairwise

import torch
import torch.nn.functional as F
from common import arguments, digits, print_table, setup, sync, threads_line
from torch import nn

from ebmlib.vae import VAE, train_vae


class ReferenceVAE(nn.Module):
    """pytorch/examples vae/main.py, class VAE."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """pytorch/examples vae/main.py: reconstruction + KL divergence summed over all elements."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def batches(X, batch_size, generator=None):
    """DataLoader-style minibatches: shuffled with ``generator`` when given, else in order."""
    order = torch.randperm(len(X), generator=generator) if generator is not None else torch.arange(len(X))
    order = order.to(X.device)
    for i in range(0, len(X), batch_size):
        yield X[order[i:i + batch_size]]


def reference_run(train_X, test_X, epochs, seed, device):
    """The reference's main loop: for each epoch, train(epoch) then test(epoch)."""
    torch.manual_seed(seed)
    model = ReferenceVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    noise_state = torch.Generator(device).manual_seed(seed + 1).get_state()

    def test():
        model.eval()
        test_loss = 0
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed + 2)
            with torch.no_grad():
                for data in batches(test_X, 128):
                    recon_batch, mu, logvar = model(data)
                    test_loss += loss_function(recon_batch, data, mu, logvar).item()
        return test_loss / len(test_X)

    losses, train_losses, seconds = [test()], [], []
    for _ in range(epochs):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            _set_noise(device, noise_state)
            sync(device)
            start = time.perf_counter()
            model.train()
            train_loss = 0
            for data in batches(train_X, 128, order):
                optimizer.zero_grad()
                recon_batch, mu, logvar = model(data)
                loss = loss_function(recon_batch, data, mu, logvar)
                loss.backward()
                train_loss += loss.item()
                optimizer.step()
            sync(device)
            seconds.append(time.perf_counter() - start)
            noise_state = _get_noise(device)
        train_losses.append(train_loss / len(train_X))
        losses.append(test())
    return losses, train_losses, seconds


def _set_noise(device, state):
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def _get_noise(device):
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def ebmlib_run(train_X, test_X, epochs, seed, device):
    model = VAE(784, 400, 20, seed=seed).to(device)
    history = train_vae(model, train_X, epochs=epochs, batch_size=128, lr=1e-3, Y_val=test_X, seed=seed)
    seconds = [b - a for a, b in pairwise(history.seconds)]  # cumulative → per epoch
    return history.values("loss"), history.values("loss", of="loss")[1:], seconds


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--epochs", type=int, default=None, help="default 10 (2 with --quick)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    device = setup(args)
    args.epochs = args.epochs or (2 if args.quick else 10)
    train_X, test_X, source = digits(device)
    print(f"data: {source}, {len(train_X)} training / {len(test_X)} held-out digits; device {device}, "
          f"{torch.get_num_threads()} threads; {args.epochs} epochs, best of {args.repeats} runs")

    runs = {"reference": [], "ebmlib": []}
    for r in range(args.repeats):
        order = ("reference", "ebmlib") if r % 2 == 0 else ("ebmlib", "reference")
        for name in order:
            run = reference_run if name == "reference" else ebmlib_run
            runs[name].append(run(train_X, test_X, args.epochs, args.seed, device))
    for name, results in runs.items():  # the losses do not depend on the run
        assert all(res[0] == results[0][0] for res in results), f"{name}: losses differ between runs"
    ref_loss, ref_train, _ = runs["reference"][0]
    ours_loss, ours_train, _ = runs["ebmlib"][0]
    ref_sec = [min(res[2][e] for res in runs["reference"]) for e in range(args.epochs)]
    ours_sec = [min(res[2][e] for res in runs["ebmlib"]) for e in range(args.epochs)]

    head = ("epoch", "test ref", "test ebmlib", "ebmlib−ref", "train ref", "train ebmlib",
            "s ref", "s ebmlib", "s ratio")
    table = []
    for e in range(args.epochs + 1):
        cells = [str(e), f"{ref_loss[e]:.3f}", f"{ours_loss[e]:.3f}", f"{ours_loss[e] - ref_loss[e]:+.3f}"]
        if e == 0:
            cells += ["-"] * 5
        else:
            cells += [f"{ref_train[e - 1]:.3f}", f"{ours_train[e - 1]:.3f}", f"{ref_sec[e - 1]:.3f}",
                      f"{ours_sec[e - 1]:.3f}", f"{ours_sec[e - 1] / ref_sec[e - 1]:.2f}"]
        table.append(cells)
    print_table(head, table, title="Held-out loss per sample (BCE + KL, summed over pixels and code "
                                   "dimensions) and training seconds per epoch")
    diffs = [o - r for o, r in zip(ours_loss[1:], ref_loss[1:], strict=True)]
    ratio = sum(ours_sec) / sum(ref_sec)
    print(f"\ntotal training seconds: reference {sum(ref_sec):.2f}, ebmlib {sum(ours_sec):.2f} "
          f"(ratio {ratio:.2f})")
    print(f"goal 1, held-out loss <= reference at every epoch: "
          f"{'met' if max(diffs) <= 0 else 'missed'} (largest ebmlib−ref {max(diffs):+.2e}, "
          f"smallest {min(diffs):+.2e})")
    slower = sum(o > r for o, r in zip(ours_sec, ref_sec, strict=True))
    print(f"goal 2, seconds per epoch <= reference: {'met' if ratio <= 1 else 'missed'} "
          f"(epochs where ebmlib is slower: {slower} of {args.epochs})")
    print("anchor with full MNIST: pytorch/examples reaches a test loss of about 106.7 at epoch 7")
    print(threads_line())


if __name__ == "__main__":
    main()
