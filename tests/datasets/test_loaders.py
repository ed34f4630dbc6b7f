"""fastml.datasets: MNIST IDX files (gzipped or not, checksummed downloads) and the SMS
Spam Collection. The network is never used: downloads are served from local bytes."""
import gzip
import io
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest

from fastml.datasets import _loaders, load_mnist, load_sms_spam
from fastml.datasets._loaders import MNIST_FILES, read_idx

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def mnist_dir(data_dir):
    d = os.path.join(data_dir, "mnist")
    if not os.path.isfile(os.path.join(d, "t10k-labels-idx1-ubyte.gz")):
        pytest.skip("MNIST files absent")
    return d


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $FASTML_DATA, a home folder of its own (so ~/fastml_data is empty) and a
    working directory of its own."""
    monkeypatch.delenv("FASTML_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path


def test_mnist_test_subset(mnist_dir):
    X, y = load_mnist(os.path.dirname(mnist_dir), subset="test")
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert np.bincount(y).tolist() == TEST_LABEL_COUNTS
    assert X.max() == 255 and X.min() == 0


def test_mnist_train_and_all(mnist_dir):
    X, y = load_mnist(mnist_dir, subset="train")  # the mnist folder itself works too
    assert X.shape == (60000, 28, 28) and y.shape == (60000,)
    Xa, ya = load_mnist(mnist_dir, subset="all")
    assert Xa.shape == (70000, 28, 28)
    np.testing.assert_array_equal(Xa[:60000], X)


def test_mnist_uncompressed_and_env(mnist_dir, isolated, monkeypatch, no_network):
    raw = isolated / "raw" / "mnist"
    raw.mkdir(parents=True)
    for name in MNIST_FILES["test"][:2]:
        with gzip.open(os.path.join(mnist_dir, name + ".gz"), "rb") as f, \
                open(raw / name, "wb") as g:
            shutil.copyfileobj(f, g)
    X, y = load_mnist(raw, subset="test")
    X2, y2 = load_mnist(os.path.join(mnist_dir, ".."), subset="test")
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    monkeypatch.setenv("FASTML_DATA", str(isolated / "raw"))
    X3, _ = load_mnist(subset="test")
    np.testing.assert_array_equal(X3, X)


def test_mnist_absent_without_network_says_where(isolated, no_network):
    with pytest.raises(FileNotFoundError, match="data_home=.*FASTML_DATA"):
        load_mnist(isolated / "nothing", subset="test")
    assert not list((isolated / "nothing" / "mnist").glob("*.part"))
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist(isolated / "nothing", subset="test", download=False)


def _serve(monkeypatch, payloads, calls):
    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        return Response(payloads[name])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def test_mnist_download_checksummed(mnist_dir, isolated, monkeypatch):
    payloads = {n + ".gz": open(os.path.join(mnist_dir, n + ".gz"), "rb").read()
                for n in MNIST_FILES["test"][:2]}
    calls = []
    _serve(monkeypatch, payloads, calls)
    home = isolated / "home"
    X, y = load_mnist(home, subset="test")
    assert X.shape == (10000, 28, 28) and np.bincount(y).tolist() == TEST_LABEL_COUNTS
    assert all(c.startswith(_loaders.MNIST_MIRROR) for c in calls) and len(calls) == 2
    assert sorted(os.listdir(home / "mnist")) == sorted(payloads)
    load_mnist(home, subset="test")  # now found locally: no further download
    assert len(calls) == 2


@pytest.mark.parametrize("corruption", ["flipped byte", "not gzip", "truncated"])
def test_mnist_corrupt_download_is_rejected(mnist_dir, isolated, monkeypatch, corruption):
    name = MNIST_FILES["test"][1]
    raw = gzip.open(os.path.join(mnist_dir, name + ".gz"), "rb").read()
    if corruption == "flipped byte":
        bad = bytearray(raw)
        bad[100] ^= 1
        payload = gzip.compress(bytes(bad))
    elif corruption == "not gzip":
        payload = raw
    else:
        payload = gzip.compress(raw)[:-20]
    img = MNIST_FILES["test"][0]
    payloads = {name + ".gz": payload,
                img + ".gz": open(os.path.join(mnist_dir, img + ".gz"), "rb").read()}
    _serve(monkeypatch, payloads, [])
    home = isolated / "home"
    with pytest.raises(OSError, match="corrupt"):
        load_mnist(home, subset="test")
    assert not (home / "mnist" / (name + ".gz")).exists()
    assert not list((home / "mnist").glob("*.part"))


def _write_idx(path, arr, type_code=0x08):
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in arr.shape)
    with open(path, "wb") as f:
        f.write(header + arr.tobytes())


def test_read_idx_roundtrip_and_errors(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a", a)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a")), a)
    b = np.arange(6, dtype=">i4").reshape(2, 3)
    _write_idx(tmp_path / "b", b, 0x0C)
    out = read_idx(str(tmp_path / "b"))
    np.testing.assert_array_equal(out, b)
    assert out.dtype == np.int32
    with open(tmp_path / "a", "rb") as f:
        data = f.read()
    (tmp_path / "trunc").write_bytes(data[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(str(tmp_path / "trunc"))
    (tmp_path / "magic").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(ValueError, match="magic"):
        read_idx(str(tmp_path / "magic"))


def test_mnist_wrong_shapes_rejected(isolated, no_network):
    d = isolated / "fake" / "mnist"
    d.mkdir(parents=True)
    _write_idx(d / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    _write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"expected images \(10000, 28, 28\)"):
        load_mnist(isolated / "fake", subset="test")


def test_mnist_bad_subset(isolated):
    with pytest.raises(ValueError, match="subset"):
        load_mnist(subset="validation")
    with pytest.raises(ValueError, match="subset"):
        load_mnist(subset=["train"])


def test_sms_spam(data_dir):
    folder = os.path.join(data_dir, "sms_spam")
    if not os.path.isfile(os.path.join(folder, "SMSSpamCollection")):
        pytest.skip("SMS Spam Collection absent")
    texts, labels = load_sms_spam(folder)
    assert len(texts) == 5574 and labels.shape == (5574,)
    assert (labels == "ham").sum() == 4827 and (labels == "spam").sum() == 747
    assert all(isinstance(t, str) and t for t in texts)
    texts2, _ = load_sms_spam(os.path.join(folder, "SMSSpamCollection"))
    assert texts2 == texts


def test_sms_spam_absent_and_malformed(isolated, no_network):
    with pytest.raises(FileNotFoundError, match="path=.*FASTML_DATA"):
        load_sms_spam(isolated / "none")
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_sms_spam(isolated / "none", download=False)
    bad = isolated / "SMSSpamCollection"
    bad.write_text("ham\tfine\nnot-a-label\ttext\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":2: expected"):
        load_sms_spam(bad)


@pytest.mark.parametrize("corrupt", [False, True])
def test_sms_spam_download_checksummed(data_dir, isolated, monkeypatch, corrupt):
    import zipfile

    src = os.path.join(data_dir, "sms_spam", "SMSSpamCollection")
    if not os.path.isfile(src):
        pytest.skip("SMS Spam Collection absent")
    data = open(src, "rb").read()
    if corrupt:
        data = data.replace(b"spam\t", b"ham\t", 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("SMSSpamCollection", data)
        z.writestr("readme", "x")
    calls = []
    _serve(monkeypatch, {_loaders.SMS_URL.rsplit("/", 1)[1]: buf.getvalue()}, calls)
    if corrupt:
        with pytest.raises(OSError, match="corrupt"):
            load_sms_spam(isolated / "home")
        assert not (isolated / "home" / "sms_spam" / "SMSSpamCollection").exists()
        return
    texts, labels = load_sms_spam(isolated / "home")
    assert len(texts) == 5574 and calls == [_loaders.SMS_URL]
    assert (isolated / "home" / "sms_spam" / "SMSSpamCollection").is_file()


# ----------------------------------------------------------------------------------------
# hostile files: lying IDX headers, non-UTF-8 and empty SMS files, and an explicit
# folder that must not be replaced by $FASTML_DATA
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [(2**32 - 1,) * 4, (2**31, 2**31, 4), (2**32 - 1, 0, 5),
                                  (3,) * 255])
def test_read_idx_header_overflow_is_a_clear_error(tmp_path, dims):
    # the product of the dimensions must not wrap around (int64) to a plausible size
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = tmp_path / "bad-idx3-ubyte"
    for body in (b"", b"\x00" * 16):
        path.write_bytes(header + body)
        if 0 in dims and not body:
            assert read_idx(str(path)).shape == dims  # an empty array is valid
            continue
        with pytest.raises(ValueError, match="header says|truncated"):
            read_idx(str(path))


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + b"\x00\x00\x00\x02")
    with pytest.raises(ValueError, match="3 dimensions.*truncated"):
        read_idx(str(path))


def test_sms_spam_non_utf8_names_the_line(tmp_path):
    bad = tmp_path / "SMSSpamCollection"
    bad.write_bytes("ham\tfine\nspam\tcaf\u00e9 latin-1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r":2: not UTF-8.*0xe9"):
        load_sms_spam(bad)


@pytest.mark.parametrize("content", [b"", b"\n\n\r\n", b"   "])
def test_sms_spam_empty_file(tmp_path, content):
    bad = tmp_path / "SMSSpamCollection"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="no message|expected 'ham"):
        load_sms_spam(bad)


def test_sms_spam_crlf_lines(tmp_path):
    f = tmp_path / "SMSSpamCollection"
    f.write_bytes(b"ham\tone\r\nspam\ttwo\r\n")
    texts, labels = load_sms_spam(f)
    assert texts == ["one", "two"] and labels.tolist() == ["ham", "spam"]


def test_explicit_folder_is_the_only_place_looked_at(mnist_dir, tmp_path, monkeypatch,
                                                     no_network):
    # $FASTML_DATA holds real data, but the folder the caller named is empty
    monkeypatch.setenv("FASTML_DATA", os.path.dirname(mnist_dir))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist(empty, subset="test", download=False)
    with pytest.raises(FileNotFoundError):
        load_sms_spam(empty, download=False)
    assert load_mnist(subset="test")[0].shape == (10000, 28, 28)  # no folder: env var


# ----------------------------------------------------------------------------------------
# the data home, and downloads from a local HTTP server (127.0.0.1, started by the test)
# ----------------------------------------------------------------------------------------
@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; ``.requests`` lists the paths
    asked for, ``.url`` is its base URL."""
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    class S:
        pass

    s = S()
    s.root, s.requests = root, requests
    s.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield s
    httpd.shutdown()
    httpd.server_close()


