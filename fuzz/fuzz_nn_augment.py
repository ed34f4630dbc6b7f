"""fastml.nn's ImageAugmenter (random shift, rotation, scale, flips in compiled
code), on any shape, layout and values (see _nn_common.py): identity, flip and
integer-shift maps against numpy slicing, the same result for any thread count, and the
documented errors for hostile parameters."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call  # noqa: E402
from _nn_common import tensor, dims, same  # noqa: E402


def fuzz_augment(r):
    """ImageAugmenter: identity / flip / integer-shift maps are exact, the thread count
    changes nothing, hostile parameters raise the documented errors."""
    from fastml.nn.augment import ImageAugmenter, get_augmenter

    dtype = r.pick([np.float32, np.float64])
    shape = (r.int(1, 4), r.pick([1, 2, 3]), dims(r, big=True), dims(r, big=True))
    x = tensor(r, shape, r.pick([dtype, dtype, dtype, np.int64, np.uint8]),
               r.int(0, 5) == 0)
    if r.int(0, 5) == 0:
        spec = r.pick([{"shift": r.float()}, {"rotation": r.float()}, {"scale": r.float()},
                       {"shift": 2**63}, {"bogus": 1}, "digits", "images", "none", 3,
                       {"shift": True}, {"scale": float("nan")}])
        aug = call(get_augmenter, spec)
        if aug is None:
            return
    else:
        aug = ImageAugmenter(shift=0, rotation=0, scale=0, hflip=r.bool(), vflip=r.bool())
    seed = r.int(0, 2**32 - 1)
    if r.int(0, 7) == 0:  # hostile thread counts and generators: an error, not a crash
        call(aug.apply, x, r.pick([None, seed, "rng", 1.5, -1]),
             r.pick([0, -1, -5, 2**31, 2**40, 2**63, 1.5, True, None, 1]))
    out1 = call(aug.apply, x, np.random.default_rng(seed), 1)
    if out1 is None:
        return
    out2 = aug.apply(x, np.random.default_rng(seed), r.pick([2, 4]))
    same(out1, out2, "augment thread invariance")
    assert out1.dtype == x.dtype or x.dtype.kind != "f", (out1.dtype, x.dtype)
    if aug.shift or aug.rotation or aug.scale:
        return
    # identity and flips only: every output pixel reads one input pixel exactly
    mats = aug.matrices(shape[0], shape[2], shape[3], np.random.default_rng(seed))
    ref = np.asarray(x).copy()
    for n in range(shape[0]):
        if mats[n, 0] < 0:
            ref[n] = ref[n, :, :, ::-1]
        if mats[n, 4] < 0:
            ref[n] = ref[n, :, ::-1, :]
    same(out1, ref, "augment identity / flip")
    # integer shifts through the compiled warp directly (the matrices' documented meaning)
    from fastml.nn import _augment

    if x.dtype.kind != "f":
        return
    dy, dx = r.int(-shape[2], shape[2]), r.int(-shape[3], shape[3])
    m = np.tile(np.array([1.0, 0.0, -dx, 0.0, 1.0, -dy]), (shape[0], 1))
    xc = np.ascontiguousarray(x)
    out = np.empty_like(xc)
    _augment.affine_warp(xc, out, m, r.pick([1, 2]))
    ref = np.zeros_like(xc)
    H, W = shape[2:]
    ref[:, :, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        xc[:, :, max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    same(out, ref, "integer shift")


def TestOneInput(data):
    from _common import LAST

    r = Data(data)
    LAST.append(("fuzz_nn_augment", (), {}))
    fuzz_augment(r)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.linalg  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.nn.augment  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
