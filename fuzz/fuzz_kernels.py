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


def TestOneInput(data):
    import fastml.metrics as fm

    r = Data(data)
    name = r.pick(KERNELS)
    n, d = r.shape()
    m = r.int(0, 12)
    dtype = r.pick([np.float64, np.float32])
    X = r.array((n, d), dtype, non_negative=name in NON_NEGATIVE and r.int(0, 9) > 0,
                special=r.int(0, 15) == 0)
    Y = None if r.bool() else r.array((m, d), dtype,
                                      non_negative=name in NON_NEGATIVE and r.int(0, 9) > 0)
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
