"""fastml: fast CPU kernels, distances and a small CNN trainer for scikit-learn users."""
__version__ = "0.1.0"

from fastml._cpu import _check_fastml_cpu

_check_fastml_cpu()  # an unknown FASTML_CPU is an error before any kernel is loaded

try:
    from fastml.utils import _openmp  # noqa: F401  (the smallest compiled module)
except ImportError as _e:  # pragma: no cover - exercised by tests/test_build.py in a subprocess
    from fastml._check_build import raise_build_error

    raise_build_error(_e)

from fastml._config import show_config  # noqa: E402
from fastml._patch import (  # noqa: E402
    get_patch_names,
    patch_sklearn,
    sklearn_is_patched,
    sklearn_patched,
    unpatch_sklearn,
)
from fastml._cpu import _warn_if_unavailable  # noqa: E402

_warn_if_unavailable(_openmp.simd_detected())

__all__ = ["get_patch_names", "patch_sklearn", "show_config", "sklearn_is_patched",
           "sklearn_patched", "unpatch_sklearn", "__version__"]
