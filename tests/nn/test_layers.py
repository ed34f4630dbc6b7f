"""fastml.nn layers: backward against central differences (float64), train/inference
semantics of BatchNorm and Dropout, container shapes, initialisation, argument checks,
and (when torch is installed) LeNet-5 forward/backward against torch."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastml.nn import (
    ELU, AvgPool2D, BatchNorm, Concat, Conv2D, ConvTranspose2D, Dense, Dropout, Flatten,
    GlobalAvgPool2D, GlobalMaxPool2D, LeakyReLU, MaxPool2D, Maxout, PReLU, ReLU, Residual,
    Sequential, Sigmoid, Softmax, Softplus, Standardize, Tanh, lenet5)
from fastml.nn.trainer import _dropout_rngs

from .._reference import numeric_gradient


def _numeric_check(layer, x, rng, training=True, eps=1e-6):
    """Gradient of sum(R * layer(x)) for a fixed random R: analytic vs central
    differences, for the input and every parameter entry."""
    rngs = [r for _, r in _dropout_rngs(layer)]  # frozen masks: same draws every time
    states = [r.bit_generator.state for r in rngs]

    def f():
        for r, st in zip(rngs, states):
            r.bit_generator.state = st
        return float(np.sum(R * layer.forward(x, training)))

    out = layer.forward(x, training)
    R = rng.standard_normal(out.shape)
    f()
    dx = layer.backward(R.copy())
    grads = [p.grad.copy() for p in layer.parameters()]
    targets = [(x, dx)] + [(p.value, g) for p, g in zip(layer.parameters(), grads)]
    for arr, g in targets:
        assert g.shape == arr.shape
        assert_allclose(g, numeric_gradient(f, arr, eps), rtol=1e-5, atol=1e-7)


IMG = (3, 6, 7)  # C, H, W: odd sizes on purpose

LAYER_CASES = [
    ("dense", lambda: Dense(5), (7,)),
    ("dense-nobias", lambda: Dense(4, use_bias=False), (6,)),
    ("flatten", Flatten, IMG),
    ("conv", lambda: Conv2D(4, 3), IMG),
    ("conv-pad-stride", lambda: Conv2D(2, (3, 2), stride=2, padding=1), IMG),
    ("conv-same", lambda: Conv2D(2, 3, padding="same"), IMG),
    ("conv-transpose", lambda: ConvTranspose2D(2, 3, stride=2, padding=1), IMG),
    ("maxpool", lambda: MaxPool2D(2), IMG),
    ("maxpool-overlap", lambda: MaxPool2D(3, stride=2, padding=1), IMG),
    ("avgpool", lambda: AvgPool2D(2, stride=1), IMG),
    ("global-avg", GlobalAvgPool2D, IMG),
    ("global-max", GlobalMaxPool2D, IMG),
    ("relu", ReLU, IMG),
    ("leaky-relu", lambda: LeakyReLU(0.1), IMG),
    ("prelu", PReLU, IMG),
    ("prelu-channel", lambda: PReLU(per_channel=True), IMG),
    ("prelu-flat", lambda: PReLU(per_channel=True), (5,)),
    ("elu", ELU, IMG),
    ("sigmoid", Sigmoid, IMG),
    ("tanh", Tanh, IMG),
    ("softplus", Softplus, IMG),
    ("softmax", Softmax, (5,)),
    ("maxout", lambda: Maxout(3, pieces=3), (5,)),
    ("standardize", Standardize, IMG),
    ("batchnorm-dense", BatchNorm, (5,)),
    ("batchnorm-conv", BatchNorm, IMG),
    ("dropout", lambda: Dropout(0.3), IMG),
    ("relu-maxpool-fused", lambda: Sequential(ReLU(), MaxPool2D(2)), IMG),
    ("relu-maxpool3-fused", lambda: Sequential(ReLU(), MaxPool2D(3)), IMG),
    ("residual-identity", lambda: Residual(Sequential(Conv2D(3, 3, padding=1), Tanh())), IMG),
    ("residual-projection", lambda: Residual(Sequential(Conv2D(4, 3, stride=2, padding=1),
                                                        BatchNorm(), ReLU()),
                                             Conv2D(4, 1, stride=2)), IMG),
    ("concat", lambda: Concat(Conv2D(2, 1), Sequential(Conv2D(3, 3, padding=1), ReLU()),
                              MaxPool2D(3, stride=1, padding=1)), IMG),
    ("sequential", lambda: Sequential(Conv2D(4, 3), BatchNorm(), ELU(), MaxPool2D(2),
                                      Flatten(), Dense(6), Dropout(0.2), Sigmoid(),
                                      Dense(3)), IMG),
]


@pytest.mark.parametrize("make,shape", [c[1:] for c in LAYER_CASES],
                         ids=[c[0] for c in LAYER_CASES])
def test_backward_matches_finite_differences(make, shape):
    rng = np.random.default_rng(0)
    layer = make()
    layer.build(shape, np.float64, rng)
    x = rng.standard_normal((3,) + shape)
    for p in layer.parameters():  # move PReLU slopes / BN gamma off their start values
        p.value += 0.1 * rng.standard_normal(p.value.shape)
    _numeric_check(layer, x, rng)


def test_finite_difference_check_can_fail():
    """The check above catches a wrong backward (here: ReLU's mask dropped)."""
    class BadReLU(ReLU):
        def backward(self, grad):
            return grad

    layer = BadReLU()
    layer.build((10,), np.float64)
    with pytest.raises(AssertionError):
        _numeric_check(layer, np.random.default_rng(0).standard_normal((4, 10)),
                       np.random.default_rng(1))


def test_fused_relu_maxpool_equals_separate_layers():
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((4, 3, 9, 8)).astype(dtype)
        x[0, 0, :2, :2] = 0.0  # ties at zero
        fused = Sequential(ReLU(), MaxPool2D(2))
        fused.build(x.shape[1:], dtype)
        assert len(fused._plan) == 1  # the pair runs as one step
        r, p = ReLU(), MaxPool2D(2)
        r.build(x.shape[1:], dtype)
        p.build(r.output_shape, dtype)
        out = fused.forward(x, True)
        np.testing.assert_array_equal(out, p.forward(r.forward(x, True), True))
        g = rng.standard_normal(out.shape).astype(dtype)
        dx = fused.backward(g)
        assert out.dtype == dtype and dx.dtype == dtype
        np.testing.assert_array_equal(dx, r.backward(p.backward(g)))


@pytest.mark.parametrize("shape", [(5,), (3, 4, 4)])
def test_batchnorm_train_and_inference(shape):
    rng = np.random.default_rng(0)
    bn = BatchNorm(momentum=0.2)
    bn.build(shape, np.float64)
    axes = (0,) if len(shape) == 1 else (0, 2, 3)
    bshape = (1, -1) + (1,) * (len(shape) - 1)
    x = 3.0 + 2.0 * rng.standard_normal((16,) + shape)
    out = bn.forward(x, training=True)
    assert_allclose(out.mean(axis=axes), 0, atol=1e-10)
    assert_allclose(out.var(axis=axes), 1, rtol=1e-3)
    m = x.size // x.shape[1]
    assert_allclose(bn.running_mean, 0.2 * x.mean(axis=axes))
    assert_allclose(bn.running_var, 0.8 + 0.2 * x.var(axis=axes) * m / (m - 1))
    bn.gamma.value[:] = 2.0
    bn.beta.value[:] = 0.5
    y = bn.forward(x[:2], training=False)  # inference: running statistics, any batch size
    ref = (x[:2] - bn.running_mean.reshape(bshape)) / np.sqrt(
        bn.running_var.reshape(bshape) + bn.eps) * 2.0 + 0.5
    assert_allclose(y, ref)
    rm = bn.running_mean.copy()
    bn.forward(x, training=False)
    np.testing.assert_array_equal(bn.running_mean, rm)  # inference leaves them alone
    single = BatchNorm()
    single.build((3, 1, 1) if len(shape) == 3 else shape, np.float64)
    with pytest.raises(ValueError, match="batch_size"):  # one value per channel
        single.forward(np.zeros((1,) + single.input_shape), training=True)


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 5, 5))
    bn = BatchNorm()
    bn.build(x.shape[1:], np.float64)
    tb = torch.nn.BatchNorm2d(3).double()
    for _ in range(3):
        out = bn.forward(x, training=True)
        tout = tb(torch.tensor(x))
        assert_allclose(out, tout.detach().numpy(), atol=1e-10)
        x = x * 1.5 + 0.3
    assert_allclose(bn.running_mean, tb.running_mean.numpy(), atol=1e-12)
    assert_allclose(bn.running_var, tb.running_var.numpy(), atol=1e-12)
    tb.eval()
    assert_allclose(bn.forward(x), tb(torch.tensor(x)).detach().numpy(), atol=1e-10)


