"""The fuzz harnesses of fuzz/ as part of the suite: every target on seeded random inputs
(no engine needed), and, where atheris is installed, a few seconds of real fuzzing of one
target through the one-command runner."""
import importlib.util
import os
import subprocess
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz")


def _runner():
    spec = importlib.util.spec_from_file_location("fuzz_run", os.path.join(FUZZ, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TARGETS = _runner().targets()


def test_every_public_area_has_a_target():
    assert {"fuzz_kernels", "fuzz_distances", "fuzz_levenshtein", "fuzz_dtw",
            "fuzz_string_kernel", "fuzz_loaders", "fuzz_nn_conv", "fuzz_nn_pool",
            "fuzz_nn_layers", "fuzz_nn_augment"} <= set(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_smoke(target, capsys):
    # seeded random byte strings through the harness: a crash, a wrong value against its
    # naive reference or an undocumented exception fails the test (and prints the input)
    rc = _runner().smoke([target], 60)
    out = capsys.readouterr().out
    assert rc == 0, out


def test_runner_fuzzes_for_real_when_atheris_is_installed(tmp_path):
    pytest.importorskip("atheris")
    proc = subprocess.run([sys.executable, os.path.join(FUZZ, "run.py"), "--seconds", "3",
                           "--jobs", "1", "fuzz_loaders"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| fuzz_loaders |" in proc.stdout and "clean" in proc.stdout
