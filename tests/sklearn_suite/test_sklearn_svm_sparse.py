"""scikit-learn's own `sklearn.svm.tests.test_sparse` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.svm.tests.test_sparse", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.svm.tests.test_sparse")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
