"""Forward and backward primitives of convolutional networks, NCHW layout.

Every function takes NumPy arrays of shape (N, C, H, W), validates them here (shapes,
parameters, dtypes) and returns new arrays: float32 inputs give float32 results, float64
give float64; integer or boolean arrays, lists and scalars are converted to the floating dtype of
the other operands (float64 if there is none); a float32 array mixed with a float64 array
is an error. Values are
not checked for finiteness: NaN and inf propagate as in IEEE arithmetic (a NaN in a
pooling window is its maximum).

Per spatial axis, an input of size n, kernel f, stride s and padding p gives
``floor((n + 2p - f) / s) + 1`` outputs (convolution, pooling) and a transposed
convolution gives ``(n - 1) s + f - 2p``.

``n_jobs`` means what it means in scikit-learn's OpenMP code (None and -1: every usable
core, see ``fastml.utils._parallel``); threads split the batch (or the N*C planes for
pooling) and BLAS runs one thread per OpenMP thread. Results are bitwise identical for
any thread count: every sum over the batch (weight and bias gradients) runs over tiles
fixed by the shapes alone, each tile into its own partial sum, and the partial sums are
added in tile order.
"""
import functools
import numbers
import os
import threading
import time

import numpy as np

from fastml.nn import _conv, _pool
from fastml.utils import blas_threads, effective_n_threads
from fastml.utils._openmp import simd_path
from fastml.utils.validation import aligned, result_dtype

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "global_max_pool2d",
    "global_max_pool2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
]

_INT_MAX = 2**31 - 1  # BLAS sizes are 32-bit ints


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------
class _Weak(np.ndarray):
    """Marks an array converted from a list or scalar: its dtype (float64 by default)
    does not take part in choosing the result dtype, so a bias given as a list works
    with float32 weights."""


def _as_array(a, name, ndim, what):
    weak = not hasattr(a, "dtype")
    if a is None:
        raise TypeError(f"{name} must be an array of shape {what}, got None.")
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array of shape {what}, got a "
                        f"{type(a).__name__}.")
    try:
        a = np.asarray(a)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} could not be converted to an array: {exc}") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} has dtype {a.dtype}, but fastml.nn needs real numbers "
                        "(float32 or float64).")
    if a.dtype.kind == "f" and a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} has dtype {a.dtype}; fastml.nn supports float32 and "
                        "float64. Convert it with .astype(np.float32).")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D of shape {what}, got an array of shape "
                         f"{a.shape} ({a.ndim}-D).")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}.")
    return a.view(_Weak) if weak else a


def _as_4d(a, name):
    return _as_array(a, name, 4, "(N, C, H, W)")


def _unify(named):
    """Cast the (name, array) pairs to one floating dtype: fastml's dtype rule
    (:func:`fastml.utils.validation.result_dtype`) over the floating arrays, with mixed
    dtypes an error (``mixed="raise"``) rather than promoted; integer arrays follow."""
    floats = [(n, a) for n, a in named
              if a is not None and a.dtype.kind == "f" and not isinstance(a, _Weak)]
    dtype = result_dtype(*[a for _, a in floats], mixed="raise",
                         names=[n for n, _ in floats])
    out = [None if a is None else aligned(np.ascontiguousarray(a.view(np.ndarray), dtype=dtype))
           for _, a in named]
    return out, dtype


def _int(v, name, low):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}.")
    v = int(v)
    if v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}.")
    if v > 2**31 - 1:  # the compiled loops index with C ints
        raise ValueError(f"{name} must be <= 2147483647, got {v}; use a smaller {name}.")
    return v


def _pair(v, name, low):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}.")
        return _int(v[0], name, low), _int(v[1], name, low)
    v = _int(v, name, low)
    return v, v


def _padding(padding, kh, kw, allow_same):
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same" and allow_same:
            if kh % 2 == 0 or kw % 2 == 0:
                raise ValueError(f'padding="same" needs odd kernel sizes, got a {kh}x{kw} '
                                 "kernel; pass an explicit padding instead.")
            return (kh - 1) // 2, (kw - 1) // 2
        choices = '"valid", "same"' if allow_same else '"valid"'
        raise ValueError(f"padding must be an int, a pair of ints or one of {choices}, "
                         f"got {padding!r}.")
    return _pair(padding, "padding", 0)


