"""Losses, optimisers, schedules, the Trainer loop (history, early stopping, seeds),
gradient_check, and LeNet-5 on an MNIST subset."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastml.nn import (SGD, Adam, BatchNorm, Conv2D, CosineLR, Dense, Dropout, Flatten,
                       MaxPool2D, ReLU, Sequential, StepLR, StopTraining, Tanh, Trainer,
                       gradient_check, lenet5)
from fastml.nn.layers import Parameter
from fastml.nn.losses import CrossEntropyLoss, HingeLoss, L1Loss, MSELoss, get_loss
from fastml.nn.trainer import EarlyStopping

from .._reference import numeric_gradient


# ---------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [CrossEntropyLoss(), HingeLoss(), MSELoss(), L1Loss()],
                         ids=repr)
def test_loss_gradients(loss):
    rng = np.random.default_rng(0)
    s = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    loss.forward(s, y)
    g = loss.backward()
    assert g.dtype == s.dtype
    assert_allclose(g, numeric_gradient(lambda: loss.forward(s, y), s), rtol=1e-5, atol=1e-8)
    s32 = s.astype(np.float32)
    loss.forward(s32, y)
    assert loss.backward().dtype == np.float32


def test_losses_values():
    s = np.array([[2.0, 1.0, -1.0], [0.0, 3.0, 0.5]])
    y = np.array([0, 2])
    ce = CrossEntropyLoss().forward(s, y)
    ref = -np.mean([2 - np.log(np.exp(s[0]).sum()), 0.5 - np.log(np.exp(s[1]).sum())])
    assert_allclose(ce, ref)
    # hinge: row 0 margins (1-2+1, -1-2+1) -> 0, 0; row 1 (0-0.5+1, 3-0.5+1) -> 0.5, 3.5
    assert_allclose(HingeLoss().forward(s, y), (0 + 4.0) / 2)
    onehot = np.eye(3)[y]
    assert_allclose(MSELoss().forward(s, y), np.mean((s - onehot) ** 2))
    assert_allclose(L1Loss().forward(s, onehot), np.mean(np.abs(s - onehot)))
    with pytest.raises(ValueError, match="loss must be"):
        get_loss("kl")


def test_cross_entropy_is_stable_and_matches_torch():
    s = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]], dtype=np.float32)
    y = np.array([2, 0])
    loss = CrossEntropyLoss()
    val = loss.forward(s, y)
    assert np.isfinite(val) and abs(val - (2000 + 2e4) / 2) < 1
    assert np.all(np.isfinite(loss.backward()))
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    s = rng.standard_normal((7, 5)) * 10
    y = rng.integers(0, 5, 7)
    ts = torch.tensor(s, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(ts, torch.tensor(y))
    tl.backward()
    assert_allclose(loss.forward(s, y), tl.item(), rtol=1e-12)
    assert_allclose(loss.backward(), ts.grad.numpy(), rtol=1e-10, atol=1e-14)
    tm = torch.nn.functional.multi_margin_loss(torch.tensor(s), torch.tensor(y))
    # torch divides the class sum by n_classes; ours is the CS231n sum
    assert_allclose(HingeLoss().forward(s, y), tm.item() * 5, rtol=1e-10)


# ---------------------------------------------------------------------------------------
# optimisers and schedules
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam"])
def test_optimisers_match_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4))
    A = rng.standard_normal((4, 4))
    p = Parameter(w0.copy(), "w")
    tp = torch.tensor(w0.copy(), requires_grad=True)
    if kind == "adam":
        opt, topt = Adam([p], 0.05), torch.optim.Adam([tp], lr=0.05)
    else:
        mom = 0.0 if kind == "sgd" else 0.9
        opt = SGD([p], 0.05, momentum=mom, nesterov=kind == "nesterov")
        topt = torch.optim.SGD([tp], lr=0.05, momentum=mom, nesterov=kind == "nesterov")
    At = torch.tensor(A)
    for _ in range(5):
        p.grad = p.value @ A @ A.T  # gradient of 0.5 ||w A||^2
        opt.step()
        topt.zero_grad()
        (0.5 * (tp @ At).pow(2).sum()).backward()
        topt.step()
    assert_allclose(p.value, tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_optimiser_validation_and_dtype():
    p = Parameter(np.ones(3, np.float32), "w")
    p.grad = np.ones(3, np.float32)
    for opt in (SGD([p], 0.1, momentum=0.9), Adam([p])):
        opt.step()
        assert p.value.dtype == np.float32
    with pytest.raises(ValueError, match="momentum"):
        SGD([p], 0.1, momentum=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        SGD([p], 0.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([p], 0.1, nesterov=True)


def test_schedules():
    s = StepLR(step_size=2, gamma=0.5)
    assert [s(e, 1.0) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    c = CosineLR(t_max=4, min_lr=0.1)
    lrs = [c(e, 1.1) for e in range(6)]
    assert_allclose(lrs[0], 1.1) and assert_allclose(lrs[2], 0.6)
    assert_allclose(lrs[4:], [0.1, 0.1])
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


# ---------------------------------------------------------------------------------------
# trainer
# ---------------------------------------------------------------------------------------
def _blobs(n=300, d=5, k=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3
    y = rng.integers(0, k, n)
    X = centers[y] + rng.standard_normal((n, d))
    return X.astype(dtype), y


def test_tiny_problem_loss_falls():
    X, y = _blobs()
    t = Trainer(Sequential(Dense(16), ReLU(), Dense(3)), epochs=15, batch_size=32,
                learning_rate=0.05, random_state=0).fit(X, y)
    losses = [r["train_loss"] for r in t.history_]
    assert losses[-1] < 0.25 * losses[0]
    assert t.history_[-1]["valid_accuracy"] > 0.9
    assert set(t.history_[0]) >= {"epoch", "train_loss", "train_accuracy", "valid_loss",
                                  "valid_accuracy", "lr", "duration"}
    assert t.model.dtype == np.float32


@pytest.mark.parametrize("loss", ["hinge", "mse", "l1"])
@pytest.mark.parametrize("optimizer", ["nesterov", "adam"])
def test_other_losses_and_optimisers_learn(loss, optimizer):
    X, y = _blobs(seed=1)
    lr = 0.01 if optimizer == "adam" else 0.05
    t = Trainer(Sequential(Dense(16), Tanh(), Dense(3)), loss=loss, optimizer=optimizer,
                learning_rate=lr, epochs=20, batch_size=32, random_state=0,
                validation_fraction=0.2).fit(X, y)
    assert t.history_[-1]["valid_accuracy"] > 0.85
    assert t.history_[-1]["train_loss"] < t.history_[0]["train_loss"]


def test_reproducible_with_random_state():
    X, y = _blobs()

    def run(seed):
        net = Sequential(Dense(8), ReLU(), Dropout(0.2), Dense(3))
        t = Trainer(net, epochs=3, random_state=seed).fit(X, y)
        return [p.value.copy() for p in net.parameters()], t.history_

    (w1, h1), (w2, h2), (w3, _) = run(3), run(3), run(4)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert [r["train_loss"] for r in h1] == [r["train_loss"] for r in h2]
    assert not np.array_equal(w1[0], w3[0])


def test_weight_decay_and_l1_gradients():
    """One plain-SGD step with penalties equals the hand-computed step."""
    X, y = _blobs(n=8)
    for wd, l1 in ((0.1, 0.0), (0.0, 0.05)):
        net = Sequential(Dense(3))
        net.build((5,), np.float64, 0)
        W0, b0 = net[0].W.value.copy(), net[0].b.value.copy()
        t = Trainer(net, momentum=0.0, learning_rate=0.1, weight_decay=wd, l1=l1,
                    epochs=1, batch_size=8, validation_fraction=0).fit(X.astype(float), y)
        ref = Sequential(Dense(3))
        ref.build((5,), np.float64, 0)
        loss = get_loss("cross_entropy")
        loss.forward(ref.forward(X.astype(float), True), y)
        ref.backward(loss.backward())
        gW = ref[0].W.grad + wd * W0 + l1 * np.sign(W0)
        assert_allclose(net[0].W.value, W0 - 0.1 * gW, rtol=1e-12)
        assert_allclose(net[0].b.value, b0 - 0.1 * ref[0].b.grad, rtol=1e-12)  # no decay
        assert t.history_[0]["epoch"] == 1


def test_early_stopping_restores_best_weights():
    X, y = _blobs(n=200, seed=2)
    snapshots = {}

    class Snap:
        def on_epoch_end(self, trainer, rec):
            snapshots[rec["epoch"]] = trainer.model.state_dict()

    # a learning rate this large makes the validation loss bounce around
    net = Sequential(Dense(32), ReLU(), Dense(3))
    t = Trainer(net, learning_rate=0.5, momentum=0.9, epochs=60, batch_size=16,
                early_stopping=True, patience=3, random_state=0, callbacks=[Snap()])
    t.fit(X, y)
    n = len(t.history_)
    assert n < 60 and t.stop_reason_ is not None
    vl = [r["valid_loss"] for r in t.history_]
    best = int(np.argmin(vl)) + 1
    assert n - best >= 3
    final, snap = net.state_dict(), snapshots[best]
    assert list(final) == list(snap) == ["0.W", "0.b", "2.W", "2.b"]  # named state
    for a, b in zip(final.values(), snap.values()):
        np.testing.assert_array_equal(a, b)
    assert t.history_[best - 1].get("best")


def test_stop_training_is_not_keyboard_interrupt():
    assert issubclass(StopTraining, Exception)
    assert not issubclass(StopTraining, KeyboardInterrupt)
    X, y = _blobs(n=50)

    class StopAt2:
        def on_epoch_end(self, trainer, rec):
            if rec["epoch"] == 2:
                raise StopTraining("enough")

    t = Trainer(Sequential(Dense(3)), epochs=10, callbacks=[StopAt2()]).fit(X, y)
    assert len(t.history_) == 2 and t.stop_reason_ == "enough"
    es = EarlyStopping(patience=1)
    es.on_train_begin(t)
    es.on_epoch_end(t, {"epoch": 1, "valid_loss": 1.0})
    with pytest.raises(StopTraining):
        es.on_epoch_end(t, {"epoch": 2, "valid_loss": 1.0})


def test_batchnorm_single_row_last_batch_and_lr_schedule():
    X, y = _blobs(n=65)  # 64 + 1: the lone row joins the last batch
    t = Trainer(Sequential(Dense(8), BatchNorm(), ReLU(), Dense(3)), batch_size=16,
                epochs=4, validation_fraction=0, lr_schedule="step",
                learning_rate=0.1).fit(X, y)
    assert [r["lr"] for r in t.history_] == pytest.approx([0.1, 0.01, 0.001, 0.0001])


def test_verbose_progress(capsys):
    X, y = _blobs(n=64)
    Trainer(Sequential(Dense(3)), epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert "epoch   2" in out.out and "valid loss" in out.out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the diverging run overflows
def test_trainer_validation():
    net = Sequential(Dense(3))
    for kw, match in (({"epochs": 0}, "epochs"), ({"batch_size": 1.5}, "batch_size"),
                      ({"validation_fraction": 1.0}, "validation_fraction"),
                      ({"optimizer": "rmsprop"}, "optimizer"), ({"n_jobs": 0}, "n_jobs"),
                      ({"lr_schedule": "linear"}, "lr_schedule")):
        with pytest.raises((ValueError, TypeError), match=match):
            Trainer(net, **kw).fit(*_blobs(n=20))
    with pytest.raises(TypeError, match="model"):
        Trainer("lenet")
    X, y = _blobs(n=20)
    t = Trainer(Sequential(Dense(3)), learning_rate=1e30, momentum=0.0)
    with pytest.raises(FloatingPointError, match="learning_rate"):
        t.fit(X * 1e30, y)


# ---------------------------------------------------------------------------------------
# gradient check
# ---------------------------------------------------------------------------------------
def test_gradient_check_passes_on_a_cnn():
    rng = np.random.default_rng(0)
    net = Sequential(Conv2D(3, 3, padding=1), BatchNorm(), ReLU(), MaxPool2D(2), Flatten(),
                     Dense(8), Dropout(0.3), Tanh(), Dense(4))
    X = rng.standard_normal((5, 2, 6, 6))
    y = rng.integers(0, 4, 5)
    errors = gradient_check(net, X, y, n_entries=8)
    assert set(errors) >= {"0.W", "0.b", "1.gamma", "5.W", "8.b", "input"}
    assert max(errors.values()) < 1e-5, errors
    rm = net[1].running_mean.copy()
    gradient_check(net, X, y, loss="hinge", n_entries=4)
    np.testing.assert_array_equal(net[1].running_mean, rm)  # state restored


def test_gradient_check_detects_a_wrong_gradient():
    class BadDense(Dense):
        def backward(self, grad):
            dx = super().backward(grad)
            self.W.grad = self.W.grad * 1.1
            return dx

    rng = np.random.default_rng(0)
    net = Sequential(BadDense(4), Tanh(), Dense(3))
    errors = gradient_check(net, rng.standard_normal((6, 5)), rng.integers(0, 3, 6))
    assert errors["0.W"] > 1e-2 and errors["2.W"] < 1e-6


def test_gradient_check_refuses_float32():
    net = Sequential(Dense(2))
    net.build((3,), np.float32)
    with pytest.raises(ValueError, match="float64"):
        gradient_check(net, np.zeros((2, 3)), np.array([0, 1]))


# ---------------------------------------------------------------------------------------
# LeNet-5 on MNIST
# ---------------------------------------------------------------------------------------
def test_lenet5_mnist_10000_one_epoch(data_dir):
    from fastml.datasets import load_mnist

    try:
        X, y = load_mnist(data_dir, subset="train", download=False)
        Xt, yt = load_mnist(data_dir, subset="test", download=False)
    except FileNotFoundError:
        pytest.skip("MNIST files absent")
    X = (X[:10000, None] / np.float32(255)).astype(np.float32)
    Xt = (Xt[:, None] / np.float32(255)).astype(np.float32)
    # one epoch = 625 steps of SGD (momentum 0.9) on minibatches of 16; one thread so the
    # result does not depend on the machine's load (about 2 s)
    t = Trainer(lenet5(), epochs=1, batch_size=16, learning_rate=0.01, momentum=0.9,
                validation_fraction=0, random_state=0, n_jobs=1).fit(X, y[:10000])
    acc = float(np.mean(t.predict_scores(Xt).argmax(1) == yt))
    # after one epoch the accuracy still depends on rounding: the convolution algorithm
    # (direct or im2col + GEMM) is measured per process and the two round differently,
    # which moves it between 0.92 and 0.96 on the same machine; chance is 0.10
    assert acc >= 0.9, acc


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_training_steps_match_torch(optimizer):
    """Full-batch steps (so the shuffling order does not matter) of LeNet-5 with weight
    decay give torch's weights, float64."""
    torch = pytest.importorskip("torch")
    from fastml.benchmarks.nn_train import torch_lenet5_like

    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 28, 28))
    y = rng.integers(0, 10, 24)
    net = lenet5()
    net.build((1, 28, 28), np.float64, rng)
    for p in net.parameters():  # the copy goes through float32 torch modules
        p.value[...] = p.value.astype(np.float32)
    ref = torch_lenet5_like(net).double()
    lr = 1e-3 if optimizer == "adam" else 0.05
    wd = 1e-3 if optimizer != "adam" else 0.0  # torch's Adam decay is not plain L2 + Adam
    Trainer(net, optimizer=optimizer, learning_rate=lr, momentum=0.9, weight_decay=wd,
            epochs=3, batch_size=24, validation_fraction=0).fit(X, y)
    if optimizer == "adam":
        opt = torch.optim.Adam(ref.parameters(), lr=lr)
    else:
        # torch decays biases too; ours only weights: give torch per-group decay
        decay = [p for n, p in ref.named_parameters() if n.endswith("weight")]
        other = [p for n, p in ref.named_parameters() if n.endswith("bias")]
        opt = torch.optim.SGD([{"params": decay, "weight_decay": wd},
                               {"params": other, "weight_decay": 0.0}], lr=lr,
                              momentum=0.9, nesterov=optimizer == "nesterov")
    tX, ty = torch.tensor(X), torch.tensor(y)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(tX), ty).backward()
        opt.step()
    ours = [la for la in net.layers if la.parameters()]
    theirs = [m for m in ref if list(m.parameters())]
    for a, b in zip(ours, theirs):
        w = b.weight.detach().numpy()
        assert_allclose(a.W.value, w.T if a.W.value.ndim == 2 else w, rtol=1e-8, atol=1e-10)
        assert_allclose(a.b.value, b.bias.detach().numpy(), rtol=1e-8, atol=1e-10)


