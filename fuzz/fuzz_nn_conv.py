"""fastml.nn.functional's convolution (forward and backward, direct and GEMM
algorithms) and transposed convolution, on any shape, layout and values (see
_nn_common.py), against shifted-window einsum references in float64; gradients against
the adjoint of each forward."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import Data, call  # noqa: E402
from _nn_common import (tensor, dims, pair_or_int, as_pair, pad4,  # noqa: E402
                        corr, check_bounded, same)


def conv_ref(x, w, b, sh, sw, ph, pw):
    """conv2d in float64, the same with |x|, |w| (the error scale), and whether an
    in-image term is NaN (x NaN, w NaN, or inf * 0) so the output must be NaN."""
    N, Ci, H, W = x.shape
    Co, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = corr(pad4(x64, ph, pw), w64, sh, sw, Ho, Wo)
    absref = corr(pad4(np.abs(x64), ph, pw), np.abs(w64), sh, sw, Ho, Wo)
    xn = pad4(np.isnan(x64) * 1.0, ph, pw)
    xi = pad4(np.isinf(x64) * 1.0, ph, pw)
    x0 = pad4((x64 == 0) * 1.0, ph, pw)
    inside = pad4(np.ones_like(x64), ph, pw)
    nan_terms = (corr(xn, np.ones_like(w64), sh, sw, Ho, Wo)
                 + corr(inside, np.isnan(w64) * 1.0, sh, sw, Ho, Wo)
                 + corr(xi, (w64 == 0) * 1.0, sh, sw, Ho, Wo)
                 + corr(x0, np.isinf(w64) * 1.0, sh, sw, Ho, Wo)) > 0
    if b is not None:
        b64 = b.astype(np.float64)
        with np.errstate(all="ignore"):
            ref = ref + b64[None, :, None, None]
            absref = absref + np.abs(b64)[None, :, None, None]
        nan_terms |= np.isnan(b64)[None, :, None, None]
    return ref, absref, nan_terms


def with_path(path, fn, *args, **kwargs):
    """fn(...) with the convolution algorithm forced to ``path`` ("direct", "gemm",
    "heuristic" or None = measure)."""
    import fastml.nn.functional as F

    old = F._force_path
    F._force_path = path
    try:
        return call(fn, *args, **kwargs)
    finally:
        F._force_path = old


def out_elements(x_shape, k, stride, padding, transpose):
    """Elements of the convolution output per (sample, channel) if the parameters are
    plain ints (0 when they are not: the call is then expected to raise)."""
    try:
        (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
        if not all(type(v) is int for v in (sh, sw, ph, pw)):
            return 0
        H, W = x_shape[2:]
        if transpose:
            return max(0, (H - 1) * sh + k[0] - 2 * ph) * max(0, (W - 1) * sw + k[1] - 2 * pw)
        return max(0, (H + 2 * ph - k[0]) // max(sh, 1) + 1) * max(
            0, (W + 2 * pw - k[1]) // max(sw, 1) + 1)
    except (TypeError, ValueError):
        return 0


def conv_grad_ref(g, x64, w, sh, sw, ph, pw):
    """conv2d's input gradient (the adjoint: scatter g w into the padded input) and weight
    gradient (correlate the padded x with g), each with its error scale."""
    N, Ci, H, W = x64.shape
    Co, _, kh, kw = w.shape
    Ho, Wo = g.shape[2:]
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    dxp = np.zeros((N, Ci, H + 2 * ph, W + 2 * pw))
    adxp = np.zeros_like(dxp)
    xp, axp = pad4(x64, ph, pw), pad4(np.abs(x64), ph, pw)
    dw = np.zeros(w.shape)
    adw = np.zeros(w.shape)
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(None), slice(i, i + sh * (Ho - 1) + 1, sh),
                      slice(j, j + sw * (Wo - 1) + 1, sw))
                dxp[sl] += np.einsum("nohw,oc->nchw", g64, w64[:, :, i, j])
                adxp[sl] += np.einsum("nohw,oc->nchw", np.abs(g64), np.abs(w64[:, :, i, j]))
                dw[:, :, i, j] = np.einsum("nohw,nchw->oc", g64, xp[sl])
                adw[:, :, i, j] = np.einsum("nohw,nchw->oc", np.abs(g64), axp[sl])
    return (dxp[:, :, ph:ph + H, pw:pw + W], adxp[:, :, ph:ph + H, pw:pw + W], dw, adw,
            N * Ho * Wo)


def conv_transpose_ref(x, w, b, sh, sw, ph, pw):
    """conv_transpose2d = the input gradient of conv2d with weight w (C_in, C_out, kh, kw)
    seen as (C_out_of_conv = C_in, C_in_of_conv = C_out)."""
    N, Ci, H, W = x.shape
    Co, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = (H - 1) * sh + kh - 2 * ph, (W - 1) * sw + kw - 2 * pw
    x64 = x.astype(np.float64)
    full = np.zeros((N, Co, (H - 1) * sh + kh, (W - 1) * sw + kw))
    afull = np.zeros_like(full)
    w64 = w.astype(np.float64)
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(None), slice(i, i + sh * (H - 1) + 1, sh),
                      slice(j, j + sw * (W - 1) + 1, sw))
                full[sl] += np.einsum("nchw,co->nohw", x64, w64[:, :, i, j])
                afull[sl] += np.einsum("nchw,co->nohw", np.abs(x64), np.abs(w64[:, :, i, j]))
        ref = full[:, :, ph:ph + Ho, pw:pw + Wo]
        absref = afull[:, :, ph:ph + Ho, pw:pw + Wo]
        if b is not None:
            ref = ref + b.astype(np.float64)[None, :, None, None]
            absref = absref + np.abs(b.astype(np.float64))[None, :, None, None]
    return ref, absref


def transpose_grad_ref(g, x64, w, sh, sw, ph, pw):
    """conv_transpose2d's gradients: dx = conv2d(g, w) (w read as (C_in, C_out, kh, kw) =
    (conv out, conv in)), dw[c, o, i, j] = sum x[n, c, h, v] gpad[n, o, h sh + i, v sw + j]."""
    N, Ci, H, W = x64.shape
    kh, kw = w.shape[2:]
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    gp, agp = pad4(g64, ph, pw), pad4(np.abs(g64), ph, pw)
    dx = corr(gp, w64, sh, sw, H, W)
    adx = corr(agp, np.abs(w64), sh, sw, H, W)
    dw = np.zeros(w.shape)
    adw = np.zeros(w.shape)
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(None), slice(i, i + sh * (H - 1) + 1, sh),
                      slice(j, j + sw * (W - 1) + 1, sw))
                dw[:, :, i, j] = np.einsum("nchw,nohw->co", x64, gp[sl])
                adw[:, :, i, j] = np.einsum("nchw,nohw->co", np.abs(x64), agp[sl])
    return dx, adx, dw, adw, N * H * W


def fuzz_conv(r, transpose):
    import fastml.nn.functional as F

    dtype = r.pick([np.float32, np.float64])
    special = r.int(0, 7) == 0
    N, Ci, Co = r.int(1, 3), r.pick([1, 1, 2, 3, 4, 8, 9, 16, 17]), r.pick([1, 2, 3, 5, 8, 9,
                                                                           16, 17])
    H, W = dims(r, big=True), dims(r, big=True)
    kh, kw = r.pick([1, 1, 2, 3, 3, 5]), r.pick([1, 1, 2, 3, 3, 5])
    if r.int(0, 9) == 0:
        kh, kw = r.int(1, 40), r.int(1, 40)
    stride = pair_or_int(r, [1, 1, 1, 2, 3])
    padding = pair_or_int(r, [0, 0, 1, 2]) if r.int(0, 5) else r.pick(
        ["same", "valid", "full", 2**31 - 1, 2**20])
    path = r.pick(["direct", "gemm", "direct", "gemm", "heuristic", None])
    n_jobs = r.pick([None, 1, 2, -1, 0, 2**63, 1.5])
    x = tensor(r, (N, Ci, H, W), r.pick([dtype, dtype, dtype, np.int64]), special)
    w = tensor(r, (Ci, Co, kh, kw) if transpose else (Co, Ci, kh, kw), dtype,
               special and r.bool())
    b = tensor(r, (Co,), dtype) if r.bool() else None
    if r.int(0, 15) == 0:  # mixed dtypes / wrong shapes must be refused
        w = w.astype(np.float64 if dtype == np.float32 else np.float32)
    if r.int(0, 15) == 0:
        b = np.zeros(Co + 1, dtype)
    fwd = F.conv_transpose2d if transpose else F.conv2d
    if out_elements(x.shape, (kh, kw), stride, padding, transpose) > 2**24:
        # a legal but huge output (e.g. a transposed convolution of stride 2**31 - 1 is
        # 2**31 rows): allocating it is the caller's request, not a finding
        return
    out = with_path(path, fwd, x, w, b, stride, padding, n_jobs=n_jobs)
    if out is None:
        return
    # the call was accepted: the parameters were valid; integers are converted to dtype
    dtype = w.dtype  # x may be integers (converted), w is a float array
    with np.errstate(all="ignore"):
        x = np.asarray(x, dtype=dtype)
    sh, sw = as_pair(stride)
    if padding == "same":
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
    elif padding == "valid":
        ph = pw = 0
    else:
        ph, pw = as_pair(padding)
    H_in, W_in = x.shape[2:]
    if transpose:
        expect = ((H_in - 1) * sh + kh - 2 * ph, (W_in - 1) * sw + kw - 2 * pw)
        region = ((H_in - 1) * sh + kh) * ((W_in - 1) * sw + kw)
    else:
        expect = ((H_in + 2 * ph - kh) // sh + 1, (W_in + 2 * pw - kw) // sw + 1)
        region = (H_in + 2 * ph) * (W_in + 2 * pw)
    assert out.shape == (N, w.shape[1] if transpose else Co) + expect, (out.shape, expect)
    if region * N * max(Ci, Co) > 4_000_000:
        # a huge padding or stride (legal: e.g. stride 2**31 - 1 with padding 2**20 gives
        # one window of padding only); the dense references below would need terabytes
        return
    if not transpose:
        ref, absref, nan_terms = conv_ref(x, w, b, sh, sw, ph, pw)
        check_bounded(out, ref, absref, Ci * kh * kw + 1, dtype, "conv2d", nan_terms)
    else:
        ref, absref = conv_transpose_ref(x, w, b, sh, sw, ph, pw)
        check_bounded(out, ref, absref, Ci * kh * kw + 1, dtype, "conv_transpose2d")
    # thread invariance: within the same error bound (the results agree within rounding)
    if r.int(0, 3) == 0:
        out2 = with_path(path, fwd, x, w, b, stride, padding, n_jobs=r.pick([1, 2]))
        check_bounded(out2, ref, absref, Ci * kh * kw + 1, dtype, "conv, other n_jobs")
    # backward
    g = tensor(r, out.shape, dtype, special and r.int(0, 3) == 0)
    need_dx = r.pick([True, True, False, 0, 1])
    bwd = F.conv_transpose2d_backward if transpose else F.conv2d_backward
    res = with_path(path, bwd, g, x, w, stride, padding, need_dx, n_jobs=n_jobs)
    if res is None:
        raise AssertionError("backward refused the operands its forward accepted")
    dx, dw, db = res
    x64 = x.astype(np.float64)
    if transpose:
        rdx, adx, rdw, adw, ndw = transpose_grad_ref(g, x64, w, sh, sw, ph, pw)
        kdx = w.shape[1] * kh * kw
    else:
        rdx, adx, rdw, adw, ndw = conv_grad_ref(g, x64, w, sh, sw, ph, pw)
        kdx = Co * kh * kw
    if need_dx:
        check_bounded(dx, rdx, adx, kdx, dtype, "backward dx")
    else:
        assert dx is None, "dx computed although need_input_grad is false"
    check_bounded(dw, rdw, adw, ndw, dtype, "backward dw")
    g64 = g.astype(np.float64)
    with np.errstate(all="ignore"):
        check_bounded(db, g64.sum(axis=(0, 2, 3)), np.abs(g64).sum(axis=(0, 2, 3)),
                      g[:, 0].size, dtype, "backward db")


def TestOneInput(data):
    from _common import LAST

    r = Data(data)
    LAST.append(("fuzz_nn_conv", (), {}))
    fuzz_conv(r, transpose=r.int(0, 2) == 2)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.linalg  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.nn.functional  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
