"""The training toolbox: learning-rate schedules, initialisers, Softmax / Maxout / Huber /
binary cross-entropy, NeuralNetRegressor (scikit-learn's checks), binary logistic
regression as a network, resnet_small, and image augmentation in compiled code."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.datasets import load_diabetes, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.nn import (Conv2D, Dense, ExponentialLR, Flatten, MaxPool2D, HuberLoss, ImageAugmenter, InverseTimeLR,
                       Maxout, NeuralNetClassifier, NeuralNetRegressor, ReduceLROnPlateau,
                       ReLU, Sequential, Softmax, Trainer, gradient_check, init,
                       resnet_small)
from fastml.nn.optim import get_schedule
from fastml.nn import _augment


# ---------------------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------------------
def test_schedules_by_name():
    assert_allclose([get_schedule("exponential", 10)(e, 0.1) for e in range(3)],
                    [0.1, 0.09, 0.081])
    assert_allclose([get_schedule("inverse_time", 10)(e, 0.1) for e in range(3)],
                    [0.1, 0.1 / 1.5, 0.05])
    assert get_schedule("step", 9)(3, 1.0) == pytest.approx(0.1)
    assert get_schedule("cosine", 4)(4, 1.0) == pytest.approx(0.0)
    assert isinstance(get_schedule("plateau", 10), ReduceLROnPlateau)
    with pytest.raises(ValueError, match="lr_schedule"):
        get_schedule("warmup", 10)
    with pytest.raises(ValueError, match="gamma"):
        ExponentialLR(0.0)
    with pytest.raises(ValueError, match="decay"):
        InverseTimeLR(-1.0)


def test_reduce_on_plateau_divides_by_ten_when_validation_loss_stalls():
    s = ReduceLROnPlateau(patience=1)
    losses = [1.0, 0.5, 0.6, 0.55, 0.4, 0.41, 0.42]
    lrs = []
    for e, v in enumerate(losses):
        lrs.append(s(e, 1.0))
        s.update({"valid_loss": v, "train_loss": 9.0})
    # stalls at epochs 3 and 4 (two epochs without improvement, patience 1) -> /10;
    # improves at 5; stalls at 6 and 7 -> /10 again
    assert_allclose(lrs, [1, 1, 1, 1, 0.1, 0.1, 0.1])
    assert s(7, 1.0) == pytest.approx(0.01)


def test_plateau_schedule_in_the_trainer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    t = Trainer(Sequential(Dense(2)), learning_rate=5.0, momentum=0.0, epochs=12,
                lr_schedule="plateau", random_state=0).fit(X, y)
    lrs = [r["lr"] for r in t.history_]
    assert lrs[0] == 5.0 and min(lrs) < 5.0  # a rate this large stalls: cut by 10
    assert all(b in (a, a / 10) or math.isclose(b, a / 10) for a, b in zip(lrs, lrs[1:]))


# ---------------------------------------------------------------------------------------
# initialisers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,dist,var", [
    ("glorot_uniform", "uniform", 2 / (400 + 300)),
    ("xavier_normal", "norm", 2 / (400 + 300)),
    ("he_uniform", "uniform", 2 / 400),
    ("he_normal", "norm", 2 / 400),
    ("normal", "norm", 1e-4),
])
def test_initialisers_by_name(name, dist, var):
    d = Dense(300, init=name)
    d.build((400,), np.float64, np.random.default_rng(0))
    w = d.W.value.ravel()
    assert_allclose(w.var(), var, rtol=0.02)
    assert abs(w.mean()) < 4 * math.sqrt(var / w.size)
    sd = math.sqrt(var)
    ref = stats.uniform(-sd * math.sqrt(3), 2 * sd * math.sqrt(3)) if dist == "uniform" \
        else stats.norm(0, sd)
    assert stats.kstest(w[:5000], ref.cdf).pvalue > 1e-3
    assert np.all(d.b.value == 0)  # biases: zeros
    z = Dense(3, init="zeros")
    z.build((4,))
    assert np.all(z.W.value == 0)
    with pytest.raises(ValueError, match="init must be one of"):
        Dense(3, init="lecun")
    assert "he_normal" in init.INITIALIZERS


# ---------------------------------------------------------------------------------------
# layers and losses against torch
# ---------------------------------------------------------------------------------------
def test_softmax_layer_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)) * 30  # large scores: no overflow
    layer = Softmax()
    out = layer.forward(x, training=True)
    g = rng.standard_normal(out.shape)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.softmax(tx, dim=1)
    tout.backward(torch.tensor(g))
    assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-300)
    assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_huber_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    s, t = rng.standard_normal((6, 2)) * 3, rng.standard_normal((6, 2))
    h = HuberLoss(delta=1.5)
    ts = torch.tensor(s, requires_grad=True)
    ref = torch.nn.functional.huber_loss(ts, torch.tensor(t), delta=1.5)
    ref.backward()
    assert_allclose(h.forward(s, t), ref.item(), rtol=1e-12)
    assert_allclose(h.backward(), ts.grad.numpy(), rtol=1e-12)


def test_maxout_is_max_of_affine_pieces():
    m = Maxout(2, pieces=3)
    m.build((4,), np.float64, 0)
    x = np.random.default_rng(0).standard_normal((5, 4))
    z = (x @ m.W.value + m.b.value).reshape(5, 2, 3)
    assert_allclose(m.forward(x), z.max(axis=2))
    errors = gradient_check(Sequential(Maxout(4, pieces=2), Dense(3)), x,
                            np.array([0, 1, 2, 0, 1]), n_entries=None)
    assert max(errors.values()) < 1e-6, errors


def test_binary_logistic_regression_as_a_network():
    """One sigmoid output + binary cross-entropy, no hidden layer: logistic regression.
    With the same L2 penalty (weight_decay = 1 / (C n), bias unpenalised in both) and
    full-batch training to convergence it lands on scikit-learn's LogisticRegression
    optimum (a strictly convex problem: one solution)."""
    X, y = make_classification(n_samples=300, n_features=5, n_informative=5,
                               n_redundant=0, flip_y=0.1, random_state=0)
    clf = NeuralNetClassifier(layers=[], loss="binary_cross_entropy", epochs=800,
                              batch_size=300, optimizer="sgd", learning_rate=0.5,
                              optimizer__momentum=0.9, optimizer__weight_decay=1 / 300,
                              validation_fraction=0.0, random_state=0).fit(X, y)
    assert clf.model_.output_shape == (1,)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    assert_allclose(clf.model_[-1].W.value[:, 0], ref.coef_[0], rtol=1e-4, atol=1e-5)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert_array_equal(clf.predict(X), ref.predict(X))
    assert_allclose(clf.decision_function(X), ref.decision_function(X), rtol=1e-4,
                    atol=1e-5)
    with pytest.raises(ValueError, match="two classes"):
        NeuralNetClassifier(layers=[], loss="binary_cross_entropy",
                            epochs=1).fit(X, np.arange(300) % 3)


# ---------------------------------------------------------------------------------------
# NeuralNetRegressor
# ---------------------------------------------------------------------------------------
# minibatch training draws its batches from the rows, so integer weights are not
# the same run as repeated rows (scikit-learn marks MLPClassifier alike)
_SGD_XFAIL = {"check_sample_weight_equivalence_on_dense_data":
              "sample_weight weighs each row's loss; repeating rows changes the minibatches"}


@parametrize_with_checks([
    NeuralNetRegressor(layers=[Dense(16), ReLU()], epochs=20, batch_size=16,
                       learning_rate=0.01),
    NeuralNetRegressor(layers=[], loss="huber", validation_fraction=0.0),
    NeuralNetRegressor(loss="l1"),
], expected_failed_checks=lambda est: _SGD_XFAIL)
def test_sklearn_compatible_regressor(estimator, check):
    check(estimator)


def test_regressor_on_diabetes_and_multi_output():
    X, y = load_diabetes(return_X_y=True)
    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    reg = NeuralNetRegressor(random_state=0).fit(Xs[:350], ys[:350])
    assert reg.predict(Xs[350:]).shape == (92,)
    assert reg.score(Xs[350:], ys[350:]) > 0.3  # linear regression reaches ~0.5
    Y = np.stack([ys, -ys], axis=1)
    two = NeuralNetRegressor(layers=[], epochs=50, random_state=0).fit(Xs, Y)
    assert two.predict(Xs).shape == (442, 2) and two.n_outputs_ == 2
    with pytest.raises(ValueError, match="loss"):
        NeuralNetRegressor(loss="hinge").fit(Xs, ys)


def test_routed_parameters_and_callbacks():
    class Count:
        def on_train_begin(self, trainer):
            self.n = 0

        def on_epoch_end(self, trainer, record):
            self.n += 1

    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    cb = Count()
    clf = NeuralNetClassifier(layers="mlp", module__hidden_layer_sizes=(7,),
                              optimizer="sgd", optimizer__momentum=0.5,
                              optimizer__weight_decay=1e-3, callbacks=[cb], epochs=3,
                              random_state=0).fit(X, y)
    assert clf.model_[1].W.shape == (4, 7)
    assert clf._trainer.optimizer_.momentum == 0.5 and clf._trainer.weight_decay == 1e-3
    assert clf.get_params()["optimizer__momentum"] == 0.5
    assert not hasattr(cb, "n")  # the estimator trains with a copy of its callbacks
    clf.set_params(optimizer__momentum=0.1)
    assert clf.get_params()["optimizer__momentum"] == 0.1
    from sklearn.base import clone
    assert clone(clf).get_params()["module__hidden_layer_sizes"] == (7,)
    with pytest.raises(TypeError, match="unexpected parameter 'momentum'"):
        NeuralNetClassifier(momentum=0.9).fit(X, y)
    with pytest.raises(ValueError, match="optimizer__"):
        NeuralNetClassifier(optimizer__gamma=0.9, epochs=1).fit(X, y)


# ---------------------------------------------------------------------------------------
# resnet_small
# ---------------------------------------------------------------------------------------
def test_resnet_small_builds_trains_and_has_correct_gradients():
    net = resnet_small(n_classes=4, widths=(4, 8), input_shape=(1, 8, 8),
                       dtype=np.float64, random_state=0)
    assert net.output_shape == (4,)
    names = [n for n, _ in net.named_parameters()]
    assert any("shortcut" in n for n in names) and any("block" in n for n in names)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 1, 8, 8))
    y = rng.integers(0, 4, 6)
    errors = gradient_check(net, X, y, n_entries=4)
    assert max(errors.values()) < 1e-5, errors
    Xd = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    yd = (Xd[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64)
    clf = NeuralNetClassifier(layers="resnet_small", module__widths=(8, 16), epochs=30,
                              learning_rate=3e-3, random_state=0,
                              validation_fraction=0.0).fit(Xd, yd)
    assert clf.score(Xd, yd) > 0.9


# ---------------------------------------------------------------------------------------
# augmentation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augmenter_identity_flip_and_shift_are_exact(dtype):
    rng = np.random.default_rng(0)
    x = rng.random((3, 2, 7, 9)).astype(dtype)
    same = ImageAugmenter(shift=0, rotation=0, scale=0).apply(x, rng)
    assert same.dtype == dtype
    assert_allclose(same, x, rtol=0, atol=4 * np.finfo(dtype).eps)
    flipped = ImageAugmenter(shift=0, rotation=0, scale=0, hflip=True)
    m = flipped.matrices(200, 7, 9, np.random.default_rng(1))
    assert set(np.round(m[:, 0], 12)) == {-1.0, 1.0}  # both outcomes drawn
    out = flipped.apply(x, np.random.default_rng(2))
    for n in range(3):
        ok = np.allclose(out[n], x[n], atol=1e-6) or np.allclose(out[n], x[n, :, :, ::-1],
                                                                   atol=1e-6)
        assert ok
    # an integer shift of 2 columns right: zero fill on the left
    aug = ImageAugmenter(shift=0, rotation=0, scale=0)
    mats = aug.matrices(3, 7, 9, rng)
    mats[:, 2] -= 2.0
    from fastml.nn import _augment
    shifted = np.empty_like(x)
    _augment.affine_warp(np.ascontiguousarray(x), shifted, mats, 2)
    assert_allclose(shifted[..., 2:], x[..., :-2], atol=4 * np.finfo(dtype).eps)
    assert np.all(shifted[..., :2] == 0)


def test_augmenter_rotation_by_90_degrees_is_rot90():
    x = np.random.default_rng(0).random((2, 1, 8, 8))
    aug = ImageAugmenter(shift=0, rotation=90, scale=0)

    class Draws:  # rotation drawn at its maximum (+90 degrees), everything else neutral
        def uniform(self, lo, hi, size):
            return np.full(size, hi if hi == 90 else (lo + hi) / 2)

        def random(self, size):
            return np.ones(size)

    out = aug.apply(x, Draws())
    ref = np.rot90(x, k=1, axes=(3, 2))  # +90 degrees on the image (y axis down)
    alt = np.rot90(x, k=1, axes=(2, 3))
    assert np.allclose(out, ref, atol=1e-9) or np.allclose(out, alt, atol=1e-9)


def test_augmenter_reproducible_and_thread_independent():
    x = np.random.default_rng(0).random((16, 1, 28, 28), dtype=np.float32)
    aug = ImageAugmenter(shift=0.1, rotation=15, scale=0.1, hflip=True)
    a = aug.apply(x, np.random.default_rng(5), n_threads=1)
    b = aug.apply(x, np.random.default_rng(5), n_threads=2)
    assert_array_equal(a, b)
    assert not np.array_equal(a, aug.apply(x, np.random.default_rng(6)))
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.all(a >= 0) and np.all(a <= 1 + 1e-6)  # bilinear: within the input range
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        aug.apply(x.reshape(16, 784), np.random.default_rng(0))
    with pytest.raises(ValueError, match="rotation"):
        ImageAugmenter(rotation=-1)


def test_trainer_with_augmentation_is_reproducible():
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 12, 12), dtype=np.float32)
    y = (X[:, 0, :, :6].mean(axis=(1, 2)) > X[:, 0, :, 6:].mean(axis=(1, 2))).astype(int)

    def run():
        net = Sequential(Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(2),
                         input_shape=(1, 12, 12), random_state=0)
        t = Trainer(net, epochs=2, augment="digits", random_state=0, n_jobs=1).fit(X, y)
        return [r["train_loss"] for r in t.history_]

    assert run() == run()
    with pytest.raises(ValueError, match="augment"):
        Trainer(Sequential(Dense(2)), augment="mnist")


# ---------------------------------------------------------------------------------------
# image augmentation: exact maps next to infinities, thread counts, dtypes
# ---------------------------------------------------------------------------------------
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
