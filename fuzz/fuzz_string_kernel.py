"""String kernels and p-gram counts (fastml.text) on arbitrary Unicode texts, ranges and
kinds, against collections.Counter."""
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call  # noqa: E402


def grams(s, p1, p2):
    return Counter(s[i:i + p] for p in range(p1, p2 + 1) for i in range(len(s) - p + 1))


def ref_k(a, b, kind):
    if kind == "presence":
        return len(a.keys() & b.keys())
    if kind == "spectrum":
        return sum(a[g] * b[g] for g in a.keys() & b.keys())
    return sum(min(a[g], b[g]) for g in a.keys() & b.keys())


def TestOneInput(data):
    from fastml.text import StringKernel, char_ngrams, string_kernel

    r = Data(data)
    A = [r.str(r.pick([3, 10, 40, 80])) for _ in range(r.int(1, 8))]
    B = [r.str(40) for _ in range(r.int(1, 5))] if r.bool() else None
    p1 = r.pick([1, 2, 3, 5, 6, 7, 9, 20, 0])
    p2 = p1 + r.pick([0, 0, 1, 2, 4, 30, 2**40, -1])
    kind = r.pick(["presence", "spectrum", "intersection", "nope"])
    normalize = r.bool()
    dtype = r.pick([np.float64, np.float32])
    what = r.int(0, 2)
    if what == 0:
        K = call(string_kernel, A, B, ngram_range=(p1, p2), kind=kind, normalize=normalize,
                 dtype=dtype, n_jobs=r.pick([1, 2]))
        if K is None:
            return
        Bv = A if B is None else B
        q2 = min(p2, 200)
        ga = [grams(s, p1, q2) for s in A]
        gb = [grams(s, p1, q2) for s in Bv]
        ref = np.array([[ref_k(a, b, kind) for b in gb] for a in ga], dtype=np.float64)
        if normalize:
            da = np.array([ref_k(a, a, kind) for a in ga], dtype=np.float64)
            db = np.array([ref_k(b, b, kind) for b in gb], dtype=np.float64)
            with np.errstate(all="ignore"):
                ref = ref / np.sqrt(np.outer(da, db))
            ref[~np.isfinite(ref)] = 0
        eps = float(np.finfo(dtype).eps)
        np.testing.assert_allclose(K, ref, rtol=8 * eps, atol=8 * eps)
        return
    if what == 1:
        res = call(char_ngrams, A, (p1, p2), return_vocabulary=True)
        if res is None:
            return
        X, vocab = res
        assert len(vocab) == len(set(vocab)) == X.shape[1]
        for i, s in enumerate(A):
            row = X.getrow(i)
            got = {vocab[j]: int(v) for j, v in zip(row.indices, row.data)}
            assert got == dict(grams(s, p1, min(p2, 200))), (s, p1, p2)
        return
    sk = StringKernel((p1, p2), kind, normalize, dtype=dtype)
    if call(sk.fit, A) is None:
        return
    Bv = B or A
    K1 = call(sk.transform, Bv)
    if K1 is None:
        return
    sk.set_params(kind=r.pick(["presence", "spectrum", "intersection"]))
    K2 = call(sk.transform, Bv)
    K3 = call(StringKernel((p1, p2), sk.kind, normalize, dtype=dtype).fit(A).transform, Bv)
    if K2 is not None and K3 is not None:
        np.testing.assert_array_equal(K2, K3)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.text  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
