"""NeuralNetClassifier: scikit-learn's estimator checks, meta-estimators, pickling,
input shapes and dtypes, partial_fit, plot_history and every documented error."""
import pickle
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.nn import (BatchNorm, Conv2D, Dense, Dropout, EarlyStopping, MaxPool2D,
                       NeuralNetClassifier, ReLU)


# minibatch training draws its batches from the rows, so integer weights are not
# the same run as repeated rows (scikit-learn marks MLPClassifier alike)
_SGD_XFAIL = {"check_sample_weight_equivalence_on_dense_data":
              "sample_weight weighs each row's loss; repeating rows changes the minibatches"}


@parametrize_with_checks([
    NeuralNetClassifier(layers=[Dense(16), ReLU()], epochs=10, batch_size=16,
                        learning_rate=0.05),
    NeuralNetClassifier(layers=[], epochs=10, batch_size=16, learning_rate=0.05,
                        optimizer="adam", validation_fraction=0.0),
    NeuralNetClassifier(layers="mlp", epochs=5, loss="hinge", early_stopping=True),
], expected_failed_checks=lambda est: _SGD_XFAIL)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


SMALL_CNN = [Conv2D(8, 3, padding=1), BatchNorm(), ReLU(), MaxPool2D(2), Dropout(0.1)]


def test_cnn_on_digits_flat_and_image_input(digits):
    X, y = digits
    kw = dict(layers=SMALL_CNN, epochs=4, batch_size=32, random_state=0, n_jobs=1,
              optimizer="sgd")
    a = NeuralNetClassifier(input_shape=(1, 8, 8), **kw).fit(X[:1200], y[:1200])
    b = NeuralNetClassifier(**kw).fit(X[:1200].reshape(-1, 1, 8, 8), y[:1200])
    c = NeuralNetClassifier(**kw).fit(X[:1200], y[:1200])  # 64 features: 8x8 image
    assert a.input_shape_ == b.input_shape_ == c.input_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(a.predict_proba(X[1200:]),
                                  b.predict_proba(X[1200:].reshape(-1, 1, 8, 8)))
    np.testing.assert_array_equal(a.predict(X[1200:]), c.predict(X[1200:]))
    assert a.score(X[1200:], y[1200:]) > 0.9
    assert a.predict_proba(X[:3]).dtype == np.float32
    assert SMALL_CNN[0].W is None if hasattr(SMALL_CNN[0], "W") else True  # not mutated
    assert not SMALL_CNN[0].built
    assert len(a.history_) == 4 and a.n_iter_ == 4
    assert a.history_[-1]["valid_accuracy"] is not None
    p = a.predict_proba(X[:5])
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert a.predict_log_proba(X[:5]).shape == (5, 10)


def test_dense_only_softmax_and_float64(digits):
    X, y = digits
    clf = NeuralNetClassifier(layers=[], epochs=20, learning_rate=0.1, random_state=0)
    clf.fit(X.astype(np.float64), y)
    assert clf.model_.dtype == np.float64
    assert clf.predict_proba(X[:2]).dtype == np.float64
    assert clf.score(X, y) > 0.9
    assert len(clf.model_.parameters()) == 2  # one Dense: softmax regression


def test_string_labels_and_pickle(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    clf = NeuralNetClassifier(layers="mlp", epochs=3, random_state=0).fit(X, names[y])
    assert set(clf.classes_) == set(names)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict(X), clf.predict(X))
    np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))


def test_pipeline_grid_search_cross_val(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    pipe = make_pipeline(MinMaxScaler(), NeuralNetClassifier(
        layers=[Dense(32), ReLU()], epochs=20, batch_size=32, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.8
    gs = GridSearchCV(pipe, {"neuralnetclassifier__learning_rate": [0.01, 0.05]}, cv=2)
    gs.fit(X, y)
    assert gs.best_params_["neuralnetclassifier__learning_rate"] in (0.01, 0.05)


def test_partial_fit(digits):
    X, y = digits
    clf = NeuralNetClassifier(layers=[Dense(32), ReLU()], random_state=0, optimizer="sgd")
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10))
    for _ in range(5):
        clf.partial_fit(X[:1000], y[:1000])
    assert clf.n_iter_ == 6 and len(clf.history_) == 6
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]
    assert clf.score(X[1000:], y[1000:]) > 0.8
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.full(5, 11))
    only_some = NeuralNetClassifier(layers=[]).partial_fit(X[:50], y[:50] % 3,
                                                           classes=[0, 1, 2, 5])
    assert only_some.classes_.tolist() == [0, 1, 2, 5]


