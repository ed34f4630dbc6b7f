"""Data every task needs (a fitted index, labels, a fitted estimator): scattered to the
workers once under a distributed client (so it is never embedded in the task graph),
one graph key otherwise."""
import dask


def current_client():
    """The ``distributed.Client`` that ``compute()`` would use now, or None (threaded or
    synchronous scheduler, or a ``dask.config.set(scheduler=...)`` overriding a
    client)."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        return None
    from dask.base import get_scheduler

    client = getattr(get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


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
