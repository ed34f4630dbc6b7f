"""The registries of :mod:`fastml.metrics`: every distance metric and every kernel is
declared here once, and every caller (``pairwise_distances``, ``kneighbors``, the
neighbour and kernel estimators, error messages, documentation tables) reads them.

Adding a metric means adding one :class:`Metric` entry to :data:`METRICS`: its names,
parameter checks, the inputs it takes (numeric rows, sequences, or both), how sequences
are encoded, the matrix and kNN routines, and the scikit-learn name it falls back to.
Adding a kernel means one :func:`register_kernel` call next to the kernel function.
"""
import numbers
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from fastml.metrics import _knn, _matrix, _plans
from fastml.metrics import _nan_euclidean as _nan
from fastml.metrics import _sequences as _seq

# ----------------------------------------------------------------------------------------
# parameter checks (shared by the metrics that take the parameter)
# ----------------------------------------------------------------------------------------


def check_p(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number >= 1, got {p!r} of type {type(p).__name__}.")
    p = float(p)
    if np.isnan(p) or p < 1:
        raise ValueError(
            f"p must be >= 1 for the Minkowski distance, got p={p!r} (for p < 1 the "
            "triangle inequality fails: it is not a metric)."
        )
    return p


def check_window(window):
    if window is None:
        return -1
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise TypeError(
            f"window must be None or a non-negative int, got {window!r} of type "
            f"{type(window).__name__}."
        )
    if window < 0:
        raise ValueError(f"window must be None or >= 0 (a Sakoe-Chiba band), got {window}.")
    return int(window)


# ----------------------------------------------------------------------------------------
# metric specifications
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A metric parameter: its default and the check that returns the canonical value."""
    default: object
    check: Callable


@dataclass(frozen=True)
class SequenceRoute:
    """How a metric handles sequences of items (strings, integer or float sequences).

    ``accepts(X)`` says whether X is such input (for metrics that also take numeric rows);
    ``encode(X, Y, names)`` returns (A, B or None); ``count(A)`` the number of items;
    ``dtype(A)`` the result dtype; ``matrix(A, B, out, prm, n_threads)`` and
    ``knn(QA, FA, k, prm, n_threads)`` compute; ``strings``: it takes str items.
    """
    encode: Callable
    count: Callable
    dtype: Callable
    matrix: Callable
    knn: Callable
    accepts: Callable = None   # None: every input
    strings: bool = False   # takes str items (the estimator tag input_tags.string)


@dataclass(frozen=True)
class NumericRoute:
    """How a metric handles numeric rows: ``plan(prm)`` picks the
    :class:`~fastml.metrics._plans.Plan` that the matrix and kNN routines run;
    ``keep_bool``: boolean input is kept as is (bit-packed), not converted to float."""
    plan: Callable
    keep_bool: bool = False
    bool_only: bool = False   # computed only for boolean input (else scikit-learn's code)
    has_knn: bool = True      # the kNN engine ranks by it (else scikit-learn's search)
    # f(X, Y, out, prm, n_threads) for a metric that validates its own input (NaN is
    # data to it: nan_euclidean) and computes without a plan; out may be None
    compute: Optional[Callable] = None

    def matrix(self, X, Y, out, prm, n_threads):
        if self.compute is not None:
            return self.compute(X, Y, out, prm, n_threads)
        return _matrix.numeric_matrix(X, Y, out, self.plan(prm), n_threads)

    def knn(self, Q, F, k, prm, n_threads):
        if not self.has_knn:
            raise ValueError(
                f"fastml's kNN engine does not rank by {self.plan.__name__}; use "
                "fastml.neighbors.NearestNeighbors, which runs scikit-learn's search for it.")
        return _knn.knn_numeric(Q, F, k, self.plan(prm), n_threads)


@dataclass(frozen=True)
class Metric:
    name: str
    aliases: tuple = ()
    params: dict = field(default_factory=dict)
    numeric: Optional[NumericRoute] = None
    sequence: Optional[SequenceRoute] = None
    sklearn: Optional[str] = None   # scikit-learn's name of the same metric, if any

    def check_params(self, metric, params):
        """Checked parameters with defaults filled in; raises on unknown ones."""
        extra = sorted(set(params) - set(self.params))
        if extra:
            allowed = list(self.params)
            raise TypeError(
                f"metric={metric!r} got unexpected parameter(s) {extra}; it takes "
                f"{allowed if allowed else 'no parameters'}."
            )
        return {k: spec.check(params.get(k, spec.default)) for k, spec in self.params.items()}

    def __reduce__(self):
        # pickled by name: a fitted estimator's index refers to the registry entry
        return (get_metric, (self.name,))

    def is_sequence_input(self, X):
        """True if X goes through the sequence route of this metric."""
        if self.sequence is None:
            return False
        return self.numeric is None or self.sequence.accepts is None or \
            self.sequence.accepts(X)


def _encode_equal_length_strings(X, Y, names=("X", "Y")):
    A, B, _ = _seq.string_codes_matrix(X, Y, names=names)
    return A, B


def _count_offsets(A):
    return len(A[1]) - 1


def _count_rows(A):
    return A.shape[0]


def _int32(A):
    return np.int32


def _float64(A):
    return np.float64


def _frames_dtype(A):
    return A[0].dtype


_LEVENSHTEIN = SequenceRoute(
    encode=_seq.encode_symbols, count=_count_offsets, dtype=_int32,
    matrix=_matrix.levenshtein_matrix, knn=_knn.knn_levenshtein, strings=True)
_DTW = SequenceRoute(
    encode=_seq.encode_frames, count=_count_offsets, dtype=_frames_dtype,
    matrix=_matrix.dtw_matrix, knn=_knn.knn_dtw)
_HAMMING_STRINGS = SequenceRoute(
    encode=_encode_equal_length_strings, count=_count_rows,
    dtype=_float64, matrix=_matrix.hamming_strings_matrix,
    knn=_knn.knn_hamming_strings, accepts=_seq.holds_strings, strings=True)

_METRIC_LIST = [
    Metric("euclidean", aliases=("l2",), numeric=NumericRoute(_plans.euclidean),
           sklearn="euclidean"),
    Metric("sqeuclidean", numeric=NumericRoute(_plans.sqeuclidean), sklearn="sqeuclidean"),
    Metric("manhattan", aliases=("cityblock", "l1"), numeric=NumericRoute(_plans.manhattan),
           sklearn="manhattan"),
    Metric("minkowski", params={"p": Param(2, check_p)},
           numeric=NumericRoute(_plans.minkowski), sklearn="minkowski"),
    Metric("chebyshev", numeric=NumericRoute(_plans.chebyshev), sklearn="chebyshev"),
    Metric("cosine", numeric=NumericRoute(_plans.cosine), sklearn="cosine"),
    Metric("hamming", numeric=NumericRoute(_plans.hamming, keep_bool=True),
           sequence=_HAMMING_STRINGS, sklearn="hamming"),
    *[Metric(name, numeric=NumericRoute(_plans.boolean(name), keep_bool=True,
                                        bool_only=True, has_knn=False), sklearn=name)
      for name in _matrix.BOOLEAN_DISSIMILARITIES],
    # missing entries (NaN or missing_values) ignored, the rest weighted up; computed by
    # fastml.metrics._nan_euclidean, searched by scikit-learn's code
    Metric("nan_euclidean",
           params={"missing_values": Param(np.nan, _nan.check_missing_values),
                   "squared": Param(False, _nan.check_bool("squared")),
                   "copy": Param(True, _nan.check_bool("copy"))},
           numeric=NumericRoute(_nan.no_plan, has_knn=False, compute=_nan.matrix),
           sklearn="nan_euclidean"),
    Metric("levenshtein", sequence=_LEVENSHTEIN),
    Metric("dtw", params={"window": Param(None, check_window)}, sequence=_DTW),
]

#: canonical name -> Metric
METRICS = {m.name: m for m in _METRIC_LIST}
#: every accepted spelling (names and aliases) -> canonical name
METRIC_ALIASES = {**{m.name: m.name for m in _METRIC_LIST},
                  **{a: m.name for m in _METRIC_LIST for a in m.aliases}}
#: every metric name pairwise_distances and fastml.neighbors accept
DISTANCE_METRICS = tuple(sorted(METRIC_ALIASES))


def get_metric(metric):
    """The :class:`Metric` of a name or alias; raises TypeError / ValueError otherwise."""
    if not isinstance(metric, str):
        raise TypeError(
            f"metric must be a str, one of {list(DISTANCE_METRICS)}; got {metric!r} of "
            f"type {type(metric).__name__}."
        )
    name = METRIC_ALIASES.get(metric)
    if name is None:
        raise ValueError(f"Unknown metric {metric!r}; expected one of {list(DISTANCE_METRICS)}.")
    return METRICS[name]


def resolve_metric(metric, params):
    """(Metric, checked parameters) for a metric name and its keyword parameters."""
    spec = get_metric(metric)
    return spec, spec.check_params(metric, params)


def _numeric_array_like(A):
    """True for numeric ndarrays and for lists/tuples of numbers (no sparse matrices, no
    object arrays, no strings, no pandas extension types): what fastml's dense routines
    take."""
    if isinstance(A, np.ndarray):
        return A.dtype.kind in "fiub"
    if isinstance(A, (list, tuple)):
        return not _seq.holds_strings(A) and np.asarray(A).dtype.kind in "fiub"
    return False


def _boolean_matrix(A):
    return isinstance(A, np.ndarray) and A.dtype == np.bool_ and A.ndim == 2 and A.size > 0


def is_usable_for(X, Y, metric, params=None, *, knn=False):
    """Whether fastml's compiled numeric routines compute ``metric`` with ``params`` on
    ``X`` (and ``Y``, None for X with itself): ``(Metric, checked parameters)`` if so, else
    None, and the caller runs scikit-learn's code. The one answer for
    ``pairwise_distances``, the neighbour estimators and their index.

    No: a name the registry does not have or a callable; a metric without a numeric
    route, or (``knn=True``) without a kNN routine; parameters the metric does not take or
    whose values it refuses (p < 1, a weight vector ``w``; ``w=None`` is no weight);
    sparse or non-numeric data; for the boolean dissimilarities, data that are not
    non-empty 2-D boolean arrays (scikit-learn converts those, with a warning).
    ``X=None``: the answer for the metric and parameters alone.
    """
    if not isinstance(metric, str) or metric not in METRIC_ALIASES:
        return None
    spec = METRICS[METRIC_ALIASES[metric]]
    route = spec.numeric
    if route is None or (knn and not route.has_knn):
        return None
    params = {k: v for k, v in (params or {}).items() if not (k == "w" and v is None)}
    if set(params) - set(spec.params):
        return None
    try:
        prm = spec.check_params(metric, params)
    except (TypeError, ValueError):
        return None
    arrays = [A for A in (X, Y) if A is not None]
    if not all(_numeric_array_like(A) for A in arrays):
        return None
    if route.bool_only and not (X is not None and all(_boolean_matrix(A) for A in arrays)):
        return None
    return spec, prm


# ----------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------
#: how a kernel takes scipy CSR input (:attr:`Kernel.csr`)
CSR_NATIVE = "native"      # fastml's own loops on the sparse rows
CSR_SKLEARN = "sklearn"    # accepted; scikit-learn's function computes it


@dataclass(frozen=True)
class Kernel:
    """A kernel and every fact about it that callers, wrappers, messages and tables read.

    name, aliases
        The names ``pairwise_kernels`` accepts.
    function
        ``f(X, Y=None, *, n_jobs, out, **params)``; its ``__name__`` is the public name
        (``rbf_kernel``, ``cosine_similarity``) and its signature gives the parameters'
        defaults (read by the wrappers of :mod:`fastml.dask`).
    params
        The keyword parameters it takes (``gamma``, ``degree``, ``coef0``).
    csr
        :data:`CSR_NATIVE` (CSR computed by fastml's loops), :data:`CSR_SKLEARN` (CSR
        accepted, computed by scikit-learn's function) or None (dense input only).
    non_negative
        For kernels defined on non-negative data only: the kernel's name in the error
        raised for a negative entry; None for any real data.
    diag
        ``diag(X, params)``: k(x_i, x_i) per row in closed form (validated X).
    float32
        The dtype rule: float32 input gives a float32 result (else float64), as
        :func:`fastml.utils.validation.result_dtype`.
    """
    name: str
    function: Callable
    params: tuple = ()
    csr: Optional[str] = None
    non_negative: Optional[str] = None
    diag: Optional[Callable] = None
    float32: bool = True
    aliases: tuple = ()

    @property
    def function_name(self):
        return self.function.__name__


#: kernel name (and alias) -> Kernel, filled by fastml.metrics._kernels
KERNELS = {}


def register_kernel(name, function, *, params=(), csr=None, non_negative=None, diag=None,
                    float32=True, aliases=()):
    if csr not in (None, CSR_NATIVE, CSR_SKLEARN):
        raise ValueError(f"csr must be None, {CSR_NATIVE!r} or {CSR_SKLEARN!r}, got {csr!r}.")
    spec = Kernel(name, function, tuple(params), csr, non_negative, diag, float32,
                  tuple(aliases))
    for n in (name,) + spec.aliases:
        KERNELS[n] = spec
    return spec


def kernel_specs():
    """Every registered :class:`Kernel` once (aliases not repeated), in registration order."""
    seen = {}
    for spec in KERNELS.values():
        seen.setdefault(spec.name, spec)
    return list(seen.values())


def kernel_names():
    """Every kernel name pairwise_kernels accepts (besides "precomputed" and callables)."""
    return sorted(KERNELS)


def kernel_function_names():
    """The public names of the kernel functions (``linear_kernel``, ...), sorted."""
    return sorted(spec.function_name for spec in kernel_specs())


def csr_kernels(native_only=False):
    """Canonical names of the kernels that accept CSR input (``native_only``: those that
    fastml's own loops compute on CSR), in registration order."""
    return [spec.name for spec in kernel_specs()
            if spec.csr == CSR_NATIVE or (spec.csr is not None and not native_only)]


def non_negative_kernels():
    """Kernel name (and alias) -> its name in messages, for the kernels of non-negative
    data."""
    return {n: spec.non_negative for n, spec in KERNELS.items()
            if spec.non_negative is not None}


def unknown_kernel_message(what, value):
    """The one message for an unknown kernel (``what``: the argument's name)."""
    return (f"Unknown kernel {what}={value!r} is not supported; use one of "
            f"{kernel_names() + ['precomputed']}, a callable, or a list of "
            "(kernel, weight[, params]).")
