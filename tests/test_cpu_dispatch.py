"""Every compiled kernel family gives the same answer on every instruction-set level.

The level is fixed per process (``FASTML_CPU``, read when the extensions load), so each
level runs in a subprocess that computes a representative output of every dispatched
kernel family; the outputs are compared with those of an uncapped process (the best level
of this CPU). Integer results (counts, edit distances, argmax, max) must agree bit for
bit; floating sums may differ by the rounding of a different summation order, bounded by
``n_terms * eps * sum|terms|``. Also: the errors and warnings of FASTML_CPU.
"""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastml
from fastml._cpu import LEVELS, _warn_if_unavailable, describe_simd
from fastml.utils._openmp import simd_detected, simd_dispatch_built

DETECTED = simd_detected()
SUPPORTED = LEVELS[: LEVELS.index(DETECTED) + 1]

SCRIPT = textwrap.dedent(
    r"""
    import sys
    import numpy as np
    import fastml.metrics as M
    from fastml.metrics.distance import kneighbors
    from fastml.nn import functional as F
    from fastml.utils._openmp import simd_path

    rng = np.random.default_rng(0)
    out = {"path": np.array(simd_path())}
    for dt in (np.float32, np.float64):
        s = np.dtype(dt).name
        X = rng.random((37, 53)).astype(dt)       # odd sizes: every tile tail runs
        Y = rng.random((29, 53)).astype(dt)
        out[f"in_X_{s}"], out[f"in_Y_{s}"] = X, Y
        out[f"intersection_{s}"] = M.intersection_kernel(X, Y)
        out[f"additive_chi2_{s}"] = M.additive_chi2_kernel(X, Y)
        out[f"laplacian_{s}"] = M.laplacian_kernel(X, Y, gamma=0.05)
        out[f"rbf_{s}"] = M.rbf_kernel(X, Y, gamma=0.1)
        out[f"sigmoid_{s}"] = M.sigmoid_kernel(X, Y, gamma=0.01)
        out[f"poly_{s}"] = M.polynomial_kernel(X, Y, degree=3, gamma=0.02)
        for metric, kw in [("manhattan", {}), ("sqeuclidean", {}), ("chebyshev", {}),
                           ("minkowski", {"p": 3}), ("minkowski", {"p": 2.5})]:
            name = metric + "".join(f"_{v}" for v in kw.values())
            out[f"{name}_{s}"] = M.pairwise_distances(X, Y, metric=metric, **kw)
        Q = (rng.random((23, 784)) > 0.5).astype(dt)
        T = (rng.random((61, 784)) > 0.5).astype(dt)
        out[f"hamming_{s}"] = M.pairwise_distances(Q, T, metric="hamming")
        d, i = kneighbors(Q, T, 5, metric="hamming")
        out[f"knn_hamming_d_{s}"], out[f"knn_hamming_i_{s}"] = d, i
        d, i = kneighbors(X, Y, 3, metric="euclidean")
        out[f"knn_l2_d_{s}"] = d
        a, b = rng.random((40, 3)).astype(dt), rng.random((33, 3)).astype(dt)
        out[f"dtw_{s}"] = np.array(M.dtw(a, b))
        # convolution (both algorithms), pooling
        x = rng.standard_normal((5, 3, 13, 11)).astype(dt)
        w = rng.standard_normal((6, 3, 3, 3)).astype(dt)
        bias = rng.standard_normal(6).astype(dt)
        for path in ("direct", "gemm"):
            F._force_path = path
            y = F.conv2d(x, w, bias, padding=1)
            g = np.cos(y).astype(dt)
            dx, dw, db = F.conv2d_backward(g, x, w, padding=1)
            out[f"conv_{path}_y_{s}"], out[f"conv_{path}_dx_{s}"] = y, dx
            out[f"conv_{path}_dw_{s}"], out[f"conv_{path}_db_{s}"] = dw, db
        F._force_path = None
        m, am = F.max_pool2d(x, 2)
        out[f"maxpool_{s}"], out[f"maxpool_arg_{s}"] = m, am
        out[f"maxpool3_{s}"] = F.max_pool2d(x, 3, stride=2, padding=1)[0]
        out[f"avgpool_{s}"] = F.avg_pool2d(x, 3, stride=2, padding=1)
        out[f"gavg_{s}"] = F.global_avg_pool2d(x)
        out[f"gmax_{s}"] = F.global_max_pool2d(x)[0]
    words = ["".join(rng.choice(list("abcdeé漢"), rng.integers(0, 150)))
             for _ in range(40)]
    out["levenshtein"] = M.pairwise_distances(
        np.array(words[:20], dtype=object), np.array(words[20:], dtype=object),
        metric="levenshtein")
    np.savez(sys.argv[1], **out)
    """
)

# families whose result is an integer count / index / max / min: bit for bit on every level
EXACT = ("hamming", "knn_hamming", "chebyshev", "maxpool", "gmax", "levenshtein")


