"""fastml.text under hostile input: wide p ranges (each position costs O(1) per p),
repetitive texts, set_params without refit, Ctrl-C in long calls, and lengths that cross
the 64-bit packing boundaries (p = 3 / 6 / 7), against a Counter reference."""
import signal
import threading
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml.text import StringKernel, char_ngrams, string_kernel

KINDS = ["presence", "spectrum", "intersection"]


def counter(s, p1, p2):
    return Counter(s[i:i + p] for p in range(p1, p2 + 1) for i in range(len(s) - p + 1))


def ref(A, B, p1, p2, kind):
    ca = [counter(s, p1, p2) for s in A]
    cb = [counter(s, p1, p2) for s in B]

    def k(x, y):
        sh = x.keys() & y.keys()
        if kind == "presence":
            return len(sh)
        if kind == "spectrum":
            return sum(x[v] * y[v] for v in sh)
        return sum(min(x[v], y[v]) for v in sh)

    return np.array([[k(x, y) for y in cb] for x in ca], dtype=np.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_whole_range_on_repetitive_texts(kind):
    # every p from 1 to the text length: the chain of ids from p = 6 up, on texts where
    # every p-gram repeats (the worst case of a code-point comparison per occurrence)
    A = ["a" * 150, "ab" * 70, "a" * 149 + "b", "abc" * 40 + "x"]
    K = string_kernel(A, ngram_range=(1, 150), kind=kind, normalize=False)
    np.testing.assert_array_equal(K, ref(A, A, 1, 150, kind))


@pytest.mark.parametrize("p1, p2", [(1, 6), (5, 8), (6, 6), (6, 7), (7, 7), (7, 12),
                                    (10, 40), (3, 3), (4, 4)])
def test_ranges_around_the_packing_boundaries(p1, p2, rng):
    alphabet = list("ab\u00e9\U0001F600")
    A = ["".join(rng.choice(alphabet, size=rng.integers(0, 50))) for _ in range(9)]
    B = A[:4] + ["".join(rng.choice(alphabet, size=30))]
    X, vocab = char_ngrams(A + B, (p1, p2), return_vocabulary=True)
    assert len(vocab) == len(set(vocab))
    want = set().union(*[counter(s, p1, p2) for s in A + B])
    assert set(vocab) == want
    for kind in KINDS:
        np.testing.assert_array_equal(
            string_kernel(A, B, ngram_range=(p1, p2), kind=kind, normalize=False),
            ref(A, B, p1, p2, kind))


@settings(max_examples=60, deadline=None)
@given(A=st.lists(st.text(alphabet="ab", min_size=0, max_size=70), min_size=1, max_size=5),
       p1=st.integers(1, 10), width=st.integers(0, 64), kind=st.sampled_from(KINDS))
def test_long_ranges_match_counter(A, p1, width, kind):
    K = string_kernel(A, ngram_range=(p1, p1 + width), kind=kind, normalize=False)
    np.testing.assert_array_equal(K, ref(A, A, p1, p1 + width, kind))


@pytest.mark.parametrize("change", [{"kind": "spectrum"}, {"ngram_range": (1, 2)},
                                    {"ngram_range": 3, "kind": "intersection"}])
def test_transform_after_set_params_uses_the_new_parameters(change):
    A = ["the cat sat", "a cat", "dogs and cats", "x"]
    B = ["cat", "the dog", ""]
    sk = StringKernel((2, 4), "presence").fit(A)
    sk.set_params(**change)
    fresh = StringKernel(**{**dict(ngram_range=(2, 4), kind="presence"), **change}).fit(A)
    np.testing.assert_array_equal(sk.transform(B), fresh.transform(B))


def test_set_params_of_the_preprocessing_needs_a_refit():
    sk = StringKernel(2).fit(["Hello World", "hello"])
    sk.set_params(lowercase=True)
    with pytest.raises(ValueError, match="lowercase.*fit again"):
        sk.transform(["hello"])
    np.testing.assert_array_equal(sk.fit(["Hello World", "hello"]).transform(["hello"]),
                                  StringKernel(2, lowercase=True).fit(
                                      ["hello world", "hello"]).transform(["hello"]))


class _Interrupted(Exception):
    pass


def interrupt_after(seconds):
    """Raise _Interrupted in the main thread after ``seconds`` (as Ctrl-C would, through
    a signal handler); returns a function restoring the previous handler."""
    def handler(signum, frame):
        raise _Interrupted

    old = signal.signal(signal.SIGINT, handler)
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()

    def restore():
        timer.cancel()
        signal.signal(signal.SIGINT, old)

    return restore


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ctrl_c_interrupts_a_long_string_kernel(n_jobs):
    rng = np.random.default_rng(0)
    # ~3000 texts of 2000 characters over 4 letters: K(A, A) takes far longer than the
    # 0.3 s after which the signal arrives
    A = ["".join(rng.choice(list("acgt"), size=2000)) for _ in range(3000)]
    restore = interrupt_after(0.3)
    t0 = time.perf_counter()
    try:
        with pytest.raises(_Interrupted):
            string_kernel(A, ngram_range=(1, 8), kind="spectrum", n_jobs=n_jobs)
    finally:
        restore()
    assert time.perf_counter() - t0 < 10  # the call returned soon after the signal
