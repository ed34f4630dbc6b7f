"""scikit-learn compatibility of fastml.neighbors: the common estimator checks, Pipeline,
GridSearchCV and pickling."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neighbors as skn
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.metrics import pairwise_distances
from fastml.neighbors import (
    KNeighborsClassifier,
    KNeighborsRegressor,
    KNeighborsTransformer,
    LocalOutlierFactor,
    NearestNeighbors,
    RadiusNeighborsClassifier,
    RadiusNeighborsRegressor,
    RadiusNeighborsTransformer,
    radius_neighbors_graph,
)

from .._reference import levenshtein_matrix


def _expected_failures(estimator):
    if isinstance(estimator, KNeighborsClassifier) and estimator.tie_break == "nearest" \
            and estimator.weights == "uniform":
        # The optional textbook tie rule: among tied classes the nearest neighbour's class
        # wins, so on an exact tie predict picks one of the classes argmax(predict_proba)
        # ties between, not necessarily the first. test_predict_agrees_with_proba_off_ties
        # checks the rest of what this check asserts.
        return {"check_classifiers_train": "vote ties go to the nearest neighbour's class"}
    return {}


@parametrize_with_checks([
    NearestNeighbors(),
    NearestNeighbors(algorithm="brute", metric="cosine"),
    KNeighborsClassifier(),
    KNeighborsClassifier(algorithm="brute"),
    KNeighborsClassifier(algorithm="brute", tie_break="nearest"),
    KNeighborsClassifier(weights="distance", metric="manhattan", n_jobs=2),
    KNeighborsRegressor(algorithm="brute", metric="minkowski", p=3),
    KNeighborsTransformer(algorithm="brute"),
    RadiusNeighborsClassifier(),
    RadiusNeighborsRegressor(),
    RadiusNeighborsTransformer(),
    KNeighborsRegressor(),
    KNeighborsRegressor(weights="distance", metric="chebyshev"),
    # sequence metrics: scikit-learn cannot generate strings / series, so only the checks
    # that need no data run here (clone, params, repr); the behaviour on such input is
    # tested in test_neighbors.py and below
    KNeighborsClassifier(metric="levenshtein"),
    NearestNeighbors(metric="levenshtein"),
    KNeighborsRegressor(metric="dtw"),
    RadiusNeighborsClassifier(metric="levenshtein"),
    RadiusNeighborsRegressor(metric="dtw"),
    RadiusNeighborsTransformer(metric="levenshtein"),
    LocalOutlierFactor(),
    LocalOutlierFactor(algorithm="brute", novelty=True),
    LocalOutlierFactor(metric="levenshtein"),
], expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_pipeline_gridsearch_pickle():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    pipe = make_pipeline(StandardScaler(), KNeighborsClassifier())
    gs = GridSearchCV(pipe, {"kneighborsclassifier__n_neighbors": [1, 5],
                             "kneighborsclassifier__metric": ["euclidean", "manhattan"]},
                      cv=3)
    gs.fit(X, y)
    assert gs.best_score_ > 0.6
    clone = pickle.loads(pickle.dumps(gs.best_estimator_))
    np.testing.assert_array_equal(clone.predict(X), gs.predict(X))


def test_string_estimator_pickle_and_tags():
    words = ["apple", "apply", "ample", "maple", "grape", "grope", "gripe", "tripe"]
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    clf = KNeighborsClassifier(n_neighbors=3, metric="levenshtein").fit(words, y)
    assert clf.__sklearn_tags__().input_tags.string
    again = pickle.loads(pickle.dumps(clf))
    assert list(again.predict(["appel", "grapes"])) == [0, 1]


@pytest.mark.parametrize("tie_break", ["smallest_label", "nearest"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_predict_agrees_with_proba_off_ties(weights, tie_break):
    rng = np.random.default_rng(1)
    centers = np.array([[0, 0], [4, 4], [0, 4]])
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.normal(size=(300, 2))
    clf = KNeighborsClassifier(n_neighbors=4, weights=weights, algorithm="brute",
                               tie_break=tie_break).fit(X, y)
    proba = clf.predict_proba(X)
    pred = clf.predict(X)
    assert np.mean(pred == y) > 0.83
    top2 = np.sort(proba, axis=1)[:, -2:]
    unique_max = top2[:, 1] > top2[:, 0]
    assert unique_max.sum() > 250
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)][unique_max], pred[unique_max])
    # on the ties the prediction is one of the tied classes
    tied = proba >= proba.max(axis=1, keepdims=True)
    assert tied[np.arange(300), np.searchsorted(clf.classes_, pred)].all()


def test_gridsearch_on_strings():
    rng = np.random.default_rng(0)
    stems = ["kitten", "mitten", "bottle", "battle"]
    words, y = [], []
    for _ in range(80):
        c = int(rng.integers(0, 2))
        w = list(stems[2 * c + int(rng.integers(0, 2))])
        w[int(rng.integers(0, len(w)))] = "xyz"[int(rng.integers(0, 3))]
        words.append("".join(w))
        y.append(c)
    gs = GridSearchCV(KNeighborsClassifier(metric="levenshtein"),
                      {"n_neighbors": [1, 3], "weights": ["uniform", "distance"]}, cv=3)
    gs.fit(words, y)
    assert gs.best_score_ > 0.9
    assert gs.predict(["kitten", "bottle"]).tolist() == [0, 1]


# -- fastml's metrics in the radius estimators and radius_neighbors_graph ------------------
WORDS = ["kitten", "sitting", "mitten", "bitten", "sit", "knitting", "fitting", "smitten",
         "kit", "written", "bottle", "battle", "cattle", "rattle", "brittle"]
LABELS = np.array([0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 2, 2, 2, 2, 2])
QUERIES = ["kitte", "sittin", "bottles", "mittens", "rattles", "fitter"]


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_radius_classifier_and_regressor_take_levenshtein(weights):
    """As NearestNeighbors.radius_neighbors does: the result of scikit-learn's estimator
    on the precomputed edit distances."""
    D, Dq = levenshtein_matrix(WORDS, WORDS), levenshtein_matrix(QUERIES, WORDS)
    for fast, ref in [
        (RadiusNeighborsClassifier(radius=2, weights=weights, metric="levenshtein",
                                   outlier_label="most_frequent"),
         skn.RadiusNeighborsClassifier(radius=2, weights=weights, metric="precomputed",
                                       outlier_label="most_frequent")),
        (RadiusNeighborsRegressor(radius=2, weights=weights, metric="levenshtein"),
         skn.RadiusNeighborsRegressor(radius=2, weights=weights, metric="precomputed")),
    ]:
        fast.fit(WORDS, LABELS)
        ref.fit(D, LABELS)
        np.testing.assert_allclose(fast.predict(QUERIES), ref.predict(Dq))
        if hasattr(fast, "predict_proba"):
            np.testing.assert_allclose(fast.predict_proba(QUERIES), ref.predict_proba(Dq))


def test_radius_transformer_and_graph_take_levenshtein():
    D = levenshtein_matrix(WORDS, WORDS)
    G = RadiusNeighborsTransformer(radius=2, metric="levenshtein").fit_transform(WORDS)
    ref = skn.RadiusNeighborsTransformer(radius=2, metric="precomputed").fit_transform(D)
    np.testing.assert_array_equal(G.toarray(), ref.toarray())
    for mode in ["connectivity", "distance"]:
        for include_self in [False, True]:
            A = radius_neighbors_graph(WORDS, 2, mode=mode, metric="levenshtein",
                                       include_self=include_self)
            B = skn.radius_neighbors_graph(D, 2, mode=mode, metric="precomputed",
                                           include_self=include_self)
            assert sp.issparse(A)
            np.testing.assert_array_equal(A.toarray(), B.toarray())


def test_radius_estimators_take_dtw():
    """fastml's other sequence metric: DTW over series of different lengths, against
    scikit-learn on fastml's DTW matrix (tested against a naive DTW in tests/metrics)."""
    rng = np.random.default_rng(0)
    series = [np.cumsum(rng.normal(size=int(rng.integers(5, 12)))) for _ in range(30)]
    y = rng.normal(size=30)
    D = pairwise_distances(series, metric="dtw")
    r = float(np.quantile(D[D > 0], 0.2))
    fast = RadiusNeighborsRegressor(radius=r, metric="dtw").fit(series, y)
    ref = skn.RadiusNeighborsRegressor(radius=r, metric="precomputed").fit(D, y)
    with np.errstate(invalid="ignore"), pytest.warns(UserWarning) if np.any(
            (D <= r).sum(1) == 0) else _nothing():
        np.testing.assert_allclose(fast.predict(series), ref.predict(D))
    A = radius_neighbors_graph(series, r, mode="distance", metric="dtw")
    B = skn.radius_neighbors_graph(D, r, mode="distance", metric="precomputed")
    np.testing.assert_allclose(A.toarray(), B.toarray())


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- callable weights must not be negative -------------------------------------------------
def _negative(d):
    return 1.0 - d  # negative beyond distance 1


