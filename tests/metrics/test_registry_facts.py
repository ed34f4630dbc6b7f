"""The kernel registry is the one source of every fact about a kernel: each fact is
checked against the kernel's behaviour, and every list derived from it (exports, the
dask wrappers, the patch names, the README's table) against the registry."""
import inspect
import os
import re

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.metrics.pairwise as skp

import fastml
import fastml.metrics as fm
from fastml.metrics import _registry
from fastml.metrics import pairwise as fmp
from fastml.metrics._registry import CSR_NATIVE, CSR_SKLEARN, KERNELS, kernel_specs

SPECS = kernel_specs()
IDS = [s.name for s in SPECS]
README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def _data(rng, n, d=6, non_negative=True, dtype=np.float64):
    X = rng.random((n, d)) if non_negative else rng.standard_normal((n, d))
    X[X < (0.3 if non_negative else -0.5)] = 0  # some zeros, so CSR is sparse
    return X.astype(dtype)


def _params(spec):
    return {"gamma": 0.3} if "gamma" in spec.params else {}


def test_one_entry_per_name_and_alias():
    assert len({s.name for s in SPECS}) == len(SPECS)
    for spec in SPECS:
        for name in (spec.name,) + spec.aliases:
            assert KERNELS[name] is spec
    assert sorted(KERNELS) == _registry.kernel_names()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_params_are_the_functions_keyword_parameters(spec):
    sig = inspect.signature(spec.function).parameters
    own = [p for p in sig if p not in ("X", "Y", "dense_output", "n_jobs", "out")]
    assert sorted(own) == sorted(spec.params)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_csr_fact(spec):
    rng = np.random.default_rng(0)
    X, Y = _data(rng, 7), _data(rng, 5)
    dense = spec.function(X, Y, **_params(spec))
    if spec.csr is None:
        with pytest.raises(TypeError, match="sparse"):
            spec.function(sp.csr_matrix(X), sp.csr_matrix(Y), **_params(spec))
        return
    got = spec.function(sp.csr_matrix(X), sp.csr_matrix(Y), **_params(spec))
    np.testing.assert_allclose(got, dense, rtol=1e-12, atol=1e-12)
    if spec.csr == CSR_SKLEARN:  # scikit-learn's function computes it
        ref = getattr(skp, spec.function_name)(sp.csr_matrix(X), sp.csr_matrix(Y),
                                               **_params(spec))
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_non_negative_fact(spec):
    rng = np.random.default_rng(1)
    X = _data(rng, 8, non_negative=False)
    X[0, 0] = -1.0
    if spec.non_negative is None:
        K = spec.function(X, **_params(spec))  # any real data
        assert np.all(np.isfinite(K))
        return
    with pytest.raises(ValueError, match="negative"):
        spec.function(X, **_params(spec))
    with pytest.raises(ValueError, match="negative"):
        fm.kernel_diagonal(X, spec.name)
    K = spec.function(np.abs(X), **_params(spec))
    if spec.name != "additive_chi2":  # -chi2 distance: <= 0 by definition
        assert np.all(K >= 0)
    else:
        assert np.all(K <= 0)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_diagonal_fact(spec):
    rng = np.random.default_rng(2)
    X = _data(rng, 9, non_negative=spec.non_negative is not None or spec.name == "pq")
    X[3] = 0  # a zero row (cosine: 0, not NaN)
    params = _params(spec)
    K = spec.function(X, **params)
    np.testing.assert_allclose(fm.kernel_diagonal(X, spec.name, **params), np.diag(K),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spec.diag(X, params), np.diag(K), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_dtype_fact(spec):
    rng = np.random.default_rng(3)
    X = _data(rng, 5)
    assert spec.float32
    assert spec.function(X.astype(np.float32), **_params(spec)).dtype == np.float32
    assert spec.function(X, **_params(spec)).dtype == np.float64
    assert spec.function((X * 10).astype(np.int64), **_params(spec)).dtype == np.float64
    mixed = spec.function(X.astype(np.float32), X, **_params(spec))
    assert mixed.dtype == np.float64


# ---------------------------------------------------------------------------------------
# lists derived from the registry
# ---------------------------------------------------------------------------------------
def test_exports():
    names = {s.function_name for s in SPECS}
    assert names <= set(fmp.__all__) and names <= set(fm.__all__)
    for name in names:
        assert getattr(fm, name) is getattr(fmp, name) is KERNELS[name.replace(
            "_kernel", "").replace("cosine_similarity", "cosine")].function
    assert set(fm.CSR_KERNELS) == {s.name for s in SPECS if s.csr is not None}
    assert fm.PAIRWISE_KERNEL_FUNCTIONS == {n: s.function for n, s in KERNELS.items()}
    assert fm.kernel_metrics() == fm.PAIRWISE_KERNEL_FUNCTIONS


def test_dask_wrappers():
    fd = pytest.importorskip("fastml.dask")
    for spec in SPECS:
        wrapper = getattr(fd, spec.function_name)
        assert spec.function_name in fd.__all__
        assert wrapper.__name__ == spec.function_name
        sig = inspect.signature(wrapper)
        single = inspect.signature(spec.function).parameters
        assert list(sig.parameters)[:2] == ["T", "X"]
        for p in spec.params:
            assert sig.parameters[p].default == single[p].default
        assert "Lazy dask version" in wrapper.__doc__
        with pytest.raises(TypeError, match="unexpected keyword"):
            wrapper(None, bogus=1)


def test_patch_names():
    names = fastml.get_patch_names()
    for spec in SPECS:
        assert (spec.function_name in names) == hasattr(skp, spec.function_name)


def test_unknown_kernel_message_lists_every_kernel():
    with pytest.raises(ValueError) as exc:
        fm.pairwise_kernels(np.ones((2, 2)), metric="nope")
    for name in KERNELS:
        assert repr(name) in str(exc.value)


def _readme_kernel_row():
    with open(README, encoding="utf-8") as f:
        rows = [line for line in f if line.startswith("| kernels, `pairwise_kernels`")]
    if not rows:
        pytest.skip("the README has no kernel row in its dispatch table")
    assert len(rows) == 1
    return [c.strip() for c in rows[0].strip().strip("|").split("|")]


def test_readme_table_matches_registry():
    _, fast, sklearn_side = _readme_kernel_row()
    m = re.search(r"CSR for ([\w, ]+)", fast)
    assert m, fast
    listed = {n.strip() for n in m.group(1).split(",")}
    assert listed == {s.name for s in SPECS if s.csr == CSR_NATIVE}
    fallback = set(re.findall(r"CSR input to `(\w+)`", sklearn_side))
    assert fallback == {s.function_name for s in SPECS if s.csr == CSR_SKLEARN}
