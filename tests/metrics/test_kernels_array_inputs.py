"""Kernels and distances take torch tensors, lists and memoryviews (what np.asarray
takes) and return what scikit-learn returns for them: ndarrays, or, under
``array_api_dispatch=True``, arrays of the inputs' namespace."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn.metrics.pairwise as skp
from numpy.testing import assert_allclose

import fastml
import fastml.metrics as fm

torch = pytest.importorskip("torch")

# kernels scikit-learn also has (a reference); the others are compared with numpy input
SHARED = ["linear_kernel", "polynomial_kernel", "rbf_kernel", "laplacian_kernel",
          "sigmoid_kernel", "cosine_similarity", "chi2_kernel", "additive_chi2_kernel"]
OWN = ["intersection_kernel", "hellinger_kernel", "pq_kernel"]


def _data(dtype):
    rng = np.random.default_rng(3)
    return rng.random((7, 5)).astype(dtype), rng.random((4, 5)).astype(dtype)


def _rtol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SHARED)
def test_torch_input_equals_scikit_learn(name, dtype):
    X, Y = _data(dtype)
    got = getattr(fm, name)(torch.from_numpy(X), torch.from_numpy(Y))
    ref = getattr(skp, name)(X, Y)
    # the dtype of fastml's numpy path (float32 stays float32 where scikit-learn's
    # laplacian_kernel gives float64)
    assert type(got) is np.ndarray and got.dtype == getattr(fm, name)(X, Y).dtype
    assert_allclose(got, ref, rtol=_rtol(dtype), atol=_rtol(dtype))
    got = getattr(fm, name)(torch.from_numpy(X))
    assert_allclose(got, getattr(skp, name)(X), rtol=_rtol(dtype), atol=_rtol(dtype))


@pytest.mark.parametrize("name", OWN + ["kernel_diagonal"])
def test_torch_input_of_fastml_only_functions(name):
    X, Y = _data(np.float64)
    if name == "kernel_diagonal":
        got, ref = fm.kernel_diagonal(torch.from_numpy(X), "rbf"), fm.kernel_diagonal(X, "rbf")
    else:
        got = getattr(fm, name)(torch.from_numpy(X), torch.from_numpy(Y))
        ref = getattr(fm, name)(X, Y)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("convert", [lambda A: A.tolist(), memoryview],
                         ids=["list", "memoryview"])
def test_lists_and_memoryviews(convert):
    X, Y = _data(np.float64)
    assert_allclose(fm.rbf_kernel(convert(X), convert(Y), gamma=0.3),
                    skp.rbf_kernel(X, Y, gamma=0.3), rtol=1e-12)
    assert_allclose(fm.pairwise_kernels(convert(X), metric="chi2"),
                    skp.pairwise_kernels(X, metric="chi2"), rtol=1e-12)


def test_pairwise_distances_and_kernels_of_tensors():
    X, Y = _data(np.float32)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    for metric in ("euclidean", "manhattan", "cosine"):
        got = fm.pairwise_distances(tX, tY, metric=metric)
        assert type(got) is np.ndarray
        assert_allclose(got, skp.pairwise_distances(X, Y, metric=metric), rtol=1e-5,
                        atol=1e-6)
    got = fm.pairwise_kernels(tX, tY, metric="rbf", gamma=0.5)
    assert_allclose(got, skp.pairwise_kernels(X, Y, metric="rbf", gamma=0.5), rtol=1e-5)


def test_patched_scikit_learn_takes_tensors():
    X, _ = _data(np.float64)
    ref = skp.rbf_kernel(X)
    with fastml.sklearn_patched():
        from sklearn.metrics.pairwise import pairwise_kernels, rbf_kernel

        assert rbf_kernel.__module__.startswith("fastml")  # the patched name
        got = rbf_kernel(torch.from_numpy(X))
        got_pk = pairwise_kernels(torch.from_numpy(X), metric="rbf")
    assert type(got) is np.ndarray
    assert_allclose(got, ref, rtol=1e-12)
    assert_allclose(got_pk, ref, rtol=1e-12)


def test_array_api_dispatch_gives_the_inputs_namespace():
    """As scikit-learn: torch in, torch out (dtype kept), plain or patched; numpy in,
    numpy out. Needs SCIPY_ARRAY_API=1 before scipy loads: a fresh process."""
    code = textwrap.dedent("""
        import numpy as np, sklearn, torch
        import sklearn.metrics.pairwise as skp
        import fastml, fastml.metrics as fm

        rng = np.random.default_rng(0)
        X = rng.random((6, 5)).astype(np.float32)
        t = torch.from_numpy(X)
        with sklearn.config_context(array_api_dispatch=True):
            for name in ("rbf_kernel", "linear_kernel", "chi2_kernel", "laplacian_kernel",
                         "cosine_similarity"):
                ref = getattr(skp, name)(t, t[:3])
                got = getattr(fm, name)(t, t[:3])
                assert type(got) is type(ref) and got.dtype == ref.dtype, (name, type(got))
                np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
            got = fm.pairwise_kernels(t, metric="chi2", gamma=0.5)
            assert isinstance(got, torch.Tensor)
            got = fm.intersection_kernel(t)
            assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
            assert isinstance(fm.kernel_diagonal(t, "rbf"), torch.Tensor)
            assert isinstance(fm.pairwise_distances(t, metric="manhattan"), torch.Tensor)
            assert type(fm.rbf_kernel(X)) is np.ndarray
            with fastml.sklearn_patched():
                from sklearn.metrics.pairwise import rbf_kernel
                assert isinstance(rbf_kernel(t), torch.Tensor)
        print("ok")
    """)
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
