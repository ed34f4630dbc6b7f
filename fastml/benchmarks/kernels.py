"""Benchmark cases: kernel matrices and Kernel Ridge.

Data: MNIST pixels in [0, 1] (first 5000 training images, 2000 test images), synthetic
of the same shape when the files are absent. Peers: scikit-learn (with its BLAS capped
at the same thread count) and, for kernels scikit-learn lacks, the best numpy
formulations.
"""
import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register


def _blas(n_threads):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads, user_api="blas")


def _close(dtype):
    rtol = 1e-4 if dtype == "float32" else 1e-9

    def check(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max()))

    return check


def _inputs(n_train, n_test, dtype, symmetric):
    def make(data_dir, quick):
        nt, ns = (500, 200) if quick else (n_train, n_test)
        X, _ = mnist_pixels(data_dir, nt, "train", dtype=np.dtype(dtype))
        if symmetric:
            return {"X": X, "Y": None}
        T, _ = mnist_pixels(data_dir, ns, "test", dtype=np.dtype(dtype))
        return {"X": T, "Y": X}

    return make


def _fastml_kernel(name):
    def run(inp, n_threads):
        import fastml.metrics as fm

        return getattr(fm, name)(inp["X"], inp["Y"], n_jobs=n_threads)

    return run


def _sklearn_kernel(name):
    def run(inp, n_threads):
        import sklearn.metrics.pairwise as skp

        with _blas(n_threads):
            return getattr(skp, name)(inp["X"], inp["Y"])

    return run


def _numpy_intersection(inp, n_threads):
    """The best numpy formulation we know: blocks of rows broadcast against Y."""
    X, Y = inp["X"], inp["X"] if inp["Y"] is None else inp["Y"]
    out = np.empty((len(X), len(Y)), dtype=X.dtype)
    b = max(1, int(2**22 // (Y.shape[0] * Y.shape[1])))  # ~32 MB of temporaries
    for i in range(0, len(X), b):
        out[i:i + b] = np.minimum(X[i:i + b, None, :], Y[None, :, :]).sum(-1)
    return out


def _numpy_hellinger(inp, n_threads):
    """sqrt then GEMM: the best numpy formulation (fastml does the same, via SYRK)."""
    X, Y = inp["X"], inp["X"] if inp["Y"] is None else inp["Y"]
    with _blas(n_threads):
        return np.sqrt(X) @ np.sqrt(Y).T


def _gemm_flops(inp):
    X, Y = inp["X"], inp["X"] if inp["Y"] is None else inp["Y"]
    return 2.0 * X.shape[0] * Y.shape[0] * X.shape[1]


def _numpy_gemm(inp, n_threads):
    """The GEMM floor: numpy's X @ Y.T (SYRK for X @ X.T), same BLAS thread count."""
    X, Y = inp["X"], inp["X"] if inp["Y"] is None else inp["Y"]
    with _blas(n_threads):
        return X @ Y.T


SK_NAMES = ["linear_kernel", "polynomial_kernel", "rbf_kernel", "sigmoid_kernel",
            "cosine_similarity", "chi2_kernel", "additive_chi2_kernel", "laplacian_kernel"]

for _dtype in ("float64", "float32"):
    for _sym, _shape in ((True, "5000x5000x784"), (False, "2000x5000x784")):
        for _name in SK_NAMES:
            register(Case(
                area="kernels", task=_name + (" K(X,X)" if _sym else " K(T,X)"),
                shape=_shape, dtype=_dtype,
                make_inputs=_inputs(5000, 2000, _dtype, _sym),
                run=_fastml_kernel(_name),
                peers=(Peer("scikit-learn", _sklearn_kernel(_name)),)
                + ((Peer("numpy GEMM", _numpy_gemm),) if _name == "linear_kernel" else ()),
                check=_close(_dtype),
                quick=(_name in ("rbf_kernel", "chi2_kernel") and _dtype == "float32"),
                flops=_gemm_flops, quick_shape="500x500x784" if _sym else "200x500x784",
            ))
        register(Case(
            area="kernels", task="intersection_kernel" + (" K(X,X)" if _sym else " K(T,X)"),
            shape=_shape, dtype=_dtype, make_inputs=_inputs(5000, 2000, _dtype, _sym),
            run=_fastml_kernel("intersection_kernel"),
            peers=(Peer("numpy (blocked broadcast)", _numpy_intersection),),
            check=_close(_dtype), quick=_dtype == "float32" and _sym, flops=_gemm_flops,
            quick_shape="500x500x784" if _sym else "200x500x784",
        ))
        register(Case(
            area="kernels", task="hellinger_kernel" + (" K(X,X)" if _sym else " K(T,X)"),
            shape=_shape, dtype=_dtype, make_inputs=_inputs(5000, 2000, _dtype, _sym),
            run=_fastml_kernel("hellinger_kernel"),
            peers=(Peer("numpy (sqrt + GEMM)", _numpy_hellinger),),
            check=_close(_dtype), flops=_gemm_flops,
            quick_shape="500x500x784" if _sym else "200x500x784",
        ))


def _pq_inputs(data_dir, quick):
    X, _ = mnist_pixels(data_dir, 200 if quick else 1000, "train")
    return {"X": X, "Y": None}


register(Case(area="kernels", task="pq_kernel K(X,X)", shape="1000x1000x784", dtype="float64",
              make_inputs=_pq_inputs, run=_fastml_kernel("pq_kernel"), peers=(), quick=True,
              quick_shape="200x200x784"))


# Kernel Ridge: fit on 10000 MNIST images (one-vs-all +-1 targets), predict 2000.
def _krr_inputs(data_dir, quick):
    n, m = (1000, 300) if quick else (10000, 2000)
    X, y = mnist_pixels(data_dir, n, "train")
    T, _ = mnist_pixels(data_dir, m, "test")
    Y = np.where(y[:, None] == np.arange(10)[None, :], 1.0, -1.0)
    return {"X": X, "Y": Y, "T": T}


def _krr_fastml(inp, n_threads):
    from fastml.kernel_ridge import KernelRidge

    m = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.02, n_jobs=n_threads)
    return m.fit(inp["X"], inp["Y"]).predict(inp["T"])


def _krr_sklearn(inp, n_threads):
    from sklearn.kernel_ridge import KernelRidge

    with _blas(n_threads):
        m = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.02)
        return m.fit(inp["X"], inp["Y"]).predict(inp["T"])


def _krr_check(a, b):
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-8)
                and np.array_equal(np.argmax(a, 1), np.argmax(b, 1)))


register(Case(area="kernels", task="KernelRidge rbf fit+predict", shape="10000x784 -> 2000",
              dtype="float64", make_inputs=_krr_inputs, run=_krr_fastml,
              peers=(Peer("scikit-learn", _krr_sklearn),), check=_krr_check, quick=True,
              quick_shape="1000x784 -> 300"))
