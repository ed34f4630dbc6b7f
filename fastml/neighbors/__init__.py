"""Nearest neighbours with any fastml distance (numeric, strings, sequences)."""
from fastml.neighbors._classification import KNeighborsClassifier
from fastml.neighbors._regression import KNeighborsRegressor
from fastml.neighbors._unsupervised import NearestNeighbors

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]
