"""The ``fastml`` command line (also ``python -m fastml``)."""
import argparse
import sys


def build_parser():
    p = argparse.ArgumentParser(prog="fastml", description="fastml: fast CPU kernels, "
                                "distances and a small CNN trainer for scikit-learn users.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="print how fastml was built (show_config)")
    d = sub.add_parser("demo", help="an end-to-end tour on scikit-learn's digits (offline)")
    d.add_argument("--data", default=None, metavar="DIR",
                   help="data directory with mnist/ and sms_spam/ (optional)")
    d.add_argument("--threads", type=int, default=-1, help="threads (n_jobs), default all")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        from fastml import show_config

        show_config()
        return 0
    if args.command == "demo":
        if args.threads == 0:
            parser.error("--threads must be a positive number or -1 (all cores), not 0")
        from fastml._demo import run_demo

        return run_demo(data_dir=args.data, n_jobs=args.threads)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
