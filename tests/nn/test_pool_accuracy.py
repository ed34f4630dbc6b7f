"""Global average pooling accumulates in float64: a large float32 plane does not cancel."""
import numpy as np
import pytest

from fastml.nn import functional as F


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_avg_pool_of_a_large_constant_plane(dtype):
    x = np.full((1, 1, 4096, 4096), 0.1, dtype=dtype)
    got = F.global_avg_pool2d(x)
    assert got.dtype == dtype and got.shape == (1, 1)
    # the exact mean of the stored value is the value itself; float64 blocked sums of
    # 2^24 terms are within ~(4096 + 2^24 / 4096) eps64 of it, far below one ulp of T
    expected = dtype(0.1)
    n = 4096 * 4096
    tol = float(np.spacing(expected)) + (4096 + n / 4096) * np.finfo(np.float64).eps * 0.1
    assert abs(float(got[0, 0]) - float(expected)) <= tol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_avg_pool_matches_a_float64_reference(dtype):
    rng = np.random.default_rng(1)
    # mixed magnitudes and signs, an odd plane size (blocks and tails)
    x = (rng.standard_normal((2, 3, 1031, 517)) * 1e3 + 5e3).astype(dtype)
    ref = x.astype(np.float64).mean(axis=(2, 3))
    got = F.global_avg_pool2d(x, n_jobs=2)
    n = x.shape[2] * x.shape[3]
    eps64 = np.finfo(np.float64).eps
    tol = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64) + (4096 + n / 4096) \
        * eps64 * np.abs(x).astype(np.float64).mean(axis=(2, 3))
    assert np.all(np.abs(got.astype(np.float64) - ref) <= tol)
