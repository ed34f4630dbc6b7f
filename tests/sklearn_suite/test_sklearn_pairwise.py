"""scikit-learn's own `sklearn.metrics.tests.test_pairwise` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.metrics.tests.test_pairwise", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.metrics.tests.test_pairwise")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
