"""n_jobs -> threads: scikit-learn's OpenMP convention (every usable core by default,
threadpoolctl / OMP_NUM_THREADS / joblib workers honoured, an explicit n_jobs wins), and
the number of threads the compiled code actually starts."""
import json
import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from joblib import parallel_config
from threadpoolctl import threadpool_limits

from fastml.utils import check_scalar_range, effective_n_threads, max_usable_threads
from fastml.utils._openmp import openmp_enabled, parallel_region_threads
from fastml.utils._parallel import _cpu_count

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_openmp = pytest.mark.skipif(not openmp_enabled(), reason="serial build")
needs_two_cpus = pytest.mark.skipif(_cpu_count() < 2, reason="needs at least 2 usable CPUs")
linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                                reason="counts threads through /proc/self/task")


def _run(code, **env):
    """Run ``code`` in a fresh interpreter (fastml from this checkout); its stdout."""
    full_env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k, v in env.items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_none_is_every_usable_core():
    # a fresh interpreter: this session's OpenMP setting may have been lowered by other
    # tests (Dask's LocalCluster leaves OMP_NUM_THREADS=1 in os.environ, which torch then
    # applies to the OpenMP runtime it shares with fastml)
    out = _run("""
    from fastml.utils import effective_n_threads as e, max_usable_threads as m
    print(e(None), e(-1), e(-2), e(-10_000), m())
    """, OMP_NUM_THREADS=None)
    expected = _cpu_count(only_physical_cores=True)
    assert out.split() == [str(expected), str(expected), str(max(1, expected - 1)), "1",
                           str(expected)]
    # in this process, whatever its state: None and -1 agree with max_usable_threads()
    assert effective_n_threads(None) == effective_n_threads(-1) == max_usable_threads()


def test_same_count_as_scikit_learns_openmp_code():
    if not openmp_enabled():
        pytest.skip("serial build")
    # same count, also under threadpool_limits (both count physical cores); a fresh
    # interpreter for the reason above
    out = _run("""
    from threadpoolctl import threadpool_limits
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads as sk
    from fastml.utils import effective_n_threads as e
    print(e(None), sk())
    with threadpool_limits(1):
        print(e(None), sk())
    """, OMP_NUM_THREADS=None)
    lines = out.splitlines()
    assert lines[0].split()[0] == lines[0].split()[1]
    assert lines[1].split() == ["1", "1"]


def test_none_follows_joblib_context():
    with parallel_config(n_jobs=1):
        assert effective_n_threads(None) == 1
    with parallel_config(n_jobs=2):
        assert effective_n_threads(None) == min(2, _cpu_count())  # explicit: CPUs cap
    with parallel_config(n_jobs=-1):
        assert effective_n_threads(None) == max_usable_threads()


def test_positive_values_are_capped_at_the_cpus_only():
    assert effective_n_threads(1) == 1
    assert effective_n_threads(10_000) == _cpu_count()  # more would only wait
    assert effective_n_threads(np.int64(1)) == 1


@pytest.mark.parametrize("bad, exc, match", [
    (0, ValueError, "n_jobs == 0"),
    (False, ValueError, "n_jobs == 0"),
    (np.int32(0), ValueError, "n_jobs == 0"),
    (1.5, TypeError, "n_jobs must be None or an int.*1.5"),
    (1.0, ValueError, "n_jobs must be None or an int"),  # InvalidParameterError is both
    ("2", TypeError, "n_jobs must be None or an int.*'2'"),
])
def test_bad_n_jobs(bad, exc, match):
    with pytest.raises(exc, match=match):
        effective_n_threads(bad)


def test_true_is_one_thread_as_in_scikit_learn():
    # scikit-learn's parameter validation accepts True (an Integral) and runs one job
    assert effective_n_threads(True) == 1


