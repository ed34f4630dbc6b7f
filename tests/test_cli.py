"""The `fastml` command line: argument errors, `bench --quick`, `demo`, `info`, the
report's contents, capping the peers, the chart and the learning curve."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastml.__main__ import main

from .conftest import DATA_DIR

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, **env):
    """`python -m fastml ARGS` in a fresh process (fastml from this checkout)."""
    full = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full.update(env)
    return subprocess.run([sys.executable, "-m", "fastml", *args], capture_output=True,
                          text=True, timeout=300, env=full)


@pytest.mark.parametrize("argv, match", [
    (["bench", "--only", "nope"], "unknown area"),
    (["bench", "--only", ","], "unknown area"),
    (["bench", "--threads", "0"], "--threads"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--data", "/does/not/exist"], "not a directory"),
    (["bench", "--threads", "two"], "invalid int"),
    (["bench", "--cases", "chi2("], "not a regular expression"),
    (["bench", "--only", "nn", "--cases", "chi2"], "no case of nn matches"),
    (["demo", "--threads", "0"], "--threads"),
    (["demo", "--threads", "-2"], "--threads"),
    (["demo", "--data", "/no/such/dir"], "not a directory"),
    (["frobnicate"], "invalid choice"),
])
def test_argument_errors_are_clear(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert match in err
    if argv[0] in ("bench", "demo"):  # the subcommand's own usage, not the top-level one
        assert f"usage: fastml {argv[0]} " in err


def _never_run(*a, **k):
    raise AssertionError("a case ran although the command line was wrong")


@pytest.mark.parametrize("kind", ["file", "under a file", "unwritable"])
def test_bench_checks_its_output_before_running_anything(kind, tmp_path, monkeypatch,
                                                         capsys):
    import fastml.benchmarks._runner as runner

    monkeypatch.setattr(runner, "run_benchmarks", _never_run)
    afile = tmp_path / "report.txt"
    afile.write_text("not a folder")
    if kind == "file":
        out, match = afile, "is a file, not a directory"
    elif kind == "under a file":
        out, match = afile / "sub", "cannot write to"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        out, match = tmp_path / "ro", "cannot write to"
        out.mkdir()
        out.chmod(0o500)
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--quick", "--only", "kernels", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert match in err and "usage: fastml bench" in err


def test_unknown_fastml_cpu_is_one_line_not_a_traceback():
    proc = _cli("info", FASTML_CPU="bogus")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastml: error: FASTML_CPU='bogus'")
    assert "baseline, avx2, avx512" in lines[0]
    # the library itself still raises, with the same message
    code = "import fastml"
    lib = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, FASTML_CPU="bogus", PYTHONPATH=_ROOT))
    assert lib.returncode == 1 and "ValueError: FASTML_CPU='bogus'" in lib.stderr


def test_version(capsys):
    import fastml

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastml {fastml.__version__}"


def test_bench_help_describes_the_command(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    for words in ("usage: fastml bench", "peer", "min / median / max", "report.md",
                  "speedups.png", "caps the instruction set of fastml AND of the peers",
                  "--quick", "examples:"):
        assert words in out, words


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "bench" in capsys.readouterr().out


def test_info(capsys):
    assert main(["info"]) == 0
    assert "OpenMP compiled in" in capsys.readouterr().out


def test_bench_quick_kernels_writes_valid_report(tmp_path, data_dir, capsys):
    out = tmp_path / "report"
    rc = main(["bench", "--quick", "--only", "kernels", "--repeats", "1", "--data", data_dir,
               "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    rows = report["rows"]
    assert rows and all(r["area"] == "kernels" for r in rows)
    assert all(r["agree"] in (True, None) for r in rows)
    assert any(r["peer"] == "scikit-learn" for r in rows)
    assert all(0 < r["fastml_min"] <= r["fastml_s"] <= r["fastml_max"] for r in rows)
    assert all(r["peer_min"] <= r["peer_s"] <= r["peer_max"] for r in rows if r["peer"])
    assert all(r["repeats"] == 1 for r in rows)
    assert report["meta"]["cpu"] and report["meta"]["threads"] == 2
    md = (out / "report.md").read_text()
    assert "| task |" in md and "speedup" in md and "min / median / max" in md
    assert "Machine: " in md
    plt = pytest.importorskip("matplotlib.pyplot")
    img = plt.imread(out / "speedups.png")
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50


def _env_without_data():
    # the demo must not find data through $FASTML_DATA (the real data, where the tests
    # were given it) or the data home when --data names a folder
    env = dict(os.environ)
    if DATA_DIR:
        env["FASTML_DATA"] = DATA_DIR
    return env


def test_demo_runs_on_digits_alone(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastml", "demo", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=_env_without_data())
    assert proc.returncode == 0, proc.stderr
    assert "accuracy" in proc.stdout and "Done." in proc.stdout
    assert "k-nearest neighbours" in proc.stdout and "digits only" in proc.stdout
    assert "no SMS Spam Collection" in proc.stdout  # missing data: one line, no crash
    assert "CNN" in proc.stdout and "learning curves" in proc.stdout
    assert (tmp_path / "fastml_demo" / "learning_curve.png").stat().st_size > 1000


def test_missing_data_is_reported_in_one_line_each(tmp_path, monkeypatch):
    from fastml.benchmarks._runner import _note_missing_data

    monkeypatch.delenv("FASTML_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no data home with files either
    monkeypatch.chdir(tmp_path)
    lines = []
    _note_missing_data(str(tmp_path), lines.append)
    assert len(lines) == 2
    assert "MNIST not found" in lines[0] and "synthetic" in lines[0]
    assert "SMS Spam Collection not found" in lines[1]


def test_demo_help_says_how_long(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "minutes" in out and "matplotlib" in out


def _fake_rows(agree, **extra):
    return [dict(area="neighbors", task="kneighbors", shape="10x3", dtype="float64",
                 peer="scikit-learn", peer_s=1.0, fastml_s=0.5, speedup=2.0, agree=agree,
                 peer_threads=1, fastml_threads=1, quick=True, gflops=None, **extra)]


def _in_process(monkeypatch):
    """Keep ``fastml bench`` in this process, where the monkeypatched runner is: under a
    FASTML_CPU cap it would re-run itself in a fresh process to cap the peers too."""
    from fastml.benchmarks._caps import SWITCH_NAMES

    for name in ("FASTML_CPU",) + tuple(SWITCH_NAMES):
        monkeypatch.delenv(name, raising=False)


def test_bench_disagreement_is_explained_and_exits_1(tmp_path, monkeypatch, capsys):
    import fastml.benchmarks._runner as runner

    _in_process(monkeypatch)
    monkeypatch.setattr(runner, "run_benchmarks", lambda *a, **k: _fake_rows(False))
    rc = main(["bench", "--quick", "--only", "neighbors", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "disagree" in err and "kneighbors" in err and "scikit-learn" in err


def test_bench_cases_selects_by_id(tmp_path, monkeypatch):
    import fastml.benchmarks._runner as runner
    from fastml.benchmarks import get_cases

    _in_process(monkeypatch)
    ran = {}

    def fake(areas, **kw):
        ran["ids"] = [c.id for c in get_cases(areas, quick=kw["quick"], match=kw["match"])]
        return _fake_rows(True)

    monkeypatch.setattr(runner, "run_benchmarks", fake)
    assert main(["bench", "--only", "kernels,svm", "--cases", "CHI2_kernel K\\(X",
                 "--out", str(tmp_path)]) == 0
    assert ran["ids"] and all("chi2_kernel K(X" in i for i in ran["ids"])
    every = [c.id for c in get_cases(["kernels", "svm"])]
    assert set(ran["ids"]) == {i for i in every if "chi2_kernel k(x" in i.lower()}
    assert len(every) > len(ran["ids"])


def test_bench_does_not_claim_a_chart_it_did_not_write(tmp_path, monkeypatch, capsys):
    import fastml.benchmarks._runner as runner

    _in_process(monkeypatch)
    monkeypatch.setattr(runner, "run_benchmarks", lambda *a, **k: _fake_rows(True))
    monkeypatch.setattr(runner, "_plot", lambda rows, path, log, meta=None: False)  # no mpl
    (tmp_path / "speedups.png").write_bytes(b"stale chart of an earlier run")
    assert main(["bench", "--quick", "--only", "neighbors", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    written = out.split("reports written to", 1)[1].splitlines()[0]
    assert "report.md" in written and "speedups.png" not in written
    assert "no speedups.png" in out
    assert not (tmp_path / "speedups.png").exists()


@pytest.mark.slow
def test_bench_quick_without_data_agrees_everywhere(tmp_path, monkeypatch):
    # a fresh machine: no data anywhere, every case on synthetic data must agree
    monkeypatch.delenv("FASTML_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty data home
    monkeypatch.chdir(tmp_path)
    rc = main(["bench", "--quick", "--only", "kernels,neighbors,text", "--repeats", "1",
               "--threads", "1", "--out", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "report.json").read_text())["rows"]
    assert [r for r in rows if r["agree"] is False] == []
    assert rc == 0


def test_progress_in_a_redirected_log_is_one_plain_line_per_case(tmp_path):
    """No tqdm frames (carriage returns) when stderr is a file."""
    err = tmp_path / "err.log"
    code = ("from fastml.benchmarks._runner import run_benchmarks; "
            "run_benchmarks(['kernels'], quick=True, threads=1, repeats=1, "
            "log=lambda *a: None)")
    with open(err, "w") as f:
        subprocess.run([sys.executable, "-c", code], stderr=f, check=True, timeout=600,
                       env=dict(os.environ, PYTHONPATH=_ROOT), cwd=tmp_path)
    text = err.read_text()
    from fastml.benchmarks import get_cases

    n = len(get_cases(["kernels"], quick=True))
    assert "\r" not in text and "it/s" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("[")]
    assert len(lines) == n and lines[0].startswith(f"[1/{n}] kernels: ")


def test_bench_cpu_caps_the_peers_in_the_process_it_starts(tmp_path, monkeypatch):
    """--cpu avx2 restarts the command with fastml's and every peer's switch set."""
    import subprocess as sp

    from fastml.benchmarks import _caps

    seen = {}

    def fake_call(cmd, env):
        seen.update(cmd=cmd, env=env)
        return 0

    monkeypatch.setattr(sp, "call", fake_call)
    for k in ("FASTML_CPU",) + _caps.SWITCH_NAMES:
        monkeypatch.delenv(k, raising=False)
    assert main(["bench", "--quick", "--only", "kernels", "--cpu", "avx2",
                 "--out", str(tmp_path)]) == 0
    env = seen["env"]
    assert seen["cmd"][1:3] == ["-m", "fastml"] and "--cpu" in seen["cmd"]
    assert env["FASTML_CPU"] == "avx2"
    for k, v in dict(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2",
                     FAISS_OPT_LEVEL="avx2", FAISS_SIMD_LEVEL="AVX2",
                     MKL_ENABLE_INSTRUCTIONS="AVX2", OPENBLAS_CORETYPE="Haswell").items():
        assert env[k] == v, k
    # FASTML_CPU alone in the environment caps the peers too
    seen.clear()
    monkeypatch.setenv("FASTML_CPU", "avx2")
    assert main(["bench", "--quick", "--only", "kernels", "--out", str(tmp_path)]) == 0
    assert seen["env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    # --cpu native removes every cap
    seen.clear()
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert main(["bench", "--quick", "--only", "kernels", "--cpu", "native",
                 "--out", str(tmp_path)]) == 0
    assert "FASTML_CPU" not in seen["env"] and "OPENBLAS_CORETYPE" not in seen["env"]


def test_numpy_never_asked_to_disable_its_baseline():
    from numpy._core._multiarray_umath import __cpu_baseline__

    from fastml.benchmarks._caps import peer_env

    for level in ("baseline", "avx2", "avx512"):
        disabled = peer_env(level).get("NPY_DISABLE_CPU_FEATURES", "").split()
        assert not set(disabled) & set(__cpu_baseline__)
        # numpy accepts it (it raises at import for a baseline feature)
        subprocess.run([sys.executable, "-c", "import numpy"], check=True,
                       env=dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(disabled)))


def test_caps_are_checked_not_assumed():
    """numpy and OpenBLAS report the level they run at under the avx2 caps; an unknown
    library (no switch) is reported as not capped, one not installed is left out."""
    from fastml._cpu import simd_info
    from fastml.benchmarks._caps import check_caps, describe_caps

    if simd_info()["detected"] == "baseline":
        pytest.skip("no AVX2 on this CPU")
    caps = check_caps("avx2", ["numpy", "OpenBLAS", "json", "no_such_module_xyz"])
    assert "no_such_module_xyz" not in caps
    assert caps["json"] == {"capped": False, "runs": "no known instruction-set switch"}
    assert caps["numpy"]["capped"], caps["numpy"]
    assert "X86_V4" not in caps["numpy"]["runs"] and "AVX512" not in caps["numpy"]["runs"]
    if caps.get("OpenBLAS"):
        assert caps["OpenBLAS"]["capped"] and "Haswell" in caps["OpenBLAS"]["runs"]
    lines = describe_caps("avx2", caps)
    assert lines[0].startswith("peers capped at avx2: numpy")
    assert lines[1].startswith("NOT capped at avx2") and "json" in lines[1]


def test_uncapped_peers_are_marked_in_table_and_report(tmp_path, monkeypatch):
    from fastml.benchmarks._runner import format_table, run_meta, write_reports

    rows = _fake_rows(True, peer_capped=False, peer_uncapped="oneDAL: AVX-512",
                      peer_min=0.9, peer_max=1.2, fastml_min=0.4, fastml_max=0.6, repeats=3)
    table = format_table(rows)
    assert "scikit-learn (not capped)" in table
    assert "0.9 / 1 / 1.2" in table and "0.4 / 0.5 / 0.6" in table
    meta = run_meta("fastml bench", "avx2",
                    {"sklearnex": {"capped": False, "runs": "oneDAL kernels AVX-512"}}, 2)
    write_reports(rows, str(tmp_path), "fastml bench", meta=meta)
    md = (tmp_path / "report.md").read_text()
    assert "capped at avx2" in md and "NOT capped at avx2" in md and "sklearnex" in md
    assert json.loads((tmp_path / "report.json").read_text())["meta"]["cpu_cap"] == "avx2"


def test_chart_names_machine_threads_shapes_and_has_a_legend(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    from matplotlib.figure import Figure

    from fastml.benchmarks._runner import _plot, run_meta

    saved = {}
    real_savefig = Figure.savefig

    def spy(fig, path, **kw):
        ax = fig.axes[0]
        saved.update(suptitle=fig._suptitle.get_text() if fig._suptitle else "",
                     title=ax.get_title(loc="left"), legend=ax.get_legend(),
                     labels=[t.get_text() for t in ax.get_yticklabels()])
        return real_savefig(fig, path, **kw)

    monkeypatch.setattr(Figure, "savefig", spy)
    rows = _fake_rows(True, peer_min=0.9, peer_max=1.2, fastml_min=0.4, fastml_max=0.6,
                      repeats=3)
    meta = run_meta("fastml bench", None, None, 1)
    assert _plot(rows, str(tmp_path / "s.png"), print, meta)
    assert "fastml vs its peers" in saved["suptitle"]
    assert meta["cpu"] in saved["title"] and "logical CPUs" in saved["title"]
    assert "threads (fastml/peer): 1/1" in saved["title"] and "quick shapes" in saved["title"]
    assert saved["labels"] == ["kneighbors  [10x3, float64]  vs scikit-learn"]
    texts = [t.get_text() for t in saved["legend"].get_texts()]
    assert "fastml faster" in texts and any("min..max" in t for t in texts)
    img = plt.imread(tmp_path / "s.png")
    assert img.shape[0] > 100 and img.shape[1] > 400


def test_learning_curve_has_integer_epochs_and_names_the_loss(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from fastml._demo import _save_learning_curve
    from fastml.nn import NeuralNetClassifier

    rng = np.random.default_rng(0)
    X = rng.random((120, 6)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    net = NeuralNetClassifier([], epochs=3, batch_size=32, validation_fraction=0.2,
                              random_state=0).fit(X, y)
    seen = {}
    real_savefig = Figure.savefig

    def spy(fig, path, **kw):
        fig.canvas.draw()
        seen["ticks"] = [[t.get_text() for t in ax.get_xticklabels() if t.get_text()]
                         for ax in fig.axes]
        seen["ylabel"] = fig.axes[0].get_ylabel()
        seen["title"] = fig._suptitle.get_text()
        return real_savefig(fig, path, **kw)

    monkeypatch.setattr(Figure, "savefig", spy)
    _save_learning_curve(net, "logistic regression", 1, str(tmp_path / "lc.png"))
    for ticks in seen["ticks"]:
        assert ticks and all(t.lstrip("\u2212-").isdigit() for t in ticks), ticks
    assert "cross-entropy loss" in seen["ylabel"]
    assert "logistic regression" in seen["title"] and "1 thread)" in seen["title"]
    assert (tmp_path / "lc.png").stat().st_size > 1000


def test_each_side_settles_before_its_timed_repeats(monkeypatch):
    # a short case: untimed runs for SETTLE seconds before each side's back-to-back
    # repeats (the other side's idle threads must not be timed); a long one: none
    import fastml.benchmarks._runner as runner

    clock = [0.0]
    monkeypatch.setattr(runner.time, "perf_counter", lambda: clock[0])
    calls = []

    def short():
        calls.append(1)
        clock[0] += 0.01

    runner._settle(short, (), 0.01)
    assert abs(len(calls) - runner.SETTLE / 0.01) <= 1
    calls.clear()
    runner._settle(short, (), runner.SETTLE * 2)
    assert calls == []
