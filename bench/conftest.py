"""pytest-benchmark over the registry in fastml.benchmarks.

Each bench file sets ``AREA = "<area>"`` and has one test taking ``case_impl`` and
``run_case``; every registered case of that area is run once for fastml and once per
available peer, in the same run, grouped by case, and the results are checked for
agreement. Options: --fastml-data DIR, --fastml-quick, --fastml-threads N (default 2). The SIMD
level of every row is recorded (extra_info["simd"]); cap it with the environment variable
FASTML_CPU (e.g. ``FASTML_CPU=avx2 pytest bench/...``): the peers are then capped too (their
switches are put in the environment before any of them loads, see
fastml/benchmarks/_caps.py), and the JSON's machine_info says which could not be.
Example:
    pytest bench/test_kernels.py --benchmark-only --fastml-threads 2 \
        --benchmark-columns=min,median,rounds --benchmark-sort=name
"""
import os
import time

import pytest

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
    g.addoption("--fastml-data", default=None, metavar="DIR",
                help="folder holding mnist/ and sms_spam/ (default: the data home, "
                     "$FASTML_DATA else ~/fastml_data; never downloads: cases whose files "
                     "are absent run on synthetic stand-ins of the same shapes)")
    g.addoption("--fastml-quick", action="store_true", help="only the quick (small) cases")
    g.addoption("--fastml-threads", type=int, default=2, help="threads for every side")


_PEER_LIBRARIES = ("numpy", "torch", "faiss", "sklearnex", "daal4py", "rapidfuzz", "scipy")


def _cap_peers():
    """Under FASTML_CPU=LEVEL put every peer's switch in the environment before numpy,
    torch, faiss, ... load (this runs at configure time, before the bench files are
    collected). The switches are worked out in a child process, since importing fastml
    here would load numpy (and its BLAS) before they are set. Returns the level, or None
    when fastml is not capped."""
    import json
    import subprocess
    import sys
    import warnings

    level = os.environ.get("FASTML_CPU", "").lower() or None
    if level is None:
        return None
    code = ("import json, sys; from fastml.benchmarks._caps import peer_env; "
            "print(json.dumps(peer_env(sys.argv[1])))")
    proc = subprocess.run([sys.executable, "-c", code, level], capture_output=True,
                          text=True)
    if proc.returncode != 0:  # e.g. an unknown level: importing fastml says why
        raise pytest.UsageError(proc.stderr.strip().splitlines()[-1])
    env = json.loads(proc.stdout.strip().splitlines()[-1])
    if all(os.environ.get(k) == v for k, v in env.items()):
        return level
    loaded = sorted(m for m in _PEER_LIBRARIES if m in sys.modules)
    os.environ.update(env)
    if loaded:
        warnings.warn(f"FASTML_CPU={level}: {', '.join(loaded)} loaded before the peers' "
                      "caps could be set; set them in the environment of pytest (see "
                      "fastml/benchmarks/_caps.py) or use `fastml bench --cpu`",
                      RuntimeWarning, stacklevel=2)
    return level


def pytest_configure(config):
    config._fastml_cap = _cap_peers()
    # --benchmark-json bench_out/x.json: pytest-benchmark >= 5.3 writes to the path at the
    # end of the session (create its folder now, not fail after every case ran); older
    # versions open the file while parsing the command line (an open file object here:
    # its folder must exist before pytest starts, as the README's command makes sure)
    path = config.getoption("benchmark_json", default=None)
    if path is not None and not hasattr(path, "write"):
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)


def pytest_benchmark_update_machine_info(config, machine_info):
    """The JSON names fastml's SIMD level, the threads and, when capped, what each peer
    library really ran at."""
    from fastml._cpu import describe_simd

    info = {"simd": describe_simd(), "threads": config.getoption("--fastml-threads"),
            "cpu_cap": getattr(config, "_fastml_cap", None)}
    if info["cpu_cap"]:
        from fastml.benchmarks import _caps

        peers = list(getattr(config, "_fastml_peers", {}).values())
        info["peer_caps"] = _caps.check_caps(info["cpu_cap"], _caps.libraries_of(peers))
    machine_info["fastml"] = info


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
        if peer is not None:  # the peers this session ran (their caps are checked at the end)
            if not hasattr(cfg, "_fastml_peers"):
                cfg._fastml_peers = {}
            cfg._fastml_peers[peer.name] = peer
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
