"""Support vector machines on fastml's solver and kernels: drop-in replacements for
scikit-learn's ``SVC``, ``NuSVC``, ``SVR``, ``NuSVR`` and ``OneClassSVM`` that take every
kernel of fastml's registry (and "precomputed", callables and
:class:`fastml.text.StringKernel` on lists of str), keep float32 data in float32, run on
all cores (``n_jobs``) and never hold more kernel values than ``cache_size`` allows."""
from fastml.svm._classes import SVC, SVR, NuSVC, NuSVR, OneClassSVM

__all__ = ["SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM"]
