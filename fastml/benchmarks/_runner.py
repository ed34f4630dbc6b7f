"""Run registered benchmark cases: for fastml and each peer, a warm-up, then its repeats
back to back (min / median / max), agreement checked; write report.md, report.json and a
PNG chart that names the machine, threads, shapes and dtypes.

Each side's timed repeats follow at least SETTLE seconds of its own untimed runs:
timing one side right after the other measures the other's idle worker threads too
(OpenBLAS's spin for about 0.1 s after a call, halving the cores of an OpenMP loop that
starts then; an idle virtual CPU's wake-up), which at a few milliseconds a call decided
the ratio rather than the code.

When the instruction set is capped (``fastml bench --cpu``), the command line caps the
peers too and checks which could not be (``_caps``); each row says so.

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


#: seconds of untimed runs of a side before its timed repeats (see the module docstring)
SETTLE = 0.25


def _settle(fn, args, first_seconds):
    """Untimed runs of ``fn(*args)`` for SETTLE seconds; none for a case that takes longer
    than that (the others' idle threads then weigh under 1 %)."""
    if first_seconds >= SETTLE:
        return
    end = time.perf_counter() + SETTLE
    while time.perf_counter() < end:
        fn(*args)


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
    from fastml.datasets import get_data_home, load_mnist, load_sms_spam

    where = data_dir
    if data_dir is None:
        try:
            where = f"{get_data_home()} (the data home)"
        except (OSError, ValueError):  # an unusable data home: the loaders say why
            where = "the data home"
    try:
        load_mnist(data_dir, "test", download=False)
    except (FileNotFoundError, OSError, ValueError):
        log(f"note: MNIST not found (data directory {where}); its cases use synthetic "
            "data of the same shape")
    try:
        load_sms_spam(data_dir, download=False)
    except (FileNotFoundError, OSError, ValueError):
        log(f"note: SMS Spam Collection not found (data directory {where}); its cases "
            "use synthetic texts")


def _stats(prefix, times):
    """``{prefix}_s`` (the median), ``{prefix}_min`` and ``{prefix}_max`` of ``times``."""
    return {f"{prefix}_s": statistics.median(times), f"{prefix}_min": min(times),
            f"{prefix}_max": max(times)}


class _Progress:
    """A tqdm bar on a terminal; in a redirected log, one plain line per case (a bar's
    carriage-return frames would fill the log)."""

    def __init__(self, cases, enabled):
        self.bar = None
        self.n = len(cases)
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.n, desc="fastml bench", unit="case", file=sys.stderr)

    def start(self, i, case, quick):
        if self.enabled and self.bar is None:
            print(f"[{i + 1}/{self.n}] {case.area}: {case.task} [{case.shape_for(quick)}, "
                  f"{case.dtype}]", file=sys.stderr, flush=True)

    def done(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _peer_cap(peer, caps):
    """(capped, detail) of a peer under the caps checked for this run (None: no cap)."""
    if caps is None:
        return None, None
    from fastml.benchmarks._caps import libraries_of

    libs = [lib for lib in libraries_of([peer]) if lib in caps]
    bad = [f"{lib}: {caps[lib]['runs']}" for lib in libs if not caps[lib]["capped"]]
    return not bad, "; ".join(bad) or None


def run_benchmarks(areas=None, quick=False, threads=2, data_dir=None, repeats=None,
                   progress=True, log=print, peer_caps=None, match=None):
    """Run the cases and return a list of row dicts (one per case and peer).

    Each row has the median (``fastml_s``, ``peer_s``), ``*_min`` and ``*_max`` over its
    ``repeats`` timed runs, the ratio of the medians (``speedup``), whether the results
    agree, the SIMD level of fastml's kernels and, when ``peer_caps`` (from
    :func:`fastml.benchmarks._caps.check_caps`) is given, whether the peer was capped at
    the same level (``peer_capped``, ``peer_uncapped``: what was not). ``match`` keeps
    the cases whose id it is found in (see :func:`get_cases`)."""
    from fastml.utils import effective_n_threads
    from fastml.utils._openmp import simd_path

    cases = get_cases(areas, quick=quick, match=match)
    n_threads = effective_n_threads(threads)
    _note_missing_data(data_dir, log)
    rows, missing = [], set()
    bar = _Progress(cases, progress)
    try:
        for i, case in enumerate(cases):
            bar.start(i, case, quick)
            rows.extend(_run_case(case, quick, threads, n_threads, data_dir, repeats,
                                  simd_path(), peer_caps, missing, log))
            bar.done()
    finally:
        bar.close()
    return rows


def _run_case(case, quick, threads, n_threads, data_dir, repeats, simd, peer_caps, missing,
              log):
    inp = case.make_inputs(data_dir, quick)
    res_f, first = _timed(case.run, inp, n_threads)
    base = dict(area=case.area, task=case.task, shape=case.shape_for(quick), dtype=case.dtype,
                fastml_threads=n_threads, quick=quick, simd=simd)
    peers = [p for p in case.peers if p.available()]
    for p in case.peers:
        if p not in peers and p.name not in missing:
            missing.add(p.name)
            log(f"note: peer {p.name} is not installed ({', '.join(p.requires)}); "
                "its cases run fastml only")
    rows = []
    if not peers:
        r = _repeats(first, repeats)
        times = [_timed(case.run, inp, n_threads)[1] for _ in range(r)]
        st = _stats("fastml", times)
        rows.append(dict(base, peer=None, peer_s=None, peer_min=None, peer_max=None,
                         speedup=None, agree=None, peer_threads=None, repeats=r,
                         peer_capped=None, peer_uncapped=None, **st,
                         gflops=case.flops(inp) / st["fastml_s"] / 1e9 if case.flops
                         else None))
        return rows
    for peer in peers:
        if peer.own_process:
            res_p, t_peer = _run_peer_in_subprocess(case, peer, threads, data_dir, quick,
                                                    repeats)
            r = len(t_peer)
        else:
            res_p, pfirst = _timed(peer.run, inp, threads)  # warm-up
            r = _repeats(max(first, pfirst), repeats)
            _settle(peer.run, (inp, threads), pfirst)
            t_peer = [_timed(peer.run, inp, threads)[1] for _ in range(r)]
        _settle(case.run, (inp, n_threads), first)
        t_fast = [_timed(case.run, inp, n_threads)[1] for _ in range(r)]
        sf, sp = _stats("fastml", t_fast), _stats("peer", t_peer)
        try:
            agree = bool(case.check(res_f, res_p))
        except Exception as exc:  # a failing check is a "no", with the reason logged
            log(f"note: check for {case.id} vs {peer.name} raised {exc!r}")
            agree = False
        capped, uncapped = _peer_cap(peer, peer_caps)
        rows.append(dict(base, peer=peer.name, **sp, **sf,
                         speedup=sp["peer_s"] / sf["fastml_s"], agree=agree,
                         peer_threads=threads, repeats=r, peer_capped=capped,
                         peer_uncapped=uncapped,
                         gflops=case.flops(inp) / sf["fastml_s"] / 1e9 if case.flops
                         else None))
    return rows


def _spread(r, side):
    """``min / median / max`` seconds of one side of a row (the median alone for rows
    written before min and max were recorded)."""
    med = r.get(f"{side}_s")
    if med is None:
        return "-"
    lo, hi = r.get(f"{side}_min"), r.get(f"{side}_max")
    if lo is None or hi is None:
        return f"{med:.4g}"
    return f"{lo:.4g} / {med:.4g} / {hi:.4g}"


def _peer_label(r):
    if r.get("peer") is None:
        return "-"
    return r["peer"] + (" (not capped)" if r.get("peer_capped") is False else "")


def format_table(rows):
    """The Markdown table of a run: seconds as min / median / max over the repeats, the
    speedup as the ratio of the medians (peer / fastml)."""
    head = ("| task | shape | dtype | peer | peer s (min / median / max) | fastml s (min / "
            "median / max) | speedup | GFLOP/s | repeats | threads (fastml/peer) | SIMD | "
            "agree |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        sp = f"{r['speedup']:.2f}x" if r.get("speedup") is not None else "-"
        gf = f"{r['gflops']:.0f}" if r.get("gflops") else ""
        agree = {True: "yes", False: "NO", None: "-"}[r.get("agree")]
        thr = f"{r['fastml_threads']}/{r['peer_threads'] if r.get('peer_threads') else '-'}"
        lines.append(f"| {r['task']} | {r['shape']} | {r['dtype']} | {_peer_label(r)} | "
                     f"{_spread(r, 'peer')} | {_spread(r, 'fastml')} | {sp} | {gf} | "
                     f"{r.get('repeats', '?')} | {thr} | {r.get('simd', '?')} | {agree} |")
    return "\n".join(lines)


def machine_summary(meta):
    """One line naming the machine of a run (for the report and the chart)."""
    load = meta.get("loadavg")
    text = f"{meta['cpu']}, {meta['cpu_count']} logical CPUs"
    if load:
        text += f", load average {load[0]:.1f} at the start"
    return text


def run_meta(command, cap_level=None, peer_caps=None, threads=None):
    """What a report says about its run: date, command, machine, configuration, caps."""
    from fastml._config import config_info

    info = config_info()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        load = None
    return dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), command=command,
                config={k: (v if not isinstance(v, list) else "; ".join(v))
                        for k, v in info.items()},
                cpu_count=os.cpu_count(), cpu=cpu_model(), loadavg=load, threads=threads,
                cpu_cap=cap_level, peer_caps=peer_caps)


