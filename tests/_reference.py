"""Independent references shared by the tests: textbook algorithms in plain Python or
numpy, written for clarity, never for speed, and sharing no code with fastml."""
import numpy as np


def levenshtein(a, b):
    """Edit distance by the Wagner-Fischer dynamic programme (unit costs), one row at a
    time in plain Python."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def levenshtein_numpy(a, b):
    """The same programme with numpy rows, for long strings: the in-row dependency
    cur[j] = min(cur[j-1] + 1, t[j]) is a running minimum of t[l] - l."""
    a = np.array([ord(c) for c in a], dtype=np.int64)
    b = np.array([ord(c) for c in b], dtype=np.int64)
    j = np.arange(len(b) + 1)
    prev = j.copy()
    for i in range(1, len(a) + 1):
        t = np.empty(len(b) + 1, dtype=np.int64)
        t[0] = i
        t[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (b != a[i - 1]))
        prev = np.minimum.accumulate(t - j) + j
    return int(prev[-1])


def levenshtein_matrix(A, B, dtype=np.float64):
    """All edit distances between the strings of A and those of B."""
    return np.array([[levenshtein(a, b) for b in B] for a in A], dtype=dtype)


def dtw(a, b, window=None):
    """Dynamic time warping with Euclidean local costs between the rows of two series
    (1-D series are series of scalars), in a Sakoe-Chiba band of half-width ``window``
    (widened to |len(a) - len(b)|; None: no band)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    n, m = len(a), len(b)
    w = max(n, m) if window is None else max(window, abs(n - m))
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(max(1, i - w), min(m, i + w) + 1):
            cost = np.sqrt(((a[i - 1] - b[j - 1]) ** 2).sum())
            D[i, j] = cost + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return D[n, m]


def numeric_gradient(f, a, eps=1e-6):
    """Central finite differences of the scalar ``f()`` with respect to every entry of
    the array ``a``, which is perturbed in place (and restored)."""
    grad = np.zeros(a.shape, dtype=np.float64)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        grad[i] = (fp - fm) / (2 * eps)
    return grad


# lengths at the SIMD and 64-bit word boundaries (lanes of 8, 16, 32 and 64 items)
BOUNDARY_LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129]
