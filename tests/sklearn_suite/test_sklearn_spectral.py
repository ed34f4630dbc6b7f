"""scikit-learn's own `sklearn.cluster.tests.test_spectral` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.cluster.tests.test_spectral", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.cluster.tests.test_spectral")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
