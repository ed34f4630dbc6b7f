"""pytest-benchmark over the registry in fastml.benchmarks.

Each bench file sets ``AREA = "<area>"`` and has one test taking ``case_impl`` and
``run_case``; every registered case of that area is run once for fastml and once per
available peer, in the same run, grouped by case, and the results are checked for
agreement. Options: --fastml-data DIR, --fastml-quick, --fastml-threads N (default 2). The SIMD
level of every row is recorded (extra_info["simd"]); cap it with the environment variable
FASTML_CPU (e.g. ``FASTML_CPU=avx2 pytest bench/...``).
Example:
    pytest bench/test_kernels.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name
"""
import os
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_RESULTS = {}
_INPUTS = {}


def _simd():
    """The instruction-set level of fastml's kernels in this process (set FASTML_CPU in the
    environment of pytest to cap it: the level is fixed when fastml loads)."""
    from fastml.utils._openmp import simd_path

    return simd_path()


def pytest_report_header(config):
    from fastml._cpu import describe_simd
    from fastml.benchmarks._runner import cpu_model

    return [f"fastml SIMD: {describe_simd()}; CPU: {cpu_model()}"]


def pytest_addoption(parser):
    g = parser.getgroup("fastml")
    g.addoption("--fastml-data", default=os.environ.get("FASTML_DATA") or os.path.normpath(
        os.path.join(_HERE, "..", "..", "shared", "data")), help="data directory")
    g.addoption("--fastml-quick", action="store_true", help="only the quick (small) cases")
    g.addoption("--fastml-threads", type=int, default=2, help="threads for every side")


def pytest_configure(config):
    # --benchmark-json bench_out/x.json: create bench_out/ now, not fail after every case ran
    path = config.getoption("benchmark_json", default=None)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)


def pytest_generate_tests(metafunc):
    if "case_impl" not in metafunc.fixturenames:
        return
    from fastml.benchmarks import get_cases

    area = getattr(metafunc.module, "AREA")
    quick = metafunc.config.getoption("--fastml-quick")
    params, ids = [], []
    for case in get_cases([area], quick=quick):
        for impl in ["fastml"] + [p.name for p in case.peers]:
            params.append((case, impl))
            ids.append(f"{case.task}[{case.shape_for(quick)},{case.dtype}]-{impl}")
    metafunc.parametrize("case_impl", params, ids=ids)


@pytest.fixture
def run_case(benchmark, request):
    cfg = request.config
    data_dir = cfg.getoption("--fastml-data")
    threads = cfg.getoption("--fastml-threads")

    def run(case, impl):
        key = case.id
        quick = cfg.getoption("--fastml-quick")
        peer = None if impl == "fastml" else next(p for p in case.peers if p.name == impl)
        # the group names the shape actually run (the quick one with --fastml-quick)
        benchmark.group = f"{case.area}:{case.task}[{case.shape_for(quick)},{case.dtype}]"
        benchmark.extra_info.update(impl=impl, threads=threads, shape=case.shape_for(quick),
                                    dtype=case.dtype, simd=_simd())
        if peer is not None and peer.own_process:
            if not peer.available():
                pytest.skip(f"peer {impl} not installed ({', '.join(peer.requires)})")
            result = _bench_own_process(case, peer, data_dir, quick, threads, benchmark)
            _check(case, impl, result, benchmark)
            return
        if key not in _INPUTS:
            _INPUTS.clear()  # keep one case's data in memory at a time
            _INPUTS[key] = case.make_inputs(data_dir, cfg.getoption("--fastml-quick"))
        inp = _INPUTS[key]
        if peer is None:
            fn = case.run
        else:
            if not peer.available():
                pytest.skip(f"peer {impl} not installed ({', '.join(peer.requires)})")
            fn = peer.run
        t0 = time.perf_counter()
        result = fn(inp, threads)  # warm-up, also the result that is checked
        first = time.perf_counter() - t0
        rounds = 1 if first > 3 else (3 if first > 0.5 else 7)
        if case.flops is not None:
            benchmark.extra_info["flops"] = case.flops(inp)
        benchmark.pedantic(fn, args=(inp, threads), rounds=rounds, iterations=1)
        _check(case, impl, result, benchmark)

    return run


def _check(case, impl, result, benchmark):
    """Keep fastml's result; compare each peer's with it (fastml runs first)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], float):
        benchmark.extra_info["accuracy"] = result[1]  # classification cases
    if impl == "fastml":
        _RESULTS[case.id] = result
    elif case.id in _RESULTS:
        agree = case.check(_RESULTS[case.id], result)
        benchmark.extra_info["agree"] = agree
        assert agree, f"{case.id}: fastml and {impl} disagree"


def _bench_own_process(case, peer, data_dir, quick, threads, benchmark):
    """Time a peer in a spawned process that loads the inputs before timing starts. The
    time measured inside it is kept in extra_info["inner_seconds"]; the benchmark's own
    time adds only the pipe round trip."""
    import multiprocessing as mp

    from fastml.benchmarks._worker import serve

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(child, case.id, data_dir, quick, peer.name,
                                           threads))
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