def _out_size(n, f, s, p, axis, what="kernel"):
    if f > n + 2 * p:
        raise ValueError(f"The {what} {axis} {f} is larger than the padded input {axis} "
                         f"{n + 2 * p} (input {n} + 2 * padding {p}).")
    return (n + 2 * p - f) // s + 1


def _check_blas_sizes(*sizes):
    if max(sizes) > _INT_MAX:
        raise ValueError("The problem is too large for 32-bit BLAS sizes (a matrix "
                         f"dimension exceeds {_INT_MAX}); split the batch or the image.")


def _x_shape(x_shape):
    if (not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                       for s in x_shape)):
        raise TypeError(f"x_shape must be a tuple of 4 ints (N, C, H, W), got {x_shape!r}.")
    if any(int(s) < 1 for s in x_shape):
        raise ValueError(f"x_shape must hold positive sizes, got {tuple(x_shape)}.")
    return tuple(int(s) for s in x_shape)


def _check_grad_shape(g, expected, name="grad_out"):
    if g.shape != tuple(expected):
        raise ValueError(f"{name} has shape {g.shape}, but the forward output has shape "
                         f"{tuple(expected)}.")


# ---------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------
# Which algorithm conv2d uses. None: measured per layer (below); "gemm" or "direct" force
# one (tests use this to exercise both); the environment variable FASTML_CONV_PATH does the
# same for a whole process ("measure", "heuristic", "direct" or "gemm").
_force_path = None
_CONV_POLICIES = ("measure", "heuristic", "direct", "gemm")
# (direction, shape, dtype, SIMD level) -> "direct" / "gemm": the measured choices of this
# process (see _conv_path); read them with conv_path_choices().
_path_cache = {}
_path_lock = threading.Lock()
_trial = threading.local()  # the path being timed by _measure_paths, in this thread


def _conv_policy():
    if _force_path is not None:
        return _force_path
    value = os.environ.get("FASTML_CONV_PATH", "") or "measure"
    if value not in _CONV_POLICIES:
        raise ValueError(f"FASTML_CONV_PATH={value!r} is not a convolution path policy; "
                         f"expected one of {', '.join(_CONV_POLICIES)} (or unset it).")
    return value


def conv_path_choices():
    """The convolution algorithms chosen by measurement so far in this process.

    Returns
    -------
    dict
        ``(direction, C_in, C_out, kh, kw, ph, pw, H_out, W_out, simd, N, dtype[, dx])
        -> "direct" | "gemm"``, direction ``"forward"`` or ``"backward"`` (the backward
        key ends with whether dx was computed).
    """
    with _path_lock:
        return dict(_path_cache)


def _heuristic_path(Ci, Co, kh, kw, Ho, Wo, backward):
    """Shape rules measured on one AVX-512 CPU (forward / backward ms, GEMM vs direct):
    (128,1,28,28)->6@5x5 1.9/3.6 vs 0.6/1.8; (128,6,14,14)->16@5x5 2.2/3.9 vs 0.9/2.9;
    (64,64,32,32)->64@3x3 59/106 vs 43/90; (64,16,16,16)->16@5x5 6.0/11 vs 2.1/5.1;
    (64,64,16,16)->128@1x1 3.3/6.2 vs 3.0/8.1; (64,128,8,8)->128@3x3 14/28 vs 15/35;
    (32,256,8,8)->256@3x3 25/50 vs 30/85. Used with FASTML_CONV_PATH=heuristic only: the
    balance differs on other CPUs and levels, so the default measures."""
    K, P = Ci * kh * kw, Ho * Wo
    if backward:
        return "direct" if kh * kw > 1 and (P >= 256 or K * Co <= 4096) else "gemm"
    return "direct" if P >= 256 or K <= 576 else "gemm"


def _measure_paths(run):
    """Time run() with each algorithm, alternating, three times each (once when a run
    takes more than 0.2 s), and return the one with the lower minimum: the minimum of
    alternated runs is what survives other processes taking the cores now and then."""
    best = {}
    for rnd in range(3):
        for path in ("direct", "gemm"):
            _trial.path = path
            try:
                t0 = time.perf_counter()
                run()
                dt = time.perf_counter() - t0
            finally:
                _trial.path = None
            best[path] = min(dt, best.get(path, dt))
        if min(best.values()) > 0.2:
            break
    return min(best, key=best.get)


