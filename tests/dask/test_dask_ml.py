"""Against dask-ml when it is installed (it is not a dependency): its rbf / polynomial
kernels and its ParallelPostFit give what fastml.dask gives."""
import dask
import dask.array as da
import numpy as np
import pytest

import fastml.dask as fd
from fastml.kernel_ridge import KernelRidge

dask_ml_pairwise = pytest.importorskip("dask_ml.metrics.pairwise")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")


def test_kernels_match_dask_ml(sync):
    rng = np.random.default_rng(0)
    A, B = rng.random((90, 7)), rng.random((40, 7))
    T, X = da.from_array(A, chunks=(30, 7)), da.from_array(B, chunks=(40, 7))
    for ours, theirs, kw in [(fd.rbf_kernel, dask_ml_pairwise.rbf_kernel, {"gamma": 0.3}),
                             (fd.polynomial_kernel, dask_ml_pairwise.polynomial_kernel,
                              {"degree": 2, "gamma": 0.5, "coef0": 1.0}),
                             (fd.linear_kernel, dask_ml_pairwise.linear_kernel, {})]:
        a, b = dask.compute(ours(T, X, **kw), theirs(T, X, **kw))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_parallel_post_fit_matches_dask_ml(sync):
    rng = np.random.default_rng(1)
    X, y = rng.random((120, 5)), rng.random(120)
    T = da.from_array(rng.random((50, 5)), chunks=20)
    ours = fd.ParallelPostFit(KernelRidge(kernel="laplacian")).fit(X, y).predict(T)
    theirs = dask_ml_wrappers.ParallelPostFit(KernelRidge(kernel="laplacian")).fit(
        X, y).predict(T)
    a, b = dask.compute(ours, theirs)
    np.testing.assert_allclose(a, b, rtol=1e-13)
