"""Time one peer of one case in this (fresh) process and pickle (result, times).

    python -m fastml.benchmarks._worker CASE_ID PEER THREADS DATA_DIR QUICK REPEATS OUT
"""
import pickle
import sys
import time

from fastml.benchmarks._registry import AREAS, get_cases


def main(argv):
    case_id, peer_name, threads, data_dir, quick, repeats, out = argv
    threads, quick, repeats = int(threads), quick == "1", int(repeats)
    area = case_id.split(":", 1)[0]
    if area not in AREAS:
        raise SystemExit(f"unknown area in case id {case_id!r}")
    case = next(c for c in get_cases([area], quick=quick) if c.id == case_id)
    peer = next(p for p in case.peers if p.name == peer_name)
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
