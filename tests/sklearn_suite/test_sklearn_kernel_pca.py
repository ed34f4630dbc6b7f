"""scikit-learn's own `sklearn.decomposition.tests.test_kernel_pca` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.decomposition.tests.test_kernel_pca", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.decomposition.tests.test_kernel_pca")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
