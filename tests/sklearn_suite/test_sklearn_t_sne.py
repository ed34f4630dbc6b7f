"""scikit-learn's own `sklearn.manifold.tests.test_t_sne` against fastml (see conftest.py)."""
import importlib
import sys

import fastml

sys.modules.pop("sklearn.manifold.tests.test_t_sne", None)
with fastml.sklearn_patched():
    _module = importlib.import_module("sklearn.manifold.tests.test_t_sne")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
