"""scikit-learn's own `sklearn.tests.test_kernel_approximation` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.tests.test_kernel_approximation", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.tests.test_kernel_approximation")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
