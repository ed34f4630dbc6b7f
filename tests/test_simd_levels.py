"""The one table of SIMD levels (fastml/_simd_levels.py) and everything derived from it:
the accepted FASTML_CPU values, the level names compiled into C, the compiler targets and
the CPUID checks of each level, the generated headers."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from fastml import _cpu, _simd_levels as T
from fastml.utils import _openmp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
CC = shutil.which(os.environ.get("CC", "") or "gcc") or shutil.which("cc")


def test_table_is_ordered_and_nested():
    assert [lv.index for lv in T.LEVELS] == list(range(len(T.LEVELS)))
    assert T.LEVELS[0].features == () and T.LEVELS[0].arch is None
    for lower, upper in zip(T.LEVELS, T.LEVELS[1:]):
        # a level runs only where every lower one runs: its features include theirs
        assert set(lower.features) < set(upper.features)
        assert upper.vec_bytes >= lower.vec_bytes and upper.vec_regs >= lower.vec_regs
    assert len(set(T.NAMES)) == len(T.NAMES)


def test_fastml_cpu_accepts_exactly_the_table_names(monkeypatch):
    assert _cpu.LEVELS == T.NAMES
    assert _openmp.SIMD_LEVELS == T.NAMES  # the names compiled into the C dispatch
    for name in T.NAMES:
        for value in (name, name.upper()):
            monkeypatch.setenv("FASTML_CPU", value)
            assert _cpu.requested_cap() == name
    for bad in ("sse2", "avx", "avx-512", "x86-64-v3", "native", " avx2"):
        monkeypatch.setenv("FASTML_CPU", bad)
        with pytest.raises(ValueError, match=", ".join(T.NAMES)):
            _cpu.requested_cap()


def test_c_parses_fastml_cpu_as_python_does():
    """fastml_cpu_cap() (C) gives each table name its index, any case; anything else -2."""
    code = ("import sys; from fastml.utils import _openmp as o; "
            "print(o.simd_path())")
    for name in T.NAMES:
        env = dict(os.environ, FASTML_CPU=name.upper())
        if T.NAMES.index(name) > T.NAMES.index(_openmp.simd_detected()):
            continue
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=120, check=True)
        assert r.stdout.strip() == name


def test_cli_cpu_choices_are_the_table_names(capsys):
    from fastml.__main__ import main

    with pytest.raises(SystemExit):
        main(["bench", "--cpu", "sse9"])
    err = capsys.readouterr().err
    for name in T.NAMES:
        assert repr(name) in err


def _isa_macros(flags):
    """The ISA feature macros a compiler predefines under `flags`."""
    out = subprocess.run([CC, *flags, "-dM", "-E", "-x", "c", os.devnull],
                         capture_output=True, text=True, check=True).stdout
    names = set(re.findall(r"^#define (\w+) 1$", out, re.M))
    return {n for n in names if n == "__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16"
            or (re.fullmatch(r"__[A-Z0-9_]+__", n) and not n.startswith("__FP_"))}


# predefined with a table feature, not a feature of its own
_IMPLIED = {"__CRC32__"}  # the SSE4.2 CRC32 instruction


@pytest.mark.skipif(CC is None or not T.LEVELS[1].arch or os.uname().machine != "x86_64",
                    reason="needs an x86-64 C compiler")
@pytest.mark.parametrize("lv", [lv for lv in T.LEVELS if lv.arch], ids=lambda lv: lv.name)
def test_compile_target_and_cpuid_check_name_the_same_features(lv):
    """GCC's arch= of the level enables exactly the features the CPUID check requires,
    and so does the feature list given to clang."""
    base = _isa_macros(["-march=x86-64"])
    arch = _isa_macros([f"-march={lv.arch}"]) - base - _IMPLIED
    assert arch == {f.macro for f in lv.features}
    listed = _isa_macros(["-march=x86-64"] + [f"-m{f.target}" for f in lv.features])
    assert listed - base - _IMPLIED == arch
    header = T.c_header()
    for f in lv.features:
        assert f'__builtin_cpu_supports("{f.cpuid}")' in header


# /proc/cpuinfo's names of the table's features, where they differ
_CPUINFO = {"sse3": "pni", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "bmi": "bmi1",
            "lzcnt": "abm", "cmpxchg16b": "cx16"}


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo") or os.uname().machine != "x86_64"
                    or not _openmp.simd_dispatch_built(),
                    reason="needs Linux on x86-64 and a build with per-level kernels")
def test_detected_level_is_the_highest_the_cpu_flags_allow():
    with open("/proc/cpuinfo") as f:
        flags = set(re.search(r"^flags\s*:(.*)$", f.read(), re.M).group(1).split())
    expected = max(lv.index for lv in T.LEVELS
                   if all(_CPUINFO.get(f.cpuid, f.cpuid) in flags for f in lv.features))
    assert _openmp.simd_detected() == T.NAMES[expected]


def test_generated_headers_are_current():
    folder = os.path.join(ROOT, "build", "fastml_isa", "include")
    if not os.path.isdir(folder):
        pytest.skip("not built in place")
    with open(os.path.join(folder, T.HEADER)) as f:
        assert f.read() == T.c_header()
    with open(os.path.join(folder, T.NAMES_HEADER)) as f:
        assert f.read() == T.kernel_names_header(CSRC)


def test_kernel_lists_name_each_kernel_once_and_cover_every_kernel_source():
    lists = T.kernel_lists(CSRC)
    names = [n for ns in lists.values() for n in ns]
    assert len(names) == len(set(names)) and len(names) > 100
    for source in lists:
        assert os.path.exists(os.path.join(CSRC, source)), source
    # every function a kernel source defines at file scope without `static` is listed
    for source, listed in lists.items():
        with open(os.path.join(CSRC, source)) as f:
            text = f.read()
        plain = set(re.findall(r"^(?:[\w ]+?[\s*])(fastml_\w+)\s*\(", text, re.M))
        assert plain <= set(listed), (source, plain - set(listed))


def test_no_level_name_is_hard_coded_in_the_dispatch():
    """The files that once each spelled the level names now read the table."""
    for path in ["csrc/fastml_cpu.h", "csrc/cpu.c", "csrc/fastml_dispatch.h",
                 "csrc/fastml_isa_target.h", "fuzz/c/cfuzz.h", "fastml/_cpu.py",
                 "fastml/utils/_openmp.pyx", "fuzz/c/build.py"]:
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        assert not re.search(r"""["'](baseline|avx2|avx512)["']""", text), path
        assert "x86-64-v" not in text, path
