"""Capping the peers' instruction sets together with fastml's (``fastml bench --cpu``).

``FASTML_CPU=avx2`` makes fastml run the kernels an AVX2 machine runs; a ratio against a
peer that still runs AVX-512 (or AMX) means nothing. Each peer library has its own switch,
read once when the library loads, so the switches go into the environment of the
benchmark's processes before any peer is imported:

=============  ==========================  =================================================
library        variable                    effect
=============  ==========================  =================================================
numpy          ``NPY_DISABLE_CPU_FEATURES`` its dispatched SIMD targets above the level
OpenBLAS       ``OPENBLAS_CORETYPE``        kernels of numpy's, scipy's and faiss's BLAS
torch (ATen)   ``ATEN_CPU_CAPABILITY``      ATen's vectorised CPU kernels
torch (oneDNN) ``ONEDNN_MAX_CPU_ISA``       convolutions and other oneDNN primitives
MKL            ``MKL_ENABLE_INSTRUCTIONS``  torch's and oneDAL's BLAS
faiss          ``FAISS_SIMD_LEVEL``         faiss built with dynamic dispatch (1.15)
faiss          ``FAISS_OPT_LEVEL``          older faiss wheels (one library per level)
=============  ==========================  =================================================

A switch that exists is not proof that it worked: :func:`check_caps` imports each
installed library in a fresh process with these variables, makes it do a little work and
reads back the level it actually uses (threadpoolctl's OpenBLAS core, torch's reported
capability, oneDNN's and MKL's verbose banners, faiss's SIMD level, the extension module
rapidfuzz loaded). Known gaps, reported as "not capped": oneDAL's own kernels
(scikit-learn-intelex) choose their code path from CPUID with no switch (only its MKL
calls are capped); rapidfuzz has an AVX2 and an SSE2 path and no switch; numpy cannot go
below its own compiled baseline.
"""
import json
import os
import subprocess
import sys

from fastml._simd_levels import NAMES as LEVELS

# the value of each switch per level (the numpy entry is computed: see _numpy_disabled)
_SWITCHES = {
    "baseline": dict(OPENBLAS_CORETYPE="Prescott", ATEN_CPU_CAPABILITY="default",
                     ONEDNN_MAX_CPU_ISA="SSE41", MKL_ENABLE_INSTRUCTIONS="SSE4_2",
                     FAISS_SIMD_LEVEL="NONE", FAISS_OPT_LEVEL="generic"),
    "avx2": dict(OPENBLAS_CORETYPE="Haswell", ATEN_CPU_CAPABILITY="avx2",
                 ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                 FAISS_SIMD_LEVEL="AVX2", FAISS_OPT_LEVEL="avx2"),
    "avx512": dict(OPENBLAS_CORETYPE="SkylakeX", ATEN_CPU_CAPABILITY="avx512",
                   ONEDNN_MAX_CPU_ISA="AVX512_CORE", MKL_ENABLE_INSTRUCTIONS="AVX512",
                   FAISS_SIMD_LEVEL="AVX512", FAISS_OPT_LEVEL="avx512"),
}
SWITCH_NAMES = tuple(sorted(set(_SWITCHES["avx2"]) | {"NPY_DISABLE_CPU_FEATURES"}))

# numpy's dispatch targets, by the lowest fastml level that includes them (older numpy
# names its targets by feature, numpy >= 2.4 by x86-64 micro-architecture level)
_NUMPY_V3 = {"AVX", "F16C", "FMA3", "AVX2", "X86_V3"}
_NUMPY_V2 = {"SSSE3", "SSE41", "POPCNT", "SSE42", "X86_V2"}


_NUMPY_V4 = {"AVX512F", "AVX512CD", "AVX512_SKX", "X86_V4"}


def _numpy_rank(target):
    """The lowest fastml level that includes numpy's dispatch target (3: above all)."""
    if target in _NUMPY_V4:
        return 2
    if target.startswith("AVX512"):  # CLX (VNNI), CNL, ICL, SPR, KNL, KNM: beyond v4
        return 3
    if target in _NUMPY_V3:
        return 1
    if target in _NUMPY_V2:
        return 0.5  # x86-64-v2 (SSE4.2, POPCNT): above fastml's baseline (SSE2)
    return None  # unknown (another architecture): never disabled


def _numpy_disabled(level):
    """numpy's dispatched targets above ``level`` (never one of its baseline features,
    which numpy refuses to disable)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    rank = LEVELS.index(level)
    out = []
    for t in __cpu_dispatch__:
        r = _numpy_rank(t)
        if r is not None and r > rank:
            out.append(t)
    return " ".join(out)


def peer_env(level):
    """The environment variables that cap every peer at ``level`` (a dict)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    env = dict(_SWITCHES[level])
    disabled = _numpy_disabled(level)
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = disabled
    return env


