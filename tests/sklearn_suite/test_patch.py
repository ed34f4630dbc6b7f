"""fastml.patch_sklearn / unpatch_sklearn / sklearn_patched, and that the scikit-learn test
modules of this directory really run against fastml."""
import importlib
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
import sklearn.kernel_ridge
import sklearn.metrics
import sklearn.metrics.pairwise
import sklearn.neighbors

import fastml
import fastml.kernel_ridge
import fastml.metrics
import fastml.neighbors

_CASES = [
    (sklearn.neighbors, "KNeighborsClassifier", fastml.neighbors),
    (sklearn.neighbors, "NearestNeighbors", fastml.neighbors),
    (sklearn.neighbors, "kneighbors_graph", fastml.neighbors),
    (sklearn.metrics, "pairwise_distances", fastml.metrics),
    (sklearn.metrics.pairwise, "pairwise_kernels", fastml.metrics),
    (sklearn.metrics.pairwise, "rbf_kernel", fastml.metrics),
    (sklearn.kernel_ridge, "KernelRidge", fastml.kernel_ridge),
]


@pytest.fixture
def unpatched():
    """These tests start and end with scikit-learn unpatched (this directory's autouse
    fixture patches every test)."""
    fastml.unpatch_sklearn()
    yield
    fastml.unpatch_sklearn()


def test_patch_and_unpatch(unpatched):
    originals = {(m.__name__, a): getattr(m, a) for m, a, _ in _CASES}
    fastml.patch_sklearn()
    assert fastml.sklearn_is_patched()
    for module, attr, fast in _CASES:
        assert getattr(module, attr) is getattr(fast, attr), attr
    from sklearn.neighbors import KNeighborsClassifier  # an import after patching

    assert KNeighborsClassifier is fastml.neighbors.KNeighborsClassifier
    fastml.unpatch_sklearn()
    assert not fastml.sklearn_is_patched()
    for module, attr, _ in _CASES:
        assert getattr(module, attr) is originals[(module.__name__, attr)], attr


def test_patch_some_names_and_context_manager(unpatched):
    original = sklearn.neighbors.NearestNeighbors
    fastml.patch_sklearn("NearestNeighbors")
    assert sklearn.neighbors.NearestNeighbors is fastml.neighbors.NearestNeighbors
    assert sklearn.neighbors.KNeighborsClassifier is not fastml.neighbors.KNeighborsClassifier
    # nested use keeps what was patched before
    with fastml.sklearn_patched():
        assert sklearn.metrics.pairwise_distances is fastml.metrics.pairwise_distances
    assert sklearn.neighbors.NearestNeighbors is fastml.neighbors.NearestNeighbors
    assert sklearn.metrics.pairwise_distances is not fastml.metrics.pairwise_distances
    fastml.unpatch_sklearn("NearestNeighbors")
    assert sklearn.neighbors.NearestNeighbors is original
    with pytest.raises(ValueError, match="Cannot patch"):
        fastml.patch_sklearn("LinearSVC")
    assert "KNeighborsClassifier" in fastml.get_patch_names()


def test_patched_functions_do_not_recurse_into_themselves(unpatched):
    """fastml's fallbacks call scikit-learn's original functions, also while patched."""
    rng = np.random.default_rng(0)
    X = rng.random((6, 3))
    with fastml.sklearn_patched():
        D = sklearn.metrics.pairwise_distances(X, metric="braycurtis")  # a fallback
        K = sklearn.metrics.pairwise.pairwise_kernels(D, metric="precomputed")
    from scipy.spatial.distance import cdist

    np.testing.assert_allclose(D, cdist(X, X, "braycurtis"), rtol=1e-12)
    assert K is D or np.array_equal(K, D)


