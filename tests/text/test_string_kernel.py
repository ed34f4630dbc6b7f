"""fastml.text against independent references: a naive dict-based implementation of the
definitions and scikit-learn's CountVectorizer; invariants with hypothesis."""
import math
import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml.text import StringKernel, char_ngrams, string_kernel

KINDS = ["presence", "spectrum", "intersection"]


# ----------------------------------------------------------------------------------------
# Naive reference: Counter of p-grams, then the three definitions literally.
# ----------------------------------------------------------------------------------------
def ngram_counter(s, p1, p2):
    return Counter(s[i:i + p] for p in range(p1, p2 + 1) for i in range(len(s) - p + 1))


def ref_k(cs, ct, kind):
    shared = cs.keys() & ct.keys()
    if kind == "presence":
        return float(len(shared))
    if kind == "spectrum":
        return float(sum(cs[v] * ct[v] for v in shared))
    return float(sum(min(cs[v], ct[v]) for v in shared))


def ref_kernel(A, B, p1, p2, kind, normalize):
    B = A if B is None else B
    ca = [ngram_counter(s, p1, p2) for s in A]
    cb = [ngram_counter(s, p1, p2) for s in B]
    K = np.array([[ref_k(x, y, kind) for y in cb] for x in ca]).reshape(len(A), len(B))
    if normalize:
        da = [ref_k(x, x, kind) for x in ca]
        db = [ref_k(y, y, kind) for y in cb]
        for i in range(len(A)):
            for j in range(len(B)):
                K[i, j] = K[i, j] / math.sqrt(da[i] * db[j]) if da[i] and db[j] else 0.0
    return K


def random_texts(rng, n, alphabet="ab c\u00e9\u4e2d\U0001F600", max_len=40):
    alphabet = list(alphabet)
    return ["".join(rng.choice(alphabet, size=rng.integers(0, max_len + 1)))
            for _ in range(n)]


# small alphabets give many shared p-grams; the full range checks code point handling
texts_strategy = st.lists(
    st.one_of(st.text(alphabet="ab c", max_size=25),
              st.text(alphabet=st.characters(), max_size=15)),
    min_size=1, max_size=7)
range_strategy = st.tuples(st.integers(1, 8), st.integers(0, 3)).map(
    lambda t: (t[0], t[0] + t[1]))


# ----------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------
def test_issue_example():
    K = string_kernel(["pineapple pi"], ["apple pie"], ngram_range=2, normalize=False)
    assert K.tolist() == [[7.0]]
    assert string_kernel(["pineapple pi"], ["apple pie"], ngram_range=(2, 2),
                         normalize=False, kind="spectrum")[0, 0] == 8.0  # "pi" twice in s


@settings(max_examples=150, deadline=None)
@given(A=texts_strategy, B=texts_strategy, rng_=range_strategy,
       kind=st.sampled_from(KINDS), normalize=st.booleans())
