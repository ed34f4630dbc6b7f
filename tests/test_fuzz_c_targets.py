"""The C differential fuzz targets of fuzz/c/ as part of the suite: each target (the
kernels of csrc/ at every SIMD level this CPU runs, against naive C references) is built
with the standalone driver, with ASan and UBSan where the compiler has them, and run on a
few thousand seeded inputs. A second test plants a bug in a copy of each kernel source and
checks that the target reports it, so the harnesses can fail."""
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

FUZZ_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "c")


def _build_module():
    spec = importlib.util.spec_from_file_location("cfuzz_build",
                                                  os.path.join(FUZZ_C, "build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CB = _build_module()
TARGETS = CB.targets()
RUNS = {"cfuzz_pairwise": 1500, "cfuzz_distances": 1000, "cfuzz_levenshtein": 2000,
        "cfuzz_nn_conv": 1000, "cfuzz_nn_pool": 3000}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    # one build folder for the module: the pairwise and distances targets share kernels
    return str(tmp_path_factory.mktemp("cfuzz"))


@pytest.fixture(scope="module")
def compiler():
    cc = CB.find_compiler("standalone")
    if cc is not None:
        return cc, True
    cc = next((shutil.which(c) for c in ("gcc", "cc", "clang") if shutil.which(c)), None)
    if cc is None:
        pytest.skip("no C compiler on this machine: the C fuzz targets cannot be built")
    return cc, False  # a compiler without the sanitizers' runtimes


def test_every_kernel_source_has_a_target():
    assert sorted(CB.TARGETS) == ["cfuzz_distances", "cfuzz_levenshtein", "cfuzz_nn_conv",
                                  "cfuzz_nn_pool", "cfuzz_pairwise"]
    linked = {src for sources in CB.TARGETS.values() for src in sources}
    assert linked == {"pairwise.c", "distances.c", "levenshtein.c", "nn_conv.c", "nn_pool.c"}


@pytest.mark.parametrize("target", TARGETS)
def test_c_target_on_seeded_inputs(target, compiler, out_dir, tmp_path):
    cc, sanitize = compiler
    exe = CB.build(target, "standalone", cc, out_dir=out_dir, sanitize=sanitize)
    proc = subprocess.run([exe, f"-runs={RUNS[target]}", "-seed=7"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert f"{RUNS[target]} inputs ok" in proc.stdout


# One planted bug per kernel source: (file, text, replacement). Each changes results only
# on some inputs (a tie, a short pattern, one column), as a real bug would.
MUTANTS = {
    "cfuzz_pairwise": ("pairwise.c", "#define OP_NEQ(x, y) ((x) != (y) ? 1 : 0)",
                       "#define OP_NEQ(x, y) ((x) > (y) ? 1 : 0)"),
    "cfuzz_distances": ("distances.c", "                left = cost + best;",
                        "                left = cost + best + (j == m && i == n ? cost : 0);"),
    "cfuzz_levenshtein": ("levenshtein.c", "    if (m2 == 0)\n        return n2;",
                          "    if (m2 == 0)\n        return n2 + (n2 > 2);"),
    "cfuzz_nn_conv": ("nn_conv.c", "    int64_t h = b < 0 ? 0 : b / s + 1;",
                      "    int64_t h = b < 0 ? 0 : b / s + (s > 1 ? 0 : 1);"),
    "cfuzz_nn_pool": ("nn_pool.c", "int bb = (b > a) |", "int bb = (b >= a) |"),
}


@pytest.fixture(scope="module")
def mutant_dir(compiler, tmp_path_factory):
    """A copy of csrc/ with every planted bug, and the targets built against it (-O1: the
    bugs do not depend on the optimisation, and the build is quicker)."""
    cc, _ = compiler
    root = tmp_path_factory.mktemp("cfuzz_mutants")
    src = os.path.join(os.path.dirname(FUZZ_C), "..", "csrc")
    csrc = root / "csrc"
    shutil.copytree(src, csrc)
    for fname, old, new in MUTANTS.values():
        text = (csrc / fname).read_text()
        assert text.count(old) == 1, f"the planted bug no longer applies to csrc/{fname}"
        (csrc / fname).write_text(text.replace(old, new))
    return root, csrc


@pytest.mark.parametrize("target", TARGETS)
def test_c_target_catches_a_planted_bug(target, compiler, mutant_dir):
    cc, _ = compiler
    root, csrc = mutant_dir
    exe = CB.build(target, "standalone", cc, out_dir=str(root / "out"), sanitize=False,
                   extra=("-O1",), csrc=str(csrc))
    run = root / target
    run.mkdir()
    proc = subprocess.run([exe, "-runs=3000", "-seed=7"], capture_output=True, text=True,
                          cwd=run, timeout=300)
    assert proc.returncode != 0, "the planted bug went unnoticed:\n" + proc.stdout
    assert re.search(r"cfuzz MISMATCH", proc.stderr), proc.stderr[-2000:]
    assert (run / "cfuzz-crash-input").exists()  # the failing input, to replay
