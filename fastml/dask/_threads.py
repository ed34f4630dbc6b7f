"""Threads of fastml's OpenMP kernels inside Dask tasks.

A Dask worker runs up to ``nthreads`` tasks at once. Its nanny starts the worker process
with ``OMP_NUM_THREADS=1`` (the ``distributed.nanny.pre-spawn-environ`` setting), and
fastml caps every thread count at ``omp_get_max_threads()``, so without care every
fastml call in a worker would run on one thread whatever the worker has. Each task
therefore resolves its own thread count (below) and lifts OpenMP's limit for the calling
thread only (``omp_set_num_threads`` acts on the calling thread's setting, through
threadpoolctl) while the fastml call runs.

``n_jobs`` of the ``fastml.dask`` functions is the number of threads per task:

* ``None``: inside a Dask worker, the worker's threads shared among the tasks it is
  running at that moment (``nthreads // executing``, at least 1): a worker with 8 threads
  running 8 tasks gives each 1, a lone task (the end of a graph, a single big block)
  gets all 8. Outside a worker (the threaded or synchronous scheduler), 1: the threaded
  scheduler already runs as many tasks at once as there are cores;
* ``-1``: all the worker's threads (outside a worker: all usable cores);
* a positive int: that many threads (capped at the machine's cores).

While a task runs, the OpenMP limit of its thread is set to exactly that count (raised
above the nanny's 1, or lowered below the machine's cores) and ``joblib``'s
``parallel_config(n_jobs=count)`` is in force in that thread, so that code which resolves
``n_jobs=None`` itself (fastml's estimators: every usable core; scikit-learn's OpenMP
loops: ``omp_get_max_threads()``) gets the task's share too, never every core of the
machine once per running task.

Results never depend on the thread count (fastml's kernels guarantee it).
"""
import functools
import numbers
import threading
from contextlib import contextmanager

_lock = threading.Lock()


def check_n_jobs(n_jobs):
    """Validate ``n_jobs`` at the boundary (the resolution happens inside each task)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"n_jobs must be None or an int, got {n_jobs!r} of type {type(n_jobs).__name__}."
        )
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use None (the worker decides), a positive number "
            "of threads per task, or -1 for all of the worker's threads."
        )
    if n_jobs < -1:
        raise ValueError(
            f"n_jobs={n_jobs}: fastml.dask takes None, -1 or a positive number of threads "
            "per task."
        )
    return int(n_jobs)


def _current_worker():
    try:
        from distributed import get_worker
    except ImportError:  # pragma: no cover - dask without distributed
        return None
    try:
        return get_worker()
    except ValueError:  # not inside a worker task
        return None


@functools.lru_cache(maxsize=1)
def _cpu_count():
    import joblib

    return joblib.cpu_count(only_physical_cores=False)


def task_threads(n_jobs):
    """The number of threads this task gives fastml (see the module docstring)."""
    worker = _current_worker()
    if worker is not None:
        state = worker.state
        nthreads = max(1, int(state.nthreads))
        if n_jobs is None:
            running = max(1, int(state.executing_count))
            n = max(1, nthreads // running)
        elif n_jobs == -1:
            n = nthreads
        else:
            n = n_jobs
    elif n_jobs is None:
        n = 1
    elif n_jobs == -1:
        n = _cpu_count()
    else:
        n = n_jobs
    return max(1, min(int(n), _cpu_count()))


@functools.lru_cache(maxsize=1)
def _openmp_libraries():
    """threadpoolctl's controllers of the OpenMP runtimes loaded (fastml's among them)."""
    import fastml.metrics  # noqa: F401  (loads the OpenMP runtime fastml links)
    from threadpoolctl import ThreadpoolController

    return tuple(ThreadpoolController().select(user_api="openmp").lib_controllers)


@contextmanager
def _openmp_limit(n):
    """omp_set_num_threads(n) in the calling thread (each OpenMP runtime keeps that
    setting per thread), restored on exit; a few microseconds."""
    with _lock:
        libs = _openmp_libraries()
    old = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, o in zip(libs, old):
            lib.set_num_threads(o)


@contextmanager
def fastml_threads(n_jobs):
    """Resolve ``n_jobs`` for this task, set the calling thread's OpenMP limit to that
    count and let joblib's ``n_jobs=None`` mean it; yields the count to pass to fastml as
    ``n_jobs``."""
    import joblib

    from fastml.dask._compat import omp_max_threads, openmp_enabled

    n = task_threads(n_jobs)
    with joblib.parallel_config(n_jobs=n):
        if openmp_enabled() and omp_max_threads() != n:
            with _openmp_limit(n):
                yield n
        else:
            yield n
