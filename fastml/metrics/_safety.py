"""Numerical safety of the kernels: where float32 (or float64) arithmetic would cancel,
overflow or lose the answer, and what is done instead.

* float32 calls whose intermediate values leave float32's range are computed in float64
  and rounded once (:func:`float32_affine_overflows`, :func:`float32_gamma_overflows`,
  :func:`via_float64`);
* data are centred and scaled by powers of two before the Gram form of a squared
  distance (:func:`rbf_conditioning`, :func:`chi2_scaling`; the scaling itself is in
  :mod:`fastml.metrics._scaling`);
* the error of exp(-gamma q) for a cancelling q is bounded (:func:`exp_error`,
  :data:`EXP_RTOL`) and the entries it spoils are recomputed from the rows
  (:func:`exp_post_checked`, :func:`pair_sums`).

Private functions on validated input; the kernels of :mod:`fastml.metrics._kernels` call
them.
"""
import math

import numpy as np
import scipy.sparse as sp

from fastml.metrics import _scaling
from fastml.metrics._common import row_stats as _row_stats


def float32_affine_overflows(X, Y, gamma, coef0, dtype, n_threads):
    """True when gamma <x, y> + coef0 could leave float32's range (where inf - inf would
    give NaN for an answer that is finite, or exactly +-1 for tanh)."""
    if dtype != np.float32:
        return False
    big = float(np.finfo(np.float32).max) / 16
    if abs(coef0) > big:
        return True
    if sp.issparse(X) or (Y is not None and sp.issparse(Y)):
        m = _scaling.max_abs(X, Y)
    else:  # the same maximum from the one pass over the rows
        m = max(abs_range(X, n_threads), 0.0 if Y is None else abs_range(Y, n_threads))
    return gamma * m * m * X.shape[1] > big


def abs_range(A, n_threads):
    """max |A| of dense A, from the row pass (NaN for NaN data)."""
    _, lo, hi = _row_stats(A, n_threads)
    return max(-lo, hi)


def via_float64(fn, X, Y, out, n_jobs, **params):
    """fn on float64 copies, rounded once into the float32 out."""
    K = fn(X.astype(np.float64), None if Y is None else Y.astype(np.float64),
           n_jobs=n_jobs, **params)
    with np.errstate(over="ignore"):
        out[...] = K
    return out


def float32_gamma_overflows(gamma, dtype):
    """A gamma beyond float32's range would make exp(-gamma * 0) = exp(NaN) on the
    diagonal of a float32 kernel: compute such calls in float64 instead."""
    return dtype == np.float32 and gamma > float(np.finfo(np.float32).max) / 16


def chi2_scaling(X, Y, dtype):
    """Data whose sums of terms (x - y)^2 / (x + y) could overflow (or whose every term
    would be subnormal), scaled by a power of two 2**k (exact); the chi-squared distance
    is homogeneous of degree one, so it is 2**k times the distance of the data."""
    k = _scaling.safe_shift(_scaling.max_abs(X, Y), dtype, 1, 4 * X.shape[1])
    if k:
        X, Y = _scaling.scaled(X, k), _scaling.scaled(Y, k)
    return X, Y, k


def rbf_conditioning(X, Y, gamma, dtype):
    """Inputs on which ||x||^2 + ||y||^2 - 2 <x, y> neither cancels nor overflows, and the
    gamma that keeps exp(-gamma ||x - y||^2) unchanged.

    * Dense data are centred on their common mean (the kernel is translation invariant):
      data far from the origin (float32 at an offset of 1000) otherwise lose every digit
      of a small distance to cancellation.
    * Data whose squares would overflow or underflow are scaled by a power of two s
      (exact), and gamma by 1 / s^2 (fastml.metrics._scaling)."""
    if not sp.issparse(X) and (Y is None or not sp.issparse(Y)):
        n = X.shape[0] + (0 if Y is None else Y.shape[0])
        total = X.sum(axis=0, dtype=np.float64)
        if Y is not None:
            total += Y.sum(axis=0, dtype=np.float64)
        mean = (total / n).astype(dtype)
        if np.any(mean) and np.all(np.isfinite(mean)):
            X = X - mean
            Y = None if Y is None else Y - mean
    k = _scaling.safe_shift(_scaling.max_abs(X, Y), dtype, 2, X.shape[1])
    if k:
        X, Y = _scaling.scaled(X, k), _scaling.scaled(Y, k)
        try:
            gamma = math.ldexp(float(gamma), -2 * k)  # 0 stays 0
        except OverflowError:
            gamma = math.inf
        gamma = min(gamma, float(np.finfo(np.float64).max))
    return X, Y, gamma