def test_fit_twice_is_reproducible_and_resets(digits):
    X, y = digits
    clf = NeuralNetClassifier(layers=[Dense(16), ReLU(), Dropout(0.2)], epochs=2,
                              random_state=1)
    p1 = clf.fit(X, y).predict_proba(X)
    p2 = clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert len(clf.history_) == 2


def test_lenet5_needs_images():
    X = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    y = np.arange(20) % 2
    kw = dict(layers="lenet5", epochs=1)
    clf = NeuralNetClassifier(**kw).fit(X, y)  # 784 features -> (1, 28, 28)
    assert clf.input_shape_ == (1, 28, 28)
    assert clf.predict(X).shape == (20,)
    with pytest.raises(ValueError, match="784 features"):  # the layout of fit is kept
        clf.predict(X.reshape(20, 28, 28))
    clf3 = NeuralNetClassifier(**kw).fit(X.reshape(20, 28, 28), y)  # (n, H, W)
    assert clf3.input_shape_ == (1, 28, 28)
    assert clf3.predict(X.reshape(20, 28, 28)).shape == (20,)
    with pytest.raises(ValueError, match="does not fit"):
        NeuralNetClassifier(**kw).fit(X[:, :64], y)
    with pytest.raises(ValueError, match="not a square image"):
        NeuralNetClassifier(**kw).fit(X[:, :50], y)


def test_auto_network_follows_the_input():
    rng = np.random.default_rng(0)
    X = rng.random((20, 784), dtype=np.float32)
    y = np.arange(20) % 2
    flat = NeuralNetClassifier(epochs=1).fit(X, y)  # flat tabular X: standardise + MLP
    assert flat.input_shape_ == (784,)
    assert [type(la).__name__ for la in flat.model_.layers] == [
        "Standardize", "Flatten", "Dense", "ReLU", "Dense"]
    assert_allclose(flat.model_[0].mean, X.mean(axis=0), rtol=1e-5)
    img = NeuralNetClassifier(epochs=1, input_shape=(1, 28, 28)).fit(X, y)  # LeNet-5
    assert img.model_.n_parameters() == 61706 - 8 * 85
    img3 = NeuralNetClassifier(epochs=1).fit(X.reshape(20, 28, 28), y)
    assert sum(isinstance(la, Conv2D) for la in img3.model_.layers) == 2
    small = NeuralNetClassifier(epochs=1).fit(X[:, :64].reshape(20, 1, 8, 8), y)
    assert not any(isinstance(la, Conv2D) for la in small.model_.layers)  # 8x8: MLP


def test_defaults_on_digits_match_sklearn_mlp():
    """NeuralNetClassifier() with no arguments on raw digits (values 0-16, 64 features)
    against MLPClassifier() with its defaults, on the same splits."""
    import warnings

    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    ours, theirs = [], []
    for seed in range(3):
        Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLPClassifier's ConvergenceWarning
            theirs.append(MLPClassifier(random_state=seed).fit(Xa, ya).score(Xb, yb))
        ours.append(NeuralNetClassifier(random_state=seed).fit(Xa, ya).score(Xb, yb))
    assert np.mean(ours) >= np.mean(theirs), (ours, theirs)


@pytest.mark.parametrize("X,y,kw,exc,match", [
    (np.zeros((10, 784)), np.arange(10) % 2, {"input_shape": (1, 20, 20)}, ValueError,
     "input_shape"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"input_shape": (2, 0)}, ValueError,
     "input_shape"),
    (np.full((10, 4), np.nan), np.arange(10) % 2, {}, ValueError, "NaN"),
    (np.zeros((10, 4)), np.zeros(10), {}, ValueError, "1 class"),
    (np.zeros((0, 4)), np.zeros(0), {}, ValueError, "0 sample"),
    (np.zeros((10, 4)), np.linspace(0, 1, 10), {}, ValueError, "Unknown label type"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"layers": "resnet"}, ValueError, "layers"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"layers": [Dense(3), "relu"]}, TypeError,
     r"layers\[1\]"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"epochs": 0}, ValueError, "epochs"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"learning_rate": -1.0}, ValueError,
     "learning_rate"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"optimizer": "lbfgs"}, ValueError,
     "optimizer"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"n_jobs": 0}, ValueError, "n_jobs"),
])
def test_bad_input_errors(X, y, kw, exc, match):
    kw.setdefault("layers", [])
    with pytest.raises(exc, match=match):
        NeuralNetClassifier(**kw).fit(X, y)


