"""The ``fastml`` command line (also ``python -m fastml``): ``info``, ``bench``, ``demo``."""
import argparse
import os
import sys

from fastml._simd_levels import NAMES as LEVELS

_BENCH_DESCRIPTION = """\
Time fastml against the best peer for each task (scikit-learn, numpy, torch, faiss,
scikit-learn-intelex, rapidfuzz, ... whichever are installed), on the benchmark cases
registered in fastml.benchmarks. For each case fastml and each peer run in the same
process (faiss and scikit-learn-intelex in a process of their own), each side's repeats
back to back after a warm-up and, for short cases, a quarter second of untimed runs; the
results are checked for agreement, and each row records the min / median / max
seconds over its repeats and the speedup (peer median / fastml median). The table is
printed and written to OUT/report.md and OUT/report.json, with OUT/speedups.png when
matplotlib is installed. --cpu LEVEL caps the instruction set of fastml AND of the peers
(numpy, OpenBLAS, torch/oneDNN/MKL, faiss), checks what each peer really runs at and says
which could not be capped. The full shapes take tens of minutes on 2 cores; --quick takes
a few minutes. Exit status 1 if fastml and a peer disagree."""

_BENCH_EPILOG = """\
examples:
  fastml bench --quick --only kernels
  fastml bench --only neighbors --data ~/datasets --threads 2 --cpu avx2
  fastml bench --only svm --cases chi2
"""


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fastml")
    except PackageNotFoundError:  # a checkout used in place, not installed
        from fastml import __version__

        return __version__


def build_parser():
    p = argparse.ArgumentParser(prog="fastml", description="fastml: fast CPU kernels, "
                                "distances and a small CNN trainer for scikit-learn users.")
    p.add_argument("--version", action="version", version=f"fastml {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="print how fastml was built and what it will use",
                   description="Print the version, whether OpenMP was compiled in, the "
                   "threads n_jobs=None gives and why, the SIMD level detected and used, "
                   "and numpy's BLAS (the same as fastml.show_config()).")
    b = sub.add_parser("bench", help="time fastml against its peers (report + chart)",
                       description=_BENCH_DESCRIPTION, epilog=_BENCH_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--quick", action="store_true",
                   help="only the quick cases, on small shapes (a few minutes)")
    from fastml.benchmarks._registry import AREAS

    b.add_argument("--only", default=None, metavar="AREA,...",
                   help=f"comma-separated areas (default: all): {', '.join(AREAS)}")
    b.add_argument("--cases", default=None, metavar="REGEX",
                   help="only the cases whose id area:task[shape,dtype] matches this "
                   "regular expression (case-insensitive), e.g. 'chi2' or 'conv2d.*LeNet'")
    b.add_argument("--threads", type=int, default=2,
                   help="threads for fastml and every peer (default 2; -1: all cores)")
    b.add_argument("--data", default=None, metavar="DIR",
                   help="data directory holding mnist/ and sms_spam/ (default: the data "
                   "home, $FASTML_DATA else ~/fastml_data; never downloads: cases whose "
                   "files are absent run on synthetic stand-ins of the same shapes)")
    b.add_argument("--out", default="bench_out", metavar="DIR",
                   help="directory for report.md, report.json and speedups.png (created; "
                   "checked before anything runs; default ./bench_out)")
    b.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per case (default: 7, 3 or 1 by duration)")
    b.add_argument("--cpu", default=None, choices=("native",) + LEVELS,
                   help="instruction-set level for fastml AND the peers (default: FASTML_CPU "
                   "if set, else native: the best each library finds)")
    d = sub.add_parser(
        "demo", help="an end-to-end tour on scikit-learn's digits (offline)",
        description="An end-to-end tour: kernels, Kernel Ridge, k-NN and a small CNN on "
        "scikit-learn's digits, timed against scikit-learn (under a minute on 2 cores). "
        "With --data DIR holding mnist/ and sms_spam/ it adds MNIST k-NN, LeNet-5 on "
        "MNIST (2 epochs) and an SMS spam filter: several minutes on 2 cores. The "
        "learning-curve PNG needs matplotlib (pip install 'fastml[plot]').")
    d.add_argument("--data", default=None, metavar="DIR",
                   help="data directory with mnist/ and/or sms_spam/ (optional; only this "
                   "folder is searched; adds several minutes of training)")
    d.add_argument("--threads", type=int, default=-1, help="threads (n_jobs), default all")
    d.add_argument("--out", default="fastml_demo", metavar="DIR",
                   help="where the learning-curve PNG goes (default ./fastml_demo)")
    p._bench_parser, p._demo_parser = b, d
    return p


def _check_out_dir(parser, out):
    """The output directory must be creatable and writable: checked before any case runs,
    so that a long run never ends in a traceback with no report."""
    import tempfile

    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out: {out!r} is a file, not a directory; give a directory (it will "
                     "hold report.md, report.json and speedups.png)")
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fastml-write-test-"):
            pass
    except OSError as exc:
        parser.error(f"--out: cannot write to {out!r} ({exc.strerror or exc}); give a "
                     "directory you can write to")


