"""The `fastml` command line: argument errors, `bench --quick`, `demo`, `info`."""
import json
import subprocess
import sys

import pytest

from fastml.__main__ import main


@pytest.mark.parametrize("argv, match", [
    (["bench", "--only", "nope"], "unknown area"),
    (["bench", "--only", ","], "unknown area"),
    (["bench", "--threads", "0"], "--threads"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--data", "/does/not/exist"], "not a directory"),
    (["bench", "--threads", "two"], "invalid int"),
    (["demo", "--threads", "0"], "--threads"),
    (["demo", "--threads", "-2"], "--threads"),
    (["demo", "--data", "/no/such/dir"], "not a directory"),
    (["frobnicate"], "invalid choice"),
])
def test_argument_errors_are_clear(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


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
    assert all(r["fastml_s"] > 0 for r in rows)
    md = (out / "report.md").read_text()
    assert "| task |" in md and "speedup" in md
    plt = pytest.importorskip("matplotlib.pyplot")
    img = plt.imread(out / "speedups.png")
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50


def _env_without_data():
    # the demo must not find data through $FASTML_DATA when --data names a folder
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["FASTML_DATA"] = os.environ.get("FASTML_DATA") or os.path.normpath(
        os.path.join(here, "..", "..", "shared", "data"))  # real data, where present
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
    monkeypatch.chdir(tmp_path)  # no ../shared/data next to it either
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


def _fake_rows(agree):
    return [dict(area="neighbors", task="kneighbors", shape="10x3", dtype="float64",
                 peer="scikit-learn", peer_s=1.0, fastml_s=0.5, speedup=2.0, agree=agree,
                 peer_threads=1, fastml_threads=1, quick=True, gflops=None)]


def test_bench_disagreement_is_explained_and_exits_1(tmp_path, monkeypatch, capsys):
    import fastml.benchmarks._runner as runner

    monkeypatch.setattr(runner, "run_benchmarks", lambda *a, **k: _fake_rows(False))
    rc = main(["bench", "--quick", "--only", "neighbors", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "disagree" in err and "kneighbors" in err and "scikit-learn" in err


def test_bench_does_not_claim_a_chart_it_did_not_write(tmp_path, monkeypatch, capsys):
    import fastml.benchmarks._runner as runner

    monkeypatch.setattr(runner, "run_benchmarks", lambda *a, **k: _fake_rows(True))
    monkeypatch.setattr(runner, "_plot", lambda rows, path, log: False)  # no matplotlib
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
    monkeypatch.chdir(tmp_path)
    rc = main(["bench", "--quick", "--only", "kernels,neighbors,text", "--repeats", "1",
               "--threads", "1", "--out", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "report.json").read_text())["rows"]
    assert [r for r in rows if r["agree"] is False] == []
    assert rc == 0
