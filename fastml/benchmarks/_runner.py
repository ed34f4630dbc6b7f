"""Run registered benchmark cases: fastml and each peer alternating, warm-up first, median of
several repeats, agreement checked; write report.md, report.json and a PNG chart.

Peers marked ``own_process`` (faiss: it shares the OpenMP runtime and would make
scikit-learn single-threaded) are timed in a fresh Python process (see ``_worker``).
"""
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time

from fastml.benchmarks._registry import get_cases


def cpu_model():
    """The processor's name (``model name`` of /proc/cpuinfo on Linux)."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _repeats(first_seconds, repeats):
    if repeats is not None:
        return repeats
    return 1 if first_seconds > 5 else (3 if first_seconds > 0.5 else 7)


def _run_peer_in_subprocess(case, peer, threads, data_dir, quick, repeats):
    """Time a peer in a fresh interpreter; returns (result, [seconds...])."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.pkl")
        cmd = [sys.executable, "-m", "fastml.benchmarks._worker", case.id, peer.name,
               str(threads), data_dir or "", "1" if quick else "0",
               str(repeats if repeats is not None else 0), out]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"peer {peer.name} failed in its own process:\n{proc.stderr}")
        with open(out, "rb") as f:
            payload = pickle.load(f)
    return payload["result"], payload["times"]


def _note_missing_data(data_dir, log):
    """One line per data set that is absent (its cases then use synthetic stand-ins)."""
    from fastml.datasets import load_mnist, load_sms_spam

    try:
        load_mnist(data_dir, "test", download=False)
    except (FileNotFoundError, OSError, ValueError):
        log(f"note: MNIST not found (data directory {data_dir!r}); its cases use synthetic "
            "data of the same shape")
    try:
        load_sms_spam(data_dir, download=False)
    except (FileNotFoundError, OSError, ValueError):
        log(f"note: SMS Spam Collection not found (data directory {data_dir!r}); its cases "
            "use synthetic texts")


def run_benchmarks(areas=None, quick=False, threads=2, data_dir=None, repeats=None,
                   progress=True, log=print):
    """Run the cases and return a list of row dicts (one per case and peer)."""
    from fastml.utils import effective_n_threads
    from fastml.utils._openmp import simd_path

    cases = get_cases(areas, quick=quick)
    n_threads = effective_n_threads(threads)
    _note_missing_data(data_dir, log)
    rows, missing = [], set()
    iterator = cases
    if progress:
        from tqdm import tqdm

        iterator = tqdm(cases, desc="fastml bench", unit="case", file=sys.stderr)
    for case in iterator:
        inp = case.make_inputs(data_dir, quick)
        res_f, first = _timed(case.run, inp, n_threads)
        base = dict(area=case.area, task=case.task, shape=case.shape_for(quick), dtype=case.dtype,
                    fastml_threads=n_threads, quick=quick, simd=simd_path())
        peers = [p for p in case.peers if p.available()]
        for p in case.peers:
            if p not in peers and p.name not in missing:
                missing.add(p.name)
                log(f"note: peer {p.name} is not installed ({', '.join(p.requires)}); "
                    "its cases run fastml only")
        if not peers:
            r = _repeats(first, repeats)
            times = [_timed(case.run, inp, n_threads)[1] for _ in range(r)]
            fs = statistics.median(times)
            rows.append(dict(base, peer=None, peer_s=None, fastml_s=fs, speedup=None,
                             agree=None, peer_threads=None,
                             gflops=case.flops(inp) / fs / 1e9 if case.flops else None))
            continue
        for peer in peers:
            if peer.own_process:
                res_p, t_peer = _run_peer_in_subprocess(case, peer, threads, data_dir, quick,
                                                        repeats)
                r = len(t_peer)
                t_fast = [_timed(case.run, inp, n_threads)[1] for _ in range(r)]
            else:
                res_p, pfirst = _timed(peer.run, inp, threads)  # warm-up
                r = _repeats(max(first, pfirst), repeats)
                t_fast, t_peer = [], []
                for _ in range(r):  # alternate so that drifts hit both sides alike
                    t_fast.append(_timed(case.run, inp, n_threads)[1])
                    t_peer.append(_timed(peer.run, inp, threads)[1])
            fs, ps = statistics.median(t_fast), statistics.median(t_peer)
            try:
                agree = bool(case.check(res_f, res_p))
            except Exception as exc:  # a failing check is a "no", with the reason logged
                log(f"note: check for {case.id} vs {peer.name} raised {exc!r}")
                agree = False
            rows.append(dict(base, peer=peer.name, peer_s=ps, fastml_s=fs, speedup=ps / fs,
                             agree=agree, peer_threads=threads, repeats=r,
                             gflops=case.flops(inp) / fs / 1e9 if case.flops else None))
    return rows


def format_table(rows):
    head = ("| task | shape | dtype | peer | peer s | fastml s | speedup | GFLOP/s | "
            "threads (fastml/peer) | SIMD | agree |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        peer_s = f"{r['peer_s']:.4f}" if r["peer_s"] is not None else "-"
        sp = f"{r['speedup']:.2f}x" if r["speedup"] is not None else "-"
        gf = f"{r['gflops']:.0f}" if r.get("gflops") else ""
        agree = {True: "yes", False: "NO", None: "-"}[r["agree"]]
        thr = f"{r['fastml_threads']}/{r['peer_threads'] if r['peer_threads'] else '-'}"
        lines.append(f"| {r['task']} | {r['shape']} | {r['dtype']} | {r['peer'] or '-'} | "
                     f"{peer_s} | {r['fastml_s']:.4f} | {sp} | {gf} | {thr} | "
                     f"{r.get('simd', '?')} | {agree} |")
    return "\n".join(lines)


def write_reports(rows, out_dir, command, log=print):
    """report.md, report.json and speedups.png (when matplotlib is installed)."""
    from fastml._config import config_info

    os.makedirs(out_dir, exist_ok=True)
    info = config_info()
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), command=command,
                config={k: (v if not isinstance(v, list) else "; ".join(v))
                        for k, v in info.items()}, cpu_count=os.cpu_count(), cpu=cpu_model())
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    md = [f"# fastml bench, {meta['date']}", "", f"Command: `{command}`", "",
          f"CPU: {meta['cpu']}, {os.cpu_count()} logical CPUs", "",
          f"fastml {info['fastml']}, OpenMP {'on' if info['openmp'] else 'off'}, SIMD "
          f"{info['simd']}", "", format_table(rows), ""]
    png = os.path.join(out_dir, "speedups.png")
    if _plot(rows, png, log):
        md += ["![speedups](speedups.png)", ""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(md))


def _plot(rows, path, log):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("note: matplotlib is not installed; no chart (pip install matplotlib)")
        return False
    rows = [r for r in rows if r["speedup"]]
    if not rows:
        return False
    labels = [f"{r['task']} [{r['dtype']}, {r.get('simd', '?')}] vs {r['peer']}" for r in rows]
    vals = [r["speedup"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.2))
    colors = ["tab:green" if v >= 1 else "tab:red" for v in vals]
    ax.barh(range(len(rows)), vals, color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speedup of fastml over the peer (log scale; > 1 means fastml is faster)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
