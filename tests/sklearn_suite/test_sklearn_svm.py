"""scikit-learn's own `sklearn.svm.tests.test_svm` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.svm.tests.test_svm", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.svm.tests.test_svm")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
