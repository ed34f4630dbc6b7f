"""Training data and fitted models are not copied into the task graphs: persisted or
scattered under a client, a single key otherwise."""
import pickle

import cloudpickle
import dask.array as da
import numpy as np

import fastml.dask as fd
from fastml.kernel_ridge import KernelRidge


def _graph_bytes(*collections):
    graph = {}
    for c in collections:
        graph.update(dict(c.__dask_graph__()))
    return len(cloudpickle.dumps(graph))


def test_fitted_data_not_in_graph(client):
    rng = np.random.default_rng(0)
    X = rng.random((4000, 50))  # 1.6 MB
    T = rng.random((30, 50))
    y = rng.integers(0, 3, 4000)
    Td = da.from_array(T, chunks=10)
    clf = fd.KNeighborsClassifier(3).fit(da.from_array(X, chunks=(500, 50)), y)
    dist, ind = clf.kneighbors(Td)
    pred = clf.predict(Td)
    assert _graph_bytes(dist, ind, pred) < X.nbytes / 20
    names = [f"name{i:06d}" for i in range(6000)]  # ~70 kB of strings
    nn = fd.NearestNeighbors(2, metric="levenshtein").fit(names)
    d, i = nn.kneighbors(["name000017", "nam000018x"])
    assert _graph_bytes(d, i) < len(pickle.dumps(names)) / 20
    d, i = d.compute(), i.compute()
    assert i[0, 0] == 17 and d[0, 0] == 0


def test_estimator_enters_graph_once(sync):
    rng = np.random.default_rng(0)
    X, y = rng.random((2000, 30)), rng.random(2000)
    model = fd.ParallelPostFit(KernelRidge(kernel="rbf", alpha=1.0)).fit(X, y)
    size = len(pickle.dumps(model.estimator_))
    T = da.from_array(rng.random((200, 30)), chunks=10)  # 20 blocks
    pred = model.predict(T)
    assert _graph_bytes(pred) < 2 * size + 200 * 30 * 8 * 2
