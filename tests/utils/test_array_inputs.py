"""The boundary takes whatever ``np.asarray`` takes: lists, memoryviews, torch tensors,
pandas objects; plain C-contiguous float arrays pass through untouched; under
``array_api_dispatch=True`` results follow the namespace of the inputs."""
import numpy as np
import pytest
import sklearn

from fastml.utils.validation import as_numpy, check_kernel_input, follow_array_namespace


def _inputs():
    rng = np.random.default_rng(0)
    return rng.random((6, 4)), rng.random((3, 4)).astype(np.float32)


def test_plain_float_arrays_are_passed_through_without_a_copy():
    X, Y32 = _inputs()
    Xc, Yc, dtype = check_kernel_input(X, X[:2].copy())
    assert Xc is X and dtype == np.float64
    X32 = X.astype(np.float32)
    Xc, Yc, dtype = check_kernel_input(X32, Y32)
    assert Xc is X32 and Yc is Y32 and dtype == np.float32


@pytest.mark.parametrize("convert", [
    lambda A: A.tolist(),
    lambda A: memoryview(A),
    lambda A: tuple(map(tuple, A)),
], ids=["list", "memoryview", "tuple"])
def test_python_sequences_and_buffers(convert):
    X, _ = _inputs()
    Xc, _, dtype = check_kernel_input(convert(X))
    assert type(Xc) is np.ndarray and dtype == np.float64
    np.testing.assert_array_equal(Xc, X)


def test_torch_tensors_become_numpy_with_their_dtype():
    torch = pytest.importorskip("torch")
    X, Y32 = _inputs()
    t64, t32 = torch.from_numpy(X), torch.from_numpy(Y32)
    Xc, Yc, dtype = check_kernel_input(t64, t64[:2])
    assert type(Xc) is np.ndarray and dtype == np.float64
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(Yc, X[:2])
    Xc, _, dtype = check_kernel_input(t32)
    assert dtype == np.float32
    # mixed float32 / float64: float64, as for numpy inputs
    _, _, dtype = check_kernel_input(t32, torch.from_numpy(X[:2, :4]))
    assert dtype == np.float64
    # integers and booleans are converted once, to float64
    Xc, _, dtype = check_kernel_input(torch.arange(12).reshape(3, 4))
    assert dtype == np.float64 and Xc[2, 3] == 11.0
    _, _, dtype = check_kernel_input(torch.ones(3, 4, dtype=torch.bool))
    assert dtype == np.float64


def test_torch_errors_name_the_argument():
    torch = pytest.importorskip("torch")
    bad = torch.rand(3, 4)
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="Y"):
        check_kernel_input(torch.rand(3, 4), bad)
    with pytest.raises(TypeError, match="complex"):
        check_kernel_input(torch.rand(3, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="2D"):
        check_kernel_input(torch.rand(4))


def test_as_numpy_views_cpu_tensors_and_leaves_the_rest():
    torch = pytest.importorskip("torch")
    t = torch.rand(3, 4)
    a = as_numpy(t)
    assert type(a) is np.ndarray
    a[0, 0] = 7.0  # a view: no copy of CPU tensors
    assert float(t[0, 0]) == 7.0
    X, _ = _inputs()
    lst = X.tolist()
    assert as_numpy(X) is X and as_numpy(lst) is lst and as_numpy(None) is None


def test_pandas_objects():
    pd = pytest.importorskip("pandas")
    X, _ = _inputs()
    Xc, _, dtype = check_kernel_input(pd.DataFrame(X, columns=list("abcd")))
    assert type(Xc) is np.ndarray and dtype == np.float64
    np.testing.assert_array_equal(Xc, X)


def _double(A):
    return 2 * np.asarray(A), np.asarray(A).sum()


def test_follow_array_namespace_is_a_no_op_without_dispatch():
    torch = pytest.importorskip("torch")
    f = follow_array_namespace(_double)
    out, total = f(torch.ones(2, 2))
    assert type(out) is np.ndarray and total == 4


def test_follow_array_namespace_under_dispatch():
    # array API dispatch needs SCIPY_ARRAY_API=1 before scipy loads: a fresh process
    pytest.importorskip("torch")
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np, sklearn, torch
        from fastml.utils.validation import follow_array_namespace

        f = follow_array_namespace(lambda A, k=1: (k * np.asarray(A), 3))
        with sklearn.config_context(array_api_dispatch=True):
            out, n = f(torch.ones(2, 2, dtype=torch.float32), k=2)
            assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, type(out)
            assert n == 3 and float(out.sum()) == 8.0
            plain, _ = f(np.ones((2, 2)))
            assert type(plain) is np.ndarray
        print("ok")
    """)
    import os

    env = dict(os.environ, SCIPY_ARRAY_API="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_sklearn_config_default_has_no_dispatch():
    # the wrapper's cheap path: array_api_dispatch is off unless asked for
    assert not sklearn.get_config().get("array_api_dispatch", False)
