"""DTW (one pair, matrices, k-NN) with any window (up to 2**63 - 1), 1-D and 2-D frames,
float32/float64, huge values, against a naive dynamic programme."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call, dtw_ref  # noqa: E402


def TestOneInput(data):
    from fastml.metrics import dtw, pairwise_distances
    from fastml.neighbors import NearestNeighbors

    r = Data(data)
    dim = r.pick([None, 1, 2, 3])
    dtype = r.pick([np.float64, np.float32])

    def seq():
        n = r.int(0, 12)
        return r.array((n,) if dim is None else (n, dim), dtype, special=r.int(0, 15) == 0)

    window = r.pick([None, 0, 1, 2, 5, 2**31, 2**62, 2**63 - 1, -1, 1.5, True])
    what = r.int(0, 2)
    if what == 0:
        a, b = seq(), seq()
        got = call(dtw, a, b, window=window)
        if got is None:
            return
        ref = dtw_ref(a, b, window)
        scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
        eps = float(np.finfo(np.result_type(a, b)).eps)
        if np.isfinite(ref):
            np.testing.assert_allclose(got, ref, rtol=64 * eps * 30,
                                       atol=64 * eps * 30 * scale)
        else:
            assert got == ref, (got, ref)
        return
    A = [seq() for _ in range(r.int(1, 6))]
    B = [seq() for _ in range(r.int(1, 6))] if r.bool() else None
    if what == 1:
        D = call(pairwise_distances, A, B, metric="dtw", window=window,
                 n_jobs=r.pick([1, 2]))
        if D is None:
            return
        assert not np.any(np.isnan(D)) and np.all(D >= 0)
        return
    Bv = A if B is None else B
    k = r.int(1, len(Bv))
    nn = NearestNeighbors(n_neighbors=k, metric="dtw", metric_params={"window": window},
                          n_jobs=r.pick([1, 2]))
    if call(nn.fit, Bv) is None:
        return
    res = call(nn.kneighbors, A)
    if res is None:
        return
    dist, ind = res
    assert np.all((ind >= 0) & (ind < len(Bv))), "index out of range"
    assert np.all(dist[:, 1:] >= dist[:, :-1]), "not sorted"


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.metrics  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