def test_dropout_train_and_inference():
    d = Dropout(0.25)
    d.build((1000,), np.float32, np.random.default_rng(0))
    x = np.ones((20, 1000), np.float32)
    np.testing.assert_array_equal(d.forward(x, training=False), x)  # identity
    y = d.forward(x, training=True)
    assert y.dtype == np.float32
    zero = y == 0
    assert abs(zero.mean() - 0.25) < 0.01
    assert_allclose(y[~zero], 1 / 0.75)  # inverted: survivors scaled up
    assert abs(y.mean() - 1.0) < 0.02  # expectation preserved
    g = np.full_like(x, 2.0)
    np.testing.assert_array_equal(d.backward(g) == 0, zero)  # same mask backward


def test_residual_and_concat_shapes_and_errors():
    r = Residual(Sequential(Conv2D(8, 3, padding=1), ReLU(), Conv2D(8, 3, padding=1)))
    with pytest.raises(ValueError, match="identity shortcut"):
        r.build((3, 8, 8))
    r = Residual(Sequential(Conv2D(8, 3, padding=1)), shortcut=Conv2D(8, 1))
    assert r.build((3, 8, 8)) == (8, 8, 8)
    r = Residual(Sequential(Conv2D(8, 3, stride=2, padding=1)), shortcut=Conv2D(8, 1))
    with pytest.raises(ValueError, match="shortcut gives"):
        r.build((3, 8, 8))
    inception = Concat(Conv2D(4, 1), Sequential(Conv2D(2, 1), Conv2D(6, 3, padding=1)),
                       Sequential(Conv2D(2, 1), Conv2D(3, 5, padding=2)),
                       Sequential(MaxPool2D(3, stride=1, padding=1), Conv2D(5, 1)))
    assert inception.build((3, 9, 9)) == (18, 9, 9)
    out = inception.forward(np.zeros((2, 3, 9, 9), np.float32))
    assert out.shape == (2, 18, 9, 9) and out.dtype == np.float32
    with pytest.raises(ValueError, match="channel axis"):
        Concat(Conv2D(2, 1), Conv2D(2, 3)).build((3, 9, 9))
    net = Sequential(Conv2D(8, 3, padding=1), ReLU(), r.__class__(
        Sequential(Conv2D(8, 3, padding=1), BatchNorm(), ReLU())), inception.__class__(
        Conv2D(4, 1), Conv2D(4, 3, padding=1)), GlobalAvgPool2D(), Dense(10))
    assert net.build((1, 12, 12)) == (10,)
    assert net.forward(np.zeros((2, 1, 12, 12))).shape == (2, 10)


