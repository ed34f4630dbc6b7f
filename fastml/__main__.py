"""The ``fastml`` command line (also ``python -m fastml``)."""
import argparse
import os
import sys


def build_parser():
    p = argparse.ArgumentParser(prog="fastml", description="fastml: fast CPU kernels, "
                                "distances and a small CNN trainer for scikit-learn users.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="print how fastml was built (show_config)")
    b = sub.add_parser("bench", help="run the benchmark cases against their peers")
    b.add_argument("--quick", action="store_true", help="small shapes (under two minutes)")
    b.add_argument("--only", default=None, metavar="AREA,...",
                   help="comma-separated areas (default: all)")
    b.add_argument("--threads", type=int, default=2, help="threads for every side (default 2)")
    b.add_argument("--data", default=None, metavar="DIR", help="data directory (mnist/, sms_spam/)")
    b.add_argument("--out", default="bench_out", metavar="DIR",
                   help="where report.md, report.json and speedups.png go")
    b.add_argument("--repeats", type=int, default=None, help="timed repeats (default: by duration)")
    b.add_argument("--cpu", default=None, choices=("native", "baseline", "avx2", "avx512"),
                   help="instruction-set level of the compiled kernels (sets FASTML_CPU for "
                        "the run; default: FASTML_CPU if set, else the best this CPU has)")
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
    return p


def _bench(parser, args, argv):
    from fastml.benchmarks import AREAS
    from fastml.benchmarks._runner import format_table, run_benchmarks, write_reports

    areas = None
    if args.only:
        areas = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = [a for a in areas if a not in AREAS]
        if unknown or not areas:
            parser.error(f"--only: unknown area(s) {unknown or args.only!r}; choose from "
                         f"{', '.join(sorted(AREAS))}")
    if args.threads == 0 or args.threads < -1:
        parser.error("--threads must be a positive number or -1 (all cores)")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.data is not None and not os.path.isdir(args.data):
        parser.error(f"--data: {args.data!r} is not a directory")
    if args.cpu is not None:
        wanted = "" if args.cpu == "native" else args.cpu
        if os.environ.get("FASTML_CPU", "") != wanted:
            # the level is fixed when the extensions load: run in a process that has it
            import subprocess

            env = dict(os.environ, FASTML_CPU=wanted)
            argv = list(argv if argv is not None else sys.argv[1:])
            return subprocess.call([sys.executable, "-m", "fastml", *argv], env=env)
    rows = run_benchmarks(areas, quick=args.quick, threads=args.threads, data_dir=args.data,
                          repeats=args.repeats)
    print(format_table(rows))
    command = "fastml " + " ".join(argv if argv is not None else sys.argv[1:])
    names = ("report.md", "report.json", "speedups.png")
    for name in names:  # a file left by an earlier run must not pass for this run's
        path = os.path.join(args.out, name)
        if os.path.isfile(path):
            os.remove(path)
    write_reports(rows, args.out, command)
    written = [n for n in names if os.path.isfile(os.path.join(args.out, n))]
    print(f"\nreports written to {os.path.abspath(args.out)}/ ({', '.join(written)})")
    if "speedups.png" not in written:
        print("(no speedups.png: it needs matplotlib and at least one case with a peer; "
              "pip install 'fastml[plot]')")
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
        return _bench(parser, args, argv)
    if args.command == "demo":
        if args.threads == 0 or args.threads < -1:
            parser.error("--threads must be a positive number or -1 (all cores), "
                         f"not {args.threads}")
        if args.data is not None and not os.path.isdir(args.data):
            parser.error(f"--data: {args.data!r} is not a directory; give a folder holding "
                         "mnist/ and/or sms_spam/, or leave --data out to run on digits only")
        from fastml._demo import run_demo

        return run_demo(data_dir=args.data, n_jobs=args.threads, out_dir=args.out)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