def _conv_path(Ci, Co, kh, kw, sh, sw, ph, pw, Ho, Wo, backward=False, *, measure=None,
               key=()):
    """"direct" (stride-1 loops over the padded image, register blocks sized for the SIMD
    level) or "gemm" (im2col tiles + BLAS), whichever is faster for the layer.

    Only stride 1 with padding below the kernel size can run direct. Otherwise, by
    ``_conv_policy()``: a forced path, the shape rules of ``_heuristic_path``, or (the
    default) a measurement: the first call of a layer shape, dtype and SIMD level times
    both algorithms on the real operands (``measure()`` runs the whole call once) and the
    faster is used for that shape for the rest of the process, as cuDNN's benchmark mode
    does. The thread count is deliberately not part of the key, so that results do not
    depend on ``n_jobs`` within a process."""
    direct_ok = sh == 1 and sw == 1 and ph <= kh - 1 and pw <= kw - 1
    trial = getattr(_trial, "path", None)
    policy = trial or _conv_policy()
    if not direct_ok:
        return "gemm"
    if policy in ("direct", "gemm"):
        return policy
    if policy == "heuristic" or measure is None:
        return _heuristic_path(Ci, Co, kh, kw, Ho, Wo, backward)
    k = ("backward" if backward else "forward", Ci, Co, kh, kw, ph, pw, Ho, Wo,
         simd_path()) + tuple(key)
    with _path_lock:
        path = _path_cache.get(k)
    if path is None:
        path = _measure_paths(measure)
        with _path_lock:
            path = _path_cache.setdefault(k, path)
    return path


# Which direct kernels run (see fastml/nn/_conv.pyx): "flat" (image positions in the
# vector lanes) or "lanes" (output channels in the lanes; for the input gradient, dx rows
# in the lanes), per direction; None chooses by counting multiply-adds. Tests set it to
# exercise every kernel.
_force_kernels = None


