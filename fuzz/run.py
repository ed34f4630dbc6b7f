"""Run the fuzz targets: ``python fuzz/run.py`` (every target, 60 s each, 2 at a time).

    python fuzz/run.py --seconds 600 --jobs 2            # the release bar: 10 min each
    python fuzz/run.py --seconds 30 fuzz_dtw fuzz_kernels
    python fuzz/run.py --smoke 200                       # no atheris: seeded random bytes

Each target is a ``fuzz_*.py`` file of this folder (see ``_common.py``), run by atheris
(libFuzzer) in its own process with a per-target time budget; its corpus is kept in
``fuzz/corpus/<target>/`` between runs and a crashing input is written to
``fuzz/artifacts/`` (reproduce: ``python fuzz/<target>.py fuzz/artifacts/<file>``). A
table of executions per target is printed at the end; the exit code is 1 if any target
found something.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def targets():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "fuzz_*.py")))


def run_one(name, seconds, rss_mb, timeout):
    corpus = os.path.join(HERE, "corpus", name)
    arts = os.path.join(HERE, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(arts, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    cmd = [sys.executable, os.path.join(HERE, name + ".py"), corpus,
           f"-max_total_time={seconds}", f"-rss_limit_mb={rss_mb}", f"-timeout={timeout}",
           "-print_final_stats=1", f"-artifact_prefix={arts}/{name}-"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.time() - t0
    log = proc.stdout + proc.stderr
    with open(os.path.join(arts, name + ".log"), "w") as f:
        f.write(log)
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    runs = int(m.group(1)) if m else None
    if runs is None:
        done = re.findall(r"#(\d+)\s", log)
        runs = int(done[-1]) if done else 0
    return dict(name=name, rc=proc.returncode, runs=runs, seconds=wall,
                tail="\n".join(log.strip().splitlines()[-25:]) if proc.returncode else "")


def smoke(names, n):
    """Every target on n seeded random byte strings, in this process (no engine)."""
    import importlib.util
    import random

    sys.path.insert(0, HERE)
    bad = 0
    for name in names:
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        rnd = random.Random(name)
        t0 = time.time()
        for _ in range(n):
            data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
            import _common

            _common.LAST.clear()
            try:
                mod.TestOneInput(data)
            except Exception as exc:
                bad += 1
                print(f"{name}: {type(exc).__name__}: {exc}\n  input: {data.hex()}")
                import numpy as np

                with np.printoptions(threshold=50, edgeitems=3):
                    for fn, a, kw in _common.LAST:
                        print(f"  call {fn}{a!r:.2000} {kw!r:.300}")
                break
        print(f"{name}: {n} inputs in {time.time() - t0:.1f} s")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="targets (default: all)")
    ap.add_argument("--seconds", type=int, default=60, help="time budget per target")
    ap.add_argument("--jobs", type=int, default=2, help="targets run at once")
    ap.add_argument("--rss-mb", type=int, default=4096, help="memory limit per target")
    ap.add_argument("--timeout", type=int, default=30,
                    help="seconds one input may take before it counts as a hang")
    ap.add_argument("--smoke", type=int, default=0, metavar="N",
                    help="no fuzzing engine: N seeded random inputs per target")
    args = ap.parse_args(argv)
    names = args.names or targets()
    unknown = sorted(set(names) - set(targets()))
    if unknown:
        ap.error(f"unknown target(s) {unknown}; choose from {targets()}")
    if args.smoke:
        return smoke(names, args.smoke)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(lambda n: run_one(n, args.seconds, args.rss_mb, args.timeout),
                              names))
    print("| target | executions | seconds | result |\n|---|---:|---:|---|")
    for r in results:
        print(f"| {r['name']} | {r['runs']} | {r['seconds']:.0f} | "
              f"{'clean' if r['rc'] == 0 else 'FOUND (exit %d)' % r['rc']} |")
    for r in results:
        if r["rc"]:
            print(f"\n--- {r['name']} ---\n{r['tail']}")
    return 1 if any(r["rc"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
