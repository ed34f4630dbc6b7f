"""SVC, NuSVC, SVR, NuSVR and OneClassSVM on fastml's solver and kernels.

Each class subclasses scikit-learn's namesake, so parameters, fitted attributes, errors,
warnings, ``predict_proba``'s availability and deprecations are scikit-learn's; fitting,
decision values and probabilities run on fastml's own solver (fastml/svm/_solver.pyx) with
fastml's kernels, plus ``n_jobs``. Sparse input with one of scikit-learn's kernels
("linear", "poly", "rbf", "sigmoid") runs scikit-learn's own libsvm.
"""
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn import svm as _sk
from sklearn.base import _fit_context
from sklearn.svm._base import LIBSVM_IMPL, BaseLibSVM
from sklearn.utils import _safe_indexing, check_random_state, column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._sparse import _align_api_if_sparse
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from fastml.metrics._registry import KERNELS
from fastml.metrics.pairwise import pairwise_kernels
from fastml.svm import _kernels
from fastml.svm import _solver
from fastml.text import StringKernel
from fastml.text._api import check_texts
from fastml.utils import blas_threads, effective_n_threads

__all__ = ["SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM"]

_KERNEL_CONSTRAINT = [StrOptions(set(KERNELS) | {"precomputed"}), callable, StringKernel]
_PREDICT_ROWS = 2048  # test rows per block at predict
_SHARE = True  # one-vs-one pairs share the kernel blocks of a class with itself


def _working_set_size(l):
    """Variables per working set: the whole problem when small (then the solver takes
    libsvm's own steps), else 128 or 256. Small working sets compute fewer kernel rows
    that end up unused (rows computed ~ 1.3 x the support vectors at 128, 1.6 x at 256 on
    MNIST pairs); larger ones take fewer outer steps."""
    if l <= 1024:
        return l
    return 128 if l <= 16384 else 256


# ----------------------------------------------------------------------------------------
# libsvm's random stream (scikit-learn's newrand: MT19937 + Lemire's bounded integers), so
# that probability=True shuffles the data as scikit-learn does for the same random_state
# ----------------------------------------------------------------------------------------
class _LibsvmRandom:
    def __init__(self, seed):
        self.seed = int(seed)
        self.reseed()

    def reseed(self):
        self._rs = np.random.RandomState(self.seed & 0xFFFFFFFF)
        self._buf = np.empty(0, dtype=np.uint64)
        self._pos = 0

    def _next(self):
        if self._pos >= self._buf.size:
            self._buf = self._rs.randint(0, 2 ** 32, size=4096, dtype=np.uint64)
            self._pos = 0
        v = int(self._buf[self._pos])
        self._pos += 1
        return v

    def bounded(self, rng):
        x = self._next()
        m = x * rng
        low = m & 0xFFFFFFFF
        if low < rng:
            t = (-rng) & 0xFFFFFFFF
            if t >= rng:
                t -= rng
                if t >= rng:
                    t %= rng
            while low < t:
                x = self._next()
                m = x * rng
                low = m & 0xFFFFFFFF
        return m >> 32

    def shuffle(self, n):
        perm = list(range(n))
        for i in range(n):
            j = i + self.bounded(n - i)
            perm[i], perm[j] = perm[j], perm[i]
        return np.array(perm, dtype=np.int64)