def _run(level, tmp_path):
    env = dict(os.environ)
    env.pop("FASTML_CPU", None)
    if level is not None:
        env["FASTML_CPU"] = level
    path = tmp_path / f"out_{level or 'native'}.npz"
    subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env, check=True,
                   timeout=300)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dispatch")
    res = {None: _run(None, tmp)}
    for level in SUPPORTED:
        res[level] = _run(level, tmp)
    return res


@pytest.mark.parametrize("level", SUPPORTED)
def test_cap_selects_the_level(outputs, level):
    assert str(outputs[level]["path"]) == level
    assert str(outputs[None]["path"]) == DETECTED


def _tolerance(key, ref):
    """Rounding bound of a sum of up to ~n terms of either dtype, relative to the scale."""
    eps = np.finfo(np.float32 if "float32" in key else np.float64).eps
    n_terms = 800  # the longest sums above: 784 features, 3*3*3*5*13*11 conv terms / row
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    return 4 * n_terms * eps * scale


@pytest.mark.parametrize("level", SUPPORTED)
def test_every_family_agrees_with_the_native_path(outputs, level):
    native, capped = outputs[None], outputs[level]
    assert native.keys() == capped.keys()
    for key, ref in native.items():
        if key == "path":
            continue
        got = capped[key]
        assert got.dtype == ref.dtype and got.shape == ref.shape, key
        if key.startswith(EXACT) or ref.dtype.kind in "iub":
            np.testing.assert_array_equal(got, ref, err_msg=f"{key} on {level}")
        else:
            np.testing.assert_allclose(got, ref, rtol=0, atol=_tolerance(key, ref),
                                       err_msg=f"{key} on {level}")


def test_outputs_match_independent_references(outputs):
    """The capped levels agree with each other; here the lowest one agrees with numpy."""
    out = outputs[SUPPORTED[0]]
    X, Y = out["in_X_float64"], out["in_Y_float64"]
    ref = np.abs(X[:, None, :] - Y[None, :, :]).sum(-1)
    np.testing.assert_allclose(out["manhattan_float64"], ref, rtol=1e-13)
    ref = np.minimum(X[:, None, :], Y[None, :, :]).sum(-1)
    np.testing.assert_allclose(out["intersection_float64"], ref, rtol=1e-13)


