"""Compiled loops never see misaligned items: inputs at odd byte offsets (np.frombuffer
with an offset, fields of packed records, buffers received by Dask workers) are realigned
by the validation before any compiled call, and a misaligned out= is refused."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastml.metrics as fm
from fastml.metrics import pairwise_distances
from fastml.neighbors import NearestNeighbors


# ----------------------------------------------------------------------------------------
# Misaligned arrays (np.ndarray at an odd byte offset: np.frombuffer(..., offset=1), packed
# records, buffers received by Dask workers) never reach compiled code: C makes misaligned
# loads undefined and vectorised loops may fault on them.
# ----------------------------------------------------------------------------------------
def _misaligned(a):
    a = np.asarray(a)
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.fixture
def compiled_calls_check_alignment(monkeypatch):
    """Every function of the compiled modules asserts its array arguments are aligned."""
    import importlib

    seen = []
    for name in ["fastml.metrics._pairwise_fast", "fastml.metrics._distances",
                 "fastml.nn._conv", "fastml.nn._pool", "fastml.nn._augment"]:
        mod = importlib.import_module(name)
        for attr in dir(mod):
            fn = getattr(mod, attr)
            if attr.startswith("__") or not callable(fn) or isinstance(fn, type):
                continue

            def wrapper(*args, _fn=fn, _name=f"{name}.{attr}", **kwargs):
                for a in list(args) + list(kwargs.values()):
                    if isinstance(a, np.ndarray):
                        assert a.flags.aligned, f"misaligned array passed to {_name}"
                seen.append(_name)
                return _fn(*args, **kwargs)

            monkeypatch.setattr(mod, attr, wrapper)
    return seen


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_inputs_are_realigned_before_compiled_code(
        dtype, rng, compiled_calls_check_alignment):
    import scipy.sparse as sp

    import fastml.metrics as fm

    X = rng.random((30, 19)).astype(dtype)
    T = rng.random((7, 19)).astype(dtype)
    Xm, Tm = _misaligned(X), _misaligned(T)
    for fn in (fm.chi2_kernel, fm.laplacian_kernel, fm.intersection_kernel, fm.rbf_kernel,
               fm.additive_chi2_kernel, fm.hellinger_kernel):
        np.testing.assert_array_equal(fn(Tm, Xm), fn(T, X))
    for metric in ("manhattan", "chebyshev", "euclidean", "minkowski"):
        np.testing.assert_array_equal(pairwise_distances(Tm, Xm, metric=metric),
                                      pairwise_distances(T, X, metric=metric))
    S = sp.csr_matrix(X)
    S.data = _misaligned(S.data)
    np.testing.assert_array_equal(fm.chi2_kernel(S), fm.chi2_kernel(sp.csr_matrix(X)))
    nn = NearestNeighbors(n_neighbors=3, metric="manhattan").fit(Xm)
    d, i = nn.kneighbors(Tm)
    d2, i2 = NearestNeighbors(n_neighbors=3, metric="manhattan").fit(X).kneighbors(T)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(d, d2)
    assert compiled_calls_check_alignment  # the checks ran


def test_misaligned_nn_operands_are_realigned(rng, compiled_calls_check_alignment):
    import fastml.nn.functional as F
    from fastml.nn.augment import ImageAugmenter

    x = rng.random((2, 3, 9, 9)).astype(np.float32)
    w = rng.random((4, 3, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(F.conv2d(_misaligned(x), _misaligned(w)), F.conv2d(x, w))
    out, idx = F.max_pool2d(_misaligned(x), 2)
    ref, ridx = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(out, ref)
    g = np.ones_like(out)
    np.testing.assert_array_equal(
        F.max_pool2d_backward(_misaligned(g), _misaligned(idx), x.shape),
        F.max_pool2d_backward(g, ridx, x.shape))
    aug = ImageAugmenter(shift=0.1)
    np.testing.assert_array_equal(aug.apply(_misaligned(x), 0), aug.apply(x, 0))
    assert compiled_calls_check_alignment


def test_misaligned_out_is_refused(rng):
    import fastml.metrics as fm

    X = rng.random((4, 3))
    with pytest.raises(ValueError, match="aligned"):
        fm.rbf_kernel(X, out=_misaligned(np.zeros((4, 4))))