def _idx_bytes(arr, type_code=0x08):
    return bytes([0, 0, type_code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


@pytest.fixture
def fake_mnist(server, monkeypatch):
    """The MNIST test subset as synthetic IDX files served by the local server, with
    their checksums in place of the published ones."""
    import hashlib

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 10000).astype(np.uint8)
    img, lab, _ = MNIST_FILES["test"]
    sums = dict(_loaders.MNIST_SHA256)
    for name, arr in ((img, X), (lab, y)):
        raw = _idx_bytes(arr)
        (server.root / (name + ".gz")).write_bytes(gzip.compress(raw, compresslevel=1))
        sums[name] = hashlib.sha256(raw).hexdigest()
    monkeypatch.setattr(_loaders, "MNIST_SHA256", sums)
    monkeypatch.setattr(_loaders, "MNIST_MIRROR", server.url)
    return X, y


def test_get_data_home(isolated, monkeypatch):
    from fastml.datasets import get_data_home

    assert get_data_home() == str(isolated / "user" / "fastml_data")
    monkeypatch.setenv("FASTML_DATA", str(isolated / "env"))
    assert get_data_home() == str(isolated / "env")
    monkeypatch.setenv("FASTML_DATA", "")  # empty: as unset
    assert get_data_home() == str(isolated / "user" / "fastml_data")
    assert get_data_home(isolated / "x") == str(isolated / "x")
    assert get_data_home("~/d") == str(isolated / "user" / "d")
    assert not (isolated / "x").exists()  # nothing created by asking


def test_downloads_go_into_the_data_home_and_are_read_back(isolated, fake_mnist, server):
    X, y = fake_mnist
    for _ in range(2):  # the second call reads what the first one downloaded
        Xg, yg = load_mnist(subset="test")
        np.testing.assert_array_equal(Xg, X)
        np.testing.assert_array_equal(yg, y)
    assert sorted(server.requests) == ["/t10k-images-idx3-ubyte.gz",
                                       "/t10k-labels-idx1-ubyte.gz"]
    home = isolated / "user" / "fastml_data" / "mnist"
    assert sorted(os.listdir(home)) == ["t10k-images-idx3-ubyte.gz",
                                        "t10k-labels-idx1-ubyte.gz"]
    assert load_mnist(subset="test", download=False)[0].shape == (10000, 28, 28)


def test_fastml_data_is_the_data_home(isolated, fake_mnist, server, monkeypatch):
    monkeypatch.setenv("FASTML_DATA", str(isolated / "env"))
    load_mnist(subset="test")
    assert (isolated / "env" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert not (isolated / "user").exists()
    load_mnist(isolated / "env", subset="test")
    assert len(server.requests) == 2


def test_a_cache_placed_by_hand_is_found(isolated, fake_mnist, server):
    X, y = fake_mnist
    d = isolated / "user" / "fastml_data" / "mnist"
    d.mkdir(parents=True)
    (d / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(X))  # uncompressed
    shutil.copy(server.root / "t10k-labels-idx1-ubyte.gz", d)
    np.testing.assert_array_equal(load_mnist(subset="test", download=False)[1], y)
    assert server.requests == []


def test_failed_download_leaves_no_empty_folder(isolated, fake_mnist, server):
    os.remove(server.root / "t10k-labels-idx1-ubyte.gz")  # a 404 for the labels
    home = isolated / "new" / "home"
    with pytest.raises(FileNotFoundError, match="HTTPError.*404"):
        load_mnist(home, subset="test")
    # the images arrived (and stay, checksummed); the labels left nothing behind
    assert os.listdir(home / "mnist") == ["t10k-images-idx3-ubyte.gz"]
    os.remove(server.root / "t10k-images-idx3-ubyte.gz")
    other = isolated / "other"
    with pytest.raises(FileNotFoundError, match="404"):
        load_mnist(other, subset="test")
    assert not other.exists()  # neither other/ nor other/mnist/ was left behind
    with pytest.raises(FileNotFoundError):
        load_mnist(subset="test")
    assert not (isolated / "user").exists()


def test_corrupt_download_from_the_server(isolated, fake_mnist, server):
    path = server.root / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(4) + b"x"))
    with pytest.raises(OSError, match="SHA-256.*corrupt"):
        load_mnist(isolated / "h", subset="test")
    assert sorted(os.listdir(isolated / "h" / "mnist")) == ["t10k-images-idx3-ubyte.gz"]