def test_matches_naive_reference(A, B, rng_, kind, normalize):
    p1, p2 = rng_
    K = string_kernel(A, B, ngram_range=rng_, kind=kind, normalize=normalize)
    ref = ref_kernel(A, B, p1, p2, kind, normalize)
    if normalize:
        np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_array_equal(K, ref)  # integer counts: exact
    S = string_kernel(A, ngram_range=rng_, kind=kind, normalize=normalize)
    refS = ref_kernel(A, None, p1, p2, kind, normalize)
    if normalize:
        np.testing.assert_allclose(S, refS, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_array_equal(S, refS)
    np.testing.assert_array_equal(S, S.T)


@pytest.mark.parametrize("kind", KINDS)
def test_reference_on_longer_random_unicode(kind, rng):
    A, B = random_texts(rng, 30), random_texts(rng, 17)
    for r in [(1, 1), (3, 5), (6, 7), (2, 11)]:  # packed keys (<= 6) and hashed (> 6)
        np.testing.assert_array_equal(
            string_kernel(A, B, ngram_range=r, kind=kind, normalize=False),
            ref_kernel(A, B, *r, kind, False))


def test_extreme_code_points_are_distinct_features():
    # NUL, the largest code point, astral characters and a lone surrogate; "\0ab" (p=3)
    # must not meet "ab" (p=2) and 21-bit packing must be exact at U+10FFFF.
    A = ["\x00ab", "ab", "\U0010FFFF\U0010FFFFa", "\U0010FFFE\U0010FFFFa",
         "\ud800x\ud800x", "\U0001F600\U0001F600\U0001F600", "\x00\x00\x00\x00\x00\x00\x00"]
    for r in [(1, 3), (2, 4), (3, 7)]:
        for kind in KINDS:
            np.testing.assert_array_equal(
                string_kernel(A, ngram_range=r, kind=kind, normalize=False),
                ref_kernel(A, None, *r, kind, False))
    # characters are code points: an emoji is one character
    assert string_kernel(["\U0001F600\U0001F600"], ngram_range=2, normalize=False)[0, 0] == 1


def test_many_distinct_long_pgrams_stay_exact(rng):
    # ~20000 distinct hashed 9-grams over a 2-letter alphabet: any merged pair would show
    A = random_texts(rng, 60, alphabet="ab", max_len=400)
    X, vocab = char_ngrams(A, 9, return_vocabulary=True)
    assert len(vocab) == len(set(vocab))
    assert X.shape[1] == len(set().union(*[ngram_counter(s, 9, 9) for s in A]))
    np.testing.assert_array_equal(string_kernel(A, ngram_range=9, kind="spectrum",
                                                normalize=False),
                                  ref_kernel(A, None, 9, 9, "spectrum", False))


def test_forced_hash_collisions_are_resolved(rng):
    # with 2-bit hashes nearly every pair of distinct long p-grams collides; the ids must
    # still be exact (confirmed by comparing code points)
    from fastml.text import _string_kernel as fast

    A = random_texts(rng, 30, alphabet="abc", max_len=60)
    fast._set_hash_bits_for_tests(2)
    try:
        X, vocab = char_ngrams(A, (5, 9), return_vocabulary=True)
        K = {kind: string_kernel(A, A[:7], ngram_range=(6, 9), kind=kind, normalize=False)
             for kind in KINDS}
    finally:
        fast._set_hash_bits_for_tests(64)
    assert len(vocab) == len(set(vocab)) == len(set().union(
        *[ngram_counter(s, 5, 9) for s in A]))
    for kind in KINDS:
        np.testing.assert_array_equal(K[kind], ref_kernel(A, A[:7], 6, 9, kind, False))


@settings(max_examples=40, deadline=None)
@given(A=texts_strategy, rng_=range_strategy, kind=st.sampled_from(KINDS))
def test_blended_is_the_sum_of_single_p(A, rng_, kind):
    K = string_kernel(A, ngram_range=rng_, kind=kind, normalize=False)
    total = sum(string_kernel(A, ngram_range=p, kind=kind, normalize=False)
                for p in range(rng_[0], rng_[1] + 1))
    np.testing.assert_array_equal(K, total)


@pytest.mark.parametrize("kind", KINDS)
def test_normalized_diagonal_psd_and_empty_rows(kind, rng):
    A = random_texts(rng, 80, alphabet="abcd e") + ["", "ab", "x"]
    K = string_kernel(A, ngram_range=(3, 5), kind=kind)
    d = np.diag(K)
    short = np.array([len(s) < 3 for s in A])
    assert np.all(d[~short] == 1.0)
    assert np.all(K[short] == 0) and np.all(K[:, short] == 0)
    assert np.all(np.isfinite(K)) and np.all(K >= 0) and np.all(K <= 1 + 1e-12)
    for M in (K, string_kernel(A, ngram_range=(3, 5), kind=kind, normalize=False)):
        w = np.linalg.eigvalsh(M)
        assert w.min() >= -1e-9 * max(1.0, w.max())


def test_empty_and_short_strings():
    for kind in KINDS:
        K = string_kernel(["", "a", "ab"], ["", "abc"], ngram_range=(2, 3), kind=kind)
        assert np.all(np.isfinite(K))
        np.testing.assert_array_equal(K[:2], 0)
        np.testing.assert_array_equal(K[:, 0], 0)
        assert K[2, 1] > 0
        np.testing.assert_array_equal(string_kernel([""], ngram_range=1), [[0.0]])
    X = char_ngrams(["", "a"], 2)
    assert X.shape == (2, 0) and X.nnz == 0
    # p beyond every text: no p-gram at all, whatever the size of p
    for r in [(50, 10**12), 10**15]:
        np.testing.assert_array_equal(string_kernel(["abc", "abd"], ngram_range=r), 0)
    np.testing.assert_array_equal(
        string_kernel(["abcd", "abce"], ngram_range=(3, 10**9), normalize=False),
        string_kernel(["abcd", "abce"], ngram_range=(3, 4), normalize=False))


def test_n_jobs_invariance(rng):
    A, B = random_texts(rng, 300, alphabet="abcdef gh"), random_texts(rng, 70)
    for kind in KINDS:
        for b in (None, B):
            K1 = string_kernel(A, b, ngram_range=(2, 6), kind=kind, n_jobs=1)
            for nj in (2, 3, -1):
                np.testing.assert_array_equal(
                    string_kernel(A, b, ngram_range=(2, 6), kind=kind, n_jobs=nj), K1)
    X1, v1 = char_ngrams(A, (1, 4), return_vocabulary=True, n_jobs=1)
    X2, v2 = char_ngrams(A, (1, 4), return_vocabulary=True, n_jobs=2)
    assert v1 == v2 and (X1 != X2).nnz == 0


def test_rectangular_is_a_block_of_the_square(rng):
    A, B = random_texts(rng, 25), random_texts(rng, 11)
    for kind in KINDS:
        S = string_kernel(A + B, ngram_range=(2, 4), kind=kind)
        np.testing.assert_allclose(string_kernel(A, B, ngram_range=(2, 4), kind=kind),
                                   S[:25, 25:], rtol=1e-14)


def test_float32(rng):
    A = random_texts(rng, 40)
    K64 = string_kernel(A, ngram_range=(2, 3))
    K32 = string_kernel(A, ngram_range=(2, 3), dtype=np.float32)
    assert K32.dtype == np.float32 and K64.dtype == np.float64
    np.testing.assert_allclose(K32, K64, rtol=1e-6, atol=1e-7)
    assert StringKernel(dtype=np.float32).fit_transform(A).dtype == np.float32


def test_preprocessing_options():
    K = string_kernel(["Hello \t\n World"], ["hello world"], ngram_range=(1, 3),
                      lowercase=True, collapse_whitespace=True, normalize=False)
    K_ref = string_kernel(["hello world"], ngram_range=(1, 3), normalize=False)
    np.testing.assert_array_equal(K, K_ref)
    # both off by default
    assert string_kernel(["AB"], ["ab"], ngram_range=1)[0, 0] == 0
    assert string_kernel(["a  b"], ["a b"], ngram_range=3)[0, 0] == 0


def test_array_and_tuple_inputs():
    A = ["abc", "bcd", "xyz"]
    K = string_kernel(A, ngram_range=2)
    np.testing.assert_array_equal(string_kernel(np.array(A), ngram_range=2), K)
    np.testing.assert_array_equal(string_kernel(np.array(A, dtype=object), ngram_range=2), K)
    np.testing.assert_array_equal(string_kernel(tuple(A), ngram_range=2), K)
    np.testing.assert_array_equal(string_kernel(iter(A), ngram_range=2), K)


# ----------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    (["ok", b"bytes"], r"A\[1\] is a bytes.*decode"),
    (["ok", None], r"A\[1\] is a NoneType"),
    ([1, "ok"], r"A\[0\] is a int"),
    ([1.5], r"A\[0\] is a float"),
    ("a single string", "single str"),
    (b"bytes", "single bytes"),
    (None, "got None"),
    (42, "got int"),
])
def test_non_str_input_rejected(bad, match):
    with pytest.raises(TypeError, match=match):
        string_kernel(bad)
    if bad is not None:  # B=None means K(A, A)
        with pytest.raises(TypeError, match=match.replace("A", "B")):
            string_kernel(["ok"], bad)
    with pytest.raises(TypeError):
        char_ngrams(bad, 3)