def test_unknown_fastml_cpu_is_an_error_at_import():
    env = dict(os.environ, FASTML_CPU="sse9")
    r = subprocess.run([sys.executable, "-c", "import fastml"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "FASTML_CPU='sse9'" in r.stderr and "baseline, avx2, avx512" in r.stderr


def test_cap_is_case_insensitive_and_empty_means_unset():
    for value, expected in [("AVX2", "avx2"), ("", DETECTED)]:
        if value and "avx2" not in SUPPORTED:
            continue
        env = dict(os.environ, FASTML_CPU=value)
        r = subprocess.run(
            [sys.executable, "-c",
             "from fastml.utils._openmp import simd_path; print(simd_path())"],
            env=env, capture_output=True, text=True, timeout=120, check=True)
        assert r.stdout.strip() == expected


def test_cap_above_the_cpu_warns_and_names_the_level_used(monkeypatch):
    monkeypatch.setenv("FASTML_CPU", "avx512")
    with pytest.warns(RuntimeWarning, match="uses avx2"):
        _warn_if_unavailable("avx2")
    monkeypatch.setenv("FASTML_CPU", "avx2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_unavailable("avx2")  # available: no warning


def test_info_names_detected_and_used_levels(monkeypatch):
    text = describe_simd()
    assert f"detected: {DETECTED}" in text and "used: " in text
    info = fastml._config.config_info()
    assert info["simd"] == text


@pytest.mark.skipif(not simd_dispatch_built(), reason="portable build: one level only")
def test_info_in_a_capped_process():
    env = dict(os.environ, FASTML_CPU="baseline")
    r = subprocess.run([sys.executable, "-m", "fastml", "info"], env=env,
                       capture_output=True, text=True, timeout=120, check=True)
    expected = f"detected: {DETECTED}, used: baseline"
    if DETECTED != "baseline":
        expected += " (capped by FASTML_CPU)"
    assert expected in r.stdout


# ---------------------------------------------------------------------------------------
# the convolution algorithm: measured per layer, cached, forceable
# ---------------------------------------------------------------------------------------
from fastml.nn import functional as F  # noqa: E402


@pytest.fixture
def fresh_choices(monkeypatch):
    monkeypatch.setattr(F, "_path_cache", {})
    monkeypatch.setattr(F, "_force_path", None)
    monkeypatch.delenv("FASTML_CONV_PATH", raising=False)


def _layer(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3, 12, 12)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    return x, w


def test_measured_choice_is_cached_and_gives_that_path_result(fresh_choices, monkeypatch):
    x, w = _layer()
    y = F.conv2d(x, w, padding=1)
    (key, path), = F.conv_path_choices().items()
    assert path in ("direct", "gemm") and key[0] == "forward" and simd_path_of(key)
    monkeypatch.setattr(F, "_force_path", path)
    assert np.array_equal(F.conv2d(x, w, padding=1), y)  # the chosen algorithm ran
    monkeypatch.setattr(F, "_force_path", None)
    calls = []
    monkeypatch.setattr(F, "_measure_paths", lambda run: calls.append(run) or "gemm")
    assert np.array_equal(F.conv2d(x, w, padding=1), y)  # cached: no new measurement
    assert calls == []
    F.conv2d_backward(np.ones_like(y), x, w, padding=1)  # a new key: measured once
    assert len(calls) == 1 and len(F.conv_path_choices()) == 2


def simd_path_of(key):
    return key[9] in LEVELS


@pytest.mark.parametrize("policy", ["direct", "gemm"])
def test_environment_forces_the_path(fresh_choices, monkeypatch, policy):
    x, w = _layer(np.float64)
    monkeypatch.setenv("FASTML_CONV_PATH", policy)
    y = F.conv2d(x, w, padding=1)
    assert F.conv_path_choices() == {}
    monkeypatch.setattr(F, "_force_path", policy)
    assert np.array_equal(y, F.conv2d(x, w, padding=1))
    # both algorithms compute the same convolution (27 products per output)
    other = "gemm" if policy == "direct" else "direct"
    monkeypatch.setattr(F, "_force_path", other)
    np.testing.assert_allclose(F.conv2d(x, w, padding=1), y, rtol=0,
                               atol=4 * 27 * np.finfo(np.float64).eps * np.abs(y).max())


def test_heuristic_policy_measures_nothing(fresh_choices, monkeypatch):
    x, w = _layer()
    monkeypatch.setenv("FASTML_CONV_PATH", "heuristic")
    monkeypatch.setattr(F, "_measure_paths", lambda run: pytest.fail("measured"))
    F.conv2d(x, w, padding=1)
    assert F.conv_path_choices() == {}


def test_unknown_conv_policy_is_an_error(fresh_choices, monkeypatch):
    x, w = _layer()
    monkeypatch.setenv("FASTML_CONV_PATH", "fastest")
    with pytest.raises(ValueError, match="FASTML_CONV_PATH='fastest'.*measure, heuristic"):
        F.conv2d(x, w, padding=1)


def test_strided_convolution_never_runs_direct(fresh_choices, monkeypatch):
    x, w = _layer()
    monkeypatch.setattr(F, "_force_path", "direct")
    monkeypatch.setattr(F, "_measure_paths", lambda run: pytest.fail("measured"))
    y = F.conv2d(x, w, stride=2, padding=1)
    assert y.shape == (4, 5, 6, 6)
    ref = np.zeros_like(y)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(6):
        for j in range(6):
            patch = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            ref[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    np.testing.assert_allclose(y, ref, rtol=0, atol=4 * 27 * 6e-8 * np.abs(ref).max())


# ---------------------------------------------------------------------------------------
# the build: every exported kernel exists once per level and goes through the table
# ---------------------------------------------------------------------------------------
def _kernel_names():
    """(the names the generated renaming header renames, the names of the kernel lists)"""
    import re

    from fastml._simd_levels import kernel_lists, kernel_names_header

    csrc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csrc")
    renamed = set(re.findall(r"^#define (fastml_\w+) FASTML_KSYM\(\1\)$",
                             kernel_names_header(csrc), re.M))
    listed = {n for names in kernel_lists(csrc).values() for n in names}
    return renamed, listed


def test_kernel_lists_agree():
    renamed, listed = _kernel_names()
    assert renamed and renamed == listed


@pytest.mark.skipif(not simd_dispatch_built() or sys.platform != "linux",
                    reason="per-level kernels are built on x86-64 with GCC/clang")
def test_extensions_hold_every_kernel_once_per_level():
    import glob
    import shutil

    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    renamed, _ = _kernel_names()
    root = os.path.dirname(fastml.__file__)
    seen = set()
    for so in glob.glob(os.path.join(root, "**", "_*.so"), recursive=True):
        out = subprocess.run([nm, "--defined-only", so], capture_output=True, text=True,
                             check=True).stdout
        syms = {line.split()[-1] for line in out.splitlines() if line.strip()}
        for name in renamed:
            variants = [f"{name}__{lv}" in syms for lv in LEVELS]
            if any(variants):
                assert all(variants), f"{name} lacks a level in {os.path.basename(so)}"
                assert f"{name}__ptr" in syms, f"{name} has no pointer in {so}"
                seen.add(name)
            # no un-suffixed definition: every call goes through the table
            assert name not in syms, f"{name} is defined without a level in {so}"
    assert seen == renamed
