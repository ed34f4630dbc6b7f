"""Benchmark cases: character p-gram string kernels.

Data: the SMS Spam Collection (5574 messages; random strings of similar lengths over a
similar alphabet when the file is absent), whitespace runs replaced by one space before
timing so that CountVectorizer (which always does that) and fastml see the same strings.
Peers, with the same thread count:

* "CountVectorizer + sparse product": scikit-learn's ``CountVectorizer(analyzer="char",
  lowercase=False)``, then ``X @ X.T`` (scipy, single-threaded) made dense and normalised;
  for the intersection kernel the threshold trick min(a, b) = sum_t [a >= t][b >= t]
  (a count c becomes c binary columns, built directly from the CSR arrays) turns it into
  a sparse product as well;
* ``strkernels`` (C, OpenMP; threads capped with threadpoolctl): its spectrum kernel sums
  the k-mers k = 1..order over a fixed alphabet (A-Z, 0-9) with one count per k-mer of
  the whole alphabet and sequence, so it is timed on upper-cased alphanumeric SMS
  (where it equals fastml's spectrum kernel over p = 1..3) and only on a subset: it
  needs about 15 s for 50 messages.
"""
import re

import numpy as np

from fastml.benchmarks._registry import Case, Peer, register

_WS = re.compile(r"\s+")


def sms_texts(data_dir, n=None, seed=0):
    """SMS messages (list of str) and labels, read from ``data_dir/sms_spam`` (the data
    home when ``data_dir`` is None; never downloaded); synthetic strings of SMS-like
    lengths when the file is absent or unreadable."""
    from fastml.datasets import load_sms_spam

    try:
        path = None if not data_dir else f"{data_dir}/sms_spam"
        texts, y = load_sms_spam(path, download=False)
    except (OSError, ValueError):  # absent (FileNotFoundError is an OSError) or malformed
        rng = np.random.default_rng(seed)
        alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz      .,!?0123456789ABCDEFG"))
        lengths = np.clip(rng.lognormal(4.0, 0.7, 5574).astype(int), 2, 910)
        texts = ["".join(rng.choice(alphabet, k)) for k in lengths]
        y = np.where(rng.random(5574) < 0.134, "spam", "ham")
    texts = [_WS.sub(" ", t) for t in texts]
    if n is not None:
        texts, y = texts[:n], y[:n]
    return texts, np.asarray(y)


def _inputs(n_train, n_test, quick_n=(600, 200), upper_alnum=False):
    def make(data_dir, quick):
        nt, ns = quick_n if quick else (n_train, n_test)
        texts, _ = sms_texts(data_dir, nt + ns)
        if upper_alnum:
            texts = [re.sub("[^A-Z0-9]", "", t.upper()) for t in texts]
        return {"X": texts[ns:] if ns else texts, "T": texts[:ns] if ns else None}

    return make


def _fastml(p1, p2, kind):
    def run(inp, n_threads):
        from fastml.text import string_kernel

        return string_kernel(inp["T"] if inp["T"] is not None else inp["X"],
                             inp["X"] if inp["T"] is not None else None,
                             ngram_range=(p1, p2), kind=kind, normalize=True, n_jobs=n_threads)

    return run


def _thresholds(X, top):
    """Counts -> binary columns (feature f, level t) for t = 1..count, built directly from
    the CSR arrays (a count c becomes c ones)."""
    import scipy.sparse as sp

    X = X.tocsr()
    c = X.data.astype(np.int64)
    rows = np.repeat(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)), c)
    level = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
    cols = np.repeat(X.indices.astype(np.int64), c) * top + level
    return sp.csr_matrix((np.ones(cols.shape[0]), (rows, cols)),
                         shape=(X.shape[0], X.shape[1] * top))