def write_reports(rows, out_dir, command, log=print, meta=None):
    """report.md, report.json and speedups.png (when matplotlib is installed)."""
    meta = meta or run_meta(command)
    os.makedirs(out_dir, exist_ok=True)
    info = meta["config"]
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    md = [f"# fastml bench, {meta['date']}", "", f"Command: `{command}`", "",
          f"Machine: {machine_summary(meta)}", "",
          f"fastml {info['fastml']}, OpenMP {'on' if info['openmp'] else 'off'}, SIMD "
          f"{info['simd']}", ""]
    if meta.get("cpu_cap"):
        from fastml.benchmarks._caps import describe_caps

        md += [f"Instruction sets capped at {meta['cpu_cap']} for fastml and the peers:", ""]
        md += [f"- {line}" for line in describe_caps(meta["cpu_cap"], meta.get("peer_caps")
                                                      or {})]
        md += [""]
    md += ["Seconds are min / median / max over the repeats (each side's back to back, "
           "after a warm-up and, for cases under 0.25 s, 0.25 s of untimed runs); "
           "speedup = peer median / fastml median.", "",
           format_table(rows), ""]
    png = os.path.join(out_dir, "speedups.png")
    if _plot(rows, png, log, meta):
        md += ["![speedups](speedups.png)", ""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(md))