def test_download_shows_a_progress_bar_on_a_terminal(isolated, fake_mnist, monkeypatch):
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    load_mnist(isolated / "h", subset="test")
    assert "downloading t10k-images-idx3-ubyte.gz" in err.getvalue()


def test_sms_download_from_the_server(isolated, server, monkeypatch):
    import hashlib
    import zipfile

    data = b"ham\tone\nspam\ttwo\n"
    with zipfile.ZipFile(server.root / "sms.zip", "w") as z:
        z.writestr("SMSSpamCollection", data)
    monkeypatch.setattr(_loaders, "SMS_URL", server.url + "sms.zip")
    monkeypatch.setattr(_loaders, "SMS_SHA256", hashlib.sha256(data).hexdigest())
    texts, labels = load_sms_spam()
    assert texts == ["one", "two"] and labels.tolist() == ["ham", "spam"]
    assert load_sms_spam(download=False)[0] == texts
    assert server.requests == ["/sms.zip"]
    assert (isolated / "user" / "fastml_data" / "sms_spam" / "SMSSpamCollection").is_file()
    os.remove(server.root / "sms.zip")
    with pytest.raises(FileNotFoundError, match="404"):
        load_sms_spam(isolated / "none")
    assert not (isolated / "none").exists()


@pytest.mark.parametrize("loader", ["mnist", "sms"])
def test_data_home_that_is_a_file_or_a_link_loop(isolated, loader, monkeypatch):
    load = (lambda h: load_mnist(h, subset="test", download=False)) if loader == "mnist" \
        else (lambda h: load_sms_spam(h, download=False) if h is not None
              else load_sms_spam(download=False))
    f = isolated / "afile"
    f.write_text("x")
    if loader == "mnist":
        with pytest.raises(NotADirectoryError, match=f"data_home '{f}' is a file"):
            load(f)
    loop = isolated / "loop"
    os.symlink(loop, loop)
    with pytest.raises(OSError, match=f"'{loop}' cannot be used as a folder.*symbolic"):
        load(loop)
    monkeypatch.setenv("FASTML_DATA", str(f))
    with pytest.raises(NotADirectoryError, match=f"FASTML_DATA '{f}' is a file"):
        load(None)


