"""Build script: compiles every ``fastml/**/_*.pyx`` as a Cython extension.

* OpenMP is detected by test-compiling and running a tiny ``#pragma omp parallel``
  program (the approach of scikit-learn's ``_build_utils/openmp_helpers.py``). Where the
  compiler has no OpenMP the build goes on serially with a loud warning; set
  ``FASTML_FAIL_WITHOUT_OPENMP=1`` to make that fatal instead.
* ``-O3``, never ``-march=native``: the C inner loops in ``csrc/`` pick their instruction
  set at run time (GCC ``target_clones``). ``FASTML_NATIVE=1`` opts in to ``-march=native``
  for a local build only.
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
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

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
                include_dirs=[np.get_include(), "csrc"],
                extra_compile_args=list(compile_args),
                extra_link_args=list(link_args),
                define_macros=list(macros),
            )
        )
    print(
        "fastml build: OpenMP "
        + ("enabled (" + " ".join(openmp[0]) + ")" if openmp else "NOT available: serial build")
        + f"; {len(extensions)} extension(s)",
        file=sys.stderr,
    )
    return cythonize(
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


setup(ext_modules=make_extensions(), cmdclass={"build_ext": BuildExt})
