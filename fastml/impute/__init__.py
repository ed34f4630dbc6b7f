"""Imputation: scikit-learn's KNNImputer with its nan_euclidean distances and its donor
search on fastml (what ``patch_sklearn()`` gives scikit-learn)."""
from fastml.impute._knn import KNNImputer

__all__ = ["KNNImputer"]
