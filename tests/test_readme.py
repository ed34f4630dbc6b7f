"""The README runs as written: every ```python block, pasted alone into a fresh
interpreter in an empty folder, runs to the end; the shell blocks name commands, files,
options and extras that exist. (.ci/run runs the shell blocks themselves.)"""
import os
import re
import shlex
import subprocess
import sys

import pytest

from .conftest import DATA_DIR

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_README = os.path.join(_ROOT, "README.md")


def _blocks(lang):
    """(line number, code) of every ```lang block of the README."""
    with open(_README, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, start = [], None
    for i, line in enumerate(lines):
        if start is None and line.strip() == f"```{lang}":
            start = i + 1
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start:i]) + "\n"))
            start = None
    assert start is None, f"README.md: the ```{lang} block at line {start} is not closed"
    return blocks


PYTHON_BLOCKS = _blocks("python")
BASH_BLOCKS = _blocks("bash")


def _needs_data(code):
    """A block that loads a data set without download=False would download it."""
    loads = re.findall(r"load_(?:mnist|sms_spam)\(([^)]*)\)", code)
    return any("download=False" not in args for args in loads)


def _uses_dask(code):
    return re.search(r"^\s*(import dask|from dask|from distributed|import fastml\.dask)",
                     code, re.M) is not None


def test_the_readme_has_its_blocks():
    assert len(PYTHON_BLOCKS) >= 11 and len(BASH_BLOCKS) >= 3


@pytest.mark.parametrize("line,code", PYTHON_BLOCKS,
                         ids=[f"line{line}" for line, _ in PYTHON_BLOCKS])
def test_python_block_runs_alone(line, code, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["HOME"] = str(tmp_path)  # no data home of the user's, nothing written there
    env["MPLBACKEND"] = "Agg"
    env.pop("FASTML_DATA", None)
    if _needs_data(code):
        if not DATA_DIR or not os.path.isdir(os.path.join(DATA_DIR)):
            pytest.skip(f"README block at line {line} needs the data sets (FASTML_DATA)")
        env["FASTML_DATA"] = DATA_DIR
    if _uses_dask(code):
        pytest.importorskip("distributed")
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"README.md block at line {line} failed (exit code {proc.returncode}):\n"
        f"{proc.stderr[-4000:]}")


def _fastml(capsys, *args):
    """`fastml ARGS` in this process: (exit code, standard output)."""
    from fastml.__main__ import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse after --help / --version
        code = exc.code
    return code or 0, capsys.readouterr().out


def _commands():
    """Every simple command of the bash blocks, as a list of words."""
    out = []
    for _, code in BASH_BLOCKS:
        code = code.replace("\\\n", " ")
        for part in re.split(r"&&|\|\||;|\n", code):
            words = shlex.split(part)
            if words:
                out.append(words)
    return out


def test_shell_blocks_name_fastml_commands_that_exist(capsys):
    subs = {w[1] for w in _commands() if w[0] == "fastml" and len(w) > 1}
    subs |= {w[3] for w in _commands() if w[:3] == ["python", "-m", "fastml"]}
    subs |= set(re.findall(r"`fastml (info|demo|bench)\b", open(_README).read()))
    assert subs >= {"demo", "bench", "info"}
    for sub in sorted(subs):
        code, out = _fastml(capsys, sub, "--help")
        assert code == 0 and "usage" in out, (sub, out)
    code, out = _fastml(capsys, "--version")
    assert code == 0 and out.strip()


def test_shell_blocks_name_files_options_and_extras_that_exist():
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pyproject = f.read()
    with open(os.path.join(_ROOT, "bench", "conftest.py"), encoding="utf-8") as f:
        bench_conftest = f.read()
    checked = 0
    for words in _commands():
        for w in words:
            if w.endswith(".py") and "/" in w:
                assert os.path.isfile(os.path.join(_ROOT, w)), f"README names {w}"
                checked += 1
            if w.startswith("--fastml-"):
                assert f'"{w}"' in bench_conftest, f"README uses the option {w}"
                checked += 1
            m = re.fullmatch(r"\.\[([\w,-]+)\]", w)
            if m:
                for extra in m.group(1).split(","):
                    assert re.search(rf"^{extra}\s*=", pyproject, re.M), \
                        f"README installs the extra [{extra}], which pyproject.toml lacks"
                    checked += 1
    assert checked >= 4