@functools.lru_cache(maxsize=512)
def _direct_plan(Ci, Co, H, W, kh, kw, ph, pw, itemsize, vec_bytes):
    """The direct kernels for a layer, chosen by counting vector multiply-adds, padding
    included (output channels padded to the kernel's channel block, flat rows to whole
    vectors with the positions past each row's end, dx rows to whole vectors and every
    kernel row of the full convolution for the flat dx). A count, not a timing: both kinds
    run at about the same multiply-adds per cycle, so fewer wasted lanes means faster on
    every CPU. Returns {"fwd", "dw", "dx"} -> "flat" | "lanes" and the flat kernels'
    channel blocks {"nc", "nco", "nci"}."""
    V = vec_bytes // itemsize            # lanes of one vector
    L = 64 // itemsize                   # channels of a lanes block
    K = Ci * kh * kw
    Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
    Wp = W + 2 * pw

    def padded(n, m):
        return -(-n // m) * m

    nc = _conv.channel_block(Co, Ho * Wp, itemsize)
    nco = _conv.channel_block(Co, K, itemsize, True)
    nflat = _conv.dx_flat_length(H, W, Wo, kw, pw)
    nci = _conv.channel_block(Ci, nflat, itemsize)
    rows = sum(min(kh, ih + ph + 1) - max(0, ih + ph - Ho + 1) for ih in range(H))
    return {
        "fwd": ("lanes" if padded(Co, L) * Ho * Wo < padded(Co, nc) * padded(Ho * Wp, V)
                else "flat"),
        "dw": ("lanes" if padded(Co, L) * Ho * Wo < padded(Co, nco) * padded(Ho * Wp, V)
               else "flat"),
        "dx": ("lanes" if padded(W, V) * rows * kw * Ci
               < padded(Ci, nci) * padded(nflat, V) * kh * kw else "flat"),
        "nc": nc, "nco": nco, "nci": nci,
    }


def _direct_kernels(Ci, Co, H, W, kh, kw, ph, pw, itemsize):
    """_direct_plan for this process's vector width, with the test override applied."""
    plan = _direct_plan(Ci, Co, H, W, kh, kw, ph, pw, itemsize, _conv.vec_bytes())
    if _force_kernels:
        plan = dict(plan, **_force_kernels)
    return plan


def _direct_forward_operands(w, b, H, W, ph, pw):
    """(kind, packed weights, bias padded to whole channel blocks) for
    _conv.direct_forward."""
    Co, Ci, kh, kw = w.shape
    itemsize = w.dtype.itemsize
    plan = _direct_kernels(Ci, Co, H, W, kh, kw, ph, pw, itemsize)
    if plan["fwd"] == "lanes":
        kind, nc = 1, 64 // itemsize
    else:
        kind, nc = 0, plan["nc"]
    wpk = _conv.pack_weights(w.reshape(Co, -1), Co, nc)
    bpk = np.zeros(wpk.shape[0] * nc, dtype=w.dtype)
    if b is not None:
        bpk[:Co] = b
    return kind, wpk, bpk


def _direct_backward(gsrc, pos, pool, x, w, ph, pw, dx, need_dx, n_threads):
    """dw (C_out, K) and db (float64) of the direct kernels, dx filled when need_dx; gsrc
    is the output gradient, or (pool > 0) the pooled gradient of the fused step."""
    Co, Ci, kh, kw = w.shape
    N, _, H, W = x.shape
    itemsize = x.itemsize
    plan = _direct_kernels(Ci, Co, H, W, kh, kw, ph, pw, itemsize)
    nci = 0
    if not need_dx:
        wdx = w.reshape(-1)  # not read
    elif plan["dx"] == "lanes":
        wdx = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(-1)
    else:  # the "full" convolution of the gradient with the flipped, transposed kernel
        wf = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(Ci, -1)
        nci = plan["nci"]
        wdx = _conv.pack_weights(wf, Ci, nci).reshape(-1)
    if plan["dw"] == "lanes":
        dw_kind, nco = 1, 64 // itemsize
    else:
        dw_kind, nco = 0, plan["nco"]
    return _conv.direct_backward(gsrc, pos, x, wdx, nci, dx, need_dx, kh, kw, ph, pw, Co,
                                 pool, dw_kind, nco, 1 if plan["dx"] == "lanes" else 0,
                                 n_threads)


def _conv_relu_pool(x, w, b, padding, k, n_jobs):
    """relu(max_pool2d(conv2d(x, w, b, 1, padding), k)) in one compiled pass (the direct
    kernels), with the pooled positions for _conv_relu_pool_backward: (out, pos), pos the
    offset r * k + c of each window's maximum in the window (255 where the ReLU zeroes the
    output). None when a window meets a NaN or an infinity: the unfused layers then give
    the exact IEEE results. Operands are C-contiguous, of one dtype, validated by the
    layers."""
    Co, Ci, kh, kw = w.shape
    N, _, H, W = x.shape
    ph, pw = padding
    Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
    kind, wpk, bpk = _direct_forward_operands(w, b, H, W, ph, pw)
    out = np.empty((N, Co, Ho // k, Wo // k), dtype=x.dtype)
    pos = np.empty(out.shape, dtype=np.uint8)
    ok = _conv.direct_forward(x, wpk, bpk, b is not None, out, kh, kw, ph, pw,
                              effective_n_threads(n_jobs), kind, pos, k)
    return (out, pos) if ok else None


def _conv_relu_pool_backward(grad, pos, x, w, padding, k, need_dx, n_jobs):
    """(dx or None, dw, db) of the fused step from the gradient of its pooled output."""
    Co, Ci, kh, kw = w.shape
    ph, pw = padding
    dtype = x.dtype
    n_threads = effective_n_threads(n_jobs)
    dx = np.empty(x.shape if need_dx else (0,) + x.shape[1:], dtype=dtype)
    if _all_finite(w):
        dw, db = _direct_backward(grad, pos, k, x, w, ph, pw, dx, need_dx, n_threads)
        if _all_finite(dw):
            return (dx if need_dx else None), dw.reshape(w.shape), db.astype(dtype)
    # non-finite operands: the output gradient, then the general backward pass
    N, _, Hq, Wq = grad.shape
    H, W = x.shape[2:]
    g = np.zeros((N, Co, H + 2 * ph - kh + 1, W + 2 * pw - kw + 1), dtype=dtype)
    kept = pos != 255
    n, c, i, j = np.nonzero(kept)
    q = pos[kept].astype(np.intp)
    g[n, c, i * k + q // k, j * k + q % k] = grad[kept]
    return conv2d_backward(g, x, w, 1, padding, need_dx, n_jobs=n_jobs)


def _all_finite(*arrays):
    """No NaN or inf in any of the arrays (one vectorised sum each; a sum that overflows
    counts as not finite, which only costs the choice of algorithm)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(np.isfinite(a.sum()) for a in arrays)


def _conv_setup(x, w, stride, padding, allow_same=True):
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _padding(padding, kh, kw, allow_same)
    return kh, kw, sh, sw, ph, pw


def _check_conv_operands(x, w, b=None):
    x = _as_4d(x, "x")
    w = _as_4d(w, "w")
    if b is not None:
        b = _as_array(b, "b", 1, "(C_out,)")
    return x, w, b


def conv2d(x, w, b=None, stride=1, padding=0, *, n_jobs=None):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    x : array of shape (N, C_in, H, W)
    w : array of shape (C_out, C_in, kh, kw)
    b : None or array of shape (C_out,)
    stride : int or (int, int), >= 1
    padding : int, (int, int), "valid" (0) or "same" ((f - 1) / 2 per axis, odd kernels
        only: the output has the input's size at stride 1, ceil(n / s) otherwise)
    n_jobs : int or None

    Returns
    -------
    out : array of shape (N, C_out, H_out, W_out), H_out = (H + 2 ph - kh) // sh + 1
    """
    x, w, b = _check_conv_operands(x, w, b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]} "
                         f"(w has shape {w.shape} = (C_out, C_in, kh, kw)).")
    if b is not None and b.shape[0] != w.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries but w has {w.shape[0]} output "
                         "channels.")
    (x, w, b), dtype = _unify([("x", x), ("w", w), ("b", b)])
    kh, kw, sh, sw, ph, pw = _conv_setup(x, w, stride, padding)
    N, Ci, H, W = x.shape
    Co = w.shape[0]
    Ho = _out_size(H, kh, sh, ph, "height")
    Wo = _out_size(W, kw, sw, pw, "width")
    _check_blas_sizes(Co, Ci * kh * kw, Ho * Wo)
    n_threads = effective_n_threads(n_jobs)
    out = np.empty((N, Co, Ho, Wo), dtype=dtype)
    bias = b if b is not None else np.zeros(1, dtype=dtype)
    if _conv_path(Ci, Co, kh, kw, sh, sw, ph, pw, Ho, Wo, key=(N, dtype.str), measure=lambda:
                  conv2d(x, w, b, stride, padding, n_jobs=n_jobs)) == "direct":
        kind, wpk, bpk = _direct_forward_operands(w, b, H, W, ph, pw)
        _conv.direct_forward(x, wpk, bpk, b is not None, out, kh, kw, ph, pw, n_threads,
                             kind)
        return out
    with blas_threads(1):
        _conv.conv_forward(x, w.reshape(Co, -1), bias, b is not None, out, kh, kw, sh, sw,
                           ph, pw, n_threads)
    return out


def conv2d_backward(grad_out, x, w, stride=1, padding=0, need_input_grad=True, *,
                    n_jobs=None):
    """Gradients of :func:`conv2d` with respect to x, w and b.

    Parameters
    ----------
    grad_out : array of shape (N, C_out, H_out, W_out), the gradient of the output
    x, w, stride, padding : as given to :func:`conv2d`
    need_input_grad : bool; when False, dx is not computed and None is returned for it
        (the first layer of a network).

    Returns
    -------
    dx : array like x, or None
    dw : array like w
    db : array of shape (C_out,)
    """
    grad_out = _as_4d(grad_out, "grad_out")
    x, w, _ = _check_conv_operands(x, w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]} "
                         f"(w has shape {w.shape} = (C_out, C_in, kh, kw)).")
    (grad_out, x, w), dtype = _unify([("grad_out", grad_out), ("x", x), ("w", w)])
    kh, kw, sh, sw, ph, pw = _conv_setup(x, w, stride, padding)
    N, Ci, H, W = x.shape
    Co = w.shape[0]
    Ho = _out_size(H, kh, sh, ph, "height")
    Wo = _out_size(W, kw, sw, pw, "width")
    _check_grad_shape(grad_out, (N, Co, Ho, Wo))
    _check_blas_sizes(Co, Ci * kh * kw, Ho * Wo)
    n_threads = effective_n_threads(n_jobs)
    need_dx = bool(need_input_grad)
    dx = np.empty(x.shape if need_dx else (0, Ci, H, W), dtype=dtype)
    # The direct loops multiply whole padded rows: the zeros around grad_out meet every
    # weight (for dx) and the zeros past its last column meet every input value (for dw),
    # so an inf there gives 0 * inf = NaN where the exact gradient is finite. A non-finite
    # w (small, checked first) takes the GEMM path, which only forms the products that
    # exist; so does a non-finite x or grad_out, seen on the result: dw is then not
    # finite, and is computed again. Finite operands pay one sum over w and one over dw.
    if _conv_path(Ci, Co, kh, kw, sh, sw, ph, pw, Ho, Wo, backward=True,
                  key=(N, dtype.str, need_dx), measure=lambda: conv2d_backward(
                      grad_out, x, w, stride, padding, need_dx, n_jobs=n_jobs)) == "direct" \
            and _all_finite(w):
        dw, db = _direct_backward(grad_out, None, 0, x, w, ph, pw, dx, need_dx, n_threads)
        if _all_finite(dw):
            return (dx if need_dx else None), dw.reshape(w.shape), db.astype(dtype)
    with blas_threads(1):
        dw, db = _conv.conv_backward(grad_out, x, w.reshape(Co, -1), dx, need_dx, True, kh,
                                     kw, sh, sw, ph, pw, n_threads)
    return (dx if need_dx else None), dw.reshape(w.shape), db.astype(dtype)