# ----------------------------------------------------------------------------------------
# Platt scaling (Platt 2000, with the improvements of Lin, Lin & Weng 2007) and the
# pairwise coupling of Wu, Lin & Weng (2004), as libsvm defines them
# ----------------------------------------------------------------------------------------
def _sigmoid_train(dec, labels):
    dec = np.asarray(dec, dtype=np.float64)
    pos = labels > 0
    prior1 = float(np.count_nonzero(pos))
    prior0 = float(labels.size - prior1)
    min_step, sigma, eps = 1e-10, 1e-12, 1e-5
    t = np.where(pos, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))

    def fval(A, B):
        f = dec * A + B
        return float(np.sum(np.where(f >= 0, t * f + np.log1p(np.exp(-np.abs(f))),
                                     (t - 1) * f + np.log1p(np.exp(-np.abs(f))))))

    A, B = 0.0, float(np.log((prior0 + 1.0) / (prior1 + 1.0)))
    f0 = fval(A, B)
    for _ in range(100):
        f = dec * A + B
        e = np.exp(-np.abs(f))
        p = np.where(f >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
        q = np.where(f >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        d2 = p * q
        h11 = sigma + float(np.sum(dec * dec * d2))
        h22 = sigma + float(np.sum(d2))
        h21 = float(np.sum(dec * d2))
        d1 = t - p
        g1 = float(np.sum(dec * d1))
        g2 = float(np.sum(d1))
        if abs(g1) < eps and abs(g2) < eps:
            break
        det = h11 * h22 - h21 * h21
        dA = -(h22 * g1 - h21 * g2) / det
        dB = -(-h21 * g1 + h11 * g2) / det
        gd = g1 * dA + g2 * dB
        step = 1.0
        while step >= min_step:
            nA, nB = A + step * dA, B + step * dB
            nf = fval(nA, nB)
            if nf < f0 + 0.0001 * step * gd:
                A, B, f0 = nA, nB, nf
                break
            step /= 2.0
        if step < min_step:
            break
    return A, B


def _sigmoid_predict(dec, A, B):
    f = dec * A + B
    e = np.exp(-np.abs(f))
    return np.where(f >= 0, e / (1.0 + e), 1.0 / (1.0 + e))


def _multiclass_probability(r):
    """r: (n, k, k) pairwise probabilities -> (n, k) class probabilities (each sample
    iterated until its own stopping rule holds, as libsvm does one sample at a time)."""
    n, k, _ = r.shape
    Q = -r.transpose(0, 2, 1) * r
    diag = np.einsum("nij,nij->nj", r, r) - r[:, np.arange(k), np.arange(k)] ** 2
    Q[:, np.arange(k), np.arange(k)] = diag
    p = np.full((n, k), 1.0 / k)
    eps = 0.005 / k
    active = np.ones(n, dtype=bool)
    for _ in range(max(100, k)):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Qa, pa = Q[idx], p[idx]
        Qp = np.einsum("nij,nj->ni", Qa, pa)
        pQp = np.einsum("ni,ni->n", pa, Qp)
        err = np.max(np.abs(Qp - pQp[:, None]), axis=1)
        done = err < eps
        active[idx[done]] = False
        run = ~done
        if not np.any(run):
            break
        Qa, pa, Qp, pQp = Qa[run], pa[run], Qp[run], pQp[run]
        for t in range(k):
            diff = (-Qp[:, t] + pQp) / Qa[:, t, t]
            pa[:, t] += diff
            pQp = (pQp + diff * (diff * Qa[:, t, t] + 2 * Qp[:, t])) / (1 + diff) / (1 + diff)
            Qp = (Qp + diff[:, None] * Qa[:, t, :]) / (1 + diff)[:, None]
            pa /= (1 + diff)[:, None]
        p[idx[run]] = pa
    return p


# ----------------------------------------------------------------------------------------
# the estimators' shared machinery
# ----------------------------------------------------------------------------------------
def _constraints(base):
    c = dict(base._parameter_constraints)
    c["kernel"] = list(_KERNEL_CONSTRAINT)
    c["n_jobs"] = [Integral, None]
    return c


class _FastLibSVM(BaseLibSVM):
    """What fastml's five SVM classes replace in scikit-learn's BaseLibSVM."""

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the SVM model according to the given training data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) \
                or (n_samples, n_samples), or a list of str
            Training vectors; for kernel="precomputed" the (n_samples, n_samples) kernel
            matrix; for a StringKernel (or a callable taking them), a list of str.
        y : array-like of shape (n_samples,)
            Target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights. Rescale C per sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        kernel = self.kernel
        rnd = check_random_state(self.random_state)
        sparse = sp.issparse(X)
        if sparse and isinstance(kernel, str) and kernel == "precomputed":
            raise TypeError("Sparse precomputed kernels are not supported.")
        # sparse input: the same solver, kernel rows from fastml's sparse kernels;
        # support_vectors_ and dual_coef_ sparse, as scikit-learn's
        self._sparse = sparse and not callable(kernel) and not isinstance(kernel,
                                                                          StringKernel)
        string = isinstance(kernel, StringKernel)
        if string:
            X = check_texts(X, "X")
            check_consistent_length(X, y)
        elif callable(kernel):
            check_consistent_length(X, y)
            if sparse:  # row-indexable (lil, coo, dok -> CSR)
                X = X.tocsr()
        else:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C",
                                 accept_sparse="csr", accept_large_sparse=False)
        y = self._validate_targets(y)
        sample_weight = np.asarray([] if sample_weight is None else sample_weight,
                                   dtype=np.float64)
        solver_type = LIBSVM_IMPL.index(self._impl)
        self._effective_probability = self.probability
        if self._impl in ("c_svc", "nu_svc"):
            if self.probability != "deprecated":
                warnings.warn(
                    "The `probability` parameter was deprecated in 1.9 and will be removed "
                    "in version 1.11. Use `CalibratedClassifierCV(SVC(), ensemble=False)` "
                    "instead of `SVC(probability=True)`", FutureWarning)
            else:
                self._effective_probability = False
        n_samples = _num_samples(X)
        if solver_type != 2 and n_samples != y.shape[0]:
            raise ValueError("X and y have incompatible shapes.\n"
                             f"X has {n_samples} samples, but y has {y.shape[0]}.")
        if isinstance(kernel, str) and kernel == "precomputed" and n_samples != X.shape[1]:
            raise ValueError("Precomputed matrix must be a square matrix."
                             f" Input is a {X.shape[0]}x{X.shape[1]} matrix.")
        if sample_weight.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got an array of "
                             f"shape {sample_weight.shape}.")
        if sample_weight.shape[0] > 0 and sample_weight.shape[0] != n_samples:
            raise ValueError(
                "sample_weight and X have incompatible shapes: "
                f"{sample_weight.shape!r} vs {(n_samples,)!r}\n"
                "Note: Sparse matrices cannot be indexed w/"
                "boolean masks (use `indices=True` in CV).")
        if sample_weight.size and not np.all(np.isfinite(sample_weight)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if string or callable(kernel) or kernel == "precomputed":
            self._gamma = 0.0
        elif isinstance(self.gamma, str):
            if self.gamma == "scale":
                if sparse:
                    X_var = X.multiply(X).mean() - X.mean() ** 2
                else:
                    with np.errstate(over="ignore", invalid="ignore"):
                        X_var = X.var(dtype=np.float64)
                if not np.isfinite(X_var):
                    # (scikit-learn's libsvm ends with NaN coefficients here)
                    raise ValueError(
                        "The dual coefficients or intercepts are not finite. The input data "
                        "may contain large values and need to be preprocessed: the variance "
                        "of X, used by gamma='scale', overflows float64.")
                self._gamma = 1.0 / (X.shape[1] * X_var) if X_var != 0 else 1.0
            else:
                self._gamma = 1.0 / X.shape[1]
        else:
            self._gamma = self.gamma
        if not (string or callable(kernel) or kernel == "precomputed"):
            _kernels.check_kernel_input(X, kernel, self._kernel_params())
        if self.verbose:
            print("[fastml.svm]", end="")
        seed = rnd.randint(np.iinfo("i").max)
        with blas_threads(1):  # BLAS runs inside fastml's own parallel tiles
            self._solve(X, y, sample_weight, seed)
        self._warn_from_fit_status()
        self.shape_fit_ = X.shape if hasattr(X, "shape") else (n_samples,)
        self._intercept_ = self.intercept_.copy()
        self._dual_coef_ = self.dual_coef_
        if self._sparse:
            self.dual_coef_ = _sparse_dual(self.dual_coef_)
            self._dual_coef_ = self.dual_coef_
        if self._impl in ("c_svc", "nu_svc") and len(self.classes_) == 2:
            self.intercept_ *= -1
            self.dual_coef_ = -self.dual_coef_
        dual = self._dual_coef_.data if sp.issparse(self._dual_coef_) else self._dual_coef_
        if not (np.isfinite(self._intercept_).all() and np.isfinite(dual).all()):
            raise ValueError(
                "The dual coefficients or intercepts are not finite."
                " The input data may contain large values and need to be"
                " preprocessed.")
        if self._impl in ("c_svc", "nu_svc"):
            self.n_iter_ = self._num_iter
        else:
            self.n_iter_ = self._num_iter.item()
        return self

    # the kernel of a (sub)problem
    def _kernel_params(self):
        kernel = self.kernel
        if isinstance(kernel, str) and kernel in KERNELS:
            allowed = KERNELS[kernel].params
            params = {"gamma": self._gamma, "degree": self.degree, "coef0": self.coef0}
            return {k: v for k, v in params.items() if k in allowed}
        return {}

    def _string_params(self):
        prm = self.kernel._params()
        return prm

    def _provider(self, X, subset, n_threads):
        """Kernel rows of the samples ``subset`` of X (indices into X)."""
        kernel = self.kernel
        if isinstance(kernel, StringKernel):
            texts = [X[i] for i in subset]
            prm = self._string_params()
            texts = self.kernel._texts(texts, prm)
            return _kernels.StringRows(texts, prm, n_threads)
        if isinstance(kernel, str) and kernel == "precomputed":
            return _kernels.PrecomputedRows(X, np.asarray(subset, dtype=np.int64))
        if callable(kernel):
            return _kernels.CallableRows(_safe_indexing(X, subset), kernel, {})
        Xs = X[subset]
        if not sp.issparse(Xs):
            Xs = np.ascontiguousarray(Xs)
        return _kernels.make_provider(Xs, kernel, self._kernel_params(), n_threads)

    def _engine(self, X, rows, n_threads):
        """The prepared samples X[rows] of a numeric kernel that computes blocks of rows
        (None for other kernels: they get a provider per sub-problem)."""
        kernel = self.kernel
        if not isinstance(kernel, str) or kernel == "precomputed" or sp.issparse(X):
            return None
        engine = _kernels.make_provider(np.ascontiguousarray(X[rows]), kernel,
                                        self._kernel_params(), n_threads)
        return engine if hasattr(engine, "block") else None

    def _solve_one(self, provider, m, y_sub, W, Cp, Cn, n_threads, kind=None):
        """One libsvm problem on the m samples of ``provider``; returns (coef per sample,
        rho, n_iter, converged)."""
        impl = kind or self._impl
        eps, nu_ = float(self.tol), float(self.nu)
        itemsize = np.dtype(provider.dtype).itemsize
        cache_rows = int(self.cache_size * getattr(self, "_cache_share", 1.0) * (1 << 20)
                         // max(1, m * itemsize))
        max_iter = int(self.max_iter)
        ar = np.arange(m, dtype=np.int32)
        if impl == "c_svc":
            yy = np.where(y_sub > 0, 1, -1).astype(np.int8)
            C = W * np.where(yy > 0, Cp, Cn)
            alpha = np.zeros(m)
            res = self._run(provider, ar, yy, -np.ones(m), C, alpha, False, eps, max_iter,
                            cache_rows, n_threads)
            return alpha * yy, res.rho, res.n_iter, res.converged
        if impl == "nu_svc":
            yy = np.where(y_sub > 0, 1, -1).astype(np.int8)
            C = W.astype(np.float64).copy()
            alpha = _nu_start_pairs(C, yy, nu_)
            res = self._run(provider, ar, yy, np.zeros(m), C, alpha, True, eps, max_iter,
                            cache_rows, n_threads)
            r = np.float64(res.r)
            with np.errstate(divide="ignore", invalid="ignore"):  # r = 0: not finite
                return alpha * yy / r, res.rho / r, res.n_iter, res.converged
        if impl == "one_class":
            yy = np.ones(m, dtype=np.int8)
            C = W.astype(np.float64).copy()
            alpha = np.zeros(m)
            rest = float(np.sum(C * nu_))
            i = 0
            while rest > 0 and i < m:
                alpha[i] = min(C[i], rest)
                rest -= alpha[i]
                i += 1
            res = self._run(provider, ar, yy, np.zeros(m), C, alpha, False, eps, max_iter,
                            cache_rows, n_threads)
            return alpha, res.rho, res.n_iter, res.converged
        # regression: two variables per sample
        kidx = np.concatenate([ar, ar])
        yy = np.concatenate([np.ones(m), -np.ones(m)]).astype(np.int8)
        C = np.concatenate([W * self.C, W * self.C]).astype(np.float64)
        z = y_sub.astype(np.float64)
        if impl == "epsilon_svr":
            p = np.concatenate([self.epsilon - z, self.epsilon + z])
            alpha = np.zeros(2 * m)
            res = self._run(provider, kidx, yy, p, C, alpha, False, eps, max_iter,
                            cache_rows, n_threads)
        else:
            p = np.concatenate([-z, z])
            alpha = np.zeros(2 * m)
            total = float(np.sum(C[:m] * nu_)) / 2
            for i in range(m):
                alpha[i] = alpha[i + m] = min(total, C[i])
                total -= alpha[i]
            res = self._run(provider, kidx, yy, p, C, alpha, True, eps, max_iter,
                            cache_rows, n_threads)
        return alpha[:m] - alpha[m:], res.rho, res.n_iter, res.converged

    def _run(self, provider, kidx, y, p, C, alpha, nu, eps, max_iter, cache_rows,
             n_threads):
        return _solver.solve(provider, kidx, y, p, C, alpha, nu=nu, eps=eps,
                             max_iter=max_iter, ws_size=_working_set_size(y.shape[0]),
                             cache_rows=cache_rows, n_threads=n_threads,
                             verbose=int(self.verbose))

    def _solve(self, X, y, sample_weight, seed):
        n = _num_samples(X)
        W = sample_weight if sample_weight.size else np.ones(n)
        impl = self._impl
        keep = np.flatnonzero(W > 0)
        if keep.size == 0:
            raise ValueError("Invalid input - all samples have zero or negative weights.")
        n_threads = effective_n_threads(getattr(self, "n_jobs", None))
        if impl in ("c_svc", "nu_svc"):
            return self._solve_classes(X, y, W, keep, seed, n_threads)
        provider = self._provider(X, keep, n_threads)
        coef, rho, n_iter, conv = self._solve_one(provider, keep.size, y[keep], W[keep],
                                                  self.C, self.C, n_threads)
        sv = np.flatnonzero(np.abs(coef) > 0)
        self.support_ = keep[sv].astype(np.int32)
        self._n_support = np.array([sv.size, sv.size], dtype=np.int32)
        self.dual_coef_ = coef[sv][None, :].astype(np.float64)
        self.intercept_ = np.array([-rho if rho != 0 else 0.0])
        self._probA = np.empty(0)
        self._probB = np.empty(0)
        self.fit_status_ = 0 if conv else 1
        self._num_iter = np.array([n_iter], dtype=np.int32)
        self._set_support_vectors(X)

    def _solve_classes(self, X, y, W, keep, seed, n_threads):
        yk = y[keep].astype(np.int64)
        n_class = len(self.classes_)
        if self._impl == "c_svc" and keep.size != y.size and np.unique(yk).size < 2:
            raise ValueError("Invalid input - all samples with positive weights belong to "
                             "the same class.")
        if self._impl == "nu_svc":
            counts = np.bincount(y.astype(np.int64), weights=W, minlength=n_class)
            present = np.unique(y.astype(np.int64))
            for a in range(present.size):
                for b in range(a + 1, present.size):
                    n1, n2 = counts[present[a]], counts[present[b]]
                    if self.nu * (n1 + n2) / 2 > min(n1, n2):
                        raise ValueError("specified nu is infeasible")
        # group the kept samples by class (stable, as libsvm), classes in sorted order
        order = np.argsort(yk, kind="stable")
        perm = keep[order]
        labels, start, count = np.unique(yk[order], return_index=True, return_counts=True)
        # numeric kernels: the samples, grouped by class, prepared once for every pair
        engine = self._engine(X, perm, n_threads)
        shared = None
        budget = self.cache_size * (1 << 20)
        cross_budget = 0
        if engine is not None and labels.size > 2 and _SHARE:
            itemsize = np.dtype(engine.dtype).itemsize
            own = float(np.sum(count.astype(np.float64) ** 2)) * itemsize
            cross = 2.0 * float(np.max(count)) * float(np.partition(count, -2)[-2]) \
                * itemsize
            if getattr(engine, "whole_blocks", False) and own + cross <= budget:
                # every class's block against itself whole, each pair's blocks between
                # its two classes computed at once: the rows of a pair problem are then
                # copies, and its row cache gets what is left
                shared = _kernels.SharedBlocks(engine, own, whole=True)
                cross_budget = cross
                self._cache_share = (budget - own - cross) / budget
            else:
                # half of cache_size for the blocks shared between pairs (least recently
                # used rows), half for the rows of each pair problem
                shared = _kernels.SharedBlocks(engine, budget / (2 * labels.size))
                self._cache_share = 0.5
        else:
            self._cache_share = 1.0
        k = labels.size
        wc = np.full(k, float(self.C))
        if self._impl == "c_svc" and getattr(self, "class_weight_", None) is not None \
                and len(self.class_weight_):
            wc = wc * np.asarray(self.class_weight_, dtype=np.float64)[labels]
        n_pairs = k * (k - 1) // 2
        coefs, rhos, iters = [], np.empty(n_pairs), np.empty(n_pairs, dtype=np.int32)
        probA, probB = np.empty(n_pairs), np.empty(n_pairs)
        nonzero = np.zeros(perm.size, dtype=bool)
        status = 0
        rng = _LibsvmRandom(seed) if self._effective_probability else None
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                si, sj, ci, cj = start[i], start[j], count[i], count[j]
                sub = np.concatenate([perm[si:si + ci], perm[sj:sj + cj]])
                ysub = np.concatenate([np.ones(ci), -np.ones(cj)])
                if rng is not None:
                    probA[p], probB[p] = self._platt(X, sub, ysub, W[sub], wc[i], wc[j],
                                                     rng, n_threads)
                if engine is not None:
                    provider = _kernels.SegmentRows(
                        engine, [(si, ci), (sj, cj)], shared,
                        cross_budget=cross_budget)
                else:
                    provider = self._provider(X, sub, n_threads)
                coef, rho, it, conv = self._solve_one(provider, sub.size, ysub, W[sub],
                                                      wc[i], wc[j], n_threads)
                status |= 0 if conv else 1
                coefs.append(coef)
                rhos[p], iters[p] = rho, it
                nonzero[si:si + ci] |= np.abs(coef[:ci]) > 0
                nonzero[sj:sj + cj] |= np.abs(coef[ci:]) > 0
                p += 1
        # libsvm's layout: support vectors grouped by class; for the classifier (i, j) the
        # coefficients of class i's vectors in row j - 1, of class j's in row i
        n_sv = np.array([np.count_nonzero(nonzero[start[c]:start[c] + count[c]])
                         for c in range(k)], dtype=np.int32)
        nz_start = np.concatenate([[0], np.cumsum(n_sv)[:-1]])
        total = int(n_sv.sum())
        dual = np.zeros((max(k - 1, 1), total))
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                si, sj, ci, cj = start[i], start[j], count[i], count[j]
                coef = coefs[p]
                mi, mj = nonzero[si:si + ci], nonzero[sj:sj + cj]
                dual[j - 1, nz_start[i]:nz_start[i] + n_sv[i]] = coef[:ci][mi]
                dual[i, nz_start[j]:nz_start[j] + n_sv[j]] = coef[ci:][mj]
                p += 1
        self.support_ = perm[nonzero].astype(np.int32)
        self._n_support = n_sv
        self._labels = labels.astype(np.int64)
        self.dual_coef_ = dual
        self.intercept_ = np.where(rhos != 0, -rhos, 0.0)
        if rng is not None:
            self._probA, self._probB = probA, probB
        else:
            self._probA = np.empty(0)
            self._probB = np.empty(0)
        self.fit_status_ = status
        self._num_iter = iters
        self._set_support_vectors(X)

    def _platt(self, X, sub, ysub, Wsub, Cp, Cn, rng, n_threads):
        """libsvm's probability model of one binary problem: 5-fold decision values of
        models trained on the other folds (C = 1 times the class weights), then Platt's
        sigmoid fitted to them."""
        l = sub.size
        perm = rng.shuffle(l)
        dec = np.zeros(l)
        for f in range(5):
            b, e = f * l // 5, (f + 1) * l // 5
            tr = np.concatenate([perm[:b], perm[e:]])
            te = perm[b:e]
            ytr = ysub[tr]
            npos = np.count_nonzero(ytr > 0)
            if tr.size == 0:
                dec[te] = 0
            elif npos == tr.size:
                dec[te] = 1
            elif npos == 0:
                dec[te] = -1
            else:
                # the nested training groups by sorted label (-1 first): keep that order
                # so the problem (and its solution path) is libsvm's
                order = np.concatenate([np.flatnonzero(ytr < 0), np.flatnonzero(ytr > 0)])
                tr_o = tr[order]
                y_o = ytr[order]
                provider = self._provider(X, sub[tr_o], n_threads)
                kind = self._impl
                coef, rho, _, _ = self._solve_one(provider, tr_o.size, -y_o, Wsub[tr_o],
                                                  Cn, Cp, n_threads, kind=kind)
                # decision of that model (positive for label -1), times label[0] = -1
                if te.size:
                    K = self._cross_kernel(X, sub[te], sub[tr_o], n_threads)
                    dec[te] = -(K @ coef - rho)
                rng.reseed()
        return _sigmoid_train(dec, ysub)

    def _cross_kernel(self, X, rows, cols, n_threads):
        """K(X[rows], X[cols]) as float64 (probability cross-validation)."""
        kernel = self.kernel
        if isinstance(kernel, StringKernel):
            sk = _fit_string_kernel(kernel, [X[i] for i in cols], n_threads)
            return np.asarray(sk.transform([X[i] for i in rows]), dtype=np.float64)
        if isinstance(kernel, str) and kernel == "precomputed":
            return np.asarray(X[np.ix_(rows, cols)], dtype=np.float64)
        if callable(kernel):
            return _kernels.call_kernel(kernel, _safe_indexing(X, rows),
                                        _safe_indexing(X, cols), {})
        return np.asarray(self._numeric_kernel(X[rows], X[cols], n_threads),
                          dtype=np.float64)

    def _numeric_kernel(self, A, B, n_threads):
        K = pairwise_kernels(A, B, metric=self.kernel, filter_params=True, n_jobs=n_threads,
                             **self._kernel_params())
        return K.toarray() if sp.issparse(K) else K

    def _set_support_vectors(self, X):
        kernel = self.kernel
        if isinstance(kernel, StringKernel):
            sv = np.empty(self.support_.size, dtype=object)
            sv[:] = [X[i] for i in self.support_]
            self.support_vectors_ = sv
            self._string_sv = list(sv)
        elif callable(kernel):
            self.support_vectors_ = np.empty((0, 0), dtype=np.float64)
            self._callable_sv = _safe_indexing(X, self.support_)
        elif kernel == "precomputed":
            self.support_vectors_ = np.empty((0, 0), dtype=np.float64)
        else:
            self.support_vectors_ = X[self.support_]

    # ------------------------------------------------------------------ predict
    def _validate_for_predict(self, X):
        check_is_fitted(self)
        kernel = self.kernel
        if isinstance(kernel, StringKernel):
            X = check_texts(X, "X")
        elif callable(kernel):
            if sp.issparse(X):
                X = X.tocsr()
        else:
            X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                              order="C", accept_large_sparse=False, reset=False)
            if kernel != "precomputed":
                _kernels.check_kernel_input(X, kernel, self._kernel_params())
            if sp.issparse(X) and not self._sparse:
                raise ValueError("cannot use sparse input in %r trained on dense data"
                                 % type(self).__name__)
        if isinstance(kernel, str) and kernel == "precomputed":
            if X.shape[1] != self.shape_fit_[0]:
                raise ValueError(
                    "X.shape[1] = %d should be equal to %d, "
                    "the number of samples at training time"
                    % (X.shape[1], self.shape_fit_[0]))
        sv = self.support_vectors_
        if sv.size > 0 and self.n_support_.sum() != sv.shape[0]:
            raise ValueError(
                f"The internal representation of {self.__class__.__name__} was altered")
        if self._impl in ("c_svc", "nu_svc") and (
                self._n_support.sum() != self.support_.size
                or self._dual_coef_.shape != (max(len(self._n_support) - 1, 1),
                                              self.support_.size)):
            raise ValueError(
                f"The internal representation of {self.__class__.__name__} was altered")
        return X

    def _compute_kernel(self, X):
        return X

    def _kernel_blocks(self, X, n_threads):
        """K(block of X, support vectors) for blocks of rows: yields (slice, K)."""
        kernel = self.kernel
        n = _num_samples(X)
        if isinstance(kernel, StringKernel):
            sk = _fit_string_kernel(kernel, self._string_sv, n_threads)
            for i0 in range(0, n, _PREDICT_ROWS):
                rows = X[i0:i0 + _PREDICT_ROWS]
                yield slice(i0, i0 + len(rows)), np.asarray(sk.transform(rows))
            return
        provider = None
        for i0 in range(0, n, _PREDICT_ROWS):
            sl = slice(i0, min(n, i0 + _PREDICT_ROWS))
            if isinstance(kernel, str) and kernel == "precomputed":
                Xb = X[sl]
                K = Xb[:, self.support_] if not sp.issparse(Xb) else Xb[:, self.support_]
                yield sl, np.asarray(K.toarray() if sp.issparse(K) else K, dtype=np.float64)
            elif callable(kernel):
                K = _kernels.call_kernel(kernel, _safe_indexing(X, np.arange(sl.start,
                                                                              sl.stop)),
                                         self._callable_sv, {})
                if K.shape[1] != self.support_.size:
                    raise ValueError(
                        f"X.shape[1] = {K.shape[1]} should be equal to "
                        f"{self.support_.size}, the number of support vectors: the kernel "
                        "callable must return K(A, B) of shape (len(A), len(B)).")
                yield sl, K
            else:
                Xb = X[sl]
                if provider is None:
                    provider = self._sv_provider(n_threads)
                if hasattr(provider, "cross"):
                    K = np.empty((Xb.shape[0], self.support_.size),
                                 dtype=self.support_vectors_.dtype)
                    provider.cross(Xb, K)
                else:
                    K = self._numeric_kernel(Xb, self.support_vectors_, n_threads)
                yield sl, K

    def _sv_provider(self, n_threads):
        """The kernel rows of the support vectors (prepared once per predict call: a
        fitted estimator is not modified by predicting)."""
        sv = self.support_vectors_
        if sp.issparse(sv):
            return _kernels.GenericRows(sv, self.kernel, self._kernel_params(), n_threads)
        return _kernels.make_provider(np.ascontiguousarray(sv), self.kernel,
                                      self._kernel_params(), n_threads)

    def _decision_values(self, X):
        """libsvm's decision values: (n, n_pairs) for classifiers (positive votes for the
        first class of a pair), (n,) otherwise."""
        n_threads = effective_n_threads(getattr(self, "n_jobs", None))
        n = _num_samples(X)
        dual = self._dual_coef_
        dual = np.asarray(dual.toarray() if sp.issparse(dual) else dual, dtype=np.float64)
        rho = -np.asarray(self._intercept_, dtype=np.float64)
        if self._impl not in ("c_svc", "nu_svc"):
            out = np.empty(n)
            if self.support_.size == 0:
                out[:] = -rho[0]
                return out
            for sl, K in self._kernel_blocks(X, n_threads):
                out[sl] = np.asarray(K, dtype=np.float64) @ dual[0] - rho[0]
            return out
        k = len(self._n_support)
        n_sv = np.asarray(self._n_support, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(n_sv)])
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        out = np.empty((n, len(pairs)))
        if self.support_.size == 0:
            out[:] = -rho[None, :]
            return out
        for sl, K in self._kernel_blocks(X, n_threads):
            K = np.asarray(K, dtype=np.float64)
            # per class c: its vectors' kernel values times their k - 1 coefficients (BLAS
            # on one thread here: the same sums for any n_jobs)
            part = [K[:, starts[c]:starts[c + 1]] @ dual[:, starts[c]:starts[c + 1]].T
                    for c in range(k)]
            for p, (i, j) in enumerate(pairs):
                out[sl, p] = part[i][:, j - 1] + part[j][:, i] - rho[p]
        return out

    def _dense_decision_function(self, X):
        with blas_threads(1):  # BLAS runs inside fastml's own parallel tiles
            return self._decision_values(X)

    def _sparse_decision_function(self, X):
        return self._dense_decision_function(X)

    def _sparse_predict(self, X):
        return self._dense_predict(X)

    def _sparse_predict_proba(self, X):
        return self._dense_predict_proba(X)

    def _dense_predict(self, X):
        dec = self._dense_decision_function(X)
        if self._impl == "one_class":
            return np.where(dec > 0, 1.0, -1.0)
        if self._impl in ("epsilon_svr", "nu_svr"):
            return dec
        labels = self._model_labels()
        k = labels.size
        if k == 2:
            return np.where(dec[:, 0] > 0, labels[0], labels[1]).astype(np.float64)
        votes = np.zeros((dec.shape[0], k), dtype=np.int64)
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                pos = dec[:, p] > 0
                votes[:, i] += pos
                votes[:, j] += ~pos
                p += 1
        # the first class among ties, as libsvm
        return labels[np.argmax(votes, axis=1)].astype(np.float64)

    def _model_labels(self):
        """The classes the model was trained on (as indices into classes_): all of them,
        unless sample weights removed every sample of some (libsvm then trains on the
        others, and its model, dual_coef_ and n_support_ have only those)."""
        labels = getattr(self, "_labels", None)
        return np.arange(len(self._n_support)) if labels is None else labels

    def _dense_predict_proba(self, X):
        dec = self._dense_decision_function(X)
        k = len(self._n_support)
        A = np.asarray(self._probA, dtype=np.float64)
        B = np.asarray(self._probB, dtype=np.float64)
        r = np.zeros((dec.shape[0], k, k))
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                v = np.clip(_sigmoid_predict(dec[:, p], A[p], B[p]), 1e-7, 1 - 1e-7)
                r[:, i, j] = v
                r[:, j, i] = 1 - v
                p += 1
        return _multiclass_probability(r)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        kernel = self.kernel
        if isinstance(kernel, StringKernel):
            tags.input_tags.string = True
            tags.input_tags.two_d_array = False
            tags.input_tags.sparse = False
        elif isinstance(kernel, str) and kernel != "precomputed":
            tags.input_tags.sparse = True
        return tags