# An exponential kernel exp(-gamma q(x, y)) whose q comes from a cancelling formula (the
# Gram form of the squared distance, ||x||^2 + ||y||^2 - 2 <x, y>; the sparse chi-squared
# sum(x) + sum(y) - sum 4 x y / (x + y)) carries an absolute error in the exponent of up to
# gamma * c * u * s (u the unit roundoff, s = ||x||^2 + ||y||^2 or sum(x) + sum(y); c =
# n_features + 2 for the worst case of a sum, about sqrt(n_features) + 2 in practice),
# which is the relative error of the entry. Where the typical error may exceed this
# tolerance, the entries that are not negligible even under the worst-case error are
# recomputed from the rows themselves.
EXP_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def exp_error(gamma, a, b, n_features, dtype):
    """The typical bound on the exponent's error over all entries, s = a[i] + b[j]."""
    if not a.size or not b.size:
        return 0.0
    return exp_error_max(gamma, float(np.max(a, initial=0)), float(np.max(b, initial=0)),
                          n_features, dtype)


def exp_error_max(gamma, max_a, max_b, n_features, dtype):
    """exp_error from the largest a[i] and b[j]."""
    u = float(np.finfo(dtype).eps) / 2
    return float(gamma) * (math.sqrt(n_features) + 2) * u * (max_a + max_b)


def exp_post_checked(out, q_rows, a, b, gamma, n_features, exact_pairs, dtype, out_dtype,
                      budget=math.inf):
    """out[rows] = exp(-gamma q) for every block of rows, q_rows(rows) giving the cancelling
    q of those rows in float64 (computed in ``dtype``), s = a[i] + b[j] its scale. Each entry
    whose exponent may be off by more than the tolerance of ``out_dtype`` (and whose value
    is not below its smallest normal even under the worst-case error) gets the exponent
    exact_pairs(ii, jj) instead, from the rows themselves: e.g. exactly 1 for an identical
    pair of rows far from the origin.

    Returns False (out then holds garbage) as soon as more than ``budget`` entries need
    this (the caller then has a cheaper way to compute the whole matrix)."""
    u = float(np.finfo(dtype).eps) / 2
    tol = EXP_RTOL[np.dtype(out_dtype)]
    c_typ, c_max = math.sqrt(n_features) + 2, n_features + 2
    cut = -math.log(float(np.finfo(out_dtype).tiny))  # exp(-cut) is the smallest normal
    b64 = b.astype(np.float64)
    step = max(1, (1 << 16) // max(out.shape[1], 1))
    for i0 in range(0, out.shape[0], step):
        rows = slice(i0, min(i0 + step, out.shape[0]))
        s = a[rows].astype(np.float64)[:, None] + b64[None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            e = gamma * np.maximum(q_rows(rows), 0)
            gs = gamma * u * s
            need = (c_typ * gs > tol) & ~(e - c_max * gs >= cut)
        ii, jj = np.nonzero(need)
        budget -= ii.size
        if budget < 0:
            return False
        if ii.size:
            e[ii, jj] = exact_pairs(ii + i0, jj)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            out[rows] = np.exp(-e)
    return True


def rbf_post_checked(out, xx, yy, gamma, n_features, X0, Y0, gamma0):
    """out (the full Gram matrix of the conditioned rows) -> the rbf kernel, entries the
    Gram form cannot give recomputed in float64 from the differences of the original rows.
    float32: False when so many entries need it that the float64 Gram matrix is cheaper
    (one pair by differences costs ~ a few hundred GEMM entries)."""
    Yr = X0 if Y0 is None else Y0

    def exact(ii, jj):
        with np.errstate(over="ignore"):  # exp(-inf) = 0 is the value
            return gamma0 * sq_dist_pairs(X0, Yr, ii, jj)

    return exp_post_checked(
        out, lambda r: xx[r].astype(np.float64)[:, None] + yy.astype(np.float64)[None, :]
        - 2 * out[r].astype(np.float64), xx, yy, gamma, n_features, exact, out.dtype,
        out.dtype, math.inf if out.dtype == np.float64 else max(4096, out.size // 256))


def pair_sums(A, B, ii, jj, terms):
    """sum_k terms(a, b)[k] in float64 for the row pairs (A[i], B[j]), (i, j) in (ii, jj),
    a batch of pairs at a time (dense or sparse rows)."""
    res = np.empty(ii.size)
    step = max(1, (1 << 18) // max(A.shape[1], 1))
    for p0 in range(0, ii.size, step):
        Ar, Br = A[ii[p0:p0 + step]], B[jj[p0:p0 + step]]
        Ar = (Ar.toarray() if sp.issparse(Ar) else Ar).astype(np.float64)
        Br = (Br.toarray() if sp.issparse(Br) else Br).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            res[p0:p0 + step] = terms(Ar, Br).sum(1)
    return res


def sq_dist_pairs(A, B, ii, jj):
    """||A[i] - B[j]||^2 by differences (exact terms; inf when it overflows float64,
    which makes the kernel 0 as it should)."""
    return pair_sums(A, B, ii, jj, lambda a, b: (a - b) ** 2)


def chi2_pairs(A, B, ii, jj):
    """sum_k (a_k - b_k)^2 / (a_k + b_k), term by term."""
    def terms(a, b):
        s, df = a + b, a - b
        return np.where(s > 0, df * (df / np.where(s > 0, s, 1)), 0)

    return pair_sums(A, B, ii, jj, terms)
