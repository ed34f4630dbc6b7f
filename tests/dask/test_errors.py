"""fastml.dask's errors and edge cases: not fitted, unknown chunk sizes, sparse results
of ParallelPostFit, Minkowski with p < 1, and messages that name the caller's arguments
(never the single-machine function's own names)."""
import dask.array as da
import dask.bag as db
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsTransformer

import fastml.dask as fd
from fastml.neighbors import NearestNeighbors as SingleNN


def _X(n=40, d=3, seed=0):
    return np.random.default_rng(seed).random((n, d))


@pytest.mark.parametrize("est, call", [
    (fd.KNeighborsClassifier(), "predict"), (fd.KNeighborsClassifier(), "predict_proba"),
    (fd.KNeighborsRegressor(), "predict"), (fd.NearestNeighbors(), "kneighbors"),
    (fd.ParallelPostFit(KNeighborsTransformer()), "transform"),
    (fd.ParallelPostFit(KNeighborsTransformer()), "predict")])
def test_not_fitted_error_before_fit(est, call):
    with pytest.raises(NotFittedError):
        getattr(est, call)(da.from_array(_X(), chunks=10))


def test_parallel_post_fit_sparse_transform_is_one_sparse_matrix(scheduler):
    X, T = _X(40), _X(11, seed=1)
    ref = KNeighborsTransformer(n_neighbors=3).fit(X).transform(T)
    Td = da.from_array(T, chunks=((4, 0, 4, 3), (3,)))
    out = fd.ParallelPostFit(KNeighborsTransformer(n_neighbors=3)).fit(X).transform(Td)
    assert out.shape == (11, 40) and out.dtype == ref.dtype
    got = out.compute()
    assert sp.issparse(got) and got.format == "csr" and got.shape == (11, 40)
    np.testing.assert_array_equal(got.toarray(), ref.toarray())
    np.testing.assert_array_equal(out[4:9].compute().toarray(), ref[4:9].toarray())


def test_unknown_chunk_sizes_get_the_advice():
    X = _X()
    Td = da.from_array(_X(30, seed=2), chunks=10)
    masked = Td[Td[:, 0] > 0.3]
    ppf = fd.ParallelPostFit(KNeighborsTransformer(n_neighbors=2)).fit(X)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        ppf.transform(masked)
    nn = fd.NearestNeighbors(n_neighbors=2).fit(da.from_array(X, chunks=10))
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        nn.kneighbors(masked)
    masked.compute_chunk_sizes()
    assert ppf.transform(masked).compute().shape == (masked.shape[0], 40)


@pytest.mark.filterwarnings("ignore:Minkowski with p")
@pytest.mark.parametrize("p", [0.5, 0.25])
def test_minkowski_p_below_one_as_fastml_neighbors(p, scheduler):
    X, T = _X(50, 4), _X(12, 4, seed=3)
    Xd, Td = da.from_array(X, chunks=13), da.from_array(T, chunks=5)
    d0, i0 = SingleNN(n_neighbors=4, p=p).fit(X).kneighbors(T)
    d1, i1 = fd.NearestNeighbors(n_neighbors=4, p=p).fit(Xd).kneighbors(Td)
    np.testing.assert_allclose(d1.compute(), d0, rtol=1e-12)
    np.testing.assert_array_equal(i1.compute(), i0)
    y = np.arange(50) % 3
    from fastml.neighbors import KNeighborsClassifier

    ref = KNeighborsClassifier(n_neighbors=4, p=p).fit(X, y).predict(T)
    np.testing.assert_array_equal(
        fd.KNeighborsClassifier(n_neighbors=4, p=p).fit(Xd, y).predict(Td).compute(), ref)


def test_minkowski_p_below_one_warns_and_p_zero_is_refused():
    Xd = da.from_array(_X(), chunks=10)
    with pytest.warns(UserWarning, match="not a distance metric"):
        fd.NearestNeighbors(p=0.5).fit(Xd)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="p"):
            fd.NearestNeighbors(p=bad).fit(Xd)


def test_nan_messages_name_the_argument(sync):
    X = _X(20)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    Xd, Xnd = da.from_array(X, chunks=5), da.from_array(Xn, chunks=5)
    with pytest.raises(ValueError, match=r"^Input X contains NaN\.$"):
        fd.kneighbors(Xd, Xnd, 2)[0].compute()
    with pytest.raises(ValueError, match=r"^Input T contains NaN\.$"):
        fd.kneighbors(Xnd, Xd, 2)[0].compute()
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"^Input T contains infinity"):
        fd.kneighbors(da.from_array(Xi, chunks=5), Xd, 2)[0].compute()
    nn = fd.NearestNeighbors(n_neighbors=2).fit(Xd)
    with pytest.raises(ValueError, match=r"^Input X contains NaN\.$"):
        nn.kneighbors(Xnd)[0].compute()
    with pytest.raises(ValueError, match="Input X contains NaN or infinity; drop or impute"):
        fd.NearestNeighbors().fit(Xnd)


def test_query_errors_name_the_queries(sync):
    index = ["ab", "cc", "dd"]
    with pytest.raises(TypeError, match=r"^T\[1\] is a int, but T\[0\] is a str"):
        fd.kneighbors(["ab", 3, "cd"], index, 2, metric="levenshtein")
    with pytest.raises(TypeError, match=r"^X\[1\] is a int"):
        fd.kneighbors(["ab", "cd"], ["ab", 5, "dd"], 2, metric="levenshtein")
    bag = db.from_sequence(["ab", "x", "cd", 3], npartitions=2)
    with pytest.raises(TypeError, match=r"^T\.partitions\[1\]\[1\] is a int"):
        fd.kneighbors(bag, index, 2, metric="levenshtein")[0].compute()
    nn = fd.NearestNeighbors(n_neighbors=2, metric="levenshtein").fit(index)
    with pytest.raises(TypeError, match=r"^X\[1\] is a int"):
        nn.kneighbors(["ab", 3])
    seqs = [np.ones(3), np.ones(2)]
    nn = fd.NearestNeighbors(n_neighbors=2, metric="dtw").fit(seqs)
    with pytest.raises(ValueError, match=r"^X\[1\] contains NaN"):
        nn.kneighbors([np.ones(3), np.array([np.nan])])