def test_predict_errors(digits):
    X, y = digits
    clf = NeuralNetClassifier(layers=[], epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 10 features, but NeuralNetClassifier is "
                                         "expecting 64"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 64), np.nan))
    cnn = NeuralNetClassifier(layers=SMALL_CNN, epochs=1).fit(X.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        cnn.predict(np.zeros((2, 1, 4, 16)))


def test_plot_history(digits, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = digits
    clf = NeuralNetClassifier(layers=[], epochs=3).fit(X, y)
    ax = clf.plot_history()
    assert len(ax[0].lines) == 2 and len(ax[1].lines) == 2  # train and validation
    assert list(ax[0].lines[0].get_xdata()) == [1, 2, 3]
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        clf.plot_history()


def test_verbose_and_early_stopping(digits, capsys):
    X, y = digits
    clf = NeuralNetClassifier(layers=[Dense(32), ReLU()], epochs=50, optimizer="sgd",
                              callbacks=[EarlyStopping(patience=2)], learning_rate=0.5,
                              verbose=1, random_state=0)
    clf.fit(X, y)
    out = capsys.readouterr().out
    assert "epoch   1" in out
    assert clf.n_iter_ < 50 and "Early stopping" in out


def test_dtypes_float32_kept_others_float64(digits):
    X, y = digits
    for Xin, dt in ((X, np.float32), (X.astype(np.float64), np.float64),
                    ((X * 16).astype(np.int64), np.float64),
                    (X.astype(np.float16), np.float64)):
        clf = NeuralNetClassifier(layers=[], epochs=1).fit(Xin, y)
        assert clf.model_.dtype == dt
        assert clf.predict_proba(Xin[:3]).dtype == dt


def test_readme_example_on_uint8_mnist(data_dir, capsys):
    """The README's example as written, on what load_mnist returns (uint8 images 0-255):
    pixels are scaled, the network is LeNet-5, training converges (a subset and one
    epoch here), and redirected output gets one line per epoch, no progress bar."""
    from fastml.datasets import load_mnist

    try:
        X, y = load_mnist(data_dir, subset="train", download=False)
    except FileNotFoundError:
        pytest.skip("MNIST files absent")
    X, y = X[:3000], y[:3000]
    assert X.dtype == np.uint8 and X.max() == 255
    net = NeuralNetClassifier(epochs=1, verbose=1, n_jobs=-1, random_state=0)
    net.fit(X, y)
    assert net.input_shape_ == (1, 28, 28) and net.model_.n_parameters() == 61706
    assert net.history_[0]["train_loss"] < 2.0 and net.score(X, y) > 0.8
    out = capsys.readouterr()
    assert out.out.count("epoch") == 1 and "\r" not in out.err  # no tqdm when redirected
    # fitted on uint8 pixels: the same pixels in any dtype predict the same
    assert_allclose(net.predict_proba(X[:5]), net.predict_proba(X[:5].astype(np.float64)),
                    rtol=1e-5, atol=1e-7)


def test_unscaled_float_input_warns_before_training():
    X = np.random.default_rng(0).random((40, 16)) * 255
    with pytest.warns(UserWarning, match="divide pixels by 255"):
        NeuralNetClassifier(layers=[], epochs=1).fit(X, np.arange(40) % 2)


# ---------------------------------------------------------------------------------------
# the input rule fixed at fit, failed fits, sample weights, saving the weights, docs
# ---------------------------------------------------------------------------------------
def _pixels_digits():
    X, y = load_digits(return_X_y=True)
    return (X * 15).astype(np.uint8), y  # 0-240, like pixel intensities


def test_fitted_on_uint8_predicts_the_same_pixels_in_any_dtype():
    Xu, y = _pixels_digits()
    clf = NeuralNetClassifier(epochs=5, random_state=0).fit(Xu[:1200], y[:1200])
    T = Xu[1200:]
    p8 = clf.predict_proba(T)
    for X in (T.astype(np.float64), T.astype(np.float32), T.astype(np.int64)):
        assert_allclose(clf.predict_proba(X), p8, rtol=1e-4, atol=1e-6)
    assert clf.score(T.astype(np.float64), y[1200:]) == clf.score(T, y[1200:]) > 0.7
    with pytest.warns(UserWarning, match="looks already scaled"):
        clf.predict(T.astype(np.float64) / 255)


def test_fitted_on_unscaled_floats_warns_for_uint8_at_predict():
    Xu, y = _pixels_digits()
    with pytest.warns(UserWarning, match="divide pixels by 255"):
        clf = NeuralNetClassifier(layers=[], epochs=1, random_state=0).fit(
            Xu.astype(np.float64), y)
    with pytest.warns(UserWarning, match="fitted on unscaled inputs"):
        clf.predict(Xu[:5])


class _FailAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, rec):
        if rec["epoch"] == self.epoch:
            raise RuntimeError("callback failed")


def test_a_failed_fit_leaves_the_estimator_as_before(digits):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    X, y = digits[0][:400], digits[1][:400]
    clf = NeuralNetClassifier(layers=[Dense(8), ReLU()], epochs=3, random_state=0,
                              callbacks=[_FailAt(2)])
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert not hasattr(clf, "history_") and not hasattr(clf, "n_iter_")
    # a fitted estimator keeps its previous fit
    clf.set_params(callbacks=None).fit(X, y)
    proba, n_iter, hist = clf.predict_proba(X), clf.n_iter_, list(clf.history_)
    clf.set_params(callbacks=[_FailAt(2)])
    with pytest.raises(RuntimeError):
        clf.fit(X, y)
    assert clf.n_iter_ == n_iter == len(clf.history_) and clf.history_ == hist
    assert_allclose(clf.predict_proba(X), proba, rtol=0, atol=0)
    # a failed partial_fit keeps the weights, the history and n_iter_
    with pytest.raises(ValueError):
        clf.partial_fit(X, np.where(y == 0, 99, y))  # an unknown label
    clf.partial_fit(X, y)
    proba2 = clf.predict_proba(X)
    with pytest.raises(RuntimeError):
        clf._trainer.callbacks.append(_FailAt(n_iter + 2))  # the trainer's own
        clf.partial_fit(X, y)
    assert clf.n_iter_ == n_iter + 1 == len(clf.history_)
    assert_allclose(clf.predict_proba(X), proba2, rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverged_fit_is_not_fitted(digits):
    from sklearn.exceptions import NotFittedError

    X, y = digits
    clf = NeuralNetClassifier(layers=[Dense(16), ReLU()], optimizer="sgd",
                              learning_rate=1e3, epochs=3, random_state=0)
    with pytest.raises(FloatingPointError):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_n_iter_counts_the_epochs_run(digits):
    X, y = digits
    clf = NeuralNetClassifier(layers=[], epochs=40, early_stopping=True,
                              learning_rate=0.5, optimizer="sgd", random_state=0).fit(X, y)
    assert clf.n_iter_ == len(clf.history_) < 40
    clf.partial_fit(X, y)
    assert clf.n_iter_ == len(clf.history_)


def test_sample_weight_equals_repeated_rows_for_one_full_batch():
    from sklearn.neural_network import MLPClassifier  # the signature to match
    import inspect

    assert "sample_weight" in inspect.signature(MLPClassifier.fit).parameters
    X, y = load_digits(return_X_y=True)
    X, y = X[:60] / 16, y[:60]
    w = np.arange(60) % 3
    rep = np.repeat(np.arange(60), w)
    kw = dict(layers=[], optimizer="sgd", learning_rate=0.1, epochs=1, batch_size=1000,
              validation_fraction=0.0, random_state=0)
    a = NeuralNetClassifier(**kw).fit(X, y, sample_weight=w)
    b = NeuralNetClassifier(**kw).fit(X[rep], y[rep])
    for (k, va), vb in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
        assert_allclose(va, vb, rtol=1e-5, atol=1e-7, err_msg=k)
    from fastml.nn import NeuralNetRegressor

    ra = NeuralNetRegressor(**kw).fit(X, y / 9, sample_weight=w)
    rb = NeuralNetRegressor(**kw).fit(X[rep], y[rep] / 9)
    assert_allclose(ra.predict(X), rb.predict(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="non-zero|zero for every"):
        NeuralNetClassifier(**kw).fit(X, y, sample_weight=np.zeros(60))


@pytest.mark.parametrize("ext", [".safetensors", ".npz"])
def test_save_and_load_params_round_trip(tmp_path, ext, digits):
    from fastml.nn import NeuralNetRegressor

    X, y = digits
    Xu = (X * 15).astype(np.uint8)
    clf = NeuralNetClassifier(epochs=3, random_state=0).fit(Xu[:600], np.array(
        ["n%d" % v for v in y[:600]]))
    path = tmp_path / ("clf" + ext)
    assert clf.save_params(path) is clf
    new = NeuralNetClassifier(epochs=3).load_params(path)
    np.testing.assert_array_equal(new.classes_, clf.classes_)
    np.testing.assert_array_equal(new.predict_proba(Xu[600:]), clf.predict_proba(Xu[600:]))
    assert new.n_iter_ == clf.n_iter_ == len(new.history_)
    np.testing.assert_array_equal(new.predict(Xu[600:].astype(float)), clf.predict(Xu[600:]))
    new.partial_fit(Xu[600:], np.array(["n%d" % v for v in y[600:]]))  # trains on
    reg = NeuralNetRegressor(layers=[Dense(8), ReLU()], epochs=2, random_state=0).fit(
        X / 16, np.c_[y, -y] / 9)
    reg.save_params(tmp_path / ("reg" + ext))
    new = NeuralNetRegressor(layers=[Dense(8), ReLU()]).load_params(tmp_path / ("reg" + ext))
    np.testing.assert_array_equal(new.predict(X / 16), reg.predict(X / 16))
    with pytest.raises(ValueError, match="NeuralNetRegressor"):
        NeuralNetClassifier().load_params(tmp_path / ("reg" + ext))
    with pytest.raises(ValueError, match="do not fit"):  # another architecture
        NeuralNetRegressor(layers=[Dense(9), ReLU()]).load_params(tmp_path / ("reg" + ext))


def test_save_params_errors(tmp_path, digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NeuralNetClassifier().save_params(tmp_path / "a.npz")
    clf = NeuralNetClassifier(layers=[], epochs=1).fit(*digits)
    with pytest.raises(ValueError, match=".safetensors or .npz"):
        clf.save_params(tmp_path / "a.pt")
    clf.save_params(tmp_path / "a.safetensors")
    raw = (tmp_path / "a.safetensors").read_bytes()
    for bad in (raw[:5], b"\xff" * 8 + raw[8:], raw[:8] + b"[1]" + raw[11:], raw[:-4]):
        (tmp_path / "b.safetensors").write_bytes(bad)
        with pytest.raises(ValueError, match="not a weights file"):
            NeuralNetClassifier(layers=[]).load_params(tmp_path / "b.safetensors")


def test_saved_params_load_into_torch(tmp_path):
    """The safetensors file, read by the format's specification alone (8-byte header
    length, JSON header, raw little-endian tensors), loads into the same network built
    with torch.nn, which then gives the same scores."""
    torch = pytest.importorskip("torch")
    import json
    import struct

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    clf = NeuralNetClassifier(layers=[Dense(32), ReLU()], epochs=2, random_state=0).fit(X, y)
    clf.save_params(tmp_path / "net.safetensors")
    raw = (tmp_path / "net.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")
    body = bytearray(raw[8 + n:])
    t = {k: torch.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]] or
                             bytearray(4), dtype=torch.float32).reshape(v["shape"])
         for k, v in header.items()}
    assert sorted(t) == ["0.W", "0.b", "3.W", "3.b"]  # Dense, ReLU, Flatten, Dense
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 10))
    net.load_state_dict({"0.weight": t["0.W"].T, "0.bias": t["0.b"],
                         "2.weight": t["3.W"].T, "2.bias": t["3.b"]})
    with torch.no_grad():
        scores = net(torch.from_numpy(X)).numpy()
    assert_allclose(scores, clf._raw(X), rtol=1e-5, atol=1e-5)
    npz = tmp_path / "net.npz"
    clf.save_params(npz)
    with np.load(npz, allow_pickle=False) as z:
        assert_allclose(torch.from_numpy(z["0.W"]).numpy(), t["0.W"].numpy())


