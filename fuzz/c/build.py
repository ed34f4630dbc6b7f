"""Build the C differential fuzz targets of this folder (``cfuzz_*.c``).

    python fuzz/c/build.py [--engine libfuzzer|standalone] [--cc CC] [target ...]

Each target is linked with its kernel sources of ``csrc/`` compiled once per SIMD level of
``fastml/_simd_levels.py``, the way setup.py's generated wrappers compile them
(``isa_wrap.c``, and the headers ``fastml_levels.h`` / ``fastml_kernel_names.h`` generated
from the same table into ``build/fuzz/<engine>/include/``), with the
release optimisation flags plus ASan and UBSan. ``libfuzzer`` needs clang
(``-fsanitize=fuzzer``); ``standalone`` uses ``standalone_main.c`` (replay files or run
seeded random inputs) and works with gcc or clang. Binaries go to
``build/fuzz/<engine>/``.
"""
import argparse
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CSRC = os.path.join(ROOT, "csrc")
OUT = os.path.join(ROOT, "build", "fuzz")

# target -> the csrc/ kernel sources it links
TARGETS = {
    "cfuzz_pairwise": ["pairwise.c"],
    "cfuzz_distances": ["distances.c"],
    "cfuzz_levenshtein": ["levenshtein.c"],
    "cfuzz_nn_conv": ["nn_conv.c"],
    "cfuzz_nn_pool": ["nn_pool.c"],
}


# fastml/_simd_levels.py, the one table of SIMD levels, run as a file: fastml itself
# cannot be imported before it is built
SIMD = SimpleNamespace(**runpy.run_path(os.path.join(ROOT, "fastml", "_simd_levels.py")))
# the flags setup.py compiles the kernels with (Python's -fwrapv included; OpenMP: the
# kernels only use `omp simd`, which -fopenmp-simd honours without the runtime)
KERNEL_FLAGS = ["-O3", "-fwrapv", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer", "-g"]


def targets():
    return sorted(TARGETS)


def _works(cmd, src, cwd):
    try:
        return subprocess.run(cmd + [src], cwd=cwd, capture_output=True,
                              timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def find_compiler(engine, cc=None):
    """A compiler that builds `engine` targets with the sanitizers, or None."""
    names = [cc] if cc else (["clang", "clang-14", "clang-15", "clang-16"] if engine == "libfuzzer"
                             else [os.environ.get("CC", ""), "gcc", "cc", "clang"])
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <stdint.h>\n#include <stddef.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                    "{ return (int)(n && d[0]); }\n")
            if engine != "libfuzzer":
                f.write("int main(void) { return LLVMFuzzerTestOneInput(0, 0); }\n")
        for name in names:
            path = shutil.which(name) if name else None
            if not path:
                continue
            flags = ["-fsanitize=fuzzer,address,undefined"] if engine == "libfuzzer" \
                else ["-fsanitize=address,undefined"]
            if _works([path] + flags + ["-o", os.path.join(tmp, "a.out")], src, tmp):
                return path
    return None


def sanitizers_work(cc):
    """Whether `cc` links -fsanitize=address,undefined (else build without them)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        return _works([cc, "-fsanitize=address,undefined", "-o", os.path.join(tmp, "a.out")],
                      src, tmp)


def _run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError("C fuzz target build failed:\n" + " ".join(cmd) + "\n"
                           + proc.stdout + proc.stderr[-6000:])


def build(name, engine="standalone", cc=None, out_dir=None, sanitize=True, extra=(), csrc=None):
    """Compile target `name`; return the binary's path (raises RuntimeError). `csrc`: the
    folder of the kernel sources (default: the repository's csrc/)."""
    if name not in TARGETS:
        raise ValueError(f"unknown C target {name!r}; choose from {targets()}")
    cc = cc or find_compiler(engine)
    if cc is None:
        raise RuntimeError(f"no C compiler for the {engine} engine"
                           + (" (libFuzzer needs clang)" if engine == "libfuzzer" else ""))
    out_dir = out_dir or os.path.join(OUT, engine)
    obj_dir = os.path.join(out_dir, "obj")
    os.makedirs(obj_dir, exist_ok=True)
    san = list(SANITIZE) if sanitize else ["-g"]
    cov = ["-fsanitize=fuzzer-no-link"] if engine == "libfuzzer" else []
    kdir = csrc or CSRC
    gen = os.path.join(out_dir, "include")
    SIMD.write_headers(gen, kdir)
    inc = ["-I", kdir, "-I", HERE, "-I", gen]
    # the newest input of a kernel object: rebuild when a source or header changed
    inputs = [os.path.join(kdir, f) for f in os.listdir(kdir)]
    inputs += [os.path.join(HERE, "isa_wrap.c")]
    inputs += [os.path.join(gen, f) for f in os.listdir(gen)]
    newest = max(os.path.getmtime(f) for f in inputs)
    objs, procs = [], []
    for src in TARGETS[name]:
        for lv in SIMD.LEVELS:
            # shared by the targets of one source
            obj = os.path.join(obj_dir, f"{src[:-2]}_{lv.name}{'_san' if sanitize else ''}.o")
            objs.append(obj)
            if os.path.exists(obj) and os.path.getmtime(obj) >= newest:
                continue
            cmd = [cc, "-c", os.path.join(HERE, "isa_wrap.c"), "-o", obj + ".tmp", *inc,
                   *KERNEL_FLAGS, *san, *cov, "-DFASTML_DISPATCH=1",
                   f'-DCFUZZ_SOURCE="{src}"', f"-DFASTML_ISA_LEVEL={lv.index}",
                   f"-DFASTML_ISA_SUFFIX={lv.name}", *extra]
            procs.append((cmd, obj, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                     stderr=subprocess.PIPE, text=True)))
    for cmd, obj, proc in procs:  # the levels compile in parallel
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError("C fuzz target build failed:\n" + " ".join(cmd) + "\n"
                               + out + err[-6000:])
        os.replace(obj + ".tmp", obj)
    harness = [os.path.join(HERE, name + ".c")]
    if engine == "libfuzzer":
        link = ["-fsanitize=fuzzer"]
    else:
        harness.append(os.path.join(HERE, "standalone_main.c"))
        link = []
    exe = os.path.join(out_dir, name)
    cmd = [cc, "-O1", *inc, *san, *link, *harness, *objs, "-o", exe, "-lm", *extra]
    _run(cmd)
    return exe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--engine", choices=["libfuzzer", "standalone"], default="standalone")
    ap.add_argument("--cc")
    args = ap.parse_args(argv)
    for name in args.names or targets():
        print(build(name, args.engine, args.cc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
