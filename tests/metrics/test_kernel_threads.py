"""Every kernel gives the same bits for any thread count (fixed tiles, fixed order of every
sum), dense and CSR, K(X, X) and K(X, Y)."""
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml.metrics as fm
import fastml.metrics._kernels as fmp

# kernel name -> parameters (beyond the defaults) worth crossing
KERNELS = {
    "linear": [{}],
    "polynomial": [{}, {"degree": 2, "gamma": 0.5, "coef0": 0.0}, {"degree": 2.5}],
    "rbf": [{}, {"gamma": 0.01}],
    "laplacian": [{}],
    "sigmoid": [{}, {"gamma": 0.3, "coef0": -0.2}],
    "cosine": [{}],
    "chi2": [{}, {"gamma": 0.05}],
    "additive_chi2": [{}],
    "intersection": [{}],
    "hellinger": [{}],
    "pq": [{}],
}
NON_NEGATIVE = {"chi2", "additive_chi2", "intersection", "hellinger"}
DENSE_ONLY = {"pq"}


@contextmanager
def exact_threads():
    """n_jobs taken literally (the machine may have fewer cores than the thread counts
    tested: OpenMP runs the threads anyway)."""
    with mock.patch.object(fmp, "effective_n_threads", lambda n_jobs: int(n_jobs)):
        yield


def _run(name, X, Y, params, n_jobs):
    return fm.pairwise_kernels(X, Y, metric=name, n_jobs=n_jobs, **params)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(KERNELS)), which=st.integers(0, 2),
       n=st.integers(1, 420), m=st.integers(1, 300), d=st.integers(1, 90),
       dtype=st.sampled_from([np.float32, np.float64]), symmetric=st.booleans(),
       sparse=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_bitwise_equal_for_1_2_3_threads(name, which, n, m, d, dtype, symmetric, sparse,
                                         seed):
    params = KERNELS[name][which % len(KERNELS[name])]
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    Y = rng.random((m, d))
    X[X < 0.4] = 0
    Y[Y < 0.4] = 0
    if name not in NON_NEGATIVE:
        X -= 0.3 * (X > 0)
        Y -= 0.3 * (Y > 0)
    X, Y = X.astype(dtype), Y.astype(dtype)
    if sparse and name not in DENSE_ONLY:
        X, Y = sp.csr_matrix(X), sp.csr_matrix(Y)
    Y = None if symmetric else Y
    with exact_threads():
        ref = _run(name, X, Y, params, 1)
        for n_jobs in (2, 3):
            got = _run(name, X, Y, params, n_jobs)
            assert _same_bits(got, ref), (name, n_jobs, np.max(np.abs(got - ref)))


@pytest.mark.parametrize("name", ["rbf_kernel", "linear_kernel", "cosine_similarity",
                                  "polynomial_kernel", "sigmoid_kernel", "hellinger_kernel",
                                  "laplacian_kernel", "chi2_kernel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_equal_on_mnist_sized_blocks(name, dtype, rng):
    # several tiles in both directions and partial tiles at the edges
    X = rng.random((700, 784)).astype(dtype)
    T = rng.random((301, 784)).astype(dtype)
    f = getattr(fm, name)
    with exact_threads():
        for A, B in ((X, None), (T, X)):
            ref = f(A, B, n_jobs=1)
            for n_jobs in (2, 3):
                assert _same_bits(f(A, B, n_jobs=n_jobs), ref), (name, n_jobs)