def test_other_input_errors():
    with pytest.raises(ValueError, match="empty"):
        string_kernel([])
    with pytest.raises(ValueError, match="1-D"):
        string_kernel(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="1-D"):
        string_kernel(np.array("abc"))


def test_pandas_input():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"text": ["abc", "abd"]})
    with pytest.raises(ValueError, match="1-D"):
        StringKernel().fit(df)
    np.testing.assert_array_equal(string_kernel(df["text"], ngram_range=2),
                                  string_kernel(["abc", "abd"], ngram_range=2))


@pytest.mark.parametrize("ngram_range, exc, match", [
    (0, ValueError, ">= 1"), (-2, ValueError, ">= 1"), ((0, 3), ValueError, ">= 1"),
    ((3, 2), ValueError, "p1 <= p2"), ((2, -1), ValueError, ">= 1"),
    ("3", TypeError, "int"), ((1.0, 2), TypeError, "int"), (True, TypeError, "int"),
    ((1, 2, 3), TypeError, "pair"), (None, TypeError, "int"),
])
def test_bad_ngram_range(ngram_range, exc, match):
    with pytest.raises(exc, match=match):
        string_kernel(["abc"], ngram_range=ngram_range)
    with pytest.raises(exc, match=match):
        char_ngrams(["abc"], ngram_range)
    with pytest.raises(exc, match=match):
        StringKernel(ngram_range=ngram_range).fit(["abc"])


