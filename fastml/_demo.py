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


def run_demo(data_dir=None, n_jobs=-1):
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
