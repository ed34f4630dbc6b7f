"""MNIST's IDX files and the SMS Spam Collection: read from a data home, downloaded into
it (checksummed, with a progress bar) when missing.

The data home is the ``data_home`` / ``path`` argument when one is given (and only that
folder: a folder the caller names is never silently replaced by another); otherwise
:func:`get_data_home`: ``$FASTML_DATA`` if set, else ``~/fastml_data``. It holds
``mnist/`` and ``sms_spam/``; the MNIST files may also sit directly in it. Files are
always looked for first; only missing ones are downloaded (``download=False`` never
touches the network).
"""
import gzip
import hashlib
import http.client
import io
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

__all__ = ["get_data_home", "load_mnist", "load_sms_spam", "read_idx"]

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

SMS_URL = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
# SHA-256 of SMSSpamCollection (v.1, 477907 bytes, 5574 messages).
SMS_SHA256 = "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d"

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError)


# ----------------------------------------------------------------------------------------
# the data home
# ----------------------------------------------------------------------------------------
def _check_folder(path, what):
    """``path`` as an absolute str; a clear error when it exists but is not a folder or
    cannot be resolved (a symbolic link loop, a permission problem)."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    try:
        os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileNotFoundError(f"{what} {path!r} is a symbolic link to a folder that "
                                    "does not exist; fix the link or name another "
                                    "folder.") from None
        return path
    except OSError as exc:  # ELOOP, EACCES, ENAMETOOLONG...
        raise OSError(exc.errno, f"{what} {path!r} cannot be used as a folder: "
                                 f"{exc.strerror}; name another folder.") from None
    if not os.path.isdir(path):
        raise NotADirectoryError(f"{what} {path!r} is a file, not a folder; name the "
                                 "folder that holds (or is to hold) the data.")
    return path


def get_data_home(data_home=None):
    """The folder fastml reads data sets from and downloads them into.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder; None: ``$FASTML_DATA`` if that environment variable is set and not
        empty, else ``~/fastml_data``.

    Returns
    -------
    data_home : str
        The absolute path (``~`` expanded). It is not created here: the loaders create
        the sub-folder they download into, and only when the download succeeds.

    Examples
    --------
    >>> import os
    >>> from fastml.datasets import get_data_home
    >>> get_data_home("/tmp/my_data")
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get("FASTML_DATA") or os.path.join("~", "fastml_data")
        what = "FASTML_DATA" if os.environ.get("FASTML_DATA") else "the data home"
    else:
        what = "data_home"
    return _check_folder(data_home, what)


