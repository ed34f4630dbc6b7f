"""scikit-learn's own `sklearn.semi_supervised.tests.test_label_propagation` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.semi_supervised.tests.test_label_propagation", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.semi_supervised.tests.test_label_propagation")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
