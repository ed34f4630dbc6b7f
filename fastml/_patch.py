"""``patch_sklearn()``: make scikit-learn's own names use fastml.

After ``fastml.patch_sklearn()``, ``from sklearn.neighbors import KNeighborsClassifier``
(or ``sklearn.metrics.pairwise_distances``, ...) gives fastml's namesake, so existing
code speeds up without edits; ``unpatch_sklearn()`` restores scikit-learn's objects and
``sklearn_patched()`` does both around a block. As in scikit-learn-intelex's dispatcher,
patching replaces module attributes, so it affects imports made after the call (and
attribute look-ups such as ``sklearn.neighbors.KNeighborsClassifier``); names a module
outside scikit-learn bound with ``from ... import`` before patching keep scikit-learn's
object.

scikit-learn's models that spend their time in neighbour searches or kernels (DBSCAN,
OPTICS, LocalOutlierFactor, Isomap, TSNE, ...) are patched deliberately, each by one of
two means (:data:`_CONSUMERS`): fastml's class of the same name replaces scikit-learn's
where the model takes parameters scikit-learn's class refuses (DBSCAN and
LocalOutlierFactor with fastml's sequence metrics, KernelPCA with fastml's kernels) or
where its time is in a loop no swapped name reaches (KNNImputer's donor selection); the
others keep scikit-learn's class, and the module defining it gets fastml's search and
kernel functions in place of the names it imported. Every replacement is recorded and
undone exactly; a scikit-learn module first imported while patched (so bound fastml's
objects by its own imports) is found and restored too, so after ``unpatch_sklearn()``
no scikit-learn module keeps a fastml object, and re-patching gives it fastml's again.

fastml's replacements fall back to scikit-learn's original code (captured when fastml is
imported, never the patched name) for everything they do not accelerate.
"""
import importlib
import sys
from contextlib import contextmanager

__all__ = ["get_patch_names", "patch_sklearn", "sklearn_is_patched", "sklearn_patched",
           "unpatch_sklearn"]

_NEIGHBORS = ("NearestNeighbors", "KNeighborsClassifier", "KNeighborsRegressor",
              "KNeighborsTransformer", "RadiusNeighborsClassifier",
              "RadiusNeighborsRegressor", "RadiusNeighborsTransformer", "kneighbors_graph",
              "radius_neighbors_graph")

#: patch name -> [(scikit-learn module, attribute, fastml module)], one entry per place
#: the name is importable from; the kernel functions are added from the kernel registry
#: on first use (:func:`_patch_map`)
_PATCH_MAP = {
    **{name: [("sklearn.neighbors", name, "fastml.neighbors")] for name in _NEIGHBORS},
    "pairwise_distances": [("sklearn.metrics", "pairwise_distances", "fastml.metrics"),
                           ("sklearn.metrics.pairwise", "pairwise_distances",
                            "fastml.metrics")],
    "pairwise_kernels": [("sklearn.metrics", "pairwise_kernels", "fastml.metrics"),
                         ("sklearn.metrics.pairwise", "pairwise_kernels", "fastml.metrics")],
    "KernelRidge": [("sklearn.kernel_ridge", "KernelRidge", "fastml.kernel_ridge")],
    **{name: [("sklearn.svm", name, "fastml.svm")]
       for name in ("SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM")},
}


def _references(module, **names):
    """Entries giving ``module`` fastml's objects in place of the names it imported:
    ``name="fastml.module"`` for each name."""
    return [(module, attr, fast_module) for attr, fast_module in names.items()]


_NN, _METRICS = "fastml.neighbors", "fastml.metrics"

