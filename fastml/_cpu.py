"""The ``FASTML_CPU`` cap on the instruction set of the compiled kernels.

The compiled kernels of ``csrc/`` exist once per level of the table in
``fastml._simd_levels`` (``baseline``, ``avx2``, ``avx512``); each extension picks one when
it is loaded: the highest the CPU supports, lowered to
``FASTML_CPU`` when that is set. The C side reads the variable
itself (``csrc/fastml_cpu.h``); this module gives the errors and warnings, at
``import fastml``, before any extension is loaded. Set the variable before importing fastml:
the choice holds for the whole process.
"""
import os
import warnings

from fastml._simd_levels import NAMES as LEVELS


def requested_cap():
    """The level named by ``FASTML_CPU`` (lower-cased), or None when it is unset or empty.

    Raises
    ------
    ValueError
        If ``FASTML_CPU`` names no known level.
    """
    value = os.environ.get("FASTML_CPU", "")
    if value == "":
        return None
    if value.lower() not in LEVELS:
        raise ValueError(
            f"FASTML_CPU={value!r} is not a known instruction-set level; expected one of "
            f"{', '.join(LEVELS)} (or unset it to use the best level this CPU supports)."
        )
    return value.lower()


def _running_the_cli():
    """True when this process is the ``fastml`` command (``fastml ...`` or
    ``python -m fastml ...``), whose errors are one line, not a traceback."""
    import sys

    orig = getattr(sys, "orig_argv", [])
    if len(orig) >= 3 and orig[1] == "-m" and orig[2] == "fastml":
        return True
    return os.path.basename(sys.argv[0] if sys.argv else "") in ("fastml", "fastml.exe")


def _check_fastml_cpu():
    """Called by ``import fastml``: an unknown ``FASTML_CPU`` raises ValueError (the
    command line prints it in one line and exits with status 2, as for a bad option)."""
    try:
        requested_cap()
    except ValueError as exc:
        if _running_the_cli():
            import sys

            print(f"fastml: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        raise


def _warn_if_unavailable(detected):
    """Warn when FASTML_CPU asks for more than the CPU (or the build) offers."""
    cap = requested_cap()
    if cap is not None and LEVELS.index(cap) > LEVELS.index(detected):
        warnings.warn(
            f"FASTML_CPU={cap} asks for a level this CPU does not support; fastml uses "
            f"{detected}, the highest available.",
            RuntimeWarning,
            stacklevel=3,
        )


def simd_info():
    """A dict with the ``detected`` level, the ``used`` one, the ``cap`` (or None) and
    whether the kernels were ``built_per_level``."""
    from fastml.utils._openmp import simd_detected, simd_dispatch_built, simd_path

    return {
        "detected": simd_detected(),
        "used": simd_path(),
        "cap": requested_cap(),
        "built_per_level": simd_dispatch_built(),
    }


def describe_simd():
    """One line, e.g. ``detected: avx512, used: avx2 (capped by FASTML_CPU)``."""
    info = simd_info()
    text = f"detected: {info['detected']}, used: {info['used']}"
    if info["cap"] is not None and info["used"] != info["detected"]:
        text += " (capped by FASTML_CPU)"
    elif info["cap"] is not None and info["cap"] != info["used"]:
        text += f" (FASTML_CPU={info['cap']} is not available on this CPU)"
    if not info["built_per_level"]:
        text += " [portable build: one compiled level]"
    return text