def _transpose_setup(x, w, stride, padding):
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[0]} "
                         f"(w has shape {w.shape} = (C_in, C_out, kh, kw) for a transposed "
                         "convolution).")
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _padding(padding, kh, kw, allow_same=False)
    N, Ci, H, W = x.shape
    Ho = (H - 1) * sh + kh - 2 * ph
    Wo = (W - 1) * sw + kw - 2 * pw
    if Ho < 1 or Wo < 1:
        raise ValueError(f"The padding ({ph}, {pw}) is too large: the transposed "
                         f"convolution output would be {Ho}x{Wo}; it must be at least 1x1 "
                         "((n - 1) * stride + kernel - 2 * padding >= 1).")
    Co = w.shape[1]
    _check_blas_sizes(Ci, Co * kh * kw, H * W)
    return kh, kw, sh, sw, ph, pw, Ho, Wo


def conv_transpose2d(x, w, b=None, stride=1, padding=0, *, n_jobs=None):
    """Transposed 2-D convolution (the adjoint of :func:`conv2d` with respect to its input;
    "deconvolution" for upsampling).

    Parameters
    ----------
    x : array of shape (N, C_in, H, W)
    w : array of shape (C_in, C_out, kh, kw) (torch's layout for transposed convolution)
    b : None or array of shape (C_out,)
    stride : int or (int, int), >= 1
    padding : int, (int, int) or "valid" (0)

    Returns
    -------
    out : array of shape (N, C_out, H_out, W_out), H_out = (H - 1) sh + kh - 2 ph
    """
    x, w, b = _check_conv_operands(x, w, b)
    if b is not None and b.shape[0] != w.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries but w has {w.shape[1]} output "
                         "channels (w is (C_in, C_out, kh, kw)).")
    (x, w, b), dtype = _unify([("x", x), ("w", w), ("b", b)])
    kh, kw, sh, sw, ph, pw, Ho, Wo = _transpose_setup(x, w, stride, padding)
    N, Ci = x.shape[:2]
    Co = w.shape[1]
    n_threads = effective_n_threads(n_jobs)
    out = np.empty((N, Co, Ho, Wo), dtype=dtype)
    with blas_threads(1):
        # out = col2im(w^T x): the input gradient of the convolution out -> x.
        _conv.conv_backward(x, out, w.reshape(Ci, -1), out, True, False, kh, kw, sh, sw,
                            ph, pw, n_threads)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv_transpose2d_backward(grad_out, x, w, stride=1, padding=0, need_input_grad=True, *,
                              n_jobs=None):
    """Gradients of :func:`conv_transpose2d` with respect to x, w and b.

    Returns
    -------
    dx : array like x, or None when need_input_grad is False
    dw : array like w
    db : array of shape (C_out,)
    """
    grad_out = _as_4d(grad_out, "grad_out")
    x, w, _ = _check_conv_operands(x, w)
    (grad_out, x, w), dtype = _unify([("grad_out", grad_out), ("x", x), ("w", w)])
    kh, kw, sh, sw, ph, pw, Ho, Wo = _transpose_setup(x, w, stride, padding)
    N, Ci, H, W = x.shape
    Co = w.shape[1]
    _check_grad_shape(grad_out, (N, Co, Ho, Wo))
    n_threads = effective_n_threads(n_jobs)
    need_dx = bool(need_input_grad)
    dx = np.empty(x.shape if need_dx else (0, Ci, H, W), dtype=dtype)
    with blas_threads(1):
        # dx is the convolution of grad_out with w (no bias); dw the weight gradient of
        # that convolution with "output gradient" x: one im2col of grad_out serves both.
        dw = _conv.transpose_backward(grad_out, x, w.reshape(Ci, -1), dx, need_dx, kh, kw,
                                      sh, sw, ph, pw, n_threads)
    db = grad_out.sum(axis=(0, 2, 3), dtype=np.float64).astype(dtype)
    return (dx if need_dx else None), dw.reshape(w.shape), db


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------
def _pool_setup(x, kernel_size, stride, padding):
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride", 1)
    ph, pw = _padding(padding, kh, kw, allow_same=False)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding ({ph}, {pw}) must be at most half the kernel size "
                         f"({kh}, {kw}), so that every window holds an input value.")
    H, W = x[2], x[3]
    Ho = _out_size(H, kh, sh, ph, "height", "kernel_size")
    Wo = _out_size(W, kw, sw, pw, "width", "kernel_size")
    return kh, kw, sh, sw, ph, pw, Ho, Wo


