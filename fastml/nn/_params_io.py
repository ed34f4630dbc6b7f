"""Weights to and from files without pickle: safetensors or ``.npz``.

safetensors (the format of Hugging Face's ``safetensors`` package, read by PyTorch,
JAX, TensorFlow and numpy through that package): an 8-byte little-endian header
length N, N bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}`` (padded with spaces to a multiple of 8), then the
tensors' bytes, little-endian, C order, at their offsets. Written and read here with
numpy alone. ``.npz``: one array per name plus ``__metadata__``, a 0-d unicode array
holding the metadata's JSON (no object arrays, so ``numpy.load`` never unpickles).
"""
import json
import os
import struct

import numpy as np

__all__ = ["load", "save"]

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
_ST_NAMES = {np.dtype(v): k for k, v in _ST_DTYPES.items()}
_META_KEY = "__metadata__"
_MAX_HEADER = 100 * 1024 * 1024


def _format(path):
    name = os.fspath(path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(".npz"):
        return "npz"
    raise ValueError(f"path {name!r}: give a file name ending in .safetensors or .npz (the "
                     "format is chosen by the extension).")


def save(path, state, metadata):
    """Write ``state`` ({name: ndarray}) and ``metadata`` (a JSON-able dict)."""
    fmt = _format(path)
    meta_json = json.dumps(metadata)
    arrays = {}
    for k, v in state.items():
        if k == _META_KEY:
            raise ValueError(f"{_META_KEY!r} is reserved.")
        arrays[k] = np.ascontiguousarray(v)
    tmp = os.fspath(path) + ".part"
    if fmt == "npz":
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, **{_META_KEY: np.array(meta_json)})
    else:
        header, offset, blobs = {}, 0, []
        for k, a in arrays.items():
            dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
            if np.dtype(dt) not in _ST_NAMES:
                raise ValueError(f"{k!r} has dtype {a.dtype}, which safetensors does not "
                                 "hold.")
            blob = a.astype(np.dtype(dt).newbyteorder("<"), copy=False).tobytes()
            header[k] = {"dtype": _ST_NAMES[np.dtype(dt)], "shape": list(a.shape),
                         "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
        header[_META_KEY] = {"fastml": meta_json}
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-len(raw) % 8)
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for blob in blobs:
                f.write(blob)
    os.replace(tmp, path)


def _bad(path, what):
    return ValueError(f"{os.fspath(path)} is not a weights file written by save_params "
                      f"({what}).")


def load(path):
    """``(state, metadata)`` from a file written by :func:`save`."""
    fmt = _format(path)
    if fmt == "npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                state = {k: z[k] for k in z.files if k != _META_KEY}
                if _META_KEY not in z.files:
                    raise _bad(path, f"no {_META_KEY} entry")
                meta = json.loads(str(z[_META_KEY][()]))
        except (OSError, EOFError) as exc:
            raise _bad(path, str(exc)) from None
        except ValueError as exc:
            raise _bad(path, str(exc)) from None
        if not isinstance(meta, dict):
            raise _bad(path, "metadata is not a JSON object")
        return state, meta
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise _bad(path, "shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER, len(data) - 8):
        raise _bad(path, f"header length {n} beyond the file's {len(data)} bytes")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    body = memoryview(data)[8 + n:]
    meta = header.pop(_META_KEY, None)
    if not isinstance(meta, dict) or "fastml" not in meta:
        raise _bad(path, "no fastml metadata")
    try:
        meta = json.loads(meta["fastml"])
    except (TypeError, ValueError) as exc:
        raise _bad(path, f"the metadata is not JSON: {exc}") from None
    state = {}
    for k, info in header.items():
        try:
            dtype = np.dtype(_ST_DTYPES[info["dtype"]])
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise _bad(path, f"entry {k!r} is malformed") from None
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(body) or \
                end - begin != count * dtype.itemsize:
            raise _bad(path, f"entry {k!r}: shape {shape} of {info['dtype']} does not fit "
                             f"bytes [{begin}, {end})")
        arr = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
        state[k] = arr.astype(dtype.newbyteorder("="), copy=True)
    if not isinstance(meta, dict):
        raise _bad(path, "metadata is not a JSON object")
    return state, meta
