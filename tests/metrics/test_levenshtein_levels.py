"""Levenshtein matrices and kNN on every instruction-set level against a naive DP.

Rows of 1 to 64 symbols below 256 are scored in wide groups (as many rows as the vector
has 8-, 16-, 32- or 64-bit lanes, four texts at a time); the "wide" case reaches every
lane width with full and partial groups.

The SIMD group kernel scores FASTML_LEV_GROUP (8) patterns at once, in as many passes as
the level's registers need (8 x 64-bit lanes at avx512; 4 x 64-bit or 8 x 32-bit lanes at
avx2; 2 x 64 / 4 x 32 at the baseline). The inputs below reach every path: groups of
patterns of at most 32 symbols (32-bit lanes), of 33 to 64 (one 64-bit word), of several
words up to the 1024-symbol limit, longer than it (one pattern at a time), empty strings,
non-ASCII symbols (hash tables), and pattern counts that leave partial groups and partial
passes (counts not divisible by 2, 4 or 8); a mixed case puts every length class on both
sides. The level is fixed per process, so each level runs in a subprocess; the results,
both orientations and the symmetric matrix, must equal the reference exactly for 1, 2 and
3 threads.
"""
import textwrap

import numpy as np
import pytest

from fastml.metrics import pairwise_distances
from fastml.metrics.distance import kneighbors
from fastml._cpu import LEVELS
from fastml.utils._openmp import simd_detected

from .._levels import outputs_per_level
from .._reference import levenshtein_numpy

SUPPORTED = LEVELS[: LEVELS.index(simd_detected()) + 1]
ALPHABET = list("abc") + ["é", "漢", "\U0001f600"]


def reference(A, B):
    return np.array([[levenshtein_numpy(a, b) for b in B] for a in A], dtype=np.int64)


def make_strings(rng, lengths):
    """Strings of the given lengths over a small alphabet (many matches, so prefixes,
    suffixes and carries between words all occur), a quarter of them built from a
    common stem so that close pairs exist too."""
    stem = "".join(rng.choice(ALPHABET, 1100, p=[0.3, 0.3, 0.3, 0.04, 0.03, 0.03]))
    out = []
    for i, n in enumerate(lengths):
        if i % 4 == 0:
            s = list(stem[:n])
            for _ in range(min(3, n)):
                s[rng.integers(n)] = rng.choice(ALPHABET)
            out.append("".join(s))
        else:
            out.append("".join(rng.choice(ALPHABET, n, p=[0.3, 0.3, 0.3, 0.04, 0.03, 0.03])))
    return out


def cases():
    rng = np.random.default_rng(7)
    # 9 patterns of <= 32 symbols and 12 of 33 .. 64: sorted by length, one group of 32-bit
    # lanes, one mixed group, one partial group of 5 (a partial pass at avx2)
    short = [1, 2, 5, 17, 30, 31, 32, 32, 3] + [33, 34, 40, 47, 63, 64, 64, 63, 33, 50, 60, 41]
    # words: 64 | 65, 127 | 128 | 129, 1023 | 1024 (the group limit), 1025 (single path), 0
    long = [65, 100, 127, 128, 129, 200, 511, 1023, 1024, 1025, 0]
    A_short = make_strings(rng, short)
    B_short = make_strings(rng, rng.permutation(short + [0, 7, 64, 65])[:19].tolist())
    A_long = make_strings(rng, long)
    B_long = make_strings(rng, [0, 1, 64, 65, 130, 700, 1024, 1100])
    # wide groups: Latin-1 patterns of 1 .. 64 symbols, as many per vector as lanes of the
    # narrowest width (8/16/32/64 bits) hold, counts around the lane counts; the texts
    # mix in symbols >= 256 (they match no pattern of a wide group) and run longer than
    # 2^8 symbols (scores past an 8-bit lane)
    latin = ["a", "b", "c", "\xe9"]
    wide_lengths = ([1, 2, 8] * 23 + [9, 16] * 17 + [17, 32] * 9 + [33, 64, 40] * 5
                    + [0, 65])
    A_wide = ["".join(rng.choice(latin, n)) for n in wide_lengths]
    B_wide = make_strings(rng, [0, 1, 5, 8, 9, 16, 17, 31, 32, 33, 64, 65, 300])
    # every length class of the wide groups on both sides (so that either list may hold
    # the patterns), empty strings and a few strings with symbols >= 256 among them
    mixed_alphabet = list("abcd\xe9") + ["\u4e00"]
    p_mixed = [0.24, 0.24, 0.24, 0.24, 0.03, 0.01]
    A_mixed = ["".join(rng.choice(mixed_alphabet, n, p=p_mixed))
               for n in rng.integers(0, 72, 150)]
    B_mixed = ["".join(rng.choice(mixed_alphabet, n, p=p_mixed))
               for n in rng.integers(0, 72, 70)]
    return {"short": (A_short, B_short), "long": (A_long, B_long),
            "tiny": (A_short[:3], B_short[:5]), "wide": (A_wide, B_wide),
            "mixed": (A_mixed, B_mixed)}