def env_for(level, base=None):
    """``base`` (default: this process's environment) with fastml and every peer capped at
    ``level``; ``None`` or ``"native"``: with every cap removed."""
    env = dict(os.environ if base is None else base)
    for name in SWITCH_NAMES:
        env.pop(name, None)
    if level in (None, "native", ""):
        env.pop("FASTML_CPU", None)
        return env
    env.update(peer_env(level))
    env["FASTML_CPU"] = level
    return env


def caps_in_effect(level, env=None):
    """True if ``env`` (default: this process's) already holds the caps for ``level``."""
    env = os.environ if env is None else env
    return all(env.get(k) == v for k, v in peer_env(level).items())


# --------------------------------------------------------------------------------------
# checking what each library really runs at (each probe runs in its own process)
# --------------------------------------------------------------------------------------
# library -> (importable module, probe code printing one JSON object on its last line)
_PROBES = {
    "numpy": ("numpy", """
import json
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(json.dumps({"enabled": [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]}))
"""),
    "OpenBLAS": ("scipy", """
import json
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
print(json.dumps({"cores": sorted({str(i.get("architecture")) for i in threadpool_info()
                                   if i.get("internal_api") == "openblas"})}))
"""),
    "torch": ("torch", """
import json
import torch
x = torch.randn(2, 3, 8, 8)
torch.nn.functional.conv2d(x, torch.randn(4, 3, 3, 3))
a = torch.randn(64, 64)
(a @ a).sum()
print(json.dumps({"aten": torch.backends.cpu.get_cpu_capability()}))
"""),
    "faiss": ("faiss", """
import json, sys
import faiss
level = None
if hasattr(faiss, "SIMDConfig"):
    level = faiss.SIMDConfig.get_level_name()
else:
    mods = [m for m in sys.modules if m.startswith("faiss.swigfaiss")]
    level = (mods[0].split("swigfaiss")[1].lstrip("_") or "generic") if mods else None
print(json.dumps({"level": level}))
"""),
    "sklearnex": ("sklearnex", """
import json
import numpy as np
from sklearnex.neighbors import KNeighborsClassifier
X = np.random.default_rng(0).random((256, 16)).astype(np.float32)
KNeighborsClassifier(algorithm="brute").fit(X, np.arange(256) % 2).predict(X[:8])
print(json.dumps({}))
"""),
    "rapidfuzz": ("rapidfuzz", """
import json, sys
from rapidfuzz.distance import Levenshtein
Levenshtein.distance("kitten", "sitting")
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("rapidfuzz."))}))
"""),
}

# what each peer's ``requires`` module brings in beyond numpy/OpenBLAS (every peer uses them)
_LIBRARIES_OF = {"torch": ("torch",), "faiss": ("faiss",), "sklearnex": ("sklearnex",),
                 "daal4py": ("sklearnex",), "rapidfuzz": ("rapidfuzz",),
                 "dask": (), "distributed": ()}  # dask peers run fastml itself

_ISA_RANK_WORDS = (  # substrings of verbose banners and level names, highest first
    (3, ("AMX", "AVX10", "BF16", "FP16", "VNNI", "DL BOOST", "_SPR", "VPOPCNT")),
    (2, ("AVX-512", "AVX512", "AVX 512", "EXTENSIONS 512")),
    (1, ("AVX2",)),
)
# OpenBLAS cores (threadpoolctl's "architecture") by level; 0.5: SSE4.2 or AVX, no AVX2
_OPENBLAS_RANK = {
    **dict.fromkeys(("katmai", "coppermine", "northwood", "prescott", "banias", "atom",
                     "core2", "penryn", "dunnington", "athlon", "opteron", "barcelona",
                     "nano"), 0),
    **dict.fromkeys(("nehalem", "sandybridge", "bulldozer", "piledriver"), 0.5),
    **dict.fromkeys(("haswell", "zen", "steamroller", "excavator"), 1),
    **dict.fromkeys(("skylakex", "cooperlake"), 2),
    "sapphirerapids": 3,
}


_RANK_NAMES = {0: "SSE", 0.5: "SSE4.2/AVX", 1: "AVX2", 2: "AVX-512", 3: "AVX-512 + AMX/VNNI"}


def _banner_rank(text):
    """0 (SSE), 1 (AVX2), 2 (AVX-512 F/BW/CD/DQ/VL) or 3 (beyond: AMX, VNNI, ...)."""
    t = text.upper()
    for rank, words in _ISA_RANK_WORDS:
        if any(w in t for w in words):
            return rank
    return 0


def libraries_of(peers):
    """The libraries whose level matters for these peers (``Peer.requires`` mapped;
    numpy and OpenBLAS for every peer; a module of unknown make is listed by name)."""
    libs = ["numpy", "OpenBLAS"]
    for p in peers:
        for mod in p.requires:
            for lib in _LIBRARIES_OF.get(mod.split(".")[0], (mod.split(".")[0],)):
                if lib not in libs:
                    libs.append(lib)
    return libs