def test_the_suite_modules_use_fastml():
    """The scikit-learn test modules bound fastml's objects when imported here, and the
    models' modules use fastml's search and kernels (this directory's tests run
    patched)."""
    for name, attrs in [
        ("sklearn.metrics.tests.test_pairwise", ["pairwise_distances", "pairwise_kernels",
                                                 "rbf_kernel", "laplacian_kernel"]),
        ("sklearn.neighbors.tests.test_neighbors", ["KNeighborsRegressor"]),
        ("sklearn.tests.test_kernel_ridge", ["KernelRidge", "pairwise_kernels"]),
        ("sklearn.cluster.tests.test_dbscan", ["DBSCAN", "NearestNeighbors"]),
        ("sklearn.decomposition.tests.test_kernel_pca", ["KernelPCA"]),
        ("sklearn.cluster._optics", ["NearestNeighbors"]),
        ("sklearn.manifold._isomap", ["NearestNeighbors", "kneighbors_graph",
                                      "radius_neighbors_graph"]),
        ("sklearn.manifold._t_sne", ["NearestNeighbors"]),
        ("sklearn.cluster._spectral", ["pairwise_kernels", "kneighbors_graph"]),
        ("sklearn.manifold._spectral_embedding", ["rbf_kernel", "kneighbors_graph"]),
        ("sklearn.kernel_approximation", ["pairwise_kernels"]),
        ("sklearn.semi_supervised._label_propagation", ["rbf_kernel", "NearestNeighbors"]),
    ]:
        module = sys.modules.get(name) or importlib.import_module(name)
        for attr in attrs:
            assert getattr(module, attr).__module__.startswith("fastml."), (name, attr)
    import sklearn.neighbors as skn

    assert skn.LocalOutlierFactor.__module__ == "fastml.neighbors._lof"


# -- names: any iterable, clear errors -----------------------------------------------------
def test_patch_takes_any_iterable_of_names(unpatched):
    fastml.patch_sklearn(n for n in ["NearestNeighbors", "rbf_kernel"])
    assert sklearn.neighbors.NearestNeighbors is fastml.neighbors.NearestNeighbors
    assert sklearn.metrics.pairwise.rbf_kernel is fastml.metrics.rbf_kernel
    assert fastml.sklearn_is_patched("NearestNeighbors")
    assert not fastml.sklearn_is_patched("KNeighborsClassifier")
    fastml.unpatch_sklearn(iter(["NearestNeighbors"]))
    assert not fastml.sklearn_is_patched("NearestNeighbors")
    assert fastml.sklearn_is_patched("rbf_kernel")
    with fastml.sklearn_patched(n for n in ["KernelRidge"]):
        assert fastml.sklearn_is_patched("KernelRidge")
    assert not fastml.sklearn_is_patched("KernelRidge")


@pytest.mark.parametrize("func", [fastml.patch_sklearn, fastml.unpatch_sklearn,
                                  fastml.sklearn_is_patched])
def test_bad_names_are_clear_errors(unpatched, func):
    with pytest.raises(TypeError, match=r"names must be a name \(str\), an iterable of "
                                        r"names or None, got int 5"):
        func(5)
    with pytest.raises(TypeError, match="names must be str, got int 5"):
        func(["NearestNeighbors", 5])
    with pytest.raises(ValueError, match="'NoSuch' is not a patchable name") as err:
        func("NoSuch")
    # each function says what it cannot do (unpatch_sklearn("NoSuch") is not "Cannot patch")
    verb = {fastml.patch_sklearn: "Cannot patch: 'NoSuch'",
            fastml.unpatch_sklearn: "Cannot unpatch: 'NoSuch'",
            fastml.sklearn_is_patched: "sklearn_is_patched: 'NoSuch'"}[func]
    assert str(err.value).startswith(verb), str(err.value)
    assert "get_patch_names" in str(err.value)
    assert not fastml.sklearn_is_patched()


def test_unpatch_reports_what_it_restored(unpatched, capsys):
    fastml.patch_sklearn("TSNE")
    fastml.unpatch_sklearn(verbose=True)
    assert capsys.readouterr().out.strip() == "fastml: restored scikit-learn's TSNE"
    fastml.unpatch_sklearn("TSNE", verbose=True)
    assert "nothing to restore" in capsys.readouterr().out


