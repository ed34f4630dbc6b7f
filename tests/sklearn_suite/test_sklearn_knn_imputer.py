"""scikit-learn's own `sklearn.impute.tests.test_knn` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.impute.tests.test_knn", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.impute.tests.test_knn")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})


def test_fastml_runs_these_tests():
    # while patched (every test here), the module's KNNImputer is fastml's
    assert _module.KNNImputer.__module__ == "fastml.impute._knn", _module.KNNImputer