def test_truncated_gz_names_the_file(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(a))[:-10])
    with pytest.raises(ValueError, match=f"{path}: not a complete gzip file"):
        read_idx(str(path))
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match=f"{path}: not a complete gzip"):
        read_idx(path)
    sms = tmp_path / "SMSSpamCollection.gz"
    sms.write_bytes(gzip.compress(b"ham\thi\n")[:-6])
    with pytest.raises(ValueError, match="SMSSpamCollection.gz: not a complete gzip"):
        load_sms_spam(sms)


@pytest.mark.parametrize("what", ["labels -1", "float images", "int8 labels"])
def test_mnist_files_of_other_types_are_rejected(isolated, no_network, what):
    d = isolated / "fake" / "mnist"
    d.mkdir(parents=True)
    X = np.zeros((10000, 28, 28), np.uint8)
    y = np.zeros(10000, np.uint8)
    img, lab = d / "t10k-images-idx3-ubyte", d / "t10k-labels-idx1-ubyte"
    img.write_bytes(_idx_bytes(X))
    lab.write_bytes(_idx_bytes(y))
    if what == "labels -1":
        y8 = np.zeros(10000, np.int8)
        y8[5] = -1
        lab.write_bytes(_idx_bytes(y8, 0x09))
        match = f"{lab}: MNIST stores unsigned bytes.*int8"
    elif what == "int8 labels":
        lab.write_bytes(_idx_bytes(y.astype(np.int8), 0x09))
        match = "int8"
    else:
        img.write_bytes(_idx_bytes(X.astype(">f4"), 0x0D))
        match = f"{img}: MNIST stores unsigned bytes.*float32"
    with pytest.raises(ValueError, match=match):
        load_mnist(isolated / "fake", subset="test")


def test_sms_spam_utf8_byte_order_mark(tmp_path):
    f = tmp_path / "SMSSpamCollection"
    f.write_bytes(b"\xef\xbb\xbfham\tfirst\nspam\tsecond\n")
    texts, labels = load_sms_spam(f)
    assert texts == ["first", "second"] and labels.tolist() == ["ham", "spam"]
