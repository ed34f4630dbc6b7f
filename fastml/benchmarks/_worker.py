"""Peers that must run in their own process (``Peer.own_process``).

* ``python -m fastml.benchmarks._worker CASE_ID PEER THREADS DATA_DIR QUICK REPEATS OUT``
  times one peer of one case in this (fresh) process and pickles (result, times): used by
  ``fastml bench``.
* :func:`serve` is the entry point of a spawned process driven over a pipe: used by the
  pytest-benchmark suites in ``bench/``.
"""
import pickle
import sys
import time

from fastml.benchmarks._registry import AREAS, get_cases


def _find(case_id, peer_name, quick):
    area = case_id.split(":", 1)[0]
    if area not in AREAS:
        raise SystemExit(f"unknown area in case id {case_id!r}")
    case = next(c for c in get_cases([area], quick=quick) if c.id == case_id)
    return case, next(p for p in case.peers if p.name == peer_name)


def serve(conn, case_id, data_dir, quick, peer_name, n_threads):
    """Build the case's inputs, say "ready", then answer every "run" with (seconds
    measured here, result) until "stop"."""
    case, peer = _find(case_id, peer_name, quick)
    inp = case.make_inputs(data_dir, quick)
    conn.send("ready")
    while conn.recv() == "run":
        t0 = time.perf_counter()
        res = peer.run(inp, n_threads)
        conn.send((time.perf_counter() - t0, res))


def main(argv):
    case_id, peer_name, threads, data_dir, quick, repeats, out = argv
    threads, quick, repeats = int(threads), quick == "1", int(repeats)
    case, peer = _find(case_id, peer_name, quick)
    inp = case.make_inputs(data_dir or None, quick)
    t0 = time.perf_counter()
    result = peer.run(inp, threads)
    first = time.perf_counter() - t0
    if repeats <= 0:
        repeats = 1 if first > 5 else (3 if first > 0.5 else 7)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        peer.run(inp, threads)
        times.append(time.perf_counter() - t0)
    with open(out, "wb") as f:
        pickle.dump({"result": result, "times": times}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
