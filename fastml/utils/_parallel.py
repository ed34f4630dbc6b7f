"""``n_jobs`` -> number of threads, in one place for every module.

fastml's compiled loops are OpenMP loops, and ``n_jobs`` means what it means in
scikit-learn's own OpenMP code (``sklearn.utils._openmp_helpers``):

* ``None`` (the default): every usable core. "Usable" honours, in this order,
  ``threadpoolctl.threadpool_limits`` (its OpenMP limit), the ``OMP_NUM_THREADS``
  environment variable (which may ask for more threads than cores, as in scikit-learn),
  and otherwise the CPUs this process may run on (CPU affinity) and the container's CPU
  quota (cgroups), counting physical cores as scikit-learn does (SMT siblings once).
  Inside a worker of ``joblib.Parallel`` / ``GridSearchCV(n_jobs=...)``
  with the loky or multiprocessing backend, joblib sets ``OMP_NUM_THREADS`` to
  ``cores // n_jobs`` in the worker, and Dask's nanny sets it to 1, so nested parallelism
  does not oversubscribe. Inside ``joblib.parallel_config(n_jobs=k)`` (or the older
  ``parallel_backend``), ``None`` means ``k``.
* ``-1``: the same as ``None``; ``-2``: one thread fewer, and so on (at least 1).
* a positive int (``True`` counts as 1, as ``isinstance(True, int)`` in scikit-learn's
  parameter validation): that many threads, even above a threadpoolctl or
  ``OMP_NUM_THREADS`` limit (an explicit ``n_jobs`` wins), but never more than the CPUs
  this process may use, SMT siblings included (more threads would only wait for each
  other).
* ``0`` (and ``False``): a ``ValueError``, as in scikit-learn wherever it uses ``n_jobs``
  (joblib: "n_jobs == 0 in Parallel has no meaning"); anything else not an integer: an
  ``InvalidParameterError`` (both a ``TypeError`` and a ``ValueError``).

Results never depend on the thread count: fastml's reductions are bitwise identical for
any number of threads.
"""
import functools
import numbers
import os
import threading
from contextlib import contextmanager

import joblib
from joblib.parallel import get_active_backend
from sklearn.utils._param_validation import InvalidParameterError

_controller = None
_controller_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _cpu_count(only_physical_cores=False):
    """The CPUs this process may use: CPU affinity and the cgroup quota (joblib reads
    both, ~25 us; they do not change while a process runs, so read once). With
    ``only_physical_cores``, SMT siblings count once, as scikit-learn's OpenMP default
    (more threads than cores "can slightly improve the performance in some cases, but can
    severely degrade performance other times", its documentation says)."""
    return max(1, int(joblib.cpu_count(only_physical_cores=only_physical_cores)))


def _omp_num_threads_env():
    """The first value of ``OMP_NUM_THREADS`` as a positive int, or None if unset or bad."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def max_usable_threads():
    """The number of threads ``n_jobs=None`` and ``n_jobs=-1`` resolve to here, now.

    ``omp_get_max_threads()`` (lowered by ``threadpoolctl.threadpool_limits`` and by
    ``OMP_NUM_THREADS``); if ``OMP_NUM_THREADS`` is not set, at most the physical cores
    this process may use (affinity, container quota), as scikit-learn. In a build without
    OpenMP the compiled loops run serially and this bounds the threads given to BLAS: the
    same cores, capped by ``OMP_NUM_THREADS``.
    """
    from fastml.utils._openmp import omp_max_threads, openmp_enabled

    env = _omp_num_threads_env()
    cores = _cpu_count(only_physical_cores=True)
    if not openmp_enabled():
        return max(1, min(cores, env) if env is not None else cores)
    n = omp_max_threads()
    if env is None:
        # without OMP_NUM_THREADS, omp_get_max_threads() is the number of logical CPUs
        # the runtime saw at start-up (it ignores cgroup quotas): cap it by the cores
        n = min(n, cores)
    return max(1, int(n))


def check_n_jobs(n_jobs):
    """Validate ``n_jobs`` (None or an int, not 0) and return it as None or a Python int.

    Raises
    ------
    InvalidParameterError
        (a ``TypeError`` and a ``ValueError``) if ``n_jobs`` is neither None nor an integer.
    ValueError
        If ``n_jobs`` is 0 (or False).
    """
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral):
        raise InvalidParameterError(
            f"n_jobs must be None or an int (the number of threads; None or -1 for every "
            f"usable core), got {n_jobs!r} of type {type(n_jobs).__name__}."
        )
    n_jobs = int(n_jobs)  # bool and numpy integers -> int
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use None or -1 for every usable core, or a "
            "positive number of threads."
        )
    return n_jobs


def effective_n_threads(n_jobs):
    """Resolve scikit-learn's ``n_jobs`` to a positive number of threads (see the module
    docstring for the rules)."""
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs is None:
        # an enclosing joblib.parallel_config(n_jobs=k) gives k; otherwise None stays
        # None: every usable core
        n_jobs = check_n_jobs(get_active_backend()[1])
    if n_jobs is None or n_jobs < 0:
        return max(1, max_usable_threads() + 1 + (n_jobs if n_jobs is not None else -1))
    return min(n_jobs, _cpu_count())


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
