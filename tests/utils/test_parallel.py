import os
import subprocess
import sys

import joblib
import pytest
from joblib import parallel_config

from fastml.utils import check_scalar_range, effective_n_threads, max_usable_threads


def test_none_is_one_outside_joblib_context():
    assert effective_n_threads(None) == 1


def test_none_follows_joblib_context():
    with parallel_config(n_jobs=2):
        assert effective_n_threads(None) == min(2, max_usable_threads())
    with parallel_config(n_jobs=-1):
        assert effective_n_threads(None) == max_usable_threads()


def test_negative_and_positive_values():
    n = max_usable_threads()
    assert n >= 1
    assert n <= joblib.cpu_count()
    assert effective_n_threads(-1) == n
    assert effective_n_threads(-2) == max(1, n - 1)
    assert effective_n_threads(-1000) == 1
    assert effective_n_threads(1) == 1
    assert effective_n_threads(10_000) == n  # capped at the usable cores


@pytest.mark.parametrize("bad, exc, match", [
    (0, ValueError, "n_jobs == 0"),
    (1.5, TypeError, "n_jobs"),
    ("2", TypeError, "n_jobs"),
    (True, TypeError, "n_jobs"),
])
def test_bad_n_jobs(bad, exc, match):
    with pytest.raises(exc, match=match):
        effective_n_threads(bad)


def test_omp_num_threads_is_honoured():
    code = "from fastml.utils import effective_n_threads as e; print(e(-1))"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "1"


def test_check_scalar_range():
    assert check_scalar_range(2, "a", low=0) == 2.0
    with pytest.raises(ValueError, match=r"a must be in \(0"):
        check_scalar_range(0, "a", low=0, low_inclusive=False)
    with pytest.raises(TypeError, match="a must be a real"):
        check_scalar_range("x", "a")
    with pytest.raises(TypeError, match="an int"):
        check_scalar_range(1.5, "k", integer=True)
    assert check_scalar_range(None, "a", allow_none=True) is None