def test_initialisation_he_and_glorot():
    rng = np.random.default_rng(0)
    net = Sequential(Dense(400), ReLU(), Dense(300), BatchNorm(), Dropout(0.1), LeakyReLU(),
                     Dense(200), Tanh(), Dense(10))
    net.build((500,), np.float64, rng)
    w = [la.W.value for la in net.layers if isinstance(la, Dense)]
    # uniform(-a, a) has variance a^2 / 3
    assert_allclose(w[0].var(), 2 / 500, rtol=0.02)       # He (next: ReLU)
    assert_allclose(w[1].var(), 2 / 400, rtol=0.02)       # He through BatchNorm/Dropout
    assert_allclose(w[2].var(), 2 / (300 + 200), rtol=0.02)  # Glorot (next: Tanh)
    assert_allclose(w[3].var(), 2 / (200 + 10), rtol=0.05)   # Glorot (output)
    assert all(np.all(la.b.value == 0) for la in net.layers if isinstance(la, Dense))
    c = Conv2D(16, 5, init="he")
    c.build((6, 14, 14), np.float64, rng)
    assert_allclose(c.W.value.var(), 2 / 150, rtol=0.05)


def test_repr_shows_output_shape():
    net = lenet5()
    assert "Conv2D(6, kernel_size=5, padding=2)" in repr(net)
    net.build((1, 28, 28))
    text = repr(net)
    assert "61706 parameters" in text
    assert "Conv2D(6, kernel_size=5, padding=2) -> (6, 28, 28)" in text
    assert "Flatten() -> (400,)" in text and text.endswith("-> (10,)")
    assert repr(Dropout(0.3)) == "Dropout(p=0.3)"


