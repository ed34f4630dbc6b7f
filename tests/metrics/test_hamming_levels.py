"""Hamming distances and kNN on 0/1 rows (the bit-packed path) on every instruction-set
level against numpy.

Train rows are packed in word-major groups of 8. The AVX2 kernel scores 8 queries
against 4 rows (half a group) at a time and sums byte counts over at most 31 words before
widening them; the AVX-512 kernel counts with VPOPCNTQ. The shapes below reach partial
query blocks (query counts not divisible by 4 or 8), partial groups and halves of train
rows, feature counts that are not multiples of 64 and ones past 31 words (several byte
accumulators a pair), and queries equal to train rows (distance 0, ties). The level is
fixed per process, so each level runs in a subprocess; the results must equal the
reference exactly, and be identical for 1, 2 and 3 threads.
"""
import textwrap

import numpy as np
import pytest

from fastml._cpu import LEVELS
from fastml.metrics import pairwise_distances
from fastml.metrics.distance import kneighbors
from fastml.utils._openmp import simd_detected

from .._levels import outputs_per_level

SUPPORTED = LEVELS[: LEVELS.index(simd_detected()) + 1]

# (n queries, n train, n features)
SHAPES = [(1, 1, 1), (3, 5, 63), (7, 9, 64), (8, 8, 65), (9, 13, 130), (13, 20, 1984),
          (17, 31, 1985), (20, 12, 2100), (67, 70, 784)]


def make(shape, seed):
    nq, nt, d = shape
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95)
    F = rng.random((nt, d)) < p
    Q = rng.random((nq, d)) < p
    Q[: min(nq, nt) // 2] = F[: min(nq, nt) // 2]  # exact matches: distance 0
    return Q, F


def reference(Q, F):
    return (Q[:, None, :] != F[None, :, :]).sum(axis=2)


def assert_counts(D, C, n_features, msg):
    """D (fractions of differing features, one rounding of count / n_features) holds the
    exact counts C."""
    np.testing.assert_array_equal(np.rint(D * n_features), C, err_msg=msg)
    np.testing.assert_allclose(D, C / n_features, rtol=1e-15, atol=0, err_msg=msg)


def check_knn(d, i, C, n_features):
    """Distances sorted; equal distances ordered by train index (a stable argsort)."""
    k = d.shape[1]
    order = np.argsort(C, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(i, order)
    assert_counts(d, np.take_along_axis(C, order, axis=1), n_features, "kNN distances")


SCRIPT = textwrap.dedent(
    r"""
    import sys
    import numpy as np
    from fastml.metrics import pairwise_distances
    from fastml.metrics.distance import kneighbors
    from fastml.utils._openmp import simd_path

    data = np.load(sys.argv[1])
    out = {"path": np.array(simd_path())}
    for name in data.files:
        if not name.startswith("Q"):
            continue
        Q, F = data[name], data["F" + name[1:]]
        for nj in (1, 2, 3):
            out[f"D{name[1:]}_{nj}"] = pairwise_distances(Q, F, metric="hamming", n_jobs=nj)
            d, i = kneighbors(Q, F, min(4, len(F)), metric="hamming", n_jobs=nj)
            out[f"d{name[1:]}_{nj}"], out[f"i{name[1:]}_{nj}"] = d, i
    np.savez(sys.argv[2], **out)
    """
)


@pytest.fixture(scope="module")
def cases():
    return {f"_{s}": make(shape, s) for s, shape in enumerate(SHAPES)}


@pytest.fixture(scope="module")
def level_outputs(cases, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hamming_levels")
    inp = tmp / "in.npz"
    arrays = {}
    for name, (Q, F) in cases.items():
        arrays["Q" + name], arrays["F" + name] = Q, F
    np.savez(inp, **arrays)
    return outputs_per_level(SCRIPT, inp, tmp, SUPPORTED)


@pytest.mark.parametrize("level", SUPPORTED)
def test_every_level_matches_numpy(level, cases, level_outputs):
    out = level_outputs[level]
    assert str(out["path"]) == level
    for name, (Q, F) in cases.items():
        C = reference(Q, F)
        d = Q.shape[1]
        for nj in (1, 2, 3):
            D = out[f"D{name}_{nj}"]
            assert_counts(D, C, d, f"{name} {nj} threads {level}")
            check_knn(out[f"d{name}_{nj}"], out[f"i{name}_{nj}"], C, d)
            # bitwise identical whatever the thread count
            np.testing.assert_array_equal(D, out[f"D{name}_1"])
            np.testing.assert_array_equal(out[f"i{name}_{nj}"], out[f"i{name}_1"])


@pytest.mark.parametrize("shape", [(64, 1030, 97), (130, 2050, 700), (9, 1025, 2000)])
def test_knn_many_train_rows_in_process(shape):
    """Train rows past one block of the kNN pass (1024 rows, screened in blocks of 16),
    few distinct distances (many ties across blocks), on this process's level."""
    Q, F = make(shape, 11)
    F[::3] = F[0]  # repeated train rows: equal distances far apart
    C = reference(Q, F)
    for nj in (1, 2):
        d, i = kneighbors(Q, F, 7, metric="hamming", n_jobs=nj)
        check_knn(d, i, C, Q.shape[1])
    assert_counts(pairwise_distances(Q, F, metric="hamming"), C, Q.shape[1], str(shape))
