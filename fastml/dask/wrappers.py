"""Fitted single-machine estimators on dask arrays: :class:`ParallelPostFit`.

The same idea as ``dask_ml.wrappers.ParallelPostFit`` (written here so that fastml's
extra needs Dask only): training stays on one machine (the data that fit in memory),
prediction and transformation run block by block over a dask array of any size. The
fitted estimator enters the graph once (scattered to every worker under a distributed
client), never once per block.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

from fastml.dask._share import share
from fastml.dask._threads import fastml_threads
from fastml.dask._validation import is_dask_array

__all__ = ["ParallelPostFit"]


def _apply(block, estimator, method, n_jobs):
    if block.shape[0] == 0:
        return None
    import joblib

    with fastml_threads(n_jobs) as n:
        # n_jobs=None inside the estimator (fastml's and scikit-learn's) resolves to the
        # task's threads; the setting is local to this thread, so concurrent tasks sharing
        # the estimator do not interfere
        with joblib.parallel_config(backend="threading", n_jobs=n):
            return getattr(estimator, method)(block)


def _apply_block(block, estimator, method, n_jobs, trailing, dtype):
    out = _apply(block, estimator, method, n_jobs)
    if out is None:
        return np.empty((0,) + trailing, dtype=dtype)
    return np.asarray(out)


def _apply_sparse_block(block, estimator, method, n_jobs, meta):
    """A block of a sparse result (e.g. KNeighborsTransformer's graph): CSR blocks that
    dask stacks into one sparse matrix on compute."""
    out = _apply(block, estimator, method, n_jobs)
    if out is None:
        return meta.copy()
    return out.tocsr().astype(meta.dtype, copy=False) if sp.issparse(out) else \
        type(meta)(np.asarray(out))


class ParallelPostFit(MetaEstimatorMixin, BaseEstimator):
    """Fit on in-memory data; predict, transform and score dask arrays block by block.

    Parameters
    ----------
    estimator : a scikit-learn compatible estimator (e.g. ``fastml.kernel_ridge.
        KernelRidge``, ``make_pipeline(KernelTransformer("chi2"),
        SVC(kernel="precomputed"))``, ``fastml.nn.NeuralNetClassifier``).
    n_jobs : int or None
        Threads per task (see :mod:`fastml.dask`; None: the worker shares its threads
        among its tasks). They reach the estimator through ``joblib.parallel_config``, so
        an estimator built with ``n_jobs=None`` uses them; an explicit ``n_jobs`` of the
        estimator wins.

    Attributes
    ----------
    estimator_ : the fitted clone of ``estimator``; classes_ (classifiers).

    Notes
    -----
    ``fit`` with dask arrays computes them first: training data must fit in memory.
    A NumPy input to predict / transform is passed straight to the estimator.
    """

    def __init__(self, estimator, *, n_jobs=None):
        self.estimator = estimator
        self.n_jobs = n_jobs

    def fit(self, X, y=None, **fit_params):
        if is_dask_array(X):
            X = X.compute()
        if is_dask_array(y):
            y = y.compute()
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        self._shared = None
        return self

    def _handle(self):
        if getattr(self, "_shared", None) is None:
            self._shared = share(self.estimator_)
        return self._shared

    def _lazy(self, X, method):
        import dask.array as da

        check_is_fitted(self, "estimator_")
        if not hasattr(self.estimator_, method):
            raise AttributeError(f"{type(self.estimator_).__name__} has no {method}().")
        if not is_dask_array(X):
            return getattr(self.estimator_, method)(X)
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "X has unknown row-chunk sizes (e.g. from a boolean mask or a dask "
                "dataframe); call X.compute_chunk_sizes() first (for a dask dataframe, "
                "df.to_dask_array(lengths=True)).")
        if X.ndim == 2 and len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        # output shape and dtype from the estimator on one row (computed now)
        probe = X[:1].compute() if X.shape[0] else None
        if probe is None or probe.shape[0] == 0:
            raise ValueError("X has 0 rows; nothing to predict.")
        sample = getattr(self.estimator_, method)(probe)
        handle = self._handle()
        if sp.issparse(sample):
            # a sparse result (KNeighborsTransformer, a sparse one-hot encoding): one
            # lazy (n, n_columns) array of CSR blocks, computed as one sparse matrix
            if X.ndim != 2 or sample.ndim != 2:
                raise ValueError(f"{type(self.estimator_).__name__}.{method} returned a "
                                 "sparse result for input that is not 2-D.")
            meta = sample.tocsr()[:0]
            return da.map_blocks(_apply_sparse_block, X, handle, method, self.n_jobs, meta,
                                 dtype=meta.dtype, chunks=(X.chunks[0], (sample.shape[1],)),
                                 meta=meta)
        sample = np.asarray(sample)
        trailing, dtype = sample.shape[1:], sample.dtype
        drop = tuple(range(1, X.ndim)) if X.ndim > 1 else ()
        new = tuple(range(1, 1 + len(trailing)))
        if X.ndim == 2 and len(trailing) == 1:
            chunks = (X.chunks[0], trailing)
            return da.map_blocks(_apply_block, X, handle, method, self.n_jobs, trailing,
                                 dtype, dtype=dtype, chunks=chunks,
                                 meta=np.empty((0,) + trailing, dtype=dtype))
        return da.map_blocks(_apply_block, X, handle, method, self.n_jobs, trailing, dtype,
                             dtype=dtype, drop_axis=drop, new_axis=new or None,
                             chunks=(X.chunks[0],) + trailing,
                             meta=np.empty((0,) + trailing, dtype=dtype))

    def predict(self, X):
        """Lazy ``estimator_.predict`` over the row blocks of a dask array."""
        return self._lazy(X, "predict")

    def predict_proba(self, X):
        """Lazy ``estimator_.predict_proba`` over the row blocks."""
        return self._lazy(X, "predict_proba")

    def predict_log_proba(self, X):
        return self._lazy(X, "predict_log_proba")

    def decision_function(self, X):
        """Lazy ``estimator_.decision_function`` over the row blocks."""
        return self._lazy(X, "decision_function")

    def transform(self, X):
        """Lazy ``estimator_.transform`` over the row blocks; a sparse result (e.g.
        ``KNeighborsTransformer``'s graph) is a dask array of CSR blocks whose
        ``compute()`` is one CSR matrix."""
        return self._lazy(X, "transform")

    def score(self, X, y, sample_weight=None):
        """The estimator's default score (accuracy or R^2), predictions computed lazily
        and gathered."""
        from sklearn.base import is_classifier
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(X)
        pred = pred.compute() if is_dask_array(pred) else pred
        y = y.compute() if is_dask_array(y) else y
        scorer = accuracy_score if is_classifier(self.estimator_) else r2_score
        return scorer(y, pred, sample_weight=sample_weight)
