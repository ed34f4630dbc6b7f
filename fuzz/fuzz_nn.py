"""fastml.nn's compiled entry points: convolution (forward, backward, both algorithms),
transposed convolution, max / average / global pooling (forward, backward), the layers
and the fused ReLU + MaxPool of Sequential, the optimiser updates and the image
augmentation; any shape (1 and the SIMD boundaries 7-9, 15-17, 31-33), float32/float64,
integer inputs, C / Fortran / strided / reversed / read-only layouts, NaN, inf, huge and
subnormal values, hostile parameters (0, negative, 2**31, 2**63, wrong types). Results
are checked against naive float64 references written here (shifted-window einsums, window
maxima), gradients against the same references (the adjoint of each forward), with
error bounds from the arithmetic: a sum of k products computed in precision eps is within
(k + 2) eps sum|terms| of the exact value."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import ALLOWED, Data, call  # noqa: E402

SIZES = [1, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33]
HOSTILE_INT = [0, -1, 2**31, 2**31 - 1, 2**63, 1.5, True, None, "2", (1, 2, 3)]


# ---------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------
def values(r, n, special):
    """n float64 values in one of a few patterns (small ints, uniform, huge, tiny,
    subnormal, one value repeated, arbitrary incl. NaN/inf)."""
    rng = np.random.default_rng(r.int(0, 2**32 - 1))
    mode = r.int(0, 6)
    if mode == 0:
        return rng.integers(-3, 4, n).astype(np.float64)
    if mode == 1:
        return rng.random(n) * 2 - 1
    if mode == 2:
        return (rng.random(n) * 2 - 1) * r.pick([1e15, 1e30, 1e150, 1e300])
    if mode == 3:
        return (rng.random(n) * 2 - 1) * r.pick([1e-15, 1e-40, 1e-150, 1e-310])
    if mode == 4:
        return np.full(n, r.float(special=special)) + rng.random(n) * r.pick([0.0, 1.0])
    a = rng.random(n) * 2 - 1
    if special:
        k = r.int(1, 3)
        for _ in range(k):
            a[r.int(0, n - 1)] = r.pick([np.nan, np.inf, -np.inf, 1e300, 5e-324])
    if mode == 5:
        return a
    return np.array([r.float(special=special) for _ in range(min(n, 64))] * (n // 64 + 1)
                    )[:n]


def tensor(r, shape, dtype, special=False):
    """A 4-D (or any-D) array of ``shape`` in ``dtype`` and a decoded memory layout."""
    n = int(np.prod(shape))
    a = values(r, n, special)
    with np.errstate(over="ignore", invalid="ignore"):
        a = a.astype(dtype).reshape(shape)
    layout = r.int(0, 5)
    if layout == 1:
        a = np.asfortranarray(a)
    elif layout == 2:  # strided view along the last axis
        wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
        wide[..., ::2] = a
        a = wide[..., ::2]
    elif layout == 3:  # negative strides
        b = np.ascontiguousarray(a[..., ::-1])
        a = b[..., ::-1]
    elif layout == 4:
        a = a.copy()
        a.setflags(write=False)
    return a


def dims(r, big=False):
    return r.pick(SIZES if big else SIZES[:9])


def param(r, good, hostile_rate=12):
    """A valid parameter from ``good`` or, once in ``hostile_rate``, a hostile one."""
    if r.int(0, hostile_rate - 1) == 0:
        return r.pick(HOSTILE_INT)
    return r.pick(good)


def pair_or_int(r, good):
    if r.int(0, 3) == 0:
        return (param(r, good), param(r, good))
    return param(r, good)


def as_pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def eps_of(dtype):
    return float(np.finfo(dtype).eps)


# ---------------------------------------------------------------------------------------
# references (float64)
# ---------------------------------------------------------------------------------------
def pad4(x, ph, pw, fill=0.0):
    N, C, H, W = x.shape
    out = np.full((N, C, H + 2 * ph, W + 2 * pw), fill, dtype=np.float64)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def corr(xp, w, sh, sw, Ho, Wo):
    """out[n, o, h, v] = sum_{c,i,j} xp[n, c, h sh + i, v sw + j] w[o, c, i, j] for a padded
    xp, as kh * kw shifted einsums (inf * 0 = NaN as in IEEE)."""
    N = xp.shape[0]
    Co, Ci, kh, kw = w.shape
    out = np.zeros((N, Co, Ho, Wo))
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                win = xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
                out += np.einsum("nchw,oc->nohw", win, w[:, :, i, j])
    return out


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


def check_bounded(got, ref, absref, nterms, dtype, what, nan_terms=None):
    """|got - ref| <= (nterms + 2) eps absref + (nterms + 2) tiny where absref cannot
    overflow in dtype; NaN where a term is NaN; elsewhere (inf, overflow) anything."""
    got = np.asarray(got)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    eps, fmax, tiny = eps_of(dtype), float(np.finfo(dtype).max), float(np.finfo(dtype).tiny)
    g = got.astype(np.float64)
    with np.errstate(all="ignore"):
        tol = (nterms + 2) * eps * absref + (nterms + 2) * tiny
        safe = np.isfinite(absref) & (absref * (1 + (nterms + 2) * eps) < fmax)
        bad = safe & ~(np.abs(g - ref) <= tol)
    if np.any(bad):
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: at {i} got {g[i]!r}, reference {ref[i]!r}, bound "
                             f"{tol[i]!r} ({int(bad.sum())} of {bad.size} out of bounds)")
    if nan_terms is not None:
        miss = nan_terms & ~np.isnan(g)
        if np.any(miss):
            i = tuple(np.argwhere(miss)[0])
            raise AssertionError(f"{what}: at {i} a term is NaN but the result is {g[i]!r}")


def nan_sum(v, axis):
    """Where a sum of v along axis is NaN in any order: a NaN, or both +inf and -inf."""
    return np.isnan(v).any(axis) | ((v == np.inf).any(axis) & (v == -np.inf).any(axis))


def same(a, b, what):
    """Bitwise-equal values (NaN equal to NaN, -0.0 equal to 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape, a.dtype,
                                                       b.dtype)
    ok = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
    if not np.all(ok):
        i = tuple(np.argwhere(~ok)[0])
        raise AssertionError(f"{what}: differ at {i}: {a[i]!r} vs {b[i]!r}")


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