def test_bad_parameters():
    with pytest.raises(ValueError, match="kind must be one of"):
        string_kernel(["a"], kind="cosine")
    with pytest.raises(TypeError, match="normalize"):
        string_kernel(["a"], normalize="yes")
    with pytest.raises(TypeError, match="lowercase"):
        string_kernel(["a"], lowercase=1)
    with pytest.raises(ValueError, match="dtype"):
        string_kernel(["a"], dtype=np.int32)
    with pytest.raises(ValueError, match="dtype"):
        string_kernel(["a"], dtype="banana")
    with pytest.raises(ValueError, match="n_jobs"):
        string_kernel(["a"], n_jobs=0)
    with pytest.raises(TypeError, match="binary"):
        char_ngrams(["a"], 1, binary=None)
    with pytest.raises(ValueError, match="kind"):
        StringKernel(kind="nope").fit(["a"])


# ----------------------------------------------------------------------------------------
# char_ngrams
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ngram_range", [(1, 1), (3, 3), (2, 5)])
@pytest.mark.parametrize("binary", [False, True])
def test_char_ngrams_matches_count_vectorizer(ngram_range, binary, rng):
    from sklearn.feature_extraction.text import CountVectorizer

    # CountVectorizer(analyzer="char") lowercases and replaces whitespace runs of length
    # >= 2 by one space; feed it texts where that is a no-op.
    A = random_texts(rng, 60, alphabet="abcde fg\u00e9\u4e2d\U0001F600")
    A = [" ".join(s.split(" ")) for s in A]
    A = [s.replace("  ", " ") for s in A for _ in [0]]
    A = [s for s in A if "  " not in s]
    cv = CountVectorizer(analyzer="char", ngram_range=ngram_range, lowercase=False,
                         binary=binary)
    Xc = cv.fit_transform(A)
    X, vocab = char_ngrams(A, ngram_range, binary=binary, return_vocabulary=True)
    assert X.dtype == np.int64 and X.has_canonical_format
    assert sorted(vocab) == sorted(cv.vocabulary_)
    cols = [cv.vocabulary_[v] for v in vocab]
    assert (X != Xc[:, cols]).nnz == 0


