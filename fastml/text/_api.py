"""Character p-gram string kernels (presence, spectrum, intersection) and p-gram counts.

For strings s, t and the character p-grams v (p in ``ngram_range``, characters are Unicode
code points):

* presence:     k(s, t) = sum_v [v in s] [v in t]
* spectrum:     k(s, t) = sum_v num_v(s) num_v(t)
* intersection: k(s, t) = sum_v min(num_v(s), num_v(t))

summed over p = p1..p2 (the blended kernel), optionally normalised to
k(s, t) / sqrt(k(s, s) k(t, t)) (a string with no p-gram gives a zero row, never NaN).

All texts of a call are interned into exact integer p-gram ids in one pass (no silent hash
collisions); each kernel is then an inverted-index sparse product computed by the compiled
core (``_string_kernel.pyx``) over OpenMP threads with the GIL released. Memory is
proportional to the total number of p-grams plus the |A| x |B| result.

References (ideas, no code taken): R. T. Ionescu, M. Popescu and A. Cahill, "Can
characters reveal your native language? A language-independent approach to native
language identification", EMNLP 2014 (presence bits and intersection string kernels,
blended over a p range, with Kernel Ridge Regression); J. Shawe-Taylor and N.
Cristianini, "Kernel Methods for Pattern Analysis", 2004, ch. 11 (the p-spectrum kernel);
the inverted-index (postings) evaluation of sparse products is the classical one of
information retrieval.
"""
import numbers
import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from fastml.metrics.pairwise import inv_sqrt_diagonal
from fastml.text import _string_kernel as _fast
from fastml.utils import effective_n_threads

KINDS = {"presence": _fast.KIND_PRESENCE, "spectrum": _fast.KIND_SPECTRUM,
         "intersection": _fast.KIND_INTERSECTION}
_WHITESPACE = re.compile(r"\s+")


# ----------------------------------------------------------------------------------------
# Validation at the boundary
# ----------------------------------------------------------------------------------------
def check_ngram_range(ngram_range, name="ngram_range"):
    """An int p means (p, p); a pair (p1, p2) needs 1 <= p1 <= p2. Returns (p1, p2)."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))

    if is_int(ngram_range):
        p1 = p2 = int(ngram_range)
    elif (isinstance(ngram_range, (tuple, list)) and len(ngram_range) == 2
          and all(is_int(v) for v in ngram_range)):
        p1, p2 = int(ngram_range[0]), int(ngram_range[1])
    else:
        raise TypeError(
            f"{name} must be an int p or a pair of ints (p1, p2), got {ngram_range!r}."
        )
    if p1 <= 0 or p2 <= 0:
        raise ValueError(
            f"{name} must hold p-gram lengths >= 1, got {ngram_range!r}; e.g. (3, 5)."
        )
    if p1 > p2:
        raise ValueError(
            f"{name}=(p1, p2) needs p1 <= p2, got {ngram_range!r}; did you mean "
            f"({p2}, {p1})?"
        )
    return p1, p2


def check_texts(texts, name="X"):
    """A collection of str (list, tuple, 1-D array, Series, any iterable) -> list of str.

    A single str/bytes, None, non-str elements (bytes, None, numbers) and an empty
    collection raise, naming ``name`` (and the index of the bad element)."""
    if texts is None:
        raise TypeError(f"{name} must be a list of str (one text per sample), got None.")
    if isinstance(texts, (str, bytes, bytearray)):
        raise TypeError(
            f"{name} must be a list of str (one text per sample), got a single "
            f"{type(texts).__name__}; wrap it in a list: [{name}]."
        )
    if sp.issparse(texts):
        raise TypeError(f"{name} must be a list of str, got a sparse matrix.")
    ndim = getattr(texts, "ndim", None)  # numpy arrays, pandas Series / DataFrames
    if ndim is not None and ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D collection of str, got a {type(texts).__name__} of shape "
            f"{getattr(texts, 'shape', '?')}; pass one column, e.g. df['text']."
        )
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D collection of str, got an array of shape "
                f"{texts.shape}."
            )
        texts = texts.tolist()
    elif not isinstance(texts, list):
        try:
            texts = list(texts)
        except TypeError:
            raise TypeError(
                f"{name} must be a list of str (one text per sample), got "
                f"{type(texts).__name__}."
            ) from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = " Decode bytes first, e.g. b.decode('utf-8')." if isinstance(
                t, (bytes, bytearray)) else ""
            raise TypeError(
                f"{name}[{i}] is a {type(t).__name__} ({t!r:.40}), but string kernels need "
                f"str elements.{hint}"
            )
    if not texts:
        raise ValueError(f"{name} is empty: at least one text is required.")
    return texts


def _check_kind(kind):
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}.")
    return KINDS[kind]


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    if dt is None or dt.type not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}.")
    return dt


# ----------------------------------------------------------------------------------------
# Shared steps
# ----------------------------------------------------------------------------------------
def _preprocess(texts, lowercase, collapse_whitespace):
    if lowercase:
        texts = [t.lower() for t in texts]
    if collapse_whitespace:
        texts = [_WHITESPACE.sub(" ", t) for t in texts]
    return texts


def _encode(texts):
    """One uint32 buffer of code points (lone surrogates kept as their code unit) and the
    int64 offsets of the documents in it."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), out=offsets[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return codes, offsets


