"""Benchmark cases: kernel SVMs (fastml.svm) against scikit-learn and scikit-learn-intelex.

* MNIST pixels / 255 (float32), ``SVC(kernel="rbf", C=10, gamma=0.02)``: fit on 20000
  and on all 60000 training images; predict 5000 test images with the 20000-image model;
  accuracy on the test images compared (within 0.2 points).
* chi-squared kernel on 20000 MNIST images (``gamma=0.1``, C=10), end to end: fastml's SVC
  with kernel="chi2" against fastml's ``chi2_kernel`` Gram matrix handed to scikit-learn's
  ``SVC(kernel="precomputed")`` (the route a fastml user has without fastml.svm).
* SMS Spam Collection, ``SVC(kernel=StringKernel((3, 5), "intersection"))``, 5-fold
  cross-validated accuracy, against the StringKernel Gram matrix + scikit-learn's
  precomputed SVC.

Peers run in their own processes (scikit-learn-intelex patches oneDAL's threading;
scikit-learn's libsvm is single-threaded whatever the thread count). A fit case's result
is (n_support_, accuracy on 2000 test images computed after timing ends: see ``_fit``) so
the check compares models, not just timings. Peak memory is not measured here: see
``bench/test_svm.py``'s docstring for the /usr/bin/time command used for the README table.
"""
import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register

AREA = "svm"
RBF = dict(C=10.0, gamma=0.02)
CHI2 = dict(C=10.0, gamma=0.1)
SKLEARNEX = ("sklearnex",)


def _mnist(n_train, n_test, quick_n=(2000, 500)):
    def make(data_dir, quick):
        nt, ns = quick_n if quick else (n_train, n_test)
        X, y = mnist_pixels(data_dir, nt, "train", dtype=np.float32)
        T, t = mnist_pixels(data_dir, ns, "test", dtype=np.float32)
        return {"X": X, "y": y, "T": T, "t": t}

    return make


def _estimator(lib, kernel, params, n_threads):
    if lib == "fastml":
        from fastml.svm import SVC

        return SVC(kernel=kernel, n_jobs=n_threads, **params)
    if lib == "sklearnex":
        import daal4py
        from sklearnex.svm import SVC

        daal4py.daalinit(n_threads)
        return SVC(kernel=kernel, **params)
    from sklearn.svm import SVC

    return SVC(kernel=kernel, **params)


class _Fitted:
    """The model of a fit case with what the check needs (picklable, small)."""

    def __init__(self, model, inp):
        self.n_support = np.asarray(model.n_support_)
        T, t = inp["T"][:2000], inp["t"][:2000]
        self.accuracy = float(np.mean(np.asarray(model.predict(T)) == t))


def _fit(lib, kernel="rbf", params=RBF):
    def run(inp, n_threads):
        model = _estimator(lib, kernel, params, n_threads).fit(inp["X"], inp["y"])
        return _Lazy(model, inp)

    return run


class _Lazy:
    """Holds the fitted model; evaluated (predict on test images) only by the check, so
    that the timed call is the fit alone. Pickled (own-process peers) as its summary."""

    def __init__(self, model, inp):
        self.model, self.inp = model, inp

    def __reduce__(self):
        return (_summary, (_Fitted(self.model, self.inp),))

    def summary(self):
        return _Fitted(self.model, self.inp)


def _summary(fitted):
    return fitted


def _as_summary(r):
    return r.summary() if isinstance(r, _Lazy) else r


def _same_model(a, b):
    """Support vector counts within 3 % per class and test accuracies within 0.2 points
    (both solvers stop at libsvm's tol = 1e-3)."""
    a, b = _as_summary(a), _as_summary(b)
    na, nb = a.n_support.astype(float), b.n_support.astype(float)
    return (na.shape == nb.shape and bool(np.all(np.abs(na - nb) <= 0.03 * nb + 3))
            and abs(a.accuracy - b.accuracy) <= 0.002)


def _predict(lib):
    """Fit once (first call, untimed by the repeats), then time predict on the test
    images; result (predictions, accuracy)."""

    def run(inp, n_threads):
        key = "model_" + lib
        if key not in inp:
            inp[key] = _estimator(lib, "rbf", RBF, n_threads).fit(inp["X"], inp["y"])
        pred = np.asarray(inp[key].predict(inp["T"]))
        return pred, float(np.mean(pred == inp["t"]))

    return run


