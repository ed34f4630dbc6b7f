"""Read MNIST's IDX files and the SMS Spam Collection from a directory the user names.

Where to look: the ``data_home`` / ``path`` argument when one is given (and only there: a
folder the user names is never silently replaced by another); otherwise the
``FASTML_DATA`` environment variable, then ``../shared/data`` next to the current
directory (the layout of this project's checkouts). A data directory holds ``mnist/`` and
``sms_spam/``; the MNIST files may also sit directly in ``data_home``.
"""
import gzip
import hashlib
import http.client
import io
import math
import os
import shutil
import urllib.error
import urllib.request
import zlib

import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
# SHA-256 of the uncompressed files (as published with the data set).
MNIST_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _candidates(data_home, sub):
    if data_home is not None:  # an explicit folder is the only place looked at
        roots = [os.fspath(data_home)]
    else:
        roots = []
        if os.environ.get("FASTML_DATA"):
            roots.append(os.environ["FASTML_DATA"])
        roots.append(os.path.join(os.getcwd(), "..", "shared", "data"))
    out = []
    for r in roots:
        out += [os.path.join(r, sub), r]
    return out


def find_data_home(data_home=None):
    """The data directory: ``data_home`` if given and existing, else the first existing
    of $FASTML_DATA and ../shared/data; None if there is none."""
    for r in _candidates(data_home, "")[::2]:
        if os.path.isdir(r):
            return os.path.abspath(r)
    return None


