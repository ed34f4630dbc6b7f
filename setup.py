"""Build script: compiles every ``fastml/**/_*.pyx`` as a Cython extension.

* OpenMP is detected by test-compiling and running a tiny ``#pragma omp parallel``
  program (the approach of scikit-learn's ``_build_utils/openmp_helpers.py``). Where the
  compiler has no OpenMP the build goes on serially with a loud warning; set
  ``FASTML_FAIL_WITHOUT_OPENMP=1`` to make that fatal instead.
* ``-O3``, never ``-march=native``: each kernel source in ``csrc/`` is compiled once per
  instruction-set level (baseline, avx2 = x86-64-v3, avx512 = x86-64-v4) through small
  generated wrappers, and each extension picks one level when it is loaded, from CPUID and
  the ``FASTML_CPU`` cap (``csrc/fastml_cpu.h``, ``docs/dispatch.md``). The levels are one
  table, ``fastml/_simd_levels.py``, written as the C header ``fastml_levels.h`` into
  ``build/fastml_isa/include/`` (with ``fastml_kernel_names.h``, the renaming generated from
  the kernel lists of ``csrc/fastml_kernels.h``). Only on x86-64 with
  GCC or clang; elsewhere, or with ``FASTML_NO_DISPATCH=1``, each source is compiled once
  for the default target. ``FASTML_NATIVE=1`` opts in to ``-march=native`` for a local
  build only (and turns the per-level builds off).
* A ``.pyx`` names the C files it needs in its ``# distutils: sources = ...`` header.
* ``FASTML_DISABLE_OPENMP=1`` builds serially on purpose (to test the fallback).
* ``FASTML_ONLY=substring`` builds only the extensions whose module name contains it
  (handy while developing one area; a normal install builds everything).
* ``FASTML_SANITIZE=address`` (or ``undefined``, or ``address,undefined``) builds with
  GCC/Clang sanitizers for testing (see "Building" in the README for how to run the
  suite under them); ``FASTML_DEBUG_CYTHON=1`` turns Cython's bounds, wraparound,
  initialisation and None checks on (the idea of scikit-learn's
  ``SKLEARN_ENABLE_DEBUG_CYTHON_DIRECTIVES``).
"""
import glob
import os
import platform
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings
from types import SimpleNamespace

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n == omp_get_max_threads());
        return 0;
    }
    """
)


def _compiler_flag_for_openmp(compiler_type):
    if sys.platform == "win32" and compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang needs -Xpreprocessor and an external libomp.
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def check_openmp_support():
    """Return (compile_args, link_args) for OpenMP, or None if it does not work."""
    if os.environ.get("FASTML_DISABLE_OPENMP", "0") not in ("", "0"):
        warnings.warn("fastml: FASTML_DISABLE_OPENMP is set: building SERIALLY.")
        return None
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    ccompiler = new_compiler()
    customize_compiler(ccompiler)
    cflags, ldflags = _compiler_flag_for_openmp(ccompiler.compiler_type)
    tmp = tempfile.mkdtemp(prefix="fastml_openmp_")
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(OPENMP_PROBE)
        objs = ccompiler.compile(["probe.c"], output_dir="objs", extra_postargs=cflags)
        ccompiler.link_executable(objs, "probe", extra_postargs=ldflags)
        out = subprocess.check_output(["./probe"]).decode().strip()
        ok = out == "1"
    except Exception as exc:  # any compile, link or run failure means "no OpenMP"
        ok = False
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "probe ran but reported inconsistent thread counts"
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    if ok:
        return cflags, ldflags
    msg = (
        "\n***\nfastml: this compiler cannot build OpenMP code (" + reason + ").\n"
        "fastml will be built SERIALLY: correct, but its loops will use one core.\n"
        "Install a compiler with OpenMP (gcc, or clang + libomp) for parallel speed.\n***\n"
    )
    if os.environ.get("FASTML_FAIL_WITHOUT_OPENMP", "0") not in ("", "0"):
        raise RuntimeError(msg)
    warnings.warn(msg)
    return None


# fastml/_simd_levels.py, the one table of SIMD levels, run as a file: fastml itself
# cannot be imported before it is built
SIMD = SimpleNamespace(**runpy.run_path(os.path.join(HERE, "fastml", "_simd_levels.py")))
# the kernel sources of csrc/ (each with its list of exported functions in
# csrc/fastml_kernels.h), compiled once per level
KERNEL_SOURCES = SIMD.kernel_lists(os.path.join(HERE, "csrc"))
KERNEL_HEADERS = ["fastml_pairwise.h", "fastml_distances.h", "fastml_nn.h", "fastml_svm.h",
                  "fastml_nan_euclidean.h"]
GEN_DIR = os.path.join("build", "fastml_isa")
# the generated headers (fastml_levels.h, fastml_kernel_names.h)
GEN_INCLUDE = os.path.join(GEN_DIR, "include")

# the top level's target and the CPUID check of every level (fastml_levels.h)
DISPATCH_PROBE = textwrap.dedent(
    f"""
    #include "fastml_levels.h"
    #define FASTML_ISA_LEVEL {len(SIMD.LEVELS) - 1}
    #include "fastml_isa_target.h"
    #include <immintrin.h>
    int probe(void) {{ __builtin_cpu_init(); return FASTML_LEVEL_FROM_CPUID(); }}
    #include "fastml_isa_target_end.h"
    """
)


def dispatch_enabled():
    """True when the kernels are built once per instruction-set level (x86-64, GCC/clang)."""
    if os.environ.get("FASTML_NO_DISPATCH", "0") not in ("", "0"):
        return False
    if os.environ.get("FASTML_NATIVE", "0") not in ("", "0"):
        return False
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        return False
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    ccompiler = new_compiler()
    customize_compiler(ccompiler)
    tmp = tempfile.mkdtemp(prefix="fastml_dispatch_")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(DISPATCH_PROBE)
        ccompiler.compile([src], output_dir=tmp, include_dirs=[os.path.join(HERE, GEN_INCLUDE),
                                                             os.path.join(HERE, "csrc")])
        return True
    except Exception:
        warnings.warn(
            "fastml: this compiler cannot compile per-target kernels; building the "
            "portable (baseline) path only."
        )
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dispatch_sources(ext, dispatch):
    """Replace the csrc/ kernel sources of ``ext`` by generated wrappers of its own: one per
    level and a dispatch table when ``dispatch``, else one (the compiler's default target).
    Each extension compiles its own objects, so two extensions may list one source."""
    out, lists = [], []
    where = os.path.join(GEN_DIR, *ext.name.split("."))
    levels = SIMD.LEVELS if dispatch else [None]
    for src in ext.sources:
        base = os.path.basename(src)
        if os.path.dirname(os.path.normpath(src)) != "csrc" or base not in KERNEL_SOURCES:
            out.append(src)
            continue
        lists.append("FASTML_KERNELS_" + base[:-2].upper())
        for lv in levels:
            if lv is None:
                path = os.path.join(where, f"{base[:-2]}_default.c")
                text = f'/* generated by setup.py: csrc/{base} */\n#include "{base}"\n'
            else:
                path = os.path.join(where, f"{base[:-2]}_{lv.name}.c")
                text = (f"/* generated by setup.py: csrc/{base} for the {lv.name} level */\n"
                        "#define FASTML_ISA_BUILD 1\n"
                        f"#define FASTML_ISA_LEVEL {lv.index}\n"
                        f"#define FASTML_ISA_SUFFIX {lv.name}\n"
                        '#include "fastml_isa_target.h"\n'
                        f'#include "{base}"\n'
                        '#include "fastml_isa_target_end.h"\n')
            SIMD.write_if_changed(path, text)
            out.append(path)
    if lists and dispatch:
        path = os.path.join(where, "dispatch.c")
        text = "/* generated by setup.py: the kernel table of this extension */\n"
        text += "".join(f'#include "{h}"\n' for h in KERNEL_HEADERS)
        text += '#include "fastml_dispatch.h"\n'
        text += ("#define FASTML_THIS_EXTENSION(X) "
                 + " ".join(f"{n}(X)" for n in dict.fromkeys(lists)) + "\n")
        text += "FASTML_DISPATCH_TABLE(FASTML_THIS_EXTENSION)\n"
        SIMD.write_if_changed(path, text)
        out.append(path)
    ext.sources = out


def _base_compile_args():
    args = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
    if os.environ.get("FASTML_NATIVE", "0") not in ("", "0"):
        args.append("-march=native")
    if sysconfig.get_config_var("CC") and "gcc" in str(sysconfig.get_config_var("CC")):
        args.append("-Wno-unused-function")
    return args


class BuildExt(build_ext):
    """Builds in parallel on all cores unless ``-j`` was given."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


# ---- debug builds: sanitizers and Cython checks (testing only, never for release) ----
def _debug_build_options():
    """(extra compile args, extra link args, Cython directive overrides) from
    FASTML_SANITIZE and FASTML_DEBUG_CYTHON."""
    cflags, ldflags, directives = [], [], {}
    sanitize = os.environ.get("FASTML_SANITIZE", "").strip()
    if sanitize:
        kinds = [k.strip() for k in sanitize.split(",") if k.strip()]
        bad = sorted(set(kinds) - {"address", "undefined"})
        if bad:
            raise RuntimeError(f"FASTML_SANITIZE={sanitize!r}: unknown sanitizer(s) {bad}; "
                               "use address, undefined or address,undefined.")
        flags = ["-fsanitize=" + ",".join(kinds), "-fno-omit-frame-pointer", "-g"]
        if "undefined" in kinds:
            flags.append("-fno-sanitize-recover=undefined")
        cflags += flags
        ldflags += flags
        print(f"fastml build: sanitizers {kinds} (run with LD_PRELOAD of the runtime, see "
              "README 'Building')", file=sys.stderr)
    if os.environ.get("FASTML_DEBUG_CYTHON", "0") not in ("", "0"):
        directives = {"boundscheck": True, "wraparound": True, "initializedcheck": True,
                      "nonecheck": True}
        print("fastml build: Cython debug directives (bounds, wraparound, "
              "initialisation and None checks)", file=sys.stderr)
    return cflags, ldflags, directives


def make_extensions():
    openmp = check_openmp_support()
    compile_args = _base_compile_args()
    link_args = []
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if openmp is not None:
        compile_args += openmp[0]
        link_args += openmp[1]
    debug_c, debug_ld, debug_directives = _debug_build_options()
    compile_args += debug_c
    link_args += debug_ld
    SIMD.write_headers(GEN_INCLUDE, "csrc")
    dispatch = dispatch_enabled()
    if dispatch:
        macros.append(("FASTML_DISPATCH", "1"))
    only = os.environ.get("FASTML_ONLY", "")
    extensions = []
    for path in sorted(glob.glob("fastml/**/_*.pyx", recursive=True)):
        module = path[:-4].replace(os.sep, ".").replace("/", ".")
        if only and only not in module:
            continue
        extensions.append(
            Extension(
                module,
                [path],
                include_dirs=[np.get_include(), "csrc", GEN_INCLUDE],
                extra_compile_args=list(compile_args),
                extra_link_args=list(link_args),
                define_macros=list(macros),
                # the kernel sources are #included by generated wrappers: rebuild on change
                depends=sorted(glob.glob(os.path.join("csrc", "*")))
                + [os.path.join("fastml", "_simd_levels.py")],
            )
        )
    print(
        "fastml build: OpenMP "
        + ("enabled (" + " ".join(openmp[0]) + ")" if openmp else "NOT available: serial build")
        + "; kernels per level: "
        + (", ".join(SIMD.NAMES) if dispatch else "no (portable path only)")
        + f"; {len(extensions)} extension(s)",
        file=sys.stderr,
    )
    extensions = cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
            "embedsignature": True,
            **debug_directives,
        },
        nthreads=os.cpu_count() or 1,
        force=bool(debug_directives),  # regenerate the C with the debug directives
    )
    for ext in extensions:
        dispatch_sources(ext, dispatch)
    return extensions


setup(ext_modules=make_extensions(), cmdclass={"build_ext": BuildExt})
