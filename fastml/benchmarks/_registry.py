import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

# area name -> module that registers its cases
AREAS = {
    "kernels": "fastml.benchmarks.kernels",
    "nn": "fastml.benchmarks.nn",
    "neighbors": "fastml.benchmarks.neighbors",
    "consumers": "fastml.benchmarks.consumers",  # scikit-learn's models on fastml
    "text": "fastml.benchmarks.text",
    "nn_train": "fastml.benchmarks.nn_train",
    "dask": "fastml.benchmarks.dask",  # needs the dask extra (peers skipped without it)
    "svm": "fastml.benchmarks.svm",
}


@dataclass(frozen=True)
class Peer:
    """A reference implementation of the same task.

    ``run(inputs, n_threads)`` returns a result comparable with fastml's; ``requires``
    lists importable modules (a missing one means the peer is skipped, not a failure);
    ``own_process`` marks peers that must run in a separate process because they disturb
    others (faiss shares the OpenMP runtime and makes scikit-learn single-threaded).
    """

    name: str
    run: Callable[[dict, int], Any]
    requires: tuple = ()
    own_process: bool = False

    def available(self):
        for mod in self.requires:
            if self.own_process:
                # Only look it up: importing it here is what own_process avoids (faiss
                # would share this process's OpenMP runtime).
                try:
                    if importlib.util.find_spec(mod) is None:
                        return False
                except (ImportError, ValueError):
                    return False
                continue
            try:
                importlib.import_module(mod)
            except Exception:
                return False
        return True


@dataclass(frozen=True)
class Case:
    """One benchmark: ``make_inputs(data_dir, quick) -> dict``; ``run(inputs, n_threads)``
    is the fastml call; ``check(fastml_result, peer_result) -> bool`` says whether they
    agree; ``flops(inputs)`` (optional) gives the operation count for a GFLOP/s column."""

    area: str
    task: str
    shape: str
    dtype: str
    make_inputs: Callable[[Optional[str], bool], dict]
    run: Callable[[dict, int], Any]
    peers: tuple = ()
    check: Callable[[Any, Any], bool] = field(default=lambda a, b: True)
    quick: bool = False
    flops: Optional[Callable[[dict], float]] = None
    quick_shape: str = ""  # the shape used with --quick, when it differs

    def shape_for(self, quick):
        return self.quick_shape if quick and self.quick_shape else self.shape

    @property
    def id(self):
        return f"{self.area}:{self.task}[{self.shape},{self.dtype}]"


_CASES = []


def register(case):
    _CASES.append(case)
    return case


def get_cases(areas=None, quick=False, match=None):
    """The registered cases of the given areas (all areas by default); with ``quick``
    only the quick ones (small shapes, for CI and ``fastml bench --quick``); with
    ``match`` (a regular expression, case-insensitive) only those whose id
    ``area:task[shape,dtype]`` it is found in."""
    names = list(AREAS) if areas is None else list(areas)
    for a in names:
        if a not in AREAS:
            raise ValueError(f"Unknown benchmark area {a!r}; known areas: {sorted(AREAS)}.")
        importlib.import_module(AREAS[a])
    pat = None if match is None else re.compile(match, re.IGNORECASE)
    return [c for c in _CASES if c.area in names and (c.quick or not quick)
            and (pat is None or pat.search(c.id))]