def _pool_threads(n_jobs, planes):
    return max(1, min(effective_n_threads(n_jobs), planes))


def _float_4d(x, name):
    x = _as_4d(x, name)
    (x,), dtype = _unify([(name, x)])
    return x, dtype


def max_pool2d(x, kernel_size, stride=None, padding=0, *, n_jobs=None):
    """Max pooling.

    Parameters
    ----------
    x : array of shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int, (int, int) or None (= kernel_size)
    padding : int or (int, int), at most half the kernel size (padding never wins)

    Returns
    -------
    out : array of shape (N, C, H_out, W_out)
    argmax : int64 array of the same shape, the flat index (h * W + w) in its (H, W)
        plane of each maximum (the first one in a tie), for :func:`max_pool2d_backward`.
    """
    x, dtype = _float_4d(x, "x")
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_setup(x.shape, kernel_size, stride, padding)
    N, C, H, W = x.shape
    n_threads = _pool_threads(n_jobs, N * C)
    out = np.empty((N, C, Ho, Wo), dtype=dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.int64)
    _pool.max_pool(x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo),
                   argmax.reshape(N * C, Ho, Wo), kh, kw, sh, sw, ph, pw, n_threads)
    return out, argmax


def _check_argmax(argmax, shape, hw, name="argmax"):
    if argmax is None:
        raise TypeError(f"{name} must be the integer array returned by the forward pass, "
                        "got None.")
    argmax = np.asarray(argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers (the forward pass returns int64), got "
                        f"dtype {argmax.dtype}.")
    if argmax.shape != tuple(shape):
        raise ValueError(f"{name} has shape {argmax.shape}, but grad_out has shape "
                         f"{tuple(shape)}; they must match.")
    argmax = aligned(np.ascontiguousarray(argmax, dtype=np.int64))
    if argmax.size and (argmax.min() < 0 or argmax.max() >= hw):
        raise ValueError(f"{name} holds indices outside [0, H*W) = [0, {hw}); it does not "
                         "come from a forward pass over an input of shape x_shape.")
    return argmax