def _sparse_dual(dual):
    """Dense dual coefficients as scikit-learn's sparse fit stores them (every entry
    kept, zeros included)."""
    rows, n_sv = dual.shape
    if n_sv == 0:
        return _align_api_if_sparse(sp.csr_array([[]]))
    return _align_api_if_sparse(sp.csr_array(
        (dual.ravel(), np.tile(np.arange(n_sv), rows), np.arange(0, rows * n_sv + 1, n_sv)),
        shape=(rows, n_sv)))


def _nu_start_pairs(C, y, nu):
    """nu-SVC's feasible start: nu * sum(C) / 2 spread over each sign in order."""
    alpha = np.zeros(C.size)
    total = float(np.sum(nu * C))
    rest = {1: total / 2, -1: total / 2}
    for t in range(C.size):
        s = int(y[t])
        alpha[t] = min(C[t], rest[s])
        rest[s] -= alpha[t]
    return alpha


def _fit_string_kernel(kernel, texts, n_threads):
    from sklearn.base import clone

    sk = clone(kernel)
    sk.set_params(n_jobs=n_threads)
    return sk.fit(texts)


# ----------------------------------------------------------------------------------------
# the five estimators
# ----------------------------------------------------------------------------------------
_N_JOBS_DOC = """
    n_jobs : int, default=None
        Threads of the solver and of the kernel computations (None: all usable cores, as
        scikit-learn's own OpenMP code; -1: all cores). Results do not depend on it.
"""


