"""fastml.svm (SVC, NuSVC, SVR, NuSVR, OneClassSVM) on small arbitrary problems: every
kernel of the registry, "precomputed" and callables; weights (zero, negative), extreme C,
nu, gamma and tol; float32 / float64 and the layouts of _common.Data.

Checked, whatever the data: fit either succeeds or raises a documented error; a fitted
model's decision values equal its own formula sum_i coef_i K(x, sv_i) - rho recomputed
here in float64 (numpy, the kernel from scikit-learn / fastml.metrics); for a binary SVC
the dual solution satisfies the box and equality constraints and libsvm's stopping rule
(optimality gap <= tol, up to the float32 rounding of the kernel values); the fit is
bitwise the same with 1 and 2 threads. The sample count above which chi2 runs by supports
is lowered on half of the inputs, so that path is fuzzed on small problems too.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call  # noqa: E402

KERNELS = ["linear", "poly", "rbf", "sigmoid", "laplacian", "chi2", "additive_chi2",
           "intersection", "hellinger", "cosine", "pq", "precomputed", "callable"]
NON_NEGATIVE = {"chi2", "additive_chi2", "intersection", "hellinger"}


def _kernel(est, A, B):
    from fastml.metrics import pairwise_kernels

    params = {"gamma": est._gamma, "degree": est.degree, "coef0": est.coef0}
    return pairwise_kernels(np.asarray(A, np.float64), np.asarray(B, np.float64),
                            metric=est.kernel, filter_params=True, **params)


def TestOneInput(data):
    from fastml.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM, _kernels

    r = Data(data)
    # reach the chi-squared kernel by supports (and its whole class blocks) on small
    # problems too
    _kernels.SUPPORT_MIN_SAMPLES = r.pick([256, 2])
    n, d = r.int(2, 40), r.int(1, 6)
    kernel = r.pick(KERNELS)
    X = r.array((n, d), non_negative=kernel in NON_NEGATIVE or r.int(0, 3) == 0,
                special=r.int(0, 9) == 0)
    Est = r.pick([SVC, SVC, NuSVC, SVR, NuSVR, OneClassSVM])
    n_class = r.int(1, 4)
    rng = np.random.default_rng(r.int(0, 2**32 - 1))
    y = rng.integers(0, n_class, n) if Est in (SVC, NuSVC) else rng.normal(size=n)
    params = dict(tol=r.pick([1e-3, 1e-1, 1e-6]), max_iter=r.pick([-1, -1, 1, 50]))
    if Est in (SVC, SVR, NuSVR):
        params["C"] = r.pick([1.0, 1e-6, 1e6, 0.3])
    if Est in (NuSVC, NuSVR, OneClassSVM):
        params["nu"] = r.pick([0.5, 0.1, 0.9, 1.0, 1e-3])
    if Est is SVR:
        params["epsilon"] = r.pick([0.1, 0.0, 10.0])
    params["gamma"] = r.pick(["scale", "auto", 0.5, 1e-3, 50.0])
    params["degree"] = r.pick([1, 2, 3])
    params["coef0"] = r.pick([0.0, 1.0, -1.0])
    fit_X = X
    if kernel == "precomputed":
        Xf = np.asarray(X, dtype=np.float64)
        with np.errstate(all="ignore"):
            fit_X = Xf @ Xf.T
        params["kernel"] = "precomputed"
    elif kernel == "callable":
        params["kernel"] = lambda A, B: np.asarray(A, np.float64) @ np.asarray(B,
                                                                             np.float64).T
    else:
        params["kernel"] = kernel
    sw = None
    if r.bool():
        sw = rng.choice([0.0, 1.0, 2.5, -1.0, 1e-3], size=n)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = call(Est(n_jobs=1, **params).fit, fit_X, y, sample_weight=sw)
        if est is None:
            return
        est2 = Est(n_jobs=2, **params).fit(fit_X, y, sample_weight=sw)
    np.testing.assert_array_equal(est.support_, est2.support_)
    np.testing.assert_array_equal(est._dual_coef_, est2._dual_coef_)
    np.testing.assert_array_equal(est._intercept_, est2._intercept_)
    if kernel in ("callable", "precomputed"):
        Xf = np.asarray(X, dtype=np.float64)
        K = Xf @ Xf.T
    else:
        K = _kernel(est, X, X)
    if not np.all(np.isfinite(K)):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dec = est._decision_function(fit_X if kernel == "precomputed" else X)
    coef = np.asarray(est._dual_coef_, dtype=np.float64)
    rho = -np.asarray(est._intercept_, dtype=np.float64)
    Ks = K[:, est.support_]
    scale = float(np.abs(coef).sum(axis=1).max(initial=0) * np.abs(K).max(initial=0)) + 1.0
    tol = 1e-5 * scale + 1e-9 * float(np.abs(rho).max(initial=0))
    if Est in (SVC, NuSVC):
        k = len(est._n_support)  # the classes left after sample weights removed some
        starts = np.concatenate([[0], np.cumsum(est._n_support)])
        ref, p = [], 0
        for i in range(k):
            for j in range(i + 1, k):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                ref.append(Ks[:, si] @ coef[j - 1, si] + Ks[:, sj] @ coef[i, sj] - rho[p])
                p += 1
        ref = np.stack(ref, axis=1)
        flip = len(est.classes_) == 2  # scikit-learn's sign convention for two classes
        got = -np.asarray(dec)[:, None] if flip else np.asarray(dec).reshape(ref.shape)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=tol)
        if Est is SVC and flip and k == 2 and params["max_iter"] == -1:
            _check_binary_kkt(est, K, y, sw, params["tol"], scale)
    else:
        ref = Ks @ coef[0] - rho[0]
        np.testing.assert_allclose(np.asarray(dec).ravel(), ref, rtol=1e-6, atol=tol)


def _check_binary_kkt(est, K, y, sw, tol, scale):
    keep = np.ones(len(y), bool) if sw is None else sw > 0
    yy = np.where(y == est.classes_[0], 1.0, -1.0)
    coef = np.zeros(len(y))
    coef[est.support_] = est._dual_coef_[0]
    alpha = coef * yy
    W = np.ones(len(y)) if sw is None else sw
    C = W * est.C * np.where(yy > 0, est.class_weight_[0], est.class_weight_[1])
    assert np.all(alpha[~keep] == 0)
    a, yk, Ck = alpha[keep], yy[keep], C[keep]
    assert np.all(a >= 0) and np.all(a <= Ck * (1 + 1e-12)), "box constraint"
    assert abs(a @ yk) <= 1e-9 * (1 + np.abs(a).sum()), "equality constraint"
    G = yk * (K[np.ix_(keep, keep)] @ coef[keep]) - 1
    v = -yk * G
    up = np.where(yk > 0, a < Ck, a > 0)
    low = np.where(yk > 0, a > 0, a < Ck)
    if up.any() and low.any():
        gap = v[up].max() - v[low].min()
        assert gap <= tol + 1e-5 * scale, f"optimality gap {gap} > tol {tol}"


if __name__ == "__main__":
    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