#: scikit-learn's models that spend their time in fastml's loops, in the same form as
#: _PATCH_MAP. A fastml class of the same name where the model takes parameters
#: scikit-learn's class refuses (sequence metrics, fastml's kernels); else the model's
#: module gets fastml's search / kernel functions in place of the names it imported
#: (why, per model: docs/architecture.md, "Patching scikit-learn's models").
_CONSUMERS = {
    "DBSCAN": [("sklearn.cluster", "DBSCAN", "fastml.cluster"),
               # dbscan() builds the DBSCAN of its own module
               ("sklearn.cluster._dbscan", "DBSCAN", "fastml.cluster")],
    "LocalOutlierFactor": [("sklearn.neighbors", "LocalOutlierFactor", _NN)],
    "KernelPCA": [("sklearn.decomposition", "KernelPCA", "fastml.decomposition")],
    "OPTICS": _references("sklearn.cluster._optics", NearestNeighbors=_NN),
    "Isomap": _references("sklearn.manifold._isomap", NearestNeighbors=_NN,
                          kneighbors_graph=_NN, radius_neighbors_graph=_NN),
    # its neighbour graph (method="exact" keeps scikit-learn's full distance matrix: its
    # O(n^2) gradient steps dominate, and its tests ask for scikit-learn's rounding)
    "TSNE": _references("sklearn.manifold._t_sne", NearestNeighbors=_NN),
    "SpectralClustering": _references("sklearn.cluster._spectral", NearestNeighbors=_NN,
                                      kneighbors_graph=_NN, pairwise_kernels=_METRICS),
    "SpectralEmbedding": _references("sklearn.manifold._spectral_embedding",
                                     NearestNeighbors=_NN, kneighbors_graph=_NN,
                                     rbf_kernel=_METRICS),
    "Nystroem": _references("sklearn.kernel_approximation", pairwise_kernels=_METRICS),
    # fastml's class: scikit-learn's transform spends its time in a per-column pass over
    # the whole distance chunk; its module gets fastml's nan_euclidean chunks too (what
    # scikit-learn's transform runs on for the cases fastml's class hands back to it)
    "KNNImputer": [("sklearn.impute", "KNNImputer", "fastml.impute"),
                   ("sklearn.impute._knn", "KNNImputer", "fastml.impute"),
                   ("sklearn.impute._knn", "pairwise_distances_chunked",
                    "fastml.metrics._nan_euclidean")],
    # one module defines both (their shared base class builds the graph or kernel)
    "LabelPropagation": _references("sklearn.semi_supervised._label_propagation",
                                    NearestNeighbors=_NN, rbf_kernel=_METRICS),
    "LabelSpreading": _references("sklearn.semi_supervised._label_propagation",
                                  NearestNeighbors=_NN, rbf_kernel=_METRICS),
}
_PATCH_MAP.update(_CONSUMERS)
_KERNELS_ADDED = False


def _patch_map():
    """:data:`_PATCH_MAP` with every kernel function of fastml's kernel registry that
    ``sklearn.metrics.pairwise`` also defines (read when first needed: ``import fastml``
    does not load the kernels)."""
    global _KERNELS_ADDED
    if not _KERNELS_ADDED:
        import sklearn.metrics.pairwise as skp

        from fastml.metrics import _registry

        _PATCH_MAP.update({name: [("sklearn.metrics.pairwise", name, "fastml.metrics")]
                           for name in _registry.kernel_function_names()
                           if hasattr(skp, name)})
        _KERNELS_ADDED = True
    return _PATCH_MAP

# (module, attribute) -> scikit-learn's object there, while patched
_ORIGINALS = {}
# (module, attribute) -> the patch names that need fastml's object there (names may share
# a place: LabelPropagation and LabelSpreading); restored when the last one is unpatched
_HOLDERS = {}
# id(fastml object) -> (fastml object, scikit-learn's object it stands for)
_STANDS_FOR = {}
# (module, attribute) -> fastml object, for scikit-learn modules that had bound a fastml
# object by their own imports while patched: restored at unpatch, given back at patch
_INCIDENTAL = {}


def get_patch_names():
    """The names :func:`patch_sklearn` can patch.

    Returns
    -------
    names : list of str
        Estimator and function names, e.g. ``"KNeighborsClassifier"``, ``"DBSCAN"``.

    Examples
    --------
    >>> from fastml import get_patch_names
    >>> "KNeighborsClassifier" in get_patch_names() and "DBSCAN" in get_patch_names()
    True
    """
    return sorted(_patch_map())


def _targets(names, caller):
    """``names`` as a list of patchable names (any iterable is read once)."""
    if names is None:
        return list(_patch_map())
    if isinstance(names, str):
        names = [names]
    else:
        try:
            names = list(names)
        except TypeError:
            raise TypeError(
                f"{caller}: names must be a name (str), an iterable of names or None, got "
                f"{type(names).__name__} {names!r}.") from None
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"{caller}: names must be str, got {type(bad[0]).__name__} "
                        f"{bad[0]!r}.")
    unknown = sorted(set(names) - set(_patch_map()))
    if unknown:
        listed = ", ".join(map(repr, unknown))
        what = "is not a patchable name" if len(unknown) == 1 else "are not patchable names"
        prefix = {"patch_sklearn": "Cannot patch: ",
                  "unpatch_sklearn": "Cannot unpatch: "}.get(caller, f"{caller}: ")
        raise ValueError(f"{prefix}{listed} {what}; fastml.get_patch_names() lists them: "
                         f"{get_patch_names()}.")
    return list(dict.fromkeys(names))


def _import_all():
    """Import every scikit-learn module of the map before anything is replaced, so that
    the models' modules bind scikit-learn's objects (not fastml's) by their imports."""
    for entries in _patch_map().values():
        for mod_name, _, _ in entries:
            importlib.import_module(mod_name)


def _replacement(mod_name, attr, fast_mod):
    return getattr(importlib.import_module(fast_mod), attr)


def _scikit_learn_object(obj):
    """scikit-learn's object ``obj`` stands for (``obj`` itself if it is not fastml's)."""
    known = _STANDS_FOR.get(id(obj))
    return known[1] if known is not None and known[0] is obj else obj


