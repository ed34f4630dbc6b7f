"""k-nearest neighbours with any fastml distance (numeric, strings, sequences)."""
from fastml.neighbors._base import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]
