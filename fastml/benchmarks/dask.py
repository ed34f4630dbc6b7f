"""Benchmark cases: fastml.dask on a local Dask cluster vs single-machine fastml, at equal
resources (2 threads in total on each side).

* exact k-NN, k=5, Euclidean, MNIST 10000 test rows against 60000 training rows
  (``fastml.dask.kneighbors``; train in 4 row blocks, queries in 4);
* a chi-squared kernel K(T, X), MNIST 5000 x 2000, used as a kernel model predicts:
  ``K @ w`` (so that the timing is the kernel, not a 40 MB transfer of K to the client);
  T in 8 row blocks, X in one block replicated on every worker.

Peers (each a ``distributed.LocalCluster`` of worker processes, started once, data
persisted on the workers before timing; the time is that of ``compute()`` from the
client, scheduling and the gathering of the result included):

* ``dask 1x2``: one worker with 2 threads;
* ``dask 2x1``: two workers with 1 thread each.

In the report, "speedup" is peer time / fastml time: the Dask path's overhead at equal
resources is ``speedup - 1``. Measured figures are in ``docs/dask.md``.
"""
import atexit
import logging

import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register

K = 5
_CLIENTS = {}


def _client(n_workers, threads):
    key = (n_workers, threads)
    if key not in _CLIENTS:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads,
                               processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)

        def close(client=client, cluster=cluster):
            client.close()
            cluster.close()

        atexit.register(close)
        _CLIENTS[key] = client
    return _CLIENTS[key]


def _persisted(inp, client, key, names, row_chunks, replicate=()):
    """The inputs as dask arrays persisted on this cluster's workers (once per inputs);
    the ``replicate`` ones are copied to every worker (an operand every task needs: else
    the scheduler runs every task where its one copy is, on one worker)."""
    import dask.array as da

    import warnings

    cache = inp.setdefault("_dask", {})
    if (key, names) not in cache:
        with warnings.catch_warnings():  # "large graph": the data are sent once, here
            warnings.simplefilter("ignore", UserWarning)
            arrays = [client.persist(da.from_array(inp[n], chunks=(c, -1)))
                      for n, c in zip(names, row_chunks)]
        client.gather([client.compute(a.sum()) for a in arrays])  # on the workers now
        for n, a in zip(names, arrays):
            if n in replicate:
                client.replicate(a)
        cache[(key, names)] = arrays
    return cache[(key, names)]


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
def _mnist_knn(data_dir, quick):
    nt, ns = (3000, 300) if quick else (60000, 10000)
    X, _ = mnist_pixels(data_dir, nt, "train", dtype=np.float32)
    T, _ = mnist_pixels(data_dir, ns, "test", dtype=np.float32)
    return {"X": X, "T": T, "chunks": (-(-ns // 4), -(-nt // 4))}


def _mnist_chi2(data_dir, quick):
    ns, nt = (1000, 400) if quick else (5000, 2000)
    X, _ = mnist_pixels(data_dir, nt, "train", dtype=np.float32)
    T, _ = mnist_pixels(data_dir, ns, "test", dtype=np.float32)
    w = np.random.default_rng(0).standard_normal(nt).astype(np.float32)
    return {"X": X, "T": T, "w": w, "chunks": (-(-ns // 8), nt)}


# ----------------------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------------------
def _single_knn(inp, n_threads):
    from fastml.metrics.distance import kneighbors

    return kneighbors(inp["T"], inp["X"], K, "euclidean", n_jobs=n_threads)


def _dask_knn(n_workers, threads):
    def run(inp, n_threads):
        import dask

        import fastml.dask as fd

        client = _client(n_workers, threads)
        T, X = _persisted(inp, client, (n_workers, threads), ("T", "X"), inp["chunks"])
        with client.as_current():
            return dask.compute(*fd.kneighbors(T, X, K, metric="euclidean"))

    return run


def _single_chi2(inp, n_threads):
    from fastml.metrics import chi2_kernel

    return chi2_kernel(inp["T"], inp["X"], gamma=0.5, n_jobs=n_threads) @ inp["w"]


def _dask_chi2(n_workers, threads):
    def run(inp, n_threads):
        import fastml.dask as fd

        client = _client(n_workers, threads)
        T, X = _persisted(inp, client, (n_workers, threads), ("T", "X"), inp["chunks"],
                          replicate=("X",))
        with client.as_current():
            return (fd.chi2_kernel(T, X, gamma=0.5) @ inp["w"]).compute()

    return run


def _same_knn(a, b):
    return bool(np.array_equal(a[1], b[1]) and np.allclose(a[0], b[0], rtol=1e-5))


def _close(a, b):
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-3))


def _peers(make):
    req = ("dask", "distributed")
    return (Peer("dask 1x2", make(1, 2), requires=req),
            Peer("dask 2x1", make(2, 1), requires=req))


register(Case("dask", "kneighbors k=5 euclidean (MNIST)", "10000x60000", "float32",
              _mnist_knn, _single_knn, _peers(_dask_knn), check=_same_knn, quick=True,
              quick_shape="300x3000"))
register(Case("dask", "chi2 kernel K(T,X) @ w (MNIST)", "5000x2000", "float32",
              _mnist_chi2, _single_chi2, _peers(_dask_chi2), check=_close, quick=True,
              quick_shape="1000x400"))