# ---------------------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------------------
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


def fuzz_layers(r):
    """Sequential(Conv2D or ConvTranspose2D, ReLU, MaxPool2D(k)) (the ReLU + MaxPool pair
    runs fused) and the other pooling layers against the functional calls composed by
    hand, then one SGD / Adam step against the textbook update."""
    import fastml.nn.functional as F
    from fastml.nn.layers import (AvgPool2D, Conv2D, ConvTranspose2D, GlobalAvgPool2D,
                                  GlobalMaxPool2D, MaxPool2D, ReLU, Sequential)

    dtype = r.pick([np.float32, np.float64])
    special = r.int(0, 5) == 0
    N, C, H, W = r.int(1, 3), r.pick([1, 2, 3]), dims(r, big=True), dims(r, big=True)
    if r.int(0, 7) == 0:  # a row of more than 256 windows
        N, C, H, W = 1, 1, r.int(2, 6), r.pick([513, 514, 515, 770])
    co, kc = r.pick([1, 2, 4]), r.pick([1, 2, 3])
    k = r.pick([2, 2, 2, 3, 4, 5, 16])
    tail = r.int(0, 3)
    try:
        if tail == 0:
            last = MaxPool2D(k)
        elif tail == 1:
            last = AvgPool2D(r.pick([1, 2, 3]), padding=r.pick([0, 1]))
        elif tail == 2:
            last = GlobalAvgPool2D()
        else:
            last = GlobalMaxPool2D()
        transpose = r.int(0, 3) == 0
        first = (ConvTranspose2D(co, kc, stride=r.pick([1, 2]), padding=r.pick([0, 1]))
                 if transpose else Conv2D(co, kc, padding=r.pick([0, "same"])))
        fwd, bwd = ((F.conv_transpose2d, F.conv_transpose2d_backward) if transpose
                    else (F.conv2d, F.conv2d_backward))
        model = Sequential(first, ReLU(), last,
                           input_shape=(C, H, W), dtype=dtype,
                           random_state=r.int(0, 2**31 - 1))
    except ALLOWED:
        return
    n_jobs = r.pick([None, 1, 2])
    model.set_n_threads(n_jobs)
    path = r.pick(["direct", "gemm"])
    x = tensor(r, (N, C, H, W), dtype, special)
    old = F._force_path
    F._force_path = path
    try:
        out = model.forward(x, training=True)
        g = tensor(r, out.shape, dtype, r.int(0, 5) == 0)
        dx = model.backward(g)
        conv = model.layers[0]
        Wt, bt = conv.W.value, conv.b.value
        h = fwd(x, Wt, bt, conv.stride, conv.padding, n_jobs=n_jobs)
        a = np.maximum(h, 0)
        if tail == 0:
            ref, arg = F.max_pool2d(a, k, n_jobs=n_jobs)
        elif tail == 1:
            ref = F.avg_pool2d(a, last.kernel_size, last.stride, last.padding,
                               n_jobs=n_jobs)
        elif tail == 2:
            ref = F.global_avg_pool2d(a, n_jobs=n_jobs)
        else:
            ref, arg = F.global_max_pool2d(a, n_jobs=n_jobs)
        same(out, ref, "Sequential forward vs functional")
        if tail == 0:
            ga = F.max_pool2d_backward(g, arg, a.shape, n_jobs=n_jobs)
        elif tail == 1:
            ga = F.avg_pool2d_backward(g, a.shape, last.kernel_size, last.stride,
                                       last.padding, n_jobs=n_jobs)
        elif tail == 2:
            ga = F.global_avg_pool2d_backward(g, a.shape, n_jobs=n_jobs)
        else:
            ga = F.global_max_pool2d_backward(g, arg, a.shape, n_jobs=n_jobs)
        # ReLU's gradient: the upstream gradient where the output is positive, else 0
        gh = np.where(a > 0, ga, 0).astype(dtype)
        rdx, rdw, rdb = bwd(gh, x, Wt, conv.stride, conv.padding, n_jobs=n_jobs)
        same(conv.W.grad, rdw, "Sequential dW vs functional")
        same(conv.b.grad, rdb, "Sequential db vs functional")
        if dx is not None:
            same(dx, rdx, "Sequential dx vs functional")
    finally:
        F._force_path = old
    # one optimiser step on those gradients against the textbook update, hostile options
    from fastml.nn.optim import SGD, Adam

    params = list(model.parameters())
    before = [p.value.copy() for p in params]
    lr = r.pick([0.1, 1e-3, 0.0, -1.0, float("nan"), 2**63, True])
    if r.bool():
        mom = r.pick([0.0, 0.9, 1.0, -0.5, float("inf")])
        opt = call(SGD, params, lr, mom)
        if opt is None:
            return
        opt.step()
        for p, v0 in zip(params, before):
            with np.errstate(all="ignore"):
                ref = v0 - p.value.dtype.type(lr) * p.grad
            same(p.value, ref, "SGD first step")
    else:
        b1, b2 = r.pick([0.9, 0.0, 1.0, -0.1]), r.pick([0.999, 0.5, 1.0])
        opt = call(Adam, params, lr, b1, b2)
        if opt is None:
            return
        opt.step()
        for p, v0 in zip(params, before):
            g64 = p.grad.astype(np.float64)
            with np.errstate(all="ignore"):
                m = (1 - b1) * g64 / (1 - b1)
                s = (1 - b2) * g64 * g64 / (1 - b2)
                ref = v0 - lr * m / (np.sqrt(s) + 1e-8)
            ok = np.isfinite(ref) & (np.abs(g64) < 1e15) & (np.abs(g64) > 1e-15)
            eps = eps_of(p.value.dtype)
            np.testing.assert_allclose(p.value[ok], ref[ok], rtol=16 * eps,
                                       atol=16 * eps * lr + 16 * eps * np.abs(v0[ok]).max(
                                           initial=0), err_msg="Adam first step")


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
    what = r.int(0, 5)
    LAST.append((f"fuzz_nn target {what}", (), {}))
    if what in (0, 1):
        fuzz_conv(r, transpose=False)
    elif what == 2:
        fuzz_conv(r, transpose=True)
    elif what == 3:
        fuzz_pool(r)
    elif what == 4:
        fuzz_layers(r)
    else:
        fuzz_augment(r)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.linalg  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.nn.augment  # noqa: F401
        import fastml.nn.functional  # noqa: F401
        import fastml.nn.layers  # noqa: F401
        import fastml.nn.optim  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
