"""Compiled loops under hostile parameters: DTW windows up to 2**63 - 1, k as large as
the training set (heap selection and heap sort, not insertion sort), and Ctrl-C inside
long k-NN, DTW and Levenshtein calls. References are naive Python / numpy / scipy."""
import signal
import threading
import time

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from fastml.metrics import dtw, levenshtein, pairwise_distances
from fastml.neighbors import KNeighborsClassifier, NearestNeighbors


def dtw_ref(a, b, window=None):
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    n, m = len(a), len(b)
    w = max(n, m) if window is None else max(window, abs(n - m))
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(max(1, i - w), min(m, i + w) + 1):
            D[i, j] = np.linalg.norm(a[i - 1] - b[j - 1]) + min(D[i - 1, j - 1], D[i - 1, j],
                                                                 D[i, j - 1])
    return D[n, m]


@pytest.mark.parametrize("window", [2**31, 2**62, 2**63 - 1, 2**63 - 7])
def test_dtw_huge_window_is_unlimited(window, rng):
    a, b = rng.random(13), rng.random(9)
    want = dtw_ref(a, b)
    assert dtw(a, b, window=window) == pytest.approx(want, rel=1e-12)
    A = [rng.random(n) for n in (5, 8, 13)]
    D = pairwise_distances(A, metric="dtw", window=window)
    np.testing.assert_allclose(D, [[dtw_ref(x, y) for y in A] for x in A], rtol=1e-12)
    nn = NearestNeighbors(n_neighbors=2, metric="dtw", metric_params={"window": window})
    dist, _ = nn.fit(A).kneighbors([a])
    np.testing.assert_allclose(dist[0], np.sort([dtw_ref(a, y) for y in A])[:2],
                               rtol=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "cosine"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_k_equal_to_the_training_set(metric, dtype, rng):
    # k = n_train: the top-k is the full sorted row; ties broken by index
    F = rng.integers(1, 4, size=(3000, 3)).astype(dtype)  # many exact ties, no zero row
    Q = rng.integers(1, 4, size=(5, 3)).astype(dtype)
    dist, ind = NearestNeighbors(n_neighbors=3000, metric=metric, algorithm="brute").fit(F).kneighbors(Q)
    ref = cdist(Q.astype(np.float64), F.astype(np.float64),
                "cityblock" if metric == "manhattan" else metric)
    order = np.lexsort((np.broadcast_to(np.arange(3000), ref.shape), np.round(ref, 5)),
                       axis=1)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(dist, np.take_along_axis(ref, order, 1), atol=64 * eps * 4)
    for row_ind, row_ref in zip(ind, ref):  # a permutation, in non-decreasing distance
        assert sorted(row_ind.tolist()) == list(range(3000))
        assert np.all(np.diff(row_ref[row_ind]) >= -64 * eps * 4)


def test_k_equal_to_the_training_set_levenshtein_and_dtw(rng):
    words = ["".join(rng.choice(list("abc"), size=rng.integers(0, 8))) for _ in range(400)]
    dist, ind = NearestNeighbors(n_neighbors=400, metric="levenshtein").fit(words).kneighbors(
        ["abc"])
    ref = np.array([levenshtein("abc", w) for w in words])
    np.testing.assert_array_equal(dist[0], np.sort(ref, kind="stable"))
    np.testing.assert_array_equal(ind[0], np.argsort(ref, kind="stable"))
    seqs = [rng.random(rng.integers(1, 6)) for _ in range(300)]
    dist, ind = NearestNeighbors(n_neighbors=300, metric="dtw").fit(seqs).kneighbors(
        [seqs[0]])
    ref = np.array([dtw_ref(seqs[0], s) for s in seqs])
    np.testing.assert_allclose(dist[0], np.sort(ref), rtol=1e-12, atol=1e-12)
    assert sorted(ind[0].tolist()) == list(range(300))


# ---------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------
class _Interrupted(Exception):
    pass


def _interrupt_after(seconds):
    def handler(signum, frame):
        raise _Interrupted

    old = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(seconds, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    timer.start()

    def restore():
        timer.cancel()
        signal.signal(signal.SIGINT, old)

    return restore


def _long_calls():
    rng = np.random.default_rng(0)
    X = rng.random((20000, 64))
    words = ["".join(rng.choice(list("acgt"), size=300)) for _ in range(3000)]
    seqs = [rng.random(400) for _ in range(300)]
    return {
        "knn euclidean": lambda n_jobs: NearestNeighbors(
            n_neighbors=5, algorithm="brute", n_jobs=n_jobs).fit(np.repeat(X, 8, axis=0)).kneighbors(X),
        "knn manhattan": lambda n_jobs: NearestNeighbors(
            n_neighbors=5, metric="manhattan", algorithm="brute", n_jobs=n_jobs).fit(X).kneighbors(X),
        "knn levenshtein": lambda n_jobs: NearestNeighbors(
            n_neighbors=3, metric="levenshtein", n_jobs=n_jobs).fit(words).kneighbors(words),
        "levenshtein matrix": lambda n_jobs: pairwise_distances(words, metric="levenshtein",
                                                                n_jobs=n_jobs),
        "dtw matrix": lambda n_jobs: pairwise_distances(seqs, metric="dtw", n_jobs=n_jobs),
        "knn dtw": lambda n_jobs: KNeighborsClassifier(1, metric="dtw", n_jobs=n_jobs).fit(
            seqs, np.arange(300) % 2).predict(seqs),
    }


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("name", list(_long_calls()))
def test_ctrl_c_interrupts_long_compiled_calls(name, n_jobs):
    call = _long_calls()[name]
    restore = _interrupt_after(0.5)
    t0 = time.perf_counter()
    try:
        with pytest.raises(_Interrupted):
            call(n_jobs)
    finally:
        restore()
    # each call takes tens of seconds uninterrupted; it must stop soon after the signal
    assert time.perf_counter() - t0 < 8


def test_no_signal_no_change(rng):
    # the periodic checks do not disturb a normal call
    words = ["".join(rng.choice(list("ab"), size=rng.integers(0, 90))) for _ in range(70)]
    D = pairwise_distances(words, metric="levenshtein", n_jobs=2)
    assert D[3, 5] == levenshtein(words[3], words[5])


# ----------------------------------------------------------------------------------------
# Misaligned arrays (np.ndarray at an odd byte offset: np.frombuffer(..., offset=1), packed
# records, buffers received by Dask workers) never reach compiled code: C makes misaligned
# loads undefined and vectorised loops may fault on them.
# ----------------------------------------------------------------------------------------
def _misaligned(a):
    a = np.asarray(a)
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.fixture
def compiled_calls_check_alignment(monkeypatch):
    """Every function of the compiled modules asserts its array arguments are aligned."""
    import importlib

    seen = []
    for name in ["fastml.metrics._pairwise_fast", "fastml.metrics._distances",
                 "fastml.nn._conv", "fastml.nn._pool", "fastml.nn._augment"]:
        mod = importlib.import_module(name)
        for attr in dir(mod):
            fn = getattr(mod, attr)
            if attr.startswith("__") or not callable(fn) or isinstance(fn, type):
                continue

            def wrapper(*args, _fn=fn, _name=f"{name}.{attr}", **kwargs):
                for a in list(args) + list(kwargs.values()):
                    if isinstance(a, np.ndarray):
                        assert a.flags.aligned, f"misaligned array passed to {_name}"
                seen.append(_name)
                return _fn(*args, **kwargs)

            monkeypatch.setattr(mod, attr, wrapper)
    return seen


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_inputs_are_realigned_before_compiled_code(
        dtype, rng, compiled_calls_check_alignment):
    import scipy.sparse as sp

    import fastml.metrics as fm

    X = rng.random((30, 19)).astype(dtype)
    T = rng.random((7, 19)).astype(dtype)
    Xm, Tm = _misaligned(X), _misaligned(T)
    for fn in (fm.chi2_kernel, fm.laplacian_kernel, fm.intersection_kernel, fm.rbf_kernel,
               fm.additive_chi2_kernel, fm.hellinger_kernel):
        np.testing.assert_array_equal(fn(Tm, Xm), fn(T, X))
    for metric in ("manhattan", "chebyshev", "euclidean", "minkowski"):
        np.testing.assert_array_equal(pairwise_distances(Tm, Xm, metric=metric),
                                      pairwise_distances(T, X, metric=metric))
    S = sp.csr_matrix(X)
    S.data = _misaligned(S.data)
    np.testing.assert_array_equal(fm.chi2_kernel(S), fm.chi2_kernel(sp.csr_matrix(X)))
    nn = NearestNeighbors(n_neighbors=3, metric="manhattan").fit(Xm)
    d, i = nn.kneighbors(Tm)
    d2, i2 = NearestNeighbors(n_neighbors=3, metric="manhattan").fit(X).kneighbors(T)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(d, d2)
    assert compiled_calls_check_alignment  # the checks ran


def test_misaligned_nn_operands_are_realigned(rng, compiled_calls_check_alignment):
    import fastml.nn.functional as F
    from fastml.nn.augment import ImageAugmenter

    x = rng.random((2, 3, 9, 9)).astype(np.float32)
    w = rng.random((4, 3, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(F.conv2d(_misaligned(x), _misaligned(w)), F.conv2d(x, w))
    out, idx = F.max_pool2d(_misaligned(x), 2)
    ref, ridx = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(out, ref)
    g = np.ones_like(out)
    np.testing.assert_array_equal(
        F.max_pool2d_backward(_misaligned(g), _misaligned(idx), x.shape),
        F.max_pool2d_backward(g, ridx, x.shape))
    aug = ImageAugmenter(shift=0.1)
    np.testing.assert_array_equal(aug.apply(_misaligned(x), 0), aug.apply(x, 0))
    assert compiled_calls_check_alignment


def test_misaligned_out_is_refused(rng):
    import fastml.metrics as fm

    X = rng.random((4, 3))
    with pytest.raises(ValueError, match="aligned"):
        fm.rbf_kernel(X, out=_misaligned(np.zeros((4, 4))))
