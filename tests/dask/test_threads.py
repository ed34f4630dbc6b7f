"""Thread counts of fastml's kernels inside Dask tasks (fastml.dask._threads)."""
import os

import dask
import dask.array as da
import numpy as np
import pytest

import fastml.dask as fd
from fastml.dask._threads import check_n_jobs, fastml_threads, task_threads
from fastml.utils import effective_n_threads

N_CPUS = os.cpu_count() or 1


def _in_worker(n_jobs):
    """(OMP_NUM_THREADS of the worker process, omp_get_max_threads() before, the count
    fastml.dask resolves, fastml's effective thread count inside the block)."""
    from fastml.dask._compat import omp_max_threads

    before = omp_max_threads()
    with fastml_threads(n_jobs) as n:
        inside = effective_n_threads(n)
    return os.environ.get("OMP_NUM_THREADS"), before, n, inside, omp_max_threads()


def test_nanny_sets_one_thread_and_it_is_lifted(cluster_client):
    if N_CPUS < 2:
        pytest.skip("needs 2 CPUs")
    out = cluster_client.run(_in_worker, 2)
    assert len(out) == 2
    for env, before, n, inside, after in out.values():
        # Dask's nanny starts workers with OMP_NUM_THREADS=1 ...
        assert env == "1" and before == 1
        # ... and fastml.dask still gives fastml the threads asked for, then restores
        assert n == 2 and inside == 2 and after == 1
    # n_jobs=None in a worker with one thread: one thread
    for _, _, n, inside, _ in cluster_client.run(_in_worker, None).values():
        assert n == inside == 1


def _resolved(n_jobs):
    return task_threads(n_jobs)


def test_worker_threads_shared_among_running_tasks(inproc_client):
    """A lone task in a 2-thread worker gets both threads; -1 means all of them."""
    if N_CPUS < 2:
        pytest.skip("needs 2 CPUs")
    assert inproc_client.submit(_resolved, None, pure=False).result() == 2
    assert inproc_client.submit(_resolved, -1, pure=False).result() == 2
    assert inproc_client.submit(_resolved, 1, pure=False).result() == 1


def test_outside_a_worker():
    assert task_threads(None) == 1  # scikit-learn's None
    assert task_threads(-1) == N_CPUS
    assert task_threads(10 ** 6) == N_CPUS  # capped at the machine
    with pytest.raises(TypeError, match="n_jobs"):
        check_n_jobs("2")
    with pytest.raises(ValueError, match="n_jobs=-3"):
        check_n_jobs(-3)


def test_results_do_not_depend_on_threads(cluster_client):
    rng = np.random.default_rng(0)
    A = rng.random((120, 30))
    T = da.from_array(A, chunks=(40, 30))
    with cluster_client.as_current():
        runs = [dask.compute(fd.chi2_kernel(T, n_jobs=nj),
                             *fd.kneighbors(T, T, 5, metric="manhattan", n_jobs=nj))
                for nj in (None, 1, 2, -1)]
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            assert np.array_equal(a, b)


def _limits_in_task(n_jobs):
    """(the count resolved, omp_get_max_threads(), joblib's n_jobs=None, fastml's
    n_jobs=None) inside fastml_threads in this thread."""
    import joblib

    from fastml.dask._compat import omp_max_threads

    with fastml_threads(n_jobs) as n:
        return n, omp_max_threads(), joblib.effective_n_jobs(None), effective_n_threads(None)


def test_a_task_never_gets_every_core_implicitly():
    """Outside a worker (the threaded scheduler runs a task per core) a task's thread has
    an OpenMP limit of its share and n_jobs=None means that share, whatever n_jobs=None
    means elsewhere in fastml, so concurrent tasks do not oversubscribe the cores."""
    import dask

    with dask.config.set(scheduler="threads"):
        out = dask.compute(*[dask.delayed(_limits_in_task, pure=False)(None)
                             for _ in range(4)])
    assert all(o == (1, 1, 1, 1) for o in out)
    if N_CPUS >= 2:
        n, omp, jl, fm = _limits_in_task(2)
        assert n == omp == jl == fm == 2


class _RecordsThreads:
    """An estimator whose predict reports the threads n_jobs=None gets."""

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        from fastml.dask._compat import omp_max_threads

        return np.full(len(X), effective_n_threads(None) * 1000 + omp_max_threads())


def test_parallel_post_fit_estimators_get_the_task_threads():
    from sklearn.base import BaseEstimator

    class Est(_RecordsThreads, BaseEstimator):
        pass

    Xd = da.from_array(np.zeros((40, 2)), chunks=10)
    with dask.config.set(scheduler="threads"):
        got = fd.ParallelPostFit(Est(), n_jobs=1).fit(np.zeros((2, 2))).predict(Xd).compute()
    assert set(got.tolist()) == {1001}