def _same_predictions(a, b):
    (pa, acc_a), (pb, acc_b) = a, b
    return abs(acc_a - acc_b) <= 0.002 and float(np.mean(pa == pb)) >= 0.995


def _chi2_fastml(inp, n_threads):
    from fastml.svm import SVC

    model = SVC(kernel="chi2", n_jobs=n_threads, **CHI2).fit(inp["X"], inp["y"])
    return _Lazy(model, inp)


def _chi2_gram_libsvm(inp, n_threads):
    """fastml's chi2_kernel Gram matrix (float64, as libsvm needs) + scikit-learn's
    precomputed SVC."""
    from sklearn.svm import SVC

    from fastml.metrics import chi2_kernel

    K = chi2_kernel(inp["X"].astype(np.float64), gamma=CHI2["gamma"], n_jobs=n_threads)
    model = SVC(kernel="precomputed", C=CHI2["C"]).fit(K, inp["y"])
    del K

    class _M:
        n_support_ = model.n_support_

        @staticmethod
        def predict(T):
            Kt = chi2_kernel(T.astype(np.float64), inp["X"].astype(np.float64),
                             gamma=CHI2["gamma"], n_jobs=n_threads)
            return model.predict(Kt)

    return _Lazy(_M, inp)


def _sms(data_dir, quick):
    from fastml.benchmarks.text import sms_texts

    texts, y = sms_texts(data_dir, 800 if quick else None)
    return {"X": texts, "y": np.asarray(y)}


def _sms_cv_fastml(inp, n_threads):
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from fastml.svm import SVC
    from fastml.text import StringKernel

    clf = SVC(kernel=StringKernel((3, 5), "intersection"), C=10, n_jobs=n_threads)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(np.mean(cross_val_score(clf, inp["X"], inp["y"], cv=cv)))


def _sms_cv_precomputed(inp, n_threads):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from fastml.text import StringKernel

    clf = make_pipeline(StringKernel((3, 5), "intersection", n_jobs=n_threads),
                        SVC(kernel="precomputed", C=10))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(np.mean(cross_val_score(clf, inp["X"], inp["y"], cv=cv)))


def _same_accuracy(a, b):
    return abs(a - b) <= 0.002


register(Case(AREA, "SVC rbf fit (C=10, gamma=0.02)", "20000 MNIST", "float32",
              _mnist(20000, 2000), _fit("fastml"),
              peers=(Peer("sklearnex", _fit("sklearnex"), SKLEARNEX, own_process=True),
                     Peer("sklearn", _fit("sklearn"), own_process=True)),
              check=_same_model, quick=True, quick_shape="2000 MNIST"))
register(Case(AREA, "SVC rbf predict", "5000 test x 20000-image model", "float32",
              _mnist(20000, 5000), _predict("fastml"),
              peers=(Peer("sklearnex", _predict("sklearnex"), SKLEARNEX, own_process=True),),
              check=_same_predictions, quick_shape="500 x 2000-image model"))
register(Case(AREA, "SVC rbf fit (C=10, gamma=0.02)", "60000 MNIST", "float32",
              _mnist(60000, 2000), _fit("fastml"),
              peers=(Peer("sklearnex", _fit("sklearnex"), SKLEARNEX, own_process=True),),
              check=_same_model, quick_shape="2000 MNIST"))
register(Case(AREA, "SVC chi2 kernel + fit (C=10, gamma=0.1)", "20000 MNIST", "float32",
              _mnist(20000, 2000), _chi2_fastml,
              peers=(Peer("chi2_kernel Gram + sklearn precomputed", _chi2_gram_libsvm,
                          own_process=True),),
              check=_same_model, quick_shape="2000 MNIST"))
register(Case(AREA, "SVC StringKernel((3,5), intersection) 5-fold CV accuracy",
              "5574 SMS", "float64", _sms, _sms_cv_fastml,
              peers=(Peer("StringKernel Gram + sklearn precomputed", _sms_cv_precomputed,
                          own_process=True),),
              check=_same_accuracy, quick_shape="800 SMS"))
