"""Exact power-of-two rescaling against overflow and underflow.

Distances of the norm family are homogeneous: ``d(x / s, y / s) = d(x, y) / s`` (the
squared Euclidean distance scales by s^2, cosine not at all, DTW like a norm), so data
whose magnitude would overflow (or underflow) the intermediate sums of a metric can be
scaled by a power of two -- exact in binary floating point -- computed on, and the result
scaled back. Rankings then stay right and a distance that truly exceeds the largest float
comes back as inf, not as NaN, a wrong neighbour or an index of -1.
"""
import math

import numpy as np
import scipy.sparse as sp


def max_abs(*arrays):
    m = 0.0
    for i, A in enumerate(arrays):
        if A is None or any(A is B for B in arrays[:i]):  # a self-query's data: once
            continue
        data = A.data if sp.issparse(A) else A
        if data.size:  # the extremes, not max(abs(.)): no temporary of the data's size
            m = max(m, abs(float(np.max(data))), abs(float(np.min(data))))
    return m


def safe_shift(maxabs, dtype, power, count):
    """The k such that values scaled by 2**k keep ``count * (2 * max|x|)**power`` well
    inside ``dtype``'s range (neither overflowing nor losing every digit to
    underflow); 0 when no scaling is needed (so ordinary data is never touched)."""
    if not maxabs or not math.isfinite(maxabs) or power <= 0:
        return 0
    fi = np.finfo(dtype)
    log_hi = math.log2(float(fi.max)) - 4           # headroom for sums and rounding
    log_lo = math.log2(float(fi.tiny)) + fi.nmant + 4  # keep full precision above this
    e = math.log2(maxabs)
    top = power * (e + 1) + math.log2(max(count, 1))
    if top < log_hi and power * e > log_lo:
        return 0
    return -int(math.floor(e))  # max |x| lands in [1, 2)


def scaled(A, k):
    """A * 2**k (a new array; sparse stays sparse), exact unless it underflows."""
    if A is None or k == 0:
        return A
    if sp.issparse(A):
        A = A.copy()
        A.data = np.ldexp(A.data, k).astype(A.data.dtype, copy=False)
        return A
    return np.ldexp(A, k).astype(A.dtype, copy=False)


def unscale(D, k, power):
    """D * 2**(-k * power) in place (overflow to inf is the true value's overflow)."""
    if k and power:
        with np.errstate(over="ignore"):
            np.ldexp(D, -k * power, out=D, casting="unsafe")
    return D
