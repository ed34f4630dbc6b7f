"""The Module API (registration, named parameters, state_dict), models built at
construction, standalone parameter-free layers, and the hardening items: gradient-check
tolerance, the fused ReLU+MaxPool step, thread-count validation and error messages."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastml.nn import (BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, Layer,
                       MaxPool2D, Parameter, ReLU, Residual, Sequential, Tanh, Trainer,
                       gradient_check, lenet5, mlp)
from fastml.utils import max_usable_threads


# ---------------------------------------------------------------------------------------
# registration and state
# ---------------------------------------------------------------------------------------
def test_attribute_registration_gives_parameters_buffers_children():
    class Affine(Layer):
        def __init__(self):
            super().__init__()
            self.inner = Dense(2)

        def _build(self, input_shape, rng):
            self.scale = Parameter(np.ones(input_shape, self.dtype), "scale")
            self.register_buffer("count", np.zeros(1, self.dtype))
            return self.inner.build(input_shape, self.dtype, rng)

    a = Affine()
    assert a.children() == [a.inner] and a.parameters() == []
    a.build((3,), np.float64, 0)
    names = [n for n, _ in a.named_parameters()]
    assert names == ["scale", "inner.W", "inner.b"]
    assert [n for n, _ in a.named_buffers()] == ["count"]
    assert list(a.state_dict()) == ["scale", "inner.W", "inner.b", "count"]
    assert a.n_parameters() == 3 + 3 * 2 + 2
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        a.missing


def test_state_dict_round_trip_and_errors():
    a = lenet5(random_state=0)
    b = lenet5(random_state=1)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    assert not np.array_equal(a.forward(x), b.forward(x))
    state = a.state_dict()
    assert list(state)[:4] == ["0.W", "0.b", "3.W", "3.b"]
    state["0.W"] = state["0.W"].copy()
    b.load_state_dict(state)
    assert_array_equal(a.forward(x), b.forward(x))
    state["0.W"][...] = 0  # a copy: the model is not aliased
    assert np.any(a[0].W.value != 0)
    with pytest.raises(KeyError, match="missing keys"):
        b.load_state_dict({"0.W": state["0.W"]})
    bad = dict(state)
    bad["0.W"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="0.W"):
        b.load_state_dict(bad)
    bn = Sequential(Dense(3), BatchNorm(), input_shape=(4,))
    assert list(bn.state_dict()) == ["0.W", "0.b", "1.gamma", "1.beta", "1.running_mean",
                                     "1.running_var"]


def test_models_are_built_at_construction():
    net = lenet5()
    assert net.built and net.n_parameters() == 61706  # the slide's LeNet-5 count
    assert len(net.parameters()) == 10
    assert mlp((512, 512), 10, input_shape=(784,)).n_parameters() == 669706
    seq = Sequential(Conv2D(10, 5), input_shape=(3, 32, 32))  # ten 5x5x3 filters
    assert seq.n_parameters() == 760
    assert seq.output_shape == (10, 28, 28)
    assert not Sequential(Dense(3)).built
    a, b = lenet5(random_state=3), lenet5(random_state=3)
    assert all(np.array_equal(p.value, q.value)
               for p, q in zip(a.parameters(), b.parameters()))


def test_parameter_free_layers_work_standalone_on_any_shape():
    x = np.random.default_rng(0).standard_normal((4, 3, 6, 6))
    for layer in (ReLU(), Tanh(), Dropout(0.5, random_state=0), Flatten(), MaxPool2D(2),
                  GlobalAvgPool2D()):
        out = layer.forward(x, training=True)
        assert out.shape[0] == 4 and out.dtype == np.float64
        dx = layer.backward(np.ones_like(out))
        assert dx.shape == x.shape
        out2 = layer.forward(x[:, :, :4, :4])  # another shape: adapts
        assert out2.shape[0] == 4
    d = Dropout(0.5)
    d.build(x.shape)  # a full batch shape by mistake: harmless for a parameter-free layer
    assert d.forward(x, training=True).shape == x.shape
    assert_array_equal(Dropout(0.5, random_state=1).forward(x, True),
                       Dropout(0.5, random_state=1).forward(x, True))


def test_build_with_the_batch_shape_explains_itself():
    with pytest.raises(ValueError, match="ONE sample"):
        Dense(3).build((5, 4))
    c = Conv2D(2, 3)
    c.build((2, 3, 8, 8)[1:])
    with pytest.raises(ValueError, match="ONE sample"):
        Conv2D(2, 3).build((2, 3, 8, 8))


# ---------------------------------------------------------------------------------------
# gradient check: a tolerance from the arithmetic
# ---------------------------------------------------------------------------------------
def test_gradient_check_structurally_zero_gradient_passes():
    """A conv bias right before BatchNorm has a true gradient of exactly 0: the central
    difference is pure rounding noise (~eps |loss| / h), which must count as agreement
    on every CPU, whatever the noise is."""
    rng = np.random.default_rng(0)
    net = Sequential(Conv2D(3, 3, padding=1), BatchNorm(), ReLU(), Flatten(), Dense(4))
    X = rng.standard_normal((5, 2, 6, 6))
    y = rng.integers(0, 4, 5)
    errors = gradient_check(net, X, y, n_entries=None)
    assert_allclose(net[0].b.grad, 0, atol=1e-12)  # structurally zero indeed
    assert errors["0.b"] == 0.0
    assert max(errors.values()) < 1e-5, errors
    # the tolerance is an explicit argument; a noise allowance that covers 10 % of the
    # gradient hides a 10 % error, and one of 0 still reports agreement of correct ones
    # within rounding
    tight = gradient_check(net, X, y, n_entries=None, fd_noise=0.0)
    assert tight["0.W"] < 1e-5
    with pytest.raises(ValueError, match="fd_noise"):
        gradient_check(net, X, y, fd_noise=-1.0)


# ---------------------------------------------------------------------------------------
# fused ReLU + MaxPool
# ---------------------------------------------------------------------------------------
def test_fused_pair_rejects_a_gradient_of_the_wrong_shape():
    net = Sequential(ReLU(), MaxPool2D(2), input_shape=(3, 8, 8))
    out = net.forward(np.ones((2, 3, 8, 8), np.float32), training=True)
    assert out.shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 4\)"):
        net.backward(np.ones((2, 3, 2, 8), np.float32))  # same size, wrong shape
    with pytest.raises(ValueError, match="shape of the last output"):
        net.backward(np.ones((3, 2, 4, 4), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_pair_equals_unfused_with_nan_and_inf(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    x[0, 0, 0, 0] = np.nan   # first position of a window
    x[0, 1, 3, 2] = np.nan   # inside a window
    x[1, 0, 4, 4] = -np.inf
    x[1, 1, 0, 1] = np.inf
    fused = Sequential(ReLU(), MaxPool2D(2), input_shape=x.shape[1:], dtype=dtype)
    r, p = ReLU(), MaxPool2D(2)
    out = fused.forward(x, training=True)
    ref = p.forward(r.forward(x, True), True)
    assert np.isnan(ref).any()
    assert_array_equal(out, ref)  # NaN where the two layers give NaN
    g = rng.standard_normal(out.shape).astype(dtype)
    assert_array_equal(fused.backward(g), r.backward(p.backward(g)))


# ---------------------------------------------------------------------------------------
# threads and error messages
# ---------------------------------------------------------------------------------------
def test_set_n_threads_has_n_jobs_semantics():
    import joblib

    net = lenet5()
    assert net.set_n_threads(-1) == max_usable_threads()
    assert all(m.n_threads == max_usable_threads() for m in net.modules())
    assert net.set_n_threads(10**9) == joblib.cpu_count()  # capped at the CPUs, never raw
    assert net.set_n_threads(None) == max_usable_threads()  # every usable core
    with pytest.raises(ValueError, match="n_jobs"):
        net.set_n_threads(0)
    with pytest.raises(TypeError, match="n_jobs"):
        net.set_n_threads(1.5)
    x = np.zeros((2, 1, 28, 28), np.float32)
    net.set_n_threads(-1)
    assert net.forward(x).shape == (2, 10)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: Conv2D(4, 3, stride=2**31), ValueError, "stride must be <="),
    (lambda: Conv2D(4, 2**40), ValueError, "kernel_size must be <="),
    (lambda: MaxPool2D(2, stride=2**31), ValueError, "stride"),
    (lambda: Dense(3).build((-3,)), ValueError, "input_shape"),
    (lambda: Dense(3).build("abc"), ValueError, "input_shape"),
    (lambda: Dense(3).build(None), TypeError, "input_shape"),
    (lambda: Sequential(Dense(3), input_shape=(0,)), ValueError, "input_shape"),
])
def test_argument_errors_name_the_argument(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_forward_accepts_lists_and_rejects_non_numbers():
    net = Sequential(Dense(2), input_shape=(3,), dtype=np.float64, random_state=0)
    assert_allclose(net.forward([[1.0, 2.0, 3.0]]), net.forward(np.array([[1.0, 2, 3]])))
    with pytest.raises(TypeError, match="x must hold numbers"):
        net.forward([["a", "b", "c"]])
    with pytest.raises(ValueError, match="batch"):
        net.forward(np.zeros(3))


def test_backward_before_forward_says_so():
    net = Sequential(Dense(2), ReLU(), input_shape=(3,))
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones((1, 2), np.float32))
    net.forward(np.ones((1, 3), np.float32))  # inference: nothing kept for backward
    with pytest.raises(RuntimeError, match="training=True"):
        net.backward(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="forward"):
        Dense(2).backward(np.ones((1, 2)))


def test_too_few_rows_for_batchnorm_names_the_cause():
    X = np.random.default_rng(0).standard_normal((2, 4))
    t = Trainer(Sequential(Dense(3), BatchNorm(), Dense(2)), validation_fraction=0.5)
    with pytest.raises(ValueError, match="validation_fraction=0.5"):
        t.fit(X, np.array([0, 1]))


def test_divergence_is_caught_not_only_nan():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = (X[:, 0] > 0).astype(np.int64)
    t = Trainer(Sequential(Dense(16), ReLU(), Dense(2)), learning_rate=1e6, momentum=0.0,
                epochs=5, random_state=0, validation_fraction=0.0)
    with pytest.raises(FloatingPointError, match="diverged.*learning_rate"):
        t.fit(X, y)
    # a sane rate trains without complaint
    Trainer(Sequential(Dense(16), ReLU(), Dense(2)), learning_rate=0.05, epochs=5,
            random_state=0).fit(X, y)


@pytest.mark.parametrize("bad", [float("nan"), -0.1, float("inf"), "fast", None])
def test_lr_schedule_values_are_checked(bad):
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    t = Trainer(Sequential(Dense(2)), lr_schedule=lambda epoch, lr: bad, epochs=2)
    with pytest.raises(ValueError, match="lr_schedule"):
        t.fit(X, y)


def test_residual_parameters_are_named_by_path():
    r = Sequential(Residual(Sequential(Dense(4), ReLU(), Dense(4)), Dense(4)),
                   input_shape=(4,))
    assert [n for n, _ in r.named_parameters()] == [
        "0.block.0.W", "0.block.0.b", "0.block.2.W", "0.block.2.b", "0.shortcut.W",
        "0.shortcut.b"]


@pytest.mark.parametrize("call", [
    lambda F, x, w: F.conv2d(x, w, stride=2**31),
    lambda F, x, w: F.conv2d(x, w, padding=(0, 2**40)),
    lambda F, x, w: F.conv_transpose2d(x, w, stride=2**63),
    lambda F, x, w: F.max_pool2d(x, 2, stride=2**31),
    lambda F, x, w: F.avg_pool2d(x, 2**31),
])
def test_functional_huge_ints_are_value_errors(call):
    from fastml.nn import functional as F

    x, w = np.zeros((1, 1, 5, 5), np.float32), np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="must be <= 2147483647"):
        call(F, x, w)
