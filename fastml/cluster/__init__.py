"""Clustering: scikit-learn's DBSCAN on fastml's radius search, also over strings and
sequences (``metric="levenshtein"``, ``"dtw"``, ``"hamming"`` on strings)."""
from fastml.cluster._dbscan import DBSCAN

__all__ = ["DBSCAN"]