def _intern(texts, p1, p2, n_threads):
    codes, offsets = _encode(texts)
    # no text has p-grams longer than the longest text: skip those p (so a huge p2 costs
    # nothing); a range beyond every text gives no feature at all
    max_len = int(np.diff(offsets).max())
    if p1 > max_len:
        empty = np.empty(0, dtype=np.int32)
        return (np.zeros(len(texts) + 1, dtype=np.int64), empty, empty,
                np.empty(0, dtype=np.int64), empty)
    return _fast.intern_ngrams(codes, offsets, p1, min(p2, max_len), n_threads)


def _self_similarity(indptr, counts, kind):
    """k(s, s) of every document of a CSR of (id, count) pairs (exact in float64)."""
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    c = counts.astype(np.float64)
    w = {0: None, 1: c * c, 2: c}[kind]
    return np.bincount(rows, weights=w, minlength=n).astype(np.float64)


def _kernel(A, B, p1, p2, kind, normalize, n_threads, dtype, diag_B=None):
    """K(A, B) on preprocessed, validated lists of str; B None means K(A, A)."""
    symmetric = B is None
    nA = len(A)
    indptr, ids, counts, first_pos, _ = _intern(A if symmetric else A + B, p1, p2, n_threads)
    n_features = first_pos.shape[0]
    if symmetric:
        a_ptr, a_ids, a_cnt = indptr, ids, counts
        b_ptr, b_ids, b_cnt = indptr, ids, counts
    else:
        cut = indptr[nA]
        a_ptr, a_ids, a_cnt = indptr[:nA + 1], ids[:cut], counts[:cut]
        b_ptr, b_ids, b_cnt = indptr[nA:] - cut, ids[cut:], counts[cut:]
    m = b_ptr.shape[0] - 1
    p_ptr, p_doc, p_cnt, entry_pos = _fast.build_postings(b_ptr, b_ids, b_cnt, n_features)
    out = np.empty((nA, m), dtype=dtype)
    acc = np.zeros((n_threads, m), dtype=np.int64 if kind == _fast.KIND_SPECTRUM else np.int32)
    if normalize:
        sx = inv_sqrt_diagonal(_self_similarity(a_ptr, a_cnt, kind))
        if symmetric:
            sy = sx
        else:
            sy = inv_sqrt_diagonal(_self_similarity(b_ptr, b_cnt, kind) if diag_B is None
                           else np.asarray(diag_B, dtype=np.float64))
    else:
        sx = sy = np.empty(0, dtype=np.float64)
    if symmetric:
        _fast.kernel_rows_symmetric(out, acc, a_ptr, a_ids, a_cnt, p_ptr, p_doc, p_cnt,
                                    entry_pos, sx, kind, normalize, n_threads)
    else:
        _fast.kernel_rows(out, acc, a_ptr, a_ids, a_cnt, p_ptr, p_doc, p_cnt, sx, sy, kind,
                          normalize, n_threads)
    return out


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------
def string_kernel(A, B=None, *, ngram_range=(3, 5), kind="presence", normalize=True,
                  lowercase=False, collapse_whitespace=False, n_jobs=None, dtype=np.float64):
    """The character p-gram string kernel matrix K[i, j] = k(A[i], B[j]).

    Parameters
    ----------
    A : list of str (or any 1-D collection of str)
    B : list of str, default=None
        None computes K(A, A), each pair once (the matrix is exactly symmetric).
    ngram_range : int or (p1, p2), default=(3, 5)
        The p-gram lengths; an int means one p, a range gives the blended kernel (the sum
        of the kernels of every p = p1..p2).
    kind : {"presence", "spectrum", "intersection"}, default="presence"
        presence: number of shared distinct p-grams; spectrum: sum of products of counts;
        intersection: sum of minima of counts.
    normalize : bool, default=True
        Divide by sqrt(k(a, a) k(b, b)); a text with no p-gram (empty, or shorter than
        p1) gives a zero row/column, never NaN. The diagonal of a normalised K(A, A) is
        exactly 1 for the other texts.
    lowercase, collapse_whitespace : bool, default=False
        Preprocessing: ``str.lower()``; every run of whitespace (``\\s+``) becomes one
        space.
    n_jobs : int, default=None
        Threads; None uses every usable core; the result does not depend on it.
    dtype : numpy.float64 or numpy.float32, default=numpy.float64

    Returns
    -------
    K : ndarray of shape (len(A), len(B)) (or (len(A), len(A))), dtype ``dtype``

    Examples
    --------
    >>> string_kernel(["pineapple pi"], ["apple pie"], ngram_range=2, normalize=False)
    array([[7.]])
    """
    p1, p2 = check_ngram_range(ngram_range)
    kind = _check_kind(kind)
    normalize = _check_bool(normalize, "normalize")
    lowercase = _check_bool(lowercase, "lowercase")
    collapse_whitespace = _check_bool(collapse_whitespace, "collapse_whitespace")
    dtype = _check_dtype(dtype)
    n_threads = effective_n_threads(n_jobs)
    A = _preprocess(check_texts(A, "A"), lowercase, collapse_whitespace)
    if B is not None:
        B = _preprocess(check_texts(B, "B"), lowercase, collapse_whitespace)
    return _kernel(A, B, p1, p2, kind, normalize, n_threads, dtype)


