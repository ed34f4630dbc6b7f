"""Shared by the fuzz_nn_* harnesses: decoding fuzz bytes into tensors, shapes and
(sometimes hostile) parameters, and the float64 references and error bounds they check
against. Any shape (1 and the SIMD boundaries 7-9, 15-17, 31-33), float32/float64,
integer inputs, C / Fortran / strided / reversed / read-only layouts, NaN, inf, huge and
subnormal values, hostile parameters (0, negative, 2**31, 2**63, wrong types). Error
bounds come from the arithmetic: a sum of k products computed in precision eps is within
(k + 2) eps sum|terms| of the exact value."""
import numpy as np

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