def test_residual_inception_network_learns_digits():
    """A small network with a projection-shortcut residual block and an Inception block
    learns scikit-learn's 8x8 digits."""
    from sklearn.datasets import load_digits

    from fastml.nn import Concat, GlobalAvgPool2D, Residual

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    net = Sequential(
        Conv2D(8, 3, padding=1), BatchNorm(), ReLU(),
        Residual(Sequential(Conv2D(16, 3, stride=2, padding=1), BatchNorm(), ReLU(),
                            Conv2D(16, 3, padding=1), BatchNorm()),
                 shortcut=Conv2D(16, 1, stride=2)), ReLU(),
        Concat(Conv2D(8, 1), Sequential(Conv2D(4, 1), ReLU(), Conv2D(8, 3, padding=1)),
               Sequential(MaxPool2D(3, stride=1, padding=1), Conv2D(8, 1))), ReLU(),
        GlobalAvgPool2D(), Dense(10))
    t = Trainer(net, epochs=5, batch_size=32, learning_rate=0.05, random_state=0,
                n_jobs=1).fit(X[:1500], y[:1500])
    assert t.history_[-1]["train_loss"] < 0.3 * t.history_[0]["train_loss"]
    assert np.mean(t.predict_scores(X[1500:]).argmax(1) == y[1500:]) > 0.85


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import fastml.nn.trainer as tr

    X, y = _blobs(n=60)
    monkeypatch.setattr(tr, "_interactive", lambda: True)
    Trainer(Sequential(Dense(3)), epochs=1, verbose=1).fit(X, y)
    assert "epoch 1" in capsys.readouterr().err  # tqdm's bar
    monkeypatch.setattr(tr, "_interactive", lambda: False)
    Trainer(Sequential(Dense(3)), epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert out.err == "" and out.out.count("train loss") == 2


# ---------------------------------------------------------------------------------------
# early stopping's direction, failed fits, validation sets, weights, empty predictions
# ---------------------------------------------------------------------------------------
def test_early_stopping_on_accuracy_keeps_the_highest():
    t = Trainer(Sequential(Dense(3)))
    es = EarlyStopping("valid_accuracy", patience=1)
    es.on_train_begin(t)
    for epoch, acc in enumerate([0.5, 0.6, 0.7, 0.908], 1):  # rising: never stops
        es.on_epoch_end(t, {"epoch": epoch, "valid_accuracy": acc})
    assert es.best_epoch_ == 4 and es.best_score_ == 0.908
    with pytest.raises(StopTraining, match="valid_accuracy"):
        es.on_epoch_end(t, {"epoch": 5, "valid_accuracy": 0.8})
    # a loss still improves by going down; lower_is_better overrides the name
    es = EarlyStopping("train_loss", patience=1)
    es.on_train_begin(t)
    es.on_epoch_end(t, {"epoch": 1, "train_loss": 1.0})
    es.on_epoch_end(t, {"epoch": 2, "train_loss": 0.5})
    assert es.best_epoch_ == 2
    es = EarlyStopping("margin", patience=1, lower_is_better=False)
    es.on_train_begin(t)
    es.on_epoch_end(t, {"epoch": 1, "margin": 1.0})
    es.on_epoch_end(t, {"epoch": 2, "margin": 2.0})
    assert es.best_epoch_ == 2


def test_early_stopping_on_accuracy_restores_the_best_epoch():
    X, y = _blobs(n=300, seed=4)
    es = EarlyStopping("valid_accuracy", patience=3)
    t = Trainer(Sequential(Dense(16), ReLU(), Dense(3)), learning_rate=0.5, epochs=30,
                batch_size=16, random_state=0, callbacks=[es]).fit(X, y)
    acc = [r["valid_accuracy"] for r in t.history_]
    assert es.best_score_ == max(acc) and es.best_epoch_ == int(np.argmax(acc)) + 1


@pytest.mark.parametrize("monitor,kw,match", [
    ("val_loss", {}, r"'val_loss' is not a record.*'train_loss'.*'valid_loss'"),
    ("valid_loss", {"validation_fraction": 0.0}, "no validation set"),
    ("my_metric", {}, "lower_is_better"),
])
def test_early_stopping_unknown_or_empty_monitor_is_an_error(monitor, kw, match):
    X, y = _blobs(n=60)
    t = Trainer(Sequential(Dense(3)), epochs=3, callbacks=[EarlyStopping(monitor)], **kw)
    before = t.model.state_dict() if t.model.built else None
    with pytest.raises(ValueError, match=match):
        t.fit(X, y)
    assert t.history_ == [] and t.epochs_done_ == 0
    if before is not None:
        for a, b in zip(t.model.state_dict().values(), before.values()):
            np.testing.assert_array_equal(a, b)


class _FailAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, rec):
        if rec["epoch"] == self.epoch:
            raise RuntimeError("callback failed")