def max_pool2d_backward(grad_out, argmax, x_shape, *, n_jobs=None):
    """Gradient of :func:`max_pool2d` with respect to x: each output gradient goes to the
    input position of its maximum (summed where windows overlap).

    Parameters
    ----------
    grad_out : array of shape (N, C, H_out, W_out)
    argmax : the int array returned by :func:`max_pool2d`
    x_shape : the shape (N, C, H, W) of the pooled input
    """
    grad_out, dtype = _float_4d(grad_out, "grad_out")
    N, C, H, W = _x_shape(x_shape)
    if grad_out.shape[:2] != (N, C):
        raise ValueError(f"grad_out has shape {grad_out.shape}, which does not match "
                         f"x_shape {(N, C, H, W)} in (N, C).")
    argmax = _check_argmax(argmax, grad_out.shape, H * W)
    n_threads = _pool_threads(n_jobs, N * C)
    dx = np.empty((N, C, H, W), dtype=dtype)
    _pool.max_pool_backward(grad_out.reshape(N * C, -1), argmax.reshape(N * C, -1),
                            dx.reshape(N * C, H * W), n_threads)
    return dx


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True, *,
               n_jobs=None):
    """Average pooling (torch's defaults: zero padding counts in the divisor unless
    count_include_pad is False).

    Returns
    -------
    out : array of shape (N, C, H_out, W_out)
    """
    x, dtype = _float_4d(x, "x")
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_setup(x.shape, kernel_size, stride, padding)
    N, C, H, W = x.shape
    n_threads = _pool_threads(n_jobs, N * C)
    out = np.empty((N, C, Ho, Wo), dtype=dtype)
    _pool.avg_pool(x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo), kh, kw, sh, sw, ph,
                   pw, bool(count_include_pad), n_threads)
    return out


