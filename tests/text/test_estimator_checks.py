"""scikit-learn compatibility of StringKernel.

``parametrize_with_checks`` runs only the input-independent checks on an estimator whose
tags say it takes strings (``input_tags.string = True, two_d_array = False``, as
scikit-learn's own text vectorizers); the parameter-level checks are called explicitly
below, and the data-level ones (fit returns self, does not change its parameters, is
idempotent, refuses transform before fit, pickles) are written for lists of str."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.text import StringKernel

ESTIMATORS = [
    StringKernel(),
    StringKernel(ngram_range=2, kind="intersection", normalize=False),
    StringKernel(ngram_range=(1, 3), kind="spectrum", lowercase=True, collapse_whitespace=True),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("check", [
    ec.check_no_attributes_set_in_init, ec.check_parameters_default_constructible,
    ec.check_get_params_invariance, ec.check_set_params, ec.check_estimator_repr,
    ec.check_valid_tag_types, ec.check_mixin_order, ec.check_estimator_tags_renamed,
], ids=lambda c: c.__name__)
def test_parameter_level_checks(estimator, check):
    name = type(estimator).__name__
    if check is ec.check_valid_tag_types:
        check(name, estimator)
    else:
        check(name, clone(estimator))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_data_level_checks_on_texts(estimator):
    rng = np.random.default_rng(0)
    train = ["".join(rng.choice(list("abc d"), rng.integers(0, 30))) for _ in range(25)]
    test = ["".join(rng.choice(list("abc d"), rng.integers(0, 30))) for _ in range(6)]
    est = clone(estimator)
    params = est.get_params()
    with pytest.raises(NotFittedError):
        est.transform(test)
    assert est.fit(train) is est
    assert est.get_params() == params  # fit changes no parameter
    dict_before = {k: v for k, v in est.__dict__.items()}
    K1 = est.transform(test)
    assert est.__dict__.keys() == dict_before.keys()  # transform changes nothing
    assert K1.shape == (6, 25) and np.all(np.isfinite(K1))
    np.testing.assert_array_equal(est.fit(train).transform(test), K1)  # idempotent
    np.testing.assert_allclose(est.fit_transform(train), est.transform(train), rtol=1e-14)
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est2.transform(test), K1)
    np.testing.assert_array_equal(clone(est).fit(train).transform(test), K1)
