"""The Examples sections of the public docstrings run and give what they show."""
import doctest
import importlib

import pytest

MODULES = ["fastml.metrics.pairwise", "fastml.metrics.distance", "fastml._patch",
           "fastml.neighbors._classification", "fastml.neighbors._regression",
           "fastml.neighbors._unsupervised", "fastml.neighbors._graph",
           "fastml.neighbors._base", "fastml.neighbors._lof",
           "fastml.kernel_ridge._kernel_ridge", "fastml.preprocessing._kernel_transformer",
           "fastml.cluster._dbscan", "fastml.decomposition._kernel_pca"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import fastml

    fastml.unpatch_sklearn()  # the patch examples start unpatched
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
