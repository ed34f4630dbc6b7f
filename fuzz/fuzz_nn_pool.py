"""fastml.nn.functional's max / average / global pooling, forward and backward,
on any shape, layout and values (see _nn_common.py), against window maxima and means in
float64."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call  # noqa: E402
from _nn_common import (values, tensor, dims, pair_or_int, as_pair,  # noqa: E402
                        eps_of, pad4, check_bounded, nan_sum, same)


def pool_windows(x, kh, kw, sh, sw, ph, pw):
    """(values, valid, flat input index) of every window: arrays (N, C, Ho, Wo, kh*kw)."""
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    xp = pad4(x.astype(np.float64), ph, pw)
    valid = pad4(np.ones(x.shape), ph, pw) > 0
    vals, oks, idx = [], [], []
    oh, ow = np.arange(Ho)[:, None], np.arange(Wo)[None, :]
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i, i + sh * (Ho - 1) + 1, sh),
                  slice(j, j + sw * (Wo - 1) + 1, sw))
            vals.append(xp[sl])
            oks.append(valid[sl])
            idx.append(np.broadcast_to((oh * sh - ph + i) * W + (ow * sw - pw + j),
                                       (Ho, Wo)))
    return (np.stack(vals, -1), np.stack(oks, -1),
            np.broadcast_to(np.stack(idx, -1), (N, C, Ho, Wo, kh * kw)))


def maxpool_ref(x, kh, kw, sh, sw, ph, pw):
    """Window maxima and the flat index of the first maximum (the first NaN if any)."""
    v, ok, idx = pool_windows(x, kh, kw, sh, sw, ph, pw)
    isnan = np.isnan(v) & ok
    m = np.max(np.where(ok & ~isnan, v, -np.inf), axis=-1)
    anynan = isnan.any(-1)
    first_max = np.argmax(ok & ~isnan & (v == m[..., None]), axis=-1)
    first_nan = np.argmax(isnan, axis=-1)
    k = np.where(anynan, first_nan, first_max)
    out = np.where(anynan, np.nan, m)
    arg = np.take_along_axis(idx, k[..., None], -1)[..., 0]
    return out, arg


def avgpool_ref(x, kh, kw, sh, sw, ph, pw, include_pad):
    N, C, H, W = x.shape
    v, ok, _ = pool_windows(x, kh, kw, sh, sw, ph, pw)
    Ho, Wo = v.shape[2:4]
    if include_pad:  # the window clipped to the padded image
        h0 = np.arange(Ho) * sh - ph
        w0 = np.arange(Wo) * sw - pw
        hp = np.minimum(h0 + kh, H + ph) - h0
        wp = np.minimum(w0 + kw, W + pw) - w0
        cnt = (hp[:, None] * wp[None, :]).astype(np.float64)
    else:
        cnt = ok.sum(-1).astype(np.float64)
    with np.errstate(all="ignore"):
        s = np.where(ok, v, 0.0).sum(-1)
        a = np.where(ok, np.abs(v), 0.0).sum(-1)
    return s / cnt, a / cnt, cnt


def avgpool_bwd_ref(g, x_shape, kh, kw, sh, sw, ph, pw, cnt):
    N, C, H, W = x_shape
    Ho, Wo = g.shape[2:]
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    adxp = np.zeros_like(dxp)
    with np.errstate(all="ignore"):
        q = g.astype(np.float64) / cnt
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(None), slice(i, i + sh * (Ho - 1) + 1, sh),
                      slice(j, j + sw * (Wo - 1) + 1, sw))
                dxp[sl] += q
                adxp[sl] += np.abs(q)
    return dxp[:, :, ph:ph + H, pw:pw + W], adxp[:, :, ph:ph + H, pw:pw + W]


def pool_params(r):
    kernel = pair_or_int(r, [1, 2, 2, 3, 4, 5])
    stride = r.pick([None, None]) if r.bool() else pair_or_int(r, [1, 2, 3])
    padding = pair_or_int(r, [0, 0, 0, 1, 2])
    return kernel, stride, padding


def fuzz_pool(r):
    import fastml.nn.functional as F

    dtype = r.pick([np.float32, np.float64])
    special = r.int(0, 5) == 0
    shape = (r.int(1, 3), r.pick([1, 2, 3, 5]), dims(r, big=True), dims(r, big=True))
    x = tensor(r, shape, r.pick([dtype, dtype, dtype, np.int32, np.bool_]), special)
    rdtype = np.dtype(dtype if x.dtype.kind == "f" else np.float64)
    kernel, stride, padding = pool_params(r)
    n_jobs = r.pick([None, 1, 2, -1, 1]) if r.int(0, 15) else r.pick([0, 1.5, "2", 2**63])
    what = r.int(0, 2)
    if what == 0:
        res = call(F.max_pool2d, x, kernel, stride, padding, n_jobs=n_jobs)
        if res is None:
            return
        out, arg = res
        kh, kw = as_pair(kernel)
        sh, sw = as_pair(kernel if stride is None else stride)
        ph, pw = as_pair(padding)
        ref, rarg = maxpool_ref(x, kh, kw, sh, sw, ph, pw)
        assert out.dtype == rdtype and arg.dtype == np.int64
        same(out.astype(np.float64), ref, "max_pool2d values")
        same(arg, rarg, "max_pool2d argmax (first maximum, first NaN)")
        same(call(F.max_pool2d, x, kernel, stride, padding, n_jobs=2)[0], out,
             "max_pool2d n_jobs=2")
        g = tensor(r, out.shape, rdtype, r.int(0, 5) == 0)
        hostile = r.int(0, 7)
        if hostile == 0:
            arg = arg.copy()
            arg.flat[r.int(0, arg.size - 1)] = r.pick([-1, shape[2] * shape[3], 2**62])
        elif hostile == 1:
            arg = arg.astype(np.float64)
        xs = shape
        if hostile == 2:  # a wider x_shape: the flat indices stay valid, dx is larger
            xs = shape[:3] + (shape[3] + r.int(1, 3),)
        elif hostile == 3:
            xs = r.pick([shape[:3], shape[:2] + (0, shape[3]), shape[:3] + (-1,),
                         shape[:3] + (2**63,), shape[:3] + (1.5,), None, "NCHW",
                         (shape[0] + 1,) + shape[1:]])
        dx = call(F.max_pool2d_backward, g, arg, xs, n_jobs=n_jobs)
        if hostile in (0, 1, 3):
            assert dx is None, "a corrupt argmax or x_shape was accepted"
            return
        shape = xs
        assert dx is not None, "max_pool2d_backward refused its forward's output"
        arg = arg.reshape(out.shape)
        rdx = np.zeros((shape[0] * shape[1], shape[2] * shape[3]))
        with np.errstate(all="ignore"):
            np.add.at(rdx, (np.arange(rdx.shape[0])[:, None], rarg.reshape(rdx.shape[0], -1)),
                      g.astype(np.float64).reshape(rdx.shape[0], -1))
            ardx = np.zeros_like(rdx)
            np.add.at(ardx, (np.arange(rdx.shape[0])[:, None], rarg.reshape(rdx.shape[0], -1)),
                      np.abs(g.astype(np.float64)).reshape(rdx.shape[0], -1))
        nover = int(np.ceil(kh / sh) * np.ceil(kw / sw))
        check_bounded(dx, rdx.reshape(shape), ardx.reshape(shape), nover, rdtype,
                      "max_pool2d_backward")
        same(call(F.max_pool2d_backward, g, arg, shape, n_jobs=2), dx, "max bwd n_jobs=2")
    elif what == 1:
        include_pad = r.bool()
        out = call(F.avg_pool2d, x, kernel, stride, padding, include_pad, n_jobs=n_jobs)
        if out is None:
            return
        kh, kw = as_pair(kernel)
        sh, sw = as_pair(kernel if stride is None else stride)
        ph, pw = as_pair(padding)
        ref, absref, cnt = avgpool_ref(x, kh, kw, sh, sw, ph, pw, include_pad)
        v, ok, _ = pool_windows(x, kh, kw, sh, sw, ph, pw)
        check_bounded(out, ref, absref, kh * kw + 1, rdtype, "avg_pool2d",
                      nan_sum(np.where(ok, v, 0.0), -1))
        same(call(F.avg_pool2d, x, kernel, stride, padding, include_pad, n_jobs=2), out,
             "avg_pool2d n_jobs=2")
        g = tensor(r, out.shape, rdtype, r.int(0, 5) == 0)
        dx = call(F.avg_pool2d_backward, g, shape, kernel, stride, padding, include_pad,
                  n_jobs=n_jobs)
        assert dx is not None, "avg_pool2d_backward refused its forward's parameters"
        rdx, ardx = avgpool_bwd_ref(g, shape, kh, kw, sh, sw, ph, pw, cnt)
        nover = int(np.ceil(kh / sh) * np.ceil(kw / sw))
        check_bounded(dx, rdx, ardx, 2 * nover, rdtype, "avg_pool2d_backward")
        same(call(F.avg_pool2d_backward, g, shape, kernel, stride, padding, include_pad,
                  n_jobs=2), dx, "avg bwd n_jobs=2")
    else:
        N, C, H, W = shape
        x64 = x.astype(np.float64).reshape(N, C, H * W)
        if r.bool():
            out = call(F.global_avg_pool2d, x, n_jobs=n_jobs)
            if out is None:
                return
            with np.errstate(all="ignore"):
                ref = x64.sum(-1) / (H * W)
                absref = np.abs(x64).sum(-1) / (H * W)
            # float64 blocked sum, one rounding to dtype
            eps = eps_of(rdtype)
            check_bounded(out, ref, absref * (H * W * 2.2e-16 + eps) / eps, 0, rdtype,
                          "global_avg_pool2d", nan_sum(x64, -1))
            g = tensor(r, out.shape if r.bool() else out.shape + (1, 1), rdtype, special)
            dx = call(F.global_avg_pool2d_backward, g, shape, n_jobs=n_jobs)
            q = g.reshape(N, C) / rdtype.type(H * W)
            same(dx, np.broadcast_to(q[:, :, None, None], shape).astype(rdtype),
                 "global_avg_pool2d_backward")
        else:
            res = call(F.global_max_pool2d, x, n_jobs=n_jobs)
            if res is None:
                return
            out, arg = res
            ref, rarg = maxpool_ref(x, H, W, 1, 1, 0, 0)
            same(out.astype(np.float64), ref.reshape(N, C), "global_max_pool2d")
            same(arg, rarg.reshape(N, C), "global_max_pool2d argmax")
            g = tensor(r, (N, C), rdtype, special)
            dx = call(F.global_max_pool2d_backward, g, arg, shape, n_jobs=n_jobs)
            rdx = np.zeros((N * C, H * W), dtype=rdtype)
            rdx[np.arange(N * C), arg.ravel()] = g.ravel()
            same(dx, rdx.reshape(shape), "global_max_pool2d_backward")


def TestOneInput(data):
    from _common import LAST

    r = Data(data)
    LAST.append(("fuzz_nn_pool", (), {}))
    fuzz_pool(r)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.linalg  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.nn.functional  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