def _run_probe(code, env, timeout=240):
    env = dict(env, ONEDNN_VERBOSE="1", MKL_VERBOSE="1", ONEDAL_VERBOSE="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exit code {proc.returncode}: {tail}")
    return json.loads(lines[-1]), proc.stdout + proc.stderr


def _verdict(lib, level, facts, log):
    """(capped: bool, what the library runs at: str)."""
    rank = LEVELS.index(level)
    if lib == "numpy":
        enabled = facts["enabled"]
        too_high = [t for t in enabled if (_numpy_rank(t) or 0) > rank]
        from numpy._core._multiarray_umath import __cpu_baseline__

        base = [t for t in __cpu_baseline__ if (_numpy_rank(t) or 0) > rank]
        what = f"dispatch targets {', '.join(enabled) or 'none'}"
        if base:
            return False, what + f"; its compiled baseline ({', '.join(base)}) is above {level}"
        return not too_high, what
    # every other library: its level must not be above the cap
    if lib == "OpenBLAS":
        cores = facts["cores"]
        ranks = [_OPENBLAS_RANK.get(c.lower(), 3) for c in cores]
        return bool(cores) and max(ranks) <= rank, f"core {', '.join(cores) or 'unknown'}"
    if lib == "torch":
        aten = str(facts["aten"])
        aten_rank = {"DEFAULT": 0, "AVX2": 1, "AVX512": 2}.get(aten.upper(), 3)
        isa = [ln.split("isa:", 1)[1] for ln in log.splitlines() if ",isa:" in ln]
        mkl = [ln for ln in log.splitlines() if ln.startswith("MKL_VERBOSE oneMKL")]
        parts = [f"ATen {aten}"]
        ok = aten_rank <= rank
        if isa:
            parts.append(f"oneDNN {isa[0].strip()}")
            ok = ok and _banner_rank(isa[0]) <= rank
        if mkl:
            banner = mkl[0].split(" for ", 1)[-1]
            parts.append("MKL " + _RANK_NAMES[_banner_rank(banner)])
            ok = ok and _banner_rank(banner) <= rank
        return ok, ", ".join(parts)
    if lib == "faiss":
        lvl = str(facts["level"])
        r = 0 if lvl.upper() in ("NONE", "GENERIC") else _banner_rank(lvl)
        return r <= rank, f"SIMD level {lvl}"
    if lib == "sklearnex":
        opt = [ln.split(":", 1)[1].strip() for ln in log.splitlines()
               if ln.strip().startswith("Processor optimization")]
        mkl = [ln for ln in log.splitlines() if ln.startswith("MKL_VERBOSE oneMKL")]
        own = _banner_rank(opt[0]) if opt else None
        mkl_rank = _banner_rank(mkl[0].split(" for ", 1)[-1]) if mkl else None
        what = "oneDAL kernels " + (_RANK_NAMES[own] if own is not None else "level not reported")
        if own is not None and own > rank:
            what += " (oneDAL picks them from CPUID: no switch)"
        what += ", MKL " + (_RANK_NAMES[mkl_rank] if mkl_rank is not None else "unused")
        return own is not None and own <= rank and (mkl_rank or 0) <= rank, what
    if lib == "rapidfuzz":
        mods = facts["modules"]
        r = 2 if any("avx512" in m for m in mods) else 1 if any("avx2" in m for m in mods) \
            else 0
        what = f"its {['SSE2', 'AVX2', 'AVX-512'][r]} path"
        if r > rank:
            what += " (picked from CPUID: no switch)"
        return r <= rank, what
    return False, "no known instruction-set switch"


def check_caps(level, libraries, env=None):
    """For each installed library of ``libraries``: ``{name: {"capped": bool, "runs":
    str}}`` with every cap of ``level`` in the environment (``env``, default: this
    process's environment with the caps added). Libraries that are not installed are
    left out; one whose probe fails is reported as not capped, with the reason."""
    import importlib.util

    env = env_for(level, env)
    out = {}
    for lib in libraries:
        module, code = _PROBES.get(lib, (lib, None))
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except (ImportError, ValueError):
            continue
        if code is None:
            out[lib] = {"capped": False, "runs": "no known instruction-set switch"}
            continue
        try:
            facts, log = _run_probe(code, env)
            capped, runs = _verdict(lib, level, facts, log)
        except Exception as exc:  # a probe that fails proves nothing: not capped
            capped, runs = False, f"probe failed ({exc})"
        out[lib] = {"capped": bool(capped), "runs": runs}
    return out


def describe_caps(level, caps):
    """Lines for the log and the report."""
    ok = [f"{lib} ({c['runs']})" for lib, c in caps.items() if c["capped"]]
    bad = [f"{lib} ({c['runs']})" for lib, c in caps.items() if not c["capped"]]
    lines = [f"peers capped at {level}: {'; '.join(ok) if ok else 'none'}"]
    if bad:
        lines.append(f"NOT capped at {level} (their rows compare unequal machines): "
                     + "; ".join(bad))
    return lines