def _nan_weights(d):
    return d * np.nan  # elementwise, also on the radius estimators' object arrays


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
@pytest.mark.parametrize("weights", [_negative, _nan_weights])
@pytest.mark.parametrize("make", [
    lambda w, a: KNeighborsClassifier(3, weights=w, algorithm=a),
    lambda w, a: KNeighborsRegressor(3, weights=w, algorithm=a),
    lambda w, a: RadiusNeighborsClassifier(3.0, weights=w, algorithm=a),
    lambda w, a: RadiusNeighborsRegressor(3.0, weights=w, algorithm=a),
], ids=["KNeighborsClassifier", "KNeighborsRegressor", "RadiusNeighborsClassifier",
        "RadiusNeighborsRegressor"])
def test_negative_or_nan_callable_weights_are_refused(make, weights, algorithm):
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    y = np.array([0, 0, 1, 1, 2])
    est = make(weights, algorithm).fit(X, y)
    with pytest.raises(ValueError, match=r"weights >= 0"):
        est.predict([[0.1]])
    if hasattr(est, "predict_proba"):
        with pytest.raises(ValueError, match=r"weights >= 0"):
            est.predict_proba([[0.1]])
    if weights is _nan_weights:
        return
    # a query whose neighbours all get valid weights still predicts
    if isinstance(est, (KNeighborsClassifier, KNeighborsRegressor)):
        est.set_params(n_neighbors=1)
    else:
        est.set_params(radius=0.4)
    est.predict([[0.1]])