def _plot(rows, path, log, meta=None):
    """A horizontal bar per (case, peer): the speedup (log scale), with the range of the
    ratio over the repeats; the title names the machine, threads and instruction sets."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        log("note: matplotlib is not installed; no chart (pip install matplotlib)")
        return False
    rows = [r for r in rows if r.get("speedup")]
    if not rows:
        return False
    meta = meta or {}
    labels = [f"{r['task']}  [{r['shape']}, {r['dtype']}]  vs {_peer_label(r)}" for r in rows]
    vals = [r["speedup"] for r in rows]
    lo = [r["peer_min"] / r["fastml_max"] if r.get("peer_min") and r.get("fastml_max")
          else v for r, v in zip(rows, vals)]
    hi = [r["peer_max"] / r["fastml_min"] if r.get("peer_max") and r.get("fastml_min")
          else v for r, v in zip(rows, vals)]
    fig, ax = plt.subplots(figsize=(12, 0.34 * len(rows) + 2.6))
    colors = ["tab:green" if v >= 1 else "tab:red" for v in vals]
    hatches = ["//" if r.get("peer_capped") is False else "" for r in rows]
    y = list(range(len(rows)))
    # bars grow from 1x (equal speed) towards the speedup, right for fastml, left for peer
    bars = ax.barh(y, [v - 1.0 for v in vals], left=1.0, color=colors, edgecolor="black",
                   linewidth=0.3)
    for b, h in zip(bars, hatches):
        b.set_hatch(h)
    ax.errorbar(vals, y, xerr=[[max(0.0, v - a) for v, a in zip(vals, lo)],
                               [max(0.0, b - v) for v, b in zip(vals, hi)]],
                fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    for yi, v, a, b in zip(y, vals, lo, hi):
        right = v >= 1
        ax.annotate(f"{v:.2f}x", (max(v, b) if right else min(v, a), yi),
                    xytext=(4 if right else -4, 0), textcoords="offset points",
                    ha="left" if right else "right", va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlim(min(min(lo), 1.0) / 1.6, max(max(hi), 1.0) * 1.6)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speedup = peer median time / fastml median time (log scale; > 1: "
                  "fastml is faster)")
    simd = sorted({r.get("simd", "?") for r in rows})
    threads = sorted({f"{r['fastml_threads']}/{r.get('peer_threads') or '-'}" for r in rows})
    cap = meta.get("cpu_cap")
    sub = [machine_summary(meta) if meta.get("cpu") else cpu_model(),
           f"threads (fastml/peer): {', '.join(threads)}; fastml SIMD: {', '.join(simd)}; "
           + (f"everyone capped at {cap} (hatched: a peer that could not be)" if cap
              else "peers at their native instruction sets"),
           f"{'quick' if rows[0].get('quick') else 'full'} shapes (shape and dtype in each "
           f"label); {meta.get('date', '')}"]
    fig.suptitle("fastml vs its peers: speedup per case, both sides in the same run",
                 fontsize=11, fontweight="bold", x=0.01, ha="left")
    ax.set_title("\n".join(sub), fontsize=8, loc="left")
    handles = [Patch(color="tab:green", label="fastml faster"),
               Patch(color="tab:red", label="peer faster")]
    if any(hatches):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                             label=f"peer not capped at {cap}"))
    handles.append(plt.Line2D([], [], color="black", marker="|", linestyle="-",
                              label="range over the repeats (min..max)"))
    ax.legend(handles=handles, loc="best", fontsize=7, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True
