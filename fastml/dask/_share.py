"""Data every task needs (a fitted index, labels, a fitted estimator): scattered to the
workers once under a distributed client (so it is never embedded in the task graph),
one graph key otherwise."""
import dask


def current_client():
    """The active ``distributed.Client``, or None (threaded / synchronous scheduler)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover
        return None
    try:
        client = default_client()
    except ValueError:
        return None
    if getattr(client, "status", "running") not in ("running", "connecting", "newly-created"):
        return None
    return client


def share(obj):
    """A handle on ``obj`` to pass to ``dask.delayed`` calls: a Future replicated on every
    worker under a distributed client, else a Delayed holding it (one key)."""
    client = current_client()
    if client is not None:
        # a list is scattered item by item: wrap obj in a one-item list
        return client.scatter([obj], broadcast=True, hash=False)[0]
    return dask.delayed(obj, pure=True, traverse=False)


def persist_array(X):
    """Persist a dask array (its blocks live on the workers; graphs built from it refer to
    them, never embed them)."""
    return X.persist()