def test_negative_weights_no_longer_predict_a_class_no_neighbour_has():
    """The symptom: three neighbours of classes 0, 0, 1 with weights -1, -1, -3 voted
    class 2 (zero votes beats negative ones)."""
    X = np.array([[0.0], [0.5], [1.0], [9.0]])
    y = np.array([0, 0, 1, 2])
    clf = KNeighborsClassifier(3, weights=lambda d: -1.0 - 2 * d).fit(X, y)
    with pytest.raises(ValueError, match="returned -1"):
        clf.predict([[0.0]])


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_non_negative_callable_weights_as_scikit_learn(algorithm):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    T = rng.normal(size=(20, 3))

    def w(d):
        return 1.0 / (1.0 + d)

    for fast, ref in [(KNeighborsClassifier(5, weights=w, algorithm=algorithm),
                       skn.KNeighborsClassifier(5, weights=w, algorithm=algorithm)),
                      (KNeighborsRegressor(5, weights=w, algorithm=algorithm),
                       skn.KNeighborsRegressor(5, weights=w, algorithm=algorithm)),
                      (RadiusNeighborsClassifier(2.0, weights=w, algorithm=algorithm,
                                                 outlier_label="most_frequent"),
                       skn.RadiusNeighborsClassifier(2.0, weights=w, algorithm=algorithm,
                                                     outlier_label="most_frequent")),
                      (RadiusNeighborsRegressor(2.0, weights=w, algorithm=algorithm),
                       skn.RadiusNeighborsRegressor(2.0, weights=w, algorithm=algorithm))]:
        fast.fit(X, y)
        ref.fit(X, y)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(fast.predict(T), ref.predict(T), rtol=1e-12)
        if hasattr(fast, "predict_proba"):
            np.testing.assert_allclose(fast.predict_proba(T), ref.predict_proba(T),
                                       rtol=1e-12)


