"""fastml.datasets' file readers on arbitrary bytes: an IDX file (any header, any size,
gzipped or not, whole or cut short) and an SMS Spam Collection file (any encoding, a
byte-order mark or not, gzipped or not). Either the data or a ValueError that names the
file and says what is wrong; never another exception (no bare EOFError / BadGzipFile)
or a huge allocation from a lying header."""
import gzip
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data  # noqa: E402

_TMP = tempfile.mkdtemp(prefix="fastml_fuzz_loaders_")


def TestOneInput(data):
    from fastml.datasets import load_sms_spam
    from fastml.datasets._loaders import read_idx

    r = Data(data)
    what = r.int(0, 2)
    if what < 2:
        if r.bool():  # a plausible header, so that the body is reached
            code = r.pick([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07])
            ndim = r.int(0, 4)
            dims = [r.pick([0, 1, 2, 3, 28, 2**31 - 1, 2**32 - 1, r.int(0, 5)])
                    for _ in range(ndim)]
            body = bytes([0, 0, code, ndim]) + b"".join(x.to_bytes(4, "big") for x in dims)
            body += r.take(r.int(0, 64))
        else:
            body = r.take(r.int(0, 80))
        gz = what == 1
        path = os.path.join(_TMP, "f.idx" + (".gz" if gz else ""))
        if gz:
            body = gzip.compress(body)
            if r.bool():  # a truncated or damaged stream
                body = body[:r.int(0, len(body))]
        with open(path, "wb") as f:
            f.write(body)
        try:
            arr = read_idx(path)
        except ValueError as exc:
            assert path in str(exc) or "IDX" in str(exc), exc
            return
        assert isinstance(arr, np.ndarray)
        return
    gz = r.bool()
    path = os.path.join(_TMP, "SMSSpamCollection" + (".gz" if gz else ""))
    body = r.take(r.int(0, 200))
    if r.bool():
        body = b"ham\t" + body
    if r.bool():
        body = b"\xef\xbb\xbf" + body  # a UTF-8 byte-order mark
    if gz:
        body = gzip.compress(body)
        if r.bool():
            body = body[:r.int(0, len(body))]
    with open(path, "wb") as f:
        f.write(body)
    try:
        texts, labels = load_sms_spam(path, download=False)
    except ValueError as exc:
        assert path in str(exc), exc
        return
    assert len(texts) == len(labels) > 0
    assert set(labels.tolist()) <= {"ham", "spam"}


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.datasets  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
