"""Turn a pytest-benchmark JSON (--benchmark-json) into the ratio table for notes/README.

    python bench/report.py bench_out/kernels.json
"""
import json
import sys
from collections import defaultdict


def main(path):
    data = json.load(open(path))
    groups = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"]["impl"]] = b
    print(f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
          f"date {data['datetime'][:10]}")
    print("| case | peer | peer s | fastml s | speedup | GFLOP/s (fastml) | SIMD | agree |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for g, impls in groups.items():
        f = impls.get("fastml")
        if f is None:
            continue
        fs = f["stats"]["median"]
        flops = f["extra_info"].get("flops")
        gf = f"{flops / fs / 1e9:.0f}" if flops else ""
        simd = f["extra_info"].get("simd", "?")
        peers = [k for k in impls if k != "fastml"] or [None]
        for p in peers:
            if p is None:
                print(f"| {g} | - | - | {fs:.4f} | - | {gf} | {simd} | - |")
                continue
            ps = impls[p]["stats"]["median"]
            agree = impls[p]["extra_info"].get("agree")
            print(f"| {g} | {p} | {ps:.4f} | {fs:.4f} | {ps / fs:.2f}x | {gf} | {simd} | "
                  f"{'yes' if agree else ('no' if agree is False else '?')} |")


if __name__ == "__main__":
    main(sys.argv[1])