@pytest.mark.parametrize("name", ["NeuralNetClassifier", "NeuralNetRegressor"])
def test_docstrings_document_every_parameter(name):
    import inspect

    import fastml.nn as nn

    cls = getattr(nn, name)
    doc = cls.__doc__
    for p, par in inspect.signature(cls.__init__).parameters.items():
        if p in ("self",):
            continue
        if p == "kwargs":
            assert "**kwargs : dict" in doc
            continue
        line = [ln for ln in doc.splitlines() if ln.strip().startswith(p + " :")]
        assert line, p
        assert f"default={par.default!r}".replace("'", '"') in line[0] or \
            f"default={par.default}" in line[0], (p, line[0])
    assert "Examples\n    --------" in doc and ">>> " in doc
    meths = ["fit", "partial_fit", "predict", "save_params", "load_params", "plot_history"]
    if name == "NeuralNetClassifier":
        meths += ["predict_proba", "predict_log_proba", "decision_function"]
    for meth in meths:
        mdoc = getattr(cls, meth).__doc__
        assert mdoc and "Returns\n" in mdoc, meth
        if meth not in ("save_params", "load_params"):
            assert "Parameters\n" in mdoc, meth
    assert "sample_weight" in inspect.signature(cls.fit).parameters


def test_docstring_examples_run():
    import doctest

    import fastml.nn.estimator as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0
