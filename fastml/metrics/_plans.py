"""How a numeric metric is computed: a small plan that the matrix and kNN routines read.

A plan is chosen once per call from the metric registry (``fastml.metrics._registry``);
the routines in :mod:`fastml.metrics._matrix` and :mod:`fastml.metrics._knn` never look
at metric names.
"""
from typing import NamedTuple

import numpy as np

from fastml.metrics import _pairwise_fast as _fast

GEMM_SQEUCLIDEAN = "gemm_sqeuclidean"  # ||x||^2 + ||y||^2 - 2 <x, y>, cancellation fixed
COSINE = "cosine"                      # 1 - <x, y> / (||x|| ||y||)
TILE = "tile"                          # a SIMD reduction tile over the features (op)
LP = "lp"                              # sum |x - y|^p for a general p (root = p)
BOOLEAN = "boolean"                    # a boolean dissimilarity from popcounts (boolean)


class Plan(NamedTuple):
    kind: str
    op: int = 0            # the reduction of a TILE plan (_pairwise_fast.OP_*)
    root: float = 1.0      # result ** (1 / root) at the end (1: none, 2: sqrt)
    per_feature: bool = False   # divide by the number of features (Hamming fractions)
    packed_if_binary: bool = False  # 0/1 data: bit-packed popcount instead
    boolean: str = ""      # the boolean dissimilarity of a BOOLEAN plan (scipy's name)


def euclidean(prm):
    return Plan(GEMM_SQEUCLIDEAN, root=2.0)


def sqeuclidean(prm):
    return Plan(GEMM_SQEUCLIDEAN, root=1.0)


def manhattan(prm):
    return Plan(TILE, _fast.OP_L1, 1.0)


def chebyshev(prm):
    return Plan(TILE, _fast.OP_LINF, 1.0)


def cosine(prm):
    return Plan(COSINE)


def hamming(prm):
    return Plan(TILE, _fast.OP_NEQ, 1.0, per_feature=True, packed_if_binary=True)


def boolean(name):
    """The plan of scipy's boolean dissimilarity ``name`` on bit-packed rows."""
    def plan(prm):
        return Plan(BOOLEAN, boolean=name)
    plan.__name__ = name
    return plan


def minkowski(prm):
    p = prm["p"]
    if p == 2:
        return euclidean(prm)
    if p == 1:
        return Plan(TILE, _fast.OP_L1, 1.0)
    if p == 3:
        return Plan(TILE, _fast.OP_L3, 3.0)
    if p == 4:
        return Plan(TILE, _fast.OP_L4, 4.0)
    if np.isinf(p):
        return Plan(TILE, _fast.OP_LINF, 1.0)
    return Plan(LP, 0, float(p))


def finish(D, plan, d):
    """Turn the accumulated reductions in D into distances, in place."""
    if plan.per_feature:
        D /= d
    elif plan.root == 2.0:
        np.sqrt(D, out=D)
    elif plan.root != 1.0:
        np.power(D, 1.0 / plan.root, out=D)
    return D


def powers(plan):
    """(power of the magnitudes inside the computation, power of the result): how the
    metric scales when the data are multiplied by s (see fastml.metrics._scaling).
    (0, 0) for the scale-free Hamming fractions."""
    if plan.per_feature:
        return 0, 0
    if plan.kind == COSINE:
        return 2, 0
    if plan.kind == GEMM_SQEUCLIDEAN:
        return 2, (1 if plan.root == 2.0 else 2)
    return max(1.0, plan.root), 1