def test_lenet5_shapes_and_dtype():
    net = lenet5(n_classes=7)
    net.build((1, 28, 28), np.float32, 0)
    assert net.n_parameters() == 61706 - 3 * 85
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    out = net.forward(x, training=True)
    assert out.shape == (5, 7) and out.dtype == np.float32
    net.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    with pytest.raises(ValueError, match="3 channel"):
        lenet5(in_channels=3).build((1, 28, 28))
    with pytest.raises(ValueError, match="does not fit"):
        lenet5().build((1, 8, 8))


@pytest.mark.parametrize("make,exc,match", [
    (lambda: Dense(0), ValueError, "units"),
    (lambda: Dense(2.5), TypeError, "units"),
    (lambda: Conv2D(4, 0), ValueError, "kernel_size"),
    (lambda: Conv2D(4, 3, stride=(1, 2, 3)), ValueError, "stride"),
    (lambda: Conv2D(4, 2, padding="same"), ValueError, "same"),
    (lambda: Conv2D(4, 3, padding="full"), ValueError, "padding"),
    (lambda: Conv2D(4, 3, init="lecun"), ValueError, "init"),
    (lambda: MaxPool2D(2, padding=2), ValueError, "padding"),
    (lambda: Dropout(1.0), ValueError, "p must"),
    (lambda: Dropout("a"), TypeError, "p must"),
    (lambda: LeakyReLU(-0.1), ValueError, "negative_slope"),
    (lambda: ELU(0), ValueError, "alpha"),
    (lambda: BatchNorm(eps=0), ValueError, "eps"),
    (lambda: Residual("conv"), TypeError, "block"),
    (lambda: Concat(), ValueError, "at least one"),
    (lambda: Sequential(Dense(3), "relu"), TypeError, r"layers\[1\]"),
])
def test_constructor_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_build_errors_name_the_problem():
    with pytest.raises(ValueError, match="Flatten"):
        Sequential(Conv2D(2, 3), Dense(3)).build((1, 5, 5))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        Conv2D(2, 3).build((25,))
    d = Dense(3)
    with pytest.raises(RuntimeError, match="not built"):
        d.forward(np.zeros((2, 4)))
    d.build((4,))
    with pytest.raises(ValueError, match="built for inputs"):
        d.forward(np.zeros((2, 5), np.float32))


