"""Benchmark cases: kernel matrices and Kernel Ridge.

Data: MNIST pixels in [0, 1] (training images for X, test images for T), synthetic of the
same shape when the files are absent; for the exponential kernels also dense uniform
random data. Peers: scikit-learn (with its BLAS capped at the same thread count) and, for
kernels scikit-learn lacks, the best numpy formulations.
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


def _rows(data_dir, n, subset, dtype, data):
    """n rows of 784 features: MNIST pixels in [0, 1], or uniform random numbers in [0, 1)
    (dense: no zero pixels; the same shape and range)."""
    if data == "random":
        seed = 0 if subset == "train" else 1
        return np.random.default_rng(seed).random((n, 784)).astype(np.dtype(dtype))
    return mnist_pixels(data_dir, n, subset, dtype=np.dtype(dtype))[0]


def _inputs(n_rows, n_cols, dtype, symmetric, data="mnist"):
    """K(X, X) of n_rows training rows, or K(T, X) of n_rows test rows against n_cols
    training rows (quick: at most 500 of each)."""
    def make(data_dir, quick):
        nt, nx = (min(n_rows, 500), min(n_cols, 500)) if quick else (n_rows, n_cols)
        if symmetric:
            return {"X": _rows(data_dir, nt, "train", dtype, data), "Y": None}
        return {"X": _rows(data_dir, nt, "test", dtype, data),
                "Y": _rows(data_dir, nx, "train", dtype, data)}

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


def _task(name, symmetric, data="mnist"):
    return name + (" K(X,X)" if symmetric else " K(T,X)") + (" random" if data != "mnist" else "")


def _quick_shape(n, m):
    return f"{min(n, 500)}x{min(m, 500)}x784"


# The exponential kernels where the fixed costs of a call show (500 x 500), in between
# (2000 x 1000) and where the arithmetic dominates (5000 x 5000); MNIST and dense random.
EXP_NAMES = ["rbf_kernel", "laplacian_kernel", "chi2_kernel"]
EXP_SIZES = [(500, 500, True), (500, 500, False), (2000, 1000, False), (5000, 5000, True),
             (5000, 5000, False)]
# Every other kernel from 200 to 5000 rows.
OTHER_NAMES = ["linear_kernel", "polynomial_kernel", "sigmoid_kernel", "cosine_similarity",
               "additive_chi2_kernel"]
OTHER_SIZES = [(200, 200, True), (2000, 2000, True), (2000, 1000, False), (5000, 5000, True),
               (2000, 5000, False)]

for _dtype in ("float64", "float32"):
    for _data in ("mnist", "random"):
        for _name in EXP_NAMES:
            for _n, _m, _sym in EXP_SIZES:
                register(Case(
                    area="kernels", task=_task(_name, _sym, _data), shape=f"{_n}x{_m}x784",
                    dtype=_dtype, make_inputs=_inputs(_n, _m, _dtype, _sym, _data),
                    run=_fastml_kernel(_name),
                    peers=(Peer("scikit-learn", _sklearn_kernel(_name)),),
                    check=_close(_dtype),
                    quick=_data == "mnist" and _n == 500 and _name != "laplacian_kernel",
                    flops=_gemm_flops, quick_shape=_quick_shape(_n, _m),
                ))
    for _name in OTHER_NAMES:
        for _n, _m, _sym in OTHER_SIZES:
            register(Case(
                area="kernels", task=_task(_name, _sym), shape=f"{_n}x{_m}x784", dtype=_dtype,
                make_inputs=_inputs(_n, _m, _dtype, _sym), run=_fastml_kernel(_name),
                peers=(Peer("scikit-learn", _sklearn_kernel(_name)),)
                + ((Peer("numpy GEMM", _numpy_gemm),) if _name == "linear_kernel" else ()),
                check=_close(_dtype), flops=_gemm_flops, quick_shape=_quick_shape(_n, _m),
            ))
    for _n, _m, _sym in OTHER_SIZES:
        register(Case(
            area="kernels", task=_task("intersection_kernel", _sym), shape=f"{_n}x{_m}x784",
            dtype=_dtype, make_inputs=_inputs(_n, _m, _dtype, _sym),
            run=_fastml_kernel("intersection_kernel"),
            peers=(Peer("numpy (blocked broadcast)", _numpy_intersection),),
            check=_close(_dtype), quick=_dtype == "float32" and _sym and _n == 200,
            flops=_gemm_flops, quick_shape=_quick_shape(_n, _m),
        ))
        register(Case(
            area="kernels", task=_task("hellinger_kernel", _sym), shape=f"{_n}x{_m}x784",
            dtype=_dtype, make_inputs=_inputs(_n, _m, _dtype, _sym),
            run=_fastml_kernel("hellinger_kernel"),
            peers=(Peer("numpy (sqrt + GEMM)", _numpy_hellinger),),
            check=_close(_dtype), flops=_gemm_flops, quick_shape=_quick_shape(_n, _m),
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
