"""Regressions found by fuzz/fuzz_nn.py: each test is a minimal input that was wrong."""
import numpy as np
import pytest

from fastml.nn import _augment
from fastml.nn.augment import ImageAugmenter
from fastml.nn.layers import MaxPool2D, ReLU, Sequential


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hflip,vflip", [(False, False), (True, False), (False, True),
                                         (True, True)])
def test_augment_exact_maps_do_not_mix_infinite_neighbours(dtype, hflip, vflip):
    # identity / flips read one pixel each; the zero-weight bilinear neighbours used to be
    # multiplied in, so an inf pixel turned its neighbours into 0 * inf = NaN
    x = np.arange(2 * 1 * 5 * 4, dtype=dtype).reshape(2, 1, 5, 4)
    x[0, 0, 1, 2] = np.inf
    x[1, 0, 3, 0] = -np.inf
    x[1, 0, 0, 3] = np.nan
    aug = ImageAugmenter(shift=0, rotation=0, scale=0, hflip=hflip, vflip=vflip)
    out = aug.apply(x, np.random.default_rng(0))
    mats = aug.matrices(2, 5, 4, np.random.default_rng(0))
    ref = x.copy()
    for n in range(2):
        if mats[n, 0] < 0:
            ref[n] = ref[n, :, :, ::-1]
        if mats[n, 4] < 0:
            ref[n] = ref[n, :, ::-1, :]
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dy,dx", [(0, 1), (1, 0), (-2, 1), (3, -3)])
def test_augment_integer_shift_is_exact_next_to_inf(dy, dx):
    x = np.ones((1, 2, 6, 5))
    x[0, 1, 2, 2] = np.inf
    m = np.array([[1.0, 0.0, -dx, 0.0, 1.0, -dy]])  # output (i, j) reads (i - dy, j - dx)
    out = np.empty_like(x)
    _augment.affine_warp(x, out, m, 1)
    ref = np.zeros_like(x)
    ref[:, :, max(dy, 0):6 + min(dy, 0), max(dx, 0):5 + min(dx, 0)] = \
        x[:, :, max(-dy, 0):6 + min(-dy, 0), max(-dx, 0):5 + min(-dx, 0)]
    np.testing.assert_array_equal(out, ref)


def test_augment_bilinear_still_interpolates():
    # a half-pixel shift averages neighbours (the skipped taps are only the 0-weight ones)
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    m = np.array([[1.0, 0.0, 0.5, 0.0, 1.0, 0.25]])
    out = np.empty_like(x)
    _augment.affine_warp(x, out, m, 1)
    assert out[0, 0, 0, 0] == pytest.approx(0.75 * 0.5 + 0.25 * 4.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_passes_no_gradient_through_zeroed_units_even_inf(dtype):
    relu = ReLU()
    x = np.array([[-1.0, 0.0, 2.0, -3.0]], dtype=dtype)
    relu.forward(x, training=True)
    g = np.array([[np.inf, np.nan, 5.0, -np.inf]], dtype=dtype)
    dx = relu.backward(g)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, np.array([[0.0, 0.0, 5.0, 0.0]], dtype=dtype))


def test_fused_relu_maxpool_backward_equals_the_two_layers_with_inf_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 6)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    g[0, 0, 0, :] = np.inf
    g[1, 2, 3, 1] = np.nan
    fused = Sequential(ReLU(), MaxPool2D(2), input_shape=(3, 8, 6))
    assert type(fused._plan[0]).__name__ == "ReLUMaxPool"
    out_f = fused.forward(x, training=True)
    dx_f = fused.backward(g)
    relu, pool = ReLU(), MaxPool2D(2)
    out_u = pool.forward(relu.forward(x, training=True), training=True)
    dx_u = relu.backward(pool.backward(g))
    np.testing.assert_array_equal(out_f, out_u)
    np.testing.assert_array_equal(dx_f, dx_u)


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


@pytest.mark.parametrize("n_threads,error", [(0, ValueError), (-5, ValueError),
                                             (1.5, TypeError), (True, TypeError),
                                             (None, TypeError)])
def test_augment_apply_rejects_bad_thread_counts(n_threads, error):
    # a negative count reached OpenMP and aborted the interpreter (libgomp out of memory)
    with pytest.raises(error, match="n_threads"):
        ImageAugmenter().apply(np.ones((2, 1, 5, 5)), np.random.default_rng(0), n_threads)


def test_augment_apply_caps_huge_thread_counts_and_accepts_seeds():
    x = np.random.default_rng(1).random((3, 2, 6, 7)).astype(np.float32)
    aug = ImageAugmenter()
    ref = aug.apply(x, np.random.default_rng(5), 1)
    np.testing.assert_array_equal(aug.apply(x, np.random.default_rng(5), 2**40), ref)
    np.testing.assert_array_equal(aug.apply(x, 5, 2), ref)  # a seed is default_rng(seed)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.float16, bool])
def test_augment_apply_names_unsupported_dtypes(dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        ImageAugmenter().apply(np.ones((1, 1, 4, 4), dtype), np.random.default_rng(0))