def _count_vectorizer(p1, p2, kind):
    """CountVectorizer + sparse product: the usual hand-made string kernel."""

    def run(inp, n_threads):
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import CountVectorizer

        cv = CountVectorizer(analyzer="char", ngram_range=(p1, p2), lowercase=False,
                             binary=kind == "presence", dtype=np.float64)
        if inp["T"] is None:
            X = T = cv.fit_transform(inp["X"])
        else:  # one vocabulary for both, so that k(t, t) counts every p-gram of t
            XT = cv.fit_transform(inp["T"] + inp["X"])
            T, X = XT[:len(inp["T"])], XT[len(inp["T"]):]
        if kind == "intersection":  # threshold trick: min(a, b) = sum_t [a >= t][b >= t]
            top = int(max(X.max(), T.max()))
            X, T = (_thresholds(X, top), _thresholds(T, top) if inp["T"] is not None else None)
            T = X if T is None else T
        K = (T @ X.T).toarray()
        dx = np.asarray(X.multiply(X).sum(1)).ravel()
        dt = np.asarray(T.multiply(T).sum(1)).ravel()
        with np.errstate(divide="ignore"):
            sx = np.where(dx > 0, 1 / np.sqrt(dx), 0)
            st = np.where(dt > 0, 1 / np.sqrt(dt), 0)
        K *= st[:, None]
        K *= sx[None, :]
        return K

    return run


def _strkernels_spectrum(order):
    def run(inp, n_threads):
        from strkernels import SpectrumStringKernel
        from threadpoolctl import threadpool_limits

        X = inp["X"]
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            return SpectrumStringKernel(order=order, alphabet=2)(X, X)

    return run


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-10, atol=1e-12))


_CV = "CountVectorizer + sparse product"
for (_p1, _p2), _kind in [((3, 3), "presence"), ((3, 5), "presence"), ((3, 3), "spectrum"),
                          ((3, 5), "spectrum"), ((3, 3), "intersection"),
                          ((3, 5), "intersection")]:
    _name = f"string_kernel {_kind} p={_p1}" + (f"..{_p2}" if _p2 > _p1 else "")
    register(Case(
        area="text", task=_name + " K(X,X)", shape="5574 SMS", dtype="float64",
        make_inputs=_inputs(5574, 0, quick_n=(600, 0)), run=_fastml(_p1, _p2, _kind),
        peers=(Peer(_CV, _count_vectorizer(_p1, _p2, _kind)),), check=_close,
        quick=(_p1, _p2, _kind) == (3, 5, "presence"), quick_shape="600 SMS",
    ))
register(Case(
    area="text", task="string_kernel presence p=3..5 K(T,X)", shape="1000 x 4574 SMS",
    dtype="float64", make_inputs=_inputs(4574, 1000), run=_fastml(3, 5, "presence"),
    peers=(Peer(_CV, _count_vectorizer(3, 5, "presence")),), check=_close,
    quick_shape="200 x 600 SMS",
))
register(Case(
    area="text", task="string_kernel spectrum p=1..3 K(X,X), A-Z0-9 only", shape="60 SMS",
    dtype="float64", make_inputs=_inputs(60, 0, quick_n=(60, 0), upper_alnum=True),
    run=_fastml(1, 3, "spectrum"),
    peers=(Peer("strkernels", _strkernels_spectrum(3), requires=("strkernels",)),),
    check=_close,
))


def _char_ngrams_fastml(inp, n_threads):
    from fastml.text import char_ngrams

    return char_ngrams(inp["X"], (3, 5), n_jobs=n_threads)


def _char_ngrams_sklearn(inp, n_threads):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer="char", ngram_range=(3, 5),
                           lowercase=False).fit_transform(inp["X"])


def _same_counts(a, b):
    # same multiset of columns (column order differs: first-seen vs alphabetical)
    if a.shape != b.shape:
        return False
    ka = sorted(map(tuple, (a.T.tocsr()).toarray().astype(np.int64))) if a.shape[0] < 1000 \
        else None
    if ka is not None:
        return ka == sorted(map(tuple, (b.T.tocsr()).toarray().astype(np.int64)))
    return a.nnz == b.nnz and a.sum() == b.sum() and np.array_equal(
        np.sort(np.asarray(a.sum(0)).ravel()), np.sort(np.asarray(b.sum(0)).ravel()))


register(Case(
    area="text", task="char_ngrams p=3..5 (CSR counts)", shape="5574 SMS", dtype="int64",
    make_inputs=_inputs(5574, 0, quick_n=(600, 0)), run=_char_ngrams_fastml,
    peers=(Peer("CountVectorizer", _char_ngrams_sklearn),), check=_same_counts,
    quick_shape="600 SMS",
))
