"""Fixtures of the fastml.dask tests: one process-based LocalCluster for the whole
directory (two single-threaded worker processes: every task argument and result is
pickled, as on a real cluster), one in-process client, and Dask's local schedulers."""
import contextlib

import numpy as np
import pytest

dask = pytest.importorskip("dask")
pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def inproc_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=":0", silence_logs=40)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@contextlib.contextmanager
def _use(kind, request):
    if kind in ("sync", "threads"):
        with dask.config.set(scheduler=kind):
            yield None
        return
    client = request.getfixturevalue("cluster_client" if kind == "cluster"
                                     else "inproc_client")
    with client.as_current():
        yield client


@pytest.fixture(params=["sync", "threads", "inproc", "cluster"])
def scheduler(request):
    """Runs the test under each of Dask's local schedulers and both clients."""
    with _use(request.param, request) as client:
        yield request.param, client


@pytest.fixture
def client(request):
    """The process-based cluster's client, current for the test."""
    with _use("cluster", request) as c:
        yield c


@pytest.fixture
def sync():
    with dask.config.set(scheduler="sync"):
        yield


def _readonly(A):
    A = np.array(A, copy=True)
    A.setflags(write=False)
    return A


@pytest.fixture
def readonly():
    """A function returning a read-only copy of an array."""
    return _readonly