def test_char_ngrams_matches_naive_counts(rng):
    A = random_texts(rng, 20) + [""]
    X, vocab = char_ngrams(A, (1, 7), return_vocabulary=True)
    col = {v: j for j, v in enumerate(vocab)}
    for i, s in enumerate(A):
        c = ngram_counter(s, 1, 7)
        row = X.getrow(i)
        assert dict(zip((vocab[j] for j in row.indices), row.data.tolist())) == dict(c)
        assert all(col[v] in row.indices for v in c)
    Xb = char_ngrams(A, (1, 7), binary=True)
    np.testing.assert_array_equal(Xb.toarray(), (X.toarray() > 0).astype(np.int64))
    # the kernel is the sparse product of these features
    np.testing.assert_array_equal((Xb @ Xb.T).toarray(),
                                  string_kernel(A, ngram_range=(1, 7), normalize=False))
    np.testing.assert_array_equal((X @ X.T).toarray(),
                                  string_kernel(A, ngram_range=(1, 7), normalize=False,
                                                kind="spectrum"))


def test_char_ngrams_for_naive_bayes():
    from sklearn.naive_bayes import MultinomialNB

    texts, y = toy_corpus(np.random.default_rng(1), 200)
    X = char_ngrams(texts, (2, 4))
    assert MultinomialNB().fit(X[:150], y[:150]).score(X[150:], y[150:]) > 0.9


# ----------------------------------------------------------------------------------------
# StringKernel
# ----------------------------------------------------------------------------------------
def toy_corpus(rng, n):
    """Two 'languages': words drawn from different (overlapping) vocabularies."""
    v0 = ["the", "cat", "sat", "on", "mat", "and", "dog", "ran"]
    v1 = ["der", "katze", "sass", "auf", "and", "hund", "lief", "the"]
    y = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(v1 if c else v0, size=rng.integers(2, 8))) for c in y]
    return texts, y


def test_transformer_is_the_kernel_against_training_texts(rng):
    train, test = random_texts(rng, 40), random_texts(rng, 9) + [""]
    for kind in KINDS:
        for normalize in (False, True):
            t = StringKernel((2, 4), kind, normalize)
            Kt = t.fit_transform(train)
            np.testing.assert_allclose(Kt, string_kernel(train, ngram_range=(2, 4), kind=kind,
                                                         normalize=normalize), rtol=1e-14)
            np.testing.assert_allclose(t.transform(test),
                                       string_kernel(test, train, ngram_range=(2, 4),
                                                     kind=kind, normalize=normalize),
                                       rtol=1e-14)
            np.testing.assert_allclose(t.fit(train).transform(train), Kt, rtol=1e-14)
            assert t.texts_fit_ == train
            np.testing.assert_array_equal(
                t.diag_fit_, np.diag(string_kernel(train, ngram_range=(2, 4), kind=kind,
                                                   normalize=False)))
    assert t.get_feature_names_out().shape == (40,)


def test_pipeline_grid_search_cross_val_and_pickle():
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from fastml.kernel_ridge import KernelRidgeClassifier

    texts, y = toy_corpus(np.random.default_rng(0), 120)
    pipe = make_pipeline(StringKernel(), SVC(kernel="precomputed"))
    gs = GridSearchCV(pipe, {"stringkernel__ngram_range": [2, (2, 4)],
                             "stringkernel__kind": ["presence", "intersection"],
                             "svc__C": [0.1, 1.0]}, cv=3).fit(texts, y)
    assert gs.best_score_ > 0.9
    krc = make_pipeline(StringKernel((1, 3), "spectrum"),
                        KernelRidgeClassifier(kernel="precomputed", alpha=0.1))
    assert cross_val_score(krc, np.array(texts, dtype=object), y, cv=4).mean() > 0.9
    krc.fit(texts, y)
    p = pickle.loads(pickle.dumps(krc))
    np.testing.assert_array_equal(p.predict(texts), krc.predict(texts))
    g = pickle.loads(pickle.dumps(gs))
    np.testing.assert_array_equal(g.predict(texts), gs.predict(texts))


def test_transformer_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        StringKernel().transform(["abc"])
    t = StringKernel().fit(["abcdef", "bcdefg"])
    with pytest.raises(TypeError, match=r"X\[0\] is a bytes"):
        t.transform([b"abc"])
    with pytest.raises(TypeError, match="single str"):
        t.fit("abc")
