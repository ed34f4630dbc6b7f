"""String kernels on character p-grams (``fastml.text``).

* :func:`string_kernel`: presence, spectrum and intersection kernels over a range of p,
  optionally normalised, as a dense matrix;
* :func:`char_ngrams`: the sparse p-gram count matrix (for linear models and Naive Bayes);
* :class:`StringKernel`: a transformer for precomputed-kernel estimators.
"""
from fastml.text._api import StringKernel, char_ngrams, string_kernel

__all__ = ["StringKernel", "char_ngrams", "string_kernel"]