def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0,
                        count_include_pad=True, *, n_jobs=None):
    """Gradient of :func:`avg_pool2d` with respect to x (same pooling parameters)."""
    grad_out, dtype = _float_4d(grad_out, "grad_out")
    N, C, H, W = _x_shape(x_shape)
    kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_setup((N, C, H, W), kernel_size, stride, padding)
    _check_grad_shape(grad_out, (N, C, Ho, Wo))
    n_threads = _pool_threads(n_jobs, N * C)
    dx = np.empty((N, C, H, W), dtype=dtype)
    _pool.avg_pool_backward(grad_out.reshape(N * C, Ho, Wo), dx.reshape(N * C, H, W), kh,
                            kw, sh, sw, ph, pw, bool(count_include_pad), n_threads)
    return dx


def global_avg_pool2d(x, *, n_jobs=None):
    """Mean over each (H, W) plane: (N, C, H, W) -> (N, C)."""
    x, dtype = _float_4d(x, "x")
    N, C, H, W = x.shape
    out = np.empty(N * C, dtype=dtype)
    _pool.global_avg_pool(x.reshape(N * C, H * W), out, _pool_threads(n_jobs, N * C))
    return out.reshape(N, C)


def _global_grad(grad_out, x_shape):
    N, C, H, W = _x_shape(x_shape)
    ndim = 4 if np.ndim(grad_out) == 4 else 2
    grad_out = _as_array(grad_out, "grad_out", ndim, "(N, C)")
    if grad_out.shape not in ((N, C), (N, C, 1, 1)):
        raise ValueError(f"grad_out has shape {grad_out.shape}, but the global pooling of "
                         f"an input of shape {(N, C, H, W)} has shape {(N, C)}.")
    (grad_out,), dtype = _unify([("grad_out", grad_out)])
    return grad_out.reshape(N * C), dtype, (N, C, H, W)


def global_avg_pool2d_backward(grad_out, x_shape, *, n_jobs=None):
    """Gradient of :func:`global_avg_pool2d`: grad_out (N, C) spread evenly over each
    plane of x_shape."""
    g, dtype, (N, C, H, W) = _global_grad(grad_out, x_shape)
    dx = np.empty((N, C, H, W), dtype=dtype)
    _pool.global_avg_pool_backward(g, dx.reshape(N * C, H * W), _pool_threads(n_jobs, N * C))
    return dx


def global_max_pool2d(x, *, n_jobs=None):
    """Maximum over each (H, W) plane: returns out (N, C) and argmax (N, C), the int64 flat
    index of the maximum in its plane (the first one in a tie)."""
    x, dtype = _float_4d(x, "x")
    N, C, H, W = x.shape
    out = np.empty(N * C, dtype=dtype)
    argmax = np.empty(N * C, dtype=np.int64)
    _pool.global_max_pool(x.reshape(N * C, H * W), out, argmax, _pool_threads(n_jobs, N * C))
    return out.reshape(N, C), argmax.reshape(N, C)


def global_max_pool2d_backward(grad_out, argmax, x_shape, *, n_jobs=None):
    """Gradient of :func:`global_max_pool2d`: each plane of x_shape gets grad_out at its
    argmax and zero elsewhere."""
    g, dtype, (N, C, H, W) = _global_grad(grad_out, x_shape)
    argmax = np.asarray(argmax) if argmax is not None else None
    if argmax is not None and argmax.shape == (N, C, 1, 1):
        argmax = argmax.reshape(N, C)
    argmax = _check_argmax(argmax, (N, C), H * W)
    dx = np.empty((N, C, H, W), dtype=dtype)
    _pool.global_max_pool_backward(g, argmax.reshape(N * C), dx.reshape(N * C, H * W),
                                   _pool_threads(n_jobs, N * C))
    return dx