class SVC(_FastLibSVM, _sk.SVC):
    __doc__ = (_sk.SVC.__doc__ or "") + _N_JOBS_DOC
    _parameter_constraints = _constraints(_sk.SVC)

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0,
                 shrinking=True, probability="deprecated", tol=1e-3, cache_size=200,
                 class_weight=None, verbose=False, max_iter=-1, decision_function_shape="ovr",
                 break_ties=False, random_state=None, n_jobs=None):
        super().__init__(C=C, kernel=kernel, degree=degree, gamma=gamma, coef0=coef0,
                         shrinking=shrinking, probability=probability, tol=tol,
                         cache_size=cache_size, class_weight=class_weight, verbose=verbose,
                         max_iter=max_iter, decision_function_shape=decision_function_shape,
                         break_ties=break_ties, random_state=random_state)
        self.n_jobs = n_jobs


class NuSVC(_FastLibSVM, _sk.NuSVC):
    __doc__ = (_sk.NuSVC.__doc__ or "") + _N_JOBS_DOC
    _parameter_constraints = _constraints(_sk.NuSVC)

    def __init__(self, *, nu=0.5, kernel="rbf", degree=3, gamma="scale", coef0=0.0,
                 shrinking=True, probability="deprecated", tol=1e-3, cache_size=200,
                 class_weight=None, verbose=False, max_iter=-1, decision_function_shape="ovr",
                 break_ties=False, random_state=None, n_jobs=None):
        super().__init__(nu=nu, kernel=kernel, degree=degree, gamma=gamma, coef0=coef0,
                         shrinking=shrinking, probability=probability, tol=tol,
                         cache_size=cache_size, class_weight=class_weight, verbose=verbose,
                         max_iter=max_iter, decision_function_shape=decision_function_shape,
                         break_ties=break_ties, random_state=random_state)
        self.n_jobs = n_jobs