def test_n_jobs_true_works_in_every_later_call():
    """True passes scikit-learn's validation at fit; no later call may raise TypeError."""
    from fastml.metrics import pairwise_distances
    from fastml.neighbors import KNeighborsClassifier, NearestNeighbors

    rng = np.random.default_rng(0)
    X, y, T = rng.random((60, 20)), np.arange(60) % 3, rng.random((7, 20))
    for metric in ("euclidean", "manhattan"):
        ref = NearestNeighbors(n_neighbors=4, radius=1.4, algorithm="brute", metric=metric,
                               n_jobs=1).fit(X)
        nn = NearestNeighbors(n_neighbors=4, radius=1.4, algorithm="brute", metric=metric,
                              n_jobs=True).fit(X)
        for a, b in zip(nn.kneighbors(T), ref.kneighbors(T)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(nn.radius_neighbors(T)[1], ref.radius_neighbors(T)[1]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            pairwise_distances(T, X, metric=metric, n_jobs=True),
            pairwise_distances(T, X, metric=metric, n_jobs=1))
        clf = KNeighborsClassifier(3, algorithm="brute", metric=metric, n_jobs=True).fit(X, y)
        assert clf.predict(T).shape == (7,)


def test_n_jobs_zero_fails_where_scikit_learn_fails():
    # scikit-learn accepts 0 at fit; kneighbors and pairwise_distances then raise
    # ValueError (joblib's "n_jobs == 0 in Parallel has no meaning"); so does fastml
    from sklearn.neighbors import NearestNeighbors as SkNN

    from fastml.metrics import pairwise_distances
    from fastml.neighbors import NearestNeighbors

    X = np.random.default_rng(1).random((30, 20))
    for cls in (NearestNeighbors, SkNN):
        nn = cls(n_neighbors=2, algorithm="brute", n_jobs=0).fit(X)  # fit accepts it
        with pytest.raises(ValueError, match="n_jobs == 0"):
            nn.kneighbors(X[:3])
    with pytest.raises(ValueError, match="n_jobs == 0"):
        pairwise_distances(X, n_jobs=0)


@needs_openmp
def test_threads_started_by_openmp_match():
    for n in (1, 2, 3):
        assert parallel_region_threads(n) == n
    with pytest.raises(ValueError, match="at least 1"):
        parallel_region_threads(0)


@needs_openmp
def test_threadpool_limits_gives_one_thread_and_explicit_n_jobs_wins():
    with threadpool_limits(1):
        n = effective_n_threads(None)
        assert n == 1 and effective_n_threads(-1) == 1
        assert parallel_region_threads(n) == 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1
        if _cpu_count() >= 2:
            assert parallel_region_threads(effective_n_threads(2)) == 2
    assert effective_n_threads(None) == max_usable_threads()  # restored on exit
    with threadpool_limits(1, user_api="blas"):  # a BLAS limit is no OpenMP limit
        assert effective_n_threads(None) == max_usable_threads()


# A fresh interpreter counts the OS threads of the process around real fastml calls:
# libgomp starts its n - 1 pool threads at the first parallel region of n threads and
# keeps them, so the growth of /proc/self/task after a call is the team size minus one.
_COUNT_THREADS = """
    import os, sys, json
    import numpy as np, scipy.linalg  # BLAS threads exist before the first count
    from threadpoolctl import threadpool_limits
    from fastml.metrics import pairwise_distances
    from fastml.neighbors import KNeighborsClassifier
    from fastml.utils import effective_n_threads

    def n_os_threads():
        return len(os.listdir("/proc/self/task"))

    rng = np.random.default_rng(0)
    X, y = rng.random((4000, 40)), rng.integers(0, 3, 4000)
    T = rng.random((400, 40))

    def calls(n_jobs=None):
        KNeighborsClassifier(n_jobs=n_jobs).fit(X, y).predict(T)
        pairwise_distances(T, X, metric="manhattan", n_jobs=n_jobs)

    def grown_by(fn):
        before = n_os_threads()
        fn()
        return n_os_threads() - before

    import joblib
    out = {"default": effective_n_threads(None),
           "cpus": joblib.cpu_count(only_physical_cores=True)}
"""


@needs_openmp
@linux_only
def test_default_calls_start_one_thread_under_threadpool_limits():
    out = _run(_COUNT_THREADS + """
    def limited():
        with threadpool_limits(1):
            calls()
    out["limited"] = grown_by(limited)
    out["after"] = grown_by(calls)           # no limit: every usable core
    print(json.dumps(out))
    """, OMP_NUM_THREADS=None)
    res = json.loads(out)
    assert res["limited"] == 0          # one thread: libgomp started no pool thread
    # without the limit the same calls use every core (so the count above can see threads)
    assert res["after"] == res["default"] - 1 == res["cpus"] - 1


@needs_openmp
@linux_only
@needs_two_cpus
def test_explicit_n_jobs_wins_over_threadpool_limits():
    out = _run(_COUNT_THREADS + """
    def limited_but_explicit():
        with threadpool_limits(1):
            calls(n_jobs=2)
    out["explicit"] = grown_by(limited_but_explicit)
    print(json.dumps(out))
    """, OMP_NUM_THREADS=None)
    assert json.loads(out)["explicit"] == 1   # a team of 2


@needs_openmp
@linux_only
def test_omp_num_threads_is_honoured():
    out = _run(_COUNT_THREADS + """
    out["grown"] = grown_by(calls)
    print(json.dumps(out))
    """, OMP_NUM_THREADS="1")
    res = json.loads(out)
    assert res["default"] == 1 and res["grown"] == 0


def test_omp_num_threads_caps_none_and_minus_one():
    out = _run("from fastml.utils import effective_n_threads as e; print(e(None), e(-1))",
               OMP_NUM_THREADS="1")
    assert out.split() == ["1", "1"]


@needs_openmp
def test_inside_a_loky_worker_threads_are_shared_out():
    """joblib.Parallel(n_jobs=2) (as GridSearchCV(n_jobs=2)): each worker gets
    cores // 2 threads for fastml's default, no oversubscription; n_jobs still wins."""
    out = _run("""
    import json, os
    from joblib import Parallel, delayed

    def in_worker(_):
        from fastml.utils import effective_n_threads
        from fastml.utils._openmp import parallel_region_threads
        n = effective_n_threads(None)
        return dict(pid=os.getpid(), env=os.environ.get("OMP_NUM_THREADS"), n=n,
                    team=parallel_region_threads(n), explicit=effective_n_threads(2))

    print(json.dumps(Parallel(n_jobs=2, backend="loky")(delayed(in_worker)(i)
                                                         for i in range(4))))
    """, OMP_NUM_THREADS=None)
    rows = json.loads(out)
    share = max(1, joblib.cpu_count() // 2)
    assert any(r["pid"] != os.getpid() for r in rows)
    for r in rows:
        assert r["env"] == str(share)
        assert r["n"] == r["team"] == share
        assert r["explicit"] == min(2, _cpu_count())


def test_check_scalar_range():
    assert check_scalar_range(2, "a", low=0) == 2.0
    with pytest.raises(ValueError, match=r"a must be in \(0"):
        check_scalar_range(0, "a", low=0, low_inclusive=False)
    with pytest.raises(TypeError, match="a must be a real"):
        check_scalar_range("x", "a")
    with pytest.raises(TypeError, match="an int"):
        check_scalar_range(1.5, "k", integer=True)
    assert check_scalar_range(None, "a", allow_none=True) is None
