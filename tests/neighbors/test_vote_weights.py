"""A callable ``weights`` that gives negative (or NaN) weights is refused wherever votes
are counted: fastml.neighbors' vote_weights (used by fastml.dask) and the estimators, with
one message."""
import numpy as np
import pytest

from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor
from fastml.neighbors._base import vote_weights


def _negative(d):
    return d - 0.01  # negative for the query's own row (distance 0)


def _nan(d):
    out = np.ones_like(d)
    out[0, 0] = np.nan
    return out


@pytest.mark.parametrize("weights, value", [(_negative, "-"), (_nan, "nan")])
def test_vote_weights_rejects_negative_and_nan(weights, value):
    dist = np.array([[0.0, 0.9], [0.2, 0.3]])
    with pytest.raises(ValueError, match=f"weights callable returned {value}.*needs "
                                         "weights >= 0"):
        vote_weights(dist, weights)


def test_vote_weights_accepts_non_negative():
    dist = np.array([[0.1, 0.9], [0.0, 0.3]])
    w = vote_weights(dist, lambda d: 1 / (1 + d))
    np.testing.assert_allclose(w, 1 / (1 + dist))
    np.testing.assert_array_equal(vote_weights(dist, "distance")[1], [1.0, 0.0])
    assert vote_weights(dist, "uniform") is None


@pytest.mark.parametrize("Est", [KNeighborsClassifier, KNeighborsRegressor])
def test_same_message_as_the_estimators(Est):
    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    y = np.arange(30) % 3
    est = Est(n_neighbors=4, weights=_negative).fit(X, y)
    with pytest.raises(ValueError) as from_estimator:
        est.predict(X)
    dist, _ = est.kneighbors(X)
    with pytest.raises(ValueError) as from_votes:
        vote_weights(dist, _negative, Est.__name__)
    assert str(from_votes.value) == str(from_estimator.value)


def test_dask_estimators_reject_negative_weights():
    pytest.importorskip("dask.array")
    import dask.array as da

    from fastml.dask import KNeighborsClassifier as DaskKNC
    from fastml.dask import KNeighborsRegressor as DaskKNR

    rng = np.random.default_rng(1)
    X = rng.random((40, 3))
    y = np.arange(40) % 2
    Xd = da.from_array(X, chunks=(20, 3))
    for Est in (DaskKNC, DaskKNR):
        est = Est(n_neighbors=3, weights=_negative).fit(Xd, da.from_array(y, chunks=20))
        with pytest.raises(ValueError, match="needs weights >= 0"):
            est.predict(Xd).compute(scheduler="synchronous")