def test_a_failed_fit_leaves_the_trainer_as_before():
    X, y = _blobs(n=120)
    net = Sequential(Dense(8), BatchNorm(), ReLU(), Dense(3))
    t = Trainer(net, optimizer="adam", learning_rate=0.01, epochs=2, random_state=0,
                lr_schedule="plateau", callbacks=[_FailAt(3)])
    t.fit(X, y)  # epochs 1-2 pass
    state = net.state_dict()
    hist = [dict(r) for r in t.history_]
    opt_m = [m.copy() for m in t.optimizer_._m]
    rng_state = t.rng.bit_generator.state
    with pytest.raises(RuntimeError, match="callback failed"):
        t.fit(X, y)  # epoch 3 fails
    assert t.history_ == hist and t.epochs_done_ == 2
    for k, v in net.state_dict().items():  # weights and BatchNorm statistics
        np.testing.assert_array_equal(v, state[k])
    for a, b in zip(t.optimizer_._m, opt_m):
        np.testing.assert_array_equal(a, b)
    assert t.optimizer_.params[0] is net.parameters()[0]
    assert t.rng.bit_generator.state == rng_state


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_from_weight_decay_names_weight_decay():
    X, y = _blobs(n=200, dtype=np.float64)
    t = Trainer(Sequential(Dense(16), ReLU(), Dense(3)), weight_decay=1e6, epochs=2,
                random_state=0)
    with pytest.raises(FloatingPointError, match="weight_decay=1e\\+06 is too large") as e:
        t.fit(X, y)
    assert "lower learning_rate" not in str(e.value)
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        Trainer(Sequential(Dense(3)), learning_rate=1e30, momentum=0.0,
                weight_decay=1e-4).fit(X * 1e30, y)


