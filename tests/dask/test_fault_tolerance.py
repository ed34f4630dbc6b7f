"""A worker killed in the middle of a k-NN or kernel computation: the scheduler recomputes
the lost pieces from the graph, and the result loses or duplicates nothing.

(``client.restart()`` is the same event for every worker at once; it takes ~10 s here, so
the killed single worker process stands for both.)"""
import os
import signal
import time

import dask.array as da
import numpy as np
import pytest

import fastml.dask as fd
from fastml import metrics as M
from fastml.metrics.distance import kneighbors as single_kneighbors


def _n_in_memory(dask_scheduler):
    return sum(ts.state == "memory" for ts in dask_scheduler.tasks.values())


def _kill_one_worker_when(client, futures, min_done, timeout=60):
    """SIGKILL one worker process once ``min_done`` tasks have finished (and before the
    result is complete); returns True if the kill happened mid-computation."""
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    t0 = time.monotonic()
    while client.run_on_scheduler(_n_in_memory) < min_done:
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.005)
    mid = not all(f.done() for f in futures)
    os.kill(pids[victim], signal.SIGKILL)
    return mid


@pytest.fixture
def recovering_client(cluster_client):
    yield cluster_client
    # the nanny restarts the killed worker; later tests want both back
    cluster_client.wait_for_workers(2, timeout=60)


def test_worker_killed_during_kneighbors(recovering_client):
    client = recovering_client
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, (1200, 24)).astype(np.float64)  # many exact ties
    T = rng.integers(0, 4, (400, 24)).astype(np.float64)
    Td, Xd = da.from_array(T, chunks=(40, 24)), da.from_array(X, chunks=(240, 24))
    with client.as_current():
        dist, ind = fd.kneighbors(Td, Xd, 10, metric="minkowski", p=3, split_every=3)
        kern = fd.chi2_kernel(Td, Xd[:300])
        futures = client.compute([dist, ind, kern])
        mid = _kill_one_worker_when(client, futures, min_done=25)
        d, i, K = client.gather(futures)
    if not mid:
        pytest.skip("the computation finished before the worker could be killed")
    d1, i1 = single_kneighbors(T, X, 10, "minkowski", p=3)
    assert np.array_equal(i, i1)
    np.testing.assert_allclose(d, d1, rtol=1e-14)
    np.testing.assert_allclose(K, M.chi2_kernel(T, X[:300]), rtol=1e-13)
