"""``n_jobs`` -> number of threads, in one place for every module.

Semantics follow scikit-learn / joblib:

* ``None``: 1, unless inside ``joblib.parallel_config(n_jobs=...)`` (or the older
  ``parallel_backend``), whose ``n_jobs`` is then used;
* ``-1``: every usable core; ``-2``: all but one, and so on (``n_cpus + 1 + n_jobs``);
* a positive int: that many threads, capped at the usable cores;
* ``0``: a ValueError.

"Usable cores" is the smallest of the CPUs this process may run on (affinity), the
container's CPU quota (cgroups; both via joblib's ``cpu_count``) and OpenMP's
``omp_get_max_threads()``, which honours ``OMP_NUM_THREADS``.
"""
import functools
import numbers
import os
import threading
from contextlib import contextmanager

import joblib

_controller = None
_controller_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _cpu_count():
    # joblib reads affinity and cgroup quota files (~25 us); they do not change while a
    # process runs, so read them once.
    return joblib.cpu_count(only_physical_cores=False)


def max_usable_threads():
    """The number of threads ``n_jobs=-1`` resolves to."""
    from fastml.utils._openmp import omp_max_threads, openmp_enabled

    n = _cpu_count()
    if openmp_enabled():
        n = min(n, omp_max_threads())
    else:  # serial build: OMP_NUM_THREADS still caps the threads given to BLAS
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if env.isdigit() and int(env) > 0:
            n = min(n, int(env))
    return max(1, int(n))


def effective_n_threads(n_jobs):
    """Resolve scikit-learn's ``n_jobs`` to a positive number of threads."""
    if n_jobs is None:
        # joblib resolves None to the n_jobs of an enclosing parallel_config, else 1.
        n_jobs = joblib.effective_n_jobs(None)
        if n_jobs == 1:
            return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"n_jobs must be None or an int, got {n_jobs!r} of type {type(n_jobs).__name__}."
        )
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use None or 1 for one thread, -1 for all cores."
        )
    n_max = max_usable_threads()
    if n_jobs < 0:
        return max(1, n_max + 1 + n_jobs)
    return min(n_jobs, n_max)


def _get_controller():
    global _controller
    if _controller is None:
        with _controller_lock:
            if _controller is None:
                import scipy.linalg  # noqa: F401  (loads scipy's BLAS so it is controlled too)
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
    return _controller


@contextmanager
def blas_threads(n_threads):
    """Cap every loaded BLAS at ``n_threads`` for the duration of the block.

    Used around BLAS-heavy sections so that BLAS follows ``n_jobs`` and never adds its
    own threads on top of OpenMP's (oversubscription).
    """
    # threadpoolctl's limit() re-reads every library's full info on entry (~40 us, a
    # visible share of a small kernel call); only the thread counts need saving.
    n_threads = int(n_threads)
    libs = [lib for lib in _get_controller().lib_controllers if lib.user_api == "blas"]
    saved = [lib.num_threads for lib in libs]
    try:
        for lib, n in zip(libs, saved):
            if n != n_threads:
                lib.set_num_threads(n_threads)
        yield
    finally:
        for lib, n in zip(libs, saved):
            if n != n_threads:
                lib.set_num_threads(n)
