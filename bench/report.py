"""Turn a pytest-benchmark JSON (--benchmark-json) into the ratio table for notes/README.

    python bench/report.py bench_out/kernels.json

Seconds are min / median / max over the rounds; speedup = peer median / fastml median.
When the run was capped (FASTML_CPU), the table says which peers could not be.
"""
import json
import sys
from collections import defaultdict


def _spread(stats):
    return f"{stats['min']:.4g} / {stats['median']:.4g} / {stats['max']:.4g}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    groups = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"]["impl"]] = b
    fastml = data["machine_info"].get("fastml", {})
    cpu = data["machine_info"].get("cpu", {})
    print(f"machine: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} logical CPUs, "
          f"date {data['datetime'][:10]}, threads {fastml.get('threads', '?')}, "
          f"fastml SIMD {fastml.get('simd', '?')}")
    caps = fastml.get("peer_caps") or {}
    if fastml.get("cpu_cap"):
        bad = [f"{lib} ({c['runs']})" for lib, c in caps.items() if not c["capped"]]
        print(f"capped at {fastml['cpu_cap']}; peers that could not be: "
              f"{'; '.join(bad) if bad else 'none'}")
    print("| case | peer | peer s (min / median / max) | fastml s (min / median / max) | "
          "speedup | rounds | GFLOP/s (fastml) | SIMD | agree |")
    print("|---|---|---|---|---:|---:|---:|---|---|")
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
                print(f"| {g} | - | - | {_spread(f['stats'])} | - | {f['stats']['rounds']} | "
                      f"{gf} | {simd} | - |")
                continue
            ps = impls[p]["stats"]["median"]
            agree = impls[p]["extra_info"].get("agree")
            print(f"| {g} | {p} | {_spread(impls[p]['stats'])} | {_spread(f['stats'])} | "
                  f"{ps / fs:.2f}x | {f['stats']['rounds']} | {gf} | {simd} | "
                  f"{'yes' if agree else ('no' if agree is False else '?')} |")


if __name__ == "__main__":
    main(sys.argv[1])
