"""k nearest neighbours and distance matrices vs scikit-learn, faiss and rapidfuzz (cases:
fastml.benchmarks.neighbors).

    pytest bench/test_neighbors.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name [--fastml-quick]

fastml and every available peer run in the same pytest run, grouped by case, all with
the same thread count. Peers marked ``own_process`` (faiss: importing it makes
scikit-learn's kNN single-threaded) run in a spawned process that loads the inputs
before timing starts; the time measured inside that process is kept in extra_info
(``inner_seconds``), the benchmark time adds only the pipe round trip.
"""
import importlib.util
import multiprocessing as mp
import time

import pytest

AREA = "neighbors"
_RESULTS = {}
_INPUTS = {}


def test_bench(case_impl, benchmark, request):
    case, impl = case_impl
    cfg = request.config
    data_dir = cfg.getoption("--fastml-data")
    quick = cfg.getoption("--fastml-quick")
    threads = cfg.getoption("--fastml-threads")
    benchmark.group = case.id
    benchmark.extra_info.update(impl=impl, threads=threads, shape=case.shape_for(quick),
                                dtype=case.dtype)
    peer = None if impl == "fastml" else next(p for p in case.peers if p.name == impl)
    if peer is not None and peer.own_process:
        result = _bench_own_process(case, peer, data_dir, quick, threads, benchmark)
    else:
        if case.id not in _INPUTS:
            _INPUTS.clear()
            _INPUTS[case.id] = case.make_inputs(data_dir, quick)
        inp = _INPUTS[case.id]
        if peer is not None and not peer.available():
            pytest.skip(f"peer {impl} not installed ({', '.join(peer.requires)})")
        fn = case.run if peer is None else peer.run
        t0 = time.perf_counter()
        result = fn(inp, threads)  # warm-up; also the result that is checked
        first = time.perf_counter() - t0
        rounds = 1 if first > 3 else (3 if first > 0.3 else 7)
        benchmark.pedantic(fn, args=(inp, threads), rounds=rounds, iterations=1)
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], float):
        benchmark.extra_info["accuracy"] = result[1]  # classification cases
    if peer is None:
        _RESULTS[case.id] = result
    elif case.id in _RESULTS:
        agree = case.check(_RESULTS[case.id], result)
        benchmark.extra_info["agree"] = agree
        assert agree, f"{case.id}: fastml and {impl} disagree"


def _bench_own_process(case, peer, data_dir, quick, threads, benchmark):
    if any(importlib.util.find_spec(m) is None for m in peer.requires):
        pytest.skip(f"peer {peer.name} not installed ({', '.join(peer.requires)})")
    from fastml.benchmarks.neighbors import peer_worker

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=peer_worker,
                       args=(child, case.id, data_dir, quick, peer.name, threads))
    proc.start()
    inner = []
    try:
        assert parent.recv() == "ready"

        def run():
            parent.send("run")
            t, res = parent.recv()
            inner.append(t)
            return res

        t0 = time.perf_counter()
        result = run()  # warm-up in the worker
        first = time.perf_counter() - t0
        rounds = 1 if first > 3 else (3 if first > 0.3 else 7)
        benchmark.pedantic(run, rounds=rounds, iterations=1)
        benchmark.extra_info["inner_seconds"] = min(inner[1:])
        benchmark.extra_info["own_process"] = True
    finally:
        parent.send("stop")
        proc.join(60)
    return result
