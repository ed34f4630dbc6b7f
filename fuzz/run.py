"""Run the fuzz targets: ``python fuzz/run.py`` (every target, 60 s each, 2 at a time).

    python fuzz/run.py --seconds 600 --jobs 2            # the release bar: 10 min each
    python fuzz/run.py --seconds 30 fuzz_dtw fuzz_kernels cfuzz_pairwise
    python fuzz/run.py --smoke 200                       # no engine: seeded random bytes

Python targets are the ``fuzz_*.py`` files of this folder (see ``_common.py``), run by
atheris (libFuzzer). C targets are the ``c/cfuzz_*.c`` differential harnesses of the
kernels of ``csrc/`` (see ``c/build.py``), built into ``build/fuzz/`` with clang and
libFuzzer (``-fsanitize=fuzzer,address,undefined``); without clang they are reported as
not run. Each target runs in its own process with a per-target time budget; its corpus
is kept in ``fuzz/corpus/<target>/`` between runs and a crashing input is written to
``fuzz/artifacts/`` (reproduce: ``python fuzz/<target>.py fuzz/artifacts/<file>``, or
``build/fuzz/libfuzzer/<target> fuzz/artifacts/<file>``). A table of executions per
target is printed at the end; the exit code is 1 if any target found something.
``--smoke N`` needs no engine: N seeded random inputs per Python target in this process,
and per C target through the standalone driver built with gcc (or any C compiler) with
ASan and UBSan where the compiler has them.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def targets():
    """The Python (atheris) targets."""
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "fuzz_*.py")))


def _cbuild():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cfuzz_build",
                                                  os.path.join(HERE, "c", "build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def c_targets():
    """The C differential targets of c/ (the kernels of csrc/)."""
    return _cbuild().targets()


def _parse_runs(log):
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    if m:
        return int(m.group(1))
    done = re.findall(r"#(\d+)\s", log)
    return int(done[-1]) if done else 0


_CLANG = []


def run_c(name, seconds, rss_mb, timeout):
    """One C target under libFuzzer (built first); 'skipped' when there is no clang."""
    cb = _cbuild()
    if not _CLANG:
        _CLANG.append(cb.find_compiler("libfuzzer"))
    if _CLANG[0] is None:
        return dict(name=name, rc=0, runs=0, seconds=0.0, skipped=True,
                    tail="needs clang with libFuzzer (-fsanitize=fuzzer); "
                         "`python fuzz/run.py --smoke N` runs it without")
    corpus = os.path.join(HERE, "corpus", name)
    arts = os.path.join(HERE, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(arts, exist_ok=True)
    try:
        exe = cb.build(name, "libfuzzer", _CLANG[0])
    except RuntimeError as exc:
        return dict(name=name, rc=1, runs=0, seconds=0.0, tail=str(exc)[-3000:])
    cmd = [exe, corpus, f"-max_total_time={seconds}", f"-rss_limit_mb={rss_mb}", "-max_len=4096",
           f"-timeout={timeout}", "-print_final_stats=1", f"-artifact_prefix={arts}/{name}-"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    log = proc.stdout + proc.stderr
    with open(os.path.join(arts, name + ".log"), "w") as f:
        f.write(log)
    return dict(name=name, rc=proc.returncode, runs=_parse_runs(log), seconds=wall,
                tail="\n".join(log.strip().splitlines()[-25:]) if proc.returncode else "")


def smoke_c(names, n):
    """Every C target on n seeded random inputs through the standalone driver."""
    cb = _cbuild()
    cc = cb.find_compiler("standalone")
    sanitize = True
    if cc is None:
        cc = next((shutil.which(c) for c in (os.environ.get("CC", ""), "gcc", "cc", "clang")
                   if c and shutil.which(c)), None)
        sanitize = False
    if cc is None:
        print("C targets: no C compiler found, not run")
        return 0
    bad = 0
    for name in names:
        t0 = time.time()
        exe = cb.build(name, "standalone", cc, sanitize=sanitize)
        proc = subprocess.run([exe, f"-runs={n}", "-seed=1"], capture_output=True, text=True,
                              cwd=os.path.join(HERE, "..", "build", "fuzz"))
        if proc.returncode:
            bad += 1
            print(f"{name}: FOUND (exit {proc.returncode})\n{proc.stdout}{proc.stderr[-3000:]}")
        print(f"{name}: {n} inputs in {time.time() - t0:.1f} s"
              + ("" if sanitize else " (no sanitizers: this compiler lacks them)"))
    return 1 if bad else 0


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
    runs = _parse_runs(log)
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
    ap.add_argument("names", nargs="*", help="targets (default: all, Python and C)")
    ap.add_argument("--seconds", type=int, default=60, help="time budget per target")
    ap.add_argument("--jobs", type=int, default=2, help="targets run at once")
    ap.add_argument("--rss-mb", type=int, default=4096, help="memory limit per target")
    ap.add_argument("--timeout", type=int, default=30,
                    help="seconds one input may take before it counts as a hang")
    ap.add_argument("--smoke", type=int, default=0, metavar="N",
                    help="no fuzzing engine: N seeded random inputs per target")
    args = ap.parse_args(argv)
    py, cs = targets(), c_targets()
    names = args.names or py + cs
    unknown = sorted(set(names) - set(py) - set(cs))
    if unknown:
        ap.error(f"unknown target(s) {unknown}; choose from {py + cs}")
    py_names = [n for n in names if n in py]
    c_names = [n for n in names if n in cs]
    if args.smoke:
        rc = smoke(py_names, args.smoke) if py_names else 0
        return max(rc, smoke_c(c_names, args.smoke) if c_names else 0)

    def one(n):
        if n in cs:
            return run_c(n, args.seconds, args.rss_mb, args.timeout)
        return run_one(n, args.seconds, args.rss_mb, args.timeout)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(one, names))
    print("| target | executions | seconds | result |\n|---|---:|---:|---|")
    for r in results:
        result = ("not run: " + r["tail"] if r.get("skipped")
                  else "clean" if r["rc"] == 0 else "FOUND (exit %d)" % r["rc"])
        print(f"| {r['name']} | {r['runs']} | {r['seconds']:.0f} | {result} |")
    for r in results:
        if r["rc"]:
            print(f"\n--- {r['name']} ---\n{r['tail']}")
    return 1 if any(r["rc"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