# -- scikit-learn's models -----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(fastml._patch._CONSUMERS))
def test_each_model_is_patched_and_restored_exactly(unpatched, name):
    entries = fastml._patch._PATCH_MAP[name]
    before = {(m, a): getattr(importlib.import_module(m), a) for m, a, _ in entries}
    fastml.patch_sklearn(name)
    assert fastml.sklearn_is_patched(name)
    for mod_name, attr, fast_mod in entries:
        value = getattr(sys.modules[mod_name], attr)
        assert value is getattr(importlib.import_module(fast_mod), attr), (mod_name, attr)
    others = [n for n in fastml.get_patch_names() if n != name and not (
        {(m, a) for m, a, _ in fastml._patch._PATCH_MAP[n]} & set(before))]
    assert not any(fastml.sklearn_is_patched(n) for n in others)
    fastml.unpatch_sklearn(name)
    assert not fastml.sklearn_is_patched()
    for (mod_name, attr), value in before.items():
        assert getattr(sys.modules[mod_name], attr) is value, (mod_name, attr)
        assert not value.__module__.startswith("fastml")


def test_models_sharing_a_module_are_restored_when_the_last_is_unpatched(unpatched):
    import sklearn.semi_supervised._label_propagation as lp

    original = lp.NearestNeighbors
    fastml.patch_sklearn(["LabelPropagation", "LabelSpreading"])
    fastml.unpatch_sklearn("LabelPropagation")
    assert lp.NearestNeighbors is fastml.neighbors.NearestNeighbors  # LabelSpreading's
    assert fastml.sklearn_is_patched("LabelSpreading")
    assert not fastml.sklearn_is_patched("LabelPropagation")
    fastml.unpatch_sklearn("LabelSpreading")
    assert lp.NearestNeighbors is original


def test_a_module_imported_while_patched_keeps_no_fastml_object(unpatched):
    """A scikit-learn module that binds patched names by its imports (simulated: a
    module created while patched) gets scikit-learn's objects back at unpatch, and
    fastml's again at the next patch."""
    name = "sklearn._fastml_test_consumer"
    fastml.patch_sklearn()
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec("from sklearn.neighbors import NearestNeighbors as NN\n"
             "from sklearn.metrics import pairwise_distances\n"
             "from sklearn.cluster import DBSCAN\n", module.__dict__)
        assert module.NN is fastml.neighbors.NearestNeighbors
        fastml.unpatch_sklearn()
        assert module.NN is sklearn.neighbors.NearestNeighbors
        assert not module.NN.__module__.startswith("fastml")
        assert module.pairwise_distances is sklearn.metrics.pairwise_distances
        assert module.DBSCAN.__module__ == "sklearn.cluster._dbscan"
        assert not fastml.sklearn_is_patched()
        fastml.patch_sklearn()
        assert module.NN is fastml.neighbors.NearestNeighbors
        assert module.DBSCAN.__module__ == "fastml.cluster._dbscan"
        # kept while a patched place still uses the object, restored with the last one
        fastml.unpatch_sklearn("NearestNeighbors")
        assert module.NN is fastml.neighbors.NearestNeighbors  # TSNE, OPTICS, ... use it
        fastml.unpatch_sklearn()
        assert module.NN is sklearn.neighbors.NearestNeighbors
    finally:
        del sys.modules[name]


def test_fresh_interpreter_modules_imported_while_patched_are_restored():
    """In a new interpreter: models' modules and others (feature selection, the
    estimator checks) imported only after patch_sklearn() hold no fastml object after
    unpatch_sklearn()."""
    code = textwrap.dedent("""
        import sys
        import fastml
        fastml.patch_sklearn()
        import sklearn.cluster._dbscan, sklearn.manifold._isomap
        import sklearn.feature_selection._mutual_info as mi
        import sklearn.utils._test_common.instance_generator
        assert mi.NearestNeighbors is fastml.neighbors.NearestNeighbors
        fastml.unpatch_sklearn()
        assert not fastml.sklearn_is_patched()
        left = sorted(f"{n}.{a}" for n, m in list(sys.modules.items())
                      if n == "sklearn" or n.startswith("sklearn.")
                      for a, v in vars(m).items()
                      if getattr(v, "__module__", None) and str(v.__module__).startswith("fastml")
                      and (isinstance(v, type) or callable(v)))
        assert not left, left
        fastml.patch_sklearn()
        assert mi.NearestNeighbors is fastml.neighbors.NearestNeighbors
        assert sklearn.cluster.DBSCAN is fastml.cluster.DBSCAN
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
