"""The chi-squared kernel by supports (csrc/pairwise.c, fastml.svm._kernels.TileRows) and
the multiclass driver's whole blocks, against a naive float64 chi-squared and libsvm.

Tolerances. The sum by supports, |x|_1 + |y|_1 - 4 sum x y / (x + y), carries an absolute
error of at most c u (|x|_1 + |y|_1) (TileRows._support_error gives c and u); gamma turns it
into the kernel's relative error, and the rows are stored in float32 (one more rounding).
"""
import numpy as np
import pytest
from sklearn import svm as sk

from fastml.svm import SVC
from fastml.svm import _kernels


def _sparse_data(n, d, density, seed, dtype):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)) * (rng.random((n, d)) < density)
    X[3] = 0.0  # an empty row
    X[5] = X[4]  # a duplicate
    return X.astype(dtype)


def _chi2_ref(A, B, gamma):
    A = A.astype(np.float64)[:, None, :]
    B = B.astype(np.float64)[None, :, :]
    s = A + B
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(s > 0, (A - B) ** 2 / np.where(s > 0, s, 1.0), 0.0)
    return np.exp(-gamma * t.sum(axis=2))


def _tol(p, A, B, dtype):
    sums = float(A.sum(axis=1, dtype=np.float64).max() + B.sum(axis=1, dtype=np.float64).max())
    nnz = int(max(np.count_nonzero(A, axis=1).max(), np.count_nonzero(B, axis=1).max()))
    return p._support_error(sums, nnz, np.dtype(dtype)) + 2.0 ** -23


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 7, 53, 130])
def test_support_rows_match_naive_chi2(dtype, d):
    X = _sparse_data(700, d, 0.25, d, dtype)
    p = _kernels.TileRows(X, "chi2", {"gamma": 0.3}, 2)
    assert p.support is not None
    idx = np.array([0, 3, 4, 5, 17, 699, 250, 251, 252, 1, 2], dtype=np.int64)
    tol = _tol(p, X, X, dtype)
    for j0, j1 in [(0, 700), (37, 611), (250, 253), (699, 700), (1, 130)]:
        out = np.full((idx.size, j1 - j0 + 3), -1.0, dtype=np.float32)
        p.block(idx, j0, j1, out, 2)
        ref = _chi2_ref(X[idx], X[j0:j1], 0.3)
        np.testing.assert_allclose(out[:, 2:2 + j1 - j0], ref, rtol=tol, atol=0)
        assert np.all(out[:, :2] == -1) and np.all(out[:, 2 + j1 - j0:] == -1)
        # a sample against itself is exactly the kernel of 0
        for r, g in enumerate(idx):
            if j0 <= g < j1:
                assert out[r, 2 + g - j0] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_support_cross_matches_naive_chi2(dtype):
    X = _sparse_data(400, 40, 0.2, 1, dtype)
    T = _sparse_data(33, 40, 0.3, 2, dtype)
    p = _kernels.TileRows(X, "chi2", {"gamma": 0.5}, 2)
    assert p.support is not None
    out = np.empty((33, 400), dtype=np.float32)
    p.cross(T, out)
    np.testing.assert_allclose(out, _chi2_ref(T, X, 0.5), rtol=_tol(p, T, X, dtype), atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_support_rows_bitwise_across_threads(dtype):
    X = _sparse_data(2300, 30, 0.2, 3, dtype)
    idx = np.arange(0, 2300, 3)
    outs = []
    for n in (1, 2, 3):
        p = _kernels.TileRows(X, "chi2", {"gamma": 0.2}, n)
        out = np.empty((idx.size, 2300 - 5), dtype=np.float32)
        p.block(idx, 5, 2300, out, 0)
        outs.append(out)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_support_only_where_it_pays_and_is_accurate():
    sparse = _sparse_data(600, 40, 0.2, 4, np.float32)
    assert _kernels.TileRows(sparse, "chi2", {"gamma": 0.1}, 1).support is not None
    # dense rows: the tiles
    dense = np.random.default_rng(0).random((600, 40)).astype(np.float32) + 0.01
    assert _kernels.TileRows(dense, "chi2", {"gamma": 0.1}, 1).support is None
    # few samples
    assert _kernels.TileRows(sparse[:100], "chi2", {"gamma": 0.1}, 1).support is None
    # a gamma that turns the cancellation into a large relative error
    assert _kernels.TileRows(sparse, "chi2", {"gamma": 1e3}, 1).support is None
    p = _kernels.TileRows(sparse.astype(np.float64), "chi2", {"gamma": 1e3}, 1)
    assert p.support is not None  # double has the margin
    assert _kernels.TileRows(sparse.astype(np.float64), "chi2", {"gamma": 1e8},
                             1).support is None
    # other kernels of the tiles never use it
    assert _kernels.TileRows(sparse, "additive_chi2", {}, 1).support is None
    assert _kernels.TileRows(sparse, "intersection", {}, 1).support is None


def test_large_gamma_still_accurate_through_the_tiles():
    X = _sparse_data(600, 40, 0.2, 5, np.float32)
    p = _kernels.TileRows(X, "chi2", {"gamma": 1e4 / 40}, 1)
    out = np.empty((10, 600), dtype=np.float32)
    p.block(np.arange(10), 0, 600, out, 0)
    ref = _chi2_ref(X[:10], X, 1e4 / 40)
    big = ref > 1e-30
    np.testing.assert_allclose(out[big], ref[big], rtol=1e-4)


def _blocks_used(monkeypatch):
    seen = {"whole": 0, "cross": 0}
    orig_init = _kernels.SharedBlocks.__init__
    orig_cross = _kernels.SegmentRows._cross_blocks

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        seen["whole"] += bool(self.whole)

    def cross(self):
        seen["cross"] += 1
        return orig_cross(self)

    monkeypatch.setattr(_kernels.SharedBlocks, "__init__", init)
    monkeypatch.setattr(_kernels.SegmentRows, "_cross_blocks", cross)
    return seen


def _sparse_classes(n, d, k, seed):
    """k classes of sparse non-negative rows, each around its own sparse prototype."""
    rng = np.random.default_rng(seed)
    proto = rng.random((k, d)) * (rng.random((k, d)) < 0.3)
    y = rng.integers(0, k, n)
    X = proto[y] * (rng.random((n, d)) < 0.8) + 0.3 * rng.random((n, d)) * (
        rng.random((n, d)) < 0.08)
    return X, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiclass_whole_blocks_match_precomputed_libsvm(monkeypatch, dtype):
    X, y = _sparse_classes(900, 60, 4, 7)
    X = X.astype(dtype)
    seen = _blocks_used(monkeypatch)
    a = SVC(kernel="chi2", gamma=0.5, C=3.0, tol=1e-6, decision_function_shape="ovo").fit(X, y)
    assert seen["whole"] == 1 and seen["cross"] == 6  # 4 classes: 6 pairs
    K = _chi2_ref(X, X, 0.5)
    b = sk.SVC(kernel="precomputed", C=3.0, tol=1e-6, decision_function_shape="ovo").fit(K, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(K), atol=1e-3 * 3)
    assert len(set(a.support_) ^ set(b.support_)) <= 2
    np.testing.assert_array_equal(a.predict(X), b.predict(K))


def test_whole_blocks_and_row_cache_give_the_same_model(monkeypatch):
    X, y = _sparse_classes(900, 60, 4, 8)
    X = X.astype(np.float32)
    seen = _blocks_used(monkeypatch)
    a = SVC(kernel="chi2", gamma=0.5, C=3.0, tol=1e-5).fit(X, y)
    assert seen["whole"] == 1
    # a cache too small for the whole blocks: rows computed a few at a time, evicted
    b = SVC(kernel="chi2", gamma=0.5, C=3.0, tol=1e-5, cache_size=0.5).fit(X, y)
    assert seen["whole"] == 1 and seen["cross"] == 6
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=2e-4)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_whole_blocks_bitwise_across_threads():
    X, y = _sparse_classes(1200, 50, 3, 9)
    X = X.astype(np.float32)
    fits = [SVC(kernel="chi2", gamma=0.5, n_jobs=n).fit(X, y) for n in (1, 2, 3)]
    for f in fits[1:]:
        np.testing.assert_array_equal(f.support_, fits[0].support_)
        np.testing.assert_array_equal(f.dual_coef_, fits[0].dual_coef_)
        np.testing.assert_array_equal(f.intercept_, fits[0].intercept_)
        np.testing.assert_array_equal(f.decision_function(X), fits[0].decision_function(X))