def char_ngrams(texts, ngram_range=(3, 5), binary=False, *, lowercase=False,
                collapse_whitespace=False, return_vocabulary=False, n_jobs=None):
    """The character p-gram count matrix of ``texts`` (scipy CSR, int64).

    The fast counterpart of ``CountVectorizer(analyzer="char", ngram_range=...,
    lowercase=False)`` on the same (preprocessed) texts, for linear models and
    ``MultinomialNB``. Columns are the distinct p-grams in first-seen order (indices
    sorted within each row); ``binary=True`` gives presence (0/1) instead of counts.
    Note that CountVectorizer always replaces runs of two or more whitespace characters
    by one space; ``collapse_whitespace=True`` replaces every whitespace run.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (len(texts), n_pgrams)
    vocabulary : list of str (column j is the p-gram vocabulary[j]); only with
        ``return_vocabulary=True``.
    """
    p1, p2 = check_ngram_range(ngram_range)
    binary = _check_bool(binary, "binary")
    lowercase = _check_bool(lowercase, "lowercase")
    collapse_whitespace = _check_bool(collapse_whitespace, "collapse_whitespace")
    return_vocabulary = _check_bool(return_vocabulary, "return_vocabulary")
    n_threads = effective_n_threads(n_jobs)
    texts = _preprocess(check_texts(texts, "texts"), lowercase, collapse_whitespace)
    indptr, ids, counts, first_pos, feat_p = _intern(texts, p1, p2, n_threads)
    data = np.ones(ids.shape[0], dtype=np.int64) if binary else counts.astype(np.int64)
    X = sp.csr_matrix((data, ids, indptr), shape=(len(texts), first_pos.shape[0]))
    X.has_sorted_indices = True
    if not return_vocabulary:
        return X
    joined = "".join(texts)
    vocabulary = [joined[s:s + p] for s, p in zip(first_pos.tolist(), feat_p.tolist())]
    return X, vocabulary