class SVR(_FastLibSVM, _sk.SVR):
    __doc__ = (_sk.SVR.__doc__ or "") + _N_JOBS_DOC
    _parameter_constraints = _constraints(_sk.SVR)

    def __init__(self, *, kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-3, C=1.0,
                 epsilon=0.1, shrinking=True, cache_size=200, verbose=False, max_iter=-1,
                 n_jobs=None):
        super().__init__(kernel=kernel, degree=degree, gamma=gamma, coef0=coef0, tol=tol,
                         C=C, epsilon=epsilon, shrinking=shrinking, cache_size=cache_size,
                         verbose=verbose, max_iter=max_iter)
        self.n_jobs = n_jobs


class NuSVR(_FastLibSVM, _sk.NuSVR):
    __doc__ = (_sk.NuSVR.__doc__ or "") + _N_JOBS_DOC
    _parameter_constraints = _constraints(_sk.NuSVR)

    def __init__(self, *, nu=0.5, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0,
                 shrinking=True, tol=1e-3, cache_size=200, verbose=False, max_iter=-1,
                 n_jobs=None):
        super().__init__(nu=nu, C=C, kernel=kernel, degree=degree, gamma=gamma, coef0=coef0,
                         shrinking=shrinking, tol=tol, cache_size=cache_size,
                         verbose=verbose, max_iter=max_iter)
        self.n_jobs = n_jobs


class OneClassSVM(_FastLibSVM, _sk.OneClassSVM):
    __doc__ = (_sk.OneClassSVM.__doc__ or "") + _N_JOBS_DOC
    _parameter_constraints = _constraints(_sk.OneClassSVM)

    def __init__(self, *, kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-3,
                 nu=0.5, shrinking=True, cache_size=200, verbose=False, max_iter=-1,
                 n_jobs=None):
        super().__init__(kernel=kernel, degree=degree, gamma=gamma, coef0=coef0, tol=tol,
                         nu=nu, shrinking=shrinking, cache_size=cache_size, verbose=verbose,
                         max_iter=max_iter)
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        """Detect the soft boundary of the set of samples X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or a list of str
            Set of samples (a list of str for a StringKernel).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights. Rescale C per sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _FastLibSVM.fit(self, X, np.ones(_num_samples(X)), sample_weight=sample_weight)
        self.offset_ = -self._intercept_
        return self
