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
