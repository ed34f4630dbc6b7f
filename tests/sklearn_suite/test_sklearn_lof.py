"""scikit-learn's own `sklearn.neighbors.tests.test_lof` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.neighbors.tests.test_lof", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.neighbors.tests.test_lof")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