def _progress(total, desc):
    """A tqdm bar on a terminal (none when stderr is redirected)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False,
                disable=None)


def _fetch(url, out):
    """Copy the body of ``url`` into the open file ``out``, with a progress bar.
    Network failures raise one of ``_NETWORK_ERRORS``."""
    with urllib.request.urlopen(url, timeout=30) as r:
        length = r.headers.get("Content-Length") if hasattr(r, "headers") else None
        total = int(length) if length and str(length).isdigit() else None
        with _progress(total, "downloading " + url.rsplit("/", 1)[-1]) as bar:
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))


class _NewFolders:
    """Create a folder (and its missing parents) for a download; remove those created
    here again if the download fails, so that no empty folder is left behind."""

    def __init__(self, target):
        self.target = target
        self.created = []

    def __enter__(self):
        missing, d = [], self.target
        while not os.path.isdir(d):
            missing.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for d in reversed(missing):
            os.mkdir(d)
            self.created.append(d)
        return self.target

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.rollback()
        return False

    def rollback(self):
        for d in reversed(self.created):
            try:
                os.rmdir(d)  # only if empty
            except OSError:
                break
        self.created = []


# ----------------------------------------------------------------------------------------
# IDX files and MNIST
# ----------------------------------------------------------------------------------------
def read_idx(path):
    """Read one IDX file (gzipped or not) into a numpy array, checking its header.

    Raises ValueError naming the file for anything that is not a complete IDX file (a
    bad magic number, a header whose dimensions do not match the size, a truncated or
    corrupt gzip stream)."""
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: not a complete gzip file (truncated or corrupt: "
                         f"{exc}); delete it and download it again.") from None
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


def _download_mnist(name, target_dir):
    """Fetch ``name``.gz from the mirror into ``target_dir`` and check the SHA-256 of its
    content. Returns ``(path, None)``, or ``(None, reason)`` when the network fails (no
    folder or partial file is left behind); a corrupt download raises OSError."""
    url = MNIST_MIRROR + name + ".gz"
    with _NewFolders(target_dir) as folder:
        fd, part = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=folder)
        try:
            try:
                with os.fdopen(fd, "wb") as f:
                    _fetch(url, f)
            except _NETWORK_ERRORS as exc:
                os.remove(part)
                raise _Offline(f"{type(exc).__name__}: {exc}") from None
            try:
                with gzip.open(part, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            except (OSError, EOFError, zlib.error) as exc:  # not gzip, or truncated
                raise OSError(f"Downloaded {name}.gz from {MNIST_MIRROR} is not a valid gzip "
                              f"file ({exc}); the download is corrupt, try again.") from None
            if digest != MNIST_SHA256[name]:
                raise OSError(f"Downloaded {name}.gz has SHA-256 {digest}, expected "
                              f"{MNIST_SHA256[name]}; the download is corrupt, try again.")
            dest = os.path.join(folder, name + ".gz")
            os.replace(part, dest)
            return dest
        except BaseException:
            if os.path.exists(part):
                os.remove(part)
            raise


class _Offline(Exception):
    """The network could not be reached (the reason is the message)."""


def _check_subset(subset):
    if not isinstance(subset, str) or subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    return subset


def load_mnist(data_home=None, subset="train", download=True):
    """MNIST as ``(X, y)``: X uint8 of shape (n, 28, 28), y uint8 labels 0-9.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder holding the four IDX files (gzipped or not), in ``data_home/mnist/``
        or in ``data_home`` itself; None: :func:`get_data_home` (``$FASTML_DATA``, else
        ``~/fastml_data``). Only this folder is looked at.
    subset : {"train", "test", "all"}, default="train"
        60000 training images, the 10000 test images, or both (train then test).
    download : bool, default=True
        Download missing files from the MNIST mirror into ``data_home/mnist/`` (their
        SHA-256 checked; a progress bar on a terminal). False: never use the network;
        a missing file is a FileNotFoundError saying where to put it.

    Returns
    -------
    X : ndarray of shape (n, 28, 28), dtype uint8
    y : ndarray of shape (n,), dtype uint8
    """
    _check_subset(subset)
    if subset == "all":
        Xa, ya = load_mnist(data_home, "train", download)
        Xb, yb = load_mnist(data_home, "test", download)
        return np.concatenate([Xa, Xb]), np.concatenate([ya, yb])
    home = get_data_home(data_home)
    img_name, lab_name, n = MNIST_FILES[subset]
    dirs = [os.path.join(home, "mnist"), home]
    paths = []
    for name in (img_name, lab_name):
        p = _find_file(dirs, name)
        reason = "download=False"
        if p is None and download:
            try:
                p = _download_mnist(name, dirs[0])
            except _Offline as exc:
                reason = str(exc)
        if p is None:
            how = ("it was not downloaded (download=False) from " if reason ==
                   "download=False" else f"it could not be downloaded ({reason}) from ")
            raise FileNotFoundError(
                f"MNIST file {name}[.gz] not found in {dirs[0]} (nor in {home}) and "
                f"{how}{MNIST_MIRROR}. Put the four IDX "
                "files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzipped or not) in a "
                "folder and pass it as data_home=..., or put them in "
                "$FASTML_DATA/mnist/ (default ~/fastml_data/mnist/)."
            )
        paths.append(p)
    X, y = read_idx(paths[0]), read_idx(paths[1])
    if X.dtype != np.uint8 or y.dtype != np.uint8:
        bad, arr = (paths[0], X) if X.dtype != np.uint8 else (paths[1], y)
        raise ValueError(f"{bad}: MNIST stores unsigned bytes (IDX type 0x08), but this "
                         f"file holds {arr.dtype}; it is not an MNIST file.")
    if X.shape != (n, 28, 28) or y.shape != (n,):
        raise ValueError(f"MNIST {subset}: expected images ({n}, 28, 28) and labels ({n},), "
                         f"got {X.shape} and {y.shape}.")
    if y.size and y.max() > 9:
        raise ValueError(f"{paths[1]}: MNIST labels must be 0-9, found {int(y.max())}.")
    return X, y


# ----------------------------------------------------------------------------------------
# SMS Spam Collection
# ----------------------------------------------------------------------------------------
def _download_sms(target_dir):
    """Fetch the UCI zip, check the SHA-256 of its SMSSpamCollection member and store it
    in ``target_dir``; ``_Offline`` without network (nothing left behind), OSError for a
    corrupt download."""
    import zipfile

    buf = io.BytesIO()
    try:
        _fetch(SMS_URL, buf)
    except _NETWORK_ERRORS as exc:
        raise _Offline(f"{type(exc).__name__}: {exc}") from None
    try:
        with zipfile.ZipFile(buf) as z:
            data = z.read("SMSSpamCollection")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise OSError(f"The download from {SMS_URL} is not the expected zip file ({exc}); "
                      "the download is corrupt, try again.") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SMS_SHA256:
        raise OSError(f"Downloaded SMSSpamCollection has SHA-256 {digest}, expected "
                      f"{SMS_SHA256}; the download is corrupt, try again.")
    with _NewFolders(target_dir) as folder:
        dest = os.path.join(folder, "SMSSpamCollection")
        with open(dest + ".part", "wb") as f:
            f.write(data)
        os.replace(dest + ".part", dest)
    return dest


def load_sms_spam(path=None, download=True):
    """The SMS Spam Collection as ``(texts, labels)``.

    Parameters
    ----------
    path : str or path-like, default=None
        The ``SMSSpamCollection`` file, or a folder holding it (directly or in
        ``sms_spam/``); None: :func:`get_data_home`'s ``sms_spam/``. Only this place is
        looked at.
    download : bool, default=True
        Download it from the UCI repository when missing (SHA-256 checked, stored in
        ``<folder>/sms_spam/``). False: never use the network.

    Returns
    -------
    texts : list of str
        The 5574 messages (a UTF-8 byte-order mark at the start of the file is dropped).
    labels : ndarray of str
        "ham" or "spam".
    """
    if path is not None:
        p = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if os.path.isfile(p):
            return _read_sms(p)
        home = _check_folder(p, "path")
    else:
        home = get_data_home()
    dirs = [os.path.join(home, "sms_spam"), home]
    file = _find_file(dirs, "SMSSpamCollection")
    reason = "download=False"
    if file is None and download:
        try:
            file = _download_sms(dirs[0])
        except _Offline as exc:
            reason = str(exc)
    if file is None:
        how = ("it was not downloaded (download=False) from " if reason == "download=False"
               else f"it could not be downloaded ({reason}) from ")
        raise FileNotFoundError(
            f"SMSSpamCollection not found in {dirs[0]} (nor in {home}) and {how}{SMS_URL}. "
            "Download the SMS Spam Collection "
            "v.1 (UCI Machine Learning Repository) and pass the file or its folder as "
            "path=..., or put it in $FASTML_DATA/sms_spam/ (default "
            "~/fastml_data/sms_spam/)."
        )
    return _read_sms(file)


def _read_sms(file):
    if file.endswith(".gz"):
        try:
            with gzip.open(file, "rb") as f:
                raw = f.read()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ValueError(f"{file}: not a complete gzip file (truncated or corrupt: "
                             f"{exc}).") from None
    else:
        with open(file, "rb") as f:
            raw = f.read()
    try:
        content = raw.decode("utf-8-sig")  # a leading byte-order mark is not text
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{file}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
            f"{exc.start}); the SMS Spam Collection is UTF-8: re-download it or convert "
            "the file, e.g. with iconv -t utf-8.") from None
    texts, labels = [], []
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