def _cap_level(args):
    """The instruction-set level of this run: --cpu, else FASTML_CPU, else None (native)."""
    from fastml._cpu import requested_cap

    if args.cpu is not None:
        return None if args.cpu == "native" else args.cpu
    return requested_cap()


def _bench(parser, args, argv):
    from fastml.benchmarks import AREAS, get_cases
    from fastml.benchmarks import _caps
    from fastml.benchmarks._runner import (
        format_table,
        run_benchmarks,
        run_meta,
        write_reports,
    )

    areas = None
    if args.only:
        areas = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = [a for a in areas if a not in AREAS]
        if unknown or not areas:
            parser.error(f"--only: unknown area(s) {unknown or args.only!r}; choose from "
                         f"{', '.join(sorted(AREAS))}")
    if args.cases is not None:
        import re

        try:
            re.compile(args.cases)
        except re.error as exc:
            parser.error(f"--cases: {args.cases!r} is not a regular expression ({exc})")
        if not get_cases(areas, quick=args.quick, match=args.cases):
            parser.error(f"--cases: no case of {args.only or 'any area'} matches "
                         f"{args.cases!r}{' among the quick cases' if args.quick else ''}")
    if args.threads == 0 or args.threads < -1:
        parser.error(f"--threads must be a positive number or -1 (all cores), not "
                     f"{args.threads}")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, not {args.repeats}")
    if args.data is not None and not os.path.isdir(args.data):
        parser.error(f"--data: {args.data!r} is not a directory")
    _check_out_dir(parser, args.out)
    level = _cap_level(args)
    argv = list(argv if argv is not None else sys.argv[1:])
    wanted = _caps.env_for(level)
    names = ("FASTML_CPU",) + _caps.SWITCH_NAMES
    if (args.cpu is not None or level is not None) and any(
            os.environ.get(k) != wanted.get(k) for k in names):
        # fastml's level and the peers' switches are read when the libraries load: run
        # in a fresh process that has them from the start
        import subprocess

        return subprocess.call([sys.executable, "-m", "fastml", *argv], env=wanted)
    peer_caps = None
    if level is not None:
        peers = [p for c in get_cases(areas, quick=args.quick, match=args.cases)
                 for p in c.peers if p.available()]
        print(f"checking what the peers run at with every library capped at {level} ...",
              file=sys.stderr, flush=True)
        peer_caps = _caps.check_caps(level, _caps.libraries_of(peers))
        for line in _caps.describe_caps(level, peer_caps):
            print(line, file=sys.stderr, flush=True)
    command = "fastml " + " ".join(argv)
    meta = run_meta(command, level, peer_caps, args.threads)
    rows = run_benchmarks(areas, quick=args.quick, threads=args.threads, data_dir=args.data,
                          repeats=args.repeats, peer_caps=peer_caps, match=args.cases)
    print(format_table(rows))
    names = ("report.md", "report.json", "speedups.png")
    for name in names:  # a file left by an earlier run must not pass for this run's
        path = os.path.join(args.out, name)
        if os.path.isfile(path):
            os.remove(path)
    write_reports(rows, args.out, command, meta=meta)
    written = [n for n in names if os.path.isfile(os.path.join(args.out, n))]
    print(f"\nreports written to {os.path.abspath(args.out)}/ ({', '.join(written)})")
    if "speedups.png" not in written:
        print("(no speedups.png: it needs matplotlib and at least one case with a peer; "
              "pip install 'fastml[plot]')")
    uncapped = sorted({r["peer"] for r in rows if r.get("peer_capped") is False})
    if uncapped:
        print(f"note: not capped at {level}, so their rows compare unequal instruction sets: "
              f"{', '.join(uncapped)}", file=sys.stderr)
    bad = [r for r in rows if r["agree"] is False]
    if bad:
        print(f"\nFAILED: fastml and its peer disagree in {len(bad)} case(s):", file=sys.stderr)
        for r in bad:
            print(f"  {r['area']}: {r['task']} [{r['shape']}, {r['dtype']}] vs {r['peer']}",
                  file=sys.stderr)
        print("This is a bug: please report it with the output of `fastml info`.",
              file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        from fastml import show_config

        show_config()
        return 0
    if args.command == "bench":
        return _bench(parser._bench_parser, args, argv)
    if args.command == "demo":
        demo = parser._demo_parser
        if args.threads == 0 or args.threads < -1:
            demo.error("--threads must be a positive number or -1 (all cores), "
                       f"not {args.threads}")
        if args.data is not None and not os.path.isdir(args.data):
            demo.error(f"--data: {args.data!r} is not a directory; give a folder holding "
                       "mnist/ and/or sms_spam/, or leave --data out to run on digits only")
        from fastml._demo import run_demo

        return run_demo(data_dir=args.data, n_jobs=args.threads, out_dir=args.out)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