def read_idx(path):
    """Read one IDX file (gzipped or not) into a numpy array, checking its header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number).")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: the IDX header announces {ndim} dimensions but the file "
                         f"has only {len(raw)} bytes (truncated or corrupt).")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = 4 + 4 * ndim + math.prod(dims) * dtype.itemsize  # exact Python ints
    if len(raw) != expected:
        raise ValueError(f"{path}: header says {dims} of {dtype}, i.e. {expected} bytes, but "
                         f"the file has {len(raw)} bytes (truncated or corrupt).")
    arr = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _find_file(dirs, name):
    for d in dirs:
        for cand in (name, name + ".gz"):
            p = os.path.join(d, cand)
            if os.path.isfile(p):
                return p
    return None


def _download(name, target_dir):
    """Fetch one gzipped MNIST file from the mirror and check the SHA-256 of its content.

    Returns ``(path, None)``, or ``(None, reason)`` when the network is unavailable. A
    download whose content does not match the published checksum (or is not gzip) is
    deleted and raises ``OSError``.
    """
    os.makedirs(target_dir, exist_ok=True)
    dest = os.path.join(target_dir, name + ".gz")
    part = dest + ".part"
    try:
        with urllib.request.urlopen(MNIST_MIRROR + name + ".gz", timeout=20) as r, \
                open(part, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        if os.path.exists(part):
            os.remove(part)
        return None, f"{type(exc).__name__}: {exc}"
    try:
        with gzip.open(part, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except (OSError, EOFError, zlib.error) as exc:  # not gzip, or truncated
        os.remove(part)
        raise OSError(f"Downloaded {name}.gz from {MNIST_MIRROR} is not a valid gzip file "
                      f"({exc}); the download is corrupt, try again.") from None
    if digest != MNIST_SHA256[name]:
        os.remove(part)
        raise OSError(f"Downloaded {name}.gz has SHA-256 {digest}, expected "
                      f"{MNIST_SHA256[name]}; the download is corrupt, try again.")
    os.replace(part, dest)
    return dest, None


def load_mnist(data_home=None, subset="train", download=True):
    """MNIST as ``(X, y)``: X uint8 of shape (n, 28, 28), y uint8 labels 0-9.

    ``subset`` is "train" (60000 images), "test" (10000) or "all" (train then test).
    The IDX files (``train-images-idx3-ubyte[.gz]`` etc.) are looked up in
    ``data_home``, ``data_home/mnist``, ``$FASTML_DATA[/mnist]`` and
    ``../shared/data/mnist``. If they are absent and ``download`` is true they are
    fetched (checksummed) into ``data_home/mnist`` (or ``~/.fastml_data/mnist``);
    without network an error says where to put them.
    """
    if subset == "all":
        Xa, ya = load_mnist(data_home, "train", download)
        Xb, yb = load_mnist(data_home, "test", download)
        return np.concatenate([Xa, Xb]), np.concatenate([ya, yb])
    if not isinstance(subset, str) or subset not in MNIST_FILES:
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    img_name, lab_name, n = MNIST_FILES[subset]
    dirs = _candidates(data_home, "mnist")
    paths = []
    for name in (img_name, lab_name):
        p = _find_file(dirs, name)
        if p is None and download:
            target = os.path.join(
                os.fspath(data_home) if data_home is not None
                else os.environ.get("FASTML_DATA", os.path.expanduser("~/.fastml_data")),
                "mnist")
            p, reason = _download(name, target)
        else:
            reason = "download=False"
        if p is None:
            raise FileNotFoundError(
                f"MNIST file {name}[.gz] not found in any of {dirs} and it could not be "
                f"downloaded from {MNIST_MIRROR} ({reason}). Put the four IDX files "
                "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                "t10k-labels-idx1-ubyte; gzipped or not) in a folder and pass it as "
                "data_home=..., or put them in $FASTML_DATA/mnist/."
            )
        paths.append(p)
    X, y = read_idx(paths[0]), read_idx(paths[1])
    if X.shape != (n, 28, 28) or y.shape != (n,):
        raise ValueError(f"MNIST {subset}: expected images ({n}, 28, 28) and labels ({n},), "
                         f"got {X.shape} and {y.shape}.")
    if y.max() > 9:
        raise ValueError(f"MNIST {subset}: labels must be 0-9, found {int(y.max())}.")
    return X, y


SMS_URL = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
# SHA-256 of SMSSpamCollection (v.1, 477907 bytes, 5574 messages).
SMS_SHA256 = "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d"


def _download_sms(target_dir):
    """Fetch the UCI zip, check the SHA-256 of its SMSSpamCollection member and store it.
    Returns ``(path, None)`` or ``(None, reason)`` without network; raises ``OSError``
    for a corrupt download."""
    import zipfile

    try:
        with urllib.request.urlopen(SMS_URL, timeout=20) as r:
            payload = r.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            data = z.read("SMSSpamCollection")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise OSError(f"The download from {SMS_URL} is not the expected zip file ({exc}); "
                      "the download is corrupt, try again.") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SMS_SHA256:
        raise OSError(f"Downloaded SMSSpamCollection has SHA-256 {digest}, expected "
                      f"{SMS_SHA256}; the download is corrupt, try again.")
    os.makedirs(target_dir, exist_ok=True)
    dest = os.path.join(target_dir, "SMSSpamCollection")
    with open(dest + ".part", "wb") as f:
        f.write(data)
    os.replace(dest + ".part", dest)
    return dest, None


def load_sms_spam(path=None, download=True):
    """The SMS Spam Collection as ``(texts, labels)``: a list of str and an array of
    "ham"/"spam". ``path`` is the ``SMSSpamCollection`` file or a folder holding it
    (default: ``$FASTML_DATA/sms_spam``, then ``../shared/data/sms_spam``). If it is
    absent and ``download`` is true, it is fetched from the UCI repository (checksummed)
    into ``path/sms_spam`` (or ``$FASTML_DATA/sms_spam``, ``~/.fastml_data/sms_spam``);
    without network an error says where to put it."""
    if path is not None and os.path.isfile(os.fspath(path)):
        file = os.fspath(path)
    else:
        file = _find_file(_candidates(path, "sms_spam"), "SMSSpamCollection")
    reason = "download=False"
    if file is None and download:
        root = (os.fspath(path) if path is not None
                else os.environ.get("FASTML_DATA", os.path.expanduser("~/.fastml_data")))
        file, reason = _download_sms(os.path.join(root, "sms_spam"))
    if file is None:
        raise FileNotFoundError(
            f"SMSSpamCollection not found and it could not be downloaded from {SMS_URL} "
            f"({reason}). Download the SMS Spam Collection v.1 (UCI Machine Learning "
            "Repository) and pass the file or its folder as path=..., or put it in "
            "$FASTML_DATA/sms_spam/."
        )
    texts, labels = [], []
    with open(file, "rb") as f:
        raw = f.read()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{file}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
            f"{exc.start}); the SMS Spam Collection is UTF-8: re-download it or convert "
            "the file, e.g. with iconv -t utf-8.") from None
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for lineno, line in enumerate(lines, 1):
        if not line:
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in ("ham", "spam"):
            raise ValueError(f"{file}:{lineno}: expected 'ham<TAB>text' or "
                             f"'spam<TAB>text', got {line[:40]!r}.")
        texts.append(text)
        labels.append(label)
    if not texts:
        raise ValueError(f"{file} holds no message (it is empty or blank); expected lines "
                         "of 'ham<TAB>text' or 'spam<TAB>text'. Re-download the file.")
    return texts, np.array(labels)
