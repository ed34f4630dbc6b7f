"""Nearest neighbours: scikit-learn's estimators and functions with fastml's search, and
the sequence metrics (``levenshtein``, ``dtw``, ``hamming`` on strings)."""
from sklearn.neighbors import VALID_METRICS, VALID_METRICS_SPARSE, BallTree, KDTree

from fastml.neighbors._classification import (
    KNeighborsClassifier,
    RadiusNeighborsClassifier,
)
from fastml.neighbors._graph import (
    KNeighborsTransformer,
    RadiusNeighborsTransformer,
    kneighbors_graph,
    radius_neighbors_graph,
)
from fastml.neighbors._lof import LocalOutlierFactor
from fastml.neighbors._regression import KNeighborsRegressor, RadiusNeighborsRegressor
from fastml.neighbors._unsupervised import NearestNeighbors

__all__ = [
    "BallTree",
    "KDTree",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "KNeighborsTransformer",
    "LocalOutlierFactor",
    "NearestNeighbors",
    "RadiusNeighborsClassifier",
    "RadiusNeighborsRegressor",
    "RadiusNeighborsTransformer",
    "VALID_METRICS",
    "VALID_METRICS_SPARSE",
    "kneighbors_graph",
    "radius_neighbors_graph",
]
