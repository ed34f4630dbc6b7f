"""fastml.nn.functional against naive NumPy loops, finite differences and torch."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fastml.nn import functional as F

from .._reference import numeric_gradient


# ---------------------------------------------------------------------------------------
# naive references: explicit loops over output positions, written from the definitions
# ---------------------------------------------------------------------------------------
def _pad(x, ph, pw, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def ref_conv2d(x, w, b, s, p):
    (sh, sw), (ph, pw) = s, p
    N, C, H, W = x.shape
    Co, _, kh, kw = w.shape
    xp = _pad(x, ph, pw)
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = np.zeros((N, Co, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", win, w)
    if b is not None:
        out += b[None, :, None, None]
    return out


def ref_conv2d_backward(g, x, w, s, p):
    (sh, sw), (ph, pw) = s, p
    kh, kw = w.shape[2:]
    xp = _pad(x, ph, pw)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            dw += np.einsum("no,nchw->ochw", g[:, :, i, j], win)
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum(
                "no,ochw->nchw", g[:, :, i, j], w)
    H, W = x.shape[2:]
    return dxp[:, :, ph:ph + H, pw:pw + W], dw, g.sum(axis=(0, 2, 3))


def ref_conv_transpose2d(x, w, b, s, p):
    # Scatter definition: each input pixel adds w * x onto a kh x kw patch of the
    # (padded) output, which is then cropped by the padding.
    (sh, sw), (ph, pw) = s, p
    N, Ci, H, W = x.shape
    _, Co, kh, kw = w.shape
    full = np.zeros((N, Co, (H - 1) * sh + kh, (W - 1) * sw + kw))
    for i in range(H):
        for j in range(W):
            full[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum(
                "nc,cohw->nohw", x[:, :, i, j], w)
    out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def ref_pool(x, k, s, p, kind, include_pad=True):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = np.zeros((N, C, Ho, Wo))
    am = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n, c, i, j in itertools.product(range(N), range(C), range(Ho), range(Wo)):
        best, arg, tot, cnt = -np.inf, -1, 0.0, 0
        for a in range(i * sh - ph, i * sh - ph + kh):
            for bb in range(j * sw - pw, j * sw - pw + kw):
                inside = 0 <= a < H and 0 <= bb < W
                if inside:
                    v = x[n, c, a, bb]
                    tot += v
                    cnt += 1
                    if v > best:
                        best, arg = v, a * W + bb
                elif include_pad and a < H + ph and bb < W + pw:
                    cnt += 1
        out[n, c, i, j] = best if kind == "max" else tot / cnt
        am[n, c, i, j] = arg
    return out, am


def ref_avg_pool_backward(g, x_shape, k, s, p, include_pad=True):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    N, C, H, W = x_shape
    dx = np.zeros(x_shape)
    for n, c, i, j in itertools.product(range(N), range(C), range(g.shape[2]),
                                        range(g.shape[3])):
        cells = [(a, bb) for a in range(i * sh - ph, i * sh - ph + kh)
                 for bb in range(j * sw - pw, j * sw - pw + kw)]
        inside = [(a, bb) for a, bb in cells if 0 <= a < H and 0 <= bb < W]
        if include_pad:
            cnt = sum(1 for a, bb in cells if a < H + ph and bb < W + pw)
        else:
            cnt = len(inside)
        for a, bb in inside:
            dx[n, c, a, bb] += g[n, c, i, j] / cnt
    return dx


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _same(kh, kw):
    return ((kh - 1) // 2, (kw - 1) // 2)


# ---------------------------------------------------------------------------------------
# convolution vs naive loops
# ---------------------------------------------------------------------------------------
@pytest.fixture(params=["auto", "gemm", "direct"])
def conv_path(request, monkeypatch):
    """Run a test with conv2d's automatic choice and with each algorithm forced (the
    direct loops only apply at stride 1 with padding <= kernel - 1; GEMM elsewhere)."""
    if request.param != "auto":
        monkeypatch.setattr(F, "_force_path", request.param)
    return request.param


KERNELS = [(1, 1), (3, 3), (2, 3), (5, 5), (3, 1)]
STRIDES = [1, 2, 3, (1, 2)]
PADDINGS = [0, 1, 2, "same", (2, 0)]


def _conv_case(rng, kernel, stride, padding, N=2, Ci=3, Co=4, H=9, W=7):
    kh, kw = kernel
    if padding == "same" and (kh % 2 == 0 or kw % 2 == 0):
        pytest.skip("same needs odd kernels")
    p = _same(kh, kw) if padding == "same" else _pair(padding)
    if kh > H + 2 * p[0] or kw > W + 2 * p[1]:
        pytest.skip("kernel larger than the padded input")
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Co, Ci, kh, kw))
    b = rng.standard_normal(Co)
    return x, w, b, _pair(stride), p


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_conv2d_matches_naive(rng, kernel, stride, padding, conv_path):
    x, w, b, s, p = _conv_case(rng, kernel, stride, padding)
    out = F.conv2d(x, w, b, stride=stride, padding=padding)
    assert out.dtype == np.float64
    assert_allclose(out, ref_conv2d(x, w, b, s, p), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(g, x, w, stride, padding)
    rdx, rdw, rdb = ref_conv2d_backward(g, x, w, s, p)
    assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    assert_allclose(dw, rdw, rtol=1e-12, atol=1e-12)
    assert_allclose(db, rdb, rtol=1e-12, atol=1e-12)
    dx2, dw2, db2 = F.conv2d_backward(g, x, w, stride, padding, need_input_grad=False)
    assert dx2 is None
    assert_allclose(dw2, dw, rtol=1e-12)
    assert_allclose(db2, db, rtol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("padding", [0, 1, (0, 1)])
def test_conv_transpose2d_matches_naive(rng, kernel, stride, padding):
    kh, kw = kernel
    s, p = _pair(stride), _pair(padding)
    N, Ci, Co, H, W = 2, 3, 4, 5, 4
    if (H - 1) * s[0] + kh - 2 * p[0] < 1 or (W - 1) * s[1] + kw - 2 * p[1] < 1:
        pytest.skip("empty output")
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Ci, Co, kh, kw))
    b = rng.standard_normal(Co)
    out = F.conv_transpose2d(x, w, b, stride=stride, padding=padding)
    ref = ref_conv_transpose2d(x, w, b, s, p)
    assert out.shape == ((N, Co, (H - 1) * s[0] + kh - 2 * p[0], (W - 1) * s[1] + kw - 2 * p[1]))
    assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    # Backward against the adjoint relations: the transposed convolution's input gradient
    # is a convolution of grad_out, its weight gradient comes from the same loops.
    g = rng.standard_normal(out.shape)
    dx, dw, db = F.conv_transpose2d_backward(g, x, w, stride, padding)
    wc = w  # as a conv2d weight from Co channels to Ci channels: (Ci, Co, kh, kw)
    assert_allclose(dx, ref_conv2d(g, wc, None, s, p), rtol=1e-12, atol=1e-12)
    _, rdw, _ = ref_conv2d_backward(x, g, wc, s, p)
    assert_allclose(dw, rdw, rtol=1e-12, atol=1e-12)
    assert_allclose(db, g.sum(axis=(0, 2, 3)), rtol=1e-12)
    dx2, dw2, db2 = F.conv_transpose2d_backward(g, x, w, stride, padding,
                                                need_input_grad=False)
    assert dx2 is None
    assert_allclose(dw2, dw, rtol=1e-12, atol=1e-12)
    assert_allclose(db2, db, rtol=1e-12)


@pytest.mark.parametrize("stride,padding,kernel", [(1, 1, (3, 3)), (2, 0, (2, 3)),
                                                   (3, 2, (3, 3)), (1, "same", (1, 5))])
def test_conv2d_gradients_finite_differences(rng, stride, padding, kernel, conv_path):
    x = rng.standard_normal((2, 2, 6, 7))
    w = rng.standard_normal((3, 2) + kernel)
    b = rng.standard_normal(3)
    out = F.conv2d(x, w, b, stride, padding)
    g = rng.standard_normal(out.shape)

    def loss():
        return float((F.conv2d(x, w, b, stride, padding) * g).sum())

    dx, dw, db = F.conv2d_backward(g, x, w, stride, padding)
    assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-7)
    assert_allclose(dw, numeric_gradient(loss, w), rtol=1e-6, atol=1e-7)
    assert_allclose(db, numeric_gradient(loss, b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, (3, 3)), (2, 1, (3, 2)),
                                                   (3, 0, (2, 2))])
def test_conv_transpose2d_gradients_finite_differences(rng, stride, padding, kernel):
    x = rng.standard_normal((2, 3, 4, 3))
    w = rng.standard_normal((3, 2) + kernel)
    b = rng.standard_normal(2)
    out = F.conv_transpose2d(x, w, b, stride, padding)
    g = rng.standard_normal(out.shape)

    def loss():
        return float((F.conv_transpose2d(x, w, b, stride, padding) * g).sum())

    dx, dw, db = F.conv_transpose2d_backward(g, x, w, stride, padding)
    assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-7)
    assert_allclose(dw, numeric_gradient(loss, w), rtol=1e-6, atol=1e-7)
    assert_allclose(db, numeric_gradient(loss, b), rtol=1e-6, atol=1e-7)


def test_conv_float32_stays_float32(rng, conv_path):
    x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out = F.conv2d(x, w, b, padding=1)
    assert out.dtype == np.float32
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                     (1, 1), (1, 1))
    assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    dx, dw, db = F.conv2d_backward(np.ones_like(out), x, w, 1, 1)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    wt = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    out = F.conv_transpose2d(x, wt, b, stride=2)
    assert out.dtype == np.float32
    assert all(a.dtype == np.float32 for a in
               F.conv_transpose2d_backward(np.ones_like(out), x, wt, 2))


@pytest.mark.parametrize("stride,Ci,Co", [(2, 2, 5), (1, 11, 19), (1, 3, 1)])
def test_conv_larger_batches_use_several_tiles(rng, conv_path, stride, Ci, Co):
    # Enough samples for multi-sample tiles and the last, partial tile; channel counts
    # that leave partial channel blocks in the direct loops.
    x = rng.standard_normal((37, Ci, 12, 11))
    w = rng.standard_normal((Co, Ci, 3, 3))
    b = rng.standard_normal(Co)
    s = (stride, stride)
    for n_jobs in (1, 2):
        out = F.conv2d(x, w, b, stride, 1, n_jobs=n_jobs)
        assert_allclose(out, ref_conv2d(x, w, b, s, (1, 1)), rtol=1e-11, atol=1e-11)
        g = rng.standard_normal(out.shape)
        for got, ref in zip(F.conv2d_backward(g, x, w, stride, 1, n_jobs=n_jobs),
                            ref_conv2d_backward(g, x, w, s, (1, 1))):
            assert_allclose(got, ref, rtol=1e-11, atol=1e-11)


def test_same_padding_keeps_size(rng):
    x = rng.standard_normal((1, 2, 7, 10))
    w = rng.standard_normal((3, 2, 5, 3))
    assert F.conv2d(x, w, padding="same").shape == (1, 3, 7, 10)
    assert F.conv2d(x, w, stride=2, padding="same").shape == (1, 3, 4, 5)  # ceil(n / s)
    assert_allclose(F.conv2d(x, w, padding="valid"), F.conv2d(x, w, padding=0))


def test_integer_and_list_inputs(rng):
    x = rng.integers(-3, 4, (2, 1, 5, 5))
    w = rng.integers(-2, 3, (2, 1, 3, 3))
    out = F.conv2d(x.tolist(), w)
    assert out.dtype == np.float64
    assert_array_equal(out, ref_conv2d(x, w, None, (1, 1), (0, 0)))
    # an integer array next to a float32 one becomes float32, so does a list bias
    out32 = F.conv2d(x.astype(np.float32), w, [0.5, -1.0])
    assert out32.dtype == np.float32
    assert_allclose(out32, ref_conv2d(x, w, np.array([0.5, -1.0]), (1, 1), (0, 0)))


# ---------------------------------------------------------------------------------------
# pooling vs naive loops
# ---------------------------------------------------------------------------------------
POOLS = [((2, 2), None, 0), ((3, 3), 2, 1), ((2, 3), (1, 2), (1, 0)), ((3, 3), 1, 0),
         ((1, 1), 2, 0), ((4, 4), 3, 2), ((2, 2), 2, 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel,stride,padding", POOLS)
def test_max_pool2d_matches_naive(rng, kernel, stride, padding, dtype):
    x = rng.standard_normal((2, 3, 9, 7)).astype(dtype)
    x[0, 0, :4, :4] = 1.0  # ties: the first maximum wins
    k, p = _pair(kernel), _pair(padding)
    s = k if stride is None else _pair(stride)
    out, am = F.max_pool2d(x, kernel, stride, padding)
    rout, ram = ref_pool(x.astype(np.float64), k, s, p, "max")
    assert out.dtype == dtype and am.dtype == np.int64
    assert_array_equal(out, rout.astype(dtype))
    assert_array_equal(am, ram)
    g = rng.standard_normal(out.shape).astype(dtype)
    dx = F.max_pool2d_backward(g, am, x.shape)
    ref = np.zeros(x.shape)
    for n, c, i, j in np.ndindex(g.shape):
        ref[n, c].flat[ram[n, c, i, j]] += g[n, c, i, j]
    assert dx.dtype == dtype
    assert_allclose(dx, ref, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel,stride,padding", POOLS)
def test_avg_pool2d_matches_naive(rng, kernel, stride, padding, dtype, include_pad):
    x = rng.standard_normal((2, 3, 9, 7)).astype(dtype)
    k, p = _pair(kernel), _pair(padding)
    s = k if stride is None else _pair(stride)
    out = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=include_pad)
    rout, _ = ref_pool(x.astype(np.float64), k, s, p, "avg", include_pad)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert out.dtype == dtype
    assert_allclose(out, rout, rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    dx = F.avg_pool2d_backward(g, x.shape, kernel, stride, padding,
                               count_include_pad=include_pad)
    assert dx.dtype == dtype
    assert_allclose(dx, ref_avg_pool_backward(g.astype(np.float64), x.shape, k, s, p,
                                              include_pad), rtol=tol, atol=tol)


def test_pool_gradients_finite_differences(rng):
    x = rng.standard_normal((2, 2, 7, 6))  # distinct values: max is differentiable
    for kernel, stride, padding in [(3, 2, 1), ((2, 3), 1, 0)]:
        out, am = F.max_pool2d(x, kernel, stride, padding)
        g = rng.standard_normal(out.shape)
        fd = numeric_gradient(lambda: float((F.max_pool2d(x, kernel, stride, padding)[0] * g).sum()),
                      x)
        assert_allclose(F.max_pool2d_backward(g, am, x.shape), fd, rtol=1e-6, atol=1e-7)
        for inc in (True, False):
            out = F.avg_pool2d(x, kernel, stride, padding, inc)
            fd = numeric_gradient(lambda: float((F.avg_pool2d(x, kernel, stride, padding, inc)
                                         * g).sum()), x)
            assert_allclose(F.avg_pool2d_backward(g, x.shape, kernel, stride, padding, inc),
                            fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_global_pools(rng, dtype):
    x = rng.standard_normal((3, 4, 5, 7)).astype(dtype)
    x[1, 2] = 2.0  # a tie over the whole plane: index 0 wins
    avg = F.global_avg_pool2d(x)
    assert avg.shape == (3, 4) and avg.dtype == dtype
    assert_allclose(avg, x.astype(np.float64).mean(axis=(2, 3)), rtol=1e-6, atol=1e-6)
    mx, am = F.global_max_pool2d(x)
    flat = x.reshape(3, 4, -1)
    assert_array_equal(mx, flat.max(axis=2))
    assert_array_equal(am, flat.argmax(axis=2))
    assert am[1, 2] == 0
    g = rng.standard_normal((3, 4)).astype(dtype)
    dx = F.global_avg_pool2d_backward(g, x.shape)
    assert dx.dtype == dtype
    assert_allclose(dx, np.broadcast_to(g[:, :, None, None] / 35, x.shape), rtol=1e-6)
    dx = F.global_max_pool2d_backward(g, am, x.shape)
    ref = np.zeros(flat.shape)
    np.put_along_axis(ref, flat.argmax(axis=2)[:, :, None], g[:, :, None], axis=2)
    assert_array_equal(dx, ref.reshape(x.shape).astype(dtype))
    # (N, C, 1, 1) gradients are accepted too
    assert_array_equal(F.global_avg_pool2d_backward(g[:, :, None, None], x.shape),
                       F.global_avg_pool2d_backward(g, x.shape))
    assert_array_equal(F.global_max_pool2d_backward(g[:, :, None, None], am, x.shape),
                       F.global_max_pool2d_backward(g, am, x.shape))


def test_max_pool_nan_propagates():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    for k, s in [(2, 2), (3, 1)]:
        out, am = F.max_pool2d(x, k, s)
        assert np.isnan(out[0, 0, 0, 0]) and am[0, 0, 0, 0] == 1
    out, am = F.global_max_pool2d(x)
    assert np.isnan(out[0, 0]) and am[0, 0] == 1


# ---------------------------------------------------------------------------------------
# n_jobs invariance
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_n_jobs_invariance(rng, dtype, conv_path):
    x = rng.standard_normal((13, 3, 11, 10)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    wt = rng.standard_normal((3, 4, 3, 3)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)

    def run(n_jobs):
        out = F.conv2d(x, w, b, 2, 1, n_jobs=n_jobs)
        res = [out, *F.conv2d_backward(np.cos(out), x, w, 2, 1, n_jobs=n_jobs)]
        out = F.conv_transpose2d(x, wt, None, 2, 1, n_jobs=n_jobs)
        res += [out, *F.conv_transpose2d_backward(np.sin(out), x, wt, 2, 1, n_jobs=n_jobs)]
        mp, am = F.max_pool2d(x, 3, 2, 1, n_jobs=n_jobs)
        res += [mp, am, F.max_pool2d_backward(mp, am, x.shape, n_jobs=n_jobs)]
        ap = F.avg_pool2d(x, 2, n_jobs=n_jobs)
        res += [ap, F.avg_pool2d_backward(ap, x.shape, 2, n_jobs=n_jobs)]
        gm, gam = F.global_max_pool2d(x, n_jobs=n_jobs)
        res += [F.global_avg_pool2d(x, n_jobs=n_jobs), gm, gam,
                F.global_max_pool2d_backward(gm, gam, x.shape, n_jobs=n_jobs),
                F.global_avg_pool2d_backward(gm, x.shape, n_jobs=n_jobs)]
        return res

    ref = run(1)
    for n_jobs in (2, -1, None):
        for a, r in zip(run(n_jobs), ref):
            assert a.dtype == r.dtype
            assert_array_equal(a, r)  # the same bits for any thread count


# ---------------------------------------------------------------------------------------
# torch (optional)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel,stride,padding", [((5, 5), 1, 2), ((3, 3), 2, 1),
                                                   ((1, 1), 1, 0), ((2, 3), (2, 1), (1, 0))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_against_torch_conv(rng, kernel, stride, padding, dtype, conv_path):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((4, 3, 11, 9)).astype(dtype)
    w = rng.standard_normal((5, 3) + kernel).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    tol = 2e-4 if dtype == np.float32 else 1e-10
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    to = tf.conv2d(tx, tw, tb, stride=stride, padding=padding)
    out = F.conv2d(x, w, b, stride, padding, n_jobs=2)
    assert_allclose(out, to.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    to.backward(torch.tensor(g))
    for got, t in zip(F.conv2d_backward(g, x, w, stride, padding, n_jobs=2),
                      (tx.grad, tw.grad, tb.grad)):
        assert_allclose(got, t.numpy(), rtol=tol, atol=tol * 10)
    # transposed convolution with the weight read as (C_in=5... ) -> use a fresh one
    wt = rng.standard_normal((3, 5) + kernel).astype(dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    to = tf.conv_transpose2d(tx, tw, tb, stride=stride, padding=padding)
    out = F.conv_transpose2d(x, wt, b, stride, padding, n_jobs=2)
    assert_allclose(out, to.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    to.backward(torch.tensor(g))
    for got, t in zip(F.conv_transpose2d_backward(g, x, wt, stride, padding, n_jobs=2),
                      (tx.grad, tw.grad, tb.grad)):
        assert_allclose(got, t.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("kernel,stride,padding", POOLS[:6])
def test_against_torch_pool(rng, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((3, 4, 10, 9)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    to, ti = tf.max_pool2d(tx, kernel, stride, padding, return_indices=True)
    out, am = F.max_pool2d(x, kernel, stride, padding, n_jobs=2)
    assert_array_equal(out, to.detach().numpy())
    assert_array_equal(am, ti.numpy())
    g = rng.standard_normal(out.shape).astype(np.float32)
    to.backward(torch.tensor(g))
    assert_allclose(F.max_pool2d_backward(g, am, x.shape, n_jobs=2), tx.grad.numpy(),
                    rtol=1e-6, atol=1e-6)
    for inc in (True, False):
        tx = torch.tensor(x, requires_grad=True)
        to = tf.avg_pool2d(tx, kernel, stride, padding, count_include_pad=inc)
        out = F.avg_pool2d(x, kernel, stride, padding, inc, n_jobs=2)
        assert_allclose(out, to.detach().numpy(), rtol=1e-5, atol=1e-6)
        to.backward(torch.tensor(g))
        assert_allclose(F.avg_pool2d_backward(g, x.shape, kernel, stride, padding, inc),
                        tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------
X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv2d(X[0], W), ValueError, "x must be 4-D"),
    (lambda: F.conv2d(X, W[0]), ValueError, "w must be 4-D"),
    (lambda: F.conv2d(X, np.zeros((4, 2, 3, 3))), ValueError, "3 channels"),
    (lambda: F.conv2d(X, W, np.zeros(3)), ValueError, "b has 3 entries"),
    (lambda: F.conv2d(X, W, np.zeros((4, 1))), ValueError, "b must be 1-D"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 6, 3))), ValueError, "larger than the padded"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 8, 3)), padding=1), ValueError, "larger than"),
    (lambda: F.conv2d(X, W, stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.conv2d(X, W, stride=-1), ValueError, "stride must be >= 1"),
    (lambda: F.conv2d(X, W, stride=1.5), TypeError, "stride must be an int"),
    (lambda: F.conv2d(X, W, stride=(1, 2, 3)), ValueError, "stride must be an int"),
    (lambda: F.conv2d(X, W, padding=-1), ValueError, "padding must be >= 0"),
    (lambda: F.conv2d(X, W, padding="full"), ValueError, "padding must be"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 2, 2)), padding="same"), ValueError, "odd"),
    (lambda: F.conv2d(X.astype(np.float32), W), TypeError, "Mixed floating dtypes"),
    (lambda: F.conv2d(X, W, np.zeros(4, np.float32)), TypeError, "Mixed"),
    (lambda: F.conv2d(X.astype(np.complex128), W), TypeError, "real numbers"),
    (lambda: F.conv2d(X.astype(np.float16), W), TypeError, "float16"),
    (lambda: F.conv2d(None, W), TypeError, "x must be"),
    (lambda: F.conv2d("abc", W), TypeError, "x must be"),
    (lambda: F.conv2d(np.zeros((0, 3, 5, 5)), W), ValueError, "empty"),
    (lambda: F.conv2d(X, W, n_jobs=0), ValueError, "n_jobs"),
    (lambda: F.conv2d(X, W, n_jobs=1.5), TypeError, "n_jobs"),
    (lambda: F.conv2d_backward(np.zeros((2, 4, 4, 3)), X, W), ValueError, "grad_out has shape"),
    (lambda: F.conv2d_backward(np.zeros((2, 4, 3, 3), np.float32), X, W), TypeError, "Mixed"),
    (lambda: F.conv2d_backward(np.zeros((2, 4, 3, 3)), X, W, 0), ValueError, "stride"),
    (lambda: F.conv_transpose2d(X, W), ValueError, "x has 3 channels but w expects 4"),
    (lambda: F.conv_transpose2d(X, np.zeros((3, 2, 3, 3)), padding=5), ValueError, "too large"),
    (lambda: F.conv_transpose2d(X, np.zeros((3, 2, 3, 3)), padding="same"), ValueError,
     "padding must be"),
    (lambda: F.conv_transpose2d(X, np.zeros((3, 2, 3, 3)), np.zeros(3)), ValueError, "b has"),
    (lambda: F.conv_transpose2d(X, np.zeros((3, 2, 3, 3)), stride=0), ValueError, "stride"),
    (lambda: F.conv_transpose2d_backward(np.zeros((2, 2, 6, 6)), X, np.zeros((3, 2, 3, 3))),
     ValueError, "grad_out has shape"),
    (lambda: F.max_pool2d(X, 6), ValueError, "larger than the padded"),
    (lambda: F.max_pool2d(X, 0), ValueError, "kernel_size must be >= 1"),
    (lambda: F.max_pool2d(X, 2, 0), ValueError, "stride must be >= 1"),
    (lambda: F.max_pool2d(X, 2, 2, 2), ValueError, "at most half"),
    (lambda: F.max_pool2d(X[0], 2), ValueError, "x must be 4-D"),
    (lambda: F.avg_pool2d(X, 3, padding=2), ValueError, "at most half"),
    (lambda: F.avg_pool2d(X, (2, 2, 2)), ValueError, "kernel_size"),
    (lambda: F.avg_pool2d_backward(np.zeros((2, 3, 3, 3)), X.shape, 2), ValueError,
     "grad_out has shape"),
    (lambda: F.avg_pool2d_backward(np.zeros((2, 3, 2, 2)), (2, 3, 5), 2), TypeError,
     "x_shape"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2), int),
                                   (2, 4, 5, 5)), ValueError, "does not match"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.full((2, 3, 2, 2), 25),
                                   X.shape), ValueError, "outside"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.full((2, 3, 2, 2), -1),
                                   X.shape), ValueError, "outside"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2)),
                                   X.shape), TypeError, "integers"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 1), int),
                                   X.shape), ValueError, "argmax has shape"),
    (lambda: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), None, X.shape), TypeError,
     "argmax"),
    (lambda: F.global_avg_pool2d(X[0]), ValueError, "x must be 4-D"),
    (lambda: F.global_avg_pool2d_backward(np.zeros((2, 4)), X.shape), ValueError,
     "grad_out has shape"),
    (lambda: F.global_max_pool2d_backward(np.zeros((2, 3)), np.full((2, 3), 99), X.shape),
     ValueError, "outside"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_views_and_read_only_inputs(rng, conv_path):
    # Fortran-ordered, strided and read-only (broadcast) inputs give the same results.
    base = rng.standard_normal((2, 3, 9, 8))
    x = np.asfortranarray(base)
    w = rng.standard_normal((4, 3, 3, 3))[:, :, ::-1, :]
    b = np.broadcast_to(np.float64(0.5), (4,))
    ref = ref_conv2d(base, np.ascontiguousarray(w), np.full(4, 0.5), (1, 1), (1, 1))
    assert_allclose(F.conv2d(x, w, b, padding=1), ref, rtol=1e-12, atol=1e-12)
    g = np.broadcast_to(np.float64(1.0), ref.shape)
    for got, r in zip(F.conv2d_backward(g, x, w, 1, 1),
                      ref_conv2d_backward(np.ones(ref.shape), base, np.ascontiguousarray(w),
                                          (1, 1), (1, 1))):
        assert_allclose(got, r, rtol=1e-12, atol=1e-12)
    xs = np.concatenate([base, base], axis=3)[:, :, :, ::2]
    out, am = F.max_pool2d(xs, 2)
    assert_array_equal(out, F.max_pool2d(np.ascontiguousarray(xs), 2)[0])


@pytest.mark.parametrize("H,W,k,p", [(1, 1, 3, 1), (2, 3, 5, 2), (1, 6, 1, 0), (3, 1, 3, 2)])
def test_tiny_images(rng, conv_path, H, W, k, p):
    x = rng.standard_normal((3, 2, H, W))
    w = rng.standard_normal((5, 2, k, k))
    b = rng.standard_normal(5)
    out = F.conv2d(x, w, b, 1, p)
    assert_allclose(out, ref_conv2d(x, w, b, (1, 1), (p, p)), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    for got, ref in zip(F.conv2d_backward(g, x, w, 1, p),
                        ref_conv2d_backward(g, x, w, (1, 1), (p, p))):
        assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nc", [8, 6, 4, 2, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_direct_channel_blocks(rng, monkeypatch, nc, dtype):
    # Every register-block variant of the direct loops (the cost model picks one per
    # shape), with channel counts that leave partial blocks, padding and no padding.
    from fastml.nn import _conv

    monkeypatch.setattr(F, "_force_path", "direct")
    monkeypatch.setattr(_conv, "channel_block",
                        lambda n, nflat, itemsize, dw=False: (min(nc, 8) if nc >= 4 else 4)
                        if dw else nc)
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for Ci, Co, p in [(3, 7, 1), (6, 6, 0), (1, 13, 2)]:
        x = rng.standard_normal((5, Ci, 11, 9)).astype(dtype)
        w = rng.standard_normal((Co, Ci, 5, 3)).astype(dtype)
        b = rng.standard_normal(Co).astype(dtype)
        out = F.conv2d(x, w, b, 1, p)
        assert_allclose(out, ref_conv2d(x, w, b, (1, 1), (p, p)), rtol=tol, atol=tol)
        g = rng.standard_normal(out.shape).astype(dtype)
        for got, ref in zip(F.conv2d_backward(g, x, w, 1, p),
                            ref_conv2d_backward(g, x, w, (1, 1), (p, p))):
            assert_allclose(got, ref, rtol=tol, atol=tol * 10)


# ---------------------------------------------------------------------------------------
# every direct kernel, and the fused convolution + ReLU + max-pool step
# ---------------------------------------------------------------------------------------
DIRECT_SHAPES = [
    # (N, C_in, C_out, H, W, kh, kw, padding): partial channel blocks (flat blocks of 8,
    # lane blocks of 16 / 8), one and several vectors per row, padding on one axis only
    (3, 3, 7, 11, 9, 5, 3, (1, 1)),
    (2, 6, 16, 14, 14, 5, 5, (0, 0)),
    (4, 1, 13, 12, 10, 3, 3, (2, 2)),
    (2, 2, 33, 9, 20, 3, 5, (1, 2)),
    (3, 5, 18, 7, 40, 3, 3, (1, 0)),
    (2, 13, 5, 6, 6, 1, 1, (0, 0)),
    (2, 14, 9, 5, 70, 2, 4, (1, 3)),
]
KINDS = list(itertools.product(["flat", "lanes"], repeat=3))


@pytest.mark.parametrize("kinds", KINDS, ids=["-".join(k) for k in KINDS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_direct_kernels(rng, monkeypatch, kinds, dtype):
    # Each forward, weight-gradient and input-gradient kernel of the direct path (the
    # multiply-add count picks one per shape) against the naive loops.
    monkeypatch.setattr(F, "_force_path", "direct")
    monkeypatch.setattr(F, "_force_kernels", dict(zip(("fwd", "dw", "dx"), kinds)))
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for N, Ci, Co, H, W, kh, kw, p in DIRECT_SHAPES:
        x = rng.standard_normal((N, Ci, H, W)).astype(dtype)
        w = rng.standard_normal((Co, Ci, kh, kw)).astype(dtype)
        b = rng.standard_normal(Co).astype(dtype)
        ref = ref_conv2d(x, w, b, (1, 1), p)
        out = F.conv2d(x, w, b, 1, p)
        assert out.dtype == dtype
        assert_allclose(out, ref, rtol=tol, atol=tol * np.abs(ref).max())
        g = rng.standard_normal(out.shape).astype(dtype)
        for got, r in zip(F.conv2d_backward(g, x, w, 1, p),
                          ref_conv2d_backward(g, x, w, (1, 1), p)):
            assert got.dtype == dtype
            assert_allclose(got, r, rtol=tol, atol=tol * np.abs(r).max())


def _relu_pool_reference(x, w, b, p, k, gp):
    """The unfused layers: pooled output and the gradients, from the naive loops."""
    r = np.maximum(ref_conv2d(x, w, b, (1, 1), p), 0)
    out, am = F.max_pool2d(r, k)
    g = F.max_pool2d_backward(gp, am, r.shape) * (r > 0)
    return (out, *ref_conv2d_backward(g, x, w, (1, 1), p))


@pytest.mark.parametrize("kinds", KINDS, ids=["-".join(k) for k in KINDS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 3])
def test_fused_conv_relu_pool(rng, monkeypatch, kinds, dtype, k):
    monkeypatch.setattr(F, "_force_kernels", dict(zip(("fwd", "dw", "dx"), kinds)))
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for N, Ci, Co, H, W, kh, kw, p in DIRECT_SHAPES:
        if (H + 2 * p[0] - kh + 1) < k or (W + 2 * p[1] - kw + 1) < k:
            continue
        x = rng.standard_normal((N, Ci, H, W)).astype(dtype)
        w = rng.standard_normal((Co, Ci, kh, kw)).astype(dtype)
        b = rng.standard_normal(Co).astype(dtype)
        out, pos = F._conv_relu_pool(x, w, b, p, k, None)
        gp = rng.standard_normal(out.shape).astype(dtype)
        ref = _relu_pool_reference(x, w, b, p, k, gp)
        got = (out, *F._conv_relu_pool_backward(gp, pos, x, w, p, k, True, None))
        for a, r in zip(got, ref):
            assert a.dtype == dtype
            assert_allclose(a, r, rtol=tol, atol=tol * max(1.0, np.abs(r).max()))
        # positions: 255 exactly where the window's maximum is <= 0
        assert np.array_equal(pos == 255, out == 0)


def test_fused_conv_relu_pool_nan_and_inf(rng):
    # NaN rules of the unfused layers: the fused pass declines windows that meet a NaN or
    # an infinity (and the layer step then runs the layers themselves).
    x = rng.standard_normal((2, 2, 8, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[1, 0, 4, 4] = bad
        assert F._conv_relu_pool(xb, w, None, (1, 1), 2, None) is None
    assert F._conv_relu_pool(x, w, None, (1, 1), 2, None) is not None


# ---------------------------------------------------------------------------------------
# the same bits for any thread count
# ---------------------------------------------------------------------------------------
@pytest.fixture
def any_threads(monkeypatch):
    """n_jobs taken literally (more threads than this machine's cores run too)."""
    from fastml.utils import _parallel

    monkeypatch.setattr(_parallel, "max_usable_threads", lambda: 64)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bitwise_identical_for_any_thread_count(any_threads, data):
    draw = data.draw
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    N, Ci, Co = draw(st.integers(1, 9)), draw(st.integers(1, 5)), draw(st.integers(1, 20))
    H, W = draw(st.integers(2, 13)), draw(st.integers(2, 13))
    kh, kw = draw(st.integers(1, min(H, 5))), draw(st.integers(1, min(W, 5)))
    stride = draw(st.sampled_from([1, 1, 2]))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    path = draw(st.sampled_from(["direct", "gemm"]))
    kinds = dict(zip(("fwd", "dw", "dx"), draw(st.sampled_from(KINDS))))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, Ci, H, W)).astype(dtype)
    w = rng.standard_normal((Co, Ci, kh, kw)).astype(dtype)
    wt = rng.standard_normal((Ci, Co, kh, kw)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    old = F._force_path, F._force_kernels
    F._force_path, F._force_kernels = path, kinds
    try:
        def run(n_jobs):
            out = F.conv2d(x, w, b, stride, (ph, pw), n_jobs=n_jobs)
            res = [out, *F.conv2d_backward(np.cos(out), x, w, stride, (ph, pw),
                                           n_jobs=n_jobs)]
            t = F.conv_transpose2d(x, wt, None, stride, (ph, pw), n_jobs=n_jobs)
            res += [t, *F.conv_transpose2d_backward(np.sin(t), x, wt, stride, (ph, pw),
                                                    n_jobs=n_jobs)]
            k = min(H, W, 3)
            mp, am = F.max_pool2d(x, k, n_jobs=n_jobs)
            res += [mp, am, F.max_pool2d_backward(np.cos(mp), am, x.shape, n_jobs=n_jobs)]
            ap = F.avg_pool2d(x, k, 1, k // 2, n_jobs=n_jobs)
            res += [ap, F.avg_pool2d_backward(np.cos(ap), x.shape, k, 1, k // 2,
                                              n_jobs=n_jobs)]
            if stride == 1 and out.shape[2] >= 2 and out.shape[3] >= 2:
                fused = F._conv_relu_pool(x, w, b, (ph, pw), 2, n_jobs)
                if fused is not None:
                    res += [*fused, *F._conv_relu_pool_backward(
                        np.cos(fused[0]), fused[1], x, w, (ph, pw), 2, True, n_jobs)]
            return res

        ref = run(1)
        for n_jobs in (2, 3):
            got = run(n_jobs)
            assert len(got) == len(ref)
            for a, r in zip(got, ref):
                assert a.dtype == r.dtype
                assert_array_equal(a, r)
    finally:
        F._force_path, F._force_kernels = old


# ---------------------------------------------------------------------------------------
# convolution backward with infinite operands
# ---------------------------------------------------------------------------------------
def _conv_grads_ref(g, x, w, ph, pw):
    """conv2d's dx and dw at stride 1 from their definitions, in float64: dx sums the
    products of existing outputs only, dw also those with the input's zero padding."""
    N, Ci, H, W = x.shape
    Co, _, kh, kw = w.shape
    Ho, Wo = g.shape[2:]
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        for n in range(N):
            for o in range(Co):
                for h in range(Ho):
                    for v in range(Wo):
                        for i in range(kh):
                            for j in range(kw):
                                a, b = h - ph + i, v - pw + j
                                gv = float(g[n, o, h, v])
                                if 0 <= a < H and 0 <= b < W:
                                    dx[n, :, a, b] += gv * w[o, :, i, j]
                                    dw[o, :, i, j] += gv * x[n, :, a, b]
                                else:  # the zero padding is part of conv2d's input
                                    dw[o, :, i, j] += gv * 0.0
    return dx, dw


@pytest.mark.parametrize("path", ["direct", "gemm"])
@pytest.mark.parametrize("where", ["x", "w", "g"])
def test_conv2d_backward_inf_operand_meets_no_padding(monkeypatch, path, where):
    # the direct loops multiplied the zero padding with every value: an inf in x gave NaN
    # in the weight gradient of kernel rows that only see padding, an inf in w gave NaN in
    # the whole input gradient; exact values are finite there
    import fastml.nn.functional as F

    monkeypatch.setattr(F, "_force_path", path)
    x = np.array([1.0, -2.0, 3.0, 0.5, 2.0, -1.0, 4.0, 1.5, 2.5],
                 np.float32).reshape(1, 1, 1, 9)
    w = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3) - 8
    if where == "x":
        x[0, 0, 0, [0, 4]] = np.inf
        x[0, 0, 0, 1] = -np.inf
    else:
        w[0, 0, 0, 0] = np.inf  # kernel row 0 lies on the padding row for every output
    g = np.ones((1, 2, 1, 9), np.float32)
    if where == "g":
        g[0, 1, 0, 3] = -np.inf
    dx, dw, db = F.conv2d_backward(g, x, w, 1, 1)
    rdx, rdw = _conv_grads_ref(g, x.astype(np.float64), w.astype(np.float64), 1, 1)
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(rdw))
    np.testing.assert_array_equal(np.isnan(dx), np.isnan(rdx))
    if where == "x":  # kernel rows 0 and 2 only meet the padding rows: exactly 0
        assert (rdw[:, :, 0] == 0).all() and (rdw[:, :, 2] == 0).all()
    if where == "w":
        assert np.isfinite(rdx).all()
    eps = np.finfo(np.float32).eps
    fin = np.isfinite(rdx)
    np.testing.assert_allclose(dx[fin], rdx[fin], rtol=20 * eps, atol=20 * eps * 20)
    fin = np.isfinite(rdw)
    np.testing.assert_allclose(dw[fin], rdw[fin], rtol=20 * eps, atol=20 * eps * 20)
    np.testing.assert_array_equal(np.isinf(dw), np.isinf(rdw))
    np.testing.assert_array_equal(db, g.sum(axis=(0, 2, 3)))