def test_x_valid_and_y_valid_go_together():
    X, y = _blobs(n=60)
    t = Trainer(Sequential(Dense(3)), epochs=1)
    with pytest.raises(ValueError, match="X_valid is given without y_valid"):
        t.fit(X, y, X_valid=X[:10])
    with pytest.raises(ValueError, match="y_valid is given without X_valid"):
        t.fit(X, y, y_valid=y[:10])
    with pytest.raises(ValueError, match="X_valid has 10 samples but y_valid has 9"):
        t.fit(X, y, X_valid=X[:10], y_valid=y[:9])
    t.fit(X, y, X_valid=X[:10], y_valid=y[:10])
    assert t.history_[0]["valid_loss"] is not None


def test_predict_scores_on_zero_rows():
    X, y = _blobs(n=60)
    t = Trainer(Sequential(Dense(4), ReLU(), Dense(3)), epochs=1).fit(X, y)
    out = t.predict_scores(np.empty((0, 5), np.float32))
    assert out.shape == (0, 3) and out.dtype == np.float32


def test_sample_weight_is_the_weighted_mean_of_the_loss():
    # one full batch of plain SGD: integer weights equal repeating the rows
    X, y = _blobs(n=30, dtype=np.float64)
    w = np.arange(30) % 3  # zeros, ones and twos
    rep = np.repeat(np.arange(30), w)

    def one_step(Xa, ya, sw=None):
        net = Sequential(Dense(4), Tanh(), Dense(3), input_shape=(5,), dtype=np.float64,
                         random_state=1)
        t = Trainer(net, learning_rate=0.1, momentum=0.0, epochs=1, batch_size=100,
                    validation_fraction=0.0, random_state=0)
        t.fit(Xa, ya, sample_weight=sw)
        return net.state_dict(), t.history_[0]

    sa, ha = one_step(X, y, w)
    sb, hb = one_step(X[rep], y[rep])
    for k in sa:
        assert_allclose(sa[k], sb[k], rtol=1e-12, atol=1e-14)
    assert ha["train_loss"] == pytest.approx(hb["train_loss"], rel=1e-12)
    assert ha["train_accuracy"] == pytest.approx(hb["train_accuracy"], rel=1e-12)
    t = Trainer(Sequential(Dense(3)), epochs=1)
    for bad, match in ((-w, "non-negative"), (w[:5], r"shape \(30,\)"),
                       (np.zeros(30), "zero for every")):
        with pytest.raises(ValueError, match=match):
            t.fit(X, y, sample_weight=bad)


def test_pixels_rule_is_remembered_by_the_trainer():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (80, 16)).astype(np.uint8)
    y = rng.integers(0, 2, 80)
    t = Trainer(Sequential(Dense(2)), epochs=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(t.predict_scores(X), t.predict_scores(X.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="looks already scaled"):
        t.predict_scores(X.astype(np.float64) / 255)


@pytest.mark.parametrize("name", ["cross_entropy", "hinge", "mse", "l1", "huber",
                                  "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_losses_are_the_rows_of_the_mean(name, dtype):
    rng = np.random.default_rng(0)
    loss = get_loss(name)
    k = 1 if name == "binary_cross_entropy" else 4
    s = (rng.standard_normal((9, k)) * 3).astype(dtype)
    y = rng.integers(0, 2 if k == 1 else k, 9)
    rows = loss.sample_losses(s, y)
    assert rows.shape == (9,) and rows.dtype == np.float64
    each = [loss.forward(s[i:i + 1], y[i:i + 1]) for i in range(9)]
    assert_allclose(rows, each, rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert_allclose(rows.mean(), loss.forward(s, y), rtol=1e-6 if dtype == np.float32
                    else 1e-12)
