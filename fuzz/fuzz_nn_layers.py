"""fastml.nn's layers and the fused ReLU + MaxPool of Sequential, forward and
backward, and the SGD / Adam updates, on any shape, layout and values (see
_nn_common.py), against the functional primitives and float64 references."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from _common import ALLOWED, Data, call  # noqa: E402
from _nn_common import tensor, dims, eps_of, same  # noqa: E402


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


def TestOneInput(data):
    from _common import LAST

    r = Data(data)
    LAST.append(("fuzz_nn_layers", (), {}))
    fuzz_layers(r)


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.linalg  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.nn.functional  # noqa: F401
        import fastml.nn.layers  # noqa: F401
        import fastml.nn.optim  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
