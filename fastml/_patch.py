"""``patch_sklearn()``: make scikit-learn's own names use fastml.

After ``fastml.patch_sklearn()``, ``from sklearn.neighbors import KNeighborsClassifier``
(or ``sklearn.metrics.pairwise_distances``, ...) gives fastml's namesake, so existing
code speeds up without edits; ``unpatch_sklearn()`` restores scikit-learn's objects and
``sklearn_patched()`` does both around a block. As in scikit-learn-intelex's dispatcher,
patching replaces module attributes, so it affects imports made after the call (and
attribute look-ups such as ``sklearn.neighbors.KNeighborsClassifier``); names a module
already bound with ``from ... import`` before patching keep scikit-learn's object.

fastml's replacements fall back to scikit-learn's original code (captured when fastml is
imported, never the patched name) for everything they do not accelerate.
"""
import importlib
from contextlib import contextmanager

__all__ = ["get_patch_names", "patch_sklearn", "sklearn_is_patched", "sklearn_patched",
           "unpatch_sklearn"]

_NEIGHBORS = ("NearestNeighbors", "KNeighborsClassifier", "KNeighborsRegressor",
              "KNeighborsTransformer", "RadiusNeighborsClassifier",
              "RadiusNeighborsRegressor", "RadiusNeighborsTransformer", "kneighbors_graph",
              "radius_neighbors_graph")
_KERNELS = ("linear_kernel", "polynomial_kernel", "rbf_kernel", "laplacian_kernel",
            "sigmoid_kernel", "cosine_similarity", "chi2_kernel", "additive_chi2_kernel")

#: patch name -> [(scikit-learn module, attribute, fastml module)], one entry per place
#: the name is importable from
_PATCH_MAP = {
    **{name: [("sklearn.neighbors", name, "fastml.neighbors")] for name in _NEIGHBORS},
    "pairwise_distances": [("sklearn.metrics", "pairwise_distances", "fastml.metrics"),
                           ("sklearn.metrics.pairwise", "pairwise_distances",
                            "fastml.metrics")],
    "pairwise_kernels": [("sklearn.metrics", "pairwise_kernels", "fastml.metrics"),
                         ("sklearn.metrics.pairwise", "pairwise_kernels", "fastml.metrics")],
    **{name: [("sklearn.metrics.pairwise", name, "fastml.metrics")] for name in _KERNELS},
    "KernelRidge": [("sklearn.kernel_ridge", "KernelRidge", "fastml.kernel_ridge")],
    **{name: [("sklearn.svm", name, "fastml.svm")]
       for name in ("SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM")},
}

# (module, attribute) -> scikit-learn's original object, while patched
_ORIGINALS = {}


def get_patch_names():
    """The names :func:`patch_sklearn` can patch.

    Returns
    -------
    names : list of str
        Estimator and function names, e.g. ``"KNeighborsClassifier"``.

    Examples
    --------
    >>> from fastml import get_patch_names
    >>> "KNeighborsClassifier" in get_patch_names()
    True
    """
    return sorted(_PATCH_MAP)


def _targets(names):
    if names is None:
        return list(_PATCH_MAP)
    if isinstance(names, str):
        names = [names]
    unknown = sorted(set(names) - set(_PATCH_MAP))
    if unknown:
        raise ValueError(f"Cannot patch {unknown}: fastml patches {get_patch_names()}.")
    return list(names)


def patch_sklearn(names=None, *, verbose=False):
    """Replace scikit-learn's estimators and functions by fastml's namesakes.

    Parameters
    ----------
    names : str, list of str or None, default=None
        What to patch (see :func:`get_patch_names`); None patches everything.
    verbose : bool, default=False
        Print one line saying what was patched.

    Returns
    -------
    None

    Examples
    --------
    >>> import fastml
    >>> fastml.patch_sklearn()
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> KNeighborsClassifier.__module__
    'fastml.neighbors._classification'
    >>> fastml.unpatch_sklearn()
    """
    names = _targets(names)
    for name in names:
        for mod_name, attr, fast_mod in _PATCH_MAP[name]:
            module = importlib.import_module(mod_name)
            replacement = getattr(importlib.import_module(fast_mod), attr)
            key = (mod_name, attr)
            if key not in _ORIGINALS:
                _ORIGINALS[key] = getattr(module, attr)
            setattr(module, attr, replacement)
    if verbose:
        print(f"fastml: patched scikit-learn's {', '.join(sorted(names))}")


def unpatch_sklearn(names=None):
    """Restore scikit-learn's own estimators and functions.

    Parameters
    ----------
    names : str, list of str or None, default=None
        What to restore; None restores everything patched.

    Returns
    -------
    None

    Examples
    --------
    >>> import fastml, sklearn.neighbors
    >>> fastml.patch_sklearn("NearestNeighbors"); fastml.unpatch_sklearn()
    >>> sklearn.neighbors.NearestNeighbors.__module__
    'sklearn.neighbors._unsupervised'
    """
    for name in _targets(names):
        for mod_name, attr, _ in _PATCH_MAP[name]:
            original = _ORIGINALS.pop((mod_name, attr), None)
            if original is not None:
                setattr(importlib.import_module(mod_name), attr, original)


def sklearn_is_patched(name=None):
    """True if ``name`` (or, with None, any name) is currently patched.

    Parameters
    ----------
    name : str or None, default=None
        A name of :func:`get_patch_names`.

    Returns
    -------
    patched : bool

    Examples
    --------
    >>> from fastml import sklearn_is_patched
    >>> sklearn_is_patched()
    False
    """
    if name is None:
        return bool(_ORIGINALS)
    return any(key in _ORIGINALS for key in
               ((m, a) for m, a, _ in _PATCH_MAP[_targets(name)[0]]))


@contextmanager
def sklearn_patched(names=None):
    """Context manager: scikit-learn's names use fastml inside the block.

    Parameters
    ----------
    names : str, list of str or None, default=None
        What to patch; None patches everything.

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np
    >>> from fastml import sklearn_patched
    >>> with sklearn_patched():
    ...     from sklearn.metrics import pairwise_distances
    ...     pairwise_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[0., 5.],
           [5., 0.]])
    """
    names = _targets(names)
    already = {n for n in names if sklearn_is_patched(n)}
    patch_sklearn([n for n in names if n not in already])
    try:
        yield
    finally:
        unpatch_sklearn([n for n in names if n not in already])
