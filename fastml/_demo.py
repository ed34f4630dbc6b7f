"""``fastml demo``: kernels and Kernel Ridge on scikit-learn's digits, timed against
scikit-learn, on data that ships with scikit-learn (works offline)."""
import time

import numpy as np


def _best_time(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_demo(data_dir=None, n_jobs=-1, out_dir="fastml_demo"):
    import sklearn.kernel_ridge
    import sklearn.metrics.pairwise as skp
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    import fastml.metrics as fm
    from fastml.kernel_ridge import KernelRidgeClassifier
    from fastml.utils import effective_n_threads

    n_threads = effective_n_threads(n_jobs)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    print(f"fastml demo: scikit-learn digits, {len(Xtr)} train / {len(Xte)} test images, "
          f"8x8 pixels, {n_threads} thread(s) on both sides\n")

    print("1. Kernel matrices K(X, X) on all 1797 images (float64)")
    print(f"   {'kernel':<14}{'scikit-learn':>14}{'fastml':>10}{'speedup':>9}  same values")
    for name, ref in (("rbf", skp.rbf_kernel), ("laplacian", skp.laplacian_kernel),
                      ("chi2", skp.chi2_kernel), ("intersection", None)):
        f = fm.kernel_metrics()[name]
        t_f, K = _best_time(lambda: f(X, n_jobs=n_threads))
        if ref is None:  # no scikit-learn kernel: the best numpy formulation
            def ref_fn():
                return np.array([np.minimum(x, X).sum(1) for x in X])
            label = "numpy"
        else:
            def ref_fn():
                with threadpool_limits(n_threads, user_api="blas"):
                    return ref(X)
            label = ""
        t_r, R = _best_time(ref_fn, repeat=1 if name in ("chi2", "laplacian") else 3)
        same = "yes" if np.allclose(K, R, rtol=1e-9, atol=1e-12) else "NO"
        print(f"   {name:<14}{t_r:>11.4f} s {label:<1}{t_f:>8.4f} s{t_r / t_f:>8.1f}x  {same}")

    print("\n2. Kernel ridge classification (one-vs-all on +-1 targets)")
    Y = np.where(ytr[:, None] == np.arange(10)[None, :], 1.0, -1.0)
    t_f, clf = _best_time(lambda: KernelRidgeClassifier(alpha=0.1, kernel="rbf", gamma=0.05,
                                                        n_jobs=n_threads).fit(Xtr, ytr))
    acc_f = clf.score(Xte, yte)

    def sk_fit():
        with threadpool_limits(n_threads, user_api="blas"):
            return sklearn.kernel_ridge.KernelRidge(alpha=0.1, kernel="rbf",
                                                    gamma=0.05).fit(Xtr, Y)

    t_s, reg = _best_time(sk_fit)
    acc_s = np.mean(np.argmax(reg.predict(Xte), 1) == yte)
    print(f"   fastml KernelRidgeClassifier(rbf):  accuracy {acc_f:.4f}, fit {t_f:.4f} s")
    print(f"   scikit-learn KernelRidge(rbf) +-1:  accuracy {acc_s:.4f}, fit {t_s:.4f} s")
    inter = KernelRidgeClassifier(alpha=0.1, kernel="intersection", n_jobs=n_threads)
    print(f"   fastml KernelRidgeClassifier(intersection): accuracy "
          f"{inter.fit(Xtr, ytr).score(Xte, yte):.4f}")
    _knn_section(X, y, data_dir, n_threads)
    _text_section(data_dir, n_threads)
    _network_section(X, y, data_dir, n_threads, out_dir)
    print("\nDone. `fastml info` shows how this installation was built.")
    return 0


def _knn_section(X, y, data_dir, n_threads):
    """k-NN on digits, and on an MNIST subset when the data directory has it."""
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier as SkKNN

    from fastml.neighbors import KNeighborsClassifier

    print("\n3. k-nearest neighbours (brute force, k=3), fastml vs scikit-learn")
    sets = []
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    sets.append(("digits euclidean", Xtr, ytr, Xte, yte, "euclidean"))
    sets.append(("digits manhattan", Xtr, ytr, Xte, yte, "manhattan"))
    mnist = _load_mnist_subset(data_dir, 20000, 2000)
    if mnist is not None:
        sets.append(("MNIST 20000/2000 euclidean float32",) + mnist + ("euclidean",))
    else:
        print("   (no MNIST in the data directory: digits only)")
    for label, A, a, B, b, metric in sets:
        t_f, pred_f = _best_time(lambda: KNeighborsClassifier(
            3, metric=metric, n_jobs=n_threads).fit(A, a).predict(B), repeat=1)
        t_s, pred_s = _best_time(lambda: SkKNN(3, metric=metric, algorithm="brute",
                                               n_jobs=n_threads).fit(A, a).predict(B), repeat=1)
        print(f"   {label:<36} accuracy fastml {np.mean(pred_f == b):.4f} / scikit-learn "
              f"{np.mean(pred_s == b):.4f};  {t_s:.3f} s -> {t_f:.3f} s ({t_s / t_f:.1f}x)")


def _load_mnist_subset(data_dir, n_train, n_test):
    from fastml.datasets import load_mnist

    try:
        Xa, ya = load_mnist(data_dir, "train", download=False)
        Xb, yb = load_mnist(data_dir, "test", download=False)
    except (FileNotFoundError, OSError, ValueError):
        return None
    f = np.float32
    return (Xa[:n_train].reshape(n_train, -1).astype(f) / 255, ya[:n_train],
            Xb[:n_test].reshape(n_test, -1).astype(f) / 255, yb[:n_test])


def _text_section(data_dir, n_threads):
    """A string-kernel spam filter on the SMS Spam Collection, when present."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from fastml.datasets import load_sms_spam
    from fastml.text import StringKernel, char_ngrams

    print("\n4. String kernels: an SMS spam filter without tokenisation")
    try:
        texts, labels = load_sms_spam(data_dir, download=False)
    except (FileNotFoundError, OSError, ValueError):
        print("   (no SMS Spam Collection in the data directory: skipped)")
        return
    tr, te, ytr, yte = train_test_split(texts, labels, test_size=0.2, random_state=0,
                                        stratify=labels)
    t0 = time.perf_counter()
    svm = make_pipeline(StringKernel((1, 5), "presence", n_jobs=n_threads),
                        SVC(C=10, kernel="precomputed")).fit(tr, ytr)
    pred = svm.predict(te)
    t_f = time.perf_counter() - t0
    t0 = time.perf_counter()
    nb = make_pipeline(CountVectorizer(analyzer="char", ngram_range=(1, 5)),
                       MultinomialNB(alpha=0.1)).fit(tr, ytr)
    pred_nb = nb.predict(te)
    t_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Xc = char_ngrams(tr + te, (1, 5), n_jobs=n_threads)
    t_c = time.perf_counter() - t0
    nb2 = MultinomialNB(alpha=0.1).fit(Xc[:len(tr)], ytr)
    pred_nb2 = nb2.predict(Xc[len(tr):])
    print(f"   fastml StringKernel p=1..5 presence + SVC:  accuracy {np.mean(pred == yte):.4f}, "
          f"spam F1 {f1_score(yte, pred, pos_label='spam'):.3f}  ({t_f:.2f} s fit+predict)")
    print(f"   scikit-learn CountVectorizer(char 1..5) + MultinomialNB: accuracy "
          f"{np.mean(pred_nb == yte):.4f}, spam F1 {f1_score(yte, pred_nb, pos_label='spam'):.3f} "
          f"({t_s:.2f} s)")
    print(f"   fastml char_ngrams + MultinomialNB: accuracy {np.mean(pred_nb2 == yte):.4f} "
          f"(counting all {len(tr) + len(te)} texts: {t_c:.3f} s)")


def _network_section(X, y, data_dir, n_threads, out_dir):
    """LeNet-5 on MNIST when present (a small CNN on digits otherwise), with a progress bar
    and a learning-curve PNG; scikit-learn's MLPClassifier for comparison."""
    import os
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from fastml.nn import Conv2D, MaxPool2D, NeuralNetClassifier, ReLU

    print("\n5. Neural networks: a CNN as a scikit-learn classifier")
    mnist = _load_mnist_subset(data_dir, 60000, 10000)
    if mnist is not None:
        Xtr, ytr, Xte, yte = mnist
        label, epochs = "LeNet-5 on MNIST (60000 train / 10000 test), 2 epochs", 2
        net = NeuralNetClassifier("lenet5", input_shape=(1, 28, 28), epochs=epochs,
                                  batch_size=128, optimizer="sgd", learning_rate=0.05,
                                  lr_schedule="cosine",
                                  validation_fraction=0.05, random_state=0, verbose=1,
                                  n_jobs=n_threads)
    else:
        print("   (no MNIST in the data directory: a small CNN on the 8x8 digits)")
        Xtr, Xte, ytr, yte = train_test_split(X.astype(np.float32), y, test_size=0.25,
                                              random_state=0, stratify=y)
        label, epochs = "CNN conv(16@3x3)-relu-maxpool on digits, 10 epochs", 10
        net = NeuralNetClassifier([Conv2D(16, 3, padding=1), ReLU(), MaxPool2D(2)],
                                  input_shape=(1, 8, 8), epochs=epochs, batch_size=64,
                                  optimizer="sgd", learning_rate=0.05, random_state=0,
                                  verbose=0,
                                  n_jobs=n_threads)
    t0 = time.perf_counter()
    net.fit(Xtr, ytr)
    t_f = time.perf_counter() - t0
    acc_f = net.score(Xte, yte)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier((128,), max_iter=epochs + 1, random_state=0).fit(Xtr, ytr)
    t_s = time.perf_counter() - t0
    print(f"   fastml {label}: accuracy {acc_f:.4f}, {t_f:.1f} s")
    print(f"   scikit-learn MLPClassifier(128,), {epochs + 1} epochs: accuracy "
          f"{mlp.score(Xte, yte):.4f}, {t_s:.1f} s")
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("   (matplotlib not installed: no learning-curve plot)")
        return
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "learning_curve.png")
    _save_learning_curve(net, f"fastml {label}", n_threads, path)
    print(f"   learning curves: {os.path.abspath(path)}")


def _save_learning_curve(net, title, n_threads, path):
    """The network's learning curves as a PNG: whole epochs on the x axis, the loss named
    on the y axis, a title saying what was trained and on how many threads."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    axes = net.plot_history()
    # the estimator's loss (None: its default: cross-entropy for a classifier)
    loss = (getattr(net, "loss", None) or getattr(net, "_default_loss", None)
            or "cross_entropy").replace("_", "-")
    axes[0].set_ylabel(f"{loss} loss (mean per sample)")
    axes[0].set_title(f"Loss ({loss})")
    axes[1].set_ylabel("accuracy (fraction correct)")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig = axes[0].figure
    fig.suptitle(f"{title}: learning curves ({n_threads} thread{'s' if n_threads > 1 else ''})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
