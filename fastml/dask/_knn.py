"""Exact k nearest neighbours on Dask: local top-k per (query block, train block), merged
by a tree reduction.

Every task (T_i, X_j) runs fastml's single-machine search on its two blocks and returns
the k' = min(k, |X_j|) nearest rows of X_j with their global indices (offset of X_j
added). The partial lists of one query block are merged ``split_every`` at a time:
concatenate, order each row by (distance, index), keep the first k, the same rule as the
single-machine search and as the shard merge of faiss's ``IndexShards`` / ``ResultHeap``.
Since the global k nearest of a row are among the union of the local k nearest of the
shards, and both sides order by (distance, index), the result equals the single-machine
one: bitwise for the indices when the distances are computed identically.

The Euclidean distance (and Minkowski with p=2) is searched and merged as its square,
the value the single-machine search ranks by, and rooted at the end, so that two squares
that round to the same root keep the order they have on one machine.
"""
import operator

import numpy as np

from fastml.dask._compat import (
    check_fit_data,
    is_quasi_minkowski,
    quasi_minkowski_kneighbors,
    single_kneighbors,
)
from fastml.dask._threads import fastml_threads


def _check_finite(A, name):
    """NaN / infinity in a numeric block, named as the caller's argument."""
    if A.dtype.kind == "f" and not np.isfinite(A).all():
        what = ("NaN" if np.isnan(A).any() else
                f"infinity or a value too large for dtype('{A.dtype.name}')")
        raise ValueError(f"Input {name} contains {what}.")


def local_knn(Tb, Xb, k, offset, metric, params, n_jobs, dtype, checks=(None, None)):
    """The min(k, len(Xb)) nearest rows of Xb for each row of Tb, indices global.

    ``checks`` = (name of the queries, name of the train items), or None for a side
    validated before: its block is checked here and errors name it as the caller did
    (``T``, ``X``, ``T.partitions[2]``)."""
    qname, xname = checks
    if not isinstance(Tb, np.ndarray):
        Tb = list(Tb)  # a bag partition
        if qname is not None and Tb:
            check_fit_data(Tb, metric, params, name=qname)
    elif qname is not None:
        _check_finite(Tb, qname)
    if xname is not None and isinstance(Xb, np.ndarray):
        _check_finite(Xb, xname)
    ni, mj = len(Tb), len(Xb)
    kk = min(k, mj)
    if ni == 0 or kk == 0:
        return np.empty((ni, 0), dtype=dtype), np.empty((ni, 0), dtype=np.int64)
    if is_quasi_minkowski(metric, params):
        dist, ind = quasi_minkowski_kneighbors(Tb, Xb, kk, params["p"])
    else:
        with fastml_threads(n_jobs) as n:
            dist, ind = single_kneighbors(Tb, Xb, kk, metric, n_jobs=n, **params)
    if offset:
        ind = ind + offset
    return dist.astype(dtype, copy=False), ind


def merge_topk(parts, k):
    """Merge partial (dist, ind) lists of the same query rows: the first k by (distance,
    index). Empty partial lists (from empty train blocks) are skipped."""
    parts = [p for p in parts if p[0].shape[1] > 0] or parts[:1]
    if len(parts) == 1 and parts[0][0].shape[1] <= k:
        return parts[0]
    D = np.concatenate([p[0] for p in parts], axis=1)
    Ind = np.concatenate([p[1] for p in parts], axis=1)
    order = np.lexsort((Ind, D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), np.take_along_axis(Ind, order, axis=1)


def _merge_task(k, *parts):
    return merge_topk(list(parts), k)


def finish(pair, k, root, row0, drop_self):
    """Last step of a query block: the root of squared distances; with ``drop_self``
    (the queries are the training rows, row ``row0 + a`` is training row ``row0 + a``),
    each row's own index is removed from its k + 1 neighbours (the first one when it is
    not among them because more duplicates tie at distance 0), as in fastml.neighbors
    and scikit-learn."""
    dist, ind = pair
    if dist.shape[0] == 0:  # an empty query block
        return np.empty((0, k), dtype=dist.dtype), np.empty((0, k), dtype=np.int64)
    if drop_self:
        n = ind.shape[0]
        is_self = ind == (row0 + np.arange(n))[:, None]
        drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), 0)
        keep = np.ones(ind.shape, dtype=bool)
        keep[np.arange(n), drop] = False
        ind = ind[keep].reshape(n, k)
        dist = dist[keep].reshape(n, k)
    if root == 2.0:
        dist = np.sqrt(dist)
    return dist, ind


def tree_merge(parts, k, split_every):
    """Reduce a list of Delayed partial results to one, ``split_every`` at a time."""
    import dask

    merge = dask.delayed(_merge_task, pure=True)
    while len(parts) > 1:
        parts = [merge(k, *parts[s:s + split_every]) if len(parts[s:s + split_every]) > 1
                 else parts[s] for s in range(0, len(parts), split_every)]
    return parts[0]


def search_metric(name, params):
    """(metric, params, root) the blocks search with: squares for the Euclidean family."""
    if name == "euclidean" or (name == "minkowski" and params.get("p") == 2):
        return "sqeuclidean", {}, 2.0
    return name, params, 1.0


def knn_blocks(query_blocks, train_blocks, k, metric, params, n_jobs, dtype, split_every,
               drop_self=False, checks=None):
    """Delayed (dist, ind) per query block.

    ``query_blocks``: [(delayed block, n_rows, row0)]; ``train_blocks``: [(delayed
    block, offset)]. The k nearest of every query row over all train blocks.
    ``checks``: per query block, the (queries, train) names of :func:`local_knn`.
    """
    import dask

    local = dask.delayed(local_knn, pure=True, nout=None)
    fin = dask.delayed(finish, pure=True)
    smetric, sparams, root = search_metric(metric, params)
    kk = k + 1 if drop_self else k
    out = []
    for i, (qb, _, row0) in enumerate(query_blocks):
        names = checks[i] if checks is not None else (None, None)
        parts = [local(qb, xb, kk, off, smetric, sparams, n_jobs, dtype, names)
                 for xb, off in train_blocks]
        out.append(fin(tree_merge(parts, kk, split_every), k, root, row0, drop_self))
    return out


def assemble(pairs, sizes, k, dtype):
    """Dask arrays (dist, ind) from Delayed pairs with the given row counts (None:
    unknown)."""
    import dask
    import dask.array as da

    get = dask.delayed(operator.getitem, pure=True)
    ds, is_ = [], []
    for pair, size in zip(pairs, sizes):
        shape = (np.nan if size is None else size, k)
        ds.append(da.from_delayed(get(pair, 0), shape=shape, dtype=dtype))
        is_.append(da.from_delayed(get(pair, 1), shape=shape, dtype=np.int64))
    return da.concatenate(ds, axis=0), da.concatenate(is_, axis=0)