def _installed():
    """ids of the fastml objects installed at some patched place."""
    return {id(getattr(sys.modules[m], a)) for m, a in _ORIGINALS if m in sys.modules}


def _sklearn_modules():
    for name, module in list(sys.modules.items()):
        if (name == "sklearn" or name.startswith("sklearn.")) and module is not None:
            yield name, module


def patch_sklearn(names=None, *, verbose=False):
    """Replace scikit-learn's estimators and functions by fastml's namesakes.

    Parameters
    ----------
    names : str, iterable of str or None, default=None
        What to patch (see :func:`get_patch_names`); None patches everything. A model
        name (``"DBSCAN"``, ``"TSNE"``, ...) patches that model, not the neighbour or
        kernel names it uses (and vice versa).
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
    names = _targets(names, "patch_sklearn")
    _import_all()
    for name in names:
        for mod_name, attr, fast_mod in _patch_map()[name]:
            module = sys.modules[mod_name]
            replacement = _replacement(mod_name, attr, fast_mod)
            key = (mod_name, attr)
            if key not in _ORIGINALS:
                original = _scikit_learn_object(getattr(module, attr))
                _ORIGINALS[key] = original
                _STANDS_FOR[id(replacement)] = (replacement, original)
            _HOLDERS.setdefault(key, set()).add(name)
            setattr(module, attr, replacement)
    # modules that had bound fastml's objects while patched get them back
    live = _installed()
    for (mod_name, attr), obj in list(_INCIDENTAL.items()):
        module = sys.modules.get(mod_name)
        if id(obj) in live and module is not None:
            if getattr(module, attr, None) is _scikit_learn_object(obj):
                setattr(module, attr, obj)
            del _INCIDENTAL[(mod_name, attr)]
    if verbose:
        print(f"fastml: patched scikit-learn's {', '.join(sorted(names))}")


def unpatch_sklearn(names=None, *, verbose=False):
    """Restore scikit-learn's own estimators and functions.

    Every place patching changed gets scikit-learn's object back, and so does every
    scikit-learn module that bound one of fastml's objects by its own imports while
    patched, once no patched name uses that object any more.

    Parameters
    ----------
    names : str, iterable of str or None, default=None
        What to restore (see :func:`get_patch_names`); None restores everything patched.
    verbose : bool, default=False
        Print one line saying what was restored.

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
    names = _targets(names, "unpatch_sklearn")
    restored = [n for n in names if sklearn_is_patched(n)]
    for name in names:
        for mod_name, attr, _ in _patch_map()[name]:
            key = (mod_name, attr)
            holders = _HOLDERS.get(key)
            if holders is None:
                continue
            holders.discard(name)
            if not holders:
                del _HOLDERS[key]
                original = _ORIGINALS.pop(key)
                module = sys.modules.get(mod_name)
                if module is not None:
                    setattr(module, attr, original)
    _sweep()
    if verbose:
        print(f"fastml: restored scikit-learn's {', '.join(sorted(restored))}" if restored
              else "fastml: nothing to restore (none of these names was patched)")


def _sweep():
    """Give scikit-learn's objects back to scikit-learn modules that hold a fastml object
    no patched place uses any more (modules first imported while patched)."""
    live = _installed()
    for mod_name, module in _sklearn_modules():
        namespace = getattr(module, "__dict__", None)
        if namespace is None:
            continue
        for attr, value in list(namespace.items()):
            known = _STANDS_FOR.get(id(value))
            if known is None or known[0] is not value or id(value) in live \
                    or (mod_name, attr) in _ORIGINALS:
                continue
            setattr(module, attr, known[1])
            _INCIDENTAL[(mod_name, attr)] = value


def sklearn_is_patched(name=None):
    """True if ``name`` (or, with None, any name) is currently patched.

    Parameters
    ----------
    name : str or None, default=None
        A name of :func:`get_patch_names`.

    Returns
    -------
    patched : bool
        Whether scikit-learn currently has fastml's object at a place of ``name``.

    Examples
    --------
    >>> from fastml import sklearn_is_patched
    >>> sklearn_is_patched()
    False
    """
    names = _targets(name, "sklearn_is_patched")
    for n in names:
        for mod_name, attr, fast_mod in _patch_map()[n]:
            if (mod_name, attr) in _ORIGINALS and n in _HOLDERS.get((mod_name, attr), ()):
                module = sys.modules.get(mod_name)
                if module is not None and getattr(module, attr, None) is _replacement(
                        mod_name, attr, fast_mod):
                    return True
    return False


@contextmanager
def sklearn_patched(names=None):
    """Context manager: scikit-learn's names use fastml inside the block.

    Parameters
    ----------
    names : str, iterable of str or None, default=None
        What to patch; None patches everything. Names already patched stay patched
        after the block.

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
    names = _targets(names, "sklearn_patched")
    already = {n for n in names if sklearn_is_patched(n)}
    patch_sklearn([n for n in names if n not in already])
    try:
        yield
    finally:
        unpatch_sklearn([n for n in names if n not in already])
