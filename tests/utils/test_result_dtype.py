"""fastml's one dtype rule (fastml.utils.validation.result_dtype), and its readers."""
import numpy as np
import pytest

from fastml.utils.validation import result_dtype

f32, f64 = np.dtype(np.float32), np.dtype(np.float64)


@pytest.mark.parametrize("dtypes, expected", [
    ((np.float32,), f32), ((np.float32, np.float32), f32), ((np.float32, None), f32),
    ((np.float64,), f64), ((np.float32, np.float64), f64), ((np.int64,), f64),
    ((np.float32, np.int32), f64), ((np.bool_,), f64), ((np.float16,), f64), ((), f64),
])
def test_rule(dtypes, expected):
    arrays = [None if d is None else np.zeros(2, dtype=d) for d in dtypes]
    assert result_dtype(*arrays) == expected
    assert result_dtype(*[None if d is None else np.dtype(d) for d in dtypes]) == expected


def test_raise_for_mixed():
    a, b = np.zeros(2, np.float32), np.zeros(2, np.float64)
    assert result_dtype(a, a, mixed="raise") == f32
    with pytest.raises(TypeError, match="x is float32, w is float64"):
        result_dtype(a, b, mixed="raise", names=["x", "w"])
    with pytest.raises(ValueError, match="mixed"):
        result_dtype(a, mixed="cast")


def test_readers_agree():
    """Kernels, distances, the neighbour search, fastml.dask and nn read the same rule."""
    import fastml.metrics as fm
    from fastml.neighbors import NearestNeighbors
    from fastml.nn import functional as F

    rng = np.random.default_rng(0)
    X32 = rng.random((6, 3)).astype(np.float32)
    X64 = X32.astype(np.float64)
    for A, B in ((X32, X32), (X32, X64), (X64, X32), (X32.astype(np.int64), X32)):
        want = result_dtype(A, B)
        assert fm.rbf_kernel(A, B).dtype == want
        assert fm.pairwise_distances(A, B).dtype == want
        nn = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(B)
        if A.dtype.kind == "f":
            assert nn.kneighbors(A)[0].dtype == want
    try:
        import dask.array as da

        from fastml.dask import pairwise_kernels
    except ImportError:
        pass
    else:
        for A, B in ((X32, X32), (X32, X64)):
            K = pairwise_kernels(da.from_array(A, chunks=3), da.from_array(B, chunks=3))
            assert K.dtype == result_dtype(A, B)
    with pytest.raises(TypeError, match="Mixed floating dtypes"):
        F._unify([("x", X32), ("w", X64)])
    (x, w), dtype = F._unify([("x", X32), ("w", X32.astype(np.int32))])
    assert dtype == f32 and w.dtype == f32