# -- LocalOutlierFactor ---------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["brute", "auto"])
def test_lof_as_scikit_learn(algorithm):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 20)), rng.normal(4, 1, size=(10, 20))])
    T = rng.normal(size=(30, 20)) * 1.5
    fast = LocalOutlierFactor(n_neighbors=15, algorithm=algorithm).fit(X)
    ref = skn.LocalOutlierFactor(n_neighbors=15, algorithm=algorithm).fit(X)
    np.testing.assert_allclose(fast.negative_outlier_factor_, ref.negative_outlier_factor_,
                               rtol=1e-10)
    np.testing.assert_array_equal(fast.fit_predict(X), ref.fit_predict(X))
    fast = LocalOutlierFactor(n_neighbors=15, novelty=True, contamination=0.1).fit(X)
    ref = skn.LocalOutlierFactor(n_neighbors=15, novelty=True, contamination=0.1).fit(X)
    np.testing.assert_allclose(fast.score_samples(T), ref.score_samples(T), rtol=1e-10)
    np.testing.assert_array_equal(fast.predict(T), ref.predict(T))


def _naive_lof(D, Dq, k):
    """LOF by its definition (Breunig et al. 2000) from distance matrices, neighbours
    ranked by distance then training index (fastml's documented order of ties, which
    decide LOF on integer distances), 1e-10 added to the mean reachability as
    scikit-learn does. Returns (-LOF of the training rows, -LOF of the queries)."""
    n = D.shape[0]
    nbr = np.array([[j for j in np.argsort(D[i], kind="stable") if j != i][:k]
                    for i in range(n)])
    kdist = D[np.arange(n)[:, None], nbr][:, -1]

    def lrd(Drows, nbrs):
        reach = np.maximum(np.take_along_axis(Drows, nbrs, 1), kdist[nbrs])
        return 1.0 / (reach.mean(1) + 1e-10)

    lrd_train = lrd(D, nbr)
    nbr_q = np.argsort(Dq, axis=1, kind="stable")[:, :k]
    lrd_q = lrd(Dq, nbr_q)
    return (-np.mean(lrd_train[nbr] / lrd_train[:, None], axis=1),
            -np.mean(lrd_train[nbr_q] / lrd_q[:, None], axis=1))


def test_lof_on_strings_against_the_definition():
    words = WORDS + ["zzzzqqqq"]
    D, Dq = levenshtein_matrix(words, words), levenshtein_matrix(QUERIES, words)
    nof, nof_q = _naive_lof(D, Dq, 4)
    fast = LocalOutlierFactor(n_neighbors=4, metric="levenshtein").fit(words)
    np.testing.assert_allclose(fast.negative_outlier_factor_, nof, rtol=1e-12)
    assert fast.fit_predict(words)[-1] == -1
    assert fast.offset_ == -1.5
    fast = LocalOutlierFactor(n_neighbors=4, metric="levenshtein", novelty=True,
                              contamination=0.2).fit(words)
    assert fast.offset_ == pytest.approx(np.percentile(nof, 20.0))
    np.testing.assert_allclose(fast.score_samples(QUERIES), nof_q, rtol=1e-12)
    np.testing.assert_array_equal(fast.predict(QUERIES),
                                  np.where(nof_q - fast.offset_ < 0, -1, 1))
    with pytest.raises(TypeError, match="levenshtein"):  # as NearestNeighbors
        LocalOutlierFactor(metric="levenshtein").fit(np.zeros((5, 2)))
    with pytest.warns(UserWarning, match="n_neighbors"):
        LocalOutlierFactor(n_neighbors=50, metric="levenshtein").fit(words)
    with pytest.raises(AttributeError):
        LocalOutlierFactor(metric="levenshtein").fit(words).score_samples  # novelty only