def test_pickle_keeps_weights_and_drops_caches():
    net = lenet5()
    net.build((1, 28, 28), np.float32, 0)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    out = net.forward(x, training=True)  # leaves caches behind
    clone = pickle.loads(pickle.dumps(net))
    for m in clone.modules():  # no array kept from the forward pass, in layers ...
        assert all(v is None for k, v in vars(m).items() if k.startswith("_c_"))
    for step in clone._plan:   # ... or in fused plan steps
        assert all(v is None or v is False for k, v in vars(step).items()
                   if k.startswith("_c"))
    np.testing.assert_array_equal(clone.forward(x), net.forward(x))
    np.testing.assert_array_equal(out, net.forward(x))


def test_lenet5_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    net = lenet5()
    net.build((1, 28, 28), np.float64, rng)
    tn = torch.nn
    ref = tn.Sequential(tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2),
                        tn.Conv2d(6, 16, 5), tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(),
                        tn.Linear(400, 120), tn.ReLU(), tn.Linear(120, 84), tn.ReLU(),
                        tn.Linear(84, 10)).double()
    ours = [la for la in net.layers if la.parameters()]
    theirs = [m for m in ref if list(m.parameters())]
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            b.weight.copy_(torch.tensor(a.W.value.T if isinstance(a, Dense) else a.W.value))
            b.bias.copy_(torch.tensor(a.b.value))
    x = rng.standard_normal((6, 1, 28, 28))
    out = net.forward(x, training=True)
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)
    assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    net.set_need_input_grad(True)
    dx = net.backward(g)
    tout.backward(torch.tensor(g))
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip(ours, theirs):
        wt = b.weight.grad.numpy()
        assert_allclose(a.W.grad, wt.T if isinstance(a, Dense) else wt, rtol=1e-9,
                        atol=1e-12)
        assert_allclose(a.b.grad, b.bias.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_lenet5_epoch_same_bits_for_any_thread_count(monkeypatch):
    # A whole training epoch (fused convolution steps, pooling, dense layers, SGD with
    # momentum) ends with the same weights, bit for bit, for 1, 2 and 3 threads.
    from fastml.nn import Trainer
    from fastml.utils import _parallel

    monkeypatch.setattr(_parallel, "max_usable_threads", lambda: 64)  # 3 threads run
    rng = np.random.default_rng(0)
    X = rng.random((300, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 300)
    states = []
    for n_jobs in (1, 2, 3):
        net = lenet5(random_state=0)
        Trainer(net, epochs=1, batch_size=64, learning_rate=0.05, momentum=0.9,
                validation_fraction=0.0, random_state=0, n_jobs=n_jobs).fit(X, y)
        states.append(net.state_dict())
    for other in states[1:]:
        for k, v in states[0].items():
            np.testing.assert_array_equal(other[k], v, err_msg=k)


def test_mlp_adam_epoch_same_bits_for_any_thread_count(monkeypatch):
    # dense layers wide enough for several row and column tasks per GEMM, fused
    # Dense + ReLU steps, the input gradient of the second layer, Adam: the same weights,
    # bit for bit, for 1, 2 and 3 threads
    from fastml.nn import Trainer
    from fastml.utils import _parallel

    monkeypatch.setattr(_parallel, "max_usable_threads", lambda: 64)  # 3 threads run
    rng = np.random.default_rng(0)
    X = rng.random((400, 300), dtype=np.float32)
    y = rng.integers(0, 10, 400)
    states = []
    for n_jobs in (1, 2, 3):
        net = Sequential(Dense(150), ReLU(), Dense(70), ReLU(), Dense(10),
                         input_shape=(300,), random_state=0)
        Trainer(net, epochs=2, batch_size=100, optimizer="adam", learning_rate=1e-3,
                validation_fraction=0.0, random_state=0, n_jobs=n_jobs).fit(X, y)
        states.append(net.state_dict())
    for other in states[1:]:
        for k, v in states[0].items():
            np.testing.assert_array_equal(other[k], v, err_msg=k)


def test_dense_backward_takes_read_only_arrays():
    from fastml.nn.dense import dense_backward, dense_forward

    rng = np.random.default_rng(3)
    x, W = rng.standard_normal((5, 7)), rng.standard_normal((7, 16))
    b = rng.standard_normal(16)
    g = rng.standard_normal((5, 16))
    out = dense_forward(x, W, b, True, 1)
    for a in (x, W, g, out):
        a.flags.writeable = False
    for relu_out in (None, out):
        dx, dW, db = dense_backward(g, x, W, True, 2, relu_out=relu_out)
        gm = g if relu_out is None else np.where(out > 0, g, 0)
        assert_allclose(dW, x.T @ gm, rtol=1e-12, atol=1e-12)
        assert_allclose(dx, gm @ W.T, rtol=1e-12, atol=1e-12)
        assert_allclose(db, gm.sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_padded_matches_numpy(dtype):
    # whole register blocks of every width and the edges, padding zeroed
    from fastml.nn import _conv

    rng = np.random.default_rng(2)
    for n, K in [(1, 1), (3, 5), (16, 16), (17, 33), (40, 9), (64, 130)]:
        W = rng.standard_normal((n, K)).astype(dtype)
        ld = -(-n // 16) * 16 + 16
        Wt = np.full((K, ld), np.nan, dtype)
        _conv.transpose_padded(W, Wt)
        np.testing.assert_array_equal(Wt[:, :n], W.T)
        np.testing.assert_array_equal(Wt[:, n:], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_gemm_tiles_match_numpy(dtype):
    # the compiled GEMM tiles of Dense: partial row tiles and register blocks, columns
    # that are not whole vectors, A read as is and transposed
    from fastml.nn import _conv
    from fastml.nn.dense import _padded

    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for M, K, N in [(1, 1, 1), (5, 3, 7), (25, 17, 33), (49, 300, 65), (128, 400, 120),
                    (7, 600, 16)]:
        A = rng.standard_normal((M, K)).astype(dtype)
        B = rng.standard_normal((K, N)).astype(dtype)
        b = rng.standard_normal(N).astype(dtype)
        ref = A.astype(np.float64) @ B + b
        scale = np.abs(A).sum(axis=1, keepdims=True) * np.abs(B).max() + np.abs(b).max()
        for trans in (False, True):
            C = np.empty((M, N), dtype)
            _conv.gemm_rows(np.ascontiguousarray(A.T) if trans else A, trans, _padded(B),
                            N, C, b, True, False, 3)
            assert_allclose(C, ref, rtol=0, atol=tol * scale.max())
        C = np.empty((M, N), dtype)
        _conv.gemm_rows(A, False, _padded(B), N, C, b, True, True, 2)
        assert_allclose(C, np.maximum(ref, 0), rtol=0, atol=tol * scale.max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_gemm_every_register_block(dtype):
    # every row count of a register block (1 to 26 rows: the tallest blocks have 12, the
    # row tiles 24) against column counts that end inside and at the end of vectors of
    # every width (2 to 16 lanes) and of blocks of 1 to 4 vectors, sums over k short and
    # across the k blocks (128 and 256 long), A as is and transposed
    from fastml.nn import _conv
    from fastml.nn.dense import _padded

    rng = np.random.default_rng(1)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    zero = np.zeros(1, dtype)
    for K in (7, 300):
        for N in (1, 3, 8, 9, 16, 17, 33, 49, 65):
            A = rng.standard_normal((26, K)).astype(dtype)
            B = rng.standard_normal((K, N)).astype(dtype)
            for M in range(1, 27):
                a = A[:M]
                ref = a.astype(np.float64) @ B
                atol = tol * (np.abs(a).sum(axis=1).max() * np.abs(B).max())
                for trans in (False, True):
                    C = np.full((M, N), np.nan, dtype)
                    _conv.gemm_rows(np.ascontiguousarray(a.T) if trans else a, trans,
                                    _padded(B), N, C, zero, False, False, 2)
                    assert_allclose(C, ref, rtol=0, atol=atol,
                                    err_msg=f"M={M} N={N} K={K} trans={trans}")


def test_fused_dense_relu_equals_separate_layers():
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((9, 13)).astype(dtype)
        fused = Sequential(Dense(7), ReLU(), input_shape=(13,), dtype=dtype, random_state=0)
        assert len(fused._plan) == 1 and type(fused._plan[0]).__name__ == "DenseReLU"
        d, r = Dense(7), ReLU()
        d.build((13,), dtype, 0)
        r.build((7,), dtype)
        d.W.value[...] = fused.layers[0].W.value
        d.b.value[...] = rng.standard_normal(7)
        fused.layers[0].b.value[...] = d.b.value
        out = fused.forward(x, True)
        np.testing.assert_array_equal(out, r.forward(d.forward(x, True), True))
        g = rng.standard_normal(out.shape).astype(dtype)
        g[0, 0] = np.inf  # a zeroed unit passes no gradient, even an infinite one
        dx = fused.backward(g)
        np.testing.assert_array_equal(dx, d.backward(r.backward(g)))
        np.testing.assert_array_equal(fused.layers[0].W.grad, d.W.grad)
        np.testing.assert_array_equal(fused.layers[0].b.grad, d.b.grad)
        xn = x.copy()
        xn[1, 2] = np.nan  # NaN propagates as in ReLU (np.maximum)
        np.testing.assert_array_equal(fused.forward(xn), r.forward(d.forward(xn)))


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_compiled_step_matches_formulas(momentum, nesterov, dtype):
    from fastml.nn import SGD, Parameter

    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((3, 4)).astype(dtype)
    p, q = Parameter(w0.copy(), "w"), Parameter(w0.copy(), "w")
    opt = SGD([p], 0.05, momentum=momentum, nesterov=nesterov)
    ref = SGD([q], 0.05, momentum=momentum, nesterov=nesterov)
    for _ in range(3):
        g = rng.standard_normal(w0.shape).astype(dtype)
        p.grad, q.grad = g.copy(), g.copy()
        opt.step()
        ref.n_steps += 1
        ref._update_numpy(0, q)  # numpy's operations, one at a time
        assert p.value.dtype == dtype
        assert_allclose(p.value, q.value, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_compiled_step_equals_numpy_operations(dtype):
    # the compiled pass rounds each operation as numpy does: the same bits
    from fastml.nn import Adam, Parameter

    rng = np.random.default_rng(6)
    w0 = rng.standard_normal((37, 5)).astype(dtype)
    p, q = Parameter(w0.copy(), "w"), Parameter(w0.copy(), "w")
    opt, ref = Adam([p], 0.01), Adam([q], 0.01)
    for _ in range(5):
        g = rng.standard_normal(w0.shape).astype(dtype)
        g[0, :2] = 0
        p.grad, q.grad = g.copy(), g.copy()
        opt.step()
        ref.n_steps += 1
        ref._c1, ref._c2 = 1 - ref.beta1 ** ref.n_steps, 1 - ref.beta2 ** ref.n_steps
        ref._update_numpy(0, q)  # numpy's operations, one at a time
        assert p.value.dtype == dtype
        np.testing.assert_array_equal(p.value, q.value)
        np.testing.assert_array_equal(opt._m[0], ref._m[0])
        np.testing.assert_array_equal(opt._s[0], ref._s[0])


# ---------------------------------------------------------------------------------------
# non-finite gradients through ReLU and the fused ReLU + MaxPool
# ---------------------------------------------------------------------------------------
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
