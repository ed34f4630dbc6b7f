"""The one registry of benchmark cases (task, data, fastml call, peer calls, check).

``bench/`` (pytest-benchmark) and the ``fastml bench`` command both run these cases.
Each area registers its cases in ``fastml/benchmarks/<area>.py``; importing the area
module (done lazily by :func:`get_cases`) registers them. No library module imports
this package.
"""
from fastml.benchmarks._registry import AREAS, Case, Peer, get_cases, register

__all__ = ["AREAS", "Case", "Peer", "get_cases", "register"]
