"""The package's build-related behaviour: show_config and the unbuilt-checkout error."""
import io
import os
import shutil
import subprocess
import sys

import fastml


def test_show_config_reports_everything():
    buf = io.StringIO()
    fastml.show_config(file=buf)
    text = buf.getvalue()
    for key in ("fastml " + fastml.__version__, "OpenMP compiled in",
                "for n_jobs=None (the default) and -1", "SIMD path", "BLAS"):
        assert key in text, text
    from fastml._config import config_info
    info = config_info()
    assert info["default threads"] == fastml.utils.effective_n_threads(None) >= 1
    assert isinstance(info["openmp"], bool)


def test_unbuilt_checkout_gives_readable_import_error(tmp_path):
    src = os.path.dirname(fastml.__file__)
    dst = tmp_path / "fastml"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    proc = subprocess.run([sys.executable, "-c", "import fastml"], cwd=tmp_path,
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "compiled extensions are missing" in proc.stderr
    assert 'pip install -e ".[test]"' in proc.stderr


def _readme_block(marker):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lines = open(os.path.join(root, "README.md"), encoding="utf-8").read().splitlines()
    i = lines.index(f"<!-- {marker} -->")
    assert lines[i + 1].startswith("```bash")
    j = lines.index("```", i + 2)
    return "\n".join(lines[i + 2:j])


def test_readme_bench_command_creates_its_json_folder_before_pytest_starts():
    """pytest-benchmark < 5.3 opens --benchmark-json while parsing the command line, so
    the folder must exist before pytest runs (a fresh clone has none)."""
    import re

    block = _readme_block("bench-command")
    m = re.search(r"--benchmark-json\s+(\S+)", block)
    assert m, block
    folder = os.path.dirname(m.group(1))
    mk = re.search(r"mkdir -p\s+" + re.escape(folder) + r"(\s|$)", block)
    assert mk and mk.start() < block.index("python -m pytest"), block


def _bench_conftest():
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "fastml_bench_conftest", os.path.join(root, "bench", "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _FakeConfig:
    def __init__(self, json_opt):
        self.json_opt = json_opt

    def getoption(self, name, default=None):
        return self.json_opt if name == "benchmark_json" else default


def test_bench_conftest_takes_a_json_path_or_an_open_file(tmp_path, monkeypatch):
    import io
    import pathlib

    monkeypatch.delenv("FASTML_CPU", raising=False)
    conftest = _bench_conftest()
    # pytest-benchmark >= 5.3: a path; its folder is created at configure time
    target = tmp_path / "new" / "kernels.json"
    conftest.pytest_configure(_FakeConfig(pathlib.Path(target)))
    assert target.parent.is_dir()
    # pytest-benchmark 5.2: the file is already open (it was a TypeError here)
    conftest.pytest_configure(_FakeConfig(io.BytesIO()))
    conftest.pytest_configure(_FakeConfig(None))
