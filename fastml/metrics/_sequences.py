"""Encoders of string and sequence inputs into flat arrays the compiled loops read.

Shared by the sequence metrics of :mod:`fastml.metrics` (``levenshtein``, ``hamming`` on
strings, ``dtw``) and by anything else that feeds sequences to compiled code. Each
encoder validates item by item and raises errors that name the argument and the item.
"""
import numpy as np


class StringInputError(ValueError, TypeError):
    """Strings given to a numeric metric (a ValueError, as scikit-learn raises, and a
    TypeError, as fastml raised before)."""


__all__ = ["StringInputError", "check_sequence_container", "encode_frames", "encode_symbols",
           "holds_strings", "reject_strings_for_numeric", "string_codes_matrix"]


def holds_strings(X):
    """True if X is a sequence whose items are str (or a numpy str array)."""
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "US" or (X.dtype.kind == "O" and X.size > 0
                                        and isinstance(X.flat[0], str))
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return isinstance(X[0], str)
    return False


def check_sequence_container(X, name, metric):
    if X is None:
        raise TypeError(f"{name} must be a sequence of items for metric={metric!r}, got None.")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{name} is a single {type(X).__name__}; metric={metric!r} needs a sequence "
            f"of items, e.g. [{X!r}]."
        )
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind not in "OUS":
        items = list(X)
    else:
        try:
            items = list(X)
        except TypeError:
            raise TypeError(
                f"{name} must be a sequence (list, tuple, 1-D array) of items for "
                f"metric={metric!r}, got {type(X).__name__}."
            ) from None
    if len(items) == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required "
            f"by {name} for metric={metric!r}."
        )
    return items


def encode_symbols(X, Y, names=("X", "Y"), metric="levenshtein"):
    """Levenshtein input -> ((symbols uint32, offsets int64) for X, same for Y or None).

    ``str`` items become their code points; 1-D integer arrays are mapped jointly (X and
    Y together) to dense uint32 codes, so any integer values work.
    """
    groups = [check_sequence_container(A, nm, metric) for A, nm in zip((X, Y), names)
              if A is not None]
    first = groups[0][0]
    if isinstance(first, str):
        for items, nm in zip(groups, names):
            for i, s in enumerate(items):
                if not isinstance(s, str):
                    raise TypeError(
                        f"{nm}[{i}] is a {type(s).__name__}, but {names[0]}[0] is a str: "
                        f"metric={metric!r} compares items of one kind, all str or all "
                        "1-D integer arrays."
                    )
        out = []
        for items in groups:
            lens = np.fromiter((len(s) for s in items), dtype=np.int64, count=len(items))
            off = np.zeros(len(items) + 1, dtype=np.int64)
            np.cumsum(lens, out=off[1:])
            sym = np.frombuffer("".join(items).encode("utf-32-le", "surrogatepass"),
                                dtype=np.uint32)
            out.append((np.ascontiguousarray(sym), off))
        return out[0], (out[1] if len(out) > 1 else None)
    arrays = []
    for items, nm in zip(groups, names):
        conv = []
        for i, s in enumerate(items):
            if isinstance(s, str):
                raise TypeError(
                    f"{nm}[{i}] is a str, but {names[0]}[0] is not: metric={metric!r} "
                    "compares items of one kind, all str or all 1-D integer arrays."
                )
            a = np.asarray(s)
            if a.ndim == 1 and a.size == 0:
                a = np.zeros(0, dtype=np.int64)  # an empty sequence ([] is float64)
            if a.ndim != 1 or a.dtype.kind not in "iub":
                raise TypeError(
                    f"{nm}[{i}] must be a str or a 1-D integer array for "
                    f"metric={metric!r}, got {type(s).__name__}"
                    + (f" with dtype {a.dtype} and shape {a.shape}" if a.dtype.kind != "O"
                       else "") + "."
                )
            conv.append(a)
        arrays.append(conv)
    # one integer type for all: int64, unless uint64 values beyond it need exact ints
    huge = any(a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max
               for conv in arrays for a in conv)
    arrays = [[a.astype(object if huge else np.int64, copy=False) for a in conv]
              for conv in arrays]
    lens = [np.array([len(a) for a in conv], dtype=np.int64) for conv in arrays]
    flat = np.concatenate([a for conv in arrays for a in conv] or [np.zeros(0, np.int64)])
    _, codes = np.unique(flat, return_inverse=True)
    codes = codes.astype(np.uint32).ravel()
    out, pos = [], 0
    for ln in lens:
        off = np.zeros(len(ln) + 1, dtype=np.int64)
        np.cumsum(ln, out=off[1:])
        out.append((np.ascontiguousarray(codes[pos:pos + off[-1]]), off))
        pos += off[-1]
    return out[0], (out[1] if len(out) > 1 else None)


