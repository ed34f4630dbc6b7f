"""Kernel matrices (fastml.metrics) on arbitrary shapes, dtypes, layouts, sparse input,
out= arrays and parameters, against a float64 numpy reference."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from _common import Data, call, close  # noqa: E402

KERNELS = ["linear", "polynomial", "rbf", "laplacian", "sigmoid", "cosine", "chi2",
           "additive_chi2", "intersection", "hellinger"]
NON_NEGATIVE = {"chi2", "additive_chi2", "intersection", "hellinger"}
SPARSE_OK = {"linear", "polynomial", "rbf", "sigmoid", "cosine", "chi2", "additive_chi2",
             "intersection", "hellinger"}


def _g(prm, d):
    g = prm.get("gamma")
    return 1.0 / max(d, 1) if g is None else g


def reference(name, X, Y, prm):
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    d = X.shape[1]
    with np.errstate(all="ignore"):
        if name == "linear":
            return X @ Y.T
        if name == "polynomial":
            g = _g(prm, d)
            return (g * (X @ Y.T) + prm.get("coef0", 1)) ** prm.get("degree", 3)
        if name == "sigmoid":
            g = _g(prm, d)
            return np.tanh(g * (X @ Y.T) + prm.get("coef0", 1))
        if name == "rbf":
            g = _g(prm, d)
            D = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
            return np.exp(-g * D)
        if name == "laplacian":
            g = _g(prm, d)
            return np.exp(-g * np.abs(X[:, None, :] - Y[None, :, :]).sum(-1))
        if name == "cosine":
            X = X / np.maximum(np.abs(X).max(axis=1, initial=0), 1e-320)[:, None]
            Y = Y / np.maximum(np.abs(Y).max(axis=1, initial=0), 1e-320)[:, None]
            nx = np.linalg.norm(X, axis=1)
            ny = np.linalg.norm(Y, axis=1)
            nx[nx == 0] = 1
            ny[ny == 0] = 1
            return (X / nx[:, None]) @ (Y / ny[:, None]).T
        if name == "intersection":
            return np.minimum(X[:, None, :], Y[None, :, :]).sum(-1)
        if name == "hellinger":
            return np.sqrt(X) @ np.sqrt(Y).T
        a, b = X[:, None, :], Y[None, :, :]
        s = a + b
        q = np.where(s > 0, (a - b) ** 2 / np.where(s > 0, s, 1), 0).sum(-1)
        if name == "additive_chi2":
            return -q
        return np.exp(-prm.get("gamma", 1.0) * q)


def _exponent(X, Y, power, gamma):
    """gamma * sum_k |x_k - y_k|**power for every pair, in float64 without overflow (inf
    only where the product truly exceeds float64) or cancellation."""
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    with np.errstate(all="ignore"):
        diff = np.abs(X[:, None, :] / 2 - Y[None, :, :] / 2)  # halves: no overflow
        top = diff.max(axis=-1, initial=0)
        unit = np.where(top > 0, top, 1)
        t = ((diff / unit[..., None]) ** power).sum(-1)  # in [1, d] where top > 0
        # gamma * (2 top)**power * t, by logarithms where it could overflow
        E = np.where(top > 0, np.exp(np.log(gamma) + power * np.log(2 * unit) + np.log(t)),
                     0.0)
    if gamma == 0:
        E = np.zeros_like(E)
    return E


def TestOneInput(data):
    import fastml.metrics as fm

    r = Data(data)
    name = r.pick(KERNELS)
    n, d = r.shape()
    m = r.int(0, 12)
    dtype = r.pick([np.float64, np.float32])
    X = r.array((n, d), dtype, non_negative=name in NON_NEGATIVE and r.int(0, 9) > 0,
                special=r.int(0, 15) == 0)
    ymode = r.int(0, 3)
    if ymode == 0:
        Y = None
    elif ymode == 1 and n:
        # rows identical to rows of X (a copy, not the same object): no symmetric shortcut
        Y = np.ascontiguousarray(X[np.arange(m) % n].astype(dtype, copy=True))
    else:
        Y = r.array((m, d), dtype, non_negative=name in NON_NEGATIVE and r.int(0, 9) > 0)
    prm = {}
    if name in ("polynomial", "rbf", "laplacian", "sigmoid", "chi2") and r.bool():
        prm["gamma"] = r.pick([None, 0.0, 1e-3, 0.5, 2.0, 1e6, r.float(), -1.0])
    if name == "polynomial" and r.bool():
        prm["degree"] = r.pick([0, 1, 2, 3, 4, 5, 7, 2.0, 2.5, -1, True, "3"])
    if name in ("polynomial", "sigmoid") and r.bool():
        prm["coef0"] = r.pick([0, 1, -1.5, r.float()])
    sparse = name in SPARSE_OK and r.int(0, 3) == 0
    if sparse:
        X = sp.csr_matrix(X)
        Y = None if Y is None else r.pick([sp.csr_matrix, sp.csc_matrix, np.asarray])(Y)
    out = None
    if r.int(0, 3) == 0:
        rows = n if Y is None else m
        out = np.full((n, rows if r.int(0, 7) else rows + 1), np.nan,
                      dtype=r.pick([dtype, np.float64, np.float32]))
    fn = fm.kernel_metrics()[name] if name != "cosine" else fm.cosine_similarity
    K = call(fn, X, Y, **prm, out=out)
    if K is None:
        return
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
    Yd = Xd if Y is None else (Y.toarray() if sp.issparse(Y) else np.asarray(Y))
    if out is not None:
        assert K is out, "out= not returned"
    assert K.shape == (Xd.shape[0], Yd.shape[0])
    if name in ("rbf", "laplacian") and K.size:
        # exact wherever the data are: exp(-gamma * dist) with the distances from float64
        # differences of the rows, kept in range by a per-pair power-of-two scaling
        g = _g(prm, d)
        E = _exponent(Xd, Yd, 2 if name == "rbf" else 1, g)
        eps = float(np.finfo(K.dtype).eps)
        if name == "rbf":
            # the Gram form's relative tolerance (fastml.metrics.pairwise._EXP_RTOL) over
            # the worst case of a sum of d terms; then rounding of gamma, of the argument
            # of exp and of the result
            from fastml.metrics.pairwise import _EXP_RTOL

            rtol = _EXP_RTOL[K.dtype] * (d + 2) / (np.sqrt(d) + 2)
        else:
            rtol = 2 * d * eps * (1 + E)  # a sum of d terms of one sign, times gamma
        want = np.exp(-E)
        with np.errstate(all="ignore"):
            rel = np.where(want > 0, (rtol + 4 * eps * (1 + E)) * want, 0.0)
        tol = rel + 2 * float(np.finfo(K.dtype).tiny)
        bad = ~(np.abs(K.astype(np.float64) - want) <= tol)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise AssertionError(f"{name}: K[{i}, {j}] = {K[i, j]!r}, exact {want[i, j]!r}")
        return
    if name in ("chi2", "additive_chi2") and K.size and np.all(Xd >= 0) and np.all(Yd >= 0):
        # exact terms from per-pair halved float64 data; each computed term carries ~4
        # roundings and the sum of d non-negative terms d more (relative), and a term whose
        # squared difference underflows (|x - y| < sqrt(tiny)) is lost, at most
        # sqrt(tiny) each
        fi = np.finfo(K.dtype)
        a, b = Xd.astype(np.float64)[:, None, :] / 2, Yd.astype(np.float64)[None, :, :] / 2
        with np.errstate(all="ignore"):
            sm = a + b
            q = 2 * np.where(sm > 0, (a - b) * ((a - b) / np.where(sm > 0, sm, 1)), 0).sum(-1)
        err = (d + 8) * float(fi.eps) * q + 2 * d * np.sqrt(float(fi.tiny))
        sparse_in = sp.issparse(X) or sp.issparse(Y)
        if sparse_in:
            # sum(x) + sum(y) - sum 4 x y / (x + y), in float64: cancels to an absolute
            # error of a sum of d terms, of the rows' sums
            rs = Xd.astype(np.float64).sum(1)[:, None] + Yd.astype(np.float64).sum(1)[None, :]
            err = err + (d + 2) * float(np.finfo(np.float64).eps) * rs
        if name == "additive_chi2":
            got, want, tol = -K.astype(np.float64), q, err
            with np.errstate(over="ignore"):
                big_q = q.astype(K.dtype) == np.inf  # beyond the dtype: -inf is right
            ok = np.where(big_q, got >= float(fi.max) * (1 - 16 * float(fi.eps)),
                          np.abs(got - want) <= tol)
        else:
            g = prm.get("gamma", 1.0)
            with np.errstate(all="ignore"):
                want = np.exp(-g * q)
                if sparse_in:
                    # entries the cancellation would spoil beyond the tolerance are
                    # recomputed (fastml.metrics.pairwise._EXP_RTOL, worst case over d)
                    from fastml.metrics.pairwise import _EXP_RTOL

                    gerr = np.minimum(g * err, _EXP_RTOL[K.dtype] * (d + 2) / (np.sqrt(d) + 2)
                                      + g * ((d + 8) * float(fi.eps) * q))
                else:
                    gerr = g * err
                tol = np.where(want > 0, want * (gerr + 8 * float(fi.eps) * (1 + g * q)), 0)
            ok = np.abs(K.astype(np.float64) - want) <= tol + 2 * float(fi.tiny)
        if not ok.all():
            i, j = np.argwhere(~ok)[0]
            raise AssertionError(f"{name}: K[{i}, {j}] = {K[i, j]!r}, exact {want[i, j]!r}")
        return
    ref = reference(name, Xd, Yd, prm)
    big = max(1.0, float(np.max(np.abs(Xd), initial=0)), float(np.max(np.abs(Yd), initial=0)))
    if not np.all(np.isfinite(ref)) or big > 1e3 or name == "polynomial":
        # extreme values: only sanity (bounded kernels stay in range)
        if name in ("rbf", "laplacian", "chi2") and K.size:
            assert np.all((K >= 0) & (K <= 1)), f"{name} outside [0, 1]"
        return
    eps = float(np.finfo(K.dtype).eps)
    scale = d * big * big * (1 + abs(_g(prm, d)))
    close(K, ref, rtol=64 * eps * max(1, d), atol=64 * eps * scale, what=name)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.metrics  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
