"""Shared pieces of the fuzz harnesses.

Every harness defines ``TestOneInput(data: bytes)``: it decodes the bytes into arguments
of a public fastml entry point that reaches compiled code (shapes, dtypes, layouts,
Unicode, parameter values), calls it, and then checks the result against a naive
reference written here in plain Python / numpy. Allowed outcomes are a correct result or
one of the documented exceptions (``ValueError``, ``TypeError``, ``MemoryError``);
anything else (a crash, a hang, a wrong value, another exception) is a finding.

The harnesses run under atheris (libFuzzer for Python: ``python fuzz/run.py``) and, with
no fuzzing engine, on seeded random bytes (``tests/test_fuzz_harnesses.py``), so they do
not need atheris to be imported.
"""
import math
import struct

import numpy as np

ALLOWED = (ValueError, TypeError, MemoryError)


class Data:
    """Reads typed values off a byte string (past the end: zeros), so that every byte
    string is a valid input and nearby byte strings are nearby inputs."""

    def __init__(self, data):
        self.b = bytes(data)
        self.i = 0

    def left(self):
        return len(self.b) - self.i

    def take(self, n):
        out = self.b[self.i:self.i + n]
        self.i += n
        return out + bytes(n - len(out))

    def int(self, lo, hi):
        """An int in [lo, hi]."""
        span = hi - lo + 1
        nbytes = max(1, (span.bit_length() + 7) // 8)
        return lo + int.from_bytes(self.take(nbytes), "little") % span

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bool(self):
        return bool(self.int(0, 1))

    def float(self, special=True):
        """A float64: mostly small values, sometimes any bit pattern (huge, tiny,
        subnormal, and with ``special`` NaN / inf)."""
        mode = self.int(0, 7)
        if mode == 0:
            v = struct.unpack("<d", self.take(8))[0]
            if not special and not math.isfinite(v):
                v = 0.0
            return v
        if mode == 1:
            return float(self.int(-3, 3))
        raw = self.int(-32768, 32767)
        scale = self.pick([1.0, 1.0, 1e-3, 1e3, 1e-150, 1e150, 1e300])
        return raw / 1024.0 * scale

    def str(self, max_len=40):
        """A str of code points from a few alphabets (ASCII, accents, CJK, emoji, lone
        surrogates, the maximum code point)."""
        n = self.int(0, max_len)
        alphabet = self.pick(["ab", "abc ", "acgt", "héllo wörld", "日本語テキスト",
                              "\U0001F600\U0001F601a", None])
        if alphabet is None:
            return "".join(chr(self.pick([0, 0x41, 0xE9, 0x3042, 0xD800, 0xDFFF, 0x10FFFF,
                                          self.int(0, 0x10FFFF)]))
                           for _ in range(n))
        return "".join(alphabet[self.int(0, len(alphabet) - 1)] for _ in range(n))

    def shape(self, max_rows=12, max_cols=70):
        return self.int(0, max_rows), self.int(0, max_cols)

    def array(self, shape, dtype=None, non_negative=False, special=False):
        """A float array of ``shape``; value patterns: small integers, uniform, 0/1,
        huge, tiny, one value repeated, or arbitrary floats."""
        dtype = dtype or self.pick([np.float64, np.float32])
        n = int(np.prod(shape))
        mode = self.int(0, 6)
        seed = self.int(0, 2**32 - 1)
        rng = np.random.default_rng(seed)
        if mode == 0:
            a = rng.integers(-3, 4, n).astype(np.float64)
        elif mode == 1:
            a = rng.random(n) * 2 - 1
        elif mode == 2:
            a = rng.integers(0, 2, n).astype(np.float64)
        elif mode == 3:
            a = (rng.random(n) * 2 - 1) * self.pick([1e15, 1e30, 1e150, 1e300])
        elif mode == 4:
            a = (rng.random(n) * 2 - 1) * self.pick([1e-15, 1e-150, 1e-310])
        elif mode == 5:
            a = np.full(n, self.float(special=special)) + rng.random(n) * self.pick(
                [0.0, 1e-3, 1.0])
        else:
            a = np.array([self.float(special=special) for _ in range(n)], dtype=np.float64)
        if non_negative:
            a = np.abs(a)
        with np.errstate(over="ignore", invalid="ignore"):
            a = a.astype(dtype)
        a = a.reshape(shape)
        layout = self.int(0, 4)
        if layout == 1 and a.ndim == 2:
            a = np.asfortranarray(a)
        elif layout == 2 and a.ndim == 2 and a.shape[1] > 0:
            wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
            wide[:, ::2] = a
            a = wide[:, ::2]  # strided view
        elif layout == 3:
            a = a.copy()
            a.setflags(write=False)
        elif layout == 4 and a.size:
            a = misaligned(a)
        return a


def misaligned(a):
    """A copy of a whose items sit at an odd byte offset (not aligned for their type)."""
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    out[...] = a
    return out


def finite_ref(x):
    return np.asarray(x, dtype=np.float64)


def close(got, ref, rtol, atol, what):
    """assert_allclose with NaN/inf required to match, and the message naming ``what``."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise AssertionError(f"{what}: shape {got.shape} != reference {ref.shape}")
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=what)


def levenshtein_ref(a, b):
    """The textbook O(len(a) len(b)) dynamic programme."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def dtw_ref(a, b, window=None):
    """Naive DTW (Euclidean frame cost, Sakoe-Chiba band max(window, |n - m|))."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    n, m = len(a), len(b)
    w = max(n, m) if window is None else max(window, abs(n - m))
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(1, n + 1):
            for j in range(max(1, i - w), min(m, i + w) + 1):
                cost = math.hypot(*(a[i - 1] - b[j - 1]).tolist())  # no overflow
                D[i, j] = cost + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return D[n, m]


LAST = []  # the calls of the current input, to print with a failure


def call(fn, *args, **kwargs):
    """fn(...) or None when it raised one of the documented exceptions."""
    LAST.append((getattr(fn, "__qualname__", fn), args, kwargs))
    try:
        return fn(*args, **kwargs)
    except ALLOWED:
        return None