def encode_frames(X, Y, names=("X", "Y")):
    """DTW input -> ((frames (N, dim), offsets) for X, same for Y or None), one dtype."""
    groups = [check_sequence_container(A, nm, "dtw") for A, nm in zip((X, Y), names)
              if A is not None]
    conv_groups, dims, all32 = [], set(), True
    for items, nm in zip(groups, names):
        conv = []
        for i, s in enumerate(items):
            if isinstance(s, (str, bytes)):
                raise TypeError(f"{nm}[{i}] is a str; metric='dtw' compares numeric "
                                "sequences (1-D or 2-D float arrays).")
            a = np.asarray(s)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{nm}[{i}] has dtype {a.dtype}; metric='dtw' needs real "
                                "numbers.")
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2:
                raise ValueError(f"{nm}[{i}] has shape {a.shape}; metric='dtw' needs 1-D "
                                 "(n,) or 2-D (n, dim) sequences.")
            if a.shape[0] == 0 or a.shape[1] == 0:
                raise ValueError(f"{nm}[{i}] is empty (shape {a.shape}); DTW needs at least "
                                 "one frame of at least one value.")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{nm}[{i}] contains NaN or infinity.")
            all32 = all32 and a.dtype == np.float32
            dims.add(a.shape[1])
            conv.append(a)
        conv_groups.append(conv)
    if len(dims) > 1:
        raise ValueError(f"All sequences must have frames of one size for metric='dtw'; "
                         f"found frame sizes {sorted(dims)}.")
    dtype = np.float32 if all32 else np.float64
    out = []
    for conv in conv_groups:
        off = np.zeros(len(conv) + 1, dtype=np.int64)
        np.cumsum([a.shape[0] for a in conv], out=off[1:])
        frames = np.ascontiguousarray(np.concatenate(conv).astype(dtype, copy=False))
        out.append((frames, off))
    return out[0], (out[1] if len(out) > 1 else None)


def string_codes_matrix(X, Y, names=("X", "Y")):
    """Equal-length strings -> float32 (n, L) code-point matrices (exact below 2^24)."""
    out, L = [], None
    for A, nm in zip((X, Y), names):
        if A is None:
            out.append(None)
            continue
        items = check_sequence_container(A, nm, "hamming")
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise TypeError(f"{nm}[{i}] is a {type(s).__name__}; metric='hamming' on "
                                "strings needs every item to be a str.")
            if L is None:
                L = len(s)
            elif len(s) != L:
                raise ValueError(
                    f"{nm}[{i}] has length {len(s)} but the strings before it have length "
                    f"{L}: the Hamming distance needs strings of equal length (use "
                    "metric='levenshtein' for strings of different lengths)."
                )
        sym = np.frombuffer("".join(items).encode("utf-32-le", "surrogatepass"),
                            dtype=np.uint32)
        out.append(np.ascontiguousarray(sym.reshape(len(items), L).astype(np.float32)))
    return out[0], out[1], L


def reject_strings_for_numeric(X, name, metric):
    strings = holds_strings(X)
    if not strings and isinstance(X, (list, tuple)) and len(X) and isinstance(
            X[0], (list, tuple)) and len(X[0]) and isinstance(X[0][0], str):
        strings = True  # rows of str
    if strings:
        raise StringInputError(
            f"{name} holds strings, but metric={metric!r} is numeric. For strings use "
            "metric='levenshtein' (any lengths) or metric='hamming' (equal lengths)."
        )