SCRIPT = textwrap.dedent(
    r"""
    import json, sys
    import numpy as np
    from fastml.metrics import pairwise_distances
    from fastml.metrics.distance import kneighbors
    from fastml.utils._openmp import simd_path

    data = json.load(open(sys.argv[1], encoding="utf-8"))
    out = {"path": np.array(simd_path())}
    for name, (A, B) in data.items():
        A = np.array(A, dtype=object)
        B = np.array(B, dtype=object)
        for nj in (1, 2, 3):
            out[f"{name}_{nj}"] = pairwise_distances(A, B, metric="levenshtein", n_jobs=nj)
            out[f"{name}_T_{nj}"] = pairwise_distances(B, A, metric="levenshtein", n_jobs=nj)
            out[f"{name}_sym_{nj}"] = pairwise_distances(A, metric="levenshtein", n_jobs=nj)
            d, i = kneighbors(A, B, min(3, len(B)), metric="levenshtein", n_jobs=nj)
            out[f"{name}_knn_d_{nj}"], out[f"{name}_knn_i_{nj}"] = d, i
    np.savez(sys.argv[2], **out)
    """
)


@pytest.fixture(scope="module")
def data():
    c = cases()
    ref = {}
    for name, (A, B) in c.items():
        ref[name] = reference(A, B)
        ref[name + "_sym"] = reference(A, A)
    return c, ref


@pytest.fixture(scope="module")
def level_outputs(data, tmp_path_factory):
    import json

    c, _ = data
    tmp = tmp_path_factory.mktemp("lev_levels")
    inp = tmp / "in.json"
    inp.write_text(json.dumps(c), encoding="utf-8")
    return outputs_per_level(SCRIPT, inp, tmp, SUPPORTED)


def _check_knn(d, i, D):
    """Distances sorted; equal distances ordered by train index (a stable argsort)."""
    k = d.shape[1]
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_array_equal(d, np.take_along_axis(D, order, axis=1))


@pytest.mark.parametrize("level", SUPPORTED)
def test_every_level_matches_the_dp(level, data, level_outputs):
    c, ref = data
    out = level_outputs[level]
    assert str(out["path"]) == level
    for name in c:
        for nj in (1, 2, 3):  # exact, hence identical for every thread count
            np.testing.assert_array_equal(out[f"{name}_{nj}"], ref[name],
                                          err_msg=f"{name} on {level}, {nj} threads")
            np.testing.assert_array_equal(out[f"{name}_T_{nj}"], ref[name].T,
                                          err_msg=f"{name} transposed on {level}")
            np.testing.assert_array_equal(out[f"{name}_sym_{nj}"], ref[name + "_sym"],
                                          err_msg=f"{name} symmetric on {level}")
            _check_knn(out[f"{name}_knn_d_{nj}"], out[f"{name}_knn_i_{nj}"], ref[name])


@pytest.mark.parametrize("n_rows", [1, 3, 4, 5, 7, 8, 9, 12, 13, 17])
def test_group_sizes_in_process(n_rows):
    """The level of this process, every count of patterns around the lane counts; the
    lengths of a group straddle the 32-bit / 64-bit / multi-word boundaries."""
    rng = np.random.default_rng(n_rows)
    lengths = rng.choice([1, 8, 31, 32, 33, 63, 64, 65, 96, 129], size=n_rows).tolist()
    if n_rows % 2:  # all patterns in 32-bit lanes
        lengths = rng.choice([1, 2, 8, 20, 31, 32], size=n_rows).tolist()
    A = make_strings(rng, lengths)
    B = make_strings(rng, rng.choice([0, 1, 20, 32, 33, 64, 65, 150], size=6).tolist())
    D = pairwise_distances(A, B, metric="levenshtein")
    np.testing.assert_array_equal(D, reference(A, B))
    np.testing.assert_array_equal(pairwise_distances(B, A, metric="levenshtein"),
                                  reference(B, A))
    d, i = kneighbors(A, B, 2, metric="levenshtein")
    _check_knn(d, i, reference(A, B))


def test_wide_groups_take_only_rows_without_symbols_past_255():
    # an empty row after a row with a CJK symbol: the row is not scored in a wide group
    # (whose tables hold symbols < 256 only)
    A = ["a\u4e00", "a\u4e00", "", "ab"]
    B = ["x", "a\u4e00", "", "ab\u00e9"]
    np.testing.assert_array_equal(pairwise_distances(A, B, metric="levenshtein"),
                                  reference(A, B))
