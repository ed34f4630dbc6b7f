"""Levenshtein (one pair, matrices, k-NN) on arbitrary Unicode strings and integer
sequences, against the textbook dynamic programme; lengths cross the 64-symbol words and
the 8-lane SIMD groups."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call, levenshtein_ref  # noqa: E402


def _item(r, kind, max_len):
    if kind == "str":
        return r.str(max_len)
    n = r.int(0, max_len)
    dtype = r.pick([np.int64, np.int32, np.uint8, np.int8, np.uint64, np.bool_])
    vals = [r.pick([0, 1, 2, -1, 255, 2**31, -(2**62), r.int(-1000, 1000)])
            for _ in range(n)]
    with np.errstate(over="ignore"):
        return np.array(vals).astype(dtype)


def TestOneInput(data):
    from fastml.metrics import levenshtein, pairwise_distances
    from fastml.neighbors import NearestNeighbors

    r = Data(data)
    kind = r.pick(["str", "str", "ints"])
    what = r.int(0, 2)
    # long items (beyond the 1024-symbol SIMD groups) only for one pair: the reference
    # is a quadratic Python loop
    max_len = r.pick([5, 9, 17, 33, 65, 70, 130] + ([1100] if what == 0 else []))
    if what == 0:
        a, b = _item(r, kind, max_len), _item(r, kind, max_len)
        got = call(levenshtein, a, b)
        if got is None:
            return
        assert got == levenshtein_ref(list(a), list(b)), (a, b, got)
        return
    A = [_item(r, kind, max_len) for _ in range(r.int(1, 11))]
    B = [_item(r, kind, max_len) for _ in range(r.int(1, 11))] if r.bool() else None
    Bv = A if B is None else B
    ref = np.array([[levenshtein_ref(list(a), list(b)) for b in Bv] for a in A])
    if what == 1:
        D = call(pairwise_distances, A, B, metric="levenshtein", n_jobs=r.pick([1, 2]))
        if D is None:
            return
        np.testing.assert_array_equal(D, ref)
        return
    k = r.int(1, len(Bv))
    nn = NearestNeighbors(n_neighbors=k, metric="levenshtein", n_jobs=r.pick([1, 2]))
    if call(nn.fit, Bv) is None:
        return
    res = call(nn.kneighbors, A)
    if res is None:
        return
    dist, ind = res
    np.testing.assert_array_equal(dist, np.sort(ref, axis=1)[:, :k])
    np.testing.assert_array_equal(np.take_along_axis(ref, ind, axis=1), dist)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.metrics  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
