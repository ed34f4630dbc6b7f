"""Weight initialisers by name.

==================  ===============================================================
name                distribution
==================  ===============================================================
"glorot_uniform"    U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010);
                    alias "xavier_uniform", "glorot"
"glorot_normal"     N(0, 2 / (fan_in + fan_out)); alias "xavier_normal"
"he_uniform"        U(-a, a), a = sqrt(6 / fan_in) (He et al., 2015); alias "he",
                    "kaiming_uniform"
"he_normal"         N(0, 2 / fan_in); alias "kaiming_normal"
"normal"            N(0, 0.01^2), the small Gaussian of early networks (AlexNet)
"zeros"             0 (for biases; a weight of zeros never breaks the symmetry)
"auto"              "he_uniform" when the next non-transparent layer is of the ReLU
                    family, "glorot_uniform" otherwise (decided by the container)
==================  ===============================================================

Biases always start at zero. ``fan_in`` of a Conv2D weight is C_in * kh * kw,
``fan_out`` is C_out * kh * kw.
"""
import numpy as np

__all__ = ["INITIALIZERS", "check_init", "initialize"]

_ALIASES = {"glorot": "glorot_uniform", "xavier_uniform": "glorot_uniform",
            "xavier_normal": "glorot_normal", "he": "he_uniform",
            "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal"}
INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                "normal", "zeros") + tuple(_ALIASES)


def check_init(init):
    """Validate an initialiser name; return it."""
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ValueError(f"init must be one of {list(INITIALIZERS)}, got {init!r}.")
    return init


def initialize(init, rng, shape, fan_in, fan_out, dtype):
    """An array of ``shape`` drawn from the named distribution (see the module doc)."""
    init = _ALIASES.get(init, init)
    if init == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, size=shape)
    elif init == "glorot_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif init == "he_uniform":
        a = np.sqrt(6.0 / fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif init == "he_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif init == "normal":
        w = rng.normal(0.0, 0.01, size=shape)
    elif init == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"unknown initialiser {init!r}.")
    return w.astype(dtype)