class StringKernel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Texts -> their string kernel against the training texts.

    ``fit(texts)`` keeps the training texts and their self-similarities;
    ``transform(texts)`` returns K(texts, training texts) (see :func:`string_kernel`);
    ``fit_transform`` computes the symmetric training kernel, each pair once. So
    ``make_pipeline(StringKernel((3, 5)), SVC(kernel="precomputed"))`` or
    ``... KernelRidgeClassifier(kernel="precomputed")`` trains and predicts on raw
    strings, inside ``GridSearchCV`` and ``cross_val_score``.

    Parameters
    ----------
    ngram_range, kind, normalize, lowercase, collapse_whitespace, n_jobs, dtype :
        as in :func:`string_kernel`.

    Attributes
    ----------
    texts_fit_ : list of str
        The training texts (after preprocessing).
    diag_fit_ : ndarray of shape (n_train,)
        Their self-similarities k(t, t) (not normalised).
    """

    def __init__(self, ngram_range=(3, 5), kind="presence", normalize=True, *,
                 lowercase=False, collapse_whitespace=False, n_jobs=None, dtype=np.float64):
        self.ngram_range = ngram_range
        self.kind = kind
        self.normalize = normalize
        self.lowercase = lowercase
        self.collapse_whitespace = collapse_whitespace
        self.n_jobs = n_jobs
        self.dtype = dtype

    def _params(self):
        p1, p2 = check_ngram_range(self.ngram_range)
        return dict(p1=p1, p2=p2, kind=_check_kind(self.kind),
                    normalize=_check_bool(self.normalize, "normalize"),
                    lowercase=_check_bool(self.lowercase, "lowercase"),
                    collapse=_check_bool(self.collapse_whitespace, "collapse_whitespace"),
                    n_threads=effective_n_threads(self.n_jobs),
                    dtype=_check_dtype(self.dtype))

    def _texts(self, X, prm):
        return _preprocess(check_texts(X, "X"), prm["lowercase"], prm["collapse"])

    def _set_fit(self, texts, prm):
        indptr, _, counts, _, _ = _intern(texts, prm["p1"], prm["p2"], prm["n_threads"])
        self.texts_fit_ = texts
        self.diag_fit_ = _self_similarity(indptr, counts, prm["kind"])
        self._n_features_out = len(texts)
        self._fit_key = (prm["p1"], prm["p2"], prm["kind"], prm["lowercase"],
                         prm["collapse"])

    def _fit_diagonal(self, prm):
        """diag_fit_ when it matches the current parameters; None (recomputed with the
        current ngram_range / kind) after set_params changed them. A changed
        preprocessing cannot be applied to the stored texts: that needs a refit."""
        key = getattr(self, "_fit_key", None)
        for name, idx, now in (("lowercase", 3, prm["lowercase"]),
                               ("collapse_whitespace", 4, prm["collapse"])):
            if key is not None and key[idx] != now:
                raise ValueError(
                    f"{name} is {now} but this StringKernel was fitted with {name}="
                    f"{key[idx]}; the training texts were preprocessed accordingly. Call "
                    "fit again after changing it.")
        if key is not None and key[:3] == (prm["p1"], prm["p2"], prm["kind"]):
            return self.diag_fit_
        return None

    def fit(self, X, y=None):
        """Keep the texts X (a list of str) and their self-similarities."""
        prm = self._params()
        self._set_fit(self._texts(X, prm), prm)
        return self

    def transform(self, X):
        """K(X, texts_fit_), shape (len(X), n_train)."""
        check_is_fitted(self)
        prm = self._params()
        diag = self._fit_diagonal(prm)
        return _kernel(self._texts(X, prm), self.texts_fit_, prm["p1"], prm["p2"],
                       prm["kind"], prm["normalize"], prm["n_threads"], prm["dtype"],
                       diag_B=diag)

    def fit_transform(self, X, y=None):
        """Fit on X and return K(X, X), computed with its symmetry."""
        prm = self._params()
        texts = self._texts(X, prm)
        self._set_fit(texts, prm)
        return _kernel(texts, None, prm["p1"], prm["p2"], prm["kind"], prm["normalize"],
                       prm["n_threads"], prm["dtype"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
